//! Appointments said to the model: the caller's appointments to choose from, the codes texted
//! to prove a change, cancel and reschedule.

use super::*;

fn appointments(zone: &ClinicZone, list: &[AppointmentSummary]) -> Vec<SpokenAppointment> {
    list.iter()
        .map(|a| {
            let offer = SlotOffer::new(zone, a.start);
            SpokenAppointment {
                appointment_id: a.appointment_id,
                service: a.service.clone(),
                start: offer.start,
                spoken: offer.spoken,
            }
        })
        .collect()
}

fn speak_appointments(list: &[SpokenAppointment]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|a| format!("{} on {}", a.service, a.spoken))
        .collect();
    join_or(&parts, "and")
}

/// The caller has several upcoming appointments. `which` asks which one ("Ask which one to
/// move").
fn choose_one(zone: &ClinicZone, list: &[AppointmentSummary], which: &str) -> ToolResult {
    let list = appointments(zone, list);
    not_done(
        "choose_one",
        format!(
            "The caller has several upcoming appointments: {}. {which}, then call again with its appointment_id.",
            speak_appointments(&list)
        ),
    )
    .field("appointments", list)
}

fn not_found(zone: &ClinicZone, list: &[AppointmentSummary]) -> ToolResult {
    let list = appointments(zone, list);
    let message = if list.is_empty() {
        "I could not find an upcoming appointment for the number the caller is calling from."
            .to_owned()
    } else {
        format!(
            "I could not find that appointment for this caller; their upcoming appointments are {}.",
            speak_appointments(&list)
        )
    };
    not_done("not_found", message).field("appointments", list)
}

fn code_texted(tool: &str, texted: &CodeTexted) -> ToolResult {
    let to: &PhoneNumber = &texted.sent_to;
    not_done(
        "needs_code",
        format!(
            "To protect the patient, I texted a code to the number ending in {} that is on the appointment. Ask the caller to read it out, then call {tool} again with the same appointment_id and the code.",
            to.last_four()
        ),
    )
    .field("appointment_id", texted.appointment_id)
    .field("needs_code", true)
    .field("sent_to", to.masked())
}

fn code_problem(tool: &str, p: &CodeProblem) -> ToolResult {
    let (message, attempts_left) = match p {
        CodeProblem::Wrong { attempts_left } => (
            format!(
                "That code is wrong; ask the caller to read it again ({attempts_left} {} left), then call {tool} again with it.",
                tries(*attempts_left)
            ),
            Some(*attempts_left),
        ),
        CodeProblem::NoTriesLeft => (
            format!(
                "That code is wrong and has no tries left; call {tool} again without a code to text a new one."
            ),
            Some(0),
        ),
        CodeProblem::Gone => (
            format!(
                "That code has expired or was already used; call {tool} again without a code to text a new one."
            ),
            None,
        ),
        CodeProblem::WrongLength { digits } => (wrong_length(*digits), None),
    };
    let r = not_done("code_refused", message);
    match attempts_left {
        Some(n) => r.field("attempts_left", n),
        None => r,
    }
}

const HIDDEN_NUMBER: &str = "The caller's number is hidden, so I cannot find their appointments; the clinic can help directly.";

impl Speak for CancelOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        let tool = ToolName::CancelAppointment.as_str();
        match self {
            Self::Cancelled {
                appointment_id,
                status,
                service,
                start,
            } => {
                let spoken = SlotOffer::new(zone, *start).spoken;
                done(
                    "cancelled",
                    format!(
                        "The appointment for {service} on {spoken} is cancelled; a text confirming it is on its way."
                    ),
                )
                .field("appointment_id", appointment_id)
                .field("status", status)
                .field("service", service)
                .field("spoken", spoken)
            }
            Self::ChooseOne { appointments } => choose_one(zone, appointments, "Ask which one"),
            Self::NotFound { appointments } => not_found(zone, appointments),
            Self::NeedsCode(texted) => code_texted(tool, texted),
            Self::CodeRefused(problem) => code_problem(tool, problem),
            Self::Refused(why) => refused(
                match why {
                    CancelRefusal::HiddenNumber => HIDDEN_NUMBER.into(),
                    CancelRefusal::CodeNotSent(c) => code_not_sent(c),
                    CancelRefusal::NotConfirmed { status } => {
                        format!("The booking is {}, not confirmed.", status.as_str())
                    }
                    CancelRefusal::NoLongerCancellable => {
                        "That appointment can no longer be cancelled.".into()
                    }
                },
                &[],
            ),
        }
    }
}

impl Speak for RescheduleOutcome {
    fn speak(&self, zone: &ClinicZone) -> ToolResult {
        let tool = ToolName::RescheduleAppointment.as_str();
        match self {
            Self::Rescheduled {
                appointment_id,
                previous_appointment_id,
                status,
                service,
                start,
            } => {
                let offer = SlotOffer::new(zone, *start);
                done(
                    "rescheduled",
                    format!(
                        "The appointment for {service} is moved to {}; a text with the new time is on its way.",
                        offer.spoken
                    ),
                )
                .field("appointment_id", appointment_id)
                .field("previous_appointment_id", previous_appointment_id)
                .field("status", status)
                .field("service", service)
                .field("start", offer.start)
                .field("spoken", offer.spoken)
            }
            Self::Taken { alternatives } => {
                let alternatives = offers(zone, alternatives);
                let message = if alternatives.is_empty() {
                    "That time is taken and nothing close to it is free; ask check_availability for another day.".into()
                } else {
                    format!(
                        "That time is taken. Close free times: {}.",
                        speak_offers(&alternatives)
                    )
                };
                not_done("taken", message).field("alternatives", alternatives)
            }
            Self::ChooseOne { appointments } => {
                choose_one(zone, appointments, "Ask which one to move")
            }
            Self::NotFound { appointments } => not_found(zone, appointments),
            Self::NeedsCode(texted) => code_texted(tool, texted),
            Self::CodeRefused(problem) => code_problem(tool, problem),
            Self::Refused(why) => match why {
                RescheduleRefusal::HiddenNumber => refused(HIDDEN_NUMBER.into(), &[]),
                RescheduleRefusal::CodeNotSent(c) => refused(code_not_sent(c), &[]),
                RescheduleRefusal::NotConfirmed { status } => refused(
                    format!("The booking is {}, not confirmed.", status.as_str()),
                    &[],
                ),
                RescheduleRefusal::ServiceGone { service } => refused(
                    format!(
                        "The clinic no longer offers {service} for booking; the clinic can help directly."
                    ),
                    &[],
                ),
                RescheduleRefusal::NoSuchStart(p) => refused(no_such_start(p), &[]),
                RescheduleRefusal::SameTime => {
                    refused("The appointment is already at that time.".into(), &[])
                }
                RescheduleRefusal::AgainstTheRules(a) => against_the_rules(zone, a),
                RescheduleRefusal::NoLongerMovable => refused(
                    "That appointment can no longer be moved (it was cancelled or moved meanwhile)."
                        .into(),
                    &[],
                ),
                // Only the owner moves an appointment to another provider.
                RescheduleRefusal::NotTheirService { .. } | RescheduleRefusal::ProviderFull { .. } => {
                    refused(
                        "That appointment cannot be moved that way; the clinic can help directly."
                            .into(),
                        &[],
                    )
                }
            },
        }
    }
}
