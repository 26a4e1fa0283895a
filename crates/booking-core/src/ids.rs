//! Identifiers. Each is its own type so that a booking id can never be passed where a tenant id is
//! expected, and each parses from its text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ParseError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
            /// A fresh identifier from 16 random bytes (see [`crate::ports::Random`]).
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ParseError::new($what, "is not a valid id"))
            }
        }
    };
}

uuid_id!(
    /// A clinic (tenant). Every row the product stores belongs to exactly one.
    TenantId,
    "tenant id"
);
uuid_id!(
    /// A hold or an appointment: one row whose status moves through the lifecycle.
    BookingId,
    "booking id"
);
uuid_id!(
    /// One OTP challenge (one code sent for one hold).
    ChallengeId,
    "challenge id"
);
uuid_id!(
    /// One outbound SMS (a row of the outbox).
    MessageId,
    "message id"
);
uuid_id!(
    /// A calendar that bookings must not overlap in. Today a clinic has one.
    CalendarId,
    "calendar id"
);

uuid_id!(
    /// A caller's place on a clinic's waitlist.
    WaitlistEntryId,
    "waitlist entry id"
);
uuid_id!(
    /// One offer of a freed time to a waitlisted caller.
    WaitlistOfferId,
    "waitlist offer id"
);

impl CalendarId {
    /// The calendar every clinic has: its own id.
    pub fn default_for(tenant: TenantId) -> Self {
        Self(tenant.0)
    }
}

macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                let s = s.trim();
                if s.is_empty() {
                    return Err(ParseError::new($what, "is empty"));
                }
                if s.len() > $max {
                    return Err(ParseError::new($what, concat!("is longer than ", $max, " characters")));
                }
                if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(ParseError::new($what, "contains spaces or control characters"));
                }
                Ok(Self(s.to_owned()))
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

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

text_id!(
    /// Vapi's id of a call (`message.call.id`).
    CallId,
    "call id",
    128
);
text_id!(
    /// Vapi's id of one tool call (`toolCallList[].id`); a replay carries the same one.
    ToolCallId,
    "tool call id",
    128
);
text_id!(
    /// The phone line a call came in on, as the voice platform names it (Vapi's phone-number
    /// id, `message.call.phoneNumberId`).
    VoiceLineId,
    "Vapi phone number id",
    128
);
text_id!(
    /// The voice platform's id of a saved assistant (Vapi's `message.call.assistantId`). A call
    /// from Vapi's dashboard or web widget has no phone number; the clinic is found by this id
    /// instead.
    AssistantId,
    "Vapi assistant id",
    128
);
text_id!(
    /// Twilio's id of a message (`SM…` or `MM…`).
    MessageSid,
    "message sid",
    64
);
