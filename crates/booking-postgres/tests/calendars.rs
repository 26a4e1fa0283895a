//! The outside-calendar checks of booking-core's store suite, against PostgreSQL; and the
//! calendar credentials at rest.

use booking_core::outside_calendar::{
    CalendarCredentials, CalendarLink, CalendarSyncStore, CalendarUrl,
};
use booking_core::tenant::Secret;
use booking_core::testing;
use booking_postgres::testing::TestDb;
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};

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
    calendar_links_round_trip,
    calendar_busy_replaced_per_sync,
    calendar_busy_of_several_calendars,
    calendar_sync_claims_once,
    calendar_writes_follow_bookings,
    calendar_write_claimed_once_under_concurrency,
    calendar_write_retried_never_lost,
    calendar_relink_makes_waiting_writes_due,
    calendar_write_changed_in_flight_is_written_again,
);

/// The suite's own driver, which also covers checks added to it after the list above.
#[tokio::test]
async fn run_calendar_checks_with_a_database_per_check() {
    let dbs = std::sync::Mutex::new(Vec::new());
    testing::run_calendar_checks(|| async {
        let db = TestDb::new().await;
        let store = db.store();
        dbs.lock().unwrap().push(db);
        store
    })
    .await;
}

/// The password is stored only as ciphertext, and no column holds it or the user name.
#[tokio::test]
async fn calendar_credentials_are_encrypted_at_rest() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = testing::create_tenant(&store, "Secret Clinic").await;
    let link = CalendarLink {
        tenant: t.id,
        calendar: t.calendar(),
        url: CalendarUrl::parse("https://cal.example.com/dav/frontdesk/work/").unwrap(),
        credentials: CalendarCredentials::Password {
            username: "frontdesk@smile.example".into(),
            password: Secret::new("hunter2-app-password"),
        },
        zone: t.config.zone.clone(),
    };
    store
        .link_calendar(&link, testing::base_time())
        .await
        .unwrap();
    assert_eq!(
        store.calendar_link(t.id, t.calendar()).await.unwrap(),
        Some(link.clone())
    );
    let mut conn = diesel_async::AsyncPgConnection::establish(db.url())
        .await
        .unwrap();
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        everything: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT concat_ws('|', url, zone, key_id, encode(nonce, 'escape'), \
         encode(ciphertext, 'escape'), health) AS everything FROM calendar_links",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].everything.contains("hunter2"),
        "{}",
        rows[0].everything
    );
    assert!(
        !rows[0].everything.contains("frontdesk@smile"),
        "{}",
        rows[0].everything
    );

    // Moved to another clinic's row, the ciphertext does not decrypt.
    let other = testing::create_tenant(&store, "Other Clinic").await;
    let mut theirs = link.clone();
    theirs.tenant = other.id;
    theirs.calendar = other.calendar();
    theirs.credentials = CalendarCredentials::Token(Secret::new("their-token"));
    store
        .link_calendar(&theirs, testing::base_time())
        .await
        .unwrap();
    let moved = TestDb::execute(
        &db,
        &format!(
            "UPDATE calendar_links SET nonce = src.nonce, ciphertext = src.ciphertext \
             FROM calendar_links src WHERE src.tenant_id = '{}' AND calendar_links.tenant_id = '{}'",
            t.id, other.id
        ),
    )
    .await;
    assert_eq!(moved, 1);
    assert!(
        store
            .calendar_link(other.id, other.calendar())
            .await
            .is_err()
    );
}

/// `rotate-key` re-encrypts the calendar credentials with the Twilio ones.
#[tokio::test]
async fn calendar_credentials_rotate_with_the_master_key() {
    use booking_postgres::{MasterKey, PgStore, RotationReport, rotate_key};
    let db = TestDb::new().await;
    let store = db.store();
    let old_key = db.master_key().clone();
    let t = testing::create_tenant(&store, "Rotating Clinic").await;
    let link = CalendarLink {
        tenant: t.id,
        calendar: t.calendar(),
        url: CalendarUrl::parse("https://cal.example.com/dav/frontdesk/work/").unwrap(),
        credentials: CalendarCredentials::Token(Secret::new("bearer-token-1")),
        zone: t.config.zone.clone(),
    };
    store
        .link_calendar(&link, testing::base_time())
        .await
        .unwrap();
    let new_key = MasterKey::generate();
    let report = rotate_key(db.url(), &old_key, &new_key).await.unwrap();
    assert_eq!(
        report,
        RotationReport {
            // The clinic's Twilio credentials and its calendar's.
            rotated: 2,
            already_current: 0
        }
    );
    let mut config = db.config();
    config.master_key = new_key.clone();
    let rotated = PgStore::new(config).unwrap();
    assert_eq!(
        rotated.calendar_link(t.id, t.calendar()).await.unwrap(),
        Some(link)
    );
    assert!(
        store.calendar_link(t.id, t.calendar()).await.is_err(),
        "the old key alone no longer opens them"
    );
    let again = rotate_key(db.url(), &old_key, &new_key).await.unwrap();
    assert_eq!(again.already_current, 2);
}

/// A server without the key a calendar link's credentials are under is not ready for it, says
/// which key at startup, and never claims that calendar's syncs; a server with the key is ready
/// and syncs it. The clinic has no Twilio account, so the calendar row alone decides.
#[tokio::test]
async fn a_server_without_a_calendars_key_is_not_ready_and_does_not_sync_it() {
    use booking_core::ports::TenantStore;
    use booking_postgres::{KeyMismatch, MasterKey, NotReady, PgStore};
    let db = TestDb::new().await;
    let store = db.store();
    let t = store
        .create_tenant(
            testing::random_tenant_id(),
            &testing::tenant_config("Calendar Only Clinic"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.readiness().await, Ok(()));
    assert_eq!(store.check_master_keys().await, Ok(()));

    // Another instance, with another key, links the clinic's calendar.
    let other_key = MasterKey::generate();
    let mut config = db.config();
    config.master_key = other_key.clone();
    let other = PgStore::new(config).unwrap();
    let link = CalendarLink {
        tenant: t.id,
        calendar: t.calendar(),
        url: CalendarUrl::parse("https://cal.example.com/dav/frontdesk/work/").unwrap(),
        credentials: CalendarCredentials::Token(Secret::new("bearer-token-1")),
        zone: t.config.zone.clone(),
    };
    let now = testing::base_time();
    other.link_calendar(&link, now).await.unwrap();

    assert_eq!(
        store.readiness().await,
        Err(NotReady::KeyMissing(other_key.id().to_owned()))
    );
    match store.check_master_keys().await {
        Err(KeyMismatch::MissingForCalendars {
            key_id, calendars, ..
        }) => {
            assert_eq!(key_id, other_key.id());
            assert_eq!(calendars, 1);
        }
        other => panic!("{other:?}"),
    }
    let lease = now + jiff::SignedDuration::from_mins(2);
    assert!(
        store
            .claim_due_syncs(now, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "not claimed by a server that cannot open the credentials"
    );
    assert_eq!(other.readiness().await, Ok(()));
    assert_eq!(
        other.claim_due_syncs(now, 10, lease).await.unwrap().len(),
        1
    );
}
