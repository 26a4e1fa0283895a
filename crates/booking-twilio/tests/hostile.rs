//! Hostile bodies in bulk, Twilio's side: 30,000 generated and mutated webhook forms, signatures
//! and send answers (the Vapi side has its 70,000 in booking-vapi's tests/hostile.rs). Nothing
//! panics; a signature only validates when it was made with the token; whatever is read, its
//! Debug form shows no whole phone number and no message body. About 25 s in a debug build on
//! two cores.

use booking_twilio::classify::{classify_send_response, parse_retry_after};
use booking_twilio::{MessageWebhook, WebhookError, compute_signature, validate_request};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_iters: 256,
        ..Config::default()
    }
}

const FIELDS: &[&str] = &[
    "MessageSid",
    "SmsSid",
    "AccountSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "From",
    "To",
    "Body",
    "NumMedia",
    "ApiVersion",
];

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "SM0123456789abcdef0123456789abcdef",
            "MM0123456789abcdef0123456789abcdef",
            "SM",
            "SMzz",
            "AC0123456789abcdef0123456789abcdef",
            "delivered",
            "undelivered",
            "received",
            "DELIVERED",
            "queued\0",
            "30003",
            "-1",
            "99999999999999999999",
            "+14155550123",
            "+1 (415) 555-0123",
            "4155550123",
            "+",
            "+1415555012345678901",
            "STOP",
            " stop ",
            "START",
            "HELP",
            "",
        ])
        .prop_map(str::to_owned),
        2 => ".{0,60}",
        1 => (1usize..20_000, proptest::sample::select(vec!["a", "é", "😀", "\u{202e}", "%"]))
            .prop_map(|(n, s)| s.repeat(n)),
    ]
}

fn form() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                6 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
                1 => ".{0,12}",
            ],
            field_value(),
        ),
        0..14,
    )
}

fn encode(pairs: &[(String, String)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

/// Byte-level damage: flips, cuts, stray `%`, `&`, `=` and invalid UTF-8.
fn damage(mut body: Vec<u8>, edits: &[(proptest::sample::Index, u8, u8)]) -> Vec<u8> {
    const BYTES: &[u8] = b"%&=+\xff\xc3\x00\n";
    for (i, what, b) in edits {
        if body.is_empty() {
            body.push(b'%');
        }
        let p = i.index(body.len());
        match what % 4 {
            0 => body[p] = *b,
            1 => body.insert(p, BYTES[*b as usize % BYTES.len()]),
            2 => body.truncate(p),
            _ => {
                body.remove(p);
            }
        }
    }
    body
}

/// What must hold for any webhook that was read: its Debug form (what a log line would carry)
/// shows neither the text's body nor a whole phone number, unless another field holds the same.
fn exercise(hook: &MessageWebhook) {
    let dbg = format!("{hook:?}");
    let mut without = hook.clone();
    without.body = None;
    without.from = None;
    without.to = None;
    let rest = format!("{without:?}");
    if let Some(body) = &hook.body
        && body.chars().count() >= 12
        && !rest.contains(body.as_str())
    {
        assert!(!dbg.contains(body.as_str()), "the body leaked into Debug");
    }
    for n in [&hook.from, &hook.to].into_iter().flatten() {
        if !rest.contains(n.as_str()) {
            assert!(
                !dbg.contains(n.as_str()),
                "a whole number leaked into Debug: {dbg}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config(15_000))]
    /// Status callbacks and inbound texts: generated forms, then damaged bytes.
    #[test]
    fn webhook_forms_never_panic(
        pairs in form(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), any::<u8>()), 0..6),
    ) {
        let clean = encode(&pairs);
        if let Ok(hook) = MessageWebhook::from_form(&clean) {
            exercise(&hook);
        }
        let damaged = damage(clean, &edits);
        if let Ok(hook) = MessageWebhook::from_form(&damaged) {
            exercise(&hook);
        }
    }
}

proptest! {
    #![proptest_config(config(10_000))]
    /// Signatures: a forged or damaged one never validates, the real one always does, and
    /// nothing panics whatever the URL, the body or the header hold.
    #[test]
    fn signatures_validate_only_when_made_with_the_token(
        token in "[A-Za-z0-9]{1,40}",
        url in prop_oneof![
            Just("https://api.example.com/twilio/status".to_owned()),
            Just("https://api.example.com:443/twilio/inbound?x=1".to_owned()),
            Just("https://api.example.com/hook?bodySHA256=".to_owned()),
            ".{0,80}",
        ],
        pairs in form(),
        forged in prop_oneof![".{0,40}", "[A-Za-z0-9+/]{27}=", Just(String::new())],
        flip in any::<proptest::sample::Index>(),
    ) {
        let body = encode(&pairs);
        let _ = validate_request(&token, &url, &body, &forged);
        let _ = validate_request("", &url, &body, &forged);
        if url.contains("bodySHA256") {
            return Ok(());
        }
        let params = booking_twilio::signature::form_params(&body);
        let real = compute_signature(&token, &url, &params);
        prop_assert!(validate_request(&token, &url, &body, &real).is_ok());
        prop_assert!(forged == real || validate_request(&token, &url, &body, &forged).is_err());
        // Any change to the signature, or another token, is refused.
        let mut bad = real.clone().into_bytes();
        let p = flip.index(bad.len());
        bad[p] = if bad[p] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        prop_assert!(validate_request(&token, &url, &body, &bad).is_err());
        let other_token = format!("{token}x");
        prop_assert!(validate_request(&other_token, &url, &body, &real).is_err());
    }
}

proptest! {
    #![proptest_config(config(5_000))]
    /// Twilio's answers to a send, whatever they hold: classified, never a panic.
    #[test]
    fn send_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(201), Just(400), Just(401), Just(429), Just(500), Just(503), 0u16..1000],
        retry_after in proptest::option::of(prop_oneof![
            "[0-9]{0,25}".boxed(),
            Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()).boxed(),
            ".{0,40}".boxed(),
        ]),
        body in prop_oneof![
            Just(br#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#.to_vec()),
            Just(br#"{"code":20429,"message":"Too Many Requests"}"#.to_vec()),
            Just(br#"{"code":21211,"message":"The 'To' number +14155550123 is not a valid phone number."}"#.to_vec()),
            Just(br#"{"sid":"SM","status":7}"#.to_vec()),
            proptest::collection::vec(any::<u8>(), 0..300),
            ".{0,200}".prop_map(String::into_bytes),
        ],
    ) {
        let now = jiff::Timestamp::now();
        let outcome = classify_send_response(status, retry_after.as_deref(), &body, now);
        let text = format!("{outcome:?}");
        prop_assert!(!text.contains("+14155550123"), "a number leaked: {}", text);
        if let Some(r) = &retry_after {
            let _ = parse_retry_after(r, now);
        }
    }
}

/// The account sid is looked up before the signature is checked: one that no account can have
/// is refused as invalid input, not carried to the database (where a NUL is an error of ours).
#[test]
fn account_sids_no_account_can_have_are_refused() {
    let long = "A".repeat(65);
    for sid in [
        "AC\0abc",
        "AC abc",
        "ACé",
        "AC-1",
        "AC\u{202e}1",
        long.as_str(),
    ] {
        let body = encode(&[
            (
                "MessageSid".to_owned(),
                "SM0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("AccountSid".to_owned(), sid.to_owned()),
        ]);
        assert!(
            matches!(
                MessageWebhook::from_form(&body),
                Err(WebhookError::Invalid {
                    field: "AccountSid",
                    ..
                })
            ),
            "{sid:?}"
        );
    }
    let ok = encode(&[
        (
            "MessageSid".to_owned(),
            "SM0123456789abcdef0123456789abcdef".to_owned(),
        ),
        (
            "AccountSid".to_owned(),
            " AC0123456789abcdef0123456789abcdef ".to_owned(),
        ),
    ]);
    assert_eq!(
        MessageWebhook::from_form(&ok).unwrap().account_sid,
        "AC0123456789abcdef0123456789abcdef"
    );
}
