use super::*;

#[test]
fn suggestions_spread_across_the_day() {
    let cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), loose_rules(30));
    let svc = service(30);
    let now = ts(EARLY);
    let picks = suggest_on_day(&cfg, &svc, MONDAY, None, &[], now, 5);
    assert_eq!(
        local_starts(&cfg, &picks),
        ["09:00", "11:00", "13:00", "14:30", "16:30"]
    );

    let afternoon = suggest_on_day(&cfg, &svc, MONDAY, Some(time(12, 0, 0, 0)), &[], now, 3);
    assert_eq!(local_starts(&cfg, &afternoon), ["12:00", "14:30", "16:30"]);

    // Busy all morning but 09:00: the one morning start is still offered.
    let t = |h, m| at(&cfg, MONDAY.at(h, m, 0, 0));
    let busy = [Interval::new(t(9, 30), t(13, 0)).unwrap()];
    let picks = suggest_on_day(&cfg, &svc, MONDAY, None, &busy, now, 3);
    assert_eq!(local_starts(&cfg, &picks), ["09:00", "14:30", "16:30"]);

    assert!(suggest_on_day(&cfg, &svc, MONDAY, None, &[], now, 0).is_empty());
    assert_eq!(
        local_starts(&cfg, &suggest_on_day(&cfg, &svc, MONDAY, None, &[], now, 1)),
        ["09:00"]
    );
    assert_eq!(
        suggest_on_day(&cfg, &svc, MONDAY, None, &[], now, 100).len(),
        16
    );
    assert!(suggest_on_day(&cfg, &svc, MONDAY, Some(time(16, 31, 0, 0)), &[], now, 5).is_empty());
}

#[test]
fn suggestions_respect_notice_and_horizon() {
    let rules = BookingRules::new(0, 0, 240, 60, 2).unwrap();
    let cfg = config(NY, every_day(hours(&[("09:00", "17:00")])), rules);
    let svc = service(60);
    let now = at(&cfg, MONDAY.at(10, 0, 0, 0));
    assert_eq!(
        local_starts(&cfg, &suggest_on_day(&cfg, &svc, MONDAY, None, &[], now, 5)),
        ["14:00", "15:00", "16:00"]
    );
    assert!(suggest_on_day(&cfg, &svc, date(2026, 6, 18), None, &[], now, 5).is_empty());
    assert!(suggest_on_day(&cfg, &svc, date(2026, 6, 14), None, &[], now, 5).is_empty());
}

#[test]
fn spread_picks_first_last_and_distinct() {
    for n in 0..40usize {
        for max in 1..12usize {
            let picked = spread((0..n).collect::<Vec<_>>(), max);
            assert_eq!(picked.len(), n.min(max));
            assert!(picked.windows(2).all(|w| w[0] < w[1]));
            if n > 0 {
                assert_eq!(picked[0], 0);
            }
            if n > max && max >= 2 {
                assert_eq!(picked.last(), Some(&(n - 1)));
            }
        }
    }
}
