//! Several api instances over one database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{CallsConfig, CallsResult, calls};
use crate::harness::{Harness, mb};

#[derive(Clone, Debug, Serialize)]
pub struct InstancesResult {
    pub instances: usize,
    /// Paced calls, their Vapi requests alternating between the two apis.
    pub calls: CallsResult,
    /// Texts the run's clinics queued (OTPs, confirmations, hot-lead alerts).
    pub texts_queued: i64,
    /// Of those, texts at the fake exactly once (matched by Twilio sid).
    pub texts_once: usize,
    /// Queued texts never at the fake, or not yet final.
    pub texts_lost: i64,
    /// Texts at the fake for the run's numbers that no queued row accounts for (a second send).
    pub texts_duplicated: usize,
    /// Confirmed appointments of the run's clinics (one per completed call expected).
    pub confirmed: i64,
    /// Holds left unconfirmed and unexpired (0 expected: every call verified its hold).
    pub holds_left: i64,
    /// Wrong passwords for one account from one address, sent at once, alternating between the
    /// apis: how many were checked (401; 5 expected), throttled (429), or still turned away busy
    /// (503) after 20 tries; an attempt turned away busy is not counted, and is tried again.
    pub sign_in_attempts: usize,
    pub sign_in_checked: usize,
    pub sign_in_throttled: usize,
    pub sign_in_busy: usize,
    pub sign_in_busy_retries: usize,
    pub sign_in_other: usize,
    pub second_api_rss_peak_mb: f64,
}

/// The calls scenario against two api processes over one database, requests alternating between
/// them; then checks every text went out once, every hold became an appointment, and the sign-in
/// limit held for the pair.
pub async fn instances(
    h: &Arc<Harness>,
    calls_n: usize,
    think_ms: u64,
) -> anyhow::Result<InstancesResult> {
    let second = h.start_second().await?;
    h.second_rss_window();
    let label = "instances";
    let cfg = CallsConfig {
        label: label.into(),
        calls: calls_n,
        think_ms,
        ramp_ms: 2 * think_ms,
        calls_per_tenant: 20,
    };
    let result = async {
        let calls = calls(h, cfg).await?;
        let scope = format!(
            "tenant_id IN (SELECT id FROM tenants WHERE name LIKE 'Bench Clinic {label}-%')"
        );
        // Every queued text final (or 30 s without progress).
        let deadline = Instant::now() + Duration::from_secs(30);
        while h.sql_i64(&format!(
            "SELECT count(*) FROM outbound_messages WHERE {scope} \
             AND status IN ('pending','sending','ambiguous') AND due_at <= now()"
        ))? > 0
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Reminders fall due a day before their appointment: not part of this run.
        let rows = h.sql(&format!(
            "SELECT to_number, twilio_sid FROM outbound_messages WHERE {scope} AND due_at <= now()"
        ))?;
        let numbers: HashSet<String> = rows.iter().filter_map(|r| r[0].clone()).collect();
        let sids: HashSet<String> = rows.iter().filter_map(|r| r[1].clone()).collect();
        let at_fake: Vec<_> = h
            .twilio
            .messages()
            .into_iter()
            .filter(|m| numbers.contains(&m.to))
            .collect();
        let mut seen = HashSet::new();
        let texts_once = at_fake
            .iter()
            .filter(|m| sids.contains(&m.sid) && seen.insert(m.sid.clone()))
            .count();
        let texts_duplicated = at_fake.len() - texts_once;
        let confirmed = h.sql_i64(&format!(
            "SELECT count(*) FROM bookings WHERE {scope} AND status = 'confirmed'"
        ))?;
        let holds_left = h.sql_i64(&format!(
            "SELECT count(*) FROM bookings WHERE {scope} AND status = 'held' AND hold_expires_at > now()"
        ))?;
        let attempts = 40;
        let (busy_retries, statuses) = sign_ins_across(h, &second, attempts).await?;
        let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
        Ok::<_, anyhow::Error>(InstancesResult {
            instances: 2,
            texts_queued: rows.len() as i64,
            texts_once,
            texts_lost: rows.len() as i64 - texts_once as i64,
            texts_duplicated,
            confirmed,
            holds_left,
            sign_in_attempts: attempts,
            sign_in_checked: count(401),
            sign_in_throttled: count(429),
            sign_in_busy: count(503),
            sign_in_busy_retries: busy_retries,
            sign_in_other: attempts - count(401) - count(429) - count(503),
            second_api_rss_peak_mb: mb(h.second_rss_window()),
            calls,
        })
    }
    .await;
    h.stop_second();
    result
}

/// `n` wrong passwords for one email from one address at once, alternating between the first
/// api and `second`; how many times one was turned away busy and tried again, and the final
/// statuses.
async fn sign_ins_across(
    h: &Arc<Harness>,
    second: &str,
    n: usize,
) -> anyhow::Result<(usize, Vec<u16>)> {
    let (cookie, token) = h.login_form().await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let base = if i % 2 == 0 {
                h.base.clone()
            } else {
                second.to_owned()
            };
            let (h, cookie, token, run) = (h.clone(), cookie.clone(), token.clone(), run.clone());
            tokio::spawn(async move {
                // Turned away busy (503, not counted): tried again, as a browser would be.
                let mut busy = 0;
                loop {
                    let status = h
                        .http
                        .post(format!("{base}/app/login"))
                        .header("Cookie", &cookie)
                        .header("Origin", &base)
                        .header("X-Forwarded-For", "192.0.2.44")
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(format!(
                            "email=target-{run}%40example.com&password=not-the-password&csrf={token}"
                        ))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != 503 || busy >= 20 {
                        return (status, busy);
                    }
                    busy += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        })
        .collect();
    let mut statuses = Vec::with_capacity(n);
    let mut retries = 0;
    for t in tasks {
        let (status, busy) = t.await?;
        statuses.push(status);
        retries += busy;
    }
    Ok((retries, statuses))
}
