//! Who may call us: Vapi (shared secret, bearer or HMAC over the raw body) and the operator (bearer
//! `ADMIN_TOKEN`). Every comparison is constant-time.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::VapiAuth;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials")]
    Missing,
    #[error("wrong credentials")]
    Wrong,
    #[error("timestamp outside the accepted window")]
    Stale,
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn bearer(value: Option<&str>) -> Option<&str> {
    let v = value?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks a Vapi request. `header` looks a header up by (case-insensitive) name; `now_unix` is the
/// current time in seconds.
pub fn verify_vapi<'a>(
    auth: &VapiAuth,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), AuthError> {
    match auth {
        VapiAuth::SharedSecret(secret) => {
            let presented = header("x-vapi-secret")
                .map(str::trim)
                .or_else(|| bearer(header("authorization")))
                .ok_or(AuthError::Missing)?;
            if ct_eq(presented.as_bytes(), secret.expose().as_bytes()) {
                Ok(())
            } else {
                Err(AuthError::Wrong)
            }
        }
        VapiAuth::Hmac {
            secret,
            signature_header,
            timestamp_header,
            tolerance,
        } => {
            let sig = header(signature_header).ok_or(AuthError::Missing)?.trim();
            let ts = header(timestamp_header).ok_or(AuthError::Missing)?.trim();
            let ts_num: i64 = ts.parse().map_err(|_| AuthError::Wrong)?;
            // Accept milliseconds as well as seconds.
            let ts_secs = if ts_num > 100_000_000_000 {
                ts_num / 1000
            } else {
                ts_num
            };
            if (now_unix - ts_secs).unsigned_abs() > tolerance.as_secs() {
                return Err(AuthError::Stale);
            }
            let expected = hmac_hex(secret.expose().as_bytes(), ts, body);
            let sig = sig
                .strip_prefix("sha256=")
                .unwrap_or(sig)
                .to_ascii_lowercase();
            if ct_eq(sig.as_bytes(), expected.as_bytes()) {
                Ok(())
            } else {
                Err(AuthError::Wrong)
            }
        }
    }
}

/// Hex HMAC-SHA256 of `{timestamp}.{body}`.
pub fn hmac_hex(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the operator's `Authorization: Bearer <ADMIN_TOKEN>`.
pub fn verify_admin(authorization: Option<&str>, token: &str) -> Result<(), AuthError> {
    let presented = bearer(authorization).ok_or(AuthError::Missing)?;
    if ct_eq(presented.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::Wrong)
    }
}

/// The default replay window for HMAC timestamps.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::tenant::Secret;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    #[test]
    fn shared_secret_by_header_or_bearer() {
        let auth = VapiAuth::SharedSecret(Secret::new("s3cret-value"));
        assert_eq!(
            verify_vapi(
                &auth,
                headers(&[("X-Vapi-Secret", "s3cret-value")]),
                b"{}",
                0
            ),
            Ok(())
        );
        assert_eq!(
            verify_vapi(
                &auth,
                headers(&[("Authorization", "Bearer s3cret-value")]),
                b"{}",
                0
            ),
            Ok(())
        );
        assert_eq!(
            verify_vapi(
                &auth,
                headers(&[("X-Vapi-Secret", "s3cret-valuf")]),
                b"{}",
                0
            ),
            Err(AuthError::Wrong)
        );
        assert_eq!(
            verify_vapi(
                &auth,
                headers(&[("Authorization", "Basic s3cret-value")]),
                b"{}",
                0
            ),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify_vapi(&auth, headers(&[]), b"{}", 0),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn hmac_over_raw_body_within_window() {
        let auth = VapiAuth::Hmac {
            secret: Secret::new("hmac-key-123"),
            signature_header: "x-signature".into(),
            timestamp_header: "x-timestamp".into(),
            tolerance: DEFAULT_TOLERANCE,
        };
        let body = br#"{"message":{"type":"status-update"}}"#;
        let now = 1_790_000_000;
        let ts = now.to_string();
        let sig = hmac_hex(b"hmac-key-123", &ts, body);
        let ok = [("x-signature", sig.as_str()), ("x-timestamp", ts.as_str())];
        assert_eq!(verify_vapi(&auth, headers(&ok), body, now), Ok(()));
        // A changed body fails.
        assert_eq!(
            verify_vapi(
                &auth,
                headers(&ok),
                br#"{"message":{"type":"status-updatf"}}"#,
                now
            ),
            Err(AuthError::Wrong)
        );
        // Outside the replay window.
        assert_eq!(
            verify_vapi(&auth, headers(&ok), body, now + 301),
            Err(AuthError::Stale)
        );
        // Missing timestamp.
        assert_eq!(
            verify_vapi(&auth, headers(&[("x-signature", sig.as_str())]), body, now),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn admin_bearer() {
        assert_eq!(
            verify_admin(Some("Bearer tok-1234567890abcd"), "tok-1234567890abcd"),
            Ok(())
        );
        assert_eq!(
            verify_admin(Some("bearer  tok-1234567890abcd "), "tok-1234567890abcd"),
            Ok(())
        );
        assert_eq!(
            verify_admin(Some("Bearer nope"), "tok-1234567890abcd"),
            Err(AuthError::Wrong)
        );
        assert_eq!(
            verify_admin(None, "tok-1234567890abcd"),
            Err(AuthError::Missing)
        );
    }
}
