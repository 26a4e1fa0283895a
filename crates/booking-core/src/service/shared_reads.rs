//! Reads of occupied time shared by the callers who ask for the same thing at the same moment.
//!
//! When many callers race for one start, every loser reads the same calendars over the same
//! day to find its alternatives (and, with several providers, to choose whom to try). Each of
//! those reads is a round trip that queues for a pooled connection behind the others. Here the
//! first caller's read is shared with every identical one that arrives while it is in flight;
//! once it is answered (or its first waiter goes away) the next caller reads afresh. Nothing is
//! kept after that: an answer is never older than a read that was still running when it was
//! asked for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use jiff::Timestamp;

use crate::booking::{Interval, Occupied};
use crate::ids::{CalendarId, TenantId};
use crate::ports::{Store, StoreError};

type Key = (TenantId, Vec<CalendarId>, Interval);
type Read = Shared<BoxFuture<'static, Result<Arc<Vec<Occupied>>, StoreError>>>;

/// The reads in flight, by what they read.
#[derive(Default)]
pub(super) struct SharedReads {
    in_flight: Mutex<HashMap<Key, (u64, Read)>>,
    next: AtomicU64,
}

impl SharedReads {
    /// `store.occupied(tenant, calendars, window, now)`, or the answer of an identical read
    /// already in flight (whose `now` is at most that read's duration earlier).
    pub(super) async fn occupied(
        &self,
        store: &Arc<dyn Store>,
        tenant: TenantId,
        calendars: Vec<CalendarId>,
        window: Interval,
        now: Timestamp,
    ) -> Result<Arc<Vec<Occupied>>, StoreError> {
        let key = (tenant, calendars, window);
        let (id, read) = {
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&key) {
                Some((id, read)) => (*id, read.clone()),
                None => {
                    let store = store.clone();
                    let calendars = key.1.clone();
                    let read = async move {
                        store
                            .occupied(tenant, &calendars, window, now)
                            .await
                            .map(Arc::new)
                    }
                    .boxed()
                    .shared();
                    let id = self.next.fetch_add(1, Ordering::Relaxed);
                    map.insert(key.clone(), (id, read.clone()));
                    (id, read)
                }
            }
        };
        let _done = Done {
            reads: self,
            key,
            id,
        };
        read.await
    }
}

/// Takes a read out of the map when one of its waiters is answered or goes away.
struct Done<'a> {
    reads: &'a SharedReads,
    key: Key,
    id: u64,
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let mut map = self
            .reads
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}
