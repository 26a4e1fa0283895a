//! `cancel_appointment` (a caller) and `cancel_booking_for_owner` (the dashboard).

use crate::outbox::MessageDraft;
use jiff::Timestamp;

use crate::booking::{Booking, BookingStatus};
use crate::ids::{BookingId, CallId};
use crate::messages;
use crate::otp::{ChangeProof, OtpAttempt};
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::StoreError;
use crate::service::{
    AppointmentSummary, BookingService, CallContext, ChangeStop, CodeNotSent, CodeProblem,
    CodeTexted, PickFailure, ServiceResult,
};
use crate::tenant::Tenant;

/// What `cancel_appointment` (or the owner's cancel) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled {
        appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        start: Timestamp,
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
    Refused(CancelRefusal),
}

/// Why an appointment was not cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelRefusal {
    /// The caller ID is withheld: there is nothing to find appointments by.
    HiddenNumber,
    /// The code that would prove the change could not be texted.
    CodeNotSent(CodeNotSent),
    /// The owner's cancel of a booking that is not a confirmed appointment (its status now).
    NotConfirmed { status: BookingStatus },
    /// It changed meanwhile (moved, or its hold ran out).
    NoLongerCancellable,
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
            Ok(b) => match self.caller_proof(ctx, &b, code).await? {
                Ok(proof) => {
                    self.cancel(&ctx.tenant, &b, proof, ctx.call_id.as_ref())
                        .await
                }
                Err(ChangeStop::NeedsCode(texted)) => Ok(CancelOutcome::NeedsCode(texted)),
                Err(ChangeStop::CodeRefused(problem)) => Ok(CancelOutcome::CodeRefused(problem)),
                Err(ChangeStop::CodeNotSent(not_sent)) => {
                    Ok(CancelOutcome::Refused(CancelRefusal::CodeNotSent(not_sent)))
                }
            },
            Err(PickFailure::HiddenNumber) => {
                Ok(CancelOutcome::Refused(CancelRefusal::HiddenNumber))
            }
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
            Some(b) => Ok(CancelOutcome::Refused(CancelRefusal::NotConfirmed {
                status: b.effective_status(self.clock.now()),
            })),
            None => Ok(CancelOutcome::NotFound {
                appointments: Vec::new(),
            }),
        }
    }

    pub(super) async fn cancel(
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
            MessageDraft {
                tenant: tenant.id,
                kind: MessageKind::Cancellation,
                dedupe_key: DedupeKey::cancellation(b.id),
                to: to.clone(),
                body: messages::cancellation_text(&cfg.name, &cfg.zone, &b.service, b.slot.start),
                due_at: now,
                booking: Some(b.id),
                call_id: call.or(b.call_id.as_ref()).cloned(),
            },
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
                        return Ok(CancelOutcome::CodeRefused(CodeProblem::Gone));
                    }
                    _ => {
                        return Ok(CancelOutcome::Refused(CancelRefusal::NoLongerCancellable));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(CancelOutcome::Cancelled {
            appointment_id: done.id,
            status: done.status,
            service: done.service.to_string(),
            start: done.slot.start,
        })
    }
}
