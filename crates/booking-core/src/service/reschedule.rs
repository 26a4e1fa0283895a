//! `reschedule_appointment` (a caller) and `reschedule_booking_for_owner` (the dashboard).

use serde::Serialize;

use crate::booking::{Booking, BookingStatus, NewAppointment};
use crate::ids::BookingId;
use crate::messages;
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::StoreError;
use crate::provider::{Provider, ProviderId};
use crate::service::{
    AppointmentSummary, BookingService, CallContext, ChangeStop, CodeProblem, CodeTexted, Mover,
    PickFailure, ServiceResult, SlotOffer, ToolResult, code_gone, not_found_message, reminder_due,
    speak_appointments, speak_offers, start_instant,
};
use crate::start::SlotStart;
use crate::tenant::Tenant;

/// What `reschedule_appointment` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RescheduleOutcome {
    Rescheduled {
        /// The new appointment.
        appointment_id: BookingId,
        previous_appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        start: String,
        spoken: String,
    },
    Taken {
        alternatives: Vec<SlotOffer>,
    },
    ChooseOne {
        appointments: Vec<AppointmentSummary>,
    },
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
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<SlotOffer>,
    },
}

impl ToolResult for RescheduleOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Rescheduled { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Rescheduled { service, spoken, .. } => {
                format!("The appointment for {service} is moved to {spoken}; a text with the new time is on its way.")
            }
            Self::Taken { alternatives } if alternatives.is_empty() => {
                "That time is taken and nothing close to it is free; ask check_availability for another day.".into()
            }
            Self::Taken { alternatives } => {
                format!("That time is taken. Close free times: {}.", speak_offers(alternatives))
            }
            Self::ChooseOne { appointments } => format!(
                "The caller has several upcoming appointments: {}. Ask which one to move, then call again with its appointment_id.",
                speak_appointments(appointments)
            ),
            Self::NotFound { appointments } => not_found_message(appointments),
            Self::NeedsCode(texted) => texted.message(),
            Self::CodeRefused(problem) => problem.reason.clone(),
            Self::Refused { reason, alternatives } if alternatives.is_empty() => reason.clone(),
            Self::Refused { reason, alternatives } => {
                format!("{} Close free times: {}.", reason, speak_offers(alternatives))
            }
        }
    }
}

impl BookingService {
    /// `reschedule_appointment(appointment_id?, new_start, code?)` for the number calling. As
    /// `cancel_appointment`: once the new time passes the rules, a code is texted to the number
    /// on the appointment unless the right `code` is passed; only then is it moved.
    pub async fn reschedule_appointment(
        &self,
        ctx: &CallContext,
        appointment_id: Option<BookingId>,
        new_start: &SlotStart,
        code: Option<&str>,
    ) -> ServiceResult<RescheduleOutcome> {
        match self.pick_appointment(ctx, appointment_id).await? {
            Ok(b) => {
                self.reschedule(&ctx.tenant, &b, new_start, Mover::Caller { ctx, code })
                    .await
            }
            Err(PickFailure::Refused(reason)) => Ok(RescheduleOutcome::Refused {
                reason,
                alternatives: Vec::new(),
            }),
            Err(PickFailure::NotFound(appointments)) => {
                Ok(RescheduleOutcome::NotFound { appointments })
            }
            Err(PickFailure::ChooseOne(appointments)) => {
                Ok(RescheduleOutcome::ChooseOne { appointments })
            }
        }
    }

    /// The owner moves an appointment from the dashboard (same rules as a caller), to another
    /// provider when `provider` names one (`None`: the provider it is with). A provider who is
    /// not the clinic's, is retired or does not perform the service is refused; the new time is
    /// checked against that provider's hours and limits, and the database has the last word on
    /// their calendar.
    pub async fn reschedule_booking_for_owner(
        &self,
        tenant: &Tenant,
        id: BookingId,
        new_start: &SlotStart,
        provider: Option<ProviderId>,
    ) -> ServiceResult<RescheduleOutcome> {
        match self.store.booking(tenant.id, id).await? {
            Some(b) if b.status == BookingStatus::Confirmed => {
                let Some(to) = provider.filter(|p| *p != b.calendar) else {
                    return self.reschedule(tenant, &b, new_start, Mover::Owner).await;
                };
                match tenant.provider(to) {
                    Some(p) if p.offers(&b.service) => {
                        let theirs = Tenant {
                            config: p.schedule(&tenant.config),
                            ..tenant.clone()
                        };
                        self.reschedule_to(&theirs, tenant, &b, new_start, &p).await
                    }
                    Some(p) => Ok(RescheduleOutcome::Refused {
                        reason: format!(
                            "{} does not take {} appointments (retired, or not one of their services).",
                            p.name, b.service
                        ),
                        alternatives: Vec::new(),
                    }),
                    None => Ok(RescheduleOutcome::NotFound {
                        appointments: Vec::new(),
                    }),
                }
            }
            Some(b) => Ok(RescheduleOutcome::Refused {
                reason: format!(
                    "The booking is {}, not confirmed.",
                    b.effective_status(self.clock.now()).as_str()
                ),
                alternatives: Vec::new(),
            }),
            None => Ok(RescheduleOutcome::NotFound {
                appointments: Vec::new(),
            }),
        }
    }

    async fn reschedule(
        &self,
        tenant: &Tenant,
        old: &Booking,
        new_start: &SlotStart,
        mover: Mover<'_>,
    ) -> ServiceResult<RescheduleOutcome> {
        self.move_booking(tenant, tenant, old, new_start, mover, None)
            .await
    }

    /// The owner's move to another provider: `schedule` is the clinic with that provider's
    /// hours (see [`crate::provider::Provider::schedule`]).
    async fn reschedule_to(
        &self,
        schedule: &Tenant,
        tenant: &Tenant,
        old: &Booking,
        new_start: &SlotStart,
        to: &Provider,
    ) -> ServiceResult<RescheduleOutcome> {
        self.move_booking(schedule, tenant, old, new_start, Mover::Owner, Some(to))
            .await
    }

    async fn move_booking(
        &self,
        schedule: &Tenant,
        tenant: &Tenant,
        old: &Booking,
        new_start: &SlotStart,
        mover: Mover<'_>,
        target: Option<&Provider>,
    ) -> ServiceResult<RescheduleOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: String| RescheduleOutcome::Refused {
            reason,
            alternatives: Vec::new(),
        };
        let Some(svc) = cfg.service(old.service.as_str()) else {
            return Ok(refused(format!(
                "The clinic no longer offers {} for booking; the clinic can help directly.",
                old.service
            )));
        };
        let at = match start_instant(&cfg.zone, new_start) {
            Ok(t) => t,
            Err(reason) => return Ok(refused(reason)),
        };
        if at == old.slot.start && target.is_none() {
            return Ok(refused("The appointment is already at that time.".into()));
        }
        let slot = match self.slot_by_the_rules(schedule, svc, at, now).await? {
            Ok(s) => s,
            Err((reason, alternatives)) => {
                return Ok(RescheduleOutcome::Refused {
                    reason,
                    alternatives,
                });
            }
        };
        let (proof, call) = match mover {
            Mover::Owner => (ChangeProof::Owner, None),
            Mover::Caller { ctx, code } => {
                // No code is texted for a move that cannot happen (the store still has the last
                // word when it is made).
                let busy = self.store.busy(tenant.id, slot.blocked, now).await?;
                if busy
                    .iter()
                    .any(|i| *i != old.blocked && i.overlaps(&slot.blocked))
                {
                    return Ok(RescheduleOutcome::Taken {
                        alternatives: self.alternatives_near(tenant, svc, at, now).await?,
                    });
                }
                match self
                    .caller_proof(ctx, old, code, "reschedule_appointment")
                    .await?
                {
                    Ok(proof) => (proof, ctx.call_id.as_ref()),
                    Err(ChangeStop::NeedsCode(texted)) => {
                        return Ok(RescheduleOutcome::NeedsCode(texted));
                    }
                    Err(ChangeStop::CodeRefused(problem)) => {
                        return Ok(RescheduleOutcome::CodeRefused(problem));
                    }
                    Err(ChangeStop::Refused(reason)) => return Ok(refused(reason)),
                }
            }
        };
        let new = NewAppointment {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: target.map_or(old.calendar, |p| p.id),
            limits: target
                .map(|p| p.limits_at(cfg, slot.slot.start))
                .unwrap_or_default(),
            service: old.service.clone(),
            slot: slot.slot,
            blocked: slot.blocked,
            caller_name: old.caller_name.clone(),
            caller_phone: old.caller_phone.clone(),
            call_id: call.cloned().or_else(|| old.call_id.clone()),
            created_at: now,
            rescheduled_from: old.id,
        };
        let to = self.appointment_recipient(tenant.id, old).await?;
        let texts = [
            // The "moved" text is the new appointment's confirmation: one per booking, and what
            // send_confirmation_sms reports for it.
            self.new_message(
                tenant.id,
                MessageKind::Confirmation,
                DedupeKey::confirmation(new.id),
                &to,
                messages::rescheduled_text(
                    &cfg.name,
                    &cfg.zone,
                    &old.service,
                    old.slot.start,
                    slot.slot.start,
                ),
                now,
                Some(new.id),
                new.call_id.as_ref(),
                now,
            ),
            self.new_message(
                tenant.id,
                MessageKind::Reminder,
                DedupeKey::reminder(new.id),
                &to,
                messages::reminder_text(&cfg.name, &cfg.zone, &old.service, slot.slot.start),
                reminder_due(
                    now,
                    slot.slot.start,
                    self.config.reminder_before,
                    self.config.reminder_min_gap,
                ),
                Some(new.id),
                new.call_id.as_ref(),
                now,
            ),
        ];
        let withdraw = [DedupeKey::reminder(old.id), DedupeKey::confirmation(old.id)];
        match self
            .store
            .reschedule_booking(tenant.id, old.id, proof, &new, now, &withdraw, &texts)
            .await
        {
            Ok(b) => {
                let offer = SlotOffer::new(&cfg.zone, b.slot.start);
                Ok(RescheduleOutcome::Rescheduled {
                    appointment_id: b.id,
                    previous_appointment_id: old.id,
                    status: b.status,
                    service: b.service.to_string(),
                    start: offer.start,
                    spoken: offer.spoken,
                })
            }
            Err(StoreError::SlotTaken) => Ok(RescheduleOutcome::Taken {
                alternatives: self.alternatives_near(tenant, svc, at, now).await?,
            }),
            Err(StoreError::LimitReached) => Ok(refused(format!(
                "{} has no room for another appointment then (their daily or weekly limit).",
                target.map_or_else(|| "The provider".to_owned(), |p| p.name.to_string())
            ))),
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, old.id).await? {
                    // Still booked: the code was used or ran out meanwhile.
                    Some(b) if b.status == BookingStatus::Confirmed => Ok(
                        RescheduleOutcome::CodeRefused(code_gone("reschedule_appointment")),
                    ),
                    _ => Ok(refused(
                        "That appointment can no longer be moved (it was cancelled or moved meanwhile)."
                            .into(),
                    )),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
