//! `X-Twilio-Signature`: proof that a webhook request comes from Twilio.
//!
//! Twilio signs every request with the account's **auth token** (an API-key secret cannot
//! validate). The signature is `base64(HMAC-SHA1(auth_token, url + params))` where `params` is,
//! for a form-encoded request, every POST field sorted by name (then value), each written as
//! name immediately followed by value. For a request with a JSON body, Twilio adds
//! `bodySHA256=<hex SHA-256 of the body>` to the URL's query and signs the URL alone; the body is
//! then checked against that hash.
//!
//! Proxies and frameworks disagree about whether a default port belongs in a URL, so the URL is
//! tried as given, and with the default port (443 for https, 80 for http) added or removed.
//! Comparisons are constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The header Twilio puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The query parameter that marks a JSON-body request.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// Why a webhook request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Twilio-Signature` header, or an empty one.
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    /// The auth token is empty: nothing could be validated.
    #[error("no auth token to validate the signature with")]
    NoAuthToken,
    /// The signature does not match the URL and parameters.
    #[error("the X-Twilio-Signature does not match")]
    Mismatch,
    /// The signature matches the URL, but the body is not the one whose hash the URL carries.
    #[error("the body does not match the bodySHA256 of the signed URL")]
    BodyHashMismatch,
}

/// `base64(HMAC-SHA1(auth_token, url + sorted name+value pairs))`, exactly as Twilio computes it.
/// Parameters are sorted by name, then by value (a repeated name keeps every value).
pub fn compute_signature<K, V>(auth_token: &str, url: &str, params: &[(K, V)]) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    BASE64.encode(signature_bytes(auth_token, url, params))
}

fn signature_bytes<K, V>(auth_token: &str, url: &str, params: &[(K, V)]) -> Vec<u8>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.finalize().into_bytes().to_vec()
}

/// Validates a form-encoded webhook (status callbacks, inbound messages): `url` is the full URL
/// Twilio requested (scheme, host, path and query as configured at Twilio), `params` the decoded
/// POST fields, `signature` the header's value.
pub fn validate_form_signature<K, V>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
    signature: &str,
) -> Result<(), SignatureError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let provided = precheck(auth_token, signature)?;
    if url_variants(url)
        .iter()
        .any(|candidate| matches(&signature_bytes(auth_token, candidate, params), &provided))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Validates a JSON-body webhook: the URL carries `bodySHA256`, the signature covers the URL
/// alone, and the SHA-256 of `body` (hex) must equal the URL's `bodySHA256`.
pub fn validate_json_signature(
    auth_token: &str,
    url: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let provided = precheck(auth_token, signature)?;
    let no_params: &[(&str, &str)] = &[];
    if !url_variants(url).iter().any(|candidate| {
        matches(
            &signature_bytes(auth_token, candidate, no_params),
            &provided,
        )
    }) {
        return Err(SignatureError::Mismatch);
    }
    // Without bodySHA256 in the signed URL nothing vouches for the body.
    let Some(expected_hash) = body_sha256_param(url) else {
        return Err(SignatureError::BodyHashMismatch);
    };
    let actual = hex_lower(&Sha256::digest(body));
    if bool::from(
        actual
            .as_bytes()
            .ct_eq(expected_hash.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(SignatureError::BodyHashMismatch)
    }
}

/// Validates any webhook from its raw body, the way Twilio's own libraries do: when the URL's
/// query carries `bodySHA256` the body is treated as opaque (JSON) and checked against it;
/// otherwise the body is decoded as `application/x-www-form-urlencoded` fields.
pub fn validate_request(
    auth_token: &str,
    url: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    if body_sha256_param(url).is_some() {
        validate_json_signature(auth_token, url, body, signature)
    } else {
        validate_form_signature(auth_token, url, &form_params(body), signature)
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into its fields, in order.
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The lowercase hex SHA-256 of a body, as Twilio puts it in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex_lower(&Sha256::digest(body))
}

fn precheck(auth_token: &str, signature: &str) -> Result<Vec<u8>, SignatureError> {
    if auth_token.is_empty() {
        return Err(SignatureError::NoAuthToken);
    }
    let signature = signature.trim();
    if signature.is_empty() {
        return Err(SignatureError::Missing);
    }
    // A header that is not base64 can match nothing; decoding it is not secret-dependent.
    BASE64
        .decode(signature)
        .map_err(|_| SignatureError::Mismatch)
}

fn matches(expected: &[u8], provided: &[u8]) -> bool {
    // ct_eq on slices of different lengths is false without looking at the contents.
    bool::from(expected.ct_eq(provided))
}

fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == BODY_SHA256_PARAM)
        .map(|(_, value)| value.into_owned())
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

/// The URL as given, plus the same URL with its default port added (when it has none) or removed
/// (when it names the scheme's default port). A non-default port is kept as it is.
pub(crate) fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some(other) = toggle_default_port(url) {
        out.push(other);
    }
    out
}

fn toggle_default_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // Credentials in the URL come before the last '@'; the host and port after it.
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let (userinfo, hostport) = authority.split_at(host_start);
    // An IPv6 literal is bracketed; its port, if any, follows the closing bracket.
    let port_colon = match hostport.rfind(']') {
        Some(close) => hostport[close..].find(':').map(|i| close + i),
        None => hostport.rfind(':'),
    };
    let new_hostport = match port_colon {
        Some(colon) => {
            let (host, port) = (&hostport[..colon], &hostport[colon + 1..]);
            if port != default_port {
                return None;
            }
            host.to_owned()
        }
        None => {
            if hostport.is_empty() {
                return None;
            }
            format!("{hostport}:{default_port}")
        }
    };
    Some(format!("{scheme}://{userinfo}{new_hostport}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_added_and_removed() {
        assert_eq!(
            url_variants("https://example.com/a?b=1"),
            vec!["https://example.com/a?b=1", "https://example.com:443/a?b=1"]
        );
        assert_eq!(
            url_variants("https://example.com:443/a"),
            vec!["https://example.com:443/a", "https://example.com/a"]
        );
        assert_eq!(
            url_variants("http://example.com"),
            vec!["http://example.com", "http://example.com:80"]
        );
        assert_eq!(
            url_variants("http://example.com:80?x=1"),
            vec!["http://example.com:80?x=1", "http://example.com?x=1"]
        );
    }

    #[test]
    fn other_ports_and_odd_urls_are_kept_as_given() {
        assert_eq!(
            url_variants("https://example.com:8443/a"),
            vec!["https://example.com:8443/a"]
        );
        // 80 is not the default for https.
        assert_eq!(
            url_variants("https://example.com:80/a"),
            vec!["https://example.com:80/a"]
        );
        assert_eq!(url_variants("not a url"), vec!["not a url"]);
        assert_eq!(
            url_variants("ftp://example.com/a"),
            vec!["ftp://example.com/a"]
        );
    }

    #[test]
    fn credentials_and_ipv6_hosts_keep_their_shape() {
        assert_eq!(
            url_variants("https://user:pa:ss@example.com/a"),
            vec![
                "https://user:pa:ss@example.com/a",
                "https://user:pa:ss@example.com:443/a"
            ]
        );
        assert_eq!(
            url_variants("http://[::1]:80/a"),
            vec!["http://[::1]:80/a", "http://[::1]/a"]
        );
        assert_eq!(
            url_variants("http://[::1]/a"),
            vec!["http://[::1]/a", "http://[::1]:80/a"]
        );
    }

    #[test]
    fn body_hash_is_read_from_the_query_only() {
        assert_eq!(
            body_sha256_param("https://x.test/p?a=1&bodySHA256=ab12").as_deref(),
            Some("ab12")
        );
        assert_eq!(
            body_sha256_param("https://x.test/p?a=1#bodySHA256=ab12"),
            None
        );
        assert_eq!(body_sha256_param("https://x.test/bodySHA256=ab12"), None);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex_lower(&[0x0a, 0xff, 0x10]), "0aff10");
    }
}
