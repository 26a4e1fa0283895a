//! Every shape of Vapi request in tests/fixtures/vapi (copied from the shared fixtures) is read,
//! with the fields we rely on.

mod common;

use booking_core::BookingId;
use booking_vapi::{
    ArgRules, ServerMessage, ToolCall, ToolName, ToolOutcome, ToolReplies, ToolResult, VapiError,
    parse_server_message,
};
use common::{APPOINTMENT_ID, HOLD_ID, fixture, fixtures};
use jiff::Timestamp;

const CALL_ID: &str = "7f3c2a10-5b1e-4c55-9a0e-2d4f1b6e8c01";
const PHONE_NUMBER_ID: &str = "4a5a04dc-dcbe-45b1-8f64-fd32a253d136";

fn parse(name: &str) -> ServerMessage {
    parse_server_message(fixture(name).as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_parses_with_its_call_context() {
    for (name, body) in fixtures() {
        let m = parse_server_message(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let c = m.context();
        if body.contains("\"webCall\"") {
            // A call from Vapi's dashboard or web widget: no numbers, the assistant's id.
            assert!(c.call_id.is_some() && c.assistant_id.is_some(), "{name}");
            assert!(c.called.is_none() && c.caller.is_none(), "{name}");
            continue;
        }
        assert_eq!(
            c.call_id.as_ref().map(|i| i.as_str()),
            Some(CALL_ID),
            "{name}"
        );
        assert_eq!(
            c.phone_number_id.as_ref().map(|i| i.as_str()),
            Some(PHONE_NUMBER_ID),
            "{name}"
        );
        assert_eq!(
            c.called.as_ref().map(|p| p.as_str()),
            Some("+19254207621"),
            "{name}"
        );
        assert_eq!(
            c.caller.as_ref().map(|p| p.as_str()),
            Some("+14155550123"),
            "{name}"
        );
        assert!(
            !matches!(m, ServerMessage::Other(_)),
            "{name} read as {}",
            m.kind()
        );
    }
}

#[test]
fn assistant_request() {
    let m = parse("assistant-request.json");
    let ServerMessage::AssistantRequest(r) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(
        r.context.timestamp,
        Some(Timestamp::from_millisecond(1763985227736).unwrap())
    );
}

#[test]
fn tool_calls_with_object_arguments_and_iso_timestamp() {
    let ServerMessage::ToolCalls(tc) = parse("tool-calls-object-args.json") else {
        panic!()
    };
    assert_eq!(
        tc.context.timestamp,
        Some("2026-11-24T14:34:21.931Z".parse().unwrap())
    );
    // toolCallList, toolCalls and toolWithToolCallList repeat the same call: it is read once.
    assert_eq!(tc.calls.len(), 1);
    assert_eq!(tc.skipped, 0);
    assert_eq!(tc.calls[0].id.as_str(), "call_Qx81mZt2");
    assert_eq!(
        tc.calls[0].parse(&ArgRules::default()).unwrap(),
        ToolCall::CheckAvailability {
            service: "Teeth Whitening".into(),
            date: Some(jiff::civil::date(2026, 11, 26)),
            after: None,
            provider: None,
        }
    );
}

#[test]
fn tool_calls_with_string_arguments() {
    let ServerMessage::ToolCalls(tc) = parse("tool-calls-string-args.json") else {
        panic!()
    };
    assert_eq!(tc.calls.len(), 1);
    let ToolCall::ReserveSlot {
        start,
        service,
        caller_name,
        phone: None,
        provider: None,
    } = tc.calls[0].parse(&ArgRules::default()).unwrap()
    else {
        panic!()
    };
    let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
    assert_eq!(
        start.resolve(&ny),
        Ok("2026-11-26T19:00:00Z".parse().unwrap())
    );
    assert_eq!(service, "Teeth Whitening");
    assert_eq!(caller_name, "John Smith");
}

#[test]
fn flattened_parallel_calls_keep_their_order_and_reply_in_it() {
    let ServerMessage::ToolCalls(tc) = parse("tool-calls-flattened-parallel.json") else {
        panic!()
    };
    assert_eq!(tc.context.timestamp, None);
    let parsed: Vec<ToolCall> = tc
        .calls
        .iter()
        .map(|c| c.parse(&ArgRules::default()).unwrap())
        .collect();
    assert_eq!(
        parsed,
        [
            ToolCall::SendOtp {
                hold_id: HOLD_ID.parse::<BookingId>().unwrap(),
                phone: None
            },
            ToolCall::SendConfirmationSms {
                appointment_id: APPOINTMENT_ID.parse::<BookingId>().unwrap()
            },
        ]
    );
    assert_eq!(parsed[1].tool(), ToolName::SendConfirmationSms);

    let mut replies = ToolReplies::new();
    for call in &tc.calls {
        replies.push(
            call.id.clone(),
            &call.name,
            ToolResult::ok(format!("Done:\n{}", call.name)).into(),
        );
    }
    replies.push(
        tc.calls[0].id.clone(),
        "x",
        ToolOutcome::error("Our system\r\nis down."),
    );
    let body = replies.to_value().to_string();
    assert!(!body.contains('\n') && !body.contains('\r'));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["toolCallId"], "call_A1");
    assert_eq!(results[0]["name"], "send_otp");
    assert_eq!(results[1]["toolCallId"], "call_A2");
    for r in &results[..2] {
        let line = r["result"].as_str().unwrap();
        assert!(!line.contains(['\n', '\r']), "{line}");
        let inner: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(inner["ok"], true);
    }
    assert_eq!(results[2]["error"], "Our system is down.");
}

#[test]
fn end_of_call_report_becomes_a_call_report() {
    let ServerMessage::EndOfCallReport(r) = parse("end-of-call-report.json") else {
        panic!()
    };
    assert_eq!(r.ended_reason.as_deref(), Some("customer-ended-call"));
    assert_eq!(r.duration_seconds, Some(382));
    assert!(
        r.transcript
            .as_deref()
            .unwrap()
            .contains("how much are veneers?")
    );
    let report = r.to_call_report().unwrap();
    assert_eq!(report.call_id.as_str(), CALL_ID);
    assert_eq!(report.caller.as_ref().unwrap().as_str(), "+14155550123");
    assert_eq!(report.duration_seconds(), Some(382));
    assert_eq!(
        report.started_at,
        Some("2026-11-24T14:33:49.102Z".parse().unwrap())
    );
    assert_eq!(report.ended_reason.as_deref(), Some("customer-ended-call"));
    assert!(
        report
            .summary
            .as_deref()
            .unwrap()
            .starts_with("John Smith called")
    );
    assert_eq!(report.structured.caller_name.as_deref(), Some("John Smith"));
    assert_eq!(
        report.structured.service_interest.as_deref(),
        Some("Teeth Whitening")
    );
    assert_eq!(report.structured.wants_callback, Some(true));
    assert_eq!(report.buying_intent, None);
}

#[test]
fn status_update() {
    let ServerMessage::StatusUpdate(s) = parse("status-update.json") else {
        panic!()
    };
    assert_eq!(s.status.as_deref(), Some("ended"));
    assert_eq!(s.ended_reason.as_deref(), Some("customer-ended-call"));
}

#[test]
fn debug_output_carries_no_secret_and_no_full_number() {
    let needles = [
        "do-not-log-me",
        "AC00000000000000000000000000000000",
        "4155550123",
        "9254207621",
        "recording.wav",
    ];
    for (name, body) in fixtures() {
        let m = parse_server_message(body.as_bytes()).unwrap();
        let mut dbg = format!("{m:?}\n{m:#?}");
        if let ServerMessage::ToolCalls(tc) = &m {
            for c in &tc.calls {
                dbg.push_str(&format!("{c:?}{:?}", c.parse(&ArgRules::default())));
            }
        }
        if let ServerMessage::EndOfCallReport(r) = &m {
            dbg.push_str(&format!("{:?}", r.to_call_report()));
        }
        for n in needles {
            assert!(!dbg.contains(n), "{name}: Debug shows {n}: {dbg}");
        }
        if body.contains("\"webCall\"") {
            continue;
        }
        assert!(
            dbg.contains("0123"),
            "{name}: the masked caller should still be recognisable"
        );
    }
}

#[test]
fn garbage_and_truncated_bodies_are_errors() {
    for bad in [
        &b""[..],
        b"   ",
        b"not json",
        b"{\"message\": {\"type\": \"tool-calls\"",
        b"\xff\xfe\x00",
        b"{\"message\": {}} trailing",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ] {
        match parse_server_message(bad) {
            Err(VapiError::MalformedJson { .. }) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
        }
    }
    for not_envelope in [
        &b"{}"[..],
        b"[]",
        b"null",
        b"{\"message\": []}",
        b"\"message\"",
    ] {
        assert_eq!(
            parse_server_message(not_envelope),
            Err(VapiError::NotAnEnvelope)
        );
    }
    // Every prefix of every fixture either parses or is an error; none panics.
    for (name, body) in fixtures() {
        let bytes = body.as_bytes();
        for cut in 0..bytes.len() {
            let r = parse_server_message(&bytes[..cut]);
            assert!(
                r.is_err() || bytes[cut..].iter().all(u8::is_ascii_whitespace),
                "{name} cut at {cut} parsed"
            );
        }
    }
}

#[test]
fn error_messages_never_quote_the_body() {
    let body = br#"{"message": {"phoneNumber": {"twilioAuthToken": "do-not-log-me"}}, oops"#;
    let err = parse_server_message(body).unwrap_err();
    assert!(!err.to_string().contains("do-not-log-me"));
    assert!(!format!("{err:?}").contains("do-not-log-me"));
}

#[test]
fn todays_report_is_read_from_structured_outputs_and_the_call() {
    let ServerMessage::EndOfCallReport(r) = parse("end-of-call-report-structured-outputs.json")
    else {
        panic!()
    };
    assert_eq!(r.ended_reason.as_deref(), Some("assistant-ended-call"));
    assert_eq!(r.duration_seconds, Some(250));
    assert_eq!(
        r.context.phone_number_id.as_ref().unwrap().as_str(),
        "4a5a04dc-dcbe-45b1-8f64-fd32a253d136"
    );
    assert_eq!(r.context.called.as_ref().unwrap().as_str(), "+19254207621");
    let report = r.to_call_report().unwrap();
    assert_eq!(report.called.as_ref().unwrap().as_str(), "+19254207621");
    assert_eq!(
        report.structured.caller_name.as_deref(),
        Some("Maria Gomez")
    );
    assert_eq!(
        report.structured.service_interest.as_deref(),
        Some("Implant Consultation")
    );
    assert_eq!(report.structured.wants_callback, Some(true));
    assert_eq!(report.buying_intent, Some(true));
    assert!(
        report
            .summary
            .as_deref()
            .unwrap()
            .starts_with("Maria Gomez asked")
    );
}

#[test]
fn a_web_call_names_its_assistant_and_the_tool_names_the_call() {
    let ServerMessage::ToolCalls(tc) = parse("tool-calls-with-tool-list.json") else {
        panic!()
    };
    assert_eq!(
        tc.context.assistant_id.as_ref().unwrap().as_str(),
        "0e9d8c7b-6a59-4483-b2a1-f0e9d8c7b6a5"
    );
    assert_eq!(tc.context.called, None);
    assert_eq!(tc.context.phone_number_id, None);
    assert_eq!(tc.calls.len(), 1);
    assert_eq!(tc.calls[0].name, "check_availability");
    assert!(tc.calls[0].parse(&ArgRules::default()).is_ok());
}
