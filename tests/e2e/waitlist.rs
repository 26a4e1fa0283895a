//! The waitlist over real HTTP: callers join through the tool, a freed time is texted to the
//! first in line with a link, claims race through the same exclusive hold as calls, offers lapse
//! and pass on, opted-out numbers are skipped, and two api workers send one offer per freed time.

use std::time::Duration;

use booking_e2e::{Call, OWNER_PASSWORD, OwnerSession, TestApp, code_in};
use booking_e2e::{Clinic, no_redirects};
use serde_json::{Value, json};

const BOOKER: &str = "+14155550100";
const ANA: &str = "+14155550101";
const BEN: &str = "+14155550102";
const CAL: &str = "+14155550103";
const SERVICE: &str = "Teeth Whitening";

/// An api that looks for freed times often, a clinic, and its owner signed in.
async fn setup() -> (TestApp, Clinic, OwnerSession) {
    let app = TestApp::spawn_with(|env| {
        env.insert("WAITLIST_POLL_MS".into(), "50".into());
    })
    .await;
    let clinic = app.create_clinic("Smile Dental", 1).await;
    let (status, body) = app
        .create_owner(&clinic, "owner@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201, "{body}");
    let owner = app.sign_in("owner@smile.example", OWNER_PASSWORD).await;
    (app, clinic, owner)
}

/// Tomorrow and the day after in the clinic's zone, `YYYY-MM-DD`.
fn days() -> (String, String) {
    let today = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .expect("zone")
        .date();
    let d = |n: i64| {
        today
            .checked_add(jiff::Span::new().days(n))
            .expect("date")
            .to_string()
    };
    (d(1), d(2))
}

async fn join(app: &TestApp, clinic: &Clinic, caller: &str, name: &str) -> Value {
    let (from, to) = days();
    app.call(clinic, caller)
        .tool(
            "join_waitlist",
            json!({"service": SERVICE, "caller_name": name, "from_date": from, "to_date": to}),
        )
        .await
}

/// The first free start of tomorrow.
async fn tomorrows_first_start(call: &Call<'_>) -> String {
    let (day, _) = days();
    let avail = call
        .tool(
            "check_availability",
            json!({"service": SERVICE, "date": day}),
        )
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    avail["slots"][0]["start"]
        .as_str()
        .expect("a slot")
        .to_owned()
}

/// Books `start` for `caller` through the whole tool sequence; the appointment id.
async fn book_at(app: &TestApp, clinic: &Clinic, caller: &str, start: &str) -> String {
    let call = app.call(clinic, caller);
    let held = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": SERVICE, "caller_name": "Bo Booker"}),
        )
        .await;
    assert_eq!(held["ok"], json!(true), "{held}");
    let hold = held["hold_id"].as_str().expect("hold id").to_owned();
    app.outbox_settled().await;
    let before = app.twilio.messages_to(caller).len();
    let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let texts = app.texts_to(caller, before + 1).await;
    let code = code_in(&texts.last().expect("the code").body);
    let verified = call
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    verified["appointment_id"]
        .as_str()
        .expect("appointment id")
        .to_owned()
}

async fn owner_cancels(owner: &OwnerSession, id: &str) {
    let (status, page) = owner
        .post(&format!("/app/appointments/{id}/cancel"), &[])
        .await;
    assert_eq!(status, 200, "{page}");
}

/// The `/w/…` path in a text.
fn link_in(body: &str) -> String {
    let at = body
        .find("/w/")
        .unwrap_or_else(|| panic!("no link in {body:?}"));
    body[at..at + 3 + 22].to_owned()
}

/// The offer texts `to` received, once there are at least `n` (or 15 s passed).
async fn offers_to(app: &TestApp, to: &str, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let offers: Vec<String> = app
            .twilio
            .messages_to(to)
            .into_iter()
            .filter(|m| m.body.contains("/w/"))
            .map(|m| m.body)
            .collect();
        if offers.len() >= n || tokio::time::Instant::now() > deadline {
            return offers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let resp = no_redirects().get(app.url(path)).send().await.expect("GET");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn claim(app: &TestApp, path: &str) -> (u16, String) {
    let resp = no_redirects()
        .post(app.url(path))
        .send()
        .await
        .expect("POST");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn count(app: &TestApp, sql: &str) -> usize {
    app.db.execute(sql).await
}

/// Lets the workers look several times more, so that a second offer would have been made.
async fn a_few_more_rounds(app: &TestApp) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.outbox_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_waitlist_over_the_tool_endpoint() {
    let (app, clinic, owner) = setup().await;
    let (from, to) = days();
    let call = app.call(&clinic, ANA);
    let body = call.tool_calls_body(&[(
        "tc_join".to_owned(),
        "join_waitlist",
        json!({"service": "teeth whitening", "caller_name": "Ana Able", "from_date": from,
               "to_date": to, "part_of_day": "Morning"}),
    )]);
    let (status, reply) = app.vapi_at("/vapi/tools/join_waitlist", &body).await;
    assert_eq!(status, 200, "{reply}");
    let result = booking_e2e::result_of(&reply["results"][0]);
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result["waitlist_id"].is_string(), "{result}");
    assert_eq!(result["from_date"], json!(from), "{result}");

    // The same number, service and days again: refused in words the model can say.
    let again = join(&app, &clinic, ANA, "Ana Able").await;
    assert_eq!(again["ok"], json!(false), "{again}");
    assert!(
        again["message"].as_str().unwrap().contains("already"),
        "{again}"
    );
    // Bad arguments: a tool result, never an error.
    for (args, what) in [
        (
            json!({"service": SERVICE, "caller_name": "Ben", "from_date": to, "to_date": from}),
            "before",
        ),
        (
            json!({"service": SERVICE, "caller_name": "Ben", "to_date": to}),
            "from_date",
        ),
        (
            json!({"service": SERVICE, "caller_name": "Ben", "from_date": from, "to_date": to, "part_of_day": "night"}),
            "morning",
        ),
        (
            json!({"service": SERVICE, "caller_name": "Ben", "from_date": from, "to_date": to, "provider": "Dr. Nobody"}),
            "Nobody",
        ),
        (
            json!({"service": "Tattoo", "caller_name": "Ben", "from_date": from, "to_date": to}),
            "Teeth Whitening",
        ),
        (
            json!({"service": SERVICE, "caller_name": "Ben", "from_date": "2001-01-01", "to_date": "2001-01-02"}),
            "over",
        ),
    ] {
        let r = app
            .call(&clinic, BEN)
            .tool("join_waitlist", args.clone())
            .await;
        assert_eq!(r["ok"], json!(false), "{args}: {r}");
        let said = r["message"].as_str().unwrap_or("");
        assert!(said.contains(what), "{args}: {said}");
    }
    // A number may wait for so much: three entries, then no more.
    let mut said = Vec::new();
    for (i, service) in ["Checkup", SERVICE, SERVICE, "Checkup"].iter().enumerate() {
        let (from, _) = days();
        let d = jiff::civil::Date::strptime("%Y-%m-%d", &from)
            .unwrap()
            .checked_add(jiff::Span::new().days(3 * i as i64 + 5))
            .unwrap()
            .to_string();
        let r = app
            .call(&clinic, CAL)
            .tool(
                "join_waitlist",
                json!({"service": service, "caller_name": "Cal", "from_date": d, "to_date": d}),
            )
            .await;
        said.push(r["ok"].clone());
    }
    assert_eq!(said, [json!(true), json!(true), json!(true), json!(false)]);

    // The owner sees them, and can remove one; another clinic's owner cannot.
    let (status, page) = owner.get("/app/waitlist").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Ana Able") && page.contains("morning"),
        "{page}"
    );
    let other = app.create_clinic("Other Dental", 2).await;
    app.create_owner(&other, "owner@other.example", OWNER_PASSWORD)
        .await;
    let theirs = app.sign_in("owner@other.example", OWNER_PASSWORD).await;
    let (_, their_page) = theirs.get("/app/waitlist").await;
    assert!(!their_page.contains("Ana Able"), "{their_page}");
    let id = result["waitlist_id"].as_str().unwrap();
    let (status, _) = theirs
        .post(&format!("/app/waitlist/{id}/remove"), &[])
        .await;
    assert_eq!(status, 404, "another clinic's owner removed our entry");
    let (status, _) = owner
        .post(&format!("/app/waitlist/{id}/remove"), &[("csrf", "forged")])
        .await;
    assert_eq!(status, 403, "a forged form");
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM waitlist_entries WHERE status = 'waiting'"
        )
        .await,
        4
    );
    let (status, _) = owner.post(&format!("/app/waitlist/{id}/remove"), &[]).await;
    assert_eq!(status, 303);
    let (_, page) = owner.get("/app/waitlist").await;
    assert!(!page.contains("Ana Able"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_time_goes_to_the_first_of_three_and_racing_claims_get_one_appointment() {
    let (app, clinic, owner) = setup().await;
    let start = tomorrows_first_start(&app.call(&clinic, BOOKER)).await;
    let booked = book_at(&app, &clinic, BOOKER, &start).await;
    for (who, name) in [(ANA, "Ana Able"), (BEN, "Ben Baker"), (CAL, "Cal Cole")] {
        let r = join(&app, &clinic, who, name).await;
        assert_eq!(r["ok"], json!(true), "{r}");
    }

    owner_cancels(&owner, &booked).await;
    let ana = offers_to(&app, ANA, 1).await;
    assert_eq!(ana.len(), 1, "the first in line got the offer");
    assert!(ana[0].starts_with("Smile Dental"), "{}", ana[0]);
    a_few_more_rounds(&app).await;
    assert!(
        offers_to(&app, BEN, 0).await.is_empty(),
        "only one offer per freed time"
    );
    assert!(offers_to(&app, CAL, 0).await.is_empty());
    let ana_link = link_in(&ana[0]);
    let (status, page) = get(&app, &ana_link).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Claim this time") && page.contains(SERVICE),
        "{page}"
    );

    // The same time booked by phone and cancelled again: freed a second time, it goes to the
    // next in line (Ana was offered it already). Ana and Ben now race for it.
    let again = book_at(&app, &clinic, BOOKER, &start).await;
    owner_cancels(&owner, &again).await;
    let ben = offers_to(&app, BEN, 1).await;
    assert_eq!(ben.len(), 1, "the next in line got the second freeing");
    let ben_link = link_in(&ben[0]);
    let (a, b) = tokio::join!(claim(&app, &ana_link), claim(&app, &ben_link));
    let outcomes = [a.0, b.0];
    assert!(
        outcomes.contains(&200) && outcomes.contains(&409),
        "one appointment, one just taken: {outcomes:?}"
    );
    let (winner, loser, lost_page) = if a.0 == 200 {
        (ANA, BEN, b.1)
    } else {
        (BEN, ANA, a.1)
    };
    assert!(
        lost_page.contains("just taken") && lost_page.contains("still on the"),
        "{lost_page}"
    );
    assert_eq!(
        count(&app, "SELECT 1 FROM bookings WHERE status = 'confirmed'").await,
        1,
        "one appointment"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM bookings WHERE status = 'confirmed' AND caller_phone = '{winner}'"
            )
        )
        .await,
        1
    );
    // The winner gets the usual confirmation; the loser stays on the list.
    let texts = app.texts_to(winner, 2).await;
    assert!(
        texts.iter().any(|m| m.body.contains("is confirmed")),
        "{texts:?}"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM waitlist_entries WHERE status = 'waiting' AND phone = '{loser}'"
            )
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM waitlist_entries WHERE status = 'filled' AND phone = '{winner}'"
            )
        )
        .await,
        1
    );
    // Pressing Claim again shows the appointment, and books nothing more.
    let winner_link = if winner == ANA { &ana_link } else { &ben_link };
    let (status, page) = claim(&app, winner_link).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        count(&app, "SELECT 1 FROM bookings WHERE status = 'confirmed'").await,
        1
    );
    // The owner sees what the waitlist filled.
    let (_, page) = owner.get("/app/waitlist").await;
    let filled = page.split("Filled by the waitlist").nth(1).unwrap_or("");
    assert!(filled.contains("/app/appointments/"), "{page}");
    // A guessed link changes nothing.
    for path in ["/w/AAAAAAAAAAAAAAAAAAAAAA", "/w/not-a-token", "/w/"] {
        let (status, _) = claim(&app, path).await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(
        count(&app, "SELECT 1 FROM bookings WHERE status = 'confirmed'").await,
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_that_lapses_passes_to_the_next() {
    let (app, clinic, owner) = setup().await;
    let start = tomorrows_first_start(&app.call(&clinic, BOOKER)).await;
    let booked = book_at(&app, &clinic, BOOKER, &start).await;
    join(&app, &clinic, ANA, "Ana Able").await;
    join(&app, &clinic, BEN, "Ben Baker").await;
    owner_cancels(&owner, &booked).await;
    let ana = offers_to(&app, ANA, 1).await;
    assert_eq!(ana.len(), 1);
    assert!(offers_to(&app, BEN, 0).await.is_empty());

    // Its time is up (as if 30 minutes had passed).
    app.db
        .execute("UPDATE waitlist_offers SET expires_at = now() - interval '1 second'")
        .await;
    let ben = offers_to(&app, BEN, 1).await;
    assert_eq!(ben.len(), 1, "the lapsed offer passed to the next");
    // Ana's link is no more: a polite 404 that changes nothing.
    let ana_link = link_in(&ana[0]);
    let (status, page) = get(&app, &ana_link).await;
    assert_eq!(status, 404);
    assert!(page.contains("no longer valid"), "{page}");
    assert_eq!(claim(&app, &ana_link).await.0, 404);
    assert_eq!(
        count(&app, "SELECT 1 FROM bookings WHERE status = 'confirmed'").await,
        0
    );
    let (status, page) = claim(&app, &link_in(&ben[0])).await;
    assert_eq!(status, 200, "{page}");
    a_few_more_rounds(&app).await;
    assert_eq!(
        offers_to(&app, ANA, 0).await.len(),
        1,
        "Ana is never offered it twice"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_number_is_skipped() {
    let (app, clinic, owner) = setup().await;
    let start = tomorrows_first_start(&app.call(&clinic, BOOKER)).await;
    let booked = book_at(&app, &clinic, BOOKER, &start).await;
    join(&app, &clinic, ANA, "Ana Able").await;
    join(&app, &clinic, BEN, "Ben Baker").await;
    let reply = app
        .twilio
        .send_inbound(
            &app.url("/twilio/inbound"),
            &clinic.account_sid,
            ANA,
            &clinic.from,
            "STOP",
        )
        .await
        .expect("inbound posted");
    assert_eq!(reply.status, 200);

    owner_cancels(&owner, &booked).await;
    let ben = offers_to(&app, BEN, 1).await;
    assert_eq!(ben.len(), 1, "the next number that may be texted got it");
    a_few_more_rounds(&app).await;
    assert!(
        app.twilio.messages_to(ANA).is_empty(),
        "nothing to a number that said STOP"
    );
    assert_eq!(
        count(&app, &format!("SELECT 1 FROM waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id WHERE e.phone = '{ANA}'")).await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_one_offer_per_freed_time() {
    let (app, clinic, owner) = setup().await;
    let second = app
        .another_instance_with(|env| {
            env.insert("WAITLIST_POLL_MS".into(), "20".into());
        })
        .await;
    let start = tomorrows_first_start(&app.call(&clinic, BOOKER)).await;
    let booked = book_at(&app, &clinic, BOOKER, &start).await;
    for (who, name) in [(ANA, "Ana Able"), (BEN, "Ben Baker"), (CAL, "Cal Cole")] {
        join(&app, &clinic, who, name).await;
    }
    owner_cancels(&owner, &booked).await;
    assert_eq!(offers_to(&app, ANA, 1).await.len(), 1);
    a_few_more_rounds(&app).await;
    assert_eq!(
        offers_to(&app, ANA, 0).await.len(),
        1,
        "one text to the first in line"
    );
    assert!(offers_to(&app, BEN, 0).await.is_empty());
    assert!(offers_to(&app, CAL, 0).await.is_empty());
    assert_eq!(count(&app, "SELECT 1 FROM waitlist_offers").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM outbound_messages WHERE kind = 'waitlist_offer'"
        )
        .await,
        1
    );
    second.stop().await;
    app.stop().await;
}
