//! Replies to Vapi: `{"results": [...]}` for tool calls, `{"error": ...}` for an assistant-request
//! we cannot serve. Every `result` and `error` string is a single line (a newline breaks Vapi's
//! parser): this is enforced by the [`OneLine`] type, not left to the caller.

use std::fmt;

use booking_core::ToolCallId;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::catalogue::field;
use crate::lenient::{self, is_line_separator};

/// A string with no line break of any kind (`\n`, `\r`, U+0085, U+2028, U+2029, vertical tab, form
/// feed) and no other control character.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct OneLine(String);

impl OneLine {
    /// `s` with every line break and control character replaced by a space.
    pub fn new(s: &str) -> Self {
        Self(
            s.chars()
                .map(|c| {
                    if c.is_control() || is_line_separator(c) {
                        ' '
                    } else {
                        c
                    }
                })
                .collect(),
        )
    }

    /// A sentence to be spoken: one line, whitespace collapsed, at most 1,000 characters.
    pub fn sentence(s: &str) -> Self {
        Self(lenient::clean_line(s, 1000).unwrap_or_default())
    }

    /// JSON on one line. serde_json already escapes control characters below U+0020 inside
    /// strings; the separators it leaves as they are (U+0085, U+2028, U+2029) are escaped here.
    /// Outside strings compact JSON has no whitespace, so the result is the same JSON value.
    pub fn json(value: &Value) -> Self {
        Self::from_compact_json(&value.to_string())
    }

    fn from_compact_json(compact: &str) -> Self {
        let mut out = String::with_capacity(compact.len());
        for c in compact.chars() {
            match c {
                '\u{85}' => out.push_str("\\u0085"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c if c.is_control() || is_line_separator(c) => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c => out.push(c),
            }
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for OneLine {
    fn from(s: String) -> Self {
        if s.chars().any(|c| c.is_control() || is_line_separator(c)) {
            Self::new(&s)
        } else {
            Self(s)
        }
    }
}

impl From<OneLine> for String {
    fn from(l: OneLine) -> String {
        l.0
    }
}

impl fmt::Display for OneLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OneLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A tool's answer: `{"ok": bool, "message": "<a sentence the model can say>", ...fields}`.
///
/// A business refusal (slot taken, wrong code, unknown service) is `ok: false` with a helpful
/// message; failures of our own are [`ToolOutcome::error`] instead.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    ok: bool,
    message: String,
    fields: Map<String, Value>,
}

impl ToolResult {
    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(true, message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(false, message.into())
    }

    fn new(ok: bool, message: String) -> Self {
        Self {
            ok,
            message: lenient::clean_line(&message, 1000).unwrap_or_default(),
            fields: Map::new(),
        }
    }

    /// Adds a field (`hold_id`, `slots`...). `ok` and `message` cannot be overwritten this way; a
    /// value that cannot be represented as JSON is left out.
    pub fn field(mut self, key: &str, value: impl Serialize) -> Self {
        if key != field::OK
            && key != field::MESSAGE
            && let Ok(v) = serde_json::to_value(value)
        {
            self.fields.insert(key.to_owned(), v);
        }
        self
    }

    pub fn is_ok(&self) -> bool {
        self.ok
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(self.fields.len() + 2);
        m.insert(field::OK.into(), Value::Bool(self.ok));
        m.insert(field::MESSAGE.into(), Value::String(self.message.clone()));
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// The result as one line of JSON, `ok` and `message` first.
    pub fn to_line(&self) -> OneLine {
        match serde_json::to_string(self) {
            Ok(s) => OneLine::from_compact_json(&s),
            Err(_) => OneLine::json(&self.to_value()),
        }
    }

    pub fn into_outcome(self) -> ToolOutcome {
        ToolOutcome::Result(self.to_line())
    }
}

impl Serialize for ToolResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = serializer.serialize_map(Some(self.fields.len() + 2))?;
        m.serialize_entry(field::OK, &self.ok)?;
        m.serialize_entry(field::MESSAGE, &self.message)?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// What one tool call answered, ready to send and to store for a replay of the same
/// `toolCallId`. Serializes as `{"result": "..."}` or `{"error": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolOutcome {
    Result(OneLine),
    Error(OneLine),
}

impl ToolOutcome {
    /// A failure of our own (or an unknown tool), as one sentence.
    pub fn error(sentence: &str) -> Self {
        ToolOutcome::Error(OneLine::sentence(sentence))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, ToolOutcome::Error(_))
    }

    pub fn line(&self) -> &OneLine {
        match self {
            ToolOutcome::Result(l) | ToolOutcome::Error(l) => l,
        }
    }
}

impl From<ToolResult> for ToolOutcome {
    fn from(r: ToolResult) -> Self {
        r.into_outcome()
    }
}

/// One entry of `results`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolReply {
    pub tool_call_id: ToolCallId,
    /// The tool name as called (cleaned to one line).
    pub name: OneLine,
    pub outcome: ToolOutcome,
}

impl Serialize for ToolReply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = serializer.serialize_map(Some(3))?;
        m.serialize_entry("toolCallId", self.tool_call_id.as_str())?;
        m.serialize_entry("name", &self.name)?;
        match &self.outcome {
            ToolOutcome::Result(l) => m.serialize_entry("result", l)?,
            ToolOutcome::Error(l) => m.serialize_entry("error", l)?,
        }
        m.end()
    }
}

/// The body answering a `tool-calls` message: one entry per call, in the order of the calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ToolReplies {
    results: Vec<ToolReply>,
}

impl ToolReplies {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, tool_call_id: ToolCallId, name: &str, outcome: ToolOutcome) {
        self.results.push(ToolReply {
            tool_call_id,
            name: OneLine::new(name),
            outcome,
        });
    }

    pub fn results(&self) -> &[ToolReply] {
        &self.results
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({"results": []}))
    }
}

/// The answer to an `assistant-request` we cannot serve: Vapi speaks the sentence, then ends the
/// call.
pub fn assistant_error(sentence: &str) -> Value {
    json!({"error": OneLine::sentence(sentence)})
}

/// The sentence for a call to a number no clinic has configured.
pub const UNKNOWN_NUMBER_SENTENCE: &str =
    "Sorry, this number is not set up to take calls yet. Please try again later.";

/// [`assistant_error`] for a called number (or phone-number id) that belongs to no clinic.
pub fn unknown_number_error() -> Value {
    assistant_error(UNKNOWN_NUMBER_SENTENCE)
}

/// The body for server messages that need no answer.
pub fn acknowledged() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ToolCallId {
        ToolCallId::parse(s).unwrap()
    }

    #[test]
    fn results_are_one_line_json_with_ok_and_message_first() {
        let r = ToolResult::ok("Held until 2:10 PM.\nSay it.")
            .field("hold_id", "abc")
            .field("ok", false)
            .field("note", "line one\nline two\r\u{2028}\u{2029}\u{85}end");
        let line = r.to_line();
        let s = line.as_str();
        assert!(
            !s.contains(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']),
            "{s}"
        );
        let back: Value = serde_json::from_str(s).unwrap();
        assert_eq!(back["ok"], true);
        assert_eq!(back["message"], "Held until 2:10 PM. Say it.");
        assert_eq!(back["hold_id"], "abc");
        assert_eq!(
            back["note"],
            "line one\nline two\r\u{2028}\u{2029}\u{85}end"
        );
        assert!(s.starts_with(r#"{"ok":true,"message":"#), "{s}");
    }

    #[test]
    fn replies_keep_order_and_shape() {
        let mut replies = ToolReplies::new();
        replies.push(
            id("call_1"),
            "check_availability",
            ToolResult::refused("No times that day.").into(),
        );
        replies.push(
            id("call_2"),
            "nope\nnope",
            ToolOutcome::error("There is no tool\nnamed nope."),
        );
        let v = replies.to_value();
        assert_eq!(v["results"][0]["toolCallId"], "call_1");
        assert_eq!(v["results"][0]["name"], "check_availability");
        assert!(v["results"][0].get("error").is_none());
        assert_eq!(v["results"][1]["toolCallId"], "call_2");
        assert_eq!(v["results"][1]["name"], "nope nope");
        assert_eq!(v["results"][1]["error"], "There is no tool named nope.");
        assert!(v["results"][1].get("result").is_none());
        let body = v.to_string();
        assert!(!body.contains('\n'));
    }

    #[test]
    fn stored_outcomes_round_trip_and_stay_single_line() {
        let o = ToolResult::ok("Booked.")
            .field("appointment_id", "x")
            .into_outcome();
        let stored = serde_json::to_string(&o).unwrap();
        assert!(stored.starts_with(r#"{"result":"#), "{stored}");
        assert_eq!(serde_json::from_str::<ToolOutcome>(&stored).unwrap(), o);
        let tampered: ToolOutcome = serde_json::from_str(r#"{"error":"a\nb\u2028c"}"#).unwrap();
        assert_eq!(tampered.line().as_str(), "a b c");
    }

    #[test]
    fn assistant_errors_are_one_sentence() {
        assert_eq!(
            unknown_number_error(),
            json!({"error": UNKNOWN_NUMBER_SENTENCE})
        );
        assert_eq!(assistant_error("a\n\nb"), json!({"error": "a b"}));
    }
}
