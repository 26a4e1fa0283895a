//! What the scenarios run against: a private Postgres, the fake Twilio, and the release `api`
//! binary as a child process (so that its memory can be read from `/proc`), driven over HTTP
//! the way Vapi drives it.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fake_twilio::FakeTwilio;
use local_postgres::Cluster;
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";
pub const VAPI_SECRET: &str = "bench-vapi-secret-0123456789";
pub const DB: &str = "bench";
/// The clinics' zone (`test_support::clinic_body`).
pub const TIME_ZONE: &str = "America/New_York";

/// How the database is tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync, synchronous commit and full page writes on: what production runs.
    Production,
    /// The test tuning of ephemeral clusters (all three off).
    NoFsync,
}

pub struct Options {
    pub api_binary: PathBuf,
    pub out_dir: PathBuf,
    pub durability: Durability,
    pub sms_rate_per_second: u32,
    /// Extra environment for the api (DB_POOL_SIZE, …), passed through from ours.
    pub api_env: Vec<(String, String)>,
    pub log_sql: bool,
    /// Log the plan of every statement slower than 2 ms (auto_explain).
    pub explain: bool,
    /// Count the api's statements (pg_stat_statements), reported per scenario.
    pub statements: bool,
}

pub struct Harness {
    pub cluster: Cluster,
    pub twilio: FakeTwilio,
    pub api: ApiProcess,
    pub http: reqwest::Client,
    pub base: String,
    next_clinic: AtomicU32,
    next_caller: AtomicU64,
    pub settings: Value,
    /// The first api's binary, environment and log directory, to start a second one like it.
    api_binary: PathBuf,
    api_env: Vec<(String, String)>,
    out_dir: PathBuf,
    /// A second api process over the same database, while a scenario runs one.
    second: std::sync::Mutex<Option<(ApiProcess, String)>>,
    /// Vapi requests alternate between the two apis while this is set.
    spread: AtomicBool,
    turn: AtomicU64,
    pub(crate) statements: bool, // `Options::statements`; used in `statements.rs`
}

impl Harness {
    pub async fn start(opts: &Options) -> anyhow::Result<Self> {
        if !opts.api_binary.is_file() {
            bail!(
                "{} does not exist: build it first with `cargo build --release -p api`",
                opts.api_binary.display()
            );
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(&opts.out_dir)?;

        let mut cluster = Cluster::ephemeral().context("starting Postgres")?;
        let mut settings = vec![
            "shared_buffers = '512MB'".to_owned(),
            "max_connections = 300".to_owned(),
        ];
        match opts.durability {
            Durability::Production => settings.extend(
                [
                    "fsync = on",
                    "synchronous_commit = on",
                    "full_page_writes = on",
                ]
                .map(str::to_owned),
            ),
            Durability::NoFsync => settings.extend(
                [
                    "fsync = off",
                    "synchronous_commit = off",
                    "full_page_writes = off",
                ]
                .map(str::to_owned),
            ),
        }
        if opts.log_sql {
            settings.push("log_statement = 'all'".to_owned());
        }
        if opts.statements {
            settings.push("shared_preload_libraries = 'pg_stat_statements'".to_owned());
        }

        for s in &settings {
            let (k, v) = s.split_once(" = ").expect("setting");
            cluster.execute("postgres", &format!("ALTER SYSTEM SET {k} = {v}"))?;
        }
        // shared_buffers needs a restart; postgresql.auto.conf outranks the cluster's own file.
        cluster.stop()?;
        cluster.start()?;
        let mut shown = serde_json::Map::new();
        for k in [
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
            "max_connections",
            "server_version",
        ] {
            let rows = cluster.query("postgres", &format!("SHOW {k}"))?;
            let v = rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .unwrap_or_default();
            shown.insert(k.to_owned(), json!(v));
        }
        cluster.create_database(DB)?;
        if opts.explain {
            for s in [
                "session_preload_libraries = 'auto_explain'",
                "auto_explain.log_min_duration = '2ms'",
                "auto_explain.log_analyze = on",
                "auto_explain.log_buffers = on",
            ] {
                cluster.execute("postgres", &format!("ALTER DATABASE {DB} SET {s}"))?;
            }
        }
        if opts.statements {
            // Known only once the library is loaded, after the restart.
            cluster.execute(DB, "CREATE EXTENSION pg_stat_statements")?;
            cluster.execute(
                DB,
                "ALTER SYSTEM SET pg_stat_statements.track_planning = on",
            )?;
            cluster.execute(DB, "SELECT pg_reload_conf()")?;
        }
        let db_url = cluster.url(DB);

        let twilio = FakeTwilio::builder()
            .with_worker_threads(1)
            .start()
            .context("starting the fake Twilio")?;

        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db_url.clone()),
            ("BIND_ADDR".into(), format!("127.0.0.1:{port}")),
            ("PUBLIC_BASE_URL".into(), base.clone()),
            ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
            ("VAPI_SECRET".into(), VAPI_SECRET.into()),
            (
                "MASTER_KEY".into(),
                booking_postgres::MasterKey::generate().export(),
            ),
            ("TWILIO_API_BASE".into(), twilio.base_url()),
            (
                "SMS_RATE_PER_SECOND".into(),
                opts.sms_rate_per_second.to_string(),
            ),
            // Only the calendars scenario links calendars; it wants their syncs frequent.
            (
                "CALENDAR_STALENESS_SECONDS".into(),
                crate::scenarios::STALENESS_SECONDS.to_string(),
            ),
        ];
        env.extend(opts.api_env.iter().cloned());
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let log_path = opts.out_dir.join(format!("api-{stamp}.log"));
        let api = ApiProcess::spawn(&opts.api_binary, &env, &log_path)?;

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Below actix's 5 s keep-alive, so that the client never reuses a connection the
            // server is closing (that race is the client's to avoid, not the server's fault).
            .pool_idle_timeout(Duration::from_secs(4))
            .build()?;
        let harness = Self {
            cluster,
            twilio,
            api,
            http,
            base,
            next_clinic: AtomicU32::new(1),
            next_caller: AtomicU64::new(1),
            api_binary: opts.api_binary.clone(),
            api_env: env.clone(),
            out_dir: opts.out_dir.clone(),
            second: std::sync::Mutex::new(None),
            spread: AtomicBool::new(false),
            turn: AtomicU64::new(0),
            statements: opts.statements,
            settings: json!({
                "postgres": shown,
                "api_env": opts.api_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                "sms_rate_per_second": opts.sms_rate_per_second,
                "api_log": log_path.display().to_string(),
            }),
        };
        harness.wait_ready(&harness.api, &harness.base).await?;
        Ok(harness)
    }

    async fn wait_ready(&self, api: &ApiProcess, base: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = api.exited() {
                bail!(
                    "the api exited ({status}) while starting; see {}",
                    api.log_path.display()
                );
            }
            if let Ok(r) = self.http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the api was not ready after 60 s; see {}",
                    api.log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a second api process like the first, over the same database and fake, on a port
    /// of its own; returns its base URL. Vapi requests alternate between the two from then on,
    /// until [`Harness::stop_second`].
    pub async fn start_second(&self) -> anyhow::Result<String> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let mut env = self.api_env.clone();
        for (k, v) in &mut env {
            match k.as_str() {
                "BIND_ADDR" => *v = format!("127.0.0.1:{port}"),
                "PUBLIC_BASE_URL" => *v = base.clone(),
                _ => {}
            }
        }
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let log_path = self.out_dir.join(format!("api-second-{stamp}.log"));
        let api = ApiProcess::spawn(&self.api_binary, &env, &log_path)?;
        self.wait_ready(&api, &base).await?;
        *self.second.lock().unwrap_or_else(|e| e.into_inner()) = Some((api, base.clone()));
        self.spread.store(true, Ordering::Relaxed);
        Ok(base)
    }

    /// The second api's peak resident set since the last call (bytes), if it runs.
    pub fn second_rss_window(&self) -> u64 {
        self.second
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |(api, _)| api.rss_window())
    }

    /// Stops the second api (SIGTERM, as a deploy would); requests go to the first only again.
    pub fn stop_second(&self) {
        self.spread.store(false, Ordering::Relaxed);
        let second = self.second.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(second);
    }

    /// Where the next Vapi request goes: the first api, or the two in turn while a second runs.
    fn next_base(&self) -> String {
        if self.spread.load(Ordering::Relaxed)
            && self.turn.fetch_add(1, Ordering::Relaxed) % 2 == 1
            && let Some((_, base)) = self
                .second
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
        {
            return base.clone();
        }
        self.base.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Runs SQL in the bench database (simple query protocol), returning rows as text.
    pub fn sql(&self, sql: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        Ok(self.cluster.query(DB, sql)?)
    }

    /// One number from a `SELECT count(*)`-like query.
    pub fn sql_i64(&self, sql: &str) -> anyhow::Result<i64> {
        let rows = self.sql(sql)?;
        rows.first()
            .and_then(|r| r.first().cloned().flatten())
            .context("no value")?
            .parse()
            .context("not a number")
    }

    /// What the previous work left the database to do, done before the next measurement: the
    /// texts already due sent (waits up to `wait` for the outbox to empty), then VACUUM
    /// (ANALYZE) and a CHECKPOINT, as autovacuum and the checkpointer would have between busy
    /// minutes. Returns the seconds it took.
    pub async fn settle(&self, wait: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        while started.elapsed() < wait
            && self.sql_i64(
                "SELECT count(*) FROM outbound_messages \
                 WHERE status IN ('pending', 'sending', 'ambiguous') AND due_at <= now()",
            )? > 0
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.sql("VACUUM (ANALYZE)")?;
        self.sql("CHECKPOINT")?;
        Ok(started.elapsed().as_secs_f64())
    }

    /// One sign-in form's CSRF cookie and field (a double-submit pair: good at any instance).
    pub async fn login_form(&self) -> anyhow::Result<(String, String)> {
        let form = self.http.get(self.url("/app/login")).send().await?;
        let cookie = form
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("the sign-in form set no cookie")?
            .to_owned();
        let html = form.text().await?;
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).context("no csrf field")? + marker.len();
        let token = html[start..]
            .split('"')
            .next()
            .context("no csrf value")?
            .to_owned();
        Ok((cookie, token))
    }

    /// A new caller number, unique for the whole run (send limits are per number).
    pub fn caller_number(&self) -> String {
        let n = self.next_caller.fetch_add(1, Ordering::Relaxed);
        format!("+1415{:07}", n % 10_000_000)
    }

    /// Creates a clinic through the operator API, open every day around the clock with no
    /// notice, with its own Twilio account registered at the fake.
    pub async fn create_clinic(&self, label: &str) -> anyhow::Result<Clinic> {
        self.create_clinic_with(label, 0).await
    }

    /// A clinic with `providers` providers ("Provider 1", …, each performing every service on
    /// the clinic's hours); 0: the clinic is one provider. Their ids are in `Clinic::providers`.
    pub async fn create_clinic_with(
        &self,
        label: &str,
        providers: usize,
    ) -> anyhow::Result<Clinic> {
        let providers = (1..=providers)
            .map(|i| json!({"name": format!("Provider {i}")}))
            .collect();
        self.create_clinic_of(label, providers).await
    }

    /// A clinic with these providers, each as the operator API takes one (a name, and
    /// optionally a `calendar` link); none: the clinic is one provider.
    pub async fn create_clinic_of(
        &self,
        label: &str,
        providers: Vec<Value>,
    ) -> anyhow::Result<Clinic> {
        let n = self.next_clinic.fetch_add(1, Ordering::Relaxed);
        let name = format!("Bench Clinic {label}");
        let called = format!("+1925{:07}", n);
        let phone_number_id = uuid::Uuid::new_v4().to_string();
        let account_sid = format!("AC{:032x}", u128::from(n) + 0xbe0c_0000);
        let auth_token = format!("bench-auth-token-{n}-0123456789");
        let from = format!("+1555{:07}", n);
        let body = test_support::clinic_body(&test_support::ClinicNumbers {
            name: &name,
            called: &called,
            phone_number_id: &phone_number_id,
            alert_numbers: &[format!("+1556{:07}", n)],
            account_sid: &account_sid,
            auth_token: &auth_token,
            from: &from,
        });
        let mut body = body;
        if !providers.is_empty() {
            body["providers"] = Value::Array(providers);
        }
        let resp = self
            .http
            .post(self.url("/admin/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let created: Value = resp.json().await.unwrap_or(Value::Null);
        if status != 201 {
            bail!("creating a tenant answered {status}: {created}");
        }
        self.twilio.register_account(&account_sid, &auth_token);
        Ok(Clinic {
            id: created["id"].as_str().context("tenant id")?.to_owned(),
            called,
            phone_number_id,
            providers: created["providers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    pub fn call(&self, clinic: &Clinic) -> Call {
        Call {
            id: uuid::Uuid::new_v4().to_string(),
            phone_number_id: clinic.phone_number_id.clone(),
            called: clinic.called.clone(),
            caller: self.caller_number(),
            seq: AtomicU32::new(0),
        }
    }

    /// POSTs a Vapi server message; the status and the parsed body.
    pub async fn vapi(&self, body: &Value) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .http
            .post(format!("{}/vapi/webhook", self.next_base()))
            .header("X-Vapi-Secret", VAPI_SECRET)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                // reqwest's message leaves out the cause (reset, refused, timeout…).
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(&format!(": {s}"));
                    source = s.source();
                }
                anyhow::anyhow!(text)
            })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Waits (polling the fake, as a caller looks at their phone) for a text to `to` whose
    /// body has a code; returns the code.
    pub async fn otp_for(&self, to: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self
                .twilio
                .messages_to(to)
                .last()
                .and_then(|m| code_in(&m.body))
            {
                return Ok(code);
            }
            if Instant::now() > deadline {
                bail!("no code texted within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The code in an OTP text, as a caller reads it.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=10).contains(&w.len()))
        .map(str::to_owned)
}

#[derive(Clone, Debug)]
pub struct Clinic {
    pub id: String,
    pub called: String,
    pub phone_number_id: String,
    /// The providers' ids, in order (the one provider's when none were configured).
    pub providers: Vec<String>,
}

/// A call in progress, with the envelope Vapi puts around every message.
pub struct Call {
    pub id: String,
    pub phone_number_id: String,
    pub called: String,
    pub caller: String,
    seq: AtomicU32,
}

/// What one tool call came back with.
pub enum ToolAnswer {
    /// `ok: true`.
    Ok(Value),
    /// A business refusal (`ok: false`), e.g. the slot is taken.
    Refused(Value),
    /// An `error` entry, a non-200 status, a malformed reply, or a transport failure.
    Error(String),
}

impl Call {
    fn context(&self) -> Value {
        json!({
            "id": self.id, "type": "inboundPhoneCall", "phoneNumberId": self.phone_number_id,
            "customer": {"number": self.caller}
        })
    }

    fn envelope(&self, kind: &str) -> Value {
        json!({"message": {
            "type": kind,
            "timestamp": jiff::Timestamp::now().as_millisecond(),
            "call": self.context(),
            "phoneNumber": {"id": self.phone_number_id, "number": self.called},
            "customer": {"number": self.caller}
        }})
    }

    /// The assistant-request, as in Vapi's payload (with the secrets Vapi echoes).
    pub async fn assistant_request(&self, h: &Harness) -> Result<Duration, String> {
        let mut body = self.envelope("assistant-request");
        body["message"]["call"]["status"] = json!("ringing");
        body["message"]["phoneNumber"]["provider"] = json!("twilio");
        body["message"]["phoneNumber"]["twilioAuthToken"] = json!("do-not-log-me");
        let started = Instant::now();
        let (status, reply) = h.vapi(&body).await.map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if status != 200 || reply["assistant"]["model"]["tools"].as_array().is_none() {
            return Err(format!("assistant-request answered {status}: {reply}"));
        }
        Ok(took)
    }

    /// One tool call, arguments as a JSON string as current Vapi sends them.
    pub async fn tool(&self, h: &Harness, name: &str, args: Value) -> (ToolAnswer, Duration) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("call_{}_{n}", &self.id[..8]);
        let mut body = self.envelope("tool-calls");
        body["message"]["toolCallList"] = json!([{
            "id": id, "type": "function",
            "function": {"name": name, "arguments": args.to_string()}
        }]);
        let started = Instant::now();
        let sent = h.vapi(&body).await;
        let took = started.elapsed();
        let answer = match sent {
            Err(e) => ToolAnswer::Error(format!("{name}: {e:#}")),
            Ok((status, reply)) if status != 200 => {
                ToolAnswer::Error(format!("{name}: HTTP {status}: {reply}"))
            }
            Ok((_, reply)) => {
                let entry = &reply["results"][0];
                match entry["result"].as_str() {
                    None => ToolAnswer::Error(format!("{name}: {entry}")),
                    Some(line) => match serde_json::from_str::<Value>(line) {
                        Ok(v) if v["ok"] == json!(true) => ToolAnswer::Ok(v),
                        Ok(v) => ToolAnswer::Refused(v),
                        Err(e) => ToolAnswer::Error(format!("{name}: result not JSON ({e})")),
                    },
                }
            }
        };
        (answer, took)
    }

    pub async fn end_of_call(&self, h: &Harness) -> Result<Duration, String> {
        let mut body = self.envelope("end-of-call-report");
        let end = jiff::Timestamp::now();
        let start = end - jiff::SignedDuration::from_secs(95);
        let m = &mut body["message"];
        m["endedReason"] = json!("customer-ended-call");
        m["startedAt"] = json!(start.to_string());
        m["endedAt"] = json!(end.to_string());
        m["analysis"] = json!({
            "summary": "The caller booked a checkup and asked about whitening.",
            "structuredData": {"caller_name": "Jane Doe", "service_interest": "Teeth Whitening",
                               "wants_callback": true}
        });
        m["artifact"] = json!({
            "transcript": "AI: Smile Dental, how can I help?\nUser: I'd like a checkup.",
            "messages": []
        });
        let started = Instant::now();
        let (status, reply) = h.vapi(&body).await.map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if status != 200 {
            return Err(format!("end-of-call-report answered {status}: {reply}"));
        }
        Ok(took)
    }
}

/// The api binary running as our child, its output in a log file. Stopped (SIGTERM, then
/// SIGKILL after 15 s) when dropped.
pub struct ApiProcess {
    child: Child,
    pub pid: u32,
    pub log_path: PathBuf,
    rss: Arc<RssSampler>,
}

impl ApiProcess {
    fn spawn(binary: &Path, env: &[(String, String)], log_path: &Path) -> anyhow::Result<Self> {
        let log =
            File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let child = Command::new(binary)
            .envs(vars)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        let rss = RssSampler::start(pid);
        Ok(Self {
            child,
            pid,
            log_path: log_path.to_owned(),
            rss,
        })
    }

    pub fn exited(&self) -> Option<String> {
        // `try_wait` needs `&mut`; /proc tells us without reaping.
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let state = status.lines().find(|l| l.starts_with("State:"))?;
        state.contains("zombie").then(|| state.trim().to_owned())
    }

    /// Starts a new measurement window of the resident set; returns the previous window's peak.
    pub fn rss_window(&self) -> u64 {
        self.rss.window.swap(0, Ordering::Relaxed)
    }

    /// The process's peak resident set so far (VmHWM), in bytes.
    pub fn hwm(&self) -> u64 {
        read_status(self.pid, "VmHWM:").unwrap_or(0)
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        self.rss.stop.store(true, Ordering::Relaxed);
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Samples VmRSS every 10 ms on a thread of its own; keeps the maximum of the current window.
struct RssSampler {
    window: AtomicU64,
    stop: AtomicBool,
}

impl RssSampler {
    fn start(pid: u32) -> Arc<Self> {
        let s = Arc::new(Self {
            window: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let t = s.clone();
        std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !t.stop.load(Ordering::Relaxed) {
                    match read_status(pid, "VmRSS:") {
                        Some(rss) => {
                            t.window.fetch_max(rss, Ordering::Relaxed);
                        }
                        None => break,
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .expect("sampler thread");
        s
    }
}

/// A `kB` field of `/proc/<pid>/status`, in bytes (a plain count for fields without a unit,
/// multiplied by 1024 all the same: callers divide it back).
fn read_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let n: u64 = line[field.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(n * 1024)
}

/// Bytes in megabytes (10^6).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// Fields of `/proc/<pid>/stat` after the command (which is in parentheses), from field 3 on.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    Some(after.split(' ').map(str::to_owned).collect())
}

/// CPU seconds (user and system) a process has used so far, all its threads.
pub fn cpu_seconds(pid: u32) -> f64 {
    // utime and stime are fields 14 and 15, i.e. 11 and 12 counted from field 3.
    stat_fields(pid)
        .map(|f| {
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            (n(11) + n(12)) / TICKS_PER_S
        })
        .unwrap_or(0.0)
}

impl Harness {
    /// CPU seconds the PostgreSQL server has used so far: the postmaster, its live children
    /// (backends, WAL writer…), and its children that have exited (cutime, cstime).
    pub fn postgres_cpu_seconds(&self) -> f64 {
        let Some(postmaster) =
            std::fs::read_to_string(self.cluster.data_dir().join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return 0.0;
        };
        let mut total = stat_fields(postmaster)
            .map(|f| {
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                (n(11) + n(12) + n(13) + n(14)) / TICKS_PER_S
            })
            .unwrap_or(0.0);
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                // The parent is field 4, i.e. 1 counted from field 3.
                if stat_fields(pid).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()))
                    == Some(postmaster)
                {
                    total += cpu_seconds(pid);
                }
            }
        }
        total
    }
}
