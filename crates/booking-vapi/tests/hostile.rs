//! Hostile bodies in bulk: 70,000 generated and mutated Vapi messages and tool arguments (the
//! Twilio side has its 30,000 in booking-twilio's tests/hostile.rs). Whatever arrives, parsing
//! answers a value or an error and never panics; refusals are one line a model can read.
//!
//! `robustness.rs` explores the shapes with few cases per run; this file is the volume: raw
//! fixture bytes mutated the way a fuzzer mutates them, fixtures with hostile values planted
//! anywhere, and every tool's arguments in malformed shapes (phone numbers, dates, codes, ids).
//! About 12 s in a debug build on two cores.

mod common;

use booking_vapi::{
    ArgRules, ServerMessage, ToolCall, ToolName, ToolReplies, parse_server_message,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Bodies are large: shrinking a failure would take long, the seed is enough.
        max_shrink_iters: 256,
        ..Config::default()
    }
}

fn fixture_bytes() -> Vec<Vec<u8>> {
    common::fixtures()
        .into_iter()
        .map(|(_, body)| body.into_bytes())
        .collect()
}

fn fixture_values() -> Vec<Value> {
    common::fixtures()
        .into_iter()
        .map(|(_, body)| serde_json::from_str(&body).expect("fixture is JSON"))
        .collect()
}

/// Byte-level edits, as a mutation fuzzer makes them.
#[derive(Clone, Debug)]
enum Edit {
    Flip(proptest::sample::Index, u8),
    Insert(proptest::sample::Index, Vec<u8>),
    Delete(proptest::sample::Index, usize),
    Truncate(proptest::sample::Index),
    Duplicate(proptest::sample::Index, usize),
    Splice(proptest::sample::Index, Vec<u8>),
}

/// Byte strings that tend to break parsers.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b",",
    b":",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\"\\ud800\"",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\0",
    b"\n",
    b"\"toolCallList\"",
    b"\"arguments\"",
    b"\"function\"",
    b"\"type\":\"tool-calls\"",
    b"9999999999999999999999",
    b"\"+1 (415) 555-0123\"",
    b"\"2026-03-08T02:30\"",
    b"\"\\u2028\"",
];

fn edit() -> impl Strategy<Value = Edit> {
    let idx = any::<proptest::sample::Index>();
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..16),
        proptest::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
    ];
    prop_oneof![
        (idx.clone(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (idx.clone(), bytes.clone()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (idx.clone(), 1..64usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        idx.clone().prop_map(Edit::Truncate),
        (idx.clone(), 1..128usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (idx, bytes).prop_map(|(i, b)| Edit::Splice(i, b)),
    ]
}

fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if body.is_empty() {
            body.push(b'{');
        }
        let at = |i: &proptest::sample::Index, len: usize| i.index(len);
        match e {
            Edit::Flip(i, b) => {
                let p = at(i, body.len());
                body[p] = *b;
            }
            Edit::Insert(i, b) => {
                let p = at(i, body.len() + 1);
                body.splice(p..p, b.iter().copied());
            }
            Edit::Delete(i, n) => {
                let p = at(i, body.len());
                let end = (p + n).min(body.len());
                body.drain(p..end);
            }
            Edit::Truncate(i) => {
                let p = at(i, body.len());
                body.truncate(p);
            }
            Edit::Duplicate(i, n) => {
                let p = at(i, body.len());
                let end = (p + n).min(body.len());
                let chunk = body[p..end].to_vec();
                body.splice(p..p, chunk);
            }
            Edit::Splice(i, b) => {
                let p = at(i, body.len());
                let end = (p + b.len()).min(body.len());
                body.splice(p..end, b.iter().copied());
            }
        }
    }
    body
}

/// Values a caller, a model or an attacker puts where a field is expected.
fn hostile_value() -> impl Strategy<Value = Value> {
    let phone = proptest::sample::select(vec![
        "+14155550123",
        "+1 (415) 555-0123",
        "415-555-0123",
        "4155550123",
        "+",
        "++14155550123",
        "+1415555012345678901",
        "+0000000000",
        "+1",
        "tel:+14155550123",
        "+1415555O123",
        "+١٤١٥٥٥٥٠١٢٣",
        "+14155550123\n",
        "+14155550123; DROP TABLE bookings",
        "0014155550123",
        "",
    ])
    .prop_map(Value::from);
    let date = proptest::sample::select(vec![
        "2026-03-08T02:30",
        "2026-03-08T02:30:00-05:00",
        "2026-11-01T01:30",
        "1999-01-01T10:00:00Z",
        "9999-12-31T23:59:59Z",
        "-000001-01-01T00:00:00Z",
        "2026-02-30",
        "2026-13-01",
        "2026-02-29T10:00",
        "24:00",
        "25:61",
        "tomorrow at 2",
        "2026-11-26T14:00:00+25:00",
        "2026-11-26T14:00:00.999999999999Z",
        "1e10",
        "",
    ])
    .prop_map(Value::from);
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
    ];
    prop_oneof![
        3 => phone,
        3 => date,
        2 => number,
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => ".{0,64}".prop_map(Value::String),
        1 => "[0-9 -]{0,20}".prop_map(Value::String),
        // Huge strings.
        1 => (1usize..50_000, proptest::sample::select(vec!["a", "é", "😀", "\u{202e}", "\0", "9"]))
            .prop_map(|(n, s)| Value::String(s.repeat(n))),
        // Deep nesting: arrays or objects inside each other.
        1 => (1usize..3000, any::<bool>()).prop_map(|(depth, arrays)| {
            let text = if arrays {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            };
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }),
        1 => proptest::collection::vec(".{0,8}".prop_map(Value::String), 0..20).prop_map(Value::Array),
        1 => proptest::collection::btree_map(".{0,8}", ".{0,8}".prop_map(Value::String), 0..10)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

/// Every path (JSON pointer) inside a value.
fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{here}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Argument names of every tool, and some no tool has.
fn arg_name() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = vec![
        "service",
        "date",
        "after",
        "start",
        "caller_name",
        "hold_id",
        "phone",
        "code",
        "appointment_id",
        "new_start",
        "service_interest",
        "wants_callback",
        "notes",
        "tenant_id",
        "clinic_id",
        "phoneNumberId",
        "__proto__",
        "",
    ];
    prop_oneof![
        8 => proptest::sample::select(names).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn tool_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(ToolName::ALL.to_vec()).prop_map(|t| t.as_str().to_owned()),
        1 => ".{0,70}",
        1 => proptest::sample::select(vec!["CHECK_AVAILABILITY", "reserve_slot ", "verify-otp", "transfer_call"])
            .prop_map(str::to_owned),
    ]
}

/// What a handler does with a message, and what must hold whatever it was.
fn exercise(m: &ServerMessage) {
    let _ = format!("{m:?} {}", m.kind());
    let c = m.context();
    let _ = (
        &c.call_id,
        &c.phone_number_id,
        &c.called,
        &c.caller,
        &c.timestamp,
    );
    match m {
        ServerMessage::ToolCalls(tc) => {
            let mut replies = ToolReplies::new();
            for call in &tc.calls {
                let outcome = match call.parse(&ArgRules::default()) {
                    Ok(parsed) => booking_vapi::ToolResult::ok(format!("{parsed:?}")).into(),
                    Err(e) => {
                        let said = e.to_string();
                        assert!(!said.contains(['\n', '\r']), "{said:?}");
                        e.outcome()
                    }
                };
                replies.push(call.id.clone(), &call.name, outcome);
            }
            let body = replies.to_value().to_string();
            assert!(!body.contains(['\n', '\r']), "{body}");
        }
        ServerMessage::EndOfCallReport(r) => {
            let _ = r.to_call_report().map(|c| c.duration_seconds());
        }
        _ => {}
    }
}

fn check_args(name: &str, args: &Value) {
    match ToolCall::parse(name, args, &ArgRules::default()) {
        Ok(call) => {
            let _ = format!("{call:?}");
        }
        Err(e) => {
            let said = e.to_string();
            assert!(!said.is_empty());
            assert!(!said.contains(['\n', '\r']), "{said:?}");
            let line = e.outcome().line().as_str().to_owned();
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            assert!(
                serde_json::from_str::<Value>(&line).is_ok() || !line.is_empty(),
                "{line:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config(30_000))]
    /// Raw fixture bytes with fuzzer-style edits: invalid UTF-8, broken JSON, cut bodies.
    #[test]
    fn mutated_fixture_bytes_never_panic(
        base in proptest::sample::select(fixture_bytes()),
        edits in proptest::collection::vec(edit(), 1..8),
    ) {
        let body = apply(base, &edits);
        if let Ok(m) = parse_server_message(&body) {
            exercise(&m);
        }
    }
}

proptest! {
    #![proptest_config(config(20_000))]
    /// Well-formed fixtures with hostile values planted at random places.
    #[test]
    fn fixtures_with_hostile_values_never_panic(
        base in proptest::sample::select(fixture_values()),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), hostile_value()), 1..5),
    ) {
        let mut v = base;
        for (index, replacement) in edits {
            let mut paths = Vec::new();
            pointers(&v, String::new(), &mut paths);
            let path = index.get(&paths).clone();
            if let Some(slot) = v.pointer_mut(&path) {
                *slot = replacement;
            }
        }
        if let Ok(m) = ServerMessage::from_value(&v) {
            exercise(&m);
        }
        if let Ok(m) = parse_server_message(v.to_string().as_bytes()) {
            exercise(&m);
        }
    }
}

proptest! {
    #![proptest_config(config(20_000))]
    /// Every tool with arguments in malformed shapes: as an object, as a JSON string, as a
    /// string that is not JSON, as something that is not an object at all.
    #[test]
    fn hostile_tool_arguments_never_panic(
        name in tool_name(),
        fields in proptest::collection::btree_map(arg_name(), hostile_value(), 0..6),
        shape in 0..4u8,
        junk in ".{0,40}",
    ) {
        let object = Value::Object(fields.into_iter().collect::<Map<String, Value>>());
        let args = match shape {
            0 => object.clone(),
            1 => Value::String(object.to_string()),
            2 => Value::String(junk),
            _ => json!([object]),
        };
        check_args(&name, &args);
        // And through a whole tool-calls message, in each of Vapi's shapes.
        let body = json!({"message": {"type": "tool-calls", "toolCallList": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}},
            {"id": "call_2", "name": name, "parameters": object},
        ]}});
        // (Values nested deeper than the JSON reader's limit make the body itself unreadable:
        // an error, which is the answer.)
        if let Ok(m) = parse_server_message(body.to_string().as_bytes()) {
            exercise(&m);
        }
    }
}
