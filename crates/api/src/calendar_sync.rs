//! The clinics' own calendars in the background: the loop that syncs linked calendars and
//! writes appointments into them ([`booking_core::outside_calendar::CalendarWorker`]), and the
//! figures `/metrics` shows about it. A tool call never waits on a calendar server: it reads the
//! busy time the last sync stored.

use std::sync::Arc;
use std::time::Duration;

use booking_core::outside_calendar::{CalendarReport, CalendarSyncStore, CalendarWorker};
use booking_core::ports::Clock;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// How often the links' health and lag are read for `/metrics`.
const HEALTH_EVERY: Duration = Duration::from_secs(10);

/// Runs the calendar worker until told to stop: a step, then a pause (short while there is
/// work, a second when idle).
pub async fn calendar_loop(
    worker: CalendarWorker,
    store: Arc<dyn CalendarSyncStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let bound = worker.config().staleness_bound;
    let mut last_health = std::time::Instant::now() - HEALTH_EVERY;
    loop {
        if *stop.borrow() {
            break;
        }
        let idle = match worker.step().await {
            Ok(report) => {
                record_report(&metrics, &report);
                report.is_idle()
            }
            Err(e) => {
                tracing::warn!(error = %e, "calendar step failed");
                true
            }
        };
        if last_health.elapsed() >= HEALTH_EVERY {
            last_health = std::time::Instant::now();
            record_health(&metrics, store.as_ref(), clock.now(), bound).await;
        }
        let pause = if idle {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(50)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Counts what a step did.
pub fn record_report(m: &Metrics, r: &CalendarReport) {
    for _ in 0..r.synced {
        m.inc("calendar_syncs_total", &[("result", "ok")]);
    }
    for kind in &r.sync_failures {
        m.inc("calendar_syncs_total", &[("result", kind)]);
        tracing::info!(problem = kind, "a calendar sync failed");
    }
    for _ in 0..r.written {
        m.inc("calendar_writes_total", &[("result", "written")]);
    }
    for kind in &r.write_failures {
        m.inc("calendar_writes_total", &[("result", kind)]);
    }
}

/// Sets the gauges of the links' health: how many links are in each health, how many hold busy
/// time older than the staleness bound, and the oldest busy time held (seconds).
pub async fn record_health(
    m: &Metrics,
    store: &dyn CalendarSyncStore,
    now: jiff::Timestamp,
    bound: jiff::SignedDuration,
) {
    let statuses = match store.calendar_statuses().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: calendar links unavailable");
            return;
        }
    };
    let mut lag = 0.0_f64;
    let mut stale = 0;
    let mut by_health: std::collections::BTreeMap<&'static str, u32> = [
        "ok",
        "not_synced_yet",
        "unreachable",
        "wrong_credentials",
        "not_found",
        "bad_data",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    for s in &statuses {
        lag = lag.max(s.lag(now).as_secs_f64());
        if s.is_stale(now, bound) {
            stale += 1;
        }
        *by_health.entry(s.health.kind()).or_default() += 1;
    }
    m.set("calendar_sync_lag_seconds", &[], lag);
    m.set("calendar_links_stale", &[], f64::from(stale));
    for (health, n) in by_health {
        m.set("calendar_links", &[("health", health)], f64::from(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::memory::MemoryStore;
    use booking_core::outside_calendar::{
        CalendarChanges, CalendarCredentials, CalendarLink, CalendarProblem, CalendarUrl,
        ChangeScope, SyncResult,
    };
    use booking_core::testing;
    use jiff::SignedDuration;

    /// The lag is the age of the oldest busy time held; a link whose syncs fail shows in its
    /// health and in the stale count.
    #[tokio::test]
    async fn health_gauges_show_lag_failures_and_staleness() {
        let store = MemoryStore::new();
        let now = testing::base_time();
        let mut links = Vec::new();
        for name in ["Fresh Clinic", "Failing Clinic"] {
            let t = testing::create_tenant(&store, name).await;
            let link = CalendarLink {
                tenant: t.id,
                calendar: t.calendar(),
                url: CalendarUrl::parse("https://cal.example.com/dav/x/").unwrap(),
                credentials: CalendarCredentials::Token(booking_core::tenant::Secret::new("t")),
                zone: t.config.zone.clone(),
            };
            store.link_calendar(&link, now).await.unwrap();
            links.push(link);
        }
        let claims = store
            .claim_due_syncs(now, 10, now + SignedDuration::from_mins(2))
            .await
            .unwrap();
        for c in &claims {
            let result = if c.link == links[0] {
                SyncResult::Synced {
                    changes: CalendarChanges {
                        scope: ChangeScope::Everything,
                        changed: Vec::new(),
                        removed: Vec::new(),
                        token: None,
                        expanded_until: now + SignedDuration::from_hours(24 * 120),
                    },
                    next_sync_at: now + SignedDuration::from_secs(30),
                }
            } else {
                SyncResult::Failed {
                    problem: CalendarProblem::Refused { status: 401 },
                    next_sync_at: now + SignedDuration::from_mins(5),
                }
            };
            store.record_sync(c, &result, now).await.unwrap();
        }
        let m = Metrics::default();
        let later = now + SignedDuration::from_secs(90);
        record_health(&m, &store, later, SignedDuration::from_secs(60)).await;
        let text = m.render();
        assert!(text.contains("calendar_sync_lag_seconds 90"), "{text}");
        assert!(text.contains("calendar_links_stale 2"), "{text}");
        assert!(text.contains("calendar_links{health=\"ok\"} 1"), "{text}");
        assert!(
            text.contains("calendar_links{health=\"wrong_credentials\"} 1"),
            "{text}"
        );
        record_report(
            &m,
            &CalendarReport {
                synced: 1,
                sync_failures: vec!["unreachable"],
                queued: 0,
                written: 2,
                write_failures: vec!["unreachable"],
            },
        );
        let text = m.render();
        assert!(
            text.contains("calendar_syncs_total{result=\"unreachable\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("calendar_writes_total{result=\"written\"} 2"),
            "{text}"
        );
    }
}
