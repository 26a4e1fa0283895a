//! The calendar-feed checks of the store suite against the in-memory store.

use booking_core::memory::MemoryStore;
use booking_core::testing;

#[tokio::test]
async fn memory_store_passes_the_feed_checks() {
    testing::run_feed_checks(|| async { MemoryStore::new() }).await;
}
