//! A sign-in flood while paced calls play.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{CallsConfig, CallsResult, calls};
use crate::harness::{Harness, mb};

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
    let (cookie, token) = h.login_form().await?;

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
