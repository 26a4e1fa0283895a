//! The use-case rules, on the in-memory store with a manual clock and seeded randomness.
//!
//! The clinic is in New York, open Monday to Friday 9:00–17:00, with 2 hours' notice; "now" is
//! Monday 2030-03-04 09:00 EST unless a test moves it.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, HOLD_TTL};
use crate::calls::{CallReport, CallStart, CapturedLead};
use crate::ids::{BookingId, CallId, MessageSid};
use crate::memory::MemoryStore;
use crate::messages::InboundKeyword;
use crate::otp::{OtpHasher, OtpPolicy, RateWindow, SendLimit};
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, OutboundMessage};
use crate::phone::PhoneNumber;
use crate::ports::{BookingStore, CallStore, ContactStore, OutboxStore, TenantStore};
use crate::scoring::{self, LeadSignals, ScoreWeights};
use crate::service::*;
use crate::tenant::{KeywordReplies, SmsHealth, SmsSender, Tenant};
use crate::testing::{
    ManualClock, SeededRandom, base_time, create_tenant, join2, random_call_id, random_phone,
    tenant_config,
};

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
    async fn cancel_by_phone(&self, ctx: &CallContext, id: Option<&str>) -> CancelOutcome {
        let first = self
            .service
            .cancel_appointment(ctx, id, None)
            .await
            .unwrap();
        let CancelOutcome::NeedsCode(texted) = &first else {
            return first;
        };
        let code = self.newest_code().await;
        let id = texted.appointment_id.to_string();
        self.service
            .cancel_appointment(ctx, Some(&id), Some(&code))
            .await
            .unwrap()
    }

    /// As [`Harness::cancel_by_phone`], for a move.
    async fn reschedule_by_phone(
        &self,
        ctx: &CallContext,
        id: Option<&str>,
        new_start: &str,
    ) -> RescheduleOutcome {
        let first = self
            .service
            .reschedule_appointment(ctx, id, new_start, None)
            .await
            .unwrap();
        let RescheduleOutcome::NeedsCode(texted) = &first else {
            return first;
        };
        let code = self.newest_code().await;
        let id = texted.appointment_id.to_string();
        self.service
            .reschedule_appointment(ctx, Some(&id), new_start, Some(&code))
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
            .reserve_slot(&c.ctx, start, "Teeth Whitening", "Ada Lovelace", None)
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
        let sent = self
            .service
            .send_otp(&c.ctx, &hold.to_string(), None)
            .await
            .unwrap();
        assert!(matches!(sent, SendOtpOutcome::Sent { .. }), "{sent:?}");
        let code = self.last_code(&c.phone).await;
        match self
            .service
            .verify_otp(&c.ctx, &hold.to_string(), &code)
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

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn one_line_json<T: ToolResult>(r: &T) -> serde_json::Value {
    let v = r.to_json();
    let line = serde_json::to_string(&v).unwrap();
    assert!(!line.contains('\n'), "{line}");
    assert_eq!(v["ok"], serde_json::Value::Bool(r.ok()));
    assert!(!r.message().is_empty() && !r.message().contains('\n'));
    v
}

// --- check_availability ---------------------------------------------------------------------

#[tokio::test]
async fn availability_without_a_date_starts_today_after_the_notice() {
    let h = harness().await;
    let c = h.caller();
    let out = h
        .service
        .check_availability(&c.ctx, "Teeth Whitening", None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available {
        slots,
        requested_day_full,
        ..
    } = &out
    else {
        panic!("{out:?}");
    };
    assert!(!requested_day_full);
    assert!(!slots.is_empty() && slots.len() <= 4, "{slots:?}");
    // 09:00 now, 2 hours' notice: 11:00 at the earliest, today.
    assert_eq!(slots[0].start, "2030-03-04T11:00:00-05:00");
    assert_eq!(slots[0].spoken, "Monday March 4 at 11:00 AM");
    for s in slots {
        assert!(s.at >= base_time() + SignedDuration::from_hours(2));
        assert!(s.start.ends_with("-05:00"), "{}", s.start);
    }
    let v = one_line_json(&out);
    assert_eq!(v["slots"][0]["start"], "2030-03-04T11:00:00-05:00");
    assert_eq!(v["slots"][0]["spoken"], "Monday March 4 at 11:00 AM");
    assert!(
        out.message().contains("Monday March 4 at 11:00 AM"),
        "{}",
        out.message()
    );
}

#[tokio::test]
async fn availability_without_a_date_moves_to_the_next_open_day() {
    let h = harness().await;
    // Friday 16:00: nothing left today; the weekend is closed.
    h.clock.set(ts("2030-03-08T21:00:00Z"));
    let out = h
        .service
        .check_availability(&h.caller().ctx, "Teeth Whitening", None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    // Monday after the spring-forward: EDT.
    assert!(
        slots[0].start.starts_with("2030-03-11T09:00:00-04:00"),
        "{:?}",
        slots[0]
    );
}

#[tokio::test]
async fn availability_looks_as_far_as_the_horizon() {
    let h = harness().await;
    // Closed for the next three weeks.
    let mut cfg = h.tenant.config.clone();
    let today = jiff::civil::date(2030, 3, 4);
    for d in 0..21 {
        cfg.date_overrides.push(crate::tenant::DateOverride {
            date: today.saturating_add(jiff::ToSpan::days(d)),
            hours: crate::tenant::DayHours::closed(),
            note: Some("holiday".into()),
        });
    }
    let tenant = h
        .store
        .update_tenant(h.tenant.id, &cfg, crate::ports::SmsAccountChange::Keep)
        .await
        .unwrap();
    let mut ctx = h.caller().ctx;
    ctx.tenant = tenant;
    let out = h
        .service
        .check_availability(&ctx, "Checkup", None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        slots[0].start.starts_with("2030-03-25T09:00"),
        "{:?}",
        slots[0]
    );
    // Nothing at all within the horizon.
    ctx.tenant.config.rules.horizon_days = 10;
    let out = h
        .service
        .check_availability(&ctx, "Checkup", None, None)
        .await
        .unwrap();
    assert!(
        matches!(out, AvailabilityOutcome::NoneAvailable { .. }),
        "{out:?}"
    );
    assert!(!out.ok() && out.message().contains("capture_lead"));
}

#[tokio::test]
async fn availability_on_a_date_after_a_time() {
    let h = harness().await;
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "teeth whitening",
            Some("2030-03-05"),
            Some("14:00"),
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available {
        slots,
        requested_day_full,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(!requested_day_full);
    for s in slots {
        assert!(s.start.starts_with("2030-03-05T"), "{}", s.start);
        assert!(s.at >= ts(&tue(14, 0)), "{}", s.start);
    }
}

#[tokio::test]
async fn availability_skips_held_times() {
    let h = harness().await;
    let other = h.caller();
    h.reserve(&other, &tue(10, 0)).await;
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Teeth Whitening",
            Some("2030-03-05"),
            Some("09:00"),
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let (busy_start, busy_end) = (ts(&tue(10, 0)), ts(&tue(11, 0)));
    for s in slots {
        let end = s.at + SignedDuration::from_hours(1);
        assert!(
            end <= busy_start || s.at >= busy_end,
            "{} overlaps the hold",
            s.start
        );
    }
}

#[tokio::test]
async fn availability_sees_bookings_just_past_the_day() {
    // Looking at one day only, so that the busy times fetched are that day's.
    let h = harness_with(ServiceConfig {
        search_days: 1,
        ..ServiceConfig::default()
    })
    .await;
    // Open around the clock with an hour kept free after each appointment, so that a late
    // slot's buffer runs into the next day.
    let mut cfg = h.tenant.config.clone();
    cfg.rules.buffer_after = 60;
    let all_day = crate::tenant::DayHours::new(vec![
        crate::tenant::OpenRange::parse("00:00", "24:00").unwrap(),
    ])
    .unwrap();
    for d in [
        jiff::civil::Weekday::Monday,
        jiff::civil::Weekday::Tuesday,
        jiff::civil::Weekday::Wednesday,
    ] {
        cfg.weekly_hours.set(d, all_day.clone());
    }
    let tenant = h
        .store
        .update_tenant(h.tenant.id, &cfg, crate::ports::SmsAccountChange::Keep)
        .await
        .unwrap();
    let h = Harness { tenant, ..h };
    // Someone holds Wednesday 00:00-01:00; Tuesday 22:30 (one hour, then an hour's buffer)
    // would run into it.
    h.reserve(&h.caller(), "2030-03-06T00:00:00-05:00").await;
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Teeth Whitening",
            Some("2030-03-05"),
            Some("21:00"),
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let held = ts("2030-03-06T00:00:00-05:00");
    assert!(!slots.is_empty());
    for s in slots {
        assert!(
            s.at + SignedDuration::from_hours(2) <= held,
            "{} runs into the hold just past midnight",
            s.start
        );
    }
}

#[tokio::test]
async fn availability_on_a_closed_day_offers_the_next_days() {
    let h = harness().await;
    let out = h
        .service
        .check_availability(&h.caller().ctx, "Checkup", Some("2030-03-09"), None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available {
        slots,
        requested_day_full,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(requested_day_full);
    assert!(slots[0].start.starts_with("2030-03-11T"), "{:?}", slots[0]);
    assert!(
        out.message().starts_with("Nothing is free"),
        "{}",
        out.message()
    );
}

#[tokio::test]
async fn availability_refuses_what_it_cannot_read_or_serve() {
    let h = harness().await;
    let ctx = h.caller().ctx;
    let svc = &h.service;
    let unknown = svc
        .check_availability(&ctx, "Haircut", None, None)
        .await
        .unwrap();
    assert!(!unknown.ok());
    let m = unknown.message();
    assert!(
        m.contains("Checkup")
            && m.contains("Teeth Whitening")
            && m.contains("Implant Consultation"),
        "{m}"
    );
    one_line_json(&unknown);

    for (date, after) in [
        (Some("next tuesday"), None),
        (Some("2030-02-30"), None),
        (Some("2030-03-01"), None), // past
        (Some("2031-03-05"), None), // beyond the 60-day horizon
        (Some("2030-03-05"), Some("2pm")),
        (Some("2030-03-05"), Some("25:00")),
    ] {
        let out = svc
            .check_availability(&ctx, "Checkup", date, after)
            .await
            .unwrap();
        assert!(
            matches!(out, AvailabilityOutcome::Refused { .. }),
            "{date:?} {after:?}: {out:?}"
        );
    }
    // "whitening" is unambiguous; "consult" too.
    for spoken in ["whitening", "Implant consultation"] {
        let out = svc
            .check_availability(&ctx, spoken, None, None)
            .await
            .unwrap();
        assert!(out.ok(), "{spoken}: {out:?}");
    }
}

// --- reserve_slot ---------------------------------------------------------------------------

#[tokio::test]
async fn reserve_holds_for_ten_minutes() {
    let h = harness().await;
    let c = h.caller();
    let out = h
        .service
        .reserve_slot(
            &c.ctx,
            &tue(10, 0),
            "Teeth Whitening",
            " Ada Lovelace ",
            None,
        )
        .await
        .unwrap();
    let ReserveOutcome::Held {
        hold_id,
        expires_at,
        spoken,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(expires_at, "2030-03-04T09:10:00-05:00");
    assert_eq!(spoken, "Tuesday March 5 at 10:00 AM");
    let b = h
        .store
        .booking(h.tenant.id, *hold_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.status, BookingStatus::Held);
    assert_eq!(b.caller_phone, c.phone);
    assert_eq!(b.caller_name, "Ada Lovelace");
    assert_eq!(b.call_id, c.ctx.call_id);
    assert_eq!(b.hold_expires_at, Some(base_time() + HOLD_TTL));
    let v = one_line_json(&out);
    assert_eq!(v["hold_id"], hold_id.to_string());
    assert_eq!(v["expires_at"], "2030-03-04T09:10:00-05:00");
}

#[tokio::test]
async fn reserve_taken_slot_offers_alternatives_near_it() {
    let h = harness().await;
    h.reserve(&h.caller(), &tue(10, 0)).await;
    let out = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            &tue(10, 30),
            "Teeth Whitening",
            "Grace",
            None,
        )
        .await
        .unwrap();
    let ReserveOutcome::Taken { alternatives } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(alternatives.len(), 3, "{alternatives:?}");
    let starts: Vec<&str> = alternatives.iter().map(|a| a.start.as_str()).collect();
    // The free starts closest to 10:30 on that day, in order.
    assert_eq!(starts, vec![tue(9, 0), tue(11, 0), tue(11, 30)]);
    let v = one_line_json(&out);
    assert_eq!(v["alternatives"][0]["start"], tue(9, 0));
    assert!(
        out.message().contains("Tuesday March 5 at 9:00 AM"),
        "{}",
        out.message()
    );
}

#[tokio::test]
async fn reserve_again_by_the_same_call_is_the_same_hold() {
    let h = harness().await;
    let c = h.caller();
    let first = h.reserve(&c, &tue(10, 0)).await;
    // Local form of the same start.
    let again = h.reserve(&c, "2030-03-05T10:00").await;
    assert_eq!(first, again);
    let mine = h
        .store
        .bookings_for_call(h.tenant.id, c.ctx.call_id.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
}

#[tokio::test]
async fn reserve_another_time_releases_the_calls_hold() {
    let h = harness().await;
    let c = h.caller();
    let first = h.reserve(&c, &tue(10, 0)).await;
    let second = h.reserve(&c, &tue(10, 30)).await;
    assert_ne!(first, second);
    assert_eq!(h.status(first).await, BookingStatus::Released);
    assert_eq!(h.status(second).await, BookingStatus::Held);
}

#[tokio::test]
async fn reserve_after_another_hold_expired() {
    let h = harness().await;
    let a = h.reserve(&h.caller(), &tue(10, 0)).await;
    h.clock.advance(HOLD_TTL);
    let b = h.reserve(&h.caller(), &tue(10, 0)).await;
    assert_ne!(a, b);
    assert_eq!(h.status(a).await, BookingStatus::Expired);
}

#[tokio::test]
async fn reserve_refuses_by_the_rules() {
    let h = harness().await;
    let c = h.caller();
    let svc = &h.service;
    let reserve = |start: String| {
        let ctx = c.ctx.clone();
        async move {
            svc.reserve_slot(&ctx, &start, "Teeth Whitening", "Ada", None)
                .await
                .unwrap()
        }
    };
    // Saturday: closed; alternatives on the next open days.
    let out = reserve("2030-03-09T10:00:00-05:00".into()).await;
    let ReserveOutcome::Refused {
        reason,
        alternatives,
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(reason.contains("closed"), "{reason}");
    assert!(!alternatives.is_empty());
    // Off the grid.
    let out = reserve(tue(10, 15)).await;
    let ReserveOutcome::Refused { reason, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("every 30 minutes"), "{reason}");
    // Too soon: 9:30 today with 2 hours' notice.
    let out = reserve("2030-03-04T09:30".into()).await;
    let ReserveOutcome::Refused {
        reason,
        alternatives,
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(reason.contains("2 hours"), "{reason}");
    assert!(
        alternatives
            .iter()
            .all(|a| a.at >= base_time() + SignedDuration::from_hours(2))
    );
    // In the past.
    let out = reserve("2030-03-01T10:00:00-05:00".into()).await;
    assert!(matches!(out, ReserveOutcome::Refused { .. }), "{out:?}");
    // Not a time.
    let out = reserve("tomorrow at ten".into()).await;
    let ReserveOutcome::Refused { reason, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("check_availability"), "{reason}");
    // A local time the clocks skip (spring forward, 2030-03-10).
    let out = reserve("2030-03-10T02:30".into()).await;
    let ReserveOutcome::Refused { reason, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("does not exist"), "{reason}");
    // Unknown service, missing name.
    let out = svc
        .reserve_slot(&c.ctx, &tue(10, 0), "Haircut", "Ada", None)
        .await
        .unwrap();
    assert!(
        !out.ok() && out.message().contains("Teeth Whitening"),
        "{out:?}"
    );
    let out = svc
        .reserve_slot(&c.ctx, &tue(10, 0), "Checkup", "  ", None)
        .await
        .unwrap();
    assert!(!out.ok(), "{out:?}");
    // Nothing was held.
    let held = h
        .store
        .bookings_for_call(h.tenant.id, c.ctx.call_id.as_ref().unwrap())
        .await
        .unwrap();
    assert!(held.is_empty(), "{held:?}");
}

#[tokio::test]
async fn reserve_with_a_hidden_caller_id_needs_a_number() {
    let h = harness().await;
    let mut ctx = h.caller().ctx;
    ctx.caller = None;
    let out = h
        .service
        .reserve_slot(&ctx, &tue(10, 0), "Checkup", "Ada", None)
        .await
        .unwrap();
    assert!(
        matches!(&out, ReserveOutcome::Refused { reason, .. } if reason.contains("hidden")),
        "{out:?}"
    );
    let bad = h
        .service
        .reserve_slot(&ctx, &tue(10, 0), "Checkup", "Ada", Some("925 420 7621"))
        .await
        .unwrap();
    assert!(!bad.ok(), "{bad:?}");
    let out = h
        .service
        .reserve_slot(&ctx, &tue(10, 0), "Checkup", "Ada", Some("+1 925 420 7621"))
        .await
        .unwrap();
    let ReserveOutcome::Held { hold_id, .. } = out else {
        panic!("{out:?}")
    };
    let b = h
        .store
        .booking(h.tenant.id, hold_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.caller_phone.as_str(), "+19254207621");
}

// --- send_otp -------------------------------------------------------------------------------

#[tokio::test]
async fn send_otp_texts_the_caller_id() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let out = h
        .service
        .send_otp(&c.ctx, &hold.to_string(), None)
        .await
        .unwrap();
    let SendOtpOutcome::Sent { sent_to, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(sent_to, &c.phone.masked());
    assert!(out.message().contains(c.phone.last_four()));
    let v = one_line_json(&out);
    assert_eq!(v["sent_to"], c.phone.masked());
    let otps: Vec<_> = h
        .messages()
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::Otp)
        .collect();
    assert_eq!(otps.len(), 1);
    assert_eq!(otps[0].to, c.phone);
    assert_eq!(otps[0].booking, Some(hold));
    assert_eq!(otps[0].due_at, base_time());
    assert!(otps[0].body.contains("Smile Dental"), "{}", otps[0].body);
    h.last_code(&c.phone).await;
}

#[tokio::test]
async fn send_otp_to_another_mobile() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let other = random_phone();
    let out = h
        .service
        .send_otp(&c.ctx, &hold.to_string(), Some(other.as_str()))
        .await
        .unwrap();
    assert!(
        matches!(&out, SendOtpOutcome::Sent { sent_to, .. } if *sent_to == other.masked()),
        "{out:?}"
    );
    // The confirmation goes to the number that proved itself.
    let code = h.last_code(&other).await;
    let v = h
        .service
        .verify_otp(&c.ctx, &hold.to_string(), &code)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        h.by_key(&DedupeKey::confirmation(hold)).await.unwrap().to,
        other
    );
    assert_eq!(
        h.by_key(&DedupeKey::reminder(hold)).await.unwrap().to,
        other
    );
}

#[tokio::test]
async fn send_otp_refuses_bad_input_without_texting() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    let svc = &h.service;
    for (id, phone) in [
        (hold.to_string(), Some("0925 420 7621")),
        (hold.to_string(), Some("+1 call me")),
        ("not-an-id".to_owned(), None),
        (BookingId::from_random_bytes([3; 16]).to_string(), None),
    ] {
        let out = svc.send_otp(&c.ctx, &id, phone).await.unwrap();
        assert!(
            matches!(out, SendOtpOutcome::Refused { .. }),
            "{id} {phone:?}: {out:?}"
        );
    }
    // Another caller on another call cannot use this hold.
    let out = svc
        .send_otp(&h.caller().ctx, &hold.to_string(), None)
        .await
        .unwrap();
    assert!(matches!(out, SendOtpOutcome::Refused { .. }), "{out:?}");
    assert!(h.messages().await.is_empty());
}

#[tokio::test]
async fn send_otp_refuses_an_opted_out_number_and_a_clinic_that_cannot_text() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await;
    h.store
        .set_opted_out(h.tenant.id, &c.phone, true, base_time())
        .await
        .unwrap();
    let out = h
        .service
        .send_otp(&c.ctx, &hold.to_string(), None)
        .await
        .unwrap();
    assert!(
        matches!(&out, SendOtpOutcome::Refused { reason } if reason.contains("STOP")),
        "{out:?}"
    );

    let mut ctx = h.caller().ctx;
    let hold = h
        .reserve(
            &Caller {
                ctx: ctx.clone(),
                phone: ctx.caller.clone().unwrap(),
            },
            &tue(14, 0),
        )
        .await;
    ctx.tenant.sms_health = SmsHealth::NeedsAttention {
        code: 20003,
        message: "Authenticate".into(),
    };
    let out = h
        .service
        .send_otp(&ctx, &hold.to_string(), None)
        .await
        .unwrap();
    assert!(
        matches!(&out, SendOtpOutcome::Refused { reason } if reason.contains("capture_lead")),
        "{out:?}"
    );
    assert!(h.messages().await.is_empty());
}

#[tokio::test]
async fn send_otp_texts_only_the_countries_the_clinic_allows() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    // The clinic's numbers are American: by default codes go to the United States only.
    for abroad in [
        "+442079460958",
        "+14165550123",
        "+88216123456",
        "+18765550123",
    ] {
        let out = h
            .service
            .send_otp(&c.ctx, &hold, Some(abroad))
            .await
            .unwrap();
        assert!(
            matches!(&out, SendOtpOutcome::Refused { reason } if reason.contains("US")),
            "{abroad}: {out:?}"
        );
    }
    assert!(h.messages().await.is_empty());
    let mut ctx = c.ctx.clone();
    ctx.tenant.config.otp_allowed_countries = vec![
        crate::country::Country::parse("GB").unwrap(),
        crate::country::Country::parse("CA").unwrap(),
    ];
    for allowed in ["+442079460958", "+14165550123"] {
        let out = h
            .service
            .send_otp(&ctx, &hold, Some(allowed))
            .await
            .unwrap();
        assert!(out.ok(), "{allowed}: {out:?}");
    }
    // Now the United States is not among them.
    let out = h.service.send_otp(&ctx, &hold, None).await.unwrap();
    assert!(!out.ok(), "{out:?}");
    // A clinic with no number: the country of its time zone.
    ctx.tenant.config.otp_allowed_countries.clear();
    ctx.tenant.config.called_numbers.clear();
    ctx.tenant.config.zone = crate::tenant::ClinicZone::parse("Europe/London").unwrap();
    let codes = ctx.tenant.config.code_countries();
    assert_eq!(codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["GB"]);
}

#[tokio::test]
async fn send_otp_limits_per_number() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    for _ in 0..5 {
        let out = h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
        assert!(out.ok(), "{out:?}");
    }
    let out = h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::PerNumber
        }
    );
    assert!(!out.ok());
    // Once the window has passed the number may be texted again, from another call (with a new
    // hold: the first one ran out).
    h.clock.advance(SignedDuration::from_mins(11));
    let again = h.calls_again(&c);
    let hold = h.reserve(&again, &tue(10, 0)).await.to_string();
    let out = h.service.send_otp(&again.ctx, &hold, None).await.unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn send_otp_limits_per_call() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            per_number: RateWindow {
                max: 100,
                window: SignedDuration::from_mins(10),
            },
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    for _ in 0..5 {
        assert!(h.service.send_otp(&c.ctx, &hold, None).await.unwrap().ok());
    }
    let out = h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::PerCall
        }
    );
}

#[tokio::test]
async fn send_otp_limits_distinct_numbers_per_call() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    let (n1, n2, n3) = (random_phone(), random_phone(), random_phone());
    for n in [&n1, &n2, &n3] {
        let out = h
            .service
            .send_otp(&c.ctx, &hold, Some(n.as_str()))
            .await
            .unwrap();
        assert!(out.ok(), "{out:?}");
    }
    let out = h
        .service
        .send_otp(&c.ctx, &hold, Some(random_phone().as_str()))
        .await
        .unwrap();
    assert_eq!(
        out,
        SendOtpOutcome::Limited {
            limit: SendLimit::NumbersPerCall
        }
    );
    // A resend to the last number, or to the caller ID, is still allowed.
    assert!(
        h.service
            .send_otp(&c.ctx, &hold, Some(n3.as_str()))
            .await
            .unwrap()
            .ok()
    );
    assert!(h.service.send_otp(&c.ctx, &hold, None).await.unwrap().ok());
}

#[tokio::test]
async fn send_otp_limits_per_tenant() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            per_tenant: RateWindow {
                max: 2,
                window: SignedDuration::from_hours(1),
            },
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    for (i, start) in [tue(9, 0), tue(11, 0), tue(13, 0)].iter().enumerate() {
        let c = h.caller();
        let hold = h.reserve(&c, start).await.to_string();
        let out = h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
        if i < 2 {
            assert!(out.ok(), "{out:?}");
        } else {
            assert_eq!(
                out,
                SendOtpOutcome::Limited {
                    limit: SendLimit::PerTenant
                }
            );
        }
    }
}

// --- verify_otp -----------------------------------------------------------------------------

#[tokio::test]
async fn verify_confirms_and_queues_the_confirmation_and_reminder_together() {
    let h = harness().await;
    let c = h.caller();
    // Wednesday: the reminder is a plain 24 hours before.
    let start = "2030-03-06T10:00:00-05:00";
    let hold = h.reserve(&c, start).await;
    h.service
        .send_otp(&c.ctx, &hold.to_string(), None)
        .await
        .unwrap();
    let code = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_mins(2));
    let out = h
        .service
        .verify_otp(&c.ctx, &hold.to_string(), &code)
        .await
        .unwrap();
    let VerifyOutcome::Confirmed {
        appointment_id,
        status,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(*appointment_id, hold);
    assert_eq!(*status, BookingStatus::Confirmed);
    let v = one_line_json(&out);
    assert_eq!(v["appointment_id"], hold.to_string());
    assert_eq!(v["status"], "confirmed");
    assert_eq!(h.status(hold).await, BookingStatus::Confirmed);
    let conf = h.by_key(&DedupeKey::confirmation(hold)).await.unwrap();
    assert_eq!(conf.kind, MessageKind::Confirmation);
    assert_eq!(conf.due_at, base_time() + SignedDuration::from_mins(2));
    assert_eq!(conf.to, c.phone);
    assert!(conf.body.contains("Smile Dental"));
    let rem = h.by_key(&DedupeKey::reminder(hold)).await.unwrap();
    assert_eq!(rem.kind, MessageKind::Reminder);
    assert_eq!(rem.due_at, ts(start) - SignedDuration::from_hours(24));
    assert_eq!(
        h.messages().await.len(),
        3,
        "the code, the confirmation and the reminder"
    );
}

#[tokio::test]
async fn verify_again_answers_the_same_and_queues_nothing() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let before = h.messages().await.len();
    for code in ["000000", "123456"] {
        let out = h
            .service
            .verify_otp(&c.ctx, &id.to_string(), code)
            .await
            .unwrap();
        assert!(
            matches!(out, VerifyOutcome::Confirmed { appointment_id, .. } if appointment_id == id),
            "{out:?}"
        );
    }
    assert_eq!(h.messages().await.len(), before);
    assert_eq!(h.count_key(&DedupeKey::confirmation(id)).await, 1);
    assert_eq!(h.count_key(&DedupeKey::reminder(id)).await, 1);
}

#[tokio::test]
async fn concurrent_verifies_confirm_once() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    let (a, b) = join2(
        h.service.verify_otp(&c.ctx, &hold, &code),
        h.service.verify_otp(&c.ctx, &hold, &code),
    )
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.ok() && b.ok(), "{a:?} / {b:?}");
    assert_eq!(a, b);
    let id: BookingId = hold.parse().unwrap();
    assert_eq!(h.count_key(&DedupeKey::confirmation(id)).await, 1);
    assert_eq!(h.count_key(&DedupeKey::reminder(id)).await, 1);
}

#[tokio::test]
async fn wrong_codes_count_down_then_the_code_is_dead() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let right = h.last_code(&c.phone).await;
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    // Not a code at all: no try is used.
    let out = h.service.verify_otp(&c.ctx, &hold, "12 34").await.unwrap();
    assert!(
        matches!(&out, VerifyOutcome::Refused { reason } if reason.contains("6 digits")),
        "{out:?}"
    );
    for left in (0..5).rev() {
        let out = h.service.verify_otp(&c.ctx, &hold, wrong).await.unwrap();
        assert_eq!(
            out,
            VerifyOutcome::WrongCode {
                attempts_left: left
            }
        );
        if left == 4 {
            assert_eq!(one_line_json(&out)["attempts_left"], 4);
        }
    }
    let out = h.service.verify_otp(&c.ctx, &hold, &right).await.unwrap();
    assert_eq!(out, VerifyOutcome::TooManyAttempts);
    assert!(out.message().contains("send_otp"));
    // A new code works.
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let fresh = h.last_code(&c.phone).await;
    let out = h.service.verify_otp(&c.ctx, &hold, &fresh).await.unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let old = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_secs(30));
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let new = h.last_code(&c.phone).await;
    if old != new {
        let out = h.service.verify_otp(&c.ctx, &hold, &old).await.unwrap();
        assert!(matches!(out, VerifyOutcome::WrongCode { .. }), "{out:?}");
    }
    let out = h.service.verify_otp(&c.ctx, &hold, &new).await.unwrap();
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn expired_codes_and_holds() {
    let h = harness_with(ServiceConfig {
        otp: OtpPolicy {
            validity: SignedDuration::from_mins(3),
            ..OtpPolicy::default()
        },
        ..ServiceConfig::default()
    })
    .await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    let out = h.service.verify_otp(&c.ctx, &hold, "123456").await.unwrap();
    assert_eq!(out, VerifyOutcome::NoCode);
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    h.clock.advance(SignedDuration::from_mins(3));
    let out = h.service.verify_otp(&c.ctx, &hold, &code).await.unwrap();
    assert_eq!(out, VerifyOutcome::CodeExpired);
    h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    let code = h.last_code(&c.phone).await;
    // The hold runs out (10 minutes after it was made) before this code does.
    h.clock.advance(SignedDuration::from_mins(7));
    let out = h.service.verify_otp(&c.ctx, &hold, &code).await.unwrap();
    assert!(
        matches!(&out, VerifyOutcome::Refused { reason } if reason.contains("reserve_slot")),
        "{out:?}"
    );
    let out = h.service.send_otp(&c.ctx, &hold, None).await.unwrap();
    assert!(matches!(out, SendOtpOutcome::Refused { .. }), "{out:?}");
    assert_eq!(
        h.count_key(&DedupeKey::confirmation(hold.parse().unwrap()))
            .await,
        0
    );
}

#[test]
fn reminder_due_rule() {
    let now = base_time();
    let h = SignedDuration::from_hours;
    let m = SignedDuration::from_mins;
    let due = |start: Timestamp| reminder_due(now, start, h(24), h(1));
    // Far enough: 24 hours before.
    assert_eq!(due(now + h(48)), now + h(24));
    assert_eq!(due(now + h(25)), now + h(1));
    // Within a day: an hour after the confirmation.
    assert_eq!(due(now + h(24)), now + h(1));
    assert_eq!(due(now + h(3)), now + h(1));
    // Sooner than two hours: half-way there.
    assert_eq!(due(now + m(90)), now + m(45));
    assert_eq!(due(now + m(30)), now + m(15));
    for mins in [1, 10, 59, 61, 119, 121, 600, 1439, 1441, 1500, 5000] {
        let start = now + m(mins);
        let d = due(start);
        assert!(d > now && d < start, "{mins} min: {d}");
    }
}

#[tokio::test]
async fn a_booking_for_soon_gets_its_reminder_before_it() {
    let h = harness().await;
    let c = h.caller();
    // Today 12:00, three hours ahead.
    let id = h.book(&c, "2030-03-04T12:00:00-05:00").await;
    let rem = h.by_key(&DedupeKey::reminder(id)).await.unwrap();
    assert_eq!(rem.due_at, base_time() + SignedDuration::from_hours(1));
}

// --- send_confirmation_sms ------------------------------------------------------------------

#[tokio::test]
async fn confirmation_sms_reports_and_never_queues() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let before = h.messages().await.len();
    for _ in 0..5 {
        let out = h
            .service
            .send_confirmation_sms(&c.ctx, &id.to_string())
            .await
            .unwrap();
        assert_eq!(
            out,
            ConfirmationSmsOutcome::Status {
                appointment_id: id,
                sms_status: MessageStatus::Pending
            }
        );
        assert_eq!(one_line_json(&out)["sms_status"], "pending");
    }
    assert_eq!(h.messages().await.len(), before);
    // Delivered, as Twilio reports it.
    let now = base_time();
    let claims = h
        .store
        .claim_due(now, 10, now + SignedDuration::from_secs(60), "w")
        .await
        .unwrap();
    let conf = claims
        .iter()
        .find(|c| c.message.dedupe_key == DedupeKey::confirmation(id))
        .unwrap();
    let sid = MessageSid::parse("SMconf").unwrap();
    h.store
        .record_delivery(
            conf,
            &DeliveryUpdate::Accepted {
                sid,
                status: MessageStatus::Queued,
            },
            now,
        )
        .await
        .unwrap();
    h.store
        .apply_status(h.tenant.id, "SMconf", MessageStatus::Delivered, None, now)
        .await
        .unwrap();
    let out = h
        .service
        .send_confirmation_sms(&c.ctx, &id.to_string())
        .await
        .unwrap();
    assert!(matches!(
        out,
        ConfirmationSmsOutcome::Status {
            sms_status: MessageStatus::Delivered,
            ..
        }
    ));
    assert!(out.message().contains("delivered"));
}

#[tokio::test]
async fn confirmation_sms_refuses_holds_strangers_and_nonsense() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    let out = h
        .service
        .send_confirmation_sms(&c.ctx, &hold)
        .await
        .unwrap();
    assert!(
        matches!(&out, ConfirmationSmsOutcome::Refused { reason } if reason.contains("verify_otp")),
        "{out:?}"
    );
    let booked = h.book(&h.caller(), &tue(14, 0)).await.to_string();
    for id in [booked.as_str(), "nonsense", ""] {
        let out = h.service.send_confirmation_sms(&c.ctx, id).await.unwrap();
        assert!(!out.ok(), "{id}: {out:?}");
    }
}

// --- cancel and reschedule ------------------------------------------------------------------

#[tokio::test]
async fn cancel_the_callers_only_appointment() {
    let h = harness().await;
    let c = h.caller();
    let id = h.book(&c, &tue(10, 0)).await;
    let later = h.calls_again(&c);
    let out = h.cancel_by_phone(&later.ctx, None).await;
    let CancelOutcome::Cancelled {
        appointment_id,
        status,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!((*appointment_id, *status), (id, BookingStatus::Cancelled));
    let v = one_line_json(&out);
    assert_eq!(v["status"], "cancelled");
    assert_eq!(
        h.by_key(&DedupeKey::reminder(id)).await.unwrap().status,
        MessageStatus::Withdrawn
    );
    let text = h.by_key(&DedupeKey::cancellation(id)).await.unwrap();
    assert_eq!((text.kind, &text.to), (MessageKind::Cancellation, &c.phone));
    // The time is free again.
    h.reserve(&h.caller(), &tue(10, 0)).await;
    // Again: nothing left to cancel.
    let out = h.cancel_by_phone(&later.ctx, None).await;
    assert_eq!(
        out,
        CancelOutcome::NotFound {
            appointments: vec![]
        }
    );
}

#[tokio::test]
async fn cancel_asks_which_one_and_refuses_other_peoples() {
    let h = harness().await;
    let c = h.caller();
    let first = h.book(&c, &tue(10, 0)).await;
    let second = h.book(&h.calls_again(&c), &tue(14, 0)).await;
    let stranger = h.book(&h.caller(), &tue(12, 0)).await;
    let ctx = h.calls_again(&c).ctx;
    let out = h.cancel_by_phone(&ctx, None).await;
    let CancelOutcome::ChooseOne { appointments } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        appointments
            .iter()
            .map(|a| a.appointment_id)
            .collect::<Vec<_>>(),
        vec![first, second]
    );
    // Someone else's id reads as missing, and lists the caller's own.
    let out = h
        .cancel_by_phone(&ctx, Some(stranger.to_string().as_str()))
        .await;
    let CancelOutcome::NotFound { appointments } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(appointments.len(), 2);
    assert_eq!(h.status(stranger).await, BookingStatus::Confirmed);
    let out = h.cancel_by_phone(&ctx, Some("garbage")).await;
    assert!(matches!(out, CancelOutcome::NotFound { .. }), "{out:?}");
    let out = h
        .cancel_by_phone(&ctx, Some(second.to_string().as_str()))
        .await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(h.status(first).await, BookingStatus::Confirmed);
    assert_eq!(h.status(second).await, BookingStatus::Cancelled);
    // Hidden caller ID: refused.
    let mut hidden = ctx.clone();
    hidden.caller = None;
    let out = h
        .cancel_by_phone(&hidden, Some(first.to_string().as_str()))
        .await;
    assert!(matches!(out, CancelOutcome::Refused { .. }), "{out:?}");
}

#[tokio::test]
async fn owner_cancels_from_the_dashboard() {
    let h = harness().await;
    let id = h.book(&h.caller(), &tue(10, 0)).await;
    let other_tenant = h
        .store
        .create_tenant(
            crate::testing::random_tenant_id(),
            &tenant_config("Other"),
            None,
        )
        .await
        .unwrap();
    let out = h
        .service
        .cancel_booking_for_owner(&other_tenant, id)
        .await
        .unwrap();
    assert_eq!(
        out,
        CancelOutcome::NotFound {
            appointments: vec![]
        }
    );
    assert_eq!(h.status(id).await, BookingStatus::Confirmed);
    let out = h
        .service
        .cancel_booking_for_owner(&h.tenant, id)
        .await
        .unwrap();
    assert!(out.ok(), "{out:?}");
    let out = h
        .service
        .cancel_booking_for_owner(&h.tenant, id)
        .await
        .unwrap();
    assert!(!out.ok(), "{out:?}");
}

#[tokio::test]
async fn reschedule_moves_the_appointment_in_one_go() {
    let h = harness().await;
    let c = h.caller();
    let old = h.book(&c, &tue(10, 0)).await;
    let ctx = h.calls_again(&c).ctx;
    // Half an hour later overlaps only the appointment being moved.
    let out = h.reschedule_by_phone(&ctx, None, &tue(10, 30)).await;
    let RescheduleOutcome::Rescheduled {
        appointment_id: new,
        previous_appointment_id,
        spoken,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(*previous_appointment_id, old);
    assert_eq!(spoken, "Tuesday March 5 at 10:30 AM");
    assert_eq!(h.status(old).await, BookingStatus::Cancelled);
    assert_eq!(h.status(*new).await, BookingStatus::Confirmed);
    assert_eq!(
        h.by_key(&DedupeKey::reminder(old)).await.unwrap().status,
        MessageStatus::Withdrawn
    );
    let moved = h.by_key(&DedupeKey::confirmation(*new)).await.unwrap();
    assert!(moved.body.contains("moved"), "{}", moved.body);
    assert_eq!(moved.to, c.phone);
    assert_eq!(
        h.by_key(&DedupeKey::reminder(*new)).await.unwrap().status,
        MessageStatus::Pending
    );
    let v = one_line_json(&out);
    assert_eq!(v["appointment_id"], new.to_string());
    assert_eq!(v["status"], "confirmed");
    // The new appointment's confirmation is what send_confirmation_sms reports.
    let s = h
        .service
        .send_confirmation_sms(&ctx, &new.to_string())
        .await
        .unwrap();
    assert!(s.ok(), "{s:?}");
}

#[tokio::test]
async fn reschedule_onto_a_taken_time_changes_nothing() {
    let h = harness().await;
    let c = h.caller();
    let old = h.book(&c, &tue(10, 0)).await;
    h.book(&h.caller(), &tue(14, 0)).await;
    let before = h.messages().await;
    let ctx = h.calls_again(&c).ctx;
    let out = h
        .reschedule_by_phone(&ctx, Some(old.to_string().as_str()), &tue(14, 30))
        .await;
    let RescheduleOutcome::Taken { alternatives } = &out else {
        panic!("{out:?}")
    };
    assert!(!alternatives.is_empty());
    assert_eq!(h.status(old).await, BookingStatus::Confirmed);
    assert_eq!(h.messages().await, before);
    for bad in [
        "soon",
        "2030-03-05T10:15:00-05:00",
        "2030-03-09T10:00:00-05:00",
        &tue(10, 0),
    ] {
        let out = h.reschedule_by_phone(&ctx, None, bad).await;
        assert!(
            matches!(out, RescheduleOutcome::Refused { .. }),
            "{bad}: {out:?}"
        );
    }
    assert_eq!(h.status(old).await, BookingStatus::Confirmed);
}

#[tokio::test]
async fn owner_reschedules_from_the_dashboard() {
    let h = harness().await;
    let old = h.book(&h.caller(), &tue(10, 0)).await;
    let out = h
        .service
        .reschedule_booking_for_owner(&h.tenant, old, &tue(15, 0))
        .await
        .unwrap();
    assert!(out.ok(), "{out:?}");
    assert_eq!(h.status(old).await, BookingStatus::Cancelled);
}

// --- leads, calls, scoring ------------------------------------------------------------------

fn report(call: &CallId, caller: &PhoneNumber, seconds: i64) -> CallReport {
    CallReport {
        call_id: call.clone(),
        caller: Some(caller.clone()),
        called: None,
        started_at: Some(base_time()),
        ended_at: Some(base_time() + SignedDuration::from_secs(seconds)),
        ended_reason: Some("customer-ended-call".into()),
        summary: Some("Called about whitening.".into()),
        structured: CapturedLead::default(),
        buying_intent: None,
    }
}

async fn start_call(h: &Harness, c: &Caller) {
    h.service
        .record_call_start(&CallStart {
            call_id: c.ctx.call_id.clone().unwrap(),
            tenant: h.tenant.id,
            caller: Some(c.phone.clone()),
            called: None,
            started_at: base_time(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_quick_call_that_booked_is_a_hot_lead_alerted_once_per_number() {
    let h = harness().await;
    let c = h.caller();
    start_call(&h, &c).await;
    h.book(&c, &tue(10, 0)).await;
    let call = c.ctx.call_id.clone().unwrap();
    let out = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 75))
        .await
        .unwrap();
    assert!(out.recorded && out.hot_lead, "{out:?}");
    assert_eq!(out.alerts_queued, 2);
    let expected = scoring::score(
        &LeadSignals {
            booked: true,
            service_value_cents: Some(40_000),
            duration_seconds: Some(75),
            ..LeadSignals::default()
        },
        &ScoreWeights::default(),
    );
    assert_eq!(out.score.as_ref(), Some(&expected));
    for alert in &h.tenant.config.alert_numbers {
        let m = h.by_key(&DedupeKey::hot_lead(&call, alert)).await.unwrap();
        assert_eq!((m.kind, &m.to), (MessageKind::HotLead, alert));
        assert!(m.body.contains("Ada Lovelace"), "{}", m.body);
    }
    let before = h.messages().await;
    let again = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 500))
        .await
        .unwrap();
    assert!(
        !again.recorded && again.hot_lead && again.alerts_queued == 0,
        "{again:?}"
    );
    assert_eq!(again.score, out.score);
    assert_eq!(h.messages().await, before);
}

#[tokio::test]
async fn a_call_without_signals_is_not_a_hot_lead() {
    let h = harness().await;
    let c = h.caller();
    let call = c.ctx.call_id.clone().unwrap();
    // No start recorded: the report alone is enough.
    let out = h
        .service
        .end_of_call(&h.tenant, report(&call, &c.phone, 40))
        .await
        .unwrap();
    assert!(
        out.recorded && !out.hot_lead && out.alerts_queued == 0,
        "{out:?}"
    );
    assert!(h.messages().await.is_empty());
    let rec = h.store.call(h.tenant.id, &call).await.unwrap().unwrap();
    assert_eq!(rec.score, out.score);
}

#[tokio::test]
async fn lead_signals_come_from_capture_lead_the_report_and_history() {
    let h = harness().await;
    let c = h.caller();
    // An earlier call from the same number.
    h.service
        .record_call_start(&CallStart {
            call_id: random_call_id(),
            tenant: h.tenant.id,
            caller: Some(c.phone.clone()),
            called: None,
            started_at: base_time() - SignedDuration::from_hours(30),
        })
        .await
        .unwrap();
    start_call(&h, &c).await;
    let lead = CapturedLead {
        caller_name: Some("  Grace Hopper ".into()),
        service_interest: Some("implant consultation".into()),
        wants_callback: Some(true),
        notes: None,
    };
    let out = h.service.capture_lead(&c.ctx, &lead).await.unwrap();
    assert!(
        out.ok() && out.message().contains("call the caller back"),
        "{out:?}"
    );
    let call = c.ctx.call_id.clone().unwrap();
    let mut r = report(&call, &c.phone, 400);
    r.buying_intent = Some(true);
    r.structured.caller_name = Some("G. Hopper".into());
    let out = h.service.end_of_call(&h.tenant, r).await.unwrap();
    let expected = scoring::score(
        &LeadSignals {
            booked: false,
            service_value_cents: Some(150_000),
            duration_seconds: Some(400),
            wants_callback: true,
            buying_intent: true,
            repeat_caller: true,
        },
        &ScoreWeights::default(),
    );
    assert_eq!(out.score, Some(expected.clone()));
    assert_eq!(out.hot_lead, expected.total >= 70);
    if out.hot_lead {
        let alert = &h.tenant.config.alert_numbers[0];
        let m = h.by_key(&DedupeKey::hot_lead(&call, alert)).await.unwrap();
        assert!(m.body.contains("Grace Hopper"), "{}", m.body);
    }
    let rec = h.store.call(h.tenant.id, &call).await.unwrap().unwrap();
    assert_eq!(rec.lead.caller_name.as_deref(), Some("Grace Hopper"));
}

#[tokio::test]
async fn capture_lead_needs_a_call_and_status_updates_need_a_known_call() {
    let h = harness().await;
    let mut ctx = h.caller().ctx;
    let call = ctx.call_id.clone().unwrap();
    assert!(
        !h.service
            .record_call_status(&h.tenant, &call, "in-progress")
            .await
            .unwrap()
    );
    h.service
        .capture_lead(&ctx, &CapturedLead::default())
        .await
        .unwrap();
    assert!(
        h.service
            .record_call_status(&h.tenant, &call, "in-progress")
            .await
            .unwrap()
    );
    ctx.call_id = None;
    let out = h
        .service
        .capture_lead(&ctx, &CapturedLead::default())
        .await
        .unwrap();
    assert!(!out.ok());
}

// --- inbound texts --------------------------------------------------------------------------

/// An inbound text with no `OptOutType`, for a clinic that answers keywords itself unless
/// `replies` says otherwise.
async fn inbound(
    h: &Harness,
    from: &PhoneNumber,
    body: &str,
    sid: &str,
    twilio_keyword: Option<InboundKeyword>,
    replies: KeywordReplies,
) -> InboundOutcome {
    h.service
        .handle_inbound_sms(
            &h.tenant,
            &InboundText {
                from,
                body,
                sid,
                twilio_keyword,
                keyword_replies: replies,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn stop_and_start_round_trip() {
    let h = harness().await;
    let c = h.caller();
    let out = inbound(
        &h,
        &c.phone,
        " stop ",
        "SMin1",
        None,
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 1));
    assert!(h.store.is_opted_out(h.tenant.id, &c.phone).await.unwrap());
    let reply = h
        .by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMin1",
            &c.phone,
        ))
        .await
        .unwrap();
    assert_eq!(reply.to, c.phone);
    // No code can be sent to that number now.
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    assert!(!h.service.send_otp(&c.ctx, &hold, None).await.unwrap().ok());
    let out = inbound(&h, &c.phone, "START", "SMin2", None, KeywordReplies::Clinic).await;
    assert_eq!(out.keyword, "opt_in");
    assert!(!h.store.is_opted_out(h.tenant.id, &c.phone).await.unwrap());
    assert!(h.service.send_otp(&c.ctx, &hold, None).await.unwrap().ok());
}

#[tokio::test]
async fn keywords_twilio_answers_get_no_second_reply() {
    let h = harness().await;
    let from = random_phone();
    // Twilio's default handling answered STOP, START and HELP: we record, and send nothing.
    let out = inbound(&h, &from, "STOP", "SMt1", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    assert!(h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    let out = inbound(&h, &from, "start", "SMt2", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("opt_in", 0));
    assert!(!h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    let out = inbound(&h, &from, "HELP", "SMt3", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("help", 0));
}

#[tokio::test]
async fn advanced_opt_out_type_comes_first() {
    let h = harness().await;
    let from = random_phone();
    // "ALTO" is the clinic's own opt-out word in Advanced Opt-Out: Twilio says STOP. Even a
    // clinic that answers keywords itself sends nothing (Twilio replied), forwards nothing.
    let out = inbound(
        &h,
        &from,
        "ALTO",
        "SMa1",
        Some(InboundKeyword::OptOut),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    assert!(h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
    for alert in &h.tenant.config.alert_numbers {
        assert!(
            h.by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                "SMa1",
                alert
            ))
            .await
            .is_none()
        );
    }
    let out = inbound(
        &h,
        &from,
        "ARRET",
        "SMa2",
        Some(InboundKeyword::OptOut),
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_out", 0));
    let out = inbound(
        &h,
        &from,
        "AIDE",
        "SMa3",
        Some(InboundKeyword::Help),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("help", 0));
    let out = inbound(
        &h,
        &from,
        "OUI",
        "SMa4",
        Some(InboundKeyword::OptIn),
        KeywordReplies::Clinic,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("opt_in", 0));
    assert!(!h.store.is_opted_out(h.tenant.id, &from).await.unwrap());
}

#[tokio::test]
async fn help_gets_a_reply() {
    let h = harness().await;
    let from = random_phone();
    let out = inbound(&h, &from, "Help", "SMhelp", None, KeywordReplies::Clinic).await;
    assert_eq!((out.keyword, out.queued), ("help", 1));
    let m = h
        .by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMhelp",
            &from,
        ))
        .await
        .unwrap();
    assert!(m.body.contains("Smile Dental"), "{}", m.body);
}

#[tokio::test]
async fn other_texts_are_forwarded_once() {
    let h = harness().await;
    let from = random_phone();
    let body = "Can I move my appointment?";
    let out = inbound(&h, &from, body, "SMq", None, KeywordReplies::Twilio).await;
    assert_eq!((out.keyword, out.queued), ("other", 3));
    for alert in &h.tenant.config.alert_numbers {
        let m = h
            .by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                "SMq",
                alert,
            ))
            .await
            .unwrap();
        assert!(m.body.contains("move my appointment"), "{}", m.body);
    }
    assert!(
        h.by_key(&DedupeKey::inbound(MessageKind::InboundReply, "SMq", &from))
            .await
            .is_some()
    );
    // Twilio retries the webhook: nothing new.
    let again = inbound(&h, &from, body, "SMq", None, KeywordReplies::Twilio).await;
    assert_eq!(again.queued, 0);
    // An opted-out sender is forwarded but not answered.
    let quiet = random_phone();
    h.store
        .set_opted_out(h.tenant.id, &quiet, true, base_time())
        .await
        .unwrap();
    let out = inbound(&h, &quiet, "hello?", "SMr", None, KeywordReplies::Twilio).await;
    assert_eq!(out.queued, 2);
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMr",
            &quiet
        ))
        .await
        .is_none()
    );
}

#[tokio::test]
async fn one_auto_reply_per_sender_per_day() {
    let h = harness().await;
    let from = random_phone();
    let mut replies = 0;
    for i in 0..10 {
        inbound(
            &h,
            &from,
            "are you open?",
            &format!("SMl{i}"),
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            &format!("SMl{i}"),
            &from,
        ))
        .await
        .is_some()
        {
            replies += 1;
        }
    }
    assert_eq!(replies, 1, "an auto-responder gets one reply a day");
    h.clock.advance(AUTO_REPLY_WINDOW);
    inbound(
        &h,
        &from,
        "hello again",
        "SMl-next",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundReply,
            "SMl-next",
            &from
        ))
        .await
        .is_some(),
        "a new day, a new reply"
    );
}

#[tokio::test]
async fn forwards_per_sender_are_limited_then_paused_once() {
    let h = harness().await;
    let from = random_phone();
    let alert = h.tenant.config.alert_numbers[0].clone();
    let mut bodies = Vec::new();
    for i in 0..(FORWARDS_PER_SENDER + 5) {
        let sid = format!("SMf{i}");
        inbound(
            &h,
            &from,
            &format!("text {i}"),
            &sid,
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if let Some(m) = h
            .by_key(&DedupeKey::inbound(
                MessageKind::InboundForward,
                &sid,
                &alert,
            ))
            .await
        {
            bodies.push(m.body);
        }
    }
    assert_eq!(bodies.len() as u32, FORWARDS_PER_SENDER + 1, "{bodies:?}");
    assert!(
        bodies.last().unwrap().contains("keeps texting"),
        "{bodies:?}"
    );
    // Another sender is still forwarded.
    let other = random_phone();
    inbound(&h, &other, "hi", "SMf-other", None, KeywordReplies::Twilio).await;
    assert!(
        h.by_key(&DedupeKey::inbound(
            MessageKind::InboundForward,
            "SMf-other",
            &alert
        ))
        .await
        .is_some()
    );
}

#[tokio::test]
async fn forwards_per_clinic_are_limited() {
    let h = harness().await;
    let alert = h.tenant.config.alert_numbers[0].clone();
    let mut forwarded = 0;
    for i in 0..(FORWARDS_PER_CLINIC + 10) {
        let sid = format!("SMc{i}");
        inbound(
            &h,
            &random_phone(),
            "hello",
            &sid,
            None,
            KeywordReplies::Twilio,
        )
        .await;
        if h.by_key(&DedupeKey::inbound(
            MessageKind::InboundForward,
            &sid,
            &alert,
        ))
        .await
        .is_some()
        {
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, FORWARDS_PER_CLINIC);
}

#[tokio::test]
async fn texts_from_a_clinic_number_are_neither_answered_nor_forwarded() {
    let h = harness().await;
    // Another clinic's texting number (its auto-reply, say).
    let other = create_tenant(&*h.store, "Other Clinic").await;
    let account = h.store.sms_account(other.id).await.unwrap().unwrap();
    let SmsSender::From(their_number) = account.sender else {
        unreachable!()
    };
    let out = inbound(
        &h,
        &their_number,
        "thanks, we passed your message on",
        "SMloop",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!((out.keyword, out.queued), ("from_clinic_number", 0));
    // And this clinic's own number.
    let mine = h.store.sms_account(h.tenant.id).await.unwrap().unwrap();
    let SmsSender::From(my_number) = mine.sender else {
        unreachable!()
    };
    let out = inbound(
        &h,
        &my_number,
        "echo",
        "SMloop2",
        None,
        KeywordReplies::Twilio,
    )
    .await;
    assert_eq!(out.queued, 0);
}

// --- tenants --------------------------------------------------------------------------------

#[tokio::test]
async fn another_clinics_caller_gets_nothing_from_our_ids() {
    let h = harness().await;
    let c = h.caller();
    let hold = h.reserve(&c, &tue(10, 0)).await.to_string();
    let booked = h.book(&h.calls_again(&c), &tue(14, 0)).await.to_string();
    let other = h
        .store
        .create_tenant(
            crate::testing::random_tenant_id(),
            &tenant_config("Other"),
            Some(&crate::testing::sms_account()),
        )
        .await
        .unwrap();
    // The same caller and call id, but the call reached the other clinic.
    let ctx = CallContext {
        tenant: other,
        call_id: c.ctx.call_id.clone(),
        caller: Some(c.phone.clone()),
    };
    assert!(!h.service.send_otp(&ctx, &hold, None).await.unwrap().ok());
    assert!(
        !h.service
            .verify_otp(&ctx, &hold, "123456")
            .await
            .unwrap()
            .ok()
    );
    assert!(
        !h.service
            .send_confirmation_sms(&ctx, &booked)
            .await
            .unwrap()
            .ok()
    );
    let out = h.cancel_by_phone(&ctx, Some(&booked)).await;
    assert_eq!(
        out,
        CancelOutcome::NotFound {
            appointments: vec![]
        }
    );
    let out = h.reschedule_by_phone(&ctx, None, &tue(15, 0)).await;
    assert_eq!(
        out,
        RescheduleOutcome::NotFound {
            appointments: vec![]
        }
    );
    assert_eq!(
        h.status(booked.parse().unwrap()).await,
        BookingStatus::Confirmed
    );
}
