//! The api killed with SIGKILL at random moments while 100 calls are played against it, and
//! started again each time. Whatever was under way when it died, nothing is lost and nothing is
//! doubled: every confirmed booking has exactly one confirmation at Twilio, every hot call one
//! alert per alert number, and no hold outlives its expiry.
//!
//! Callers whose request was cut retry it with the same toolCallId, as Vapi does.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use booking_postgres::testing::TestDb;
use common::{ApiProcess, rows, short_outbox_timings, wait_ready};
use fake_twilio::FakeTwilio;
use serde_json::{Value, json};
use test_support::{Api, CallCtx, Clinic, ToolAnswer, api_env, code_texted_to};
use tokio::sync::Mutex;

const CALLS: u32 = 100;
const LANES: u32 = 6;
/// Kills spread over the first part of the run (each may leave tool calls that are only taken
/// over after `TOOL_CALL_ABANDONED_AFTER`).
const MAX_KILLS: u32 = 10;
/// Between two requests of a call the caller and the model talk. Without it the 100 calls take
/// two or three seconds and end before most of the kills are due.
const TALK: Duration = Duration::from_millis(150);
/// Every fifth call looks, holds a time and hangs up without booking.
fn browses(i: u32) -> bool {
    i % 5 == 4
}

/// A small deterministic generator, seeded from the clock (the seed is printed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

#[derive(Default)]
struct Stats {
    /// Requests with no HTTP answer (refused while down, or cut by the kill).
    unanswered: AtomicU64,
    /// Tool calls answered with an `error` (our side failing), retried.
    tool_errors: AtomicU64,
}

struct World {
    api: Api,
    twilio: FakeTwilio,
    stats: Stats,
}

/// Posts `body` until the api answers 200, as Vapi retries a request it got no answer to.
async fn deliver(w: &World, body: &Value, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let last = match w.api.try_vapi(body).await {
            Ok((200, reply)) => return reply,
            Ok((status, reply)) => format!("{status} {reply}"),
            Err(e) => {
                w.stats.unanswered.fetch_add(1, Ordering::Relaxed);
                e.to_string()
            }
        };
        assert!(
            Instant::now() < deadline,
            "{what} was never answered; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One tool call, sent again with the same toolCallId until it gets a result.
async fn tool(w: &World, call: &CallCtx, name: &str, args: Value) -> Value {
    tokio::time::sleep(TALK).await;
    let id = call.next_tool_call_id();
    let body = call.tool_body(&id, name, &args);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = deliver(w, &body, name).await;
        match ToolAnswer::from_reply(&reply) {
            ToolAnswer::Result(v) => return v,
            ToolAnswer::Error(e) => {
                w.stats.tool_errors.fetch_add(1, Ordering::Relaxed);
                assert!(Instant::now() < deadline, "{name} ({id}) kept failing: {e}");
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Played {
    caller: String,
    call_id: String,
    /// The appointment, when the call booked.
    appointment: Option<String>,
}

async fn play(w: &World, clinic: &Clinic, i: u32) -> Played {
    let caller = format!("+1415555{i:04}");
    let call = CallCtx::new(clinic, &caller);
    let reply = deliver(w, &call.assistant_request_body(), "assistant-request").await;
    assert!(reply["assistant"].is_object(), "{reply}");

    let today = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .expect("zone")
        .date();
    let day = today
        .checked_add(jiff::Span::new().days(i64::from(1 + i % 20)))
        .expect("date");
    let avail = tool(
        w,
        &call,
        "check_availability",
        json!({"service": "Checkup", "date": day.to_string()}),
    )
    .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    let slots = avail["slots"].as_array().expect("slots");
    let mut start = slots[(i as usize / 20) % slots.len()]["start"]
        .as_str()
        .expect("start")
        .to_owned();
    let mut hold = None;
    for _ in 0..6 {
        let held = tool(
            w,
            &call,
            "reserve_slot",
            json!({"start": start, "service": "Checkup", "caller_name": format!("Caller {i}")}),
        )
        .await;
        if held["ok"] == json!(true) {
            hold = Some(held["hold_id"].as_str().expect("hold id").to_owned());
            break;
        }
        // Taken by another caller meanwhile: take the first alternative offered.
        start = held["alternatives"][0]["start"]
            .as_str()
            .unwrap_or_else(|| panic!("refused without alternatives: {held}"))
            .to_owned();
    }
    let hold = hold.expect("a hold after a few tries");

    let mut appointment = None;
    if !browses(i) {
        let mut verified = Value::Null;
        for _ in 0..3 {
            let before = w.twilio.messages_to(&caller).len();
            let sent = tool(w, &call, "send_otp", json!({"hold_id": hold})).await;
            assert_eq!(sent["ok"], json!(true), "{sent}");
            let code = code_texted_to(&w.twilio, &caller, before, Duration::from_secs(60)).await;
            verified = tool(
                w,
                &call,
                "verify_otp",
                json!({"hold_id": hold, "code": code}),
            )
            .await;
            if verified["ok"] == json!(true) {
                break;
            }
            // A send_otp run again after a kill texts a newer code; an older one read first
            // is refused. Ask for a fresh code, as a caller would.
        }
        assert_eq!(verified["ok"], json!(true), "{verified}");
        let id = verified["appointment_id"]
            .as_str()
            .expect("appointment id")
            .to_owned();
        if i.is_multiple_of(3) {
            let r = tool(
                w,
                &call,
                "send_confirmation_sms",
                json!({"appointment_id": id}),
            )
            .await;
            assert_eq!(r["ok"], json!(true), "{r}");
        }
        appointment = Some(id);
    }

    let structured = if appointment.is_some() {
        json!({"caller_name": format!("Caller {i}"), "service_interest": "Checkup", "wants_callback": false})
    } else {
        json!({"caller_name": format!("Caller {i}"), "wants_callback": false})
    };
    let body = call.end_of_call_body(structured, 40);
    tokio::time::sleep(TALK).await;
    deliver(w, &body, "end-of-call-report").await;
    Played {
        caller,
        call_id: call.id.clone(),
        appointment,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_100_calls_loses_nothing_and_doubles_nothing() {
    let started = Instant::now();
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start();
    let base = format!("http://127.0.0.1:{}", common::free_port());
    let env = short_outbox_timings(api_env(db.url(), &db.master_key().export(), &twilio, &base));
    let log = std::env::temp_dir().join(format!("api-crash-test-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let process = Arc::new(Mutex::new(ApiProcess::spawn(&env, &log)));
    let api = Api::new(base.clone(), common::client());
    wait_ready(&api.http, &base, Duration::from_secs(60)).await;
    let w = Arc::new(World {
        api,
        twilio,
        stats: Stats::default(),
    });
    let clinic = w.api.create_clinic(&w.twilio, "Smile Dental", 1).await;

    // The killer: SIGKILL at a random moment, start again at once, until the calls are done.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed: {seed}");
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU32::new(0));
    let killer = {
        let (process, done, kills, env, log) = (
            process.clone(),
            done.clone(),
            kills.clone(),
            env.clone(),
            log.clone(),
        );
        tokio::spawn(async move {
            let mut rng = Rng(seed);
            while !done.load(Ordering::SeqCst) && kills.load(Ordering::SeqCst) < MAX_KILLS {
                tokio::time::sleep(Duration::from_millis(rng.between(500, 2500))).await;
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let mut p = process.lock().await;
                p.kill();
                kills.fetch_add(1, Ordering::SeqCst);
                // Down for a moment (callers meet refused connections), then back.
                tokio::time::sleep(Duration::from_millis(rng.between(0, 300))).await;
                *p = ApiProcess::spawn(&env, &log);
            }
        })
    };

    let mut lanes = Vec::new();
    for lane in 0..LANES {
        let (w, clinic) = (w.clone(), clinic.clone());
        lanes.push(tokio::spawn(async move {
            let mut played = Vec::new();
            for i in (lane..CALLS).step_by(LANES as usize) {
                played.push(play(&w, &clinic, i).await);
            }
            played
        }));
    }
    let mut played = Vec::new();
    for lane in lanes {
        played.extend(lane.await.expect("a lane of calls"));
    }
    done.store(true, Ordering::SeqCst);
    killer.await.expect("killer");
    let kills = kills.load(Ordering::SeqCst);
    eprintln!(
        "{} calls played in {:.1?} with {kills} kills; {} requests unanswered, {} tool errors retried",
        played.len(),
        started.elapsed(),
        w.stats.unanswered.load(Ordering::Relaxed),
        w.stats.tool_errors.load(Ordering::Relaxed),
    );
    assert!(kills >= 5, "the api was killed only {kills} times");
    assert!(
        w.stats.unanswered.load(Ordering::Relaxed) > 0,
        "no request was ever cut: the kills missed"
    );

    wait_ready(&w.api.http, &base, Duration::from_secs(60)).await;
    common::outbox_settled(db.url(), Duration::from_secs(60)).await;

    // Nothing doubled: no text reached Twilio twice.
    let sent = w.twilio.messages();
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    for m in &sent {
        *seen.entry((m.to.clone(), m.body.clone())).or_default() += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "texts sent more than once: {doubled:?}");
    let at_twilio =
        |to: &str, body: &str| sent.iter().filter(|m| m.to == to && m.body == body).count();

    // Every booking the callers were told about is confirmed, and only those.
    let booked: Vec<&Played> = played.iter().filter(|p| p.appointment.is_some()).collect();
    assert_eq!(booked.len() as u32, CALLS - CALLS / 5);
    let confirmed = rows(
        db.url(),
        "SELECT id::text, caller_phone FROM bookings WHERE status = 'confirmed'",
    )
    .await;
    assert_eq!(confirmed.len(), booked.len(), "{confirmed:?}");
    for p in &booked {
        let id = p.appointment.as_deref().unwrap();
        assert!(
            confirmed
                .iter()
                .any(|r| r["id"] == json!(id) && r["caller_phone"] == json!(p.caller)),
            "appointment {id} of {} is not confirmed",
            p.caller
        );
    }

    // Every confirmed booking: exactly one confirmation, and it reached Twilio exactly once.
    let outbox = rows(
        db.url(),
        "SELECT kind, dedupe_key, to_number, body, status, call_id, booking_id::text AS booking \
         FROM outbound_messages",
    )
    .await;
    let failed: Vec<&Value> = outbox
        .iter()
        .filter(|m| {
            !matches!(
                m["status"].as_str(),
                Some("queued" | "sent" | "delivered" | "pending")
            )
        })
        .collect();
    assert!(failed.is_empty(), "texts not delivered: {failed:?}");
    for b in &confirmed {
        let id = b["id"].as_str().unwrap();
        let conf: Vec<&Value> = outbox
            .iter()
            .filter(|m| m["kind"] == "confirmation" && m["booking"] == json!(id))
            .collect();
        assert_eq!(conf.len(), 1, "one confirmation for {id}");
        let (to, body) = (
            conf[0]["to_number"].as_str().unwrap(),
            conf[0]["body"].as_str().unwrap(),
        );
        assert_eq!(to, b["caller_phone"].as_str().unwrap());
        assert_eq!(at_twilio(to, body), 1, "confirmation of {id} at Twilio");
    }

    // Every hot call: one alert per alert number, at Twilio exactly once.
    let hot = rows(db.url(), "SELECT call_id FROM calls WHERE hot_lead").await;
    assert_eq!(hot.len(), booked.len(), "every booked call is hot: {hot:?}");
    for p in &booked {
        assert!(
            hot.iter().any(|r| r["call_id"] == json!(p.call_id)),
            "call {} is hot",
            p.call_id
        );
        for alert in &clinic.alert_numbers {
            let alerts: Vec<&Value> = outbox
                .iter()
                .filter(|m| {
                    m["kind"] == "hot_lead"
                        && m["call_id"] == json!(p.call_id)
                        && m["to_number"] == json!(alert)
                })
                .collect();
            assert_eq!(alerts.len(), 1, "one alert for {} to {alert}", p.call_id);
            assert_eq!(
                at_twilio(alert, alerts[0]["body"].as_str().unwrap()),
                1,
                "alert for {} at Twilio",
                p.call_id
            );
        }
    }
    let cold_alerts = outbox.iter().filter(|m| m["kind"] == "hot_lead").count();
    assert_eq!(cold_alerts, booked.len() * clinic.alert_numbers.len());

    // No hold outlives its expiry: none was ever given more than ten minutes...
    let overlong = rows(
        db.url(),
        "SELECT id FROM bookings WHERE hold_expires_at > created_at + interval '10 minutes 1 second'",
    )
    .await;
    assert!(overlong.is_empty(), "{overlong:?}");
    // ...and the holds the browsing callers left behind, once their ten minutes are up (moved
    // into the past here), block nobody and are expired by the worker.
    let held = rows(
        db.url(),
        "SELECT id::text, starts_at FROM bookings WHERE status = 'held'",
    )
    .await;
    assert!(
        held.len() as u32 >= CALLS / 5,
        "the browsing callers' holds: {held:?}"
    );
    db.execute(
        "UPDATE bookings SET created_at = created_at - interval '11 minutes', \
         hold_expires_at = hold_expires_at - interval '11 minutes' WHERE status = 'held'",
    )
    .await;
    let slot: jiff::Timestamp = held[0]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .expect("a timestamp");
    let late = CallCtx::new(&clinic, "+14155559999");
    let again = tool(
        &w,
        &late,
        "reserve_slot",
        json!({"start": slot.to_string(), "service": "Checkup", "caller_name": "Late Caller"}),
    )
    .await;
    assert_eq!(
        again["ok"],
        json!(true),
        "an expired hold blocks its slot: {again}"
    );
    // A fresh process runs the worker's expiry pass first.
    {
        let mut p = process.lock().await;
        p.kill();
        *p = ApiProcess::spawn(&env, &log);
    }
    wait_ready(&w.api.http, &base, Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stale = rows(
            db.url(),
            "SELECT id FROM bookings WHERE status = 'held' AND hold_expires_at < now()",
        )
        .await;
        if stale.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "holds past their expiry are still held: {stale:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    process.lock().await.terminate();
    let _ = std::fs::remove_file(&log);
    eprintln!("done in {:.1?}", started.elapsed());
}
