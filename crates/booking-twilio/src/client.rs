//! The client: sends texts and looks them up again, through each tenant's own Twilio account.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use booking_core::PhoneNumber;
use booking_core::ids::MessageSid;
use booking_core::outbox::MessageStatus;
use booking_core::ports::{SendOutcome, SentSms, SmsGateway, SmsRequest};
use booking_core::tenant::{SmsAccount, SmsSender};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;
use tracing::{debug, info, warn};

use crate::classify::{self, CODE_BODY_MISSING, CODE_BODY_TOO_LONG};

/// Twilio's REST API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
/// Twilio refuses a body longer than this many characters (error 21617).
pub const MAX_BODY_CHARS: usize = 1600;
/// The path the api serves Twilio's status callbacks on.
pub const STATUS_CALLBACK_PATH: &str = "/twilio/status";
/// Messages per page when listing.
const PAGE_SIZE: u32 = 50;

/// How to reach Twilio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwilioConfig {
    /// `TWILIO_API_BASE`: scheme, host and optionally a path prefix, without the
    /// `/2010-04-01/...` part. Default [`DEFAULT_API_BASE`]; tests point it at a fake.
    pub api_base: String,
    /// Sent as `StatusCallback` with every message: `PUBLIC_BASE_URL` + `/twilio/status`
    /// (see [`TwilioConfig::status_callback_for`]). `None` sends none.
    pub status_callback_url: Option<String>,
    /// How long establishing a connection (TCP and TLS) may take. Failing here is safe to retry:
    /// nothing was sent.
    pub connect_timeout: Duration,
    /// How long a whole request may take. A send that times out after connecting is ambiguous.
    pub request_timeout: Duration,
    /// Reconciliation reads at most this many pages (of 50 messages) before giving up.
    pub max_reconcile_pages: u32,
    /// How far Twilio's clock may be behind ours: reconciliation accepts messages created this
    /// long before `since`.
    pub clock_skew: Duration,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            status_callback_url: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_reconcile_pages: 5,
            clock_skew: Duration::from_secs(30),
        }
    }
}

impl TwilioConfig {
    /// The status callback URL for a public base URL: `https://x.example` →
    /// `https://x.example/twilio/status`.
    pub fn status_callback_for(public_base_url: &str) -> String {
        format!(
            "{}{STATUS_CALLBACK_PATH}",
            public_base_url.trim_end_matches('/')
        )
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("TWILIO_API_BASE {0:?} is not an http(s) URL without query or fragment")]
    ApiBase(String),
    #[error("the status callback URL {0:?} is not an http(s) URL")]
    StatusCallback(String),
    #[error(
        "no CA certificates to verify {0} with: install the system's CA certificates \
         (ca-certificates) or point TWILIO_API_BASE at plain http for tests"
    )]
    NoRootCertificates(String),
    #[error("the connect timeout must be shorter than the request timeout")]
    Timeouts,
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

/// Twilio's Messages API, for any tenant: the account to use comes with every call.
#[derive(Clone, Debug)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: String,
    status_callback_url: Option<String>,
    max_reconcile_pages: u32,
    clock_skew: Duration,
}

impl TwilioClient {
    pub fn new(config: TwilioConfig) -> Result<Self, ConfigError> {
        let api_base = config.api_base.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&api_base)
            .map_err(|_| ConfigError::ApiBase(config.api_base.clone()))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(ConfigError::ApiBase(config.api_base)),
        };
        if parsed.host_str().is_none() || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ConfigError::ApiBase(config.api_base));
        }
        // The request timeout also runs while connecting; if it could fire first, a send that
        // never left would be reported as ambiguous instead of safe to retry.
        if config.connect_timeout >= config.request_timeout {
            return Err(ConfigError::Timeouts);
        }
        if let Some(cb) = &config.status_callback_url {
            let ok = reqwest::Url::parse(cb)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                return Err(ConfigError::StatusCallback(cb.clone()));
            }
        }

        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(https, &api_base)?)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Twilio closes idle keep-alive connections; reusing one it has closed turns a send
            // into an ambiguous one, so idle connections are dropped well before.
            .pool_idle_timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("booking-twilio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;

        Ok(Self {
            http,
            api_base,
            status_callback_url: config.status_callback_url,
            max_reconcile_pages: config.max_reconcile_pages.max(1),
            clock_skew: config.clock_skew,
        })
    }

    /// The base URL requests go to (without a trailing slash).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    fn messages_url(&self, account_sid: &str) -> Result<String, String> {
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(
                "the Twilio account sid is malformed (expected AC followed by 32 hex digits)"
                    .to_owned(),
            );
        }
        Ok(format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            self.api_base
        ))
    }

    /// Sends one text. Every way it can end is one of [`SendOutcome`]'s four classes.
    pub async fn send_sms(&self, account: &SmsAccount, request: &SmsRequest) -> SendOutcome {
        let to = request.to.masked();
        let account_ref = short_sid(&account.account_sid);

        let chars = request.body.chars().count();
        if chars > MAX_BODY_CHARS {
            warn!(to = %to, account = %account_ref, chars, "refusing to send an SMS longer than Twilio's limit");
            return SendOutcome::Permanent {
                code: Some(CODE_BODY_TOO_LONG),
                message: format!(
                    "the text is {chars} characters long; Twilio accepts at most {MAX_BODY_CHARS}"
                ),
            };
        }
        if request.body.trim().is_empty() {
            warn!(to = %to, account = %account_ref, "refusing to send an empty SMS");
            return SendOutcome::Permanent {
                code: Some(CODE_BODY_MISSING),
                message: "the text is empty".to_owned(),
            };
        }
        let url = match self.messages_url(&account.account_sid) {
            Ok(url) => url,
            Err(message) => {
                warn!(to = %to, "not sending: {message}");
                return SendOutcome::Permanent {
                    code: None,
                    message,
                };
            }
        };

        let mut form: Vec<(&str, &str)> = Vec::with_capacity(4);
        form.push(("To", request.to.as_str()));
        match &account.sender {
            SmsSender::From(number) => form.push(("From", number.as_str())),
            SmsSender::MessagingService { sid, .. } => {
                form.push(("MessagingServiceSid", sid.as_str()))
            }
        }
        form.push(("Body", request.body.as_str()));
        if let Some(cb) = &self.status_callback_url {
            form.push(("StatusCallback", cb.as_str()));
        }

        let (user, password) = credentials(account);
        debug!(to = %to, account = %account_ref, chars, api_key = account.api_key.is_some(), "sending SMS through Twilio");
        let started = std::time::Instant::now();
        let result = self
            .http
            .post(&url)
            .basic_auth(user, Some(password))
            .form(&form)
            .send()
            .await;

        let outcome = match result {
            Err(e) => classify_transport_error(e),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match response.bytes().await {
                    Ok(body) => classify::classify_send_response(
                        status,
                        retry_after.as_deref(),
                        &body,
                        Timestamp::now(),
                    ),
                    // The answer's status arrived but its body did not.
                    Err(e) if (200..300).contains(&status) || status >= 500 => {
                        SendOutcome::Ambiguous {
                            message: format!(
                                "Twilio answered HTTP {status} but its body was lost: {}",
                                error_chain(e)
                            ),
                        }
                    }
                    Err(_) => classify::classify_send_response(
                        status,
                        retry_after.as_deref(),
                        b"",
                        Timestamp::now(),
                    ),
                }
            }
        };

        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            SendOutcome::Accepted { sid, status } => {
                info!(to = %to, account = %account_ref, sid = %sid, status = status.as_str(), elapsed_ms, "Twilio accepted the SMS");
            }
            SendOutcome::RetrySafe {
                code,
                message,
                retry_after,
            } => {
                warn!(to = %to, account = %account_ref, code, retry_after_s = retry_after.map(|d| d.as_secs()), elapsed_ms,
                    "SMS not sent, safe to retry: {message}");
            }
            SendOutcome::Ambiguous { message } => {
                warn!(to = %to, account = %account_ref, elapsed_ms, "SMS may or may not have been sent, reconcile before resending: {message}");
            }
            SendOutcome::Permanent { code, message } => {
                warn!(to = %to, account = %account_ref, code, elapsed_ms, "SMS refused for good: {message}");
            }
        }
        outcome
    }

    /// Looks for a message already sent to `to` from the account's sender, created at or after
    /// `since`, with exactly this body. `Ok(None)` only when every matching page was read.
    pub async fn find_sent_sms(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        since: Timestamp,
        body: &str,
    ) -> Result<Option<SentSms>, String> {
        let masked = to.masked();
        let account_ref = short_sid(&account.account_sid);
        let result = self.find_sent_inner(account, to, since, body).await;
        match &result {
            Ok(Some(found)) => {
                info!(to = %masked, account = %account_ref, sid = %found.sid, status = found.status.as_str(),
                "reconciliation found the SMS at Twilio")
            }
            Ok(None) => {
                info!(to = %masked, account = %account_ref, "reconciliation found no such SMS at Twilio")
            }
            Err(e) => {
                warn!(to = %masked, account = %account_ref, "reconciliation could not ask Twilio: {e}")
            }
        }
        result
    }

    async fn find_sent_inner(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        since: Timestamp,
        body: &str,
    ) -> Result<Option<SentSms>, String> {
        let url = self.messages_url(&account.account_sid)?;
        let skew =
            jiff::SignedDuration::try_from(self.clock_skew).unwrap_or(jiff::SignedDuration::ZERO);
        // Twilio's dates have whole seconds: compare from the start of `since`'s second.
        let earliest = since
            .checked_sub(skew)
            .unwrap_or(since)
            .round(
                jiff::TimestampRound::new()
                    .smallest(jiff::Unit::Second)
                    .mode(jiff::RoundMode::Floor),
            )
            .map_err(|e| format!("bad reconciliation start: {e}"))?;
        let date = earliest.to_zoned_datetime(TimeZone::UTC).date().to_string();

        // No `DateSent` filter: Twilio sets `date_sent` only once a message has gone out, so a
        // filter on it leaves out a message still queued at Twilio (the very one an ambiguous
        // send may have left there). The list is newest first by creation: read pages until
        // one reaches messages created before `earliest`.
        let page_size = PAGE_SIZE.to_string();
        let mut query: Vec<(&str, &str)> = vec![("To", to.as_str())];
        if let SmsSender::From(from) = &account.sender {
            query.push(("From", from.as_str()));
        }
        query.push(("PageSize", &page_size));

        let (user, password) = credentials(account);
        let mut next: Option<String> = None;
        for _ in 0..self.max_reconcile_pages {
            let request = match &next {
                None => self.http.get(&url).query(&query),
                Some(page) => self.http.get(page),
            };
            let response = request
                .basic_auth(user, Some(password))
                .send()
                .await
                .map_err(|e| format!("listing messages failed: {}", error_chain(e)))?;
            let status = response.status().as_u16();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| format!("listing messages failed: {}", error_chain(e)))?;
            if !(200..300).contains(&status) {
                return Err(classify::describe(
                    status,
                    classify::parse_error_body(&bytes).as_ref(),
                    &bytes,
                ));
            }
            let page: MessagePage = serde_json::from_slice(&bytes)
                .map_err(|e| format!("Twilio's message list could not be read: {e}"))?;
            if let Some(found) = page
                .messages
                .iter()
                .find(|m| m.is_match(account, to, earliest, body))
            {
                let sid = MessageSid::parse(&found.sid)
                    .map_err(|_| "Twilio listed a message with a malformed sid".to_owned())?;
                let status = found
                    .status
                    .as_deref()
                    .and_then(MessageStatus::from_twilio)
                    .unwrap_or(MessageStatus::Queued);
                return Ok(Some(SentSms { sid, status }));
            }
            let reached_older = !page.messages.is_empty()
                && page.messages.iter().all(|m| {
                    m.date_created
                        .as_deref()
                        .and_then(parse_twilio_date)
                        .is_some_and(|created| created < earliest)
                });
            if reached_older {
                return Ok(None);
            }
            match page.next_page_uri.as_deref().filter(|u| !u.is_empty()) {
                None => return Ok(None),
                Some(uri) => next = Some(self.page_url(uri)?),
            }
        }
        Err(format!(
            "more than {} pages of messages to this number since {date}: not all were searched",
            self.max_reconcile_pages
        ))
    }

    /// `next_page_uri` is a path on the API host. Anything else is refused: the request carries
    /// the tenant's credentials.
    fn page_url(&self, uri: &str) -> Result<String, String> {
        if uri.starts_with("/2010-04-01/") && !uri.contains("://") {
            Ok(format!("{}{uri}", self.api_base))
        } else {
            Err("Twilio's next_page_uri is not a path on the API host".to_owned())
        }
    }
}

#[async_trait]
impl SmsGateway for TwilioClient {
    async fn send(&self, account: &SmsAccount, request: &SmsRequest) -> SendOutcome {
        self.send_sms(account, request).await
    }

    async fn find_sent(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        since: Timestamp,
        body: &str,
    ) -> Result<Option<SentSms>, String> {
        self.find_sent_sms(account, to, since, body).await
    }
}

/// A page of `GET Messages.json`.
#[derive(Debug, Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<ListedMessage>,
    next_page_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListedMessage {
    sid: String,
    status: Option<String>,
    body: Option<String>,
    to: Option<String>,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    direction: Option<String>,
    date_created: Option<String>,
}

impl ListedMessage {
    fn is_match(
        &self,
        account: &SmsAccount,
        to: &PhoneNumber,
        earliest: Timestamp,
        body: &str,
    ) -> bool {
        if self.body.as_deref() != Some(body) || self.to.as_deref() != Some(to.as_str()) {
            return false;
        }
        if self
            .direction
            .as_deref()
            .is_some_and(|d| !d.starts_with("outbound"))
        {
            return false;
        }
        let sender_matches = match &account.sender {
            SmsSender::From(from) => self.from.as_deref() == Some(from.as_str()),
            SmsSender::MessagingService { sid, .. } => {
                self.messaging_service_sid.as_deref() == Some(sid.as_str())
            }
        };
        if !sender_matches {
            return false;
        }
        match self.date_created.as_deref().map(parse_twilio_date) {
            Some(Some(created)) => created >= earliest,
            _ => {
                debug!(sid = %self.sid, "listed message has no readable date_created; not adopting it");
                false
            }
        }
    }
}

/// Twilio's dates: RFC 2822, e.g. `Thu, 30 Jul 2015 20:12:31 +0000`.
pub(crate) fn parse_twilio_date(s: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::parse(s.trim())
        .ok()
        .map(|z| z.timestamp())
}

/// HTTP Basic credentials: the API key when there is one, else the account sid and auth token.
fn credentials(account: &SmsAccount) -> (&str, &str) {
    match &account.api_key {
        Some((key_sid, secret)) => (key_sid.as_str(), secret.expose()),
        None => (account.account_sid.as_str(), account.auth_token.expose()),
    }
}

/// An account sid for logs: `AC…` and its last four characters.
fn short_sid(sid: &str) -> String {
    let tail: String = sid
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = sid.chars().take(2).collect();
    format!("{head}…{tail}")
}

/// A transport failure: whether the request left this process decides the class.
fn classify_transport_error(e: reqwest::Error) -> SendOutcome {
    let connect = e.is_connect();
    let timeout = e.is_timeout();
    let builder = e.is_builder();
    let detail = error_chain(e);
    if connect {
        // Connection refused, DNS failure, connect timeout, TLS handshake failure: no request
        // was written.
        SendOutcome::RetrySafe {
            code: None,
            message: format!("could not connect to Twilio, nothing was sent: {detail}"),
            retry_after: None,
        }
    } else if timeout {
        SendOutcome::Ambiguous {
            message: format!("Twilio did not answer in time after the request was sent: {detail}"),
        }
    } else if builder {
        SendOutcome::Permanent {
            code: None,
            message: format!("the request to Twilio could not be built: {detail}"),
        }
    } else {
        SendOutcome::Ambiguous {
            message: format!(
                "the connection to Twilio failed after the request was sent: {detail}"
            ),
        }
    }
}

/// The error and its causes on one line, without the URL (it holds the recipient's number when
/// listing messages).
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    classify::mask_numbers(&out)
}

/// rustls with the ring provider, passed to reqwest explicitly (no process-wide default is
/// installed). Server certificates are checked against the system's CA store; a plain-http base
/// (a fake in tests) needs none.
fn tls_config(https: bool, api_base: &str) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Http(e.to_string()))?;
    let mut config = if https {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        builder
            .with_platform_verifier()
            .map_err(|_| ConfigError::NoRootCertificates(api_base.to_owned()))?
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::tenant::Secret;

    fn account(sender: SmsSender) -> SmsAccount {
        SmsAccount {
            account_sid: "AC00000000000000000000000000000001".into(),
            auth_token: Secret::new("token"),
            api_key: None,
            sender,
            keyword_replies: Default::default(),
        }
    }

    fn listed(
        body: &str,
        to: &str,
        from: Option<&str>,
        service: Option<&str>,
        created: &str,
    ) -> ListedMessage {
        ListedMessage {
            sid: "SM1".into(),
            status: Some("sent".into()),
            body: Some(body.into()),
            to: Some(to.into()),
            from: from.map(Into::into),
            messaging_service_sid: service.map(Into::into),
            direction: Some("outbound-api".into()),
            date_created: Some(created.into()),
        }
    }

    #[test]
    fn twilio_dates_parse() {
        assert_eq!(
            parse_twilio_date("Thu, 30 Jul 2015 20:12:31 +0000"),
            Some("2015-07-30T20:12:31Z".parse().unwrap())
        );
        assert_eq!(parse_twilio_date("2015-07-30"), None);
    }

    #[test]
    fn matching_needs_body_number_sender_and_time() {
        let to = PhoneNumber::parse("+15558675310").unwrap();
        let from = PhoneNumber::parse("+15017250604").unwrap();
        let acc = account(SmsSender::From(from));
        let earliest: Timestamp = "2026-03-02T15:00:00Z".parse().unwrap();
        let at = "Mon, 02 Mar 2026 15:00:00 +0000";
        assert!(
            listed("hi", "+15558675310", Some("+15017250604"), None, at)
                .is_match(&acc, &to, earliest, "hi")
        );
        assert!(
            !listed("hi ", "+15558675310", Some("+15017250604"), None, at)
                .is_match(&acc, &to, earliest, "hi")
        );
        assert!(
            !listed("hi", "+15558675311", Some("+15017250604"), None, at)
                .is_match(&acc, &to, earliest, "hi")
        );
        assert!(
            !listed("hi", "+15558675310", Some("+15017250605"), None, at)
                .is_match(&acc, &to, earliest, "hi")
        );
        assert!(
            !listed(
                "hi",
                "+15558675310",
                Some("+15017250604"),
                None,
                "Mon, 02 Mar 2026 14:59:59 +0000"
            )
            .is_match(&acc, &to, earliest, "hi")
        );
        let mut inbound = listed("hi", "+15558675310", Some("+15017250604"), None, at);
        inbound.direction = Some("inbound".into());
        assert!(!inbound.is_match(&acc, &to, earliest, "hi"));

        let svc = account(SmsSender::MessagingService {
            sid: "MG1".into(),
            numbers: Vec::new(),
        });
        assert!(
            listed("hi", "+15558675310", Some("+15017250604"), Some("MG1"), at)
                .is_match(&svc, &to, earliest, "hi")
        );
        assert!(
            !listed("hi", "+15558675310", Some("+15017250604"), Some("MG2"), at)
                .is_match(&svc, &to, earliest, "hi")
        );
        assert!(
            !listed("hi", "+15558675310", Some("+15017250604"), None, at)
                .is_match(&svc, &to, earliest, "hi")
        );
    }

    #[test]
    fn short_sid_hides_the_middle() {
        assert_eq!(short_sid("AC00000000000000000000000000001234"), "AC…1234");
    }

    #[test]
    fn config_is_checked() {
        let bad = |base: &str| {
            TwilioClient::new(TwilioConfig {
                api_base: base.into(),
                ..TwilioConfig::default()
            })
            .is_err()
        };
        assert!(bad("api.twilio.com"));
        assert!(bad("ftp://api.twilio.com"));
        assert!(bad("http://127.0.0.1:9?x=1"));
        assert!(!bad("http://127.0.0.1:9/"));
        assert!(
            TwilioClient::new(TwilioConfig {
                api_base: "http://127.0.0.1:9".into(),
                status_callback_url: Some("/twilio/status".into()),
                ..TwilioConfig::default()
            })
            .is_err()
        );
        assert!(matches!(
            TwilioClient::new(TwilioConfig {
                api_base: "http://127.0.0.1:9".into(),
                connect_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(10),
                ..TwilioConfig::default()
            }),
            Err(ConfigError::Timeouts)
        ));
        assert_eq!(
            TwilioConfig::status_callback_for("https://clinic.example/"),
            "https://clinic.example/twilio/status"
        );
    }

    #[test]
    fn page_urls_stay_on_the_api_host() {
        let c = TwilioClient::new(TwilioConfig {
            api_base: "http://127.0.0.1:9".into(),
            ..TwilioConfig::default()
        })
        .unwrap();
        assert_eq!(
            c.page_url("/2010-04-01/Accounts/AC1/Messages.json?Page=1")
                .unwrap(),
            "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json?Page=1"
        );
        assert!(c.page_url("https://evil.example/2010-04-01/x").is_err());
        assert!(c.page_url("/other").is_err());
    }
}
