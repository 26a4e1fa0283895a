//! One step of the background work for outside calendars: the syncs that are due, then the
//! write queue. The api runs [`CalendarWorker::step`] in a loop; a tool call never waits on a
//! calendar server, it reads what the last sync stored.

use std::sync::Arc;

use jiff::SignedDuration;

use crate::booking::Interval;
use crate::outside_calendar::ports::{CalendarSyncStore, OutsideCalendar};
use crate::outside_calendar::sync::{
    CalendarProblem, SyncClaim, SyncPoint, SyncResult, backoff, needs_full_sync,
};
use crate::outside_calendar::writes::{ClaimedWrite, WriteOutcome};
use crate::ports::{Clock, StoreResult};

/// How often and how far.
#[derive(Clone, Debug)]
pub struct CalendarSyncConfig {
    /// Names this worker's write claims.
    pub worker: String,
    /// The busy time is never older than this while the server answers: each link is synced
    /// twice per bound. Default 60 s.
    pub staleness_bound: SignedDuration,
    /// How far ahead recurring events are expanded (the booking horizon). Default 120 days.
    pub horizon: SignedDuration,
    /// How long a claim is held before another worker may take it over.
    pub lease: SignedDuration,
    /// First wait after a failure; doubles on each failure in a row.
    pub backoff_base: SignedDuration,
    /// Longest wait between tries.
    pub backoff_cap: SignedDuration,
    /// Links and writes claimed per step.
    pub batch: u32,
}

impl Default for CalendarSyncConfig {
    fn default() -> Self {
        Self {
            worker: "calendar-worker".into(),
            staleness_bound: SignedDuration::from_secs(60),
            horizon: SignedDuration::from_hours(24 * 120),
            lease: SignedDuration::from_secs(120),
            backoff_base: SignedDuration::from_secs(5),
            backoff_cap: SignedDuration::from_mins(5),
            batch: 20,
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CalendarReport {
    pub synced: u32,
    /// The kinds of the syncs that failed ([`CalendarProblem::kind`]).
    pub sync_failures: Vec<&'static str>,
    pub queued: u32,
    pub written: u32,
    pub write_failures: Vec<&'static str>,
}

impl CalendarReport {
    /// Whether the step found nothing to do.
    pub fn is_idle(&self) -> bool {
        self.synced == 0
            && self.sync_failures.is_empty()
            && self.written == 0
            && self.write_failures.is_empty()
    }
}

/// Syncs due links and writes due events.
#[derive(Clone)]
pub struct CalendarWorker {
    store: Arc<dyn CalendarSyncStore>,
    outside: Arc<dyn OutsideCalendar>,
    clock: Arc<dyn Clock>,
    config: CalendarSyncConfig,
}

impl CalendarWorker {
    pub fn new(
        store: Arc<dyn CalendarSyncStore>,
        outside: Arc<dyn OutsideCalendar>,
        clock: Arc<dyn Clock>,
        config: CalendarSyncConfig,
    ) -> Self {
        Self {
            store,
            outside,
            clock,
            config,
        }
    }

    pub fn config(&self) -> &CalendarSyncConfig {
        &self.config
    }

    /// One round: due syncs, the write queue brought in line with the bookings, due writes.
    /// `Err` only for the store's own failures.
    pub async fn step(&self) -> StoreResult<CalendarReport> {
        let mut report = CalendarReport::default();
        let now = self.clock.now();
        let claims = self
            .store
            .claim_due_syncs(now, self.config.batch, now + self.config.lease)
            .await?;
        for claim in claims {
            match self.sync_one(&claim).await? {
                None => report.synced += 1,
                Some(kind) => report.sync_failures.push(kind),
            }
        }
        let now = self.clock.now();
        report.queued = self.store.queue_booking_writes(now).await?;
        let writes = self
            .store
            .claim_calendar_writes(
                now,
                self.config.batch,
                now + self.config.lease,
                &self.config.worker,
            )
            .await?;
        for claim in writes {
            match self.write_one(&claim).await? {
                None => report.written += 1,
                Some(kind) => report.write_failures.push(kind),
            }
        }
        Ok(report)
    }

    /// Syncs one claimed link; the kind of problem when it failed.
    async fn sync_one(&self, claim: &SyncClaim) -> StoreResult<Option<&'static str>> {
        let now = self.clock.now();
        let full = needs_full_sync(claim.expanded_until, now, self.config.horizon);
        let since = if full {
            SyncPoint::start()
        } else {
            claim.since.clone()
        };
        // Events that started a day ago may still be running; the horizon is the booking one.
        let horizon = Interval {
            start: now - SignedDuration::from_hours(24),
            end: now + self.config.horizon,
        };
        let outcome = self.outside.changes(&claim.link, &since, horizon).await;
        let done = self.clock.now();
        let (result, failure) = match outcome {
            Ok(changes) => (
                SyncResult::Synced {
                    changes,
                    next_sync_at: done + self.config.staleness_bound / 2,
                },
                None,
            ),
            Err(problem) => {
                let kind = problem.kind();
                let failures = self
                    .store
                    .calendar_status(claim.link.tenant, claim.link.calendar)
                    .await?
                    .map_or(1, |s| s.consecutive_failures + 1);
                let wait = retry_wait(&problem, failures, &self.config);
                (
                    SyncResult::Failed {
                        problem,
                        next_sync_at: done + wait,
                    },
                    Some(kind),
                )
            }
        };
        self.store.record_sync(claim, &result, done).await?;
        Ok(failure)
    }

    /// Writes or removes one claimed event; the kind of problem when it failed.
    async fn write_one(&self, claim: &ClaimedWrite) -> StoreResult<Option<&'static str>> {
        let outcome = match &claim.write.wanted {
            Some(event) => self.outside.write_event(&claim.link, event).await,
            None => {
                self.outside
                    .remove_event(&claim.link, &claim.write.uid)
                    .await
            }
        };
        let now = self.clock.now();
        let (recorded, failure) = match outcome {
            Ok(()) => (WriteOutcome::Written, None),
            Err(problem) => {
                let kind = problem.kind();
                let wait = retry_wait(&problem, claim.write.attempts + 1, &self.config);
                (
                    WriteOutcome::Retry {
                        problem,
                        next_attempt_at: now + wait,
                    },
                    Some(kind),
                )
            }
        };
        self.store
            .record_calendar_write(claim, &recorded, now)
            .await?;
        Ok(failure)
    }
}

/// The wait after `failures` failures in a row. Refused credentials and a missing calendar need
/// the owner: tried again at the cap, not hammered.
fn retry_wait(
    problem: &CalendarProblem,
    failures: u32,
    config: &CalendarSyncConfig,
) -> SignedDuration {
    match problem {
        CalendarProblem::Refused { .. } | CalendarProblem::NotFound => config.backoff_cap,
        _ => backoff(failures, config.backoff_base, config.backoff_cap),
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::outside_calendar::link::{
        CalendarCredentials, CalendarLink, CalendarUrl, FoundCalendar, OurEvent, OurEventUid,
    };
    use crate::outside_calendar::sync::{
        CalendarChanges, ChangeScope, OutsideResource, SyncHealth, SyncPoint,
    };
    use crate::testing::{self, ManualClock};

    /// A calendar server in memory that answers what it is told to.
    struct ScriptedCalendar {
        answer: Mutex<Result<Vec<Interval>, CalendarProblem>>,
        seen: Mutex<Vec<SyncPoint>>,
    }

    #[async_trait]
    impl OutsideCalendar for ScriptedCalendar {
        async fn find_calendars(
            &self,
            _: &CalendarUrl,
            _: &CalendarCredentials,
        ) -> Result<Vec<FoundCalendar>, CalendarProblem> {
            Ok(Vec::new())
        }
        async fn changes(
            &self,
            _: &CalendarLink,
            since: &SyncPoint,
            horizon: Interval,
        ) -> Result<CalendarChanges, CalendarProblem> {
            self.seen.lock().unwrap().push(since.clone());
            let busy = self.answer.lock().unwrap().clone()?;
            Ok(CalendarChanges {
                scope: ChangeScope::Everything,
                changed: vec![OutsideResource {
                    href: "/c/1.ics".into(),
                    etag: "\"1\"".into(),
                    busy,
                }],
                removed: Vec::new(),
                token: Some("t".into()),
                expanded_until: horizon.end,
            })
        }
        async fn write_event(&self, _: &CalendarLink, _: &OurEvent) -> Result<(), CalendarProblem> {
            Ok(())
        }
        async fn remove_event(
            &self,
            _: &CalendarLink,
            _: &OurEventUid,
        ) -> Result<(), CalendarProblem> {
            Ok(())
        }
    }

    /// Synced twice per staleness bound while the server answers; refused credentials are
    /// tried again only at the backoff cap; the busy time of the last good sync is kept.
    #[tokio::test]
    async fn syncs_within_the_bound_and_backs_off_on_refusal() {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(testing::base_time()));
        let t = testing::create_tenant(store.as_ref(), "Worker Clinic").await;
        let link = CalendarLink {
            tenant: t.id,
            calendar: t.calendar(),
            url: CalendarUrl::parse("https://cal.example.com/x/").unwrap(),
            credentials: CalendarCredentials::Token(crate::tenant::Secret::new("t")),
            zone: t.config.zone.clone(),
        };
        store.link_calendar(&link, clock.now()).await.unwrap();
        let busy = testing::span(0, 60);
        let outside = Arc::new(ScriptedCalendar {
            answer: Mutex::new(Ok(vec![busy])),
            seen: Mutex::new(Vec::new()),
        });
        let config = CalendarSyncConfig::default();
        let worker = CalendarWorker::new(
            store.clone(),
            outside.clone(),
            clock.clone(),
            config.clone(),
        );
        let window = testing::span(-600, 2000);

        assert_eq!(worker.step().await.unwrap().synced, 1);
        assert_eq!(
            store
                .outside_busy(t.id, t.calendar(), window)
                .await
                .unwrap(),
            [busy]
        );
        // Half the bound later it is due again, and starts from the stored sync point.
        clock.advance(config.staleness_bound / 2 - SignedDuration::from_secs(1));
        assert_eq!(worker.step().await.unwrap().synced, 0);
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(worker.step().await.unwrap().synced, 1);
        let seen = outside.seen.lock().unwrap().clone();
        assert!(seen[0].is_start());
        assert_eq!(seen[1].token.as_deref(), Some("t"));

        *outside.answer.lock().unwrap() = Err(CalendarProblem::Refused { status: 401 });
        clock.advance(config.staleness_bound / 2);
        let report = worker.step().await.unwrap();
        assert_eq!(report.sync_failures, ["wrong_credentials"]);
        let status = store
            .calendar_status(t.id, t.calendar())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            status.health,
            SyncHealth::Failing(CalendarProblem::Refused { status: 401 })
        );
        assert_eq!(
            store
                .outside_busy(t.id, t.calendar(), window)
                .await
                .unwrap(),
            [busy],
            "the last good busy time is kept"
        );
        clock.advance(config.backoff_cap - SignedDuration::from_secs(1));
        assert!(worker.step().await.unwrap().is_idle(), "not hammered");
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(worker.step().await.unwrap().sync_failures.len(), 1);
    }
}
