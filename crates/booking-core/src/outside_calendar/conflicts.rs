//! Conflicts: a confirmed appointment whose time meets an event of the provider's own calendar.
//! Availability never offers such a time, so a conflict is an event that reached us after the
//! appointment was booked (typed in at the front desk between two syncs, or while the calendar
//! server was away), or a move the owner made over an event. We never cancel or move the
//! appointment for it: the owner sees it and decides.

use crate::booking::{Booking, BookingStatus, Interval};
use crate::ids::CalendarId;

/// The confirmed appointments of `bookings` whose blocked time (the appointment and the clinic's
/// buffers around it: the time availability keeps clear of outside events) meets busy time of
/// their own calendar in `outside`, each with the busy intervals it meets. In the order given.
pub fn collisions<'a>(
    bookings: impl IntoIterator<Item = &'a Booking>,
    outside: &[(CalendarId, Interval)],
) -> Vec<(&'a Booking, Vec<Interval>)> {
    bookings
        .into_iter()
        .filter(|b| b.status == BookingStatus::Confirmed)
        .filter_map(|b| {
            let mut met: Vec<Interval> = outside
                .iter()
                .filter(|(c, i)| *c == b.calendar && i.overlaps(&b.blocked))
                .map(|(_, i)| *i)
                .collect();
            met.sort();
            met.dedup();
            (!met.is_empty()).then_some((b, met))
        })
        .collect()
}
