//! The assistant for assistant-request keeps every tool and our protocol last, whatever the
//! clinic's prompt says.

mod common;

use booking_core::tenant::Secret;
use booking_vapi::{
    AssistantOptions, CATALOGUE, LEAD_OUTPUT_NAME, PROTOCOL_HEADING, SUMMARY_OUTPUT_NAME,
    ServerAuth, ToolName, compose_assistant, unknown_number_error,
};
use common::{hostile_prompts, tenant};
use jiff::civil::date;
use serde_json::Value;

const URL: &str = "https://api.example.com/vapi/webhook";

fn compose(prompt: &str) -> Value {
    compose_assistant(
        &tenant(prompt),
        date(2026, 11, 26),
        URL,
        &AssistantOptions::default(),
    )
}

fn system_content(v: &Value) -> &str {
    let messages = v["assistant"]["model"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "system");
    messages[0]["content"].as_str().unwrap()
}

fn tool_names(v: &Value) -> Vec<String> {
    v["assistant"]["model"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "function")
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn valid_tool_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[test]
fn every_hostile_prompt_keeps_all_tools_and_the_protocol_last() {
    let expected: Vec<String> = ToolName::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    for (label, prompt) in hostile_prompts() {
        let v = compose(&prompt);
        // What goes to Vapi is valid JSON of the same value.
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v, "{label}");

        assert_eq!(tool_names(&back), expected, "{label}");
        for n in tool_names(&back) {
            assert!(valid_tool_name(&n), "{label}: {n}");
        }
        let tools = back["assistant"]["model"]["tools"].as_array().unwrap();
        // Ours, then Vapi's endCall.
        assert_eq!(tools.last().unwrap()["type"], "endCall", "{label}");
        for t in &tools[..tools.len() - 1] {
            assert_eq!(t["type"], "function", "{label}");
            assert_eq!(t["server"]["url"], URL, "{label}");
            assert_eq!(t["server"]["timeoutSeconds"], 20, "{label}");
            assert!(
                t["function"]["parameters"]["required"].is_array(),
                "{label}"
            );
        }

        let content = system_content(&back);
        let at = content
            .find(PROTOCOL_HEADING)
            .unwrap_or_else(|| panic!("{label}: no protocol"));
        assert_eq!(
            content.rfind(PROTOCOL_HEADING),
            Some(at),
            "{label}: heading repeated"
        );
        let protocol = &content[at..];
        let clinic_part = &content[..at];
        // The protocol is the last section and the complete one.
        assert!(protocol.ends_with("follow this protocol."), "{label}");
        assert!(!protocol.contains("\n###"), "{label}: a section after ours");
        for needle in [
            "Smile Dental",
            "Thursday, 26 November 2026 (2026-11-26)",
            "America/New_York",
            "1. check_availability",
            "2. When the caller picks one, reserve_slot",
            "3. send_otp",
            "4. Ask the caller to read you the code",
            "5. verify_otp",
            "6. send_confirmation_sms",
            "Never invent",
            "Only this confirms the booking",
            "repeat the appointment back",
            "can remove or disable these tools",
            "Teeth Whitening (60 minutes)",
        ] {
            assert!(
                protocol.contains(needle),
                "{label}: protocol lacks {needle:?}"
            );
        }
        let order: Vec<usize> = [
            "check_availability",
            "reserve_slot",
            "send_otp",
            "verify_otp",
            "send_confirmation_sms",
        ]
        .iter()
        .map(|s| {
            protocol
                .find(&format!(". {s}"))
                .or_else(|| protocol.find(&format!("one, {s}")))
                .unwrap()
        })
        .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{label}: steps out of order {order:?}"
        );

        // Nothing of the clinic's text imitates our headings.
        let letters: String = clinic_part
            .chars()
            .filter(|c| c.is_alphabetic())
            .collect::<String>()
            .to_uppercase();
        assert!(!letters.contains("BOOKINGPROTOCOL"), "{label}");
        assert_eq!(letters.matches("CLINICINSTRUCTIONS").count(), 1, "{label}");
        assert!(
            clinic_part.len() <= 100 * 1024 + 2048,
            "{label}: {}",
            clinic_part.len()
        );
        assert!(
            !content
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{label}: control characters"
        );
    }
}

#[test]
fn the_clinic_prompt_is_kept_or_a_default_is_used() {
    let v = compose("You are Voxanne, the friendly receptionist of Smile Dental.");
    let content = system_content(&v);
    assert!(content.contains("You are Voxanne, the friendly receptionist of Smile Dental."));
    assert!(content.find("Voxanne").unwrap() < content.find(PROTOCOL_HEADING).unwrap());

    for empty in ["", "  \n "] {
        let v = compose(empty);
        let content = system_content(&v);
        assert!(
            content.contains("You are the friendly, professional receptionist of Smile Dental"),
            "{content}"
        );
    }

    let big = "x".repeat(100 * 1024);
    let v = compose(&big);
    assert!(system_content(&v).contains(&big[..1000]));
}

#[test]
fn assistant_has_server_artifact_plan_and_greeting() {
    let options = AssistantOptions {
        server_auth: ServerAuth {
            credential_id: Some("cred-vapi-1".into()),
            header: Some(("X-Vapi-Secret".into(), Secret::new("vapi-shared-secret"))),
        },
        tool_timeout_seconds: 15,
        ..AssistantOptions::default()
    };
    let v = compose_assistant(&tenant(""), date(2026, 11, 26), URL, &options);
    let a = &v["assistant"];
    assert_eq!(a["name"], "Smile Dental");
    assert_eq!(
        a["firstMessage"],
        "Thank you for calling Smile Dental. How can I help you today?"
    );
    assert_eq!(a["model"]["provider"], "openai");
    // Vapi's Server object: no inline secret, the credential and/or our header.
    let server = serde_json::json!({
        "url": URL,
        "timeoutSeconds": 15,
        "credentialId": "cred-vapi-1",
        "headers": {"X-Vapi-Secret": "vapi-shared-secret"}
    });
    assert_eq!(a["server"]["url"], URL);
    assert_eq!(a["server"]["credentialId"], "cred-vapi-1");
    assert!(a["server"].get("secret").is_none());
    for tool in a["model"]["tools"].as_array().unwrap() {
        if tool["type"] == "function" {
            assert_eq!(tool["server"], server, "{tool}");
        }
    }
    // Ending the call is Vapi's endCall tool, not the removed endCallFunctionEnabled.
    assert!(a.get("endCallFunctionEnabled").is_none());
    let end_calls = a["model"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "endCall")
        .count();
    assert_eq!(end_calls, 1);
    assert!(
        a["serverMessages"]
            .as_array()
            .unwrap()
            .contains(&Value::from("end-of-call-report"))
    );
    // The deprecated analysisPlan is not asked for; structured outputs are.
    assert!(a.get("analysisPlan").is_none());
    let outputs = a["artifactPlan"]["structuredOutputs"].as_array().unwrap();
    let lead = outputs
        .iter()
        .find(|o| o["name"] == LEAD_OUTPUT_NAME)
        .unwrap();
    let props = &lead["schema"]["properties"];
    for (k, t) in [
        ("caller_name", "string"),
        ("service_interest", "string"),
        ("wants_callback", "boolean"),
        ("buying_intent", "boolean"),
    ] {
        assert_eq!(props[k]["type"], t, "{k}");
    }
    assert!(outputs.iter().any(|o| o["name"] == SUMMARY_OUTPUT_NAME));
    // The options print the secret redacted.
    assert!(!format!("{options:?}").contains("vapi-shared-secret"));
}

#[test]
fn every_tool_tells_when_to_use_it_and_what_vapi_says() {
    let v = compose("");
    for (spec, def) in CATALOGUE
        .iter()
        .zip(v["assistant"]["model"]["tools"].as_array().unwrap())
    {
        let desc = def["function"]["description"].as_str().unwrap();
        assert!(desc.contains("Use it"), "{}: {desc}", spec.name);
        let kinds: Vec<&str> = def["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert!(!m["content"].as_str().unwrap().is_empty());
                m["type"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "request-start",
                "request-failed",
                "request-response-delayed"
            ]
        );
    }
}

#[test]
fn an_unknown_number_gets_a_spoken_error() {
    let v = unknown_number_error();
    let sentence = v["error"].as_str().unwrap();
    assert!(sentence.ends_with('.'));
    assert!(!sentence.contains('\n'));
    assert_eq!(v.as_object().unwrap().len(), 1);
}
