//! Helpers for the end-to-end tests: the real api on a free port over a fresh database cloned from
//! the migrated template, a fake Twilio over real HTTP, and calls played the way Vapi plays them.

use std::collections::HashMap;
use std::time::Duration;

use api::server::Running;
use booking_postgres::testing::TestDb;
use fake_twilio::{FakeTwilio, SentMessage};
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
pub const VAPI_SECRET: &str = "vapi-secret-for-tests";

/// The Vapi fixtures, as Vapi sends them.
pub fn fixture(name: &str) -> Value {
    let text = match name {
        "assistant-request" => include_str!("../fixtures/vapi/assistant-request.json"),
        "end-of-call-report" => include_str!("../fixtures/vapi/end-of-call-report.json"),
        "status-update" => include_str!("../fixtures/vapi/status-update.json"),
        "tool-calls-string-args" => include_str!("../fixtures/vapi/tool-calls-string-args.json"),
        "tool-calls-object-args" => include_str!("../fixtures/vapi/tool-calls-object-args.json"),
        "tool-calls-flattened-parallel" => {
            include_str!("../fixtures/vapi/tool-calls-flattened-parallel.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture is JSON")
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub twilio: FakeTwilio,
    pub db: TestDb,
    running: Option<Running>,
}

/// What a test needs to know about a clinic it created.
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

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the api with the test defaults, after `adjust` changed the environment it reads.
    pub async fn spawn_with(adjust: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        // reqwest is built with rustls and no default provider (see booking-twilio); the test
        // client talks plain HTTP but still needs one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = TestDb::new().await;
        let twilio = FakeTwilio::start();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut env: HashMap<String, String> = [
            ("DATABASE_URL", db.url().to_owned()),
            ("BIND_ADDR", "127.0.0.1:0".to_owned()),
            ("PUBLIC_BASE_URL", base.clone()),
            ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("VAPI_SECRET", VAPI_SECRET.to_owned()),
            ("MASTER_KEY", db.master_key().export()),
            ("TWILIO_API_BASE", twilio.base_url()),
            ("SMS_RATE_PER_SECOND", "1000".to_owned()),
            ("DB_POOL_SIZE", "8".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        adjust(&mut env);
        let config = api::config::Config::from_map(&env).expect("test configuration");
        let running = api::server::start_on(config, listener)
            .await
            .expect("api starts");
        Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            twilio,
            db,
            running: Some(running),
        }
    }

    /// Stops the api the orderly way (in-flight requests finish, claims are given back).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
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

    /// Creates a clinic open every day 00:00-24:00 with no notice needed (so that tests find
    /// slots whatever the hour), two alert numbers and its own Twilio account at the fake.
    pub async fn create_clinic(&self, name: &str, n: u32) -> Clinic {
        self.create_clinic_with(name, n, |_| {}).await
    }

    pub async fn create_clinic_with(
        &self,
        name: &str,
        n: u32,
        adjust: impl FnOnce(&mut Value),
    ) -> Clinic {
        let called = format!("+1925420{n:04}");
        let phone_number_id = uuid::Uuid::new_v4().to_string();
        let account_sid = format!("AC{:032x}", u128::from(n) + 0xabc0);
        let auth_token = format!("auth-token-{n}-0123456789");
        let from = format!("+1555000{n:04}");
        let alert_numbers = vec![format!("+1555100{n:04}"), format!("+1555200{n:04}")];
        let all_day = json!([["00:00", "24:00"]]);
        let mut body = json!({
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
        adjust(&mut body);
        let (status, created) = self
            .admin(reqwest::Method::POST, "/admin/tenants", Some(body))
            .await;
        assert_eq!(status, 201, "create tenant: {created}");
        self.twilio.register_account(&account_sid, &auth_token);
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

    /// POSTs a server message to `/vapi/webhook` with the shared secret.
    pub async fn vapi(&self, body: &Value) -> (u16, Value) {
        self.vapi_at("/vapi/webhook", body).await
    }

    pub async fn vapi_at(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .header("X-Vapi-Secret", VAPI_SECRET)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A new call from `caller` to `clinic`.
    pub fn call<'a>(&'a self, clinic: &Clinic, caller: &str) -> Call<'a> {
        Call {
            app: self,
            id: uuid::Uuid::new_v4().to_string(),
            phone_number_id: clinic.phone_number_id.clone(),
            called: clinic.called.clone(),
            caller: caller.to_owned(),
            seq: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Texts the fake Twilio received for `to`, waiting up to 10 s for at least `n`.
    pub async fn texts_to(&self, to: &str, n: usize) -> Vec<SentMessage> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.twilio.messages_to(to);
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the outbox has nothing left to do (no message pending, sending or
    /// ambiguous), so that a count of texts at the fake is final.
    pub async fn outbox_settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            // `execute` of a SELECT counts its rows.
            let open = self
                .db
                .execute(
                    "SELECT 1 FROM outbound_messages WHERE status IN ('pending','sending','ambiguous') \
                     AND due_at <= now()",
                )
                .await;
            if open == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "outbox did not settle: {open} open"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The code in an OTP text, as a caller would read it.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=10).contains(&w.len()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

/// A call in progress, played as Vapi plays it.
pub struct Call<'a> {
    pub app: &'a TestApp,
    pub id: String,
    pub phone_number_id: String,
    pub called: String,
    pub caller: String,
    seq: std::sync::atomic::AtomicU32,
}

impl Call<'_> {
    fn envelope(&self, kind: &str) -> Value {
        json!({"message": {
            "type": kind,
            "timestamp": jiff::Timestamp::now().as_millisecond(),
            "call": {"id": self.id, "type": "inboundPhoneCall", "phoneNumberId": self.phone_number_id,
                     "customer": {"number": self.caller}},
            "phoneNumber": {"id": self.phone_number_id, "number": self.called},
            "customer": {"number": self.caller}
        }})
    }

    pub async fn assistant_request(&self) -> (u16, Value) {
        let mut body = fixture("assistant-request");
        let m = &mut body["message"];
        m["call"]["id"] = json!(self.id);
        m["call"]["phoneNumberId"] = json!(self.phone_number_id);
        m["call"]["customer"]["number"] = json!(self.caller);
        m["phoneNumber"]["id"] = json!(self.phone_number_id);
        m["phoneNumber"]["number"] = json!(self.called);
        m["customer"]["number"] = json!(self.caller);
        self.app.vapi(&body).await
    }

    pub fn next_tool_call_id(&self) -> String {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("call_{}_{n}", &self.id[..8])
    }

    /// Sends one `tool-calls` message with these calls (`id`, `name`, `arguments`), with the
    /// arguments as a JSON string as current Vapi sends them; returns the `results` entries.
    pub async fn tool_calls(&self, calls: &[(String, &str, Value)]) -> Vec<Value> {
        let mut body = self.envelope("tool-calls");
        body["message"]["toolCallList"] = calls
            .iter()
            .map(|(id, name, args)| {
                json!({"id": id, "type": "function",
                       "function": {"name": name, "arguments": args.to_string()}})
            })
            .collect();
        let (status, reply) = self.app.vapi(&body).await;
        assert_eq!(status, 200, "tool-calls answered {status}: {reply}");
        let results = reply["results"].as_array().expect("results").clone();
        assert_eq!(results.len(), calls.len(), "one result per call: {reply}");
        for (r, (id, _, _)) in results.iter().zip(calls) {
            assert_eq!(r["toolCallId"], json!(id), "results in order");
        }
        results
    }

    /// One tool call; returns the parsed `result` (panics on an `error`).
    pub async fn tool(&self, name: &str, args: Value) -> Value {
        let id = self.next_tool_call_id();
        self.tool_with_id(&id, name, args).await
    }

    pub async fn tool_with_id(&self, id: &str, name: &str, args: Value) -> Value {
        let results = self.tool_calls(&[(id.to_owned(), name, args)]).await;
        result_of(&results[0])
    }

    pub async fn end_of_call(&self, structured: Value, duration_seconds: i64) -> (u16, Value) {
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
        self.app.vapi(&body).await
    }
}

/// The parsed `result` of one reply entry. Panics when it is an `error`, or not one line of JSON.
pub fn result_of(entry: &Value) -> Value {
    let line = entry["result"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a result, got {entry}"));
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "result is one line: {line:?}"
    );
    serde_json::from_str(line).unwrap_or_else(|e| panic!("result is not JSON ({e}): {line}"))
}

/// Asks for `service`'s free times and reserves the first one for `caller_name`; returns the
/// start asked for and the parsed `reserve_slot` result (not checked: callers assert on it).
pub async fn hold_first_slot(call: &Call<'_>, service: &str, caller_name: &str) -> (String, Value) {
    let avail = call
        .tool("check_availability", json!({"service": service}))
        .await;
    assert_eq!(avail["ok"], json!(true), "{avail}");
    let start = avail["slots"][0]["start"]
        .as_str()
        .expect("a slot")
        .to_owned();
    let held = call
        .tool(
            "reserve_slot",
            json!({"start": start, "service": service, "caller_name": caller_name}),
        )
        .await;
    (start, held)
}

/// Books a slot through the whole tool sequence (availability, hold, code, verify); returns the
/// appointment id and the start.
pub async fn book(call: &Call<'_>, service: &str) -> (String, String) {
    let (start, held) = hold_first_slot(call, service, "Jane Doe").await;
    assert_eq!(held["ok"], json!(true), "{held}");
    let hold = held["hold_id"].as_str().expect("hold id").to_owned();
    let before = call.app.twilio.messages_to(&call.caller).len();
    let sent = call.tool("send_otp", json!({"hold_id": hold})).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    let texts = call.app.texts_to(&call.caller, before + 1).await;
    assert_eq!(texts.len(), before + 1, "the code was texted");
    let code = code_in(&texts.last().expect("otp text").body);
    let verified = call
        .tool("verify_otp", json!({"hold_id": hold, "code": code}))
        .await;
    assert_eq!(verified["ok"], json!(true), "{verified}");
    (
        verified["appointment_id"]
            .as_str()
            .expect("appointment id")
            .to_owned(),
        start,
    )
}

/// A password that meets the dashboard's policy, for tests.
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// A browser's session on the owner's dashboard, played over plain HTTP: the session cookie, the
/// page's CSRF token, and a client that does not follow redirects (so that tests see them).
pub struct OwnerSession {
    pub base: String,
    pub http: reqwest::Client,
    /// `name=value` of the session cookie.
    pub cookie: String,
    pub csrf: String,
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The `name=value` part of every `Set-Cookie` of a response, with the raw headers.
pub fn set_cookies(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|raw| {
            let pair = raw.split(';').next().unwrap_or("").trim().to_owned();
            (pair, raw.to_owned())
        })
        .collect()
}

/// The value of the first hidden `csrf` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

impl TestApp {
    /// `POST /admin/tenants/{id}/owners`.
    pub async fn create_owner(&self, clinic: &Clinic, email: &str, password: &str) -> (u16, Value) {
        self.admin(
            reqwest::Method::POST,
            &format!("/admin/tenants/{}/owners", clinic.id),
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Signs in through the form; `Err((status, body))` when refused.
    pub async fn try_sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<OwnerSession, (u16, String)> {
        let http = no_redirects();
        let form = http
            .get(self.url("/app/login"))
            .send()
            .await
            .expect("login form");
        assert_eq!(form.status().as_u16(), 200);
        let login_cookie = set_cookies(&form)
            .into_iter()
            .next()
            .expect("the login form sets its CSRF cookie")
            .0;
        let token = csrf_in(&form.text().await.expect("body")).expect("csrf field");
        let resp = http
            .post(self.url("/app/login"))
            .header("Cookie", &login_cookie)
            .header("Origin", &self.base)
            .form(&[("email", email), ("password", password), ("csrf", &token)])
            .send()
            .await
            .expect("login");
        let status = resp.status().as_u16();
        if status != 303 {
            return Err((status, resp.text().await.unwrap_or_default()));
        }
        let cookie = set_cookies(&resp)
            .into_iter()
            .find(|(pair, _)| pair.contains("session=") && !pair.ends_with('='))
            .expect("a session cookie")
            .0;
        let mut session = OwnerSession {
            base: self.base.clone(),
            http,
            cookie,
            csrf: String::new(),
        };
        let (status, page) = session.get("/app/settings").await;
        assert_eq!(status, 200, "signed in: {page}");
        session.csrf = csrf_in(&page).expect("pages carry the CSRF token");
        Ok(session)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> OwnerSession {
        self.try_sign_in(email, password)
            .await
            .unwrap_or_else(|(s, body)| panic!("sign-in refused with {s}: {body}"))
    }
}

impl OwnerSession {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// A form POST as the browser sends it: the session cookie, our Origin, and the CSRF token
    /// (unless `fields` has its own `csrf`).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            form.push(("csrf", &self.csrf));
        }
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("Origin", &self.base)
            .form(&form)
            .send()
            .await
            .expect("request");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }
}
