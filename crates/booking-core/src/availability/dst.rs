//! Daylight saving time: wall-clock times are turned into instants one fixed way, here only.
//!
//! - A local **start** that does not exist (it falls in a spring-forward gap, e.g. 02:30 in
//!   America/New_York on 2026-03-08, or 02:15 in Australia/Lord_Howe on 2026-10-04, where the
//!   clocks jump by 30 minutes) is **skipped**: it is never offered, and the grid goes on at its
//!   next time that exists (the grid is not shifted).
//! - A local start that exists twice (it falls in a fall-back fold, e.g. 01:30 in
//!   America/New_York on 2026-11-01) resolves to the **earlier** instant (jiff's
//!   `Disambiguation::Earlier`, the one with the pre-transition offset). The second occurrence is
//!   not a slot: [`slot_at`](super::slot_at) refuses it as
//!   [`Unbookable::RepeatedTime`](super::Unbookable::RepeatedTime), which the caller is told in
//!   words (the time comes twice; only the first can be booked).
//! - A range's **end** resolves the same way: the earlier instant when it exists twice. When it
//!   falls in a gap, the range ends at the transition itself (the instant the clock jumps past
//!   it), since that is when the wall clock first shows a time at or after the end.
//! - A **day** ([`day_window`]) runs from the first instant of its date to the first instant of
//!   the next (23 hours on a spring-forward day, 25 on a fall-back day, 23.5 or 24.5 in
//!   Australia/Lord_Howe). If midnight falls in a gap, the day starts when the gap ends.
//!
//! Everything after the conversion is measured in real elapsed time: a 60-minute service that
//! starts at 01:30 EST on a spring-forward day ends at 03:30 EDT.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::booking::Interval;
use crate::tenant::{OpenRange, TenantConfig};

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

/// A range's wall-clock bounds on `date`; the end is `None` when the range runs to midnight and
/// the next date cannot be represented.
pub(super) fn civil_bounds(date: Date, range: &OpenRange) -> (DateTime, Option<DateTime>) {
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
pub(super) fn range_end(tz: &TimeZone, date: Date, range: &OpenRange) -> Option<Timestamp> {
    if range.end() == Time::MAX {
        first_instant(tz, date.tomorrow().ok()?)
    } else {
        boundary(tz, date.to_datetime(range.end()))
    }
}

/// The instant a wall-clock start time means: `None` in a gap, the earlier instant in a fold.
pub(super) fn local_start(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
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
