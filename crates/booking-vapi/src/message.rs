//! Vapi's server messages: `{"message": {"type": ..., ...}}`.
//!
//! The body is read as JSON once, then only the fields we use are picked out, each leniently: a
//! field of an unexpected type is treated as absent, unknown fields and unknown message types are
//! ignored. The only errors are a body that is not JSON and a body that is not an envelope.
//!
//! Nothing else of the payload is kept. Vapi echoes secrets (`server.secret`,
//! `phoneNumber.twilioAuthToken`, credentials) in its messages; since those fields are never read,
//! no value here can carry them into a log. Phone numbers are kept as [`PhoneNumber`], whose Debug
//! masks them, and free text (summaries, names, transcripts) prints with its digits hidden.

use std::fmt;

use booking_core::calls::{CallReport, CapturedLead};
use booking_core::{AssistantId, CallId, PhoneNumber, ToolCallId, VoiceLineId};
use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::assistant::{LEAD_OUTPUT_NAME, SUMMARY_OUTPUT_NAME};
use crate::catalogue::ToolName;
use crate::error::VapiError;
use crate::lenient::{self, DigitsHidden, at, first_key, hidden_opt, str_at};
use crate::tools::{ArgRules, ToolArgError, ToolCall, normalize_arguments};

/// At most this many tool calls of one message are run; the rest are answered with an error.
pub const MAX_TOOL_CALLS: usize = 32;

/// Reads a request body. Never panics; see the module documentation for what is tolerated.
pub fn parse_server_message(body: &[u8]) -> Result<ServerMessage, VapiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| VapiError::from_json(&e))?;
    ServerMessage::from_value(&value)
}

/// A server message, by the types we act on.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    AssistantRequest(AssistantRequest),
    ToolCalls(ToolCallsMessage),
    EndOfCallReport(EndOfCallReport),
    StatusUpdate(StatusUpdate),
    /// Any other type (or none): answer 200 `{}`.
    Other(OtherMessage),
}

impl ServerMessage {
    /// Reads an already parsed body.
    pub fn from_value(body: &Value) -> Result<Self, VapiError> {
        let message = at(body, &["message"])
            .filter(|m| m.is_object())
            .ok_or(VapiError::NotAnEnvelope)?;
        let context = MessageContext::from_message(message);
        let kind = str_at(message, &["type"]).unwrap_or("");
        Ok(match kind {
            "assistant-request" => ServerMessage::AssistantRequest(AssistantRequest { context }),
            "tool-calls" => {
                ServerMessage::ToolCalls(ToolCallsMessage::from_message(message, context))
            }
            "end-of-call-report" => {
                ServerMessage::EndOfCallReport(EndOfCallReport::from_message(message, context))
            }
            "status-update" => ServerMessage::StatusUpdate(StatusUpdate {
                status: str_at(message, &["status"]).and_then(|s| lenient::clean_line(s, 64)),
                ended_reason: ended_reason(message),
                context,
            }),
            other => ServerMessage::Other(OtherMessage {
                kind: lenient::clean_line(other, 64).unwrap_or_default(),
                context,
            }),
        })
    }

    /// The message type as sent (cleaned; empty when there was none).
    pub fn kind(&self) -> &str {
        match self {
            ServerMessage::AssistantRequest(_) => "assistant-request",
            ServerMessage::ToolCalls(_) => "tool-calls",
            ServerMessage::EndOfCallReport(_) => "end-of-call-report",
            ServerMessage::StatusUpdate(_) => "status-update",
            ServerMessage::Other(o) => &o.kind,
        }
    }

    /// Who called whom, on which call.
    pub fn context(&self) -> &MessageContext {
        match self {
            ServerMessage::AssistantRequest(m) => &m.context,
            ServerMessage::ToolCalls(m) => &m.context,
            ServerMessage::EndOfCallReport(m) => &m.context,
            ServerMessage::StatusUpdate(m) => &m.context,
            ServerMessage::Other(m) => &m.context,
        }
    }
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ServerMessage::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// What every message tells about the call (Vapi's ids and numbers, as sent; the clinic and the
/// caller the use-cases see are booking-core's `CallContext`). Each field is `None` when absent
/// or unusable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageContext {
    /// `message.call.id`.
    pub call_id: Option<CallId>,
    /// `message.call.phoneNumberId`. (The `phoneNumber` object Vapi sends has no id: Vapi's
    /// own numbers are known only by this field.)
    pub phone_number_id: Option<VoiceLineId>,
    /// The number that was called: `message.phoneNumber.number`.
    pub called: Option<PhoneNumber>,
    /// The caller: `message.call.customer.number`, else `message.customer.number`. `None` for a
    /// withheld or non-E.164 caller ID.
    pub caller: Option<PhoneNumber>,
    /// `message.call.assistantId`: the saved Vapi assistant the call runs, if any (a test call
    /// from Vapi's dashboard or web widget has this and no phone number).
    pub assistant_id: Option<AssistantId>,
    /// `message.timestamp` (milliseconds, fractional or not, or ISO text).
    pub timestamp: Option<Timestamp>,
}

impl MessageContext {
    fn from_message(m: &Value) -> Self {
        let phone = |path: &[&str]| str_at(m, path).and_then(|s| PhoneNumber::parse(s).ok());
        Self {
            call_id: str_at(m, &["call", "id"]).and_then(|s| CallId::parse(s).ok()),
            phone_number_id: str_at(m, &["call", "phoneNumberId"])
                .and_then(|s| VoiceLineId::parse(s).ok()),
            assistant_id: str_at(m, &["call", "assistantId"])
                .and_then(|s| AssistantId::parse(s).ok()),
            called: phone(&["phoneNumber", "number"]),
            caller: phone(&["call", "customer", "number"])
                .or_else(|| phone(&["customer", "number"])),
            timestamp: at(m, &["timestamp"]).and_then(lenient::timestamp),
        }
    }
}

/// `assistant-request`: answer with an assistant or an error within 7.5 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssistantRequest {
    pub context: MessageContext,
}

/// `status-update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusUpdate {
    pub context: MessageContext,
    /// "ringing", "in-progress", "ended"...
    pub status: Option<String>,
    pub ended_reason: Option<String>,
}

/// A type we do not act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherMessage {
    pub context: MessageContext,
    pub kind: String,
}

/// `tool-calls`.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallsMessage {
    pub context: MessageContext,
    /// In the order Vapi sent them; the reply must keep it.
    pub calls: Vec<ToolCallRequest>,
    /// Entries beyond [`MAX_TOOL_CALLS`], in order: not run, but each still answered (with an
    /// `error`), since Vapi waits for an answer to every call it sent.
    pub over_limit: Vec<ToolCallRequest>,
    /// Entries that could not be answered (not an object, or no usable id). Worth a warning in
    /// the log; there is no id to reply to.
    pub skipped: usize,
}

impl ToolCallsMessage {
    fn from_message(m: &Value, context: MessageContext) -> Self {
        // `toolCallList` is the current field. Older payloads carry `toolCalls`, and
        // `toolWithToolCallList[].toolCall` repeats the same calls: the first list present is
        // used, never several (that would answer each call twice).
        // In `toolWithToolCallList` each entry is the tool (its own `function.name`) with the
        // call; the tool's name stands in when the call does not repeat it. An empty list is
        // passed over (the schema requires both lists, so one may come empty).
        let list = |key: &str| {
            at(m, &[key])
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
        };
        let entries: Vec<(&Value, Option<&str>)> = if let Some(l) = list("toolCallList") {
            l.iter().map(|c| (c, None)).collect()
        } else if let Some(l) = list("toolCalls") {
            l.iter().map(|c| (c, None)).collect()
        } else if let Some(l) = list("toolWithToolCallList") {
            l.iter()
                .filter_map(|t| at(t, &["toolCall"]).map(|c| (c, str_at(t, &["function", "name"]))))
                .collect()
        } else {
            Vec::new()
        };
        let mut calls = Vec::new();
        let mut over_limit = Vec::new();
        let mut skipped = 0;
        for (entry, tool_name) in entries {
            let call = ToolCallRequest::from_entry(entry).map(|mut c| {
                if c.name.is_empty()
                    && let Some(name) = tool_name.and_then(|n| lenient::clean_line(n, 128))
                {
                    c.name = name;
                }
                c
            });
            match call {
                Some(call) if calls.len() < MAX_TOOL_CALLS => calls.push(call),
                // Only its id and name are needed to answer it.
                Some(call) => over_limit.push(ToolCallRequest {
                    arguments: None,
                    ..call
                }),
                None => skipped += 1,
            }
        }
        Self {
            context,
            calls,
            over_limit,
            skipped,
        }
    }
}

/// One requested tool call, not yet interpreted.
#[derive(Clone, PartialEq)]
pub struct ToolCallRequest {
    pub id: ToolCallId,
    /// The function name as sent, cleaned to one line (empty when none was sent).
    pub name: String,
    /// `None` when the arguments were neither an object nor a JSON string holding one.
    arguments: Option<Map<String, Value>>,
}

impl ToolCallRequest {
    /// `{id, type:"function", function:{name, arguments}}`, or flattened `{id, name, arguments}` /
    /// `{id, name, parameters}`.
    fn from_entry(entry: &Value) -> Option<Self> {
        let obj = entry.as_object()?;
        let id = obj
            .get("id")?
            .as_str()
            .and_then(|s| ToolCallId::parse(s).ok())?;
        let function = obj.get("function").and_then(Value::as_object);
        let name = function
            .and_then(|f| f.get("name"))
            .or_else(|| obj.get("name"))
            .and_then(Value::as_str)
            .and_then(|s| lenient::clean_line(s, 128))
            .unwrap_or_default();
        let raw_args = function
            .and_then(|f| first_key(f, &["arguments", "parameters"]))
            .or_else(|| first_key(obj, &["arguments", "parameters"]))
            .unwrap_or(&Value::Null);
        Some(Self {
            id,
            name,
            arguments: normalize_arguments(raw_args),
        })
    }

    /// The arguments as an object, if they could be read.
    pub fn arguments(&self) -> Option<&Map<String, Value>> {
        self.arguments.as_ref()
    }

    /// The call, typed; or why it cannot be carried out (see [`ToolArgError::outcome`]).
    pub fn parse(&self, rules: &ArgRules) -> Result<ToolCall, ToolArgError> {
        let tool =
            ToolName::parse(&self.name).ok_or_else(|| ToolArgError::unknown_tool(&self.name))?;
        let args = self
            .arguments
            .as_ref()
            .ok_or(ToolArgError::Unreadable { tool })?;
        ToolCall::from_arguments(tool, args, rules)
    }
}

/// Debug shows the argument names, never their values (a phone number, a code).
impl fmt::Debug for ToolCallRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Option<Vec<DigitsHidden<'_>>> = self
            .arguments
            .as_ref()
            .map(|m| m.keys().map(|k| DigitsHidden(k)).collect());
        f.debug_struct("ToolCallRequest")
            .field("id", &self.id)
            .field("name", &DigitsHidden(&self.name))
            .field("argument_names", &keys)
            .finish()
    }
}

/// What the analysis plan extracted from the call (`analysis.structuredData`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StructuredData {
    pub caller_name: Option<String>,
    pub service_interest: Option<String>,
    pub wants_callback: Option<bool>,
    pub buying_intent: Option<bool>,
    pub notes: Option<String>,
}

impl StructuredData {
    /// Reads an object (or a JSON string holding one), accepting snake_case or camelCase keys,
    /// booleans as `"yes"`, `"true"`, `1`.
    fn from_value(v: &Value) -> Self {
        let owned;
        let map = match v {
            Value::Object(m) => m,
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => {
                    owned = m;
                    &owned
                }
                _ => return Self::default(),
            },
            _ => return Self::default(),
        };
        let text = |keys: &[&str], max| {
            first_key(map, keys)
                .and_then(|v| lenient::text(v, max))
                .filter(|s| !lenient::means_nothing(s))
        };
        let boolean = |keys: &[&str]| first_key(map, keys).and_then(lenient::boolish);
        Self {
            caller_name: text(&["caller_name", "callerName", "name"], 100),
            service_interest: text(&["service_interest", "serviceInterest", "service"], 200),
            wants_callback: boolean(&["wants_callback", "wantsCallback", "callback_requested"]),
            buying_intent: boolean(&["buying_intent", "buyingIntent"]),
            notes: text(&["notes"], 1000),
        }
    }
}

impl StructuredData {
    /// Reads `artifact.structuredOutputs`, `{id: {name, result}}`, by output name: the object
    /// result of our `booking_lead` output, or outputs named after a single field
    /// (`caller_name`, `wants_callback`...) that an operator created in Vapi's dashboard.
    fn from_structured_outputs(outputs: &Value) -> Self {
        let Some(outputs) = outputs.as_object() else {
            return Self::default();
        };
        let mut fields = Map::new();
        for output in outputs.values() {
            let (Some(name), Some(result)) = (str_at(output, &["name"]), at(output, &["result"]))
            else {
                continue;
            };
            if name == LEAD_OUTPUT_NAME {
                let parsed;
                let object = match result {
                    Value::String(s) => {
                        parsed = serde_json::from_str::<Value>(s).ok();
                        parsed.as_ref().and_then(Value::as_object)
                    }
                    other => other.as_object(),
                };
                for (k, v) in object.into_iter().flatten() {
                    fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
            } else if !result.is_object() {
                fields.insert(name.to_owned(), result.clone());
            }
        }
        Self::from_value(&Value::Object(fields))
    }

    /// `self`, with the gaps filled from `older`.
    fn or(self, older: Self) -> Self {
        Self {
            caller_name: self.caller_name.or(older.caller_name),
            service_interest: self.service_interest.or(older.service_interest),
            wants_callback: self.wants_callback.or(older.wants_callback),
            buying_intent: self.buying_intent.or(older.buying_intent),
            notes: self.notes.or(older.notes),
        }
    }
}

impl fmt::Debug for StructuredData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StructuredData")
            .field("caller_name", &hidden_opt(&self.caller_name))
            .field("service_interest", &hidden_opt(&self.service_interest))
            .field("wants_callback", &self.wants_callback)
            .field("buying_intent", &self.buying_intent)
            .field("notes", &hidden_opt(&self.notes))
            .finish()
    }
}

/// `end-of-call-report`.
#[derive(Clone, PartialEq)]
pub struct EndOfCallReport {
    pub context: MessageContext,
    /// `endedReason`, else `call.endedReason`.
    pub ended_reason: Option<String>,
    /// `startedAt`, else `call.startedAt`.
    pub started_at: Option<Timestamp>,
    /// `endedAt`, else `call.endedAt`.
    pub ended_at: Option<Timestamp>,
    /// From the start and the end (Vapi's schema has no duration field).
    pub duration_seconds: Option<u32>,
    /// `analysis.summary`, else our `call_summary` structured output, else the older top-level
    /// `summary`.
    pub summary: Option<String>,
    /// `artifact.structuredOutputs` (by output name), the gaps filled from the deprecated
    /// `analysis.structuredData`.
    pub structured: StructuredData,
    /// `artifact.transcript`, else the older top-level `transcript`. Multi-line, as sent.
    pub transcript: Option<String>,
}

impl EndOfCallReport {
    fn from_message(m: &Value, context: MessageContext) -> Self {
        let when = |keys: &[&[&str]]| {
            keys.iter()
                .find_map(|p| at(m, p).and_then(lenient::timestamp))
        };
        let started_at = when(&[&["startedAt"], &["call", "startedAt"]]);
        let ended_at = when(&[&["endedAt"], &["call", "endedAt"]]);
        let duration_seconds = match (started_at, ended_at) {
            (Some(s), Some(e)) => u32::try_from(e.duration_since(s).as_secs()).ok(),
            _ => None,
        };
        let outputs = [
            &["artifact", "structuredOutputs"][..],
            &["call", "artifact", "structuredOutputs"],
        ]
        .iter()
        .find_map(|p| at(m, p).filter(|v| v.is_object()));
        let output_summary = outputs.and_then(Value::as_object).and_then(|o| {
            o.values()
                .filter(|v| str_at(v, &["name"]) == Some(SUMMARY_OUTPUT_NAME))
                .find_map(|v| str_at(v, &["result"]))
                .and_then(|s| lenient::clean_line(s, 4000))
        });
        let summary = str_at(m, &["analysis", "summary"])
            .and_then(|s| lenient::clean_line(s, 4000))
            .or(output_summary)
            .or_else(|| str_at(m, &["summary"]).and_then(|s| lenient::clean_line(s, 4000)));
        let transcript = [&["artifact", "transcript"][..], &["transcript"]]
            .iter()
            .find_map(|p| str_at(m, p).map(str::to_owned));
        let current = outputs
            .map(StructuredData::from_structured_outputs)
            .unwrap_or_default();
        let older = at(m, &["analysis", "structuredData"])
            .map(StructuredData::from_value)
            .unwrap_or_default();
        Self {
            context,
            ended_reason: ended_reason(m),
            started_at,
            ended_at,
            duration_seconds,
            summary,
            structured: current.or(older),
            transcript,
        }
    }

    /// The report as the domain stores it. Fails only without a usable call id.
    pub fn to_call_report(&self) -> Result<CallReport, VapiError> {
        let call_id = self
            .context
            .call_id
            .clone()
            .ok_or(VapiError::MissingCallId)?;
        Ok(CallReport {
            call_id,
            caller: self.context.caller.clone(),
            called: self.context.called.clone(),
            started_at: self.started_at,
            ended_at: self.ended_at,
            ended_reason: self.ended_reason.clone(),
            summary: self.summary.clone(),
            structured: CapturedLead {
                caller_name: self.structured.caller_name.clone(),
                service_interest: self.structured.service_interest.clone(),
                wants_callback: self.structured.wants_callback,
                notes: self.structured.notes.clone(),
            },
            buying_intent: self.structured.buying_intent,
        })
    }
}

impl fmt::Debug for EndOfCallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndOfCallReport")
            .field("context", &self.context)
            .field("ended_reason", &self.ended_reason)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("duration_seconds", &self.duration_seconds)
            .field("summary", &hidden_opt(&self.summary))
            .field("structured", &self.structured)
            .field(
                "transcript_chars",
                &self.transcript.as_ref().map(|t| t.chars().count()),
            )
            .finish()
    }
}

/// `endedReason`, else `call.endedReason` (some of Vapi's published examples carry it only there).
fn ended_reason(m: &Value) -> Option<String> {
    [&["endedReason"][..], &["call", "endedReason"]]
        .iter()
        .find_map(|p| str_at(m, p).and_then(|s| lenient::clean_line(s, 200)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> ServerMessage {
        ServerMessage::from_value(&v).unwrap()
    }

    #[test]
    fn envelope_is_required_but_type_is_not() {
        for bad in [
            json!([]),
            json!({}),
            json!({"message": "x"}),
            json!({"message": null}),
            json!(3),
        ] {
            assert_eq!(
                ServerMessage::from_value(&bad),
                Err(VapiError::NotAnEnvelope),
                "{bad}"
            );
        }
        assert_eq!(parse(json!({"message": {}})).kind(), "");
        assert_eq!(parse(json!({"message": {"type": 5}})).kind(), "");
        assert_eq!(
            parse(json!({"message": {"type": "conversation-update", "whatever": [1]}})).kind(),
            "conversation-update"
        );
    }

    #[test]
    fn context_falls_back_as_documented() {
        let m = parse(json!({"message": {
            "type": "status-update",
            "call": {"id": "c1", "customer": {"number": 14155550123_i64}, "assistantId": "asst-1"},
            "phoneNumber": {"id": "pn1", "number": "+19254207621"},
            "customer": {"number": "+14155550123"},
            "timestamp": "2026-11-24T14:34:21.931Z"
        }}));
        let c = m.context();
        assert_eq!(c.call_id.as_ref().unwrap().as_str(), "c1");
        // Vapi's phoneNumber object has no id: only call.phoneNumberId names a Vapi number.
        assert_eq!(c.phone_number_id, None);
        assert_eq!(c.assistant_id.as_ref().unwrap().as_str(), "asst-1");
        assert_eq!(c.called.as_ref().unwrap().as_str(), "+19254207621");
        assert_eq!(c.caller.as_ref().unwrap().as_str(), "+14155550123");
        assert!(c.timestamp.is_some());

        let m = parse(json!({"message": {
            "type": "status-update",
            "call": {"id": "c1", "phoneNumberId": "pn-call", "customer": {"number": "anonymous"}},
            "phoneNumber": {"id": "pn-number"}
        }}));
        assert_eq!(
            m.context().phone_number_id.as_ref().unwrap().as_str(),
            "pn-call"
        );
        assert_eq!(m.context().caller, None);
    }

    #[test]
    fn arguments_as_object_string_flattened_or_parameters() {
        let m = parse(json!({"message": {"type": "tool-calls", "toolCallList": [
            {"id": "a", "type": "function", "function": {"name": "send_otp", "arguments": {"hold_id": "h"}}},
            {"id": "b", "type": "function", "function": {"name": "send_otp", "arguments": "{\"hold_id\":\"h\"}"}},
            {"id": "c", "name": "send_otp", "arguments": {"hold_id": "h"}},
            {"id": "d", "name": "send_otp", "parameters": {"hold_id": "h"}},
            {"id": "e", "name": "send_otp", "arguments": "{not json"},
            {"id": "f", "name": "send_otp"},
            {"name": "send_otp"},
            "junk",
            {"id": "", "name": "send_otp"}
        ]}}));
        let ServerMessage::ToolCalls(tc) = m else {
            panic!()
        };
        assert_eq!(tc.skipped, 3);
        let ids: Vec<&str> = tc.calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
        for c in &tc.calls[..4] {
            assert_eq!(c.name, "send_otp");
            assert_eq!(c.arguments().unwrap()["hold_id"], "h");
        }
        assert!(tc.calls[4].arguments().is_none());
        assert!(matches!(
            tc.calls[4].parse(&ArgRules::default()),
            Err(ToolArgError::Unreadable { .. })
        ));
        assert!(tc.calls[5].arguments().unwrap().is_empty());
        assert!(matches!(
            tc.calls[5].parse(&ArgRules::default()),
            Err(ToolArgError::Missing { arg: "hold_id", .. })
        ));
    }

    #[test]
    fn only_one_list_of_calls_is_read() {
        let call = json!({"id": "x", "function": {"name": "send_otp", "arguments": {}}});
        let m = parse(json!({"message": {"type": "tool-calls",
            "toolCallList": [call.clone()], "toolCalls": [call.clone()],
            "toolWithToolCallList": [{"toolCall": call.clone()}]}}));
        let ServerMessage::ToolCalls(tc) = m else {
            panic!()
        };
        assert_eq!(tc.calls.len(), 1);
        let m = parse(
            json!({"message": {"type": "tool-calls", "toolWithToolCallList": [{"toolCall": call}]}}),
        );
        let ServerMessage::ToolCalls(tc) = m else {
            panic!()
        };
        assert_eq!(tc.calls.len(), 1);
    }

    #[test]
    fn calls_past_the_limit_are_kept_to_be_answered_not_run() {
        let list: Vec<Value> = (0..40)
            .map(|i| json!({"id": format!("c{i}"), "name": "send_otp", "arguments": {}}))
            .collect();
        let ServerMessage::ToolCalls(tc) =
            parse(json!({"message": {"type": "tool-calls", "toolCallList": list}}))
        else {
            panic!()
        };
        assert_eq!(tc.calls.len(), MAX_TOOL_CALLS);
        let over: Vec<&str> = tc.over_limit.iter().map(|c| c.id.as_str()).collect();
        let expected: Vec<String> = (MAX_TOOL_CALLS..40).map(|i| format!("c{i}")).collect();
        assert_eq!(
            over, expected,
            "every call past the limit is kept to be answered"
        );
        assert!(tc.over_limit.iter().all(|c| c.name == "send_otp"));
        assert_eq!(tc.skipped, 0);
    }

    #[test]
    fn report_is_lenient_about_structured_data_and_fallbacks() {
        let m = parse(json!({"message": {
            "type": "end-of-call-report",
            "call": {"id": "c1", "customer": {"number": "+14155550123"}, "startedAt": "2026-11-24T14:38:30Z", "endedReason": "customer-ended-call"},
            "endedAt": "2026-11-24T14:40:00Z",
            "durationSeconds": 5000,
            "summary": "Old-style\nsummary.",
            "transcript": "AI: hi\nUser: hello",
            "analysis": {"structuredData": "{\"callerName\": \"Ann\", \"wants_callback\": \"yes\", \"buying_intent\": 1, \"service_interest\": \"N/A\"}"}
        }}));
        let ServerMessage::EndOfCallReport(r) = m else {
            panic!()
        };
        // From call.startedAt and endedAt; durationSeconds is in no schema and is not read.
        assert_eq!(r.duration_seconds, Some(90));
        assert_eq!(r.ended_reason.as_deref(), Some("customer-ended-call"));
        assert_eq!(r.summary.as_deref(), Some("Old-style summary."));
        assert_eq!(r.transcript.as_deref(), Some("AI: hi\nUser: hello"));
        let report = r.to_call_report().unwrap();
        assert_eq!(report.duration_seconds(), Some(90));
        assert_eq!(report.structured.caller_name.as_deref(), Some("Ann"));
        assert_eq!(report.structured.service_interest, None);
        assert_eq!(report.structured.wants_callback, Some(true));
        assert_eq!(report.buying_intent, Some(true));
        assert_eq!(report.caller.unwrap().as_str(), "+14155550123");
    }

    #[test]
    fn structured_outputs_are_read_by_name_and_win_over_the_old_analysis() {
        let ServerMessage::EndOfCallReport(r) = parse(json!({"message": {
            "type": "end-of-call-report",
            "call": {"id": "c1"},
            "analysis": {"structuredData": {"caller_name": "Old Name", "notes": "from the old plan"}},
            "artifact": {"structuredOutputs": {
                "5b1c…": {"name": "booking_lead", "result": {"caller_name": "Ann Lee", "wants_callback": true}},
                "9d0e…": {"name": "call_summary", "result": "Ann asked about whitening."},
                "a1": {"name": "service_interest", "result": "Whitening"},
                "a2": {"name": "buying_intent", "result": "yes"},
                "a3": {"name": "unrelated"},
                "a4": "junk"
            }}
        }})) else {
            panic!()
        };
        let s = &r.structured;
        assert_eq!(s.caller_name.as_deref(), Some("Ann Lee"));
        assert_eq!(s.service_interest.as_deref(), Some("Whitening"));
        assert_eq!(s.wants_callback, Some(true));
        assert_eq!(s.buying_intent, Some(true));
        assert_eq!(s.notes.as_deref(), Some("from the old plan"));
        assert_eq!(r.summary.as_deref(), Some("Ann asked about whitening."));
    }

    #[test]
    fn tool_with_tool_call_list_falls_back_to_the_tool_name() {
        let m = parse(
            json!({"message": {"type": "tool-calls", "toolWithToolCallList": [
                {"type": "function", "function": {"name": "send_otp"},
                 "toolCall": {"id": "x", "type": "function", "function": {"arguments": {"hold_id": "h"}}}},
                {"type": "function", "function": {"name": "send_otp"},
                 "toolCall": {"id": "y", "type": "function", "function": {"name": "verify_otp", "arguments": {}}}}
            ]}}),
        );
        let ServerMessage::ToolCalls(tc) = m else {
            panic!()
        };
        assert_eq!(tc.calls[0].name, "send_otp");
        assert_eq!(tc.calls[1].name, "verify_otp");
    }

    #[test]
    fn report_without_call_id_cannot_become_a_call_report() {
        let ServerMessage::EndOfCallReport(r) =
            parse(json!({"message": {"type": "end-of-call-report", "call": {"id": "  "}}}))
        else {
            panic!()
        };
        assert_eq!(r.to_call_report(), Err(VapiError::MissingCallId));
    }

    #[test]
    fn negative_or_absurd_durations_are_dropped() {
        let ServerMessage::EndOfCallReport(r) = parse(
            json!({"message": {"type": "end-of-call-report",
            "startedAt": "2026-11-24T14:40:00Z", "endedAt": "2026-11-24T14:30:00Z", "durationSeconds": -4}}),
        ) else {
            panic!()
        };
        assert_eq!(r.duration_seconds, None);
    }
}
