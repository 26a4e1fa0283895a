//! A running cluster: made, started, reused, queried, stopped, and torn down when ephemeral.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::time::Duration;

use super::error::Result;
use super::machine::{absolute, free_port, log_says_port_taken, unique_temp_dir};
use super::server::{Env, LOG_FILE};
use crate::wire;
use crate::wire::{Row, quote_ident, quote_literal};

/// The superuser every cluster made here has.
pub const SUPERUSER: &str = "postgres";

/// The address clusters listen on.
pub const HOST: &str = "127.0.0.1";

/// A running PostgreSQL cluster.
#[derive(Debug)]
pub struct Cluster {
    env: Env,
    data_dir: PathBuf,
    port: u16,
    running: bool,
    /// Set for an ephemeral cluster: it is torn down on drop.
    ephemeral: Option<Ephemeral>,
}

#[derive(Debug)]
struct Ephemeral {
    root: PathBuf,
    watchdog: Child,
    /// The watchdog acts when this closes: on drop, or when this process dies.
    watchdog_pipe: Option<ChildStdin>,
}

impl Cluster {
    /// A cluster whose data lives in `data_dir` and survives restarts: initialised (with trust
    /// authentication for local connections) if the directory is absent or empty, started on
    /// `port` if it is not running, reused as it is if it is running (on whatever port it
    /// runs). Dropping the handle leaves the server running.
    pub fn ensure(data_dir: impl AsRef<Path>, port: u16) -> Result<Self> {
        let env = Env::discover()?;
        let data_dir = absolute(data_dir.as_ref())?;
        let initialised = data_dir.join("PG_VERSION").is_file();
        if !initialised {
            env.prepare_data_dir(&data_dir)?;
            env.initdb(&data_dir, false)?;
        }
        if let Some(running_port) = env.running_port(&data_dir) {
            if running_port != port {
                eprintln!(
                    "local-postgres: the cluster in {} already runs on port {running_port}; using it there",
                    data_dir.display()
                );
            }
            return Ok(Self {
                env,
                data_dir,
                port: running_port,
                running: true,
                ephemeral: None,
            });
        }
        env.write_conf(&data_dir, port, false)?;
        env.start(&data_dir, port)?;
        Ok(Self {
            env,
            data_dir,
            port,
            running: true,
            ephemeral: None,
        })
    }

    /// A throwaway cluster in a new temp directory on a free port, tuned for tests (fsync,
    /// synchronous commit and full page writes off). Stopped and deleted on drop, or by its
    /// watchdog when this process dies first.
    pub fn ephemeral() -> Result<Self> {
        let env = Env::discover()?;
        let root = unique_temp_dir()?;
        let data_dir = root.join("data");
        // The watchdog comes first, so that a death during initdb or start still cleans up.
        let (watchdog, pipe) = match env.spawn_watchdog(&root, &data_dir) {
            Ok(w) => w,
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        let mut cluster = Self {
            env,
            data_dir,
            port: 0,
            running: false,
            ephemeral: Some(Ephemeral {
                root,
                watchdog,
                watchdog_pipe: Some(pipe),
            }),
        };
        cluster.env.prepare_data_dir(&cluster.data_dir)?;
        cluster.env.initdb(&cluster.data_dir, true)?;
        // A free port can be taken by someone else between the probe and the bind: retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            cluster.env.write_conf(&cluster.data_dir, port, true)?;
            match cluster.env.start(&cluster.data_dir, port) {
                Ok(()) => {
                    cluster.port = port;
                    cluster.running = true;
                    return Ok(cluster);
                }
                Err(e) if attempt < 5 && log_says_port_taken(&cluster.data_dir) => {
                    eprintln!("local-postgres: port {port} was taken, trying another ({e})");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stops the cluster running from `data_dir`, if one is (fast shutdown). Returns whether
    /// one was running. For tools that did not start it themselves (`cargo xtask dev stop`).
    pub fn stop_existing(data_dir: impl AsRef<Path>) -> Result<bool> {
        let env = Env::discover()?;
        let data_dir = absolute(data_dir.as_ref())?;
        if env.running_port(&data_dir).is_none() {
            return Ok(false);
        }
        env.stop(&data_dir, "fast")?;
        Ok(true)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &'static str {
        HOST
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log.
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// Whether this handle deletes the cluster when dropped.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral.is_some()
    }

    /// A connection URL for database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@{HOST}:{}/{db}", self.port)
    }

    /// Whether the server is up (its postmaster answers for its data directory).
    pub fn is_running(&self) -> bool {
        self.env.running_port(&self.data_dir).is_some()
    }

    /// Runs SQL (one or more statements, simple query protocol) in `db` as the superuser and
    /// returns the rows, each column as text.
    pub fn query(&self, db: &str, sql: &str) -> Result<Vec<Row>> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut conn = wire::Connection::connect(addr, SUPERUSER, db, Duration::from_secs(10))?;
        conn.simple_query(sql)
    }

    /// Runs SQL in `db` as the superuser, discarding any rows.
    pub fn execute(&self, db: &str, sql: &str) -> Result<()> {
        self.query(db, sql).map(drop)
    }

    pub fn database_exists(&self, name: &str) -> Result<bool> {
        let rows = self.query(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                quote_literal(name)
            ),
        )?;
        Ok(!rows.is_empty())
    }

    /// Creates database `name` unless it exists. Returns whether it was created.
    pub fn create_database(&self, name: &str) -> Result<bool> {
        if self.database_exists(name)? {
            return Ok(false);
        }
        match self.execute(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(name)),
        ) {
            Ok(()) => Ok(true),
            // Someone else created it in between.
            Err(e) if e.sqlstate() == Some("42P04") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drops database `name` if it exists, closing its connections.
    pub fn drop_database(&self, name: &str) -> Result<()> {
        self.execute(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)),
        )
    }

    /// Starts the server again after [`Cluster::stop`], on the same port with the same data
    /// (for tests of what happens while the database is away).
    pub fn start(&mut self) -> Result<()> {
        if self.env.running_port(&self.data_dir).is_some() {
            self.running = true;
            return Ok(());
        }
        self.env
            .write_conf(&self.data_dir, self.port, self.ephemeral.is_some())?;
        self.env.start(&self.data_dir, self.port)?;
        self.running = true;
        Ok(())
    }

    /// Stops the server cleanly (fast shutdown: open connections are closed, everything
    /// committed is kept, even on an ephemeral cluster whose commits are not synchronous). An
    /// ephemeral cluster's files are deleted when the handle is dropped.
    pub fn stop(&mut self) -> Result<()> {
        if !self.running && self.env.running_port(&self.data_dir).is_none() {
            return Ok(());
        }
        self.env.stop(&self.data_dir, "fast")?;
        self.running = false;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(mut eph) = self.ephemeral.take() else {
            return;
        };
        if self.running
            && let Err(e) = self.env.stop(&self.data_dir, "immediate")
        {
            eprintln!(
                "local-postgres: could not stop the cluster in {}: {e}",
                self.data_dir.display()
            );
        }
        if let Err(e) = fs::remove_dir_all(&eph.root)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "local-postgres: could not remove {}: {e}",
                eph.root.display()
            );
        }
        // Tell the watchdog all is done, so that it exits without doing anything.
        if let Some(mut pipe) = eph.watchdog_pipe.take() {
            let _ = pipe.write_all(b"done\n");
        }
        let _ = eph.watchdog.wait();
    }
}
