//! Inbound texts: which keyword a text is, and the replies to keywords and other texts.

use super::callers::OPT_OUT_LINE;
use super::length::{clinic_field, fit};
use crate::phone::PhoneNumber;
use crate::tenant::ClinicName;

pub fn opt_out_reply(clinic: &ClinicName) -> String {
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: you are unsubscribed and will get no more texts from us. Reply START to resubscribe.",
            f[0]
        )
    })
}

pub fn opt_in_reply(clinic: &ClinicName) -> String {
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: you are subscribed again to appointment texts. Reply HELP for help. {OPT_OUT_LINE}",
            f[0]
        )
    })
}

pub fn help_reply(clinic: &ClinicName, clinic_number: Option<&PhoneNumber>) -> String {
    let call = clinic_number.map_or_else(|| "call the clinic".to_owned(), |n| format!("call {n}"));
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: appointment texts. For help, {call}. Msg & data rates may apply. {OPT_OUT_LINE}",
            f[0]
        )
    })
}

/// To the caller, after their text was passed on: how to reach the clinic.
pub fn inbound_auto_reply(clinic: &ClinicName, clinic_number: Option<&PhoneNumber>) -> String {
    let call = clinic_number.map_or_else(|| "call us".to_owned(), |n| format!("call {n}"));
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: thanks, we passed your message on to the team. For anything urgent, {call}. {OPT_OUT_LINE}",
            f[0]
        )
    })
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

/// The keyword an inbound text is: the one Twilio matched first (Advanced Opt-Out's
/// `OptOutType`, which also covers a clinic's own words such as "ALTO" or "ARRET"), else
/// [`classify_inbound`] of the body.
pub fn inbound_keyword(twilio_matched: Option<InboundKeyword>, body: &str) -> InboundKeyword {
    twilio_matched.unwrap_or_else(|| classify_inbound(body))
}

/// The keyword a whole message is, ignoring case, surrounding whitespace and trailing "." or
/// "!" ("Stop." is an opt-out: when in doubt, we stop texting). A keyword inside a longer
/// message ("please stop calling me") is not one.
pub fn classify_inbound(body: &str) -> InboundKeyword {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .trim_end()
        .to_uppercase();
    match word.as_str() {
        "STOP" | "UNSUBSCRIBE" | "END" | "QUIT" | "STOPALL" | "REVOKE" | "OPTOUT" | "CANCEL" => {
            InboundKeyword::OptOut
        }
        "START" | "YES" | "UNSTOP" => InboundKeyword::OptIn,
        "HELP" | "INFO" => InboundKeyword::Help,
        _ => InboundKeyword::Other,
    }
}

/// What a text that is no keyword may mean after a reminder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderReply {
    /// "C" or "CANCEL APPOINTMENT": asks to cancel the appointment reminded of.
    CancelRequest,
    /// [`super::CANCEL_CONFIRM_WORD`]: confirms such a request.
    CancelConfirm,
    /// Anything else.
    Other,
}

/// Whether a whole message (any case, surrounding spaces and a trailing "." or "!" ignored,
/// inner runs of spaces as one) asks to cancel or confirms it. "CANCEL" alone is no such
/// request: it is an opt-out keyword ([`classify_inbound`] sees it first).
pub fn classify_reminder_reply(body: &str) -> ReminderReply {
    let words: Vec<String> = body
        .trim()
        .trim_end_matches(['.', '!'])
        .split_whitespace()
        .map(str::to_uppercase)
        .collect();
    match words.join(" ").as_str() {
        "C" | "CANCEL APPOINTMENT" => ReminderReply::CancelRequest,
        w if w == super::CANCEL_CONFIRM_WORD => ReminderReply::CancelConfirm,
        _ => ReminderReply::Other,
    }
}
