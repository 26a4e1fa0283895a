//! What the tenant JSON's parts share: field-by-field errors, days and hours, date overrides,
//! and `null` told apart from absent.

use std::collections::BTreeMap;

use booking_core::ParseError;
use booking_core::tenant::{DateOverride, DayHours, OpenRange, WeeklyHours};
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DateOverrideJson {
    pub date: String,
    /// Empty or absent: closed all day.
    #[serde(default)]
    pub hours: Vec<[String; 2]>,
    #[serde(default)]
    pub note: Option<String>,
}

pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Field-by-field problems, all of them at once.
#[derive(Debug, Default, Serialize)]
pub struct FieldErrors(pub Vec<FieldError>);

#[derive(Debug, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldErrors {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    pub(crate) fn parse<T>(
        &mut self,
        field: impl Into<String>,
        r: Result<T, ParseError>,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }
}

pub(crate) const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

pub(crate) fn day_hours(
    errs: &mut FieldErrors,
    field: &str,
    ranges: &[[String; 2]],
) -> Option<DayHours> {
    let mut out = Vec::new();
    for (i, [s, e]) in ranges.iter().enumerate() {
        out.push(errs.parse(format!("{field}[{i}]"), OpenRange::parse(s, e))?);
    }
    errs.parse(field, DayHours::new(out))
}

pub(crate) fn parse_week(
    errs: &mut FieldErrors,
    field: &str,
    map: &BTreeMap<String, Vec<[String; 2]>>,
) -> WeeklyHours {
    let mut w = WeeklyHours::default();
    for (key, ranges) in map {
        let k = key.to_ascii_lowercase();
        match DAYS.iter().find(|(d, _)| k.starts_with(d)) {
            Some((_, day)) => {
                if let Some(h) = day_hours(errs, &format!("{field}.{key}"), ranges) {
                    w.set(*day, h);
                }
            }
            None => errs.push(format!("{field}.{key}"), "is not a day (mon, tue, … sun)"),
        }
    }
    w
}

pub(crate) fn parse_overrides(
    errs: &mut FieldErrors,
    field: &str,
    list: &[DateOverrideJson],
) -> Vec<DateOverride> {
    let mut v: Vec<DateOverride> = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let date = match o.date.trim().parse::<Date>() {
            Ok(d) => d,
            Err(_) => {
                errs.push(format!("{field}[{i}].date"), "must be YYYY-MM-DD");
                continue;
            }
        };
        if v.iter().any(|x| x.date == date) {
            errs.push(format!("{field}[{i}].date"), "appears twice");
            continue;
        }
        if let Some(hours) = day_hours(errs, &format!("{field}[{i}].hours"), &o.hours) {
            v.push(DateOverride {
                date,
                hours,
                note: o.note.clone(),
            });
        }
    }
    v.sort_by_key(|o| o.date);
    v
}

pub(crate) fn hhmm(t: jiff::civil::Time) -> String {
    if t == jiff::civil::Time::MAX {
        "24:00".into()
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

pub(crate) fn ranges_json(h: &DayHours) -> Vec<[String; 2]> {
    h.ranges()
        .iter()
        .map(|r| [hhmm(r.start()), hhmm(r.end())])
        .collect()
}

pub(crate) fn week_json(w: &WeeklyHours) -> BTreeMap<String, Vec<[String; 2]>> {
    w.iter()
        .map(|(d, h)| {
            let key = DAYS
                .iter()
                .find(|(_, wd)| *wd == d)
                .map(|(k, _)| *k)
                .unwrap_or("mon");
            (key.to_owned(), ranges_json(h))
        })
        .collect()
}

pub(crate) fn overrides_json(list: &[DateOverride]) -> Vec<DateOverrideJson> {
    list.iter()
        .map(|o| DateOverrideJson {
            date: o.date.to_string(),
            hours: ranges_json(&o.hours),
            note: o.note.clone(),
        })
        .collect()
}
