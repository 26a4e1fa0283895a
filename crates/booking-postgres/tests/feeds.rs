//! The calendar-feed checks of booking-core's store suite, against PostgreSQL; and the feed's
//! secret at rest.

use booking_core::accounts::TokenHash;
use booking_core::feeds::{CalendarFeedStore, FeedScope};
use booking_core::testing;
use booking_postgres::testing::TestDb;

macro_rules! suite {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let db = TestDb::new().await;
                testing::$check(&db.store()).await;
            }
        )+
    };
}

suite!(
    feeds_replaced_revoked_and_found_by_hash,
    feed_replacements_at_once_leave_one,
);

/// The suite's own driver, which also covers checks added to it after the list above.
#[tokio::test]
async fn run_feed_checks_with_a_database_per_check() {
    let dbs = std::sync::Mutex::new(Vec::new());
    testing::run_feed_checks(|| async {
        let db = TestDb::new().await;
        let store = db.store();
        dbs.lock().unwrap().push(db);
        store
    })
    .await;
}

/// Only the hash is kept: no column holds anything but its 32 bytes.
#[tokio::test]
async fn only_the_hash_of_a_feed_secret_is_stored() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = testing::create_tenant(&store, "Feed Clinic").await;
    store
        .replace_feed(
            t.id,
            FeedScope::Clinic,
            &TokenHash([7; 32]),
            testing::base_time(),
        )
        .await
        .unwrap();
    let n = db
        .execute(
            "SELECT 1 FROM calendar_feeds WHERE octet_length(token_hash) = 32 \
             AND scope = '00000000-0000-0000-0000-000000000000'",
        )
        .await;
    assert_eq!(n, 1);
}
