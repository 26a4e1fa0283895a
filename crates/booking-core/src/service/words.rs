//! The sentences the voice model hears: offered times, the services, why a time cannot be booked.

use jiff::Timestamp;
use serde::Serialize;

use crate::availability::Unbookable;
use crate::service::clean_text;
use crate::tenant::{ClinicZone, TenantConfig};

/// A start time offered to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotOffer {
    /// RFC 3339 with the clinic's offset: "2026-11-26T14:00:00-05:00".
    pub start: String,
    /// "Thursday November 26 at 2:00 PM"
    pub spoken: String,
    #[serde(skip)]
    pub at: Timestamp,
    #[serde(skip)]
    day: String,
    #[serde(skip)]
    time: String,
}

impl SlotOffer {
    pub(super) fn new(zone: &ClinicZone, at: Timestamp) -> Self {
        let z = at.to_zoned_datetime(zone.tz().clone());
        let day = z.strftime("%A %B %-d").to_string();
        let time = z.strftime("%-I:%M %p").to_string();
        Self {
            start: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            spoken: format!("{day} at {time}"),
            at,
            day,
            time,
        }
    }
}

/// "Thursday November 26 at 9:00 AM or 2:00 PM, and Friday November 27 at 10:00 AM"
pub(super) fn speak_offers(offers: &[SlotOffer]) -> String {
    let mut days: Vec<(&str, Vec<&str>)> = Vec::new();
    for o in offers {
        match days.last_mut() {
            Some((d, times)) if *d == o.day => times.push(&o.time),
            _ => days.push((&o.day, vec![&o.time])),
        }
    }
    let parts: Vec<String> = days
        .iter()
        .map(|(d, times)| format!("{d} at {}", join_or(times, "or")))
        .collect();
    join_or(&parts, "and")
}

pub(super) fn join_or<S: AsRef<str>>(items: &[S], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {word} {}", init.join(", "), last.as_ref())
        }
    }
}

pub(super) fn spoken_at(zone: &ClinicZone, at: Timestamp) -> String {
    SlotOffer::new(zone, at).spoken
}

pub(super) fn rfc3339(zone: &ClinicZone, at: Timestamp) -> String {
    SlotOffer::new(zone, at).start
}

pub(super) fn unknown_service(config: &TenantConfig, spoken: &str) -> String {
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        return "The clinic has no services set up for booking; offer to take a message with capture_lead.".into();
    }
    format!(
        "The clinic does not offer {:?}; its services are {}.",
        clean_text(spoken, 80),
        join_or(&names, "and")
    )
}

pub(super) fn unbookable_reason(u: &Unbookable) -> String {
    let why = match u {
        Unbookable::InPast => "that time has already passed".to_owned(),
        Unbookable::TooSoon { minutes } => {
            if minutes % 60 == 0 {
                format!("appointments need {} hours' notice", minutes / 60)
            } else {
                format!("appointments need {minutes} minutes' notice")
            }
        }
        Unbookable::BeyondHorizon { days } => {
            format!("appointments can be booked at most {days} days ahead")
        }
        Unbookable::Closed => {
            "the clinic is closed then, or the appointment would run past closing".to_owned()
        }
        Unbookable::OffGrid { minutes } => format!("appointments start every {minutes} minutes"),
        Unbookable::RepeatedTime => "the clocks go back that night, so that time comes twice, \
             and only the first one (before the clocks change) can be booked"
            .to_owned(),
    };
    format!("That time cannot be booked: {why}.")
}
