//! Bookings out: the write queue. One row per (tenant, calendar, booking) says whether the
//! booking's event should be in the clinic's calendar and as what. The rows are derived from the
//! bookings themselves ([`crate::outside_calendar::CalendarSyncStore::queue_booking_writes`]):
//! a confirmed booking of a linked calendar wants its event, any other booking that had one wants
//! it gone. So nothing the booking use-cases do has to remember to queue a write, and a write is
//! never lost: the bookings are the record of what the calendar should show.
//!
//! A row is claimed by one worker at a time (a lease with a fresh token); each change of what is
//! wanted bumps its `version`, and a write is recorded done only for the version it wrote, so a
//! change made while a write was in flight is written after it. The event's UID (and its file
//! name) is derived from the booking, so a write repeated after a crash replaces the same event
//! rather than adding a second one.

use jiff::Timestamp;

use crate::ids::{BookingId, CalendarId, TenantId};
use crate::outside_calendar::link::{CalendarLink, OurEvent, OurEventUid};
use crate::outside_calendar::sync::CalendarProblem;

/// A row of the write queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarWrite {
    pub tenant: TenantId,
    pub calendar: CalendarId,
    pub booking: BookingId,
    pub uid: OurEventUid,
    /// `Some`: the event should be in the calendar, as this. `None`: it should not be there.
    pub wanted: Option<OurEvent>,
    /// Bumped on every change of `wanted`.
    pub version: u64,
    /// The version last written to the server (`None`: never).
    pub written_version: Option<u64>,
    /// Failed attempts since the last write that worked.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed, for the owner (see [`CalendarProblem::owner_words`]).
    pub last_problem: Option<CalendarProblem>,
}

impl CalendarWrite {
    /// Whether the server has what is wanted.
    pub fn is_done(&self) -> bool {
        self.written_version == Some(self.version)
    }
}

/// A row claimed by one worker until `lease_until`, with the link to write through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedWrite {
    pub write: CalendarWrite,
    pub link: CalendarLink,
    /// Changes on every claim; an outcome recorded under a stale token is ignored.
    pub claim_token: uuid::Uuid,
    pub lease_until: Timestamp,
}

/// What a worker learned about a claimed write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The server has the claimed version.
    Written,
    /// Not written: try again at `next_attempt_at`.
    Retry {
        problem: CalendarProblem,
        next_attempt_at: Timestamp,
    },
}
