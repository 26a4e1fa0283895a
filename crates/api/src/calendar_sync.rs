//! The clinics' own calendars in the background: the loop that syncs linked calendars and
//! writes appointments into them ([`booking_core::outside_calendar::CalendarWorker`]), and the
//! figures `/metrics` shows about it. A tool call never waits on a calendar server: it reads the
//! busy time the last sync stored.

use std::sync::Arc;
use std::time::Duration;

use std::collections::{BTreeSet, HashSet};

use booking_core::BookingId;
use booking_core::booking::Interval;
use booking_core::outside_calendar::{CalendarReport, CalendarSyncStore, CalendarWorker};
use booking_core::ports::Clock;
use booking_core::service::BookingService;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// How often the links' health and lag are read for `/metrics`.
const HEALTH_EVERY: Duration = Duration::from_secs(10);

/// Runs the calendar worker until told to stop: a step, then a pause (short while there is
/// work, a second when idle).
pub async fn calendar_loop(
    worker: CalendarWorker,
    store: Arc<dyn CalendarSyncStore>,
    service: BookingService,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let bound = worker.config().staleness_bound;
    let horizon = worker.config().horizon;
    let mut seen = HashSet::new();
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
            record_conflicts(
                &metrics,
                &service,
                store.as_ref(),
                clock.now(),
                horizon,
                &mut seen,
            )
            .await;
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

/// Counts the appointments from now to the horizon that collide with an event of their
/// provider's own calendar (`calendar_conflicts` gauge) and logs each one the first time it is
/// seen (`seen` remembers them). They are the owner's to resolve: nothing is cancelled.
pub async fn record_conflicts(
    m: &Metrics,
    service: &BookingService,
    store: &dyn CalendarSyncStore,
    now: jiff::Timestamp,
    horizon: jiff::SignedDuration,
    seen: &mut HashSet<BookingId>,
) {
    let statuses = match store.calendar_statuses().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "calendar conflicts: links unavailable");
            return;
        }
    };
    let tenants: BTreeSet<_> = statuses.iter().map(|s| s.tenant).collect();
    let window = Interval {
        start: now,
        end: now + horizon,
    };
    let mut total = 0_u32;
    for id in tenants {
        let tenant = match service.store().tenant(id).await {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "calendar conflicts: tenant unavailable");
                return;
            }
        };
        let conflicts = match service.calendar_conflicts(&tenant, window).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "calendar conflicts unavailable");
                return;
            }
        };
        for c in &conflicts {
            if seen.insert(c.booking) {
                tracing::warn!(
                    tenant = %tenant.id,
                    booking = %c.booking,
                    provider = %c.provider,
                    starts_at = %c.slot.start,
                    "an appointment collides with an event of the clinic's own calendar (kept; shown to the owner)"
                );
            }
        }
        total += conflicts.len() as u32;
    }
    m.set("calendar_conflicts", &[], f64::from(total));
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

    /// An appointment that an event synced later collides with is counted (and logged once);
    /// it stays confirmed. One the event does not meet is not counted.
    #[tokio::test]
    async fn conflicts_are_counted_and_the_bookings_kept() {
        use booking_core::booking::BookingStatus;
        use booking_core::otp::OtpHasher;
        use booking_core::ports::BookingStore as _;
        use booking_core::service::ServiceConfig;
        use booking_core::testing::{ManualClock, SeededRandom};

        let store = Arc::new(MemoryStore::new());
        let now = testing::base_time();
        let t = testing::create_tenant(store.as_ref(), "Conflict Clinic").await;
        let phone = testing::random_phone();
        let hit = testing::confirmed(store.as_ref(), &t, testing::span(0, 60), &phone, now).await;
        let missed =
            testing::confirmed(store.as_ref(), &t, testing::span(120, 60), &phone, now).await;
        let link = CalendarLink {
            tenant: t.id,
            calendar: t.calendar(),
            url: CalendarUrl::parse("https://cal.example.com/dav/x/").unwrap(),
            credentials: CalendarCredentials::Token(booking_core::tenant::Secret::new("t")),
            zone: t.config.zone.clone(),
        };
        store.link_calendar(&link, now).await.unwrap();
        let claims = store
            .claim_due_syncs(now, 10, now + SignedDuration::from_mins(2))
            .await
            .unwrap();
        let synced = SyncResult::Synced {
            changes: CalendarChanges {
                scope: ChangeScope::Everything,
                changed: vec![booking_core::outside_calendar::OutsideResource {
                    href: "/x/meeting.ics".into(),
                    etag: "\"1\"".into(),
                    busy: vec![testing::span(30, 60)],
                }],
                removed: Vec::new(),
                token: None,
                expanded_until: now + SignedDuration::from_hours(24 * 120),
            },
            next_sync_at: now + SignedDuration::from_secs(30),
        };
        store.record_sync(&claims[0], &synced, now).await.unwrap();
        let service = BookingService::new(
            store.clone(),
            store.clone(),
            Arc::new(ManualClock::new(now)),
            Arc::new(SeededRandom::new(1)),
            OtpHasher::new(vec![3u8; 32]).unwrap(),
            ServiceConfig::default(),
        );
        let m = Metrics::default();
        let mut seen = HashSet::new();
        for _ in 0..2 {
            record_conflicts(
                &m,
                &service,
                store.as_ref(),
                now,
                SignedDuration::from_hours(24 * 120),
                &mut seen,
            )
            .await;
        }
        let text = m.render();
        assert!(text.contains("calendar_conflicts 1"), "{text}");
        assert_eq!(seen.iter().copied().collect::<Vec<_>>(), [hit]);
        for id in [hit, missed] {
            let b = store.booking(t.id, id).await.unwrap().unwrap();
            assert_eq!(b.status, BookingStatus::Confirmed);
        }
    }
}
