//! Free start times from a clinic's schedule, a service and the busy intervals.

use jiff::Timestamp;
use jiff::civil::{Date, Time};

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
}

/// The rules alone (hours, overrides, grid, notice, horizon), ignoring other bookings: the slot a
/// start would make, or why it is not bookable.
pub fn slot_at(config: &TenantConfig, service: &Service, start: Timestamp, now: Timestamp) -> Result<Slot, Unbookable> {
    let _ = (config, service, start, now);
    todo!("availability::slot_at")
}

/// Every free start in `window` (by start time), in order.
pub fn free_slots(
    config: &TenantConfig,
    service: &Service,
    window: Interval,
    busy: &[Interval],
    now: Timestamp,
) -> Vec<Slot> {
    let _ = (config, service, window, busy, now);
    todo!("availability::free_slots")
}

/// A handful (`max`) of suggestions on one local date, at or after `after` (local), spread across
/// the day (morning and afternoon) rather than the first few in a row.
pub fn suggest_on_day(
    config: &TenantConfig,
    service: &Service,
    date: Date,
    after: Option<Time>,
    busy: &[Interval],
    now: Timestamp,
    max: usize,
) -> Vec<Slot> {
    let _ = (config, service, date, after, busy, now, max);
    todo!("availability::suggest_on_day")
}

/// The instants a local date covers in the clinic's zone: from its first to the next day's first
/// instant (23 or 25 hours long across a DST change).
pub fn day_window(config: &TenantConfig, date: Date) -> Interval {
    let _ = (config, date);
    todo!("availability::day_window")
}
