//! The outside-calendar checks of the store suite against the in-memory store.

use booking_core::memory::MemoryStore;
use booking_core::testing;

#[tokio::test]
async fn memory_store_passes_the_calendar_checks() {
    testing::run_calendar_checks(|| async { MemoryStore::new() }).await;
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                testing::$name(&MemoryStore::new()).await;
            }
        )*
    };
}

checks!(
    calendar_links_round_trip,
    calendar_busy_replaced_per_sync,
    calendar_sync_claims_once,
    calendar_writes_follow_bookings,
    calendar_write_claimed_once_under_concurrency,
    calendar_write_retried_never_lost,
    calendar_write_changed_in_flight_is_written_again,
);
