//! A fake Twilio Messages API over real HTTP (wiremock), with a message store: a create is
//! recorded before the fake answers (so a 500 can still leave a message behind, as Twilio can),
//! and the list endpoint filters and pages that store the way Twilio does.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use booking_core::PhoneNumber;
use booking_core::tenant::{Secret, SmsAccount, SmsSender};
use booking_twilio::{TwilioClient, TwilioConfig};
use jiff::Timestamp;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "auth-token-0123456789";
pub const API_KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
pub const API_KEY_SECRET: &str = "api-key-secret-9876543210";
pub const SENDER: &str = "+15017250604";
pub const SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";
pub const PATIENT: &str = "+15558675310";
pub const CALLBACK: &str = "https://receptionist.example/twilio/status";

pub fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

pub fn patient() -> PhoneNumber {
    PhoneNumber::parse(PATIENT).unwrap()
}

pub fn sender() -> PhoneNumber {
    PhoneNumber::parse(SENDER).unwrap()
}

/// An account that authenticates with its auth token and sends from a number.
pub fn token_account() -> SmsAccount {
    SmsAccount {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(AUTH_TOKEN),
        api_key: None,
        sender: SmsSender::From(sender()),
        keyword_replies: Default::default(),
    }
}

/// An account with an API key that sends through a messaging service.
pub fn key_account() -> SmsAccount {
    SmsAccount {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(AUTH_TOKEN),
        api_key: Some((API_KEY_SID.into(), Secret::new(API_KEY_SECRET))),
        sender: SmsSender::MessagingService {
            sid: SERVICE_SID.into(),
            numbers: Vec::new(),
        },
        keyword_replies: Default::default(),
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub fn config(base: &str) -> TwilioConfig {
    TwilioConfig {
        api_base: base.to_owned(),
        status_callback_url: Some(CALLBACK.to_owned()),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..TwilioConfig::default()
    }
}

pub fn client(base: &str) -> TwilioClient {
    TwilioClient::new(config(base)).unwrap()
}

/// Twilio's JSON error body.
pub fn twilio_error(code: u32, status: u16, message: &str) -> serde_json::Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

/// Twilio's date format (RFC 2822).
pub fn twilio_date(t: Timestamp) -> String {
    jiff::fmt::rfc2822::to_string(&t.to_zoned_datetime(jiff::tz::TimeZone::UTC)).unwrap()
}

#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status: String,
    pub date_created: Timestamp,
}

impl StoredMessage {
    fn resource(&self) -> serde_json::Value {
        json!({
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": self.body,
            "date_created": twilio_date(self.date_created),
            "date_sent": twilio_date(self.date_created),
            "date_updated": twilio_date(self.date_created),
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": self.from,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}/Media.json", self.sid)},
            "to": self.to,
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}.json", self.sid),
        })
    }
}

/// The fake's state: the messages it holds.
#[derive(Clone, Default)]
pub struct Store {
    messages: Arc<Mutex<Vec<StoredMessage>>>,
    next: Arc<AtomicU64>,
}

impl Store {
    pub fn messages(&self) -> Vec<StoredMessage> {
        self.messages.lock().unwrap().clone()
    }

    pub fn add(&self, mut m: StoredMessage) -> StoredMessage {
        if m.sid.is_empty() {
            m.sid = self.new_sid();
        }
        self.messages.lock().unwrap().push(m.clone());
        m
    }

    fn new_sid(&self) -> String {
        format!(
            "SM{:032x}",
            self.next.fetch_add(1, Ordering::SeqCst) + 0xabc000
        )
    }
}

/// Which credentials the fake accepts (either pair).
fn authorized(request: &Request) -> bool {
    let header = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    header == basic(ACCOUNT_SID, AUTH_TOKEN) || header == basic(API_KEY_SID, API_KEY_SECRET)
}

fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(twilio_error(20003, 401, "Authenticate"))
}

/// `POST Messages.json`: records the message, then answers `answer` (201 with the resource, or
/// the given failure: the message stays recorded either way, as when Twilio fails after
/// accepting).
pub struct Create {
    pub store: Store,
    pub answer: Option<ResponseTemplate>,
}

impl Respond for Create {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !authorized(request) {
            return unauthorized();
        }
        let form: Vec<(String, String)> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (Some(to), Some(body)) = (field("To"), field("Body")) else {
            return ResponseTemplate::new(400).set_body_json(twilio_error(
                21604,
                400,
                "A 'To' phone number is required.",
            ));
        };
        let stored = self.store.add(StoredMessage {
            sid: String::new(),
            to,
            from: field("From"),
            messaging_service_sid: field("MessagingServiceSid"),
            body,
            status: if field("MessagingServiceSid").is_some() {
                "accepted"
            } else {
                "queued"
            }
            .into(),
            date_created: Timestamp::now(),
        });
        match &self.answer {
            Some(answer) => answer.clone(),
            None => ResponseTemplate::new(201).set_body_json(stored.resource()),
        }
    }
}

/// `GET Messages.json`: filters by `To`, `From`, `DateSent>` (date in UTC, inclusive), newest
/// first, pages of `PageSize` with `next_page_uri`.
pub struct List {
    pub store: Store,
}

impl Respond for List {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !authorized(request) {
            return unauthorized();
        }
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let page_size: usize = param("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50);
        let page: usize = param("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let since_date: Option<jiff::civil::Date> = param("DateSent>").map(|d| d.parse().unwrap());

        let mut matching: Vec<StoredMessage> = self
            .store
            .messages()
            .into_iter()
            .filter(|m| param("To").is_none_or(|to| m.to == to))
            .filter(|m| param("From").is_none_or(|from| m.from.as_deref() == Some(from.as_str())))
            .filter(|m| {
                since_date.is_none_or(|d| {
                    m.date_created
                        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                        .date()
                        >= d
                })
            })
            .collect();
        matching.sort_by_key(|m| std::cmp::Reverse(m.date_created));

        let start = page * page_size;
        let items: Vec<serde_json::Value> = matching
            .iter()
            .skip(start)
            .take(page_size)
            .map(StoredMessage::resource)
            .collect();
        let more = matching.len() > start + page_size;
        let base_query: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "Page" && k != "PageToken")
            .cloned()
            .collect();
        let page_uri = |p: usize| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &base_query {
                s.append_pair(k, v);
            }
            s.append_pair("Page", &p.to_string());
            s.append_pair("PageToken", &format!("PAtoken{p}"));
            format!("{}?{}", messages_path(), s.finish())
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "messages": items,
            "start": start,
            "end": start + items.len().saturating_sub(1),
            "page": page,
            "page_size": page_size,
            "uri": page_uri(page),
            "first_page_uri": page_uri(0),
            "previous_page_uri": if page > 0 { json!(page_uri(page - 1)) } else { json!(null) },
            "next_page_uri": if more { json!(page_uri(page + 1)) } else { json!(null) },
        }))
    }
}

/// A running fake with its store.
pub struct FakeTwilio {
    pub server: MockServer,
    pub store: Store,
}

impl FakeTwilio {
    /// A fake that accepts every valid send (201) and lists what it holds.
    pub async fn start() -> Self {
        Self::start_answering(None).await
    }

    /// A fake that records every valid send and answers it with `answer` (or 201 when `None`).
    pub async fn start_answering(answer: Option<ResponseTemplate>) -> Self {
        let server = MockServer::start().await;
        let store = Store::default();
        Mock::given(method("POST"))
            .and(path(messages_path()))
            .respond_with(Create {
                store: store.clone(),
                answer,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(messages_path()))
            .respond_with(List {
                store: store.clone(),
            })
            .mount(&server)
            .await;
        Self { server, store }
    }

    pub fn client(&self) -> TwilioClient {
        client(&self.server.uri())
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap()
    }
}

/// The decoded form fields of a request, in order.
pub fn form(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}
