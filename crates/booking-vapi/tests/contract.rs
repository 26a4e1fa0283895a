//! Our replies to Vapi held to Vapi's published API schema: VapiAI/docs
//! `fern/apis/api/openapi.json` at commit eabfa530011ea11c0387cafc424df7a105bf9de5 (2026-08-20).
//!
//! Every reply is read through the strict mirrors of `vapi_schema` (the schema's objects, their
//! exact properties, unknown fields refused): the assistant-request reply for every hostile clinic
//! prompt and every way of authenticating, its refusals, and tool-call replies of every kind
//! (results, refusals, errors, for every tool and for tools we do not have).
//!
//! When the document itself is at hand (`VAPI_OPENAPI_JSON=path/to/openapi.json`, as
//! `cargo xtask vapi-contract PATH` sets it), two more checks run against it: the mirrors list
//! exactly the schema's properties, and every reply validates against the full document (every
//! `$ref` followed, objects closed to the properties they define, enums, bounds and lengths).
//! The repository does not carry Vapi's file, so those two are ignored in a plain test run (they
//! show as skipped) and need the document to run.

mod common;
mod vapi_schema;

use booking_core::ToolCallId;
use booking_core::tenant::Secret;
use booking_vapi::{
    ArgRules, AssistantOptions, ServerAuth, ToolName, ToolOutcome, ToolReplies, ToolResult,
    assistant_error, compose_assistant, parse_server_message, unknown_number_error,
};
use common::{hostile_prompts, tenant};
use jiff::civil::date;
use serde_json::{Value, json};
use vapi_schema::*;

const URL: &str = "https://api.example.com/vapi/webhook";

/// Every way the api can be configured to tell Vapi how to authenticate.
fn auth_variants() -> Vec<(&'static str, ServerAuth)> {
    let header = (
        "X-Vapi-Secret".to_owned(),
        Secret::new("vapi-shared-secret"),
    );
    vec![
        (
            "credential",
            ServerAuth {
                credential_id: Some("9f6f2b7e-0d1c-4c59-9d7c-2a1b3c4d5e6f".into()),
                header: None,
            },
        ),
        (
            "headers",
            ServerAuth {
                credential_id: None,
                header: Some(header.clone()),
            },
        ),
        (
            "both",
            ServerAuth {
                credential_id: Some("9f6f2b7e-0d1c-4c59-9d7c-2a1b3c4d5e6f".into()),
                header: Some(header),
            },
        ),
        ("none", ServerAuth::default()),
    ]
}

/// Every assistant-request reply we can produce: each hostile prompt under each auth variant.
fn assistant_replies() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (auth_label, auth) in auth_variants() {
        for (label, prompt) in hostile_prompts() {
            let options = AssistantOptions {
                server_auth: auth.clone(),
                ..AssistantOptions::default()
            };
            let v = compose_assistant(&tenant(&prompt), date(2026, 11, 26), URL, &options);
            out.push((format!("{auth_label}/{label}"), v));
        }
    }
    out.push(("unknown number".into(), unknown_number_error()));
    out.push((
        "error".into(),
        assistant_error("Sorry, we cannot take your call right now."),
    ));
    out
}

/// Every kind of tool-call reply: for every tool, a result, a refusal and an error; the
/// refusals of unreadable, unknown and malformed calls; several calls in one reply.
fn tool_replies() -> Vec<(String, Value)> {
    let id = |s: &str| ToolCallId::parse(s).unwrap();
    let mut out = Vec::new();
    for tool in ToolName::ALL {
        let name = tool.as_str();
        let kinds: [(&str, ToolOutcome); 3] = [
            (
                "result",
                ToolResult::ok("Done.\nSay it.")
                    .field("hold_id", "h-1")
                    .field(
                        "slots",
                        json!([{"start": "2026-11-27T09:00:00-05:00", "spoken": "Friday at 9 AM"}]),
                    )
                    .into(),
            ),
            (
                "refusal",
                ToolResult::refused("That time was just taken.").into(),
            ),
            ("error", ToolOutcome::error(OUR_FAULT)),
        ];
        for (kind, outcome) in kinds {
            let mut r = ToolReplies::new();
            r.push(id("call_1"), name, outcome);
            out.push((format!("{name}/{kind}"), r.to_value()));
        }
    }
    // Calls as Vapi sends them that we cannot carry out: each gets a reply all the same.
    let body = json!({"message": {"type": "tool-calls", "toolCallList": [
        {"id": "a", "type": "function", "function": {"name": "book_appointment", "arguments": {}}},
        {"id": "b", "type": "function", "function": {"name": "send_otp", "arguments": "{not json"}},
        {"id": "c", "type": "function", "function": {"name": "verify_otp", "arguments": {"hold_id": "x"}}},
        {"id": "d", "type": "function", "function": {"name": "check_availability", "arguments": {"service": "Whitening", "date": "tomorrow"}}},
        {"id": "e", "type": "function", "function": {"name": "line\nbreak", "arguments": {}}}
    ]}});
    let Ok(booking_vapi::ServerMessage::ToolCalls(m)) =
        parse_server_message(body.to_string().as_bytes())
    else {
        panic!("tool-calls body")
    };
    let mut r = ToolReplies::new();
    for call in &m.calls {
        let outcome = match call.parse(&ArgRules::default()) {
            Ok(_) => ToolResult::ok("ok").into(),
            Err(e) => e.outcome(),
        };
        r.push(call.id.clone(), &call.name, outcome);
    }
    out.push(("refused calls".into(), r.to_value()));
    out.push(("no calls".into(), ToolReplies::new().to_value()));
    out
}

const OUR_FAULT: &str = "Sorry, the booking system is not responding right now.";

#[test]
fn assistant_request_replies_hold_to_the_mirrored_schema() {
    for (label, reply) in assistant_replies() {
        let parsed: ServerMessageResponseAssistantRequest =
            strict(&reply).unwrap_or_else(|e| panic!("{label}: {e}\n{reply}"));
        let Some(a) = parsed.assistant else {
            assert!(
                parsed.error.is_some(),
                "{label}: neither assistant nor error"
            );
            continue;
        };
        // Bounds the schema sets on what we send.
        assert!(a.name.as_ref().unwrap().chars().count() <= 40, "{label}");
        assert!(a.end_call_message.as_ref().unwrap().chars().count() <= 1000);
        let max = a.max_duration_seconds.unwrap();
        assert!((10.0..=43_200.0).contains(&max), "{label}: {max}");
        let model = a.model.expect("model");
        assert!((0.0..=2.0).contains(&model.temperature.unwrap()));
        let tools = model.tools.expect("tools");
        let mut functions = 0;
        let mut end_calls = 0;
        for tool in &tools {
            match tool {
                Tool::Function(f) => {
                    functions += 1;
                    check_server(&label, f.server.as_ref().expect("tool server"));
                    let function = f.function.as_ref().expect("function");
                    let params = function.parameters.as_ref().expect("parameters");
                    for (arg, schema) in &params.properties {
                        strict::<JsonSchema>(schema)
                            .unwrap_or_else(|e| panic!("{label}: {}.{arg}: {e}", function.name));
                    }
                    for m in f.messages.as_ref().expect("messages") {
                        let content = match m {
                            ToolMessage::Start(m) => &m.content,
                            ToolMessage::Complete(m) => &m.content,
                            ToolMessage::Failed(m) => &m.content,
                            ToolMessage::Delayed(m) => &m.content,
                        };
                        assert!(content.as_ref().unwrap().chars().count() <= 1000);
                    }
                }
                Tool::EndCall(_) => end_calls += 1,
            }
        }
        assert_eq!(functions, ToolName::ALL.len(), "{label}");
        assert_eq!(end_calls, 1, "{label}");
        check_server(&label, a.server.as_ref().expect("assistant server"));
        let outputs = a
            .artifact_plan
            .expect("artifactPlan")
            .structured_outputs
            .expect("structuredOutputs");
        for o in &outputs {
            assert!((1..=40).contains(&o.name.chars().count()), "{}", o.name);
        }
    }
}

fn check_server(label: &str, server: &Server) {
    assert_eq!(server.url.as_deref(), Some(URL), "{label}");
    let t = server.timeout_seconds.unwrap();
    assert!((1.0..=300.0).contains(&t), "{label}: {t}");
    if label.starts_with("credential") || label.starts_with("both") {
        assert!(server.credential_id.is_some(), "{label}");
    }
    if label.starts_with("headers") || label.starts_with("both") {
        let headers = server.headers.as_ref().expect("headers");
        assert_eq!(headers["X-Vapi-Secret"], "vapi-shared-secret", "{label}");
    }
}

#[test]
fn tool_call_replies_hold_to_the_mirrored_schema() {
    for (label, reply) in tool_replies() {
        let parsed: ServerMessageResponseToolCalls =
            strict(&reply).unwrap_or_else(|e| panic!("{label}: {e}\n{reply}"));
        for r in parsed.results.expect("results") {
            assert!(
                r.result.is_some() != r.error.is_some(),
                "{label}: exactly one of result and error"
            );
            let text = r.result.or(r.error).unwrap();
            assert!(
                !text.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
                "{label}"
            );
            assert!(!r.name.contains('\n'), "{label}");
        }
    }
}

/// The mirrors reject what the schema does not define: the test above can fail.
#[test]
fn the_mirrors_refuse_fields_vapi_does_not_define() {
    let (_, mut reply) = assistant_replies().remove(0);
    reply["assistant"]["server"]["secret"] = json!("s3cret");
    let e = strict::<ServerMessageResponseAssistantRequest>(&reply).unwrap_err();
    assert!(e.contains("secret"), "{e}");

    let (_, mut reply) = assistant_replies().remove(0);
    reply["assistant"]["endCallFunctionEnabled"] = json!(true);
    let e = strict::<ServerMessageResponseAssistantRequest>(&reply).unwrap_err();
    assert!(e.contains("endCallFunctionEnabled"), "{e}");

    let (_, mut reply) = assistant_replies().remove(0);
    reply["assistant"]["model"]["tools"][0]["server"]["timeoutSecond"] = json!(20);
    assert!(strict::<ServerMessageResponseAssistantRequest>(&reply).is_err());

    let (_, mut reply) = assistant_replies().remove(0);
    reply["assistant"]["firstMessageMode"] = json!("assistant-speaks-second");
    assert!(strict::<ServerMessageResponseAssistantRequest>(&reply).is_err());

    let mut reply = tool_replies().remove(0).1;
    reply["results"][0]["toolCallID"] = json!("x");
    assert!(strict::<ServerMessageResponseToolCalls>(&reply).is_err());
}

// ------------------------------------------------------------------------------------------
// Against the document itself, when it is at hand.

fn document() -> Value {
    let path = std::env::var("VAPI_OPENAPI_JSON")
        .expect("VAPI_OPENAPI_JSON names Vapi's openapi.json (cargo xtask vapi-contract PATH)");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("VAPI_OPENAPI_JSON={path}: {e}"));
    serde_json::from_str(&text).expect("the document is JSON")
}

#[test]
#[ignore = "needs Vapi's API document: cargo xtask vapi-contract PATH"]
fn mirrors_list_exactly_the_schema_properties() {
    let doc = document();
    let mirrors: [(&str, &[&str]); 23] = [
        (
            "ServerMessageResponseAssistantRequest",
            fields_of::<ServerMessageResponseAssistantRequest>(),
        ),
        (
            "ServerMessageResponseToolCalls",
            fields_of::<ServerMessageResponseToolCalls>(),
        ),
        ("ToolCallResult", fields_of::<ToolCallResult>()),
        ("CreateAssistantDTO", fields_of::<CreateAssistantDto>()),
        ("Server", fields_of::<Server>()),
        ("OpenAIModel", fields_of::<OpenAiModel>()),
        ("OpenAIMessage", fields_of::<OpenAiMessage>()),
        (
            "CreateFunctionToolDTO",
            fields_of::<CreateFunctionToolDto>(),
        ),
        ("CreateEndCallToolDTO", fields_of::<CreateEndCallToolDto>()),
        ("OpenAIFunction", fields_of::<OpenAiFunction>()),
        (
            "OpenAIFunctionParameters",
            fields_of::<OpenAiFunctionParameters>(),
        ),
        ("JsonSchema", fields_of::<JsonSchema>()),
        ("ToolMessageStart", fields_of::<ToolMessageStart>()),
        ("ToolMessageComplete", fields_of::<ToolMessageComplete>()),
        ("ToolMessageFailed", fields_of::<ToolMessageFailed>()),
        ("ToolMessageDelayed", fields_of::<ToolMessageDelayed>()),
        ("ArtifactPlan", fields_of::<ArtifactPlan>()),
        (
            "CreateStructuredOutputDTO",
            fields_of::<CreateStructuredOutputDto>(),
        ),
        // Enums, as the values the mirror accepts.
        ("CreateAssistantDTO.firstMessageMode", &[]),
        ("CreateAssistantDTO.serverMessages", &[]),
        ("OpenAIModel.provider", &[]),
        ("OpenAIMessage.role", &[]),
        ("JsonSchema.type", &[]),
    ];
    let schemas = &doc["components"]["schemas"];
    for (name, fields) in mirrors {
        if name.contains('.') {
            continue;
        }
        assert!(!fields.is_empty(), "{name}: no fields read from the mirror");
        let mut ours: Vec<&str> = fields.to_vec();
        ours.sort_unstable();
        let mut theirs: Vec<&str> = schemas[name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} is not in the document"))
            .keys()
            .map(String::as_str)
            .collect();
        theirs.sort_unstable();
        assert_eq!(
            ours, theirs,
            "{name}: the mirror's fields differ from the schema's"
        );
    }
    // The enums: every value the schema lists reads, and nothing else does.
    let enum_values = |object: &str, prop: &str| -> Vec<String> {
        let p = &schemas[object]["properties"][prop];
        let e = p.get("items").map_or(&p["enum"], |i| &i["enum"]);
        e.as_array()
            .unwrap_or_else(|| panic!("{object}.{prop} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    fn reads<T: serde::de::DeserializeOwned>(values: &[String]) {
        for v in values {
            strict::<T>(&json!(v)).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
        assert!(strict::<T>(&json!("not-a-value-of-the-schema")).is_err());
    }
    reads::<FirstMessageMode>(&enum_values("CreateAssistantDTO", "firstMessageMode"));
    reads::<ServerMessageType>(&enum_values("CreateAssistantDTO", "serverMessages"));
    reads::<OpenAiProvider>(&enum_values("OpenAIModel", "provider"));
    reads::<OpenAiMessageRole>(&enum_values("OpenAIMessage", "role"));
    reads::<JsonSchemaType>(&enum_values("JsonSchema", "type"));
    reads::<ToolMessageRole>(&enum_values("ToolMessageFailed", "role"));
    reads::<StructuredOutputType>(&enum_values("CreateStructuredOutputDTO", "type"));
    // The model we ask for is one the schema names.
    let models = enum_values("OpenAIModel", "model");
    assert!(
        models.contains(&AssistantOptions::default().model),
        "{} is not an OpenAIModel.model",
        AssistantOptions::default().model
    );
}

#[test]
#[ignore = "needs Vapi's API document: cargo xtask vapi-contract PATH"]
fn replies_validate_against_the_full_document() {
    let doc = document();
    let v = Validator { doc: &doc };
    for (label, reply) in assistant_replies() {
        let errors = v.validate(
            &reply,
            &json!({"$ref": "#/components/schemas/ServerMessageResponseAssistantRequest"}),
            "$",
        );
        assert!(errors.is_empty(), "{label}: {errors:#?}");
    }
    for (label, reply) in tool_replies() {
        let errors = v.validate(
            &reply,
            &json!({"$ref": "#/components/schemas/ServerMessageResponseToolCalls"}),
            "$",
        );
        assert!(errors.is_empty(), "{label}: {errors:#?}");
    }
    // The validator is not blind: a removed field is found.
    let (_, mut reply) = assistant_replies().remove(0);
    reply["assistant"]["model"]["tools"][0]["server"]["secret"] = json!("s3cret");
    let errors = v.validate(
        &reply,
        &json!({"$ref": "#/components/schemas/ServerMessageResponseAssistantRequest"}),
        "$",
    );
    assert!(errors.iter().any(|e| e.contains("secret")), "{errors:#?}");
}

/// The subset of JSON Schema (OpenAPI 3 flavour) that Vapi's document uses for what we send:
/// `$ref`, `allOf`, `oneOf`/`anyOf` (at least one member must accept), `type`, `nullable`,
/// `enum`, `required`, `properties` (an object with properties accepts no others unless
/// `additionalProperties` says so), `items`, `minimum`/`maximum`, `minLength`/`maxLength`.
struct Validator<'a> {
    doc: &'a Value,
}

impl Validator<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let path = r.trim_start_matches("#/");
                let mut at = self.doc;
                for part in path.split('/') {
                    at = &at[part];
                }
                assert!(!at.is_null(), "unresolved {r}");
                self.resolve(at)
            }
            None => schema,
        }
    }

    fn validate(&self, value: &Value, schema: &Value, path: &str) -> Vec<String> {
        let schema = self.resolve(schema);
        let mut errors = Vec::new();
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return errors;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            // allOf with properties of its own members: the object may carry the union of them.
            let merged = self.merge(schema, all);
            return self.validate(value, &merged, path);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(members) = schema.get(key).and_then(Value::as_array) {
                let results: Vec<Vec<String>> = members
                    .iter()
                    .map(|m| self.validate(value, m, path))
                    .collect();
                if !results.iter().any(Vec::is_empty) {
                    let best = results.into_iter().min_by_key(Vec::len).unwrap_or_default();
                    errors.push(format!("{path}: matches no member of {key}"));
                    errors.extend(best);
                }
                return errors;
            }
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: not a {t}"));
                return errors;
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !value.is_array()
            && !values.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of the schema's values"));
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                errors.push(format!("{path}: {n} < {min}"));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                errors.push(format!("{path}: {n} > {max}"));
            }
        }
        if let Some(s) = value.as_str() {
            let len = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                errors.push(format!("{path}: longer than {max}"));
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                errors.push(format!("{path}: shorter than {min}"));
            }
        }
        if let Some(items) = value.as_array()
            && let Some(item_schema) = schema.get("items")
        {
            for (i, item) in items.iter().enumerate() {
                errors.extend(self.validate(item, item_schema, &format!("{path}[{i}]")));
            }
        }
        if let Some(obj) = value.as_object() {
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: required {r} is missing"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties");
            for (k, v) in obj {
                let here = format!("{path}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(p) => errors.extend(self.validate(v, p, &here)),
                    None => match extra {
                        Some(Value::Bool(true)) => {}
                        Some(s @ Value::Object(_)) => errors.extend(self.validate(v, s, &here)),
                        // A map the schema leaves open (`type: object` and nothing else).
                        _ if props.is_none() => {}
                        _ => errors.push(format!("{here}: not a property the schema defines")),
                    },
                }
            }
        }
        errors
    }

    /// The members of an `allOf`, resolved and merged into one schema (with the parent's own
    /// keys).
    fn merge(&self, parent: &Value, members: &[Value]) -> Value {
        let mut merged = serde_json::Map::new();
        let mut props = serde_json::Map::new();
        let mut required = Vec::new();
        let mut parts: Vec<&Value> = members.iter().map(|m| self.resolve(m)).collect();
        parts.push(parent);
        for part in parts {
            for (k, v) in part.as_object().into_iter().flatten() {
                match k.as_str() {
                    "allOf" => {}
                    "properties" => {
                        for (pk, pv) in v.as_object().into_iter().flatten() {
                            props.insert(pk.clone(), pv.clone());
                        }
                    }
                    "required" => required.extend(v.as_array().cloned().unwrap_or_default()),
                    _ => {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        if !props.is_empty() {
            merged.insert("properties".into(), Value::Object(props));
        }
        if !required.is_empty() {
            merged.insert("required".into(), Value::Array(required));
        }
        Value::Object(merged)
    }
}
