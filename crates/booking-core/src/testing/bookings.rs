//! Holds and appointments: overlaps, confirmation, cancelling and moving.

use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, HOLD_TTL, Interval, NewAppointment};
use crate::ids::{BookingId, MessageSid};
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, DeliveryUpdate, MessageKind, MessageStatus};
use crate::phone::PhoneNumber;
use crate::ports::{Store, StoreError};
use crate::tenant::Tenant;
use crate::testing::{
    base_time, booking_id, booking_texts, challenge, confirmed, count_key, create_tenant, hold,
    join2, message, random_call_id, random_phone, span, status_of, store_challenge,
};

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
