//! A real PostgreSQL for tests, one fresh database per test.
//!
//! - The server: `DATABASE_URL` if it is set (any server this user may create databases on),
//!   else one private cluster per test process, started on first use from the machine's
//!   PostgreSQL binaries (`local-postgres`), and stopped when the process ends, however it ends.
//! - A template database migrated once, named after a hash of the migrations; several test
//!   processes sharing one server build it once between them (an advisory lock).
//! - Each [`TestDb`] is a new database cloned from the template (`CREATE DATABASE … TEMPLATE`),
//!   dropped again when the `TestDb` is dropped.
//!
//! Works under `cargo test` (many tests per process, each on its own runtime) and nextest (a
//! process per test).
//!
//! ```no_run
//! # async fn example() {
//! use booking_postgres::testing::TestDb;
//! let db = TestDb::new().await;
//! let store = db.store();
//! # }
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use local_postgres::Cluster;
use tokio::sync::OnceCell;

use crate::{MasterKey, PgConfig, PgStore, run_migrations};

/// The migrations' fingerprint (see build.rs).
const MIGRATIONS_HASH: &str = env!("BOOKING_MIGRATIONS_HASH");

enum Server {
    /// Kept for the life of the process; its watchdog stops it when the process ends.
    Private(Cluster),
    External {
        url: String,
    },
}

impl Server {
    /// The URL of database `db` on this server.
    fn url(&self, db: &str) -> String {
        match self {
            Server::Private(cluster) => cluster.url(db),
            Server::External { url } => with_database(url, db),
        }
    }
}

static SERVER: OnceCell<Server> = OnceCell::const_new();
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            match std::env::var("DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => Server::External { url },
                _ => {
                    let cluster = tokio::task::spawn_blocking(Cluster::ephemeral)
                        .await
                        .expect("starting the test cluster panicked")
                        .unwrap_or_else(|e| {
                            panic!("could not start a private PostgreSQL for the tests: {e}")
                        });
                    Server::Private(cluster)
                }
            }
        })
        .await
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn admin_connection(server: &Server) -> AsyncPgConnection {
    let url = server.url("postgres");
    AsyncPgConnection::establish(&url)
        .await
        .unwrap_or_else(|e| {
            panic!("could not connect to the test server's maintenance database: {e}")
        })
}

/// The migrated template's name, building it if no process has yet.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let server = server().await;
            let name = format!("booking_template_{}", &MIGRATIONS_HASH[..12]);
            let building = format!("{name}_building");
            let lock_key =
                i64::from_str_radix(&MIGRATIONS_HASH[..15], 16).expect("the hash is hex");
            let mut admin = admin_connection(server).await;
            diesel::sql_query(format!("SELECT pg_advisory_lock({lock_key})"))
                .execute(&mut admin)
                .await
                .expect("advisory lock");
            let exists = database_exists(&mut admin, &name).await;
            if !exists {
                // A leftover of a process that died while building is thrown away.
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&building)
                ))
                .execute(&mut admin)
                .await
                .expect("drop the unfinished template");
                diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&building)))
                    .execute(&mut admin)
                    .await
                    .expect("create the template");
                run_migrations(&server.url(&building))
                    .await
                    .unwrap_or_else(|e| panic!("migrating the test template failed: {e}"));
                // Only a complete template gets the name other processes look for.
                diesel::sql_query(format!(
                    "ALTER DATABASE {} RENAME TO {}",
                    quote_ident(&building),
                    quote_ident(&name)
                ))
                .execute(&mut admin)
                .await
                .expect("rename the template");
            }
            diesel::sql_query(format!("SELECT pg_advisory_unlock({lock_key})"))
                .execute(&mut admin)
                .await
                .expect("advisory unlock");
            name
        })
        .await
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let row: Found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(conn)
            .await
            .expect("look up a database");
    row.found
}

/// A fresh, migrated database of its own for one test.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    master_key: MasterKey,
    store: PgStore,
}

impl TestDb {
    /// A new database cloned from the migrated template. Panics if there is no server.
    pub async fn new() -> Self {
        Self::create(template().await).await
    }

    /// A new database with no schema at all (for tests of the migrations themselves).
    pub async fn new_empty() -> Self {
        Self::create("template0").await
    }

    async fn create(template: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = server().await;
        let name = format!(
            "booking_test_{}_{}_{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_u32()
        );
        let mut admin = admin_connection(server).await;
        let mut attempt = 0;
        loop {
            let created = diesel::sql_query(format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quote_ident(&name),
                quote_ident(template)
            ))
            .execute(&mut admin)
            .await;
            match created {
                Ok(_) => break,
                // Someone is connected to the template for a moment (another process
                // checking it): wait and try again.
                Err(e)
                    if attempt < 50 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("could not create test database {name}: {e}"),
            }
        }
        let url = server.url(&name);
        let master_key = MasterKey::generate();
        let store = PgStore::new(Self::config_for(&url, &master_key))
            .expect("a store for the test database");
        Self {
            name,
            url,
            admin_url: server.url("postgres"),
            master_key,
            store,
        }
    }

    fn config_for(url: &str, key: &MasterKey) -> PgConfig {
        let mut config = PgConfig::new(url, key.clone());
        config.pool_size = 10;
        config.connect_timeout = Duration::from_secs(10);
        config.statement_timeout = Duration::from_secs(30);
        config
    }

    /// The test database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The master key the store encrypts credentials with.
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// The configuration of [`TestDb::store`], to adjust and build another store with.
    pub fn config(&self) -> PgConfig {
        Self::config_for(&self.url, &self.master_key)
    }

    /// A store on this database (a shared pool of 10 connections).
    pub fn store(&self) -> PgStore {
        self.store.clone()
    }

    /// Runs SQL on the test database with a connection of its own (for tests that look
    /// under the store: the credentials table, a row put into an odd state).
    pub async fn execute(&self, sql: &str) -> usize {
        let mut conn = AsyncPgConnection::establish(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Synchronously, on a thread of its own: Drop cannot await, and the runtime this runs
        // on may be single-threaded.
        let admin_url = self.admin_url.clone();
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        let done = std::thread::spawn(move || {
            if let Ok(mut conn) = diesel::pg::PgConnection::establish(&admin_url) {
                let _ = diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn);
            }
        });
        let _ = done.join();
    }
}

fn rand_u32() -> u32 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn urls_get_another_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/app?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:1", "t1"),
            "postgresql://h:1/t1"
        );
    }
}
