//! The ports: everything the domain needs from the world, as traits. Adapters implement them
//! (booking-postgres: the stores; booking-twilio: the SMS gateway; the api: clock and randomness
//! from the OS). See docs/architecture.md.
//!
//! Every store method is one unit of work: it either does all it says or nothing. Where a use-case
//! must change several things atomically (confirm a hold AND queue its texts), one method takes all
//! of it, so the adapter can do it in one transaction.

mod clock;
mod gateway;
mod waitlist;

pub use clock::{Clock, Random};
#[cfg(test)]
pub use gateway::MockSmsGateway;
pub use gateway::{SendOutcome, SentSms, SmsGateway, SmsRequest};
pub use waitlist::{ReportStore, WaitlistStore};

use crate::booking::CallHolds;
use async_trait::async_trait;
use jiff::Timestamp;

use crate::attendance::{Attendance, MarkRefusal};
use crate::booking::{Booking, Interval, NewAppointment, NewHold, Occupied};
use crate::calls::{CallRecord, CallStart, CapturedLead, FinishOutcome, FinishedCall};
use crate::ids::CalendarId;
use crate::ids::{
    AssistantId, BookingId, CallId, ChallengeId, MessageId, TenantId, ToolCallId, VoiceLineId,
};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, NewChallenge, OtpPolicy, RateWindow, SendCounts,
    SendRefused,
};
use crate::outbox::{
    ClaimedMessage, DedupeKey, DeliveryUpdate, MessageStatus, NewMessage, OutboundMessage,
    StatusApplied,
};
use crate::patient_link::NewPatientLink;
use crate::phone::PhoneNumber;
use crate::tenant::{SmsAccount, SmsHealth, Tenant, TenantConfig};
use crate::test_texts::TestTextsUsedUp;

/// Why a store could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Nothing with that id for that tenant. (Another tenant's row is indistinguishable from
    /// a missing one.)
    #[error("not found")]
    NotFound,
    /// An occupying booking already overlaps the requested time (exclusion constraint).
    #[error("the slot is taken")]
    SlotTaken,
    /// The provider already has as many appointments in a limit's window as it allows
    /// ([`crate::booking::BookingLimit`]).
    #[error("the provider's booking limit is reached")]
    LimitReached,
    /// The row was not in the state the change requires; `current` is what it is now.
    #[error("the booking is {current}")]
    WrongState { current: &'static str },
    /// A unique value is already used (a called number another tenant has, …).
    #[error("already in use: {0}")]
    Duplicate(String),
    /// The store cannot be reached or timed out; safe to retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt row. The message is for operators, not callers.
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What to do with a tenant's SMS credentials on update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsAccountChange {
    Keep,
    Set(SmsAccount),
    Clear,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn create_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
    ) -> StoreResult<Tenant>;
    /// Replaces the configuration. Changing the SMS credentials clears a `NeedsAttention` health.
    async fn update_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: SmsAccountChange,
    ) -> StoreResult<Tenant>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// The tenant a called number belongs to.
    async fn tenant_by_called_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>>;
    /// The tenant whose voice line (a number the voice platform answers) has this id.
    async fn tenant_by_voice_line_id(&self, id: &VoiceLineId) -> StoreResult<Option<Tenant>>;
    /// The tenant that registered this saved Vapi assistant.
    async fn tenant_by_assistant_id(&self, id: &AssistantId) -> StoreResult<Option<Tenant>>;
    /// The tenant that texts from this number, directly or as one of its Messaging Service's
    /// numbers (an inbound text's `To`). A number belongs to one tenant at most.
    async fn tenant_by_sms_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>>;
    /// The tenant that sends through this Messaging Service (`MessagingServiceSid` of an inbound
    /// text). A Messaging Service belongs to one tenant at most.
    async fn tenant_by_messaging_service(&self, sid: &str) -> StoreResult<Option<Tenant>>;
    /// Whether any tenant texts from this number (sender number or Messaging Service number):
    /// such a number never gets an automatic reply or a forward, so that two clinics cannot
    /// text each other in a loop.
    async fn is_clinic_texting_number(&self, number: &PhoneNumber) -> StoreResult<bool>;
    /// Decrypted credentials, for sending and for checking Twilio's signatures.
    async fn sms_account(&self, id: TenantId) -> StoreResult<Option<SmsAccount>>;
    /// Tenants using this Twilio account (`AccountSid` of a status callback).
    async fn tenants_by_account_sid(&self, account_sid: &str) -> StoreResult<Vec<TenantId>>;
    async fn set_sms_health(&self, id: TenantId, health: &SmsHealth) -> StoreResult<()>;
}

#[async_trait]
pub trait BookingStore: Send + Sync {
    /// The blocked intervals of bookings that occupy time in `window` as of `now` (confirmed, and
    /// holds that have not expired), for the tenant's calendar.
    async fn busy(
        &self,
        tenant: TenantId,
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Interval>>;

    /// The occupying bookings (confirmed, and holds that have not expired by `now`) of these
    /// calendars (providers) whose blocked time overlaps `window`, ordered by calendar and time.
    async fn occupied(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Occupied>>;

    /// In one unit of work, serialised with every other insert on `hold.calendar`: marks holds
    /// that overlap `hold.blocked` and expired by `now` as expired; releases other live holds of
    /// the same call when `call_holds` says so; checks `hold.limits` (the occupying bookings of the
    /// calendar starting in each window, the new one included, must not exceed its max:
    /// `LimitReached` and nothing changes otherwise); inserts the hold. `SlotTaken` if an
    /// occupying booking overlaps, or the calendar's synced outside busy time
    /// ([`crate::outside_calendar::CalendarSyncStore`]) does.
    async fn insert_hold(
        &self,
        hold: &NewHold,
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking>;

    /// The same request on several providers, in order of preference: [`Self::insert_hold`] of
    /// each in turn, each its own unit of work, until one is inserted. When all are refused, the
    /// refusal is `SlotTaken` if any was taken, else `LimitReached`. An empty list is
    /// `SlotTaken`.
    async fn insert_first_free_hold(
        &self,
        holds: &[NewHold],
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking> {
        let mut refusal = StoreError::SlotTaken;
        let mut taken = false;
        for hold in holds {
            match self.insert_hold(hold, now, call_holds).await {
                Ok(b) => return Ok(b),
                Err(StoreError::SlotTaken) => {
                    taken = true;
                    refusal = StoreError::SlotTaken;
                }
                Err(StoreError::LimitReached) if !taken => refusal = StoreError::LimitReached,
                Err(StoreError::LimitReached) => {}
                Err(e) => return Err(e),
            }
        }
        Err(refusal)
    }

    async fn booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>>;

    /// In one unit of work: consumes the challenge (it must be this booking's, neither consumed
    /// nor superseded, and unexpired at `now`: checked under the same lock), moves the hold to
    /// confirmed (it must be held and unexpired at `now`), records the caller as a contact,
    /// stores the patient's `link` to it when there is one (it must be this booking's), and
    /// queues `messages` (a key already queued is skipped). `WrongState` when the booking is not a
    /// live hold (the caller may then read it: a concurrent confirm may have won); nothing is
    /// stored then, the link included.
    async fn confirm_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        challenge: ChallengeId,
        now: Timestamp,
        link: Option<&NewPatientLink>,
        messages: &[NewMessage],
    ) -> StoreResult<Booking>;

    /// Held → released. `WrongState` otherwise. (A waitlist claim whose offer lapsed meanwhile
    /// gives back the hold it made.)
    async fn release_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        now: Timestamp,
    ) -> StoreResult<Booking>;

    /// In one unit of work: confirmed → cancelled, the `proof` code consumed (see
    /// [`ChangeProof`]; a code that is not live for this booking: `WrongState`), pending messages
    /// with the `withdraw` keys withdrawn, `messages` queued.
    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        proof: ChangeProof,
        now: Timestamp,
        withdraw: &[DedupeKey],
        messages: &[NewMessage],
    ) -> StoreResult<Booking>;

    /// In one unit of work: the old confirmed booking cancelled, the new one inserted confirmed
    /// (`SlotTaken` if it overlaps another occupying booking, `LimitReached` if it would pass one
    /// of `new.limits` not counting the old one: then nothing changes), pending
    /// messages with the `withdraw` keys withdrawn, `messages` queued, the `proof` code (of the
    /// old booking) consumed. Returns the new booking.
    #[allow(clippy::too_many_arguments)]
    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        old: BookingId,
        proof: ChangeProof,
        new: &NewAppointment,
        now: Timestamp,
        withdraw: &[DedupeKey],
        messages: &[NewMessage],
    ) -> StoreResult<Booking>;

    /// Confirmed bookings for this caller that have not started by `now`, soonest first.
    async fn upcoming_for_phone(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> StoreResult<Vec<Booking>>;

    /// Bookings made during a call (any status).
    async fn bookings_for_call(&self, tenant: TenantId, call: &CallId)
    -> StoreResult<Vec<Booking>>;

    /// Bookings whose slot starts in `window`, any status, for the dashboard.
    async fn list_bookings(&self, tenant: TenantId, window: Interval) -> StoreResult<Vec<Booking>>;

    /// Housekeeping: marks every hold expired by `now` as expired. Returns how many.
    async fn expire_holds(&self, now: Timestamp) -> StoreResult<u64>;
}

#[async_trait]
pub trait OtpStore: Send + Sync {
    /// In one unit of work, serialised with every other code of the tenant: reads whether the
    /// number opted out of the tenant's texts and counts the codes already sent (to the number
    /// and by the tenant over `policy`'s windows, in the challenge's call ever), asks
    /// [`OtpPolicy::decide_send`] (the number counts as known in the call when the call already
    /// texted it a code or it is the booking's own number), and only then supersedes the
    /// booking's unconsumed challenges, inserts this one and queues its text. A refusal is
    /// `Ok(Err(why))` and changes nothing.
    async fn create_challenge(
        &self,
        challenge: &NewChallenge,
        message: &NewMessage,
        policy: &OtpPolicy,
    ) -> StoreResult<Result<Challenge, SendRefused>>;
    /// The newest challenge of a booking that is neither consumed nor superseded.
    async fn active_challenge(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<Challenge>>;
    /// Counts one check of the booking's live code (its newest challenge neither consumed nor
    /// superseded) in one atomic step, before the code is compared, if it can still be checked
    /// at `now`: unexpired and with fewer than `max_checks` checks. `Gone` when the booking has
    /// no live code.
    async fn begin_check(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
        max_checks: u32,
    ) -> StoreResult<CheckClaim>;
    /// Counts for the send limits: to `phone` and by the tenant since `since`; in `call` ever.
    async fn send_counts(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        call: Option<&CallId>,
        since: Timestamp,
    ) -> StoreResult<SendCounts>;
}

#[async_trait]
pub trait CallStore: Send + Sync {
    /// Records a call's start; repeating it is harmless (the first record stays).
    async fn record_call_start(&self, call: &CallStart) -> StoreResult<()>;
    async fn record_call_status(
        &self,
        tenant: TenantId,
        call: &CallId,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Merges what `capture_lead` learned into the call (later non-empty fields win).
    async fn record_lead(
        &self,
        tenant: TenantId,
        call: &CallId,
        lead: &CapturedLead,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn call(&self, tenant: TenantId, call: &CallId) -> StoreResult<Option<CallRecord>>;
    /// Calls from this number that started before `before` (repeat-caller signal).
    async fn prior_calls_from(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        before: Timestamp,
    ) -> StoreResult<u32>;
    /// In one unit of work: stores the report and score and queues `messages`, unless a report for
    /// this call was already stored (then nothing changes: `AlreadyRecorded`).
    async fn finish_call(
        &self,
        tenant: TenantId,
        call: &FinishedCall,
        messages: &[NewMessage],
    ) -> StoreResult<FinishOutcome>;
    /// Newest first.
    async fn list_calls(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<CallRecord>>;
}

/// What an inbound text is counted for ([`ContactStore::count_inbound_text`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InboundPurpose {
    /// The automatic "we passed your message on" reply.
    AutoReply,
    /// Passing the text on to the clinic's alert numbers.
    Forward,
}

impl InboundPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoReply => "auto_reply",
            Self::Forward => "forward",
        }
    }
}

/// Who an inbound text is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundCounter<'a> {
    /// One sender.
    Sender(&'a PhoneNumber),
    /// The clinic as a whole.
    Clinic,
}

/// The count of a window, this text included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundCount {
    pub count: u32,
    pub window_started_at: Timestamp,
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Counts one more inbound text for `purpose` against `counter` and returns the count of the
    /// current window, this text included. A window opens with the first text counted after the
    /// previous window (`window` long) has ended. Atomic: of any number of concurrent calls,
    /// each gets its own count (1, 2, 3, …), so a limit checked on the count holds.
    async fn count_inbound_text(
        &self,
        tenant: TenantId,
        purpose: InboundPurpose,
        counter: InboundCounter<'_>,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<InboundCount>;
    async fn is_opted_out(&self, tenant: TenantId, phone: &PhoneNumber) -> StoreResult<bool>;
    /// Records a STOP (`OptedOut`) or a START (`OptedIn`) from this number.
    async fn set_texting(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        texting: Texting,
        at: Timestamp,
    ) -> StoreResult<()>;
}

/// Whether a number lets the clinic text it: it sent STOP (or the like), or START since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Texting {
    OptedOut,
    OptedIn,
}

/// The dashboard's test texts, counted per clinic ([`crate::test_texts`]).
#[async_trait]
pub trait TestTextStore: Send + Sync {
    /// Counts one test text for `tenant` at `now` when [`crate::test_texts::admit_test_text`]
    /// admits it against the clinic's earlier ones; otherwise counts nothing and returns the
    /// refusal. Atomic: of any number of concurrent calls (from any number of instances), no
    /// more than `limit.max` within a window are admitted. `NotFound` for an unknown tenant.
    async fn take_test_text(
        &self,
        tenant: TenantId,
        limit: RateWindow,
        now: Timestamp,
    ) -> StoreResult<Result<(), TestTextsUsedUp>>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues messages; a dedupe key the tenant already has is skipped. Returns how many were new.
    async fn enqueue(&self, messages: &[NewMessage]) -> StoreResult<u32>;
    async fn message_by_key(
        &self,
        tenant: TenantId,
        key: &DedupeKey,
    ) -> StoreResult<Option<OutboundMessage>>;
    async fn message(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>>;
    /// Claims up to `limit` messages that are due at `now` (pending, ambiguous, or sending with a
    /// lapsed lease) for `lease_until`, skipping rows other workers hold and tenants whose SMS is
    /// paused. Several workers may call this at once: no row goes to two of them.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedMessage>>;
    /// Records what happened to a claimed message. `false` (and no change) when the claim is no
    /// longer this worker's. Once an OTP text is accepted, failed or suppressed its body (which
    /// holds the code) is replaced by [`SENT_CODE_BODY`]: the code is otherwise kept only hashed,
    /// and nothing needs the text any more.
    async fn record_delivery(
        &self,
        claim: &ClaimedMessage,
        update: &DeliveryUpdate,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Gives back every claim of `worker` whose send has not started (on shutdown).
    async fn release_claims(&self, worker: &str, now: Timestamp) -> StoreResult<u32>;
    /// A Twilio status callback: moves the message with `sid` forward only.
    async fn apply_status(
        &self,
        tenant: TenantId,
        sid: &str,
        status: MessageStatus,
        error_code: Option<u32>,
        at: Timestamp,
    ) -> StoreResult<StatusApplied>;
    /// The newest message of `kind` to `to` whose dedupe key starts with `key_prefix`, created
    /// at or after `since` (a reply to a reminder is about the last reminder that number got).
    async fn last_message_to(
        &self,
        tenant: TenantId,
        to: &PhoneNumber,
        kind: crate::outbox::MessageKind,
        key_prefix: &str,
        since: Timestamp,
    ) -> StoreResult<Option<OutboundMessage>>;
    /// Newest first.
    async fn list_messages(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<OutboundMessage>>;
}

/// What `begin` found for a tool call id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolCallClaim {
    /// First time (or the first run was abandoned): run it, then `finish`.
    New,
    /// Already answered: return this result unchanged.
    Done(String),
    /// Another request is running it right now.
    InProgress,
}

/// What an OTP text's body becomes once it was sent (or will never be).
pub const SENT_CODE_BODY: &str = "[one-time code text: removed once sent]";

/// A claim still without a result this long after it began was left by a request that died with
/// its process (killed, crashed, host lost) and will never be finished nor abandoned: the next
/// `begin` takes it over. A live request answers well within it (Vapi gives up on a tool call
/// after 20 s by default), so a takeover does not race a run still under way.
pub const TOOL_CALL_ABANDONED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

/// One tool call in the replay log: the call it came in, Vapi's toolCallId and the tool it
/// names. Another call reusing a toolCallId, or the same id naming another tool, is another
/// tool call and never gets this one's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToolCallKey {
    /// `None` when Vapi named no call.
    pub call: Option<CallId>,
    pub id: ToolCallId,
    pub tool: String,
}

/// Tool calls already answered, so that a replayed toolCallId has no second effect.
#[async_trait]
pub trait ToolCallLog: Send + Sync {
    /// Claims `id` at `now`: `New` the first time, and again for a claim older than
    /// [`TOOL_CALL_ABANDONED_AFTER`] that has no result (its claim moves to `now`).
    async fn begin_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        now: Timestamp,
    ) -> StoreResult<ToolCallClaim>;
    async fn finish_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        result: &str,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Forgets a claim whose run failed for a reason of our own, so that a retry can run it.
    async fn abandon_tool_call(&self, tenant: TenantId, key: &ToolCallKey) -> StoreResult<()>;
}

/// Whether patients came to their appointments ([`crate::attendance`]).
#[async_trait]
pub trait AttendanceStore: Send + Sync {
    /// In one unit of work, under the booking's lock: checks [`crate::attendance::may_mark`] at
    /// `now` and sets the mark (`None` clears it). `NotFound` when the tenant has no such booking;
    /// a refusal changes nothing.
    async fn mark_attendance(
        &self,
        tenant: TenantId,
        booking: BookingId,
        mark: Option<Attendance>,
        now: Timestamp,
    ) -> StoreResult<Result<(), MarkRefusal>>;
    /// The marks of these bookings of the tenant (unmarked ones and other tenants' ids are left
    /// out).
    async fn attendance_of(
        &self,
        tenant: TenantId,
        bookings: &[BookingId],
    ) -> StoreResult<Vec<(BookingId, Attendance)>>;
    /// How many of the tenant's appointments booked for each of these numbers are marked no-show
    /// (numbers without any are left out).
    async fn no_show_counts(
        &self,
        tenant: TenantId,
        phones: &[PhoneNumber],
    ) -> StoreResult<Vec<(PhoneNumber, u32)>>;
}

/// What operators alert on, across every tenant (`/metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsFigures {
    /// Texts due and not yet with Twilio (pending, sending or ambiguous, including those waiting
    /// for a retry).
    pub outbox_due: u64,
    /// How long the oldest of those has waited since it first became due, in seconds (0 when
    /// none).
    pub oldest_due_seconds: u64,
    /// Texts that ended failed or undelivered, all time.
    pub failed_total: u64,
    /// Appointments confirmed in the last 12 hours.
    pub confirmed_last_12h: u64,
}

/// Figures for the operator's alerts. Read-only, and not part of [`Store`]: only a deployment's
/// real store needs it.
#[async_trait]
pub trait OpsStats: Send + Sync {
    async fn ops_figures(&self, now: Timestamp) -> StoreResult<OpsFigures>;
}

/// Every store port at once.
pub trait Store:
    TenantStore
    + BookingStore
    + OtpStore
    + CallStore
    + ContactStore
    + OutboxStore
    + ToolCallLog
    + TestTextStore
    + AttendanceStore
    + ReportStore
    + crate::patient_link::PatientLinkStore
    + WaitlistStore
{
}
impl<T> Store for T where
    T: TenantStore
        + BookingStore
        + OtpStore
        + CallStore
        + ContactStore
        + OutboxStore
        + ToolCallLog
        + TestTextStore
        + AttendanceStore
        + ReportStore
        + crate::patient_link::PatientLinkStore
        + WaitlistStore
{
}
