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

use jiff::Timestamp;
use jiff::civil::Weekday;

use crate::calls::{LeadScore, ScoreReason};
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

/// The most segments a text we write may cost.
pub const MAX_SEGMENTS: u32 = 2;

/// How long a code stays valid, as the OTP text says (the default of `OtpPolicy::validity`).
pub const OTP_VALIDITY_MINUTES: u32 = 10;

/// The opt-out sentence A2P 10DLC wants in texts to callers.
pub const OPT_OUT_LINE: &str = "Reply STOP to opt out.";

/// Septets a character costs in GSM-7 (GSM 03.38: one in the basic set, two in the extension
/// table, which is reached through an escape), `None` when GSM-7 cannot carry it.
fn gsm_septets(c: char) -> Option<u32> {
    match c {
        '`' => None,
        '[' | '\\' | ']' | '^' | '{' | '|' | '}' | '~' | '\u{c}' | '€' => Some(2),
        ' '..='~' | '\n' | '\r' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

/// How a text will be encoded and how many segments it costs. GSM-7 when every character is in
/// the GSM-7 basic set or its extension table (which costs two septets), else UCS-2 counted in
/// UTF-16 code units. A text that needs more than one segment loses room to the concatenation
/// header (153 septets or 67 code units a part), and a part never splits an extension character
/// or a surrogate pair. An empty text costs one segment.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<u32>> = text.chars().map(gsm_septets).collect();
    match gsm {
        Some(units) => Segments {
            encoding: Encoding::Gsm7,
            count: parts(&units, 160, 153),
        },
        None => {
            let units: Vec<u32> = text.chars().map(|c| c.len_utf16() as u32).collect();
            Segments {
                encoding: Encoding::Ucs2,
                count: parts(&units, 70, 67),
            }
        }
    }
}

/// Segments for characters costing `units` each: one if all fit in `single`, else parts of at
/// most `per_part` that never split a character.
fn parts(units: &[u32], single: u32, per_part: u32) -> u32 {
    if units.iter().sum::<u32>() <= single {
        return 1;
    }
    let (mut count, mut used) = (1, 0);
    for &u in units {
        if used + u > per_part {
            count += 1;
            used = 0;
        }
        used += u;
    }
    count
}

/// Whether a text is within our limits: two segments and Twilio's cap.
pub fn fits(text: &str) -> bool {
    segments(text).count <= MAX_SEGMENTS && text.chars().count() <= MAX_BODY_CHARS
}

/// "Thu, Nov 26 at 2:00 PM EST". The abbreviation is the zone database's; zones that have none
/// get a numeric one ("+1030" in Australia/Lord_Howe), which is what the database itself uses.
pub fn local_time(zone: &ClinicZone, at: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let tz = zone.tz();
    let dt = tz.to_datetime(at);
    let info = tz.to_offset_info(at);
    let abbreviation = match info.abbreviation() {
        "" => numeric_offset(info.offset().seconds()),
        a => a.to_owned(),
    };
    let weekday = match dt.weekday() {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    };
    let month = MONTHS[(dt.month() - 1) as usize];
    let (hour, half) = match dt.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{weekday}, {month} {} at {hour}:{:02} {half} {abbreviation}",
        dt.day(),
        dt.minute()
    )
}

/// "+1030", "-0330", "UTC".
fn numeric_offset(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}

/// Text from outside made GSM-friendly where a close GSM-7 character exists: typographic quotes,
/// dashes, ellipses and spaces become their plain forms, control characters and runs of
/// whitespace one space. Characters with no plain form are kept (and make the text UCS-2).
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{b4}' | '`' => {
                out.push('\'')
            }
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' | '\u{ab}'
            | '\u{bb}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            c if c.is_whitespace() || c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A piece of a text that may be shortened to make the text fit.
struct Field {
    full: Vec<char>,
    /// Characters it is never shortened below.
    floor: usize,
    /// Whether a shortened value ends with "...".
    ellipsis: bool,
    len: usize,
}

impl Field {
    fn new(s: &str, floor: usize) -> Self {
        let full: Vec<char> = plain(s).chars().collect();
        let len = full.len();
        Self {
            full,
            floor,
            ellipsis: false,
            len,
        }
    }
    fn with_ellipsis(mut self) -> Self {
        self.ellipsis = true;
        self
    }
    /// Caps the starting length (far above what can fit), so shortening stays cheap.
    fn capped(mut self, max: usize) -> Self {
        self.len = self.len.min(max.max(self.floor));
        self
    }
    fn shrinkable(&self) -> bool {
        self.len > self.floor
    }
    fn render(&self) -> String {
        if self.len >= self.full.len() {
            return self.full.iter().collect();
        }
        let cut: String = self.full[..self.len].iter().collect();
        let cut = cut.trim_end();
        if self.ellipsis {
            format!("{cut}...")
        } else {
            cut.to_owned()
        }
    }
}

/// Builds a text from its fields, shortening the longest shrinkable field one character at a
/// time until the text [`fits`] or nothing can be shortened; never longer than
/// [`MAX_BODY_CHARS`].
fn fit(mut fields: Vec<Field>, build: impl Fn(&[String]) -> String) -> String {
    loop {
        let rendered: Vec<String> = fields.iter().map(Field::render).collect();
        let text = build(&rendered);
        if fits(&text) {
            return text;
        }
        match fields
            .iter_mut()
            .filter(|f| f.shrinkable())
            .max_by_key(|f| f.len)
        {
            Some(f) => f.len -= 1,
            None => return text.chars().take(MAX_BODY_CHARS).collect(),
        }
    }
}

/// The most characters a text within two segments can have (two GSM-7 parts); no field needs to
/// start longer.
const SEGMENTS_MAX_CHARS: usize = 2 * 153;

/// Floors below which names are not shortened.
const CLINIC_FLOOR: usize = 20;
const SERVICE_FLOOR: usize = 20;
const CALLER_FLOOR: usize = 12;

fn clinic_field(clinic: &ClinicName) -> Field {
    Field::new(clinic.as_str(), CLINIC_FLOOR).capped(SEGMENTS_MAX_CHARS)
}

fn service_field(service: &ServiceName) -> Field {
    Field::new(service.as_str(), SERVICE_FLOOR).capped(SEGMENTS_MAX_CHARS)
}

/// The code, how long it is valid, and not to share it. The code is never shortened.
pub fn otp_text(clinic: &ClinicName, code: &str) -> String {
    let code = plain(code);
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: your code is {code}. It is valid for {OTP_VALIDITY_MINUTES} minutes. Don't share it with anyone. \
             {OPT_OUT_LINE}",
            f[0]
        )
    })
}

pub fn confirmation_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: your {} appointment is confirmed for {when}. To change or cancel it, call us. {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

pub fn reminder_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "Reminder from {}: your {} appointment is on {when}. To change or cancel it, call us. {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

pub fn cancellation_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    start: Timestamp,
) -> String {
    let when = local_time(zone, start);
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: your {} appointment on {when} is cancelled. Call us to book a new time. {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

/// Sent instead of a confirmation when an appointment moved.
pub fn rescheduled_text(
    clinic: &ClinicName,
    zone: &ClinicZone,
    service: &ServiceName,
    old_start: Timestamp,
    new_start: Timestamp,
) -> String {
    let (old, new) = (local_time(zone, old_start), local_time(zone, new_start));
    fit(vec![clinic_field(clinic), service_field(service)], |f| {
        format!(
            "{}: your {} appointment has moved to {new} (it was {old}). To change or cancel it, call us. \
             {OPT_OUT_LINE}",
            f[0], f[1]
        )
    })
}

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

/// To the owner's alert number, to check that the clinic's texts go out.
pub fn test_text(clinic: &ClinicName) -> String {
    fit(vec![clinic_field(clinic)], |f| {
        format!(
            "{}: this is a test text from your AI receptionist. If you got it, texting works.",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::ScoreReason;
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

    #[test]
    fn gsm_tables() {
        assert_eq!(BASIC_TABLE.chars().count(), 127);
        for c in BASIC_TABLE.chars() {
            assert_eq!(gsm_septets(c), Some(1), "{c:?}");
        }
        for c in EXTENSION_TABLE.chars() {
            assert_eq!(gsm_septets(c), Some(2), "{c:?}");
        }
        // Everything else is not GSM-7: check the whole of Latin-1 and a few others.
        for c in (0u32..0x2000)
            .filter_map(char::from_u32)
            .chain(['’', '“', '—', '…', '😀', '中', 'ë'])
        {
            if !BASIC_TABLE.contains(c) && !EXTENSION_TABLE.contains(c) {
                assert_eq!(gsm_septets(c), None, "{c:?}");
            }
        }
    }

    #[test]
    fn gsm_7_segments() {
        let a = |n| "a".repeat(n);
        assert_eq!(segments(""), seg(Encoding::Gsm7, 1));
        assert_eq!(segments(&a(160)), seg(Encoding::Gsm7, 1));
        assert_eq!(segments(&a(161)), seg(Encoding::Gsm7, 2));
        assert_eq!(segments(&a(306)), seg(Encoding::Gsm7, 2));
        assert_eq!(segments(&a(307)), seg(Encoding::Gsm7, 3));
        assert_eq!(segments(&a(1600)), seg(Encoding::Gsm7, 11));
        // Extension characters count twice.
        assert_eq!(segments(&"{".repeat(80)), seg(Encoding::Gsm7, 1));
        assert_eq!(segments(&"€".repeat(81)), seg(Encoding::Gsm7, 2));
        assert_eq!(segments(&format!("{}[", a(158))), seg(Encoding::Gsm7, 1));
        assert_eq!(segments(&format!("{}[", a(159))), seg(Encoding::Gsm7, 2));
        // 306 septets, but the escape cannot straddle the first part's end.
        assert_eq!(
            segments(&format!("{}€{}", a(152), a(152))),
            seg(Encoding::Gsm7, 3)
        );
        assert_eq!(
            segments(&format!("{}€{}", a(151), a(153))),
            seg(Encoding::Gsm7, 2)
        );
        // Accents of the basic set keep GSM-7.
        assert_eq!(
            segments("Café Müller, Señor Ñoño, £5 @ 10"),
            seg(Encoding::Gsm7, 1)
        );
    }

    #[test]
    fn one_character_outside_gsm_makes_the_whole_text_ucs_2() {
        let a = |n| "a".repeat(n);
        assert_eq!(segments(&format!("{}’", a(69))), seg(Encoding::Ucs2, 1));
        assert_eq!(segments(&format!("{}’", a(70))), seg(Encoding::Ucs2, 2));
        assert_eq!(segments(&format!("{}’", a(133))), seg(Encoding::Ucs2, 2));
        assert_eq!(segments(&format!("{}’", a(134))), seg(Encoding::Ucs2, 3));
        assert_eq!(segments(&format!("{}`", a(100))), seg(Encoding::Ucs2, 2));
        assert_eq!(segments("Zoë"), seg(Encoding::Ucs2, 1));
        // An emoji is two UTF-16 code units, and is never split between parts.
        assert_eq!(segments(&"😀".repeat(35)), seg(Encoding::Ucs2, 1));
        assert_eq!(segments(&"😀".repeat(36)), seg(Encoding::Ucs2, 2));
        assert_eq!(
            segments(&format!("{}😀{}", a(66), a(66))),
            seg(Encoding::Ucs2, 3)
        );
        assert_eq!(
            segments(&format!("{}😀{}", a(65), a(67))),
            seg(Encoding::Ucs2, 2)
        );
    }

    #[test]
    fn local_time_in_the_clinics_zone_with_its_abbreviation() {
        let ny = zone("America/New_York");
        assert_eq!(
            local_time(&ny, ts("2026-11-26T19:00:00Z")),
            "Thu, Nov 26 at 2:00 PM EST"
        );
        assert_eq!(
            local_time(&ny, ts("2026-07-04T13:05:00Z")),
            "Sat, Jul 4 at 9:05 AM EDT"
        );
        assert_eq!(
            local_time(&ny, ts("2026-07-04T04:30:00Z")),
            "Sat, Jul 4 at 12:30 AM EDT"
        );
        assert_eq!(
            local_time(&ny, ts("2026-07-04T16:00:00Z")),
            "Sat, Jul 4 at 12:00 PM EDT"
        );
        // The repeated hour: the abbreviation tells the two 1:30s apart.
        assert_eq!(
            local_time(&ny, ts("2026-11-01T05:30:00Z")),
            "Sun, Nov 1 at 1:30 AM EDT"
        );
        assert_eq!(
            local_time(&ny, ts("2026-11-01T06:30:00Z")),
            "Sun, Nov 1 at 1:30 AM EST"
        );
        let london = zone("Europe/London");
        assert_eq!(
            local_time(&london, ts("2026-01-15T09:00:00Z")),
            "Thu, Jan 15 at 9:00 AM GMT"
        );
        assert_eq!(
            local_time(&london, ts("2026-06-15T09:00:00Z")),
            "Mon, Jun 15 at 10:00 AM BST"
        );
        let lord_howe = zone("Australia/Lord_Howe");
        assert_eq!(
            local_time(&lord_howe, ts("2026-06-15T00:00:00Z")),
            "Mon, Jun 15 at 10:30 AM +1030"
        );
        assert_eq!(
            local_time(&lord_howe, ts("2026-12-15T00:00:00Z")),
            "Tue, Dec 15 at 11:00 AM +11"
        );
        assert_eq!(
            local_time(&zone("UTC"), ts("2026-12-31T23:59:00Z")),
            "Thu, Dec 31 at 11:59 PM UTC"
        );
        assert_eq!(numeric_offset(-(3 * 3600 + 1800)), "-0330");
        assert_eq!(numeric_offset(0), "UTC");
    }

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
        };
        vec![
            ("otp", true, otp_text(c, "123456")),
            ("confirmation", true, confirmation_text(c, &z, s, t1)),
            ("reminder", true, reminder_text(c, &z, s, t1)),
            ("cancellation", true, cancellation_text(c, &z, s, t1)),
            ("rescheduled", true, rescheduled_text(c, &z, s, t1, t2)),
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
                "forward",
                false,
                inbound_forward_text(c, &caller, &"Can I move it? ".repeat(30)),
            ),
            ("test", false, test_text(c)),
        ]
    }

    #[test]
    fn every_text_fits_two_gsm_segments_with_40_character_names() {
        let (c, s) = (clinic(CLINIC_40), service(SERVICE_40));
        assert_eq!(CLINIC_40.chars().count(), 40);
        assert_eq!(SERVICE_40.chars().count(), 40);
        for (name, to_caller, text) in all_texts(&c, &s) {
            let seg = segments(&text);
            assert_eq!(seg.encoding, Encoding::Gsm7, "{name}: {text}");
            assert!(
                seg.count <= 2,
                "{name} costs {} segments: {text}",
                seg.count
            );
            // 40 characters are never shortened.
            assert!(text.contains(CLINIC_40), "{name}: {text}");
            assert!(!text.contains('\n'), "{name}: {text}");
            if to_caller && name != "opt-out" {
                assert!(text.contains("Reply STOP to opt out."), "{name}: {text}");
            }
        }
    }

    #[test]
    fn texts_with_the_longest_names_still_fit() {
        let long_clinic =
            "The Very Long Named Center for Advanced Cosmetic and Family Dentistry of Oakland";
        let long_service =
            "Full Mouth Reconstruction Consultation with Digital Smile Design Preview Session";
        let (c, s) = (clinic(&long_clinic[..80]), service(&long_service[..80]));
        for (name, _, text) in all_texts(&c, &s) {
            assert!(text.chars().count() <= MAX_BODY_CHARS, "{name}");
            assert!(fits(&text), "{name} does not fit: {text}");
            // Shortened, but never below the floor.
            assert!(
                text.contains(&long_clinic[..CLINIC_FLOOR]),
                "{name}: {text}"
            );
        }
        let conf = confirmation_text(
            &c,
            &zone("America/New_York"),
            &s,
            ts("2026-11-26T17:30:00Z"),
        );
        assert!(conf.contains(&long_service[..SERVICE_FLOOR]), "{conf}");
        assert!(conf.contains("Thu, Nov 26 at 12:30 PM EST"), "{conf}");
    }

    #[test]
    fn typographic_characters_in_names_do_not_force_ucs_2() {
        let c = clinic("Dr. O’Brien’s “Smile” Studio — Downtown");
        let text = otp_text(&c, "4821");
        assert!(
            text.starts_with("Dr. O'Brien's \"Smile\" Studio - Downtown: "),
            "{text}"
        );
        assert_eq!(segments(&text).encoding, Encoding::Gsm7);
        // A name GSM-7 cannot carry is kept as it is: the text is UCS-2 and may cost a third
        // segment, since names are not shortened below their floor.
        let c = clinic("Zoë's Dental");
        let text = confirmation_text(
            &c,
            &zone("Europe/London"),
            &service("Check-up"),
            ts("2026-06-15T09:00:00Z"),
        );
        assert!(text.contains("Zoë's Dental"));
        assert_eq!(segments(&text), seg(Encoding::Ucs2, 3));
        assert!(fits(&opt_out_reply(&c)));
    }

    #[test]
    fn otp_text_says_the_code_its_validity_and_not_to_share_it() {
        let text = otp_text(&clinic("Smile Dental"), "048213");
        assert_eq!(
            text,
            "Smile Dental: your code is 048213. It is valid for 10 minutes. Don't share it with anyone. \
             Reply STOP to opt out."
        );
        assert_eq!(
            SignedDuration::from_mins(i64::from(OTP_VALIDITY_MINUTES)),
            OtpPolicy::default().validity
        );
    }

    use jiff::SignedDuration;

    #[test]
    fn booking_texts_name_the_clinic_service_and_local_time() {
        let (c, s, z) = (
            clinic("Smile Dental"),
            service("Teeth Whitening"),
            zone("America/New_York"),
        );
        let t = ts("2026-11-26T19:00:00Z");
        assert_eq!(
            confirmation_text(&c, &z, &s, t),
            "Smile Dental: your Teeth Whitening appointment is confirmed for Thu, Nov 26 at 2:00 PM EST. \
             To change or cancel it, call us. Reply STOP to opt out."
        );
        let reminder = reminder_text(&c, &z, &s, t);
        assert!(reminder.starts_with("Reminder from Smile Dental: "));
        assert!(reminder.contains("Teeth Whitening appointment is on Thu, Nov 26 at 2:00 PM EST"));
        let cancelled = cancellation_text(&c, &z, &s, t);
        assert!(
            cancelled.contains("Thu, Nov 26 at 2:00 PM EST is cancelled"),
            "{cancelled}"
        );
        let moved = rescheduled_text(&c, &z, &s, t, ts("2026-12-01T15:30:00Z"));
        assert!(
            moved.contains(
                "moved to Tue, Dec 1 at 10:30 AM EST (it was Thu, Nov 26 at 2:00 PM EST)"
            ),
            "{moved}"
        );
    }

    #[test]
    fn replies_to_keywords() {
        let c = clinic("Smile Dental");
        let out = opt_out_reply(&c);
        assert!(out.starts_with("Smile Dental: you are unsubscribed"));
        assert!(out.contains("Reply START"));
        assert!(opt_in_reply(&c).contains("Reply STOP to opt out."));
        let help = help_reply(&c, Some(&phone("+19254207621")));
        assert_eq!(
            help,
            "Smile Dental: appointment texts. For help, call +19254207621. Msg & data rates may apply. \
             Reply STOP to opt out."
        );
        assert!(help_reply(&c, None).contains("For help, call the clinic."));
        assert!(inbound_auto_reply(&c, Some(&phone("+19254207621"))).contains("call +19254207621"));
        assert!(test_text(&c).starts_with("Smile Dental: this is a test"));
    }

    #[test]
    fn hot_lead_text_has_name_number_service_score_and_top_reasons() {
        let score = crate::scoring::score(
            &crate::scoring::LeadSignals {
                booked: true,
                service_value_cents: Some(45_000),
                duration_seconds: Some(400),
                wants_callback: true,
                buying_intent: true,
                repeat_caller: true,
            },
            &crate::scoring::ScoreWeights::default(),
        );
        let text = hot_lead_text(
            &clinic("Smile Dental"),
            Some("Jane Doe"),
            Some(&phone("+19254207621")),
            Some("Teeth Whitening"),
            &score,
        );
        assert_eq!(
            text,
            "Smile Dental: hot lead, score 100/100. Jane Doe at +19254207621, interested in Teeth Whitening. \
             Why: Booked an appointment during the call (+75); Asked to be called back (+20); Interested in a \
             service worth 450 (+20). Call them back soon."
        );
        assert!(fits(&text));

        let text = hot_lead_text(&clinic("Smile Dental"), None, None, None, &score);
        assert!(text.contains("A caller at number withheld."), "{text}");
        let text = hot_lead_text(
            &clinic("Smile Dental"),
            Some("Jo"),
            None,
            Some("Botox!"),
            &score,
        );
        assert!(
            text.contains("Jo at number withheld, interested in Botox! Why: "),
            "{text}"
        );

        let nothing = LeadScore {
            total: 0,
            reasons: Vec::new(),
        };
        let text = hot_lead_text(
            &clinic("Smile Dental"),
            Some("  "),
            Some(&phone("+442071234567")),
            None,
            &nothing,
        );
        assert_eq!(
            text,
            "Smile Dental: hot lead, score 0/100. A caller at +442071234567. Call them back soon."
        );
    }

    #[test]
    fn hot_lead_text_drops_the_third_reason_before_shortening_names() {
        let reasons = (0..3)
            .map(|i| ScoreReason {
                points: 30 - i,
                reason: format!("A reason of some length #{i}"),
            })
            .collect();
        let score = LeadScore { total: 87, reasons };
        let name = "Maximilian Alexander Montgomery-Worthington";
        let text = hot_lead_text(
            &clinic(CLINIC_40),
            Some(name),
            Some(&phone("+19254207621")),
            Some(SERVICE_40),
            &score,
        );
        assert!(fits(&text), "{text}");
        assert!(
            text.contains(
                "Why: A reason of some length #0 (+30); A reason of some length #1 (+29)."
            ),
            "{text}"
        );
        assert!(!text.contains("#2"), "{text}");
        assert!(
            text.contains(name) && text.contains(SERVICE_40) && text.contains(CLINIC_40),
            "{text}"
        );
        assert!(text.contains("+19254207621"));
        // The three would not have fitted.
        let three = text.replace(" (+29).", " (+29); A reason of some length #2 (+28).");
        assert!(!fits(&three), "{three}");
    }

    #[test]
    fn forwarded_texts_are_cut_to_two_segments() {
        let c = clinic("Smile Dental");
        let from = phone("+19254207621");
        assert_eq!(
            inbound_forward_text(&c, &from, " Can I come at 3\ninstead?  "),
            "Smile Dental: text from +19254207621: \"Can I come at 3 instead?\""
        );
        let long = "word ".repeat(400);
        let text = inbound_forward_text(&c, &from, &long);
        assert!(fits(&text));
        assert_eq!(segments(&text), seg(Encoding::Gsm7, 2));
        assert!(text.ends_with("...\""), "{text}");
        assert!(
            text.chars().count() > 290,
            "cut more than needed: {}",
            text.chars().count()
        );
        // An emoji makes it UCS-2: cut to two UCS-2 segments.
        let text = inbound_forward_text(&c, &from, &format!("Thanks 😀 {long}"));
        assert_eq!(segments(&text), seg(Encoding::Ucs2, 2));
        assert!(text.contains("Thanks 😀"));
    }

    #[test]
    fn keywords_are_the_whole_message_in_any_case() {
        use InboundKeyword::*;
        for k in [
            "STOP",
            "stop",
            " Stop ",
            "UNSUBSCRIBE",
            "end",
            "Quit",
            "STOPALL",
            "revoke",
            "OptOut",
            "CANCEL",
            "stop.",
        ] {
            assert_eq!(classify_inbound(k), OptOut, "{k:?}");
        }
        for k in ["START", "yes", "Unstop", "Yes!"] {
            assert_eq!(classify_inbound(k), OptIn, "{k:?}");
        }
        for k in ["HELP", "info", "\tHelp\n"] {
            assert_eq!(classify_inbound(k), Help, "{k:?}");
        }
        for k in [
            "",
            "please stop",
            "stop texting me",
            "STOP ALL",
            "ok",
            "yes please",
            "can I cancel?",
            "helpful",
        ] {
            assert_eq!(classify_inbound(k), Other, "{k:?}");
        }
    }

    proptest! {
        #[test]
        fn any_gsm_names_fit_two_segments(
            c in "[A-Za-z0-9][A-Za-z0-9 &'.,()-]{0,79}",
            s in "[A-Za-z0-9][A-Za-z0-9 &'.,()/+-]{0,79}",
        ) {
            let (c, s) = (clinic(&c), service(&s));
            for (name, to_caller, text) in all_texts(&c, &s) {
                prop_assert!(fits(&text), "{} does not fit: {}", name, text);
                prop_assert_eq!(segments(&text).encoding, Encoding::Gsm7);
                let head: String = plain(c.as_str()).chars().take(CLINIC_FLOOR).collect();
                prop_assert!(text.contains(head.trim_end()), "{}: {}", name, text);
                if to_caller && name != "opt-out" {
                    prop_assert!(text.ends_with(OPT_OUT_LINE));
                }
            }
        }

        #[test]
        fn any_names_stay_under_the_body_cap(c in "\\PC{1,80}", s in "\\PC{1,80}", body in "\\PC{0,2000}") {
            let (Ok(c), Ok(s)) = (ClinicName::parse(&c), ServiceName::parse(&s)) else {
                return Ok(());
            };
            for (name, _, text) in all_texts(&c, &s) {
                prop_assert!(text.chars().count() <= MAX_BODY_CHARS, "{}", name);
            }
            let text = inbound_forward_text(&c, &phone("+19254207621"), &body);
            prop_assert!(text.chars().count() <= MAX_BODY_CHARS);
        }

        #[test]
        fn plain_ascii_segments(n in 0usize..2000) {
            let expected = if n <= 160 { 1 } else { n.div_ceil(153) as u32 };
            prop_assert_eq!(segments(&"x".repeat(n)), seg(Encoding::Gsm7, expected));
        }

        #[test]
        fn bmp_ucs_2_segments(n in 1usize..800) {
            let expected = if n <= 70 { 1 } else { n.div_ceil(67) as u32 };
            prop_assert_eq!(segments(&"中".repeat(n)), seg(Encoding::Ucs2, expected));
        }
    }
}
