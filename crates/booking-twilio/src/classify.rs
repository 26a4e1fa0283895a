//! What an answer from Twilio means for retrying (DESIGN.md §4). Pure functions, so that every
//! branch is tested without a network.

use booking_core::ids::MessageSid;
use booking_core::outbox::MessageStatus;
use booking_core::ports::SendOutcome;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// Twilio's code for "too many requests".
pub const CODE_TOO_MANY_REQUESTS: u32 = 20429;
/// Twilio's code for "authenticate": the credentials are wrong. The owner must fix them.
pub const CODE_AUTHENTICATE: u32 = 20003;
/// Twilio's code for a body over 1,600 characters (we refuse those before asking).
pub const CODE_BODY_TOO_LONG: u32 = 21617;
/// Twilio's code for a missing body (we refuse those before asking).
pub const CODE_BODY_MISSING: u32 = 21602;

/// Twilio's error body: `{"code","message","more_info","status"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TwilioError {
    pub code: Option<u32>,
    pub message: Option<String>,
}

/// The parts of a created message we read.
#[derive(Debug, Deserialize)]
struct CreatedMessage {
    sid: Option<String>,
    status: Option<String>,
}

/// Reads Twilio's JSON error body; anything else (HTML from a proxy, an empty body) gives `None`.
pub(crate) fn parse_error_body(body: &[u8]) -> Option<TwilioError> {
    let e: TwilioError = serde_json::from_slice(body).ok()?;
    (e.code.is_some() || e.message.is_some()).then_some(e)
}

/// Classifies Twilio's answer to a send. `retry_after` is the raw `Retry-After` header.
pub fn classify_send_response(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> SendOutcome {
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<CreatedMessage>(body) {
            Ok(CreatedMessage {
                sid: Some(sid),
                status: st,
            }) => match MessageSid::parse(&sid) {
                Ok(sid) => SendOutcome::Accepted {
                    sid,
                    status: st
                        .as_deref()
                        .and_then(MessageStatus::from_twilio)
                        .unwrap_or(MessageStatus::Queued),
                },
                Err(_) => SendOutcome::Ambiguous {
                    message: format!("Twilio answered HTTP {status} with a sid that is not valid"),
                },
            },
            // The message was most likely created; only reconciliation can tell its sid.
            _ => SendOutcome::Ambiguous {
                message: format!("Twilio answered HTTP {status} without a readable message sid"),
            },
        };
    }

    let error = parse_error_body(body);
    let code = error.as_ref().and_then(|e| e.code);
    let described = describe(status, error.as_ref(), body);

    if status == 429 || code == Some(CODE_TOO_MANY_REQUESTS) {
        return SendOutcome::RetrySafe {
            code: code.or(Some(CODE_TOO_MANY_REQUESTS)),
            message: described,
            retry_after: retry_after.and_then(|h| parse_retry_after(h, now)),
        };
    }
    if status >= 500 {
        return SendOutcome::Ambiguous { message: described };
    }
    // 4xx (20003 credentials, 21211 bad To, 21408 region, 21610 opted out, 21614 not mobile, …),
    // and anything else that is neither success nor a server error (a redirect means the base URL
    // is wrong): asking again gets the same answer.
    SendOutcome::Permanent {
        code,
        message: described,
    }
}

/// A one-line description of a failed answer, with Twilio's code and message when it sent them.
/// Twilio's messages can quote the recipient's number; any number in them is masked.
pub(crate) fn describe(status: u16, error: Option<&TwilioError>, body: &[u8]) -> String {
    match error {
        Some(e) => {
            let message = e.message.as_deref().map(mask_numbers).unwrap_or_default();
            match e.code {
                Some(code) => format!("Twilio error {code} (HTTP {status}): {message}"),
                None => format!("Twilio answered HTTP {status}: {message}"),
            }
        }
        None if body.iter().all(u8::is_ascii_whitespace) => {
            format!("Twilio answered HTTP {status} with an empty body")
        }
        None => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(120)
                .collect();
            format!(
                "Twilio answered HTTP {status} with a body that is not Twilio's JSON: {}",
                mask_numbers(&snippet)
            )
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<SignedDuration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(SignedDuration::from_secs(i64::try_from(secs).ok()?));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(now);
    Some(if wait.is_negative() {
        SignedDuration::ZERO
    } else {
        wait
    })
}

/// Masks every run of 7 or more digits (with an optional leading `+`) but its last four.
pub(crate) fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if digits >= 7 {
            let keep = 4;
            let mut seen = 0;
            for c in run.chars() {
                if c.is_ascii_digit() {
                    seen += 1;
                    out.push(if seen > digits - keep { c } else { '*' });
                } else {
                    out.push(c);
                }
            }
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-03-02T15:00:00Z".parse().unwrap()
    }

    fn err(code: u32, status: u16, message: &str) -> Vec<u8> {
        serde_json::json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn created_is_accepted_with_its_status() {
        let body = br#"{"sid":"SM1234","status":"queued","error_code":null}"#;
        assert_eq!(
            classify_send_response(201, None, body, now()),
            SendOutcome::Accepted {
                sid: MessageSid::parse("SM1234").unwrap(),
                status: MessageStatus::Queued
            }
        );
        let body = br#"{"sid":"MM9","status":"accepted"}"#;
        assert!(matches!(
            classify_send_response(201, None, body, now()),
            SendOutcome::Accepted {
                status: MessageStatus::Queued,
                ..
            }
        ));
    }

    #[test]
    fn created_without_a_sid_is_ambiguous() {
        for body in [&b"not json"[..], br#"{"status":"queued"}"#, b""] {
            assert!(matches!(
                classify_send_response(201, None, body, now()),
                SendOutcome::Ambiguous { .. }
            ));
        }
    }

    #[test]
    fn too_many_requests_is_retry_safe_with_retry_after() {
        let out =
            classify_send_response(429, Some("7"), &err(20429, 429, "Too Many Requests"), now());
        assert_eq!(
            out,
            SendOutcome::RetrySafe {
                code: Some(20429),
                message: "Twilio error 20429 (HTTP 429): Too Many Requests".into(),
                retry_after: Some(SignedDuration::from_secs(7)),
            }
        );
        // An HTTP date.
        let out = classify_send_response(429, Some("Mon, 02 Mar 2026 15:00:30 GMT"), b"", now());
        assert!(
            matches!(out, SendOutcome::RetrySafe { retry_after: Some(d), .. } if d == SignedDuration::from_secs(30))
        );
        // 20429 on another status is still a rate limit.
        let out = classify_send_response(400, None, &err(20429, 400, "Too Many Requests"), now());
        assert!(matches!(
            out,
            SendOutcome::RetrySafe {
                code: Some(20429),
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn permanent_errors_keep_twilio_code_and_message() {
        for (code, msg) in [
            (20003, "Authenticate"),
            (
                21408,
                "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
            ),
            (21610, "Attempt to send to unsubscribed recipient"),
            (21614, "'To' number is not a valid mobile number"),
            (
                21606,
                "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
            ),
        ] {
            let status = if code == 20003 { 401 } else { 400 };
            let out = classify_send_response(status, None, &err(code, status, msg), now());
            assert_eq!(
                out,
                SendOutcome::Permanent {
                    code: Some(code),
                    message: format!("Twilio error {code} (HTTP {status}): {msg}")
                }
            );
        }
    }

    #[test]
    fn numbers_in_twilio_messages_are_masked() {
        let out = classify_send_response(
            400,
            None,
            &err(
                21211,
                400,
                "The 'To' number +15005550001 is not a valid phone number.",
            ),
            now(),
        );
        assert_eq!(
            out,
            SendOutcome::Permanent {
                code: Some(21211),
                message: "Twilio error 21211 (HTTP 400): The 'To' number +*******0001 is not a valid phone number.".into()
            }
        );
    }

    #[test]
    fn server_errors_are_ambiguous() {
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                classify_send_response(status, None, b"<html>Bad Gateway</html>", now()),
                SendOutcome::Ambiguous { .. }
            ));
        }
        let out =
            classify_send_response(500, None, &err(20500, 500, "Internal Server Error"), now());
        assert_eq!(
            out,
            SendOutcome::Ambiguous {
                message: "Twilio error 20500 (HTTP 500): Internal Server Error".into()
            }
        );
    }

    #[test]
    fn non_json_error_bodies_are_described() {
        let out = classify_send_response(
            400,
            None,
            b"<html>\n  <body>Bad   Request</body>\n</html>",
            now(),
        );
        assert_eq!(
            out,
            SendOutcome::Permanent {
                code: None,
                message: "Twilio answered HTTP 400 with a body that is not Twilio's JSON: <html> <body>Bad Request</body> </html>"
                    .into()
            }
        );
        let out = classify_send_response(404, None, b"", now());
        assert_eq!(
            out,
            SendOutcome::Permanent {
                code: None,
                message: "Twilio answered HTTP 404 with an empty body".into()
            }
        );
        // JSON, but not Twilio's error shape.
        assert!(matches!(
            classify_send_response(400, None, b"[1,2]", now()),
            SendOutcome::Permanent { code: None, .. }
        ));
    }

    #[test]
    fn redirects_are_permanent() {
        assert!(matches!(
            classify_send_response(301, None, b"", now()),
            SendOutcome::Permanent { code: None, .. }
        ));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(SignedDuration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Mon, 02 Mar 2026 14:00:00 GMT", now()),
            Some(SignedDuration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-5", now()), None);
    }

    #[test]
    fn masking_keeps_short_numbers_and_last_four() {
        assert_eq!(
            mask_numbers("code 21211 for +15005550001."),
            "code 21211 for +*******0001."
        );
        assert_eq!(mask_numbers("5005550001"), "******0001");
        assert_eq!(mask_numbers("HTTP 400"), "HTTP 400");
        assert_eq!(mask_numbers(""), "");
    }
}
