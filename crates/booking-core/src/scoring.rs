//! Lead scoring: deterministic and explainable (points with reasons), with configurable weights.

use crate::calls::{LeadScore, ScoreReason};

/// Points for each signal. The defaults make a call that booked a hot lead at the default
/// threshold (70) on its own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScoreWeights {
    pub booked: u32,
    pub wants_callback: u32,
    pub buying_intent: u32,
    pub repeat_caller: u32,
    /// Points per full 100 units (dollars) of service value, up to `service_value_cap`.
    pub per_100_of_value: u32,
    pub service_value_cap: u32,
    /// Points for a call of at least `long_call_seconds`.
    pub long_call: u32,
    pub long_call_seconds: u32,
}

/// What is known about a call when it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadSignals {
    pub booked: bool,
    pub service_value_cents: Option<u32>,
    pub duration_seconds: Option<u32>,
    pub wants_callback: bool,
    pub buying_intent: bool,
    pub repeat_caller: bool,
    /// The caller's appointments marked no-show: kept with the score, worth no points.
    pub no_shows: u32,
}

impl Default for ScoreWeights {
    /// A booking alone scores 75, above the default threshold of 70: a quick call that booked is
    /// the lead the owner cares most about. Without a booking, a caller needs several signals
    /// together (a callback wanted, intent to buy, a valuable service, a long call, a repeat
    /// caller) to reach 70.
    fn default() -> Self {
        Self {
            booked: 75,
            wants_callback: 20,
            buying_intent: 15,
            repeat_caller: 10,
            per_100_of_value: 5,
            service_value_cap: 20,
            long_call: 10,
            long_call_seconds: 180,
        }
    }
}

/// The most a score can be.
pub const MAX_SCORE: u32 = 100;

/// The score of a call: each signal that is present and weighs something adds its points and a
/// reason in the owner's words; the total is the sum, capped at [`MAX_SCORE`]. Reasons are sorted
/// by points, highest first (ties in a fixed order: booked, callback, intent, value, duration,
/// repeat caller).
pub fn score(signals: &LeadSignals, weights: &ScoreWeights) -> LeadScore {
    let mut reasons = Vec::new();
    let mut add = |points: u32, reason: String| {
        if points > 0 {
            reasons.push(ScoreReason { points, reason });
        }
    };
    if signals.booked {
        add(
            weights.booked,
            "Booked an appointment during the call".to_owned(),
        );
    }
    if signals.wants_callback {
        add(weights.wants_callback, "Asked to be called back".to_owned());
    }
    if signals.buying_intent {
        add(
            weights.buying_intent,
            "Showed clear intent to book or buy".to_owned(),
        );
    }
    if let Some(cents) = signals.service_value_cents {
        let hundreds = cents / 10_000;
        let points = weights
            .per_100_of_value
            .saturating_mul(hundreds)
            .min(weights.service_value_cap);
        add(
            points,
            format!("Interested in a service worth {}", whole_units(cents)),
        );
    }
    if let Some(seconds) = signals.duration_seconds
        && seconds >= weights.long_call_seconds
    {
        add(
            weights.long_call,
            format!("Long call ({})", call_length(seconds)),
        );
    }
    if signals.repeat_caller {
        add(
            weights.repeat_caller,
            "Has called the clinic before".to_owned(),
        );
    }
    // Stable: equal points keep the order above.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points));
    let total = reasons
        .iter()
        .fold(0u32, |sum, r| sum.saturating_add(r.points))
        .min(MAX_SCORE);
    LeadScore {
        total,
        reasons,
        no_shows: signals.no_shows,
    }
}

/// "1,250" from 125000 cents: whole currency units with thousands separators.
fn whole_units(cents: u32) -> String {
    let digits = (cents / 100).to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "4 min 05 s", "12 min".
fn call_length(seconds: u32) -> String {
    let (m, s) = (seconds / 60, seconds % 60);
    match (m, s) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s:02} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::HotLeadThreshold;
    use proptest::prelude::*;

    fn reasons(s: &LeadScore) -> Vec<(u32, &str)> {
        s.reasons
            .iter()
            .map(|r| (r.points, r.reason.as_str()))
            .collect()
    }

    #[test]
    fn a_booking_alone_is_a_hot_lead_however_short_the_call() {
        let threshold = HotLeadThreshold::default().get();
        for duration_seconds in [None, Some(0), Some(20), Some(179)] {
            let s = score(
                &LeadSignals {
                    booked: true,
                    duration_seconds,
                    ..LeadSignals::default()
                },
                &ScoreWeights::default(),
            );
            assert!(s.total >= threshold, "{s:?}");
            assert_eq!(reasons(&s), [(75, "Booked an appointment during the call")]);
        }
    }

    #[test]
    fn nothing_scores_nothing() {
        let s = score(&LeadSignals::default(), &ScoreWeights::default());
        assert_eq!(s.total, 0);
        assert!(s.reasons.is_empty());
    }

    #[test]
    fn every_signal_with_its_reason_sorted_and_capped() {
        let s = score(
            &LeadSignals {
                booked: true,
                service_value_cents: Some(125_000),
                duration_seconds: Some(6 * 60 + 5),
                wants_callback: true,
                buying_intent: true,
                repeat_caller: true,
                no_shows: 0,
            },
            &ScoreWeights::default(),
        );
        assert_eq!(s.total, 100);
        assert_eq!(
            reasons(&s),
            [
                (75, "Booked an appointment during the call"),
                (20, "Asked to be called back"),
                (20, "Interested in a service worth 1,250"),
                (15, "Showed clear intent to book or buy"),
                (10, "Long call (6 min 05 s)"),
                (10, "Has called the clinic before"),
            ]
        );
    }

    #[test]
    fn without_a_booking_it_takes_several_signals() {
        let w = ScoreWeights::default();
        let threshold = HotLeadThreshold::default().get();
        let callback_and_intent = score(
            &LeadSignals {
                wants_callback: true,
                buying_intent: true,
                duration_seconds: Some(600),
                ..LeadSignals::default()
            },
            &w,
        );
        assert_eq!(callback_and_intent.total, 45);
        assert!(callback_and_intent.total < threshold);
        let everything = score(
            &LeadSignals {
                booked: false,
                service_value_cents: Some(50_000),
                duration_seconds: Some(600),
                wants_callback: true,
                buying_intent: true,
                repeat_caller: true,
                no_shows: 0,
            },
            &w,
        );
        assert_eq!(everything.total, 75);
        assert!(everything.total >= threshold);
    }

    #[test]
    fn service_value_per_full_hundred_up_to_the_cap() {
        let w = ScoreWeights::default();
        let value = |cents| {
            score(
                &LeadSignals {
                    service_value_cents: Some(cents),
                    ..LeadSignals::default()
                },
                &w,
            )
        };
        assert_eq!(value(9_999).total, 0);
        assert!(value(9_999).reasons.is_empty());
        assert_eq!(value(10_000).total, 5);
        assert_eq!(
            reasons(&value(25_050)),
            [(10, "Interested in a service worth 250")]
        );
        assert_eq!(value(40_000).total, 20);
        assert_eq!(value(u32::MAX).total, 20);
    }

    #[test]
    fn a_long_call_from_the_configured_length() {
        let w = ScoreWeights::default();
        let call = |secs| {
            score(
                &LeadSignals {
                    duration_seconds: Some(secs),
                    ..LeadSignals::default()
                },
                &w,
            )
        };
        assert_eq!(call(179).total, 0);
        assert_eq!(reasons(&call(180)), [(10, "Long call (3 min)")]);
        assert_eq!(reasons(&call(3600)), [(10, "Long call (60 min)")]);
    }

    #[test]
    fn weights_are_configurable_and_zero_weights_give_no_reason() {
        let w = ScoreWeights {
            booked: 0,
            wants_callback: 50,
            long_call: 0,
            ..ScoreWeights::default()
        };
        let s = score(
            &LeadSignals {
                booked: true,
                wants_callback: true,
                duration_seconds: Some(1000),
                ..LeadSignals::default()
            },
            &w,
        );
        assert_eq!(reasons(&s), [(50, "Asked to be called back")]);
        assert_eq!(s.total, 50);
        // Huge weights neither overflow nor pass 100.
        let w = ScoreWeights {
            booked: u32::MAX,
            wants_callback: u32::MAX,
            per_100_of_value: u32::MAX,
            service_value_cap: u32::MAX,
            ..ScoreWeights::default()
        };
        let s = score(
            &LeadSignals {
                booked: true,
                wants_callback: true,
                service_value_cents: Some(u32::MAX),
                ..LeadSignals::default()
            },
            &w,
        );
        assert_eq!(s.total, 100);
    }

    #[test]
    fn weights_round_trip_through_json() {
        let w = ScoreWeights::default();
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<ScoreWeights>(&json).unwrap(), w);
    }

    #[test]
    fn amounts_and_lengths_read_well() {
        assert_eq!(whole_units(0), "0");
        assert_eq!(whole_units(99_900), "999");
        assert_eq!(whole_units(100_000), "1,000");
        assert_eq!(whole_units(u32::MAX), "42,949,672");
        assert_eq!(call_length(45), "45 s");
        assert_eq!(call_length(125), "2 min 05 s");
    }

    fn signals() -> impl Strategy<Value = LeadSignals> {
        (
            any::<bool>(),
            prop::option::of(0u32..2_000_000),
            prop::option::of(0u32..10_000),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u32..5,
        )
            .prop_map(
                |(booked, value, duration, callback, intent, repeat, no_shows)| LeadSignals {
                    booked,
                    service_value_cents: value,
                    duration_seconds: duration,
                    wants_callback: callback,
                    buying_intent: intent,
                    repeat_caller: repeat,
                    no_shows,
                },
            )
    }

    fn weights() -> impl Strategy<Value = ScoreWeights> {
        (
            (0u32..=100, 0u32..=100, 0u32..=100, 0u32..=100),
            (0u32..=50, 0u32..=100, 0u32..=100, 0u32..=3600),
        )
            .prop_map(
                |((booked, cb, intent, repeat), (per100, cap, long, secs))| ScoreWeights {
                    booked,
                    wants_callback: cb,
                    buying_intent: intent,
                    repeat_caller: repeat,
                    per_100_of_value: per100,
                    service_value_cap: cap,
                    long_call: long,
                    long_call_seconds: secs,
                },
            )
    }

    proptest! {
        #[test]
        fn scores_add_up_and_explain_themselves(s in signals(), w in weights()) {
            let a = score(&s, &w);
            prop_assert_eq!(&a, &score(&s, &w));
            let sum: u32 = a.reasons.iter().map(|r| r.points).sum();
            prop_assert_eq!(a.total, sum.min(100));
            prop_assert!(a.reasons.iter().all(|r| r.points > 0 && !r.reason.is_empty()));
            prop_assert!(a.reasons.windows(2).all(|p| p[0].points >= p[1].points));
            prop_assert_eq!(
                a.reasons.iter().any(|r| r.reason == "Booked an appointment during the call"),
                s.booked && w.booked > 0
            );
        }

        #[test]
        fn no_shows_are_noted_and_change_no_points(s in signals(), w in weights(), n in 0u32..50) {
            let with = score(&LeadSignals { no_shows: n, ..s.clone() }, &w);
            let without = score(&LeadSignals { no_shows: 0, ..s }, &w);
            prop_assert_eq!(with.total, without.total);
            prop_assert_eq!(&with.reasons, &without.reasons);
            prop_assert_eq!(with.no_shows, n);
            prop_assert_eq!(with.no_show_note().is_some(), n > 0);
        }

        #[test]
        fn default_weights_make_every_booking_hot(s in signals()) {
            let booked = LeadSignals { booked: true, ..s };
            prop_assert!(score(&booked, &ScoreWeights::default()).total >= HotLeadThreshold::default().get());
        }

        #[test]
        fn a_further_signal_never_lowers_the_score(s in signals(), w in weights()) {
            let base = score(&s, &w).total;
            let more = [
                LeadSignals { booked: true, ..s.clone() },
                LeadSignals { wants_callback: true, ..s.clone() },
                LeadSignals { buying_intent: true, ..s.clone() },
                LeadSignals { repeat_caller: true, ..s.clone() },
                LeadSignals { duration_seconds: Some(s.duration_seconds.unwrap_or(0).saturating_add(600)), ..s.clone() },
                LeadSignals { service_value_cents: Some(s.service_value_cents.unwrap_or(0).saturating_add(100_000)), ..s.clone() },
            ];
            for m in more {
                prop_assert!(score(&m, &w).total >= base);
            }
        }
    }
}
