//! The owner's dashboard over HTTP: accounts made by the operator, sign-in and its throttle,
//! cookies and headers, CSRF and Origin refusals, another clinic's rows answering 404, and the
//! buttons that text callers.

use booking_e2e::{
    OWNER_PASSWORD, TestApp, book, csrf_in, no_redirects, set_cookies, zone_where_it_is_midday,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_creates_owner_accounts() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 1).await;

    let (status, owner) = app
        .create_owner(&clinic, " Ann@Smile.example ", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 201, "{owner}");
    assert_eq!(owner["email"], json!("ann@smile.example"));
    assert_eq!(owner["tenant_id"], json!(clinic.id));
    assert!(!owner.to_string().contains(OWNER_PASSWORD));

    let (status, _) = app
        .create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 409, "one account per email");
    let (status, body) = app
        .create_owner(&clinic, "bob@smile.example", "short")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("password"));
    let (status, _) = app
        .create_owner(&clinic, "not an email", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 400);

    let mut other = clinic.clone();
    other.id = uuid::Uuid::new_v4().to_string();
    let (status, _) = app
        .create_owner(&other, "carol@smile.example", OWNER_PASSWORD)
        .await;
    assert_eq!(status, 404, "no such clinic");

    let resp = app
        .http
        .post(app.url(&format!("/admin/tenants/{}/owners", clinic.id)))
        .json(&json!({"email": "dan@smile.example", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        401,
        "the operator's token is required"
    );

    // Only the argon2 hash is stored.
    let stored = app
        .db
        .execute("SELECT 1 FROM owner_accounts WHERE password_hash LIKE '$argon2id$%'")
        .await;
    assert_eq!(stored, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signs_in_and_out() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile <b>Dental</b>", 2).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let http = no_redirects();

    // Not signed in: to the sign-in page.
    let resp = http.get(app.url("/app")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/app/login");

    // The sign-in page: CSP and friends, and a CSRF cookie for the form.
    let resp = http.get(app.url("/app/login")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let cookies = set_cookies(&resp);
    let (_, raw) = &cookies[0];
    assert!(raw.starts_with("__Host-login="), "{raw}");

    // Wrong password, then right.
    let err = app
        .try_sign_in("ann@smile.example", "wrong password!")
        .await
        .err()
        .unwrap();
    assert_eq!(err.0, 401);
    assert!(err.1.contains("do not match"), "{}", err.1);
    let err = app
        .try_sign_in("nobody@smile.example", OWNER_PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(err.0, 401, "an unknown email reads the same");

    let form = http.get(app.url("/app/login")).send().await.unwrap();
    let login_cookie = set_cookies(&form)[0].0.clone();
    let token = csrf_in(&form.text().await.unwrap()).unwrap();
    let resp = http
        .post(app.url("/app/login"))
        .header("Cookie", &login_cookie)
        .header("Origin", &app.base)
        .form(&[
            ("email", "ANN@smile.example"),
            ("password", OWNER_PASSWORD),
            ("csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/app/setup",
        "first sign-in: the walk-through"
    );
    let session = set_cookies(&resp)
        .into_iter()
        .find(|(p, _)| p.starts_with("__Host-session="))
        .expect("session cookie");
    let raw = session.1.to_ascii_lowercase();
    for flag in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(raw.contains(flag), "{flag} missing in {raw}");
    }
    assert!(!raw.contains("domain="), "{raw}");
    // The token is stored hashed only.
    let token_value = session.0.split_once('=').unwrap().1.to_owned();
    assert_eq!(token_value.len(), 64);
    let plain = app
        .db
        .execute(&format!(
            "SELECT 1 FROM owner_sessions WHERE token_hash = decode('{token_value}', 'hex') OR csrf_token = '{token_value}'"
        ))
        .await;
    assert_eq!(plain, 0, "the session token is not stored as is");
    let hashed = app
        .db
        .execute(&format!(
            "SELECT 1 FROM owner_sessions WHERE token_hash = sha256('{token_value}'::bytea)"
        ))
        .await;
    assert_eq!(hashed, 1, "the SHA-256 of the token is");

    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let (status, today) = owner.get("/app").await;
    assert_eq!(status, 200);
    assert!(
        today.contains("Smile &lt;b&gt;Dental&lt;/b&gt;"),
        "the clinic name, escaped"
    );
    assert!(!today.contains("<b>Dental"));
    for path in [
        "/app/leads",
        "/app/appointments",
        "/app/messages",
        "/app/calls",
        "/app/settings",
        "/app/setup/1",
        "/app/setup/5",
    ] {
        let (status, body) = owner.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = owner.get("/app/static/htmx.min.js").await;
    assert_eq!(status, 200);

    // Sign out: the session is gone on the server too.
    let (status, _) = owner.post("/app/logout", &[]).await;
    assert_eq!(status, 303);
    let (status, _) = owner.get("/app").await;
    assert_eq!(status, 303, "the old cookie no longer works");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_email() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 3).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    for _ in 0..5 {
        let (status, _) = app
            .try_sign_in("ann@smile.example", "not the password")
            .await
            .err()
            .unwrap();
        assert_eq!(status, 401);
    }
    let (status, body) = app
        .try_sign_in("ann@smile.example", OWNER_PASSWORD)
        .await
        .err()
        .expect("locked out even with the right password");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("15 minutes"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_token_or_from_elsewhere_are_refused() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 4).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    let (status, _) = owner
        .post(
            "/app/settings/clinic",
            &[("name", "Hijacked"), ("csrf", "")],
        )
        .await;
    assert_eq!(status, 403, "no token");
    let (status, _) = owner
        .post(
            "/app/settings/clinic",
            &[("name", "Hijacked"), ("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(status, 403, "wrong token");
    let resp = owner
        .http
        .post(app.url("/app/settings/clinic"))
        .header("Cookie", &owner.cookie)
        .header("Origin", "https://evil.example")
        .form(&[("name", "Hijacked"), ("csrf", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        403,
        "another site's form, even with the token"
    );
    // The sign-in form has its own token.
    let resp = owner
        .http
        .post(app.url("/app/login"))
        .form(&[("email", "ann@smile.example"), ("password", OWNER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let (_, tenant) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(tenant["name"], json!("Smile Dental"), "nothing changed");

    // With the token it works, and invalid values are refused with the reason.
    let (status, _) = owner
        .post("/app/settings/clinic", &[("name", "Smile Dental & Spa")])
        .await;
    assert_eq!(status, 303);
    let (status, body) = owner
        .post("/app/settings/hours", &[("hours_mon", "17:00-09:00")])
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("Not saved"), "{body}");
    let (_, tenant) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(tenant["name"], json!("Smile Dental & Spa"));
    assert_eq!(tenant["weekly_hours"]["mon"], json!([["00:00", "24:00"]]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clinics_rows_answer_404() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 5).await;
    let b = app.create_clinic("Clinic B", 6).await;
    app.create_owner(&a, "owner@a.example", OWNER_PASSWORD)
        .await;
    let call = app.call(&b, "+15557770001");
    let (appointment, _) = book(&call, "Checkup").await;
    let (status, _) = call
        .end_of_call(
            json!({"caller_name": "Bea", "service_interest": "Checkup"}),
            60,
        )
        .await;
    assert_eq!(status, 200);

    let owner = app.sign_in("owner@a.example", OWNER_PASSWORD).await;
    let (status, _) = owner.get(&format!("/app/appointments/{appointment}")).await;
    assert_eq!(status, 404);
    let (status, _) = owner.get(&format!("/app/calls/{}", call.id)).await;
    assert_eq!(status, 404);
    let (status, _) = owner
        .post(&format!("/app/appointments/{appointment}/cancel"), &[])
        .await;
    assert_eq!(status, 404);
    let (status, _) = owner
        .post(
            &format!("/app/appointments/{appointment}/reschedule"),
            &[("new_start", "2031-01-06T10:00")],
        )
        .await;
    assert_eq!(status, 404);
    // A form field naming the other clinic changes nothing: the clinic comes from the session.
    let (status, _) = owner
        .post(
            "/app/settings/clinic",
            &[("name", "Renamed"), ("tenant_id", &b.id)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, tenant_b) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", b.id),
            None,
        )
        .await;
    assert_eq!(tenant_b["name"], json!("Clinic B"));
    for path in [
        "/app",
        "/app/appointments",
        "/app/calls",
        "/app/messages",
        "/app/leads",
    ] {
        let (_, page) = owner.get(path).await;
        assert!(!page.contains(&appointment), "{path} shows B's appointment");
        assert!(!page.contains(&call.id), "{path} shows B's call");
        assert!(!page.contains("Bea"), "{path} shows B's caller");
    }
    let still = app
        .db
        .execute(&format!(
            "SELECT 1 FROM bookings WHERE id = '{appointment}' AND status = 'confirmed'"
        ))
        .await;
    assert_eq!(still, 1, "B's appointment is untouched");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_and_rescheduling_text_the_caller() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 7).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let caller = "+15557770002";
    let call = app.call(&clinic, caller);
    let (first, _) = book(&call, "Checkup").await;
    // Another caller, so that each booking's code is the newest text to its number.
    let caller2 = "+15557770012";
    let call2 = app.call(&clinic, caller2);
    let (second, _) = book(&call2, "Checkup").await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    let (status, list) = owner.get("/app/appointments").await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&first) && list.contains(&second),
        "both appointments listed"
    );
    assert!(list.contains("Jane Doe"));

    app.outbox_settled().await;
    let before = app.twilio.messages_to(caller).len();
    let (status, page) = owner
        .post(&format!("/app/appointments/{first}/cancel"), &[])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("cancelled"), "{page}");
    let texts = app.texts_to(caller, before + 1).await;
    assert!(
        texts.last().unwrap().body.contains("is cancelled"),
        "{:?}",
        texts.last().unwrap().body
    );

    // Move the second one to a day later, same time of day (open all day in the test clinic).
    let (_, detail) = owner.get(&format!("/app/appointments/{second}")).await;
    let marker = "name=\"new_start\" required value=\"";
    let i = detail.find(marker).expect("reschedule form") + marker.len();
    let current = &detail[i..i + 16];
    let dt: jiff::civil::DateTime = current.parse().unwrap();
    let later = (dt + jiff::Span::new().days(1))
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let before = app.twilio.messages_to(caller2).len();
    // Something that is not a date and time is refused in the owner's words; nothing moves.
    let (status, page) = owner
        .post(
            &format!("/app/appointments/{second}/reschedule"),
            &[("new_start", "next tuesday")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("not a date and time"), "{page}");
    assert!(page.contains(current), "{page}");
    let (status, page) = owner
        .post(
            &format!("/app/appointments/{second}/reschedule"),
            &[("new_start", &later)],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("moved"), "{page}");
    let texts = app.texts_to(caller2, before + 1).await;
    assert!(
        texts.last().unwrap().body.contains("has moved"),
        "{:?}",
        texts.last().unwrap().body
    );

    // Messages shows every text with its status.
    app.outbox_settled().await;
    let (_, messages) = owner.get("/app/messages").await;
    assert!(
        messages.contains("cancellation to +15557770002"),
        "{messages}"
    );
    assert!(messages.contains("Accepted by Twilio") || messages.contains("Delivered"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_caller_data_is_escaped_and_errors_are_explained() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 8).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let caller = "+15557770003";
    let call = app.call(&clinic, caller);
    book(&call, "Checkup").await;
    let (status, _) = call
        .end_of_call(
            json!({"caller_name": "<script>alert(1)</script>", "service_interest": "\"><img src=x onerror=alert(2)>",
                   "wants_callback": true}),
            300,
        )
        .await;
    assert_eq!(status, 200);
    // A text that Twilio refuses: the caller has opted out at the carrier (21610).
    app.twilio.opt_out("+15557770004");
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let (status, body) = owner.post("/app/test-sms", &[("to", "+15557770004")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("replied STOP"), "{body}");
    assert!(body.contains("21610"), "{body}");

    for path in [
        "/app",
        "/app/leads",
        "/app/calls",
        &format!("/app/calls/{}", call.id),
    ] {
        let (status, page) = owner.get(path).await;
        assert_eq!(status, 200);
        assert!(
            !page.contains("<script>alert"),
            "{path} runs the caller's script"
        );
        assert!(
            !page.contains("<img src=x"),
            "{path} renders the caller's markup"
        );
    }
    let (_, leads) = owner.get("/app/leads").await;
    assert!(
        leads.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{leads}"
    );
    assert!(leads.contains("href=\"tel:+15557770003\""));
    app.stop().await;
}

/// The five booking-rule fields of the settings form, with these values.
fn rules_form<'a>(
    buffer_before: &'a str,
    buffer_after: &'a str,
    min_notice: &'a str,
    interval: &'a str,
    horizon: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("buffer_before_minutes", buffer_before),
        ("buffer_after_minutes", buffer_after),
        ("min_notice_minutes", min_notice),
        ("slot_interval_minutes", interval),
        ("booking_horizon_days", horizon),
    ]
}

/// The booking rules as the operator API reports them: before, after, notice, interval, horizon.
async fn stored_rules(app: &TestApp, clinic: &booking_e2e::Clinic) -> [u64; 5] {
    let (status, t) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{t}");
    [
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "slot_interval_minutes",
        "booking_horizon_days",
    ]
    .map(|k| t[k].as_u64().unwrap_or_else(|| panic!("{k} in {t}")))
}

/// The starts a `check_availability` result offers, as timestamps and as the clinic's local
/// "HH:MM".
fn offered(avail: &serde_json::Value) -> Vec<(jiff::Timestamp, String)> {
    assert_eq!(avail["ok"], json!(true), "{avail}");
    let slots = avail["slots"].as_array().expect("slots");
    assert!(!slots.is_empty(), "{avail}");
    slots
        .iter()
        .map(|s| {
            let start = s["start"].as_str().expect("start");
            (
                start.parse().unwrap_or_else(|e| panic!("{start}: {e}")),
                start[11..16].to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_changes_the_booking_rules_and_the_next_tool_call_follows_them() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 9).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    // The form shows the stored rules: the test clinic books with no notice on a 30-minute grid.
    let (status, page) = owner.get("/app/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"form-rules\""), "{page}");
    assert!(page.contains("Book no sooner than"), "{page}");
    for (name, value) in rules_form("0", "0", "0", "30", "60") {
        let field = format!("name=\"{name}\" value=\"{value}\"");
        assert!(page.contains(&field), "{field} missing");
    }

    // A call in progress asks first, so that the api has the clinic's old rules at hand.
    let call = app.call(&clinic, "+15557770005");
    let asked = jiff::Timestamp::now();
    let before = call
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let first = offered(&before).into_iter().map(|(t, _)| t).min().unwrap();
    assert!(
        first < asked + jiff::SignedDuration::from_mins(60),
        "no notice: the first time is within the hour ({before})"
    );

    let (status, body) = owner
        .post(
            "/app/settings/rules",
            &rules_form("10", "5", "600", "45", "30"),
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = owner.get("/app/settings?saved=1").await;
    assert!(page.contains("Saved."));
    for (name, value) in rules_form("10", "5", "600", "45", "30") {
        let field = format!("name=\"{name}\" value=\"{value}\"");
        assert!(page.contains(&field), "{field} missing after the save");
    }
    assert_eq!(stored_rules(&app, &clinic).await, [10, 5, 600, 45, 30]);

    // The same call's next question, at once: ten hours' notice, starts every 45 minutes from
    // midnight (the test clinic is open all day), 30 days ahead at most.
    let asked = jiff::Timestamp::now();
    let after = call
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    for (start, local) in offered(&after) {
        assert!(
            start >= asked + jiff::SignedDuration::from_mins(600),
            "{start} is sooner than ten hours from now ({after})"
        );
        let (h, m) = local.split_once(':').unwrap();
        let minute_of_day: u32 = h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap();
        assert_eq!(minute_of_day % 45, 0, "{local} is off the 45-minute grid");
    }
    let too_far = jiff::tz::TimeZone::get("America/New_York")
        .unwrap()
        .to_datetime(jiff::Timestamp::now())
        .date()
        .saturating_add(jiff::Span::new().days(40));
    let refused = call
        .tool(
            "check_availability",
            json!({"service": "Checkup", "date": too_far.to_string()}),
        )
        .await;
    assert_eq!(refused["ok"], json!(false), "{refused}");
    assert!(refused.to_string().contains("30 days"), "{refused}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_rules_out_of_range_or_not_numbers_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 10).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let stored = stored_rules(&app, &clinic).await;
    assert_eq!(stored, [0, 0, 0, 30, 60]);

    for (field, value, reason) in [
        (
            "slot_interval_minutes",
            "0",
            "slot interval must be between 5 and 240 minutes",
        ),
        (
            "buffer_before_minutes",
            "999",
            "buffer must be between 0 and 240 minutes",
        ),
        (
            "buffer_after_minutes",
            "241",
            "buffer must be between 0 and 240 minutes",
        ),
        ("booking_horizon_days", "0", "between 1 and 366 days"),
        ("min_notice_minutes", "50000", "at most 30 days"),
        ("min_notice_minutes", "abc", "whole number"),
        ("buffer_after_minutes", "-5", "whole number"),
        ("slot_interval_minutes", "", "whole number"),
        ("booking_horizon_days", "7.5", "whole number"),
    ] {
        // Every other field valid and different from what is stored, so that a partial save
        // would show.
        let mut form = rules_form("15", "15", "240", "20", "14");
        form.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value;
        let (status, body) = owner.post("/app/settings/rules", &form).await;
        assert_eq!(status, 400, "{field}={value:?}: {body}");
        assert!(body.contains("Not saved"), "{field}={value:?}: {body}");
        assert!(
            body.contains(reason),
            "{field}={value:?}: no {reason:?} in {body}"
        );
        // The page shows the stored rules again, not the refused ones.
        assert!(body.contains("name=\"slot_interval_minutes\" value=\"30\""));
        assert_eq!(
            stored_rules(&app, &clinic).await,
            stored,
            "{field}={value:?} changed the rules"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clinics_owner_or_site_cannot_change_the_booking_rules() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 11).await;
    let b = app.create_clinic("Clinic B", 12).await;
    app.create_owner(&a, "owner@a.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&b, "owner@b.example", OWNER_PASSWORD)
        .await;
    let owner_a = app.sign_in("owner@a.example", OWNER_PASSWORD).await;
    let owner_b = app.sign_in("owner@b.example", OWNER_PASSWORD).await;

    // A form field naming clinic B changes A's rules only: the clinic comes from the session.
    let mut form = rules_form("0", "0", "600", "45", "30");
    form.push(("tenant_id", &b.id));
    let (status, body) = owner_a.post("/app/settings/rules", &form).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(stored_rules(&app, &a).await, [0, 0, 600, 45, 30]);
    assert_eq!(stored_rules(&app, &b).await, [0, 0, 0, 30, 60]);

    // A's session with B's form token, B's session from another site, and no session at all.
    let form = rules_form("0", "0", "900", "60", "10");
    let mut with_b_token = form.clone();
    with_b_token.push(("csrf", &owner_b.csrf));
    let (status, _) = owner_a.post("/app/settings/rules", &with_b_token).await;
    assert_eq!(status, 403, "another session's token");
    let resp = owner_b
        .http
        .post(app.url("/app/settings/rules"))
        .header("Cookie", &owner_b.cookie)
        .header("Origin", "https://evil.example")
        .form(&with_b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "another site's form");
    let resp = no_redirects()
        .post(app.url("/app/settings/rules"))
        .header("Origin", &app.base)
        .form(&with_b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "not signed in");
    assert_eq!(resp.headers()["location"], "/app/login");

    assert_eq!(stored_rules(&app, &a).await, [0, 0, 600, 45, 30]);
    assert_eq!(stored_rules(&app, &b).await, [0, 0, 0, 30, 60]);
    let (_, page_b) = owner_b.get("/app/settings").await;
    assert!(page_b.contains("name=\"min_notice_minutes\" value=\"0\""));
    // B's callers are still offered times within the hour.
    let asked = jiff::Timestamp::now();
    let avail = app
        .call(&b, "+15557770006")
        .tool("check_availability", json!({"service": "Checkup"}))
        .await;
    let first = offered(&avail).into_iter().map(|(t, _)| t).min().unwrap();
    assert!(
        first < asked + jiff::SignedDuration::from_mins(60),
        "{avail}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_sms_button_sends_at_most_five_texts_per_clinic_in_ten_minutes() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Clinic A", 13).await;
    let b = app.create_clinic("Clinic B", 14).await;
    app.create_owner(&a, "owner@a.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&b, "owner@b.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("owner@a.example", OWNER_PASSWORD).await;
    let to = a.alert_numbers[0].as_str();
    let refusal =
        "You have sent 5 test texts in the last 10 minutes; wait a few minutes and try again.";

    for i in 1..=5 {
        let (status, body) = owner.post("/app/test-sms", &[("to", to)]).await;
        assert_eq!(status, 200, "test text {i}: {body}");
        assert!(body.contains("Twilio accepted"), "test text {i}: {body}");
    }
    let resp = owner
        .http
        .post(app.url("/app/test-sms"))
        .header("Cookie", &owner.cookie)
        .header("Origin", &app.base)
        .form(&[("to", to), ("csrf", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let body = resp.text().await.unwrap();
    assert!(body.contains(refusal), "{body}");
    assert!(!body.contains("Twilio accepted"), "{body}");
    // Another number changes nothing; from htmx the refusal lands in the box under the button.
    let resp = owner
        .http
        .post(app.url("/app/test-sms"))
        .header("Cookie", &owner.cookie)
        .header("Origin", &app.base)
        .header("HX-Request", "true")
        .form(&[
            ("to", a.alert_numbers[1].as_str()),
            ("csrf", owner.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body = resp.text().await.unwrap();
    assert!(body.contains(refusal), "{body}");
    assert!(!body.contains("<html"), "a fragment for htmx: {body}");

    assert_eq!(app.twilio.messages_to(to).len(), 5);
    assert_eq!(
        app.twilio.messages().len(),
        5,
        "the refused ones never reached Twilio"
    );

    // The limit is per clinic: B's owner can still test.
    let owner_b = app.sign_in("owner@b.example", OWNER_PASSWORD).await;
    let (status, body) = owner_b
        .post("/app/test-sms", &[("to", b.alert_numbers[0].as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Twilio accepted"), "{body}");
    assert_eq!(app.twilio.messages().len(), 6);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_chooses_the_countries_codes_go_to() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 10).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let stored = || async {
        app.db
            .execute(&format!(
                "SELECT 1 FROM tenants WHERE id = '{}' AND otp_allowed_countries = '{{US,CA}}'",
                clinic.id
            ))
            .await
    };
    let (_, page) = owner.get("/app/settings").await;
    assert!(page.contains("the clinic's own, now US"), "{page}");

    let (status, body) = owner
        .post(
            "/app/settings/clinic",
            &[("otp_allowed_countries", "us, CA")],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(stored().await, 1);
    let (_, page) = owner.get("/app/settings").await;
    assert!(
        page.contains("name=\"otp_allowed_countries\" value=\"US, CA\""),
        "{page}"
    );

    let (status, body) = owner
        .post(
            "/app/settings/clinic",
            &[("otp_allowed_countries", "US ZZ")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a country"), "{body}");
    assert_eq!(stored().await, 1, "a refused form changed nothing");

    // Empty: back to the clinic's own country.
    let (status, _) = owner
        .post("/app/settings/clinic", &[("otp_allowed_countries", "")])
        .await;
    assert_eq!(status, 303);
    let (_, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(view["otp_allowed_countries"], json!([]));
    assert_eq!(view["otp_countries_in_effect"], json!(["US"]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_cannot_claim_another_clinics_texting_number() {
    let app = TestApp::spawn().await;
    let victim = app.create_clinic("Victim Dental", 11).await;
    let clinic = app.create_clinic("Smile Dental", 12).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    // "Send from" set to the victim's number: a form error, nothing saved.
    let (status, body) = owner
        .post(
            "/app/settings/twilio",
            &[
                ("twilio_account_sid", clinic.account_sid.as_str()),
                ("twilio_auth_token", ""),
                ("twilio_from", victim.from.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Not saved"), "{body}");
    assert!(
        body.contains("texting number is already used by another clinic"),
        "{body}"
    );
    let (_, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(view["twilio"]["from"], json!(clinic.from));
    // The victim's patients' STOPs still reach the victim.
    let stop = app
        .twilio
        .send_inbound(
            &app.url("/twilio/inbound"),
            &victim.account_sid,
            "+14155550123",
            &victim.from,
            "STOP",
        )
        .await
        .expect("posted");
    assert_eq!(stop.status, 200);

    // An alert number that is a clinic's texting number: a form error, nothing saved.
    for number in [&victim.from, &clinic.from] {
        let (status, body) = owner
            .post(
                "/app/settings/clinic",
                &[
                    ("name", "Smile Dental"),
                    ("timezone", "America/New_York"),
                    ("hot_lead_threshold", "70"),
                    ("alert_numbers", number.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("an alert number cannot be a number clinics text from"),
            "{body}"
        );
    }
    let (_, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    assert_eq!(view["alert_numbers"], json!(clinic.alert_numbers));
    app.stop().await;
}

/// The owner registers the clinic's saved Vapi assistants in Settings; a web call naming one
/// reaches the clinic. Another clinic's assistant id, or another clinic's Vapi phone-number id,
/// cannot be claimed from the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_registers_assistant_ids_but_not_another_clinics_ids() {
    let app = TestApp::spawn().await;
    let a = app.create_clinic("Smile Dental", 11).await;
    let b = app
        .create_clinic_with("Other Clinic", 12, |body| {
            body["vapi_assistant_ids"] = json!(["asst-of-b"]);
        })
        .await;
    app.create_owner(&a, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    let numbers = format!("{} {}", a.called, a.phone_number_id);
    let (status, body) = owner
        .post(
            "/app/settings/numbers",
            &[
                ("called_numbers", numbers.as_str()),
                ("vapi_assistant_ids", "asst-of-a\nasst-of-a-2"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = owner.get("/app/settings").await;
    assert!(page.contains("asst-of-a\nasst-of-a-2"), "{page}");

    // A web call (no number) running A's assistant books at A.
    let body = json!({"message": {"type": "tool-calls",
        "call": {"id": "web-1", "type": "webCall", "assistantId": "asst-of-a-2"},
        "toolCallList": [{"id": "t1", "type": "function",
            "function": {"name": "check_availability", "arguments": "{\"service\":\"Checkup\"}"}}]}});
    let (_, reply) = app.vapi(&body).await;
    assert_eq!(
        booking_e2e::result_of(&reply["results"][0])["ok"],
        json!(true),
        "{reply}"
    );

    // B's assistant id, or B's phone-number id on A's number: refused, nothing saved.
    for (field, value) in [
        ("vapi_assistant_ids", "asst-of-a\nasst-of-b".to_owned()),
        (
            "called_numbers",
            format!("{} {}", a.called, b.phone_number_id),
        ),
    ] {
        let (status, page) = owner
            .post("/app/settings/numbers", &[(field, value.as_str())])
            .await;
        assert_eq!(status, 400, "{field}");
        assert!(page.contains("already used by another clinic"), "{page}");
    }
    let (status, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", a.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        view["vapi_assistant_ids"],
        json!(["asst-of-a", "asst-of-a-2"])
    );
    assert_eq!(
        view["phone_numbers"][0]["vapi_phone_number_id"],
        json!(a.phone_number_id)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_marks_no_shows_and_the_callers_next_call_mentions_them() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 11).await;
    let other = app.create_clinic("Other Clinic", 12).await;
    app.create_owner(&clinic, "nina@smile.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&other, "otto@other.example", OWNER_PASSWORD)
        .await;
    let caller = "+15557770031";
    let call = app.call(&clinic, caller);
    let (appointment, _) = book(&call, "Checkup").await;
    let (status, _) = call
        .end_of_call(json!({"caller_name": "Jane Doe"}), 40)
        .await;
    assert_eq!(status, 200);
    let owner = app.sign_in("nina@smile.example", OWNER_PASSWORD).await;
    let mark = |value: &'static str| {
        let owner = &owner;
        let path = format!("/app/appointments/{appointment}/attendance");
        async move { owner.post(&path, &[("attendance", value)]).await }
    };
    let marks_stored = || async {
        app.db
            .execute(&format!(
                "SELECT 1 FROM booking_attendance WHERE booking_id = '{appointment}'"
            ))
            .await
    };

    // Before its time: no buttons, and a forged post is refused in the owner's words.
    let (_, detail) = owner.get(&format!("/app/appointments/{appointment}")).await;
    assert!(!detail.contains("Did they come?"), "{detail}");
    let (status, page) = mark("no_show").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("once its time has started"), "{page}");
    assert_eq!(marks_stored().await, 0);

    // Its time passes (the api's clock is the real one: the appointment is moved instead).
    let moved = app
        .db
        .execute(&format!(
            "UPDATE bookings SET starts_at = now() - interval '2 hours', \
             ends_at = now() - interval '90 minutes', blocked_from = now() - interval '2 hours', \
             blocked_until = now() - interval '90 minutes' WHERE id = '{appointment}'"
        ))
        .await;
    assert_eq!(moved, 1);
    let (_, detail) = owner.get(&format!("/app/appointments/{appointment}")).await;
    assert!(
        detail.contains("Did they come?") && detail.contains("Now: not marked."),
        "{detail}"
    );

    // Another clinic's owner: 404 and nothing stored.
    let stranger = app.sign_in("otto@other.example", OWNER_PASSWORD).await;
    let (status, _) = stranger
        .post(
            &format!("/app/appointments/{appointment}/attendance"),
            &[("attendance", "no_show")],
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(marks_stored().await, 0);
    // Not a mark: a clear 400.
    let (status, page) = mark("maybe").await;
    assert_eq!(status, 400, "{page}");

    // Attended, then no-show, then cleared, then no-show again.
    let (status, page) = mark("attended").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Marked attended."), "{page}");
    let (_, page) = mark("no_show").await;
    assert!(
        page.contains("Marked no-show.") && page.contains("1 no-show"),
        "{page}"
    );
    let (_, page) = mark("").await;
    assert!(
        page.contains("The mark is cleared.") && !page.contains("1 no-show"),
        "{page}"
    );
    assert_eq!(marks_stored().await, 0);
    let (_, page) = mark("no_show").await;
    assert!(page.contains("Marked no-show."), "{page}");

    // The count shows on the contact's calls and appointments; not to the other clinic.
    let (_, calls) = owner.get("/app/calls").await;
    assert!(calls.contains("1 no-show"), "{calls}");
    let (_, list) = owner.get("/app/appointments").await;
    assert!(
        list.contains("1 no-show") && list.contains("no-show</span>"),
        "{list}"
    );
    let (_, theirs) = stranger.get("/app/calls").await;
    assert!(!theirs.contains("no-show"), "{theirs}");

    // The caller books again: the hot-lead alert and the score mention the no-show, and the
    // score is what it would have been without it.
    let again = app.call(&clinic, caller);
    book(&again, "Checkup").await;
    app.outbox_settled().await;
    let alert = &clinic.alert_numbers[0];
    let before = app.twilio.messages_to(alert).len();
    let (status, report) = again
        .end_of_call(json!({"caller_name": "Jane Doe"}), 40)
        .await;
    assert_eq!(status, 200, "{report}");
    let texts = app.texts_to(alert, before + 1).await;
    let text = &texts.last().expect("an alert").body;
    assert!(
        text.contains("Missed 1 earlier appointment (no-show)."),
        "{text}"
    );
    let (_, detail) = owner.get(&format!("/app/calls/{}", again.id)).await;
    assert!(
        detail.contains("Missed 1 earlier appointment (no-show)"),
        "{detail}"
    );
    let scores = app
        .db
        .execute(&format!(
            "SELECT 1 FROM calls WHERE call_id = '{}' AND score = 85 AND caller_no_shows = 1",
            again.id
        ))
        .await;
    assert_eq!(
        scores, 1,
        "75 for the booking and 10 for calling before; none for the no-show"
    );
    app.stop().await;
}

/// The clinic's providers as the operator API lists them: (id, name, retired).
async fn providers_of(app: &TestApp, clinic: &booking_e2e::Clinic) -> Vec<(String, String, bool)> {
    let (_, t) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    t["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
                p["retired"] == json!(true),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_adds_edits_retires_and_brings_back_providers() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 31).await;
    let other = app.create_clinic("Other Clinic", 32).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let (status, page) = owner.get("/app/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"providers\""), "{page}");
    let first = providers_of(&app, &clinic).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].1, "Smile Dental");

    // Add Dr. Lee: only whitening, own hours on Monday only, at most 3 a day.
    let (status, _) = owner
        .post(
            "/app/providers",
            &[
                ("name", "Dr. Lee"),
                ("services_from", "list"),
                ("service", "Teeth Whitening"),
                ("hours_from", "own"),
                ("hours_mon", "09:00-12:00, 13:00-17:00"),
                ("date_overrides", "2031-12-25 closed vacation"),
                ("max_per_day", "3"),
                ("max_per_week", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, t) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{}", clinic.id),
            None,
        )
        .await;
    let lee = &t["providers"][1];
    assert_eq!(lee["name"], json!("Dr. Lee"));
    assert_eq!(lee["services"], json!(["Teeth Whitening"]));
    assert_eq!(
        lee["weekly_hours"],
        json!({"mon": [["09:00", "12:00"], ["13:00", "17:00"]]})
    );
    assert_eq!(lee["date_overrides"][0]["date"], json!("2031-12-25"));
    assert_eq!(lee["max_per_day"], json!(3));
    assert_eq!(lee["max_per_week"], json!(null));
    let lee_id = lee["id"].as_str().unwrap().to_owned();

    // A refused save says why in the form's words and keeps what was typed.
    let (status, page) = owner
        .post(
            &format!("/app/providers/{lee_id}"),
            &[
                ("name", "Dr. Ann Lee"),
                ("services_from", "every"),
                ("hours_from", "own"),
                ("hours_mon", "25:00-26:00"),
                ("max_per_day", "lots"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("Most appointments a day must be a whole number"),
        "{page}"
    );
    assert!(page.contains("value=\"Dr. Ann Lee\""), "{page}");
    assert!(page.contains("value=\"25:00-26:00\""), "{page}");
    assert!(page.contains("value=\"lots\""), "{page}");
    let (status, page) = owner
        .post(
            &format!("/app/providers/{lee_id}"),
            &[
                ("name", "Dr. Ann Lee"),
                ("hours_from", "own"),
                ("hours_mon", "25:00-26:00"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Hours:"), "{page}");
    let (status, page) = owner
        .post(
            "/app/providers",
            &[("name", "Lee"), ("services_from", "every")],
        )
        .await;
    assert_eq!(status, 400, "a second Lee: {page}");
    assert!(page.contains("used twice"), "{page}");
    assert_eq!(providers_of(&app, &clinic).await.len(), 2, "nothing saved");

    // Rename.
    let (status, _) = owner
        .post(
            &format!("/app/providers/{lee_id}"),
            &[
                ("name", "Dr. Ann Lee"),
                ("services_from", "every"),
                ("hours_from", "clinic"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let now = providers_of(&app, &clinic).await;
    assert_eq!(now[1], (lee_id.clone(), "Dr. Ann Lee".to_owned(), false));

    // Retire the clinic's first provider: listed apart, brought back.
    let first_id = &now[0].0;
    let (status, _) = owner
        .post(&format!("/app/providers/{first_id}/retire"), &[])
        .await;
    assert_eq!(status, 303);
    assert!(providers_of(&app, &clinic).await[0].2, "retired");
    let (_, page) = owner.get("/app/settings").await;
    assert!(page.contains("<h3>Retired</h3>"), "{page}");
    // The last active one cannot be retired.
    let (status, page) = owner
        .post(&format!("/app/providers/{lee_id}/retire"), &[])
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("at least one provider"), "{page}");
    let (status, _) = owner
        .post(&format!("/app/providers/{first_id}/restore"), &[])
        .await;
    assert_eq!(status, 303);
    assert!(!providers_of(&app, &clinic).await[0].2, "back");

    // Another clinic's provider id, in the path or in the appointments filter: 404, and
    // nothing changes on either side.
    let theirs = providers_of(&app, &other).await;
    let their_id = &theirs[0].0;
    for path in [
        format!("/app/providers/{their_id}"),
        format!("/app/providers/{their_id}/retire"),
        format!("/app/providers/{their_id}/restore"),
        "/app/providers/not-an-id".to_owned(),
    ] {
        let (status, _) = owner
            .post(&path, &[("name", "Taken Over"), ("services_from", "every")])
            .await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = owner
        .get(&format!("/app/appointments?provider={their_id}"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(providers_of(&app, &other).await, theirs);
    assert_eq!(providers_of(&app, &clinic).await.len(), 2);
    // Without the CSRF token nothing is saved.
    let (status, _) = owner
        .post(
            "/app/providers",
            &[
                ("csrf", "wrong"),
                ("name", "Sam"),
                ("services_from", "every"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(providers_of(&app, &clinic).await.len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_providers_and_moves_an_appointment_to_another_one_once() {
    let app = TestApp::spawn().await;
    let clinic = app
        .create_clinic_with("Smile Dental", 33, |body| {
            // The first free slot, booked below, is on today's page.
            body["timezone"] = json!(zone_where_it_is_midday());
            body["providers"] = json!([
                {"name": "Dr. Lee"},
                {"name": "Hygienist Maria", "services": ["Checkup"]},
                {"name": "Laser Room", "services": ["Teeth Whitening"]},
            ]);
        })
        .await;
    let other = app.create_clinic("Other Clinic", 34).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let ids = providers_of(&app, &clinic).await;
    let (lee, maria, laser) = (&ids[0].0, &ids[1].0, &ids[2].0);
    let call = app.call(&clinic, "+15557770031");
    let (appointment, _) = book(&call, "Checkup").await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;

    // Today: one column per active provider; the appointment in its provider's column.
    let (_, today) = owner.get("/app").await;
    assert!(today.contains("data-columns=\"3\""), "{today}");
    let mut booked_with = String::new();
    for (id, _, _) in &ids {
        let n = app
            .db
            .execute(&format!(
                "SELECT 1 FROM bookings WHERE id = '{appointment}' AND calendar_id = '{id}'"
            ))
            .await;
        if n == 1 {
            booked_with = id.clone();
        }
    }
    assert!(!booked_with.is_empty(), "booked with one of the providers");
    assert!(
        today.contains(&format!(
            "href=\"/app/appointments/{appointment}\" class=\"booking confirmed\" data-provider=\"{booked_with}\""
        )),
        "{today}"
    );
    let name_of = |id: &str| ids.iter().find(|p| p.0 == id).unwrap().1.clone();
    let (_, list) = owner.get("/app/appointments").await;
    assert!(
        list.contains(&format!("with {}", name_of(&booked_with))),
        "{list}"
    );
    // The filter: only that provider's appointments.
    let (status, mine) = owner
        .get(&format!("/app/appointments?provider={booked_with}"))
        .await;
    assert_eq!(status, 200);
    assert!(mine.contains(&appointment));
    let elsewhere = if booked_with == *lee { maria } else { lee };
    let (_, theirs) = owner
        .get(&format!("/app/appointments?provider={elsewhere}"))
        .await;
    assert!(!theirs.contains(&appointment), "{theirs}");

    // The reschedule form offers who performs a checkup (not the laser room).
    let (_, detail) = owner.get(&format!("/app/appointments/{appointment}")).await;
    assert!(!detail.contains(&format!("value=\"{laser}\"")), "{detail}");
    let marker = "name=\"new_start\" required value=\"";
    let i = detail.find(marker).expect("reschedule form") + marker.len();
    let start = detail[i..i + 16].to_owned();
    let (_, checked) = owner
        .get(&format!(
            "/app/appointments/{appointment}?new_start={start}&check=1"
        ))
        .await;
    assert!(
        checked.contains(&format!("value=\"{elsewhere}\"")),
        "{checked}"
    );

    // Another clinic's provider, or the laser room (no checkups): nothing moves.
    let their_provider = providers_of(&app, &other).await[0].0.clone();
    let (status, _) = owner
        .post(
            &format!("/app/appointments/{appointment}/reschedule"),
            &[("new_start", &start), ("provider", &their_provider)],
        )
        .await;
    assert_eq!(status, 404);
    let (status, page) = owner
        .post(
            &format!("/app/appointments/{appointment}/reschedule"),
            &[("new_start", &start), ("provider", laser)],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("does not take Checkup"), "{page}");

    // Two submits of the same move at once: one moves it, the other finds it moved.
    let path = format!("/app/appointments/{appointment}/reschedule");
    let fields = [
        ("new_start", start.as_str()),
        ("provider", elsewhere.as_str()),
    ];
    let (a, b) = tokio::join!(owner.post(&path, &fields), owner.post(&path, &fields));
    let moved = [&a, &b]
        .iter()
        .filter(|(_, page)| page.contains("moved to"))
        .count();
    assert_eq!(moved, 1, "{} / {}", a.1, b.1);
    let rows = app
        .db
        .execute(&format!(
            "SELECT 1 FROM bookings WHERE status = 'confirmed' AND calendar_id = '{elsewhere}' \
             AND rescheduled_from = '{appointment}'"
        ))
        .await;
    assert_eq!(rows, 1, "one appointment, with the new provider");
    let old = app
        .db
        .execute(&format!(
            "SELECT 1 FROM bookings WHERE id = '{appointment}' AND status = 'cancelled'"
        ))
        .await;
    assert_eq!(old, 1);
    let (_, today) = owner.get("/app").await;
    assert!(
        today.contains(&format!(
            "class=\"booking confirmed\" data-provider=\"{elsewhere}\""
        )),
        "{today}"
    );
    app.stop().await;
}

/// The row of the Reports page for the week of `monday`, cell by figure.
fn report_row(html: &str, monday: &str) -> std::collections::HashMap<String, String> {
    let start = html
        .find(&format!("<tr data-week=\"{monday}\">"))
        .unwrap_or_else(|| panic!("no row for the week of {monday}: {html}"));
    let row = &html[start..start + html[start..].find("</tr>").expect("row end")];
    row.split("<td data-figure=\"")
        .skip(1)
        .map(|cell| {
            let (figure, rest) = cell.split_once("\">").expect("cell");
            let value = rest.split_once("</td>").expect("cell end").0;
            (figure.to_owned(), value.to_owned())
        })
        .collect()
}

fn this_monday() -> String {
    let zone = booking_core::tenant::ClinicZone::parse("America/New_York").unwrap();
    let weeks = booking_core::reports::ReportWeeks::ending_at(jiff::Timestamp::now(), &zone, 1);
    weeks.mondays()[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_page_counts_this_clinics_week_and_no_other() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 61).await;
    let other = app.create_clinic("Other Clinic", 62).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&other, "olga@other.example", OWNER_PASSWORD)
        .await;

    // This clinic: a call that books and is hot, and one that only asks.
    let booked = app.call(&clinic, "+15557770001");
    let (appointment, _) = book(&booked, "Checkup").await;
    let (status, _) = booked
        .end_of_call(
            json!({"caller_name": "Jane", "service_interest": "Teeth Whitening", "wants_callback": true}),
            240,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(&clinic, "+15557770002")
        .end_of_call(json!({}), 20)
        .await;
    assert_eq!(status, 200);
    // The other clinic: three calls, one of them booking.
    let theirs = app.call(&other, "+15557770003");
    book(&theirs, "Checkup").await;
    theirs.end_of_call(json!({}), 30).await;
    for caller in ["+15557770004", "+15557770005"] {
        app.call(&other, caller).end_of_call(json!({}), 20).await;
    }
    app.outbox_settled().await;

    // The appointment was this morning and the patient did not come; of its texts, the
    // confirmation was delivered and the code failed (as Twilio's callbacks would say).
    let tenant = &clinic.id;
    app.db
        .execute(&format!(
            "UPDATE bookings SET starts_at = now() - interval '2 minutes', \
               ends_at = now() - interval '1 minute', blocked_from = now() - interval '2 minutes', \
               blocked_until = now() - interval '1 minute' \
             WHERE tenant_id = '{tenant}' AND id = '{appointment}'"
        ))
        .await;
    let owner = app.sign_in("ann@smile.example", OWNER_PASSWORD).await;
    let (status, _) = owner
        .post(
            &format!("/app/appointments/{appointment}/attendance"),
            &[("attendance", "no_show")],
        )
        .await;
    assert!(status < 400, "the no-show mark: {status}");
    for (kind, status) in [("confirmation", "delivered"), ("otp", "failed")] {
        let n = app
            .db
            .execute(&format!(
                "UPDATE outbound_messages SET status = '{status}' \
                 WHERE tenant_id = '{tenant}' AND kind = '{kind}'"
            ))
            .await;
        assert_eq!(n, 1, "one {kind} text");
    }

    let (status, html) = owner.get("/app/reports").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<a href=\"/app/reports\" aria-current=\"page\">Reports</a>"));
    assert_eq!(html.matches("<tr data-week=").count(), 12, "twelve weeks");
    let monday = this_monday();
    let row = report_row(&html, &monday);
    let want = [
        ("calls", "2"),
        ("booked", "1"),
        ("conversion", "50%"),
        ("hot-leads", "1"),
        ("refilled", "0"),
        ("no-shows", "1"),
        ("delivered", "1"),
        ("failed", "1"),
    ];
    for (figure, value) in want {
        assert_eq!(
            row.get(figure).map(String::as_str),
            Some(value),
            "{figure} this week: {row:?}"
        );
    }
    // The charts show the same week's numbers, drawn on the page (no script).
    assert!(
        html.contains("aria-label=\"Calls answered: 2 over the last 12 weeks, 2 this week\""),
        "{html}"
    );
    assert!(!html.contains("<script>"));

    // The other clinic's owner sees its own numbers only.
    let olga = app.sign_in("olga@other.example", OWNER_PASSWORD).await;
    let (_, theirs) = olga.get("/app/reports").await;
    let row = report_row(&theirs, &monday);
    assert_eq!(row["calls"], "3", "{row:?}");
    assert_eq!(row["booked"], "1", "{row:?}");
    assert_eq!(row["conversion"], "33%", "{row:?}");
    assert_eq!(row["no-shows"], "0", "{row:?}");
    assert_eq!(row["delivered"], "0", "{row:?}");

    // Signed out: to the sign-in page.
    let resp = no_redirects()
        .get(app.url("/app/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}
