//! End-of-call reports that arrived while the database could not take them.
//!
//! Such a report is still answered 503, so that Vapi may send it again (recording a report is
//! idempotent: a second one for the same call changes nothing). It is also kept here and tried
//! again every few seconds until the database is back, so that the owner's hot-lead alert does
//! not depend on Vapi retrying. Kept in memory: a report held by an instance that stops before
//! the database returns is lost, as it would have been without this.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use booking_core::calls::CallReport;
use booking_vapi::MessageContext;

/// A report waiting for the database.
#[derive(Clone, Debug)]
pub struct Held {
    pub ctx: MessageContext,
    pub report: CallReport,
    pub since: Instant,
}

/// The reports held by this instance, oldest first, at most `capacity` of them, each for at
/// most `keep_for`.
#[derive(Debug)]
pub struct HeldReports {
    queue: Mutex<VecDeque<Held>>,
    capacity: usize,
    keep_for: Duration,
}

impl Default for HeldReports {
    /// 10,000 reports, each kept for up to 6 hours.
    fn default() -> Self {
        Self::new(10_000, Duration::from_secs(6 * 3600))
    }
}

impl HeldReports {
    pub fn new(capacity: usize, keep_for: Duration) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            keep_for,
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Held>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a report; a report for a call already held replaces it. When full, the oldest is
    /// dropped and returned.
    pub fn hold(&self, ctx: MessageContext, report: CallReport, now: Instant) -> Option<Held> {
        let mut q = self.queue();
        if let Some(h) = q.iter_mut().find(|h| h.report.call_id == report.call_id) {
            h.ctx = ctx;
            h.report = report;
            return None;
        }
        let dropped = (q.len() >= self.capacity).then(|| q.pop_front()).flatten();
        q.push_back(Held {
            ctx,
            report,
            since: now,
        });
        dropped
    }

    /// Takes every held report, to try them again.
    pub fn take_all(&self) -> Vec<Held> {
        self.queue().drain(..).collect()
    }

    /// Puts back reports still waiting, ahead of any held meanwhile; returns those given up:
    /// older than `keep_for`, or the newest beyond `capacity`.
    pub fn put_back(&self, held: Vec<Held>, now: Instant) -> Vec<Held> {
        let (keep, mut given_up): (Vec<Held>, Vec<Held>) = held
            .into_iter()
            .partition(|h| now.saturating_duration_since(h.since) < self.keep_for);
        let mut q = self.queue();
        for h in keep.into_iter().rev() {
            if q.iter()
                .any(|other| other.report.call_id == h.report.call_id)
            {
                continue;
            }
            q.push_front(h);
        }
        while q.len() > self.capacity {
            given_up.extend(q.pop_back());
        }
        given_up
    }

    pub fn len(&self) -> usize {
        self.queue().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use booking_core::CallId;
    use booking_core::calls::CapturedLead;

    use super::*;

    fn report(id: &str) -> CallReport {
        CallReport {
            call_id: CallId::parse(id).unwrap(),
            caller: None,
            called: None,
            started_at: None,
            ended_at: None,
            ended_reason: None,
            summary: None,
            structured: CapturedLead::default(),
            buying_intent: None,
        }
    }

    fn ids(held: &[Held]) -> Vec<&str> {
        held.iter().map(|h| h.report.call_id.as_str()).collect()
    }

    #[test]
    fn keeps_reports_in_order_once_per_call_and_drops_the_oldest_when_full() {
        let held = HeldReports::new(2, Duration::from_secs(60));
        let t = Instant::now();
        assert!(
            held.hold(MessageContext::default(), report("a"), t)
                .is_none()
        );
        assert!(
            held.hold(MessageContext::default(), report("b"), t)
                .is_none()
        );
        assert!(
            held.hold(MessageContext::default(), report("b"), t)
                .is_none()
        );
        assert_eq!(held.len(), 2);
        let dropped = held
            .hold(MessageContext::default(), report("c"), t)
            .unwrap();
        assert_eq!(dropped.report.call_id.as_str(), "a");
        assert_eq!(ids(&held.take_all()), ["b", "c"]);
        assert!(held.is_empty());
    }

    #[test]
    fn reports_put_back_go_first_and_old_ones_are_given_up() {
        let held = HeldReports::new(10, Duration::from_secs(60));
        let t = Instant::now();
        held.hold(MessageContext::default(), report("old"), t);
        held.hold(
            MessageContext::default(),
            report("young"),
            t + Duration::from_secs(30),
        );
        let taken = held.take_all();
        held.hold(
            MessageContext::default(),
            report("meanwhile"),
            t + Duration::from_secs(50),
        );
        let given_up = held.put_back(taken, t + Duration::from_secs(61));
        assert_eq!(ids(&given_up), ["old"]);
        assert_eq!(ids(&held.take_all()), ["young", "meanwhile"]);
    }

    #[test]
    fn reports_beyond_the_capacity_on_put_back_are_given_up_not_dropped_silently() {
        let held = HeldReports::new(2, Duration::from_secs(60));
        let t = Instant::now();
        held.hold(MessageContext::default(), report("a"), t);
        held.hold(MessageContext::default(), report("b"), t);
        let taken = held.take_all();
        held.hold(MessageContext::default(), report("c"), t);
        let given_up = held.put_back(taken, t);
        assert_eq!(ids(&given_up), ["c"]);
        assert_eq!(ids(&held.take_all()), ["a", "b"]);
    }
}
