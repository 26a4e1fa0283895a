//! The double-booking race, for real: 200 callers reserving one slot at the same instant, each
//! on a connection of its own. The exclusion constraint lets exactly one through.

mod common;

use booking_core::booking::CallHolds;
use std::sync::Arc;

use booking_core::booking::BookingStatus;
use booking_core::ports::{BookingStore, StoreError};
use booking_postgres::PgStore;
use booking_postgres::testing::TestDb;
use common::*;
use tokio::sync::Barrier;

const CALLERS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_hundred_concurrent_reservations_of_one_slot_make_exactly_one_hold() {
    let db = TestDb::new().await;
    let t = tenant(&db.store(), "Race Dental").await;
    let slot = span(60, 60);
    let now = at(0);

    // One store per caller with a pool of one: 200 separate connections, each opened (by a
    // harmless read) before the race starts, so that the race is between inserts and not
    // between connection handshakes.
    let mut stores = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        let mut config = db.config();
        config.pool_size = 1;
        stores.push(PgStore::new(config).unwrap());
    }
    let warmups: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = s.clone();
            let id = t.id;
            tokio::spawn(async move { s.list_bookings(id, span(0, 10)).await.map(drop) })
        })
        .collect();
    for w in warmups {
        w.await.unwrap().expect("every caller connects");
    }
    for s in &stores {
        assert_eq!(
            s.pool_status().0,
            1,
            "each caller holds its own open connection"
        );
    }

    let start = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|store| {
            let start = start.clone();
            let h = hold(&t, slot, now);
            tokio::spawn(async move {
                start.wait().await;
                store.insert_hold(&h, now, CallHolds::Keep).await
            })
        })
        .collect();
    let (mut held, mut taken, mut other) = (0, 0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(b) => {
                assert_eq!(b.status, BookingStatus::Held);
                held += 1;
            }
            Err(StoreError::SlotTaken) => taken += 1,
            Err(e) => other.push(e),
        }
    }
    eprintln!(
        "{CALLERS} concurrent reservations: {held} hold, {taken} slot taken, {} other errors",
        other.len()
    );
    assert!(other.is_empty(), "unexpected errors: {other:?}");
    assert_eq!((held, taken), (1, CALLERS - 1));

    let stored = db
        .store()
        .list_bookings(t.id, span(0, 24 * 60))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "exactly one row for the slot");
    assert_eq!(stored[0].status, BookingStatus::Held);
    assert_eq!(stored[0].slot, slot);
}
