//! The checks Twilio applies to a send, and the message arithmetic it reports.

/// E.164: `+`, then 2 to 15 digits, the first not zero.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A `From` Twilio would take: an E.164 number, a short code (3 to 8 digits), or an
/// alphanumeric sender id (1 to 11 letters, digits and spaces with at least one letter).
pub fn is_valid_sender(from: &str) -> bool {
    if is_e164(from) {
        return true;
    }
    if (3..=8).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    (1..=11).contains(&from.chars().count())
        && from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && from.chars().any(|c| c.is_ascii_alphabetic())
}

/// `MG` followed by 32 hex digits.
pub fn is_messaging_service_sid(sid: &str) -> bool {
    is_sid(sid, "MG")
}

/// `prefix` followed by 32 hex digits.
pub fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An `http://` or `https://` URL with something after the scheme.
pub fn is_http_url(url: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|scheme| url.len() > scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme))
}

/// Twilio's body limit, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// GSM 03.38 basic character set (the escape character excluded).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: each costs two septets.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// Septets the text takes in GSM-7, or `None` when a character forces UCS-2.
pub fn gsm7_septets(body: &str) -> Option<usize> {
    body.chars().try_fold(0usize, |n, c| {
        if GSM7_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM7_EXTENSION.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// Segments the body is billed as: GSM-7 160 characters (153 per part when split), otherwise
/// UCS-2 70 UTF-16 units (67 per part). One character outside GSM-7 makes the whole text UCS-2.
pub fn num_segments(body: &str) -> u32 {
    let segments = match gsm7_septets(body) {
        Some(septets) if septets <= 160 => 1,
        Some(septets) => septets.div_ceil(153),
        None => {
            let units = body.encode_utf16().count();
            if units <= 70 { 1 } else { units.div_ceil(67) }
        }
    };
    segments.max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert!(is_e164("+15551234567"));
        assert!(is_e164("+447700900123"));
        assert!(!is_e164("15551234567"));
        assert!(!is_e164("+0555123"));
        assert!(!is_e164("+1 555 123 4567"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1"));
        assert!(!is_e164(""));
    }

    #[test]
    fn senders() {
        assert!(is_valid_sender("+15550001111"));
        assert!(is_valid_sender("12345"));
        assert!(is_valid_sender("Smile Dent"));
        assert!(!is_valid_sender("ThisIsTooLongForAnId"));
        assert!(!is_valid_sender("555-1234"));
        assert!(!is_valid_sender(""));
    }

    #[test]
    fn sids_and_urls() {
        assert!(is_messaging_service_sid(&format!("MG{}", "a1".repeat(16))));
        assert!(!is_messaging_service_sid("MG123"));
        assert!(!is_messaging_service_sid(&format!("PN{}", "a1".repeat(16))));
        assert!(is_http_url("http://127.0.0.1:8080/twilio/status"));
        assert!(is_http_url("HTTPS://clinic.example/x"));
        assert!(!is_http_url("ftp://x"));
        assert!(!is_http_url("http://"));
    }

    #[test]
    fn segments() {
        assert_eq!(num_segments(""), 1);
        assert_eq!(num_segments(&"a".repeat(160)), 1);
        assert_eq!(num_segments(&"a".repeat(161)), 2);
        assert_eq!(num_segments(&"a".repeat(306)), 2);
        assert_eq!(num_segments(&"a".repeat(307)), 3);
        // Extension characters take two septets.
        assert_eq!(num_segments(&"€".repeat(80)), 1);
        assert_eq!(num_segments(&"€".repeat(81)), 2);
        // One curly quote turns the whole text into UCS-2.
        assert_eq!(num_segments(&format!("{}’", "a".repeat(69))), 1);
        assert_eq!(num_segments(&format!("{}’", "a".repeat(70))), 2);
        // An emoji is two UTF-16 units.
        assert_eq!(num_segments(&format!("{}😀", "a".repeat(68))), 1);
        assert_eq!(num_segments(&format!("{}😀", "a".repeat(69))), 2);
        assert_eq!(num_segments(&"é".repeat(160)), 1);
    }
}
