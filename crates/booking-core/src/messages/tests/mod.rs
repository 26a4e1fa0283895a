mod keywords;
mod length;
mod texts;

use jiff::Timestamp;

use super::length::{CLINIC_FLOOR, PROVIDER_FLOOR, SERVICE_FLOOR, gsm_septets, plain};
use super::time::numeric_offset;
use crate::calls::{LeadScore, ScoreReason};
use crate::phone::PhoneNumber;
use crate::tenant::{ClinicName, ClinicZone, ServiceName};

use super::*;
use crate::otp::OtpPolicy;
use proptest::prelude::*;

/// GSM 03.38's basic table, row by row, as published (the escape code left out).
const BASIC_TABLE: &str = concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
);
const EXTENSION_TABLE: &str = "\u{c}^{}\\[~]|€";

fn clinic(s: &str) -> ClinicName {
    ClinicName::parse(s).unwrap()
}
fn service(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}
fn zone(s: &str) -> ClinicZone {
    ClinicZone::parse(s).unwrap()
}
fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}
fn seg(encoding: Encoding, count: u32) -> Segments {
    Segments { encoding, count }
}

/// A patient's link on a longish public address (an https host of 32 characters).
const LINK: &str = "https://receptionist.example.com/a/AbCdEfGhIjKlMnOpQrStUg";

const CLINIC_40: &str = "Northside Family & Cosmetic Dentistry Co";
const SERVICE_40: &str = "Comprehensive Exam, Cleaning and X-Rays!";

/// Every text we write, for one clinic and service, with the texts to callers marked.
fn all_texts(c: &ClinicName, s: &ServiceName) -> Vec<(&'static str, bool, String)> {
    let z = zone("America/New_York");
    let (t1, t2) = (ts("2026-11-26T17:30:00Z"), ts("2026-12-30T15:00:00Z"));
    let caller = phone("+19254207621");
    let score = LeadScore {
        total: 100,
        reasons: vec![
            ScoreReason {
                points: 75,
                reason: "Booked an appointment during the call".into(),
            },
            ScoreReason {
                points: 20,
                reason: "Asked to be called back".into(),
            },
            ScoreReason {
                points: 15,
                reason: "Showed clear intent to book or buy".into(),
            },
            ScoreReason {
                points: 10,
                reason: "Long call (12 min 30 s)".into(),
            },
        ],
        no_shows: 0,
    };
    let missed = LeadScore {
        no_shows: 12,
        ..score.clone()
    };
    vec![
        ("otp", true, otp_text(c, "123456")),
        (
            "confirmation",
            true,
            confirmation_text(c, &z, s, None, t1, None),
        ),
        ("reminder", true, reminder_text(c, &z, s, None, t1, None)),
        ("cancellation", true, cancellation_text(c, &z, s, t1)),
        (
            "rescheduled",
            true,
            rescheduled_text(c, &z, s, None, t1, t2, None),
        ),
        (
            "confirmation with a provider",
            true,
            confirmation_text(c, &z, s, Some(&long_provider()), t1, None),
        ),
        (
            "reminder with a provider",
            true,
            reminder_text(c, &z, s, Some(&long_provider()), t1, None),
        ),
        (
            "rescheduled with a provider",
            true,
            rescheduled_text(c, &z, s, Some(&long_provider()), t1, t2, None),
        ),
        (
            "confirmation with a provider and the link",
            true,
            confirmation_text(c, &z, s, Some(&long_provider()), t1, Some(LINK)),
        ),
        (
            "reminder with a provider and the link",
            true,
            reminder_text(c, &z, s, Some(&long_provider()), t1, Some(LINK)),
        ),
        (
            "rescheduled with a provider and the link",
            true,
            rescheduled_text(c, &z, s, Some(&long_provider()), t1, t2, Some(LINK)),
        ),
        (
            "confirmation with the link",
            true,
            confirmation_text(c, &z, s, None, t1, Some(LINK)),
        ),
        (
            "reminder with the link",
            true,
            reminder_text(c, &z, s, None, t1, Some(LINK)),
        ),
        (
            "cancel confirmation ask",
            true,
            cancel_confirm_ask_text(c, &z, s, t1),
        ),
        ("opt-out", true, opt_out_reply(c)),
        ("opt-in", true, opt_in_reply(c)),
        ("help", true, help_reply(c, Some(&caller))),
        ("help without number", true, help_reply(c, None)),
        ("auto reply", true, inbound_auto_reply(c, Some(&caller))),
        (
            "auto reply without number",
            true,
            inbound_auto_reply(c, None),
        ),
        (
            "hot lead",
            false,
            hot_lead_text(
                c,
                Some("Alexandria Montgomery-Worthington"),
                Some(&caller),
                Some(s.as_str()),
                &score,
            ),
        ),
        (
            "hot lead from a caller with no-shows",
            false,
            hot_lead_text(
                c,
                Some("Alexandria Montgomery-Worthington"),
                Some(&caller),
                Some(s.as_str()),
                &missed,
            ),
        ),
        (
            "forward",
            false,
            inbound_forward_text(c, &caller, &"Can I move it? ".repeat(30)),
        ),
        ("test", false, test_text(c)),
    ]
}

/// A provider's name as long as one may be (80 characters).
pub(super) fn long_provider() -> crate::provider::ProviderName {
    crate::provider::ProviderName::parse(
        "Dr. Alexandria Montgomery-Worthington, Senior Dental Hygienist and Implant Lead",
    )
    .expect("a valid provider name")
}
