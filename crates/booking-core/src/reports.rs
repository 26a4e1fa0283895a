//! What the phone line earned the clinic, week by week (the dashboard's Reports page).
//!
//! A week is the clinic's: Monday 00:00 to the next Monday 00:00 in its time zone, so a week
//! with a daylight-saving change is 167 or 169 hours long. Each figure counts the tenant's own
//! rows only, each in the week of one instant:
//! - **calls answered**: calls, by when they started;
//! - **booked by the AI**: appointments confirmed during a call (a booking with a call, not made
//!   by moving another), by when they were confirmed, whatever happened to them later;
//! - **hot leads**: calls scored hot, by when they started;
//! - **no-shows**: appointments marked no-show, by when they were to start;
//! - **texts delivered** / **failed** (failed or undelivered): by when they were last due to go
//!   out;
//! - **refilled by the waitlist**: freed slots the waitlist filled, by when they were filled.
//!
//! The memory store counts with the functions below; the PostgreSQL store says the same in SQL,
//! and the store contract suite holds both to it.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::attendance::Attendance;
use crate::booking::{Booking, Interval};
use crate::calls::CallRecord;
use crate::outbox::{MessageStatus, OutboundMessage};
use crate::ports::{ReportStore, StoreResult};
use crate::tenant::{ClinicZone, Tenant};

/// How many weeks the Reports page shows: the current one and the eleven before it.
pub const REPORT_WEEKS: u8 = 12;

/// Consecutive weeks of one clinic, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportWeeks {
    /// The Monday each week starts on, in the clinic's calendar.
    mondays: Vec<Date>,
    /// Where the weeks begin and end: `mondays.len() + 1` increasing instants.
    bounds: Vec<Timestamp>,
}

impl ReportWeeks {
    /// The `count` weeks (at least one) ending with the one `now` is in, in `zone`.
    pub fn ending_at(now: Timestamp, zone: &ClinicZone, count: u8) -> Self {
        let today = now.to_zoned_datetime(zone.tz().clone()).date();
        let back_to_monday = i64::from(today.weekday().to_monday_zero_offset());
        let this_monday = today
            .checked_sub(jiff::Span::new().days(back_to_monday))
            .unwrap_or(today);
        let count = i64::from(count.max(1));
        let mondays: Vec<Date> = (0..count)
            .rev()
            .filter_map(|back| this_monday.checked_sub(jiff::Span::new().weeks(back)).ok())
            .collect();
        let bounds = mondays
            .iter()
            .copied()
            .chain(
                mondays
                    .last()
                    .and_then(|m| m.checked_add(jiff::Span::new().weeks(1)).ok()),
            )
            .map(|day| start_of(day, zone))
            .collect();
        Self { mondays, bounds }
    }

    pub fn len(&self) -> usize {
        self.mondays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mondays.is_empty()
    }

    /// The Monday each week starts on, oldest first.
    pub fn mondays(&self) -> &[Date] {
        &self.mondays
    }

    /// The instants the weeks begin at, then the end of the last one (one more than [`Self::len`]).
    pub fn bounds(&self) -> &[Timestamp] {
        &self.bounds
    }

    /// The instants of week `i`.
    pub fn week(&self, i: usize) -> Option<Interval> {
        Interval::new(*self.bounds.get(i)?, *self.bounds.get(i + 1)?)
    }

    /// From the first week's start to the last week's end.
    pub fn span(&self) -> Option<Interval> {
        Interval::new(*self.bounds.first()?, *self.bounds.last()?)
    }

    /// Which week `at` falls in, if any.
    pub fn week_of(&self, at: Timestamp) -> Option<usize> {
        let span = self.span()?;
        if !span.contains(at) {
            return None;
        }
        Some(self.bounds.partition_point(|b| *b <= at) - 1)
    }
}

/// The first instant of `day` in `zone` (midnight, or the first moment after a gap at midnight).
fn start_of(day: Date, zone: &ClinicZone) -> Timestamp {
    day.to_zoned_datetime(zone.tz().clone())
        .map(|z| z.timestamp())
        .unwrap_or_else(|_| Timestamp::MIN)
}

/// One week's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeekFigures {
    pub calls_answered: u32,
    pub booked_by_ai: u32,
    pub hot_leads: u32,
    pub no_shows: u32,
    pub texts_delivered: u32,
    pub texts_failed: u32,
    pub refilled_by_waitlist: u32,
}

impl WeekFigures {
    /// Appointments the AI booked per call answered, in whole percent (rounded half up); `None`
    /// for a week without calls. It can pass 100: one call may book two appointments.
    pub fn conversion_percent(&self) -> Option<u32> {
        (self.calls_answered > 0).then(|| {
            let (b, c) = (u64::from(self.booked_by_ai), u64::from(self.calls_answered));
            u32::try_from((b * 200 + c) / (2 * c)).unwrap_or(u32::MAX)
        })
    }
}

/// The Reports page's data: the weeks and their figures, in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeeklyReport {
    pub weeks: ReportWeeks,
    pub figures: Vec<WeekFigures>,
}

/// The last [`REPORT_WEEKS`] weeks of `tenant` as of `now`.
pub async fn weekly_report<S: ReportStore + ?Sized>(
    store: &S,
    tenant: &Tenant,
    now: Timestamp,
) -> StoreResult<WeeklyReport> {
    let weeks = ReportWeeks::ending_at(now, &tenant.config.zone, REPORT_WEEKS);
    let figures = store.weekly_figures(tenant.id, &weeks).await?;
    Ok(WeeklyReport { weeks, figures })
}

// ---------------------------------------------------------------------------------------------
// When each row counts, for stores that count row by row (the memory store).

/// A call counts as answered at its start.
pub fn answered_at(call: &CallRecord) -> Option<Timestamp> {
    call.started_at
}

/// A hot call counts at its start.
pub fn hot_lead_at(call: &CallRecord) -> Option<Timestamp> {
    call.hot_lead.then_some(call.started_at).flatten()
}

/// An appointment the AI booked counts when it was confirmed.
pub fn booked_by_ai_at(booking: &Booking) -> Option<Timestamp> {
    match (&booking.call_id, booking.rescheduled_from) {
        (Some(_), None) => booking.confirmed_at,
        _ => None,
    }
}

/// A no-show counts when the appointment was to start.
pub fn no_show_at(booking: &Booking, mark: Option<Attendance>) -> Option<Timestamp> {
    (mark == Some(Attendance::NoShow)).then_some(booking.slot.start)
}

/// How a text ended, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOutcome {
    Delivered,
    Failed,
}

/// A delivered or failed text counts when it was last due; others (still on their way,
/// suppressed, withdrawn) do not count.
pub fn text_outcome(message: &OutboundMessage) -> Option<(TextOutcome, Timestamp)> {
    match message.status {
        MessageStatus::Delivered => Some((TextOutcome::Delivered, message.due_at)),
        MessageStatus::Failed | MessageStatus::Undelivered => {
            Some((TextOutcome::Failed, message.due_at))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> ClinicZone {
        ClinicZone::parse("America/New_York").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_are_the_clinics_mondays_to_mondays() {
        // Wednesday 2030-03-13 noon in New York; daylight saving began on Sunday 2030-03-10.
        let weeks = ReportWeeks::ending_at(at("2030-03-13T16:00:00Z"), &ny(), 3);
        let mondays: Vec<String> = weeks.mondays().iter().map(|d| d.to_string()).collect();
        assert_eq!(mondays, ["2030-02-25", "2030-03-04", "2030-03-11"]);
        let bounds: Vec<String> = weeks.bounds().iter().map(|t| t.to_string()).collect();
        assert_eq!(
            bounds,
            [
                "2030-02-25T05:00:00Z",
                "2030-03-04T05:00:00Z",
                "2030-03-11T04:00:00Z",
                "2030-03-18T04:00:00Z",
            ]
        );
        let dst_week = weeks.week(1).unwrap();
        assert_eq!(dst_week.end.duration_since(dst_week.start).as_hours(), 167);
        // Sunday 23:30 and Monday 00:30, local time, either side of the boundary.
        assert_eq!(weeks.week_of(at("2030-03-11T03:30:00Z")), Some(1));
        assert_eq!(weeks.week_of(at("2030-03-11T04:30:00Z")), Some(2));
        assert_eq!(weeks.week_of(at("2030-03-11T04:00:00Z")), Some(2));
        assert_eq!(weeks.week_of(at("2030-02-25T04:59:59Z")), None);
        assert_eq!(weeks.week_of(at("2030-03-18T04:00:00Z")), None);
    }

    #[test]
    fn a_monday_is_the_first_day_of_its_own_week_and_sunday_the_last() {
        let monday = ReportWeeks::ending_at(at("2030-03-11T04:00:00Z"), &ny(), 1);
        assert_eq!(monday.mondays()[0].to_string(), "2030-03-11");
        let sunday = ReportWeeks::ending_at(at("2030-03-11T03:59:59Z"), &ny(), 1);
        assert_eq!(sunday.mondays()[0].to_string(), "2030-03-04");
        let autumn = ReportWeeks::ending_at(at("2030-11-06T12:00:00Z"), &ny(), 2);
        let w = autumn.week(0).unwrap();
        assert_eq!(w.end.duration_since(w.start).as_hours(), 169);
        assert_eq!(
            ReportWeeks::ending_at(at("2030-11-06T12:00:00Z"), &ny(), 0).len(),
            1
        );
    }

    #[test]
    fn conversion_is_booked_per_call() {
        let f = |calls, booked| WeekFigures {
            calls_answered: calls,
            booked_by_ai: booked,
            ..WeekFigures::default()
        };
        assert_eq!(f(0, 0).conversion_percent(), None);
        assert_eq!(f(0, 3).conversion_percent(), None);
        assert_eq!(f(3, 1).conversion_percent(), Some(33));
        assert_eq!(f(3, 2).conversion_percent(), Some(67));
        assert_eq!(f(8, 1).conversion_percent(), Some(13));
        assert_eq!(f(2, 3).conversion_percent(), Some(150));
    }
}
