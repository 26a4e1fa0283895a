//! Lead scoring: deterministic and explainable (points with reasons), with configurable weights.

use crate::calls::LeadScore;

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
}

pub fn score(signals: &LeadSignals, weights: &ScoreWeights) -> LeadScore {
    let _ = (signals, weights);
    todo!("scoring::score")
}
