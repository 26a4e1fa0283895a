//! The dev database: a private PostgreSQL cluster under `target/dev/pg`, and the commands on
//! it (`cargo xtask migrate`, `cargo xtask db`).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use local_postgres::Cluster;

use crate::util::{self, Step, dev_dir, note};

/// The dev database's name.
pub const DEV_DB: &str = "receptionist";

/// The port the dev cluster is given the first time, if it is free.
pub const DEFAULT_DEV_PORT: u16 = 55432;

/// The dev cluster, and whether this process started it (and so stops it when done).
pub struct DevCluster {
    pub cluster: Cluster,
    pub started_here: bool,
}

impl DevCluster {
    /// Starts (or finds) the dev cluster and creates the dev database if needed.
    pub fn ensure() -> Result<Self> {
        let dir = dev_dir();
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        let data = data_dir();
        let running_before = running_port(&data).is_some();
        let mut port = remembered_port()?;
        let step = Step::start(if running_before {
            "connecting to the dev PostgreSQL (target/dev/pg)"
        } else if data.join("PG_VERSION").is_file() {
            "starting the dev PostgreSQL (target/dev/pg)"
        } else {
            "creating the dev PostgreSQL cluster in target/dev/pg (first run)"
        });
        let cluster = match Cluster::ensure(&data, port) {
            Ok(c) => c,
            Err(e) if !running_before && port_in_use(port) => {
                let other = free_port()?;
                note(format!(
                    "port {port} is taken by something else ({e}); moving the dev cluster to {other}"
                ));
                port = other;
                remember_port(port)?;
                Cluster::ensure(&data, port)?
            }
            Err(e) => return Err(e).context("could not start the dev PostgreSQL"),
        };
        if cluster.port() != port {
            remember_port(cluster.port())?;
        }
        if cluster.create_database(DEV_DB)? {
            note(format!("created the database {DEV_DB}"));
        }
        step.done();
        Ok(Self {
            cluster,
            started_here: !running_before,
        })
    }

    pub fn url(&self) -> String {
        self.cluster.url(DEV_DB)
    }

    /// Stops the cluster if this process started it; otherwise leaves it to whoever did.
    pub fn release(mut self) -> Result<()> {
        if self.started_here {
            let step = Step::start("stopping the dev PostgreSQL");
            self.cluster.stop()?;
            step.done();
        }
        Ok(())
    }
}

pub fn data_dir() -> PathBuf {
    dev_dir().join("pg")
}

fn port_file() -> PathBuf {
    dev_dir().join("pg.port")
}

/// The dev cluster's port: the one remembered in `target/dev/pg.port`, else 55432 if free,
/// else any free port (remembered for next time).
fn remembered_port() -> Result<u16> {
    if let Ok(text) = fs::read_to_string(port_file())
        && let Ok(port) = text.trim().parse()
    {
        return Ok(port);
    }
    let port = if port_in_use(DEFAULT_DEV_PORT) {
        free_port()?
    } else {
        DEFAULT_DEV_PORT
    };
    remember_port(port)?;
    Ok(port)
}

fn remember_port(port: u16) -> Result<()> {
    fs::write(port_file(), format!("{port}\n"))
        .with_context(|| format!("could not write {}", port_file().display()))
}

fn port_in_use(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err()
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The port of the postmaster running from `data`, if one runs and answers.
pub fn running_port(data: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let port: u16 = pid_file.lines().nth(3)?.trim().parse().ok()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    Some(port)
}

/// `cargo xtask migrate`: applies the migrations to `DATABASE_URL` if set, else to the dev
/// database (starting its cluster for the time it takes).
pub fn migrate() -> Result<()> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        note("DATABASE_URL is set: migrating that database");
        return run_migrations(&url);
    }
    let dev = DevCluster::ensure()?;
    let result = run_migrations(&dev.url());
    dev.release()?;
    result
}

/// Builds the migration runner (a binary of this package, behind its `migrate` feature so that
/// the other commands do not compile the database stack) and runs it on `url`.
pub fn run_migrations(url: &str) -> Result<()> {
    let step =
        Step::start("building the migration runner (cargo build -p xtask --features migrate)");
    util::run(
        util::cargo().args([
            "build",
            "--package",
            "xtask",
            "--features",
            "migrate",
            "--bin",
            "xtask-migrate",
        ]),
        "cargo build (migration runner)",
    )?;
    step.done();
    let step = Step::start("applying migrations");
    let bin = util::target_dir().join("debug").join("xtask-migrate");
    util::run(
        Command::new(&bin).env("DATABASE_URL", url),
        "the migration runner",
    )?;
    step.done();
    Ok(())
}

/// `cargo xtask db`: psql on the dev database.
pub fn psql() -> Result<()> {
    if Command::new("psql").arg("--version").output().is_err() {
        bail!(
            "psql is not installed (Debian: apt-get install postgresql-client); the dev database is under target/dev/pg"
        );
    }
    let dev = DevCluster::ensure()?;
    let url = dev.url();
    note(format!("psql {url}"));
    if dev.started_here {
        note("the dev PostgreSQL was not running: it is stopped again when psql exits");
    }
    let result = util::run(Command::new("psql").arg(&url), "psql");
    dev.release()?;
    result
}
