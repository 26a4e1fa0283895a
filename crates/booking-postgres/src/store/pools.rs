//! The store's connections, and which thread drives them.
//!
//! A connection's socket is read and written by a task on the runtime that opened it. With one
//! pool for a whole process, a request served on one of the HTTP server's single-threaded
//! workers hands every query to a connection driven elsewhere and waits to be woken back: two
//! thread switches a round trip, and on a busy machine a wait for the other thread to be
//! scheduled. [`PoolLayout::PerWorker`] gives each such worker a pool of its own, opened from
//! that worker, so that a request's queries stay on the thread that serves it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio::runtime::{Handle, RuntimeFlavor};

/// How a store's connections are spread over the threads that use them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolLayout {
    /// One pool for every task.
    #[default]
    Shared,
    /// `workers` single-threaded runtimes serve requests (the HTTP server's workers): each gets
    /// a pool of its own, of an equal share of three quarters of the connections. Tasks on a
    /// multi-threaded runtime (the background work: the outbox, the calendars) share the other
    /// quarter. Every single-threaded runtime that asks gets a share, so `workers` must count
    /// all of them for the total to hold.
    PerWorker { workers: usize },
}

/// How each connection is opened and set up.
#[derive(Clone)]
pub(super) struct ConnectionSetup {
    pub url: String,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

pub(super) struct Pools {
    setup: ConnectionSetup,
    shared: Pool<AsyncPgConnection>,
    /// Each worker's pool size, under [`PoolLayout::PerWorker`].
    worker_size: Option<usize>,
    /// The workers' pools, by the thread of each. A thread's id is never reused, so a pool
    /// whose thread has ended is never handed out again (its connections, whose tasks ended
    /// with that thread's runtime, close with it); they are dropped with the store.
    workers: Mutex<HashMap<ThreadId, Pool<AsyncPgConnection>>>,
}

impl Pools {
    pub fn new(setup: ConnectionSetup, size: usize, layout: PoolLayout) -> Result<Self, String> {
        let (shared_size, worker_size) = match layout {
            PoolLayout::Shared => (size, None),
            PoolLayout::PerWorker { workers } => {
                let shared = (size / 4).max(1);
                let each = (size.saturating_sub(shared) / workers.max(1)).max(1);
                (shared, Some(each))
            }
        };
        let shared = build(&setup, shared_size)?;
        Ok(Self {
            setup,
            shared,
            worker_size,
            workers: Mutex::default(),
        })
    }

    /// The pool for the task asking: its worker's own, on a worker of the HTTP server under
    /// [`PoolLayout::PerWorker`]; the shared one otherwise.
    pub fn here(&self) -> Pool<AsyncPgConnection> {
        let Some(size) = self.worker_size else {
            return self.shared.clone();
        };
        let single_threaded = Handle::try_current()
            .map(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
            .unwrap_or(false);
        if !single_threaded {
            return self.shared.clone();
        }
        let mut workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = std::thread::current().id();
        if let Some(pool) = workers.get(&id) {
            return pool.clone();
        }
        match build(&self.setup, size) {
            Ok(pool) => {
                workers.insert(id, pool.clone());
                pool
            }
            // Not reached (the shared pool was built from the same setup); the shared pool
            // still serves.
            Err(_) => self.shared.clone(),
        }
    }

    /// Connections open, and how many of them are idle, over every pool.
    pub fn status(&self) -> (usize, usize) {
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::iter::once(&self.shared)
            .chain(workers.values())
            .map(Pool::status)
            .fold((0, 0), |(size, idle), s| {
                (size + s.size, idle + s.available)
            })
    }
}

/// A pooled connection from `pool`, or why there is none.
pub(super) async fn checkout(
    pool: &Pool<AsyncPgConnection>,
    wait: Duration,
) -> Result<Object<AsyncPgConnection>, String> {
    match tokio::time::timeout(wait, pool.get()).await {
        Err(_) => Err(format!("no database connection within {wait:?}")),
        Ok(Err(e)) => Err(format!("could not connect to the database: {e}")),
        Ok(Ok(conn)) => Ok(conn),
    }
}

fn build(setup: &ConnectionSetup, size: usize) -> Result<Pool<AsyncPgConnection>, String> {
    let ConnectionSetup {
        url,
        connect_timeout,
        statement_timeout,
    } = setup.clone();
    let statement_ms = statement_timeout.as_millis().max(1);
    // A transaction left open by a client that went away must not hold its locks for long.
    let idle_ms = (statement_ms * 4).max(10_000);
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` before every checkout (a round trip each, and a tool call checks out
    // several): a connection the server closed (a restart, an idle timeout) is dropped at
    // checkout anyway, since its client sees the socket close; one that fails mid-query is
    // marked broken by that error and never handed out again.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn =
                tokio::time::timeout(connect_timeout, AsyncPgConnection::establish(&url))
                    .await
                    .map_err(|_| {
                        ConnectionError::BadConnection(format!(
                            "no connection within {connect_timeout:?}"
                        ))
                    })??;
            // No JIT: every statement of ours is short, and a plan whose estimate passes
            // `jit_above_cost` (the outbox claim once many texts wait for tomorrow) was
            // compiled on every run, 11 ms of CPU for a 0.6 ms query.
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_ms}; \
                 SET idle_in_transaction_session_timeout = {idle_ms}; \
                 SET jit = off; \
                 SET TIME ZONE 'UTC'"
            ))
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .build()
        .map_err(|e| format!("could not build the connection pool: {e}"))
}
