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

/// Busy time that a booking overlaps: the booking's id for every confirmed booking in `bookings`
/// whose blocked time meets any interval of `outside` (an event that arrived after the booking
/// was made). Shown to the owner as a conflict; never cancelled by us.
pub fn conflicts<'a>(
    bookings: impl IntoIterator<Item = &'a crate::booking::Booking>,
    outside: &[Interval],
) -> Vec<crate::ids::BookingId> {
    bookings
        .into_iter()
        .filter(|b| b.status == crate::booking::BookingStatus::Confirmed)
        .filter(|b| outside.iter().any(|i| i.overlaps(&b.slot)))
        .map(|b| b.id)
        .collect()
}
