//! The clinic's own calendar, outside ours: a calendar on the clinic's server (Google, iCloud,
//! Fastmail, Nextcloud…) linked to one of our calendars. Its events are busy time for that
//! calendar; our confirmed appointments are written into it.
//!
//! Everything is keyed by (tenant, calendar): one link per calendar, and the busy time, the sync
//! state and the write queue hang off it. Today a clinic has one calendar
//! ([`crate::CalendarId::default_for`]); with providers, each provider is one calendar.
//!
//! - [`link`]: what a link is (the calendar's address, the credentials), the events we write and
//!   how we recognise them.
//! - [`sync`]: the health of a link in words, what a sync brings back, backoff and staleness.
//! - [`writes`]: the write queue, derived from the bookings themselves.
//! - [`ports`]: [`ports::OutsideCalendar`] (the server) and [`ports::CalendarSyncStore`].
//! - [`worker`]: one step of the background work: due syncs, then due writes.
//! - [`conflicts`]: which appointments collide with an event that arrived after them.

pub mod conflicts;
pub mod link;
pub mod ports;
pub mod sync;
pub mod worker;
pub mod writes;

pub use conflicts::collisions;
pub use link::{
    CalendarCredentials, CalendarLink, CalendarUrl, FoundCalendar, OurEvent, OurEventUid,
};
pub use ports::{CalendarSyncStore, OutsideCalendar};
pub use sync::{
    CalendarChanges, CalendarProblem, CalendarStatus, ChangeScope, OutsideResource, SyncClaim,
    SyncHealth, SyncPoint, SyncResult,
};
pub use worker::{CalendarReport, CalendarSyncConfig, CalendarWorker};
pub use writes::{CalendarWrite, ClaimedWrite, WriteOutcome};
