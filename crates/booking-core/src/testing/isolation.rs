//! One clinic never reaches another's data through any port.

use crate::booking::CallHolds;
use crate::ports::Texting;
use jiff::SignedDuration;

use crate::booking::BookingStatus;
use crate::calls::{CallReport, CallStart, CapturedLead, FinishedCall};
use crate::ids::{MessageSid, ToolCallId};
use crate::otp::{ChangeProof, CheckClaim, OtpPolicy};
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, StatusApplied};
use crate::ports::{Store, ToolCallClaim};
use crate::testing::{
    appointment, base_time, booking_texts, challenge, confirmed, create_tenant, hold, log_key,
    message, random_call_id, random_phone, sample_score, span, status_of, store_challenge,
};

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
        .insert_hold(
            &hold(&a, span(300, 60), &p, Some(&call), now),
            now,
            CallHolds::Release,
        )
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
        .set_texting(a.id, &random_phone(), Texting::OptedOut, now)
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
            None,
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
    let r = store.begin_check(b.id, ch.booking, now, 5).await;
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
        .insert_hold(
            &hold(&b, span(60, 60), &p, Some(&call), now),
            now,
            CallHolds::Release,
        )
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
