//! Faults outside the api: PostgreSQL restarted under load, and Twilio failing (500 after it
//! recorded the message, 429, timeouts, plain 500) for a while. Requests fail cleanly while it
//! lasts, the api recovers by itself, and every text is delivered exactly once afterwards.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use booking_postgres::MasterKey;
use booking_postgres::testing::TestDb;
use common::{rows, short_outbox_timings};
use fake_twilio::{FakeTwilio, Fault};
use local_postgres::Cluster;
use serde_json::json;
use test_support::{Api, CallCtx, ToolAnswer, api_env, code_texted_to};

/// The api in this process.
async fn start_api(
    env: &mut std::collections::HashMap<String, String>,
    adjust: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> (api::server::Running, Api) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    env.insert("PUBLIC_BASE_URL".into(), base.clone());
    env.insert(
        "BIND_ADDR".into(),
        base.trim_start_matches("http://").to_owned(),
    );
    adjust(env);
    let config = api::config::Config::from_map(env).expect("configuration");
    let running = api::server::start_on(config, listener)
        .await
        .expect("the api starts");
    (running, Api::new(base, common::client()))
}

/// Holds a slot on `day_offset` days from now and texts the code; returns the hold and code.
async fn hold_and_code(
    api: &Api,
    twilio: &FakeTwilio,
    call: &CallCtx,
    day_offset: i64,
) -> (String, String) {
    let day = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date()
        .checked_add(jiff::Span::new().days(day_offset))
        .unwrap();
    let avail = api
        .tool(
            call,
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
            call,
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": "Jane Doe"}),
        )
        .await
        .result();
    assert_eq!(held["ok"], json!(true), "{held}");
    let hold = held["hold_id"].as_str().unwrap().to_owned();
    let sent = api
        .tool(call, "send_otp", json!({"hold_id": hold}))
        .await
        .result();
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let code = code_texted_to(twilio, &call.caller, 0, Duration::from_secs(15)).await;
    (hold, code)
}

/// Every text due so far was accepted by Twilio, and each reached it exactly once: the sid the
/// outbox recorded is a message Twilio has, to that number with that text (an OTP text's body is
/// no longer kept once sent), and Twilio has nothing twice and nothing more.
async fn each_text_delivered_once(database_url: &str, twilio: &FakeTwilio) -> usize {
    let due = rows(
        database_url,
        &format!(
            "SELECT kind, to_number, body, status, twilio_sid, attempts, error_message \
             FROM outbound_messages WHERE NOT ({})",
            common::SCHEDULED_LATER
        ),
    )
    .await;
    let sent = twilio.messages();
    for m in &due {
        assert!(
            matches!(m["status"].as_str(), Some("queued" | "sent" | "delivered")),
            "a text was not delivered: {m}"
        );
        let sid = m["twilio_sid"].as_str().expect("a sid");
        let at = sent
            .iter()
            .find(|s| s.sid == sid)
            .unwrap_or_else(|| panic!("{sid} is not at Twilio: {m}"));
        assert_eq!(at.to, m["to_number"].as_str().unwrap());
        if m["kind"] != "otp" {
            assert_eq!(at.body, m["body"].as_str().unwrap());
        }
    }
    for s in &sent {
        let n = sent
            .iter()
            .filter(|o| o.to == s.to && o.body == s.body)
            .count();
        assert_eq!(
            n, 1,
            "a text to {} reached Twilio {n} times: {}",
            s.to, s.body
        );
    }
    assert_eq!(
        sent.len(),
        due.len(),
        "Twilio received texts the outbox does not account for"
    );
    due.len()
}

fn metric(text: &str, name_and_labels: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name_and_labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_failing_for_a_while_delivers_every_text_exactly_once() {
    let started = Instant::now();
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start();
    let mut env = short_outbox_timings(api_env(
        db.url(),
        &db.master_key().export(),
        &twilio,
        "http://127.0.0.1:1",
    ));
    // Retries spaced so that six attempts outlast the few seconds of faults below.
    let (running, api) = start_api(&mut env, |e| {
        e.insert("SMS_RETRY_BASE_MS".into(), "500".into());
        e.insert("SMS_RETRY_CAP_MS".into(), "4000".into());
    })
    .await;
    let clinic = api.create_clinic(&twilio, "Smile Dental", 1).await;

    // Five callers hold a time and get their code while Twilio is well.
    let mut calls = Vec::new();
    for i in 0..5 {
        let call = CallCtx::new(&clinic, &format!("+1415555{i:04}"));
        let (hold, code) = hold_and_code(&api, &twilio, &call, 1 + i).await;
        calls.push((call, hold, code));
    }
    let attempts_before = twilio.send_attempts();

    // Then Twilio fails, in each way it can, while the confirmations and alerts are queued.
    twilio.fail_all(Fault::Status500AfterRecording);
    let mut bookings = Vec::new();
    for (call, hold, code) in &calls {
        let verified = api
            .tool(call, "verify_otp", json!({"hold_id": hold, "code": code}))
            .await
            .result();
        assert_eq!(verified["ok"], json!(true), "{verified}");
        bookings.push(verified["appointment_id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    twilio.fail_all(Fault::too_many_requests());
    for (call, _, _) in &calls {
        let body = call.end_of_call_body(
            json!({"caller_name": "Jane Doe", "service_interest": "Checkup"}),
            60,
        );
        let (status, reply) = api.vapi(&body).await;
        assert_eq!(status, 200, "{reply}");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Slower than the api's 1 s timeout; Twilio records the message all the same.
    twilio.fail_all(Fault::Delay(Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    twilio.fail_all(Fault::Status500);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // While it lasted, the model could still read the state of a confirmation.
    let state = api
        .tool(
            &calls[0].0,
            "send_confirmation_sms",
            json!({"appointment_id": bookings[0]}),
        )
        .await
        .result();
    assert_eq!(state["ok"], json!(true), "{state}");
    twilio.recover();

    common::outbox_settled(db.url(), Duration::from_secs(60)).await;
    let delivered = each_text_delivered_once(db.url(), &twilio).await;
    // 5 codes, 5 confirmations, 2 alerts for each of the 5 hot calls.
    assert_eq!(delivered, 5 + 5 + 10);
    // The faults were met, and ambiguous sends were looked up rather than sent again.
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reconciled = metric(&metrics, "sms_dispatched_total{result=\"reconciled\"");
    let retried = metric(&metrics, "sms_dispatched_total{result=\"retry\"");
    let ambiguous = metric(&metrics, "sms_dispatched_total{result=\"ambiguous\"");
    eprintln!(
        "{} send attempts for 15 texts: {ambiguous} ambiguous, {reconciled} reconciled, {retried} retried; {:.1?}",
        twilio.send_attempts() - attempts_before,
        started.elapsed()
    );
    assert!(
        reconciled >= 1 && retried >= 1 && ambiguous >= 1,
        "{metrics}"
    );
    assert!(twilio.send_attempts() - attempts_before > 15);
    running.stop().await;
}

/// Counts of what the load saw while the database was away.
#[derive(Default, Debug)]
struct Seen {
    results: u64,
    errors: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_fails_cleanly_and_recovers() {
    let started = Instant::now();
    let cluster = tokio::task::spawn_blocking(Cluster::ephemeral)
        .await
        .unwrap()
        .expect("a private PostgreSQL");
    cluster.create_database("app").expect("create database");
    let url = cluster.url("app");
    let cluster = Arc::new(std::sync::Mutex::new(cluster));
    let key = MasterKey::generate();
    let twilio = FakeTwilio::start();
    let mut env = short_outbox_timings(api_env(&url, &key.export(), &twilio, "http://127.0.0.1:1"));
    let (running, api) = start_api(&mut env, |e| {
        e.insert("DB_STATEMENT_TIMEOUT_MS".into(), "2000".into());
    })
    .await;
    let clinic = api.create_clinic(&twilio, "Smile Dental", 1).await;
    // A booking before: kept through the restart.
    let before = CallCtx::new(&clinic, "+14155550001");
    let (hold, code) = hold_and_code(&api, &twilio, &before, 1).await;
    let verified = api
        .tool(
            &before,
            "verify_otp",
            json!({"hold_id": hold, "code": code}),
        )
        .await
        .result();
    assert_eq!(verified["ok"], json!(true), "{verified}");

    // Load: callers asking for availability without pause. Every answer must be a 200 with a
    // result or an error the model can say; never a 5xx, never a dropped connection.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for i in 0..3 {
        let (api, clinic, stop) = (api.clone(), clinic.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let call = CallCtx::new(&clinic, &format!("+1415556{i:04}"));
            while !stop.load(Ordering::Relaxed) {
                let id = call.next_tool_call_id();
                let body =
                    call.tool_body(&id, "check_availability", &json!({"service": "Checkup"}));
                let (status, reply) = api
                    .try_vapi(&body)
                    .await
                    .unwrap_or_else(|e| panic!("no answer while the database restarted: {e}"));
                assert_eq!(status, 200, "{reply}");
                match ToolAnswer::from_reply(&reply) {
                    ToolAnswer::Result(v) => {
                        assert_eq!(v["ok"], json!(true), "{v}");
                        seen.results += 1;
                    }
                    ToolAnswer::Error(e) => {
                        assert!(e.contains("try again"), "a sentence to say: {e}");
                        seen.errors += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.lock().unwrap().stop().expect("stop PostgreSQL"))
        .await
        .unwrap();
    let down_at = Instant::now();

    // While it is down: not ready, but alive; every kind of request fails cleanly.
    let readyz = api.http.get(api.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status().as_u16(), 503);
    let healthz = api.http.get(api.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    let during = CallCtx::new(&clinic, "+14155550002");
    let (status, reply) = api.vapi(&during.assistant_request_body()).await;
    assert_eq!(status, 200);
    assert!(
        reply["error"].is_string() && reply.get("assistant").is_none(),
        "a spoken refusal: {reply}"
    );
    for (name, args) in [
        (
            "reserve_slot",
            json!({"start": "2030-01-02T10:00:00-05:00", "service": "Checkup", "caller_name": "Jo"}),
        ),
        ("verify_otp", json!({"hold_id": hold, "code": "123456"})),
        (
            "send_confirmation_sms",
            json!({"appointment_id": verified["appointment_id"]}),
        ),
    ] {
        match api.tool(&during, name, args).await {
            ToolAnswer::Error(e) => assert!(e.contains("try again"), "{name}: {e}"),
            ToolAnswer::Result(v) => panic!("{name} answered without a database: {v}"),
        }
    }
    let (status, body) = api
        .admin(reqwest::Method::GET, "/admin/tenants", None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let (status, body) = api
        .vapi(&during.end_of_call_body(json!({"caller_name": "Jo"}), 30))
        .await;
    assert_eq!(status, 503, "{body}");
    // The booked call's report, a hot lead, arrives now too; it is sent once and never again.
    let (status, body) = api
        .vapi(&before.end_of_call_body(
            json!({"caller_name": "Jane Doe", "service_interest": "Checkup"}),
            60,
        ))
        .await;
    assert_eq!(status, 503, "{body}");
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(down_at.elapsed())).await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.lock().unwrap().start().expect("start PostgreSQL"))
        .await
        .unwrap();

    // Back without restarting the api: ready again, and a whole booking goes through, code and
    // confirmation texted by the worker.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api.http.get(api.url("/readyz")).send().await.unwrap();
        if r.status().as_u16() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again after 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = down_at.elapsed();
    let after = CallCtx::new(&clinic, "+14155550003");
    let (status, reply) = api.vapi(&after.assistant_request_body()).await;
    assert_eq!(status, 200);
    assert!(reply["assistant"].is_object(), "{reply}");
    let (hold, code) = hold_and_code(&api, &twilio, &after, 2).await;
    let confirmed = api
        .tool(&after, "verify_otp", json!({"hold_id": hold, "code": code}))
        .await
        .result();
    assert_eq!(confirmed["ok"], json!(true), "{confirmed}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for l in load {
        let s = l.await.expect("load task");
        seen.results += s.results;
        seen.errors += s.errors;
    }
    eprintln!(
        "under load: {} answers, {} errors while the database was away; ready again {:.1?} after the stop; {:.1?} in all",
        seen.results,
        seen.errors,
        recovered_in,
        started.elapsed()
    );
    assert!(seen.errors > 0, "the load never met the outage");
    assert!(seen.results > 0);

    // The reports that met the outage were recorded once the database was back, and the
    // owner was alerted about the hot lead, without Vapi sending them again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reported = rows(
            &url,
            &format!(
                "SELECT call_id FROM calls WHERE report_received_at IS NOT NULL \
                 AND call_id IN ('{}', '{}')",
                before.id, during.id
            ),
        )
        .await;
        if reported.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "held reports not recorded: {reported:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::outbox_settled(&url, Duration::from_secs(30)).await;
    each_text_delivered_once(&url, &twilio).await;
    for number in &clinic.alert_numbers {
        let alerts: Vec<_> = twilio
            .messages_to(number)
            .into_iter()
            .filter(|m| m.body.contains("hot lead") && m.body.contains("Jane Doe"))
            .collect();
        assert_eq!(
            alerts.len(),
            1,
            "one hot-lead alert to {number}: {alerts:?}"
        );
    }
    let kept = rows(&url, "SELECT id FROM bookings WHERE status = 'confirmed'").await;
    assert_eq!(kept.len(), 2, "both bookings are there: {kept:?}");
    running.stop().await;
    // The cluster stops and its files go when the handle drops.
    drop(cluster);
}
