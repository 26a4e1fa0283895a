//! The patient's side after the call: the link in the confirmation and the reminder (the page,
//! cancel, move, the notice window, tokens that open nothing, concurrent cancels) and replies
//! to the reminder ("C", then the confirmation word; CANCEL alone still opts out). Everything
//! over HTTP against the real api, PostgreSQL and the fake Twilio.

use std::time::Duration;

use booking_e2e::{Clinic, TestApp, book, book_on, no_redirects};
use serde_json::json;

/// The `/a/<token>` path of the link in a text.
fn link_in(body: &str) -> String {
    let at = body
        .find("/a/")
        .unwrap_or_else(|| panic!("no link in {body:?}"));
    let path = &body[at..at + 3 + 22];
    assert!(
        path[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{body}"
    );
    path.to_owned()
}

/// The page's form token.
fn form_token(html: &str) -> String {
    let at = html
        .find("name=\"form\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {html}"));
    let rest = &html[at + 19..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let resp = no_redirects().get(app.url(path)).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// POSTs a form; the status and the `Location` (empty when none).
async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = no_redirects()
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("POST");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (resp.status().as_u16(), location)
}

async fn count(app: &TestApp, sql: &str) -> usize {
    app.db.execute(sql).await
}

/// A clinic whose links may change appointments up to their start (notice window 0).
async fn clinic(app: &TestApp, name: &str, n: u32) -> Clinic {
    app.create_clinic_with(name, n, |b| b["link_notice_minutes"] = json!(0))
        .await
}

/// Books through a call, three days ahead (well outside any notice window, and not starting
/// while the test runs), and returns the appointment id, its start and the confirmation's link.
async fn booked(app: &TestApp, clinic: &Clinic, caller: &str) -> (String, String, String) {
    let in_three_days = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .expect("a known zone")
        .date()
        .checked_add(jiff::Span::new().days(3))
        .expect("a date");
    let call = app.call(clinic, caller);
    let (id, start) = book_on(&call, "Checkup", in_three_days).await;
    (id, start, confirmation_link(app, caller).await)
}

/// Books the first free time (the clinic is open around the clock: within the hour) and
/// returns the appointment id and the confirmation's link.
async fn booked_soon(app: &TestApp, clinic: &Clinic, caller: &str) -> (String, String) {
    let call = app.call(clinic, caller);
    let (id, _) = book(&call, "Checkup").await;
    (id, confirmation_link(app, caller).await)
}

/// The link in the confirmation `caller` got.
async fn confirmation_link(app: &TestApp, caller: &str) -> String {
    let texts = app.texts_to(caller, 2).await;
    let confirmation = texts
        .iter()
        .find(|t| t.body.contains("is confirmed for"))
        .expect("the confirmation");
    assert!(
        confirmation
            .body
            .contains(&format!("To change or cancel it: {}/a/", app.base)),
        "{}",
        confirmation.body
    );
    link_in(&confirmation.body)
}

async fn status_of(app: &TestApp, id: &str) -> String {
    for s in ["confirmed", "cancelled", "held", "expired"] {
        if count(
            app,
            &format!("SELECT 1 FROM bookings WHERE id = '{id}' AND status = '{s}'"),
        )
        .await
            == 1
        {
            return s.to_owned();
        }
    }
    "missing".to_owned()
}

/// Makes every pending reminder due now and waits until the outbox has sent it.
async fn reminders_due_now(app: &TestApp) {
    app.db
        .execute("UPDATE outbound_messages SET due_at = now() WHERE kind = 'reminder' AND status = 'pending'")
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    app.outbox_settled().await;
}

fn texts_with(app: &TestApp, to: &str, words: &str) -> usize {
    app.twilio
        .messages_to(to)
        .iter()
        .filter(|m| m.body.contains(words))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirmations_link_cancels_and_frees_the_slot() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550101";
    let (id, start, link) = booked(&app, &clinic, caller).await;

    let (status, page) = get(&app, &link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Your appointment</h1>"), "{page}");
    assert!(
        page.contains("Checkup") && page.contains("Smile Dental"),
        "{page}"
    );
    assert!(page.contains("Add to my calendar"), "{page}");
    let (status, ics) = get(&app, &format!("{link}/calendar.ics")).await;
    assert_eq!(status, 200);
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:Checkup at Smile Dental"),
        "{ics}"
    );

    // The confirm step, then the cancel.
    let (status, confirm) = get(&app, &format!("{link}/cancel")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Yes, cancel it"), "{confirm}");
    assert_eq!(
        status_of(&app, &id).await,
        "confirmed",
        "a GET changes nothing"
    );
    let form = form_token(&confirm);
    let (status, to) = post(&app, &format!("{link}/cancel"), &[("form", &form)]).await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("{link}?done=cancelled").as_str())
    );
    assert_eq!(status_of(&app, &id).await, "cancelled");
    let (_, page) = get(&app, &format!("{link}?done=cancelled")).await;
    assert!(page.contains("Appointment cancelled"), "{page}");
    assert!(!page.contains("Yes, cancel it") && !page.contains("Choose another time"));

    // The usual cancellation text, and never the reminder.
    app.texts_to(caller, 3).await;
    assert_eq!(texts_with(&app, caller, "is cancelled"), 1);
    assert_eq!(
        count(&app, &format!("SELECT 1 FROM outbound_messages WHERE kind = 'reminder' AND booking_id = '{id}' AND status = 'withdrawn'")).await,
        1
    );
    reminders_due_now(&app).await;
    assert_eq!(
        texts_with(&app, caller, "Reminder from"),
        0,
        "no reminder after a cancellation"
    );

    // The slot is free: the phone books it again.
    let call = app.call(&clinic, "+14155550102");
    let again = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Sam"}),
        )
        .await;
    assert_eq!(again["ok"], json!(true), "{again}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_moves_the_appointment_and_the_moved_text_has_a_new_link() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550111";
    let (id, _, link) = booked(&app, &clinic, caller).await;

    let (status, page) = get(&app, &format!("{link}/move")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<legend>Free times</legend>"), "{page}");
    let at = page.find("name=\"slot\"").expect("a free time");
    let value_at = page[at..].find("value=\"").expect("value") + at + 7;
    let value = &page[value_at..value_at + page[value_at..].find('"').unwrap()];
    let form = form_token(&page);
    let (status, to) = post(
        &app,
        &format!("{link}/move"),
        &[("form", &form), ("slot", value), ("with", "same")],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    assert!(to.ends_with("?done=moved"), "{to}");
    let new_link = to.trim_end_matches("?done=moved").to_owned();
    assert_ne!(
        new_link, link,
        "the moved appointment has a link of its own"
    );

    assert_eq!(status_of(&app, &id).await, "cancelled");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM bookings WHERE rescheduled_from = '{id}' AND status = 'confirmed'"
            )
        )
        .await,
        1
    );
    let (status, _) = get(&app, &link).await;
    assert_eq!(status, 404, "the old link is revoked");
    let (status, page) = get(&app, &to).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your appointment has moved"), "{page}");

    // The "has moved" text carries the new link.
    let texts = app.texts_to(caller, 3).await;
    let moved = texts
        .iter()
        .find(|t| t.body.contains("has moved to"))
        .expect("the moved text");
    assert_eq!(link_in(&moved.body), new_link, "{}", moved.body);
    reminders_due_now(&app).await;
    let reminders: Vec<_> = app
        .twilio
        .messages_to(caller)
        .into_iter()
        .filter(|m| m.body.contains("Reminder from"))
        .collect();
    assert_eq!(reminders.len(), 1, "the new appointment's reminder only");
    assert_eq!(link_in(&reminders[0].body), new_link);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_the_notice_window_the_page_says_to_call_and_refuses_changes() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550121";
    let (id, link) = booked_soon(&app, &clinic, caller).await;
    let (_, confirm) = get(&app, &format!("{link}/cancel")).await;
    let (_, moving) = get(&app, &format!("{link}/move")).await;
    let (cancel_form, move_form) = (form_token(&confirm), form_token(&moving));

    // The owner sets the notice window to its default: the appointment is within 24 hours.
    let (status, body) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"link_notice_minutes": 1440})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["link_notice_minutes"], json!(1440));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (status, page) = get(&app, &link).await;
    assert_eq!(status, 200);
    assert!(page.contains("less than 24 hours away"), "{page}");
    assert!(page.contains("call the clinic"), "{page}");
    assert!(!page.contains("Choose another time") && !page.contains("Cancel appointment"));
    let (status, to) = get(&app, &format!("{link}/cancel")).await;
    assert_eq!(status, 303, "{to}");

    // A form fetched earlier is refused server-side too.
    let (status, to) = post(&app, &format!("{link}/cancel"), &[("form", &cancel_form)]).await;
    assert_eq!((status, to.as_str()), (303, link.as_str()));
    let (status, _) = post(
        &app,
        &format!("{link}/move"),
        &[
            ("form", &move_form),
            (
                "slot",
                "2030-01-01T10:00:00Z|00000000-0000-0000-0000-000000000000",
            ),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(status_of(&app, &id).await, "confirmed");
    app.outbox_settled().await;
    assert_eq!(texts_with(&app, caller, "is cancelled"), 0);
    assert_eq!(texts_with(&app, caller, "has moved"), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clinics_expired_or_guessed_tokens_get_404_and_change_nothing() {
    let app = TestApp::spawn().await;
    let a = clinic(&app, "Smile Dental", 1).await;
    let b = clinic(&app, "Bright Smiles", 2).await;
    let (id_a, _, link_a) = booked(&app, &a, "+14155550131").await;
    let (id_b, _, link_b) = booked(&app, &b, "+14155550132").await;
    let (_, confirm_a) = get(&app, &format!("{link_a}/cancel")).await;
    let form_a = form_token(&confirm_a);

    // Guessed and malformed tokens.
    for path in [
        "/a/AAAAAAAAAAAAAAAAAAAAAA",
        "/a/AAAAAAAAAAAAAAAAAAAAAB",
        "/a/short",
        "/a/%00%00",
        "/a/AAAAAAAAAAAAAAAAAAAAAA/cancel",
        "/a/AAAAAAAAAAAAAAAAAAAAAA/calendar.ics",
    ] {
        let (status, page) = get(&app, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(page.contains("This link does not work"), "{path}: {page}");
    }
    let (status, _) = post(
        &app,
        "/a/AAAAAAAAAAAAAAAAAAAAAA/cancel",
        &[("form", &form_a)],
    )
    .await;
    assert_eq!(status, 403, "a form token of another link");

    // Clinic A's form token on clinic B's link: refused, B's appointment unchanged.
    let (status, _) = post(&app, &format!("{link_b}/cancel"), &[("form", &form_a)]).await;
    assert_eq!(status, 403);
    let (status, _) = post(&app, &format!("{link_b}/cancel"), &[]).await;
    assert_eq!(status, 403, "no form token");
    // From another site: refused even with the right token.
    let (_, confirm_b) = get(&app, &format!("{link_b}/cancel")).await;
    let resp = no_redirects()
        .post(app.url(&format!("{link_b}/cancel")))
        .header("Origin", "https://evil.example")
        .form(&[("form", form_token(&confirm_b))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(status_of(&app, &id_b).await, "confirmed");

    // An expired link: 404 for the page and the action, nothing changes.
    app.db
        .execute("UPDATE patient_links SET expires_at = now() - interval '1 second'")
        .await;
    let (status, _) = get(&app, &link_a).await;
    assert_eq!(status, 404);
    let (status, _) = post(&app, &format!("{link_a}/cancel"), &[("form", &form_a)]).await;
    assert_eq!(status, 404);
    assert_eq!(status_of(&app, &id_a).await, "confirmed");
    app.outbox_settled().await;
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM outbound_messages WHERE kind = 'cancellation'"
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cancels_at_once_cancel_once_and_text_once() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550141";
    let (id, _, link) = booked(&app, &clinic, caller).await;
    let (_, confirm) = get(&app, &format!("{link}/cancel")).await;
    let form = form_token(&confirm);
    let path = format!("{link}/cancel");
    let fields = [("form", form.as_str())];
    let answers = futures_util::future::join_all((0..20).map(|_| post(&app, &path, &fields))).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 10,
        "at most 10 actions per link: {statuses:?}"
    );
    assert_eq!(status_of(&app, &id).await, "cancelled");
    app.outbox_settled().await;
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM outbound_messages WHERE kind = 'cancellation'"
        )
        .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts_with(&app, caller, "is cancelled"), 1);
    app.stop().await;
}

/// Sends an inbound text from `from` to the clinic's texting number.
async fn reply(app: &TestApp, clinic: &Clinic, from: &str, body: &str) -> u16 {
    app.twilio
        .send_inbound(
            &app.url("/twilio/inbound"),
            &clinic.account_sid,
            from,
            &clinic.from,
            body,
        )
        .await
        .expect("inbound posted")
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_the_reminder_cancels_after_the_confirmation_word() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550151";
    let (id, start, _) = booked(&app, &clinic, caller).await;

    // Before any reminder, "C" is a text like any other: forwarded to the owner.
    assert_eq!(reply(&app, &clinic, caller, "C").await, 200);
    app.outbox_settled().await;
    assert_eq!(texts_with(&app, caller, "reply RELEASE"), 0);
    assert_eq!(app.twilio.messages_to(&clinic.alert_numbers[0]).len(), 1);

    reminders_due_now(&app).await;
    let reminder = app.texts_to(caller, 3).await;
    assert!(
        reminder
            .iter()
            .any(|t| t.body.starts_with("Reminder from Smile Dental"))
    );

    // The confirmation word alone, with no question asked, cancels nothing.
    assert_eq!(reply(&app, &clinic, caller, "RELEASE").await, 200);
    app.outbox_settled().await;
    assert_eq!(status_of(&app, &id).await, "confirmed");

    // "cancel appointment" (any case) asks for the word; two at once ask once.
    let (a, b) = tokio::join!(
        reply(&app, &clinic, caller, " cancel appointment "),
        reply(&app, &clinic, caller, "c")
    );
    assert_eq!((a, b), (200, 200));
    app.outbox_settled().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        texts_with(&app, caller, "reply RELEASE within 30 minutes"),
        1
    );
    assert_eq!(status_of(&app, &id).await, "confirmed");

    // Two confirmations at once: one cancellation, one text.
    let (a, b) = tokio::join!(
        reply(&app, &clinic, caller, "release"),
        reply(&app, &clinic, caller, "Release")
    );
    assert_eq!((a, b), (200, 200));
    assert_eq!(status_of(&app, &id).await, "cancelled");
    app.outbox_settled().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts_with(&app, caller, "is cancelled"), 1);
    assert_eq!(
        count(
            &app,
            "SELECT 1 FROM outbound_messages WHERE kind = 'cancellation'"
        )
        .await,
        1
    );
    // Only the texts that were no such reply reached the owner: the "C" before any reminder
    // and the word with no question open.
    assert_eq!(app.twilio.messages_to(&clinic.alert_numbers[0]).len(), 2);

    // The slot is free again.
    let call = app.call(&clinic, "+14155550152");
    let again = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Sam"}),
        )
        .await;
    assert_eq!(again["ok"], json!(true), "{again}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_alone_still_opts_out_and_keeps_the_appointment() {
    let app = TestApp::spawn().await;
    let clinic = clinic(&app, "Smile Dental", 1).await;
    let caller = "+14155550161";
    let (id, _, _) = booked(&app, &clinic, caller).await;
    reminders_due_now(&app).await;
    assert_eq!(reply(&app, &clinic, caller, "CANCEL").await, 200);
    app.outbox_settled().await;
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT 1 FROM contacts WHERE phone = '{caller}' AND opted_out_at IS NOT NULL"
            )
        )
        .await,
        1
    );
    assert_eq!(status_of(&app, &id).await, "confirmed");
    assert_eq!(texts_with(&app, caller, "RELEASE"), 0);
    app.stop().await;
}
