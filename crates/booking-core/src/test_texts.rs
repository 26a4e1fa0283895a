//! The dashboard's "Send a test SMS" button, limited: the text goes straight to the clinic's
//! gateway (not through the outbox and its limits), so without a limit an owner's session, or a
//! stolen one, could text any number as often as it likes on the clinic's account.
//!
//! The limit is a sliding window per clinic, counted by the store
//! ([`crate::ports::TestTextStore`]) so that it holds across every api instance; the rule that
//! decides is [`admit_test_text`], here, whichever store counts.

use jiff::{SignedDuration, Timestamp};

use crate::otp::RateWindow;

/// Test texts per clinic: at most 5 in any 10 minutes.
pub const TEST_TEXT_LIMIT: RateWindow = RateWindow {
    max: 5,
    window: SignedDuration::from_mins(10),
};

/// A test text refused: the clinic sent its allowance in the window. `retry_after` is how long
/// until the oldest of them leaves the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestTextsUsedUp {
    pub retry_after: SignedDuration,
}

/// Whether one more test text may go at `now`, given the times of the clinic's earlier test
/// texts (any order; those outside the window are ignored). A time after `now` (the clock stepped
/// back) stays counted.
pub fn admit_test_text(
    sent: &[Timestamp],
    limit: RateWindow,
    now: Timestamp,
) -> Result<(), TestTextsUsedUp> {
    let in_window = sent
        .iter()
        .filter(|at| now.duration_since(**at) < limit.window);
    let count = in_window.clone().count();
    if count < limit.max as usize {
        return Ok(());
    }
    let oldest = in_window.min().copied().unwrap_or(now);
    let wait = limit.window - now.duration_since(oldest);
    Err(TestTextsUsedUp {
        retry_after: wait.max(SignedDuration::ZERO),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_900_000_000).unwrap() + SignedDuration::from_mins(minutes)
    }

    /// Takes one like a store does: the rule, then the time recorded when admitted.
    fn take(sent: &mut Vec<Timestamp>, now: Timestamp) -> Result<(), TestTextsUsedUp> {
        admit_test_text(sent, TEST_TEXT_LIMIT, now)?;
        sent.push(now);
        Ok(())
    }

    fn wait(d: SignedDuration) -> Result<(), TestTextsUsedUp> {
        Err(TestTextsUsedUp { retry_after: d })
    }

    #[test]
    fn five_in_ten_minutes_then_refused_until_the_oldest_leaves() {
        let mut sent = Vec::new();
        for m in 0..5 {
            assert_eq!(take(&mut sent, at(m)), Ok(()), "send {m}");
        }
        assert_eq!(
            take(&mut sent, at(5)),
            wait(SignedDuration::from_mins(5)),
            "the sixth: wait until the first is 10 minutes old"
        );
        assert_eq!(
            take(&mut sent, at(9) + SignedDuration::from_secs(59)),
            wait(SignedDuration::from_secs(1))
        );
        // A refusal is not counted: at minute 10 the first leaves and one more may go.
        assert_eq!(take(&mut sent, at(10)), Ok(()));
        assert!(take(&mut sent, at(10)).is_err());
        // Minute 11: the second has left too.
        assert_eq!(take(&mut sent, at(11)), Ok(()));
        assert!(take(&mut sent, at(11)).is_err());
    }

    #[test]
    fn a_clock_stepping_back_does_not_reset_the_count() {
        let limit = RateWindow {
            max: 2,
            window: SignedDuration::from_mins(10),
        };
        let sent = [at(30), at(30)];
        assert!(admit_test_text(&sent, limit, at(25)).is_err());
        assert!(admit_test_text(&sent, limit, at(39)).is_err());
        assert_eq!(admit_test_text(&sent, limit, at(40)), Ok(()));
    }

    #[test]
    fn the_buttons_limit_is_five_per_ten_minutes() {
        assert_eq!(TEST_TEXT_LIMIT.max, 5);
        assert_eq!(TEST_TEXT_LIMIT.window, SignedDuration::from_mins(10));
    }
}
