//! The tools the model is given, defined once: names, arguments (with which are required), when
//! to use each, and what Vapi says aloud while one runs. The argument parser in [`crate::tools`]
//! reads the same names, and the JSON Schema sent to Vapi is generated from this table.

use std::fmt;

use booking_core::tenant::Secret;
use serde_json::{Map, Value, json};

/// One of our tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolName {
    CheckAvailability,
    ReserveSlot,
    SendOtp,
    VerifyOtp,
    SendConfirmationSms,
    CancelAppointment,
    RescheduleAppointment,
    CaptureLead,
    JoinWaitlist,
}

impl ToolName {
    pub const ALL: [ToolName; 9] = [
        ToolName::CheckAvailability,
        ToolName::ReserveSlot,
        ToolName::SendOtp,
        ToolName::VerifyOtp,
        ToolName::SendConfirmationSms,
        ToolName::CancelAppointment,
        ToolName::RescheduleAppointment,
        ToolName::CaptureLead,
        ToolName::JoinWaitlist,
    ];

    /// The name the model sees and calls.
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolName::CheckAvailability => "check_availability",
            ToolName::ReserveSlot => "reserve_slot",
            ToolName::SendOtp => "send_otp",
            ToolName::VerifyOtp => "verify_otp",
            ToolName::SendConfirmationSms => "send_confirmation_sms",
            ToolName::CancelAppointment => "cancel_appointment",
            ToolName::RescheduleAppointment => "reschedule_appointment",
            ToolName::CaptureLead => "capture_lead",
            ToolName::JoinWaitlist => "join_waitlist",
        }
    }

    /// The tool a call names. Surrounding spaces, letter case and `-` for `_` are forgiven;
    /// anything else is not one of our tools.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.len() > 64 {
            return None;
        }
        let norm = name.replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(&norm))
    }

    /// This tool's entry in the catalogue.
    pub fn spec(self) -> &'static ToolSpec {
        // CATALOGUE lists the tools in declaration order (checked by a test).
        &CATALOGUE[self as usize]
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Argument names, shared by the catalogue and the parser.
pub mod arg {
    pub const SERVICE: &str = "service";
    pub const DATE: &str = "date";
    pub const AFTER: &str = "after";
    pub const START: &str = "start";
    pub const CALLER_NAME: &str = "caller_name";
    pub const HOLD_ID: &str = "hold_id";
    pub const PHONE: &str = "phone";
    pub const CODE: &str = "code";
    pub const APPOINTMENT_ID: &str = "appointment_id";
    pub const NEW_START: &str = "new_start";
    pub const SERVICE_INTEREST: &str = "service_interest";
    pub const WANTS_CALLBACK: &str = "wants_callback";
    pub const NOTES: &str = "notes";
    pub const PROVIDER: &str = "provider";
    pub const FROM_DATE: &str = "from_date";
    pub const TO_DATE: &str = "to_date";
    pub const PART_OF_DAY: &str = "part_of_day";
}

/// Field names of the one-line JSON results (besides `ok` and `message`), per DESIGN.md §3.
pub mod field {
    pub const OK: &str = "ok";
    pub const MESSAGE: &str = "message";
    pub const SLOTS: &str = "slots";
    pub const START: &str = "start";
    pub const SPOKEN: &str = "spoken";
    pub const HOLD_ID: &str = "hold_id";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const ALTERNATIVES: &str = "alternatives";
    pub const SENT_TO: &str = "sent_to";
    pub const APPOINTMENT_ID: &str = "appointment_id";
    pub const STATUS: &str = "status";
    pub const ATTEMPTS_LEFT: &str = "attempts_left";
    pub const SMS_STATUS: &str = "sms_status";
    pub const NEEDS_CODE: &str = "needs_code";
    pub const PROVIDERS: &str = "providers";
    pub const PROVIDER: &str = "provider";
    pub const WAITLIST_ID: &str = "waitlist_id";
    pub const FROM_DATE: &str = "from_date";
    pub const TO_DATE: &str = "to_date";
}

/// What kind of value an argument holds, which decides both its JSON Schema and how leniently it
/// is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Free text, cut to this many characters.
    Text { max_chars: usize },
    /// A day in the clinic's calendar, `YYYY-MM-DD`.
    Date,
    /// A time of day in the clinic's clock, `HH:MM`.
    TimeOfDay,
    /// A slot's start as `check_availability` returned it (RFC 3339 with offset).
    SlotStart,
    /// A hold or appointment id a previous tool returned.
    BookingId,
    /// A mobile number in E.164.
    Phone,
    /// The digits of a verification code.
    Code,
    /// Yes or no.
    Bool,
    /// `morning` (before 12:00), `afternoon` (12:00 to 17:00) or `evening` (from 17:00).
    PartOfDay,
}

impl ArgKind {
    fn schema_type(self) -> &'static str {
        match self {
            ArgKind::Bool => "boolean",
            _ => "string",
        }
    }

    /// How to pass a value of this kind, for a model that passed a wrong one.
    pub fn hint(self) -> &'static str {
        match self {
            ArgKind::Text { .. } => "pass it as plain text",
            ArgKind::Date => {
                "pass the day as YYYY-MM-DD in the clinic's calendar; today's date is in your instructions"
            }
            ArgKind::TimeOfDay => {
                "pass the time of day as HH:MM on a 24-hour clock, in clinic time"
            }
            ArgKind::SlotStart => {
                "pass the start exactly as check_availability returned it; call check_availability again if you do not have it"
            }
            ArgKind::BookingId => {
                "pass the id exactly as the previous tool returned it; never make one up"
            }
            ArgKind::Phone => {
                "pass the mobile number in international format with + and the country code, for example +14155550123"
            }
            ArgKind::Code => {
                "pass only the digits of the code the caller read from the text message"
            }
            ArgKind::Bool => "pass true or false",
            ArgKind::PartOfDay => "pass morning, afternoon or evening",
        }
    }
}

/// One argument of a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub description: &'static str,
}

/// One tool as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: ToolName,
    /// Tells the model what the tool does and when to use it.
    pub description: &'static str,
    pub args: &'static [ArgSpec],
    /// Fields of the result besides `ok` and `message`.
    pub result_fields: &'static [&'static str],
    /// Spoken by Vapi when the call starts.
    pub request_start: &'static str,
    /// Spoken by Vapi when the call fails or times out.
    pub request_failed: &'static str,
    /// Spoken by Vapi when the reply is slow.
    pub request_delayed: &'static str,
}

const fn req(name: &'static str, kind: ArgKind, description: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: true,
        description,
    }
}

const fn opt(name: &'static str, kind: ArgKind, description: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: false,
        description,
    }
}

const SERVICE_ARG: ArgSpec = req(
    arg::SERVICE,
    ArgKind::Text { max_chars: 120 },
    "The service the caller wants, as the clinic names it (for example Teeth Whitening).",
);
const HOLD_ID_ARG: ArgSpec = req(
    arg::HOLD_ID,
    ArgKind::BookingId,
    "The hold_id that reserve_slot returned.",
);

const CHANGE_CODE_ARG: ArgSpec = opt(
    arg::CODE,
    ArgKind::Code,
    "The code texted to the number on the appointment, as the caller read it. Omit it the first time: that call texts the code.",
);

const PROVIDER_ARG: ArgSpec = opt(
    arg::PROVIDER,
    ArgKind::Text { max_chars: 80 },
    "Only if the caller asked for a particular person or room (\"with Dr. Lee\"): their name as the caller said it. Omit it when anyone will do.",
);

/// Every tool, in the order the model is given them.
pub static CATALOGUE: [ToolSpec; 9] = [
    ToolSpec {
        name: ToolName::CheckAvailability,
        description: "Find the clinic's open appointment times for a service. Use it whenever the caller wants to book or \
            asks when the clinic is free, and again whenever the times you offered do not suit them. Offer only \
            the times it returns, read using their spoken form. Each slot's start is what reserve_slot needs.",
        args: &[
            SERVICE_ARG,
            opt(
                arg::DATE,
                ArgKind::Date,
                "The day to look at, YYYY-MM-DD in the clinic's calendar. Omit it to get the next open times.",
            ),
            opt(
                arg::AFTER,
                ArgKind::TimeOfDay,
                "Only times at or after this time of day, HH:MM on a 24-hour clock, in clinic time.",
            ),
            PROVIDER_ARG,
        ],
        result_fields: &[field::SLOTS, field::PROVIDERS],
        request_start: "Let me check the schedule.",
        request_failed: "Sorry, I couldn't reach the schedule just now.",
        request_delayed: "Still checking the schedule, one moment.",
    },
    ToolSpec {
        name: ToolName::ReserveSlot,
        description: "Hold one appointment time for the caller for 10 minutes. Use it as soon as the caller picks one of the \
            times check_availability returned, before sending the verification code. Returns hold_id. If the \
            time was just taken, ok is false and alternatives lists other times to offer instead. If the caller's \
            number is hidden, ask for their mobile number and pass it as phone.",
        args: &[
            req(
                arg::START,
                ArgKind::SlotStart,
                "The chosen slot's start, exactly as check_availability returned it.",
            ),
            SERVICE_ARG,
            req(
                arg::CALLER_NAME,
                ArgKind::Text { max_chars: 100 },
                "The caller's full name, as they said it.",
            ),
            opt(
                arg::PHONE,
                ArgKind::Phone,
                "Only if the caller's number is hidden or they want to book under another mobile: that number in international format, for example +14155550123.",
            ),
            PROVIDER_ARG,
        ],
        result_fields: &[
            field::HOLD_ID,
            field::EXPIRES_AT,
            field::PROVIDER,
            field::ALTERNATIVES,
        ],
        request_start: "Let me hold that time for you.",
        request_failed: "Sorry, I couldn't hold that time just now.",
        request_delayed: "Just a moment longer while I hold that time.",
    },
    ToolSpec {
        name: ToolName::SendOtp,
        description: "Text the caller a verification code for their held time. Use it right after reserve_slot succeeds, or \
            when the caller asks for a new code. The code goes to the number the caller is calling from; pass \
            phone only if the caller asks to receive it on a different mobile. Returns sent_to, the masked number.",
        args: &[
            HOLD_ID_ARG,
            opt(
                arg::PHONE,
                ArgKind::Phone,
                "Only if the caller wants the code on another mobile: that number in international format, for example +14155550123.",
            ),
        ],
        result_fields: &[field::SENT_TO],
        request_start: "I'm texting you a verification code now.",
        request_failed: "Sorry, I couldn't send the code just now.",
        request_delayed: "The code is on its way, one moment.",
    },
    ToolSpec {
        name: ToolName::VerifyOtp,
        description: "Check the verification code and confirm the booking. Use it once the caller has read you the code from \
            the text message. Only this confirms an appointment. Returns appointment_id and status; if the code \
            is wrong, ok is false and attempts_left says how many tries remain.",
        args: &[
            HOLD_ID_ARG,
            req(
                arg::CODE,
                ArgKind::Code,
                "The digits of the code, exactly as the caller read them.",
            ),
        ],
        result_fields: &[field::APPOINTMENT_ID, field::STATUS, field::ATTEMPTS_LEFT],
        request_start: "Let me check that code.",
        request_failed: "Sorry, I couldn't check the code just now.",
        request_delayed: "Still checking the code, one moment.",
    },
    ToolSpec {
        name: ToolName::SendConfirmationSms,
        description: "Make sure the confirmation text for a confirmed appointment is on its way. Use it once right after \
            verify_otp succeeds, or when the caller asks whether the confirmation was sent. It never sends a \
            second text. Returns sms_status.",
        args: &[req(
            arg::APPOINTMENT_ID,
            ArgKind::BookingId,
            "The appointment_id that verify_otp returned.",
        )],
        result_fields: &[field::SMS_STATUS],
        request_start: "Let me make sure your confirmation text is on its way.",
        request_failed: "Sorry, I couldn't check on the confirmation text just now.",
        request_delayed: "One moment while I check on the text.",
    },
    ToolSpec {
        name: ToolName::CancelAppointment,
        description: "Cancel an appointment. Use it only when the caller clearly asks to cancel and has confirmed which \
            appointment. The first call, without code, texts a code to the number on the appointment and answers \
            ok false with needs_code true: ask the caller to read the code, then call again with the same \
            appointment_id and code. Returns appointment_id and status.",
        args: &[
            opt(
                arg::APPOINTMENT_ID,
                ArgKind::BookingId,
                "The appointment_id, if a tool returned one during this call. Omit it to cancel the caller's next upcoming appointment.",
            ),
            CHANGE_CODE_ARG,
        ],
        result_fields: &[
            field::APPOINTMENT_ID,
            field::STATUS,
            field::NEEDS_CODE,
            field::SENT_TO,
            field::ATTEMPTS_LEFT,
        ],
        request_start: "One moment while I look at that appointment.",
        request_failed: "Sorry, I couldn't cancel it just now.",
        request_delayed: "One moment while I cancel it.",
    },
    ToolSpec {
        name: ToolName::RescheduleAppointment,
        description: "Move an existing appointment to a new time. Use it when the caller wants to change the time of an \
            appointment, after check_availability has returned the new time and the caller has chosen it. \
            The first call, without code, texts a code to the number on the appointment and answers ok false \
            with needs_code true: ask the caller to read the code, then call again with the same \
            appointment_id, new_start and code. Returns appointment_id and status; if the new time was just \
            taken, ok is false with alternatives.",
        args: &[
            opt(
                arg::APPOINTMENT_ID,
                ArgKind::BookingId,
                "The appointment_id, if a tool returned one during this call. Omit it to move the caller's next upcoming appointment.",
            ),
            req(
                arg::NEW_START,
                ArgKind::SlotStart,
                "The new slot's start, exactly as check_availability returned it.",
            ),
            CHANGE_CODE_ARG,
        ],
        result_fields: &[
            field::APPOINTMENT_ID,
            field::STATUS,
            field::ALTERNATIVES,
            field::NEEDS_CODE,
            field::SENT_TO,
            field::ATTEMPTS_LEFT,
        ],
        request_start: "One moment while I look at that appointment.",
        request_failed: "Sorry, I couldn't move it just now.",
        request_delayed: "One moment while I move it.",
    },
    ToolSpec {
        name: ToolName::CaptureLead,
        description: "Note what you learned about a caller who showed interest but did not book: they asked about prices or a \
            service, want someone to call them back, or will decide later. Use it before the call ends whenever \
            that happens, and whenever a tool failed and the caller wants a callback.",
        args: &[
            opt(
                arg::CALLER_NAME,
                ArgKind::Text { max_chars: 100 },
                "The caller's name, if they gave it.",
            ),
            opt(
                arg::SERVICE_INTEREST,
                ArgKind::Text { max_chars: 200 },
                "The service or treatment the caller is interested in.",
            ),
            opt(
                arg::WANTS_CALLBACK,
                ArgKind::Bool,
                "true if the caller wants the clinic to call them back.",
            ),
            opt(
                arg::NOTES,
                ArgKind::Text { max_chars: 1000 },
                "Anything else the clinic should know: questions asked, preferred times, concerns.",
            ),
        ],
        result_fields: &[],
        request_start: "Let me note that down.",
        request_failed: "Sorry, I couldn't note that down just now.",
        request_delayed: "One moment.",
    },
    ToolSpec {
        name: ToolName::JoinWaitlist,
        description: "Put the caller on the clinic's waitlist. Use it when no time check_availability offered suits the \
            caller and they agree to wait: if a matching time frees up, they get one text with a link to claim it \
            (first come, first served; the link lasts a short while). Ask which days they could come, and whether \
            mornings, afternoons or evenings suit. The text goes to the number they are calling from. Returns \
            waitlist_id and the days kept.",
        args: &[
            SERVICE_ARG,
            req(
                arg::CALLER_NAME,
                ArgKind::Text { max_chars: 100 },
                "The caller's full name, as they said it.",
            ),
            req(
                arg::FROM_DATE,
                ArgKind::Date,
                "The first day the caller could come, YYYY-MM-DD in the clinic's calendar.",
            ),
            req(
                arg::TO_DATE,
                ArgKind::Date,
                "The last day the caller could come, YYYY-MM-DD in the clinic's calendar (the same as from_date for one day).",
            ),
            PROVIDER_ARG,
            opt(
                arg::PART_OF_DAY,
                ArgKind::PartOfDay,
                "Only if the caller can come only then: morning (before 12:00), afternoon (12:00 to 17:00) or evening (from 17:00).",
            ),
        ],
        result_fields: &[
            field::WAITLIST_ID,
            field::FROM_DATE,
            field::TO_DATE,
            field::PROVIDER,
        ],
        request_start: "Let me put you on the waitlist.",
        request_failed: "Sorry, I couldn't add you to the waitlist just now.",
        request_delayed: "One moment while I add you to the waitlist.",
    },
];

impl ToolSpec {
    pub fn arg(&self, name: &str) -> Option<&'static ArgSpec> {
        self.args.iter().find(|a| a.name == name)
    }

    /// The JSON Schema of the arguments, with `required` listing the arguments the model must pass.
    pub fn parameters_schema(&self) -> Value {
        let mut properties = Map::new();
        for a in self.args {
            let mut schema = json!({"type": a.kind.schema_type(), "description": a.description});
            if a.kind == ArgKind::PartOfDay {
                schema["enum"] = json!(["morning", "afternoon", "evening"]);
            }
            properties.insert(a.name.to_owned(), schema);
        }
        let required: Vec<&str> = self
            .args
            .iter()
            .filter(|a| a.required)
            .map(|a| a.name)
            .collect();
        json!({"type": "object", "properties": properties, "required": required})
    }

    /// The tool as Vapi wants it under `assistant.model.tools`.
    pub fn definition(&self, server: &ToolServer<'_>) -> Value {
        json!({
            "type": "function",
            "async": false,
            "function": {
                "name": self.name.as_str(),
                "description": self.description,
                "parameters": self.parameters_schema(),
            },
            "server": server.to_json(),
            "messages": [
                {"type": "request-start", "content": self.request_start},
                {"type": "request-failed", "content": self.request_failed},
                {
                    "type": "request-response-delayed",
                    "content": self.request_delayed,
                    "timingMilliseconds": REQUEST_DELAYED_AFTER_MS,
                },
            ],
        })
    }
}

/// When Vapi says a tool's "delayed" line if our reply has not arrived.
pub const REQUEST_DELAYED_AFTER_MS: u32 = 3000;

/// How Vapi proves to us that a request is its own, as placed on every `server` object we return
/// (the assistant's and each tool's). Vapi's `Server` object has no inline secret any more: it
/// names a Custom Credential made in Vapi's dashboard (`credentialId`) and/or carries headers.
#[derive(Clone, Debug, Default)]
pub struct ServerAuth {
    /// `server.credentialId`: the Custom Credential Vapi authenticates with.
    pub credential_id: Option<String>,
    /// `server.headers`: one header Vapi sends as is (name, value), e.g. our shared secret in
    /// `X-Vapi-Secret`. The value is only ever placed in the reply to Vapi.
    pub header: Option<(String, Secret)>,
}

/// Where Vapi sends tool calls, and how long it waits.
#[derive(Clone, Copy, Debug)]
pub struct ToolServer<'a> {
    pub url: &'a str,
    /// Clamped to Vapi's 1..=300.
    pub timeout_seconds: u32,
    pub auth: &'a ServerAuth,
}

impl ToolServer<'_> {
    /// Vapi's `Server` object: `url`, `timeoutSeconds`, and `credentialId` / `headers` as
    /// configured. Nothing else.
    pub(crate) fn to_json(self) -> Value {
        let mut server = Map::new();
        server.insert("url".into(), Value::from(self.url));
        server.insert(
            "timeoutSeconds".into(),
            Value::from(self.timeout_seconds.clamp(1, 300)),
        );
        if let Some(id) = &self.auth.credential_id {
            server.insert("credentialId".into(), Value::from(id.as_str()));
        }
        if let Some((name, value)) = &self.auth.header {
            let mut headers = Map::new();
            headers.insert(name.clone(), Value::from(value.expose()));
            server.insert("headers".into(), Value::Object(headers));
        }
        Value::Object(server)
    }
}

/// Every tool's definition, in catalogue order, then Vapi's own `endCall` tool (so that the
/// model can hang up once the caller is done; it replaces the removed `endCallFunctionEnabled`).
pub fn tool_definitions(server: &ToolServer<'_>) -> Vec<Value> {
    let mut tools: Vec<Value> = CATALOGUE.iter().map(|t| t.definition(server)).collect();
    tools.push(end_call_tool());
    tools
}

/// Vapi's built-in tool that ends the call (`CreateEndCallToolDTO`). What is said before hanging
/// up is the assistant's `endCallMessage`.
pub fn end_call_tool() -> Value {
    json!({"type": "endCall"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_every_tool_once_in_order() {
        let names: Vec<ToolName> = CATALOGUE.iter().map(|s| s.name).collect();
        assert_eq!(names, ToolName::ALL);
        for t in ToolName::ALL {
            assert_eq!(t.spec().name, t);
            assert_eq!(ToolName::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn names_are_forgiven_only_for_case_space_and_dash() {
        assert_eq!(
            ToolName::parse(" Check-Availability "),
            Some(ToolName::CheckAvailability)
        );
        assert_eq!(ToolName::parse("checkavailability"), None);
        assert_eq!(ToolName::parse("book_appointment"), None);
        assert_eq!(ToolName::parse(""), None);
    }

    #[test]
    fn required_arguments_follow_the_design_table() {
        let required = |t: ToolName| -> Vec<&str> {
            t.spec()
                .args
                .iter()
                .filter(|a| a.required)
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(required(ToolName::CheckAvailability), ["service"]);
        assert_eq!(
            required(ToolName::ReserveSlot),
            ["start", "service", "caller_name"]
        );
        assert_eq!(required(ToolName::SendOtp), ["hold_id"]);
        assert_eq!(required(ToolName::VerifyOtp), ["hold_id", "code"]);
        assert_eq!(required(ToolName::SendConfirmationSms), ["appointment_id"]);
        assert!(required(ToolName::CancelAppointment).is_empty());
        assert_eq!(required(ToolName::RescheduleAppointment), ["new_start"]);
        assert!(required(ToolName::CaptureLead).is_empty());
    }

    #[test]
    fn no_tool_takes_a_tenant_clinic_or_number_id() {
        for spec in &CATALOGUE {
            for a in spec.args {
                for banned in ["tenant", "clinic", "phone_number_id", "org"] {
                    assert!(!a.name.contains(banned), "{} takes {}", spec.name, a.name);
                }
            }
        }
    }

    #[test]
    fn definition_carries_schema_server_and_spoken_messages() {
        let auth = ServerAuth {
            credential_id: Some("cred-1".into()),
            header: Some(("X-Vapi-Secret".into(), Secret::new("s3cret"))),
        };
        let def = ToolName::VerifyOtp.spec().definition(&ToolServer {
            url: "https://api.example.com/vapi/webhook",
            timeout_seconds: 999,
            auth: &auth,
        });
        assert_eq!(def["function"]["name"], "verify_otp");
        assert_eq!(
            def["function"]["parameters"]["required"],
            json!(["hold_id", "code"])
        );
        assert_eq!(
            def["function"]["parameters"]["properties"]["code"]["type"],
            "string"
        );
        assert_eq!(def["server"]["timeoutSeconds"], 300);
        assert_eq!(
            def["server"],
            json!({
                "url": "https://api.example.com/vapi/webhook",
                "timeoutSeconds": 300,
                "credentialId": "cred-1",
                "headers": {"X-Vapi-Secret": "s3cret"}
            })
        );
        assert!(def["server"].get("secret").is_none());
        let kinds: Vec<&str> = def["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap())
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
