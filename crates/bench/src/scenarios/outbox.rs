//! The outbox: pending texts dispatched to the fake Twilio.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::harness::{Harness, mb};

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
