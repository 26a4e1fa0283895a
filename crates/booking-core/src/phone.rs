//! E.164 phone numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// A phone number in E.164 form: `+`, a country code not starting with 0, 8 to 15 digits in all.
/// Parsing accepts the separators people type (spaces, dots, dashes, parentheses) and keeps only
/// the canonical form. A number without `+` is refused: guessing the country texts the wrong person.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "phone number";
        let s = input.trim();
        if s.len() > 32 {
            return Err(ParseError::new(WHAT, "is too long"));
        }
        let Some(rest) = s.strip_prefix('+') else {
            return Err(ParseError::new(
                WHAT,
                "must be in international format, starting with + and the country code",
            ));
        };
        let mut digits = String::with_capacity(16);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(ParseError::new(WHAT, "may contain only digits after the +")),
            }
        }
        let n = digits.len() - 1;
        if !(8..=15).contains(&n) {
            return Err(ParseError::new(WHAT, "must have 8 to 15 digits"));
        }
        if digits.as_bytes()[1] == b'0' {
            return Err(ParseError::new(WHAT, "has no country code starting with 0"));
        }
        Ok(Self(digits))
    }

    /// The canonical E.164 text, e.g. `+19254207621`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form safe for logs and for reading back to a caller: all but the last four digits hidden,
    /// e.g. `+*******7621`.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let keep = 4.min(digits.len());
        let hidden = digits.len() - keep;
        format!("+{}{}", "*".repeat(hidden), &digits[hidden..])
    }

    /// The last four digits, for a sentence such as "I sent a code to the number ending in 7621".
    pub fn last_four(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

/// Debug never prints the whole number: debug output ends up in logs.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises() {
        let p = PhoneNumber::parse(" +1 (925) 420-7621 ").unwrap();
        assert_eq!(p.as_str(), "+19254207621");
        assert_eq!(p.masked(), "+*******7621");
        assert_eq!(p.last_four(), "7621");
        assert_eq!(format!("{p:?}"), "PhoneNumber(+*******7621)");
    }

    #[test]
    fn refuses_malformed_numbers() {
        for bad in [
            "",
            "9254207621",
            "+",
            "+1234567",
            "+1234567890123456",
            "+0123456789",
            "+1925abc7621",
            "++19254207621",
            "+1 925 420 7621 ext 5",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
