//! The public data the fake records and the knobs it takes.

use std::time::Duration;

use jiff::Timestamp;

/// How a request authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `AccountSid:AuthToken`.
    AuthToken,
    /// `SK…:secret`.
    ApiKey {
        /// The `SK…` username.
        key_sid: String,
    },
}

/// A message the fake accepted (answered 201, or recorded before a recording fault).
#[derive(Clone, Debug)]
pub struct SentMessage {
    /// `SM` + 32 hex digits.
    pub sid: String,
    /// The account in the request path.
    pub account_sid: String,
    /// Which credential the request used.
    pub credential: Credential,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status_callback: Option<String>,
    /// Every form field of the request, in the order sent.
    pub params: Vec<(String, String)>,
    pub date_created: Timestamp,
    pub date_updated: Timestamp,
    /// Set by the first `sent`/`delivered`/… status given through a callback.
    pub date_sent: Option<Timestamp>,
    /// `queued` (or `accepted` when sent through a Messaging Service without `From`), then
    /// whatever [`crate::FakeTwilio::deliver`] last set.
    pub status: String,
    pub error_code: Option<u32>,
    pub num_segments: u32,
}

impl SentMessage {
    /// The value of a form field as the client sent it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the next send (POST `Messages.json`) does instead of, or on top of, its normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Validates and records the message like a success, then answers 500 (code 20500): the
    /// ambiguous case where Twilio has the message and the client does not know it.
    /// A request that fails validation gets its validation error instead.
    Status500AfterRecording,
    /// Answers 500 (code 20500); nothing recorded.
    Status500,
    /// Answers 429; nothing recorded. `twilio_code` gives Twilio's JSON body with code 20429,
    /// otherwise the body is a plain-text "Too Many Requests". `retry_after` sets `Retry-After`
    /// (seconds).
    Status429 {
        twilio_code: bool,
        retry_after: Option<u64>,
    },
    /// Processes the request normally (recording it when valid) and answers after this delay:
    /// for client timeouts.
    Delay(Duration),
    /// Answers this status with Twilio's JSON error body; nothing recorded.
    Error {
        status: u16,
        code: u32,
        message: String,
    },
    /// Reads the request, then closes the connection without an answer; nothing recorded.
    CloseConnection,
    /// Records the message like a success, posts its status callback with this status (and
    /// waits for the application's answer), and only then answers 201: Twilio can call back
    /// before the application has recorded the sid of its answer.
    CallbackBeforeAnswer(String),
    /// Records the message like a success, then closes the connection without an answer.
    CloseConnectionAfterRecording,
}

impl Fault {
    /// A 429 with Twilio's code 20429 and no `Retry-After`.
    pub fn too_many_requests() -> Self {
        Fault::Status429 {
            twilio_code: true,
            retry_after: None,
        }
    }

    /// Whether this fault lets a valid message be recorded.
    pub fn records(&self) -> bool {
        matches!(
            self,
            Fault::Status500AfterRecording
                | Fault::Delay(_)
                | Fault::CloseConnectionAfterRecording
                | Fault::CallbackBeforeAnswer(_)
        )
    }
}

/// The order of the two callbacks [`crate::FakeTwilio::auto_deliver`] posts for each message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeliveryOrder {
    /// `sent`, then `delivered`.
    #[default]
    InOrder,
    /// `delivered`, then `sent` (as Twilio sometimes does): the stored status stays `delivered`.
    DeliveredFirst,
}

/// The answer an application gave to a webhook the fake posted.
#[derive(Clone, Debug)]
pub struct WebhookReply {
    /// The URL the request was signed for (the status callback or webhook URL).
    pub url: String,
    /// HTTP status of the application's answer.
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// A status callback the fake posted, with how it went.
#[derive(Clone, Debug)]
pub struct CallbackRecord {
    pub sid: String,
    pub url: String,
    /// The `MessageStatus` posted.
    pub status: String,
    pub error_code: Option<u32>,
    /// The application's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// The transport error, when it did not.
    pub error: Option<String>,
    /// When the exchange finished.
    pub at: Timestamp,
}

/// Why a fake-side operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FakeError {
    #[error("no message {0} was recorded")]
    UnknownMessage(String),
    #[error("message {0} has no StatusCallback")]
    NoStatusCallback(String),
    #[error(
        "no auth token is known for account {0}: register it with register_account, or send once with AccountSid:AuthToken"
    )]
    NoAuthToken(String),
    #[error("{0}")]
    Http(String),
    #[error("timed out after {timeout:?}: wanted {wanted}, have {got}")]
    Timeout {
        wanted: usize,
        got: usize,
        timeout: Duration,
    },
    #[error("the fake Twilio server has stopped")]
    Stopped,
}
