//! The clinic's own calendar, end to end: the real api over HTTP, a private PostgreSQL, a fake
//! Twilio and a real CalDAV server (a private Radicale, crates/local-caldav). The calendar is
//! linked through the operator API; the front desk's events are put into it with plain HTTP PUT
//! of `.ics` files, as any calendar app does; our appointments are read back over HTTP.
//!
//! The api syncs every second here (`CALENDAR_STALENESS_SECONDS=2`). A test that needs "after
//! one sync" waits until the operator API shows a sync that finished after the change.

use std::time::Duration;

use booking_core::BookingId;
use booking_core::outside_calendar::OurEventUid;
use booking_e2e::{Call, TestApp, code_in};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use local_caldav::{Radicale, User};
use serde_json::{Value, json};

const ZONE: &str = "America/New_York";
const USER: &str = "frontdesk";
const PASSWORD: &str = "app-password-7";

fn radicale() -> Radicale {
    Radicale::start(&[User {
        name: USER,
        password: PASSWORD,
        calendars: &[("lee", "Dr. Lee"), ("maria", "Hygienist Maria")],
    }])
    .expect("a private Radicale starts (apt-get install radicale)")
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("CALENDAR_STALENESS_SECONDS".into(), "2".into());
        env.insert("CALENDAR_TIMEOUT_MS".into(), "2000".into());
    })
    .await
}

fn calendar_url(server: &Radicale, name: &str) -> String {
    format!("{}{USER}/{name}/", server.url())
}

/// The clinic's local date `days` from today.
fn day(days: i64) -> Date {
    Timestamp::now()
        .in_tz(ZONE)
        .expect("zone")
        .date()
        .checked_add(days.days())
        .expect("date")
}

/// `day` at `hh:mm` in the clinic's zone, as the tools take a start (RFC 3339 with offset).
fn at(day: Date, hh: i8, mm: i8) -> String {
    let z = day
        .at(hh, mm, 0, 0)
        .in_tz(ZONE)
        .expect("a time in the zone");
    z.timestamp().to_string()
}

/// The starts a `check_availability` answer offers.
fn starts(avail: &Value) -> Vec<Timestamp> {
    avail["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("slots: {avail}"))
        .iter()
        .map(|s| s["start"].as_str().expect("start").parse().expect("a time"))
        .collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a time")
}

fn ical_date(d: Date) -> String {
    d.strftime("%Y%m%d").to_string()
}

fn ical_local(d: Date, hh: i8, mm: i8) -> String {
    format!("{}T{hh:02}{mm:02}00", ical_date(d))
}

/// A front-desk calendar app: plain HTTP with the user's password.
struct FrontDesk {
    http: reqwest::Client,
    password: String,
}

impl FrontDesk {
    fn new() -> Self {
        Self {
            http: test_support::client(),
            password: PASSWORD.into(),
        }
    }

    async fn put(&self, url: &str, body: &str) {
        let resp = self
            .http
            .put(url)
            .basic_auth(USER, Some(&self.password))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(body.to_owned())
            .send()
            .await
            .expect("the calendar server answers");
        assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());
    }

    /// The resource's text, or `None` when it is not there (404).
    async fn get(&self, url: &str) -> Option<String> {
        let resp = self
            .http
            .get(url)
            .basic_auth(USER, Some(&self.password))
            .send()
            .await
            .expect("the calendar server answers");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        // Unfolded (RFC 5545 3.1), so that a long line's words can be looked for.
        let text = resp.text().await.expect("body");
        Some(text.replace("\r\n ", "").replace("\n ", ""))
    }

    /// The hrefs of the event resources in a calendar collection (PROPFIND, depth 1).
    async fn list(&self, calendar: &str) -> Vec<String> {
        let resp = self
            .http
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").expect("method"),
                calendar,
            )
            .basic_auth(USER, Some(&self.password))
            .header("Depth", "1")
            .header("Content-Type", "application/xml")
            .body(
                r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
            )
            .send()
            .await
            .expect("the calendar server answers");
        let text = resp.text().await.expect("body");
        text.split("href>")
            .filter_map(|s| s.strip_suffix("</").or_else(|| s.strip_suffix("</D:")))
            .filter(|h| h.ends_with(".ics"))
            .map(str::to_owned)
            .collect()
    }
}

/// A provider list as GET shows it, without what the syncs change (their health and time).
fn without_sync_times(providers: &Value) -> Value {
    let mut p = providers.clone();
    for one in p.as_array_mut().expect("providers") {
        if let Some(cal) = one["calendar"].as_object_mut() {
            cal.remove("sync_health");
            cal.remove("sync_message");
            cal.remove("last_synced_at");
        }
    }
    p
}

/// The event file of a booking in a calendar.
fn event_url(calendar: &str, booking: &str) -> String {
    let id: BookingId = booking.parse().expect("a booking id");
    format!("{calendar}{}", OurEventUid::for_booking(id).file_name())
}

/// A clinic whose one provider, Dr. Lee, is linked to `calendar` with `password`.
async fn clinic_with_calendar(
    app: &TestApp,
    name: &str,
    n: u32,
    calendar: &str,
    password: &str,
) -> booking_e2e::Clinic {
    app.create_clinic_with(name, n, |body| {
        body["providers"] = json!([{
            "name": "Dr. Lee",
            "calendar": {"url": calendar, "username": USER, "password": password}
        }]);
    })
    .await
}

async fn tenant(app: &TestApp, clinic: &booking_e2e::Clinic) -> Value {
    let (status, got) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{got}");
    got
}

/// Waits until the provider's calendar shows a sync that finished after `after` and returns the
/// calendar's view. Gives up after a minute (a broken sync, not a slow one).
async fn synced_after(app: &TestApp, clinic: &booking_e2e::Clinic, after: Timestamp) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = tenant(app, clinic).await;
        let cal = got["providers"][0]["calendar"].clone();
        let last = cal["last_synced_at"]
            .as_str()
            .and_then(|s| s.parse::<Timestamp>().ok());
        if last.is_some_and(|t| t > after) {
            return cal;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sync after {after}: {cal}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `check` holds for the calendar's view.
async fn calendar_until(
    app: &TestApp,
    clinic: &booking_e2e::Clinic,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let cal = tenant(app, clinic).await["providers"][0]["calendar"].clone();
        if check(&cal) {
            return cal;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {cal}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `check` holds for the resource at `url` (its text, or `None` when absent).
async fn resource_until(
    desk: &FrontDesk,
    url: &str,
    what: &str,
    check: impl Fn(Option<&str>) -> bool,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = desk.get(url).await;
        if check(got.as_deref()) {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn reserve(call: &Call<'_>, start: &str) -> Value {
    call.tool(
        "reserve_slot",
        json!({"start": start, "service": "Checkup", "caller_name": "Jane Doe"}),
    )
    .await
}

/// A new caller's number for each reservation, so that no call's hold gives way to another.
fn caller(i: u32) -> String {
    format!("+1415555{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_desk_events_block_times_within_one_sync() {
    let server = radicale();
    let app = spawn().await;
    let desk = FrontDesk::new();
    let lee = calendar_url(&server, "lee");
    let clinic = clinic_with_calendar(&app, "Front Desk Dental", 61, &lee, PASSWORD).await;
    let first = synced_after(&app, &clinic, Timestamp::UNIX_EPOCH).await;
    assert_eq!(first["sync_health"], json!("ok"), "{first}");
    assert_eq!(first["url"], json!(lee), "{first}");

    let d = day(3);
    // Free before the front desk types anything.
    let before = app.call(&clinic, &caller(1));
    let avail = before
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": d.to_string(), "after": "10:00"}),
        )
        .await;
    assert_eq!(starts(&avail)[0], ts(&at(d, 10, 0)), "{avail}");

    let typed_at = Timestamp::now();
    // A walk-in at 10:00-11:00.
    desk.put(
        &format!("{lee}walk-in.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:walk-in@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\nSUMMARY:Walk-in\nEND:VEVENT\n",
            ical_local(d, 10, 0),
            ical_local(d, 11, 0)
        )),
    )
    .await;
    // A weekly staff meeting 08:00-09:00 from d+7, three times: the second one cancelled
    // (EXDATE), the third moved to 13:00-14:00 (RECURRENCE-ID).
    let (w1, w2, w3) = (day(7), day(14), day(21));
    desk.put(
        &format!("{lee}staff-meeting.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:staff@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\nRRULE:FREQ=WEEKLY;COUNT=3\n\
             EXDATE;TZID={ZONE}:{}\nSUMMARY:Staff meeting\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:staff@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             RECURRENCE-ID;TZID={ZONE}:{}\nDTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\n\
             SUMMARY:Staff meeting (moved)\nEND:VEVENT\n",
            ical_local(w1, 8, 0),
            ical_local(w1, 9, 0),
            ical_local(w2, 8, 0),
            ical_local(w3, 8, 0),
            ical_local(w3, 13, 0),
            ical_local(w3, 14, 0),
        )),
    )
    .await;
    // A holiday on d+1, all day.
    let holiday = day(1);
    desk.put(
        &format!("{lee}holiday.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:holiday@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;VALUE=DATE:{}\nDTEND;VALUE=DATE:{}\nSUMMARY:Closed\nEND:VEVENT\n",
            ical_date(holiday),
            ical_date(holiday.tomorrow().expect("date"))
        )),
    )
    .await;
    // A reminder marked free (TRANSPARENT) on d+2 10:00-11:00.
    let d2 = day(2);
    desk.put(
        &format!("{lee}lunch.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:note@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\nTRANSP:TRANSPARENT\n\
             SUMMARY:Call the lab\nEND:VEVENT\n",
            ical_local(d2, 10, 0),
            ical_local(d2, 11, 0)
        )),
    )
    .await;
    synced_after(&app, &clinic, typed_at).await;

    // The walk-in: its hour is neither offered nor held; the time after it is.
    let call = app.call(&clinic, &caller(2));
    let avail = call
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": d.to_string(), "after": "09:30"}),
        )
        .await;
    let offered = starts(&avail);
    assert_eq!(offered[0], ts(&at(d, 9, 30)), "{avail}");
    for busy in [at(d, 10, 0), at(d, 10, 30)] {
        assert!(!offered.contains(&ts(&busy)), "{busy} offered: {avail}");
    }
    let after = call
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": d.to_string(), "after": "10:00"}),
        )
        .await;
    assert_eq!(starts(&after)[0], ts(&at(d, 11, 0)), "{after}");
    let taken = reserve(&call, &at(d, 10, 30)).await;
    assert_eq!(taken["ok"], json!(false), "{taken}");
    assert_eq!(reserve(&call, &at(d, 11, 0)).await["ok"], json!(true));

    // The staff meeting: the first week blocked; the cancelled week free; the moved one free at
    // 08:00 and blocked at 13:00.
    let expect = [
        (w1, 8, false),
        (w1, 9, true),
        (w2, 8, true),
        (w3, 8, true),
        (w3, 13, false),
        (w3, 14, true),
    ];
    for (i, (d, h, free)) in expect.into_iter().enumerate() {
        let call = app.call(&clinic, &caller(10 + i as u32));
        let got = reserve(&call, &at(d, h, 0)).await;
        assert_eq!(got["ok"], json!(free), "{d} {h}:00: {got}");
    }

    // The holiday: nothing that day; the answer moves to the next day.
    let call = app.call(&clinic, &caller(20));
    let avail = call
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": holiday.to_string()}),
        )
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    for start in starts(&avail) {
        assert_ne!(
            start.in_tz(ZONE).expect("zone").date(),
            holiday,
            "offered on the holiday: {avail}"
        );
    }
    assert_eq!(
        reserve(&call, &at(holiday, 12, 0)).await["ok"],
        json!(false)
    );

    // The transparent event blocks nothing.
    let call = app.call(&clinic, &caller(21));
    assert_eq!(reserve(&call, &at(d2, 10, 0)).await["ok"], json!(true));
    app.stop().await;
}

/// Books the slot at `start` with the whole tool sequence; the appointment id.
async fn book_at(app: &TestApp, call: &Call<'_>, start: &str) -> String {
    let held = reserve(call, start).await;
    assert_eq!(held["ok"], json!(true), "{held}");
    let hold = held["hold_id"].as_str().expect("hold").to_owned();
    app.outbox_settled().await;
    let before = app.twilio.messages_to(&call.caller).len();
    let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let texts = app.texts_to(&call.caller, before + 1).await;
    let code = code_in(&texts.last().expect("code").body);
    let verified = call
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    verified["appointment_id"]
        .as_str()
        .expect("appointment")
        .to_owned()
}

/// A change a caller makes with a code: asked without one (a code is texted), then with it.
async fn with_code(app: &TestApp, call: &Call<'_>, tool: &str, args: Value) -> Value {
    app.outbox_settled().await;
    let before = app.twilio.messages_to(&call.caller).len();
    let first = call.tool(tool, args.clone()).await;
    assert_eq!(first["needs_code"], json!(true), "a code first: {first}");
    let texts = app.texts_to(&call.caller, before + 1).await;
    let code = code_in(&texts.last().expect("code").body);
    let mut args = args;
    args["code"] = json!(code);
    call.tool(tool, args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_appears_moves_and_disappears_in_the_calendar() {
    let server = radicale();
    let app = spawn().await;
    let desk = FrontDesk::new();
    let lee = calendar_url(&server, "lee");
    let clinic = clinic_with_calendar(&app, "Written Dental", 62, &lee, PASSWORD).await;
    synced_after(&app, &clinic, Timestamp::UNIX_EPOCH).await;

    let call = app.call(&clinic, &caller(30));
    let d = day(4);
    let booked = book_at(&app, &call, &at(d, 9, 0)).await;
    let url = event_url(&lee, &booked);
    let event = resource_until(&desk, &url, "the appointment is written", |t| t.is_some())
        .await
        .expect("event");
    assert!(
        event.contains(&format!("DTSTART:{}", utc_ical(&at(d, 9, 0)))),
        "{event}"
    );
    assert!(event.contains("Jane Doe"), "{event}");
    assert!(event.contains("Checkup"), "{event}");
    assert!(event.contains(&booked), "our booking id: {event}");

    // Coming back through the sync, our own event blocks nothing: the slot just after it is
    // free, and the appointment is no conflict.
    synced_after(&app, &clinic, Timestamp::now()).await;
    let other = app.call(&clinic, &caller(31));
    assert_eq!(reserve(&other, &at(d, 9, 30)).await["ok"], json!(true));

    // Moved by the caller: the same event (same UID, same file) at the new time.
    let moved = with_code(
        &app,
        &app.call(&clinic, &caller(30)),
        "reschedule_appointment",
        json!({"appointment_id": booked, "new_start": at(d, 14, 0)}),
    )
    .await;
    assert_eq!(moved["ok"], json!(true), "{moved}");
    let new_id = moved["appointment_id"].as_str().expect("new id").to_owned();
    let new_url = event_url(&lee, &new_id);
    let new_event = resource_until(&desk, &new_url, "the move is written", |t| t.is_some())
        .await
        .expect("event");
    assert!(
        new_event.contains(&format!("DTSTART:{}", utc_ical(&at(d, 14, 0)))),
        "{new_event}"
    );
    resource_until(&desk, &url, "the old time is removed", |t| t.is_none()).await;

    // Cancelled: gone from the calendar.
    let cancelled = with_code(
        &app,
        &app.call(&clinic, &caller(30)),
        "cancel_appointment",
        json!({"appointment_id": new_id}),
    )
    .await;
    assert_eq!(cancelled["ok"], json!(true), "{cancelled}");
    resource_until(
        &desk,
        &new_url,
        "the cancelled appointment is removed",
        |t| t.is_none(),
    )
    .await;
    let left: Vec<String> = desk
        .list(&lee)
        .await
        .into_iter()
        .filter(|h| h.contains("appointment-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    app.stop().await;
}

/// `2030-03-05T15:00:00Z` as iCalendar's UTC form `20300305T150000Z`.
fn utc_ical(rfc3339: &str) -> String {
    let t: Timestamp = rfc3339.parse().expect("time");
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_server_stopped_mid_call_and_back() {
    let mut server = radicale();
    let app = spawn().await;
    let desk = FrontDesk::new();
    let lee = calendar_url(&server, "lee");
    let clinic = clinic_with_calendar(&app, "Offline Dental", 63, &lee, PASSWORD).await;
    synced_after(&app, &clinic, Timestamp::UNIX_EPOCH).await;
    let d = day(5);

    // A walk-in synced before the server goes away keeps blocking while it is away.
    let typed_at = Timestamp::now();
    desk.put(
        &format!("{lee}walk-in.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:walk-in-2@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\nSUMMARY:Walk-in\nEND:VEVENT\n",
            ical_local(d, 15, 0),
            ical_local(d, 16, 0)
        )),
    )
    .await;
    synced_after(&app, &clinic, typed_at).await;

    let call = app.call(&clinic, &caller(40));
    let avail = call
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": d.to_string(), "after": "09:00"}),
        )
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    // Mid-call, the calendar server stops.
    server.stop();
    let booked = book_at(&app, &call, &at(d, 9, 0)).await;
    let cal = calendar_until(&app, &clinic, "the health says the server is away", |c| {
        c["sync_health"] == json!("unreachable")
    })
    .await;
    assert!(
        cal["sync_message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot reach")),
        "{cal}"
    );
    let other = app.call(&clinic, &caller(41));
    assert_eq!(
        reserve(&other, &at(d, 15, 0)).await["ok"],
        json!(false),
        "the walk-in still blocks"
    );

    // Back: the appointment is written, once.
    server.start_again().expect("the server starts again");
    let url = event_url(&lee, &booked);
    resource_until(&desk, &url, "written once the server is back", |t| {
        t.is_some()
    })
    .await;
    calendar_until(&app, &clinic, "healthy again", |c| {
        c["sync_health"] == json!("ok")
    })
    .await;
    // Another sync and write round: still one event for the booking.
    synced_after(&app, &clinic, Timestamp::now()).await;
    let ours: Vec<String> = desk
        .list(&lee)
        .await
        .into_iter()
        .filter(|h| h.contains("appointment-"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let text = desk.get(&url).await.expect("event");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 1, "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_in_words_loses_nothing_and_the_right_one_catches_up() {
    let server = radicale();
    let app = spawn().await;
    let desk = FrontDesk::new();
    let lee = calendar_url(&server, "lee");
    let clinic = clinic_with_calendar(&app, "Password Dental", 64, &lee, "not-the-password").await;
    let cal = calendar_until(&app, &clinic, "the refusal shows", |c| {
        c["sync_health"] == json!("wrong_credentials")
    })
    .await;
    assert!(
        cal["sync_message"]
            .as_str()
            .is_some_and(|m| m.contains("refused")),
        "{cal}"
    );
    assert_eq!(cal["last_synced_at"], Value::Null, "{cal}");
    let shown = tenant(&app, &clinic).await.to_string();
    assert!(!shown.contains("not-the-password"), "{shown}");

    // Calls go on booking meanwhile.
    let d = day(6);
    let call = app.call(&clinic, &caller(50));
    let booked = book_at(&app, &call, &at(d, 11, 0)).await;
    desk.put(
        &format!("{lee}walk-in.ics"),
        &test_support::front_desk_ics(&format!(
            "BEGIN:VEVENT\nUID:walk-in-3@frontdesk.example\nDTSTAMP:20300101T000000Z\n\
             DTSTART;TZID={ZONE}:{}\nDTEND;TZID={ZONE}:{}\nSUMMARY:Walk-in\nEND:VEVENT\n",
            ical_local(d, 15, 0),
            ical_local(d, 16, 0)
        )),
    )
    .await;

    // The operator enters the right password (the provider as GET shows it, with credentials).
    let got = tenant(&app, &clinic).await;
    let mut provider = got["providers"][0].clone();
    provider["calendar"] = json!({"url": lee, "username": USER, "password": PASSWORD});
    let fixed_at = Timestamp::now();
    let (status, patched) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"providers": [provider]})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let cal = synced_after(&app, &clinic, fixed_at).await;
    assert_eq!(cal["sync_health"], json!("ok"), "{cal}");
    resource_until(
        &desk,
        &event_url(&lee, &booked),
        "the booking catches up",
        |t| t.is_some(),
    )
    .await;
    let other = app.call(&clinic, &caller(51));
    assert_eq!(reserve(&other, &at(d, 15, 0)).await["ok"], json!(false));

    // Sent back as GET shows it (no credentials, same address): kept, still healthy.
    let got = tenant(&app, &clinic).await;
    let (status, kept) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/tenants/{}", clinic.id),
            Some(json!({"providers": got["providers"]})),
        )
        .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(
        kept["providers"][0]["calendar"]["url"],
        json!(lee),
        "{kept}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_fields_are_checked_and_another_clinics_providers_refused() {
    let server = radicale();
    let app = spawn().await;
    let lee = calendar_url(&server, "lee");
    let maria = calendar_url(&server, "maria");
    let ours = clinic_with_calendar(&app, "Our Dental", 65, &lee, PASSWORD).await;
    let theirs = app.create_clinic("Their Dental", 66).await;
    let their_provider = tenant(&app, &theirs).await["providers"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let before = tenant(&app, &ours).await;
    let path = format!("/admin/tenants/{}", ours.id);
    let patch = |providers: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            app.admin(
                reqwest::Method::PATCH,
                &path,
                Some(json!({"providers": providers})),
            )
            .await
        }
    };

    // Another clinic's provider id, with a calendar: refused, nothing saved.
    let (status, got) = patch(json!([
        before["providers"][0].clone(),
        {"id": their_provider, "name": "Intruder",
         "calendar": {"url": maria, "username": USER, "password": PASSWORD}}
    ]))
    .await;
    assert_eq!(status, 400, "{got}");
    assert!(
        got.to_string().contains("not a provider of this clinic"),
        "{got}"
    );

    // Bad calendar fields, each named.
    for (calendar, field, words) in [
        (
            json!({"url": "http://calendar.example.com/lee/", "username": USER, "password": "x"}),
            "providers[0].calendar.url",
            "https",
        ),
        (
            json!({"url": maria, "username": USER}),
            "providers[0].calendar",
            "password",
        ),
        (
            json!({"url": maria, "username": USER, "password": "p", "token": "t"}),
            "providers[0].calendar",
            "not both",
        ),
        (json!({"url": maria}), "providers[0].calendar", "username"),
    ] {
        let mut p = before["providers"][0].clone();
        p["calendar"] = calendar;
        let (status, got) = patch(json!([p])).await;
        assert_eq!(status, 400, "{got}");
        let text = got.to_string();
        assert!(
            text.contains(field) && text.contains(words),
            "{field} {words}: {got}"
        );
    }
    let (status, got) = app
        .admin(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"providers": [{"name": "Dr. Lee", "calendar": {"url": maria, "secret": "x"}}]})),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {got}");
    let after = tenant(&app, &ours).await;
    assert_eq!(
        without_sync_times(&after["providers"]),
        without_sync_times(&before["providers"]),
        "nothing saved"
    );
    assert_eq!(after["providers"][0]["calendar"]["url"], json!(lee));
    let other = tenant(&app, &theirs).await;
    assert_eq!(other["providers"][0]["calendar"], Value::Null, "{other}");

    // A new provider with a bearer token on a loopback address; then `null` unlinks.
    let (status, got) = patch(json!([
        before["providers"][0].clone(),
        {"name": "Hygienist Maria", "calendar": {"url": maria, "token": "a-token"}}
    ]))
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["providers"][1]["calendar"]["url"],
        json!(maria),
        "{got}"
    );
    assert!(!got.to_string().contains("a-token"), "{got}");
    let mut lee_provider = got["providers"][0].clone();
    lee_provider["calendar"] = Value::Null;
    let (status, got) = patch(json!([lee_provider, got["providers"][1].clone()])).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["providers"][0]["calendar"], Value::Null, "{got}");
    assert_eq!(
        got["providers"][1]["calendar"]["url"],
        json!(maria),
        "{got}"
    );
    app.stop().await;
}
