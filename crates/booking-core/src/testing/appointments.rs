//! Appointments after confirmation: cancelling, moving, the queries over them, housekeeping.

use crate::booking::CallHolds;
use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, HOLD_TTL, Interval, NewAppointment};
use crate::ids::{BookingId, MessageSid};
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus};
use crate::phone::PhoneNumber;
use crate::ports::{Store, StoreError};
use crate::tenant::Tenant;
use crate::testing::{
    base_time, booking_id, booking_texts, confirmed, count_key, create_tenant, hold, message,
    random_call_id, random_phone, span, status_of,
};

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
            CallHolds::Keep,
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
            CallHolds::Keep,
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

pub(super) fn appointment(
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
        limits: Vec::new(),
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
        .insert_hold(
            &hold(&t, span(400, 60), &p, Some(&call), now),
            now,
            CallHolds::Release,
        )
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
            CallHolds::Keep,
        )
        .await
        .expect("hold a");
    let later = now + SignedDuration::from_mins(5);
    let b = store
        .insert_hold(
            &hold(&t, span(120, 60), &random_phone(), None, later),
            later,
            CallHolds::Keep,
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
