//! Holds and appointments: one record whose status moves through a small state machine.
//!
//! ```text
//! held ──confirm──▶ confirmed ──cancel──▶ cancelled
//!   │ └─release──▶ released
//!   └───expire───▶ expired
//! ```

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{BookingId, CalendarId, CallId, TenantId};
use crate::phone::PhoneNumber;
pub use crate::provider::BookingLimit;
use crate::tenant::ServiceName;

/// How long a hold is exclusive.
pub const HOLD_TTL: SignedDuration = SignedDuration::from_mins(10);

/// A half-open interval of time `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Interval {
    /// `None` unless `start < end`.
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Held,
    Confirmed,
    Cancelled,
    Released,
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "held" => Self::Held,
            "confirmed" => Self::Confirmed,
            "cancelled" => Self::Cancelled,
            "released" => Self::Released,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
    /// Whether a booking in this status occupies its time (given, for a hold, that it has not
    /// expired).
    pub fn occupies(self) -> bool {
        matches!(self, Self::Held | Self::Confirmed)
    }
}

/// A request to move a booking to another status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Confirm,
    Release,
    Expire,
    Cancel,
}

/// Why a transition is not allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a {from} booking cannot be {attempted:?}ed")]
    Illegal {
        from: &'static str,
        attempted: Transition,
    },
    #[error("the hold expired at {expired_at}")]
    HoldExpired { expired_at: Timestamp },
}

/// A hold or an appointment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub id: BookingId,
    pub tenant: TenantId,
    pub calendar: CalendarId,
    pub status: BookingStatus,
    pub service: ServiceName,
    /// When the appointment starts and ends.
    pub slot: Interval,
    /// The time kept from other bookings: the slot widened by the clinic's buffers. The database
    /// forbids two occupying bookings whose `blocked` intervals overlap.
    pub blocked: Interval,
    pub caller_name: String,
    pub caller_phone: PhoneNumber,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
    /// For a hold: when it stops being exclusive.
    pub hold_expires_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    /// For a booking made by rescheduling: the one it replaced.
    pub rescheduled_from: Option<BookingId>,
}

impl Booking {
    /// The status as of `now`: a held booking whose hold ran out is expired, whatever is stored.
    pub fn effective_status(&self, now: Timestamp) -> BookingStatus {
        match (self.status, self.hold_expires_at) {
            (BookingStatus::Held, Some(exp)) if exp <= now => BookingStatus::Expired,
            (s, _) => s,
        }
    }

    /// Whether the booking keeps others off its time at `now`.
    pub fn occupies_at(&self, now: Timestamp) -> bool {
        self.effective_status(now).occupies()
    }

    /// The status `t` leads to from the booking's state at `now`, or why it cannot.
    pub fn check(&self, t: Transition, now: Timestamp) -> Result<BookingStatus, TransitionError> {
        let from = self.status;
        let illegal = || TransitionError::Illegal {
            from: from.as_str(),
            attempted: t,
        };
        match (from, t) {
            (BookingStatus::Held, Transition::Confirm) => match self.hold_expires_at {
                Some(exp) if exp <= now => Err(TransitionError::HoldExpired { expired_at: exp }),
                _ => Ok(BookingStatus::Confirmed),
            },
            (BookingStatus::Held, Transition::Release) => Ok(BookingStatus::Released),
            (BookingStatus::Held, Transition::Expire) => match self.hold_expires_at {
                Some(exp) if exp <= now => Ok(BookingStatus::Expired),
                _ => Err(illegal()),
            },
            (BookingStatus::Confirmed, Transition::Cancel) => Ok(BookingStatus::Cancelled),
            _ => Err(illegal()),
        }
    }
}

/// A hold to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHold {
    pub id: BookingId,
    pub tenant: TenantId,
    /// The provider's calendar.
    pub calendar: CalendarId,
    /// The provider's limits the hold must stay within (checked by the store under the same
    /// lock as the insert).
    pub limits: Vec<BookingLimit>,
    pub service: ServiceName,
    pub slot: Interval,
    pub blocked: Interval,
    pub caller_name: String,
    pub caller_phone: PhoneNumber,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
    pub hold_expires_at: Timestamp,
}

/// What inserting a hold does to the other live holds of the same call: a caller who picks a
/// new time lets go of the one they held before (`Release`); a hold outside a call, or one
/// that must leave the others alone, keeps them (`Keep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallHolds {
    Release,
    Keep,
}

impl CallHolds {
    /// `Release` within a call, `Keep` outside one.
    pub fn of(call: Option<&CallId>) -> Self {
        match call {
            Some(_) => Self::Release,
            None => Self::Keep,
        }
    }
}

/// A confirmed booking to insert directly (a reschedule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAppointment {
    pub id: BookingId,
    pub tenant: TenantId,
    /// The provider's calendar.
    pub calendar: CalendarId,
    /// The provider's limits (see [`NewHold::limits`]).
    pub limits: Vec<BookingLimit>,
    pub service: ServiceName,
    pub slot: Interval,
    pub blocked: Interval,
    pub caller_name: String,
    pub caller_phone: PhoneNumber,
    pub call_id: Option<CallId>,
    pub created_at: Timestamp,
    pub rescheduled_from: BookingId,
}

/// Busy time as availability sees it: whose calendar, when it starts, what it blocks, and what
/// keeps it busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Occupied {
    pub calendar: CalendarId,
    pub starts_at: Timestamp,
    pub blocked: Interval,
    pub by: OccupiedBy,
}

/// What keeps a calendar's time busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OccupiedBy {
    /// One of our bookings (a live hold or a confirmed appointment): blocks its time and counts
    /// against the provider's daily and weekly limits.
    Booking,
    /// An event of the clinic's own calendar, as last synced: blocks its time, counts against
    /// no limit (it is not an appointment of ours).
    OutsideEvent,
}

impl Occupied {
    /// The busy time of an outside calendar's event on `calendar`.
    pub fn outside_event(calendar: CalendarId, busy: Interval) -> Self {
        Self {
            calendar,
            starts_at: busy.start,
            blocked: busy,
            by: OccupiedBy::OutsideEvent,
        }
    }

    pub fn is_booking(&self) -> bool {
        self.by == OccupiedBy::Booking
    }
}
