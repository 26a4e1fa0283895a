//! Property: whatever several callers do, in any order (reserve, send a code, verify it right or
//! wrong, let time pass, cancel, reschedule, two verifies at once), no two bookings that occupy
//! time overlap, and every booking that was ever confirmed has exactly one confirmation and one
//! reminder queued (a cancelled one's reminder withdrawn), and no other booking has either.

use std::sync::Arc;

use booking_core::booking::{BookingStatus, Interval};
use booking_core::memory::MemoryStore;
use booking_core::otp::{OtpAttempt, OtpHasher};
use booking_core::outbox::{DedupeKey, MessageKind, MessageStatus};
use booking_core::ports::{BookingStore, Clock, OutboxStore, TenantStore};
use booking_core::service::{
    BookingService, CallContext, CancelOutcome, RescheduleOutcome, ReserveOutcome, ReserveSlot,
    ServiceConfig, VerifyOutcome,
};
use booking_core::start::SlotStart;
use booking_core::testing::{
    ManualClock, SeededRandom, base_time, join2, random_call_id, random_phone, random_tenant_id,
    sms_account, tenant_config,
};
use booking_core::{BookingId, PhoneNumber};
use jiff::SignedDuration;
use proptest::prelude::*;

const CALLERS: usize = 3;
const SLOTS: usize = 10;

#[derive(Clone, Debug)]
enum Op {
    Reserve { caller: usize, slot: usize },
    SendOtp { caller: usize },
    Verify { caller: usize, right: bool },
    VerifyTwiceAtOnce { caller: usize },
    Book { caller: usize, slot: usize },
    Advance { minutes: i64 },
    Cancel { caller: usize },
    Reschedule { caller: usize, slot: usize },
    Housekeeping,
}

fn op() -> impl Strategy<Value = Op> {
    let caller = 0..CALLERS;
    let slot = 0..SLOTS;
    prop_oneof![
        4 => (caller.clone(), slot.clone()).prop_map(|(caller, slot)| Op::Reserve { caller, slot }),
        3 => caller.clone().prop_map(|caller| Op::SendOtp { caller }),
        3 => (caller.clone(), any::<bool>()).prop_map(|(caller, right)| Op::Verify { caller, right }),
        1 => caller.clone().prop_map(|caller| Op::VerifyTwiceAtOnce { caller }),
        3 => (caller.clone(), slot.clone()).prop_map(|(caller, slot)| Op::Book { caller, slot }),
        2 => (1i64..12).prop_map(|minutes| Op::Advance { minutes }),
        2 => caller.clone().prop_map(|caller| Op::Cancel { caller }),
        2 => (caller, slot).prop_map(|(caller, slot)| Op::Reschedule { caller, slot }),
        1 => Just(Op::Housekeeping),
    ]
}

/// Tuesday 2030-03-05 from 09:00 EST every 30 minutes; the service cycles through 30, 60 and 90
/// minutes, so neighbouring slots overlap in different ways.
fn slot(i: usize) -> (SlotStart, &'static str) {
    let minutes = 9 * 60 + 30 * i;
    let start = format!(
        "2030-03-05T{:02}:{:02}:00-05:00",
        minutes / 60,
        minutes % 60
    );
    let start = SlotStart::Exact(start.parse().unwrap());
    let service = ["Checkup", "Teeth Whitening", "Implant Consultation"][i % 3];
    (start, service)
}

struct World {
    service: BookingService,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    callers: Vec<(CallContext, PhoneNumber)>,
    holds: Vec<Option<BookingId>>,
}

impl World {
    async fn new(seed: u64) -> Self {
        let store = Arc::new(MemoryStore::new());
        let tenant = store
            .create_tenant(
                random_tenant_id(),
                &tenant_config("Lifecycle Dental"),
                Some(&sms_account()),
            )
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::new(base_time()));
        let service = BookingService::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            Arc::new(SeededRandom::new(seed)),
            OtpHasher::new(vec![5u8; 32]).unwrap(),
            ServiceConfig::default(),
        );
        let callers = (0..CALLERS)
            .map(|_| {
                let phone = random_phone();
                let ctx = CallContext {
                    tenant: tenant.clone(),
                    call_id: Some(random_call_id()),
                    caller: Some(phone.clone()),
                };
                (ctx, phone)
            })
            .collect();
        Self {
            service,
            store,
            clock,
            callers,
            holds: vec![None; CALLERS],
        }
    }

    async fn code_for(&self, phone: &PhoneNumber) -> Option<String> {
        let tenant = self.callers[0].0.tenant.id;
        let msgs = self.store.list_messages(tenant, 100_000).await.unwrap();
        let m = msgs
            .iter()
            .find(|m| m.kind == MessageKind::Otp && &m.to == phone)?;
        m.body
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .map(str::to_owned)
    }

    async fn reserve(&mut self, caller: usize, i: usize) {
        let (start, service) = slot(i);
        let ctx = &self.callers[caller].0;
        let out = self
            .service
            .reserve_slot(
                ctx,
                ReserveSlot {
                    start,
                    service: service.into(),
                    caller_name: "Caller".into(),
                    phone: None,
                    provider: None,
                },
            )
            .await
            .unwrap();
        if let ReserveOutcome::Held { hold_id, .. } = out {
            self.holds[caller] = Some(hold_id);
        }
    }

    async fn send(&self, caller: usize) {
        if let Some(hold) = &self.holds[caller] {
            self.service
                .send_otp(&self.callers[caller].0, *hold, None)
                .await
                .unwrap();
        }
    }

    async fn verify(&self, caller: usize, right: bool) {
        let Some(hold) = &self.holds[caller] else {
            return;
        };
        let (ctx, phone) = &self.callers[caller];
        let code = match (right, self.code_for(phone).await) {
            (true, Some(code)) => code,
            _ => "000000".to_owned(),
        };
        self.service
            .verify_otp(ctx, *hold, &attempt(&code))
            .await
            .unwrap();
    }

    async fn apply(&mut self, op: &Op) {
        match *op {
            Op::Reserve { caller, slot } => self.reserve(caller, slot).await,
            Op::SendOtp { caller } => self.send(caller).await,
            Op::Verify { caller, right } => self.verify(caller, right).await,
            Op::VerifyTwiceAtOnce { caller } => {
                let Some(hold) = self.holds[caller] else {
                    return;
                };
                let (ctx, phone) = &self.callers[caller];
                let code = self
                    .code_for(phone)
                    .await
                    .unwrap_or_else(|| "000000".into());
                let (a, b) = join2(
                    self.service.verify_otp(ctx, hold, &attempt(&code)),
                    self.service.verify_otp(ctx, hold, &attempt(&code)),
                )
                .await;
                let (a, b) = (a.unwrap(), b.unwrap());
                let confirmed = |v: &VerifyOutcome| matches!(v, VerifyOutcome::Confirmed { .. });
                assert_eq!(
                    confirmed(&a),
                    confirmed(&b),
                    "two verifies of one code disagree: {a:?} / {b:?}"
                );
            }
            Op::Book { caller, slot } => {
                self.reserve(caller, slot).await;
                self.send(caller).await;
                self.verify(caller, true).await;
            }
            Op::Advance { minutes } => self.clock.advance(SignedDuration::from_mins(minutes)),
            // As the model does it: pick one if asked, and read back the code texted to the
            // number on the appointment.
            Op::Cancel { caller } => {
                let (ctx, phone) = &self.callers[caller];
                let (mut id, mut code) = (None::<BookingId>, None::<String>);
                for _ in 0..3 {
                    let out = self
                        .service
                        .cancel_appointment(ctx, id, code.as_deref().map(attempt).as_ref())
                        .await
                        .unwrap();
                    match out {
                        CancelOutcome::ChooseOne { appointments } => {
                            id = Some(appointments[0].appointment_id);
                        }
                        CancelOutcome::NeedsCode(texted) => {
                            id = Some(texted.appointment_id);
                            code = self.code_for(phone).await;
                        }
                        _ => break,
                    }
                }
            }
            Op::Reschedule { caller, slot: i } => {
                let (ctx, phone) = &self.callers[caller];
                let (start, _) = slot(i);
                let (mut id, mut code) = (None::<BookingId>, None::<String>);
                for _ in 0..3 {
                    let out = self
                        .service
                        .reschedule_appointment(
                            ctx,
                            id,
                            &start,
                            code.as_deref().map(attempt).as_ref(),
                        )
                        .await
                        .unwrap();
                    match out {
                        RescheduleOutcome::ChooseOne { appointments } => {
                            id = Some(appointments[0].appointment_id);
                        }
                        RescheduleOutcome::NeedsCode(texted) => {
                            id = Some(texted.appointment_id);
                            code = self.code_for(phone).await;
                        }
                        _ => break,
                    }
                }
            }
            Op::Housekeeping => {
                self.store.expire_holds(self.clock.now()).await.unwrap();
            }
        }
    }

    /// Returns how many bookings are confirmed now.
    async fn check(&self, history: &[Op]) -> usize {
        let tenant = self.callers[0].0.tenant.id;
        let now = self.clock.now();
        let all_time = Interval::new(
            base_time(),
            base_time() + SignedDuration::from_hours(24 * 30),
        )
        .unwrap();
        let bookings = self.store.list_bookings(tenant, all_time).await.unwrap();
        let occupying: Vec<_> = bookings.iter().filter(|b| b.occupies_at(now)).collect();
        for (i, a) in occupying.iter().enumerate() {
            for b in &occupying[i + 1..] {
                assert!(
                    !a.blocked.overlaps(&b.blocked),
                    "overlapping bookings {a:?} and {b:?} after {history:?}"
                );
            }
        }
        let msgs = self.store.list_messages(tenant, 100_000).await.unwrap();
        let with_key = |key: &DedupeKey| {
            msgs.iter()
                .filter(|m| &m.dedupe_key == key)
                .collect::<Vec<_>>()
        };
        let mut confirmed = 0;
        for b in &bookings {
            let id: BookingId = b.id;
            let conf = with_key(&DedupeKey::confirmation(id));
            let rem = with_key(&DedupeKey::reminder(id));
            if let Some(confirmed_at) = b.confirmed_at {
                assert_eq!(conf.len(), 1, "confirmations of {b:?} after {history:?}");
                assert_eq!(rem.len(), 1, "reminders of {b:?} after {history:?}");
                assert!(
                    rem[0].due_at > confirmed_at && rem[0].due_at < b.slot.start,
                    "{:?}",
                    rem[0]
                );
                if b.status == BookingStatus::Confirmed {
                    confirmed += 1;
                    assert_eq!(rem[0].status, MessageStatus::Pending, "{b:?}");
                } else {
                    assert_eq!(b.status, BookingStatus::Cancelled, "{b:?}");
                    assert_eq!(
                        rem[0].status,
                        MessageStatus::Withdrawn,
                        "{b:?} after {history:?}"
                    );
                }
            } else {
                assert!(
                    conf.is_empty() && rem.is_empty(),
                    "texts for an unconfirmed {b:?} after {history:?}"
                );
            }
        }
        confirmed
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn callers_never_overlap_and_every_appointment_is_texted_once(
        ops in prop::collection::vec(op(), 1..40),
        seed in any::<u64>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut world = World::new(seed).await;
            for (i, op) in ops.iter().enumerate() {
                world.apply(op).await;
                world.check(&ops[..=i]).await;
            }
        });
    }
}

/// The property above is only worth something if its runs confirm, cancel and reschedule: a fixed
/// script that does all three must end with what it did.
#[tokio::test]
async fn the_operations_do_what_they_say() {
    let mut world = World::new(1).await;
    world.apply(&Op::Book { caller: 0, slot: 2 }).await; // 10:00-11:30
    world.apply(&Op::Book { caller: 1, slot: 6 }).await; // 12:00-12:30
    world.apply(&Op::Book { caller: 2, slot: 3 }).await; // 10:30-11:00: taken
    assert_eq!(world.check(&[]).await, 2);
    world.apply(&Op::Reschedule { caller: 1, slot: 8 }).await; // 13:00
    world.apply(&Op::Cancel { caller: 0 }).await;
    assert_eq!(world.check(&[]).await, 1);
    world.apply(&Op::Book { caller: 2, slot: 3 }).await; // free now
    assert_eq!(world.check(&[]).await, 2);
    let tenant = world.callers[0].0.tenant.id;
    let window = Interval::new(base_time(), base_time() + SignedDuration::from_hours(48)).unwrap();
    let bookings = world.store.list_bookings(tenant, window).await.unwrap();
    let statuses: Vec<_> = bookings
        .iter()
        .map(|b| (b.slot.start.to_string(), b.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("2030-03-05T15:00:00Z".to_owned(), BookingStatus::Cancelled),
            ("2030-03-05T15:30:00Z".to_owned(), BookingStatus::Confirmed),
            ("2030-03-05T17:00:00Z".to_owned(), BookingStatus::Cancelled),
            ("2030-03-05T18:00:00Z".to_owned(), BookingStatus::Confirmed),
        ]
    );
}

fn attempt(code: &str) -> OtpAttempt {
    OtpAttempt::from_digits(code).expect("digits")
}
