//! How long a text is (GSM-7 or UCS-2 segments), and how outside text is made to fit.

use crate::provider::ProviderName;
use crate::tenant::{ClinicName, ServiceName};

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

/// Septets a character costs in GSM-7 (GSM 03.38: one in the basic set, two in the extension
/// table, which is reached through an escape), `None` when GSM-7 cannot carry it.
pub(super) fn gsm_septets(c: char) -> Option<u32> {
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
pub(super) fn parts(units: &[u32], single: u32, per_part: u32) -> u32 {
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

/// Text from outside made GSM-friendly where a close GSM-7 character exists: typographic quotes,
/// dashes, ellipses and spaces become their plain forms, control characters and runs of
/// whitespace one space. Characters with no plain form are kept (and make the text UCS-2).
pub(super) fn plain(s: &str) -> String {
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
pub(super) struct Field {
    full: Vec<char>,
    /// Characters it is never shortened below.
    pub(super) floor: usize,
    /// Whether a shortened value ends with "...".
    ellipsis: bool,
    /// When it is shortened: fields of an earlier turn reach their floor first.
    turn: Turn,
    pub(super) len: usize,
}

/// When a field is shortened, relative to the others in its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Turn {
    /// Shortened as needed, longest first.
    First,
    /// Shortened only when every [`Turn::First`] field is at its floor.
    Last,
}

impl Field {
    pub(super) fn new(s: &str, floor: usize) -> Self {
        let full: Vec<char> = plain(s).chars().collect();
        let len = full.len();
        Self {
            full,
            floor,
            ellipsis: false,
            turn: Turn::First,
            len,
        }
    }
    /// Shortened only once the other fields are at their floors.
    pub(super) fn shortened_last(mut self) -> Self {
        self.turn = Turn::Last;
        self
    }
    pub(super) fn with_ellipsis(mut self) -> Self {
        self.ellipsis = true;
        self
    }
    /// Caps the starting length (far above what can fit), so shortening stays cheap.
    pub(super) fn capped(mut self, max: usize) -> Self {
        self.len = self.len.min(max.max(self.floor));
        self
    }
    fn shrinkable(&self) -> bool {
        self.len > self.floor
    }
    pub(super) fn render(&self) -> String {
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

/// Builds a text from its fields, shortening one character at a time the longest shrinkable
/// field of the earliest [`Turn`] until the text [`fits`] or nothing can be shortened; never
/// longer than [`MAX_BODY_CHARS`].
pub(super) fn fit(mut fields: Vec<Field>, build: impl Fn(&[String]) -> String) -> String {
    loop {
        let rendered: Vec<String> = fields.iter().map(Field::render).collect();
        let text = build(&rendered);
        if fits(&text) {
            return text;
        }
        match fields
            .iter_mut()
            .filter(|f| f.shrinkable())
            .max_by_key(|f| (std::cmp::Reverse(f.turn), f.len))
        {
            Some(f) => f.len -= 1,
            None => return text.chars().take(MAX_BODY_CHARS).collect(),
        }
    }
}

/// The most characters a text within two segments can have (two GSM-7 parts); no field needs to
/// start longer.
pub(super) const SEGMENTS_MAX_CHARS: usize = 2 * 153;

/// Floors below which names are not shortened.
pub(super) const CLINIC_FLOOR: usize = 20;

pub(super) const SERVICE_FLOOR: usize = 20;

pub(super) const CALLER_FLOOR: usize = 12;

/// The clinic's name says who the text is from: the service and provider names are shortened
/// to their floors before it is (so a clinic name of 40 characters stays whole, link and all).
pub(super) fn clinic_field(clinic: &ClinicName) -> Field {
    Field::new(clinic.as_str(), CLINIC_FLOOR)
        .capped(SEGMENTS_MAX_CHARS)
        .shortened_last()
}

/// The least of a provider's name a text keeps ("Dr. Lee" whole; a long name cut with "…").
pub(super) const PROVIDER_FLOOR: usize = 12;

/// The provider's name in a text, when the clinic has several; absent otherwise.
pub(super) fn provider_field(provider: Option<&ProviderName>) -> Option<Field> {
    provider.map(|p| Field::new(p.as_str(), PROVIDER_FLOOR).capped(SEGMENTS_MAX_CHARS))
}

pub(super) fn service_field(service: &ServiceName) -> Field {
    Field::new(service.as_str(), SERVICE_FLOOR).capped(SEGMENTS_MAX_CHARS)
}
