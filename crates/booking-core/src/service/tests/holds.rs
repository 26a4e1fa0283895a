//! `reserve_slot`.

use super::*;

#[tokio::test]
async fn reserve_holds_for_ten_minutes() {
    let h = harness().await;
    let c = h.caller();
    let out = h
        .service
        .reserve_slot(
            &c.ctx,
            slot(&at(&tue(10, 0)), "Teeth Whitening", " Ada Lovelace ", None),
        )
        .await
        .unwrap();
    let ReserveOutcome::Held {
        hold_id,
        expires_at,
        start,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(local(*expires_at), "2030-03-04T09:10:00-05:00");
    assert_eq!(local(*start), tue(10, 0));
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
}

#[tokio::test]
async fn reserve_taken_slot_offers_alternatives_near_it() {
    let h = harness().await;
    h.reserve(&h.caller(), &tue(10, 0)).await;
    let out = h
        .service
        .reserve_slot(
            &h.caller().ctx,
            slot(&at(&tue(10, 30)), "Teeth Whitening", "Grace", None),
        )
        .await
        .unwrap();
    let ReserveOutcome::Taken { alternatives } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(alternatives.len(), 3, "{alternatives:?}");
    let starts: Vec<String> = alternatives.iter().map(|a| local(*a)).collect();
    // The free starts closest to 10:30 on that day, in order.
    assert_eq!(starts, vec![tue(9, 0), tue(11, 0), tue(11, 30)]);
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
            svc.reserve_slot(&ctx, slot(&at(&start), "Teeth Whitening", "Ada", None))
                .await
                .unwrap()
        }
    };
    // Saturday: closed; alternatives on the next open days.
    let out = reserve("2030-03-09T10:00:00-05:00".into()).await;
    let ReserveOutcome::Refused(ReserveRefusal::AgainstTheRules(AgainstTheRules {
        why: Unbookable::Closed,
        alternatives,
    })) = &out
    else {
        panic!("{out:?}")
    };
    assert!(!alternatives.is_empty());
    // Off the grid.
    let out = reserve(tue(10, 15)).await;
    assert!(
        matches!(
            &out,
            ReserveOutcome::Refused(ReserveRefusal::AgainstTheRules(AgainstTheRules {
                why: Unbookable::OffGrid { minutes: 30 },
                ..
            }))
        ),
        "{out:?}"
    );
    // Too soon: 9:30 today with 2 hours' notice.
    let out = reserve("2030-03-04T09:30".into()).await;
    let ReserveOutcome::Refused(ReserveRefusal::AgainstTheRules(AgainstTheRules {
        why: Unbookable::TooSoon { minutes: 120 },
        alternatives,
    })) = &out
    else {
        panic!("{out:?}")
    };
    assert!(
        alternatives
            .iter()
            .all(|a| *a >= base_time() + SignedDuration::from_hours(2))
    );
    // In the past.
    let out = reserve("2030-03-01T10:00:00-05:00".into()).await;
    assert!(matches!(out, ReserveOutcome::Refused { .. }), "{out:?}");
    // A local time the clocks skip (spring forward, 2030-03-10).
    let out = reserve("2030-03-10T02:30".into()).await;
    assert!(
        matches!(
            &out,
            ReserveOutcome::Refused(ReserveRefusal::NoSuchStart(StartProblem::Skipped(_)))
        ),
        "{out:?}"
    );
    // Unknown service, missing name.
    let out = svc
        .reserve_slot(&c.ctx, slot(&at(&tue(10, 0)), "Haircut", "Ada", None))
        .await
        .unwrap();
    assert!(
        matches!(&out, ReserveOutcome::Refused(ReserveRefusal::UnknownService(u))
            if u.offered.iter().any(|o| o == "Teeth Whitening")),
        "{out:?}"
    );
    let out = svc
        .reserve_slot(&c.ctx, slot(&at(&tue(10, 0)), "Checkup", "  ", None))
        .await
        .unwrap();
    assert_eq!(out, ReserveOutcome::Refused(ReserveRefusal::NoCallerName));
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
        .reserve_slot(&ctx, slot(&at(&tue(10, 0)), "Checkup", "Ada", None))
        .await
        .unwrap();
    assert!(
        matches!(&out, ReserveOutcome::Refused(ReserveRefusal::HiddenNumber)),
        "{out:?}"
    );
    let out = h
        .service
        .reserve_slot(
            &ctx,
            slot(
                &at(&tue(10, 0)),
                "Checkup",
                "Ada",
                Some(phone("+1 925 420 7621")),
            ),
        )
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
