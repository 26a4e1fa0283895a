//! The use-case rules, on the in-memory store with a manual clock and seeded randomness.
//!
//! The clinic is in New York, open Monday to Friday 9:00–17:00, with 2 hours' notice; "now" is
//! Monday 2030-03-04 09:00 EST unless a test moves it.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::availability::Unbookable;
use crate::booking::{BookingStatus, HOLD_TTL};
use crate::calls::{CallReport, CallStart, CapturedLead};
use crate::ids::{BookingId, CallId, MessageSid};
use crate::memory::MemoryStore;
use crate::messages::InboundKeyword;
use crate::otp::{OtpAttempt, OtpHasher, OtpPolicy, RateWindow, SendLimit};
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, OutboundMessage};
use crate::patient_link::PatientLinkStore;
use crate::phone::PhoneNumber;
use crate::ports::{BookingStore, CallStore, ContactStore, OutboxStore, TenantStore};
use crate::scoring::{self, LeadSignals, ScoreWeights};
use crate::service::*;
use crate::start::{SlotStart, StartProblem};
use crate::tenant::{KeywordReplies, SmsHealth, SmsSender, Tenant};
use crate::testing::{
    ManualClock, SeededRandom, base_time, create_tenant, join2, random_call_id, random_phone,
    tenant_config,
};

mod appointments;
mod availability;
mod calls;
mod confirmation;
mod holds;
mod inbound;
mod links;
mod otp;
mod outside;
mod providers;
mod tenants;
mod waitlist;

struct Harness {
    service: BookingService,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    tenant: Tenant,
}

async fn harness() -> Harness {
    harness_with(ServiceConfig::default()).await
}

async fn harness_with(config: ServiceConfig) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(base_time()));
    let mut cfg = tenant_config("Smile Dental");
    cfg.alert_numbers = vec![random_phone(), random_phone()];
    let tenant = store
        .create_tenant(
            crate::testing::random_tenant_id(),
            &cfg,
            Some(&crate::testing::sms_account()),
        )
        .await
        .unwrap();
    let service = BookingService::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        Arc::new(SeededRandom::new(42)),
        OtpHasher::new(vec![9u8; 32]).unwrap(),
        config,
    );
    Harness {
        service,
        store,
        clock,
        tenant,
    }
}

/// A caller on a call.
struct Caller {
    ctx: CallContext,
    phone: PhoneNumber,
}

impl Harness {
    fn caller(&self) -> Caller {
        let phone = random_phone();
        Caller {
            ctx: CallContext {
                tenant: self.tenant.clone(),
                call_id: Some(random_call_id()),
                caller: Some(phone.clone()),
            },
            phone,
        }
    }

    /// The same number calling again.
    fn calls_again(&self, c: &Caller) -> Caller {
        Caller {
            ctx: CallContext {
                tenant: self.tenant.clone(),
                call_id: Some(random_call_id()),
                caller: Some(c.phone.clone()),
            },
            phone: c.phone.clone(),
        }
    }

    async fn messages(&self) -> Vec<OutboundMessage> {
        self.store
            .list_messages(self.tenant.id, 10_000)
            .await
            .unwrap()
    }

    async fn by_key(&self, key: &DedupeKey) -> Option<OutboundMessage> {
        self.store
            .message_by_key(self.tenant.id, key)
            .await
            .unwrap()
    }

    async fn count_key(&self, key: &DedupeKey) -> usize {
        self.messages()
            .await
            .iter()
            .filter(|m| &m.dedupe_key == key)
            .count()
    }

    /// The code in the newest OTP text to `to`.
    async fn last_code(&self, to: &PhoneNumber) -> String {
        let msgs = self.messages().await;
        let m = msgs
            .iter()
            .find(|m| m.kind == MessageKind::Otp && &m.to == to)
            .expect("an OTP text");
        code_in(m)
    }

    /// A phone cancel as the model makes it: without a code (which texts one to the number on
    /// the appointment), then again with the code that number got.
    async fn cancel_by_phone(&self, ctx: &CallContext, id: Option<BookingId>) -> CancelOutcome {
        let first = self
            .service
            .cancel_appointment(ctx, id, None)
            .await
            .unwrap();
        let CancelOutcome::NeedsCode(texted) = &first else {
            return first;
        };
        let code = self.newest_code().await;
        self.service
            .cancel_appointment(ctx, Some(texted.appointment_id), Some(&attempt(&code)))
            .await
            .unwrap()
    }

    /// As [`Harness::cancel_by_phone`], for a move.
    async fn reschedule_by_phone(
        &self,
        ctx: &CallContext,
        id: Option<BookingId>,
        new_start: &str,
    ) -> RescheduleOutcome {
        let first = self
            .service
            .reschedule_appointment(ctx, id, &at(new_start), None)
            .await
            .unwrap();
        let RescheduleOutcome::NeedsCode(texted) = &first else {
            return first;
        };
        let code = self.newest_code().await;
        self.service
            .reschedule_appointment(
                ctx,
                Some(texted.appointment_id),
                &at(new_start),
                Some(&attempt(&code)),
            )
            .await
            .unwrap()
    }

    async fn newest_code(&self) -> String {
        let msgs = self.messages().await;
        code_in(
            msgs.iter()
                .find(|m| m.kind == MessageKind::Otp)
                .expect("an OTP text"),
        )
    }

    async fn status(&self, id: BookingId) -> BookingStatus {
        self.store
            .booking(self.tenant.id, id)
            .await
            .unwrap()
            .unwrap()
            .status
    }
}

fn code_in(m: &OutboundMessage) -> String {
    let mut run = String::new();
    for c in m.body.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else if run.len() == 6 {
            break;
        } else {
            run.clear();
        }
    }
    assert_eq!(run.len(), 6, "no 6-digit code in {:?}", m.body);
    run
}

impl Harness {
    async fn reserve(&self, c: &Caller, start: &str) -> BookingId {
        match self
            .service
            .reserve_slot(
                &c.ctx,
                slot(&at(start), "Teeth Whitening", "Ada Lovelace", None),
            )
            .await
            .unwrap()
        {
            ReserveOutcome::Held { hold_id, .. } => hold_id,
            other => panic!("not held: {other:?}"),
        }
    }

    /// Reserve, send a code, verify it: the appointment id.
    async fn book(&self, c: &Caller, start: &str) -> BookingId {
        let hold = self.reserve(c, start).await;
        let sent = self.service.send_otp(&c.ctx, hold, None).await.unwrap();
        assert!(matches!(sent, SendOtpOutcome::Sent { .. }), "{sent:?}");
        let code = self.last_code(&c.phone).await;
        match self
            .service
            .verify_otp(&c.ctx, hold, &attempt(&code))
            .await
            .unwrap()
        {
            VerifyOutcome::Confirmed { appointment_id, .. } => appointment_id,
            other => panic!("not confirmed: {other:?}"),
        }
    }
}

/// Tuesday 2030-03-05 at `hh:mm` New York time (EST).
fn tue(hh: u8, mm: u8) -> String {
    format!("2030-03-05T{hh:02}:{mm:02}:00-05:00")
}

/// A start as written in these tests: with an offset, exact; without, the clinic's wall clock.
fn at(s: &str) -> SlotStart {
    match s.parse::<Timestamp>() {
        Ok(t) => SlotStart::Exact(t),
        Err(_) => SlotStart::Local(s.parse().unwrap()),
    }
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// `reserve_slot`'s input.
fn slot(
    start: &SlotStart,
    service: &str,
    caller_name: &str,
    phone: Option<PhoneNumber>,
) -> ReserveSlot {
    ReserveSlot {
        start: *start,
        service: service.into(),
        caller_name: caller_name.into(),
        phone,
        provider: None,
    }
}

/// An instant as RFC 3339 on the test clinic's clock (New York).
fn local(t: Timestamp) -> String {
    t.to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Whether an outcome is what was asked for (what the model is told as `ok`).
trait Done {
    fn ok(&self) -> bool;
}

impl Done for AvailabilityOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Available { .. })
    }
}
impl Done for ReserveOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Held { .. })
    }
}
impl Done for SendOtpOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Sent { .. } | Self::AlreadyConfirmed { .. })
    }
}
impl Done for VerifyOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Confirmed { .. })
    }
}
impl Done for ConfirmationSmsOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Status { .. })
    }
}
impl Done for LeadOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Captured { .. })
    }
}
impl Done for CancelOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
}
impl Done for RescheduleOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Rescheduled { .. })
    }
}

/// A code as the caller reads it back.
fn attempt(code: &str) -> OtpAttempt {
    OtpAttempt::from_digits(code).expect("digits")
}
