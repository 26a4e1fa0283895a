//! Two api instances over one database, requests split between them as a load balancer splits
//! them: every limit holds for the pair exactly as for one instance.

use booking_e2e::{OWNER_PASSWORD, OwnerSession, TestApp, csrf_in, no_redirects, set_cookies};

/// Posts `to` to the test-SMS button through `session` (whose `base` names the instance); the
/// status.
async fn test_text(session: &OwnerSession, to: &str) -> u16 {
    session.post("/app/test-sms", &[("to", to)]).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_test_texts_split_across_two_instances_send_five() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let a = app.create_clinic("Clinic A", 71).await;
    let b = app.create_clinic("Clinic B", 72).await;
    app.create_owner(&a, "owner@a.example", OWNER_PASSWORD)
        .await;
    app.create_owner(&b, "owner@b.example", OWNER_PASSWORD)
        .await;
    let on_first = app.sign_in("owner@a.example", OWNER_PASSWORD).await;
    // The same session through the other instance (sessions live in the database).
    let on_second = OwnerSession {
        base: other.base.clone(),
        ..on_first.clone()
    };
    let to = a.alert_numbers[0].as_str();

    let statuses = futures_util::future::join_all((0..20).map(|i| {
        let session = if i % 2 == 0 { &on_first } else { &on_second };
        test_text(session, to)
    }))
    .await;
    let sent = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (sent, refused),
        (5, 15),
        "five test texts for the clinic, whichever instance: {statuses:?}"
    );
    app.texts_to(to, 5).await;
    assert_eq!(
        app.twilio.messages_to(to).len(),
        5,
        "the refused ones never reached Twilio"
    );
    // Another clinic's owner still has their own five, through either instance.
    let owner_b = app.sign_in("owner@b.example", OWNER_PASSWORD).await;
    let owner_b_second = OwnerSession {
        base: other.base.clone(),
        ..owner_b.clone()
    };
    assert_eq!(
        test_text(&owner_b_second, b.alert_numbers[0].as_str()).await,
        200
    );
    assert_eq!(test_text(&on_second, to).await, 429);
    other.stop().await;
    app.stop().await;
}

/// The sign-in form's CSRF pair at one instance.
async fn login_form(base: &str) -> (reqwest::Client, String, String) {
    let http = no_redirects();
    let form = http
        .get(format!("{base}/app/login"))
        .send()
        .await
        .expect("form");
    let cookie = set_cookies(&form)[0].0.clone();
    let token = csrf_in(&form.text().await.expect("body")).expect("csrf");
    (http, cookie, token)
}

async fn sign_in_at(base: &str, email: &str, password: &str) -> u16 {
    let (http, cookie, token) = login_form(base).await;
    http.post(format!("{base}/app/login"))
        .header("Cookie", &cookie)
        .header("Origin", base)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_passwords_split_across_two_instances_get_five_checks() {
    // Enough checkers that no attempt waits long enough to be turned away busy (503): every
    // attempt is counted, so the counts below are exact.
    let checkers = |env: &mut std::collections::HashMap<String, String>| {
        env.insert("SIGN_IN_CONCURRENCY".into(), "10".into());
    };
    let app = TestApp::spawn_with(checkers).await;
    let other = app.another_instance_with(checkers).await;
    let clinic = app.create_clinic("Smile Dental", 73).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let bases = [app.base.clone(), other.base.clone()];

    let statuses = futures_util::future::join_all(
        (0..20).map(|i| sign_in_at(&bases[i % 2], "ann@smile.example", "not the password")),
    )
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, throttled),
        (5, 15),
        "five checks for the account from this address, whichever instance: {statuses:?}"
    );
    // The right password is refused now at either instance.
    for base in &bases {
        assert_eq!(
            sign_in_at(base, "ann@smile.example", OWNER_PASSWORD).await,
            429
        );
    }
    other.stop().await;
    app.stop().await;
}
