use super::*;

/// The first two DST transitions of 2026 in a zone.
fn transitions_2026(zone: &str) -> Vec<Timestamp> {
    let tz = jiff::tz::db().get(zone).unwrap();
    tz.following(ts("2026-01-01T00:00:00Z"))
        .take(2)
        .map(|t| t.timestamp())
        .collect()
}

fn day_hours() -> impl Strategy<Value = DayHours> {
    // Quarter-hour boundaries (96 is 24:00), paired into ranges, often around the night
    // hours where the clocks change.
    prop_oneof![
        prop::collection::btree_set(0u32..=96, 0..=6),
        prop::collection::btree_set(0u32..=16, 0..=6),
    ]
    .prop_map(|set| {
        let b: Vec<u32> = set.into_iter().collect();
        let t = |q: u32| {
            if q == 96 {
                Time::MAX
            } else {
                time((q / 4) as i8, ((q % 4) * 15) as i8, 0, 0)
            }
        };
        DayHours::new(
            b.chunks_exact(2)
                .map(|p| OpenRange::new(t(p[0]), t(p[1])).unwrap())
                .collect(),
        )
        .unwrap()
    })
}

#[derive(Debug)]
struct Case {
    cfg: TenantConfig,
    svc: Service,
    date: Date,
    now: Timestamp,
    busy: Vec<Interval>,
    after: Option<Time>,
    max: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec![NY, LONDON, LORD_HOWE]),
        0usize..2,
        day_hours(),
        prop::option::weighted(0.3, day_hours()),
        (0u32..=60, 0u32..=60, 0u32..=600),
        prop::sample::select(vec![5u32, 10, 15, 20, 30, 45, 60]),
        1u32..=10,
        1u32..=36,
        -6 * 60i64..=2 * 24 * 60,
        prop::collection::vec((-36 * 60i64..=36 * 60, 1i64..=240), 0..6),
        prop::option::of((0i8..24, prop::sample::select(vec![0i8, 15, 30, 45]))),
        0usize..8,
    )
        .prop_map(
            |(
                zone,
                which,
                week,
                special,
                (before, after_buf, notice),
                interval,
                horizon,
                dur,
                back,
                busy,
                after,
                max,
            )| {
                let transition = transitions_2026(zone)[which];
                let rules =
                    BookingRules::new(before, after_buf, notice, interval, horizon).unwrap();
                let mut cfg = config(zone, every_day(week), rules);
                let date = cfg.zone.tz().to_datetime(transition).date();
                if let Some(hours) = special {
                    cfg.date_overrides.push(DateOverride {
                        date,
                        hours,
                        note: None,
                    });
                }
                let busy = busy
                    .into_iter()
                    .map(|(off, len)| {
                        let s = transition
                            .checked_add(SignedDuration::from_mins(off))
                            .unwrap();
                        Interval::new(s, s.checked_add(SignedDuration::from_mins(len)).unwrap())
                            .unwrap()
                    })
                    .collect();
                Case {
                    svc: service(dur * 5),
                    date,
                    // Mostly early enough for the notice to leave the transition bookable.
                    now: transition
                        .checked_sub(SignedDuration::from_mins(i64::from(notice) + back))
                        .unwrap(),
                    busy,
                    after: after.map(|(h, m)| time(h, m, 0, 0)),
                    max,
                    cfg,
                }
            },
        )
}

/// The first instant (on a 5-minute grid, which every transition of the zones under test is
/// on) at which the wall clock reads `wall` or later: when a clinic that opens or closes at
/// `wall` does so, found by walking the clock rather than by resolving the local time.
fn first_reaching(
    tz: &TimeZone,
    wall: DateTime,
    cache: &mut HashMap<DateTime, Timestamp>,
) -> Timestamp {
    *cache.entry(wall).or_insert_with(|| {
        // 15 hours before `wall` read as UTC, the wall clock of any zone is still before it.
        let mut t = TimeZone::UTC
            .to_timestamp(wall)
            .unwrap()
            .checked_sub(SignedDuration::from_hours(15))
            .unwrap();
        while tz.to_datetime(t) < wall {
            t = t.checked_add(SignedDuration::from_mins(5)).unwrap();
        }
        t
    })
}

/// Checks a slot against the rules with nothing from the implementation but the slot: the
/// service lies between the moments the clock reaches the opening and the closing time of one
/// range of its date, starts on that range's grid, and keeps notice, horizon, buffers and busy
/// time.
fn check_slot(
    c: &Case,
    s: &Slot,
    cache: &mut HashMap<DateTime, Timestamp>,
) -> Result<(), TestCaseError> {
    let cfg = &c.cfg;
    let tz = cfg.zone.tz();
    let rules = &cfg.rules;
    let mins = |m: u32| SignedDuration::from_mins(i64::from(m));
    prop_assert_eq!(
        s.slot.end.duration_since(s.slot.start),
        c.svc.duration.span()
    );
    prop_assert_eq!(
        s.blocked.start,
        s.slot.start.checked_sub(mins(rules.buffer_before)).unwrap()
    );
    prop_assert_eq!(
        s.blocked.end,
        s.slot.end.checked_add(mins(rules.buffer_after)).unwrap()
    );
    prop_assert!(s.slot.start >= c.now.checked_add(mins(rules.min_notice_minutes)).unwrap());
    let local = tz.to_datetime(s.slot.start);
    let today = tz.to_datetime(c.now).date();
    prop_assert!(local.date().since(today).unwrap().get_days() <= rules.horizon_days as i32);
    for b in &c.busy {
        prop_assert!(!s.blocked.overlaps(b), "{:?} overlaps busy {:?}", s, b);
    }
    // The earlier of a repeated wall-clock time.
    prop_assert_eq!(
        tz.to_ambiguous_timestamp(local).earlier().unwrap(),
        s.slot.start
    );
    let date = local.date();
    let range =
        cfg.hours_on(date).ranges().iter().find(|r| {
            local.time() >= r.start() && (r.end() == Time::MAX || local.time() < r.end())
        });
    prop_assert!(range.is_some(), "{:?} starts outside the hours", local);
    let range = range.unwrap();
    let open = date.to_datetime(range.start());
    let close = if range.end() == Time::MAX {
        date.tomorrow().unwrap().to_datetime(Time::midnight())
    } else {
        date.to_datetime(range.end())
    };
    let grid = i64::from(rules.slot_interval.get()) * 60;
    prop_assert_eq!(local.duration_since(open).as_secs() % grid, 0);
    let (opens, closes) = (
        first_reaching(tz, open, cache),
        first_reaching(tz, close, cache),
    );
    prop_assert!(
        opens <= s.slot.start && s.slot.end <= closes,
        "{:?} runs outside {}-{} ({}-{})",
        s,
        open,
        close,
        opens,
        closes
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn free_slots_and_suggestions_keep_every_rule_across_dst(c in case()) {
        let cfg = &c.cfg;
        let first = c.date.yesterday().unwrap();
        let last = c.date.tomorrow().unwrap();
        let window = Interval::new(day_window(cfg, first).start, day_window(cfg, last).end).unwrap();
        let free = free_slots(cfg, &c.svc, window, &c.busy, c.now);
        let cache = &mut HashMap::new();
        prop_assert!(free.windows(2).all(|w| w[0].slot.start < w[1].slot.start));
        for s in &free {
            prop_assert!(window.contains(s.slot.start));
            check_slot(&c, s, cache)?;
            prop_assert_eq!(slot_at(cfg, &c.svc, s.slot.start, c.now), Ok(*s));
        }

        // Complete: every 5-minute instant of the window that the rules allow and nothing
        // busy blocks is offered.
        let mut t = window.start;
        while t < window.end {
            if let Ok(s) = slot_at(cfg, &c.svc, t, c.now) {
                check_slot(&Case { busy: Vec::new(), ..clone_case(&c) }, &s, cache)?;
                let blocked = c.busy.iter().any(|b| b.overlaps(&s.blocked));
                prop_assert_eq!(free.contains(&s), !blocked, "{:?}", s);
            }
            t = t.checked_add(SignedDuration::from_mins(5)).unwrap();
        }

        for d in [first, c.date, last] {
            let picks = suggest_on_day(cfg, &c.svc, d, c.after, &c.busy, c.now, c.max);
            let tz = cfg.zone.tz();
            let eligible: Vec<Slot> = free
                .iter()
                .filter(|s| {
                    let l = tz.to_datetime(s.slot.start);
                    l.date() == d && c.after.is_none_or(|a| l.time() >= a)
                })
                .copied()
                .collect();
            prop_assert_eq!(picks.len(), eligible.len().min(c.max));
            prop_assert!(picks.windows(2).all(|w| w[0].slot.start < w[1].slot.start));
            for p in &picks {
                prop_assert!(eligible.contains(p));
                check_slot(&c, p, cache)?;
            }
            if c.max >= 2 && eligible.len() >= 2 {
                prop_assert_eq!(picks.first(), eligible.first());
                prop_assert_eq!(picks.last(), eligible.last());
            }
        }
    }
}

fn clone_case(c: &Case) -> Case {
    Case {
        cfg: c.cfg.clone(),
        svc: c.svc.clone(),
        date: c.date,
        now: c.now,
        busy: c.busy.clone(),
        after: c.after,
        max: c.max,
    }
}
