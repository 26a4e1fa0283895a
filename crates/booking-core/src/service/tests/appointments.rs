//! Cancelling and rescheduling, by a caller and by the owner.

use super::*;

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
    let out = h.cancel_by_phone(&ctx, Some(stranger)).await;
    let CancelOutcome::NotFound { appointments } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(appointments.len(), 2);
    assert_eq!(h.status(stranger).await, BookingStatus::Confirmed);
    let out = h
        .cancel_by_phone(&ctx, Some(BookingId::from_random_bytes([9; 16])))
        .await;
    assert!(matches!(out, CancelOutcome::NotFound { .. }), "{out:?}");
    let out = h.cancel_by_phone(&ctx, Some(second)).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(h.status(first).await, BookingStatus::Confirmed);
    assert_eq!(h.status(second).await, BookingStatus::Cancelled);
    // Hidden caller ID: refused.
    let mut hidden = ctx.clone();
    hidden.caller = None;
    let out = h.cancel_by_phone(&hidden, Some(first)).await;
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
        start,
        status,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(*previous_appointment_id, old);
    assert_eq!(local(*start), tue(10, 30));
    assert_eq!(*status, BookingStatus::Confirmed);
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
    // The new appointment's confirmation is what send_confirmation_sms reports.
    let s = h.service.send_confirmation_sms(&ctx, *new).await.unwrap();
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
    let out = h.reschedule_by_phone(&ctx, Some(old), &tue(14, 30)).await;
    let RescheduleOutcome::Taken { alternatives } = &out else {
        panic!("{out:?}")
    };
    assert!(!alternatives.is_empty());
    assert_eq!(h.status(old).await, BookingStatus::Confirmed);
    assert_eq!(h.messages().await, before);
    for bad in [
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
        .reschedule_booking_for_owner(&h.tenant, old, &at(&tue(15, 0)), None)
        .await
        .unwrap();
    assert!(out.ok(), "{out:?}");
    assert_eq!(h.status(old).await, BookingStatus::Cancelled);
}
