//! The server binaries and the OS user they run as: initdb, the configuration, start and stop, and
//! the watchdog of an ephemeral cluster.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::cluster::{HOST, SUPERUSER};
use super::error::{Error, Result};
use super::initdb_cache::{copy_tree, empty_dir, fnv1a, manifest_matches, write_manifest};
use super::machine::{check_traversable, effective_uid, find_bin_dir, log_tail, lookup_user};
use crate::wire::quote_literal;

const CONF_FILE: &str = "local-postgres.conf";

pub(super) const LOG_FILE: &str = "server.log";

const START_TIMEOUT_SECS: u32 = 60;

const INITDB_ARGS: [&str; 5] = [
    "-U",
    SUPERUSER,
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
];

/// The binaries and the OS user they run as.
#[derive(Debug, Clone)]
pub(super) struct Env {
    bin_dir: PathBuf,
    /// `Some(user)` when this process is root: server binaries run as that user.
    run_as: Option<OsUser>,
}

#[derive(Debug, Clone)]
pub(super) struct OsUser {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
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
    pub(super) fn discover() -> Result<Self> {
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
    pub(super) fn command(&self, tool: &str) -> Command {
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

    pub(super) fn prepare_data_dir(&self, data_dir: &Path) -> Result<()> {
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

    pub(super) fn initdb(&self, data_dir: &Path, ephemeral: bool) -> Result<()> {
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

    pub(super) fn run_initdb(&self, data_dir: &Path, no_sync: bool) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(data_dir).args(INITDB_ARGS);
        if no_sync {
            cmd.arg("--no-sync");
        }
        run(cmd, "initdb")
    }

    /// A pristine initdb output for these binaries and this OS user, made once per machine
    /// (in the temp dir) and published atomically, so that a half-made one is never used.
    pub(super) fn cached_initdb(&self) -> Result<PathBuf> {
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

    pub(super) fn write_conf(&self, data_dir: &Path, port: u16, ephemeral: bool) -> Result<()> {
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

    pub(super) fn start(&self, data_dir: &Path, port: u16) -> Result<()> {
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

    pub(super) fn stop(&self, data_dir: &Path, mode: &str) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(data_dir)
            .args(["-m", mode, "-w", "-t", "60", "stop"]);
        run(cmd, "pg_ctl stop")
    }

    /// The port the cluster's postmaster runs on, if it is running.
    pub(super) fn running_port(&self, data_dir: &Path) -> Option<u16> {
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

    pub(super) fn spawn_watchdog(
        &self,
        root: &Path,
        data_dir: &Path,
    ) -> Result<(Child, ChildStdin)> {
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

pub(super) fn run(mut cmd: Command, what: &str) -> Result<()> {
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
