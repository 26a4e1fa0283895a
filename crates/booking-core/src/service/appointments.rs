//! What cancelling and rescheduling share: finding the caller's appointment, where its texts go,
//! and the code that proves a caller may change it.

use jiff::Timestamp;

use crate::booking::Booking;
use crate::ids::{BookingId, TenantId};
use crate::otp::{ChangeProof, OtpAttempt};
use crate::outbox::DedupeKey;
use crate::phone::PhoneNumber;
use crate::service::{BookingService, CallContext, CodeNotSent, ServiceResult, VerifyOutcome};

/// An appointment, as read back to a caller choosing one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentSummary {
    pub appointment_id: BookingId,
    pub service: String,
    pub start: Timestamp,
}

impl AppointmentSummary {
    fn of(b: &Booking) -> Self {
        Self {
            appointment_id: b.id,
            service: b.service.to_string(),
            start: b.slot.start,
        }
    }
}

/// A phone change that needs the code texted to the number on the appointment: it was texted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeTexted {
    pub appointment_id: BookingId,
    pub sent_to: PhoneNumber,
}

/// Why the code passed to a phone change did not prove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProblem {
    /// Wrong, with tries left.
    Wrong { attempts_left: u32 },
    /// Wrong, and no tries are left.
    NoTriesLeft,
    /// Expired, or already used.
    Gone,
    /// Not the clinic's number of digits: no guess, no try used.
    WrongLength { digits: u8 },
}

/// Why a caller's appointment could not be picked.
pub(super) enum PickFailure {
    /// The caller ID is withheld: there is nothing to find appointments by.
    HiddenNumber,
    NotFound(Vec<AppointmentSummary>),
    ChooseOne(Vec<AppointmentSummary>),
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
            return Ok(Err(PickFailure::HiddenNumber));
        };
        let upcoming = self
            .store
            .upcoming_for_phone(tenant.id, caller, now)
            .await?;
        let summaries =
            || -> Vec<AppointmentSummary> { upcoming.iter().map(AppointmentSummary::of).collect() };
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

/// Who moves an appointment: the owner (the dashboard session is the proof), the patient through
/// their link, or a caller, who proves it with the code texted to the number on the appointment.
pub(super) enum Mover<'a> {
    Owner,
    /// The patient, through their link (checked by `links`: live, outside the notice window).
    Patient,
    Caller {
        ctx: &'a CallContext,
        code: Option<&'a OtpAttempt>,
    },
}

/// Why a phone change does not go ahead (yet).
pub(super) enum ChangeStop {
    NeedsCode(CodeTexted),
    CodeRefused(CodeProblem),
    CodeNotSent(CodeNotSent),
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
    ) -> ServiceResult<Result<ChangeProof, ChangeStop>> {
        let tenant = &ctx.tenant;
        let now = self.clock.now();
        if let Some(code) = code {
            let problem = |p| Ok(Err(ChangeStop::CodeRefused(p)));
            match self.check_code(tenant.id, b.id, code, now).await? {
                Ok(challenge) => return Ok(Ok(ChangeProof::Code(challenge.id))),
                // No code waiting: text one, as without a code.
                Err(VerifyOutcome::NoCode) => {}
                Err(VerifyOutcome::WrongCode { attempts_left }) if attempts_left > 0 => {
                    return problem(CodeProblem::Wrong { attempts_left });
                }
                Err(VerifyOutcome::WrongCode { .. }) | Err(VerifyOutcome::TooManyAttempts) => {
                    return problem(CodeProblem::NoTriesLeft);
                }
                Err(VerifyOutcome::Refused(crate::service::VerifyRefusal::WrongLength {
                    digits,
                })) => return problem(CodeProblem::WrongLength { digits }),
                // Expired, or (not from a check) anything else: the code cannot be used.
                Err(_) => return problem(CodeProblem::Gone),
            }
        }
        let to = self.appointment_recipient(tenant.id, b).await?;
        match self
            .text_code(tenant, b, &to, ctx.call_id.as_ref(), now)
            .await?
        {
            Ok(_) => Ok(Err(ChangeStop::NeedsCode(CodeTexted {
                appointment_id: b.id,
                sent_to: to,
            }))),
            Err(not_sent) => Ok(Err(ChangeStop::CodeNotSent(not_sent))),
        }
    }
}
