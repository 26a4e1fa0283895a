//! `cancel_appointment` (a caller) and `cancel_booking_for_owner` (the dashboard).

use serde::Serialize;

use crate::booking::{Booking, BookingStatus};
use crate::ids::{BookingId, CallId};
use crate::messages;
use crate::otp::{ChangeProof, OtpAttempt};
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::StoreError;
use crate::service::{
    AppointmentSummary, BookingService, CallContext, ChangeStop, CodeProblem, CodeTexted,
    PickFailure, ServiceResult, ToolResult, code_gone, not_found_message, speak_appointments,
    spoken_at,
};
use crate::tenant::Tenant;

/// What `cancel_appointment` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CancelOutcome {
    Cancelled {
        appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        spoken: String,
    },
    /// The caller has several upcoming appointments: which one?
    ChooseOne {
        appointments: Vec<AppointmentSummary>,
    },
    /// No such appointment for this caller (`appointments` lists the ones they do have).
    NotFound {
        appointments: Vec<AppointmentSummary>,
    },
    /// A code was texted to the number on the appointment: nothing changes until the caller
    /// reads it back.
    NeedsCode(CodeTexted),
    /// The code passed was not the right one, or can no longer be used.
    CodeRefused(CodeProblem),
    Refused {
        reason: String,
    },
}

impl ToolResult for CancelOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Cancelled {
                service, spoken, ..
            } => {
                format!(
                    "The appointment for {service} on {spoken} is cancelled; a text confirming it is on its way."
                )
            }
            Self::ChooseOne { appointments } => format!(
                "The caller has several upcoming appointments: {}. Ask which one, then call again with its appointment_id.",
                speak_appointments(appointments)
            ),
            Self::NotFound { appointments } => not_found_message(appointments),
            Self::NeedsCode(texted) => texted.message(),
            Self::CodeRefused(problem) => problem.reason.clone(),
            Self::Refused { reason } => reason.clone(),
        }
    }
}

impl BookingService {
    /// `cancel_appointment(appointment_id?, code?)` for the number calling. Caller ID only finds
    /// the appointment: without `code` a code is texted to the number on the appointment and
    /// nothing changes; with the right one, it is cancelled.
    pub async fn cancel_appointment(
        &self,
        ctx: &CallContext,
        appointment_id: Option<BookingId>,
        code: Option<&OtpAttempt>,
    ) -> ServiceResult<CancelOutcome> {
        match self.pick_appointment(ctx, appointment_id).await? {
            Ok(b) => match self
                .caller_proof(ctx, &b, code, "cancel_appointment")
                .await?
            {
                Ok(proof) => {
                    self.cancel(&ctx.tenant, &b, proof, ctx.call_id.as_ref())
                        .await
                }
                Err(ChangeStop::NeedsCode(texted)) => Ok(CancelOutcome::NeedsCode(texted)),
                Err(ChangeStop::CodeRefused(problem)) => Ok(CancelOutcome::CodeRefused(problem)),
                Err(ChangeStop::Refused(reason)) => Ok(CancelOutcome::Refused { reason }),
            },
            Err(PickFailure::Refused(reason)) => Ok(CancelOutcome::Refused { reason }),
            Err(PickFailure::NotFound(appointments)) => {
                Ok(CancelOutcome::NotFound { appointments })
            }
            Err(PickFailure::ChooseOne(appointments)) => {
                Ok(CancelOutcome::ChooseOne { appointments })
            }
        }
    }

    /// The owner cancels from the dashboard.
    pub async fn cancel_booking_for_owner(
        &self,
        tenant: &Tenant,
        id: BookingId,
    ) -> ServiceResult<CancelOutcome> {
        match self.store.booking(tenant.id, id).await? {
            Some(b) if b.status == BookingStatus::Confirmed => {
                self.cancel(tenant, &b, ChangeProof::Owner, None).await
            }
            Some(b) => Ok(CancelOutcome::Refused {
                reason: format!(
                    "The booking is {}, not confirmed.",
                    b.effective_status(self.clock.now()).as_str()
                ),
            }),
            None => Ok(CancelOutcome::NotFound {
                appointments: Vec::new(),
            }),
        }
    }

    async fn cancel(
        &self,
        tenant: &Tenant,
        b: &Booking,
        proof: ChangeProof,
        call: Option<&CallId>,
    ) -> ServiceResult<CancelOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let to = self.appointment_recipient(tenant.id, b).await?;
        let text = self.new_message(
            tenant.id,
            MessageKind::Cancellation,
            DedupeKey::cancellation(b.id),
            &to,
            messages::cancellation_text(&cfg.name, &cfg.zone, &b.service, b.slot.start),
            now,
            Some(b.id),
            call.or(b.call_id.as_ref()),
            now,
        );
        let withdraw = [DedupeKey::reminder(b.id), DedupeKey::confirmation(b.id)];
        let done = match self
            .store
            .cancel_booking(tenant.id, b.id, proof, now, &withdraw, &[text])
            .await
        {
            Ok(done) => done,
            // Cancelled meanwhile (a replay, or the owner): the same answer.
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, b.id).await? {
                    Some(now_b) if now_b.status == BookingStatus::Cancelled => now_b,
                    Some(now_b) if now_b.status == BookingStatus::Confirmed => {
                        // Still booked: the code was used or ran out meanwhile.
                        return Ok(CancelOutcome::CodeRefused(code_gone("cancel_appointment")));
                    }
                    _ => {
                        return Ok(CancelOutcome::Refused {
                            reason: "That appointment can no longer be cancelled.".into(),
                        });
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(CancelOutcome::Cancelled {
            appointment_id: done.id,
            status: done.status,
            service: done.service.to_string(),
            spoken: spoken_at(&cfg.zone, done.slot.start),
        })
    }
}
