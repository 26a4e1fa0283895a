//! Strict mirrors of the objects of Vapi's API schema that our replies use, written by reading
//! VapiAI/docs `fern/apis/api/openapi.json` at commit eabfa530011ea11c0387cafc424df7a105bf9de5
//! (2026-08-20). Each struct lists exactly the properties the schema gives the object of the same
//! name (`#[serde(deny_unknown_fields)]`), so a field Vapi does not define, or a misspelled one,
//! fails to deserialize. Enums are the schema's enums. Objects we never send are accepted as any
//! value ([`Unused`]) under their schema name, so that the field list stays complete.
//!
//! With the document at hand, `mirrors_list_exactly_the_schema_properties` (tests/contract.rs)
//! checks these field lists against it.

#![allow(dead_code, clippy::enum_variant_names, clippy::large_enum_variant)]

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};

/// A property of the schema we never send: any value is accepted, it is not checked further.
pub type Unused = serde::de::IgnoredAny;

/// Reads `value` as a `T`; the message names the first unknown field or wrong value.
pub fn strict<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

/// The names of the fields a mirror struct accepts.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Catch;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> Deserializer<'de> for Catch {
        type Error = Fields;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Catch) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

// ------------------------------------------------------------------------------------------
// Replies to server messages

/// `ServerMessageResponseAssistantRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerMessageResponseAssistantRequest {
    pub destination: Option<Unused>,
    #[serde(rename = "assistantId")]
    pub assistant_id: Option<String>,
    pub assistant: Option<CreateAssistantDto>,
    #[serde(rename = "assistantOverrides")]
    pub assistant_overrides: Option<Unused>,
    #[serde(rename = "squadId")]
    pub squad_id: Option<String>,
    pub squad: Option<Unused>,
    #[serde(rename = "squadOverrides")]
    pub squad_overrides: Option<Unused>,
    #[serde(rename = "workflowId")]
    pub workflow_id: Option<String>,
    pub workflow: Option<Unused>,
    #[serde(rename = "workflowOverrides")]
    pub workflow_overrides: Option<Unused>,
    pub error: Option<String>,
}

/// `ServerMessageResponseToolCalls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerMessageResponseToolCalls {
    pub results: Option<Vec<ToolCallResult>>,
    pub error: Option<String>,
}

/// `ToolCallResult`: `name` and `toolCallId` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallResult {
    pub message: Option<ToolCallResultMessage>,
    pub name: String,
    #[serde(rename = "toolCallId")]
    pub tool_call_id: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// `ToolCallResult.message`: one of `ToolMessageComplete`, `ToolMessageFailed`.
#[derive(Debug)]
pub enum ToolCallResultMessage {
    Complete(ToolMessageComplete),
    Failed(ToolMessageFailed),
}

impl<'de> Deserialize<'de> for ToolCallResultMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v.get("type").and_then(Value::as_str) {
            Some("request-complete") => serde_json::from_value(v)
                .map(Self::Complete)
                .map_err(D::Error::custom),
            Some("request-failed") => serde_json::from_value(v)
                .map(Self::Failed)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "message type {other:?} is not request-complete or request-failed"
            ))),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The assistant

/// `CreateAssistantDTO`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssistantDto {
    pub transcriber: Option<Unused>,
    pub model: Option<OpenAiModel>,
    pub voice: Option<Unused>,
    #[serde(rename = "firstMessage")]
    pub first_message: Option<String>,
    #[serde(rename = "firstMessageInterruptionsEnabled")]
    pub first_message_interruptions_enabled: Option<bool>,
    #[serde(rename = "firstMessageMode")]
    pub first_message_mode: Option<FirstMessageMode>,
    #[serde(rename = "voicemailDetection")]
    pub voicemail_detection: Option<Unused>,
    #[serde(rename = "clientMessages")]
    pub client_messages: Option<Unused>,
    #[serde(rename = "serverMessages")]
    pub server_messages: Option<Vec<ServerMessageType>>,
    #[serde(rename = "maxDurationSeconds")]
    pub max_duration_seconds: Option<f64>,
    #[serde(rename = "backgroundSound")]
    pub background_sound: Option<Unused>,
    #[serde(rename = "modelOutputInMessagesEnabled")]
    pub model_output_in_messages_enabled: Option<bool>,
    #[serde(rename = "transportConfigurations")]
    pub transport_configurations: Option<Unused>,
    #[serde(rename = "observabilityPlan")]
    pub observability_plan: Option<Unused>,
    pub credentials: Option<Unused>,
    pub hooks: Option<Unused>,
    pub name: Option<String>,
    #[serde(rename = "voicemailMessage")]
    pub voicemail_message: Option<String>,
    #[serde(rename = "endCallMessage")]
    pub end_call_message: Option<String>,
    #[serde(rename = "endCallPhrases")]
    pub end_call_phrases: Option<Vec<String>>,
    #[serde(rename = "compliancePlan")]
    pub compliance_plan: Option<Unused>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(rename = "backgroundSpeechDenoisingPlan")]
    pub background_speech_denoising_plan: Option<Unused>,
    /// Deprecated in the schema; we do not send it.
    #[serde(rename = "analysisPlan")]
    pub analysis_plan: Option<Unused>,
    #[serde(rename = "artifactPlan")]
    pub artifact_plan: Option<ArtifactPlan>,
    #[serde(rename = "startSpeakingPlan")]
    pub start_speaking_plan: Option<Unused>,
    #[serde(rename = "stopSpeakingPlan")]
    pub stop_speaking_plan: Option<Unused>,
    #[serde(rename = "monitorPlan")]
    pub monitor_plan: Option<Unused>,
    #[serde(rename = "credentialIds")]
    pub credential_ids: Option<Vec<String>>,
    pub server: Option<Server>,
    #[serde(rename = "keypadInputPlan")]
    pub keypad_input_plan: Option<Unused>,
}

/// `CreateAssistantDTO.firstMessageMode`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum FirstMessageMode {
    #[serde(rename = "assistant-speaks-first")]
    AssistantSpeaksFirst,
    #[serde(rename = "assistant-speaks-first-with-model-generated-message")]
    AssistantSpeaksFirstWithModelGeneratedMessage,
    #[serde(rename = "assistant-waits-for-user")]
    AssistantWaitsForUser,
}

/// `CreateAssistantDTO.serverMessages` items.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum ServerMessageType {
    #[serde(rename = "assistant.started")]
    AssistantStarted,
    #[serde(rename = "assistant.speechStarted")]
    AssistantSpeechStarted,
    #[serde(rename = "conversation-update")]
    ConversationUpdate,
    #[serde(rename = "end-of-call-report")]
    EndOfCallReport,
    #[serde(rename = "function-call")]
    FunctionCall,
    #[serde(rename = "hang")]
    Hang,
    #[serde(rename = "language-changed")]
    LanguageChanged,
    #[serde(rename = "language-change-detected")]
    LanguageChangeDetected,
    #[serde(rename = "model-output")]
    ModelOutput,
    #[serde(rename = "phone-call-control")]
    PhoneCallControl,
    #[serde(rename = "speech-update")]
    SpeechUpdate,
    #[serde(rename = "status-update")]
    StatusUpdate,
    #[serde(rename = "transcript")]
    Transcript,
    #[serde(rename = "transcript[transcriptType=\"final\"]")]
    TranscriptFinal,
    #[serde(rename = "tool-calls")]
    ToolCalls,
    #[serde(rename = "transfer-destination-request")]
    TransferDestinationRequest,
    #[serde(rename = "handoff-destination-request")]
    HandoffDestinationRequest,
    #[serde(rename = "transfer-update")]
    TransferUpdate,
    #[serde(rename = "user-interrupted")]
    UserInterrupted,
    #[serde(rename = "voice-input")]
    VoiceInput,
    #[serde(rename = "chat.created")]
    ChatCreated,
    #[serde(rename = "chat.deleted")]
    ChatDeleted,
    #[serde(rename = "session.created")]
    SessionCreated,
    #[serde(rename = "session.updated")]
    SessionUpdated,
    #[serde(rename = "session.deleted")]
    SessionDeleted,
    #[serde(rename = "call.deleted")]
    CallDeleted,
    #[serde(rename = "call.delete.failed")]
    CallDeleteFailed,
    #[serde(rename = "call.artifact.upload")]
    CallArtifactUpload,
}

/// `Server`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(rename = "timeoutSeconds")]
    pub timeout_seconds: Option<f64>,
    #[serde(rename = "credentialId")]
    pub credential_id: Option<String>,
    #[serde(rename = "staticIpAddressesEnabled")]
    pub static_ip_addresses_enabled: Option<bool>,
    #[serde(rename = "encryptedPaths")]
    pub encrypted_paths: Option<Vec<String>>,
    pub url: Option<String>,
    pub headers: Option<Map<String, Value>>,
    #[serde(rename = "backoffPlan")]
    pub backoff_plan: Option<Unused>,
}

/// `OpenAIModel` (the member of `CreateAssistantDTO.model` we use); `provider` and `model`
/// required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiModel {
    pub messages: Option<Vec<OpenAiMessage>>,
    pub tools: Option<Vec<Tool>>,
    #[serde(rename = "toolIds")]
    pub tool_ids: Option<Vec<String>>,
    #[serde(rename = "toolRefs")]
    pub tool_refs: Option<Unused>,
    #[serde(rename = "knowledgeBase")]
    pub knowledge_base: Option<Unused>,
    pub provider: OpenAiProvider,
    /// One of the schema's 156 model names: checked against the document when it is at hand.
    pub model: String,
    #[serde(rename = "fallbackModels")]
    pub fallback_models: Option<Vec<String>>,
    #[serde(rename = "toolStrictCompatibilityMode")]
    pub tool_strict_compatibility_mode: Option<Unused>,
    #[serde(rename = "promptCacheRetention")]
    pub prompt_cache_retention: Option<Unused>,
    #[serde(rename = "promptCacheKey")]
    pub prompt_cache_key: Option<String>,
    #[serde(rename = "reasoningEffort")]
    pub reasoning_effort: Option<Unused>,
    pub temperature: Option<f64>,
    #[serde(rename = "maxTokens")]
    pub max_tokens: Option<f64>,
    #[serde(rename = "emotionRecognitionEnabled")]
    pub emotion_recognition_enabled: Option<bool>,
    #[serde(rename = "numFastTurns")]
    pub num_fast_turns: Option<f64>,
}

/// `OpenAIModel.provider`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum OpenAiProvider {
    #[serde(rename = "openai")]
    OpenAi,
}

/// `OpenAIMessage`: both required, `content` nullable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiMessage {
    pub content: Option<String>,
    pub role: OpenAiMessageRole,
}

/// `OpenAIMessage.role`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OpenAiMessageRole {
    Assistant,
    Function,
    User,
    System,
    Tool,
}

/// The members of `OpenAIModel.tools` we use, by `type`.
#[derive(Debug)]
pub enum Tool {
    Function(CreateFunctionToolDto),
    EndCall(CreateEndCallToolDto),
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v.get("type").and_then(Value::as_str) {
            Some("function") => strict(&v).map(Self::Function).map_err(D::Error::custom),
            Some("endCall") => strict(&v).map(Self::EndCall).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "tool type {other:?} is not one we mirror (function, endCall)"
            ))),
        }
    }
}

/// `CreateFunctionToolDTO`: `type` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFunctionToolDto {
    pub messages: Option<Vec<ToolMessage>>,
    #[serde(rename = "type")]
    pub kind: FunctionToolType,
    #[serde(rename = "async")]
    pub is_async: Option<bool>,
    pub server: Option<Server>,
    #[serde(rename = "variableExtractionPlan")]
    pub variable_extraction_plan: Option<Unused>,
    /// Static key-value pairs (`ToolParameter`), not the function's arguments.
    pub parameters: Option<Unused>,
    pub function: Option<OpenAiFunction>,
    #[serde(rename = "rejectionPlan")]
    pub rejection_plan: Option<Unused>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum FunctionToolType {
    #[serde(rename = "function")]
    Function,
}

/// `CreateEndCallToolDTO`: `type` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndCallToolDto {
    pub messages: Option<Vec<ToolMessage>>,
    #[serde(rename = "type")]
    pub kind: EndCallToolType,
    #[serde(rename = "rejectionPlan")]
    pub rejection_plan: Option<Unused>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum EndCallToolType {
    #[serde(rename = "endCall")]
    EndCall,
}

/// `OpenAIFunction`: `name` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiFunction {
    pub name: String,
    pub strict: Option<bool>,
    pub description: Option<String>,
    pub parameters: Option<OpenAiFunctionParameters>,
}

/// `OpenAIFunctionParameters`: `type` and `properties` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiFunctionParameters {
    #[serde(rename = "type")]
    pub kind: ObjectType,
    pub properties: Map<String, Value>,
    pub required: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub enum ObjectType {
    #[serde(rename = "object")]
    Object,
}

/// `JsonSchema`: `type` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSchema {
    #[serde(rename = "type")]
    pub kind: JsonSchemaType,
    pub items: Option<Box<JsonSchema>>,
    pub properties: Option<std::collections::BTreeMap<String, JsonSchema>>,
    pub description: Option<String>,
    pub pattern: Option<String>,
    pub format: Option<Unused>,
    pub required: Option<Vec<String>>,
    #[serde(rename = "enum")]
    pub one_of_values: Option<Vec<String>>,
    pub title: Option<String>,
}

/// `JsonSchema.type`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JsonSchemaType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

/// `CreateFunctionToolDTO.messages` items, by `type`.
#[derive(Debug)]
pub enum ToolMessage {
    Start(ToolMessageStart),
    Complete(ToolMessageComplete),
    Failed(ToolMessageFailed),
    Delayed(ToolMessageDelayed),
}

impl<'de> Deserialize<'de> for ToolMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let r = match v.get("type").and_then(Value::as_str) {
            Some("request-start") => strict(&v).map(Self::Start),
            Some("request-complete") => strict(&v).map(Self::Complete),
            Some("request-failed") => strict(&v).map(Self::Failed),
            Some("request-response-delayed") => strict(&v).map(Self::Delayed),
            other => Err(format!("tool message type {other:?} is not in the schema")),
        };
        r.map_err(D::Error::custom)
    }
}

/// `ToolMessageStart`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolMessageStart {
    pub contents: Option<Unused>,
    #[serde(rename = "type")]
    pub kind: String,
    pub blocking: Option<bool>,
    pub content: Option<String>,
    pub conditions: Option<Unused>,
}

/// `ToolMessageComplete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolMessageComplete {
    pub contents: Option<Unused>,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: Option<ToolMessageRole>,
    #[serde(rename = "endCallAfterSpokenEnabled")]
    pub end_call_after_spoken_enabled: Option<bool>,
    pub content: Option<String>,
    pub conditions: Option<Unused>,
}

/// `ToolMessageFailed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolMessageFailed {
    pub contents: Option<Unused>,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: Option<ToolMessageRole>,
    #[serde(rename = "endCallAfterSpokenEnabled")]
    pub end_call_after_spoken_enabled: Option<bool>,
    pub content: Option<String>,
    pub conditions: Option<Unused>,
}

/// `ToolMessageDelayed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolMessageDelayed {
    pub contents: Option<Unused>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "timingMilliseconds")]
    pub timing_milliseconds: Option<f64>,
    pub content: Option<String>,
    pub conditions: Option<Unused>,
}

/// `ToolMessageComplete.role` / `ToolMessageFailed.role`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ToolMessageRole {
    Assistant,
    System,
}

/// `ArtifactPlan`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactPlan {
    #[serde(rename = "recordingEnabled")]
    pub recording_enabled: Option<bool>,
    #[serde(rename = "recordingFormat")]
    pub recording_format: Option<Unused>,
    #[serde(rename = "recordingUseCustomStorageEnabled")]
    pub recording_use_custom_storage_enabled: Option<bool>,
    #[serde(rename = "videoRecordingEnabled")]
    pub video_recording_enabled: Option<bool>,
    #[serde(rename = "fullMessageHistoryEnabled")]
    pub full_message_history_enabled: Option<bool>,
    #[serde(rename = "pcapEnabled")]
    pub pcap_enabled: Option<bool>,
    #[serde(rename = "pcapS3PathPrefix")]
    pub pcap_s3_path_prefix: Option<String>,
    #[serde(rename = "pcapUseCustomStorageEnabled")]
    pub pcap_use_custom_storage_enabled: Option<bool>,
    #[serde(rename = "loggingEnabled")]
    pub logging_enabled: Option<bool>,
    #[serde(rename = "loggingUseCustomStorageEnabled")]
    pub logging_use_custom_storage_enabled: Option<bool>,
    #[serde(rename = "transcriptPlan")]
    pub transcript_plan: Option<Unused>,
    #[serde(rename = "recordingPath")]
    pub recording_path: Option<String>,
    #[serde(rename = "structuredOutputIds")]
    pub structured_output_ids: Option<Vec<String>>,
    #[serde(rename = "structuredOutputs")]
    pub structured_outputs: Option<Vec<CreateStructuredOutputDto>>,
    #[serde(rename = "scorecardIds")]
    pub scorecard_ids: Option<Vec<String>>,
    pub scorecards: Option<Unused>,
    #[serde(rename = "loggingPath")]
    pub logging_path: Option<String>,
}

/// `CreateStructuredOutputDTO`: `name` and `schema` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStructuredOutputDto {
    #[serde(rename = "type")]
    pub kind: Option<StructuredOutputType>,
    pub regex: Option<String>,
    pub model: Option<Unused>,
    #[serde(rename = "compliancePlan")]
    pub compliance_plan: Option<Unused>,
    pub conditions: Option<Unused>,
    pub name: String,
    pub schema: JsonSchema,
    pub description: Option<String>,
    #[serde(rename = "assistantIds")]
    pub assistant_ids: Option<Vec<String>>,
    #[serde(rename = "workflowIds")]
    pub workflow_ids: Option<Vec<String>>,
}

/// `CreateStructuredOutputDTO.type`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StructuredOutputType {
    Ai,
    Regex,
}
