//! A private CalDAV server for tests and development: the machine's `radicale` (Debian package
//! `radicale`, or `RADICALE` naming the program), on a free loopback port, with its storage in a
//! new temp directory, htpasswd users, and each user allowed only their own calendars.
//!
//! The server is stopped and its directory removed when the handle is dropped; a small watchdog
//! (`sh`, waiting on a pipe from this process) stops it as well when this process dies without
//! dropping it. [`Radicale::stop`] and [`Radicale::start_again`] take it down and bring it back on
//! the same port with the same data (a calendar server that goes away mid-test).

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a start may take before it is given up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running (or stopped) private Radicale.
pub struct Radicale {
    root: PathBuf,
    port: u16,
    program: String,
    server: Option<Child>,
    watchdog: Option<Child>,
}

/// A user and the calendars to create for them (`(path name, display name)`).
pub struct User<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub calendars: &'a [(&'a str, &'a str)],
}

impl Radicale {
    /// Starts a server with these users and their (empty) calendars.
    pub fn start(users: &[User<'_>]) -> Result<Self, String> {
        let program = std::env::var("RADICALE").unwrap_or_else(|_| "radicale".into());
        let root = unique_temp_dir()?;
        let collections = root.join("collections").join("collection-root");
        let mut htpasswd = String::new();
        for u in users {
            htpasswd.push_str(&format!("{}:{}\n", u.name, u.password));
            for (path, display) in u.calendars {
                let dir = collections.join(u.name).join(path);
                fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let props = format!(
                    "{{\"tag\": \"VCALENDAR\", \"D:displayname\": \"{}\"}}",
                    display.replace('"', "")
                );
                fs::write(dir.join(".Radicale.props"), props)
                    .map_err(|e| format!("writing calendar properties: {e}"))?;
            }
        }
        fs::write(root.join("users"), htpasswd).map_err(|e| format!("writing users: {e}"))?;
        let mut server = Self {
            root,
            port: 0,
            program,
            server: None,
            watchdog: None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            server.port = free_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) if attempt < 5 && e.contains("Address already in use") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the calendars are stored (`collection-root/<user>/<calendar>/<event>.ics`).
    pub fn storage(&self) -> PathBuf {
        self.root.join("collections").join("collection-root")
    }

    /// The server's process id while it runs (to read its CPU time, say).
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Stops the server (the data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut dog) = self.watchdog.take() {
            let _ = dog.kill();
            let _ = dog.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn start_again(&mut self) -> Result<(), String> {
        if self.server.is_some() {
            return Ok(());
        }
        // The port was ours a moment ago; another process may take it, but rarely: retry a
        // little while the old socket is released.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline && e.contains("Address already in use") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("radicale.log")
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.log_file()).map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let mut child = Command::new(&self.program)
            // No configuration file: everything is on the command line.
            .args(["--config", ""])
            .args(["--server-hosts", &format!("127.0.0.1:{}", self.port)])
            .arg("--storage-filesystem-folder")
            .arg(self.root.join("collections"))
            .args(["--auth-type", "htpasswd"])
            .arg("--auth-htpasswd-filename")
            .arg(self.root.join("users"))
            .args(["--auth-htpasswd-encryption", "plain"])
            .args(["--auth-delay", "0"])
            .args(["--rights-type", "owner_only"])
            .args(["--logging-level", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| {
                format!(
                    "could not run {:?} ({e}); install it with `apt-get install radicale` \
                     (or name it in RADICALE)",
                    self.program
                )
            })?;
        // The watchdog: when this process goes away, its end of the pipe closes, `cat` ends,
        // and the server is killed.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg("cat >/dev/null; kill \"$1\" 2>/dev/null")
            .arg("watchdog")
            .arg(child.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start the watchdog: {e}"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut dog = watchdog;
                let _ = dog.kill();
                let _ = dog.wait();
                return Err(format!(
                    "radicale exited ({status}): {}",
                    read_tail(&self.log_file())
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "radicale did not listen on port {} within {START_TIMEOUT:?}: {}",
                    self.port,
                    read_tail(&self.log_file())
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.server = Some(child);
        self.watchdog = Some(watchdog);
        Ok(())
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn read_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn unique_temp_dir() -> Result<PathBuf, String> {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "local-caldav-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_stops_and_starts_again_on_the_same_port() {
        let mut r = Radicale::start(&[User {
            name: "ada",
            password: "pw",
            calendars: &[("work", "Work")],
        }])
        .expect("radicale starts");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, r.port()));
        assert!(TcpStream::connect(addr).is_ok());
        assert!(r.storage().join("ada/work/.Radicale.props").is_file());
        r.stop();
        assert!(TcpStream::connect(addr).is_err(), "stopped");
        r.start_again().expect("starts again");
        assert!(TcpStream::connect(addr).is_ok());
        let root = r.root.clone();
        drop(r);
        assert!(!root.exists(), "the directory is removed");
    }
}
