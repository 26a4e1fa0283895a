//! What the api's own integration tests and the end-to-end tests share: the client side of a
//! running api (operator calls with the admin token, clinics created through the operator API,
//! server messages shaped and authenticated as Vapi sends them, tool answers read back) and the
//! texts that reach the fake Twilio. How the api is started is each side's own business.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fake_twilio::{FakeTwilio, SentMessage};
use serde_json::{Value, json};

/// The operator's bearer token the tests give the api.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
/// The shared secret Vapi sends in `X-Vapi-Secret`, as the tests give it to the api.
pub const VAPI_SECRET: &str = "vapi-secret-for-tests";

/// The Vapi fixtures in `tests/fixtures/vapi`, as Vapi sends them.
pub fn fixture(name: &str) -> Value {
    let text = match name {
        "assistant-request" => include_str!("../../../tests/fixtures/vapi/assistant-request.json"),
        "end-of-call-report" => {
            include_str!("../../../tests/fixtures/vapi/end-of-call-report.json")
        }
        "status-update" => include_str!("../../../tests/fixtures/vapi/status-update.json"),
        "tool-calls-string-args" => {
            include_str!("../../../tests/fixtures/vapi/tool-calls-string-args.json")
        }
        "tool-calls-object-args" => {
            include_str!("../../../tests/fixtures/vapi/tool-calls-object-args.json")
        }
        "tool-calls-flattened-parallel" => {
            include_str!("../../../tests/fixtures/vapi/tool-calls-flattened-parallel.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture is JSON")
}

/// The environment the api reads in a test: the tests' secrets, texts sent to `twilio`, and
/// no sending rate to speak of. Each side adds or changes what its tests need.
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
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A client builder with a 30 s timeout. reqwest is built with rustls and no default crypto
/// provider in this workspace (see booking-twilio): the test client talks plain HTTP but still
/// needs one installed, so this installs it.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(30))
}

/// An HTTP client for the tests.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("client")
}

/// A clinic a test created through the operator API, and what it needs to know about it.
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

/// What tells one test clinic from another.
pub struct ClinicNumbers<'a> {
    pub name: &'a str,
    pub called: &'a str,
    pub phone_number_id: &'a str,
    pub alert_numbers: &'a [String],
    pub account_sid: &'a str,
    pub auth_token: &'a str,
    pub from: &'a str,
}

/// The operator API's body for a clinic in New York open every day 00:00-24:00 with no notice
/// needed (so that a caller finds slots whatever the hour), a 60-minute whitening and a
/// 30-minute checkup.
pub fn clinic_body(c: &ClinicNumbers<'_>) -> Value {
    let all_day = json!([["00:00", "24:00"]]);
    json!({
        "name": c.name,
        "timezone": "America/New_York",
        "phone_numbers": [{"number": c.called, "vapi_phone_number_id": c.phone_number_id}],
        "alert_numbers": c.alert_numbers,
        "twilio": {"account_sid": c.account_sid, "auth_token": c.auth_token, "from": c.from},
        "services": [
            {"name": "Teeth Whitening", "duration_minutes": 60, "value_cents": 45000},
            {"name": "Checkup", "duration_minutes": 30}
        ],
        "weekly_hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                         "fri": all_day, "sat": all_day, "sun": all_day},
        "min_notice_minutes": 0,
        "system_prompt": format!("You are the friendly receptionist of {}.", c.name)
    })
}

/// A fixed-offset zone in which it is about noon now (`Etc/GMT-5` is five hours ahead of
/// UTC): for a test that books the first free slot and expects it on today's page, which in
/// the clinics' own zone is tomorrow's for the last half hour of each day.
pub fn zone_where_it_is_midday() -> String {
    let utc_hour = jiff::Timestamp::now().as_second().rem_euclid(86_400) / 3_600;
    match 12 - utc_hour {
        0 => "Etc/GMT".to_owned(),
        ahead if ahead > 0 => format!("Etc/GMT-{ahead}"),
        behind => format!("Etc/GMT+{}", -behind),
    }
}

/// A running api, over HTTP.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base: base.into(),
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An operator API request with the admin token; the status and the body (JSON, or the
    /// text as a JSON string when it is not JSON).
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
        read(req.send().await.expect("request"))
            .await
            .expect("body")
    }

    /// Creates a clinic open every day 00:00-24:00 with no notice needed (so that tests find
    /// slots whatever the hour), two alert numbers and its own Twilio account at `twilio`.
    /// `n` tells clinics apart: it is in their numbers and their account.
    pub async fn create_clinic(&self, twilio: &FakeTwilio, name: &str, n: u32) -> Clinic {
        self.create_clinic_with(twilio, name, n, |_| {}).await
    }

    /// The same, with the request body changed by `adjust` before it is sent.
    pub async fn create_clinic_with(
        &self,
        twilio: &FakeTwilio,
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
        let mut body = clinic_body(&ClinicNumbers {
            name,
            called: &called,
            phone_number_id: &phone_number_id,
            alert_numbers: &alert_numbers,
            account_sid: &account_sid,
            auth_token: &auth_token,
            from: &from,
        });
        adjust(&mut body);
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

    /// POSTs a server message to `path` with the shared secret; `Err` when no HTTP answer came
    /// (the connection was refused or cut).
    pub async fn try_vapi_at(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        let resp = self
            .http
            .post(self.url(path))
            .header("X-Vapi-Secret", VAPI_SECRET)
            .json(body)
            .send()
            .await?;
        read(resp).await
    }

    /// POSTs a server message to `/vapi/webhook` with the shared secret.
    pub async fn try_vapi(&self, body: &Value) -> Result<(u16, Value), reqwest::Error> {
        self.try_vapi_at("/vapi/webhook", body).await
    }

    pub async fn vapi_at(&self, path: &str, body: &Value) -> (u16, Value) {
        self.try_vapi_at(path, body).await.expect("an answer")
    }

    pub async fn vapi(&self, body: &Value) -> (u16, Value) {
        self.vapi_at("/vapi/webhook", body).await
    }

    /// Sends one `tool-calls` message of `call` with these calls (`id`, `name`, `arguments`);
    /// checks that it is answered 200 with one entry per call, in order, and returns the
    /// `results` entries.
    pub async fn tool_calls(&self, call: &CallCtx, calls: &[(String, &str, Value)]) -> Vec<Value> {
        let (status, reply) = self.vapi(&call.tool_calls_body(calls)).await;
        assert_eq!(status, 200, "tool-calls answered {status}: {reply}");
        let results = reply["results"].as_array().expect("results").clone();
        assert_eq!(results.len(), calls.len(), "one result per call: {reply}");
        for (r, (id, _, _)) in results.iter().zip(calls) {
            assert_eq!(r["toolCallId"], json!(id), "results in order");
        }
        results
    }

    /// One tool call with this `toolCallId`, and what it was answered.
    pub async fn tool_with_id(
        &self,
        call: &CallCtx,
        id: &str,
        name: &str,
        args: Value,
    ) -> ToolAnswer {
        let results = self.tool_calls(call, &[(id.to_owned(), name, args)]).await;
        ToolAnswer::from_entry(&results[0])
    }

    /// One tool call with the call's next `toolCallId`, and what it was answered.
    pub async fn tool(&self, call: &CallCtx, name: &str, args: Value) -> ToolAnswer {
        let id = call.next_tool_call_id();
        self.tool_with_id(call, &id, name, args).await
    }
}

/// The status and the body of a response: JSON, or the text as a JSON string.
async fn read(resp: reqwest::Response) -> Result<(u16, Value), reqwest::Error> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A call from `caller` to a clinic, and the server messages Vapi sends about it.
#[derive(Clone, Debug)]
pub struct CallCtx {
    pub id: String,
    pub phone_number_id: String,
    pub called: String,
    pub caller: String,
    seq: Arc<AtomicU32>,
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

    /// A `toolCallId` not used before in this call.
    pub fn next_tool_call_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("call_{}_{n}", &self.id[..8])
    }

    /// A server message of type `kind` about this call, with nothing else in it.
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

    /// A `tool-calls` message with these calls (`id`, `name`, `arguments`), the arguments as a
    /// JSON string as current Vapi sends them.
    pub fn tool_calls_body(&self, calls: &[(String, &str, Value)]) -> Value {
        let mut body = self.envelope("tool-calls");
        body["message"]["toolCallList"] = calls
            .iter()
            .map(|(id, name, args)| {
                json!({"id": id, "type": "function",
                       "function": {"name": name, "arguments": args.to_string()}})
            })
            .collect();
        body
    }

    /// A `tool-calls` message with one call.
    pub fn tool_body(&self, id: &str, name: &str, args: &Value) -> Value {
        self.tool_calls_body(&[(id.to_owned(), name, args.clone())])
    }

    /// The `assistant-request` fixture, about this call.
    pub fn assistant_request_body(&self) -> Value {
        self.about_this_call(fixture("assistant-request"))
    }

    /// The `end-of-call-report` fixture, about this call: it lasted `duration_seconds` up to
    /// now, and its analysis found `structured`.
    pub fn end_of_call_body(&self, structured: Value, duration_seconds: i64) -> Value {
        let mut body = self.about_this_call(fixture("end-of-call-report"));
        let m = &mut body["message"];
        let end = jiff::Timestamp::now();
        let start = end - jiff::SignedDuration::from_secs(duration_seconds);
        m["startedAt"] = json!(start.to_string());
        m["endedAt"] = json!(end.to_string());
        m["analysis"]["structuredData"] = structured;
        body
    }

    /// A fixture with this call's id, numbers and caller in it.
    fn about_this_call(&self, mut body: Value) -> Value {
        let m = &mut body["message"];
        m["call"]["id"] = json!(self.id);
        m["call"]["phoneNumberId"] = json!(self.phone_number_id);
        m["call"]["customer"]["number"] = json!(self.caller);
        m["phoneNumber"]["id"] = json!(self.phone_number_id);
        m["phoneNumber"]["number"] = json!(self.called);
        m["customer"]["number"] = json!(self.caller);
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
    /// One entry of a reply's `results`. Panics when its `result` is not one line of JSON, or
    /// when it has neither a `result` nor an `error`.
    pub fn from_entry(entry: &Value) -> Self {
        if let Some(line) = entry["result"].as_str() {
            assert!(!line.contains(['\n', '\r']), "result is one line: {line:?}");
            return Self::Result(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("result is not JSON ({e}): {line}")),
            );
        }
        match entry["error"].as_str() {
            Some(e) => Self::Error(e.to_owned()),
            None => panic!("neither result nor error: {entry}"),
        }
    }

    /// The first entry of a `tool-calls` reply.
    pub fn from_reply(reply: &Value) -> Self {
        Self::from_entry(&reply["results"][0])
    }

    /// The parsed `result`; panics on an `error`.
    pub fn result(self) -> Value {
        match self {
            Self::Result(v) => v,
            Self::Error(e) => panic!("expected a result, got the error {e:?}"),
        }
    }
}

/// The parsed `result` of one reply entry. Panics when it is an `error`, or not one line of JSON.
pub fn result_of(entry: &Value) -> Value {
    ToolAnswer::from_entry(entry).result()
}

/// The code in an OTP text, as a caller would read it.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=10).contains(&w.len()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

/// The texts `twilio` received for `to`, once there are at least `n` of them or `within` has
/// passed (whichever comes first: the caller checks how many came).
pub async fn texts_to(
    twilio: &FakeTwilio,
    to: &str,
    n: usize,
    within: Duration,
) -> Vec<SentMessage> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = twilio.messages_to(to);
        if got.len() >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The code in the latest text to `to`, once more than `before` texts reached it; panics when
/// none came within `within`.
pub async fn code_texted_to(
    twilio: &FakeTwilio,
    to: &str,
    before: usize,
    within: Duration,
) -> String {
    let texts = texts_to(twilio, to, before + 1, within).await;
    assert!(texts.len() > before, "no code reached {to}");
    code_in(&texts.last().expect("a text").body)
}

/// The clinics' zone (America/New_York) as calendar apps define it beside the events that name
/// it.
const NEW_YORK_VTIMEZONE: &str = "BEGIN:VTIMEZONE\nTZID:America/New_York\n\
    BEGIN:DAYLIGHT\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\nTZNAME:EDT\n\
    DTSTART:19700308T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\nEND:DAYLIGHT\n\
    BEGIN:STANDARD\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\nTZNAME:EST\n\
    DTSTART:19701101T020000\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\nEND:STANDARD\n\
    END:VTIMEZONE\n";

/// A calendar resource as a front desk's calendar app writes it: `events` (components written
/// with `\n` line ends) in a VCALENDAR beside the clinics' zone, with the CRLF line ends of
/// RFC 5545.
pub fn front_desk_ics(events: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Front Desk//EN\n{NEW_YORK_VTIMEZONE}{events}END:VCALENDAR\n"
    )
    .replace('\n', "\r\n")
}
