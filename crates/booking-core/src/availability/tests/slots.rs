use super::*;

#[test]
fn several_ranges_a_day_on_the_grid_with_the_whole_service_inside() {
    let mut week = WeeklyHours::default();
    week.set(
        Weekday::Monday,
        hours(&[("09:00", "12:00"), ("13:00", "17:00")]),
    );
    let cfg = config(NY, week, loose_rules(30));
    let now = at(&cfg, date(2026, 6, 14).at(8, 0, 0, 0));
    let slots = day(&cfg, MONDAY, &service(60), &[], now);
    assert_eq!(
        local_starts(&cfg, &slots),
        [
            "09:00", "09:30", "10:00", "10:30", "11:00", "13:00", "13:30", "14:00", "14:30",
            "15:00", "15:30", "16:00"
        ]
    );
    for s in &slots {
        assert_eq!(
            s.slot.end.duration_since(s.slot.start),
            SignedDuration::from_hours(1)
        );
        assert_eq!(s.blocked, s.slot);
    }
    // Tuesday is not in the week: closed.
    assert!(day(&cfg, date(2026, 6, 16), &service(60), &[], now).is_empty());
}

#[test]
fn the_grid_starts_at_each_range_start() {
    let mut week = WeeklyHours::default();
    week.set(
        Weekday::Monday,
        hours(&[("09:15", "11:00"), ("14:10", "15:00")]),
    );
    let cfg = config(NY, week, loose_rules(30));
    let now = ts(EARLY);
    let svc = service(30);
    let slots = day(&cfg, MONDAY, &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &slots),
        ["09:15", "09:45", "10:15", "14:10"]
    );

    let t = |h, m| at(&cfg, MONDAY.at(h, m, 0, 0));
    assert!(slot_at(&cfg, &svc, t(9, 45), now).is_ok());
    assert_eq!(
        slot_at(&cfg, &svc, t(9, 30), now),
        Err(Unbookable::OffGrid { minutes: 30 })
    );
    assert_eq!(
        slot_at(&cfg, &svc, t(14, 15), now),
        Err(Unbookable::OffGrid { minutes: 30 })
    );
    // On the grid, but the service would end at 11:15.
    assert_eq!(slot_at(&cfg, &svc, t(10, 45), now), Err(Unbookable::Closed));
    assert_eq!(slot_at(&cfg, &svc, t(8, 0), now), Err(Unbookable::Closed));
    assert_eq!(slot_at(&cfg, &svc, t(12, 0), now), Err(Unbookable::Closed));
    assert_eq!(slot_at(&cfg, &svc, t(11, 0), now), Err(Unbookable::Closed));
    // A second past the grid is off it.
    let off = t(9, 45).checked_add(SignedDuration::from_secs(1)).unwrap();
    assert_eq!(
        slot_at(&cfg, &svc, off, now),
        Err(Unbookable::OffGrid { minutes: 30 })
    );
}

#[test]
fn a_range_may_run_to_midnight() {
    let cfg = config(NY, every_day(hours(&[("22:00", "24:00")])), loose_rules(30));
    let slots = day(&cfg, MONDAY, &service(60), &[], ts(EARLY));
    assert_eq!(local_starts(&cfg, &slots), ["22:00", "22:30", "23:00"]);
    assert_eq!(
        slots[2].slot.end,
        at(&cfg, date(2026, 6, 16).at(0, 0, 0, 0))
    );
}

#[test]
fn date_overrides_close_a_day_or_change_its_hours() {
    let mut cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), loose_rules(60));
    cfg.date_overrides = vec![
        DateOverride {
            date: MONDAY,
            hours: DayHours::closed(),
            note: Some("Holiday".into()),
        },
        DateOverride {
            date: date(2026, 6, 16),
            hours: hours(&[("10:00", "12:00")]),
            note: None,
        },
    ];
    let now = ts(EARLY);
    let svc = service(60);
    assert!(day(&cfg, MONDAY, &svc, &[], now).is_empty());
    assert_eq!(
        slot_at(&cfg, &svc, at(&cfg, MONDAY.at(10, 0, 0, 0)), now),
        Err(Unbookable::Closed)
    );
    assert_eq!(
        local_starts(&cfg, &day(&cfg, date(2026, 6, 16), &svc, &[], now)),
        ["10:00", "11:00"]
    );
    assert_eq!(day(&cfg, date(2026, 6, 17), &svc, &[], now).len(), 8);
}

#[test]
fn buffers_widen_the_blocked_time_and_keep_slots_off_busy_time() {
    let rules = BookingRules::new(15, 10, 0, 15, 366).unwrap();
    let cfg = config(NY, every_day(hours(&[("09:00", "12:00")])), rules);
    let svc = service(30);
    let now = ts(EARLY);
    let t = |h, m| at(&cfg, MONDAY.at(h, m, 0, 0));
    let s = slot_at(&cfg, &svc, t(10, 0), now).unwrap();
    assert_eq!(s.slot, Interval::new(t(10, 0), t(10, 30)).unwrap());
    assert_eq!(s.blocked, Interval::new(t(9, 45), t(10, 40)).unwrap());

    // Another booking blocks 10:00-10:40 (its own slot and buffers).
    let busy = [Interval::new(t(9, 45), t(10, 40)).unwrap()];
    let free = day(&cfg, MONDAY, &svc, &busy, now);
    let free = local_starts(&cfg, &free);
    // 09:15 blocks 09:00-09:55: overlaps. 09:00 blocks 08:45-09:40: free (the buffer may reach
    // before opening). 10:45 blocks 10:30-11:25: overlaps. 11:00 blocks 10:45-...: free.
    assert!(free.contains(&"09:00".to_string()));
    for taken in [
        "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45",
    ] {
        assert!(
            !free.contains(&taken.to_string()),
            "{taken} is free: {free:?}"
        );
    }
    assert!(free.contains(&"11:00".to_string()));
    assert_eq!(free.last().map(String::as_str), Some("11:30"));
}

#[test]
fn busy_window_covers_everything_a_slot_in_the_window_can_block() {
    let rules = BookingRules::new(15, 10, 0, 30, 366).unwrap();
    let cfg = config(NY, every_day(hours(&[("09:00", "24:00")])), rules);
    let svc = service(60);
    let now = ts(EARLY);
    let days = day_window(&cfg, MONDAY);
    let wide = busy_window(&cfg, &svc, days);
    assert_eq!(
        wide.start,
        days.start
            .checked_sub(SignedDuration::from_mins(15))
            .unwrap()
    );
    assert_eq!(
        wide.end,
        days.end.checked_add(SignedDuration::from_mins(70)).unwrap()
    );
    for s in day(&cfg, MONDAY, &svc, &[], now) {
        assert!(
            wide.start <= s.blocked.start && s.blocked.end <= wide.end,
            "{s:?}"
        );
    }
    // 23:00-24:00 blocks until 00:10 on Tuesday: a booking at 00:05 takes it away.
    let late = at(&cfg, MONDAY.at(23, 0, 0, 0));
    let next = at(&cfg, date(2026, 6, 16).at(0, 5, 0, 0));
    let busy = [Interval::new(
        next,
        next.checked_add(SignedDuration::from_mins(30)).unwrap(),
    )
    .unwrap()];
    assert!(busy[0].overlaps(&wide) && !busy[0].overlaps(&days));
    assert!(!starts(&day(&cfg, MONDAY, &svc, &busy, now)).contains(&late));
}

#[test]
fn touching_intervals_do_not_overlap() {
    let cfg = config(NY, every_day(hours(&[("09:00", "12:00")])), loose_rules(60));
    let svc = service(60);
    let t = |h| at(&cfg, MONDAY.at(h, 0, 0, 0));
    let busy = [Interval::new(t(10), t(11)).unwrap()];
    let free = day(&cfg, MONDAY, &svc, &busy, ts(EARLY));
    assert_eq!(local_starts(&cfg, &free), ["09:00", "11:00"]);
}

#[test]
fn notice_and_the_past() {
    let rules = BookingRules::new(0, 0, 120, 30, 60).unwrap();
    let cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), rules);
    let svc = service(30);
    let t = |h, m| at(&cfg, MONDAY.at(h, m, 0, 0));
    let now = t(8, 40);
    assert_eq!(slot_at(&cfg, &svc, t(8, 30), now), Err(Unbookable::InPast));
    assert_eq!(
        slot_at(&cfg, &svc, t(10, 0), now),
        Err(Unbookable::TooSoon { minutes: 120 })
    );
    assert_eq!(
        slot_at(&cfg, &svc, t(10, 30), now),
        Err(Unbookable::TooSoon { minutes: 120 })
    );
    assert!(slot_at(&cfg, &svc, t(11, 0), now).is_ok());
    let free = day(&cfg, MONDAY, &svc, &[], now);
    assert_eq!(free.first().map(|s| s.slot.start), Some(t(11, 0)));
    // Exactly the notice is enough.
    assert!(slot_at(&cfg, &svc, t(11, 0), t(9, 0)).is_ok());
}

#[test]
fn the_horizon_counts_local_calendar_days() {
    let rules = BookingRules::new(0, 0, 0, 60, 7).unwrap();
    let cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), rules);
    let svc = service(60);
    // 23:30 on Monday in New York is already Tuesday in UTC: today is still Monday.
    let now = at(&cfg, MONDAY.at(23, 30, 0, 0));
    let last = date(2026, 6, 22);
    assert!(slot_at(&cfg, &svc, at(&cfg, last.at(16, 0, 0, 0)), now).is_ok());
    assert_eq!(
        slot_at(&cfg, &svc, at(&cfg, date(2026, 6, 23).at(9, 0, 0, 0)), now),
        Err(Unbookable::BeyondHorizon { days: 7 })
    );
    let window = Interval::new(now, ts("2026-09-01T00:00:00Z")).unwrap();
    let free = free_slots(&cfg, &svc, window, &[], now);
    assert_eq!(free.len(), 7 * 8);
    assert_eq!(
        cfg.zone
            .tz()
            .to_datetime(free.last().unwrap().slot.start)
            .date(),
        last
    );
}

#[test]
fn reasons_are_checked_in_order() {
    let rules = BookingRules::new(0, 0, 60, 30, 1).unwrap();
    let cfg = config(NY, WeeklyHours::default(), rules);
    let svc = service(30);
    let now = at(&cfg, MONDAY.at(12, 0, 0, 0));
    let t = |d: Date, h| at(&cfg, d.at(h, 0, 0, 0));
    // Everything is closed; the earlier reasons still win.
    assert_eq!(
        slot_at(&cfg, &svc, t(MONDAY, 11), now),
        Err(Unbookable::InPast)
    );
    assert_eq!(
        slot_at(&cfg, &svc, t(MONDAY, 12), now),
        Err(Unbookable::TooSoon { minutes: 60 })
    );
    assert_eq!(
        slot_at(&cfg, &svc, t(date(2026, 6, 20), 12), now),
        Err(Unbookable::BeyondHorizon { days: 1 })
    );
    assert_eq!(
        slot_at(&cfg, &svc, t(MONDAY, 14), now),
        Err(Unbookable::Closed)
    );
}

#[test]
fn window_bounds_are_by_start_time() {
    let cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), loose_rules(60));
    let svc = service(60);
    let t = |h| at(&cfg, MONDAY.at(h, 0, 0, 0));
    let window = Interval::new(t(10), t(13)).unwrap();
    let free = free_slots(&cfg, &svc, window, &[], ts(EARLY));
    assert_eq!(starts(&free), [t(10), t(11), t(12)]);
}

// --- Daylight saving time ---------------------------------------------------------------
