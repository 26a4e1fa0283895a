//! Helpers for the end-to-end tests: the real api on a free port over a fresh database cloned from
//! the migrated template, a fake Twilio over real HTTP, and calls played the way Vapi plays them.
//! The client side of it is `test_support`'s, re-exported here.

pub mod axe;

use std::collections::HashMap;
use std::ops::Deref;
use std::time::Duration;

use api::server::Running;
use booking_postgres::testing::TestDb;
use fake_twilio::{FakeTwilio, SentMessage};
use serde_json::{Value, json};
pub use test_support::{
    ADMIN_TOKEN, Api, CallCtx, Clinic, VAPI_SECRET, code_in, fixture, result_of,
    zone_where_it_is_midday,
};

/// The api started in this process over a database of its own, with a fake Twilio. It derefs to
/// the [`Api`] client: `base`, `http`, `admin`, `vapi` and the rest.
pub struct TestApp {
    pub api: Api,
    pub twilio: FakeTwilio,
    pub db: TestDb,
    running: Option<Running>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the api with the test defaults, after `adjust` changed the environment it reads.
    pub async fn spawn_with(adjust: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        let http = test_support::client();
        let db = TestDb::new().await;
        let twilio = FakeTwilio::start();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut env = test_support::api_env(db.url(), &db.master_key().export(), &twilio, &base);
        adjust(&mut env);
        let config = api::config::Config::from_map(&env).expect("test configuration");
        let running = api::server::start_on(config, listener)
            .await
            .expect("api starts");
        Self {
            api: Api::new(base, http),
            twilio,
            db,
            running: Some(running),
        }
    }

    /// Another api instance over the same database and the same fake Twilio, with the same
    /// settings: a second process behind a load balancer. It derefs to its own [`Api`] client.
    pub async fn another_instance(&self) -> Instance {
        self.another_instance_with(|_| {}).await
    }

    /// [`TestApp::another_instance`], after `adjust` changed the environment it reads.
    pub async fn another_instance_with(
        &self,
        adjust: impl FnOnce(&mut HashMap<String, String>),
    ) -> Instance {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut env = test_support::api_env(
            self.db.url(),
            &self.db.master_key().export(),
            &self.twilio,
            &base,
        );
        adjust(&mut env);
        let config = api::config::Config::from_map(&env).expect("test configuration");
        let running = api::server::start_on(config, listener)
            .await
            .expect("the second instance starts");
        Instance {
            api: Api::new(base, test_support::client()),
            running: Some(running),
        }
    }

    /// Stops the api the orderly way (in-flight requests finish, claims are given back).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Creates a clinic open every day 00:00-24:00 with no notice needed (so that tests find
    /// slots whatever the hour), two alert numbers and its own Twilio account at the fake.
    pub async fn create_clinic(&self, name: &str, n: u32) -> Clinic {
        self.api.create_clinic(&self.twilio, name, n).await
    }

    pub async fn create_clinic_with(
        &self,
        name: &str,
        n: u32,
        adjust: impl FnOnce(&mut Value),
    ) -> Clinic {
        self.api
            .create_clinic_with(&self.twilio, name, n, adjust)
            .await
    }

    /// A new call from `caller` to `clinic`.
    pub fn call<'a>(&'a self, clinic: &Clinic, caller: &str) -> Call<'a> {
        Call {
            app: self,
            ctx: CallCtx::new(clinic, caller),
        }
    }

    /// Texts the fake Twilio received for `to`, waiting up to 10 s for at least `n`.
    pub async fn texts_to(&self, to: &str, n: usize) -> Vec<SentMessage> {
        test_support::texts_to(&self.twilio, to, n, Duration::from_secs(10)).await
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

/// An api instance started by [`TestApp::another_instance`].
pub struct Instance {
    pub api: Api,
    running: Option<Running>,
}

impl Instance {
    /// Stops this instance the orderly way.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

impl Deref for Instance {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A call in progress, played as Vapi plays it.
pub struct Call<'a> {
    pub app: &'a TestApp,
    pub ctx: CallCtx,
}

impl Deref for Call<'_> {
    type Target = CallCtx;

    fn deref(&self) -> &CallCtx {
        &self.ctx
    }
}

impl Call<'_> {
    pub async fn assistant_request(&self) -> (u16, Value) {
        self.app.vapi(&self.assistant_request_body()).await
    }

    /// Sends one `tool-calls` message with these calls (`id`, `name`, `arguments`), with the
    /// arguments as a JSON string as current Vapi sends them; returns the `results` entries.
    pub async fn tool_calls(&self, calls: &[(String, &str, Value)]) -> Vec<Value> {
        self.app.tool_calls(&self.ctx, calls).await
    }

    /// One tool call; returns the parsed `result` (panics on an `error`).
    pub async fn tool(&self, name: &str, args: Value) -> Value {
        self.app.tool(&self.ctx, name, args).await.result()
    }

    pub async fn tool_with_id(&self, id: &str, name: &str, args: Value) -> Value {
        self.app
            .tool_with_id(&self.ctx, id, name, args)
            .await
            .result()
    }

    pub async fn end_of_call(&self, structured: Value, duration_seconds: i64) -> (u16, Value) {
        self.app
            .vapi(&self.end_of_call_body(structured, duration_seconds))
            .await
    }
}

/// Asks for `service`'s free times and reserves the first one for `caller_name`; returns the
/// start asked for and the parsed `reserve_slot` result (not checked: callers assert on it).
pub async fn hold_first_slot(call: &Call<'_>, service: &str, caller_name: &str) -> (String, Value) {
    hold_first_found(call, json!({"service": service}), service, caller_name).await
}

/// Holds the first slot `check_availability` offers for `availability` (its arguments).
async fn hold_first_found(
    call: &Call<'_>,
    availability: Value,
    service: &str,
    caller_name: &str,
) -> (String, Value) {
    let avail = call.tool("check_availability", availability).await;
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
    book_found(call, json!({"service": service}), service).await
}

/// As [`book`], the first slot on the clinic's local date `date`.
pub async fn book_on(call: &Call<'_>, service: &str, date: jiff::civil::Date) -> (String, String) {
    book_found(
        call,
        json!({"service": service, "date": date.to_string()}),
        service,
    )
    .await
}

async fn book_found(call: &Call<'_>, availability: Value, service: &str) -> (String, String) {
    let (start, held) = hold_first_found(call, availability, service, "Jane Doe").await;
    assert_eq!(held["ok"], json!(true), "{held}");
    let hold = held["hold_id"].as_str().expect("hold id").to_owned();
    // Texts of an earlier booking to the same number (its confirmation) may still be on their
    // way: the count taken before the code is sent must be final, or one of them is read as it.
    call.app.outbox_settled().await;
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
#[derive(Clone)]
pub struct OwnerSession {
    pub base: String,
    pub http: reqwest::Client,
    /// `name=value` of the session cookie.
    pub cookie: String,
    pub csrf: String,
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    test_support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
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
