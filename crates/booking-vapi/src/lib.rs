//! Vapi's side of a phone call, without HTTP: reading Vapi's server messages and tool calls
//! tolerantly, answering them on one line, the tool catalogue, and the assistant a clinic's number
//! gets for `assistant-request`. The api crate serves these over HTTP.
//!
//! - [`parse_server_message`] reads a webhook body into a [`ServerMessage`].
//! - [`ToolCallRequest::parse`] / [`ToolCall::parse`] read a tool call into a typed [`ToolCall`].
//! - [`Speak`] says a use-case's outcome to the model as a [`ToolResult`]: every sentence the
//!   model hears about a booking is in [`speech`].
//! - [`ToolReplies`], [`ToolResult`] and [`ToolOutcome`] build the `{"results": [...]}` answer.
//! - [`compose_assistant`] builds `{"assistant": {...}}`; [`unknown_number_error`] the refusal.
//! - [`CATALOGUE`] defines every tool once.

pub mod assistant;
pub mod catalogue;
pub mod error;
mod lenient;
pub mod message;
pub mod reply;
pub mod speech;
pub mod tools;

pub use assistant::{
    AssistantOptions, LEAD_OUTPUT_NAME, PROTOCOL_HEADING, SUMMARY_OUTPUT_NAME, compose_assistant,
    system_prompt,
};
pub use catalogue::{
    ArgKind, ArgSpec, CATALOGUE, ServerAuth, ToolName, ToolServer, ToolSpec, end_call_tool,
    tool_definitions,
};
pub use error::VapiError;
pub use message::{
    AssistantRequest, EndOfCallReport, MessageContext, OtherMessage, ServerMessage, StatusUpdate,
    StructuredData, ToolCallRequest, ToolCallsMessage, parse_server_message,
};
pub use reply::{
    OneLine, ToolOutcome, ToolReplies, ToolReply, ToolResult, acknowledged, assistant_error,
    unknown_number_error,
};
pub use speech::{SlotOffer, Speak};
pub use tools::{ArgRules, SlotStart, ToolArgError, ToolCall};
