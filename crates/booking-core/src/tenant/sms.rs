//! How the clinic texts: its Twilio account, the sender, and who answers keywords.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::phone::PhoneNumber;

/// A secret string (a token, a key). Never printed by Debug or Display.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the clinic's Twilio account is authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsAccount {
    /// `AC…`.
    pub account_sid: String,
    /// The account's auth token: validates Twilio's webhook signatures, and authenticates sends
    /// when no API key is set.
    pub auth_token: Secret,
    /// An API key (`SK…`) and its secret: preferred for sends when present.
    pub api_key: Option<(String, Secret)>,
    pub sender: SmsSender,
    /// Who answers STOP, START and HELP texts.
    pub keyword_replies: KeywordReplies,
}

impl SmsAccount {
    /// The numbers texts to the clinic arrive on: the sender number, or the numbers of the
    /// Messaging Service's sender pool.
    pub fn inbound_numbers(&self) -> Vec<&PhoneNumber> {
        match &self.sender {
            SmsSender::From(n) => vec![n],
            SmsSender::MessagingService { numbers, .. } => numbers.iter().collect(),
        }
    }
}

/// Who answers the keywords STOP, START and HELP (and their synonyms).
///
/// Twilio answers them itself by default on long codes and toll-free numbers (and with the
/// clinic's own words when the Messaging Service has Advanced Opt-Out), and blocks texts to a
/// number that sent STOP. A second answer from us would reach a number Twilio has just blocked
/// (error 21610) or give the caller two replies, so by default we only record the opt-out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordReplies {
    /// Twilio's default opt-out handling or Advanced Opt-Out replies; we send nothing.
    #[default]
    Twilio,
    /// Twilio's replies are turned off for this sender: we answer.
    Clinic,
}

impl KeywordReplies {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Clinic => "clinic",
        }
    }
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim() {
            "twilio" => Ok(Self::Twilio),
            "clinic" => Ok(Self::Clinic),
            _ => Err(ParseError::new(
                "keyword replies",
                "must be \"twilio\" (Twilio answers STOP, START and HELP) or \"clinic\" (we do)",
            )),
        }
    }
}

/// Who a text is sent from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsSender {
    From(PhoneNumber),
    /// A Messaging Service (`MG…`) and the numbers of its sender pool, on which texts to the
    /// clinic arrive (distinct; may be empty, when inbound texts are routed by the service's sid
    /// alone).
    MessagingService {
        sid: String,
        numbers: Vec<PhoneNumber>,
    },
}
