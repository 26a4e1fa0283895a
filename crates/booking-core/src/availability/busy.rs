//! Other bookings: which busy time matters to a window of starts, and a quick overlap test.

use jiff::{SignedDuration, Timestamp};

use crate::booking::Interval;
use crate::tenant::{Service, TenantConfig};

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

/// Busy intervals sorted by start, with the running maximum of their ends, so that "does this
/// overlap anything busy" is a binary search.
pub(super) struct BusyIndex {
    starts: Vec<Timestamp>,
    max_end: Vec<Timestamp>,
}

impl BusyIndex {
    pub(super) fn new(busy: &[Interval]) -> Self {
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

    pub(super) fn overlaps(&self, iv: &Interval) -> bool {
        // Busy intervals starting before `iv` ends overlap it iff one of them ends after it starts.
        let k = self.starts.partition_point(|s| *s < iv.end);
        k > 0 && self.max_end[k - 1] > iv.start
    }
}
