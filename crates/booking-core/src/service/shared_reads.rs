//! Reads of occupied time shared by the callers who ask for the same thing at the same moment.
//!
//! A read of occupied time is our bookings and the synced events of the providers' own
//! calendars over a window: two round trips, both shared.
//!
//! When many callers race for one start, every loser reads the same calendars over the same
//! day to find its alternatives (and, with several providers, to choose whom to try). Each of
//! those reads is a round trip that queues for a pooled connection behind the others. Here the
//! first caller's read is shared with every identical one that arrives while it is in flight;
//! once it is answered (or its first waiter goes away) the next caller reads afresh. Nothing is
//! kept after that: an answer is never older than a read that was still running when it was
//! asked for.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use jiff::Timestamp;

use crate::booking::{Interval, Occupied};
use crate::ids::{CalendarId, TenantId};
use crate::outside_calendar::CalendarSyncStore;
use crate::ports::{Store, StoreError};

use super::in_flight::InFlight;

type Key = (TenantId, Vec<CalendarId>, Interval);
type Read = Shared<BoxFuture<'static, Result<Arc<Vec<Occupied>>, StoreError>>>;

/// The reads in flight, by what they read.
#[derive(Default)]
pub(super) struct SharedReads {
    in_flight: InFlight<Key, Read>,
}

impl SharedReads {
    /// `store.occupied(tenant, calendars, window, now)` followed by the calendars' synced
    /// outside events (`outside.outside_busy_of`), or the answer of an identical read already
    /// in flight (whose `now` is at most that read's duration earlier).
    pub(super) async fn occupied(
        &self,
        store: &Arc<dyn Store>,
        outside: &Arc<dyn CalendarSyncStore>,
        tenant: TenantId,
        calendars: Vec<CalendarId>,
        window: Interval,
        now: Timestamp,
    ) -> Result<Arc<Vec<Occupied>>, StoreError> {
        let (read, _ticket, _) =
            self.in_flight
                .join_or_start((tenant, calendars.clone(), window), || {
                    let (store, outside) = (store.clone(), outside.clone());
                    async move {
                        let mut busy = store.occupied(tenant, &calendars, window, now).await?;
                        let events = outside.outside_busy_of(tenant, &calendars, window).await?;
                        busy.extend(events.into_iter().map(|(calendar, interval)| {
                            Occupied::outside_event(calendar, interval)
                        }));
                        Ok(Arc::new(busy))
                    }
                    .boxed()
                    .shared()
                });
        read.await
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::ids::CalendarId;
    use crate::memory::MemoryStore;
    use crate::outside_calendar::{
        CalendarLink, CalendarStatus, CalendarWrite, ClaimedWrite, SyncClaim, SyncResult,
        WriteOutcome,
    };
    use crate::ports::StoreResult;
    use crate::testing::{base_time, create_tenant};

    /// The memory store's calendars, counting the reads of outside busy time and holding each
    /// one until the test lets it through.
    struct Gated {
        inner: Arc<MemoryStore>,
        reads: AtomicUsize,
        gate: Semaphore,
    }

    #[async_trait]
    impl CalendarSyncStore for Gated {
        async fn link_calendar(&self, link: &CalendarLink, now: Timestamp) -> StoreResult<()> {
            self.inner.link_calendar(link, now).await
        }
        async fn unlink_calendar(&self, t: TenantId, c: CalendarId) -> StoreResult<bool> {
            self.inner.unlink_calendar(t, c).await
        }
        async fn calendar_link(
            &self,
            t: TenantId,
            c: CalendarId,
        ) -> StoreResult<Option<CalendarLink>> {
            self.inner.calendar_link(t, c).await
        }
        async fn calendar_status(
            &self,
            t: TenantId,
            c: CalendarId,
        ) -> StoreResult<Option<CalendarStatus>> {
            self.inner.calendar_status(t, c).await
        }
        async fn calendar_statuses(&self) -> StoreResult<Vec<CalendarStatus>> {
            self.inner.calendar_statuses().await
        }
        async fn claim_due_syncs(
            &self,
            now: Timestamp,
            limit: u32,
            lease_until: Timestamp,
        ) -> StoreResult<Vec<SyncClaim>> {
            self.inner.claim_due_syncs(now, limit, lease_until).await
        }
        async fn record_sync(
            &self,
            claim: &SyncClaim,
            result: &SyncResult,
            now: Timestamp,
        ) -> StoreResult<bool> {
            self.inner.record_sync(claim, result, now).await
        }
        async fn outside_busy(
            &self,
            t: TenantId,
            c: CalendarId,
            window: Interval,
        ) -> StoreResult<Vec<Interval>> {
            self.inner.outside_busy(t, c, window).await
        }
        async fn outside_busy_of(
            &self,
            t: TenantId,
            calendars: &[CalendarId],
            window: Interval,
        ) -> StoreResult<Vec<(CalendarId, Interval)>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.gate
                .acquire()
                .await
                .expect("the gate stays open")
                .forget();
            self.inner.outside_busy_of(t, calendars, window).await
        }
        async fn queue_booking_writes(&self, now: Timestamp) -> StoreResult<u32> {
            self.inner.queue_booking_writes(now).await
        }
        async fn claim_calendar_writes(
            &self,
            now: Timestamp,
            limit: u32,
            lease_until: Timestamp,
            worker: &str,
        ) -> StoreResult<Vec<ClaimedWrite>> {
            self.inner
                .claim_calendar_writes(now, limit, lease_until, worker)
                .await
        }
        async fn record_calendar_write(
            &self,
            claim: &ClaimedWrite,
            outcome: &WriteOutcome,
            now: Timestamp,
        ) -> StoreResult<bool> {
            self.inner.record_calendar_write(claim, outcome, now).await
        }
        async fn calendar_writes(
            &self,
            t: TenantId,
            c: CalendarId,
        ) -> StoreResult<Vec<CalendarWrite>> {
            self.inner.calendar_writes(t, c).await
        }
    }

    #[tokio::test]
    async fn identical_reads_in_flight_make_one_read_of_each_kind_and_none_is_kept() {
        let memory = Arc::new(MemoryStore::new());
        let tenant = create_tenant(memory.as_ref(), "Shared Dental").await;
        let gated = Arc::new(Gated {
            inner: memory.clone(),
            reads: AtomicUsize::new(0),
            gate: Semaphore::new(0),
        });
        let (store, outside): (Arc<dyn Store>, Arc<dyn CalendarSyncStore>) =
            (memory.clone(), gated.clone());
        let now = base_time();
        let window = Interval::new(now, now + jiff::SignedDuration::from_hours(8)).unwrap();
        let calendars = vec![CalendarId::default_for(tenant.id)];
        let reads = SharedReads::default();

        let twenty =
            futures_util::future::join_all((0..20).map(|_| {
                reads.occupied(&store, &outside, tenant.id, calendars.clone(), window, now)
            }));
        let open = async {
            // Every reader is waiting on the one read before it is let through.
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            assert_eq!(gated.reads.load(Ordering::SeqCst), 1);
            gated.gate.add_permits(100);
        };
        let (answers, ()) = tokio::join!(twenty, open);
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(gated.reads.load(Ordering::SeqCst), 1, "one read for twenty");

        // Once answered, nothing is kept: the next caller reads afresh.
        reads
            .occupied(&store, &outside, tenant.id, calendars, window, now)
            .await
            .unwrap();
        assert_eq!(gated.reads.load(Ordering::SeqCst), 2);
    }
}
