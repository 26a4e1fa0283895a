//! `check_availability`.

use jiff::civil::{date, time};

use super::*;

#[tokio::test]
async fn availability_without_a_date_starts_today_after_the_notice() {
    let h = harness().await;
    let c = h.caller();
    let out = h
        .service
        .check_availability(&c.ctx, "Teeth Whitening", None, None, None)
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
    let slots = &starts(slots);
    assert!(!requested_day_full);
    assert!(!slots.is_empty() && slots.len() <= 4, "{slots:?}");
    // 09:00 now, 2 hours' notice: 11:00 at the earliest, today.
    assert_eq!(local(slots[0]), "2030-03-04T11:00:00-05:00");
    for s in slots {
        assert!(*s >= base_time() + SignedDuration::from_hours(2));
    }
}

#[tokio::test]
async fn availability_without_a_date_moves_to_the_next_open_day() {
    let h = harness().await;
    // Friday 16:00: nothing left today; the weekend is closed.
    h.clock.set(ts("2030-03-08T21:00:00Z"));
    let out = h
        .service
        .check_availability(&h.caller().ctx, "Teeth Whitening", None, None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let slots = &starts(slots);
    // Monday after the spring-forward: EDT.
    assert!(
        local(slots[0]).starts_with("2030-03-11T09:00:00-04:00"),
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
        .check_availability(&ctx, "Checkup", None, None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let slots = &starts(slots);
    assert!(
        local(slots[0]).starts_with("2030-03-25T09:00"),
        "{:?}",
        slots[0]
    );
    // Nothing at all within the horizon.
    ctx.tenant.config.rules.horizon_days = 10;
    let out = h
        .service
        .check_availability(&ctx, "Checkup", None, None, None)
        .await
        .unwrap();
    assert!(
        matches!(out, AvailabilityOutcome::NoneAvailable { .. }),
        "{out:?}"
    );
    assert!(!out.ok());
}

#[tokio::test]
async fn availability_on_a_date_after_a_time() {
    let h = harness().await;
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "teeth whitening",
            Some(date(2030, 3, 5)),
            Some(time(14, 0, 0, 0)),
            None,
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
    let slots = &starts(slots);
    assert!(!requested_day_full);
    for s in slots {
        assert!(local(*s).starts_with("2030-03-05T"), "{}", local(*s));
        assert!(*s >= ts(&tue(14, 0)), "{}", local(*s));
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
            Some(date(2030, 3, 5)),
            Some(time(9, 0, 0, 0)),
            None,
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let slots = &starts(slots);
    let (busy_start, busy_end) = (ts(&tue(10, 0)), ts(&tue(11, 0)));
    for s in slots {
        let end = *s + SignedDuration::from_hours(1);
        assert!(
            end <= busy_start || *s >= busy_end,
            "{} overlaps the hold",
            local(*s)
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
            Some(date(2030, 3, 5)),
            Some(time(21, 0, 0, 0)),
            None,
        )
        .await
        .unwrap();
    let AvailabilityOutcome::Available { slots, .. } = &out else {
        panic!("{out:?}")
    };
    let slots = &starts(slots);
    let held = ts("2030-03-06T00:00:00-05:00");
    assert!(!slots.is_empty());
    for s in slots {
        assert!(
            *s + SignedDuration::from_hours(2) <= held,
            "{} runs into the hold just past midnight",
            local(*s)
        );
    }
}

#[tokio::test]
async fn availability_on_a_closed_day_offers_the_next_days() {
    let h = harness().await;
    let out = h
        .service
        .check_availability(
            &h.caller().ctx,
            "Checkup",
            Some(date(2030, 3, 9)),
            None,
            None,
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
    let slots = &starts(slots);
    assert!(requested_day_full);
    assert!(local(slots[0]).starts_with("2030-03-11T"), "{:?}", slots[0]);
}

#[tokio::test]
async fn availability_refuses_what_it_cannot_read_or_serve() {
    let h = harness().await;
    let ctx = h.caller().ctx;
    let svc = &h.service;
    let unknown = svc
        .check_availability(&ctx, "Haircut", None, None, None)
        .await
        .unwrap();
    let AvailabilityOutcome::Refused(AvailabilityRefusal::UnknownService(u)) = &unknown else {
        panic!("{unknown:?}")
    };
    assert_eq!(u.asked, "Haircut");
    for name in ["Checkup", "Teeth Whitening", "Implant Consultation"] {
        assert!(u.offered.iter().any(|o| o == name), "{u:?}");
    }

    for day in [
        date(2030, 3, 1), // past
        date(2031, 3, 5), // beyond the 60-day horizon
    ] {
        let out = svc
            .check_availability(&ctx, "Checkup", Some(day), None, None)
            .await
            .unwrap();
        assert!(
            matches!(
                out,
                AvailabilityOutcome::Refused(
                    AvailabilityRefusal::DayPassed { .. }
                        | AvailabilityRefusal::BeyondHorizon { .. }
                )
            ),
            "{day}: {out:?}"
        );
    }
    // "whitening" is unambiguous; "consult" too.
    for spoken in ["whitening", "Implant consultation"] {
        let out = svc
            .check_availability(&ctx, spoken, None, None, None)
            .await
            .unwrap();
        assert!(out.ok(), "{spoken}: {out:?}");
    }
}

/// The free starts' times.
fn starts(slots: &[FreeStart]) -> Vec<Timestamp> {
    slots.iter().map(|s| s.start).collect()
}
