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

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::Poll;

use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, HOLD_TTL, Interval, NewAppointment, NewHold};
use crate::calls::{
    CallReport, CallStart, CapturedLead, FinishOutcome, FinishedCall, LeadScore, ScoreReason,
};
use crate::ids::{
    BookingId, CallId, ChallengeId, MessageId, MessageSid, TenantId, ToolCallId, VapiAssistantId,
    VapiPhoneNumberId,
};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, CodeHash, NewChallenge, OtpPolicy, RateWindow, SendLimit,
};
use crate::outbox::{
    DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, NewMessage, StatusApplied,
};
use crate::phone::PhoneNumber;
use crate::ports::{
    Clock, InboundCounter, InboundPurpose, Random, SmsAccountChange, Store, StoreError,
    StoreResult, TOOL_CALL_ABANDONED_AFTER, ToolCallClaim, ToolCallKey,
};
use crate::tenant::{
    BookingRules, CalledNumber, ClinicName, ClinicZone, DayHours, HotLeadThreshold, KeywordReplies,
    OpenRange, Secret, Service, ServiceName, SmsAccount, SmsHealth, SmsSender, SystemPrompt,
    Tenant, TenantConfig, WeeklyHours,
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
                VapiPhoneNumberId::parse(&uuid::Uuid::new_v4().to_string()).expect("valid id"),
            ),
        }],
        vapi_assistant_ids: vec![
            VapiAssistantId::parse(&uuid::Uuid::new_v4().to_string()).expect("valid id"),
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

async fn confirmed<S: Store + ?Sized>(
    store: &S,
    tenant: &Tenant,
    blocked: Interval,
    phone: &PhoneNumber,
    now: Timestamp,
) -> BookingId {
    let h = store
        .insert_hold(&hold(tenant, blocked, phone, None, now), now, false)
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
    codes_prove_changes_once(&make().await).await;
    send_counts_windows(&make().await).await;
    dedupe_per_tenant(&make().await).await;
    claim_lease_and_stale_token(&make().await).await;
    claim_skips_future_and_paused(&make().await).await;
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
}

pub async fn tenants_round_trip<S: Store + ?Sized>(store: &S) {
    let config = tenant_config("Smile Dental");
    let account = sms_account();
    let id = random_tenant_id();
    let t = store
        .create_tenant(id, &config, Some(&account))
        .await
        .expect("create_tenant");
    check!(
        "tenants_round_trip",
        t.id == id && t.config == config,
        "created tenant differs"
    );
    check!(
        "tenants_round_trip",
        t.sms_health == SmsHealth::Ok,
        "health with an account: {:?}",
        t.sms_health
    );
    let got = store.tenant(id).await.expect("tenant");
    check!(
        "tenants_round_trip",
        got.as_ref() == Some(&t),
        "tenant() differs"
    );
    let number = &config.called_numbers[0].number;
    let by_number = store
        .tenant_by_called_number(number)
        .await
        .expect("by number");
    check!(
        "tenants_round_trip",
        by_number.map(|t| t.id) == Some(id),
        "tenant_by_called_number"
    );
    let vapi = config.called_numbers[0]
        .vapi_phone_number_id
        .clone()
        .expect("vapi id");
    let by_vapi = store
        .tenant_by_vapi_phone_number_id(&vapi)
        .await
        .expect("by vapi id");
    check!(
        "tenants_round_trip",
        by_vapi.map(|t| t.id) == Some(id),
        "tenant_by_vapi_phone_number_id"
    );
    let assistant = config.vapi_assistant_ids[0].clone();
    let by_assistant = store
        .tenant_by_vapi_assistant_id(&assistant)
        .await
        .expect("by assistant id");
    check!(
        "tenants_round_trip",
        by_assistant.map(|t| t.id) == Some(id),
        "tenant_by_vapi_assistant_id"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_vapi_assistant_id(&VapiAssistantId::parse("asst-nobody").expect("valid"))
            .await
            .expect("by assistant id")
            .is_none(),
        "an unknown assistant id found a tenant"
    );
    let SmsSender::From(from) = &account.sender else {
        unreachable!()
    };
    let by_sms = store
        .tenant_by_sms_number(from)
        .await
        .expect("by sms number");
    check!(
        "tenants_round_trip",
        by_sms.map(|t| t.id) == Some(id),
        "tenant_by_sms_number"
    );
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account").as_ref() == Some(&account),
        "sms_account does not round-trip"
    );
    // The countries codes may go to round-trip, and empty again means the clinic's own.
    let mut abroad = config.clone();
    abroad.otp_allowed_countries = vec![
        crate::country::Country::parse("US").expect("US"),
        crate::country::Country::parse("CA").expect("CA"),
    ];
    let updated = store
        .update_tenant(id, &abroad, SmsAccountChange::Keep)
        .await
        .expect("update_tenant");
    let read = store.tenant(id).await.expect("tenant").expect("exists");
    check!(
        "tenants_round_trip",
        updated.config == abroad && read.config == abroad,
        "otp_allowed_countries does not round-trip: {:?}",
        read.config.otp_allowed_countries
    );
    let back = store
        .update_tenant(id, &config, SmsAccountChange::Keep)
        .await
        .expect("update_tenant");
    check!(
        "tenants_round_trip",
        back.config == config,
        "otp_allowed_countries not cleared"
    );
    check!(
        "tenants_round_trip",
        store
            .tenants_by_account_sid(&account.account_sid)
            .await
            .expect("by sid")
            == vec![id],
        "tenants_by_account_sid"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_called_number(&random_phone())
            .await
            .expect("by number")
            .is_none(),
        "an unknown number found a tenant"
    );
    check!(
        "tenants_round_trip",
        store
            .list_tenants()
            .await
            .expect("list")
            .iter()
            .any(|t| t.id == id),
        "list_tenants misses the tenant"
    );

    // Another tenant cannot take the same called number.
    let mut clash = tenant_config("Other Clinic");
    clash.called_numbers = config.called_numbers.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(r, Err(StoreError::Duplicate(_))),
        "duplicate number: {r:?}"
    );
    // ... nor the same Vapi phone-number id on a number of its own ...
    let mut clash = tenant_config("Other Clinic");
    clash.called_numbers[0].vapi_phone_number_id =
        config.called_numbers[0].vapi_phone_number_id.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("phone number id")),
        "duplicate Vapi phone number id: {r:?}"
    );
    // ... nor the same Vapi assistant, on create or on update.
    let mut clash = tenant_config("Other Clinic");
    clash.vapi_assistant_ids = config.vapi_assistant_ids.clone();
    let r = store.create_tenant(random_tenant_id(), &clash, None).await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("assistant")),
        "duplicate assistant id: {r:?}"
    );
    let other = tenant_config("Other Clinic");
    let other_id = random_tenant_id();
    store
        .create_tenant(other_id, &other, None)
        .await
        .expect("create other");
    let mut clash = other.clone();
    clash.vapi_assistant_ids.push(assistant.clone());
    let r = store
        .update_tenant(other_id, &clash, SmsAccountChange::Keep)
        .await;
    check!(
        "tenants_round_trip",
        matches!(&r, Err(StoreError::Duplicate(w)) if w.contains("assistant")),
        "assistant id claimed on update: {r:?}"
    );
    check!(
        "tenants_round_trip",
        store
            .tenant_by_vapi_assistant_id(&assistant)
            .await
            .expect("by assistant id")
            .map(|t| t.id)
            == Some(id),
        "a refused claim moved the assistant id"
    );

    // Refused credentials, then new ones: the health is cleared.
    let paused = SmsHealth::NeedsAttention {
        code: 20003,
        message: "Authenticate".into(),
    };
    store
        .set_sms_health(id, &paused)
        .await
        .expect("set_sms_health");
    let kept = store
        .update_tenant(id, &config, SmsAccountChange::Keep)
        .await
        .expect("update keep");
    check!(
        "tenants_round_trip",
        kept.sms_health == paused,
        "Keep changed the health: {:?}",
        kept.sms_health
    );
    let mut renamed = config.clone();
    renamed.name = ClinicName::parse("Smile Dental & Co").expect("valid");
    let new_account = sms_account();
    let updated = store
        .update_tenant(id, &renamed, SmsAccountChange::Set(new_account.clone()))
        .await
        .expect("update set");
    check!(
        "tenants_round_trip",
        updated.config.name == renamed.name,
        "config not replaced"
    );
    check!(
        "tenants_round_trip",
        updated.sms_health == SmsHealth::Ok,
        "new credentials kept the health: {:?}",
        updated.sms_health
    );
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account") == Some(new_account),
        "new credentials not stored"
    );
    store
        .update_tenant(id, &renamed, SmsAccountChange::Clear)
        .await
        .expect("update clear");
    check!(
        "tenants_round_trip",
        store.sms_account(id).await.expect("sms_account").is_none(),
        "Clear kept the credentials"
    );
    let missing = store
        .update_tenant(
            random_tenant_id(),
            &tenant_config("Nobody"),
            SmsAccountChange::Keep,
        )
        .await;
    check!(
        "tenants_round_trip",
        missing == Err(StoreError::NotFound),
        "update of a missing tenant: {missing:?}"
    );
}

pub async fn holds_overlap_and_adjacent<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Overlap Clinic").await;
    let now = base_time();
    let p = random_phone();
    store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, false)
        .await
        .expect("first hold");
    for (start, len) in [(90, 60), (30, 60), (60, 60), (70, 10), (0, 240)] {
        let r = store
            .insert_hold(
                &hold(&t, span(start, len), &random_phone(), None, now),
                now,
                false,
            )
            .await;
        check!(
            "holds_overlap_and_adjacent",
            matches!(r, Err(StoreError::SlotTaken)),
            "an overlapping hold [{start}, +{len}) was accepted: {r:?}"
        );
    }
    // Touching intervals do not overlap ('[)').
    for (start, len) in [(120, 60), (0, 60)] {
        let r = store
            .insert_hold(
                &hold(&t, span(start, len), &random_phone(), None, now),
                now,
                false,
            )
            .await;
        check!(
            "holds_overlap_and_adjacent",
            r.is_ok(),
            "an adjacent hold [{start}, +{len}) was refused: {r:?}"
        );
    }
    // What blocks is the blocked interval (slot plus buffers), not the slot.
    let mut buffered = hold(&t, span(200, 60), &random_phone(), None, now);
    buffered.blocked = Interval::new(
        buffered.slot.start - SignedDuration::from_mins(30),
        buffered.slot.end,
    )
    .expect("valid");
    let r = store.insert_hold(&buffered, now, false).await;
    check!(
        "holds_overlap_and_adjacent",
        matches!(r, Err(StoreError::SlotTaken)),
        "a hold whose buffer overlaps was accepted: {r:?}"
    );
    // An existing booking's buffer after keeps the next start off it, though the slots do not
    // overlap.
    let mut after = hold(&t, span(400, 60), &random_phone(), None, now);
    after.blocked = Interval::new(
        after.slot.start,
        after.slot.end + SignedDuration::from_mins(30),
    )
    .expect("valid");
    store
        .insert_hold(&after, now, false)
        .await
        .expect("a hold with a buffer after");
    let r = store
        .insert_hold(
            &hold(&t, span(470, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await;
    check!(
        "holds_overlap_and_adjacent",
        matches!(r, Err(StoreError::SlotTaken)),
        "a hold inside another's buffer was accepted: {r:?}"
    );
    let b = store.busy(t.id, span(0, 600), now).await.expect("busy");
    check!(
        "holds_overlap_and_adjacent",
        b.len() == 4 && b.contains(&after.blocked),
        "busy should list the four holds' blocked time: {b:?}"
    );
    let stored = store.list_bookings(t.id, span(0, 600)).await.expect("list");
    check!(
        "holds_overlap_and_adjacent",
        stored.len() == 4 && stored.iter().all(|b| b.status == BookingStatus::Held),
        "refused holds were stored: {stored:?}"
    );
}

pub async fn expired_holds_do_not_block<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Expiry Clinic").await;
    let now = base_time();
    let first = store
        .insert_hold(
            &hold(&t, span(60, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await
        .expect("first hold");
    let just_before = now + HOLD_TTL - SignedDuration::from_secs(1);
    let r = store
        .insert_hold(
            &hold(&t, span(60, 60), &random_phone(), None, just_before),
            just_before,
            false,
        )
        .await;
    check!(
        "expired_holds_do_not_block",
        matches!(r, Err(StoreError::SlotTaken)),
        "a live hold did not block: {r:?}"
    );
    let at_expiry = now + HOLD_TTL;
    let busy = store
        .busy(t.id, span(0, 600), at_expiry)
        .await
        .expect("busy");
    check!(
        "expired_holds_do_not_block",
        busy.is_empty(),
        "an expired hold is busy: {busy:?}"
    );
    let second = store
        .insert_hold(
            &hold(&t, span(30, 60), &random_phone(), None, at_expiry),
            at_expiry,
            false,
        )
        .await;
    check!(
        "expired_holds_do_not_block",
        second.is_ok(),
        "an expired hold blocked: {second:?}"
    );
    let old = status_of(store, t.id, first.id).await;
    check!(
        "expired_holds_do_not_block",
        old == BookingStatus::Expired,
        "the overlapping expired hold is {old:?}"
    );
}

pub async fn call_holds_are_released<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Release Clinic").await;
    let now = base_time();
    let p = random_phone();
    let call = random_call_id();
    let a = store
        .insert_hold(&hold(&t, span(60, 60), &p, Some(&call), now), now, true)
        .await
        .expect("hold a");
    let other_call = store
        .insert_hold(
            &hold(
                &t,
                span(300, 60),
                &random_phone(),
                Some(&random_call_id()),
                now,
            ),
            now,
            true,
        )
        .await
        .expect("another call's hold");
    // The same call moves its hold to an overlapping time: its own hold does not block it.
    let b = store
        .insert_hold(&hold(&t, span(90, 60), &p, Some(&call), now), now, true)
        .await;
    check!(
        "call_holds_are_released",
        b.is_ok(),
        "the call's own hold blocked it: {b:?}"
    );
    check!(
        "call_holds_are_released",
        status_of(store, t.id, a.id).await == BookingStatus::Released,
        "the call's earlier hold was not released"
    );
    check!(
        "call_holds_are_released",
        status_of(store, t.id, other_call.id).await == BookingStatus::Held,
        "another call's hold was released"
    );
    // Without the flag, holds accumulate.
    let c = store
        .insert_hold(&hold(&t, span(400, 30), &p, Some(&call), now), now, false)
        .await
        .expect("hold c");
    check!(
        "call_holds_are_released",
        status_of(store, t.id, b.expect("b").id).await == BookingStatus::Held
            && c.status == BookingStatus::Held,
        "holds released without being asked"
    );
}

pub async fn taken_slot_changes_nothing<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Atomic Hold Clinic").await;
    let now = base_time();
    let call = random_call_id();
    let mine = store
        .insert_hold(
            &hold(&t, span(0, 60), &random_phone(), Some(&call), now),
            now,
            true,
        )
        .await
        .expect("own hold");
    store
        .insert_hold(
            &hold(&t, span(120, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await
        .expect("someone else's hold");
    let r = store
        .insert_hold(
            &hold(&t, span(150, 60), &random_phone(), Some(&call), now),
            now,
            true,
        )
        .await;
    check!(
        "taken_slot_changes_nothing",
        matches!(r, Err(StoreError::SlotTaken)),
        "overlap accepted: {r:?}"
    );
    check!(
        "taken_slot_changes_nothing",
        status_of(store, t.id, mine.id).await == BookingStatus::Held,
        "a refused hold released the call's other hold"
    );
}

pub async fn concurrent_holds_one_wins<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Race Clinic").await;
    let now = base_time();
    let a = hold(&t, span(60, 60), &random_phone(), None, now);
    let b = hold(&t, span(90, 60), &random_phone(), None, now);
    let (ra, rb) = join2(
        store.insert_hold(&a, now, false),
        store.insert_hold(&b, now, false),
    )
    .await;
    let won = [ra.is_ok(), rb.is_ok()].iter().filter(|x| **x).count();
    let taken = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::SlotTaken)))
        .count();
    check!(
        "concurrent_holds_one_wins",
        won == 1 && taken == 1,
        "two racing overlapping holds: {ra:?} / {rb:?}"
    );
}

pub async fn confirm_queues_once<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Confirm Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, false)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let texts = booking_texts(t.id, h.id, &p, now);
    let later = now + SignedDuration::from_mins(2);
    let b = store
        .confirm_hold(t.id, h.id, c.id, later, &texts)
        .await
        .expect("confirm");
    check!(
        "confirm_queues_once",
        b.status == BookingStatus::Confirmed && b.confirmed_at == Some(later),
        "confirmed booking: {b:?}"
    );
    check!(
        "confirm_queues_once",
        store
            .active_challenge(t.id, h.id)
            .await
            .expect("active")
            .is_none(),
        "the challenge was not consumed"
    );
    // Again, with the same and with fresh message ids: refused, nothing new queued.
    let again = store.confirm_hold(t.id, h.id, c.id, later, &texts).await;
    check!(
        "confirm_queues_once",
        matches!(again, Err(StoreError::WrongState { .. })),
        "second confirm: {again:?}"
    );
    let again = store
        .confirm_hold(
            t.id,
            h.id,
            c.id,
            later,
            &booking_texts(t.id, h.id, &p, later),
        )
        .await;
    check!(
        "confirm_queues_once",
        again.is_err(),
        "third confirm: {again:?}"
    );
    for key in [DedupeKey::confirmation(h.id), DedupeKey::reminder(h.id)] {
        let n = count_key(store, t.id, &key).await;
        check!("confirm_queues_once", n == 1, "{key:?} queued {n} times");
    }
    let conf = store
        .message_by_key(t.id, &DedupeKey::confirmation(h.id))
        .await
        .expect("by key")
        .expect("confirmation queued");
    check!(
        "confirm_queues_once",
        conf.status == MessageStatus::Pending
            && conf.to == p
            && conf.booking == Some(h.id)
            && conf.attempts == 0,
        "queued confirmation: {conf:?}"
    );
    check!(
        "confirm_queues_once",
        !store.is_opted_out(t.id, &p).await.expect("opted out"),
        "a confirmed caller is opted out"
    );
}

pub async fn confirm_expired_refused<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Late Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, false)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let at = now + HOLD_TTL;
    let r = store
        .confirm_hold(t.id, h.id, c.id, at, &booking_texts(t.id, h.id, &p, at))
        .await;
    check!(
        "confirm_expired_refused",
        matches!(r, Err(StoreError::WrongState { .. })),
        "an expired hold confirmed: {r:?}"
    );
    check!(
        "confirm_expired_refused",
        count_key(store, t.id, &DedupeKey::confirmation(h.id)).await == 0,
        "a refused confirm queued its confirmation"
    );
    check!(
        "confirm_expired_refused",
        store
            .active_challenge(t.id, h.id)
            .await
            .expect("active")
            .is_some(),
        "a refused confirm consumed the challenge"
    );
    let s = status_of(store, t.id, h.id).await;
    check!(
        "confirm_expired_refused",
        s != BookingStatus::Confirmed,
        "status after refusal: {s:?}"
    );
}

pub async fn confirm_needs_live_challenge<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Challenge Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h1 = store
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, false)
        .await
        .expect("hold 1");
    let h2 = store
        .insert_hold(&hold(&t, span(120, 60), &p, None, now), now, false)
        .await
        .expect("hold 2");
    let (c2, m2) = challenge(t.id, h2.id, &p, None, now);
    store_challenge(store, &c2, &m2).await.expect("challenge 2");
    let r = store
        .confirm_hold(
            t.id,
            h1.id,
            c2.id,
            now,
            &booking_texts(t.id, h1.id, &p, now),
        )
        .await;
    check!(
        "confirm_needs_live_challenge",
        r.is_err(),
        "confirmed with another hold's challenge: {r:?}"
    );
    let (old, m_old) = challenge(t.id, h1.id, &p, None, now);
    store_challenge(store, &old, &m_old)
        .await
        .expect("old challenge");
    let (new, m_new) = challenge(t.id, h1.id, &p, None, now + SignedDuration::from_secs(30));
    store_challenge(store, &new, &m_new)
        .await
        .expect("new challenge");
    let r = store
        .confirm_hold(
            t.id,
            h1.id,
            old.id,
            now,
            &booking_texts(t.id, h1.id, &p, now),
        )
        .await;
    check!(
        "confirm_needs_live_challenge",
        r.is_err(),
        "confirmed with a superseded challenge: {r:?}"
    );
    let r = store
        .confirm_hold(
            t.id,
            h1.id,
            new.id,
            now,
            &booking_texts(t.id, h1.id, &p, now),
        )
        .await;
    check!(
        "confirm_needs_live_challenge",
        r.is_ok(),
        "the newest challenge did not confirm: {r:?}"
    );
    check!(
        "confirm_needs_live_challenge",
        count_key(store, t.id, &DedupeKey::confirmation(h1.id)).await == 1,
        "confirmation not queued exactly once"
    );
}

pub async fn concurrent_confirms_one_wins<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Double Verify Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, false)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let a = booking_texts(t.id, h.id, &p, now);
    let b = booking_texts(t.id, h.id, &p, now);
    let (ra, rb) = join2(
        store.confirm_hold(t.id, h.id, c.id, now, &a),
        store.confirm_hold(t.id, h.id, c.id, now, &b),
    )
    .await;
    check!(
        "concurrent_confirms_one_wins",
        ra.is_ok() != rb.is_ok(),
        "two racing confirms: {ra:?} / {rb:?}"
    );
    for key in [DedupeKey::confirmation(h.id), DedupeKey::reminder(h.id)] {
        let n = count_key(store, t.id, &key).await;
        check!(
            "concurrent_confirms_one_wins",
            n == 1,
            "{key:?} queued {n} times"
        );
    }
}

pub async fn release_hold_only_live<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Release Hold Clinic").await;
    let now = base_time();
    let h = store
        .insert_hold(
            &hold(&t, span(0, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await
        .expect("hold");
    let r = store.release_hold(t.id, h.id, now).await.expect("release");
    check!(
        "release_hold_only_live",
        r.status == BookingStatus::Released,
        "released: {r:?}"
    );
    let again = store.release_hold(t.id, h.id, now).await;
    check!(
        "release_hold_only_live",
        matches!(again, Err(StoreError::WrongState { .. })),
        "released twice: {again:?}"
    );
    let free = store
        .insert_hold(
            &hold(&t, span(0, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await;
    check!(
        "release_hold_only_live",
        free.is_ok(),
        "a released hold blocked: {free:?}"
    );
    let missing = store.release_hold(t.id, booking_id(), now).await;
    check!(
        "release_hold_only_live",
        missing == Err(StoreError::NotFound),
        "release of a missing hold: {missing:?}"
    );
}

pub async fn cancel_frees_slot_and_withdraws<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Cancel Clinic").await;
    let now = base_time();
    let p = random_phone();
    let id = confirmed(store, &t, span(60, 60), &p, now).await;
    // The confirmation goes out before the cancellation; the reminder is still pending.
    let claims = store
        .claim_due(now, 100, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    for c in claims
        .iter()
        .filter(|c| c.message.kind == MessageKind::Confirmation)
    {
        let sid = MessageSid::parse("SMconfirm0001").expect("sid");
        store
            .record_delivery(
                c,
                &DeliveryUpdate::Accepted {
                    sid,
                    status: MessageStatus::Queued,
                },
                now,
            )
            .await
            .expect("record");
    }
    let cancel_text = message(
        t.id,
        MessageKind::Cancellation,
        DedupeKey::cancellation(id),
        &p,
        now,
    );
    let withdraw = [DedupeKey::reminder(id), DedupeKey::confirmation(id)];
    let b = store
        .cancel_booking(
            t.id,
            id,
            ChangeProof::Owner,
            now,
            &withdraw,
            std::slice::from_ref(&cancel_text),
        )
        .await
        .expect("cancel");
    check!(
        "cancel_frees_slot_and_withdraws",
        b.status == BookingStatus::Cancelled && b.cancelled_at == Some(now),
        "cancelled: {b:?}"
    );
    let reminder = store
        .message_by_key(t.id, &DedupeKey::reminder(id))
        .await
        .expect("by key")
        .expect("reminder");
    check!(
        "cancel_frees_slot_and_withdraws",
        reminder.status == MessageStatus::Withdrawn,
        "the pending reminder is {:?}",
        reminder.status
    );
    let conf = store
        .message_by_key(t.id, &DedupeKey::confirmation(id))
        .await
        .expect("by key")
        .expect("confirmation");
    check!(
        "cancel_frees_slot_and_withdraws",
        conf.status == MessageStatus::Queued,
        "a message already at Twilio was withdrawn: {:?}",
        conf.status
    );
    check!(
        "cancel_frees_slot_and_withdraws",
        count_key(store, t.id, &DedupeKey::cancellation(id)).await == 1,
        "the cancellation text was not queued"
    );
    let free = store
        .insert_hold(
            &hold(&t, span(60, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await;
    check!(
        "cancel_frees_slot_and_withdraws",
        free.is_ok(),
        "a cancelled booking blocked: {free:?}"
    );
    let again = store
        .cancel_booking(t.id, id, ChangeProof::Owner, now, &withdraw, &[cancel_text])
        .await;
    check!(
        "cancel_frees_slot_and_withdraws",
        matches!(again, Err(StoreError::WrongState { .. })),
        "cancelled twice: {again:?}"
    );
    let h = store
        .insert_hold(
            &hold(&t, span(400, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await
        .expect("hold");
    let r = store
        .cancel_booking(t.id, h.id, ChangeProof::Owner, now, &[], &[])
        .await;
    check!(
        "cancel_frees_slot_and_withdraws",
        matches!(r, Err(StoreError::WrongState { .. })),
        "a hold was cancelled: {r:?}"
    );
}

fn appointment(
    t: &Tenant,
    old: BookingId,
    blocked: Interval,
    phone: &PhoneNumber,
    now: Timestamp,
) -> NewAppointment {
    NewAppointment {
        id: booking_id(),
        tenant: t.id,
        calendar: t.calendar(),
        service: t.config.services[1].name.clone(),
        slot: blocked,
        blocked,
        caller_name: "Ada Lovelace".into(),
        caller_phone: phone.clone(),
        call_id: None,
        created_at: now,
        rescheduled_from: old,
    }
}

pub async fn reschedule_is_atomic<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Reschedule Clinic").await;
    let now = base_time();
    let p = random_phone();
    let a = confirmed(store, &t, span(60, 60), &p, now).await;
    let _b = confirmed(store, &t, span(240, 60), &random_phone(), now).await;
    let before = store.list_messages(t.id, 10_000).await.expect("list").len();
    let withdraw = [DedupeKey::reminder(a)];

    let onto_b = appointment(&t, a, span(270, 60), &p, now);
    let texts = booking_texts(t.id, onto_b.id, &p, now);
    let r = store
        .reschedule_booking(t.id, a, ChangeProof::Owner, &onto_b, now, &withdraw, &texts)
        .await;
    check!(
        "reschedule_is_atomic",
        matches!(r, Err(StoreError::SlotTaken)),
        "moved onto another booking: {r:?}"
    );
    check!(
        "reschedule_is_atomic",
        status_of(store, t.id, a).await == BookingStatus::Confirmed,
        "a refused reschedule cancelled the old booking"
    );
    check!(
        "reschedule_is_atomic",
        store
            .booking(t.id, onto_b.id)
            .await
            .expect("booking")
            .is_none(),
        "a refused reschedule stored the new booking"
    );
    let after = store.list_messages(t.id, 10_000).await.expect("list");
    check!(
        "reschedule_is_atomic",
        after.len() == before,
        "a refused reschedule queued texts"
    );
    let reminder = store
        .message_by_key(t.id, &DedupeKey::reminder(a))
        .await
        .expect("by key")
        .expect("reminder");
    check!(
        "reschedule_is_atomic",
        reminder.status == MessageStatus::Pending,
        "a refused reschedule withdrew the reminder"
    );

    // Half an hour later: overlaps only the booking it replaces.
    let moved = appointment(&t, a, span(90, 60), &p, now);
    let texts = booking_texts(t.id, moved.id, &p, now);
    let n = store
        .reschedule_booking(t.id, a, ChangeProof::Owner, &moved, now, &withdraw, &texts)
        .await
        .expect("reschedule");
    check!(
        "reschedule_is_atomic",
        n.id == moved.id && n.status == BookingStatus::Confirmed && n.rescheduled_from == Some(a),
        "the new booking: {n:?}"
    );
    check!(
        "reschedule_is_atomic",
        status_of(store, t.id, a).await == BookingStatus::Cancelled,
        "the old booking was not cancelled"
    );
    let old_reminder = store
        .message_by_key(t.id, &DedupeKey::reminder(a))
        .await
        .expect("by key")
        .expect("reminder");
    check!(
        "reschedule_is_atomic",
        old_reminder.status == MessageStatus::Withdrawn,
        "old reminder is {:?}",
        old_reminder.status
    );
    for key in [
        DedupeKey::confirmation(moved.id),
        DedupeKey::reminder(moved.id),
    ] {
        check!(
            "reschedule_is_atomic",
            count_key(store, t.id, &key).await == 1,
            "{key:?} not queued once"
        );
    }
    let upcoming = store
        .upcoming_for_phone(t.id, &p, now)
        .await
        .expect("upcoming");
    check!(
        "reschedule_is_atomic",
        upcoming.len() == 1 && upcoming[0].id == moved.id,
        "upcoming after reschedule: {upcoming:?}"
    );
    let again = store
        .reschedule_booking(
            t.id,
            a,
            ChangeProof::Owner,
            &appointment(&t, a, span(400, 60), &p, now),
            now,
            &[],
            &[],
        )
        .await;
    check!(
        "reschedule_is_atomic",
        matches!(again, Err(StoreError::WrongState { .. })),
        "a cancelled booking was rescheduled: {again:?}"
    );
}

pub async fn booking_queries<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Query Clinic").await;
    let now = base_time();
    let p = random_phone();
    let call = random_call_id();
    let late = confirmed(store, &t, span(300, 60), &p, now).await;
    let early = confirmed(store, &t, span(60, 60), &p, now).await;
    let _other = confirmed(store, &t, span(150, 60), &random_phone(), now).await;
    let held = store
        .insert_hold(&hold(&t, span(400, 60), &p, Some(&call), now), now, true)
        .await
        .expect("hold");
    let up = store
        .upcoming_for_phone(t.id, &p, now)
        .await
        .expect("upcoming");
    check!(
        "booking_queries",
        up.iter().map(|b| b.id).collect::<Vec<_>>() == vec![early, late],
        "upcoming should be the caller's confirmed bookings, soonest first: {up:?}"
    );
    let started = span(60, 60).start;
    let up = store
        .upcoming_for_phone(t.id, &p, started)
        .await
        .expect("upcoming");
    check!(
        "booking_queries",
        up.iter().map(|b| b.id).collect::<Vec<_>>() == vec![late],
        "an appointment that started is still upcoming: {up:?}"
    );
    let in_call = store
        .bookings_for_call(t.id, &call)
        .await
        .expect("for call");
    check!(
        "booking_queries",
        in_call.len() == 1 && in_call[0].id == held.id,
        "bookings_for_call: {in_call:?}"
    );
    let listed = store.list_bookings(t.id, span(0, 200)).await.expect("list");
    check!(
        "booking_queries",
        listed.len() == 2,
        "list_bookings by start: {listed:?}"
    );
    let busy = store.busy(t.id, span(0, 1000), now).await.expect("busy");
    check!("booking_queries", busy.len() == 4, "busy: {busy:?}");
    let busy = store.busy(t.id, span(125, 20), now).await.expect("busy");
    check!(
        "booking_queries",
        busy.is_empty(),
        "busy outside every booking: {busy:?}"
    );
}

pub async fn expire_holds_housekeeping<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Housekeeping Clinic").await;
    let now = base_time();
    let a = store
        .insert_hold(
            &hold(&t, span(0, 60), &random_phone(), None, now),
            now,
            false,
        )
        .await
        .expect("hold a");
    let later = now + SignedDuration::from_mins(5);
    let b = store
        .insert_hold(
            &hold(&t, span(120, 60), &random_phone(), None, later),
            later,
            false,
        )
        .await
        .expect("hold b");
    let n = store.expire_holds(now + HOLD_TTL).await.expect("expire");
    check!("expire_holds_housekeeping", n >= 1, "expired {n}");
    check!(
        "expire_holds_housekeeping",
        status_of(store, t.id, a.id).await == BookingStatus::Expired
            && status_of(store, t.id, b.id).await == BookingStatus::Held,
        "wrong holds expired"
    );
    let n = store.expire_holds(now + HOLD_TTL).await.expect("expire");
    check!("expire_holds_housekeeping", n == 0, "expired {n} again");
}

pub async fn challenges_supersede<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Supersede Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, false)
        .await
        .expect("hold");
    let (c1, m1) = challenge(t.id, h.id, &p, None, now);
    let first = store_challenge(store, &c1, &m1).await.expect("first");
    check!(
        "challenges_supersede",
        first.failed_checks == 0 && first.consumed_at.is_none() && first.superseded_at.is_none(),
        "a new challenge: {first:?}"
    );
    check!(
        "challenges_supersede",
        count_key(store, t.id, &DedupeKey::otp(c1.id)).await == 1,
        "the code's text was not queued"
    );
    let t2 = now + SignedDuration::from_mins(1);
    let (c2, m2) = challenge(t.id, h.id, &p, None, t2);
    store_challenge(store, &c2, &m2).await.expect("second");
    let active = store
        .active_challenge(t.id, h.id)
        .await
        .expect("active")
        .expect("one active");
    check!(
        "challenges_supersede",
        active.id == c2.id,
        "the active challenge is not the newest"
    );
    check!(
        "challenges_supersede",
        active.code_hash == c2.code_hash,
        "the hash does not round-trip"
    );
    let missing =
        store_challenge(store, &challenge(t.id, booking_id(), &p, None, now).0, &m1).await;
    check!(
        "challenges_supersede",
        missing.is_err(),
        "a challenge for a missing booking: {missing:?}"
    );
}

pub async fn failed_checks_count<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "failed_checks_count";
    let t = create_tenant(store, "Attempts Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, false)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    for want in 1..=3 {
        let n = store.begin_check(t.id, c.id, now, 5).await.expect("check");
        check!(
            NAME,
            n == CheckClaim::Counted { checks: want },
            "check {want} was counted as {n:?}"
        );
    }
    // Twenty at once: exactly the two checks left are counted, whatever the interleaving.
    let racers = (0..20).map(|_| store.begin_check(t.id, c.id, now, 5));
    let got: Vec<CheckClaim> = futures_join_all(racers)
        .await
        .into_iter()
        .map(|r| r.expect("check"))
        .collect();
    let counted: Vec<u32> = got
        .iter()
        .filter_map(|g| match g {
            CheckClaim::Counted { checks } => Some(*checks),
            _ => None,
        })
        .collect();
    check!(
        NAME,
        counted.len() == 2 && got.iter().filter(|g| **g == CheckClaim::Exhausted).count() == 18,
        "twenty concurrent checks with two left: {got:?}"
    );
    let active = store
        .active_challenge(t.id, h.id)
        .await
        .expect("active")
        .expect("active");
    check!(
        NAME,
        active.failed_checks == 5,
        "stored count {}",
        active.failed_checks
    );
    let missing = store.begin_check(t.id, challenge_id(), now, 5).await;
    check!(
        NAME,
        missing == Ok(CheckClaim::Gone),
        "a missing challenge: {missing:?}"
    );
    // An expired code is not checked, nor a consumed or superseded one.
    let h2 = store
        .insert_hold(&hold(&t, span(120, 60), &p, None, now), now, false)
        .await
        .expect("hold 2");
    let (c2, m2) = challenge(t.id, h2.id, &p, None, now);
    store_challenge(store, &c2, &m2).await.expect("challenge 2");
    let late = store
        .begin_check(t.id, c2.id, c2.expires_at, 5)
        .await
        .expect("late check");
    check!(
        NAME,
        late == CheckClaim::Expired,
        "an expired code: {late:?}"
    );
    let (c3, m3) = challenge(t.id, h2.id, &p, None, now + SignedDuration::from_secs(1));
    store_challenge(store, &c3, &m3).await.expect("challenge 3");
    let old = store.begin_check(t.id, c2.id, now, 5).await.expect("old");
    check!(NAME, old == CheckClaim::Gone, "a superseded code: {old:?}");
}

/// Twenty sends at once never get past a send limit: the store counts and inserts under one
/// lock (a read of the counts followed by a separate insert let 9 of 12 through).
pub async fn concurrent_sends_respect_limits<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "concurrent_sends_respect_limits";
    let now = base_time();
    let policy = OtpPolicy::default();
    let sent = |got: &[StoreResult<Result<Challenge, SendLimit>>]| {
        got.iter().filter(|r| matches!(r, Ok(Ok(_)))).count()
    };

    // Twenty calls, each with its own hold, all texting one number: five codes.
    let t = create_tenant(store, "Per Number Clinic").await;
    let p = random_phone();
    let mut sends = Vec::new();
    for i in 0..20 {
        let call = random_call_id();
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &p, Some(&call), now),
                now,
                false,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &p, Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &policy)),
    )
    .await;
    let per_number = got
        .iter()
        .filter(|r| matches!(r, Ok(Err(SendLimit::PerNumber))))
        .count();
    check!(
        NAME,
        sent(&got) == 5 && per_number == 15,
        "twenty sends to one number: {} sent, {per_number} refused",
        sent(&got)
    );
    let counted = store
        .send_counts(t.id, &p, None, now - policy.per_number.window)
        .await
        .expect("counts");
    check!(NAME, counted.to_number == 5, "{counted:?}");

    // One call texting twenty numbers at once: three numbers.
    let t = create_tenant(store, "Per Call Clinic").await;
    let call = random_call_id();
    let mut sends = Vec::new();
    for i in 0..20 {
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &p, Some(&call), now),
                now,
                false,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &random_phone(), Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &policy)),
    )
    .await;
    check!(
        NAME,
        sent(&got) == 3,
        "one call texting twenty numbers at once: {} sent",
        sent(&got)
    );

    // The clinic's budget: twenty calls to twenty numbers with seven codes left.
    let t = create_tenant(store, "Budget Clinic").await;
    let small = OtpPolicy {
        per_tenant: RateWindow {
            max: 7,
            window: SignedDuration::from_hours(1),
        },
        ..OtpPolicy::default()
    };
    let mut sends = Vec::new();
    for i in 0..20 {
        let (call, to) = (random_call_id(), random_phone());
        let h = store
            .insert_hold(
                &hold(&t, span(i * 60, 30), &to, Some(&call), now),
                now,
                false,
            )
            .await
            .expect("hold");
        sends.push(challenge(t.id, h.id, &to, Some(&call), now));
    }
    let got = futures_join_all(
        sends
            .iter()
            .map(|(c, m)| store.create_challenge(c, m, &small)),
    )
    .await;
    check!(NAME, sent(&got) == 7, "a budget of 7: {} sent", sent(&got));

    // Under pressure, numbers that already had a code this hour wait and new numbers are served,
    // also when they all come at once.
    let t = create_tenant(store, "Pressure Clinic").await;
    let pressured = OtpPolicy {
        per_tenant: RateWindow {
            max: 12,
            window: SignedDuration::from_hours(1),
        },
        per_tenant_pressure: 4,
        ..OtpPolicy::default()
    };
    let earlier: Vec<PhoneNumber> = (0..4).map(|_| random_phone()).collect();
    let mut slot = 0;
    let mut next_hold = async |to: &PhoneNumber| {
        slot += 1;
        let call = random_call_id();
        let h = store
            .insert_hold(
                &hold(&t, span(slot * 60, 30), to, Some(&call), now),
                now,
                false,
            )
            .await
            .expect("hold");
        challenge(t.id, h.id, to, Some(&call), now)
    };
    for to in &earlier {
        let (c, m) = next_hold(to).await;
        let r = store.create_challenge(&c, &m, &pressured).await;
        check!(NAME, matches!(r, Ok(Ok(_))), "a first code: {r:?}");
    }
    let mut repeats = Vec::new();
    for i in 0..10 {
        repeats.push(next_hold(&earlier[i % 4]).await);
    }
    let mut fresh = Vec::new();
    for _ in 0..10 {
        fresh.push(next_hold(&random_phone()).await);
    }
    let (got_repeats, got_fresh) = join2(
        futures_join_all(
            repeats
                .iter()
                .map(|(c, m)| store.create_challenge(c, m, &pressured)),
        ),
        futures_join_all(
            fresh
                .iter()
                .map(|(c, m)| store.create_challenge(c, m, &pressured)),
        ),
    )
    .await;
    check!(
        NAME,
        sent(&got_repeats) == 0
            && got_repeats.iter().all(|r| matches!(
                r,
                Ok(Err(SendLimit::PerTenantRepeat | SendLimit::PerTenant))
            )),
        "numbers that had a code got more under pressure: {got_repeats:?}"
    );
    check!(
        NAME,
        sent(&got_fresh) == 8,
        "new numbers under pressure: {} of the 8 left sent",
        sent(&got_fresh)
    );
}

/// A code proves one change of its own booking, once, before it expires; `confirm_hold` checks
/// the code's expiry under its lock too.
pub async fn codes_prove_changes_once<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "codes_prove_changes_once";
    let t = create_tenant(store, "Proof Clinic").await;
    let now = base_time();
    let p = random_phone();

    // A code that ran out before the confirm does not confirm, even with the hold still live.
    let h = store
        .insert_hold(&hold(&t, span(0, 30), &p, None, now), now, false)
        .await
        .expect("hold");
    let (mut c, m) = challenge(t.id, h.id, &p, None, now);
    c.expires_at = now + SignedDuration::from_mins(1);
    store_challenge(store, &c, &m).await.expect("challenge");
    let late = now + SignedDuration::from_mins(2);
    let r = store
        .confirm_hold(t.id, h.id, c.id, late, &booking_texts(t.id, h.id, &p, late))
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::WrongState { .. })),
        "an expired code confirmed a live hold: {r:?}"
    );
    check!(
        NAME,
        status_of(store, t.id, h.id).await == BookingStatus::Held,
        "the hold changed"
    );

    let a = confirmed(store, &t, span(60, 30), &p, now).await;
    let b = confirmed(store, &t, span(120, 30), &p, now).await;
    let (ca, ma) = challenge(t.id, a, &p, None, now);
    store_challenge(store, &ca, &ma).await.expect("code for a");
    let (cb, mb) = challenge(t.id, b, &p, None, now);
    store_challenge(store, &cb, &mb).await.expect("code for b");

    // Another booking's code, an expired code: nothing changes.
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(cb.id), now, &[], &[])
        .await;
    check!(
        NAME,
        r.is_err(),
        "cancelled with another booking's code: {r:?}"
    );
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(ca.id), ca.expires_at, &[], &[])
        .await;
    check!(NAME, r.is_err(), "cancelled with an expired code: {r:?}");
    check!(
        NAME,
        status_of(store, t.id, a).await == BookingStatus::Confirmed,
        "a changed"
    );

    // The right code cancels, once.
    let r = store
        .cancel_booking(t.id, a, ChangeProof::Code(ca.id), now, &[], &[])
        .await;
    check!(NAME, r.is_ok(), "the right code did not cancel: {r:?}");
    let active = store.active_challenge(t.id, a).await.expect("active");
    check!(
        NAME,
        active.is_none(),
        "the code was not consumed: {active:?}"
    );

    // Rescheduling consumes the old booking's code; the used code moves nothing again.
    let moved = appointment(&t, b, span(300, 30), &p, now);
    let r = store
        .reschedule_booking(t.id, b, ChangeProof::Code(cb.id), &moved, now, &[], &[])
        .await;
    check!(NAME, r.is_ok(), "the right code did not reschedule: {r:?}");
    let again = appointment(&t, moved.id, span(400, 30), &p, now);
    let r = store
        .reschedule_booking(
            t.id,
            moved.id,
            ChangeProof::Code(cb.id),
            &again,
            now,
            &[],
            &[],
        )
        .await;
    check!(NAME, r.is_err(), "a used code moved a booking again: {r:?}");
}

pub async fn send_counts_windows<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Counts Clinic").await;
    let now = base_time();
    let (p1, p2) = (random_phone(), random_phone());
    let call = random_call_id();
    let h = store
        .insert_hold(&hold(&t, span(0, 60), &p1, Some(&call), now), now, false)
        .await
        .expect("hold");
    let other = store
        .insert_hold(&hold(&t, span(120, 60), &p2, None, now), now, false)
        .await
        .expect("other hold");
    let at = |m: i64| now + SignedDuration::from_mins(m);
    for (booking, phone, call, minute) in [
        (h.id, &p1, Some(&call), 0),
        (h.id, &p1, Some(&call), 12),
        (h.id, &p2, Some(&call), 13),
        (other.id, &p1, None, 14),
    ] {
        let (c, m) = challenge(t.id, booking, phone, call, at(minute));
        store_challenge(store, &c, &m).await.expect("challenge");
    }
    let c = store
        .send_counts(t.id, &p1, Some(&call), at(10))
        .await
        .expect("counts");
    check!(
        "send_counts_windows",
        c.to_number == 2 && c.in_call == 3 && c.distinct_numbers_in_call == 2 && c.by_tenant == 3,
        "counts: {c:?}"
    );
    let c = store
        .send_counts(t.id, &p1, None, now)
        .await
        .expect("counts");
    check!(
        "send_counts_windows",
        c.to_number == 3 && c.in_call == 0 && c.distinct_numbers_in_call == 0 && c.by_tenant == 4,
        "counts without a call: {c:?}"
    );
}

pub async fn dedupe_per_tenant<S: Store + ?Sized>(store: &S) {
    let a = create_tenant(store, "Dedupe A").await;
    let b = create_tenant(store, "Dedupe B").await;
    let now = base_time();
    let p = random_phone();
    let key = DedupeKey::test(message_id());
    let n = store
        .enqueue(&[message(a.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    check!("dedupe_per_tenant", n == 1, "first enqueue: {n}");
    let n = store
        .enqueue(&[
            message(a.id, MessageKind::Test, key.clone(), &p, now),
            message(
                a.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    check!(
        "dedupe_per_tenant",
        n == 1,
        "a repeated key was queued again ({n} new)"
    );
    let n = store
        .enqueue(&[message(b.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    check!(
        "dedupe_per_tenant",
        n == 1,
        "another tenant's key blocked this tenant's ({n} new)"
    );
    check!(
        "dedupe_per_tenant",
        count_key(store, a.id, &key).await == 1,
        "duplicate rows"
    );
    let m = store
        .message_by_key(a.id, &key)
        .await
        .expect("by key")
        .expect("message");
    let by_id = store.message(a.id, m.id).await.expect("by id");
    check!(
        "dedupe_per_tenant",
        by_id.as_ref() == Some(&m),
        "message() differs from message_by_key()"
    );
}

pub async fn claim_lease_and_stale_token<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Lease Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let p = random_phone();
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Test,
            DedupeKey::test(message_id()),
            &p,
            now,
        )])
        .await
        .expect("enqueue");
    let first = store
        .claim_due(now, 10, now + lease, "w1")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        first.len() == 1,
        "claimed {}",
        first.len()
    );
    let first = &first[0];
    check!(
        "claim_lease_and_stale_token",
        !first.needs_reconcile
            && first.message.status == MessageStatus::Sending
            && first.lease_until == now + lease,
        "a first claim: {first:?}"
    );
    check!(
        "claim_lease_and_stale_token",
        first.message.first_attempt_at == Some(now),
        "first_attempt_at: {:?}",
        first.message.first_attempt_at
    );
    let during = store
        .claim_due(
            now + SignedDuration::from_secs(30),
            10,
            now + lease * 2,
            "w2",
        )
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        during.is_empty(),
        "a leased message was claimed again"
    );
    let after = now + lease + SignedDuration::from_secs(1);
    let second = store
        .claim_due(after, 10, after + lease, "w2")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        second.len() == 1,
        "a lapsed lease was not reclaimed"
    );
    let second = &second[0];
    check!(
        "claim_lease_and_stale_token",
        second.needs_reconcile && second.claim_token != first.claim_token,
        "a reclaim after a lapsed lease: {second:?}"
    );
    check!(
        "claim_lease_and_stale_token",
        second.message.first_attempt_at == Some(now),
        "first_attempt_at moved: {:?}",
        second.message.first_attempt_at
    );
    let sid = MessageSid::parse("SMlease0001").expect("sid");
    let accepted = DeliveryUpdate::Accepted {
        sid,
        status: MessageStatus::Queued,
    };
    let stale = store
        .record_delivery(first, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        !stale,
        "a stale claim recorded an outcome"
    );
    let m = store
        .message(t.id, first.message.id)
        .await
        .expect("message")
        .expect("exists");
    check!(
        "claim_lease_and_stale_token",
        m.status == MessageStatus::Sending && m.twilio_sid.is_none(),
        "a stale claim changed the row: {m:?}"
    );
    let ok = store
        .record_delivery(second, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        ok,
        "the current claim could not record"
    );
    let m = store
        .message(t.id, first.message.id)
        .await
        .expect("message")
        .expect("exists");
    check!(
        "claim_lease_and_stale_token",
        m.status == MessageStatus::Queued
            && m.twilio_sid.as_ref().map(|s| s.as_str()) == Some("SMlease0001")
            && m.attempts == 1,
        "after acceptance: {m:?}"
    );
    let twice = store
        .record_delivery(second, &accepted, after)
        .await
        .expect("record");
    check!(
        "claim_lease_and_stale_token",
        !twice,
        "a finished claim recorded twice"
    );
    let none = store
        .claim_due(after + lease * 10, 10, after + lease * 11, "w3")
        .await
        .expect("claim");
    check!(
        "claim_lease_and_stale_token",
        none.is_empty(),
        "an accepted message was claimed again"
    );
}

pub async fn claim_skips_future_and_paused<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Due Clinic").await;
    let paused = create_tenant(store, "Paused Clinic").await;
    let now = base_time();
    let p = random_phone();
    let future = now + SignedDuration::from_hours(1);
    store
        .enqueue(&[
            message(
                t.id,
                MessageKind::Reminder,
                DedupeKey::test(message_id()),
                &p,
                future,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now - SignedDuration::from_secs(5),
            ),
            message(
                paused.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    store
        .set_sms_health(
            paused.id,
            &SmsHealth::NeedsAttention {
                code: 20003,
                message: "Authenticate".into(),
            },
        )
        .await
        .expect("pause");
    let lease = now + SignedDuration::from_secs(60);
    let one = store.claim_due(now, 1, lease, "w").await.expect("claim");
    check!(
        "claim_skips_future_and_paused",
        one.len() == 1 && one[0].message.due_at == now - SignedDuration::from_secs(5),
        "the limit, or the oldest-due first: {one:?}"
    );
    let rest = store.claim_due(now, 10, lease, "w").await.expect("claim");
    check!(
        "claim_skips_future_and_paused",
        rest.len() == 1 && rest[0].message.tenant == t.id && rest[0].message.due_at == now,
        "claimed a future or a paused tenant's message: {rest:?}"
    );
    let later = store
        .claim_due(future, 10, future + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    check!(
        "claim_skips_future_and_paused",
        later
            .iter()
            .any(|c| c.message.kind == MessageKind::Reminder)
            && later.iter().all(|c| c.message.tenant == t.id),
        "the reminder at its due time: {later:?}"
    );
    let config = paused.config.clone();
    store
        .update_tenant(paused.id, &config, SmsAccountChange::Set(sms_account()))
        .await
        .expect("new credentials");
    let resumed = store
        .claim_due(future, 10, future + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    check!(
        "claim_skips_future_and_paused",
        resumed.len() == 1 && resumed[0].message.tenant == paused.id,
        "new credentials did not resume sending: {resumed:?}"
    );
}

pub async fn concurrent_claims_disjoint<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Workers Clinic").await;
    let now = base_time();
    let p = random_phone();
    let msgs: Vec<NewMessage> = (0..10)
        .map(|_| {
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            )
        })
        .collect();
    store.enqueue(&msgs).await.expect("enqueue");
    let lease = now + SignedDuration::from_secs(60);
    let (a, b) = join2(
        store.claim_due(now, 6, lease, "a"),
        store.claim_due(now, 6, lease, "b"),
    )
    .await;
    let (a, b) = (a.expect("a"), b.expect("b"));
    let mut ids: Vec<MessageId> = a.iter().chain(&b).map(|c| c.message.id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    check!(
        "concurrent_claims_disjoint",
        ids.len() == total && total == 10,
        "two workers claimed {total} rows, {} distinct",
        ids.len()
    );
}

pub async fn delivery_outcomes<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Outcomes Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let p = random_phone();
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(t.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    let claim_one = |at: Timestamp| async move {
        let mut c = store
            .claim_due(at, 10, at + lease, "w")
            .await
            .expect("claim");
        check!("delivery_outcomes", c.len() <= 1, "claimed {}", c.len());
        c.pop()
    };
    let get = || async {
        store
            .message_by_key(t.id, &key)
            .await
            .expect("by key")
            .expect("exists")
    };

    // Retry: pending again at the time given, one attempt counted.
    let c = claim_one(now).await.expect("claimed");
    let next = now + SignedDuration::from_mins(1);
    let r = DeliveryUpdate::Retry {
        next_attempt_at: next,
        error_code: Some(20429),
        error_message: "Too Many Requests".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &r, now).await.expect("record"),
        "retry not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Pending
            && m.attempts == 1
            && m.error_code == Some(20429)
            && m.error_message.is_some(),
        "after retry: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(now).await.is_none(),
        "claimed before its retry time"
    );

    // Ambiguous: the next claim must reconcile.
    let c = claim_one(next).await.expect("claimed at retry time");
    check!(
        "delivery_outcomes",
        !c.needs_reconcile,
        "a retry-safe failure needs reconciling"
    );
    let later = next + SignedDuration::from_mins(1);
    let amb = DeliveryUpdate::Ambiguous {
        next_attempt_at: later,
        error_message: "502".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &amb, next).await.expect("record"),
        "ambiguous not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Ambiguous && m.attempts == 2,
        "after ambiguous: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(next).await.is_none(),
        "claimed before its recheck time"
    );

    // Deferred while it needs reconciling: it still needs it afterwards; no attempt counted.
    let c = claim_one(later).await.expect("claimed at recheck time");
    check!(
        "delivery_outcomes",
        c.needs_reconcile,
        "an ambiguous message claimed without needs_reconcile"
    );
    let until = later + SignedDuration::from_mins(5);
    let d = DeliveryUpdate::Deferred {
        until,
        reason: "sender rate limit".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &d, later).await.expect("record"),
        "deferral not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.attempts == 2,
        "a deferral counted as an attempt: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(later).await.is_none(),
        "claimed before its deferral ended"
    );
    let c = claim_one(until).await.expect("claimed after deferral");
    check!(
        "delivery_outcomes",
        c.needs_reconcile,
        "a deferral forgot the message needs reconciling"
    );

    // Failed: terminal, never claimed again.
    let f = DeliveryUpdate::Failed {
        error_code: Some(21211),
        error_message: "Invalid 'To' Phone Number".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &f, until).await.expect("record"),
        "failure not recorded"
    );
    let m = get().await;
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Failed && m.error_code == Some(21211) && m.attempts == 3,
        "after failure: {m:?}"
    );
    check!(
        "delivery_outcomes",
        claim_one(until + SignedDuration::from_hours(1))
            .await
            .is_none(),
        "a failed message was claimed"
    );

    // Suppressed: terminal, with the reason.
    let k2 = DedupeKey::test(message_id());
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Confirmation,
            k2.clone(),
            &p,
            now,
        )])
        .await
        .expect("enqueue");
    let at = until + SignedDuration::from_hours(2);
    let c = claim_one(at).await.expect("claimed");
    let s = DeliveryUpdate::Suppressed {
        reason: "opted out".into(),
    };
    check!(
        "delivery_outcomes",
        store.record_delivery(&c, &s, at).await.expect("record"),
        "suppression not recorded"
    );
    let m = store
        .message_by_key(t.id, &k2)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "delivery_outcomes",
        m.status == MessageStatus::Suppressed && m.attempts == 0 && m.error_message.is_some(),
        "after suppression: {m:?}"
    );
}

pub async fn release_claims_gives_back<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Shutdown Clinic").await;
    let now = base_time();
    let p = random_phone();
    store
        .enqueue(&[
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
            message(
                t.id,
                MessageKind::Test,
                DedupeKey::test(message_id()),
                &p,
                now,
            ),
        ])
        .await
        .expect("enqueue");
    let lease = now + SignedDuration::from_mins(5);
    let mine = store.claim_due(now, 1, lease, "mine").await.expect("claim");
    let theirs = store
        .claim_due(now, 1, lease, "theirs")
        .await
        .expect("claim");
    check!(
        "release_claims_gives_back",
        mine.len() == 1 && theirs.len() == 1,
        "claims"
    );
    let n = store.release_claims("mine", now).await.expect("release");
    check!("release_claims_gives_back", n == 1, "released {n}");
    let again = store
        .claim_due(now, 10, lease, "other")
        .await
        .expect("claim");
    check!(
        "release_claims_gives_back",
        again.len() == 1 && again[0].message.id == mine[0].message.id,
        "the released message was not claimable at once: {again:?}"
    );
}

pub async fn status_moves_forward_only<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Callback Clinic").await;
    let now = base_time();
    let p = random_phone();
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(t.id, MessageKind::Test, key.clone(), &p, now)])
        .await
        .expect("enqueue");
    let c = store
        .claim_due(now, 1, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim")
        .pop()
        .expect("claimed");
    let sid = "SMforward0001";
    store
        .record_delivery(
            &c,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse(sid).expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    let apply = |s: MessageStatus, code: Option<u32>| store.apply_status(t.id, sid, s, code, now);
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Delivered, None).await.expect("apply") == StatusApplied::Updated,
        "delivered"
    );
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Sent, None).await.expect("apply") == StatusApplied::Ignored,
        "sent after delivered"
    );
    check!(
        "status_moves_forward_only",
        apply(MessageStatus::Undelivered, Some(30003))
            .await
            .expect("apply")
            == StatusApplied::Ignored,
        "out of a terminal status"
    );
    let m = store
        .message_by_key(t.id, &key)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "status_moves_forward_only",
        m.status == MessageStatus::Delivered,
        "status moved back: {:?}",
        m.status
    );
    let unknown = store
        .apply_status(t.id, "SMunknown0000", MessageStatus::Sent, None, now)
        .await
        .expect("apply");
    check!(
        "status_moves_forward_only",
        unknown == StatusApplied::Kept,
        "an unknown sid: {unknown:?}"
    );

    // Sent then (late) queued: ignored; then undelivered with its code.
    let key2 = DedupeKey::test(message_id());
    store
        .enqueue(&[message(t.id, MessageKind::Test, key2.clone(), &p, now)])
        .await
        .expect("enqueue");
    let c = store
        .claim_due(now, 1, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim")
        .pop()
        .expect("claimed");
    let sid2 = "SMforward0002";
    store
        .record_delivery(
            &c,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse(sid2).expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    let apply2 = |s: MessageStatus, code: Option<u32>| store.apply_status(t.id, sid2, s, code, now);
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Sent, None).await.expect("apply") == StatusApplied::Updated,
        "sent"
    );
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Queued, None).await.expect("apply") == StatusApplied::Ignored,
        "queued after sent"
    );
    check!(
        "status_moves_forward_only",
        apply2(MessageStatus::Undelivered, Some(30005))
            .await
            .expect("apply")
            == StatusApplied::Updated,
        "undelivered"
    );
    let m = store
        .message_by_key(t.id, &key2)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        "status_moves_forward_only",
        m.status == MessageStatus::Undelivered && m.error_code == Some(30005),
        "after undelivered: {m:?}"
    );
}

fn sample_score(total: u32) -> LeadScore {
    LeadScore {
        total,
        reasons: vec![ScoreReason {
            points: total,
            reason: "booked".into(),
        }],
    }
}

pub async fn calls_and_finish_once<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Calls Clinic").await;
    let now = base_time();
    let p = random_phone();
    let call = random_call_id();
    let start = CallStart {
        call_id: call.clone(),
        tenant: t.id,
        caller: Some(p.clone()),
        called: Some(t.config.called_numbers[0].number.clone()),
        started_at: now,
    };
    store.record_call_start(&start).await.expect("start");
    let mut again = start.clone();
    again.started_at = now + SignedDuration::from_mins(1);
    store.record_call_start(&again).await.expect("start again");
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.started_at == Some(now) && rec.caller.as_ref() == Some(&p),
        "first start must stay: {rec:?}"
    );

    store
        .record_call_status(t.id, &call, "in-progress", now)
        .await
        .expect("status");
    let lead = CapturedLead {
        caller_name: Some("Grace".into()),
        service_interest: Some("Teeth Whitening".into()),
        wants_callback: None,
        notes: None,
    };
    store
        .record_lead(t.id, &call, &lead, now)
        .await
        .expect("lead");
    let more = CapturedLead {
        caller_name: None,
        service_interest: Some("Implant Consultation".into()),
        wants_callback: Some(true),
        notes: Some("prefers mornings".into()),
    };
    store
        .record_lead(t.id, &call, &more, now)
        .await
        .expect("lead");
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.last_status.as_deref() == Some("in-progress"),
        "status: {:?}",
        rec.last_status
    );
    check!(
        "calls_and_finish_once",
        rec.lead.caller_name.as_deref() == Some("Grace")
            && rec.lead.service_interest.as_deref() == Some("Implant Consultation")
            && rec.lead.wants_callback == Some(true)
            && rec.lead.notes.as_deref() == Some("prefers mornings"),
        "merged lead: {:?}",
        rec.lead
    );

    // An earlier call from the same number, and one from another number.
    for (phone, minutes_before) in [(&p, 60), (&random_phone(), 30)] {
        store
            .record_call_start(&CallStart {
                call_id: random_call_id(),
                tenant: t.id,
                caller: Some(phone.clone()),
                called: None,
                started_at: now - SignedDuration::from_mins(minutes_before),
            })
            .await
            .expect("earlier call");
    }
    let prior = store.prior_calls_from(t.id, &p, now).await.expect("prior");
    check!(
        "calls_and_finish_once",
        prior == 1,
        "prior calls from the number: {prior}"
    );

    let report = CallReport {
        call_id: call.clone(),
        caller: Some(p.clone()),
        called: None,
        started_at: Some(now),
        ended_at: Some(now + SignedDuration::from_secs(95)),
        ended_reason: Some("customer-ended-call".into()),
        summary: Some("Booked a whitening.".into()),
        structured: CapturedLead::default(),
        buying_intent: Some(true),
    };
    let alert = t.config.alert_numbers[0].clone();
    let alerts = vec![message(
        t.id,
        MessageKind::HotLead,
        DedupeKey::hot_lead(&call, &alert),
        &alert,
        now,
    )];
    let done = now + SignedDuration::from_mins(2);
    let finished = FinishedCall {
        report: report.clone(),
        score: sample_score(85),
        hot_lead: true,
        received_at: done,
    };
    let first = store
        .finish_call(t.id, &finished, &alerts)
        .await
        .expect("finish");
    check!(
        "calls_and_finish_once",
        first == FinishOutcome::Recorded,
        "first report: {first:?}"
    );
    let second_alerts = vec![message(
        t.id,
        MessageKind::HotLead,
        DedupeKey::test(message_id()),
        &alert,
        done,
    )];
    let repeat = FinishedCall {
        score: sample_score(10),
        hot_lead: false,
        ..finished.clone()
    };
    let second = store
        .finish_call(t.id, &repeat, &second_alerts)
        .await
        .expect("finish again");
    check!(
        "calls_and_finish_once",
        second == FinishOutcome::AlreadyRecorded,
        "second report: {second:?}"
    );
    let rec = store
        .call(t.id, &call)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "calls_and_finish_once",
        rec.score == Some(sample_score(85)) && rec.hot_lead && rec.report_received_at == Some(done),
        "the repeat changed the call: {rec:?}"
    );
    check!(
        "calls_and_finish_once",
        rec.duration_seconds == Some(95) && rec.summary.as_deref() == Some("Booked a whitening."),
        "the report was not stored: {rec:?}"
    );
    let msgs = store.list_messages(t.id, 100).await.expect("messages");
    check!(
        "calls_and_finish_once",
        msgs.len() == 1 && msgs[0].dedupe_key == DedupeKey::hot_lead(&call, &alert),
        "alerts queued: {msgs:?}"
    );
    let listed = store.list_calls(t.id, 10).await.expect("list calls");
    check!(
        "calls_and_finish_once",
        listed.len() == 3 && listed[0].call_id == call,
        "list_calls newest first: {:?}",
        listed.iter().map(|c| &c.call_id).collect::<Vec<_>>()
    );
    check!(
        "calls_and_finish_once",
        store.list_calls(t.id, 2).await.expect("list").len() == 2,
        "limit ignored"
    );
}

/// A call row made from an earlier message (a status update without the called number, stamped
/// with that message's time) takes the report's called number and start; a report that is the
/// first message of a call makes a complete row.
pub async fn report_fills_the_call_row<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Report Clinic").await;
    let now = base_time();
    let called = t.config.called_numbers[0].number.clone();
    let started = now - SignedDuration::from_mins(5);
    let report = |call: &CallId| CallReport {
        call_id: call.clone(),
        caller: Some(random_phone()),
        called: Some(called.clone()),
        started_at: Some(started),
        ended_at: Some(now),
        ended_reason: Some("customer-ended-call".into()),
        summary: None,
        structured: CapturedLead::default(),
        buying_intent: None,
    };
    let finish = |call: &CallId| FinishedCall {
        report: report(call),
        score: sample_score(10),
        hot_lead: false,
        received_at: now,
    };

    let early = random_call_id();
    store
        .record_call_start(&CallStart {
            call_id: early.clone(),
            tenant: t.id,
            caller: None,
            called: None,
            started_at: now,
        })
        .await
        .expect("start");
    store
        .finish_call(t.id, &finish(&early), &[])
        .await
        .expect("finish");
    let rec = store
        .call(t.id, &early)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "report_fills_the_call_row",
        rec.called.as_ref() == Some(&called)
            && rec.started_at == Some(started)
            && rec.duration_seconds == Some(300),
        "the row kept the earlier message's gaps: {rec:?}"
    );

    let first = random_call_id();
    store
        .finish_call(t.id, &finish(&first), &[])
        .await
        .expect("finish");
    let rec = store
        .call(t.id, &first)
        .await
        .expect("call")
        .expect("recorded");
    check!(
        "report_fills_the_call_row",
        rec.called.as_ref() == Some(&called) && rec.started_at == Some(started),
        "a report-only call row is incomplete: {rec:?}"
    );
}

pub async fn opt_out_round_trip<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Opt Out Clinic").await;
    let now = base_time();
    let p = random_phone();
    check!(
        "opt_out_round_trip",
        !store.is_opted_out(t.id, &p).await.expect("read"),
        "opted out by default"
    );
    store
        .set_opted_out(t.id, &p, true, now)
        .await
        .expect("stop");
    check!(
        "opt_out_round_trip",
        store.is_opted_out(t.id, &p).await.expect("read"),
        "STOP not kept"
    );
    store
        .set_opted_out(t.id, &p, true, now)
        .await
        .expect("stop again");
    store
        .set_opted_out(t.id, &p, false, now)
        .await
        .expect("start");
    check!(
        "opt_out_round_trip",
        !store.is_opted_out(t.id, &p).await.expect("read"),
        "START not kept"
    );
}

/// The replay-log key of tool call `id` naming `tool` in the suite's one call.
fn log_key(id: &ToolCallId, tool: &str) -> ToolCallKey {
    ToolCallKey {
        call: Some(CallId::parse("suite-call").expect("call id")),
        id: id.clone(),
        tool: tool.to_owned(),
    }
}

/// Another call reusing a toolCallId, or the same id naming another tool, is another tool call:
/// it runs, and never gets the first one's answer.
pub async fn tool_call_log_keys_by_call_and_tool<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "tool_call_log_keys_by_call_and_tool";
    let t = create_tenant(store, "Replay Clinic").await;
    let now = base_time();
    let id = ToolCallId::parse(&format!("tc-{}", uuid::Uuid::new_v4())).expect("id");
    let first = log_key(&id, "verify_otp");
    check!(
        NAME,
        store
            .begin_tool_call(t.id, &first, now)
            .await
            .expect("begin")
            == ToolCallClaim::New,
        "first begin"
    );
    store
        .finish_tool_call(t.id, &first, "first answer", now)
        .await
        .expect("finish");
    let other_call = ToolCallKey {
        call: Some(CallId::parse("another-call").expect("call id")),
        ..first.clone()
    };
    let other_tool = ToolCallKey {
        tool: "send_otp".into(),
        ..first.clone()
    };
    let no_call = ToolCallKey {
        call: None,
        ..first.clone()
    };
    for (what, key) in [
        ("another call", &other_call),
        ("another tool", &other_tool),
        ("no call", &no_call),
    ] {
        let claim = store.begin_tool_call(t.id, key, now).await.expect("begin");
        check!(
            NAME,
            claim == ToolCallClaim::New,
            "the same toolCallId from {what} got {claim:?}"
        );
        store
            .finish_tool_call(t.id, key, what, now)
            .await
            .expect("finish");
    }
    for (answer, key) in [
        ("first answer", &first),
        ("another call", &other_call),
        ("another tool", &other_tool),
        ("no call", &no_call),
    ] {
        let replay = store.begin_tool_call(t.id, key, now).await.expect("begin");
        check!(
            NAME,
            replay == ToolCallClaim::Done(answer.into()),
            "a replay of {key:?} got {replay:?}"
        );
    }
}

pub async fn tool_call_log<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Tool Clinic").await;
    let now = base_time();
    let id = ToolCallId::parse(&format!("tc-{}", uuid::Uuid::new_v4())).expect("id");
    let first = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        first == ToolCallClaim::New,
        "first begin: {first:?}"
    );
    let during = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        during == ToolCallClaim::InProgress,
        "begin while running: {during:?}"
    );
    // A claim whose request died (never finished nor abandoned) is taken over once it is old
    // enough, and only then.
    let almost = now + TOOL_CALL_ABANDONED_AFTER - SignedDuration::from_secs(1);
    let not_yet = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), almost)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        not_yet == ToolCallClaim::InProgress,
        "a claim younger than the takeover age was taken over: {not_yet:?}"
    );
    let later = now + TOOL_CALL_ABANDONED_AFTER;
    let taken = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), later)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        taken == ToolCallClaim::New,
        "a claim left by a dead request blocks its id for ever: {taken:?}"
    );
    let again = store
        .begin_tool_call(
            t.id,
            &log_key(&id, "reserve_slot"),
            later + SignedDuration::from_secs(1),
        )
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        again == ToolCallClaim::InProgress,
        "the taken-over claim is not held: {again:?}"
    );
    store
        .abandon_tool_call(t.id, &log_key(&id, "reserve_slot"))
        .await
        .expect("abandon");
    let retry = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        retry == ToolCallClaim::New,
        "begin after abandon: {retry:?}"
    );
    store
        .finish_tool_call(t.id, &log_key(&id, "reserve_slot"), r#"{"ok":true}"#, now)
        .await
        .expect("finish");
    let replay = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        replay == ToolCallClaim::Done(r#"{"ok":true}"#.into()),
        "a replay: {replay:?}"
    );
    store
        .abandon_tool_call(t.id, &log_key(&id, "reserve_slot"))
        .await
        .expect("abandon after finish");
    let still = store
        .begin_tool_call(t.id, &log_key(&id, "reserve_slot"), now)
        .await
        .expect("begin");
    check!(
        "tool_call_log",
        matches!(still, ToolCallClaim::Done(_)),
        "abandon forgot a finished call: {still:?}"
    );
}

/// An OTP text's body (it holds the code) is dropped once it was accepted, failed or
/// suppressed; until then, and for other texts, the body stays (reconciliation needs it).
pub async fn sent_codes_are_not_kept<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "sent_codes_are_not_kept";
    let t = create_tenant(store, "Code Clinic").await;
    let now = base_time();
    let lease = SignedDuration::from_secs(60);
    let outcomes = [
        DeliveryUpdate::Ambiguous {
            next_attempt_at: now,
            error_message: "502".into(),
        },
        DeliveryUpdate::Accepted {
            sid: MessageSid::parse("SM0123456789abcdef0123456789abcdef").expect("sid"),
            status: MessageStatus::Queued,
        },
        DeliveryUpdate::Failed {
            error_code: Some(21211),
            error_message: "bad To".into(),
        },
        DeliveryUpdate::Suppressed {
            reason: "opted out".into(),
        },
    ];
    for (i, outcome) in outcomes.iter().enumerate() {
        for kind in [MessageKind::Otp, MessageKind::Confirmation] {
            let key = DedupeKey::test(message_id());
            let mut m = message(t.id, kind, key.clone(), &random_phone(), now);
            m.body = format!("Your code is 4821{i}9");
            store.enqueue(&[m.clone()]).await.expect("enqueue");
            let claims = store
                .claim_due(now, 10, now + lease, "w")
                .await
                .expect("claim");
            let claim = claims
                .iter()
                .find(|c| c.message.dedupe_key == key)
                .expect("claimed");
            check!(
                NAME,
                claim.message.body == m.body,
                "the claim carries the text to send"
            );
            // Sids are unique: each accepted text gets its own.
            let outcome = match outcome {
                DeliveryUpdate::Accepted { status, .. } => DeliveryUpdate::Accepted {
                    sid: MessageSid::parse(&format!("SM{}", message_id().as_uuid().simple()))
                        .expect("sid"),
                    status: *status,
                },
                other => other.clone(),
            };
            let outcome = &outcome;
            check!(
                NAME,
                store
                    .record_delivery(claim, outcome, now)
                    .await
                    .expect("record"),
                "not recorded"
            );
            let after = store
                .message_by_key(t.id, &key)
                .await
                .expect("by key")
                .expect("exists");
            let dropped =
                kind == MessageKind::Otp && !matches!(outcome, DeliveryUpdate::Ambiguous { .. });
            if dropped {
                check!(
                    NAME,
                    after.body == crate::ports::SENT_CODE_BODY,
                    "a sent code is still stored: {:?} after {outcome:?}",
                    after.body
                );
            } else {
                check!(
                    NAME,
                    after.body == m.body,
                    "{kind:?} after {outcome:?} lost its text"
                );
            }
            // Leave nothing claimable behind for the next round.
            if matches!(outcome, DeliveryUpdate::Ambiguous { .. }) {
                let again = store
                    .claim_due(now, 10, now + lease, "w")
                    .await
                    .expect("claim");
                for c in again {
                    store
                        .record_delivery(
                            &c,
                            &DeliveryUpdate::Suppressed {
                                reason: "done".into(),
                            },
                            now,
                        )
                        .await
                        .expect("record");
                }
            }
        }
    }
}

/// Tenant B, using every method on tenant A's rows, finds and changes nothing.
pub async fn tenant_isolation<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "tenant_isolation";
    let a = create_tenant(store, "Clinic A").await;
    let b = create_tenant(store, "Clinic B").await;
    let now = base_time();
    let p = random_phone();
    let call = random_call_id();

    // Tenant A: a confirmed booking with its texts, a live hold with a challenge, a call with a
    // report, an opted-out number, a sent message, a finished tool call.
    let booked = confirmed(store, &a, span(60, 60), &p, now).await;
    let held = store
        .insert_hold(&hold(&a, span(300, 60), &p, Some(&call), now), now, true)
        .await
        .expect("hold");
    let (ch, ch_msg) = challenge(a.id, held.id, &p, Some(&call), now);
    store_challenge(store, &ch, &ch_msg)
        .await
        .expect("challenge");
    store
        .record_call_start(&CallStart {
            call_id: call.clone(),
            tenant: a.id,
            caller: Some(p.clone()),
            called: None,
            started_at: now,
        })
        .await
        .expect("call");
    store
        .set_opted_out(a.id, &random_phone(), true, now)
        .await
        .expect("opt out");
    let claims = store
        .claim_due(now, 100, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim");
    let sent = claims.first().expect("a's texts are due").clone();
    store
        .record_delivery(
            &sent,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse("SMisolation01").expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    store.release_claims("w", now).await.expect("release");
    let tool = ToolCallId::parse(&format!("tc-{}", uuid::Uuid::new_v4())).expect("id");
    store
        .begin_tool_call(a.id, &log_key(&tool, "verify_otp"), now)
        .await
        .expect("begin");
    store
        .finish_tool_call(a.id, &log_key(&tool, "verify_otp"), "secret result", now)
        .await
        .expect("finish");
    let a_messages_before = store.list_messages(a.id, 1000).await.expect("messages");
    let a_bookings_before = store
        .list_bookings(a.id, span(0, 1000))
        .await
        .expect("bookings");

    // Reads find nothing.
    check!(
        NAME,
        store
            .booking(b.id, booked)
            .await
            .expect("booking")
            .is_none(),
        "booking() leaked"
    );
    check!(
        NAME,
        store
            .booking(b.id, held.id)
            .await
            .expect("booking")
            .is_none(),
        "booking() leaked a hold"
    );
    check!(
        NAME,
        store
            .busy(b.id, span(0, 1000), now)
            .await
            .expect("busy")
            .is_empty(),
        "busy() leaked"
    );
    check!(
        NAME,
        store
            .upcoming_for_phone(b.id, &p, now)
            .await
            .expect("upcoming")
            .is_empty(),
        "upcoming_for_phone() leaked"
    );
    check!(
        NAME,
        store
            .bookings_for_call(b.id, &call)
            .await
            .expect("for call")
            .is_empty(),
        "bookings_for_call() leaked"
    );
    check!(
        NAME,
        store
            .list_bookings(b.id, span(0, 1000))
            .await
            .expect("list")
            .is_empty(),
        "list_bookings() leaked"
    );
    check!(
        NAME,
        store
            .active_challenge(b.id, held.id)
            .await
            .expect("active")
            .is_none(),
        "active_challenge() leaked"
    );
    let counts = store
        .send_counts(b.id, &p, Some(&call), now - SignedDuration::from_hours(1))
        .await
        .expect("counts");
    check!(
        NAME,
        counts == Default::default(),
        "send_counts() leaked: {counts:?}"
    );
    check!(
        NAME,
        store.call(b.id, &call).await.expect("call").is_none(),
        "call() leaked"
    );
    check!(
        NAME,
        store
            .prior_calls_from(b.id, &p, now + SignedDuration::from_hours(1))
            .await
            .expect("prior")
            == 0,
        "prior_calls_from() leaked"
    );
    check!(
        NAME,
        store.list_calls(b.id, 100).await.expect("calls").is_empty(),
        "list_calls() leaked"
    );
    check!(
        NAME,
        store
            .list_messages(b.id, 100)
            .await
            .expect("messages")
            .is_empty(),
        "list_messages() leaked"
    );
    check!(
        NAME,
        store
            .message_by_key(b.id, &DedupeKey::confirmation(booked))
            .await
            .expect("by key")
            .is_none(),
        "message_by_key() leaked"
    );
    check!(
        NAME,
        store
            .message(b.id, sent.message.id)
            .await
            .expect("message")
            .is_none(),
        "message() leaked"
    );
    let replay = store
        .begin_tool_call(b.id, &log_key(&tool, "verify_otp"), now)
        .await
        .expect("begin");
    check!(
        NAME,
        replay != ToolCallClaim::Done("secret result".into()),
        "begin_tool_call() leaked a result"
    );

    // Writes change nothing of A's.
    let r = store
        .confirm_hold(
            b.id,
            held.id,
            ch.id,
            now,
            &booking_texts(b.id, held.id, &p, now),
        )
        .await;
    check!(NAME, r.is_err(), "confirm_hold() on A's hold: {r:?}");
    let r = store.release_hold(b.id, held.id, now).await;
    check!(NAME, r.is_err(), "release_hold() on A's hold: {r:?}");
    let r = store
        .cancel_booking(
            b.id,
            booked,
            ChangeProof::Owner,
            now,
            &[DedupeKey::reminder(booked)],
            &[],
        )
        .await;
    check!(NAME, r.is_err(), "cancel_booking() on A's booking: {r:?}");
    let moved = appointment(&b, booked, span(600, 60), &p, now);
    let r = store
        .reschedule_booking(
            b.id,
            booked,
            ChangeProof::Owner,
            &moved,
            now,
            &[DedupeKey::reminder(booked)],
            &[],
        )
        .await;
    check!(
        NAME,
        r.is_err(),
        "reschedule_booking() of A's booking: {r:?}"
    );
    let r = store.begin_check(b.id, ch.id, now, 5).await;
    check!(
        NAME,
        r == Ok(CheckClaim::Gone),
        "begin_check() on A's challenge: {r:?}"
    );
    let (ch_b, ch_b_msg) = challenge(b.id, held.id, &p, None, now);
    let r = store
        .create_challenge(&ch_b, &ch_b_msg, &OtpPolicy::default())
        .await;
    check!(NAME, r.is_err(), "create_challenge() for A's hold: {r:?}");
    let _ = store.record_call_status(b.id, &call, "ended", now).await;
    let _ = store
        .record_lead(
            b.id,
            &call,
            &CapturedLead {
                caller_name: Some("Mallory".into()),
                ..Default::default()
            },
            now,
        )
        .await;
    let applied = store
        .apply_status(b.id, "SMisolation01", MessageStatus::Delivered, None, now)
        .await
        .expect("apply");
    check!(
        NAME,
        applied == StatusApplied::Kept,
        "apply_status() on A's sid: {applied:?}"
    );
    let n = store
        .enqueue(&[message(
            b.id,
            MessageKind::Confirmation,
            DedupeKey::confirmation(booked),
            &p,
            now,
        )])
        .await
        .expect("enqueue");
    check!(NAME, n == 1, "A's dedupe key blocked B's message");
    // B holding the same time is fine: another clinic's calendar.
    let r = store
        .insert_hold(&hold(&b, span(60, 60), &p, Some(&call), now), now, true)
        .await;
    check!(NAME, r.is_ok(), "A's booking blocked B's calendar: {r:?}");
    let _ = store
        .finish_call(
            b.id,
            &FinishedCall {
                report: CallReport {
                    call_id: call.clone(),
                    caller: None,
                    called: None,
                    started_at: None,
                    ended_at: None,
                    ended_reason: None,
                    summary: Some("forged".into()),
                    structured: CapturedLead::default(),
                    buying_intent: None,
                },
                score: sample_score(0),
                hot_lead: false,
                received_at: now,
            },
            &[],
        )
        .await;

    // A is as it was.
    check!(
        NAME,
        status_of(store, a.id, held.id).await == BookingStatus::Held,
        "A's hold changed"
    );
    check!(
        NAME,
        status_of(store, a.id, booked).await == BookingStatus::Confirmed,
        "A's booking changed"
    );
    let active = store
        .active_challenge(a.id, held.id)
        .await
        .expect("active")
        .expect("still active");
    check!(
        NAME,
        active.id == ch.id && active.failed_checks == 0,
        "A's challenge changed: {active:?}"
    );
    let rec = store
        .call(a.id, &call)
        .await
        .expect("call")
        .expect("A's call");
    check!(
        NAME,
        rec.last_status.is_none()
            && rec.lead.caller_name.is_none()
            && rec.summary.is_none()
            && rec.score.is_none(),
        "A's call changed: {rec:?}"
    );
    let after = store.list_messages(a.id, 1000).await.expect("messages");
    check!(NAME, after == a_messages_before, "A's messages changed");
    let bookings = store
        .list_bookings(a.id, span(0, 1000))
        .await
        .expect("bookings");
    check!(NAME, bookings == a_bookings_before, "A's bookings changed");
    let mine = store
        .begin_tool_call(a.id, &log_key(&tool, "verify_otp"), now)
        .await
        .expect("begin");
    check!(
        NAME,
        mine == ToolCallClaim::Done("secret result".into()),
        "A's tool call changed: {mine:?}"
    );
    check!(
        NAME,
        store
            .tenant(a.id)
            .await
            .expect("tenant")
            .expect("A")
            .config
            .name
            .as_str()
            == "Clinic A",
        "A changed"
    );
}

/// A sender number, a Messaging Service and its numbers belong to one tenant: a second claim is
/// `Duplicate` and changes nothing; an alert number is never a texting number; inbound texts
/// route by any of them.
pub async fn texting_numbers_belong_to_one_tenant<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "texting_numbers_belong_to_one_tenant";
    let a = create_tenant(store, "Owner Clinic").await;
    let a_account = store
        .sms_account(a.id)
        .await
        .expect("account")
        .expect("set");
    let SmsSender::From(a_number) = a_account.sender.clone() else {
        unreachable!()
    };
    let service_sid = format!("MG{}", uuid::Uuid::new_v4().simple());
    let service_number = random_phone();

    // B claims A's sender number: refused, B not created.
    let b_id = random_tenant_id();
    let mut copy = sms_account();
    copy.sender = SmsSender::From(a_number.clone());
    let r = store
        .create_tenant(b_id, &tenant_config("Copycat"), Some(&copy))
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::Duplicate(_))),
        "create with A's sender: {r:?}"
    );
    check!(
        NAME,
        store.tenant(b_id).await.expect("read").is_none(),
        "B was saved"
    );

    // B sends through a Messaging Service with its own number.
    let mut service = sms_account();
    service.sender = SmsSender::MessagingService {
        sid: service_sid.clone(),
        numbers: vec![service_number.clone()],
    };
    service.keyword_replies = KeywordReplies::Clinic;
    let b = store
        .create_tenant(b_id, &tenant_config("Service Clinic"), Some(&service))
        .await
        .expect("B with a Messaging Service");
    let stored = store
        .sms_account(b.id)
        .await
        .expect("account")
        .expect("set");
    check!(NAME, stored == service, "round trip: {stored:?}");
    for (what, found) in [
        (
            "service number",
            store.tenant_by_sms_number(&service_number).await,
        ),
        (
            "service sid",
            store.tenant_by_messaging_service(&service_sid).await,
        ),
    ] {
        let found = found.expect("lookup").map(|t| t.id);
        check!(NAME, found == Some(b.id), "by {what}: {found:?}");
    }
    check!(
        NAME,
        store
            .tenant_by_sms_number(&a_number)
            .await
            .expect("lookup")
            .map(|t| t.id)
            == Some(a.id),
        "A's number routes to A"
    );
    for (n, want) in [
        (&a_number, true),
        (&service_number, true),
        (&random_phone(), false),
    ] {
        let got = store.is_clinic_texting_number(n).await.expect("lookup");
        check!(NAME, got == want, "is_clinic_texting_number({n}) = {got}");
    }

    // C claims B's service, or A's number as a service number: refused.
    let c = create_tenant(store, "Third Clinic").await;
    let c_before = store.sms_account(c.id).await.expect("account");
    for sender in [
        SmsSender::MessagingService {
            sid: service_sid.clone(),
            numbers: Vec::new(),
        },
        SmsSender::MessagingService {
            sid: format!("MG{}", uuid::Uuid::new_v4().simple()),
            numbers: vec![a_number.clone()],
        },
        SmsSender::From(service_number.clone()),
    ] {
        let mut claim = sms_account();
        claim.sender = sender.clone();
        let r = store
            .update_tenant(c.id, &c.config, SmsAccountChange::Set(claim))
            .await;
        check!(
            NAME,
            matches!(r, Err(StoreError::Duplicate(_))),
            "C claims {sender:?}: {r:?}"
        );
    }
    check!(
        NAME,
        store.sms_account(c.id).await.expect("account") == c_before,
        "a refused claim changed C's account"
    );

    // An alert number that a clinic texts from (its own or another's): refused.
    for n in [&a_number, &service_number] {
        let mut config = a.config.clone();
        config.alert_numbers = vec![n.clone()];
        let r = store
            .update_tenant(a.id, &config, SmsAccountChange::Keep)
            .await;
        check!(
            NAME,
            matches!(r, Err(StoreError::Duplicate(_))),
            "alert {n}: {r:?}"
        );
    }
    check!(
        NAME,
        store.tenant(a.id).await.expect("read").expect("A").config == a.config,
        "a refused alert number was saved"
    );
    // And a texting number that is a clinic's alert number.
    let mut claim = sms_account();
    claim.sender = SmsSender::From(a.config.alert_numbers[0].clone());
    let r = store
        .update_tenant(c.id, &c.config, SmsAccountChange::Set(claim))
        .await;
    check!(
        NAME,
        matches!(r, Err(StoreError::Duplicate(_))),
        "sender = A's alert number: {r:?}"
    );

    // B gives its service up: its numbers are free again.
    store
        .update_tenant(b.id, &b.config, SmsAccountChange::Clear)
        .await
        .expect("clear");
    check!(
        NAME,
        !store
            .is_clinic_texting_number(&service_number)
            .await
            .expect("lookup"),
        "a cleared account still holds its numbers"
    );
}

/// Of twenty concurrent counts, each gets its own number; a window ends `window` after it began.
pub async fn inbound_counts_hold_under_concurrency<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "inbound_counts_hold_under_concurrency";
    let t = create_tenant(store, "Counting Clinic").await;
    let now = base_time();
    let sender = random_phone();
    let window = SignedDuration::from_hours(24);
    let counts = futures_util::future::join_all((0..20).map(|_| {
        store.count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
    }))
    .await;
    let mut counts: Vec<u32> = counts
        .into_iter()
        .map(|c| c.expect("count").count)
        .collect();
    counts.sort_unstable();
    check!(
        NAME,
        counts == (1..=20).collect::<Vec<_>>(),
        "counts: {counts:?}"
    );
    // Another purpose, the clinic as a whole, another tenant: counted apart.
    let other = store
        .count_inbound_text(
            t.id,
            InboundPurpose::Forward,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
        .await
        .expect("count");
    check!(NAME, other.count == 1, "forward count: {other:?}");
    let clinic = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Clinic,
            window,
            now,
        )
        .await
        .expect("count");
    check!(NAME, clinic.count == 1, "clinic count: {clinic:?}");
    let u = create_tenant(store, "Other Counting Clinic").await;
    let theirs = store
        .count_inbound_text(
            u.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            now,
        )
        .await
        .expect("count");
    check!(
        NAME,
        theirs.count == 1,
        "another tenant's count: {theirs:?}"
    );
    // Still inside the window, then a new one.
    let later = now + window - SignedDuration::from_secs(1);
    let c = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            later,
        )
        .await
        .expect("count");
    check!(
        NAME,
        c.count == 21 && c.window_started_at == now,
        "inside the window: {c:?}"
    );
    let next = now + window;
    let c = store
        .count_inbound_text(
            t.id,
            InboundPurpose::AutoReply,
            InboundCounter::Sender(&sender),
            window,
            next,
        )
        .await
        .expect("count");
    check!(
        NAME,
        c.count == 1 && c.window_started_at == next,
        "a new window: {c:?}"
    );
}

/// A status callback for a sid not recorded yet is kept, and applied (forward only) when the
/// send's outcome records that sid.
pub async fn early_status_applied_when_sid_recorded<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "early_status_applied_when_sid_recorded";
    let t = create_tenant(store, "Early Clinic").await;
    let now = base_time();
    let key = DedupeKey::test(message_id());
    store
        .enqueue(&[message(
            t.id,
            MessageKind::Test,
            key.clone(),
            &random_phone(),
            now,
        )])
        .await
        .expect("enqueue");
    let claim = store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "w")
        .await
        .expect("claim")
        .pop()
        .expect("claimed");
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    for status in [MessageStatus::Sent, MessageStatus::Delivered] {
        let applied = store
            .apply_status(t.id, &sid, status, None, now)
            .await
            .expect("apply");
        check!(
            NAME,
            applied == StatusApplied::Kept,
            "before the sid: {applied:?}"
        );
    }
    let recorded = store
        .record_delivery(
            &claim,
            &DeliveryUpdate::Accepted {
                sid: MessageSid::parse(&sid).expect("sid"),
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .expect("record");
    check!(NAME, recorded, "the outcome was not recorded");
    let m = store
        .message_by_key(t.id, &key)
        .await
        .expect("by key")
        .expect("exists");
    check!(
        NAME,
        m.status == MessageStatus::Delivered,
        "after the sid landed: {:?}",
        m.status
    );
    // Applied once: a later stale `sent` does not move it back.
    let applied = store
        .apply_status(t.id, &sid, MessageStatus::Sent, None, now)
        .await
        .expect("apply");
    check!(
        NAME,
        applied == StatusApplied::Ignored,
        "stale sent: {applied:?}"
    );
}

/// One clinic adds X as an alert number while another claims X as its texting number, at the same
/// time: never both.
pub async fn alert_and_texting_number_race<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "alert_and_texting_number_race";
    let a = create_tenant(store, "Alerting Clinic").await;
    let b = create_tenant(store, "Texting Clinic").await;
    for _ in 0..10 {
        let x = random_phone();
        let mut config = a.config.clone();
        config.alert_numbers = vec![x.clone()];
        let mut claim = sms_account();
        claim.sender = SmsSender::From(x.clone());
        let (alert, texting) = join2(
            store.update_tenant(a.id, &config, SmsAccountChange::Keep),
            store.update_tenant(b.id, &b.config, SmsAccountChange::Set(claim)),
        )
        .await;
        check!(
            NAME,
            !(alert.is_ok() && texting.is_ok()),
            "{x} became both an alert number and a texting number"
        );
        for r in [alert.map(|_| ()), texting.map(|_| ())] {
            check!(
                NAME,
                r.is_ok() || matches!(r, Err(StoreError::Duplicate(_))),
                "{r:?}"
            );
        }
    }
}

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
