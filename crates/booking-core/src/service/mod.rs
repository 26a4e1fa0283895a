//! The use-cases: one [`BookingService`] over the ports, one method per thing a caller, the voice
//! AI, Vapi, Twilio or the owner can ask for.
//!
//! Results are values. A business refusal (slot taken, wrong code, unknown service, a hold id the
//! model made up) is an outcome with `ok: false` and a sentence the model can say; `Err` is kept
//! for our own failures (the store is down). Every outcome serialises to the one-line JSON result
//! of DESIGN.md §3 with [`ToolResult::to_json`].
//!
//! The backend, not the model, decides that texts go out: `verify_otp` queues the confirmation and
//! the reminder in the same store call that confirms, and `end_of_call` queues the hot-lead alerts
//! in the same store call that records the report.

use std::sync::Arc;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::AmbiguousOffset;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::availability::Unbookable;
use crate::ids::{BookingId, CallId, MessageId, TenantId};
use crate::otp::{OtpHasher, OtpPolicy};
use crate::outbox::{DedupeKey, MessageKind, NewMessage};
use crate::phone::PhoneNumber;
use crate::ports::{Clock, Random, Store, StoreError};
use crate::scoring::ScoreWeights;
use crate::tenant::{ClinicZone, Service, Tenant, TenantConfig};

#[cfg(all(test, feature = "testing"))]
mod tests;

mod appointments;
mod availability;
mod calls;
mod cancel;
mod confirmation;
mod holds;
mod inbound;
mod otp;
mod reschedule;

pub use appointments::*;
pub use availability::*;
pub use calls::*;
pub use cancel::*;
pub use confirmation::*;
pub use holds::*;
pub use inbound::*;
pub use otp::*;
pub use reschedule::*;

/// A failure of our own: the model should say something went wrong on our side, not blame the
/// caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The store cannot be reached; retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or a corrupt row. The message is for operators.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Who is asking: the clinic the call reached (from the called number, never from a tool
/// argument), Vapi's call id and the caller ID, when there are.
#[derive(Clone, Debug)]
pub struct CallContext {
    pub tenant: Tenant,
    pub call_id: Option<CallId>,
    /// `None` when the caller ID is withheld.
    pub caller: Option<PhoneNumber>,
}

/// The knobs of the use-cases. The defaults are the product's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub otp: OtpPolicy,
    pub score_weights: ScoreWeights,
    /// Suggestions `check_availability` offers.
    pub suggestions: usize,
    /// Alternatives offered when a slot is taken.
    pub alternatives: usize,
    /// Days `check_availability` (and the alternatives to a taken slot) look ahead, never past
    /// the clinic's horizon, when asked for no date or when the asked date is full. The default
    /// reaches the horizon.
    pub search_days: u32,
    /// How long before the appointment the reminder is due (24 hours).
    pub reminder_before: SignedDuration,
    /// The least time between the confirmation and the reminder (see [`reminder_due`]).
    pub reminder_min_gap: SignedDuration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            otp: OtpPolicy::default(),
            score_weights: ScoreWeights::default(),
            suggestions: 4,
            alternatives: 3,
            search_days: 366,
            reminder_before: SignedDuration::from_hours(24),
            reminder_min_gap: SignedDuration::from_hours(1),
        }
    }
}

/// When the reminder of an appointment starting at `start`, confirmed at `now`, is due:
/// `reminder_before` ahead of the start; when that is less than `min_gap` after the confirmation
/// (a booking for tomorrow morning made this afternoon), `min_gap` after the confirmation so that
/// the two texts do not arrive together; and never later than half-way between now and the start,
/// so that it always comes before the appointment. Every confirmed booking gets one.
pub fn reminder_due(
    now: Timestamp,
    start: Timestamp,
    before: SignedDuration,
    min_gap: SignedDuration,
) -> Timestamp {
    let normal = start - before;
    if normal >= now + min_gap {
        return normal;
    }
    let halfway = now + (start - now) / 2;
    (now + min_gap).min(halfway).max(now)
}

/// A tool result: `ok`, a sentence for the model, and the fields of DESIGN.md §3.
pub trait ToolResult: Serialize {
    /// `false` for a business refusal.
    fn ok(&self) -> bool;
    /// One sentence the voice AI can say (or act on).
    fn message(&self) -> String;
    /// `{"ok": …, "message": …, <fields>}`, one JSON object; serialise it on one line.
    fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}));
        if !value.is_object() {
            value = serde_json::json!({});
        }
        let obj = value.as_object_mut().expect("an object");
        obj.insert("ok".into(), self.ok().into());
        obj.insert("message".into(), self.message().into());
        value
    }
}

/// A start time offered to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotOffer {
    /// RFC 3339 with the clinic's offset: "2026-11-26T14:00:00-05:00".
    pub start: String,
    /// "Thursday November 26 at 2:00 PM"
    pub spoken: String,
    #[serde(skip)]
    pub at: Timestamp,
    #[serde(skip)]
    day: String,
    #[serde(skip)]
    time: String,
}

impl SlotOffer {
    fn new(zone: &ClinicZone, at: Timestamp) -> Self {
        let z = at.to_zoned_datetime(zone.tz().clone());
        let day = z.strftime("%A %B %-d").to_string();
        let time = z.strftime("%-I:%M %p").to_string();
        Self {
            start: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            spoken: format!("{day} at {time}"),
            at,
            day,
            time,
        }
    }
}

/// "Thursday November 26 at 9:00 AM or 2:00 PM, and Friday November 27 at 10:00 AM"
fn speak_offers(offers: &[SlotOffer]) -> String {
    let mut days: Vec<(&str, Vec<&str>)> = Vec::new();
    for o in offers {
        match days.last_mut() {
            Some((d, times)) if *d == o.day => times.push(&o.time),
            _ => days.push((&o.day, vec![&o.time])),
        }
    }
    let parts: Vec<String> = days
        .iter()
        .map(|(d, times)| format!("{d} at {}", join_or(times, "or")))
        .collect();
    join_or(&parts, "and")
}

fn join_or<S: AsRef<str>>(items: &[S], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {word} {}", init.join(", "), last.as_ref())
        }
    }
}

fn spoken_at(zone: &ClinicZone, at: Timestamp) -> String {
    SlotOffer::new(zone, at).spoken
}

fn rfc3339(zone: &ClinicZone, at: Timestamp) -> String {
    SlotOffer::new(zone, at).start
}

/// The use-cases. Cheap to clone (everything behind `Arc`), `Send + Sync`.
#[derive(Clone)]
pub struct BookingService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    hasher: Arc<OtpHasher>,
    config: Arc<ServiceConfig>,
}

impl std::fmt::Debug for BookingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Text from outside trimmed, control characters turned into spaces, cut at `max_chars`.
fn clean_text(s: &str, max_chars: usize) -> String {
    let s: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    s.trim().to_owned()
}

fn normalise_words(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service a caller or the model named: an exact (case- and space-insensitive) match, else the
/// only service whose name contains the words said ("whitening" for "Teeth Whitening") or is
/// contained in them.
pub fn find_service<'a>(config: &'a TenantConfig, spoken: &str) -> Option<&'a Service> {
    if let Some(s) = config.service(spoken) {
        return Some(s);
    }
    let said = normalise_words(spoken);
    if said.is_empty() {
        return None;
    }
    let mut found = config.services.iter().filter(|s| {
        let name = normalise_words(s.name.as_str());
        name.contains(&said) || said.contains(&name)
    });
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

fn unknown_service(config: &TenantConfig, spoken: &str) -> String {
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        return "The clinic has no services set up for booking; offer to take a message with capture_lead.".into();
    }
    format!(
        "The clinic does not offer {:?}; its services are {}.",
        clean_text(spoken, 80),
        join_or(&names, "and")
    )
}

/// "YYYY-MM-DD"
fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

/// "HH:MM" (or "H:MM", with optional seconds).
fn parse_time(s: &str) -> Option<Time> {
    let mut parts = s.trim().split(':');
    let h: i8 = parts.next()?.trim().parse().ok()?;
    let m: i8 = parts.next()?.trim().parse().ok()?;
    let sec: i8 = match parts.next() {
        Some(x) => x.trim().parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Time::new(h, m, sec, 0).ok()
}

/// A start as the model passes it: RFC 3339 with an offset, or a local "YYYY-MM-DDTHH:MM" read in
/// the clinic's zone. A local time the clocks skip (DST gap) is refused; one they show twice is the
/// earlier instant.
fn parse_start(zone: &ClinicZone, input: &str) -> Result<Timestamp, String> {
    let s = input.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let dt: DateTime = s.replacen(' ', "T", 1).parse().map_err(|_| {
        format!(
            "The start {:?} is not a time I can read; pass the start exactly as check_availability returned it.",
            clean_text(input, 40)
        )
    })?;
    let amb = zone.tz().to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Gap { .. } => Err(format!(
            "{} does not exist on that day because the clocks change; pick another time.",
            dt.strftime("%-I:%M %p")
        )),
        _ => amb.earlier().map_err(|_| {
            "That start is out of range; pick a time from check_availability.".to_owned()
        }),
    }
}

fn unbookable_reason(u: &Unbookable) -> String {
    let why = match u {
        Unbookable::InPast => "that time has already passed".to_owned(),
        Unbookable::TooSoon { minutes } => {
            if minutes % 60 == 0 {
                format!("appointments need {} hours' notice", minutes / 60)
            } else {
                format!("appointments need {minutes} minutes' notice")
            }
        }
        Unbookable::BeyondHorizon { days } => {
            format!("appointments can be booked at most {days} days ahead")
        }
        Unbookable::Closed => {
            "the clinic is closed then, or the appointment would run past closing".to_owned()
        }
        Unbookable::OffGrid { minutes } => format!("appointments start every {minutes} minutes"),
        Unbookable::RepeatedTime => "the clocks go back that night, so that time comes twice, \
             and only the first one (before the clocks change) can be booked"
            .to_owned(),
    };
    format!("That time cannot be booked: {why}.")
}

impl BookingService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        hasher: OtpHasher,
        config: ServiceConfig,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            hasher: Arc::new(hasher),
            config: Arc::new(config),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn booking_id(&self) -> BookingId {
        BookingId::from_random_bytes(self.random.bytes16())
    }

    fn message_id(&self) -> MessageId {
        MessageId::from_random_bytes(self.random.bytes16())
    }

    #[allow(clippy::too_many_arguments)]
    fn new_message(
        &self,
        tenant: TenantId,
        kind: MessageKind,
        dedupe_key: DedupeKey,
        to: &PhoneNumber,
        body: String,
        due_at: Timestamp,
        booking: Option<BookingId>,
        call_id: Option<&CallId>,
        now: Timestamp,
    ) -> NewMessage {
        NewMessage {
            id: self.message_id(),
            tenant,
            kind,
            dedupe_key,
            to: to.clone(),
            body,
            due_at,
            booking,
            call_id: call_id.cloned(),
            created_at: now,
        }
    }

    fn today(config: &TenantConfig, now: Timestamp) -> Date {
        now.to_zoned_datetime(config.zone.tz().clone()).date()
    }

    fn last_bookable_day(config: &TenantConfig, now: Timestamp) -> Date {
        Self::today(config, now).saturating_add(i64::from(config.rules.horizon_days).days())
    }
}
