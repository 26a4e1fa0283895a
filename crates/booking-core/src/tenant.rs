//! A clinic: who it is, where its clock is, what it offers, when it is open, and how it texts.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

use crate::country::Country;
use crate::error::ParseError;
use crate::ids::{CalendarId, TenantId, VapiAssistantId, VapiPhoneNumberId};
use crate::phone::PhoneNumber;

/// Free text shown to people (a clinic's or a service's name): trimmed, 1..=max characters, no
/// control characters.
fn parse_label(what: &'static str, s: &str, max: usize) -> Result<String, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ParseError::new(what, "is empty"));
    }
    if s.chars().count() > max {
        return Err(ParseError::new(
            what,
            format!("is longer than {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ParseError::new(what, "contains control characters"));
    }
    Ok(s.to_owned())
}

macro_rules! label {
    ($(#[$meta:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                parse_label($what, s, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

label!(
    /// The clinic's name as callers know it; it goes into every text (A2P 10DLC wants the brand).
    ClinicName,
    "clinic name",
    80
);
label!(
    /// A service the clinic offers ("Teeth Whitening").
    ServiceName,
    "service name",
    80
);

impl ServiceName {
    /// Case- and space-insensitive comparison, for matching what a caller or model said.
    pub fn matches(&self, spoken: &str) -> bool {
        let norm = |s: &str| {
            s.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ")
        };
        norm(&self.0) == norm(spoken)
    }
}

/// An IANA time zone the clinic's clock runs in ("America/New_York"). Holds the parsed zone so that
/// nothing downstream can fail on it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClinicZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl ClinicZone {
    pub fn parse(name: &str) -> Result<Self, ParseError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(ParseError::new(
                "time zone",
                "must be an IANA name such as America/New_York",
            ));
        }
        let tz = jiff::tz::db().get(name).map_err(|_| {
            ParseError::new(
                "time zone",
                format!("{name:?} is not a known IANA name (such as America/New_York)"),
            )
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

impl PartialEq for ClinicZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for ClinicZone {}

impl fmt::Debug for ClinicZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClinicZone({})", self.name)
    }
}
impl TryFrom<String> for ClinicZone {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<ClinicZone> for String {
    fn from(z: ClinicZone) -> String {
        z.name
    }
}

/// The score (0..=100) from which a call is a hot lead. Default 70.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct HotLeadThreshold(u8);

impl HotLeadThreshold {
    pub fn new(v: u32) -> Result<Self, ParseError> {
        if v > 100 {
            return Err(ParseError::new(
                "hot lead threshold",
                "must be between 0 and 100",
            ));
        }
        Ok(Self(v as u8))
    }
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}
impl Default for HotLeadThreshold {
    fn default() -> Self {
        Self(70)
    }
}
impl TryFrom<u32> for HotLeadThreshold {
    type Error = ParseError;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}
impl From<HotLeadThreshold> for u32 {
    fn from(t: HotLeadThreshold) -> u32 {
        t.get()
    }
}

/// A positive whole number of minutes within a bound: durations, buffers, intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minutes(u32);

impl Minutes {
    pub fn new(what: &'static str, v: u32, min: u32, max: u32) -> Result<Self, ParseError> {
        if v < min || v > max {
            return Err(ParseError::new(
                what,
                format!("must be between {min} and {max} minutes"),
            ));
        }
        Ok(Self(v))
    }
    pub const fn get(self) -> u32 {
        self.0
    }
    pub fn span(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(i64::from(self.0))
    }
}

/// A service and how long it takes; the value (in cents) feeds lead scoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: ServiceName,
    /// 5 to 720 minutes.
    pub duration: Minutes,
    /// What one booking is worth to the clinic, in the smallest currency unit.
    pub value_cents: Option<u32>,
}

impl Service {
    pub fn new(
        name: ServiceName,
        duration_minutes: u32,
        value_cents: Option<u32>,
    ) -> Result<Self, ParseError> {
        Ok(Self {
            name,
            duration: Minutes::new("service duration", duration_minutes, 5, 720)?,
            value_cents,
        })
    }
}

/// An opening range within one day, in the clinic's local time: `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpenRange {
    start: Time,
    end: Time,
}

impl OpenRange {
    pub fn new(start: Time, end: Time) -> Result<Self, ParseError> {
        if start >= end {
            return Err(ParseError::new(
                "opening hours",
                format!("{start} is not before {end}"),
            ));
        }
        Ok(Self { start, end })
    }
    /// From `"09:00"`, `"17:30"`. `"24:00"` is accepted as the end of the day.
    pub fn parse(start: &str, end: &str) -> Result<Self, ParseError> {
        let t = |s: &str| -> Result<Time, ParseError> {
            let s = s.trim();
            if s == "24:00" {
                return Ok(Time::MAX);
            }
            let (h, m) = s
                .split_once(':')
                .ok_or_else(|| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            let h: i8 = h
                .parse()
                .map_err(|_| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            let m: i8 = m
                .parse()
                .map_err(|_| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            Time::new(h, m, 0, 0).map_err(|_| {
                ParseError::new("opening hours", format!("{s:?} is not a time of day"))
            })
        };
        Self::new(t(start)?, t(end)?)
    }
    pub fn start(&self) -> Time {
        self.start
    }
    pub fn end(&self) -> Time {
        self.end
    }
}

/// The ranges a clinic is open on one day: sorted, not overlapping (adjacent ranges are merged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OpenRange>", into = "Vec<OpenRange>")]
pub struct DayHours(Vec<OpenRange>);

impl DayHours {
    pub fn closed() -> Self {
        Self(Vec::new())
    }
    pub fn new(mut ranges: Vec<OpenRange>) -> Result<Self, ParseError> {
        ranges.sort();
        let mut merged: Vec<OpenRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            if let Some(last) = merged.last_mut() {
                if r.start < last.end {
                    return Err(ParseError::new(
                        "opening hours",
                        format!("{}-{} overlaps {}-{}", r.start, r.end, last.start, last.end),
                    ));
                }
                if r.start == last.end {
                    last.end = r.end;
                    continue;
                }
            }
            merged.push(r);
        }
        Ok(Self(merged))
    }
    pub fn ranges(&self) -> &[OpenRange] {
        &self.0
    }
    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }
}
impl TryFrom<Vec<OpenRange>> for DayHours {
    type Error = ParseError;
    fn try_from(v: Vec<OpenRange>) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}
impl From<DayHours> for Vec<OpenRange> {
    fn from(d: DayHours) -> Self {
        d.0
    }
}

/// Opening hours for each day of the week. A day that is absent is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    days: BTreeMap<u8, DayHours>,
}

impl WeeklyHours {
    pub fn set(&mut self, day: Weekday, hours: DayHours) {
        let k = day.to_monday_zero_offset() as u8;
        if hours.is_closed() {
            self.days.remove(&k);
        } else {
            self.days.insert(k, hours);
        }
    }
    pub fn on(&self, day: Weekday) -> &DayHours {
        static CLOSED: DayHours = DayHours(Vec::new());
        self.days
            .get(&(day.to_monday_zero_offset() as u8))
            .unwrap_or(&CLOSED)
    }
    pub fn iter(&self) -> impl Iterator<Item = (Weekday, &DayHours)> {
        self.days.iter().map(|(k, v)| {
            (
                Weekday::from_monday_zero_offset(*k as i8).expect("0..=6"),
                v,
            )
        })
    }
}

/// A date whose hours differ from the week's: closed (a holiday) or special hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateOverride {
    pub date: Date,
    /// Empty means closed all day.
    pub hours: DayHours,
    pub note: Option<String>,
}

/// The rules that turn opening hours into bookable start times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRules {
    /// Time kept free before each appointment (0..=240 minutes).
    pub buffer_before: u32,
    /// Time kept free after each appointment (0..=240 minutes).
    pub buffer_after: u32,
    /// How far ahead of now a booking must start. Default 2 hours.
    pub min_notice_minutes: u32,
    /// The grid start times fall on, from the start of each opening range. Default 30 minutes.
    pub slot_interval: Minutes,
    /// How many days ahead a caller can book. Default 60.
    pub horizon_days: u32,
}

impl Default for BookingRules {
    fn default() -> Self {
        Self {
            buffer_before: 0,
            buffer_after: 0,
            min_notice_minutes: 120,
            slot_interval: Minutes(30),
            horizon_days: 60,
        }
    }
}

impl BookingRules {
    pub fn new(
        buffer_before: u32,
        buffer_after: u32,
        min_notice_minutes: u32,
        slot_interval_minutes: u32,
        horizon_days: u32,
    ) -> Result<Self, ParseError> {
        if buffer_before > 240 || buffer_after > 240 {
            return Err(ParseError::new(
                "buffer",
                "must be between 0 and 240 minutes",
            ));
        }
        if min_notice_minutes > 60 * 24 * 30 {
            return Err(ParseError::new("minimum notice", "must be at most 30 days"));
        }
        if !(1..=366).contains(&horizon_days) {
            return Err(ParseError::new(
                "booking horizon",
                "must be between 1 and 366 days",
            ));
        }
        Ok(Self {
            buffer_before,
            buffer_after,
            min_notice_minutes,
            slot_interval: Minutes::new("slot interval", slot_interval_minutes, 5, 240)?,
            horizon_days,
        })
    }
}

/// A number the clinic is called on, and the id Vapi gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalledNumber {
    pub number: PhoneNumber,
    pub vapi_phone_number_id: Option<VapiPhoneNumberId>,
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
/// [`SmsAccount`]), which are kept apart so that they never travel with the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub name: ClinicName,
    pub zone: ClinicZone,
    pub called_numbers: Vec<CalledNumber>,
    /// The clinic's saved Vapi assistants: a call without a phone number (a test call from
    /// Vapi's dashboard or web widget) is found by the assistant id Vapi sends. Each id belongs
    /// to one clinic only.
    #[serde(default)]
    pub vapi_assistant_ids: Vec<VapiAssistantId>,
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
