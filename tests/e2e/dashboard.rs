//! The owner's dashboard over HTTP: accounts made by the operator, sign-in and its throttle,
//! cookies and headers, CSRF and Origin refusals, another clinic's rows answering 404, and the
//! buttons that text callers.

use booking_e2e::{OWNER_PASSWORD, TestApp, book, csrf_in, no_redirects, set_cookies};
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
