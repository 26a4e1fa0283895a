//! The api binary started with a master key that cannot open the stored credentials: it refuses
//! to start and names the key, instead of reporting ready and claiming texts it can never send.
//! A server that loses a key while it runs (another instance rotated the rows away from it)
//! reports not ready and never claims those clinics' texts; a server with the key sends them.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use booking_postgres::MasterKey;
use booking_postgres::testing::TestDb;
use common::{ApiProcess, free_port, rows, short_outbox_timings, wait_ready};
use fake_twilio::FakeTwilio;
use serde_json::json;
use test_support::{Api, CallCtx, Clinic, api_env, texts_to};

fn log_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("api-master-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("log dir");
    dir.join(name)
}

fn env_for(
    db: &TestDb,
    twilio: &FakeTwilio,
    key: &MasterKey,
    previous: Option<&MasterKey>,
) -> (HashMap<String, String>, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut env = short_outbox_timings(api_env(db.url(), &key.export(), twilio, &base));
    if let Some(p) = previous {
        env.insert("MASTER_KEY_PREVIOUS".into(), p.export());
    }
    (env, base)
}

/// Waits for the process to exit on its own; its log.
fn exits_with_log(p: &mut ApiProcess, within: Duration) -> String {
    let deadline = Instant::now() + within;
    while !p.exited() {
        assert!(
            Instant::now() < deadline,
            "the api kept running with a wrong master key"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&p.log).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_key_cannot_open_the_credentials_refuses_to_start_naming_it() {
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start();
    let http = common::client();
    let a = MasterKey::generate();

    let (env, base) = env_for(&db, &twilio, &a, None);
    let mut first = ApiProcess::spawn(&env, &log_file("a.log"));
    wait_ready(&http, &base, Duration::from_secs(60)).await;
    Api::new(&base, http.clone())
        .create_clinic(&twilio, "Smile Dental", 71)
        .await;
    first.terminate();

    // Another key: the credentials are under A, which it does not have.
    let b = MasterKey::generate();
    let (env, _) = env_for(&db, &twilio, &b, None);
    let mut second = ApiProcess::spawn(&env, &log_file("b.log"));
    let log = exits_with_log(&mut second, Duration::from_secs(60));
    assert!(log.contains("refusing to start"), "{log}");
    assert!(
        log.contains(a.id()),
        "the key the rows need is named: {log}"
    );
    assert!(log.contains(b.id()), "the key it has is named: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "a log written to a file has no terminal colours: {log}"
    );

    // A key with A's id but other bytes: told apart too.
    let impostor = MasterKey::from_bytes(a.id(), [9; 32]).expect("key");
    let (env, _) = env_for(&db, &twilio, &impostor, None);
    let mut third = ApiProcess::spawn(&env, &log_file("c.log"));
    let log = exits_with_log(&mut third, Duration::from_secs(60));
    assert!(log.contains("refusing to start"), "{log}");
    assert!(log.contains(a.id()), "{log}");

    // The right key still starts.
    let (env, base) = env_for(&db, &twilio, &a, None);
    let _again = ApiProcess::spawn(&env, &log_file("a2.log"));
    wait_ready(&http, &base, Duration::from_secs(60)).await;
}

/// Holds a slot for `caller` at `clinic` and asks for a code: one OTP text queued.
async fn queue_a_code(api: &Api, clinic: &Clinic, caller: &str) {
    let call = CallCtx::new(clinic, caller);
    let day = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date()
        .checked_add(jiff::Span::new().days(2))
        .unwrap();
    let avail = api
        .tool(
            &call,
            "check_availability",
            json!({"service": "Checkup", "date": day.to_string()}),
        )
        .await
        .result();
    let start = avail["slots"][0]["start"]
        .as_str()
        .expect("a slot")
        .to_owned();
    let held = api
        .tool(
            &call,
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Jane Doe"}),
        )
        .await
        .result();
    let sent = api
        .tool(&call, "send_otp", json!({"hold_id": held["hold_id"]}))
        .await
        .result();
    assert_eq!(sent["ok"], json!(true), "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_clinics_key_never_claims_its_texts() {
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start();
    let http = common::client();
    let a = MasterKey::generate();
    let b = MasterKey::generate();

    let (env, base) = env_for(&db, &twilio, &a, None);
    let _old = ApiProcess::spawn(&env, &log_file("old.log"));
    wait_ready(&http, &base, Duration::from_secs(60)).await;
    let api = Api::new(&base, http.clone());
    let moved = api.create_clinic(&twilio, "Moved Dental", 72).await;

    // Another instance rotates the credentials to B while this one runs with A only.
    booking_postgres::rotate_key(db.url(), &a, &b)
        .await
        .expect("rotate");
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let why = ready.text().await.expect("body");
    assert!(why.contains(b.id()), "{why}");

    // A clinic stored now is under A, which this server has.
    let kept = api.create_clinic(&twilio, "Kept Dental", 73).await;
    queue_a_code(&api, &moved, "+14155550172").await;
    queue_a_code(&api, &kept, "+14155550173").await;

    // The kept clinic's text (queued after the moved one's) goes out…
    let sent = texts_to(&twilio, "+14155550173", 1, Duration::from_secs(30)).await;
    assert_eq!(
        sent.len(),
        1,
        "the clinic this server can serve got its text"
    );
    // …while the moved clinic's, due earlier, was never claimed: it waits for a server with B.
    let waiting = rows(
        db.url(),
        &format!(
            "SELECT status, claimed_by, attempts FROM outbound_messages \
             WHERE tenant_id = '{}' AND kind = 'otp'",
            moved.id
        ),
    )
    .await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["status"], json!("pending"), "{waiting:?}");
    assert_eq!(waiting[0]["claimed_by"], json!(null), "{waiting:?}");
    assert_eq!(waiting[0]["attempts"], json!(0), "{waiting:?}");
    assert!(twilio.messages_to("+14155550172").is_empty());

    // A server with B (and A, for the clinic still under it) sends it.
    let (env, base_new) = env_for(&db, &twilio, &b, Some(&a));
    let _new = ApiProcess::spawn(&env, &log_file("new.log"));
    wait_ready(&http, &base_new, Duration::from_secs(60)).await;
    let sent = texts_to(&twilio, "+14155550172", 1, Duration::from_secs(30)).await;
    assert_eq!(sent.len(), 1, "the moved clinic's text went out once");
}
