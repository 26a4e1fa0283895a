//! The booking domain of the AI receptionist: every rule a clinic relies on, with no database, HTTP
//! or runtime behind it. The world comes in through the traits in [`ports`].

pub mod accounts;
pub mod attendance;
pub mod availability;
pub mod booking;
pub mod calls;
pub mod country;
pub mod dispatch;
pub mod error;
pub mod feeds;
pub mod ids;
pub mod link_token;
#[cfg(feature = "memory")]
pub mod memory;
pub mod messages;
pub mod otp;
pub mod outbox;
pub mod outside_calendar;
pub mod patient_link;
pub mod phone;
pub mod ports;
pub mod provider;
pub mod reports;
pub mod scoring;
pub mod service;
pub mod start;
pub mod tenant;
pub mod test_texts;
#[cfg(feature = "testing")]
pub mod testing;
pub mod waitlist;

pub use error::ParseError;
pub use ids::*;
pub use phone::PhoneNumber;
