//! The texts we send. Each carries the clinic's name; times are the clinic's, with the zone's
//! abbreviation; texts to callers carry opt-out language (A2P 10DLC).
//!
//! # Length
//!
//! Every text is written in the GSM-7 alphabet (straight quotes, no dashes or emoji) and kept
//! within two segments (306 GSM-7 characters). Names and other text from outside (the clinic's
//! and service's names, a caller's name, a forwarded message) are first made GSM-friendly
//! (curly quotes become straight ones, dashes hyphens, runs of whitespace one space). If a text
//! is still longer than two segments, those fields are shortened, the longest first, but never
//! below a floor (20 characters for the clinic's and service's names), so the brand stays
//! recognisable; a forwarded message is cut with "...". A field that is not GSM-7 even after
//! that (an emoji, a name in another script) makes the whole text UCS-2: it is shortened the same
//! way to fit two UCS-2 segments when the floors allow, and otherwise may cost more segments,
//! but no text is ever longer than [`MAX_BODY_CHARS`].

mod callers;
mod clinic;
mod keywords;
mod length;
#[cfg(test)]
mod tests;
mod time;

pub use callers::{
    CANCEL_CONFIRM_MINUTES, CANCEL_CONFIRM_WORD, OPT_OUT_LINE, OTP_VALIDITY_MINUTES,
    cancel_confirm_ask_text, cancellation_text, confirmation_text, otp_text, reminder_text,
    rescheduled_text, waitlist_offer_text,
};
pub use clinic::{hot_lead_text, inbound_forward_paused_text, inbound_forward_text, test_text};
pub use keywords::{
    InboundKeyword, ReminderReply, classify_inbound, classify_reminder_reply, help_reply,
    inbound_auto_reply, inbound_keyword, opt_in_reply, opt_out_reply,
};
pub use length::{Encoding, MAX_BODY_CHARS, MAX_SEGMENTS, Segments, fits, segments};
pub use time::local_time;
