//! What the use-cases take beyond ids and dates: the input of `reserve_slot`, and the service a
//! caller named (a lookup by the clinic's rule for names, not a parse of wire text).

use crate::phone::PhoneNumber;
use crate::start::SlotStart;
use crate::tenant::{Service, TenantConfig};

/// `reserve_slot`'s input: a start, the service as the caller named it, the caller's name, and
/// the number to book under when it is not the caller ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReserveSlot {
    pub start: SlotStart,
    pub service: String,
    pub caller_name: String,
    /// The number to book under when the caller ID is withheld (or the caller wants another);
    /// `None` means the caller ID.
    pub phone: Option<PhoneNumber>,
    /// The provider the caller asked for, as said (or an id); `None`: anyone free.
    pub provider: Option<String>,
}

/// A service the clinic does not offer (or none set up): what was asked, cleaned, and the
/// services there are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownService {
    pub asked: String,
    pub offered: Vec<String>,
}

impl UnknownService {
    pub(super) fn new(config: &TenantConfig, spoken: &str) -> Self {
        Self {
            asked: clean_text(spoken, 80),
            offered: config.services.iter().map(|s| s.name.to_string()).collect(),
        }
    }
}

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
