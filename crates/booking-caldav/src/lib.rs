//! The clinic's own calendar over CalDAV (RFC 4791) and iCalendar (RFC 5545): booking-core's
//! [`booking_core::outside_calendar::OutsideCalendar`] port ([`CalDav`]), the reading of events
//! into busy time ([`ical`]), and the writing of our appointments and of the read-only feed
//! ([`render`]).

mod client;
pub mod ical;
pub mod render;

pub use client::{Authorized, CalDav, CalDavConfig, SyncTokens};
