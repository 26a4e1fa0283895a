//! A private PostgreSQL cluster run from the machine's own binaries (`initdb`, `pg_ctl`,
//! `postgres`), for the dev server and for tests.
//!
//! - [`Cluster::ensure`]: a cluster whose data survives restarts (the dev server). Initialised
//!   if the directory is empty, started if it is not running, reused if it is. Dropping the
//!   handle leaves it running; [`Cluster::stop`] stops it.
//! - [`Cluster::ephemeral`]: a throwaway cluster in a temp dir on a free port, tuned for tests
//!   (no fsync). It is stopped and deleted when the handle is dropped, and also when the owning
//!   process dies without dropping it (a panic in a static, `SIGKILL`, a test runner's timeout):
//!   a small watchdog process waits on a pipe from the owner and cleans up when it closes.
//!
//! PostgreSQL refuses to run as root. When this process is root, the server binaries are run as
//! the `postgres` OS user (`runuser -u postgres -- …`; override with `LOCAL_POSTGRES_OS_USER`)
//! and the data directory is given to that user; its parent directories must be traversable.
//! The binaries are taken from `PG_BIN_DIR` if set, else from the directory of `pg_ctl` on
//! `PATH`, else from the newest `/usr/lib/postgresql/*/bin`.
//!
//! Clusters accept trust-authenticated connections from localhost (TCP on 127.0.0.1 and a Unix
//! socket in the data directory when its path is short enough) for the superuser `postgres`.

mod wire;

use std::fmt;
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use wire::{Row, quote_ident, quote_literal};

/// The superuser every cluster made here has.
pub const SUPERUSER: &str = "postgres";

/// The address clusters listen on.
pub const HOST: &str = "127.0.0.1";

const CONF_FILE: &str = "local-postgres.conf";
const LOG_FILE: &str = "server.log";
const START_TIMEOUT_SECS: u32 = 60;
const INITDB_ARGS: [&str; 5] = [
    "-U",
    SUPERUSER,
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
];

/// Why a cluster could not be set up or used.
#[derive(Debug)]
pub struct Error {
    message: String,
    sqlstate: Option<String>,
    source: Option<std::io::Error>,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            sqlstate: None,
            source: None,
        }
    }
    fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self {
            message: message.into(),
            sqlstate: None,
            source: Some(source),
        }
    }
    fn server(sqlstate: String, message: String) -> Self {
        Self {
            message,
            sqlstate: Some(sqlstate),
            source: None,
        }
    }
    /// The SQLSTATE, when the server refused a statement.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.sqlstate {
            write!(f, " (SQLSTATE {s})")?;
        }
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// The binaries and the OS user they run as.
#[derive(Debug, Clone)]
struct Env {
    bin_dir: PathBuf,
    /// `Some(user)` when this process is root: server binaries run as that user.
    run_as: Option<OsUser>,
}

#[derive(Debug, Clone)]
struct OsUser {
    name: String,
    uid: u32,
    gid: u32,
}

/// The shell script of the watchdog. Arguments: pg_ctl, data dir, dir to delete, OS user or "".
/// It blocks reading its stdin, a pipe whose only writer is the owning process; "done" means
/// the owner cleaned up itself; end of file means the owner is gone.
const WATCHDOG: &str = r#"
IFS= read -r line
[ "$line" = done ] && exit 0
stop_cluster() {
    if [ -n "$4" ]; then
        runuser -u "$4" -- "$1" -D "$2" -m immediate -w -t 30 stop
    else
        "$1" -D "$2" -m immediate -w -t 30 stop
    fi
} >/dev/null 2>&1
stop_cluster "$@"
# A start that was under way when the owner died may finish just now.
sleep 1
stop_cluster "$@"
rm -rf "$3"
"#;

impl Env {
    fn discover() -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        for tool in ["initdb", "pg_ctl", "postgres"] {
            if !bin_dir.join(tool).is_file() {
                return Err(Error::new(format!(
                    "{} has no {tool}; set PG_BIN_DIR to the directory of PostgreSQL's server binaries",
                    bin_dir.display()
                )));
            }
        }
        let run_as = if effective_uid()? == 0 {
            let name =
                std::env::var("LOCAL_POSTGRES_OS_USER").unwrap_or_else(|_| "postgres".to_owned());
            Some(lookup_user(&name)?)
        } else {
            None
        };
        Ok(Self { bin_dir, run_as })
    }

    /// A command running a server binary, as the postgres OS user when we are root.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin_dir.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", &user.name, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // The binaries must not depend on where we were started from (which the postgres
        // user may not be able to read), nor on the caller's libpq environment.
        cmd.current_dir("/")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        cmd
    }

    fn prepare_data_dir(&self, data_dir: &Path) -> Result<()> {
        fs::create_dir_all(data_dir)
            .map_err(|e| Error::io(format!("could not create {}", data_dir.display()), e))?;
        if fs::read_dir(data_dir)
            .map_err(|e| Error::io(format!("could not read {}", data_dir.display()), e))?
            .next()
            .is_some()
        {
            return Err(Error::new(format!(
                "{} is not empty but holds no PostgreSQL cluster (no PG_VERSION); refusing to initialise it",
                data_dir.display()
            )));
        }
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io(
                format!("could not set permissions of {}", data_dir.display()),
                e,
            )
        })?;
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(data_dir, Some(user.uid), Some(user.gid)).map_err(|e| {
                Error::io(
                    format!("could not give {} to {}", data_dir.display(), user.name),
                    e,
                )
            })?;
            check_traversable(data_dir, user)?;
        }
        Ok(())
    }

    fn initdb(&self, data_dir: &Path, ephemeral: bool) -> Result<()> {
        let started = Instant::now();
        // Throwaway clusters start from a copy of a cached initdb: several times faster than
        // initdb, which matters when every test process has its own cluster.
        let copied = ephemeral
            && match self
                .cached_initdb()
                .and_then(|cache| copy_tree(&cache, data_dir, self.run_as.as_ref()))
            {
                Ok(()) => true,
                Err(e) => {
                    eprintln!("local-postgres: no cached initdb ({e}); running initdb");
                    empty_dir(data_dir)?;
                    false
                }
            };
        if !copied {
            eprintln!(
                "local-postgres: initialising a PostgreSQL cluster in {} (initdb)…",
                data_dir.display()
            );
            self.run_initdb(data_dir, ephemeral)?;
        }
        if !copied {
            eprintln!(
                "local-postgres: initdb done in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    fn run_initdb(&self, data_dir: &Path, no_sync: bool) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(data_dir).args(INITDB_ARGS);
        if no_sync {
            cmd.arg("--no-sync");
        }
        run(cmd, "initdb")
    }

    /// A pristine initdb output for these binaries and this OS user, made once per machine
    /// (in the temp dir) and published atomically, so that a half-made one is never used.
    fn cached_initdb(&self) -> Result<PathBuf> {
        let version = Command::new(self.bin_dir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| Error::io("could not run postgres --version", e))?;
        let mut key = fnv1a(0xcbf2_9ce4_8422_2325, &version.stdout);
        key = fnv1a(key, self.bin_dir.as_os_str().as_encoded_bytes());
        key = fnv1a(key, INITDB_ARGS.join(" ").as_bytes());
        key = fnv1a(
            key,
            self.run_as
                .as_ref()
                .map(|u| u.name.as_bytes())
                .unwrap_or(b""),
        );
        let root = std::env::temp_dir().join("local-postgres-cache");
        if !root.is_dir() {
            fs::create_dir_all(&root)
                .map_err(|e| Error::io(format!("could not create {}", root.display()), e))?;
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).map_err(|e| {
                Error::io(
                    format!("could not set permissions of {}", root.display()),
                    e,
                )
            })?;
        }
        let cache = root.join(format!("initdb-{key:016x}"));
        if cache.join("PG_VERSION").is_file() {
            // Temp dirs get cleaned by age: a cache that lost files is thrown away and remade.
            if manifest_matches(&cache) {
                return Ok(cache);
            }
            eprintln!(
                "local-postgres: the cached initdb in {} is damaged; remaking it",
                cache.display()
            );
            let _ = fs::remove_dir_all(&cache);
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let tmp = root.join(format!(
            "initdb-{key:016x}.tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        eprintln!("local-postgres: caching an initdb in {}…", cache.display());
        let made = self
            .prepare_data_dir(&tmp)
            .and_then(|()| self.run_initdb(&tmp, true))
            .and_then(|()| write_manifest(&tmp));
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        match fs::rename(&tmp, &cache) {
            Ok(()) => Ok(cache),
            // Another process published one first: use theirs.
            Err(_) if cache.join("PG_VERSION").is_file() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(cache)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(Error::io(
                    format!("could not publish {}", cache.display()),
                    e,
                ))
            }
        }
    }

    fn write_conf(&self, data_dir: &Path, port: u16, ephemeral: bool) -> Result<()> {
        // Our settings live in a file of their own, rewritten before every start and included
        // from postgresql.conf (added here if missing: a data directory made by another initdb).
        let main_conf = data_dir.join("postgresql.conf");
        let include = format!("include_if_exists = '{CONF_FILE}'");
        let text = fs::read_to_string(&main_conf)
            .map_err(|e| Error::io(format!("could not read {}", main_conf.display()), e))?;
        if !text.lines().any(|l| l.trim() == include) {
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(&main_conf)
                .map_err(|e| Error::io(format!("could not open {}", main_conf.display()), e))?;
            writeln!(
                f,
                "\n# Settings of local-postgres (port, sockets, tuning).\n{include}"
            )
            .map_err(|e| Error::io(format!("could not write {}", main_conf.display()), e))?;
        }
        // A Unix socket path is limited to 107 bytes; without room, TCP only.
        let socket_dir = if data_dir.as_os_str().len() + 20 < 100 {
            data_dir.to_string_lossy().into_owned()
        } else {
            String::new()
        };
        let mut conf = format!(
            "port = {port}\n\
             listen_addresses = '{HOST}'\n\
             unix_socket_directories = {}\n\
             max_connections = 300\n\
             shared_buffers = 128MB\n\
             log_min_messages = warning\n\
             log_min_error_statement = panic\n",
            quote_literal(&socket_dir)
        );
        if ephemeral {
            conf.push_str(
                "fsync = off\n\
                 synchronous_commit = off\n\
                 full_page_writes = off\n\
                 checkpoint_timeout = 1h\n\
                 max_wal_size = 4GB\n",
            );
        }
        let path = data_dir.join(CONF_FILE);
        fs::write(&path, conf)
            .map_err(|e| Error::io(format!("could not write {}", path.display()), e))?;
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).map_err(|e| {
                Error::io(
                    format!("could not give {} to {}", path.display(), user.name),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn start(&self, data_dir: &Path, port: u16) -> Result<()> {
        eprintln!("local-postgres: starting PostgreSQL on {HOST}:{port}…");
        let started = Instant::now();
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(data_dir)
            .arg("-l")
            .arg(data_dir.join(LOG_FILE))
            .args(["-w", "-t", &START_TIMEOUT_SECS.to_string(), "start"]);
        // pg_ctl leaves the server's stdout/stderr attached to ours unless told otherwise:
        // capture its own output only.
        if let Err(e) = run(cmd, "pg_ctl start") {
            return Err(Error::new(format!(
                "{e}\nlast lines of {}:\n{}",
                data_dir.join(LOG_FILE).display(),
                log_tail(data_dir, 15)
            )));
        }
        eprintln!(
            "local-postgres: PostgreSQL is up on port {port} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn stop(&self, data_dir: &Path, mode: &str) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(data_dir)
            .args(["-m", mode, "-w", "-t", "60", "stop"]);
        run(cmd, "pg_ctl stop")
    }

    /// The port the cluster's postmaster runs on, if it is running.
    fn running_port(&self, data_dir: &Path) -> Option<u16> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(data_dir).arg("status");
        let out = cmd.output().ok()?;
        if !out.status.success() {
            return None;
        }
        // postmaster.pid: pid, data dir, start time, port, socket dir, listen address, …
        let pid_file = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn spawn_watchdog(&self, root: &Path, data_dir: &Path) -> Result<(Child, ChildStdin)> {
        let user = self.run_as.as_ref().map(|u| u.name.as_str()).unwrap_or("");
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("local-postgres-watchdog")
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(data_dir)
            .arg(root)
            .arg(user)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a signal to ours (Ctrl-C, a test runner's timeout) must
            // not take the watchdog down with us.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("could not start the cluster's watchdog (/bin/sh)", e))?;
        let pipe = child.stdin.take().expect("stdin is piped");
        Ok((child, pipe))
    }
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    let out: Output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io(format!("could not run {what}"), e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::new(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )))
}

/// The file of a cached initdb that lists its files and their sizes.
const MANIFEST: &str = "local-postgres-manifest";

/// Every file under `dir` (relative path) with its size, sorted.
fn file_sizes(dir: &Path, prefix: &Path, out: &mut Vec<(PathBuf, u64)>) -> Result<()> {
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?;
        let meta = entry
            .metadata()
            .map_err(|e| Error::io(format!("could not read {}", entry.path().display()), e))?;
        let rel = prefix.join(entry.file_name());
        if meta.is_dir() {
            file_sizes(&entry.path(), &rel, out)?;
        } else if rel != Path::new(MANIFEST) {
            out.push((rel, meta.len()));
        }
    }
    out.sort();
    Ok(())
}

fn manifest_text(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    file_sizes(dir, Path::new(""), &mut files)?;
    Ok(files
        .iter()
        .map(|(p, n)| format!("{n} {}\n", p.display()))
        .collect())
}

fn write_manifest(dir: &Path) -> Result<()> {
    let path = dir.join(MANIFEST);
    fs::write(&path, manifest_text(dir)?)
        .map_err(|e| Error::io(format!("could not write {}", path.display()), e))
}

fn manifest_matches(dir: &Path) -> bool {
    match (fs::read_to_string(dir.join(MANIFEST)), manifest_text(dir)) {
        (Ok(stored), Ok(now)) => stored == now,
        _ => false,
    }
}

/// Copies a data directory, keeping permissions, and gives every entry to `owner`.
fn copy_tree(from: &Path, to: &Path, owner: Option<&OsUser>) -> Result<()> {
    let io = |what: &str, p: &Path, e| Error::io(format!("could not {what} {}", p.display()), e);
    for entry in fs::read_dir(from).map_err(|e| io("read", from, e))? {
        let entry = entry.map_err(|e| io("read", from, e))?;
        if entry.file_name() == MANIFEST {
            continue;
        }
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = entry.metadata().map_err(|e| io("read", &src, e))?;
        if meta.is_dir() {
            fs::create_dir(&dst).map_err(|e| io("create", &dst, e))?;
            fs::set_permissions(&dst, meta.permissions())
                .map_err(|e| io("set permissions of", &dst, e))?;
            copy_tree(&src, &dst, owner)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| io("copy", &src, e))?;
        }
        if let Some(user) = owner {
            std::os::unix::fs::chown(&dst, Some(user.uid), Some(user.gid))
                .map_err(|e| io("give away", &dst, e))?;
        }
    }
    Ok(())
}

/// Removes everything inside `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> Result<()> {
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
    {
        let path = entry
            .map_err(|e| Error::io(format!("could not read {}", dir.display()), e))?
            .path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| Error::io(format!("could not remove {}", path.display()), e))?;
    }
    Ok(())
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn log_tail(data_dir: &Path, lines: usize) -> String {
    let text = fs::read_to_string(data_dir.join(LOG_FILE)).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn log_says_port_taken(data_dir: &Path) -> bool {
    let tail = log_tail(data_dir, 30);
    tail.contains("could not bind")
        || tail.contains("Address already in use")
        || tail.contains("could not create any TCP/IP sockets")
}

fn find_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let pg_ctl = dir.join("pg_ctl");
            if pg_ctl.is_file() {
                // Debian links /usr/bin/pg_ctl to a wrapper, /usr/local/bin/pg_ctl may link to
                // the real one: resolve, and use the real one's directory if it has initdb.
                let real = fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl);
                if let Some(parent) = real.parent()
                    && parent.join("initdb").is_file()
                    && parent.join("postgres").is_file()
                {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Error::new(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install PostgreSQL \
             (Debian: postgresql) or set PG_BIN_DIR",
        )
    })
}

fn effective_uid() -> Result<u32> {
    // Linux: "Uid: real effective saved fs".
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
        && let Some(euid) = line.split_whitespace().nth(2).and_then(|s| s.parse().ok())
    {
        return Ok(euid);
    }
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| Error::io("could not tell which user this is (id -u)", e))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| Error::new("could not tell which user this is (id -u)"))
}

fn lookup_user(name: &str) -> Result<OsUser> {
    let passwd = fs::read_to_string("/etc/passwd")
        .map_err(|e| Error::io("could not read /etc/passwd", e))?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4
            && f[0] == name
            && let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse())
        {
            return Ok(OsUser {
                name: name.to_owned(),
                uid,
                gid,
            });
        }
    }
    Err(Error::new(format!(
        "running as root, PostgreSQL must run as another user, but there is no OS user {name:?} \
         (create it, or set LOCAL_POSTGRES_OS_USER)"
    )))
}

/// The postgres user must be able to reach the data directory through its ancestors.
fn check_traversable(data_dir: &Path, user: &OsUser) -> Result<()> {
    for dir in data_dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(dir) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(Error::new(format!(
                "the OS user {} cannot reach {} because {} is not traversable by it \
                 (chmod o+x {}, or put the data directory elsewhere)",
                user.name,
                data_dir.display(),
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(p))
        .map_err(|e| Error::io("could not read the current directory", e))
}

fn unique_temp_dir() -> Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!(
            "local-postgres-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| {
                    Error::io(format!("could not set permissions of {}", dir.display()), e)
                })?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("could not create a directory in {}", base.display()),
                    e,
                ));
            }
        }
    }
    Err(Error::new(format!(
        "could not create a unique directory in {}",
        base.display()
    )))
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("could not find a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("could not find a free port", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_notices_a_lost_or_truncated_file() {
        let dir = unique_temp_dir().unwrap();
        fs::create_dir(dir.join("base")).unwrap();
        fs::write(dir.join("PG_VERSION"), "15\n").unwrap();
        fs::write(dir.join("base/1"), vec![0u8; 8192]).unwrap();
        write_manifest(&dir).unwrap();
        assert!(manifest_matches(&dir));

        fs::write(dir.join("base/1"), vec![0u8; 100]).unwrap();
        assert!(!manifest_matches(&dir), "a truncated file");
        fs::write(dir.join("base/1"), vec![0u8; 8192]).unwrap();
        assert!(manifest_matches(&dir));
        fs::remove_file(dir.join("PG_VERSION")).unwrap();
        assert!(!manifest_matches(&dir), "a lost file");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn copies_keep_modes_and_skip_the_manifest() {
        let from = unique_temp_dir().unwrap();
        let to = unique_temp_dir().unwrap();
        fs::create_dir(from.join("global")).unwrap();
        fs::set_permissions(from.join("global"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(from.join("global/pg_control"), b"control").unwrap();
        fs::set_permissions(
            from.join("global/pg_control"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        write_manifest(&from).unwrap();
        copy_tree(&from, &to, None).unwrap();
        assert_eq!(fs::read(to.join("global/pg_control")).unwrap(), b"control");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&to.join("global")), 0o700);
        assert_eq!(mode(&to.join("global/pg_control")), 0o600);
        assert!(!to.join(MANIFEST).exists());
        fs::remove_dir_all(&from).unwrap();
        fs::remove_dir_all(&to).unwrap();
    }
}
