//! Paths, progress lines, signals and child processes: what every command needs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                project_root().join(dir)
            }
        }
        None => project_root().join("target"),
    }
}

/// Where `cargo xtask dev` keeps its state: the Postgres cluster, the secrets, the port files.
pub fn dev_dir() -> PathBuf {
    target_dir().join("dev")
}

/// `cargo` as cargo itself was run (the `CARGO` variable cargo sets for `cargo run`).
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// A progress line on stderr, then (with [`Step::done`]) how long it took.
pub struct Step {
    what: String,
    started: Instant,
}

impl Step {
    pub fn start(what: impl Into<String>) -> Self {
        let what = what.into();
        eprintln!("==> {what}…");
        Self {
            what,
            started: Instant::now(),
        }
    }

    pub fn done(self) {
        eprintln!(
            "    {} done ({})",
            self.what,
            format_duration(self.started.elapsed())
        );
    }
}

/// A message that is not a step: a note, a hint.
pub fn note(msg: impl AsRef<str>) {
    eprintln!("    {}", msg.as_ref());
}

pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `n` random bytes from the kernel, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("could not read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random number below `bound` (not for secrets).
pub fn random_below(bound: u64) -> Result<u64> {
    let hex = random_hex(8)?;
    Ok(u64::from_str_radix(&hex, 16).expect("hex") % bound)
}

/// Signals: SIGINT (Ctrl-C) and SIGTERM are recorded instead of ending the process, so that
/// every command can stop what it started before it exits.
pub mod signals {
    use super::*;

    static RECEIVED: AtomicI32 = AtomicI32::new(0);

    extern "C" fn record(sig: libc::c_int) {
        RECEIVED.store(sig, Ordering::SeqCst);
    }

    pub fn install() {
        let handler: extern "C" fn(libc::c_int) = record;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
            unsafe {
                libc::signal(sig, handler as libc::sighandler_t);
            }
        }
    }

    /// The signal received so far, if any.
    pub fn received() -> Option<i32> {
        match RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    pub fn name(sig: i32) -> &'static str {
        match sig {
            libc::SIGINT => "Ctrl-C",
            libc::SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

/// Sends `sig` to a child process.
pub fn send_signal(child: &Child, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Makes a child get SIGTERM if this process dies without stopping it (`kill -9`), instead of
/// living on without its owner.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe, which is all pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// Asks a child to stop (SIGTERM), waits up to `grace`, then kills it. Returns how it ended.
pub fn terminate(child: &mut Child, what: &str, grace: Duration) -> Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    send_signal(child, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "    {what} did not stop within {}; killing it",
        format_duration(grace)
    );
    child.kill().ok();
    Ok(child.wait()?)
}

/// Waits for a child, passing on a SIGTERM that this process gets (a Ctrl-C reaches the child
/// by itself: it is in our process group). Returns the child's status.
pub fn wait_forwarding_signals(child: &mut Child) -> Result<ExitStatus> {
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if !forwarded && signals::received() == Some(libc::SIGTERM) {
            send_signal(child, libc::SIGTERM);
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a command to completion with inherited output, failing on a non-zero exit.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {what}"))?;
    let status = wait_forwarding_signals(&mut child)?;
    if let Some(sig) = signals::received() {
        bail!("{what}: interrupted ({})", signals::name(sig));
    }
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Reads `KEY=VALUE` lines (comments and blank lines ignored).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

pub fn lookup<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian), for dates in requests.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Now, as an RFC 3339 UTC timestamp with milliseconds, `offset` seconds from now.
pub fn rfc3339_utc(offset_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let total_ms = now.as_millis() as i64 + offset_secs * 1000;
    let secs = total_ms.div_euclid(1000);
    let ms = total_ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A date `days_ahead` days from today (UTC), as `YYYY-MM-DD`.
pub fn date_from_today(days_ahead: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (y, m, d) = civil_from_days(now.as_secs() as i64 / 86_400 + days_ahead);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn timestamps_have_the_rfc3339_shape() {
        let t = rfc3339_utc(0);
        assert_eq!(t.len(), "2026-11-24T14:33:47.700Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn env_files() {
        let dir = std::env::temp_dir().join(format!("xtask-env-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.env");
        fs::write(&path, "# comment\nA=1\n\n B = two words \n").unwrap();
        let vars = read_env_file(&path).unwrap();
        assert_eq!(lookup(&vars, "A"), Some("1"));
        assert_eq!(lookup(&vars, "B"), Some("two words"));
        assert_eq!(lookup(&vars, "C"), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
