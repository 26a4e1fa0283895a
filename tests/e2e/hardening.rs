//! Hardening, round two: sign-in floods and strangers' guesses, the operator API's token checked
//! before its body, tool calls past the limit of one message, and the replay log keyed by call
//! and tool.

use std::sync::Arc;

use booking_e2e::{OWNER_PASSWORD, TestApp, csrf_in, no_redirects, set_cookies};
use serde_json::{Value, json};
use test_support::{CallCtx, ToolAnswer};

/// One sign-in form's CSRF pair, reused for many posts (the pair is not single-use).
struct LoginForm {
    http: reqwest::Client,
    cookie: String,
    token: String,
}

async fn login_form(app: &TestApp) -> LoginForm {
    let http = no_redirects();
    let form = http.get(app.url("/app/login")).send().await.expect("form");
    let cookie = set_cookies(&form)[0].0.clone();
    let token = csrf_in(&form.text().await.expect("body")).expect("csrf");
    LoginForm {
        http,
        cookie,
        token,
    }
}

/// Posts the sign-in form as a browser behind the proxy at `from` would; the status.
async fn sign_in_from(
    app: &TestApp,
    form: &LoginForm,
    from: &str,
    email: &str,
    password: &str,
) -> u16 {
    form.http
        .post(app.url("/app/login"))
        .header("Cookie", &form.cookie)
        .header("Origin", &app.base)
        .header("X-Forwarded-For", from)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", form.token.as_str()),
        ])
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

/// Statuses of `n` sign-ins sent at once.
async fn flood(
    app: &Arc<TestApp>,
    form: &Arc<LoginForm>,
    n: usize,
    from: &str,
    email: impl Fn(usize) -> String,
) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (app, form, from, email) = (app.clone(), form.clone(), from.to_owned(), email(i));
            tokio::spawn(async move {
                sign_in_from(&app, &form, &from, &email, "not the password").await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_gets_five_checks_and_the_owner_still_signs_in() {
    let app = Arc::new(
        TestApp::spawn_with(|env| {
            env.insert("TRUSTED_PROXY_HOPS".into(), "1".into());
        })
        .await,
    );
    let clinic = app.create_clinic("Smile Dental", 61).await;
    app.create_owner(&clinic, "ann@smile.example", OWNER_PASSWORD)
        .await;
    let form = Arc::new(login_form(&app).await);

    // A stranger sends 50 wrong passwords for the owner's email at once.
    let statuses = flood(&app, &form, 50, "198.51.100.7", |_| {
        "ann@smile.example".into()
    })
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(
        checked + throttled + busy,
        50,
        "only 401, 429 or 503: {statuses:?}"
    );
    assert!(
        checked <= 5,
        "{checked} passwords were checked for one account from one address: {statuses:?}"
    );
    assert!(throttled >= 45 - busy, "{statuses:?}");
    // Even the right password is refused from the stranger's address now…
    assert_eq!(
        sign_in_from(
            &app,
            &form,
            "198.51.100.7",
            "ann@smile.example",
            OWNER_PASSWORD
        )
        .await,
        429
    );
    // …but the owner, from their own address, is not locked out.
    assert_eq!(
        sign_in_from(
            &app,
            &form,
            "203.0.113.20",
            "ann@smile.example",
            OWNER_PASSWORD
        )
        .await,
        303,
        "the owner was locked out by a stranger"
    );

    // One address trying many accounts at once gets at most 20 checks in all.
    let statuses = flood(&app, &form, 40, "198.51.100.8", |i| {
        format!("nobody{i}@example.com")
    })
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        checked <= 20,
        "{checked} checks from one address: {statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_refuses_a_missing_token_before_reading_the_body() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 62).await;
    let cases = [
        (reqwest::Method::POST, "/admin/tenants".to_owned()),
        (
            reqwest::Method::PATCH,
            format!("/admin/tenants/{}", clinic.id),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/tenants/{}/owners", clinic.id),
        ),
    ];
    for (method, path) in cases {
        for token in [None, Some("wrong-token-0123456789")] {
            for body in ["{}", "{\"name\": 5}", "not json"] {
                let mut req = app
                    .http
                    .request(method.clone(), app.url(&path))
                    .header("Content-Type", "application/json")
                    .body(body);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let text = resp.text().await.expect("body");
                assert_eq!(status, 401, "{method} {path} {body}: {text}");
                for leak in ["details", "field", "timezone", "email", "password", "JSON"] {
                    assert!(
                        !text.contains(leak),
                        "{method} {path}: the refusal tells {leak:?}: {text}"
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_call_of_a_message_is_answered_past_the_limit_too() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 63).await;
    let call = app.call(&clinic, "+14155550163");
    let calls: Vec<(String, &str, Value)> = (0..40)
        .map(|i| {
            (
                format!("call_many_{i}"),
                "check_availability",
                json!({"service": "Checkup"}),
            )
        })
        .collect();
    let (status, reply) = app.vapi(&call.tool_calls_body(&calls)).await;
    assert_eq!(status, 200, "{reply}");
    let results = reply["results"].as_array().expect("results");
    assert_eq!(results.len(), 40, "every call answered: {reply}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["toolCallId"], json!(format!("call_many_{i}")), "in order");
        match ToolAnswer::from_entry(r) {
            ToolAnswer::Result(v) => assert!(i < 32, "{i} was run: {v}"),
            ToolAnswer::Error(e) => {
                assert!(i >= 32, "{i}: {e}");
                assert!(e.contains("not run"), "{e}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_id_reused_by_another_call_or_tool_is_run_not_replayed() {
    let app = TestApp::spawn().await;
    let clinic = app.create_clinic("Smile Dental", 64).await;
    let today = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date();
    let day = |n: i64| today.checked_add(jiff::Span::new().days(n)).unwrap();
    let first_call = CallCtx::new(&clinic, "+14155550164");
    let answer = |a: ToolAnswer| a.result();
    let first = answer(
        app.tool_with_id(
            &first_call,
            "shared_id",
            "check_availability",
            json!({"service": "Checkup", "date": day(3).to_string()}),
        )
        .await,
    );
    assert_eq!(first["ok"], json!(true), "{first}");

    // The same call replaying it gets the same answer, even if the arguments changed.
    let replay = answer(
        app.tool_with_id(
            &first_call,
            "shared_id",
            "check_availability",
            json!({"service": "Checkup", "date": day(5).to_string()}),
        )
        .await,
    );
    assert_eq!(replay, first);

    // Another call of the same clinic reusing the id gets its own answer.
    let second_call = CallCtx::new(&clinic, "+14155550165");
    let other = answer(
        app.tool_with_id(
            &second_call,
            "shared_id",
            "check_availability",
            json!({"service": "Checkup", "date": day(5).to_string()}),
        )
        .await,
    );
    assert_eq!(other["ok"], json!(true), "{other}");
    assert_ne!(
        other, first,
        "another call got the first call's answer: {other}"
    );

    // The same id naming another tool in the first call is that tool's call.
    let lead = answer(
        app.tool_with_id(
            &first_call,
            "shared_id",
            "capture_lead",
            json!({"caller_name": "Jane Doe", "service_interest": "whitening"}),
        )
        .await,
    );
    assert_ne!(lead, first, "another tool got the first tool's answer");
    assert!(lead.get("slots").is_none(), "{lead}");
}
