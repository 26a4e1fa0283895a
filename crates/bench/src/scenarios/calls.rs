//! The calls scenario: N concurrent whole calls, paced or saturated.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use super::local_date;
use crate::harness::{Clinic, Harness, ToolAnswer, mb};
use crate::stats::Latency;

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

#[derive(Clone, Debug, Serialize)]
pub struct CallsConfig {
    /// Names the run's clinics (`Bench Clinic <label>-<n>`).
    pub label: String,
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
        clinics.push(h.create_clinic(&format!("{}-{t}", cfg.label)).await?);
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
