//! Reading values out of JSON the way a forgiving person would: a boolean may arrive as `"yes"`, a
//! timestamp as milliseconds or as ISO text, a field may be missing or of the wrong type. Nothing
//! here fails on odd input; it answers `None` instead.

use jiff::Timestamp;
use serde_json::{Map, Value};

/// The value at a path of object keys, if every step is an object holding the key.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = value;
    for key in path {
        v = v.as_object()?.get(*key)?;
    }
    Some(v)
}

/// A non-empty string at a path (numbers are not accepted: ids and phone numbers are text).
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The first of several keys present (not null) in an object.
pub(crate) fn first_key<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .filter_map(|k| map.get(*k))
        .find(|v| !v.is_null())
}

/// Text for one line of a log, a record or a reply: control characters and line separators become
/// spaces, runs of whitespace collapse, and the result is cut to `max_chars`. `None` when nothing
/// is left.
pub(crate) fn clean_line(s: &str, max_chars: usize) -> Option<String> {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut count = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() || is_line_separator(c) {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            if count + 1 >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// Characters that some parsers and terminals treat as the end of a line.
pub(crate) fn is_line_separator(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// A value read as free text: strings as they are, numbers and booleans in their usual form.
pub(crate) fn text(value: &Value, max_chars: usize) -> Option<String> {
    match value {
        Value::String(s) => clean_line(s, max_chars),
        Value::Number(n) => clean_line(&n.to_string(), max_chars),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Strings a model or an analysis uses to mean "nothing here".
pub(crate) fn means_nothing(s: &str) -> bool {
    let s = s.trim();
    s.is_empty()
        || ["null", "none", "n/a", "na", "unknown", "undefined", "-"]
            .iter()
            .any(|w| s.eq_ignore_ascii_case(w))
}

/// A yes/no answer however it was written: `true`, `"yes"`, `"True"`, `1`, `"0"`, `"no"`.
/// Numbers other than 0 read as yes. Anything else is not an answer.
pub(crate) fn boolish(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => {
            let s = s.trim().trim_end_matches(['.', '!']).to_ascii_lowercase();
            match s.as_str() {
                "true" | "yes" | "y" | "1" | "yep" | "yeah" | "sure" | "high" | "medium" => {
                    Some(true)
                }
                "false" | "no" | "n" | "0" | "nope" | "low" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A point in time from a number of milliseconds since the epoch (fractions allowed), or of
/// seconds when the number is too small to be milliseconds of this era, or from ISO 8601 /
/// RFC 3339 text (a numeric string is read as a number).
pub(crate) fn timestamp(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(n) => timestamp_from_number(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(f) = s.parse::<f64>() {
                return timestamp_from_number(f);
            }
            s.parse::<Timestamp>().ok()
        }
        _ => None,
    }
}

fn timestamp_from_number(f: f64) -> Option<Timestamp> {
    if !f.is_finite() {
        return None;
    }
    // 1e11 milliseconds is March 1973; 1e11 seconds is the year 5138. Anything below is seconds.
    let millis = if f.abs() < 1e11 { f * 1000.0 } else { f };
    if millis.abs() > 1e16 {
        return None;
    }
    Timestamp::from_millisecond(millis.round() as i64).ok()
}

/// Free text made safe for Debug output: every digit is replaced, so that no phone number, code
/// or card number read out by a caller can reach a log through it.
pub(crate) struct DigitsHidden<'a>(pub(crate) &'a str);

impl std::fmt::Debug for DigitsHidden<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden: String = self
            .0
            .chars()
            .map(|c| if c.is_numeric() { '#' } else { c })
            .collect();
        std::fmt::Debug::fmt(&hidden, f)
    }
}

/// An optional piece of free text for Debug output, digits hidden.
pub(crate) fn hidden_opt(s: &Option<String>) -> Option<DigitsHidden<'_>> {
    s.as_deref().map(DigitsHidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_line_collapses_and_cuts() {
        assert_eq!(
            clean_line("  a\nb\r\n\u{2028}c\u{85}d  ", 100).as_deref(),
            Some("a b c d")
        );
        assert_eq!(clean_line("abcdef", 3).as_deref(), Some("abc"));
        assert_eq!(clean_line("ab cd", 3).as_deref(), Some("ab"));
        assert_eq!(clean_line(" \n\t ", 10), None);
    }

    #[test]
    fn booleans_in_many_spellings() {
        for yes in [
            json!(true),
            json!("yes"),
            json!("True"),
            json!(1),
            json!("1"),
            json!("Yes."),
        ] {
            assert_eq!(boolish(&yes), Some(true), "{yes}");
        }
        for no in [
            json!(false),
            json!("no"),
            json!("FALSE"),
            json!(0),
            json!(0.0),
            json!("0"),
        ] {
            assert_eq!(boolish(&no), Some(false), "{no}");
        }
        for neither in [json!("maybe"), json!(null), json!([]), json!({})] {
            assert_eq!(boolish(&neither), None, "{neither}");
        }
    }

    #[test]
    fn timestamps_as_millis_seconds_floats_and_text() {
        let t = "2025-11-24T11:53:47.736Z".parse::<Timestamp>().unwrap();
        assert_eq!(timestamp(&json!(1763985227736_i64)), Some(t));
        assert_eq!(timestamp(&json!(1.763985227736e12)), Some(t));
        assert_eq!(timestamp(&json!("1763985227736")), Some(t));
        assert_eq!(timestamp(&json!("2025-11-24T11:53:47.736Z")), Some(t));
        assert_eq!(
            timestamp(&json!(1763985227_i64)),
            Some("2025-11-24T11:53:47Z".parse().unwrap())
        );
        assert_eq!(timestamp(&json!(1e300)), None);
        assert_eq!(timestamp(&json!(-1e300)), None);
        assert_eq!(timestamp(&json!("yesterday")), None);
        assert_eq!(timestamp(&json!(null)), None);
    }

    #[test]
    fn digits_are_hidden_in_debug() {
        assert_eq!(
            format!("{:?}", DigitsHidden("call me on +1 415 555 0123")),
            "\"call me on +# ### ### ####\""
        );
    }
}
