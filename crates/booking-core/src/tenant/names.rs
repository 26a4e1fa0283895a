//! What a clinic and its services are called: free text shown to people, and the services offered.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::Minutes;
use crate::error::ParseError;

/// Free text shown to people (a clinic's or a service's name): trimmed, 1..=max characters, no
/// control characters.
fn parse_label(what: &'static str, s: &str, max: usize) -> Result<String, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ParseError::new(what, "is empty"));
    }
    if s.chars().count() > max {
        return Err(ParseError::new(
            what,
            format!("is longer than {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ParseError::new(what, "contains control characters"));
    }
    Ok(s.to_owned())
}

macro_rules! label {
    ($(#[$meta:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                parse_label($what, s, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

label!(
    /// The clinic's name as callers know it; it goes into every text (A2P 10DLC wants the brand).
    ClinicName,
    "clinic name",
    80
);
label!(
    /// A service the clinic offers ("Teeth Whitening").
    ServiceName,
    "service name",
    80
);

impl ServiceName {
    /// Case- and space-insensitive comparison, for matching what a caller or model said.
    pub fn matches(&self, spoken: &str) -> bool {
        let norm = |s: &str| {
            s.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ")
        };
        norm(&self.0) == norm(spoken)
    }
}

/// A service and how long it takes; the value (in cents) feeds lead scoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: ServiceName,
    /// 5 to 720 minutes.
    pub duration: Minutes,
    /// What one booking is worth to the clinic, in the smallest currency unit.
    pub value_cents: Option<u32>,
}

impl Service {
    pub fn new(
        name: ServiceName,
        duration_minutes: u32,
        value_cents: Option<u32>,
    ) -> Result<Self, ParseError> {
        Ok(Self {
            name,
            duration: Minutes::new("service duration", duration_minutes, 5, 720)?,
            value_cents,
        })
    }
}
