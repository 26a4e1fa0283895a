//! The clinic's own calendar in the use-cases: its synced busy time blocks availability,
//! reserving and a caller's move; an event that arrives after a booking is a conflict, and the
//! booking stays.

use super::*;
use crate::booking::Interval;
use crate::outside_calendar::{
    CalendarChanges, CalendarCredentials, CalendarLink, CalendarSyncStore, CalendarUrl,
    ChangeScope, OutsideResource, SyncResult,
};
use crate::tenant::Secret;

/// Links the clinic's calendar and records a sync that found these busy intervals.
async fn calendar_says(h: &Harness, busy: &[Interval]) {
    calendar_of_says(h, h.tenant.calendar(), busy).await
}

/// Links `calendar` (a provider's) and records a sync that found these busy intervals.
async fn calendar_of_says(h: &Harness, calendar: crate::ids::CalendarId, busy: &[Interval]) {
    let now = h.clock.now();
    let link = CalendarLink {
        tenant: h.tenant.id,
        calendar,
        url: CalendarUrl::parse("https://cal.example.com/dav/front-desk/").unwrap(),
        credentials: CalendarCredentials::Token(Secret::new("token")),
        zone: h.tenant.config.zone.clone(),
    };
    h.store.link_calendar(&link, now).await.unwrap();
    let claims = h
        .store
        .claim_due_syncs(now, 10, now + SignedDuration::from_mins(2))
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
    let synced = SyncResult::Synced {
        changes: CalendarChanges {
            scope: ChangeScope::Everything,
            changed: vec![OutsideResource {
                href: "/dav/front-desk/walk-in.ics".into(),
                etag: "\"1\"".into(),
                busy: busy.to_vec(),
            }],
            removed: Vec::new(),
            token: None,
            expanded_until: now + SignedDuration::from_hours(24 * 120),
        },
        next_sync_at: now + SignedDuration::from_secs(30),
    };
    assert!(h.store.record_sync(&claims[0], &synced, now).await.unwrap());
}

fn between(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
}

#[tokio::test]
async fn an_outside_event_blocks_availability_and_reserving() {
    let h = harness().await;
    // A walk-in typed into the clinic's calendar, Tuesday 10:00-11:00.
    calendar_says(&h, &[between(&tue(10, 0), &tue(11, 0))]).await;
    let c = h.caller();
    let out = h
        .service
        .check_availability(
            &c.ctx,
            "Teeth Whitening",
            Some(jiff::civil::date(2030, 3, 5)),
            Some(jiff::civil::time(9, 30, 0, 0)),
            None,
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let offered: Vec<String> = slots.iter().map(|s| local(s.start)).collect();
    for busy in [tue(9, 30), tue(10, 0), tue(10, 30)] {
        assert!(!offered.contains(&busy), "{busy} offered: {offered:?}");
    }
    assert!(offered.contains(&tue(11, 0)), "{offered:?}");

    for start in [tue(9, 30), tue(10, 0), tue(10, 30)] {
        let out = h
            .service
            .reserve_slot(&c.ctx, slot(&at(&start), "Teeth Whitening", "Ada", None))
            .await
            .unwrap();
        let ReserveOutcome::Taken { alternatives } = &out else {
            panic!("{start}: {out:?}")
        };
        assert!(
            alternatives
                .iter()
                .all(|a| !(ts(&tue(9, 30))..ts(&tue(11, 0))).contains(a)),
            "{alternatives:?}"
        );
    }
    assert!(
        h.store
            .list_bookings(h.tenant.id, between(&tue(0, 0), &tue(23, 0)))
            .await
            .unwrap()
            .is_empty(),
        "nothing was held over the event"
    );
    h.reserve(&c, &tue(11, 0)).await;
}

#[tokio::test]
async fn outside_events_count_against_no_limit() {
    let h = harness().await;
    let mut cfg = h.tenant.config.clone();
    let mut p = h.tenant.providers()[0].clone();
    p.max_per_day = Some(crate::provider::BookingCap::new("limit", 1).unwrap());
    cfg.providers = vec![p];
    let tenant = h
        .store
        .update_tenant(h.tenant.id, &cfg, crate::ports::SmsAccountChange::Keep)
        .await
        .unwrap();
    let h = Harness { tenant, ..h };
    calendar_says(
        &h,
        &[
            between(&tue(9, 0), &tue(9, 30)),
            between(&tue(13, 0), &tue(14, 0)),
        ],
    )
    .await;
    // Two events that day, and the one appointment of the limit still fits.
    h.reserve(&h.caller(), &tue(10, 0)).await;
}

#[tokio::test]
async fn a_caller_cannot_move_onto_an_outside_event() {
    let h = harness().await;
    let c = h.caller();
    let booked = h.book(&c, &tue(10, 0)).await;
    calendar_says(&h, &[between(&tue(14, 0), &tue(15, 0))]).await;
    let out = h
        .reschedule_by_phone(&h.calls_again(&c).ctx, Some(booked), &tue(14, 0))
        .await;
    assert!(matches!(out, RescheduleOutcome::Taken { .. }), "{out:?}");
    assert_eq!(h.status(booked).await, BookingStatus::Confirmed);
    let out = h
        .reschedule_by_phone(&h.calls_again(&c).ctx, Some(booked), &tue(15, 0))
        .await;
    assert!(
        matches!(out, RescheduleOutcome::Rescheduled { .. }),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_event_arriving_after_a_booking_is_a_conflict_and_the_booking_stays() {
    let h = harness().await;
    let c = h.caller();
    let booked = h.book(&c, &tue(10, 0)).await;
    let week = between(&tue(0, 0), "2030-03-12T00:00:00-05:00");
    assert!(
        h.service
            .calendar_conflicts(&h.tenant, week)
            .await
            .unwrap()
            .is_empty()
    );
    // The front desk types a meeting over it, and another one later that day.
    let meeting = between(&tue(10, 30), &tue(11, 30));
    calendar_says(&h, &[meeting, between(&tue(15, 0), &tue(16, 0))]).await;
    let conflicts = h.service.calendar_conflicts(&h.tenant, week).await.unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c0 = &conflicts[0];
    assert_eq!(c0.booking, booked);
    assert_eq!(c0.calendar, h.tenant.calendar());
    assert_eq!(c0.outside, vec![meeting]);
    assert_eq!(c0.caller_name, "Ada Lovelace");
    assert_eq!(local(c0.slot.start), tue(10, 0));
    // Never cancelled for it.
    assert_eq!(h.status(booked).await, BookingStatus::Confirmed);
    // Outside the window asked about: none.
    let next_week = between("2030-03-12T00:00:00-05:00", "2030-03-19T00:00:00-05:00");
    assert!(
        h.service
            .calendar_conflicts(&h.tenant, next_week)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_event_in_one_providers_calendar_leaves_the_others_free() {
    let h = harness().await;
    let mut config = h.tenant.config.clone();
    config.providers = vec![
        crate::testing::provider("Dr. Lee"),
        crate::testing::provider("Hygienist Maria"),
    ];
    let tenant = h
        .store
        .update_tenant(h.tenant.id, &config, crate::ports::SmsAccountChange::Keep)
        .await
        .unwrap();
    let h = Harness { tenant, ..h };
    let lee = h.tenant.providers()[0].id;
    calendar_of_says(&h, lee, &[between(&tue(10, 0), &tue(11, 0))]).await;
    let c = h.caller();
    // Without a preference, Dr. Lee (first in the clinic's order) is busy: Maria gets it.
    let out = h
        .service
        .reserve_slot(&c.ctx, slot(&at(&tue(10, 0)), "Checkup", "Ada", None))
        .await
        .unwrap();
    let ReserveOutcome::Held { provider, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(provider.to_string(), "Hygienist Maria");
    // Asked for Dr. Lee: taken, and his first free time after it is 11:00.
    let mut asked = slot(&at(&tue(10, 0)), "Checkup", "Ada", None);
    asked.provider = Some("Dr. Lee".into());
    let out = h
        .service
        .reserve_slot(&h.caller().ctx, asked)
        .await
        .unwrap();
    assert!(matches!(out, ReserveOutcome::Taken { .. }), "{out:?}");
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Checkup",
            Some(jiff::civil::date(2030, 3, 5)),
            Some(jiff::civil::time(10, 0, 0, 0)),
            Some("Dr. Lee"),
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(local(slots[0].start), tue(11, 0), "{slots:?}");
}
