//! [`PgStore`]: every store port of booking-core, each method one transaction (or one
//! statement), each query filtered by the tenant it serves.

/// Prefix of a single statement whose commit does not wait for the WAL flush:
/// `set_config(…, is_local)` holds for the statement's own implicit transaction, and its commit
/// reads `synchronous_commit`. Other sessions see the commit at once; only a crash of
/// PostgreSQL itself (not of the api) can lose it, within a fraction of a second. Used where
/// that loss is already recovered from, so that callers wait for fewer flushes:
/// - the tool-call log. A claim is made durable by the flush of the use-case's own commit that
///   follows it (WAL is written in order), and a read-only use-case needs no durable claim. A
///   lost answer leaves the claim unfinished: a replay of that tool call waits for the claim to
///   be taken over and runs again, as after a crash of the api. A tool call waits for one flush,
///   not three.
/// - the outcome of a send, recorded under a claim that was itself committed durably (see
///   `record_delivery`).
/// - a patient's link, inserted just before the unit of work whose texts carry it (the
///   confirmation, the move, the waitlist claim): that commit's flush makes the link durable
///   with it, and a link whose unit of work did not follow was never texted.
macro_rules! no_flush_wait {
    () => {
        "WITH no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true))"
    };
}

mod accounts;
mod attendance;
mod batches;
mod bookings;
pub(crate) mod calendar_tables;
mod calendar_writes;
mod calendars;
mod calls;
mod feeds;
mod keys;
mod ops;
mod otp;
mod outbox;
mod patient_links;
mod pools;
mod reports;
mod rows;
mod sms_routes;
mod tenant_children;
mod tenants;
mod test_texts;
mod tool_calls;
mod waitlist;

pub use keys::KeyMismatch;
pub use pools::PoolLayout;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use booking_core::ports::{StoreError, StoreResult};
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::crypto::{Keyring, MasterKey};
use crate::error::{Fail, unavailable};

/// Where the database is, how many connections to keep, and how long to wait for it.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/db`.
    pub url: String,
    /// Most connections open at once.
    pub pool_size: usize,
    /// Which tasks share which of them.
    pub layout: PoolLayout,
    /// How long to wait to open a connection, and for a free one when all are busy.
    pub connect_timeout: Duration,
    /// Server-side limit for one statement (`statement_timeout`); lock waits count.
    pub statement_timeout: Duration,
    /// Encrypts and decrypts the tenants' Twilio secrets.
    pub master_key: MasterKey,
    /// Keys that still decrypt rows not yet rotated to `master_key` (never used to encrypt).
    pub previous_keys: Vec<MasterKey>,
}

impl PgConfig {
    /// Defaults: 16 connections, 3 s to connect, 5 s per statement.
    pub fn new(url: impl Into<String>, master_key: MasterKey) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            layout: PoolLayout::Shared,
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            master_key,
            previous_keys: Vec::new(),
        }
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("layout", &self.layout)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("master_key", &self.master_key)
            .field("previous_keys", &self.previous_keys)
            .finish()
    }
}

/// The URL with any password replaced, for logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Every store port on PostgreSQL. Cheap to clone (a shared pool).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pools: pools::Pools,
    keys: Keyring,
    connect_timeout: Duration,
    statement_timeout: Duration,
    /// The tool-call log's claims and answers waiting for a statement (see `batches`).
    tool_claims: Arc<batches::Batches<tool_calls::Claim>>,
    tool_answers: Arc<batches::Batches<tool_calls::Answer>>,
    /// Reads of a call's bookings waiting for a statement.
    call_reads: Arc<batches::Batches<bookings::CallRead>>,
}

/// Why the store is not ready to serve (`/readyz`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database schema is not up to date: migrations {} are not applied", .missing.join(", "))]
    MigrationsPending { missing: Vec<String> },
    #[error("the database could not be checked: {0}")]
    Error(String),
    #[error(
        "clinics' Twilio or calendar credentials are under master key {0}, which this server does not have: their texts and calendars are left to servers that have it"
    )]
    KeyMissing(String),
}

impl PgStore {
    /// A store over a pool of at most `pool_size` connections. Opens none yet: a database that
    /// is down shows in the first call (as `Unavailable`) and in [`PgStore::readiness`].
    pub fn new(config: PgConfig) -> Result<Self, StoreError> {
        if config.pool_size == 0 {
            return Err(StoreError::Internal(
                "the pool size must be at least 1".into(),
            ));
        }
        let connect_timeout = config.connect_timeout;
        let pools = pools::Pools::new(
            pools::ConnectionSetup {
                url: config.url,
                connect_timeout,
                statement_timeout: config.statement_timeout,
            },
            config.pool_size,
            config.layout,
        )
        .map_err(StoreError::Internal)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pools,
                keys: Keyring {
                    current: config.master_key,
                    previous: config.previous_keys,
                },
                connect_timeout,
                statement_timeout: config.statement_timeout,
                tool_claims: Arc::default(),
                tool_answers: Arc::default(),
                call_reads: Arc::default(),
            }),
        })
    }

    /// Whether the database answers and has every embedded migration applied.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        use diesel::sql_types::{Bool, Text};
        #[derive(diesel::QueryableByName)]
        struct Present {
            #[diesel(sql_type = Bool)]
            present: bool,
        }
        #[derive(diesel::QueryableByName)]
        struct Version {
            #[diesel(sql_type = Text)]
            version: String,
        }
        let applied: Vec<String> = self
            .run(async {
                let mut conn = self.conn().await?;
                let table: Present = diesel::sql_query(
                    "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present",
                )
                .get_result(&mut conn)
                .await?;
                if !table.present {
                    return Ok(Vec::new());
                }
                let rows: Vec<Version> = diesel::sql_query(
                    "SELECT version::text AS version FROM __diesel_schema_migrations",
                )
                .load(&mut conn)
                .await?;
                Ok(rows.into_iter().map(|v| v.version).collect())
            })
            .await
            .map_err(|e| match e {
                StoreError::Unavailable(m) => NotReady::Unavailable(m),
                other => NotReady::Error(other.to_string()),
            })?;
        let missing: Vec<String> = crate::migrate::migration_versions()
            .into_iter()
            .filter(|v| !applied.contains(v))
            .collect();
        if !missing.is_empty() {
            return Err(NotReady::MigrationsPending { missing });
        }
        match self.missing_key().await {
            Ok(None) => Ok(()),
            Ok(Some(key_id)) => Err(NotReady::KeyMissing(key_id)),
            Err(StoreError::Unavailable(m)) => Err(NotReady::Unavailable(m)),
            Err(e) => Err(NotReady::Error(e.to_string())),
        }
    }

    /// Opens the pool's connections now, all at once, so that the first burst of calls after a
    /// start does not wait for connections to be set up (a backend started and configured for
    /// each, several milliseconds apiece). Returns how many are open; one that cannot be opened
    /// is simply left for later.
    /// The pool is the one of the task asking (see [`PoolLayout`]): the HTTP server's workers
    /// each warm their own.
    pub async fn warm_up(&self) -> usize {
        let pool = self.inner.pools.here();
        let max = pool.status().max_size;
        let opened = futures_util::future::join_all((0..max).map(|_| pool.get())).await;
        opened.into_iter().filter(Result::is_ok).count()
    }

    /// Connections open, and how many of them are idle, over every pool.
    pub fn pool_status(&self) -> (usize, usize) {
        self.inner.pools.status()
    }

    /// A pooled connection, waiting at most the connect timeout.
    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        pools::checkout(&self.inner.pools.here(), self.inner.connect_timeout)
            .await
            .map_err(unavailable)
    }

    /// Runs one unit of work with an overall deadline, so that a database that stops answering
    /// mid-way gives `Unavailable` rather than a hang; maps its failure to a [`StoreError`].
    async fn run<T>(&self, work: impl Future<Output = Result<T, Fail>>) -> StoreResult<T> {
        let deadline = self.inner.connect_timeout + self.inner.statement_timeout * 3;
        match tokio::time::timeout(deadline, work).await {
            Err(_) => Err(unavailable(format!(
                "the database did not answer within {deadline:?}"
            ))),
            Ok(result) => result.map_err(Fail::into_store),
        }
    }

    fn keys(&self) -> &Keyring {
        &self.inner.keys
    }

    fn tool_claims(&self) -> &Arc<batches::Batches<tool_calls::Claim>> {
        &self.inner.tool_claims
    }

    fn tool_answers(&self) -> &Arc<batches::Batches<tool_calls::Answer>> {
        &self.inner.tool_answers
    }

    fn call_reads(&self) -> &Arc<batches::Batches<bookings::CallRead>> {
        &self.inner.call_reads
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_password_in_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/booking"),
            "postgres://app:***@db:5432/booking"
        );
        assert_eq!(
            redact_url("postgres://app@db/booking"),
            "postgres://app@db/booking"
        );
        assert_eq!(redact_url("postgres://db/booking"), "postgres://db/booking");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
