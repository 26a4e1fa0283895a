//! A link between one of our calendars and a calendar on the clinic's own server.

use std::fmt;

use jiff::Timestamp;

use crate::booking::{Booking, Interval};
use crate::error::ParseError;
use crate::ids::{BookingId, CalendarId, TenantId};
use crate::tenant::{ClinicZone, Secret};

/// The address of a calendar server or of one calendar on it. HTTPS only, except plain HTTP to
/// this machine (a loopback address or `localhost`: local servers in tests and development).
/// No credentials inside the address: they are given separately and stored encrypted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CalendarUrl(String);

impl CalendarUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "calendar URL";
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::new(WHAT, "is empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::new(WHAT, "is longer than 2048 characters"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ParseError::new(
                WHAT,
                "contains spaces or control characters",
            ));
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| ParseError::new(WHAT, "must start with https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(ParseError::new(WHAT, "must start with https://"));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if path.contains(['?', '#']) {
            return Err(ParseError::new(WHAT, "must not have a query or a fragment"));
        }
        if authority.contains('@') {
            return Err(ParseError::new(
                WHAT,
                "must not contain a user name or password (give them separately)",
            ));
        }
        let host = host_of(authority).ok_or_else(|| ParseError::new(WHAT, "has no host"))?;
        if scheme == "http" && !is_loopback(host) {
            return Err(ParseError::new(
                WHAT,
                "must use https:// (plain http:// only to this machine)",
            ));
        }
        Ok(Self(format!(
            "{scheme}://{}{path}",
            authority.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, without port or brackets.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or("");
        host_of(authority).unwrap_or("")
    }

    /// Whether the address is on this machine.
    pub fn is_loopback(&self) -> bool {
        is_loopback(self.host())
    }

    /// The path part (`/` at least).
    pub fn path(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        rest.find('/').map_or("/", |i| &rest[i..])
    }
}

fn host_of(authority: &str) -> Option<&str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host == "::1" {
        return true;
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

impl fmt::Debug for CalendarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CalendarUrl({})", self.0)
    }
}

impl fmt::Display for CalendarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How we sign in to the clinic's calendar server. Never logged (the secrets print as `***`),
/// never shown again once given, stored encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarCredentials {
    /// A user name and an app password (HTTP Basic).
    Password { username: String, password: Secret },
    /// A bearer token (OAuth access token or the server's own API token).
    Token(Secret),
}

impl CalendarCredentials {
    /// Credentials as given by an owner or an operator: a user name with a password, or a token.
    pub fn parse(
        username: Option<&str>,
        password: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ParseError> {
        const WHAT: &str = "calendar credentials";
        fn clean(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        match (clean(username), clean(password), clean(token)) {
            (Some(u), Some(p), None) => {
                if u.len() > 256 || p.len() > 1024 || u.chars().any(char::is_control) {
                    return Err(ParseError::new(
                        WHAT,
                        "are too long or hold control characters",
                    ));
                }
                Ok(Self::Password {
                    username: u.to_owned(),
                    password: Secret::new(p),
                })
            }
            (None, None, Some(t)) => {
                if t.len() > 4096 || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(ParseError::new(
                        WHAT,
                        "hold a token that is too long or has spaces",
                    ));
                }
                Ok(Self::Token(Secret::new(t)))
            }
            (Some(_), None, None) | (None, Some(_), None) => {
                Err(ParseError::new(WHAT, "need both a username and a password"))
            }
            (None, None, None) => Err(ParseError::new(
                WHAT,
                "need a username and password, or a token",
            )),
            _ => Err(ParseError::new(
                WHAT,
                "take either a username and password or a token, not both",
            )),
        }
    }

    /// The user name, for display (tokens have none).
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::Password { username, .. } => Some(username),
            Self::Token(_) => None,
        }
    }
}

/// One of our calendars linked to a calendar on the clinic's server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarLink {
    pub tenant: TenantId,
    pub calendar: CalendarId,
    /// The calendar collection (not the server): what the owner picked after discovery.
    pub url: CalendarUrl,
    pub credentials: CalendarCredentials,
    /// The clinic's time zone, for the events that name none: all-day events and floating
    /// times block the clinic's day.
    pub zone: ClinicZone,
}

/// A calendar found on a server, for the owner to pick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundCalendar {
    pub url: CalendarUrl,
    /// The calendar's display name, when the server gives one.
    pub name: Option<String>,
}

/// The UID of an event we wrote for a booking. Derived from the booking alone, so a repeated
/// write of the same booking replaces the same event, and an event coming back through a sync is
/// recognised as ours (and not counted as outside busy time).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OurEventUid(String);

impl OurEventUid {
    const PREFIX: &'static str = "appointment-";
    const SUFFIX: &'static str = "@receptionist.invalid";

    pub fn for_booking(booking: BookingId) -> Self {
        Self(format!("{}{booking}{}", Self::PREFIX, Self::SUFFIX))
    }

    /// The booking whose event has this UID, if it is one of ours.
    pub fn recognise(uid: &str) -> Option<BookingId> {
        uid.trim()
            .strip_prefix(Self::PREFIX)?
            .strip_suffix(Self::SUFFIX)?
            .parse()
            .ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A file name for the event in its calendar collection (`<uid>.ics`, safe in a URL path).
    pub fn file_name(&self) -> String {
        let safe: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.ics")
    }
}

impl fmt::Display for OurEventUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The event we write for a confirmed appointment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OurEvent {
    pub uid: OurEventUid,
    pub booking: BookingId,
    /// The appointment itself (not the buffers around it).
    pub slot: Interval,
    /// "Teeth Whitening – Ada Lovelace".
    pub summary: String,
    pub caller_name: String,
    pub service: String,
    /// When the booking last changed (the event's DTSTAMP / LAST-MODIFIED).
    pub stamp: Timestamp,
}

impl OurEvent {
    pub fn for_booking(booking: &Booking) -> Self {
        Self::new(
            booking.id,
            booking.slot,
            booking.service.as_str(),
            &booking.caller_name,
            booking.confirmed_at.unwrap_or(booking.created_at),
        )
    }

    /// From a booking's parts (a store reading only the columns it needs).
    pub fn new(
        booking: BookingId,
        slot: Interval,
        service: &str,
        caller_name: &str,
        stamp: Timestamp,
    ) -> Self {
        let caller = caller_name.trim();
        let summary = if caller.is_empty() {
            service.to_owned()
        } else {
            format!("{service} – {caller}")
        };
        Self {
            uid: OurEventUid::for_booking(booking),
            booking,
            slot,
            summary,
            caller_name: caller.to_owned(),
            service: service.to_owned(),
            stamp,
        }
    }

    /// The event's description: who, what, and our booking id (for the front desk to quote).
    pub fn description(&self) -> String {
        let mut d = String::new();
        if !self.caller_name.is_empty() {
            d.push_str(&format!("Caller: {}\n", self.caller_name));
        }
        d.push_str(&format!(
            "Service: {}\nBooked by phone. Booking id: {}",
            self.service, self.booking
        ));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_this_machine() {
        for ok in [
            "https://caldav.example.com/dav/calendars/user/",
            "HTTPS://Cal.Example.com",
            "http://127.0.0.1:5232/ada/work/",
            "http://localhost:5232/",
            "http://[::1]:5232/x/",
            "http://127.8.9.10/",
        ] {
            let url = CalendarUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(url.as_str().contains("://"), "{ok}");
        }
        assert_eq!(
            CalendarUrl::parse("https://cal.example.com")
                .unwrap()
                .as_str(),
            "https://cal.example.com/"
        );
        for bad in [
            "http://caldav.example.com/",
            "http://10.0.0.1/",
            "http://127.0.0.1.evil.example/",
            "ftp://127.0.0.1/",
            "caldav.example.com",
            "https://user:pass@cal.example.com/",
            "https:///path",
            "https://cal.example.com/a b",
            "https://cal.example.com/?q=1",
            "",
        ] {
            assert!(CalendarUrl::parse(bad).is_err(), "{bad} was accepted");
        }
        let url = CalendarUrl::parse("http://[::1]:5232/ada/work/").unwrap();
        assert_eq!(url.host(), "::1");
        assert_eq!(url.path(), "/ada/work/");
        assert!(url.is_loopback());
    }

    #[test]
    fn credentials_are_a_password_pair_or_a_token() {
        assert!(matches!(
            CalendarCredentials::parse(Some("ada"), Some("pw"), None),
            Ok(CalendarCredentials::Password { .. })
        ));
        assert!(matches!(
            CalendarCredentials::parse(None, None, Some("tok")),
            Ok(CalendarCredentials::Token(_))
        ));
        assert!(CalendarCredentials::parse(Some("ada"), None, None).is_err());
        assert!(CalendarCredentials::parse(Some("ada"), Some("pw"), Some("t")).is_err());
        assert!(CalendarCredentials::parse(None, None, None).is_err());
        let c = CalendarCredentials::parse(Some("ada"), Some("hunter2"), None).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn our_uids_are_recognised_and_others_are_not() {
        let b = BookingId::from_uuid(uuid::Uuid::new_v4());
        let uid = OurEventUid::for_booking(b);
        assert_eq!(OurEventUid::recognise(uid.as_str()), Some(b));
        assert_eq!(
            OurEventUid::recognise("040000008200E00074C5B7101A82E008"),
            None
        );
        assert_eq!(
            OurEventUid::recognise("appointment-not-a-uuid@receptionist.invalid"),
            None
        );
        assert!(uid.file_name().ends_with(".ics"));
        assert!(!uid.file_name().contains('@'));
    }
}
