//! What the api's own integration tests share beyond `test_support`: the api as a child process
//! (so that it can be killed), its environment with short outbox timings, and the database read
//! directly.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

/// A client that keeps no idle connection: the api these tests talk to is killed and started
/// again, and a pooled connection to the process that died would only fail the next request.
pub fn client() -> reqwest::Client {
    test_support::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// A free port on loopback (free now: the api binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `env` (the api's environment) with short outbox timings, so that faults resolve in seconds.
pub fn short_outbox_timings(mut env: HashMap<String, String>) -> HashMap<String, String> {
    env.extend(
        [
            ("DB_CONNECT_TIMEOUT_MS", "1000"),
            ("SMS_RETRY_BASE_MS", "200"),
            ("SMS_RETRY_CAP_MS", "1000"),
            ("SMS_RECHECK_MS", "500"),
            ("SMS_CLAIM_LEASE_MS", "3000"),
            ("TWILIO_TIMEOUT_MS", "1000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

/// The api binary running as a child process, its stderr in a file.
pub struct ApiProcess {
    child: Option<Child>,
    pub log: PathBuf,
}

impl ApiProcess {
    /// Starts the binary with exactly `env` (plus PATH), appending its stderr to `log`.
    pub fn spawn(env: &HashMap<String, String>, log: &Path) -> Self {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
        cmd.env_clear()
            .envs(env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err));
        // The api dies with the test process however that ends (a panic unwinds through Drop,
        // a signal does not).
        // SAFETY: prctl is async-signal-safe and touches nothing of the parent's.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start the api binary");
        Self {
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (an orderly stop), then reap; SIGKILL if it does not stop within 20 s.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            for _ in 0..200 {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it exited on its own.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `/readyz` answers 200.
pub async fn wait_ready(http: &reqwest::Client, base: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().as_u16() == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the api at {base} did not become ready within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a query and returns its rows as JSON objects.
pub async fn rows(database_url: &str, sql: &str) -> Vec<Value> {
    #[derive(QueryableByName)]
    struct Rows {
        #[diesel(sql_type = diesel::sql_types::Text)]
        j: String,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
    let r: Rows = diesel::sql_query(format!(
        "SELECT coalesce(json_agg(t), '[]'::json)::text AS j FROM ({sql}) t"
    ))
    .get_result(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    match serde_json::from_str(&r.j).expect("json") {
        Value::Array(a) => a,
        other => panic!("not rows: {other}"),
    }
}

/// Texts scheduled for much later (reminders): retries and checks in these tests are seconds
/// apart, so a text not due within a minute is not under way.
pub const SCHEDULED_LATER: &str = "status = 'pending' AND due_at > now() + interval '1 minute'";

/// Waits until the outbox has nothing under way (no text waiting to be sent or retried, being
/// sent or awaiting a check at Twilio), so that counts at the fake are final.
pub async fn outbox_settled(database_url: &str, within: Duration) {
    // A text due within the minute counts as under way (`SCHEDULED_LATER`): wait long enough for
    // it to fall due and be sent (a reminder of a slot a day ahead can be due seconds from now).
    let within = within.max(Duration::from_secs(75));
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let open = rows(
            database_url,
            &format!(
                "SELECT kind, status, attempts, error_message FROM outbound_messages \
                 WHERE status IN ('pending','sending','ambiguous') AND NOT ({SCHEDULED_LATER})"
            ),
        )
        .await;
        if open.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox did not settle within {within:?}: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
