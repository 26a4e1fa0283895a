//! How many texts a clinic may send from a dashboard button in a sliding window: the "Send a test
//! SMS" button goes straight to the gateway (not through the outbox and its limits), so without
//! this an owner's session, or a stolen one, could text any number as often as it likes on the
//! clinic's account.
//!
//! The count is kept in this process only. With several api instances behind a load balancer a
//! clinic can send up to the limit through each instance in a window; a restart forgets it.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};

use booking_core::TenantId;
use jiff::{SignedDuration, Timestamp};

/// Test texts per clinic per [`TEST_SMS_WINDOW`].
pub const TEST_SMS_LIMIT: usize = 5;
/// The sliding window of [`TEST_SMS_LIMIT`].
pub const TEST_SMS_WINDOW: SignedDuration = SignedDuration::from_mins(10);

/// Beyond this many clinics in the map, clinics with nothing in the window are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// At most `limit` sends per tenant in any `window`, counted at the times the caller passes
/// (the app's clock), so that it can be tested without waiting.
#[derive(Debug)]
pub struct SendLimiter {
    limit: usize,
    window: SignedDuration,
    sent: Mutex<HashMap<TenantId, VecDeque<Timestamp>>>,
}

impl SendLimiter {
    pub fn new(limit: usize, window: SignedDuration) -> Self {
        Self {
            limit,
            window,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one send for `tenant` at `now` when fewer than `limit` were counted in the window
    /// that ends at `now`; otherwise counts nothing and answers how long until the oldest of them
    /// leaves the window.
    pub fn try_take(&self, tenant: TenantId, now: Timestamp) -> Result<(), SignedDuration> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = self.window;
        let in_window = |at: &Timestamp| now.duration_since(*at) < window;
        if sent.len() > PRUNE_ABOVE {
            sent.retain(|_, times| times.iter().any(in_window));
        }
        let times = sent.entry(tenant).or_default();
        // Oldest first; a time after `now` (the clock stepped back) stays counted.
        while times.front().is_some_and(|at| !in_window(at)) {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = window - now.duration_since(oldest);
            return Err(wait.max(SignedDuration::ZERO));
        }
        times.push_back(now);
        Ok(())
    }
}

/// The "Send a test SMS" button's limiter, one per process.
pub fn test_sms() -> &'static SendLimiter {
    static LIMITER: LazyLock<SendLimiter> =
        LazyLock::new(|| SendLimiter::new(TEST_SMS_LIMIT, TEST_SMS_WINDOW));
    &LIMITER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u8) -> TenantId {
        TenantId::from_random_bytes([n; 16])
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_900_000_000).unwrap() + SignedDuration::from_mins(minutes)
    }

    #[test]
    fn five_in_ten_minutes_then_refused_until_the_oldest_leaves() {
        let l = SendLimiter::new(5, SignedDuration::from_mins(10));
        let a = tenant(1);
        for m in 0..5 {
            assert_eq!(l.try_take(a, at(m)), Ok(()), "send {m}");
        }
        assert_eq!(
            l.try_take(a, at(5)),
            Err(SignedDuration::from_mins(5)),
            "the sixth: wait until the first is 10 minutes old"
        );
        assert_eq!(
            l.try_take(a, at(9) + SignedDuration::from_secs(59)),
            Err(SignedDuration::from_secs(1))
        );
        // A refusal is not counted: at minute 10 the first leaves and one more may go.
        assert_eq!(l.try_take(a, at(10)), Ok(()));
        assert!(l.try_take(a, at(10)).is_err());
        // Minute 11: the second has left too.
        assert_eq!(l.try_take(a, at(11)), Ok(()));
        assert!(l.try_take(a, at(11)).is_err());
    }

    #[test]
    fn each_clinic_has_its_own_count() {
        let l = SendLimiter::new(5, SignedDuration::from_mins(10));
        for _ in 0..5 {
            l.try_take(tenant(1), at(0)).unwrap();
        }
        assert!(l.try_take(tenant(1), at(1)).is_err());
        assert_eq!(l.try_take(tenant(2), at(1)), Ok(()));
    }

    #[test]
    fn a_clock_stepping_back_does_not_reset_the_count() {
        let l = SendLimiter::new(2, SignedDuration::from_mins(10));
        l.try_take(tenant(1), at(30)).unwrap();
        l.try_take(tenant(1), at(30)).unwrap();
        assert!(l.try_take(tenant(1), at(25)).is_err());
        assert!(l.try_take(tenant(1), at(39)).is_err());
        assert_eq!(l.try_take(tenant(1), at(40)), Ok(()));
    }

    #[test]
    fn clinics_with_nothing_recent_are_dropped_when_the_map_grows() {
        let l = SendLimiter::new(1, SignedDuration::from_mins(10));
        for i in 0..=PRUNE_ABOVE {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            l.try_take(TenantId::from_random_bytes(bytes), at(0))
                .unwrap();
        }
        l.try_take(tenant(200), at(60)).unwrap();
        assert_eq!(l.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_buttons_limit_is_five_per_ten_minutes() {
        assert_eq!(TEST_SMS_LIMIT, 5);
        assert_eq!(TEST_SMS_WINDOW, SignedDuration::from_mins(10));
    }
}
