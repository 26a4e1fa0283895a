//! Everything an owner configures about their clinic, the clinic itself, and whether its texts can
//! go out.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::hours::{ClinicZone, DateOverride, DayHours, WeeklyHours};
use super::names::{ClinicName, Service};
use super::rules::{BookingRules, HotLeadThreshold};
use crate::country::Country;
use crate::error::ParseError;
use crate::ids::{AssistantId, CalendarId, TenantId, VoiceLineId};
use crate::phone::PhoneNumber;

/// A number the clinic is called on, and the id Vapi gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalledNumber {
    pub number: PhoneNumber,
    pub vapi_phone_number_id: Option<VoiceLineId>,
}

/// The owner's prompt for the AI, as typed. Anything goes (it is composed under our own booking
/// protocol, never instead of it); only the size is bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SystemPrompt(String);

impl SystemPrompt {
    pub const MAX_BYTES: usize = 100 * 1024;
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.len() > Self::MAX_BYTES {
            return Err(ParseError::new("system prompt", "is longer than 100 KB"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SystemPrompt {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SystemPrompt> for String {
    fn from(p: SystemPrompt) -> String {
        p.0
    }
}

/// Everything an owner configures about their clinic, except the SMS credentials (see
/// [`crate::tenant::SmsAccount`]), which are kept apart so that they never travel with the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub name: ClinicName,
    pub zone: ClinicZone,
    pub called_numbers: Vec<CalledNumber>,
    /// The clinic's saved Vapi assistants: a call without a phone number (a test call from
    /// Vapi's dashboard or web widget) is found by the assistant id Vapi sends. Each id belongs
    /// to one clinic only.
    #[serde(default)]
    pub vapi_assistant_ids: Vec<AssistantId>,
    pub alert_numbers: Vec<PhoneNumber>,
    pub hot_lead_threshold: HotLeadThreshold,
    pub services: Vec<Service>,
    pub weekly_hours: WeeklyHours,
    pub date_overrides: Vec<DateOverride>,
    pub rules: BookingRules,
    pub system_prompt: SystemPrompt,
    /// The countries codes may be texted to; empty: the clinic's own (see
    /// [`TenantConfig::code_countries`]).
    #[serde(default)]
    pub otp_allowed_countries: Vec<Country>,
    /// The people and chairs appointments are booked with, retired ones included (see
    /// [`crate::provider`]); empty: the clinic is one provider ([`Tenant::providers`]).
    #[serde(default)]
    pub providers: Vec<crate::provider::Provider>,
}

impl TenantConfig {
    /// The service whose name matches what was said, if any.
    pub fn service(&self, spoken: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.matches(spoken))
    }
    /// The hours on a date: an override if there is one, else the week's.
    pub fn hours_on(&self, date: Date) -> &DayHours {
        self.date_overrides
            .iter()
            .find(|o| o.date == date)
            .map(|o| &o.hours)
            .unwrap_or_else(|| self.weekly_hours.on(date.weekday()))
    }
    /// The countries codes may be texted to: those the clinic chose, else its own country (the
    /// countries of the numbers it is called on, else of its time zone).
    pub fn code_countries(&self) -> Vec<Country> {
        if !self.otp_allowed_countries.is_empty() {
            return self.otp_allowed_countries.clone();
        }
        let mut own: Vec<Country> = self
            .called_numbers
            .iter()
            .filter_map(|c| Country::of_number(&c.number))
            .collect();
        own.sort();
        own.dedup();
        if own.is_empty() {
            own.extend(Country::of_zone(self.zone.name()));
        }
        own
    }
    /// Whether a code may be texted to `number` (see [`TenantConfig::code_countries`]).
    pub fn allows_code_to(&self, number: &PhoneNumber) -> bool {
        Country::of_number(number).is_some_and(|c| self.code_countries().contains(&c))
    }
    /// The number callers should use to reach the clinic (its first called number).
    pub fn contact_number(&self) -> Option<&PhoneNumber> {
        self.called_numbers.first().map(|c| &c.number)
    }
}

/// Whether the clinic's texts can go out, as far as we know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SmsHealth {
    /// No credentials configured: nothing can be sent.
    NotConfigured,
    Ok,
    /// Twilio refused the credentials (20003). Sending is paused until the owner changes them.
    NeedsAttention {
        code: u32,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub config: TenantConfig,
    pub sms_health: SmsHealth,
}

impl Tenant {
    pub fn calendar(&self) -> CalendarId {
        CalendarId::default_for(self.id)
    }
}
