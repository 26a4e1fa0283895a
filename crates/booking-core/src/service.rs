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

use crate::availability::{self, Slot, Unbookable};
use crate::booking::{Booking, BookingStatus, HOLD_TTL, Interval, NewAppointment, NewHold};
use crate::calls::{CallReport, CallStart, CapturedLead, FinishOutcome, FinishedCall, LeadScore};
use crate::ids::{BookingId, CallId, ChallengeId, MessageId, TenantId};
use crate::messages::{self, InboundKeyword};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, NewChallenge, OtpHasher, OtpPolicy, SendLimit,
};
use crate::outbox::{DedupeKey, MessageKind, MessageStatus, NewMessage};
use crate::phone::PhoneNumber;
use crate::ports::{Clock, InboundCounter, InboundPurpose, Random, Store, StoreError};
use crate::scoring::{self, LeadSignals, ScoreWeights};
use crate::tenant::{ClinicZone, KeywordReplies, Service, Tenant, TenantConfig};

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

/// What `check_availability` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AvailabilityOutcome {
    Available {
        service: String,
        slots: Vec<SlotOffer>,
        /// A date was asked for and had nothing free: these are the nearest later times.
        requested_day_full: bool,
    },
    /// Nothing free within the days searched.
    NoneAvailable {
        service: String,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for AvailabilityOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Available { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Available {
                service,
                slots,
                requested_day_full,
            } => {
                let list = speak_offers(slots);
                if *requested_day_full {
                    format!(
                        "Nothing is free for {service} on that day; the nearest free times are {list}. To hold one, call reserve_slot with its start."
                    )
                } else {
                    format!(
                        "Free times for {service}: {list}. To hold one, call reserve_slot with its start."
                    )
                }
            }
            Self::NoneAvailable { service } => {
                format!(
                    "There are no free times for {service} in the coming days; offer to take a message with capture_lead so the clinic can call back."
                )
            }
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// What `reserve_slot` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReserveOutcome {
    Held {
        hold_id: BookingId,
        /// RFC 3339, clinic's offset.
        expires_at: String,
        start: String,
        spoken: String,
        service: String,
    },
    /// Someone else holds or booked it.
    Taken { alternatives: Vec<SlotOffer> },
    Refused {
        reason: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<SlotOffer>,
    },
}

impl ToolResult for ReserveOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Held { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Held { spoken, service, .. } => format!(
                "{spoken} for {service} is held for the next {} minutes. Now call send_otp with the hold_id to text the caller a code.",
                HOLD_TTL.as_mins()
            ),
            Self::Taken { alternatives } if alternatives.is_empty() => {
                "That time was just taken and nothing close to it is free; ask check_availability for another day.".into()
            }
            Self::Taken { alternatives } => {
                format!("That time was just taken. Close free times: {}.", speak_offers(alternatives))
            }
            Self::Refused { reason, alternatives } if alternatives.is_empty() => reason.clone(),
            Self::Refused { reason, alternatives } => {
                format!("{} Close free times: {}.", reason, speak_offers(alternatives))
            }
        }
    }
}

/// What `send_otp` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SendOtpOutcome {
    Sent {
        hold_id: BookingId,
        /// "+*******7621"
        sent_to: String,
        #[serde(skip)]
        last_four: String,
        expires_at: String,
    },
    /// The hold is an appointment already: nothing to verify.
    AlreadyConfirmed {
        appointment_id: BookingId,
    },
    /// A send limit was reached.
    Limited {
        limit: SendLimit,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for SendOtpOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Sent { .. } | Self::AlreadyConfirmed { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Sent { last_four, .. } => format!(
                "I texted a code to the number ending in {last_four}. Ask the caller to read it out, then call verify_otp with it."
            ),
            Self::AlreadyConfirmed { .. } => "This appointment is already confirmed; no code is needed.".into(),
            Self::Limited { limit } => match limit {
                SendLimit::PerNumber => "Too many codes were sent to that number recently; ask the caller to wait ten minutes, or offer to take a message with capture_lead.".into(),
                SendLimit::PerCall => "No more codes can be sent during this call; offer to take a message with capture_lead so the clinic can confirm the booking.".into(),
                SendLimit::NumbersPerCall => "Codes have been sent to too many different numbers during this call; send it to a number already used, or take a message with capture_lead.".into(),
                SendLimit::PerTenant => "The clinic cannot send more codes right now; offer to take a message with capture_lead so the clinic can call back.".into(),
                SendLimit::PerTenantRepeat => "The clinic is sending many codes right now and this number already had one within the hour; ask the caller to use the code already texted, or offer to take a message with capture_lead so the clinic can call back.".into(),
            },
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// What `verify_otp` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum VerifyOutcome {
    Confirmed {
        appointment_id: BookingId,
        status: BookingStatus,
        start: String,
        spoken: String,
        service: String,
    },
    WrongCode {
        attempts_left: u32,
    },
    /// The code took too many wrong tries: a new one must be sent.
    TooManyAttempts,
    CodeExpired,
    /// No code is waiting for this hold.
    NoCode,
    Refused {
        reason: String,
    },
}

impl ToolResult for VerifyOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Confirmed { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Confirmed {
                spoken, service, ..
            } => format!(
                "The appointment for {service} on {spoken} is confirmed; a confirmation text is on its way."
            ),
            Self::WrongCode { attempts_left: 0 } => {
                "That code is wrong and it was the last try; call send_otp to text a new code."
                    .into()
            }
            Self::WrongCode { attempts_left } => format!(
                "That code is wrong; ask the caller to read it again ({attempts_left} {} left).",
                if *attempts_left == 1 { "try" } else { "tries" }
            ),
            Self::TooManyAttempts => {
                "That code had too many wrong tries; call send_otp to text a new code.".into()
            }
            Self::CodeExpired => "That code has expired; call send_otp to text a new one.".into(),
            Self::NoCode => "No code is waiting for this hold; call send_otp to text one.".into(),
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// What `send_confirmation_sms` found. It never queues a text: the confirmation was queued when
/// the appointment was confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ConfirmationSmsOutcome {
    Status {
        appointment_id: BookingId,
        sms_status: MessageStatus,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for ConfirmationSmsOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Status { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Status { sms_status, .. } => match sms_status {
                MessageStatus::Pending | MessageStatus::Sending | MessageStatus::Ambiguous => {
                    "The confirmation text is on its way; there is no need to send it again.".into()
                }
                MessageStatus::Queued | MessageStatus::Sent => "The confirmation text has been sent.".into(),
                MessageStatus::Delivered => "The confirmation text was delivered.".into(),
                MessageStatus::Suppressed => {
                    "This number has opted out of texts, so no confirmation text was sent; the appointment still stands.".into()
                }
                MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Withdrawn => {
                    "The confirmation text could not be delivered, but the appointment still stands; the clinic will follow up.".into()
                }
            },
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// An appointment, as read back to a caller choosing one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppointmentSummary {
    pub appointment_id: BookingId,
    pub service: String,
    pub start: String,
    pub spoken: String,
}

impl AppointmentSummary {
    fn of(zone: &ClinicZone, b: &Booking) -> Self {
        Self {
            appointment_id: b.id,
            service: b.service.to_string(),
            start: rfc3339(zone, b.slot.start),
            spoken: spoken_at(zone, b.slot.start),
        }
    }
}

fn speak_appointments(list: &[AppointmentSummary]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|a| format!("{} on {}", a.service, a.spoken))
        .collect();
    join_or(&parts, "and")
}

/// What `cancel_appointment` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CancelOutcome {
    Cancelled {
        appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        spoken: String,
    },
    /// The caller has several upcoming appointments: which one?
    ChooseOne {
        appointments: Vec<AppointmentSummary>,
    },
    /// No such appointment for this caller (`appointments` lists the ones they do have).
    NotFound {
        appointments: Vec<AppointmentSummary>,
    },
    /// A code was texted to the number on the appointment: nothing changes until the caller
    /// reads it back.
    NeedsCode(CodeTexted),
    /// The code passed was not the right one, or can no longer be used.
    CodeRefused(CodeProblem),
    Refused {
        reason: String,
    },
}

/// The answer of a phone change that needs the code texted to the appointment's number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeTexted {
    pub appointment_id: BookingId,
    /// Always `true`: the model calls again with `code`.
    pub needs_code: bool,
    /// "+*******7621"
    pub sent_to: String,
    #[serde(skip)]
    pub last_four: String,
    #[serde(skip)]
    pub tool: &'static str,
}

impl CodeTexted {
    fn message(&self) -> String {
        format!(
            "To protect the patient, I texted a code to the number ending in {} that is on the appointment. Ask the caller to read it out, then call {} again with the same appointment_id and the code.",
            self.last_four, self.tool
        )
    }
}

/// Why the code passed to a phone change did not prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    #[serde(skip)]
    pub reason: String,
}

impl ToolResult for CancelOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Cancelled {
                service, spoken, ..
            } => {
                format!(
                    "The appointment for {service} on {spoken} is cancelled; a text confirming it is on its way."
                )
            }
            Self::ChooseOne { appointments } => format!(
                "The caller has several upcoming appointments: {}. Ask which one, then call again with its appointment_id.",
                speak_appointments(appointments)
            ),
            Self::NotFound { appointments } => not_found_message(appointments),
            Self::NeedsCode(texted) => texted.message(),
            Self::CodeRefused(problem) => problem.reason.clone(),
            Self::Refused { reason } => reason.clone(),
        }
    }
}

fn not_found_message(appointments: &[AppointmentSummary]) -> String {
    if appointments.is_empty() {
        "I could not find an upcoming appointment for the number the caller is calling from.".into()
    } else {
        format!(
            "I could not find that appointment for this caller; their upcoming appointments are {}.",
            speak_appointments(appointments)
        )
    }
}

/// What `reschedule_appointment` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RescheduleOutcome {
    Rescheduled {
        /// The new appointment.
        appointment_id: BookingId,
        previous_appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        start: String,
        spoken: String,
    },
    Taken {
        alternatives: Vec<SlotOffer>,
    },
    ChooseOne {
        appointments: Vec<AppointmentSummary>,
    },
    NotFound {
        appointments: Vec<AppointmentSummary>,
    },
    /// A code was texted to the number on the appointment: nothing changes until the caller
    /// reads it back.
    NeedsCode(CodeTexted),
    /// The code passed was not the right one, or can no longer be used.
    CodeRefused(CodeProblem),
    Refused {
        reason: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<SlotOffer>,
    },
}

impl ToolResult for RescheduleOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Rescheduled { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Rescheduled { service, spoken, .. } => {
                format!("The appointment for {service} is moved to {spoken}; a text with the new time is on its way.")
            }
            Self::Taken { alternatives } if alternatives.is_empty() => {
                "That time is taken and nothing close to it is free; ask check_availability for another day.".into()
            }
            Self::Taken { alternatives } => {
                format!("That time is taken. Close free times: {}.", speak_offers(alternatives))
            }
            Self::ChooseOne { appointments } => format!(
                "The caller has several upcoming appointments: {}. Ask which one to move, then call again with its appointment_id.",
                speak_appointments(appointments)
            ),
            Self::NotFound { appointments } => not_found_message(appointments),
            Self::NeedsCode(texted) => texted.message(),
            Self::CodeRefused(problem) => problem.reason.clone(),
            Self::Refused { reason, alternatives } if alternatives.is_empty() => reason.clone(),
            Self::Refused { reason, alternatives } => {
                format!("{} Close free times: {}.", reason, speak_offers(alternatives))
            }
        }
    }
}

/// What `capture_lead` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LeadOutcome {
    Captured {
        #[serde(skip)]
        wants_callback: bool,
    },
    Refused {
        reason: String,
    },
}

impl ToolResult for LeadOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Captured { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Captured {
                wants_callback: true,
            } => "Noted; the clinic will call the caller back.".into(),
            Self::Captured {
                wants_callback: false,
            } => "Noted; the clinic will see this.".into(),
            Self::Refused { reason } => reason.clone(),
        }
    }
}

/// What `end_of_call` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndOfCallOutcome {
    /// `false` when a report for this call had already been processed: nothing changed.
    pub recorded: bool,
    /// The score stored for the call (the first one, for a repeated report).
    pub score: Option<LeadScore>,
    pub hot_lead: bool,
    /// Alerts queued by this report.
    pub alerts_queued: u32,
}

/// One automatic reply per sender per clinic in this window.
pub const AUTO_REPLY_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// The window of the forward limits.
pub const FORWARD_WINDOW: SignedDuration = SignedDuration::from_hours(1);
/// Texts of one sender passed on to the clinic per [`FORWARD_WINDOW`]; the next one is replaced
/// by a note that the sender's texts are paused, and the rest are not passed on.
pub const FORWARDS_PER_SENDER: u32 = 3;
/// Texts of all senders passed on to the clinic per [`FORWARD_WINDOW`].
pub const FORWARDS_PER_CLINIC: u32 = 30;

/// An inbound text, as Twilio's webhook gave it. Debug shows the body's length, not the body.
#[derive(Clone, Copy)]
pub struct InboundText<'a> {
    pub from: &'a PhoneNumber,
    pub body: &'a str,
    /// The inbound message's sid (`SM…`): the dedupe key of what it causes.
    pub sid: &'a str,
    /// The keyword Twilio matched and answered (`OptOutType` of Advanced Opt-Out), if any.
    pub twilio_keyword: Option<InboundKeyword>,
    /// Who answers keywords for this clinic's sender.
    pub keyword_replies: KeywordReplies,
}

impl std::fmt::Debug for InboundText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundText")
            .field("from", &self.from)
            .field(
                "body",
                &format_args!("<{} chars>", self.body.chars().count()),
            )
            .field("sid", &self.sid)
            .field("twilio_keyword", &self.twilio_keyword)
            .field("keyword_replies", &self.keyword_replies)
            .finish()
    }
}

/// What an inbound text was and what it caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundOutcome {
    /// "opt_out", "opt_in", "help", "other" or "from_clinic_number".
    pub keyword: &'static str,
    /// Replies to the sender and forwards to the clinic queued (0 for a replayed webhook).
    pub queued: u32,
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

    /// The busy intervals that matter to `service` slots starting from `first` to `last`
    /// (local dates): the days widened by the buffers and the service, so that a booking just
    /// past midnight is seen by a late slot whose time runs into it.
    async fn busy_between(
        &self,
        tenant: &Tenant,
        service: &Service,
        first: Date,
        last: Date,
        now: Timestamp,
    ) -> ServiceResult<Vec<Interval>> {
        let cfg = &tenant.config;
        let start = availability::day_window(cfg, first).start;
        let end = availability::day_window(cfg, last).end;
        match Interval::new(start, end) {
            Some(w) => {
                let w = availability::busy_window(cfg, service, w);
                Ok(self.store.busy(tenant.id, w, now).await?)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Suggestions from `first` on, day by day up to `days` days (within the horizon), until
    /// `self.config.suggestions` are found.
    async fn suggest_from(
        &self,
        tenant: &Tenant,
        service: &Service,
        first: Date,
        after: Option<Time>,
        days: u32,
        now: Timestamp,
    ) -> ServiceResult<Vec<Slot>> {
        let cfg = &tenant.config;
        let horizon_end = Self::last_bookable_day(cfg, now);
        let last = first
            .saturating_add(i64::from(days.max(1) - 1).days())
            .min(horizon_end);
        if first > last {
            return Ok(Vec::new());
        }
        let busy = self.busy_between(tenant, service, first, last, now).await?;
        let want = self.config.suggestions.max(1);
        let mut out: Vec<Slot> = Vec::new();
        let mut day = first;
        while day <= last && out.len() < want {
            let found = availability::suggest_on_day(
                cfg,
                service,
                day,
                after,
                &busy,
                now,
                want - out.len(),
            );
            out.extend(found);
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// The slot a start makes by the clinic's rules alone, or why not (a sentence) with close
    /// alternatives where there can be some.
    async fn slot_by_the_rules(
        &self,
        tenant: &Tenant,
        svc: &Service,
        at: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Result<Slot, (String, Vec<SlotOffer>)>> {
        match availability::slot_at(&tenant.config, svc, at, now) {
            Ok(s) => Ok(Ok(s)),
            Err(u) => {
                let alternatives = match u {
                    Unbookable::Closed
                    | Unbookable::OffGrid { .. }
                    | Unbookable::RepeatedTime
                    | Unbookable::TooSoon { .. } => {
                        self.alternatives_near(tenant, svc, at.max(now), now)
                            .await?
                    }
                    Unbookable::InPast | Unbookable::BeyondHorizon { .. } => Vec::new(),
                };
                Ok(Err((unbookable_reason(&u), alternatives)))
            }
        }
    }

    /// Free starts closest to `near` on its local day, else the next suggestions after it.
    async fn alternatives_near(
        &self,
        tenant: &Tenant,
        service: &Service,
        near: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Vec<SlotOffer>> {
        let cfg = &tenant.config;
        let day = near.to_zoned_datetime(cfg.zone.tz().clone()).date();
        let window = availability::day_window(cfg, day);
        let busy = self
            .store
            .busy(
                tenant.id,
                availability::busy_window(cfg, service, window),
                now,
            )
            .await?;
        let mut slots = availability::free_slots(cfg, service, window, &busy, now);
        slots.retain(|s| s.slot.start != near);
        slots.sort_by_key(|s| (s.slot.start - near).abs());
        slots.truncate(self.config.alternatives);
        if slots.is_empty() {
            let today = Self::today(cfg, now);
            let from = day.tomorrow().unwrap_or(day).max(today);
            slots = self
                .suggest_from(tenant, service, from, None, self.config.search_days, now)
                .await?;
            slots.truncate(self.config.alternatives);
        }
        slots.sort_by_key(|s| s.slot.start);
        Ok(slots
            .iter()
            .map(|s| SlotOffer::new(&cfg.zone, s.slot.start))
            .collect())
    }

    /// `check_availability(service, date?, after?)`.
    pub async fn check_availability(
        &self,
        ctx: &CallContext,
        service: &str,
        date: Option<&str>,
        after: Option<&str>,
    ) -> ServiceResult<AvailabilityOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(svc) = find_service(cfg, service) else {
            return Ok(AvailabilityOutcome::Refused {
                reason: unknown_service(cfg, service),
            });
        };
        let after = match after.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(a) => match parse_time(a) {
                Some(t) => Some(t),
                None => {
                    return Ok(AvailabilityOutcome::Refused {
                        reason: format!(
                            "{:?} is not a time of day; pass after as HH:MM, for example 14:00.",
                            clean_text(a, 20)
                        ),
                    });
                }
            },
        };
        let today = Self::today(cfg, now);
        let last = Self::last_bookable_day(cfg, now);
        let name = svc.name.to_string();
        let offers = |slots: Vec<Slot>| -> Vec<SlotOffer> {
            slots
                .iter()
                .map(|s| SlotOffer::new(&cfg.zone, s.slot.start))
                .collect()
        };
        match date.map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                let slots = self
                    .suggest_from(tenant, svc, today, after, self.config.search_days, now)
                    .await?;
                if slots.is_empty() {
                    return Ok(AvailabilityOutcome::NoneAvailable { service: name });
                }
                Ok(AvailabilityOutcome::Available {
                    service: name,
                    slots: offers(slots),
                    requested_day_full: false,
                })
            }
            Some(d) => {
                let Some(day) = parse_date(d) else {
                    return Ok(AvailabilityOutcome::Refused {
                        reason: format!(
                            "{:?} is not a date; pass date as YYYY-MM-DD in the clinic's calendar (today is {today}).",
                            clean_text(d, 20)
                        ),
                    });
                };
                if day < today {
                    return Ok(AvailabilityOutcome::Refused {
                        reason: format!(
                            "{day} has already passed; today is {today} at the clinic."
                        ),
                    });
                }
                if day > last {
                    return Ok(AvailabilityOutcome::Refused {
                        reason: format!(
                            "Appointments can be booked at most {} days ahead, up to {last}.",
                            cfg.rules.horizon_days
                        ),
                    });
                }
                let busy = self.busy_between(tenant, svc, day, day, now).await?;
                let on_day = availability::suggest_on_day(
                    cfg,
                    svc,
                    day,
                    after,
                    &busy,
                    now,
                    self.config.suggestions.max(1),
                );
                if !on_day.is_empty() {
                    return Ok(AvailabilityOutcome::Available {
                        service: name,
                        slots: offers(on_day),
                        requested_day_full: false,
                    });
                }
                let later = match day.tomorrow() {
                    Ok(next) => {
                        self.suggest_from(tenant, svc, next, None, self.config.search_days, now)
                            .await?
                    }
                    Err(_) => Vec::new(),
                };
                if later.is_empty() {
                    return Ok(AvailabilityOutcome::NoneAvailable { service: name });
                }
                Ok(AvailabilityOutcome::Available {
                    service: name,
                    slots: offers(later),
                    requested_day_full: true,
                })
            }
        }
    }

    /// `reserve_slot(start, service, caller_name)`. `phone` is the number to book under when the
    /// caller ID is withheld (or the caller wants another); otherwise the caller ID is used.
    pub async fn reserve_slot(
        &self,
        ctx: &CallContext,
        start: &str,
        service: &str,
        caller_name: &str,
        phone: Option<&str>,
    ) -> ServiceResult<ReserveOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: String| ReserveOutcome::Refused {
            reason,
            alternatives: Vec::new(),
        };
        let Some(svc) = find_service(cfg, service) else {
            return Ok(refused(unknown_service(cfg, service)));
        };
        let name = clean_text(caller_name, 100);
        if name.is_empty() {
            return Ok(refused(
                "I need the caller's name to hold a time; ask for it and call reserve_slot again."
                    .into(),
            ));
        }
        let phone = match phone.map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => match PhoneNumber::parse(p) {
                Ok(p) => p,
                Err(e) => {
                    return Ok(refused(format!(
                        "That phone number cannot be used: it {}.",
                        e.problem()
                    )));
                }
            },
            None => match &ctx.caller {
                Some(p) => p.clone(),
                None => {
                    return Ok(refused(
                        "The caller's number is hidden; ask for a mobile number in international format (+1…) and pass it as phone.".into(),
                    ));
                }
            },
        };
        let at = match parse_start(&cfg.zone, start) {
            Ok(t) => t,
            Err(reason) => return Ok(refused(reason)),
        };

        // The same call asking again for the slot it already holds gets the same hold.
        if let Some(call) = &ctx.call_id {
            let mine = self.store.bookings_for_call(tenant.id, call).await?;
            if let Some(b) = mine.iter().find(|b| {
                b.slot.start == at
                    && b.service == svc.name
                    && b.effective_status(now) == BookingStatus::Held
            }) {
                return Ok(self.held(cfg, b));
            }
        }

        let slot = match self.slot_by_the_rules(tenant, svc, at, now).await? {
            Ok(s) => s,
            Err((reason, alternatives)) => {
                return Ok(ReserveOutcome::Refused {
                    reason,
                    alternatives,
                });
            }
        };
        let hold = NewHold {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: tenant.calendar(),
            service: svc.name.clone(),
            slot: slot.slot,
            blocked: slot.blocked,
            caller_name: name,
            caller_phone: phone,
            call_id: ctx.call_id.clone(),
            created_at: now,
            hold_expires_at: now + HOLD_TTL,
        };
        match self
            .store
            .insert_hold(&hold, now, ctx.call_id.is_some())
            .await
        {
            Ok(b) => Ok(self.held(cfg, &b)),
            Err(StoreError::SlotTaken) => Ok(ReserveOutcome::Taken {
                alternatives: self.alternatives_near(tenant, svc, at, now).await?,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn held(&self, cfg: &TenantConfig, b: &Booking) -> ReserveOutcome {
        let offer = SlotOffer::new(&cfg.zone, b.slot.start);
        ReserveOutcome::Held {
            hold_id: b.id,
            expires_at: rfc3339(
                &cfg.zone,
                b.hold_expires_at.unwrap_or(b.created_at + HOLD_TTL),
            ),
            start: offer.start,
            spoken: offer.spoken,
            service: b.service.to_string(),
        }
    }

    /// A booking of this tenant that this caller may act on: made during this call, or for the
    /// number calling. Another tenant's, another caller's or a made-up id all read as missing.
    async fn callers_booking(&self, ctx: &CallContext, id: &str) -> ServiceResult<Option<Booking>> {
        let Ok(id) = id.parse::<BookingId>() else {
            return Ok(None);
        };
        let Some(b) = self.store.booking(ctx.tenant.id, id).await? else {
            return Ok(None);
        };
        let same_call = b.call_id.is_some() && b.call_id == ctx.call_id;
        let same_caller = ctx.caller.as_ref() == Some(&b.caller_phone);
        Ok((same_call || same_caller).then_some(b))
    }

    /// `send_otp(hold_id, phone?)`: texts a code for the hold, to the number it was made for
    /// unless the caller gives another.
    pub async fn send_otp(
        &self,
        ctx: &CallContext,
        hold_id: &str,
        phone: Option<&str>,
    ) -> ServiceResult<SendOtpOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: &str| SendOtpOutcome::Refused {
            reason: reason.into(),
        };
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(refused(
                "I could not find that hold; use the hold_id that reserve_slot returned, or reserve the time again.",
            ));
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => {
                return Ok(SendOtpOutcome::AlreadyConfirmed {
                    appointment_id: hold.id,
                });
            }
            _ => {
                return Ok(refused(
                    "That hold has run out; call reserve_slot again for the time the caller wants.",
                ));
            }
        }
        let to = match phone.map(str::trim).filter(|s| !s.is_empty()) {
            None => hold.caller_phone.clone(),
            Some(p) => match PhoneNumber::parse(p) {
                Ok(p) => p,
                Err(e) => {
                    return Ok(SendOtpOutcome::Refused {
                        reason: format!(
                            "That phone number cannot be used: it {}. Ask for a mobile number with the country code, like +1 925 555 0100.",
                            e.problem()
                        ),
                    });
                }
            },
        };
        let call = ctx.call_id.as_ref().or(hold.call_id.as_ref());
        match self.text_code(tenant, &hold, &to, call, now).await? {
            Ok(stored) => Ok(SendOtpOutcome::Sent {
                hold_id: hold.id,
                sent_to: to.masked(),
                last_four: to.last_four().to_owned(),
                expires_at: rfc3339(&cfg.zone, stored.expires_at),
            }),
            Err(refusal) => Ok(refusal),
        }
    }

    /// Texts a new code for `booking` to `to`: the clinic must be able to text, the number must
    /// not have opted out and must be in a country the clinic allows, and the send limits must
    /// allow it (the store decides them, under a lock, with the code's own insert). The refusal
    /// is a `send_otp` outcome (`Limited` or `Refused`).
    async fn text_code(
        &self,
        tenant: &Tenant,
        booking: &Booking,
        to: &PhoneNumber,
        call: Option<&CallId>,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, SendOtpOutcome>> {
        let cfg = &tenant.config;
        let refused = |reason: String| Ok(Err(SendOtpOutcome::Refused { reason }));
        if !matches!(tenant.sms_health, crate::tenant::SmsHealth::Ok) {
            return refused(
                "The clinic cannot send text messages right now, so this cannot be confirmed by code; offer to take a message with capture_lead so the clinic calls back.".into(),
            );
        }
        if !cfg.allows_code_to(to) {
            let countries: Vec<String> =
                cfg.code_countries().iter().map(|c| c.to_string()).collect();
            return refused(if countries.is_empty() {
                "The clinic does not text codes to that number; offer to take a message with capture_lead so the clinic calls back.".into()
            } else {
                format!(
                    "The clinic texts codes only to mobile numbers in {}; ask for a mobile number from there, or offer to take a message with capture_lead.",
                    join_or(&countries, "or")
                )
            });
        }
        if self.store.is_opted_out(tenant.id, to).await? {
            return refused(
                "That number has opted out of the clinic's texts (it replied STOP); ask for another mobile number, or the caller can text START to opt back in.".into(),
            );
        }
        let policy = &self.config.otp;
        let code = policy.generate_code(self.random.as_ref());
        let challenge_id = ChallengeId::from_random_bytes(self.random.bytes16());
        let challenge = NewChallenge {
            id: challenge_id,
            tenant: tenant.id,
            booking: booking.id,
            call_id: call.cloned(),
            phone: to.clone(),
            code_hash: self.hasher.hash(challenge_id, &code),
            created_at: now,
            expires_at: now + policy.validity,
        };
        let text = self.new_message(
            tenant.id,
            MessageKind::Otp,
            DedupeKey::otp(challenge_id),
            to,
            messages::otp_text(&cfg.name, code.as_str()),
            now,
            Some(booking.id),
            call,
            now,
        );
        Ok(self
            .store
            .create_challenge(&challenge, &text, policy)
            .await?
            .map_err(|limit| SendOtpOutcome::Limited { limit }))
    }

    /// Checks a code read back for the live code of `booking`. The check is counted by the store
    /// before the code is compared, so that no number of concurrent guesses gets more than
    /// `max_checks` comparisons. `Ok(challenge)` when it is right (the caller then consumes it
    /// with the change it proves); otherwise the refusal, as `verify_otp` words it.
    async fn check_code(
        &self,
        tenant: TenantId,
        booking: BookingId,
        code: &str,
        now: Timestamp,
    ) -> ServiceResult<Result<Challenge, VerifyOutcome>> {
        let policy = &self.config.otp;
        let Some(challenge) = self.store.active_challenge(tenant, booking).await? else {
            return Ok(Err(VerifyOutcome::NoCode));
        };
        if challenge.failed_checks >= policy.max_checks {
            return Ok(Err(VerifyOutcome::TooManyAttempts));
        }
        if challenge.expires_at <= now {
            return Ok(Err(VerifyOutcome::CodeExpired));
        }
        let Some(code) = policy.normalise_code(code) else {
            // Not a code at all: no guess was made, so no try is used up.
            return Ok(Err(VerifyOutcome::Refused {
                reason: format!(
                    "The code has {} digits; ask the caller to read it again.",
                    policy.code_length.get()
                ),
            }));
        };
        let checks = match self
            .store
            .begin_check(tenant, challenge.id, now, policy.max_checks)
            .await?
        {
            CheckClaim::Counted { checks } => checks,
            CheckClaim::Exhausted => return Ok(Err(VerifyOutcome::TooManyAttempts)),
            CheckClaim::Expired => return Ok(Err(VerifyOutcome::CodeExpired)),
            CheckClaim::Gone => return Ok(Err(VerifyOutcome::NoCode)),
        };
        if self
            .hasher
            .verify(challenge.id, &code, &challenge.code_hash)
        {
            Ok(Ok(challenge))
        } else {
            Ok(Err(VerifyOutcome::WrongCode {
                attempts_left: policy.max_checks.saturating_sub(checks),
            }))
        }
    }

    fn confirmed(&self, cfg: &TenantConfig, b: &Booking) -> VerifyOutcome {
        let offer = SlotOffer::new(&cfg.zone, b.slot.start);
        VerifyOutcome::Confirmed {
            appointment_id: b.id,
            status: BookingStatus::Confirmed,
            start: offer.start,
            spoken: offer.spoken,
            service: b.service.to_string(),
        }
    }

    /// `verify_otp(hold_id, code)`: the right code confirms the hold and, in the same store call,
    /// queues the confirmation (due now) and the reminder (see [`reminder_due`]), both to the
    /// number that proved it. Asking again for a confirmed appointment answers the same and
    /// queues nothing.
    pub async fn verify_otp(
        &self,
        ctx: &CallContext,
        hold_id: &str,
        code: &str,
    ) -> ServiceResult<VerifyOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(hold) = self.callers_booking(ctx, hold_id).await? else {
            return Ok(VerifyOutcome::Refused {
                reason: "I could not find that hold; use the hold_id that reserve_slot returned."
                    .into(),
            });
        };
        match hold.effective_status(now) {
            BookingStatus::Held => {}
            BookingStatus::Confirmed => return Ok(self.confirmed(cfg, &hold)),
            _ => {
                return Ok(VerifyOutcome::Refused {
                    reason: "That hold has run out and the time is no longer kept; call reserve_slot again.".into(),
                });
            }
        }
        let challenge = match self.check_code(tenant.id, hold.id, code, now).await? {
            Ok(c) => c,
            // A concurrent verify may have just used the code and confirmed the hold.
            Err(VerifyOutcome::NoCode) => {
                return match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(self.confirmed(cfg, &b)),
                    _ => Ok(VerifyOutcome::NoCode),
                };
            }
            Err(refusal) => return Ok(refusal),
        };

        let start = hold.slot.start;
        let to = &challenge.phone;
        let confirmation = self.new_message(
            tenant.id,
            MessageKind::Confirmation,
            DedupeKey::confirmation(hold.id),
            to,
            messages::confirmation_text(&cfg.name, &cfg.zone, &hold.service, start),
            now,
            Some(hold.id),
            hold.call_id.as_ref(),
            now,
        );
        let reminder = self.new_message(
            tenant.id,
            MessageKind::Reminder,
            DedupeKey::reminder(hold.id),
            to,
            messages::reminder_text(&cfg.name, &cfg.zone, &hold.service, start),
            reminder_due(
                now,
                start,
                self.config.reminder_before,
                self.config.reminder_min_gap,
            ),
            Some(hold.id),
            hold.call_id.as_ref(),
            now,
        );
        match self
            .store
            .confirm_hold(
                tenant.id,
                hold.id,
                challenge.id,
                now,
                &[confirmation, reminder],
            )
            .await
        {
            Ok(b) => Ok(self.confirmed(cfg, &b)),
            // A concurrent verify may have won: read what the hold is now.
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, hold.id).await? {
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(self.confirmed(cfg, &b)),
                    Some(b) if b.effective_status(now) == BookingStatus::Held => Ok(VerifyOutcome::CodeExpired),
                    _ => Ok(VerifyOutcome::Refused {
                        reason: "That hold has run out and the time is no longer kept; call reserve_slot again.".into(),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `send_confirmation_sms(appointment_id)`: the state of the confirmation queued when the
    /// appointment was confirmed. Never queues a text.
    pub async fn send_confirmation_sms(
        &self,
        ctx: &CallContext,
        appointment_id: &str,
    ) -> ServiceResult<ConfirmationSmsOutcome> {
        let now = self.clock.now();
        let Some(b) = self.callers_booking(ctx, appointment_id).await? else {
            return Ok(ConfirmationSmsOutcome::Refused {
                reason: "I could not find that appointment; use the appointment_id that verify_otp returned.".into(),
            });
        };
        match b.effective_status(now) {
            BookingStatus::Confirmed => {}
            BookingStatus::Held => {
                return Ok(ConfirmationSmsOutcome::Refused {
                    reason: "That time is only held, not booked yet; confirm it with send_otp and verify_otp first.".into(),
                });
            }
            _ => {
                return Ok(ConfirmationSmsOutcome::Refused {
                    reason:
                        "That appointment is not booked (it was cancelled, or the hold ran out)."
                            .into(),
                });
            }
        }
        match self.store.message_by_key(ctx.tenant.id, &DedupeKey::confirmation(b.id)).await? {
            Some(m) => Ok(ConfirmationSmsOutcome::Status {
                appointment_id: b.id,
                sms_status: m.status,
            }),
            None => Ok(ConfirmationSmsOutcome::Refused {
                reason: "No confirmation text is on record for that appointment; the appointment still stands and the clinic will follow up.".into(),
            }),
        }
    }

    /// The caller's upcoming appointment they mean: the one with `id`, or their only one.
    async fn pick_appointment(
        &self,
        ctx: &CallContext,
        id: Option<&str>,
    ) -> ServiceResult<Result<Booking, PickFailure>> {
        let tenant = &ctx.tenant;
        let now = self.clock.now();
        let Some(caller) = &ctx.caller else {
            return Ok(Err(PickFailure::Refused(
                "The caller's number is hidden, so I cannot find their appointments; the clinic can help directly.".into(),
            )));
        };
        let upcoming = self
            .store
            .upcoming_for_phone(tenant.id, caller, now)
            .await?;
        let summaries = || -> Vec<AppointmentSummary> {
            upcoming
                .iter()
                .map(|b| AppointmentSummary::of(&tenant.config.zone, b))
                .collect()
        };
        match id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => {
                let found = id
                    .parse::<BookingId>()
                    .ok()
                    .and_then(|id| upcoming.iter().find(|b| b.id == id));
                match found {
                    Some(b) => Ok(Ok(b.clone())),
                    None => Ok(Err(PickFailure::NotFound(summaries()))),
                }
            }
            None => match upcoming.as_slice() {
                [] => Ok(Err(PickFailure::NotFound(Vec::new()))),
                [one] => Ok(Ok(one.clone())),
                _ => Ok(Err(PickFailure::ChooseOne(summaries()))),
            },
        }
    }

    /// Where texts about an appointment go: where its confirmation went (the number that proved
    /// it), else the number it was booked under.
    async fn appointment_recipient(
        &self,
        tenant: TenantId,
        b: &Booking,
    ) -> ServiceResult<PhoneNumber> {
        Ok(self
            .store
            .message_by_key(tenant, &DedupeKey::confirmation(b.id))
            .await?
            .map(|m| m.to)
            .unwrap_or_else(|| b.caller_phone.clone()))
    }

    /// `cancel_appointment(appointment_id?, code?)` for the number calling. Caller ID only finds
    /// the appointment: without `code` a code is texted to the number on the appointment and
    /// nothing changes; with the right one, it is cancelled.
    pub async fn cancel_appointment(
        &self,
        ctx: &CallContext,
        appointment_id: Option<&str>,
        code: Option<&str>,
    ) -> ServiceResult<CancelOutcome> {
        match self.pick_appointment(ctx, appointment_id).await? {
            Ok(b) => match self
                .caller_proof(ctx, &b, code, "cancel_appointment")
                .await?
            {
                Ok(proof) => {
                    self.cancel(&ctx.tenant, &b, proof, ctx.call_id.as_ref())
                        .await
                }
                Err(ChangeStop::NeedsCode(texted)) => Ok(CancelOutcome::NeedsCode(texted)),
                Err(ChangeStop::CodeRefused(problem)) => Ok(CancelOutcome::CodeRefused(problem)),
                Err(ChangeStop::Refused(reason)) => Ok(CancelOutcome::Refused { reason }),
            },
            Err(PickFailure::Refused(reason)) => Ok(CancelOutcome::Refused { reason }),
            Err(PickFailure::NotFound(appointments)) => {
                Ok(CancelOutcome::NotFound { appointments })
            }
            Err(PickFailure::ChooseOne(appointments)) => {
                Ok(CancelOutcome::ChooseOne { appointments })
            }
        }
    }

    /// The owner cancels from the dashboard.
    pub async fn cancel_booking_for_owner(
        &self,
        tenant: &Tenant,
        id: BookingId,
    ) -> ServiceResult<CancelOutcome> {
        match self.store.booking(tenant.id, id).await? {
            Some(b) if b.status == BookingStatus::Confirmed => {
                self.cancel(tenant, &b, ChangeProof::Owner, None).await
            }
            Some(b) => Ok(CancelOutcome::Refused {
                reason: format!(
                    "The booking is {}, not confirmed.",
                    b.effective_status(self.clock.now()).as_str()
                ),
            }),
            None => Ok(CancelOutcome::NotFound {
                appointments: Vec::new(),
            }),
        }
    }

    async fn cancel(
        &self,
        tenant: &Tenant,
        b: &Booking,
        proof: ChangeProof,
        call: Option<&CallId>,
    ) -> ServiceResult<CancelOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let to = self.appointment_recipient(tenant.id, b).await?;
        let text = self.new_message(
            tenant.id,
            MessageKind::Cancellation,
            DedupeKey::cancellation(b.id),
            &to,
            messages::cancellation_text(&cfg.name, &cfg.zone, &b.service, b.slot.start),
            now,
            Some(b.id),
            call.or(b.call_id.as_ref()),
            now,
        );
        let withdraw = [DedupeKey::reminder(b.id), DedupeKey::confirmation(b.id)];
        let done = match self
            .store
            .cancel_booking(tenant.id, b.id, proof, now, &withdraw, &[text])
            .await
        {
            Ok(done) => done,
            // Cancelled meanwhile (a replay, or the owner): the same answer.
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, b.id).await? {
                    Some(now_b) if now_b.status == BookingStatus::Cancelled => now_b,
                    Some(now_b) if now_b.status == BookingStatus::Confirmed => {
                        // Still booked: the code was used or ran out meanwhile.
                        return Ok(CancelOutcome::CodeRefused(code_gone("cancel_appointment")));
                    }
                    _ => {
                        return Ok(CancelOutcome::Refused {
                            reason: "That appointment can no longer be cancelled.".into(),
                        });
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(CancelOutcome::Cancelled {
            appointment_id: done.id,
            status: done.status,
            service: done.service.to_string(),
            spoken: spoken_at(&cfg.zone, done.slot.start),
        })
    }

    /// `reschedule_appointment(appointment_id?, new_start, code?)` for the number calling. As
    /// `cancel_appointment`: once the new time passes the rules, a code is texted to the number
    /// on the appointment unless the right `code` is passed; only then is it moved.
    pub async fn reschedule_appointment(
        &self,
        ctx: &CallContext,
        appointment_id: Option<&str>,
        new_start: &str,
        code: Option<&str>,
    ) -> ServiceResult<RescheduleOutcome> {
        match self.pick_appointment(ctx, appointment_id).await? {
            Ok(b) => {
                self.reschedule(&ctx.tenant, &b, new_start, Mover::Caller { ctx, code })
                    .await
            }
            Err(PickFailure::Refused(reason)) => Ok(RescheduleOutcome::Refused {
                reason,
                alternatives: Vec::new(),
            }),
            Err(PickFailure::NotFound(appointments)) => {
                Ok(RescheduleOutcome::NotFound { appointments })
            }
            Err(PickFailure::ChooseOne(appointments)) => {
                Ok(RescheduleOutcome::ChooseOne { appointments })
            }
        }
    }

    /// The owner moves an appointment from the dashboard (same rules as a caller).
    pub async fn reschedule_booking_for_owner(
        &self,
        tenant: &Tenant,
        id: BookingId,
        new_start: &str,
    ) -> ServiceResult<RescheduleOutcome> {
        match self.store.booking(tenant.id, id).await? {
            Some(b) if b.status == BookingStatus::Confirmed => {
                self.reschedule(tenant, &b, new_start, Mover::Owner).await
            }
            Some(b) => Ok(RescheduleOutcome::Refused {
                reason: format!(
                    "The booking is {}, not confirmed.",
                    b.effective_status(self.clock.now()).as_str()
                ),
                alternatives: Vec::new(),
            }),
            None => Ok(RescheduleOutcome::NotFound {
                appointments: Vec::new(),
            }),
        }
    }

    async fn reschedule(
        &self,
        tenant: &Tenant,
        old: &Booking,
        new_start: &str,
        mover: Mover<'_>,
    ) -> ServiceResult<RescheduleOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: String| RescheduleOutcome::Refused {
            reason,
            alternatives: Vec::new(),
        };
        let Some(svc) = cfg.service(old.service.as_str()) else {
            return Ok(refused(format!(
                "The clinic no longer offers {} for booking; the clinic can help directly.",
                old.service
            )));
        };
        let at = match parse_start(&cfg.zone, new_start) {
            Ok(t) => t,
            Err(reason) => return Ok(refused(reason)),
        };
        if at == old.slot.start {
            return Ok(refused("The appointment is already at that time.".into()));
        }
        let slot = match self.slot_by_the_rules(tenant, svc, at, now).await? {
            Ok(s) => s,
            Err((reason, alternatives)) => {
                return Ok(RescheduleOutcome::Refused {
                    reason,
                    alternatives,
                });
            }
        };
        let (proof, call) = match mover {
            Mover::Owner => (ChangeProof::Owner, None),
            Mover::Caller { ctx, code } => {
                // No code is texted for a move that cannot happen (the store still has the last
                // word when it is made).
                let busy = self.store.busy(tenant.id, slot.blocked, now).await?;
                if busy
                    .iter()
                    .any(|i| *i != old.blocked && i.overlaps(&slot.blocked))
                {
                    return Ok(RescheduleOutcome::Taken {
                        alternatives: self.alternatives_near(tenant, svc, at, now).await?,
                    });
                }
                match self
                    .caller_proof(ctx, old, code, "reschedule_appointment")
                    .await?
                {
                    Ok(proof) => (proof, ctx.call_id.as_ref()),
                    Err(ChangeStop::NeedsCode(texted)) => {
                        return Ok(RescheduleOutcome::NeedsCode(texted));
                    }
                    Err(ChangeStop::CodeRefused(problem)) => {
                        return Ok(RescheduleOutcome::CodeRefused(problem));
                    }
                    Err(ChangeStop::Refused(reason)) => return Ok(refused(reason)),
                }
            }
        };
        let new = NewAppointment {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: old.calendar,
            service: old.service.clone(),
            slot: slot.slot,
            blocked: slot.blocked,
            caller_name: old.caller_name.clone(),
            caller_phone: old.caller_phone.clone(),
            call_id: call.cloned().or_else(|| old.call_id.clone()),
            created_at: now,
            rescheduled_from: old.id,
        };
        let to = self.appointment_recipient(tenant.id, old).await?;
        let texts = [
            // The "moved" text is the new appointment's confirmation: one per booking, and what
            // send_confirmation_sms reports for it.
            self.new_message(
                tenant.id,
                MessageKind::Confirmation,
                DedupeKey::confirmation(new.id),
                &to,
                messages::rescheduled_text(
                    &cfg.name,
                    &cfg.zone,
                    &old.service,
                    old.slot.start,
                    slot.slot.start,
                ),
                now,
                Some(new.id),
                new.call_id.as_ref(),
                now,
            ),
            self.new_message(
                tenant.id,
                MessageKind::Reminder,
                DedupeKey::reminder(new.id),
                &to,
                messages::reminder_text(&cfg.name, &cfg.zone, &old.service, slot.slot.start),
                reminder_due(
                    now,
                    slot.slot.start,
                    self.config.reminder_before,
                    self.config.reminder_min_gap,
                ),
                Some(new.id),
                new.call_id.as_ref(),
                now,
            ),
        ];
        let withdraw = [DedupeKey::reminder(old.id), DedupeKey::confirmation(old.id)];
        match self
            .store
            .reschedule_booking(tenant.id, old.id, proof, &new, now, &withdraw, &texts)
            .await
        {
            Ok(b) => {
                let offer = SlotOffer::new(&cfg.zone, b.slot.start);
                Ok(RescheduleOutcome::Rescheduled {
                    appointment_id: b.id,
                    previous_appointment_id: old.id,
                    status: b.status,
                    service: b.service.to_string(),
                    start: offer.start,
                    spoken: offer.spoken,
                })
            }
            Err(StoreError::SlotTaken) => Ok(RescheduleOutcome::Taken {
                alternatives: self.alternatives_near(tenant, svc, at, now).await?,
            }),
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, old.id).await? {
                    // Still booked: the code was used or ran out meanwhile.
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(
                        RescheduleOutcome::CodeRefused(code_gone("reschedule_appointment")),
                    ),
                    _ => Ok(refused(
                        "That appointment can no longer be moved (it was cancelled or moved meanwhile)."
                            .into(),
                    )),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records a call's start (from `assistant-request` or the first message seen).
    pub async fn record_call_start(&self, start: &CallStart) -> ServiceResult<()> {
        Ok(self.store.record_call_start(start).await?)
    }

    /// A `status-update`. `Ok(false)` when the call is unknown (nothing stored).
    pub async fn record_call_status(
        &self,
        tenant: &Tenant,
        call: &CallId,
        status: &str,
    ) -> ServiceResult<bool> {
        let status = clean_text(status, 64);
        match self
            .store
            .record_call_status(tenant.id, call, &status, self.clock.now())
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// `capture_lead(caller_name?, service_interest?, wants_callback?, notes?)`.
    pub async fn capture_lead(
        &self,
        ctx: &CallContext,
        lead: &CapturedLead,
    ) -> ServiceResult<LeadOutcome> {
        let Some(call) = &ctx.call_id else {
            return Ok(LeadOutcome::Refused {
                reason: "There is no call to attach this to.".into(),
            });
        };
        let now = self.clock.now();
        let text = |v: &Option<String>, max| {
            v.as_deref()
                .map(|s| clean_text(s, max))
                .filter(|s| !s.is_empty())
        };
        let lead = CapturedLead {
            caller_name: text(&lead.caller_name, 100),
            service_interest: text(&lead.service_interest, 120),
            wants_callback: lead.wants_callback,
            notes: text(&lead.notes, 2000),
        };
        self.store
            .record_call_start(&CallStart {
                call_id: call.clone(),
                tenant: ctx.tenant.id,
                caller: ctx.caller.clone(),
                called: None,
                started_at: now,
            })
            .await?;
        self.store
            .record_lead(ctx.tenant.id, call, &lead, now)
            .await?;
        Ok(LeadOutcome::Captured {
            wants_callback: lead.wants_callback == Some(true),
        })
    }

    /// `end-of-call-report`: stores the report, scores the call and, for a hot lead, queues one
    /// alert per alert number, all in one store call. A repeated report changes nothing.
    pub async fn end_of_call(
        &self,
        tenant: &Tenant,
        report: CallReport,
    ) -> ServiceResult<EndOfCallOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let call_id = report.call_id.clone();
        let record = match self.store.call(tenant.id, &call_id).await? {
            Some(r) if r.report_received_at.is_some() => {
                return Ok(EndOfCallOutcome {
                    recorded: false,
                    hot_lead: r.hot_lead,
                    score: r.score,
                    alerts_queued: 0,
                });
            }
            Some(r) => r,
            None => {
                self.store
                    .record_call_start(&CallStart {
                        call_id: call_id.clone(),
                        tenant: tenant.id,
                        caller: report.caller.clone(),
                        called: report.called.clone(),
                        started_at: report.started_at.or(report.ended_at).unwrap_or(now),
                    })
                    .await?;
                self.store.call(tenant.id, &call_id).await?.ok_or_else(|| {
                    ServiceError::Internal("the call just recorded is missing".into())
                })?
            }
        };

        // What the model captured during the call wins over the analysis after it.
        let stored = &record.lead;
        let structured = &report.structured;
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| b.clone().filter(|s| !s.trim().is_empty()))
        };
        let caller_name = pick(&stored.caller_name, &structured.caller_name);
        let interest = pick(&stored.service_interest, &structured.service_interest);
        let wants_callback =
            stored.wants_callback == Some(true) || structured.wants_callback == Some(true);

        let booked: Vec<Booking> = self
            .store
            .bookings_for_call(tenant.id, &call_id)
            .await?
            .into_iter()
            .filter(|b| b.status == BookingStatus::Confirmed)
            .collect();
        let booked_value = booked
            .iter()
            .filter_map(|b| cfg.service(b.service.as_str()).and_then(|s| s.value_cents))
            .max();
        let interest_value = interest
            .as_deref()
            .and_then(|i| find_service(cfg, i))
            .and_then(|s| s.value_cents);
        let caller = report.caller.clone().or_else(|| record.caller.clone());
        let repeat_caller = match &caller {
            Some(p) => {
                let before = record.started_at.or(report.started_at).unwrap_or(now);
                self.store.prior_calls_from(tenant.id, p, before).await? > 0
            }
            None => false,
        };
        let signals = LeadSignals {
            booked: !booked.is_empty(),
            service_value_cents: booked_value.or(interest_value),
            duration_seconds: report.duration_seconds(),
            wants_callback,
            buying_intent: report.buying_intent == Some(true),
            repeat_caller,
        };
        let score = scoring::score(&signals, &self.config.score_weights);
        let hot_lead = score.total >= cfg.hot_lead_threshold.get();

        let mut alerts = Vec::new();
        if hot_lead {
            let name = caller_name.or_else(|| booked.first().map(|b| b.caller_name.clone()));
            let service = booked.first().map(|b| b.service.to_string()).or(interest);
            let body = messages::hot_lead_text(
                &cfg.name,
                name.as_deref(),
                caller.as_ref(),
                service.as_deref(),
                &score,
            );
            let mut seen = Vec::new();
            for alert in &cfg.alert_numbers {
                if seen.contains(&alert) {
                    continue;
                }
                seen.push(alert);
                alerts.push(self.new_message(
                    tenant.id,
                    MessageKind::HotLead,
                    DedupeKey::hot_lead(&call_id, alert),
                    alert,
                    body.clone(),
                    now,
                    None,
                    Some(&call_id),
                    now,
                ));
            }
        }
        let finished = FinishedCall {
            report,
            score: score.clone(),
            hot_lead,
            received_at: now,
        };
        match self
            .store
            .finish_call(tenant.id, &finished, &alerts)
            .await?
        {
            FinishOutcome::Recorded => Ok(EndOfCallOutcome {
                recorded: true,
                score: Some(score),
                hot_lead,
                alerts_queued: alerts.len() as u32,
            }),
            FinishOutcome::AlreadyRecorded => {
                let r = self.store.call(tenant.id, &call_id).await?;
                Ok(EndOfCallOutcome {
                    recorded: false,
                    hot_lead: r.as_ref().is_some_and(|r| r.hot_lead),
                    score: r.and_then(|r| r.score),
                    alerts_queued: 0,
                })
            }
        }
    }

    /// A text a caller sent to the clinic's number (Twilio's inbound webhook).
    ///
    /// The keyword is the one Twilio matched (`OptOutType`) first, else ours. STOP and friends
    /// opt the number out, START opts it back in; the reply to those and to HELP is sent only
    /// when the clinic answers them itself ([`KeywordReplies::Clinic`]) and Twilio did not
    /// already (no `OptOutType`). Anything else is forwarded to the clinic's alert numbers and
    /// answered with how to reach the clinic, within limits: one auto-reply per sender per
    /// [`AUTO_REPLY_WINDOW`], [`FORWARDS_PER_SENDER`] forwards per sender and
    /// [`FORWARDS_PER_CLINIC`] per clinic per [`FORWARD_WINDOW`] (then one note saying the
    /// sender's texts are paused), and nothing at all to or from a number a clinic texts from.
    /// All through the outbox, keyed by the inbound message's sid, so a replayed webhook queues
    /// nothing twice.
    pub async fn handle_inbound_sms(
        &self,
        tenant: &Tenant,
        text: &InboundText<'_>,
    ) -> ServiceResult<InboundOutcome> {
        let cfg = &tenant.config;
        let from = text.from;
        let body = text.body;
        let now = self.clock.now();
        let sid = clean_text(text.sid, 64);
        let reply = |text: String| {
            self.new_message(
                tenant.id,
                MessageKind::InboundReply,
                DedupeKey::inbound(MessageKind::InboundReply, &sid, from),
                from,
                text,
                now,
                None,
                None,
                now,
            )
        };
        // Twilio answered the keyword itself when it matched it (Advanced Opt-Out) or when the
        // clinic leaves keyword replies to it.
        let we_answer =
            text.twilio_keyword.is_none() && text.keyword_replies == KeywordReplies::Clinic;
        let answer = |msg: String| {
            if we_answer {
                vec![reply(msg)]
            } else {
                Vec::new()
            }
        };
        let (keyword, msgs) = match messages::inbound_keyword(text.twilio_keyword, body) {
            InboundKeyword::OptOut => {
                self.store.set_opted_out(tenant.id, from, true, now).await?;
                ("opt_out", answer(messages::opt_out_reply(&cfg.name)))
            }
            InboundKeyword::OptIn => {
                self.store
                    .set_opted_out(tenant.id, from, false, now)
                    .await?;
                ("opt_in", answer(messages::opt_in_reply(&cfg.name)))
            }
            InboundKeyword::Help => (
                "help",
                answer(messages::help_reply(&cfg.name, cfg.contact_number())),
            ),
            InboundKeyword::Other => {
                if self.store.is_clinic_texting_number(from).await? {
                    // Another clinic's (or this clinic's own) texting number: answering or
                    // forwarding could start a loop between two automatic senders.
                    return Ok(InboundOutcome {
                        keyword: "from_clinic_number",
                        queued: 0,
                    });
                }
                let mut msgs = self.inbound_forwards(tenant, from, body, &sid, now).await?;
                // Someone who opted out gets no automatic answer; the clinic still sees the text.
                if !self.store.is_opted_out(tenant.id, from).await?
                    && self
                        .store
                        .count_inbound_text(
                            tenant.id,
                            InboundPurpose::AutoReply,
                            InboundCounter::Sender(from),
                            AUTO_REPLY_WINDOW,
                            now,
                        )
                        .await?
                        .count
                        == 1
                {
                    msgs.push(reply(messages::inbound_auto_reply(
                        &cfg.name,
                        cfg.contact_number(),
                    )));
                }
                ("other", msgs)
            }
        };
        let queued = if msgs.is_empty() {
            0
        } else {
            self.store.enqueue(&msgs).await?
        };
        Ok(InboundOutcome { keyword, queued })
    }

    /// The forwards of one inbound text to the clinic's alert numbers, within the limits.
    async fn inbound_forwards(
        &self,
        tenant: &Tenant,
        from: &PhoneNumber,
        body: &str,
        sid: &str,
        now: Timestamp,
    ) -> ServiceResult<Vec<NewMessage>> {
        let cfg = &tenant.config;
        let mut alerts: Vec<&PhoneNumber> = Vec::new();
        for alert in &cfg.alert_numbers {
            if alert == from || alerts.contains(&alert) {
                continue;
            }
            // Refused when configured; checked again in case a clinic claimed it since.
            if self.store.is_clinic_texting_number(alert).await? {
                continue;
            }
            alerts.push(alert);
        }
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let by_sender = self
            .store
            .count_inbound_text(
                tenant.id,
                InboundPurpose::Forward,
                InboundCounter::Sender(from),
                FORWARD_WINDOW,
                now,
            )
            .await?;
        let text = if by_sender.count <= FORWARDS_PER_SENDER {
            messages::inbound_forward_text(&cfg.name, from, body)
        } else if by_sender.count == FORWARDS_PER_SENDER + 1 {
            // The sender's further texts in this window are grouped under this one note.
            let until =
                messages::local_time(&cfg.zone, by_sender.window_started_at + FORWARD_WINDOW);
            messages::inbound_forward_paused_text(&cfg.name, from, &until)
        } else {
            return Ok(Vec::new());
        };
        let clinic = self
            .store
            .count_inbound_text(
                tenant.id,
                InboundPurpose::Forward,
                InboundCounter::Clinic,
                FORWARD_WINDOW,
                now,
            )
            .await?;
        if clinic.count > FORWARDS_PER_CLINIC {
            return Ok(Vec::new());
        }
        Ok(alerts
            .into_iter()
            .map(|alert| {
                self.new_message(
                    tenant.id,
                    MessageKind::InboundForward,
                    DedupeKey::inbound(MessageKind::InboundForward, sid, alert),
                    alert,
                    text.clone(),
                    now,
                    None,
                    None,
                    now,
                )
            })
            .collect())
    }
}

/// Who moves an appointment: the owner (the dashboard session is the proof), or a caller, who
/// proves it with the code texted to the number on the appointment.
enum Mover<'a> {
    Owner,
    Caller {
        ctx: &'a CallContext,
        code: Option<&'a str>,
    },
}

/// Why a phone change does not go ahead (yet).
enum ChangeStop {
    NeedsCode(CodeTexted),
    CodeRefused(CodeProblem),
    Refused(String),
}

fn code_gone(tool: &str) -> CodeProblem {
    CodeProblem {
        attempts_left: None,
        reason: format!(
            "That code has expired or was already used; call {tool} again without a code to text a new one."
        ),
    }
}

impl BookingService {
    /// What proves that the caller may change `b`: the right code for it, or else a code texted
    /// now to the number on the appointment (caller ID is easy to spoof; the phone that booked is
    /// not). A wrong code counts against the code's checks as in `verify_otp`.
    async fn caller_proof(
        &self,
        ctx: &CallContext,
        b: &Booking,
        code: Option<&str>,
        tool: &'static str,
    ) -> ServiceResult<Result<ChangeProof, ChangeStop>> {
        let tenant = &ctx.tenant;
        let now = self.clock.now();
        if let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) {
            let problem = |attempts_left: Option<u32>, reason: String| {
                Ok(Err(ChangeStop::CodeRefused(CodeProblem {
                    attempts_left,
                    reason,
                })))
            };
            match self.check_code(tenant.id, b.id, code, now).await? {
                Ok(challenge) => return Ok(Ok(ChangeProof::Code(challenge.id))),
                // No code waiting: text one, as without a code.
                Err(VerifyOutcome::NoCode) => {}
                Err(VerifyOutcome::WrongCode { attempts_left }) if attempts_left > 0 => {
                    return problem(
                        Some(attempts_left),
                        format!(
                            "That code is wrong; ask the caller to read it again ({attempts_left} {} left), then call {tool} again with it.",
                            if attempts_left == 1 { "try" } else { "tries" }
                        ),
                    );
                }
                Err(VerifyOutcome::WrongCode { .. }) | Err(VerifyOutcome::TooManyAttempts) => {
                    return problem(
                        Some(0),
                        format!(
                            "That code is wrong and has no tries left; call {tool} again without a code to text a new one."
                        ),
                    );
                }
                Err(VerifyOutcome::CodeExpired) => return problem(None, code_gone(tool).reason),
                Err(other) => return problem(None, other.message()),
            }
        }
        let to = self.appointment_recipient(tenant.id, b).await?;
        match self
            .text_code(tenant, b, &to, ctx.call_id.as_ref(), now)
            .await?
        {
            Ok(_) => Ok(Err(ChangeStop::NeedsCode(CodeTexted {
                appointment_id: b.id,
                needs_code: true,
                sent_to: to.masked(),
                last_four: to.last_four().to_owned(),
                tool,
            }))),
            Err(refusal) => Ok(Err(ChangeStop::Refused(refusal.message()))),
        }
    }
}

enum PickFailure {
    Refused(String),
    NotFound(Vec<AppointmentSummary>),
    ChooseOne(Vec<AppointmentSummary>),
}
