//! Texts to the clinic's owner and staff: hot leads, forwarded texts, the test text.

use super::length::{
    CALLER_FLOOR, CLINIC_FLOOR, Field, SEGMENTS_MAX_CHARS, clinic_field, fit, fits,
};
use crate::calls::{LeadScore, ScoreReason};
use crate::phone::PhoneNumber;
use crate::tenant::ClinicName;

/// To the owner: name, number, service, score and the top reasons. The full number, so that the
/// owner can call back. The top three reasons when they fit, else two; then the caller's name and
/// the service are shortened, and the clinic's name only after them.
pub fn hot_lead_text(
    clinic: &ClinicName,
    caller_name: Option<&str>,
    caller: Option<&PhoneNumber>,
    service: Option<&str>,
    score: &LeadScore,
) -> String {
    let mut reasons: Vec<&ScoreReason> = score.reasons.iter().filter(|r| r.points > 0).collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points));
    let number = caller.map_or("number withheld", PhoneNumber::as_str);
    let total = score.total;
    let why = |top: usize| {
        let listed: Vec<String> = reasons
            .iter()
            .take(top)
            .map(|r| {
                format!(
                    "{} (+{})",
                    Field::new(&r.reason, 60).capped(60).render(),
                    r.points
                )
            })
            .collect();
        if listed.is_empty() {
            String::new()
        } else {
            format!(" Why: {}.", listed.join("; "))
        }
    };
    let text = |why: &str, f: &[String]| {
        let who = if f[1].is_empty() {
            "A caller"
        } else {
            f[1].as_str()
        };
        let what = if f[2].is_empty() {
            String::new()
        } else {
            format!(", interested in {}", f[2])
        };
        let stop = if what.ends_with(['.', '!', '?']) {
            ""
        } else {
            "."
        };
        format!(
            "{}: hot lead, score {total}/100. {who} at {number}{what}{stop}{why} Call them back soon.",
            f[0]
        )
    };
    // `clinic_floor` None: the clinic's name is not shortened.
    let fields = |clinic_floor: Option<usize>| {
        let mut clinic = clinic_field(clinic).capped(SEGMENTS_MAX_CHARS);
        clinic.floor = clinic_floor.unwrap_or(clinic.len);
        vec![
            clinic,
            Field::new(caller_name.unwrap_or(""), CALLER_FLOOR).capped(SEGMENTS_MAX_CHARS),
            Field::new(service.unwrap_or(""), CALLER_FLOOR).capped(SEGMENTS_MAX_CHARS),
        ]
    };
    let three = why(3);
    let full: Vec<String> = fields(None).iter().map(Field::render).collect();
    let candidate = text(&three, &full);
    if fits(&candidate) {
        return candidate;
    }
    let two = why(2);
    let candidate = fit(fields(None), |f| text(&two, f));
    if fits(&candidate) {
        return candidate;
    }
    fit(fields(Some(CLINIC_FLOOR)), |f| text(&two, f))
}

/// To the owner: a caller's text that was not a keyword, passed on. The caller's message is cut
/// (with "...") so that the whole text fits two segments, in GSM-7 or, when the message needs it,
/// in UCS-2: forwarding never costs more than two segments.
pub fn inbound_forward_text(clinic: &ClinicName, from: &PhoneNumber, body: &str) -> String {
    fit(
        vec![
            clinic_field(clinic),
            Field::new(body, 0)
                .with_ellipsis()
                .capped(SEGMENTS_MAX_CHARS),
        ],
        |f| format!("{}: text from {from}: \"{}\"", f[0], f[1]),
    )
}

/// To the owner's alert number, to check that the clinic's texts go out.
pub fn test_text(clinic: &ClinicName) -> String {
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: this is a test text from your AI receptionist. If you got it, texting works.",
            f[0]
        )
    })
}

/// To the owner: one caller keeps texting; the texts after this one are not passed on until
/// `until` (clinic time).
pub fn inbound_forward_paused_text(clinic: &ClinicName, from: &PhoneNumber, until: &str) -> String {
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: {from} keeps texting. Their texts until {until} are not passed on; reply to them or call them.",
            f[0]
        )
    })
}
