//! Free start times from a clinic's schedule, a service and the busy intervals.
//!
//! # The rules
//!
//! - **Hours.** A date's opening ranges are [`crate::tenant::TenantConfig::hours_on`] (a date
//!   override if there is one, else the week's hours), read as wall-clock times in the clinic's
//!   zone. An end of `24:00` ([`jiff::civil::Time::MAX`]) is the first instant of the next day.
//! - **Grid.** Starts fall at each range's start plus whole multiples of the slot interval, counted
//!   on the wall clock (09:00, 09:30, 10:00, ...), and the whole service (not its buffers) must end
//!   by the range's end.
//! - **Buffers.** A slot's `blocked` interval is the slot widened by the buffers before and after.
//!   A slot is free iff its `blocked` interval overlaps no busy interval (busy intervals are other
//!   bookings' `blocked` intervals). Buffers may reach outside the opening hours.
//! - **Notice.** A start must be at least `min_notice_minutes` after now (so never in the past).
//! - **Horizon.** A start's local date must be at most `horizon_days` calendar days after today's
//!   local date in the clinic's zone: every date is either wholly bookable or not at all.
//! - **Daylight saving time.** How wall-clock times become instants is decided in one place,
//!   `dst.rs` (see its doc).

mod busy;
mod dst;
mod providers;
mod slots;
#[cfg(test)]
mod tests;

pub use busy::busy_window;
pub use dst::day_window;
pub use providers::{
    ProviderSlot, free_slots_by_provider, limits_window, suggest_on_day_by_provider, try_order,
    within_limits,
};
pub use slots::{Slot, Unbookable, free_slots, slot_at, suggest_on_day};
