//! Migrations, readiness, and a database that is away: typed `Unavailable` errors within the
//! configured timeouts, and recovery without a restart.

mod common;

use booking_core::booking::CallHolds;
use std::time::{Duration, Instant};

use booking_core::TenantId;
use booking_core::ports::{BookingStore, StoreError, TenantStore};
use booking_postgres::testing::TestDb;
use booking_postgres::{
    MasterKey, NotReady, PgConfig, PgStore, PoolLayout, migration_versions, run_migrations,
};
use common::*;

fn store_at(url: String, connect_timeout: Duration) -> PgStore {
    let mut config = PgConfig::new(url, MasterKey::generate());
    config.connect_timeout = connect_timeout;
    config.statement_timeout = Duration::from_secs(1);
    PgStore::new(config).unwrap()
}

#[tokio::test]
async fn a_closed_port_gives_unavailable_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = store_at(
        format!("postgres://postgres@127.0.0.1:{port}/booking"),
        Duration::from_secs(1),
    );
    let started = Instant::now();
    let err = store.tenant(TenantId::from_uuid(uuid())).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.readiness().await,
        Err(NotReady::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_server_that_never_answers_gives_unavailable_within_the_connect_timeout() {
    // Accepts connections and then says nothing, like a host that hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let timeout = Duration::from_millis(700);
    let store = store_at(
        format!("postgres://postgres@127.0.0.1:{port}/booking"),
        timeout,
    );
    let started = Instant::now();
    let err = store
        .busy(TenantId::from_uuid(uuid()), span(0, 60), at(0))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(1),
        "took {took:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn a_statement_stuck_behind_a_lock_gives_unavailable_within_the_statement_timeout() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Locked Dental").await;
    let mut config = db.config();
    config.statement_timeout = Duration::from_millis(300);
    let impatient = PgStore::new(config).unwrap();

    let mut locker = AsyncPgConnection::establish(db.url()).await.unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let err = impatient
        .insert_hold(&hold(&t, span(0, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    locker.batch_execute("ROLLBACK").await.unwrap();

    // The same pool works again once the lock is gone.
    impatient
        .insert_hold(&hold(&t, span(0, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_restarted_database_fails_cleanly_meanwhile_and_is_used_again_after() {
    // A cluster of its own: the shared one must stay up for the other tests.
    let mut cluster = tokio::task::spawn_blocking(local_postgres::Cluster::ephemeral)
        .await
        .unwrap()
        .unwrap();
    cluster.create_database("booking").unwrap();
    let url = cluster.url("booking");
    run_migrations(&url).await.unwrap();
    let store = store_at(url, Duration::from_secs(1));
    let t = tenant(&store, "Restart Dental").await;
    store
        .insert_hold(&hold(&t, span(0, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap();
    assert_eq!(store.readiness().await, Ok(()));

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap();
        cluster
    })
    .await
    .unwrap();
    let started = Instant::now();
    let err = store
        .insert_hold(&hold(&t, span(60, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.readiness().await,
        Err(NotReady::Unavailable(_))
    ));

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().unwrap();
        cluster
    })
    .await
    .unwrap();
    // Broken connections are dropped from the pool; new ones are opened.
    store
        .insert_hold(&hold(&t, span(60, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap();
    assert_eq!(store.readiness().await, Ok(()));
    assert_eq!(
        store.list_bookings(t.id, span(0, 240)).await.unwrap().len(),
        2
    );
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test]
async fn migrations_apply_once_on_a_current_thread_runtime_and_readiness_tells() {
    let db = TestDb::new_empty().await;
    let store = db.store();
    let all = migration_versions();
    assert_eq!(all.len(), migrations_on_disk());
    assert_eq!(
        store.readiness().await,
        Err(NotReady::MigrationsPending {
            missing: all.clone()
        })
    );

    assert_eq!(run_migrations(db.url()).await.unwrap(), all);
    assert_eq!(store.readiness().await, Ok(()));
    assert!(
        run_migrations(db.url()).await.unwrap().is_empty(),
        "a second run applies nothing"
    );

    // A migration missing from the bookkeeping is reported by name.
    let last = all.last().unwrap();
    db.execute(&format!(
        "DELETE FROM __diesel_schema_migrations WHERE version = '{last}'"
    ))
    .await;
    assert_eq!(
        store.readiness().await,
        Err(NotReady::MigrationsPending {
            missing: vec![last.clone()]
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_in_turn() {
    let db = TestDb::new_empty().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            tokio::spawn(async move { run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().expect("every instance starts"));
    }
    applied.sort();
    assert_eq!(
        applied,
        migration_versions(),
        "each migration ran exactly once"
    );
    assert_eq!(db.store().readiness().await, Ok(()));
}

#[tokio::test]
async fn the_down_migrations_undo_the_schema() {
    use diesel::migration::MigrationSource;
    use diesel_migrations::MigrationHarness;
    let db = TestDb::new_empty().await;
    run_migrations(db.url()).await.unwrap();
    let url = db.url().to_owned();
    let reverted = tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel::pg::PgConnection::establish(&url).unwrap();
        let n = MigrationSource::<diesel::pg::Pg>::migrations(&booking_postgres::MIGRATIONS)
            .unwrap()
            .len();
        for _ in 0..n {
            conn.revert_last_migration(booking_postgres::MIGRATIONS)
                .unwrap();
        }
        conn.run_pending_migrations(booking_postgres::MIGRATIONS)
            .unwrap()
            .len()
    })
    .await
    .unwrap();
    assert_eq!(
        reverted,
        migrations_on_disk(),
        "everything reverted, and re-applied cleanly"
    );
}

/// The migrations in the repository's `migrations/` (one directory each): all of them embedded.
fn migrations_on_disk() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count()
}

/// A store laid out per worker: each single-threaded runtime opens and uses a pool of its own
/// (its share of the connections), the rest share the remainder; none grows past its share
/// however many of its tasks ask at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_runtime_uses_a_pool_of_its_own_within_its_share() {
    let db = TestDb::new().await;
    let t = tenant(&db.store(), "Pool Dental").await;
    let mut config = db.config();
    config.pool_size = 8;
    config.layout = PoolLayout::PerWorker { workers: 2 };
    let store = PgStore::new(config).unwrap();

    // The shared pool: a quarter of the eight.
    assert_eq!(store.warm_up().await, 2);
    assert_eq!(store.pool_status(), (2, 2));

    let worker = |store: PgStore, tenant: TenantId| {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let opened = store.warm_up().await;
                // Twenty reads at once on this worker: they queue for its three connections.
                let reads = (0..20).map(|_| store.list_bookings(tenant, span(0, 60)));
                for r in futures_util::future::join_all(reads).await {
                    r.expect("each read is served");
                }
                opened
            })
        })
    };
    let first = worker(store.clone(), t.id).join().unwrap();
    assert_eq!(first, 3, "a worker opens its own share: (8 - 2) / 2");
    assert_eq!(
        store.pool_status().0,
        5,
        "the shared two and the worker's three"
    );
    let second = worker(store.clone(), t.id).join().unwrap();
    assert_eq!(second, 3);
    assert_eq!(store.pool_status().0, 8, "never more than the eight in all");

    // Shared, as before: one pool of the whole size wherever it is asked from.
    let mut config = db.config();
    config.pool_size = 4;
    let shared = PgStore::new(config).unwrap();
    let opened = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(shared.warm_up())
    })
    .join()
    .unwrap();
    assert_eq!(opened, 4);
}
