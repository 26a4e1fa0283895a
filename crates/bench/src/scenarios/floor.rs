//! The floor: what the database alone does with the statements a `reserve_slot` and a
//! `verify_otp` tool call issue (pgbench, prepared statements, the same number of clients),
//! against the same tool calls over HTTP through the api, closed loop.
//!
//! The scripts in `pgbench/` are the statement sequences logged by Postgres (`--log-sql`) for
//! one tool call each, in order, with the literals turned into pgbench variables. The tenant is
//! not looked up: the api keeps it for the length of a call (see `cached_tenants` in the api), so
//! a tool call of a call in progress issues none of those eight queries either. Left out too:
//! the pool's liveness probe (`SELECT 1`) before each checkout, which is the api's overhead. The data they
//! work on is made the way the api makes it: clinics through the operator API, holds and codes
//! (for `verify_otp`) inserted as rows of the same shape.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::local_date;
use crate::harness::{Call, Clinic, Harness, TIME_ZONE, ToolAnswer};
use crate::stats::Latency;

const RESERVE_SCRIPT: &str = include_str!("../../pgbench/reserve_slot.sql");
const VERIFY_SCRIPT: &str = include_str!("../../pgbench/verify_otp.sql");
const CLINICS: usize = 10;

#[derive(Clone, Debug, Serialize)]
pub struct FloorResult {
    pub concurrency: usize,
    pub reserve_slot: FloorTool,
    pub verify_otp: FloorTool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FloorTool {
    pub http_requests: usize,
    pub http_per_s: f64,
    pub http_latency: Latency,
    pub http_errors: usize,
    pub http_refusals: usize,
    pub first_errors: Vec<String>,
    pub pgbench_transactions: u64,
    pub pgbench_failed: u64,
    pub pgbench_tps: f64,
    pub pgbench_latency_avg_ms: f64,
    /// HTTP tool calls per second as a percentage of pgbench's transactions per second.
    pub ratio_pct: f64,
}

pub async fn floor(h: &Arc<Harness>, clients: usize, quick: bool) -> anyhow::Result<FloorResult> {
    let requests = if quick { 1_000 } else { 4_000 }.max(clients * 4);
    let mut reserve = FloorTool::default();
    let mut verify = FloorTool::default();

    // reserve_slot over HTTP: every request a new call for a slot of its own.
    let clinics = make_clinics(h, &format!("floor-{clients}-http"), CLINICS).await?;
    let slots: Vec<(Clinic, String)> = (0..requests)
        .map(|k| (clinics[k % CLINICS].clone(), slot_start(k / CLINICS)))
        .collect();
    let slots = Arc::new(slots);
    let (samples, answers, took) = closed_loop(h, clients, requests, {
        let slots = slots.clone();
        move |h: Arc<Harness>, k| {
            let slots = slots.clone();
            async move {
                let (clinic, start) = &slots[k];
                let call = h.call(clinic);
                call.tool(
                    &h,
                    "reserve_slot",
                    json!({"start": start, "service": "Checkup", "caller_name": "Floor Caller"}),
                )
                .await
            }
        }
    })
    .await;
    fill_http(&mut reserve, &samples, answers, took);

    // verify_otp over HTTP: holds and texted codes made first (not timed), then verified.
    // A clinic texts at most 200 codes an hour (the SMS-pumping brake): enough clinics.
    let verify_clinics = CLINICS.max(requests.div_ceil(150));
    let clinics = make_clinics(h, &format!("floor-{clients}-verify"), verify_clinics).await?;
    let prepared = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(requests)));
    let (_, prep_answers, _) = closed_loop(h, clients, requests, {
        let prepared = prepared.clone();
        let clinics = clinics.clone();
        move |h: Arc<Harness>, k| {
            let prepared = prepared.clone();
            let clinic = clinics[k % clinics.len()].clone();
            let start = slot_start(k / clinics.len());
            async move {
                let call = h.call(&clinic);
                let (held, took) = call
                    .tool(
                        &h,
                        "reserve_slot",
                        json!({"start": start, "service": "Checkup", "caller_name": "Floor Caller"}),
                    )
                    .await;
                let ToolAnswer::Ok(held) = held else {
                    return (held, took);
                };
                let hold = held["hold_id"].as_str().unwrap_or_default().to_owned();
                let (sent, took) = call.tool(&h, "send_otp", json!({"hold_id": hold})).await;
                if let ToolAnswer::Ok(_) = sent {
                    prepared.lock().await.push((call, hold));
                }
                (sent, took)
            }
        }
    })
    .await;
    let prep_failures = prep_answers.errors + prep_answers.refusals;
    if prep_failures > 0 {
        bail!(
            "floor: {prep_failures} of {requests} holds could not be prepared: {:?}",
            prep_answers.first
        );
    }
    let prepared: Vec<(Call, String)> = std::mem::take(&mut *prepared.lock().await);
    let mut with_codes = Vec::with_capacity(prepared.len());
    for (call, hold) in prepared {
        let code = h.otp_for(&call.caller, Duration::from_secs(120)).await?;
        with_codes.push((call, hold, code));
    }
    let with_codes = Arc::new(with_codes);
    let (samples, answers, took) = closed_loop(h, clients, with_codes.len(), {
        let with_codes = with_codes.clone();
        move |h: Arc<Harness>, k| {
            let with_codes = with_codes.clone();
            async move {
                let (call, hold, code) = &with_codes[k];
                call.tool(&h, "verify_otp", json!({"hold_id": hold, "code": code}))
                    .await
            }
        }
    })
    .await;
    fill_http(&mut verify, &samples, answers, took);

    // The same statements in pgbench.
    let clinics = make_clinics(h, &format!("floor-{clients}-pgbench"), CLINICS).await?;
    let per_client = requests.div_ceil(clients);
    let dir = std::env::temp_dir().join(format!("bench-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let defines = pgbench_defines();
    let out = pgbench(
        h,
        &dir,
        "reserve_slot",
        &script(RESERVE_SCRIPT, &clinics),
        clients,
        per_client,
        &defines,
    )?;
    fill_pgbench(&mut reserve, &out);

    seed_holds_with_codes(h, &clinics, clients, per_client)?;
    let out = pgbench(
        h,
        &dir,
        "verify_otp",
        &script(VERIFY_SCRIPT, &clinics),
        clients,
        per_client,
        &defines,
    )?;
    fill_pgbench(&mut verify, &out);
    let _ = std::fs::remove_dir_all(&dir);

    for t in [&mut reserve, &mut verify] {
        t.ratio_pct = if t.pgbench_tps > 0.0 {
            100.0 * t.http_per_s / t.pgbench_tps
        } else {
            f64::NAN
        };
    }
    Ok(FloorResult {
        concurrency: clients,
        reserve_slot: reserve,
        verify_otp: verify,
    })
}

async fn make_clinics(h: &Harness, label: &str, count: usize) -> anyhow::Result<Vec<Clinic>> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        out.push(h.create_clinic(&format!("{label}-{i}")).await?);
    }
    Ok(out)
}

/// The `idx`-th half hour from tomorrow 00:00, clinic time, as RFC 3339 with its offset.
fn slot_start(idx: usize) -> String {
    let day = local_date(1);
    let start = day
        .to_datetime(jiff::civil::Time::midnight())
        .in_tz(TIME_ZONE)
        .expect("in range")
        .checked_add(jiff::Span::new().minutes(30 * idx as i64))
        .expect("in range");
    start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[derive(Default)]
struct Answers {
    errors: usize,
    refusals: usize,
    first: Vec<String>,
}

/// `total` requests from `clients` concurrent clients, each taking the next index as soon as
/// its previous request is answered. Returns every latency, the tally, and the wall time.
async fn closed_loop<F, Fut>(
    h: &Arc<Harness>,
    clients: usize,
    total: usize,
    request: F,
) -> (Vec<Duration>, Answers, Duration)
where
    F: Fn(Arc<Harness>, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = (ToolAnswer, Duration)> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (h, next, request) = (h.clone(), next.clone(), request.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut answers = Answers::default();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        break;
                    }
                    let (answer, took) = request(h.clone(), k).await;
                    samples.push(took);
                    match answer {
                        ToolAnswer::Ok(_) => {}
                        ToolAnswer::Refused(v) => {
                            answers.refusals += 1;
                            if answers.first.len() < 3 {
                                answers.first.push(format!("refused: {v}"));
                            }
                        }
                        ToolAnswer::Error(e) => {
                            answers.errors += 1;
                            if answers.first.len() < 3 {
                                answers.first.push(e);
                            }
                        }
                    }
                }
                (samples, answers)
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(total);
    let mut answers = Answers::default();
    for t in tasks {
        let (s, a) = t.await.expect("client task");
        samples.extend(s);
        answers.errors += a.errors;
        answers.refusals += a.refusals;
        answers.first.extend(a.first);
    }
    answers.first.truncate(5);
    (samples, answers, started.elapsed())
}

fn fill_http(t: &mut FloorTool, samples: &[Duration], answers: Answers, took: Duration) {
    t.http_requests = samples.len();
    t.http_per_s = samples.len() as f64 / took.as_secs_f64();
    t.http_latency = Latency::of(samples);
    t.http_errors = answers.errors;
    t.http_refusals = answers.refusals;
    t.first_errors = answers.first;
}

struct PgbenchOut {
    transactions: u64,
    failed: u64,
    tps: f64,
    latency_avg_ms: f64,
}

fn fill_pgbench(t: &mut FloorTool, out: &PgbenchOut) {
    t.pgbench_transactions = out.transactions;
    t.pgbench_failed = out.failed;
    t.pgbench_tps = out.tps;
    t.pgbench_latency_avg_ms = out.latency_avg_ms;
}

/// A pgbench script from a template: client `c` works for clinic `c % clinics` (pgbench has no
/// string variables, so each clinic gets a branch of its own), `:k` counts the client's
/// transactions (`-D k=0`), `:slot` is the Unix time of the client's `k`-th slot.
fn script(template: &str, clinics: &[Clinic]) -> String {
    let body: String = template
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut s = String::from(
        "\\set k :k + 1\n\\set slot :first_slot + (:client_id * 100000 + :k) * 1800\n\\set slot_end :slot + 1800\n",
    );
    s.push_str(&format!("\\set t :client_id % {}\n", clinics.len()));
    for (i, c) in clinics.iter().enumerate() {
        s.push_str(&if i == 0 {
            "\\if :t = 0\n".to_owned()
        } else {
            format!("\\elif :t = {i}\n")
        });
        s.push_str(&body.replace("{TENANT}", &c.id));
        s.push('\n');
    }
    s.push_str("\\endif\n");
    s
}

/// `first_slot`: tomorrow 00:00 in the clinics' time zone (Unix time); `k`: 0.
fn pgbench_defines() -> Vec<(String, String)> {
    let first = jiff::Timestamp::now()
        .in_tz(TIME_ZONE)
        .expect("time zone")
        .date()
        .tomorrow()
        .expect("in range")
        .to_datetime(jiff::civil::Time::midnight())
        .in_tz(TIME_ZONE)
        .expect("in range");
    vec![
        (
            "first_slot".into(),
            first.timestamp().as_second().to_string(),
        ),
        ("k".into(), "0".into()),
    ]
}

/// Held bookings with an open code for pgbench's `verify_otp`: client `c`'s `k`-th (from 1) is
/// `md5('hold:c:k')` in clinic `c % clinics`, its code `md5('otp:c:k')`.
fn seed_holds_with_codes(
    h: &Harness,
    clinics: &[Clinic],
    clients: usize,
    per_client: usize,
) -> anyhow::Result<()> {
    let tenants = clinics
        .iter()
        .map(|c| format!("'{}'", c.id))
        .collect::<Vec<_>>()
        .join(",");
    let seed = format!(
        "SELECT c, k, (ARRAY[{tenants}]::uuid[])[1 + c % {n}] AS t, \
           md5('hold:' || c || ':' || k)::uuid AS hold, md5('otp:' || c || ':' || k)::uuid AS otp, \
           'floor:' || c || ':' || k AS call, '+1647' || (c * 100000 + k) AS phone, \
           date_trunc('day', now()) + interval '70 days' + (c * 100000 + k) * interval '30 minutes' AS s \
         FROM generate_series(0, {cmax}) AS c, generate_series(1, {kmax}) AS k",
        n = clinics.len(),
        cmax = clients - 1,
        kmax = per_client,
    );
    h.sql(&format!(
        "INSERT INTO bookings (tenant_id, id, calendar_id, status, service, starts_at, ends_at, \
           blocked_from, blocked_until, caller_name, caller_phone, call_id, created_at, \
           hold_expires_at, updated_at) \
         SELECT t, hold, t, 'held', 'Checkup', s, s + interval '30 minutes', s, \
           s + interval '30 minutes', 'Floor Caller', phone, call, now(), \
           now() + interval '1 hour', now() \
         FROM ({seed}) AS x; \
         INSERT INTO otp_challenges (tenant_id, id, booking_id, call_id, phone, code_hash, \
           created_at, expires_at) \
         SELECT t, otp, hold, call, phone, sha256(call::bytea), now(), now() + interval '1 hour' \
         FROM ({seed}) AS x; \
         ANALYZE bookings; ANALYZE otp_challenges;"
    ))?;
    Ok(())
}

fn pgbench(
    h: &Harness,
    dir: &std::path::Path,
    name: &str,
    script: &str,
    clients: usize,
    per_client: usize,
    defines: &[(String, String)],
) -> anyhow::Result<PgbenchOut> {
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(&path, script)?;
    let mut cmd = Command::new("pgbench");
    cmd.args([
        "-n",
        "-M",
        "prepared",
        "-h",
        h.cluster.host(),
        "-U",
        "postgres",
    ])
    .args(["-p", &h.cluster.port().to_string()])
    .args(["-c", &clients.to_string()])
    .args(["-j", &clients.min(2).to_string()])
    .args(["-t", &per_client.to_string()])
    .arg("-f")
    .arg(&path);
    for (k, v) in defines {
        cmd.args(["-D", &format!("{k}={v}")]);
    }
    cmd.arg(crate::harness::DB);
    let output = cmd.output().context("running pgbench (is it on PATH?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("pgbench {name} failed: {stderr}\n{stdout}");
    }
    let find = |prefix: &str| -> Option<&str> {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim())
    };
    let first_number = |s: Option<&str>| -> Option<f64> {
        s?.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .find(|w| !w.is_empty())?
            .parse()
            .ok()
    };
    let out = PgbenchOut {
        transactions: first_number(find("number of transactions actually processed:"))
            .unwrap_or(0.0) as u64,
        failed: first_number(find("number of failed transactions:")).unwrap_or(0.0) as u64,
        tps: first_number(find("tps =")).context("pgbench printed no tps")?,
        latency_avg_ms: first_number(find("latency average =")).unwrap_or(f64::NAN),
    };
    if out.failed > 0 || out.transactions < (clients * per_client) as u64 {
        bail!(
            "pgbench {name}: {} of {} transactions processed, {} failed: {stderr}",
            out.transactions,
            clients * per_client,
            out.failed
        );
    }
    Ok(out)
}
