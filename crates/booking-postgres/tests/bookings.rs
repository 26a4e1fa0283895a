//! Holds and appointments on a real database: overlap is refused by the exclusion constraint,
//! expiry and cancellation free time, confirmation happens once.

mod common;

use booking_core::booking::CallHolds;
use std::sync::Arc;

use booking_core::booking::{BookingStatus, Interval, NewAppointment};
use booking_core::otp::{ChangeProof, OtpPolicy};
use booking_core::outbox::{DedupeKey, MessageStatus};
use booking_core::ports::{BookingStore, OtpStore, OutboxStore, StoreError};
use booking_core::{BookingId, PhoneNumber};
use booking_postgres::PgStore;
use booking_postgres::testing::TestDb;
use common::*;
use jiff::SignedDuration;
use tokio::sync::Barrier;

#[tokio::test]
async fn overlapping_unequal_ranges_conflict_and_adjacent_ones_do_not() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Overlap Dental").await;
    let now = at(0);

    // [0, 60) minutes, held.
    store
        .insert_hold(&hold(&t, span(0, 60), now), now, CallHolds::Keep)
        .await
        .unwrap();
    // [30, 90) overlaps: refused, as are ranges inside it, around it, and touching it by a minute.
    for (from, len) in [(30, 60), (15, 30), (-30, 120), (59, 1), (-1, 2)] {
        let err = store
            .insert_hold(&hold(&t, span(from, len), now), now, CallHolds::Keep)
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::SlotTaken, "{from}+{len}");
    }
    // Adjacent on either side: fine ('[)' ranges).
    store
        .insert_hold(&hold(&t, span(60, 60), now), now, CallHolds::Keep)
        .await
        .unwrap();
    store
        .insert_hold(&hold(&t, span(-60, 60), now), now, CallHolds::Keep)
        .await
        .unwrap();

    // The blocked time (the slot widened by buffers) is what must be free: a slot whose blocked
    // time merely touches a hold is fine, one whose blocked time overlaps it is not, even
    // though its slot does not.
    let ok = hold_with(&t, span(130, 50), span(120, 60), None, now);
    store.insert_hold(&ok, now, CallHolds::Keep).await.unwrap();
    let buffered = hold_with(&t, span(200, 30), span(175, 60), None, now);
    assert_eq!(
        store
            .insert_hold(&buffered, now, CallHolds::Keep)
            .await
            .unwrap_err(),
        StoreError::SlotTaken
    );

    // Another clinic's calendar is another calendar.
    let other = tenant(&store, "Other Dental").await;
    store
        .insert_hold(&hold(&other, span(0, 60), now), now, CallHolds::Keep)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_hold_does_not_block_and_is_marked_expired_by_the_next_reservation() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Expiry Dental").await;
    let first = store
        .insert_hold(&hold(&t, span(0, 60), at(0)), at(0), CallHolds::Keep)
        .await
        .unwrap();
    let expires = first.hold_expires_at.unwrap();

    // Still live a moment before expiry.
    let just_before = expires - SignedDuration::from_secs(1);
    assert_eq!(
        store
            .insert_hold(
                &hold(&t, span(30, 60), just_before),
                just_before,
                CallHolds::Keep
            )
            .await
            .unwrap_err(),
        StoreError::SlotTaken
    );
    // At expiry the slot is free; the old row is marked expired in the same transaction.
    let second = store
        .insert_hold(&hold(&t, span(30, 60), expires), expires, CallHolds::Keep)
        .await
        .unwrap();
    assert_eq!(second.status, BookingStatus::Held);
    let old = store.booking(t.id, first.id).await.unwrap().unwrap();
    assert_eq!(old.status, BookingStatus::Expired);
    assert!(store.busy(t.id, span(-60, 240), expires).await.unwrap() == vec![span(30, 60)]);
}

/// A hold with a live challenge, ready to confirm.
async fn held_with_challenge(
    store: &PgStore,
    t: &booking_core::tenant::Tenant,
    slot: Interval,
) -> (BookingId, booking_core::ChallengeId, PhoneNumber) {
    let now = at(0);
    let h = store
        .insert_hold(&hold(t, slot, now), now, CallHolds::Keep)
        .await
        .unwrap();
    let (c, m) = challenge(t.id, h.id, &h.caller_phone, now);
    store
        .create_challenge(&c, &m, &OtpPolicy::default())
        .await
        .unwrap()
        .unwrap();
    (h.id, c.id, h.caller_phone)
}

#[tokio::test]
async fn confirming_an_expired_hold_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Late Dental").await;
    let (id, challenge, _) = held_with_challenge(&store, &t, span(0, 60)).await;
    let late = at(11);
    let err = store
        .confirm_hold(
            t.id,
            id,
            challenge,
            late,
            None,
            &booking_texts(t.id, id, late),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::WrongState { current: "expired" });
    assert!(
        store
            .message_by_key(t.id, &DedupeKey::confirmation(id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.active_challenge(t.id, id).await.unwrap().is_some(),
        "the code was not consumed"
    );
    assert_eq!(
        store.booking(t.id, id).await.unwrap().unwrap().confirmed_at,
        None
    );
}

#[tokio::test]
async fn a_cancelled_appointment_frees_its_slot_and_withdraws_its_reminder() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Cancel Dental").await;
    let now = at(1);
    let (id, challenge, _) = held_with_challenge(&store, &t, span(0, 60)).await;
    store
        .confirm_hold(
            t.id,
            id,
            challenge,
            now,
            None,
            &booking_texts(t.id, id, now),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .insert_hold(&hold(&t, span(0, 60), now), now, CallHolds::Keep)
            .await
            .unwrap_err(),
        StoreError::SlotTaken,
        "a confirmed appointment occupies its slot with no expiry"
    );
    let later = at(60 * 24 * 7);
    let cancelled = store
        .cancel_booking(
            t.id,
            id,
            ChangeProof::Owner,
            now,
            &[DedupeKey::reminder(id)],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(
        store
            .message_by_key(t.id, &DedupeKey::reminder(id))
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Withdrawn
    );
    store
        .insert_hold(&hold(&t, span(0, 60), later), later, CallHolds::Keep)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirming_twice_and_concurrently_makes_one_appointment_and_queues_each_text_once() {
    const RACERS: usize = 20;
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Twice Dental").await;
    let (id, challenge, _) = held_with_challenge(&store, &t, span(0, 60)).await;
    let now = at(2);

    let start = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            // A connection of its own per racer.
            let mut config = db.config();
            config.pool_size = 1;
            let racer = PgStore::new(config).unwrap();
            let start = start.clone();
            // Each verify builds its own texts (fresh message ids), as the service does.
            let texts = booking_texts(t.id, id, now);
            let tenant = t.id;
            tokio::spawn(async move {
                start.wait().await;
                racer
                    .confirm_hold(tenant, id, challenge, now, None, &texts)
                    .await
            })
        })
        .collect();
    let mut confirmed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(b) => {
                assert_eq!(b.status, BookingStatus::Confirmed);
                confirmed += 1;
            }
            Err(StoreError::WrongState { current }) => assert_eq!(current, "confirmed"),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(confirmed, 1);

    // And once more, afterwards.
    let again = store
        .confirm_hold(
            t.id,
            id,
            challenge,
            now,
            None,
            &booking_texts(t.id, id, now),
        )
        .await
        .unwrap_err();
    assert_eq!(
        again,
        StoreError::WrongState {
            current: "confirmed"
        }
    );

    let messages = store.list_messages(t.id, 100).await.unwrap();
    let count = |key: &DedupeKey| messages.iter().filter(|m| &m.dedupe_key == key).count();
    assert_eq!(count(&DedupeKey::confirmation(id)), 1);
    assert_eq!(count(&DedupeKey::reminder(id)), 1);
    let appointments: Vec<_> = store
        .list_bookings(t.id, span(-60, 240))
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.status == BookingStatus::Confirmed)
        .collect();
    assert_eq!(appointments.len(), 1);
}

#[tokio::test]
async fn a_reschedule_onto_a_taken_slot_changes_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Move Dental").await;
    let now = at(1);
    let (id, challenge, phone) = held_with_challenge(&store, &t, span(0, 60)).await;
    let original = store
        .confirm_hold(
            t.id,
            id,
            challenge,
            now,
            None,
            &booking_texts(t.id, id, now),
        )
        .await
        .unwrap();
    store
        .insert_hold(&hold(&t, span(120, 60), now), now, CallHolds::Keep)
        .await
        .unwrap();

    let new_id = BookingId::from_uuid(uuid());
    let moved = |slot: Interval| NewAppointment {
        id: new_id,
        tenant: t.id,
        calendar: t.calendar(),
        limits: Vec::new(),
        service: original.service.clone(),
        slot,
        blocked: slot,
        caller_name: original.caller_name.clone(),
        caller_phone: phone.clone(),
        call_id: None,
        created_at: now,
        rescheduled_from: id,
    };
    let err = store
        .reschedule_booking(
            t.id,
            id,
            ChangeProof::Owner,
            &moved(span(150, 60)),
            now,
            &[DedupeKey::reminder(id)],
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::SlotTaken);
    assert_eq!(
        store.booking(t.id, id).await.unwrap().unwrap(),
        original,
        "the old booking stands"
    );
    assert!(store.booking(t.id, new_id).await.unwrap().is_none());
    assert_eq!(
        store
            .message_by_key(t.id, &DedupeKey::reminder(id))
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Pending,
        "the old reminder is not withdrawn"
    );

    // Overlapping its own old slot is fine: the old one is cancelled in the same transaction.
    let new = store
        .reschedule_booking(
            t.id,
            id,
            ChangeProof::Owner,
            &moved(span(30, 60)),
            now,
            &[DedupeKey::reminder(id)],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(new.status, BookingStatus::Confirmed);
    assert_eq!(new.rescheduled_from, Some(id));
    assert_eq!(
        store.booking(t.id, id).await.unwrap().unwrap().status,
        BookingStatus::Cancelled
    );
}

#[tokio::test]
async fn a_new_hold_of_a_call_releases_its_earlier_holds_only_when_asked() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Call Dental").await;
    let now = at(0);
    let call = call_id();
    let first = store
        .insert_hold(
            &hold_with(&t, span(0, 60), span(0, 60), Some(&call), now),
            now,
            CallHolds::Release,
        )
        .await
        .unwrap();
    let second = store
        .insert_hold(
            &hold_with(&t, span(120, 60), span(120, 60), Some(&call), now),
            now,
            CallHolds::Keep,
        )
        .await
        .unwrap();
    assert_eq!(
        store.booking(t.id, first.id).await.unwrap().unwrap().status,
        BookingStatus::Held
    );
    // Asking for the first hold's slot again: the call's own holds do not stand in its way.
    let third = store
        .insert_hold(
            &hold_with(&t, span(30, 60), span(30, 60), Some(&call), now),
            now,
            CallHolds::Release,
        )
        .await
        .unwrap();
    for old in [first.id, second.id] {
        assert_eq!(
            store.booking(t.id, old).await.unwrap().unwrap().status,
            BookingStatus::Released
        );
    }
    let live: Vec<_> = store.bookings_for_call(t.id, &call).await.unwrap();
    assert_eq!(
        live.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![first.id, second.id, third.id]
    );
}

#[tokio::test]
async fn housekeeping_expires_every_lapsed_hold() {
    let db = TestDb::new().await;
    let store = db.store();
    let t = tenant(&store, "Sweep Dental").await;
    for i in 0..3 {
        store
            .insert_hold(&hold(&t, span(i * 60, 60), at(i)), at(i), CallHolds::Keep)
            .await
            .unwrap();
    }
    // Holds made at 0, 1 and 2 minutes expire 10 minutes later.
    assert_eq!(store.expire_holds(at(11)).await.unwrap(), 2);
    assert_eq!(store.expire_holds(at(11)).await.unwrap(), 0);
    assert_eq!(store.expire_holds(at(12)).await.unwrap(), 1);
}
