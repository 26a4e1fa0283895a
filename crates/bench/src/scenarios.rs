//! The scenarios of the benchmark: whole calls, contention on one slot, availability over a
//! full calendar, the outbox, a sign-in flood, and (in `floor.rs`) the pgbench floor.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::harness::{Clinic, Harness, TIME_ZONE, ToolAnswer, mb};
use crate::stats::Latency;

/// The clinic-local date `days` from today.
pub fn local_date(days: i64) -> jiff::civil::Date {
    let today = jiff::Timestamp::now()
        .in_tz(TIME_ZONE)
        .expect("time zone")
        .date();
    today
        .checked_add(jiff::Span::new().days(days))
        .expect("date in range")
}

/// A small deterministic generator for think times (no need for a CSPRNG here).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [d/2, 3d/2].
    fn around(&mut self, d: Duration) -> Duration {
        if d.is_zero() {
            return d;
        }
        let ms = d.as_millis() as u64;
        Duration::from_millis(ms / 2 + self.next() % (ms + 1))
    }
    fn below(&mut self, d: Duration) -> Duration {
        let ms = d.as_millis() as u64;
        if ms == 0 {
            return d;
        }
        Duration::from_millis(self.next() % ms)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. calls

#[derive(Clone, Debug, Serialize)]
pub struct CallsConfig {
    pub calls: usize,
    /// Mean pause between two steps of a call (the caller and the model talking), uniform in
    /// [think/2, 3·think/2]; zero for a saturation run.
    pub think_ms: u64,
    /// Calls start at a uniform offset within this window.
    pub ramp_ms: u64,
    pub calls_per_tenant: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallsResult {
    pub config: CallsConfig,
    pub tenants: usize,
    pub completed_calls: usize,
    pub wall_s: f64,
    pub tool_calls: usize,
    pub tool_calls_per_s: f64,
    pub errors: usize,
    pub refusals: usize,
    pub first_errors: Vec<String>,
    pub tools: BTreeMap<String, Latency>,
    pub all_tools: Latency,
    pub assistant_request: Latency,
    pub end_of_call_report: Latency,
    /// From the `send_otp` answer to the code being at the fake (the outbox's latency).
    pub otp_delivery: Latency,
    pub api_rss_peak_mb: f64,
    pub api_vmhwm_mb: f64,
}

#[derive(Default)]
struct CallOutcome {
    samples: Vec<(&'static str, Duration)>,
    assistant: Option<Duration>,
    end_of_call: Option<Duration>,
    otp: Option<Duration>,
    errors: Vec<String>,
    refusals: usize,
    completed: bool,
}

pub async fn calls(h: &Arc<Harness>, cfg: CallsConfig) -> anyhow::Result<CallsResult> {
    let tenants = cfg.calls.div_ceil(cfg.calls_per_tenant);
    let mut clinics = Vec::with_capacity(tenants);
    for t in 0..tenants {
        clinics.push(h.create_clinic(&format!("calls-{}-{t}", cfg.calls)).await?);
    }
    h.api.rss_window();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(cfg.calls);
    for i in 0..cfg.calls {
        let h = h.clone();
        let clinic = clinics[i % tenants].clone();
        // Each caller of a clinic looks at a day of its own: no two callers want one slot.
        let day = 1 + (i / tenants) as i64;
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            one_call(&h, &clinic, day, &cfg, i as u64).await
        }));
    }
    let mut outcomes = Vec::with_capacity(cfg.calls);
    for t in tasks {
        outcomes.push(t.await.context("call task")?);
    }
    let wall = started.elapsed();
    let peak = h.api.rss_window();

    let mut per_tool: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut all = Vec::new();
    let (mut assistant, mut eoc, mut otp) = (Vec::new(), Vec::new(), Vec::new());
    let (mut errors, mut refusals, mut completed) = (Vec::new(), 0, 0);
    for o in outcomes {
        for (tool, d) in o.samples {
            per_tool.entry(tool).or_default().push(d);
            all.push(d);
        }
        assistant.extend(o.assistant);
        eoc.extend(o.end_of_call);
        otp.extend(o.otp);
        errors.extend(o.errors);
        refusals += o.refusals;
        completed += usize::from(o.completed);
    }
    Ok(CallsResult {
        tenants,
        completed_calls: completed,
        wall_s: wall.as_secs_f64(),
        tool_calls: all.len(),
        tool_calls_per_s: all.len() as f64 / wall.as_secs_f64(),
        errors: errors.len(),
        refusals,
        first_errors: errors.into_iter().take(5).collect(),
        tools: per_tool
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Latency::of(&v)))
            .collect(),
        all_tools: Latency::of(&all),
        assistant_request: Latency::of(&assistant),
        end_of_call_report: Latency::of(&eoc),
        otp_delivery: Latency::of(&otp),
        api_rss_peak_mb: mb(peak),
        api_vmhwm_mb: mb(h.api.hwm()),
        config: cfg,
    })
}

async fn one_call(
    h: &Harness,
    clinic: &Clinic,
    day: i64,
    cfg: &CallsConfig,
    seed: u64,
) -> CallOutcome {
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let think = Duration::from_millis(cfg.think_ms);
    let mut out = CallOutcome::default();
    tokio::time::sleep(rng.below(Duration::from_millis(cfg.ramp_ms))).await;
    let call = h.call(clinic);

    match call.assistant_request(h).await {
        Ok(d) => out.assistant = Some(d),
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    }
    macro_rules! step {
        ($tool:expr, $args:expr) => {{
            tokio::time::sleep(rng.around(think)).await;
            let (answer, took) = call.tool(h, $tool, $args).await;
            out.samples.push(($tool, took));
            match answer {
                ToolAnswer::Ok(v) => v,
                ToolAnswer::Refused(v) => {
                    out.refusals += 1;
                    out.errors.push(format!("{} refused: {v}", $tool));
                    return out;
                }
                ToolAnswer::Error(e) => {
                    out.errors.push(e);
                    return out;
                }
            }
        }};
    }
    let date = local_date(day).to_string();
    let avail = step!(
        "check_availability",
        json!({"service": "Checkup", "date": date})
    );
    let Some(start) = avail["slots"][0]["start"].as_str().map(str::to_owned) else {
        out.errors
            .push(format!("no slot offered on {date}: {avail}"));
        return out;
    };
    let held = step!(
        "reserve_slot",
        json!({"start": start, "service": "Checkup", "caller_name": format!("Caller {seed}")})
    );
    let hold = held["hold_id"].as_str().unwrap_or_default().to_owned();
    step!("send_otp", json!({"hold_id": hold}));
    let asked = Instant::now();
    let code = match h.otp_for(&call.caller, Duration::from_secs(60)).await {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("send_otp: {e}"));
            return out;
        }
    };
    out.otp = Some(asked.elapsed());
    let verified = step!("verify_otp", json!({"hold_id": hold, "code": code}));
    let appointment = verified["appointment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    step!(
        "send_confirmation_sms",
        json!({"appointment_id": appointment})
    );
    tokio::time::sleep(rng.around(think)).await;
    match call.end_of_call(h).await {
        Ok(d) => out.end_of_call = Some(d),
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    }
    out.completed = true;
    out
}

// ---------------------------------------------------------------------------------------------
// 2. contention

#[derive(Clone, Debug, Serialize)]
pub struct ContentionResult {
    pub callers: usize,
    /// Providers who can take the slot (each can hold it once).
    pub providers: usize,
    pub winners: usize,
    pub refused_with_alternatives: usize,
    pub refused_without_alternatives: usize,
    pub errors: usize,
    pub first_errors: Vec<String>,
    /// Held bookings on that slot in the database afterwards.
    pub held_rows: i64,
    pub latency: Latency,
    /// From the release of the callers to the last answer.
    pub last_answer_ms: f64,
    pub api_rss_peak_mb: f64,
}

/// `callers` reserve one start at once, with anyone free, at a clinic of `providers` providers
/// (0: one, the clinic): as many win as there are providers.
pub async fn contention(
    h: &Arc<Harness>,
    callers: usize,
    providers: usize,
) -> anyhow::Result<ContentionResult> {
    let clinic = h.create_clinic_with("contention", providers).await?;
    let probe = h.call(&clinic);
    let date = local_date(3).to_string();
    let (answer, _) = probe
        .tool(
            h,
            "check_availability",
            json!({"service": "Teeth Whitening", "date": date}),
        )
        .await;
    let ToolAnswer::Ok(avail) = answer else {
        bail!("contention: no availability to start from");
    };
    let start = avail["slots"][0]["start"]
        .as_str()
        .context("a slot")?
        .to_owned();

    // Every caller has a connection open before the start, so that the race is on the slot and
    // not on TCP handshakes.
    let warm: Vec<_> = (0..callers)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.http.get(h.url("/healthz")).send().await.is_ok() })
        })
        .collect();
    for w in warm {
        w.await?;
    }

    h.api.rss_window();
    let barrier = Arc::new(tokio::sync::Barrier::new(callers + 1));
    let mut tasks = Vec::with_capacity(callers);
    for i in 0..callers {
        let (h, barrier, clinic, start) =
            (h.clone(), barrier.clone(), clinic.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let call = h.call(&clinic);
            barrier.wait().await;
            let (answer, took) = call
                .tool(
                    &h,
                    "reserve_slot",
                    json!({"start": start, "service": "Teeth Whitening",
                           "caller_name": format!("Racer {i}")}),
                )
                .await;
            (answer, took, Instant::now())
        }));
    }
    barrier.wait().await;
    let released = Instant::now();
    let mut result = ContentionResult {
        callers,
        providers: providers.max(1),
        winners: 0,
        refused_with_alternatives: 0,
        refused_without_alternatives: 0,
        errors: 0,
        first_errors: Vec::new(),
        held_rows: 0,
        latency: Latency::default(),
        last_answer_ms: 0.0,
        api_rss_peak_mb: 0.0,
    };
    let mut samples = Vec::with_capacity(callers);
    let mut last = released;
    for t in tasks {
        let (answer, took, at) = t.await?;
        samples.push(took);
        last = last.max(at);
        match answer {
            ToolAnswer::Ok(_) => result.winners += 1,
            ToolAnswer::Refused(v) => {
                if v["alternatives"].as_array().is_some_and(|a| !a.is_empty()) {
                    result.refused_with_alternatives += 1;
                } else {
                    result.refused_without_alternatives += 1;
                }
            }
            ToolAnswer::Error(e) => {
                result.errors += 1;
                if result.first_errors.len() < 5 {
                    result.first_errors.push(e);
                }
            }
        }
    }
    result.api_rss_peak_mb = mb(h.api.rss_window());
    result.latency = Latency::of(&samples);
    result.last_answer_ms = (last - released).as_secs_f64() * 1e3;
    result.held_rows = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}' AND status IN ('held','confirmed')",
        clinic.id
    ))?;
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// 3. availability

#[derive(Clone, Debug, Serialize)]
pub struct AvailabilityResult {
    pub providers: usize,
    pub bookings_in_calendar: i64,
    pub bookings_in_window: i64,
    pub queries: usize,
    pub days: i64,
    pub latency: Latency,
    pub errors: usize,
    pub mean_slots_offered: f64,
}

/// `check_availability` over 14 days at a clinic of `providers` providers (0: one, the clinic)
/// holding `bookings` bookings.
pub async fn availability(
    h: &Arc<Harness>,
    bookings: usize,
    queries: usize,
    providers: usize,
) -> anyhow::Result<AvailabilityResult> {
    const DAYS: i64 = 14;
    let clinic = h.create_clinic_with("availability", providers).await?;
    let calendars = if clinic.providers.is_empty() {
        vec![clinic.id.clone()]
    } else {
        clinic.providers.clone()
    };
    let n = calendars.len();
    let calendars = calendars
        .iter()
        .map(|c| format!("'{c}'::uuid"))
        .collect::<Vec<_>>()
        .join(", ");
    // For each provider, one 30-minute appointment at the top of every hour, from 15 days ahead
    // backwards: the next 14 days are half booked, the rest is the clinic's history.
    h.sql(&format!(
        "INSERT INTO bookings (tenant_id, id, calendar_id, status, service, starts_at, ends_at, \
           blocked_from, blocked_until, caller_name, caller_phone, created_at, confirmed_at, updated_at) \
         SELECT t, gen_random_uuid(), (ARRAY[{calendars}])[1 + i % {n}], 'confirmed', 'Checkup', s, \
           s + interval '30 minutes', s, s + interval '30 minutes', 'Patient ' || i, \
           '+1646' || lpad(i::text, 7, '0'), now(), now(), now() \
         FROM (SELECT '{id}'::uuid AS t, i, \
                      date_trunc('hour', now()) + interval '15 days' - (i / {n}) * interval '1 hour' AS s \
               FROM generate_series(1, {bookings}) AS i) AS x; \
         ANALYZE bookings;",
        id = clinic.id
    ))?;
    let in_calendar = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}'",
        clinic.id
    ))?;
    let in_window = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}' AND starts_at >= now() \
         AND starts_at < now() + interval '{DAYS} days'",
        clinic.id
    ))?;
    let call = h.call(&clinic);
    let warmup = 20;
    let mut samples = Vec::with_capacity(queries);
    let (mut errors, mut slots) = (0, 0usize);
    for i in 0..warmup + queries {
        let date = local_date(1 + (i as i64 % DAYS)).to_string();
        let (answer, took) = call
            .tool(
                h,
                "check_availability",
                json!({"service": "Checkup", "date": date}),
            )
            .await;
        if i < warmup {
            continue;
        }
        samples.push(took);
        match answer {
            ToolAnswer::Ok(v) => slots += v["slots"].as_array().map_or(0, Vec::len),
            _ => errors += 1,
        }
    }
    Ok(AvailabilityResult {
        providers: n,
        bookings_in_calendar: in_calendar,
        bookings_in_window: in_window,
        queries,
        days: DAYS,
        latency: Latency::of(&samples),
        errors,
        mean_slots_offered: slots as f64 / queries.max(1) as f64,
    })
}

// ---------------------------------------------------------------------------------------------
// 4. outbox

#[derive(Clone, Debug, Serialize)]
pub struct OutboxResult {
    pub queued: usize,
    pub senders: usize,
    pub sms_rate_per_second_setting: u32,
    pub delivered_to_fake: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub rows_not_final: i64,
    pub rows_without_sid: i64,
    /// First to last send as the fake recorded them.
    pub send_window_s: f64,
    pub messages_per_s: f64,
    /// From the commit of the rows to the last one at the fake.
    pub end_to_end_s: f64,
    pub end_to_end_per_s: f64,
    pub api_rss_peak_mb: f64,
}

pub async fn outbox(
    h: &Arc<Harness>,
    messages: usize,
    senders: usize,
    rate_setting: u32,
) -> anyhow::Result<OutboxResult> {
    let mut ids = Vec::with_capacity(senders);
    for s in 0..senders {
        ids.push(h.create_clinic(&format!("outbox-{s}")).await?.id);
    }
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let prefix = format!("Bench outbox {run} message ");
    let tenants = ids
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    h.api.rss_window();
    let committed = Instant::now();
    h.sql(&format!(
        "INSERT INTO outbound_messages (tenant_id, id, kind, dedupe_key, to_number, body, status, \
           due_at, created_at, updated_at) \
         SELECT (ARRAY[{tenants}]::uuid[])[1 + i % {senders}], gen_random_uuid(), 'test', \
           'bench:{run}:' || i, '+1646' || lpad(i::text, 7, '0'), \
           '{prefix}' || i || '. Reply STOP to opt out.', 'pending', now(), now(), now() \
         FROM generate_series(1, {messages}) AS i"
    ))?;
    let committed_after = committed.elapsed();
    // Wait until everything reached the fake and nothing is left open (10 s of no progress
    // ends the wait: what is missing then is reported as lost).
    let mut last_progress = (0usize, Instant::now());
    let done_at = loop {
        let n = h
            .twilio
            .messages()
            .iter()
            .filter(|m| m.body.starts_with(&prefix))
            .count();
        if n >= messages {
            break Instant::now();
        }
        if n != last_progress.0 {
            last_progress = (n, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(10) {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let end_to_end = done_at - (committed + committed_after);
    // Let anything in flight land before counting duplicates.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peak = h.api.rss_window();

    let sent: Vec<_> = h
        .twilio
        .messages()
        .into_iter()
        .filter(|m| m.body.starts_with(&prefix))
        .collect();
    let mut seen = HashSet::new();
    let mut duplicated = 0;
    for m in &sent {
        if !seen.insert(m.body.clone()) {
            duplicated += 1;
        }
    }
    let lost = (1..=messages)
        .filter(|i| !seen.contains(&format!("{prefix}{i}. Reply STOP to opt out.")))
        .count();
    let first = sent.iter().map(|m| m.date_created).min();
    let last = sent.iter().map(|m| m.date_created).max();
    let window = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let scope = format!("dedupe_key LIKE 'bench:{run}:%'");
    let rows_not_final = h.sql_i64(&format!(
        "SELECT count(*) FROM outbound_messages WHERE {scope} AND status NOT IN ('queued','sent','delivered')"
    ))?;
    let rows_without_sid = h.sql_i64(&format!(
        "SELECT count(*) FROM outbound_messages WHERE {scope} AND twilio_sid IS NULL"
    ))?;
    Ok(OutboxResult {
        queued: messages,
        senders,
        sms_rate_per_second_setting: rate_setting,
        delivered_to_fake: sent.len(),
        lost,
        duplicated,
        rows_not_final,
        rows_without_sid,
        send_window_s: window,
        messages_per_s: if window > 0.0 {
            (sent.len().saturating_sub(1)) as f64 / window
        } else {
            0.0
        },
        end_to_end_s: end_to_end.as_secs_f64(),
        end_to_end_per_s: sent.len() as f64 / end_to_end.as_secs_f64(),
        api_rss_peak_mb: mb(peak),
    })
}

/// Summary used by the JSON of a run.
pub fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// 6. sign-in flood

#[derive(Clone, Debug, Serialize)]
pub struct SignInResult {
    /// Sign-ins in flight at every moment, each with a random email and a wrong password.
    pub concurrent_sign_ins: usize,
    /// Each from its own address (X-Forwarded-For, the api trusting one proxy hop), so that no
    /// per-address limit stops them before the password check: the worst case for memory.
    pub addresses: &'static str,
    pub sign_ins: usize,
    pub sign_ins_per_s: f64,
    /// HTTP status → how many answered it.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer at all.
    pub unanswered: usize,
    /// The api's peak resident set while the flood ran.
    pub api_rss_peak_mb: f64,
    /// Paced calls played against the api while the flood ran.
    pub calls: CallsResult,
}

/// `concurrent` sign-ins with random emails from random addresses, without a pause, for as long
/// as the paced calls of `cfg` take; reports the api's peak RSS and the calls' latencies.
pub async fn sign_in_flood(
    h: &Arc<Harness>,
    concurrent: usize,
    cfg: CallsConfig,
) -> anyhow::Result<SignInResult> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    // One sign-in form: its CSRF cookie and field are reused by every attempt.
    let form = h.http.get(h.url("/app/login")).send().await?;
    let cookie = form
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("the sign-in form set no cookie")?
        .to_owned();
    let html = form.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).context("no csrf field")? + marker.len();
    let token = html[start..]
        .split('"')
        .next()
        .context("no csrf value")?
        .to_owned();

    h.api.rss_window();
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let attackers: Vec<_> = (0..concurrent)
        .map(|_| {
            let (h, stop, next) = (h.clone(), stop.clone(), next.clone());
            let (cookie, token) = (cookie.clone(), token.clone());
            tokio::spawn(async move {
                let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
                let mut unanswered = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let body = format!(
                        "email=visitor{n}%40example.com&password=not-the-password-{n}&csrf={token}"
                    );
                    let address = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
                    let sent = h
                        .http
                        .post(h.url("/app/login"))
                        .header("Cookie", &cookie)
                        .header("Origin", &h.base)
                        .header("X-Forwarded-For", address)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await;
                    match sent {
                        Ok(r) => *statuses.entry(r.status().as_u16()).or_default() += 1,
                        Err(_) => unanswered += 1,
                    }
                }
                (statuses, unanswered)
            })
        })
        .collect();
    let calls = calls(h, cfg).await;
    stop.store(true, Ordering::Relaxed);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut unanswered = 0;
    for a in attackers {
        let (s, u) = a.await?;
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        unanswered += u;
    }
    let wall = started.elapsed().as_secs_f64();
    let calls = calls?;
    let peak = h.api.rss_window().max((calls.api_rss_peak_mb * 1e6) as u64);
    let sign_ins = statuses.values().sum::<usize>() + unanswered;
    Ok(SignInResult {
        concurrent_sign_ins: concurrent,
        addresses: "one per attempt",
        sign_ins,
        sign_ins_per_s: sign_ins as f64 / wall,
        statuses,
        unanswered,
        api_rss_peak_mb: mb(peak),
        calls,
    })
}
