//! A start time as a caller or the owner gives it, and the one rule for reading a clinic-local
//! time on a day the clocks change.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// The start of a slot as given: an exact instant (what `check_availability` offers), or a
/// wall-clock time without offset, read in the clinic's zone (the model's "2026-11-26T14:00",
/// the dashboard's date-time field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotStart {
    Exact(Timestamp),
    Local(DateTime),
}

/// Why a wall-clock start names no instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartProblem {
    /// The clocks skip that time on that day (spring forward).
    Skipped(DateTime),
    /// Outside the range of instants we can represent.
    OutOfRange,
}

impl SlotStart {
    /// The instant, by the one rule used for the phone and the dashboard alike: an exact start is
    /// itself; a wall-clock time is read in `zone`; one the clocks skip (spring forward) does not
    /// exist and is refused; one the clocks show twice (fall back) is the first of the two, the
    /// one before the clocks change. That first one is also the only one of the two that can be
    /// booked: the second is refused by the booking rules
    /// ([`crate::availability::Unbookable::RepeatedTime`]), in words.
    pub fn resolve(&self, zone: &TimeZone) -> Result<Timestamp, StartProblem> {
        match *self {
            SlotStart::Exact(t) => Ok(t),
            SlotStart::Local(dt) => {
                let amb = zone.to_ambiguous_timestamp(dt);
                match amb.offset() {
                    AmbiguousOffset::Gap { .. } => Err(StartProblem::Skipped(dt)),
                    _ => amb.earlier().map_err(|_| StartProblem::OutOfRange),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_the_days_the_clocks_change() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let local = |s: &str| SlotStart::Local(s.parse().unwrap());
        assert_eq!(
            local("2026-11-26T14:00").resolve(&ny),
            Ok("2026-11-26T19:00:00Z".parse().unwrap())
        );
        // 02:30 on the spring-forward day does not exist in New York.
        assert_eq!(
            local("2026-03-08T02:30").resolve(&ny),
            Err(StartProblem::Skipped("2026-03-08T02:30".parse().unwrap()))
        );
        // 01:30 on the fall-back day comes twice: the first, still on daylight time.
        assert_eq!(
            local("2026-11-01T01:30").resolve(&ny),
            Ok("2026-11-01T05:30:00Z".parse().unwrap())
        );
        let exact: Timestamp = "2026-11-01T06:30:00Z".parse().unwrap();
        assert_eq!(SlotStart::Exact(exact).resolve(&ny), Ok(exact));
    }
}
