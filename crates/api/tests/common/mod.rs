//! What the api's own integration tests share: the api in this process or as a child process
//! (so that it can be killed), a database cloned from the migrated template, the fake Twilio,
//! clinics created over the operator API, and calls played the way Vapi plays them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fake_twilio::FakeTwilio;
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "admin-token-for-fault-tests-0123";
pub const VAPI_SECRET: &str = "vapi-secret-for-fault-tests";

/// The Vapi fixtures the end-to-end suite uses.
pub fn fixture(name: &str) -> Value {
    let text = match name {
        "assistant-request" => {
            include_str!("../../../../tests/fixtures/vapi/assistant-request.json")
        }
        "end-of-call-report" => {
            include_str!("../../../../tests/fixtures/vapi/end-of-call-report.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture is JSON")
}

/// An HTTP client for the tests. reqwest is built with rustls and no default crypto provider in
/// this workspace: one is installed first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
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

/// The environment the api needs, with short outbox timings so that faults resolve in seconds.
pub fn api_env(
    database_url: &str,
    master_key: &str,
    twilio: &FakeTwilio,
    base: &str,
) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url.to_owned()),
        ("BIND_ADDR", base.trim_start_matches("http://").to_owned()),
        ("PUBLIC_BASE_URL", base.to_owned()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("VAPI_SECRET", VAPI_SECRET.to_owned()),
        ("MASTER_KEY", master_key.to_owned()),
        ("TWILIO_API_BASE", twilio.base_url()),
        ("SMS_RATE_PER_SECOND", "1000".to_owned()),
        ("DB_POOL_SIZE", "8".to_owned()),
        ("DB_CONNECT_TIMEOUT_MS", "1000".to_owned()),
        ("SMS_RETRY_BASE_MS", "200".to_owned()),
        ("SMS_RETRY_CAP_MS", "1000".to_owned()),
        ("SMS_RECHECK_MS", "500".to_owned()),
        ("SMS_CLAIM_LEASE_MS", "3000".to_owned()),
        ("TWILIO_TIMEOUT_MS", "1000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
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

/// The api over HTTP.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// A clinic created through the operator API.
#[derive(Clone, Debug)]
pub struct Clinic {
    pub id: String,
    pub name: String,
    pub called: String,
    pub phone_number_id: String,
    pub account_sid: String,
    pub auth_token: String,
    pub from: String,
    pub alert_numbers: Vec<String>,
}

impl Api {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A clinic open around the clock with no notice needed, two alert numbers and its own
    /// Twilio account at the fake.
    pub async fn create_clinic(&self, twilio: &FakeTwilio, name: &str, n: u32) -> Clinic {
        let called = format!("+1925420{n:04}");
        let phone_number_id = uuid::Uuid::new_v4().to_string();
        let account_sid = format!("AC{:032x}", u128::from(n) + 0xfa0);
        let auth_token = format!("auth-token-{n}-fault-0123456789");
        let from = format!("+1555000{n:04}");
        let alert_numbers = vec![format!("+1555100{n:04}"), format!("+1555200{n:04}")];
        let all_day = json!([["00:00", "24:00"]]);
        let body = json!({
            "name": name,
            "timezone": "America/New_York",
            "phone_numbers": [{"number": called, "vapi_phone_number_id": phone_number_id}],
            "alert_numbers": alert_numbers,
            "twilio": {"account_sid": account_sid, "auth_token": auth_token, "from": from},
            "services": [
                {"name": "Teeth Whitening", "duration_minutes": 60, "value_cents": 45000},
                {"name": "Checkup", "duration_minutes": 30}
            ],
            "weekly_hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                             "fri": all_day, "sat": all_day, "sun": all_day},
            "min_notice_minutes": 0,
            "system_prompt": format!("You are the friendly receptionist of {name}.")
        });
        let (status, created) = self
            .admin(reqwest::Method::POST, "/admin/tenants", Some(body))
            .await;
        assert_eq!(status, 201, "create tenant: {created}");
        twilio.register_account(&account_sid, &auth_token);
        Clinic {
            id: created["id"].as_str().expect("id").to_owned(),
            name: name.to_owned(),
            called,
            phone_number_id,
            account_sid,
            auth_token,
            from,
            alert_numbers,
        }
    }

    /// POSTs a server message with the shared secret; `Err` when no HTTP answer came (the
    /// connection was refused or cut).
    pub async fn try_vapi(&self, body: &Value) -> Result<(u16, Value), reqwest::Error> {
        let resp = self
            .http
            .post(self.url("/vapi/webhook"))
            .header("X-Vapi-Secret", VAPI_SECRET)
            .json(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn vapi(&self, body: &Value) -> (u16, Value) {
        self.try_vapi(body).await.expect("an answer")
    }
}

/// A call from `caller` to a clinic, as Vapi describes it.
#[derive(Clone, Debug)]
pub struct CallCtx {
    pub id: String,
    pub phone_number_id: String,
    pub called: String,
    pub caller: String,
    seq: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl CallCtx {
    pub fn new(clinic: &Clinic, caller: &str) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            phone_number_id: clinic.phone_number_id.clone(),
            called: clinic.called.clone(),
            caller: caller.to_owned(),
            seq: Default::default(),
        }
    }

    pub fn next_tool_call_id(&self) -> String {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("call_{}_{n}", &self.id[..8])
    }

    pub fn envelope(&self, kind: &str) -> Value {
        json!({"message": {
            "type": kind,
            "timestamp": jiff::Timestamp::now().as_millisecond(),
            "call": {"id": self.id, "type": "inboundPhoneCall", "phoneNumberId": self.phone_number_id,
                     "customer": {"number": self.caller}},
            "phoneNumber": {"id": self.phone_number_id, "number": self.called},
            "customer": {"number": self.caller}
        }})
    }

    /// A `tool-calls` message with one call, arguments as a JSON string.
    pub fn tool_body(&self, id: &str, name: &str, args: &Value) -> Value {
        let mut body = self.envelope("tool-calls");
        body["message"]["toolCallList"] = json!([{"id": id, "type": "function",
            "function": {"name": name, "arguments": args.to_string()}}]);
        body
    }

    pub fn assistant_request_body(&self) -> Value {
        let mut body = fixture("assistant-request");
        let m = &mut body["message"];
        m["call"]["id"] = json!(self.id);
        m["call"]["phoneNumberId"] = json!(self.phone_number_id);
        m["call"]["customer"]["number"] = json!(self.caller);
        m["phoneNumber"]["id"] = json!(self.phone_number_id);
        m["phoneNumber"]["number"] = json!(self.called);
        m["customer"]["number"] = json!(self.caller);
        body
    }

    pub fn end_of_call_body(&self, structured: Value, duration_seconds: i64) -> Value {
        let mut body = fixture("end-of-call-report");
        let m = &mut body["message"];
        m["call"]["id"] = json!(self.id);
        m["call"]["phoneNumberId"] = json!(self.phone_number_id);
        m["call"]["customer"]["number"] = json!(self.caller);
        m["phoneNumber"]["id"] = json!(self.phone_number_id);
        m["phoneNumber"]["number"] = json!(self.called);
        m["customer"]["number"] = json!(self.caller);
        let end = jiff::Timestamp::now();
        let start = end - jiff::SignedDuration::from_secs(duration_seconds);
        m["startedAt"] = json!(start.to_string());
        m["endedAt"] = json!(end.to_string());
        m["analysis"]["structuredData"] = structured;
        body
    }
}

/// What one tool call was answered: a parsed `result`, or the text of an `error`.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolAnswer {
    Result(Value),
    Error(String),
}

impl ToolAnswer {
    pub fn from_reply(reply: &Value) -> Self {
        let entry = &reply["results"][0];
        if let Some(line) = entry["result"].as_str() {
            assert!(!line.contains(['\n', '\r']), "result is one line: {line:?}");
            return Self::Result(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("result is not JSON ({e}): {line}")),
            );
        }
        match entry["error"].as_str() {
            Some(e) => Self::Error(e.to_owned()),
            None => panic!("neither result nor error: {reply}"),
        }
    }

    pub fn result(self) -> Value {
        match self {
            Self::Result(v) => v,
            Self::Error(e) => panic!("expected a result, got the error {e:?}"),
        }
    }
}

/// The code in an OTP text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=10).contains(&w.len()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

/// Texts scheduled for much later (reminders): retries and checks in these tests are seconds
/// apart, so a text not due within a minute is not under way.
pub const SCHEDULED_LATER: &str = "status = 'pending' AND due_at > now() + interval '1 minute'";

/// Waits until the outbox has nothing under way (no text waiting to be sent or retried, being
/// sent or awaiting a check at Twilio), so that counts at the fake are final.
pub async fn outbox_settled(database_url: &str, within: Duration) {
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
