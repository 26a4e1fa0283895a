//! Conversions at the database boundary: jiff (the domain's time) has no diesel support, so
//! timestamps cross as chrono values; text columns become domain types again.

use booking_core::ports::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use jiff::Timestamp;

/// PostgreSQL keeps microseconds: anything finer is dropped, consistently, on the way in.
pub(crate) fn ts(t: Timestamp) -> DateTime<Utc> {
    let micros = t.as_microsecond();
    DateTime::from_timestamp_micros(micros).expect("every jiff timestamp is within chrono's range")
}

pub(crate) fn ts_opt(t: Option<Timestamp>) -> Option<DateTime<Utc>> {
    t.map(ts)
}

pub(crate) fn from_ts(t: DateTime<Utc>) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(t.timestamp_micros()).map_err(|e| corrupt("timestamp", e))
}

pub(crate) fn from_ts_opt(t: Option<DateTime<Utc>>) -> Result<Option<Timestamp>, StoreError> {
    t.map(from_ts).transpose()
}

pub(crate) fn date(d: jiff::civil::Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(i32::from(d.year()), d.month() as u32, d.day() as u32)
        .expect("every jiff date is a valid chrono date")
}

pub(crate) fn from_date(d: NaiveDate) -> Result<jiff::civil::Date, StoreError> {
    use chrono::Datelike;
    let year = i16::try_from(d.year()).map_err(|e| corrupt("date", e))?;
    jiff::civil::Date::new(year, d.month() as i8, d.day() as i8).map_err(|e| corrupt("date", e))
}

/// A row that does not parse back into the domain: a bug or a hand-edited row.
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what} is invalid: {e}"))
}

pub(crate) fn u32_of(what: &str, v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|e| corrupt(what, e))
}

pub(crate) fn i32_of(what: &str, v: u32) -> Result<i32, StoreError> {
    i32::try_from(v).map_err(|_| StoreError::Internal(format!("{what} {v} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds() {
        let t: Timestamp = "2030-03-10T07:30:00.123456789Z".parse().unwrap();
        let back = from_ts(ts(t)).unwrap();
        assert_eq!(back.to_string(), "2030-03-10T07:30:00.123456Z");
        let before_epoch: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(from_ts(ts(before_epoch)).unwrap(), before_epoch);
    }

    #[test]
    fn dates_round_trip() {
        let d = jiff::civil::date(2030, 2, 28);
        assert_eq!(from_date(date(d)).unwrap(), d);
    }
}
