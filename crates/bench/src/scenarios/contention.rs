//! Contention: many callers reserve one start at once.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::local_date;
use crate::harness::{Harness, ToolAnswer, cpu_seconds, mb};
use crate::stats::Latency;

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
    /// CPU seconds the api, PostgreSQL and this process (the callers) used from the release to
    /// the last answer: where the time of the race goes.
    pub api_cpu_s: f64,
    pub postgres_cpu_s: f64,
    pub callers_cpu_s: f64,
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
    let cpu = || {
        (
            cpu_seconds(h.api.pid),
            h.postgres_cpu_seconds(),
            cpu_seconds(std::process::id()),
        )
    };
    let cpu_before = cpu();
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
        api_cpu_s: 0.0,
        postgres_cpu_s: 0.0,
        callers_cpu_s: 0.0,
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
    let cpu_after = cpu();
    result.api_cpu_s = cpu_after.0 - cpu_before.0;
    result.postgres_cpu_s = cpu_after.1 - cpu_before.1;
    result.callers_cpu_s = cpu_after.2 - cpu_before.2;
    result.api_rss_peak_mb = mb(h.api.rss_window());
    result.latency = Latency::of(&samples);
    result.last_answer_ms = (last - released).as_secs_f64() * 1e3;
    result.held_rows = h.sql_i64(&format!(
        "SELECT count(*) FROM bookings WHERE tenant_id = '{}' AND status IN ('held','confirmed')",
        clinic.id
    ))?;
    Ok(result)
}
