//! Holds and their confirmation: overlaps, expiry, races, the code that confirms.

use crate::booking::CallHolds;
use jiff::SignedDuration;

use crate::booking::{BookingStatus, HOLD_TTL, Interval};
use crate::outbox::{DedupeKey, MessageStatus};
use crate::ports::{Store, StoreError};
use crate::testing::{
    base_time, booking_id, booking_texts, challenge, count_key, create_tenant, hold, join2,
    random_call_id, random_phone, span, status_of, store_challenge,
};

pub async fn holds_overlap_and_adjacent<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Overlap Clinic").await;
    let now = base_time();
    let p = random_phone();
    store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("first hold");
    for (start, len) in [(90, 60), (30, 60), (60, 60), (70, 10), (0, 240)] {
        let r = store
            .insert_hold(
                &hold(&t, span(start, len), &random_phone(), None, now),
                now,
                CallHolds::Keep,
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
                CallHolds::Keep,
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
    let r = store.insert_hold(&buffered, now, CallHolds::Keep).await;
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
        .insert_hold(&after, now, CallHolds::Keep)
        .await
        .expect("a hold with a buffer after");
    let r = store
        .insert_hold(
            &hold(&t, span(470, 60), &random_phone(), None, now),
            now,
            CallHolds::Keep,
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
            CallHolds::Keep,
        )
        .await
        .expect("first hold");
    let just_before = now + HOLD_TTL - SignedDuration::from_secs(1);
    let r = store
        .insert_hold(
            &hold(&t, span(60, 60), &random_phone(), None, just_before),
            just_before,
            CallHolds::Keep,
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
            CallHolds::Keep,
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
        .insert_hold(
            &hold(&t, span(60, 60), &p, Some(&call), now),
            now,
            CallHolds::Release,
        )
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
            CallHolds::Release,
        )
        .await
        .expect("another call's hold");
    // The same call moves its hold to an overlapping time: its own hold does not block it.
    let b = store
        .insert_hold(
            &hold(&t, span(90, 60), &p, Some(&call), now),
            now,
            CallHolds::Release,
        )
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
        .insert_hold(
            &hold(&t, span(400, 30), &p, Some(&call), now),
            now,
            CallHolds::Keep,
        )
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
            CallHolds::Release,
        )
        .await
        .expect("own hold");
    store
        .insert_hold(
            &hold(&t, span(120, 60), &random_phone(), None, now),
            now,
            CallHolds::Keep,
        )
        .await
        .expect("someone else's hold");
    let r = store
        .insert_hold(
            &hold(&t, span(150, 60), &random_phone(), Some(&call), now),
            now,
            CallHolds::Release,
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
        store.insert_hold(&a, now, CallHolds::Keep),
        store.insert_hold(&b, now, CallHolds::Keep),
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
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let texts = booking_texts(t.id, h.id, &p, now);
    let later = now + SignedDuration::from_mins(2);
    let b = store
        .confirm_hold(t.id, h.id, c.id, later, None, &texts)
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
    let again = store
        .confirm_hold(t.id, h.id, c.id, later, None, &texts)
        .await;
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
            None,
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

/// The patient's link given with a confirmation is stored with it: it opens the appointment
/// once confirmed. A confirmation refused (the hold confirmed already, or its code used) stores
/// its link nowhere, and a link of another booking or clinic is refused with nothing changed.
pub async fn confirm_stores_its_link_only_when_it_confirms<S: Store + ?Sized>(store: &S) {
    const NAME: &str = "confirm_stores_its_link_only_when_it_confirms";
    let t = create_tenant(store, "Confirm Link Clinic").await;
    let u = create_tenant(store, "Other Confirm Link Clinic").await;
    let now = base_time();
    let p = random_phone();
    let random = crate::testing::SeededRandom::new(uuid::Uuid::new_v4().as_u128() as u64);
    let h = store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let later = now + SignedDuration::from_mins(2);
    let link = |tenant, booking| {
        let token = crate::link_token::LinkToken::generate(&random);
        crate::patient_link::NewPatientLink {
            tenant,
            booking,
            hash: token.hash(),
            created_at: later,
            expires_at: h.slot.end,
        }
    };
    for wrong in [link(u.id, h.id), link(t.id, booking_id())] {
        let r = store
            .confirm_hold(t.id, h.id, c.id, later, Some(&wrong), &[])
            .await;
        let found = store
            .link_by_hash(&wrong.hash, later)
            .await
            .expect("lookup");
        check!(
            NAME,
            r.is_err() && found.is_none(),
            "a link of {:?}/{:?}: {r:?}, stored: {found:?}",
            wrong.tenant,
            wrong.booking
        );
    }
    let status = status_of(store, t.id, h.id).await;
    check!(
        NAME,
        status == BookingStatus::Held,
        "after the wrong links: {status:?}"
    );

    let right = link(t.id, h.id);
    let texts = booking_texts(t.id, h.id, &p, later);
    let b = store
        .confirm_hold(t.id, h.id, c.id, later, Some(&right), &texts)
        .await
        .expect("confirm");
    let found = store
        .link_by_hash(&right.hash, later)
        .await
        .expect("lookup");
    check!(
        NAME,
        b.status == BookingStatus::Confirmed
            && found.as_ref().map(|l| (l.tenant, l.booking, l.expires_at))
                == Some((t.id, h.id, h.slot.end)),
        "confirmed {b:?}, its link: {found:?}"
    );
    let late = link(t.id, h.id);
    let again = store
        .confirm_hold(t.id, h.id, c.id, later, Some(&late), &texts)
        .await;
    let found = store.link_by_hash(&late.hash, later).await.expect("lookup");
    check!(
        NAME,
        matches!(again, Err(StoreError::WrongState { .. })) && found.is_none(),
        "a second confirmation: {again:?}, its link: {found:?}"
    );
}

pub async fn confirm_expired_refused<S: Store + ?Sized>(store: &S) {
    let t = create_tenant(store, "Late Clinic").await;
    let now = base_time();
    let p = random_phone();
    let h = store
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let at = now + HOLD_TTL;
    let r = store
        .confirm_hold(
            t.id,
            h.id,
            c.id,
            at,
            None,
            &booking_texts(t.id, h.id, &p, at),
        )
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
        .insert_hold(&hold(&t, span(0, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold 1");
    let h2 = store
        .insert_hold(
            &hold(&t, span(120, 60), &p, None, now),
            now,
            CallHolds::Keep,
        )
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
            None,
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
            None,
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
            None,
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
        .insert_hold(&hold(&t, span(60, 60), &p, None, now), now, CallHolds::Keep)
        .await
        .expect("hold");
    let (c, m) = challenge(t.id, h.id, &p, None, now);
    store_challenge(store, &c, &m).await.expect("challenge");
    let a = booking_texts(t.id, h.id, &p, now);
    let b = booking_texts(t.id, h.id, &p, now);
    let (ra, rb) = join2(
        store.confirm_hold(t.id, h.id, c.id, now, None, &a),
        store.confirm_hold(t.id, h.id, c.id, now, None, &b),
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
            CallHolds::Keep,
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
            CallHolds::Keep,
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
