//! Where the clinic's clock is and when it is open: its zone, the week's hours and the dates that
//! differ.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// An IANA time zone the clinic's clock runs in ("America/New_York"). Holds the parsed zone so that
/// nothing downstream can fail on it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClinicZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl ClinicZone {
    pub fn parse(name: &str) -> Result<Self, ParseError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(ParseError::new(
                "time zone",
                "must be an IANA name such as America/New_York",
            ));
        }
        let tz = jiff::tz::db().get(name).map_err(|_| {
            ParseError::new(
                "time zone",
                format!("{name:?} is not a known IANA name (such as America/New_York)"),
            )
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

impl PartialEq for ClinicZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ClinicZone {}

impl fmt::Debug for ClinicZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClinicZone({})", self.name)
    }
}

impl TryFrom<String> for ClinicZone {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ClinicZone> for String {
    fn from(z: ClinicZone) -> String {
        z.name
    }
}

/// An opening range within one day, in the clinic's local time: `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpenRange {
    start: Time,
    end: Time,
}

impl OpenRange {
    pub fn new(start: Time, end: Time) -> Result<Self, ParseError> {
        if start >= end {
            return Err(ParseError::new(
                "opening hours",
                format!("{start} is not before {end}"),
            ));
        }
        Ok(Self { start, end })
    }
    /// From `"09:00"`, `"17:30"`. `"24:00"` is accepted as the end of the day.
    pub fn parse(start: &str, end: &str) -> Result<Self, ParseError> {
        let t = |s: &str| -> Result<Time, ParseError> {
            let s = s.trim();
            if s == "24:00" {
                return Ok(Time::MAX);
            }
            let (h, m) = s
                .split_once(':')
                .ok_or_else(|| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            let h: i8 = h
                .parse()
                .map_err(|_| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            let m: i8 = m
                .parse()
                .map_err(|_| ParseError::new("opening hours", format!("{s:?} is not HH:MM")))?;
            Time::new(h, m, 0, 0).map_err(|_| {
                ParseError::new("opening hours", format!("{s:?} is not a time of day"))
            })
        };
        Self::new(t(start)?, t(end)?)
    }
    pub fn start(&self) -> Time {
        self.start
    }
    pub fn end(&self) -> Time {
        self.end
    }
}

/// The ranges a clinic is open on one day: sorted, not overlapping (adjacent ranges are merged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OpenRange>", into = "Vec<OpenRange>")]
pub struct DayHours(Vec<OpenRange>);

impl DayHours {
    pub fn closed() -> Self {
        Self(Vec::new())
    }
    pub fn new(mut ranges: Vec<OpenRange>) -> Result<Self, ParseError> {
        ranges.sort();
        let mut merged: Vec<OpenRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            if let Some(last) = merged.last_mut() {
                if r.start < last.end {
                    return Err(ParseError::new(
                        "opening hours",
                        format!("{}-{} overlaps {}-{}", r.start, r.end, last.start, last.end),
                    ));
                }
                if r.start == last.end {
                    last.end = r.end;
                    continue;
                }
            }
            merged.push(r);
        }
        Ok(Self(merged))
    }
    pub fn ranges(&self) -> &[OpenRange] {
        &self.0
    }
    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<OpenRange>> for DayHours {
    type Error = ParseError;
    fn try_from(v: Vec<OpenRange>) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<DayHours> for Vec<OpenRange> {
    fn from(d: DayHours) -> Self {
        d.0
    }
}

/// Opening hours for each day of the week. A day that is absent is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    days: BTreeMap<u8, DayHours>,
}

impl WeeklyHours {
    pub fn set(&mut self, day: Weekday, hours: DayHours) {
        let k = day.to_monday_zero_offset() as u8;
        if hours.is_closed() {
            self.days.remove(&k);
        } else {
            self.days.insert(k, hours);
        }
    }
    pub fn on(&self, day: Weekday) -> &DayHours {
        static CLOSED: DayHours = DayHours(Vec::new());
        self.days
            .get(&(day.to_monday_zero_offset() as u8))
            .unwrap_or(&CLOSED)
    }
    pub fn iter(&self) -> impl Iterator<Item = (Weekday, &DayHours)> {
        self.days.iter().map(|(k, v)| {
            (
                Weekday::from_monday_zero_offset(*k as i8).expect("0..=6"),
                v,
            )
        })
    }
}

/// A date whose hours differ from the week's: closed (a holiday) or special hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateOverride {
    pub date: Date,
    /// Empty means closed all day.
    pub hours: DayHours,
    pub note: Option<String>,
}
