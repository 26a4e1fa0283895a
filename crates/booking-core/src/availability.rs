//! Free start times from a clinic's schedule, a service and the busy intervals.
//!
//! # The rules
//!
//! - **Hours.** A date's opening ranges are [`TenantConfig::hours_on`] (a date override if there
//!   is one, else the week's hours), read as wall-clock times in the clinic's zone. An end of
//!   `24:00` ([`Time::MAX`]) is the first instant of the next day.
//! - **Grid.** Starts fall at each range's start plus whole multiples of the slot interval, counted
//!   on the wall clock (09:00, 09:30, 10:00, ...), and the whole service (not its buffers) must end
//!   by the range's end.
//! - **Buffers.** A slot's `blocked` interval is the slot widened by the buffers before and after.
//!   A slot is free iff its `blocked` interval overlaps no busy interval (busy intervals are other
//!   bookings' `blocked` intervals). Buffers may reach outside the opening hours.
//! - **Notice.** A start must be at least `min_notice_minutes` after now (so never in the past).
//! - **Horizon.** A start's local date must be at most `horizon_days` calendar days after today's
//!   local date in the clinic's zone: every date is either wholly bookable or not at all.
//!
//! # Daylight saving time
//!
//! Wall-clock times are turned into instants one fixed way, in this module only:
//!
//! - A local **start** that does not exist (it falls in a spring-forward gap, e.g. 02:30 in
//!   America/New_York on 2026-03-08, or 02:15 in Australia/Lord_Howe on 2026-10-04, where the
//!   clocks jump by 30 minutes) is **skipped**: it is never offered, and the grid goes on at its
//!   next time that exists (the grid is not shifted).
//! - A local start that exists twice (it falls in a fall-back fold, e.g. 01:30 in
//!   America/New_York on 2026-11-01) resolves to the **earlier** instant (jiff's
//!   `Disambiguation::Earlier`, the one with the pre-transition offset). The second occurrence is
//!   not a slot: [`slot_at`] refuses it as [`Unbookable::RepeatedTime`], which the caller is
//!   told in words (the time comes twice; only the first can be booked).
//! - A range's **end** resolves the same way: the earlier instant when it exists twice. When it
//!   falls in a gap, the range ends at the transition itself (the instant the clock jumps past
//!   it), since that is when the wall clock first shows a time at or after the end.
//! - A **day** ([`day_window`]) runs from the first instant of its date to the first instant of
//!   the next (23 hours on a spring-forward day, 25 on a fall-back day, 23.5 or 24.5 in
//!   Australia/Lord_Howe). If midnight falls in a gap, the day starts when the gap ends.
//!
//! Everything after the conversion is measured in real elapsed time: a 60-minute service that
//! starts at 01:30 EST on a spring-forward day ends at 03:30 EDT.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::booking::Interval;
use crate::tenant::{OpenRange, Service, TenantConfig};

/// A bookable start and the time it would block (the slot widened by the buffers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub slot: Interval,
    pub blocked: Interval,
}

/// Why a requested start cannot be booked, whatever else is booked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unbookable {
    #[error("that time is in the past")]
    InPast,
    #[error("that is too soon: bookings need {minutes} minutes' notice")]
    TooSoon { minutes: u32 },
    #[error("that is too far ahead: bookings open {days} days in advance")]
    BeyondHorizon { days: u32 },
    #[error("the clinic is closed then")]
    Closed,
    #[error("appointments start on the {minutes}-minute grid")]
    OffGrid { minutes: u32 },
    /// The second occurrence of a wall-clock time that a fall-back repeats: only the first is
    /// bookable, and the refusal says so in words rather than "off the grid".
    #[error("that time comes twice because the clocks go back; only the first can be booked")]
    RepeatedTime,
}

/// The rules alone (hours, overrides, grid, notice, horizon), ignoring other bookings: the slot a
/// start would make, or why it is not bookable.
///
/// Reasons are checked in this order: past, notice, horizon, then hours and grid. A start inside
/// the opening hours but not on the grid is [`Unbookable::OffGrid`], the second occurrence of a
/// wall-clock time repeated by a fall-back [`Unbookable::RepeatedTime`]; a start on the grid whose service would
/// run past the end of the range is [`Unbookable::Closed`].
pub fn slot_at(
    config: &TenantConfig,
    service: &Service,
    start: Timestamp,
    now: Timestamp,
) -> Result<Slot, Unbookable> {
    let rules = &config.rules;
    let tz = config.zone.tz();
    if start < now {
        return Err(Unbookable::InPast);
    }
    if start < earliest_start(config, now) {
        return Err(Unbookable::TooSoon {
            minutes: rules.min_notice_minutes,
        });
    }
    let local = tz.to_datetime(start);
    let date = local.date();
    if date > last_bookable_date(config, now) {
        return Err(Unbookable::BeyondHorizon {
            days: rules.horizon_days,
        });
    }
    let off_grid = Unbookable::OffGrid {
        minutes: rules.slot_interval.get(),
    };
    let range = config
        .hours_on(date)
        .ranges()
        .iter()
        .find(|r| {
            let (open, close) = civil_bounds(date, r);
            open <= local && close.is_none_or(|c| local < c)
        })
        .ok_or(Unbookable::Closed)?;
    let since_open = local.duration_since(date.to_datetime(range.start()));
    if since_open.as_nanos() % rules.slot_interval.span().as_nanos() != 0 {
        return Err(off_grid);
    }
    if local_start(tz, local) != Some(start) {
        // The second occurrence of a wall-clock time repeated by a fall-back.
        return Err(Unbookable::RepeatedTime);
    }
    let slot = make_slot(config, service, start).ok_or(Unbookable::Closed)?;
    match range_end(tz, date, range) {
        Some(end) if slot.slot.end <= end => Ok(slot),
        _ => Err(Unbookable::Closed),
    }
}

/// Every free start in `window` (by start time), in order.
pub fn free_slots(
    config: &TenantConfig,
    service: &Service,
    window: Interval,
    busy: &[Interval],
    now: Timestamp,
) -> Vec<Slot> {
    let tz = config.zone.tz();
    let busy = BusyIndex::new(busy);
    let today = tz.to_datetime(now).date();
    let last = last_bookable_date(config, now).min(tz.to_datetime(window.end).date());
    // A day earlier than the window's first local date, in case a fall-back at midnight makes an
    // instant of the window belong to the date before.
    let first = tz.to_datetime(window.start).date().max(today);
    let mut date = first.yesterday().unwrap_or(first);
    let mut out = Vec::new();
    while date <= last {
        out.extend(
            free_on_date(config, service, date, &busy, now)
                .into_iter()
                .filter(|s| window.contains(s.slot.start)),
        );
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    out.sort_by_key(|s| s.slot.start);
    out.dedup();
    out
}

/// A handful (`max`) of suggestions on one local date, at or after `after` (local), spread across
/// the day (morning and afternoon) rather than the first few in a row.
///
/// The suggestions are picked evenly by rank among the day's free starts, always including the
/// first and the last (when `max >= 2`), so a day with free time both in the morning and in the
/// afternoon shows both. With `max == 1` it is the earliest free start.
pub fn suggest_on_day(
    config: &TenantConfig,
    service: &Service,
    date: Date,
    after: Option<Time>,
    busy: &[Interval],
    now: Timestamp,
    max: usize,
) -> Vec<Slot> {
    if max == 0 {
        return Vec::new();
    }
    let tz = config.zone.tz();
    let busy = BusyIndex::new(busy);
    let free: Vec<Slot> = free_on_date(config, service, date, &busy, now)
        .into_iter()
        .filter(|s| after.is_none_or(|a| tz.to_datetime(s.slot.start).time() >= a))
        .collect();
    spread(free, max)
}

/// The instants a local date covers in the clinic's zone: from its first to the next day's first
/// instant (23 or 25 hours long across a DST change).
pub fn day_window(config: &TenantConfig, date: Date) -> Interval {
    let tz = config.zone.tz();
    let start = first_instant(tz, date).unwrap_or(Timestamp::MIN);
    let end = date
        .tomorrow()
        .ok()
        .and_then(|d| first_instant(tz, d))
        .unwrap_or(Timestamp::MAX);
    Interval::new(start, end).unwrap_or(Interval { start, end: start })
}

/// The time in which busy intervals matter to slots starting in `starts`: widened by the buffer
/// before at the start, and by the service and the buffer after at the end (a slot starting
/// late on a day blocks time on the next). Fetch busy intervals overlapping this, not just
/// `starts`, or a booking just past the window's end goes unseen.
pub fn busy_window(config: &TenantConfig, service: &Service, starts: Interval) -> Interval {
    let rules = &config.rules;
    let before = SignedDuration::from_mins(i64::from(rules.buffer_before));
    let after = service
        .duration
        .span()
        .checked_add(SignedDuration::from_mins(i64::from(rules.buffer_after)))
        .unwrap_or(SignedDuration::MAX);
    Interval {
        start: starts.start.checked_sub(before).unwrap_or(Timestamp::MIN),
        end: starts.end.checked_add(after).unwrap_or(Timestamp::MAX),
    }
}

/// `n` items picked evenly by rank from `items`, the first and the last included.
fn spread<T>(items: Vec<T>, max: usize) -> Vec<T> {
    let n = items.len();
    if n <= max {
        return items;
    }
    if max == 1 {
        return items.into_iter().take(1).collect();
    }
    // Targets are more than one rank apart (n - 1 > max - 1), so rounding keeps them distinct.
    let picks: Vec<usize> = (0..max)
        .map(|i| (i * (n - 1) + (max - 1) / 2) / (max - 1))
        .collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| picks.binary_search(i).is_ok())
        .map(|(_, s)| s)
        .collect()
}

/// The free slots whose start's local date is `date`, in order.
fn free_on_date(
    config: &TenantConfig,
    service: &Service,
    date: Date,
    busy: &BusyIndex,
    now: Timestamp,
) -> Vec<Slot> {
    if date > last_bookable_date(config, now) {
        return Vec::new();
    }
    let earliest = earliest_start(config, now);
    grid_on_date(config, service, date)
        .into_iter()
        .filter(|s| s.slot.start >= earliest && !busy.overlaps(&s.blocked))
        .collect()
}

/// Every slot the hours and the grid allow on `date`, ignoring notice, horizon and bookings.
fn grid_on_date(config: &TenantConfig, service: &Service, date: Date) -> Vec<Slot> {
    let tz = config.zone.tz();
    let step = config.rules.slot_interval.span();
    let mut out = Vec::new();
    for range in config.hours_on(date).ranges() {
        let Some(end) = range_end(tz, date, range) else {
            continue;
        };
        let (open, close) = civil_bounds(date, range);
        let mut local = open;
        while close.is_none_or(|c| local < c) {
            if let Some(slot) = local_start(tz, local).and_then(|t| make_slot(config, service, t))
                && slot.slot.end <= end
            {
                out.push(slot);
            }
            match local.checked_add(step) {
                Ok(next) => local = next,
                Err(_) => break,
            }
        }
    }
    out.sort_by_key(|s| s.slot.start);
    out
}

/// A range's wall-clock bounds on `date`; the end is `None` when the range runs to midnight and
/// the next date cannot be represented.
fn civil_bounds(date: Date, range: &OpenRange) -> (DateTime, Option<DateTime>) {
    let open = date.to_datetime(range.start());
    let close = if range.end() == Time::MAX {
        date.tomorrow()
            .ok()
            .map(|d| d.to_datetime(Time::midnight()))
    } else {
        Some(date.to_datetime(range.end()))
    };
    (open, close)
}

/// The instant a range closes (see the module doc for DST).
fn range_end(tz: &TimeZone, date: Date, range: &OpenRange) -> Option<Timestamp> {
    if range.end() == Time::MAX {
        first_instant(tz, date.tomorrow().ok()?)
    } else {
        boundary(tz, date.to_datetime(range.end()))
    }
}

/// The instant a wall-clock start time means: `None` in a gap, the earlier instant in a fold.
fn local_start(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
    }
}

/// The instant the wall clock reaches `local`: the earlier instant in a fold, the end of the gap
/// (the transition) in a gap.
fn boundary(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later (larger) offset, `local` is an instant before the transition;
            // read with the earlier offset, one after it. The transition lies between.
            let lo = after.to_timestamp(local).ok()?;
            let hi = before.to_timestamp(local).ok()?;
            let transition = tz.following(lo).next().map(|t| t.timestamp());
            Some(transition.filter(|t| *t <= hi).unwrap_or(hi))
        }
    }
}

/// The first instant of a local date.
fn first_instant(tz: &TimeZone, date: Date) -> Option<Timestamp> {
    boundary(tz, date.to_datetime(Time::midnight()))
}

/// The slot a start makes for a service, with the clinic's buffers.
fn make_slot(config: &TenantConfig, service: &Service, start: Timestamp) -> Option<Slot> {
    let rules = &config.rules;
    let end = start.checked_add(service.duration.span()).ok()?;
    let blocked_start = start
        .checked_sub(SignedDuration::from_mins(i64::from(rules.buffer_before)))
        .ok()?;
    let blocked_end = end
        .checked_add(SignedDuration::from_mins(i64::from(rules.buffer_after)))
        .ok()?;
    Some(Slot {
        slot: Interval::new(start, end)?,
        blocked: Interval::new(blocked_start, blocked_end)?,
    })
}

/// The earliest start the minimum notice allows.
fn earliest_start(config: &TenantConfig, now: Timestamp) -> Timestamp {
    now.checked_add(SignedDuration::from_mins(i64::from(
        config.rules.min_notice_minutes,
    )))
    .unwrap_or(Timestamp::MAX)
}

/// The last local date a start may fall on.
fn last_bookable_date(config: &TenantConfig, now: Timestamp) -> Date {
    let today = config.zone.tz().to_datetime(now).date();
    today
        .checked_add(SignedDuration::from_hours(
            24 * i64::from(config.rules.horizon_days),
        ))
        .unwrap_or(Date::MAX)
}

/// Busy intervals sorted by start, with the running maximum of their ends, so that "does this
/// overlap anything busy" is a binary search.
struct BusyIndex {
    starts: Vec<Timestamp>,
    max_end: Vec<Timestamp>,
}

impl BusyIndex {
    fn new(busy: &[Interval]) -> Self {
        let mut sorted = busy.to_vec();
        sorted.sort_by_key(|b| b.start);
        let starts = sorted.iter().map(|b| b.start).collect();
        let max_end = sorted
            .iter()
            .scan(Timestamp::MIN, |m, b| {
                *m = (*m).max(b.end);
                Some(*m)
            })
            .collect();
        Self { starts, max_end }
    }

    fn overlaps(&self, iv: &Interval) -> bool {
        // Busy intervals starting before `iv` ends overlap it iff one of them ends after it starts.
        let k = self.starts.partition_point(|s| *s < iv.end);
        k > 0 && self.max_end[k - 1] > iv.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::{
        BookingRules, ClinicName, ClinicZone, DateOverride, DayHours, HotLeadThreshold,
        ServiceName, SystemPrompt, WeeklyHours,
    };
    use jiff::civil::{Weekday, date, time};
    use proptest::prelude::*;
    use std::collections::HashMap;

    const NY: &str = "America/New_York";
    const LONDON: &str = "Europe/London";
    const LORD_HOWE: &str = "Australia/Lord_Howe";

    fn hours(ranges: &[(&str, &str)]) -> DayHours {
        DayHours::new(
            ranges
                .iter()
                .map(|(s, e)| OpenRange::parse(s, e).unwrap())
                .collect(),
        )
        .unwrap()
    }

    fn every_day(day: DayHours) -> WeeklyHours {
        let mut w = WeeklyHours::default();
        for d in [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ] {
            w.set(d, day.clone());
        }
        w
    }

    fn config(zone: &str, weekly_hours: WeeklyHours, rules: BookingRules) -> TenantConfig {
        TenantConfig {
            name: ClinicName::parse("Smile Dental").unwrap(),
            zone: ClinicZone::parse(zone).unwrap(),
            called_numbers: Vec::new(),
            vapi_assistant_ids: Vec::new(),
            alert_numbers: Vec::new(),
            hot_lead_threshold: HotLeadThreshold::default(),
            services: Vec::new(),
            weekly_hours,
            date_overrides: Vec::new(),
            rules,
            system_prompt: SystemPrompt::default(),
            otp_allowed_countries: Vec::new(),
            providers: Vec::new(),
        }
    }

    /// No notice, no buffers, a horizon long enough for every date below.
    fn loose_rules(interval: u32) -> BookingRules {
        BookingRules::new(0, 0, 0, interval, 366).unwrap()
    }

    fn service(minutes: u32) -> Service {
        Service::new(ServiceName::parse("Cleaning").unwrap(), minutes, None).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// An unambiguous local time in the config's zone.
    fn at(cfg: &TenantConfig, dt: DateTime) -> Timestamp {
        cfg.zone
            .tz()
            .to_ambiguous_timestamp(dt)
            .unambiguous()
            .unwrap()
    }

    fn starts(slots: &[Slot]) -> Vec<Timestamp> {
        slots.iter().map(|s| s.slot.start).collect()
    }

    /// Local wall-clock starts, "HH:MM".
    fn local_starts(cfg: &TenantConfig, slots: &[Slot]) -> Vec<String> {
        slots
            .iter()
            .map(|s| {
                let t = cfg.zone.tz().to_datetime(s.slot.start).time();
                format!("{:02}:{:02}", t.hour(), t.minute())
            })
            .collect()
    }

    fn day(
        cfg: &TenantConfig,
        d: Date,
        svc: &Service,
        busy: &[Interval],
        now: Timestamp,
    ) -> Vec<Slot> {
        free_slots(cfg, svc, day_window(cfg, d), busy, now)
    }

    // A Monday well before anything below.
    const EARLY: &str = "2026-01-01T00:00:00Z";
    const MONDAY: Date = date(2026, 6, 15);

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
        assert!(
            suggest_on_day(&cfg, &svc, MONDAY, Some(time(16, 31, 0, 0)), &[], now, 5).is_empty()
        );
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

    // --- Properties --------------------------------------------------------------------------

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
        let range = cfg.hours_on(date).ranges().iter().find(|r| {
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
}
