//! Whatever arrives, the parsers answer a value or an error, and never panic; whatever they
//! answer, the replies built from it are single lines.

mod common;

use booking_vapi::{
    ArgRules, ServerMessage, ToolCall, ToolName, ToolReplies, ToolResult, parse_server_message,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys Vapi and the model use, so that generated values reach the interesting code paths.
const KEYS: &[&str] = &[
    "message",
    "type",
    "call",
    "id",
    "phoneNumberId",
    "phoneNumber",
    "number",
    "customer",
    "timestamp",
    "toolCallList",
    "toolCalls",
    "toolWithToolCallList",
    "toolCall",
    "function",
    "name",
    "arguments",
    "parameters",
    "endedReason",
    "startedAt",
    "endedAt",
    "durationSeconds",
    "analysis",
    "summary",
    "structuredData",
    "artifact",
    "transcript",
    "status",
    "caller_name",
    "service_interest",
    "wants_callback",
    "buying_intent",
    "service",
    "date",
    "after",
    "start",
    "hold_id",
    "phone",
    "code",
    "appointment_id",
    "new_start",
    "notes",
    "tenant_id",
];

const TYPES: &[&str] = &[
    "assistant-request",
    "tool-calls",
    "end-of-call-report",
    "status-update",
    "hang",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        proptest::sample::select(TYPES).prop_map(Value::from),
        proptest::sample::select(ToolName::ALL.to_vec()).prop_map(|t| Value::from(t.as_str())),
        proptest::sample::select(vec![
            "+14155550123",
            "2026-11-26",
            "2026-11-26T14:00:00-05:00",
            "2pm",
            "123 456",
            "yes",
            "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "{\"hold_id\": 5}",
            "{",
            "\n\r\u{2028}",
        ])
        .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An envelope of a known type, with arbitrary contents.
fn envelope() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(TYPES),
        proptest::collection::btree_map(key(), json_value(), 0..10),
    )
        .prop_map(|(t, fields)| {
            let mut m: Map<String, Value> = fields.into_iter().collect();
            m.insert("type".into(), Value::from(t));
            json!({ "message": Value::Object(m) })
        })
}

/// A `tool-calls` message whose calls come in every documented shape, with arbitrary arguments.
fn tool_calls_envelope() -> impl Strategy<Value = Value> {
    let entry = (
        "[a-zA-Z0-9_]{1,20}",
        prop_oneof![
            3 => proptest::sample::select(ToolName::ALL.to_vec()).prop_map(|t| t.as_str().to_owned()),
            1 => ".{0,20}",
        ],
        proptest::collection::btree_map(key(), json_value(), 0..6),
        0..5u8,
    )
        .prop_map(|(id, name, args, shape)| {
            let args = Value::Object(args.into_iter().collect());
            match shape {
                0 => json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}),
                1 => json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}),
                2 => json!({"id": id, "name": name, "arguments": args}),
                3 => json!({"id": id, "name": name, "parameters": args}),
                _ => json!({"id": id, "name": name, "arguments": args.to_string()}),
            }
        });
    proptest::collection::vec(entry, 0..5)
        .prop_map(|list| json!({"message": {"type": "tool-calls", "toolCallList": list}}))
}

/// Every path (as JSON pointers) inside a value.
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

/// A fixture with some of its values replaced by arbitrary ones.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let bases: Vec<Value> = common::fixtures()
        .into_iter()
        .map(|(_, body)| serde_json::from_str(&body).unwrap())
        .collect();
    (
        proptest::sample::select(bases),
        proptest::collection::vec((any::<proptest::sample::Index>(), json_value()), 1..6),
    )
        .prop_map(|(mut base, edits)| {
            for (index, replacement) in edits {
                let mut paths = Vec::new();
                pointers(&base, String::new(), &mut paths);
                let path = index.get(&paths).clone();
                if let Some(slot) = base.pointer_mut(&path) {
                    *slot = replacement;
                }
            }
            base
        })
}

/// Uses everything a handler would use, and checks what must hold for any input.
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
                    Ok(parsed) => {
                        let _ = format!("{parsed:?}");
                        ToolResult::ok(format!("{parsed:?}"))
                            .field("args", call.arguments())
                            .into()
                    }
                    Err(e) => e.outcome(),
                };
                replies.push(call.id.clone(), &call.name, outcome);
            }
            let body = replies.to_value().to_string();
            assert!(!body.contains(['\n', '\r']), "{body}");
            for r in replies.results() {
                let line = r.outcome.line().as_str();
                assert!(
                    !line
                        .chars()
                        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
                    "{line:?}"
                );
            }
        }
        ServerMessage::EndOfCallReport(r) => {
            let _ = r.to_call_report().map(|c| c.duration_seconds());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        if let Ok(m) = ServerMessage::from_value(&v) {
            exercise(&m);
        }
        let _ = parse_server_message(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_envelopes_never_panic(v in envelope()) {
        let m = ServerMessage::from_value(&v).expect("an envelope is always read");
        exercise(&m);
    }

    #[test]
    fn arbitrary_tool_calls_never_panic(v in tool_calls_envelope()) {
        let m = ServerMessage::from_value(&v).expect("an envelope is always read");
        let ServerMessage::ToolCalls(tc) = &m else {
            panic!("read as {}", m.kind())
        };
        prop_assert_eq!(tc.calls.len() + tc.skipped, v["message"]["toolCallList"].as_array().unwrap().len());
        exercise(&m);
    }

    #[test]
    fn mutated_fixtures_never_panic(v in mutated_fixture()) {
        if let Ok(m) = parse_server_message(v.to_string().as_bytes()) {
            exercise(&m);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = parse_server_message(&bytes) {
            exercise(&m);
        }
    }

    #[test]
    fn arbitrary_tool_arguments_never_panic(
        name in prop_oneof![
            3 => proptest::sample::select(ToolName::ALL.to_vec()).prop_map(|t| t.as_str().to_owned()),
            1 => ".{0,70}",
        ],
        args in json_value(),
    ) {
        match ToolCall::parse(&name, &args, &ArgRules::default()) {
            Ok(call) => {
                let _ = format!("{call:?}");
            }
            Err(e) => {
                let said = e.to_string();
                prop_assert!(!said.is_empty());
                prop_assert!(!said.contains(['\n', '\r']), "{}", said);
                let line = e.outcome().line().as_str().to_owned();
                prop_assert!(!line.contains(['\n', '\r']), "{}", line);
            }
        }
        // The same arguments, sent as a JSON string, read the same way.
        // (Compared with the object re-read from that text: floats need not round-trip exactly.)
        let as_string = Value::String(args.to_string());
        let reread: Value = serde_json::from_str(&args.to_string()).unwrap();
        if args.is_object() {
            prop_assert_eq!(ToolCall::parse(&name, &reread, &ArgRules::default()), ToolCall::parse(&name, &as_string, &ArgRules::default()));
        }
    }

    #[test]
    fn results_are_single_line_whatever_they_carry(message in ".*", key in ".{0,10}", value in json_value()) {
        let line = ToolResult::refused(message).field(&key, &value).to_line();
        let s = line.as_str();
        prop_assert!(!s.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')), "{:?}", s);
        let back: Value = serde_json::from_str(s).unwrap();
        prop_assert_eq!(&back["ok"], &Value::Bool(false));
        if key != "ok" && key != "message" {
            // Compared through the same text, since floats need not survive a round trip exactly.
            let expected: Value = serde_json::from_str(&value.to_string()).unwrap();
            prop_assert_eq!(&back[key.as_str()], &expected);
        }
    }
}
