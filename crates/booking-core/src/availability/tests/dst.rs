use super::*;

#[test]
fn new_york_spring_forward_skips_the_missing_hour() {
    let cfg = config(NY, every_day(hours(&[("00:00", "05:00")])), loose_rules(30));
    let d = date(2026, 3, 8);
    let svc = service(30);
    let now = ts(EARLY);
    let slots = day(&cfg, d, &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &slots),
        [
            "00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30"
        ]
    );
    // 01:30 EST and 03:00 EDT are 30 real minutes apart.
    assert_eq!(slots[3].slot.start, ts("2026-03-08T06:30:00Z"));
    assert_eq!(slots[4].slot.start, ts("2026-03-08T07:00:00Z"));
    // A 60-minute service from 01:30 EST runs in real time, to 03:30 EDT.
    let long = slot_at(&cfg, &service(60), ts("2026-03-08T06:30:00Z"), now).unwrap();
    assert_eq!(long.slot.end, ts("2026-03-08T07:30:00Z"));
    assert_eq!(
        day_window(&cfg, d)
            .end
            .duration_since(day_window(&cfg, d).start),
        SignedDuration::from_hours(23)
    );
}

#[test]
fn a_range_ending_in_the_gap_ends_at_the_transition() {
    let mut cfg = config(NY, WeeklyHours::default(), loose_rules(30));
    let d = date(2026, 3, 8);
    cfg.date_overrides.push(DateOverride {
        date: d,
        hours: hours(&[("00:00", "02:30")]),
        note: None,
    });
    let now = ts(EARLY);
    assert_eq!(
        local_starts(&cfg, &day(&cfg, d, &service(30), &[], now)),
        ["00:00", "00:30", "01:00", "01:30"]
    );
    // 01:00 EST + 60 minutes is the transition (07:00Z): fits. 01:30 EST + 60 does not.
    assert_eq!(
        local_starts(&cfg, &day(&cfg, d, &service(60), &[], now)),
        ["00:00", "00:30", "01:00"]
    );
    assert_eq!(
        slot_at(&cfg, &service(60), ts("2026-03-08T06:30:00Z"), now),
        Err(Unbookable::Closed)
    );
}

#[test]
fn a_range_starting_in_the_gap_keeps_its_grid() {
    let mut cfg = config(NY, WeeklyHours::default(), loose_rules(45));
    let d = date(2026, 3, 8);
    cfg.date_overrides.push(DateOverride {
        date: d,
        hours: hours(&[("02:15", "05:00")]),
        note: None,
    });
    // 02:15 does not exist; 03:00, 03:45 do; 04:30 + 30 = 05:00 fits.
    assert_eq!(
        local_starts(&cfg, &day(&cfg, d, &service(30), &[], ts(EARLY))),
        ["03:00", "03:45", "04:30"]
    );
}

#[test]
fn new_york_fall_back_offers_the_earlier_of_a_repeated_time_only() {
    let cfg = config(NY, every_day(hours(&[("00:00", "03:00")])), loose_rules(30));
    let d = date(2026, 11, 1);
    let svc = service(30);
    let now = ts(EARLY);
    let slots = day(&cfg, d, &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &slots),
        ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    );
    // 01:30 is 01:30 EDT (05:30Z), not 01:30 EST (06:30Z).
    assert_eq!(slots[3].slot.start, ts("2026-11-01T05:30:00Z"));
    assert_eq!(slots[4].slot.start, ts("2026-11-01T07:00:00Z"));
    // The second 01:30 and 01:00 (EST) are refused as what they are, not as "off grid".
    assert_eq!(
        slot_at(&cfg, &svc, ts("2026-11-01T06:30:00Z"), now),
        Err(Unbookable::RepeatedTime)
    );
    assert_eq!(
        slot_at(&cfg, &svc, ts("2026-11-01T06:00:00Z"), now),
        Err(Unbookable::RepeatedTime)
    );
    // The repeated hour is real time though: a booking in it blocks what overlaps it.
    let busy = [Interval::new(ts("2026-11-01T06:00:00Z"), ts("2026-11-01T07:00:00Z")).unwrap()];
    let free = day(&cfg, d, &service(60), &busy, now);
    // 01:00 EDT + 60 min = 01:00 EST (06:00Z): touches the busy hour, free.
    assert_eq!(
        local_starts(&cfg, &free),
        ["00:00", "00:30", "01:00", "02:00"]
    );
    assert_eq!(
        day_window(&cfg, d)
            .end
            .duration_since(day_window(&cfg, d).start),
        SignedDuration::from_hours(25)
    );
}

#[test]
fn a_range_ending_in_the_fold_ends_at_its_earlier_instant() {
    let mut cfg = config(NY, WeeklyHours::default(), loose_rules(30));
    let d = date(2026, 11, 1);
    cfg.date_overrides.push(DateOverride {
        date: d,
        hours: hours(&[("00:00", "01:30")]),
        note: None,
    });
    // Closes at 01:30 EDT (05:30Z), so a 60-minute service fits from 00:00 and 00:30 only.
    let slots = day(&cfg, d, &service(60), &[], ts(EARLY));
    assert_eq!(local_starts(&cfg, &slots), ["00:00", "00:30"]);
    assert_eq!(slots[1].slot.end, ts("2026-11-01T05:30:00Z"));
}

#[test]
fn london_transitions() {
    let cfg = config(
        LONDON,
        every_day(hours(&[("00:00", "03:00")])),
        loose_rules(30),
    );
    let now = ts(EARLY);
    let svc = service(30);
    // 01:00 GMT -> 02:00 BST.
    let spring = day(&cfg, date(2026, 3, 29), &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &spring),
        ["00:00", "00:30", "02:00", "02:30"]
    );
    // 02:00 BST -> 01:00 GMT: 01:00 and 01:30 resolve to BST.
    let autumn = day(&cfg, date(2026, 10, 25), &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &autumn),
        ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    );
    assert_eq!(autumn[2].slot.start, ts("2026-10-25T00:00:00Z"));
    assert_eq!(autumn[4].slot.start, ts("2026-10-25T02:00:00Z"));
}

#[test]
fn lord_howe_shifts_by_half_an_hour() {
    let cfg = config(
        LORD_HOWE,
        every_day(hours(&[("01:00", "03:00")])),
        loose_rules(15),
    );
    let now = ts(EARLY);
    let svc = service(15);
    // 2026-10-04 02:00 +10:30 -> 02:30 +11: 02:00 and 02:15 do not exist.
    let spring = day(&cfg, date(2026, 10, 4), &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &spring),
        ["01:00", "01:15", "01:30", "01:45", "02:30", "02:45"]
    );
    assert_eq!(spring[3].slot.end, spring[4].slot.start);
    // 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:30 and 01:45 exist twice; the earlier is used.
    let autumn = day(&cfg, date(2026, 4, 5), &svc, &[], now);
    assert_eq!(
        local_starts(&cfg, &autumn),
        [
            "01:00", "01:15", "01:30", "01:45", "02:00", "02:15", "02:30", "02:45"
        ]
    );
    assert_eq!(autumn[2].slot.start, ts("2026-04-04T14:30:00Z"));
    assert_eq!(autumn[4].slot.start, ts("2026-04-04T15:30:00Z"));
    let len = |d| {
        let w = day_window(&cfg, d);
        w.end.duration_since(w.start)
    };
    assert_eq!(
        len(date(2026, 10, 4)),
        SignedDuration::from_mins(23 * 60 + 30)
    );
    assert_eq!(
        len(date(2026, 4, 5)),
        SignedDuration::from_mins(24 * 60 + 30)
    );
    assert_eq!(len(date(2026, 6, 1)), SignedDuration::from_hours(24));
}

#[test]
fn day_window_starts_at_local_midnight() {
    let cfg = config(NY, WeeklyHours::default(), loose_rules(30));
    let w = day_window(&cfg, MONDAY);
    assert_eq!(w.start, ts("2026-06-15T04:00:00Z"));
    assert_eq!(w.end, ts("2026-06-16T04:00:00Z"));
    // Where midnight itself is skipped (Havana springs forward at 00:00), the day starts when
    // the gap ends.
    let havana = config("America/Havana", WeeklyHours::default(), loose_rules(30));
    let d = date(2026, 3, 8);
    let tz = havana.zone.tz();
    assert!(tz.to_ambiguous_timestamp(d.at(0, 0, 0, 0)).is_ambiguous());
    let w = day_window(&havana, d);
    assert_eq!(tz.to_datetime(w.start), d.at(1, 0, 0, 0));
    assert_eq!(
        tz.to_datetime(w.start.checked_sub(SignedDuration::from_nanos(1)).unwrap())
            .date(),
        date(2026, 3, 7)
    );
}

// --- Suggestions -------------------------------------------------------------------------
