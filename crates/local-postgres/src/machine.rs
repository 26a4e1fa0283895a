//! What this machine offers: the binaries' directory, users, directories, free ports, the server's
//! log.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{Error, Result};
use super::server::{LOG_FILE, OsUser};

pub(super) fn log_tail(data_dir: &Path, lines: usize) -> String {
    let text = fs::read_to_string(data_dir.join(LOG_FILE)).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(super) fn log_says_port_taken(data_dir: &Path) -> bool {
    let tail = log_tail(data_dir, 30);
    tail.contains("could not bind")
        || tail.contains("Address already in use")
        || tail.contains("could not create any TCP/IP sockets")
}

pub(super) fn find_bin_dir() -> Result<PathBuf> {
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

pub(super) fn effective_uid() -> Result<u32> {
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

pub(super) fn lookup_user(name: &str) -> Result<OsUser> {
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
pub(super) fn check_traversable(data_dir: &Path, user: &OsUser) -> Result<()> {
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

pub(super) fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(p))
        .map_err(|e| Error::io("could not read the current directory", e))
}

pub(super) fn unique_temp_dir() -> Result<PathBuf> {
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

pub(super) fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("could not find a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("could not find a free port", e))
}
