//! Secrets stay secret: no credential in plaintext anywhere in the database, and no secret, no
//! one-time code, no whole phone number and no transcript in any log line of a whole call played
//! against the api binary with debug logging, as text and as JSON.

mod common;

use std::time::{Duration, Instant};

use booking_postgres::testing::TestDb;
use common::{ApiProcess, rows, short_outbox_timings, wait_ready};
use fake_twilio::FakeTwilio;
use serde_json::{Value, json};
use test_support::{ADMIN_TOKEN, Api, CallCtx, Clinic, VAPI_SECRET, api_env, code_texted_to};

const AUTH_TOKEN: &str = "auth-token-never-in-logs-5f2a";
const NEW_AUTH_TOKEN: &str = "rotated-auth-token-never-logged-77c1";
const KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
const KEY_SECRET: &str = "api-key-secret-never-in-logs-91d3";
const DB_PASSWORD: &str = "db-password-never-in-logs-0e4b";
const CALLER: &str = "+14155550123";
const OTHER_MOBILE: &str = "+447700900123";
const TRANSCRIPT_MARKER: &str = "my-date-of-birth-is-the-fourth-of-july";

async fn tool(api: &Api, call: &CallCtx, name: &str, args: Value) -> Value {
    api.tool(call, name, args).await.result()
}

/// Whether `needle` appears in `log` as a token of its own (not inside a longer run of digits or
/// letters, nor as the fraction of a timestamp).
fn appears_alone(log: &str, needle: &str) -> bool {
    log.match_indices(needle).any(|(i, _)| {
        let before = log[..i].chars().next_back();
        let after = log[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Plays a whole call against the api binary with `RUST_LOG=debug` and the given log format;
/// returns its stderr, the OTP codes texted and every phone number involved.
async fn logged_call(log_format: &str) -> (String, Vec<String>, Vec<String>, String) {
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start();
    twilio.auto_deliver(true);
    let base = format!("http://127.0.0.1:{}", common::free_port());
    // The same database, reached with a password (the test server trusts local connections and
    // ignores it): the URL must not reach a log either.
    let (url, db_password) = with_password(db.url());
    let master_key = db.master_key().export();
    let mut env = short_outbox_timings(api_env(&url, &master_key, &twilio, &base));
    env.insert("RUST_LOG".into(), "debug".into());
    env.insert("LOG_FORMAT".into(), log_format.into());
    let log = std::env::temp_dir().join(format!(
        "api-secrets-{log_format}-{}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let mut process = ApiProcess::spawn(&env, &log);
    let api = Api::new(base.clone(), common::client());
    wait_ready(&api.http, &base, Duration::from_secs(60)).await;

    // The operator creates the clinic with an API key, then changes its auth token.
    let account_sid = "AC0123456789abcdef0123456789abcd01";
    let called = "+19254207621";
    let from = "+15550002222";
    let alerts = ["+15550001111", "+15550003333"];
    let phone_number_id = uuid::Uuid::new_v4().to_string();
    let all_day = json!([["00:00", "24:00"]]);
    let (status, created) = api
        .admin(
            reqwest::Method::POST,
            "/admin/tenants",
            Some(json!({
                "name": "Smile Dental", "timezone": "America/New_York",
                "phone_numbers": [{"number": called, "vapi_phone_number_id": phone_number_id}],
                "alert_numbers": alerts,
                "twilio": {"account_sid": account_sid, "auth_token": AUTH_TOKEN,
                           "api_key_sid": KEY_SID, "api_key_secret": KEY_SECRET, "from": from},
                "services": [{"name": "Checkup", "duration_minutes": 30}],
                "weekly_hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                                 "fri": all_day, "sat": all_day, "sun": all_day},
                "min_notice_minutes": 0,
                // The second code goes to a British mobile.
                "otp_allowed_countries": ["US", "GB"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    twilio.register_account(account_sid, AUTH_TOKEN);
    twilio.register_api_key(account_sid, KEY_SID, KEY_SECRET);
    let clinic_id = created["id"].as_str().unwrap().to_owned();
    // Requests with wrong credentials are refused, and what they carried is not logged.
    let resp = api
        .http
        .get(api.url("/admin/tenants"))
        .bearer_auth("wrong-admin-token-aaaa1111bbbb")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // The call: assistant-request (its payload echoes secrets), the booking, a code to another
    // mobile, a wrong code, the right one, the confirmation, the end-of-call report.
    let clinic = Clinic {
        id: clinic_id.clone(),
        name: "Smile Dental".into(),
        called: called.into(),
        phone_number_id,
        account_sid: account_sid.into(),
        auth_token: AUTH_TOKEN.into(),
        from: from.into(),
        alert_numbers: alerts.iter().map(|s| s.to_string()).collect(),
    };
    let call = CallCtx::new(&clinic, CALLER);
    let mut ar = call.assistant_request_body();
    ar["message"]["phoneNumber"]["twilioAuthToken"] = json!(AUTH_TOKEN);
    ar["message"]["phoneNumber"]["serverUrlSecret"] = json!(VAPI_SECRET);
    let (status, reply) = api.vapi(&ar).await;
    assert_eq!(status, 200);
    assert!(reply["assistant"].is_object(), "{reply}");
    let resp = api
        .http
        .post(api.url("/vapi/webhook"))
        .header("X-Vapi-Secret", "wrong-vapi-secret-cccc2222")
        .json(&ar)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let avail = tool(
        &api,
        &call,
        "check_availability",
        json!({"service": "Checkup"}),
    )
    .await;
    let start = avail["slots"][0]["start"].as_str().unwrap().to_owned();
    let held = tool(
        &api,
        &call,
        "reserve_slot",
        json!({"start": start, "service": "Checkup", "caller_name": "Jane Doe"}),
    )
    .await;
    let hold = held["hold_id"].as_str().unwrap().to_owned();
    let mut codes = Vec::new();
    for phone in [None, Some(OTHER_MOBILE)] {
        let mut args = json!({"hold_id": hold});
        if let Some(p) = phone {
            args["phone"] = json!(p);
        }
        let sent = tool(&api, &call, "send_otp", args).await;
        assert_eq!(sent["ok"], json!(true), "{sent}");
        let to = phone.unwrap_or(CALLER);
        codes.push(code_texted_to(&twilio, to, 0, Duration::from_secs(15)).await);
    }
    let code = codes.last().unwrap().clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = tool(
        &api,
        &call,
        "verify_otp",
        json!({"hold_id": hold, "code": wrong}),
    )
    .await;
    assert_eq!(r["ok"], json!(false));
    let verified = tool(
        &api,
        &call,
        "verify_otp",
        json!({"hold_id": hold, "code": code}),
    )
    .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    tool(
        &api,
        &call,
        "send_confirmation_sms",
        json!({"appointment_id": verified["appointment_id"]}),
    )
    .await;
    let mut report = call.end_of_call_body(
        json!({"caller_name": "Jane Doe", "service_interest": "Checkup", "wants_callback": true}),
        240,
    );
    report["message"]["artifact"]["transcript"] = json!(format!("User: {TRANSCRIPT_MARKER}"));
    report["message"]["transcript"] = json!(format!("User: {TRANSCRIPT_MARKER}"));
    report["message"]["analysis"]["summary"] = json!(TRANSCRIPT_MARKER);
    let (status, _) = api.vapi(&report).await;
    assert_eq!(status, 200);

    // The caller texts the clinic back, and Twilio reports deliveries (signed callbacks).
    let inbound = format!("{base}/twilio/inbound");
    for text in [
        "HELP",
        "Can I bring my daughter? Her number is +14155550188",
    ] {
        let reply = twilio
            .send_inbound(&inbound, account_sid, CALLER, from, text)
            .await
            .expect("inbound posted");
        assert_eq!(reply.status, 200);
    }
    common::outbox_settled(&url, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while twilio.callbacks().len() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        twilio.callbacks().len() >= 4,
        "status callbacks were posted"
    );

    // The operator rotates the clinic's auth token.
    let (status, body) = api
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/tenants/{clinic_id}"),
            Some(json!({"twilio": {"account_sid": account_sid, "auth_token": NEW_AUTH_TOKEN,
                                  "api_key_sid": KEY_SID, "api_key_secret": KEY_SECRET, "from": from}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, got) = api
        .admin(
            reqwest::Method::GET,
            &format!("/admin/tenants/{clinic_id}"),
            None,
        )
        .await;
    for s in [AUTH_TOKEN, NEW_AUTH_TOKEN, KEY_SECRET] {
        assert!(
            !got.to_string().contains(s),
            "the operator API returned a secret"
        );
    }

    // Every table, every row, as text: no credential in the clear, nor hex- or base64-encoded.
    let tables = rows(
        &url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    assert!(tables.len() >= 10, "{tables:?}");
    for t in &tables {
        let name = t["tablename"].as_str().unwrap();
        let dump = rows(
            &url,
            &format!("SELECT t::text AS r, encode(convert_to(t::text, 'UTF8'), 'escape') AS e FROM \"{name}\" t"),
        )
        .await;
        let text = serde_json::to_string(&dump).unwrap();
        for secret in [AUTH_TOKEN, NEW_AUTH_TOKEN, KEY_SECRET] {
            for form in [
                secret.to_owned(),
                hex(secret.as_bytes()),
                base64(secret.as_bytes()),
            ] {
                assert!(
                    !text.contains(&form),
                    "{name} holds a Twilio credential in the clear"
                );
            }
        }
        for code in &codes {
            assert!(
                !appears_alone(&text, code),
                "{name} holds a one-time code in the clear"
            );
        }
    }

    process.terminate();
    let text = std::fs::read_to_string(&log).expect("the api's log");
    let _ = std::fs::remove_file(&log);
    let mut numbers: Vec<String> = [CALLER, OTHER_MOBILE, called, from, "+14155550188"]
        .iter()
        .chain(alerts.iter())
        .map(|s| s.to_string())
        .collect();
    numbers.sort();
    let secrets = vec![
        AUTH_TOKEN.to_owned(),
        NEW_AUTH_TOKEN.to_owned(),
        KEY_SECRET.to_owned(),
        VAPI_SECRET.to_owned(),
        ADMIN_TOKEN.to_owned(),
        master_key.clone(),
        master_key
            .rsplit(':')
            .next()
            .unwrap_or(&master_key)
            .to_owned(),
        db_password,
        "wrong-admin-token-aaaa1111bbbb".to_owned(),
        "wrong-vapi-secret-cccc2222".to_owned(),
        "do-not-log-me".to_owned(),
    ];
    (text, codes, numbers, secrets.join("\n"))
}

/// The database URL with a password in it (one it already has, or ours added) and the password.
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').unwrap_or(("postgres", rest));
    match userinfo.split_once(':') {
        Some((_, password)) => (url.to_owned(), password.to_owned()),
        None => (
            format!("{scheme}://{userinfo}:{DB_PASSWORD}@{host}"),
            DB_PASSWORD.to_owned(),
        ),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Every leak in `log`: a secret, a whole number (with or without the +, so URL-encoded too),
/// a one-time code standing alone, the transcript.
fn leaks(log: &str, codes: &[String], numbers: &[String], secrets: &str) -> Vec<String> {
    let lines_with = |needle: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(needle))
            .take(3)
            .map(str::to_owned)
            .collect()
    };
    let mut found = Vec::new();
    for s in secrets.lines() {
        found.extend(lines_with(s).into_iter().map(|l| format!("a secret: {l}")));
    }
    for n in numbers {
        for form in [n.as_str(), &n[1..]] {
            found.extend(lines_with(form).into_iter().map(|l| format!("{n}: {l}")));
        }
    }
    for c in codes {
        if appears_alone(log, c) {
            found.extend(lines_with(c).into_iter().map(|l| format!("code {c}: {l}")));
        }
    }
    found.extend(
        lines_with(TRANSCRIPT_MARKER)
            .into_iter()
            .map(|l| format!("the transcript: {l}")),
    );
    found
}

fn scan(format: &str, log: &str, codes: &[String], numbers: &[String], secrets: &str) {
    let lines = log.lines().count();
    assert!(
        lines > 50,
        "the {format} log is too short to mean anything: {lines} lines"
    );
    assert!(
        log.contains("tool call") && log.contains("+*******0123"),
        "the {format} log has the call, with numbers masked"
    );
    if format == "json" {
        for l in log.lines().filter(|l| l.starts_with('{')) {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        }
    }
    let found = leaks(log, codes, numbers, secrets);
    assert!(found.is_empty(), "the {format} log leaks: {found:#?}");
    eprintln!("{format}: {lines} log lines scanned, nothing found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_call_logs_no_secret_code_or_number_as_text() {
    let (log, codes, numbers, secrets) = logged_call("text").await;
    scan("text", &log, &codes, &numbers, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_call_logs_no_secret_code_or_number_as_json() {
    let (log, codes, numbers, secrets) = logged_call("json").await;
    scan("json", &log, &codes, &numbers, &secrets);
}

/// The scan itself finds each kind of leak (a scan that cannot fail proves nothing).
#[test]
fn the_scan_finds_each_kind_of_leak() {
    let mut clean = String::new();
    for i in 0..60 {
        clean.push_str(&format!(
            "2026-11-24T05:09:12.{i:06}Z INFO request_id=ab12 tool call to=+*******0123 elapsed_ms=5.{i}\n"
        ));
    }
    let codes = vec!["482913".to_owned()];
    let numbers = vec![CALLER.to_owned()];
    let secrets = format!("{AUTH_TOKEN}\n{VAPI_SECRET}");
    scan("text", &clean, &codes, &numbers, &secrets);
    for leak in [
        format!("INFO sent to {CALLER}"),
        "INFO form To=%2B14155550123".to_owned(),
        format!("DEBUG header x-vapi-secret: {VAPI_SECRET}"),
        format!("DEBUG credentials {AUTH_TOKEN}"),
        "INFO body=\"Your code is 482913\"".to_owned(),
        format!("INFO transcript {TRANSCRIPT_MARKER}"),
    ] {
        let log = format!("{clean}{leak}\n");
        assert!(
            !leaks(&log, &codes, &numbers, &secrets).is_empty(),
            "the scan missed: {leak}"
        );
    }
}
