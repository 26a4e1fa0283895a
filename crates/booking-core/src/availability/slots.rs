//! Bookable start times: the grid on a date's opening ranges, the notice and horizon, and the
//! refusals.

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};

use super::busy::BusyIndex;
use super::dst::{civil_bounds, local_start, range_end};
use crate::booking::Interval;
use crate::tenant::{Service, TenantConfig};

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

/// `n` items picked evenly by rank from `items`, the first and the last included.
pub(super) fn spread<T>(items: Vec<T>, max: usize) -> Vec<T> {
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
