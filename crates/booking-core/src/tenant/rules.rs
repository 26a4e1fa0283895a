//! The rules that turn opening hours into bookable start times, and the bounded numbers an owner
//! sets.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// The score (0..=100) from which a call is a hot lead. Default 70.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct HotLeadThreshold(u8);

impl HotLeadThreshold {
    pub fn new(v: u32) -> Result<Self, ParseError> {
        if v > 100 {
            return Err(ParseError::new(
                "hot lead threshold",
                "must be between 0 and 100",
            ));
        }
        Ok(Self(v as u8))
    }
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for HotLeadThreshold {
    fn default() -> Self {
        Self(70)
    }
}

impl TryFrom<u32> for HotLeadThreshold {
    type Error = ParseError;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<HotLeadThreshold> for u32 {
    fn from(t: HotLeadThreshold) -> u32 {
        t.get()
    }
}

/// A positive whole number of minutes within a bound: durations, buffers, intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minutes(u32);

impl Minutes {
    pub fn new(what: &'static str, v: u32, min: u32, max: u32) -> Result<Self, ParseError> {
        if v < min || v > max {
            return Err(ParseError::new(
                what,
                format!("must be between {min} and {max} minutes"),
            ));
        }
        Ok(Self(v))
    }
    pub const fn get(self) -> u32 {
        self.0
    }
    pub fn span(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(i64::from(self.0))
    }
}

/// The rules that turn opening hours into bookable start times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRules {
    /// Time kept free before each appointment (0..=240 minutes).
    pub buffer_before: u32,
    /// Time kept free after each appointment (0..=240 minutes).
    pub buffer_after: u32,
    /// How far ahead of now a booking must start. Default 2 hours.
    pub min_notice_minutes: u32,
    /// The grid start times fall on, from the start of each opening range. Default 30 minutes.
    pub slot_interval: Minutes,
    /// How many days ahead a caller can book. Default 60.
    pub horizon_days: u32,
    /// Inside this many minutes before an appointment its patient's link no longer cancels or
    /// moves it (the page says to call the clinic). Default 24 hours, at most 30 days.
    #[serde(default = "default_link_notice")]
    pub link_notice_minutes: u32,
}

/// The default notice window of the patient's link: 24 hours.
pub const DEFAULT_LINK_NOTICE_MINUTES: u32 = 24 * 60;

fn default_link_notice() -> u32 {
    DEFAULT_LINK_NOTICE_MINUTES
}

impl Default for BookingRules {
    fn default() -> Self {
        Self {
            buffer_before: 0,
            buffer_after: 0,
            min_notice_minutes: 120,
            slot_interval: Minutes(30),
            horizon_days: 60,
            link_notice_minutes: DEFAULT_LINK_NOTICE_MINUTES,
        }
    }
}

impl BookingRules {
    pub fn new(
        buffer_before: u32,
        buffer_after: u32,
        min_notice_minutes: u32,
        slot_interval_minutes: u32,
        horizon_days: u32,
    ) -> Result<Self, ParseError> {
        if buffer_before > 240 || buffer_after > 240 {
            return Err(ParseError::new(
                "buffer",
                "must be between 0 and 240 minutes",
            ));
        }
        if min_notice_minutes > 60 * 24 * 30 {
            return Err(ParseError::new("minimum notice", "must be at most 30 days"));
        }
        if !(1..=366).contains(&horizon_days) {
            return Err(ParseError::new(
                "booking horizon",
                "must be between 1 and 366 days",
            ));
        }
        Ok(Self {
            buffer_before,
            buffer_after,
            min_notice_minutes,
            slot_interval: Minutes::new("slot interval", slot_interval_minutes, 5, 240)?,
            horizon_days,
            link_notice_minutes: DEFAULT_LINK_NOTICE_MINUTES,
        })
    }

    /// The same rules with another notice window for the patient's link (0 to 30 days).
    pub fn with_link_notice(self, minutes: u32) -> Result<Self, ParseError> {
        if minutes > 60 * 24 * 30 {
            return Err(ParseError::new("link notice", "must be at most 30 days"));
        }
        Ok(Self {
            link_notice_minutes: minutes,
            ..self
        })
    }
}
