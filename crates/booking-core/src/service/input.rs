//! Text from the model or a form, read into what the use-cases need: a service and a start.

use jiff::Timestamp;

use crate::start::{SlotStart, StartProblem};
use crate::tenant::{ClinicZone, Service, TenantConfig};

/// Text from outside trimmed, control characters turned into spaces, cut at `max_chars`.
pub(super) fn clean_text(s: &str, max_chars: usize) -> String {
    let s: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    s.trim().to_owned()
}

pub(super) fn normalise_words(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service a caller or the model named: an exact (case- and space-insensitive) match, else the
/// only service whose name contains the words said ("whitening" for "Teeth Whitening") or is
/// contained in them.
pub fn find_service<'a>(config: &'a TenantConfig, spoken: &str) -> Option<&'a Service> {
    if let Some(s) = config.service(spoken) {
        return Some(s);
    }
    let said = normalise_words(spoken);
    if said.is_empty() {
        return None;
    }
    let mut found = config.services.iter().filter(|s| {
        let name = normalise_words(s.name.as_str());
        name.contains(&said) || said.contains(&name)
    });
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// The instant of a start in the clinic's zone, by [`SlotStart::resolve`]'s rule, or the sentence
/// saying why it has none.
pub(super) fn start_instant(zone: &ClinicZone, start: &SlotStart) -> Result<Timestamp, String> {
    start.resolve(zone.tz()).map_err(|problem| match problem {
        StartProblem::Skipped(dt) => format!(
            "{} does not exist on that day because the clocks change; pick another time.",
            dt.strftime("%-I:%M %p")
        ),
        StartProblem::OutOfRange => {
            "That start is out of range; pick a time from check_availability.".to_owned()
        }
    })
}
