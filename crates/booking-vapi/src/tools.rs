//! A tool call's name and arguments, read into a typed [`ToolCall`].
//!
//! The model is forgiving in what it sends, so this is forgiving in what it reads: a code may be
//! `123456`, `"123456"` or `"123 456"`, a boolean may be `"yes"`, an argument may be camelCased.
//! What it cannot read becomes a [`ToolArgError`] whose text the model can act on.
//!
//! Only the arguments in the catalogue are read. Anything naming a tenant, a clinic or a phone
//! number id is never looked at: the tenant comes from the call, not from the model.

use std::fmt;
use std::str::FromStr;

use booking_core::calls::CapturedLead;
use booking_core::otp::{CodeLength, OtpAttempt};
use booking_core::waitlist::PartOfDay;
use booking_core::{BookingId, PhoneNumber};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use serde_json::{Map, Value};

use crate::catalogue::{ArgKind, ArgSpec, CATALOGUE, ToolName, arg};
use crate::lenient::{self, DigitsHidden, hidden_opt};
use crate::reply::{ToolOutcome, ToolResult};

/// A tool call with its arguments read and checked.
#[derive(Clone, PartialEq, Eq)]
pub enum ToolCall {
    CheckAvailability {
        service: String,
        date: Option<Date>,
        after: Option<Time>,
        /// The person or room asked for, as said; `None`: anyone.
        provider: Option<String>,
    },
    ReserveSlot {
        start: SlotStart,
        service: String,
        caller_name: String,
        /// The mobile to book under when the caller ID is hidden (or the caller wants another);
        /// `None` means the caller ID.
        phone: Option<PhoneNumber>,
        /// The person or room asked for, as said; `None`: anyone free.
        provider: Option<String>,
    },
    SendOtp {
        hold_id: BookingId,
        /// Another mobile the caller asked for; `None` means the caller ID.
        phone: Option<PhoneNumber>,
    },
    VerifyOtp {
        hold_id: BookingId,
        code: OtpAttempt,
    },
    SendConfirmationSms {
        appointment_id: BookingId,
    },
    CancelAppointment {
        /// `None`: the caller's next upcoming appointment.
        appointment_id: Option<BookingId>,
        /// The code texted to the number on the appointment; `None` asks for one to be texted.
        code: Option<OtpAttempt>,
    },
    RescheduleAppointment {
        /// `None`: the caller's next upcoming appointment.
        appointment_id: Option<BookingId>,
        new_start: SlotStart,
        /// As for `CancelAppointment`.
        code: Option<OtpAttempt>,
    },
    CaptureLead(CapturedLead),
    JoinWaitlist {
        service: String,
        caller_name: String,
        from_date: Date,
        to_date: Date,
        /// The person or room asked for, as said; `None`: anyone.
        provider: Option<String>,
        part_of_day: Option<PartOfDay>,
    },
}

/// What reading a tool call needs to know about the clinic: how many digits its codes have (a
/// code the model sends as a JSON number lost its leading zeros and gets them back to this
/// length).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgRules {
    pub code_length: CodeLength,
}

impl ToolCall {
    /// Reads a call of the tool `name`. `arguments` may be an object, a JSON string holding an
    /// object, or null/absent (no arguments).
    pub fn parse(name: &str, arguments: &Value, rules: &ArgRules) -> Result<Self, ToolArgError> {
        let tool = ToolName::parse(name).ok_or_else(|| ToolArgError::unknown_tool(name))?;
        let map = normalize_arguments(arguments).ok_or(ToolArgError::Unreadable { tool })?;
        Self::from_arguments(tool, &map, rules)
    }

    /// Reads the arguments of a known tool.
    pub fn from_arguments(
        tool: ToolName,
        map: &Map<String, Value>,
        rules: &ArgRules,
    ) -> Result<Self, ToolArgError> {
        let a = Args { tool, map };
        let read_code = |v: &Value, _: ArgKind| read_code(v, rules.code_length);
        Ok(match tool {
            ToolName::CheckAvailability => ToolCall::CheckAvailability {
                service: a.required(arg::SERVICE, read_text)?,
                date: a.optional(arg::DATE, read_date)?,
                after: a.optional(arg::AFTER, read_time_of_day)?,
                provider: a.optional(arg::PROVIDER, read_text)?,
            },
            ToolName::ReserveSlot => ToolCall::ReserveSlot {
                start: a.required(arg::START, read_slot_start)?,
                service: a.required(arg::SERVICE, read_text)?,
                caller_name: a.required(arg::CALLER_NAME, read_text)?,
                phone: a.optional(arg::PHONE, read_phone)?,
                provider: a.optional(arg::PROVIDER, read_text)?,
            },
            ToolName::SendOtp => ToolCall::SendOtp {
                hold_id: a.required(arg::HOLD_ID, read_booking_id)?,
                phone: a.optional(arg::PHONE, read_phone)?,
            },
            ToolName::VerifyOtp => ToolCall::VerifyOtp {
                hold_id: a.required(arg::HOLD_ID, read_booking_id)?,
                code: a.required(arg::CODE, read_code)?,
            },
            ToolName::SendConfirmationSms => ToolCall::SendConfirmationSms {
                appointment_id: a.required(arg::APPOINTMENT_ID, read_booking_id)?,
            },
            ToolName::CancelAppointment => ToolCall::CancelAppointment {
                appointment_id: a.optional(arg::APPOINTMENT_ID, read_booking_id)?,
                code: a.optional(arg::CODE, read_code)?,
            },
            ToolName::RescheduleAppointment => ToolCall::RescheduleAppointment {
                appointment_id: a.optional(arg::APPOINTMENT_ID, read_booking_id)?,
                new_start: a.required(arg::NEW_START, read_slot_start)?,
                code: a.optional(arg::CODE, read_code)?,
            },
            ToolName::CaptureLead => ToolCall::CaptureLead(CapturedLead {
                caller_name: a.optional(arg::CALLER_NAME, read_text)?,
                service_interest: a.optional(arg::SERVICE_INTEREST, read_text)?,
                wants_callback: a.optional(arg::WANTS_CALLBACK, read_bool)?,
                notes: a.optional(arg::NOTES, read_text)?,
            }),
            ToolName::JoinWaitlist => ToolCall::JoinWaitlist {
                service: a.required(arg::SERVICE, read_text)?,
                caller_name: a.required(arg::CALLER_NAME, read_text)?,
                from_date: a.required(arg::FROM_DATE, read_date)?,
                to_date: a.required(arg::TO_DATE, read_date)?,
                provider: a.optional(arg::PROVIDER, read_text)?,
                part_of_day: a.optional(arg::PART_OF_DAY, read_part_of_day)?,
            },
        })
    }

    pub fn tool(&self) -> ToolName {
        match self {
            ToolCall::CheckAvailability { .. } => ToolName::CheckAvailability,
            ToolCall::ReserveSlot { .. } => ToolName::ReserveSlot,
            ToolCall::SendOtp { .. } => ToolName::SendOtp,
            ToolCall::VerifyOtp { .. } => ToolName::VerifyOtp,
            ToolCall::SendConfirmationSms { .. } => ToolName::SendConfirmationSms,
            ToolCall::CancelAppointment { .. } => ToolName::CancelAppointment,
            ToolCall::RescheduleAppointment { .. } => ToolName::RescheduleAppointment,
            ToolCall::CaptureLead(_) => ToolName::CaptureLead,
            ToolCall::JoinWaitlist { .. } => ToolName::JoinWaitlist,
        }
    }
}

/// Debug hides every digit of free text (a caller may spell out a phone number in a note), masks
/// phone numbers and never shows a code.
impl fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolCall::CheckAvailability {
                service,
                date,
                after,
                provider,
            } => f
                .debug_struct("CheckAvailability")
                .field("service", &DigitsHidden(service))
                .field("date", date)
                .field("after", after)
                .field("provider", &hidden_opt(provider))
                .finish(),
            ToolCall::ReserveSlot {
                start,
                service,
                caller_name,
                phone,
                provider,
            } => f
                .debug_struct("ReserveSlot")
                .field("start", start)
                .field("service", &DigitsHidden(service))
                .field("caller_name", &DigitsHidden(caller_name))
                .field("phone", phone)
                .field("provider", &hidden_opt(provider))
                .finish(),
            ToolCall::SendOtp { hold_id, phone } => f
                .debug_struct("SendOtp")
                .field("hold_id", hold_id)
                .field("phone", phone)
                .finish(),
            ToolCall::VerifyOtp { hold_id, code } => f
                .debug_struct("VerifyOtp")
                .field("hold_id", hold_id)
                .field("code", code)
                .finish(),
            ToolCall::SendConfirmationSms { appointment_id } => f
                .debug_struct("SendConfirmationSms")
                .field("appointment_id", appointment_id)
                .finish(),
            ToolCall::CancelAppointment {
                appointment_id,
                code,
            } => f
                .debug_struct("CancelAppointment")
                .field("appointment_id", appointment_id)
                .field("code", code)
                .finish(),
            ToolCall::RescheduleAppointment {
                appointment_id,
                new_start,
                code,
            } => f
                .debug_struct("RescheduleAppointment")
                .field("appointment_id", appointment_id)
                .field("new_start", new_start)
                .field("code", code)
                .finish(),
            ToolCall::CaptureLead(lead) => f
                .debug_struct("CaptureLead")
                .field("caller_name", &hidden_opt(&lead.caller_name))
                .field("service_interest", &hidden_opt(&lead.service_interest))
                .field("wants_callback", &lead.wants_callback)
                .field("notes", &hidden_opt(&lead.notes))
                .finish(),
            ToolCall::JoinWaitlist {
                service,
                caller_name,
                from_date,
                to_date,
                provider,
                part_of_day,
            } => f
                .debug_struct("JoinWaitlist")
                .field("service", &DigitsHidden(service))
                .field("caller_name", &DigitsHidden(caller_name))
                .field("from_date", from_date)
                .field("to_date", to_date)
                .field("provider", &hidden_opt(provider))
                .field("part_of_day", part_of_day)
                .finish(),
        }
    }
}

/// The start of a slot as the model passed it; the rule for reading a wall-clock time on a day
/// the clocks change is the domain's ([`SlotStart::resolve`]).
pub use booking_core::start::SlotStart;

/// Why a tool call cannot be carried out as sent. `Display` is one sentence the model can act on
/// (never quoting the value it passed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ToolArgError {
    #[error(
        "There is no tool named {name}. The tools are check_availability, reserve_slot, send_otp, verify_otp, send_confirmation_sms, cancel_appointment, reschedule_appointment, capture_lead and join_waitlist."
    )]
    UnknownTool {
        /// The name as called, cleaned to one short line.
        name: String,
    },
    #[error(
        "The arguments for {tool} could not be read: pass them as one JSON object with the argument names as keys."
    )]
    Unreadable { tool: ToolName },
    #[error("{tool} needs {arg}: {description} Get it, then call {tool} again.", description = spec_of(*.tool, .arg).description)]
    Missing { tool: ToolName, arg: &'static str },
    #[error("The {arg} passed to {tool} could not be used: {hint}.", hint = spec_of(*.tool, .arg).kind.hint())]
    Invalid { tool: ToolName, arg: &'static str },
}

fn spec_of(tool: ToolName, name: &str) -> &'static ArgSpec {
    tool.spec().arg(name).unwrap_or(&CATALOGUE[0].args[0])
}

impl ToolArgError {
    pub(crate) fn unknown_tool(name: &str) -> Self {
        ToolArgError::UnknownTool {
            name: lenient::clean_line(name, 64).unwrap_or_else(|| "(empty)".to_owned()),
        }
    }

    /// The reply for this call: an unknown tool is an `error`; an argument the model can fix is a
    /// result with `ok: false`, the sentence, and which argument to fix.
    pub fn outcome(&self) -> ToolOutcome {
        match self {
            ToolArgError::UnknownTool { .. } => ToolOutcome::error(&self.to_string()),
            ToolArgError::Unreadable { .. } => ToolResult::refused(self.to_string()).into_outcome(),
            ToolArgError::Missing { arg, .. } => ToolResult::refused(self.to_string())
                .field("missing", *arg)
                .into_outcome(),
            ToolArgError::Invalid { arg, .. } => ToolResult::refused(self.to_string())
                .field("invalid", *arg)
                .into_outcome(),
        }
    }
}

/// Arguments as an object: an object as is, a JSON string holding an object parsed, null or an
/// empty string as no arguments. `None` for anything else.
pub fn normalize_arguments(arguments: &Value) -> Option<Map<String, Value>> {
    match arguments {
        Value::Object(m) => Some(m.clone()),
        Value::Null => Some(Map::new()),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Some(Map::new());
            }
            match serde_json::from_str::<Value>(s).ok()? {
                Value::Object(m) => Some(m),
                Value::Null => Some(Map::new()),
                // Encoded twice ("\"{\\\"hold_id\\\": ...}\""): one more level is read.
                Value::String(inner) => match serde_json::from_str::<Value>(&inner).ok()? {
                    Value::Object(m) => Some(m),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

struct Args<'a> {
    tool: ToolName,
    map: &'a Map<String, Value>,
}

impl Args<'_> {
    /// The value of an argument the catalogue declares, under its name or its camelCase form;
    /// `None` when absent, null, or a word for "nothing".
    fn get(&self, name: &'static str) -> Option<&Value> {
        let v = self
            .map
            .get(name)
            .or_else(|| self.map.get(&camel_case(name)))?;
        match v {
            Value::Null => None,
            Value::String(s) if lenient::means_nothing(s) => None,
            v => Some(v),
        }
    }

    fn kind(&self, name: &'static str) -> ArgKind {
        spec_of(self.tool, name).kind
    }

    fn optional<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Value, ArgKind) -> Option<T>,
    ) -> Result<Option<T>, ToolArgError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => read(v, self.kind(name))
                .map(Some)
                .ok_or(ToolArgError::Invalid {
                    tool: self.tool,
                    arg: name,
                }),
        }
    }

    fn required<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Value, ArgKind) -> Option<T>,
    ) -> Result<T, ToolArgError> {
        self.optional(name, read)?.ok_or(ToolArgError::Missing {
            tool: self.tool,
            arg: name,
        })
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn read_text(v: &Value, kind: ArgKind) -> Option<String> {
    let max = match kind {
        ArgKind::Text { max_chars } => max_chars,
        _ => 200,
    };
    lenient::text(v, max)
}

fn read_part_of_day(v: &Value, _: ArgKind) -> Option<PartOfDay> {
    PartOfDay::parse(v.as_str()?)
}

fn read_bool(v: &Value, _: ArgKind) -> Option<bool> {
    lenient::boolish(v)
}

fn read_date(v: &Value, _: ArgKind) -> Option<Date> {
    let s = v.as_str()?.trim();
    let head = s.get(..10)?;
    let date = Date::from_str(head).ok()?;
    // "2026-11-26" or a date-time starting with it; nothing else after the day.
    match s.as_bytes().get(10) {
        None | Some(b'T' | b't' | b' ') => Some(date),
        _ => None,
    }
}

/// `14:30`, `9:05`, `14:30:00`, `14`, `2pm`, `2:30 PM`, `14h30`.
pub(crate) fn parse_time_of_day(s: &str) -> Option<Time> {
    let s = s.trim().to_ascii_lowercase();
    let (body, meridiem) = if let Some(b) = s.strip_suffix("am").or_else(|| s.strip_suffix("a.m."))
    {
        (b.trim(), Some(false))
    } else if let Some(b) = s.strip_suffix("pm").or_else(|| s.strip_suffix("p.m.")) {
        (b.trim(), Some(true))
    } else {
        (s.as_str(), None)
    };
    let mut parts = body.split([':', 'h', '.']);
    let hour: i8 = parts.next()?.trim().parse().ok()?;
    let minute: i8 = match parts.next() {
        None => 0,
        Some("") => 0,
        Some(m) => m.trim().parse().ok()?,
    };
    let second: i8 = match parts.next() {
        None => 0,
        Some(sec) => sec.trim().parse().ok()?,
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    Time::new(hour, minute, second, 0).ok()
}

fn read_time_of_day(v: &Value, _: ArgKind) -> Option<Time> {
    match v {
        Value::String(s) => parse_time_of_day(s),
        Value::Number(n) => {
            let h = n.as_u64()?;
            Time::new(i8::try_from(h).ok()?, 0, 0, 0).ok()
        }
        _ => None,
    }
}

fn read_slot_start(v: &Value, _: ArgKind) -> Option<SlotStart> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if s.len() > 100 {
                return None;
            }
            if let Ok(t) = s.parse::<Timestamp>() {
                return Some(SlotStart::Exact(t));
            }
            s.parse::<DateTime>().ok().map(SlotStart::Local)
        }
        Value::Number(_) => lenient::timestamp(v).map(SlotStart::Exact),
        _ => None,
    }
}

fn read_booking_id(v: &Value, _: ArgKind) -> Option<BookingId> {
    let s = v.as_str()?.trim().trim_matches(['"', '\'', '`']);
    if s.len() > 64 {
        return None;
    }
    BookingId::from_str(s).ok()
}

fn read_phone(v: &Value, _: ArgKind) -> Option<PhoneNumber> {
    let s = v.as_str()?.trim();
    // 00 is the international prefix in most of the world: "0044 20..." is "+44 20...".
    let s = match s.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => s.to_owned(),
    };
    PhoneNumber::parse(&s).ok()
}

/// A code as the caller read it: a string of digits (spoken or with separators) as said; a JSON
/// number, which cannot keep leading zeros, padded to the clinic's code length.
fn read_code(v: &Value, length: CodeLength) -> Option<OtpAttempt> {
    match v {
        Value::Number(n) => {
            let whole = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e12)
                    .map(|f| f as u64)
            })?;
            OtpAttempt::from_number(whole, length)
        }
        Value::String(s) => OtpAttempt::from_digits(&spoken_digits(s)?),
        _ => None,
    }
}

/// The digits of `"123 456"`, `"12-34-56"`, `"one two three four"` or `"4 oh 7 2"`.
fn spoken_digits(s: &str) -> Option<String> {
    let mut out = String::new();
    for word in s.split(|c: char| c.is_whitespace() || matches!(c, '-' | ',' | '.')) {
        if word.is_empty() {
            continue;
        }
        if word.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(word);
        } else {
            let d = match word.to_ascii_lowercase().as_str() {
                "zero" | "oh" | "o" => '0',
                "one" => '1',
                "two" => '2',
                "three" => '3',
                "four" => '4',
                "five" => '5',
                "six" => '6',
                "seven" => '7',
                "eight" => '8',
                "nine" => '9',
                _ => return None,
            };
            out.push(d);
        }
        if out.len() > OtpAttempt::MAX_DIGITS {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;
    use serde_json::json;

    const HOLD: &str = "0b7a4c1e-2f3d-4a5b-8c6d-7e8f9a0b1c2d";

    fn parse(name: &str, args: Value) -> Result<ToolCall, ToolArgError> {
        ToolCall::parse(name, &args, &ArgRules::default())
    }

    fn sample(kind: ArgKind) -> Value {
        match kind {
            ArgKind::Text { .. } => json!("Teeth Whitening"),
            ArgKind::Date => json!("2026-11-26"),
            ArgKind::TimeOfDay => json!("09:30"),
            ArgKind::SlotStart => json!("2026-11-26T14:00:00-05:00"),
            ArgKind::BookingId => json!(HOLD),
            ArgKind::Phone => json!("+14155550123"),
            ArgKind::Code => json!("123456"),
            ArgKind::Bool => json!(true),
            ArgKind::PartOfDay => json!("morning"),
        }
    }

    /// The parser reads exactly the arguments the catalogue declares, with the same requiredness.
    #[test]
    fn parser_and_catalogue_agree() {
        for spec in &CATALOGUE {
            let full: Map<String, Value> = spec
                .args
                .iter()
                .map(|a| (a.name.to_owned(), sample(a.kind)))
                .collect();
            let call = ToolCall::from_arguments(spec.name, &full, &ArgRules::default())
                .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert_eq!(call.tool(), spec.name);
            let only_required: Map<String, Value> = full
                .iter()
                .filter(|(k, _)| spec.arg(k).is_some_and(|a| a.required))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert!(
                ToolCall::from_arguments(spec.name, &only_required, &ArgRules::default()).is_ok(),
                "{}",
                spec.name
            );
            for a in spec.args {
                let mut without = full.clone();
                without.remove(a.name);
                let r = ToolCall::from_arguments(spec.name, &without, &ArgRules::default());
                if a.required {
                    assert_eq!(
                        r,
                        Err(ToolArgError::Missing {
                            tool: spec.name,
                            arg: a.name
                        }),
                        "{}.{}",
                        spec.name,
                        a.name
                    );
                } else {
                    assert!(r.is_ok(), "{}.{}", spec.name, a.name);
                    assert_ne!(r.unwrap(), call, "{}.{} is not read", spec.name, a.name);
                }
                if !matches!(a.kind, ArgKind::Text { .. }) {
                    let mut bad = full.clone();
                    bad.insert(a.name.to_owned(), json!({"not": "usable"}));
                    assert_eq!(
                        ToolCall::from_arguments(spec.name, &bad, &ArgRules::default()),
                        Err(ToolArgError::Invalid {
                            tool: spec.name,
                            arg: a.name
                        }),
                        "{}.{}",
                        spec.name,
                        a.name
                    );
                }
            }
        }
    }

    #[test]
    fn codes_as_numbers_strings_and_words() {
        for (input, digits) in [
            (json!(123456), "123456"),
            (json!("123456"), "123456"),
            (json!("123 456"), "123456"),
            (json!(" 12-34-56 "), "123456"),
            (json!("one two three four five six"), "123456"),
            (json!("0 4 oh 7"), "0407"),
            (json!(123456.0), "123456"),
        ] {
            let call = parse(
                "verify_otp",
                json!({"hold_id": HOLD, "code": input.clone()}),
            )
            .unwrap();
            let ToolCall::VerifyOtp { code, .. } = call else {
                panic!("{input}")
            };
            assert_eq!(code.digits(), digits, "{input}");
        }
        for bad in [
            json!("12a456"),
            json!(-5),
            json!(1.5),
            json!([1, 2]),
            json!("1234567890123"),
        ] {
            let err =
                parse("verify_otp", json!({"hold_id": HOLD, "code": bad.clone()})).unwrap_err();
            assert_eq!(
                err,
                ToolArgError::Invalid {
                    tool: ToolName::VerifyOtp,
                    arg: "code"
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn a_number_code_gets_its_leading_zeros_back_to_the_clinics_length() {
        // 056765 sent by the model as the JSON number 56765.
        let code_of = |args: Value, digits: u8| {
            let rules = ArgRules {
                code_length: CodeLength::new(digits).unwrap(),
            };
            match ToolCall::parse("verify_otp", &args, &rules).unwrap() {
                ToolCall::VerifyOtp { code, .. } => code,
                other => panic!("{other:?}"),
            }
        };
        let number = json!({"hold_id": HOLD, "code": 56765});
        assert_eq!(code_of(number.clone(), 6).digits(), "056765");
        assert_eq!(code_of(number.clone(), 8).digits(), "00056765");
        // Longer than the clinic's codes: left as passed, for the service to refuse by length.
        assert_eq!(code_of(number, 4).digits(), "56765");
        // Text keeps what was said: a leading zero is there or it is not.
        let text = json!({"hold_id": HOLD, "code": "56765"});
        assert_eq!(code_of(text, 6).digits(), "56765");
        // The same for a phone change's code.
        let rules = ArgRules::default();
        let cancel = json!({"code": 1234});
        match ToolCall::parse("cancel_appointment", &cancel, &rules).unwrap() {
            ToolCall::CancelAppointment {
                code: Some(code), ..
            } => {
                assert_eq!(code.digits(), "001234");
                assert_eq!(format!("{code:?}"), "OtpAttempt(6 digits)");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn times_of_day_in_the_forms_people_use() {
        let t = |h, m| Some(Time::new(h, m, 0, 0).unwrap());
        assert_eq!(parse_time_of_day("14:30"), t(14, 30));
        assert_eq!(parse_time_of_day("9:05"), t(9, 5));
        assert_eq!(parse_time_of_day("14:30:00"), t(14, 30));
        assert_eq!(parse_time_of_day("14"), t(14, 0));
        assert_eq!(parse_time_of_day("2pm"), t(14, 0));
        assert_eq!(parse_time_of_day("2:30 PM"), t(14, 30));
        assert_eq!(parse_time_of_day("12 am"), t(0, 0));
        assert_eq!(parse_time_of_day("12pm"), t(12, 0));
        assert_eq!(parse_time_of_day("14h30"), t(14, 30));
        for bad in ["", "25:00", "13pm", "noonish", "1:2:3:4", "-1"] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn slot_start_exact_or_local() {
        let exact = parse(
            "reserve_slot",
            json!({"start": "2026-11-26T14:00:00-05:00", "service": "Cleaning", "caller_name": "Ann"}),
        )
        .unwrap();
        let ToolCall::ReserveSlot { start, .. } = exact else {
            panic!()
        };
        assert_eq!(
            start,
            SlotStart::Exact("2026-11-26T19:00:00Z".parse().unwrap())
        );

        let local = parse(
            "reschedule_appointment",
            json!({"new_start": "2026-11-26T14:00"}),
        )
        .unwrap();
        let ToolCall::RescheduleAppointment { new_start, .. } = local else {
            panic!()
        };
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            new_start.resolve(&ny),
            Ok("2026-11-26T19:00:00Z".parse().unwrap())
        );
        for annotated in [
            "2026-11-26T14:00:00-05:00[America/New_York]",
            "2026-11-26T14:00[America/New_York]",
            "2026-11-26 14:00",
        ] {
            let s = read_slot_start(&json!(annotated), ArgKind::SlotStart).unwrap();
            assert_eq!(
                s.resolve(&ny),
                Ok("2026-11-26T19:00:00Z".parse().unwrap()),
                "{annotated}"
            );
        }
        // 02:30 on the spring-forward day does not exist in New York; 01:30 in autumn comes
        // twice and reads as the first (the domain's one rule).
        let s = read_slot_start(&json!("2026-03-08T02:30"), ArgKind::SlotStart).unwrap();
        assert!(s.resolve(&ny).is_err(), "{s:?}");
        let s = read_slot_start(&json!("2026-11-01T01:30"), ArgKind::SlotStart).unwrap();
        assert_eq!(s.resolve(&ny), Ok("2026-11-01T05:30:00Z".parse().unwrap()));
    }

    #[test]
    fn dates_are_calendar_days() {
        let d = |v: Value| read_date(&v, ArgKind::Date);
        assert_eq!(
            d(json!("2026-11-26")),
            Some(jiff::civil::date(2026, 11, 26))
        );
        assert_eq!(
            d(json!("2026-11-26T09:00:00-05:00")),
            Some(jiff::civil::date(2026, 11, 26))
        );
        for bad in [
            json!("2026-02-30"),
            json!("tomorrow"),
            json!("2026-11-260"),
            json!(20261126),
            json!("2026-11-2é"),
        ] {
            assert_eq!(d(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn arguments_encoded_as_a_string_once_or_twice() {
        let once = json!({"hold_id": HOLD}).to_string();
        let twice = Value::String(once.clone()).to_string();
        for args in [json!(once), json!(twice)] {
            assert!(
                matches!(
                    parse("send_otp", args.clone()),
                    Ok(ToolCall::SendOtp { .. })
                ),
                "{args}"
            );
        }
        for bad in [json!("[1]"), json!("{"), json!(7), json!(["hold_id"])] {
            assert_eq!(
                parse("send_otp", bad.clone()),
                Err(ToolArgError::Unreadable {
                    tool: ToolName::SendOtp
                }),
                "{bad}"
            );
        }
        assert!(matches!(
            parse("send_otp", json!("")),
            Err(ToolArgError::Missing { .. })
        ));
    }

    #[test]
    fn missing_and_invalid_arguments_say_what_to_do() {
        let err = parse(
            "reserve_slot",
            json!({"start": "2026-11-26T14:00:00-05:00", "service": "Cleaning"}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ToolArgError::Missing {
                tool: ToolName::ReserveSlot,
                arg: "caller_name"
            }
        );
        let said = err.to_string();
        assert!(said.contains("caller_name"), "{said}");
        assert!(said.contains("full name"), "{said}");

        let err = parse("send_otp", json!({"hold_id": "my-hold"})).unwrap_err();
        assert!(err.to_string().contains("never make one up"), "{err}");

        let err = parse("send_otp", json!({"hold_id": HOLD, "phone": "999-0123"})).unwrap_err();
        assert_eq!(
            err,
            ToolArgError::Invalid {
                tool: ToolName::SendOtp,
                arg: "phone"
            }
        );
        // The value passed is never echoed back.
        assert!(!err.to_string().contains("999"), "{err}");
    }

    #[test]
    fn unknown_tools_are_errors_and_the_name_is_cleaned() {
        let err = parse("book_now\nplease", json!({})).unwrap_err();
        assert_eq!(
            err,
            ToolArgError::UnknownTool {
                name: "book_now please".into()
            }
        );
        assert!(matches!(err.outcome(), ToolOutcome::Error(_)));
        assert!(matches!(
            parse("send_otp", json!({})).unwrap_err().outcome(),
            ToolOutcome::Result(_)
        ));
    }

    #[test]
    fn nothing_words_booleans_and_camel_case() {
        let call = parse(
            "capture_lead",
            json!({"callerName": "Ann Lee", "wants_callback": "yes", "notes": "none", "service_interest": null}),
        )
        .unwrap();
        assert_eq!(
            call,
            ToolCall::CaptureLead(CapturedLead {
                caller_name: Some("Ann Lee".into()),
                service_interest: None,
                wants_callback: Some(true),
                notes: None,
            })
        );
        let call = parse(
            "send_otp",
            json!({"hold_id": HOLD, "phone": "0044 20 7946 0958"}),
        )
        .unwrap();
        let ToolCall::SendOtp { phone, .. } = call else {
            panic!()
        };
        assert_eq!(phone.unwrap().as_str(), "+442079460958");
    }

    #[test]
    fn tenant_clinic_and_number_ids_change_nothing() {
        let plain = json!({"service": "Cleaning", "date": "2026-11-26"});
        let mut hostile = plain.clone();
        for (k, v) in [
            ("tenant_id", json!("00000000-0000-0000-0000-000000000001")),
            ("tenantId", json!({"$ne": null})),
            ("clinic_id", json!(7)),
            ("clinic", json!("Other Clinic")),
            (
                "phone_number_id",
                json!("4a5a04dc-dcbe-45b1-8f64-fd32a253d136"),
            ),
            ("phoneNumberId", json!([1, 2, 3])),
            ("called_number", json!("+15550009999")),
        ] {
            hostile[k] = v;
        }
        assert_eq!(
            parse("check_availability", plain).unwrap(),
            parse("check_availability", hostile).unwrap()
        );
    }

    #[test]
    fn debug_hides_digits_phones_and_codes() {
        let call = parse(
            "capture_lead",
            json!({"caller_name": "Ann", "notes": "call me on 415 555 0123"}),
        )
        .unwrap();
        let dbg = format!("{call:?}");
        assert!(!dbg.contains("0123"), "{dbg}");
        let call = parse(
            "send_otp",
            json!({"hold_id": HOLD, "phone": "+14155550123"}),
        )
        .unwrap();
        let dbg = format!("{call:?}");
        assert!(!dbg.contains("4155550123"), "{dbg}");
        assert!(dbg.contains("0123"), "{dbg}");
    }
}
