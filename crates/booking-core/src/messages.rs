//! The texts we send. Each carries the clinic's name; times are the clinic's, with the zone's
//! abbreviation; texts to callers carry opt-out language (A2P 10DLC).

use jiff::Timestamp;

use crate::calls::LeadScore;
use crate::phone::PhoneNumber;
use crate::tenant::{ClinicName, ClinicZone, ServiceName};

/// How a text will be encoded and how many segments it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    pub count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Twilio's cap on a body.
pub const MAX_BODY_CHARS: usize = 1600;

pub fn segments(text: &str) -> Segments {
    let _ = text;
    todo!("messages::segments")
}

/// "Thu, Nov 26 at 2:00 PM EST"
pub fn local_time(zone: &ClinicZone, at: Timestamp) -> String {
    let _ = (zone, at);
    todo!("messages::local_time")
}

pub fn otp_text(clinic: &ClinicName, code: &str) -> String {
    let _ = (clinic, code);
    todo!("messages::otp_text")
}

pub fn confirmation_text(clinic: &ClinicName, zone: &ClinicZone, service: &ServiceName, start: Timestamp) -> String {
    let _ = (clinic, zone, service, start);
    todo!("messages::confirmation_text")
}

pub fn reminder_text(clinic: &ClinicName, zone: &ClinicZone, service: &ServiceName, start: Timestamp) -> String {
    let _ = (clinic, zone, service, start);
    todo!("messages::reminder_text")
}

pub fn cancellation_text(clinic: &ClinicName, zone: &ClinicZone, service: &ServiceName, start: Timestamp) -> String {
    let _ = (clinic, zone, service, start);
    todo!("messages::cancellation_text")
}

/// Sent instead of a confirmation when an appointment moved.
pub fn rescheduled_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    old_start: Timestamp,
    new_start: Timestamp,
) -> String {
    let _ = (clinic, zone, service, old_start, new_start);
    todo!("messages::rescheduled_text")
}

/// To the owner: name, number, service, score and the top reasons.
pub fn hot_lead_text(
    clinic: &ClinicName,
    caller_name: Option<&str>,
    caller: Option<&PhoneNumber>,
    service: Option<&str>,
    score: &LeadScore,
) -> String {
    let _ = (clinic, caller_name, caller, service, score);
    todo!("messages::hot_lead_text")
}

pub fn opt_out_reply(clinic: &ClinicName) -> String {
    let _ = clinic;
    todo!("messages::opt_out_reply")
}

pub fn opt_in_reply(clinic: &ClinicName) -> String {
    let _ = clinic;
    todo!("messages::opt_in_reply")
}

pub fn help_reply(clinic: &ClinicName, clinic_number: Option<&PhoneNumber>) -> String {
    let _ = (clinic, clinic_number);
    todo!("messages::help_reply")
}

/// To the owner: a caller's text that was not a keyword, passed on.
pub fn inbound_forward_text(clinic: &ClinicName, from: &PhoneNumber, body: &str) -> String {
    let _ = (clinic, from, body);
    todo!("messages::inbound_forward_text")
}

/// To the caller, after their text was passed on: how to reach the clinic.
pub fn inbound_auto_reply(clinic: &ClinicName, clinic_number: Option<&PhoneNumber>) -> String {
    let _ = (clinic, clinic_number);
    todo!("messages::inbound_auto_reply")
}

pub fn test_text(clinic: &ClinicName) -> String {
    let _ = clinic;
    todo!("messages::test_text")
}

/// What an inbound text asks for (whole message, any case, surrounding spaces ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundKeyword {
    /// STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL
    OptOut,
    /// START, YES, UNSTOP
    OptIn,
    /// HELP, INFO
    Help,
    /// Anything else.
    Other,
}

pub fn classify_inbound(body: &str) -> InboundKeyword {
    let _ = body;
    todo!("messages::classify_inbound")
}
