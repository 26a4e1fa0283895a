//! The schema's migrations (`migrations/` at the top of the repository), embedded in the binary.
//!
//! diesel's migration harness is synchronous. [`run_migrations`] runs it on a thread of its own
//! with a synchronous connection, so it works under any async runtime (actix's current-thread
//! runtimes included, where blocking the runtime thread is not allowed); a session advisory
//! lock makes concurrent runs (several api instances starting at once) take turns.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Arbitrary, fixed: the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x626f_6f6b_696e_6701;

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("could not connect to the database to migrate it: {0}")]
    Connect(String),
    #[error("migrating the database failed: {0}")]
    Migrate(String),
}

/// Applies every pending migration; returns the versions applied now (empty when the schema
/// was up to date). Safe to call from any async runtime and from several processes at once.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let url = database_url.to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("migrations".into())
        .spawn(move || {
            let _ = tx.send(run_migrations_blocking(&url));
        })
        .map_err(|e| MigrationError::Migrate(format!("could not start a thread: {e}")))?;
    rx.await.unwrap_or_else(|_| {
        Err(MigrationError::Migrate(
            "the migration thread panicked".into(),
        ))
    })
}

/// [`run_migrations`] for synchronous callers (`cargo xtask migrate`). Blocks.
pub fn run_migrations_blocking(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let mut conn = PgConnection::establish(database_url)
        .map_err(|e| MigrationError::Connect(e.to_string()))?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .map_err(|e| MigrationError::Migrate(e.to_string()))?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| MigrationError::Migrate(e.to_string()));
    // Closing the connection releases the lock as well.
    let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut conn);
    result
}

/// The versions of every embedded migration, oldest first.
pub fn migration_versions() -> Vec<String> {
    use diesel::migration::MigrationSource;
    let mut versions: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .expect("embedded migrations are always readable")
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    versions.sort();
    versions
}
