/// A request body that cannot be read as a Vapi server message at all. Unknown message types,
/// unknown fields and odd field types are not errors (see [`crate::ServerMessage`]).
///
/// The messages never quote the body: it may hold secrets and phone numbers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VapiError {
    /// The body is not JSON (or is cut short).
    #[error("the body is not valid JSON ({category} at line {line}, column {column})")]
    MalformedJson {
        category: &'static str,
        line: usize,
        column: usize,
    },
    /// JSON, but not `{"message": {...}}`.
    #[error("the body is not a Vapi server message: expected an object with a \"message\" object")]
    NotAnEnvelope,
    /// An end-of-call report without a usable `message.call.id`.
    #[error("the end-of-call report has no usable call id")]
    MissingCallId,
}

impl VapiError {
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let category = match e.classify() {
            Category::Io => "read error",
            Category::Syntax => "syntax error",
            Category::Data => "unexpected data",
            Category::Eof => "unexpected end of input",
        };
        Self::MalformedJson {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}
