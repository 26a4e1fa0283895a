//! The use-cases: one [`BookingService`] over the ports, one method per thing a caller, the voice
//! AI, Vapi, Twilio or the owner can ask for.
//!
//! Inputs are typed (ids, dates, a [`crate::start::SlotStart`], an [`crate::otp::OtpAttempt`],
//! [`ReserveSlot`]): wire text is read at the edges, never here. Results are plain data. A
//! business refusal (slot taken, wrong code, unknown service, a hold id the model made up) is an
//! outcome whose `Refused` variant holds one refusal enum per use-case (`ReserveRefusal`,
//! `VerifyRefusal`, ...) with what a sentence about it needs; `Err` is kept for our own failures
//! (the store is down). There are no words here: booking-vapi's `speech` says every outcome to
//! the voice model, the dashboard says the owner's.
//!
//! The backend, not the model, decides that texts go out: `verify_otp` queues the confirmation and
//! the reminder in the same store call that confirms, and `end_of_call` queues the hot-lead alerts
//! in the same store call that records the report.
//!
//! One module per use-case, each with its outcome type:
//! - `availability`: `check_availability`, the free times of a service;
//! - `holds`: `reserve_slot`, a hold on a time while the caller proves their number;
//! - `otp`: `send_otp` and `verify_otp`, the code and the booking it confirms;
//! - `confirmation`: `send_confirmation_sms`, the state of the confirmation text;
//! - `appointments`: what cancelling and rescheduling share (finding the caller's appointment,
//!   the code that proves a caller may change it); `cancel` and `reschedule` build on it;
//! - `attendance`: the owner's attended and no-show marks;
//! - `conflicts`: appointments that collide with an event of the clinic's own calendar that
//!   arrived after they were booked (shown to the owner, never cancelled by us);
//! - `calls`: a call's start and status, `capture_lead` and the end-of-call report;
//! - `inbound`: texts callers send to the clinic's number (and "C" in reply to a reminder);
//! - `links`: the patient's own link to an appointment: the page's reads, cancel and move.
//! - `waitlist`: `join_waitlist`, the offers of freed times, and their claims.
//!
//! `input` holds `reserve_slot`'s input and the lookup of the service a caller named.

use std::sync::Arc;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::ids::{BookingId, CallId, MessageId};
use crate::otp::{OtpHasher, OtpPolicy};
use crate::outbox::{MessageDraft, NewMessage};
use crate::outside_calendar::CalendarSyncStore;
use crate::phone::PhoneNumber;
use crate::ports::{Clock, Random, Store, StoreError};
use crate::scoring::ScoreWeights;
use crate::tenant::{Tenant, TenantConfig};

#[cfg(all(test, feature = "testing"))]
mod tests;

mod appointments;
mod attendance;
mod availability;
mod calls;
mod cancel;
mod confirmation;
mod conflicts;
mod holds;
mod in_flight;
mod inbound;
mod input;
mod links;
mod otp;
mod races;
mod reschedule;
mod shared_reads;
mod waitlist;

pub use appointments::*;
pub use attendance::*;
pub use availability::*;
pub use calls::*;
pub use cancel::*;
pub use confirmation::*;
pub use conflicts::*;
pub use holds::*;
pub use inbound::*;
pub use input::*;
pub use links::*;
pub use otp::*;
pub use reschedule::*;
pub use waitlist::*;

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
    /// How long offers last, how many entries a number may have.
    pub waitlist: crate::waitlist::WaitlistPolicy,
    /// Where patients' links point (`PUBLIC_BASE_URL`); `None`: the texts carry no link and say
    /// to call instead.
    pub link_base: Option<crate::patient_link::LinkBase>,
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
            waitlist: crate::waitlist::WaitlistPolicy::default(),
            link_base: None,
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

/// The use-cases. Cheap to clone (everything behind `Arc`), `Send + Sync`.
#[derive(Clone)]
pub struct BookingService {
    store: Arc<dyn Store>,
    /// The busy time synced from the clinics' own calendars (read only here: the calendar
    /// worker writes it), and their links' health.
    calendars: Arc<dyn CalendarSyncStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    hasher: Arc<OtpHasher>,
    config: Arc<ServiceConfig>,
    reads: Arc<shared_reads::SharedReads>,
    races: Arc<races::Races>,
}

impl std::fmt::Debug for BookingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A patient's link to an appointment: what the store keeps (the token's hash, never the
/// token), the token, and the URL its texts carry.
struct FreshLink {
    stored: crate::patient_link::NewPatientLink,
    token: crate::link_token::LinkToken,
    url: String,
}

impl BookingService {
    pub fn new(
        store: Arc<dyn Store>,
        calendars: Arc<dyn CalendarSyncStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        hasher: OtpHasher,
        config: ServiceConfig,
    ) -> Self {
        Self {
            store,
            calendars,
            clock,
            random,
            hasher: Arc::new(hasher),
            config: Arc::new(config),
            reads: Arc::default(),
            races: Arc::default(),
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

    /// A fresh link to the appointment `booking` (ending at `end`), not stored yet. `None` when
    /// the deployment has no link base.
    fn new_link(
        &self,
        tenant: crate::ids::TenantId,
        booking: BookingId,
        end: Timestamp,
        now: Timestamp,
    ) -> Option<FreshLink> {
        let base = self.config.link_base.as_ref()?;
        let token = crate::link_token::LinkToken::generate(&*self.random);
        Some(FreshLink {
            stored: crate::patient_link::NewPatientLink {
                tenant,
                booking,
                hash: token.hash(),
                created_at: now,
                expires_at: end,
            },
            url: base.url(&token),
            token,
        })
    }

    /// [`Self::new_link`], stored on its own before the change whose texts carry it (for
    /// changes whose store call does not take the link).
    async fn issue_link(
        &self,
        tenant: crate::ids::TenantId,
        booking: BookingId,
        end: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Option<FreshLink>> {
        let Some(link) = self.new_link(tenant, booking, end, now) else {
            return Ok(None);
        };
        self.store.insert_link(&link.stored).await?;
        Ok(Some(link))
    }

    fn new_message(&self, draft: MessageDraft, now: Timestamp) -> NewMessage {
        draft.into_message(self.message_id(), now)
    }

    fn today(config: &TenantConfig, now: Timestamp) -> Date {
        now.to_zoned_datetime(config.zone.tz().clone()).date()
    }

    fn last_bookable_day(config: &TenantConfig, now: Timestamp) -> Date {
        Self::today(config, now).saturating_add(i64::from(config.rules.horizon_days).days())
    }
}
