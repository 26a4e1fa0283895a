//! `X-Twilio-Signature` against Twilio's published vectors (the values in Twilio's own helper
//! libraries' tests: token `12345`, URL `https://mycompany.com/myapp.php?foo=1&bar=2`).

use booking_twilio::signature::{body_sha256_hex, form_params};
use booking_twilio::{
    SignatureError, compute_signature, validate_form_signature, validate_json_signature,
    validate_request,
};

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;
const JSON_BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

fn params() -> Vec<(&'static str, &'static str)> {
    // Deliberately not in sorted order.
    vec![
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("Caller", "+14158675309"),
    ]
}

fn form_body(params: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

#[test]
fn computes_twilios_published_signature() {
    assert_eq!(compute_signature(TOKEN, URL, &params()), SIGNATURE);
}

#[test]
fn validates_twilios_published_vector() {
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), SIGNATURE),
        Ok(())
    );
    // From the raw form body, as the webhook receives it.
    assert_eq!(
        validate_request(TOKEN, URL, &form_body(&params()), SIGNATURE),
        Ok(())
    );
    assert_eq!(form_params(&form_body(&params())).len(), 5);
}

#[test]
fn the_default_port_may_be_present_on_either_side() {
    // Twilio signed the URL without a port; we see it with :443.
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        validate_form_signature(TOKEN, with_port, &params(), SIGNATURE),
        Ok(())
    );
    // Twilio signed it with :443 ("kvajT1…", published); we see it without.
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w="),
        Ok(())
    );
    assert_eq!(
        compute_signature(TOKEN, with_port, &params()),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    // Plain http: Twilio signed it with :80 ("0ZXoZL…", published).
    let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        validate_form_signature(TOKEN, http, &params(), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        Ok(())
    );
    // A non-default port is part of the URL as given ("Zmvh+3…", published).
    let http_1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        validate_form_signature(TOKEN, http_1234, &params(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        Ok(())
    );
    // ...and is not dropped: the signature of the URL without it does not pass for it.
    assert_eq!(
        validate_form_signature(
            TOKEN,
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params(),
            SIGNATURE
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn repeated_parameters_are_sorted_by_value() {
    // Published: "IK+Dwps…" for Sid=CA123, SidAccount=AC123, Digits=5678, Digits=1234.
    let params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        compute_signature(TOKEN, URL, &params),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    assert_eq!(
        validate_request(
            TOKEN,
            URL,
            &form_body(&params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ),
        Ok(())
    );
}

#[test]
fn a_wrong_signature_is_refused() {
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B9="),
        Err(SignatureError::Mismatch)
    );
    // Signed with another token.
    let other = compute_signature("54321", URL, &params());
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), &other),
        Err(SignatureError::Mismatch)
    );
    // Not base64 at all.
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), "%%%"),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        validate_form_signature(TOKEN, URL, &params(), " "),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        validate_form_signature("", URL, &params(), SIGNATURE),
        Err(SignatureError::NoAuthToken)
    );
}

#[test]
fn a_tampered_request_is_refused() {
    let mut tampered = params();
    tampered[2] = ("Digits", "9999");
    assert_eq!(
        validate_form_signature(TOKEN, URL, &tampered, SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    // An added parameter.
    let mut added = params();
    added.push(("MessageStatus", "delivered"));
    assert_eq!(
        validate_form_signature(TOKEN, URL, &added, SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    // Another URL (path or query).
    assert_eq!(
        validate_form_signature(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params(),
            SIGNATURE
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        validate_form_signature(
            TOKEN,
            "https://mycompany.com/other.php?foo=1&bar=2",
            &params(),
            SIGNATURE
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn json_body_variant_matches_twilios_published_vector() {
    assert_eq!(body_sha256_hex(JSON_BODY.as_bytes()), JSON_BODY_HASH);
    let url = format!("{URL}&bodySHA256={JSON_BODY_HASH}");
    assert_eq!(
        compute_signature::<&str, &str>(TOKEN, &url, &[]),
        JSON_SIGNATURE
    );
    assert_eq!(
        validate_json_signature(TOKEN, &url, JSON_BODY.as_bytes(), JSON_SIGNATURE),
        Ok(())
    );
    assert_eq!(
        validate_request(TOKEN, &url, JSON_BODY.as_bytes(), JSON_SIGNATURE),
        Ok(())
    );
    // With the default port on our side.
    let with_port =
        format!("https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256={JSON_BODY_HASH}");
    assert_eq!(
        validate_request(TOKEN, &with_port, JSON_BODY.as_bytes(), JSON_SIGNATURE),
        Ok(())
    );
}

#[test]
fn json_body_variant_refuses_tampering() {
    let url = format!("{URL}&bodySHA256={JSON_BODY_HASH}");
    // Another body under the signed URL.
    let tampered = JSON_BODY.replace("value", "valuf");
    assert_eq!(
        validate_request(TOKEN, &url, tampered.as_bytes(), JSON_SIGNATURE),
        Err(SignatureError::BodyHashMismatch)
    );
    // The hash in the URL changed to fit another body: the signature no longer matches.
    let forged_url = format!("{URL}&bodySHA256={}", body_sha256_hex(tampered.as_bytes()));
    assert_eq!(
        validate_request(TOKEN, &forged_url, tampered.as_bytes(), JSON_SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    // A wrong signature.
    assert_eq!(
        validate_request(TOKEN, &url, JSON_BODY.as_bytes(), SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    // JSON validation of a URL that carries no bodySHA256 vouches for no body.
    assert_eq!(
        validate_json_signature(
            TOKEN,
            URL,
            JSON_BODY.as_bytes(),
            &compute_signature::<&str, &str>(TOKEN, URL, &[])
        ),
        Err(SignatureError::BodyHashMismatch)
    );
}
