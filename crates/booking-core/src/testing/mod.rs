//! The behavioural suite every store must pass, and small helpers for tests (a manual clock, a
//! seeded random source, tenant fixtures).
//!
//! Each check is a public async function taking a fresh store, so a failure names the check; every
//! assertion message starts with the check's name. [`run_all`] runs them all, each on a store from
//! the factory. The suite uses its own random ids and phone numbers, so several runs may share a
//! database.
//!
//! What the suite pins down beyond the doc comments of [`crate::ports`]:
//! - `OutboundMessage::attempts` counts the outcomes that involved the gateway (accepted, retry,
//!   ambiguous, failed); a deferral or a suppression does not count;
//! - `first_attempt_at` is set by the first claim and kept;
//! - a `Deferred` outcome on a claim with `needs_reconcile` leaves the message needing
//!   reconciliation (the next claim says so again);
//! - `Retry`, `Ambiguous` and `Deferred` make the message due again at the time they carry.

use crate::booking::CallHolds;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::Poll;

use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, HOLD_TTL, Interval, NewHold};
use crate::ids::{AssistantId, BookingId, CallId, ChallengeId, MessageId, TenantId, VoiceLineId};
use crate::otp::{Challenge, CodeHash, NewChallenge, OtpPolicy, RateWindow};
use crate::outbox::{DedupeKey, MessageKind, NewMessage};
use crate::phone::PhoneNumber;
use crate::ports::{Clock, Random, Store, StoreError, StoreResult};
use crate::tenant::{
    BookingRules, CalledNumber, ClinicName, ClinicZone, DayHours, HotLeadThreshold, OpenRange,
    Secret, Service, ServiceName, SmsAccount, SmsSender, SystemPrompt, Tenant, TenantConfig,
    WeeklyHours,
};

// ---------------------------------------------------------------------------------------------
// Helpers for tests

/// A clock that only moves when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A deterministic random source (ChaCha from a seed). For tests only: not a CSPRNG from the OS.
#[derive(Debug)]
pub struct SeededRandom(Mutex<rand::rngs::StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, bytes: &mut [u8]) {
        use rand::RngCore;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fill_bytes(bytes);
    }
}

/// Polls two futures together until both are done, on whatever executor runs the caller: enough
/// to have two store calls in flight at once without a runtime dependency.
pub async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut ra = None;
    let mut rb = None;
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra.expect("ready"), rb.expect("ready"))
}

/// A moment the suite's bookings are made at: Monday 2030-03-04 14:00 UTC (09:00 in New York).
pub fn base_time() -> Timestamp {
    "2030-03-04T14:00:00Z".parse().expect("a valid timestamp")
}

fn random_u64() -> u64 {
    let b = *uuid::Uuid::new_v4().as_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// A fresh North American number (+1 555 01xx-style ranges are not needed: nothing is sent).
pub fn random_phone() -> PhoneNumber {
    PhoneNumber::parse(&format!("+1555{:07}", random_u64() % 10_000_000)).expect("a valid number")
}

pub fn random_tenant_id() -> TenantId {
    TenantId::from_uuid(uuid::Uuid::new_v4())
}

pub fn random_call_id() -> CallId {
    CallId::parse(&format!("call-{}", uuid::Uuid::new_v4())).expect("a valid call id")
}

fn booking_id() -> BookingId {
    BookingId::from_uuid(uuid::Uuid::new_v4())
}

fn message_id() -> MessageId {
    MessageId::from_uuid(uuid::Uuid::new_v4())
}

fn challenge_id() -> ChallengeId {
    ChallengeId::from_uuid(uuid::Uuid::new_v4())
}

/// A clinic in New York, open Monday to Friday 9:00–17:00, with three services (30, 60 and 90
/// minutes), a fresh called number and Vapi id, and one alert number.
pub fn tenant_config(name: &str) -> TenantConfig {
    let mut week = WeeklyHours::default();
    let hours = DayHours::new(vec![
        OpenRange::parse("09:00", "17:00").expect("valid hours"),
    ])
    .expect("valid day");
    for d in [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ] {
        week.set(d, hours.clone());
    }
    let svc = |n: &str, mins, cents| {
        Service::new(ServiceName::parse(n).expect("valid name"), mins, cents)
            .expect("valid service")
    };
    TenantConfig {
        name: ClinicName::parse(name).expect("valid clinic name"),
        zone: ClinicZone::parse("America/New_York").expect("known zone"),
        called_numbers: vec![CalledNumber {
            number: random_phone(),
            vapi_phone_number_id: Some(
                VoiceLineId::parse(&uuid::Uuid::new_v4().to_string()).expect("valid id"),
            ),
        }],
        vapi_assistant_ids: vec![
            AssistantId::parse(&uuid::Uuid::new_v4().to_string()).expect("valid id"),
        ],
        alert_numbers: vec![random_phone()],
        hot_lead_threshold: HotLeadThreshold::default(),
        services: vec![
            svc("Checkup", 30, Some(10_000)),
            svc("Teeth Whitening", 60, Some(40_000)),
            svc("Implant Consultation", 90, Some(150_000)),
        ],
        weekly_hours: week,
        date_overrides: Vec::new(),
        rules: BookingRules::default(),
        system_prompt: SystemPrompt::parse("You are the receptionist.").expect("valid prompt"),
        otp_allowed_countries: Vec::new(),
        providers: Vec::new(),
    }
}

/// Credentials sending from a fresh number.
pub fn sms_account() -> SmsAccount {
    SmsAccount {
        account_sid: format!("AC{}", uuid::Uuid::new_v4().simple()),
        auth_token: Secret::new("token"),
        api_key: None,
        sender: SmsSender::From(random_phone()),
        keyword_replies: Default::default(),
    }
}

/// Creates a tenant with fresh numbers and an SMS account.
pub async fn create_tenant<S: Store + ?Sized>(store: &S, name: &str) -> Tenant {
    store
        .create_tenant(
            random_tenant_id(),
            &tenant_config(name),
            Some(&sms_account()),
        )
        .await
        .expect("create_tenant")
}

/// An interval `minutes` long starting `from_base_min` minutes after [`base_time`] plus one day
/// (so that it is in the future of `base_time`).
pub fn span(from_base_min: i64, minutes: i64) -> Interval {
    let start =
        base_time() + SignedDuration::from_hours(24) + SignedDuration::from_mins(from_base_min);
    Interval::new(start, start + SignedDuration::from_mins(minutes)).expect("non-empty")
}

/// A hold of `blocked` (the slot is the same interval) made at `now`.
pub fn hold(
    tenant: &Tenant,
    blocked: Interval,
    phone: &PhoneNumber,
    call: Option<&CallId>,
    now: Timestamp,
) -> NewHold {
    NewHold {
        id: booking_id(),
        tenant: tenant.id,
        calendar: tenant.calendar(),
        limits: Vec::new(),
        service: tenant.config.services[1].name.clone(),
        slot: blocked,
        blocked,
        caller_name: "Ada Lovelace".into(),
        caller_phone: phone.clone(),
        call_id: call.cloned(),
        created_at: now,
        hold_expires_at: now + HOLD_TTL,
    }
}

pub fn message(
    tenant: TenantId,
    kind: MessageKind,
    key: DedupeKey,
    to: &PhoneNumber,
    due: Timestamp,
) -> NewMessage {
    NewMessage {
        id: message_id(),
        tenant,
        kind,
        dedupe_key: key,
        to: to.clone(),
        body: format!("{} text", kind.as_str()),
        due_at: due,
        booking: None,
        call_id: None,
        created_at: due,
    }
}

fn booking_texts(
    tenant: TenantId,
    booking: BookingId,
    to: &PhoneNumber,
    now: Timestamp,
) -> Vec<NewMessage> {
    let mut c = message(
        tenant,
        MessageKind::Confirmation,
        DedupeKey::confirmation(booking),
        to,
        now,
    );
    c.booking = Some(booking);
    let mut r = message(
        tenant,
        MessageKind::Reminder,
        DedupeKey::reminder(booking),
        to,
        now + SignedDuration::from_hours(2),
    );
    r.booking = Some(booking);
    vec![c, r]
}

fn challenge(
    tenant: TenantId,
    booking: BookingId,
    phone: &PhoneNumber,
    call: Option<&CallId>,
    now: Timestamp,
) -> (NewChallenge, NewMessage) {
    let id = challenge_id();
    let c = NewChallenge {
        id,
        tenant,
        booking,
        call_id: call.cloned(),
        phone: phone.clone(),
        code_hash: CodeHash([7; 32]),
        created_at: now,
        expires_at: now + SignedDuration::from_mins(10),
    };
    let mut m = message(tenant, MessageKind::Otp, DedupeKey::otp(id), phone, now);
    m.booking = Some(booking);
    (c, m)
}

/// A hold confirmed with its two texts queued; returns its id.
/// Limits no check in the suite reaches, for the checks that are not about them.
fn no_limits() -> OtpPolicy {
    let lots = RateWindow {
        max: 10_000,
        window: SignedDuration::from_hours(1),
    };
    OtpPolicy {
        per_number: lots,
        per_tenant: lots,
        per_tenant_pressure: 10_000,
        per_call_max_sends: 10_000,
        per_call_max_numbers: 10_000,
        ..OtpPolicy::default()
    }
}

/// Stores a challenge with no send limit in the way.
async fn store_challenge<S: Store + ?Sized>(
    store: &S,
    c: &NewChallenge,
    m: &NewMessage,
) -> StoreResult<Challenge> {
    store
        .create_challenge(c, m, &no_limits())
        .await?
        .map_err(|limit| StoreError::Internal(format!("refused by {limit:?}")))
}

/// Runs the futures concurrently and collects their outputs in order.
pub async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("finished")).collect()
}

/// A hold confirmed (its code created and consumed on the way), its two texts queued; its id.
pub async fn confirmed<S: Store + ?Sized>(
    store: &S,
    tenant: &Tenant,
    blocked: Interval,
    phone: &PhoneNumber,
    now: Timestamp,
) -> BookingId {
    let h = store
        .insert_hold(
            &hold(tenant, blocked, phone, None, now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("insert_hold");
    let (c, m) = challenge(tenant.id, h.id, phone, None, now);
    store_challenge(store, &c, &m)
        .await
        .expect("create_challenge");
    store
        .confirm_hold(
            tenant.id,
            h.id,
            c.id,
            now,
            None,
            &booking_texts(tenant.id, h.id, phone, now),
        )
        .await
        .expect("confirm_hold");
    h.id
}

async fn count_key<S: Store + ?Sized>(store: &S, tenant: TenantId, key: &DedupeKey) -> usize {
    store
        .list_messages(tenant, 10_000)
        .await
        .expect("list_messages")
        .iter()
        .filter(|m| &m.dedupe_key == key)
        .count()
}

async fn status_of<S: Store + ?Sized>(store: &S, tenant: TenantId, id: BookingId) -> BookingStatus {
    store
        .booking(tenant, id)
        .await
        .expect("booking")
        .expect("booking exists")
        .status
}

macro_rules! check {
    ($name:expr, $cond:expr, $($arg:tt)+) => {
        assert!($cond, "[{}] {}", $name, format!($($arg)+))
    };
}

// ---------------------------------------------------------------------------------------------
// The suite

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    tenants_round_trip(&make().await).await;
    holds_overlap_and_adjacent(&make().await).await;
    expired_holds_do_not_block(&make().await).await;
    call_holds_are_released(&make().await).await;
    taken_slot_changes_nothing(&make().await).await;
    concurrent_holds_one_wins(&make().await).await;
    confirm_queues_once(&make().await).await;
    confirm_stores_its_link_only_when_it_confirms(&make().await).await;
    confirm_expired_refused(&make().await).await;
    confirm_needs_live_challenge(&make().await).await;
    concurrent_confirms_one_wins(&make().await).await;
    release_hold_only_live(&make().await).await;
    cancel_frees_slot_and_withdraws(&make().await).await;
    reschedule_is_atomic(&make().await).await;
    booking_queries(&make().await).await;
    expire_holds_housekeeping(&make().await).await;
    challenges_supersede(&make().await).await;
    failed_checks_count(&make().await).await;
    concurrent_sends_respect_limits(&make().await).await;
    opted_out_numbers_get_no_code(&make().await).await;
    codes_prove_changes_once(&make().await).await;
    send_counts_windows(&make().await).await;
    dedupe_per_tenant(&make().await).await;
    claim_lease_and_stale_token(&make().await).await;
    claim_skips_future_and_paused(&make().await).await;
    claim_takes_one_instant_in_queue_order(&make().await).await;
    concurrent_claims_disjoint(&make().await).await;
    delivery_outcomes(&make().await).await;
    release_claims_gives_back(&make().await).await;
    status_moves_forward_only(&make().await).await;
    calls_and_finish_once(&make().await).await;
    report_fills_the_call_row(&make().await).await;
    opt_out_round_trip(&make().await).await;
    tool_call_log(&make().await).await;
    tool_call_log_keys_by_call_and_tool(&make().await).await;
    sent_codes_are_not_kept(&make().await).await;
    tenant_isolation(&make().await).await;
    texting_numbers_belong_to_one_tenant(&make().await).await;
    inbound_counts_hold_under_concurrency(&make().await).await;
    early_status_applied_when_sid_recorded(&make().await).await;
    alert_and_texting_number_race(&make().await).await;
    test_texts_hold_under_concurrency(&make().await).await;
    attendance_marks(&make().await).await;
    concurrent_attendance_marks(&make().await).await;
    providers_round_trip(&make().await).await;
    providers_hold_the_same_time_side_by_side(&make().await).await;
    one_provider_race_has_one_winner(&make().await).await;
    provider_limits_hold_under_races(&make().await).await;
    weekly_report_counts_by_clinic_week(&make().await).await;
    patient_links_live_until_expiry_or_revocation(&make().await).await;
    link_actions_count_exactly_under_concurrency(&make().await).await;
    last_message_to_a_number(&make().await).await;
    waitlist_joins_and_limits(&make().await).await;
    concurrent_joins_hold_the_limits(&make().await).await;
    freed_times_are_due_once_at_a_time(&make().await).await;
    claims_fill_once(&make().await).await;
    concurrent_offers_one_text(&make().await).await;
}

mod appointments;
mod attendance;
mod bookings;
mod calendar_writes;
mod calendars;
mod calls;
mod contacts;
mod feeds;
mod isolation;
mod links;
mod otp;
mod outbox;
mod outside_busy;
mod providers;
mod reports;
mod tenants;
mod test_texts;
mod tool_calls;
mod waitlist;

pub use appointments::*;
pub use attendance::*;
pub use bookings::*;
pub use calendar_writes::*;
pub use calendars::*;
pub use calls::*;
pub use contacts::*;
pub use feeds::*;
pub use isolation::*;
pub use links::*;
pub use otp::*;
pub use outbox::*;
pub use outside_busy::*;
pub use providers::*;
pub use reports::*;
pub use tenants::*;
pub use test_texts::*;
pub use tool_calls::*;
pub use waitlist::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(base_time());
        assert_eq!(c.now(), base_time());
        c.advance(SignedDuration::from_mins(5));
        assert_eq!(c.now(), base_time() + SignedDuration::from_mins(5));
        c.set(base_time());
        assert_eq!(c.now(), base_time());
    }

    #[test]
    fn seeded_random_is_reproducible() {
        let (a, b) = (SeededRandom::new(7), SeededRandom::new(7));
        assert_eq!(a.bytes16(), b.bytes16());
        assert_ne!(a.bytes16(), SeededRandom::new(8).bytes16());
    }

    #[test]
    fn fixtures_are_valid_and_fresh() {
        assert_ne!(random_phone(), random_phone());
        let c = tenant_config("X");
        assert_eq!(c.services.len(), 3);
        assert!(span(0, 60).start > base_time());
    }
}
