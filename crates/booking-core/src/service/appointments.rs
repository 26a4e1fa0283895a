//! What cancelling and rescheduling share: finding the caller's appointment, where its texts go,
//! and the code that proves a caller may change it.

use serde::Serialize;

use crate::booking::Booking;
use crate::ids::{BookingId, TenantId};
use crate::otp::{ChangeProof, OtpAttempt};
use crate::outbox::DedupeKey;
use crate::phone::PhoneNumber;
use crate::service::{
    BookingService, CallContext, ServiceResult, ToolResult, VerifyOutcome, join_or, rfc3339,
    spoken_at,
};
use crate::tenant::ClinicZone;

/// An appointment, as read back to a caller choosing one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppointmentSummary {
    pub appointment_id: BookingId,
    pub service: String,
    pub start: String,
    pub spoken: String,
}

impl AppointmentSummary {
    fn of(zone: &ClinicZone, b: &Booking) -> Self {
        Self {
            appointment_id: b.id,
            service: b.service.to_string(),
            start: rfc3339(zone, b.slot.start),
            spoken: spoken_at(zone, b.slot.start),
        }
    }
}

pub(super) fn speak_appointments(list: &[AppointmentSummary]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|a| format!("{} on {}", a.service, a.spoken))
        .collect();
    join_or(&parts, "and")
}

/// The answer of a phone change that needs the code texted to the appointment's number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeTexted {
    pub appointment_id: BookingId,
    /// Always `true`: the model calls again with `code`.
    pub needs_code: bool,
    /// "+*******7621"
    pub sent_to: String,
    #[serde(skip)]
    pub last_four: String,
    #[serde(skip)]
    pub tool: &'static str,
}

impl CodeTexted {
    pub(super) fn message(&self) -> String {
        format!(
            "To protect the patient, I texted a code to the number ending in {} that is on the appointment. Ask the caller to read it out, then call {} again with the same appointment_id and the code.",
            self.last_four, self.tool
        )
    }
}

/// Why the code passed to a phone change did not prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    #[serde(skip)]
    pub reason: String,
}

pub(super) fn not_found_message(appointments: &[AppointmentSummary]) -> String {
    if appointments.is_empty() {
        "I could not find an upcoming appointment for the number the caller is calling from.".into()
    } else {
        format!(
            "I could not find that appointment for this caller; their upcoming appointments are {}.",
            speak_appointments(appointments)
        )
    }
}

impl BookingService {
    /// The caller's upcoming appointment they mean: the one with `id`, or their only one.
    pub(super) async fn pick_appointment(
        &self,
        ctx: &CallContext,
        id: Option<BookingId>,
    ) -> ServiceResult<Result<Booking, PickFailure>> {
        let tenant = &ctx.tenant;
        let now = self.clock.now();
        let Some(caller) = &ctx.caller else {
            return Ok(Err(PickFailure::Refused(
                "The caller's number is hidden, so I cannot find their appointments; the clinic can help directly.".into(),
            )));
        };
        let upcoming = self
            .store
            .upcoming_for_phone(tenant.id, caller, now)
            .await?;
        let summaries = || -> Vec<AppointmentSummary> {
            upcoming
                .iter()
                .map(|b| AppointmentSummary::of(&tenant.config.zone, b))
                .collect()
        };
        match id {
            Some(id) => {
                let found = upcoming.iter().find(|b| b.id == id);
                match found {
                    Some(b) => Ok(Ok(b.clone())),
                    None => Ok(Err(PickFailure::NotFound(summaries()))),
                }
            }
            None => match upcoming.as_slice() {
                [] => Ok(Err(PickFailure::NotFound(Vec::new()))),
                [one] => Ok(Ok(one.clone())),
                _ => Ok(Err(PickFailure::ChooseOne(summaries()))),
            },
        }
    }

    /// Where texts about an appointment go: where its confirmation went (the number that proved
    /// it), else the number it was booked under.
    pub(super) async fn appointment_recipient(
        &self,
        tenant: TenantId,
        b: &Booking,
    ) -> ServiceResult<PhoneNumber> {
        Ok(self
            .store
            .message_by_key(tenant, &DedupeKey::confirmation(b.id))
            .await?
            .map(|m| m.to)
            .unwrap_or_else(|| b.caller_phone.clone()))
    }
}

/// Who moves an appointment: the owner (the dashboard session is the proof), or a caller, who
/// proves it with the code texted to the number on the appointment.
pub(super) enum Mover<'a> {
    Owner,
    Caller {
        ctx: &'a CallContext,
        code: Option<&'a OtpAttempt>,
    },
}

/// Why a phone change does not go ahead (yet).
pub(super) enum ChangeStop {
    NeedsCode(CodeTexted),
    CodeRefused(CodeProblem),
    Refused(String),
}

pub(super) fn code_gone(tool: &str) -> CodeProblem {
    CodeProblem {
        attempts_left: None,
        reason: format!(
            "That code has expired or was already used; call {tool} again without a code to text a new one."
        ),
    }
}

impl BookingService {
    /// What proves that the caller may change `b`: the right code for it, or else a code texted
    /// now to the number on the appointment (caller ID is easy to spoof; the phone that booked is
    /// not). A wrong code counts against the code's checks as in `verify_otp`.
    pub(super) async fn caller_proof(
        &self,
        ctx: &CallContext,
        b: &Booking,
        code: Option<&OtpAttempt>,
        tool: &'static str,
    ) -> ServiceResult<Result<ChangeProof, ChangeStop>> {
        let tenant = &ctx.tenant;
        let now = self.clock.now();
        if let Some(code) = code {
            let problem = |attempts_left: Option<u32>, reason: String| {
                Ok(Err(ChangeStop::CodeRefused(CodeProblem {
                    attempts_left,
                    reason,
                })))
            };
            match self.check_code(tenant.id, b.id, code, now).await? {
                Ok(challenge) => return Ok(Ok(ChangeProof::Code(challenge.id))),
                // No code waiting: text one, as without a code.
                Err(VerifyOutcome::NoCode) => {}
                Err(VerifyOutcome::WrongCode { attempts_left }) if attempts_left > 0 => {
                    return problem(
                        Some(attempts_left),
                        format!(
                            "That code is wrong; ask the caller to read it again ({attempts_left} {} left), then call {tool} again with it.",
                            if attempts_left == 1 { "try" } else { "tries" }
                        ),
                    );
                }
                Err(VerifyOutcome::WrongCode { .. }) | Err(VerifyOutcome::TooManyAttempts) => {
                    return problem(
                        Some(0),
                        format!(
                            "That code is wrong and has no tries left; call {tool} again without a code to text a new one."
                        ),
                    );
                }
                Err(VerifyOutcome::CodeExpired) => return problem(None, code_gone(tool).reason),
                Err(other) => return problem(None, other.message()),
            }
        }
        let to = self.appointment_recipient(tenant.id, b).await?;
        match self
            .text_code(tenant, b, &to, ctx.call_id.as_ref(), now)
            .await?
        {
            Ok(_) => Ok(Err(ChangeStop::NeedsCode(CodeTexted {
                appointment_id: b.id,
                needs_code: true,
                sent_to: to.masked(),
                last_four: to.last_four().to_owned(),
                tool,
            }))),
            Err(refusal) => Ok(Err(ChangeStop::Refused(refusal.message()))),
        }
    }
}

pub(super) enum PickFailure {
    Refused(String),
    NotFound(Vec<AppointmentSummary>),
    ChooseOne(Vec<AppointmentSummary>),
}
