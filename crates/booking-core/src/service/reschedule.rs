//! `reschedule_appointment` (a caller) and `reschedule_booking_for_owner` (the dashboard).

use crate::outbox::MessageDraft;
use jiff::Timestamp;

use crate::booking::{Booking, BookingStatus, NewAppointment};
use crate::ids::BookingId;
use crate::link_token::LinkToken;
use crate::messages;
use crate::otp::{ChangeProof, OtpAttempt};
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::StoreError;
use crate::provider::{Provider, ProviderId, ProviderName};
use crate::service::{
    AgainstTheRules, AppointmentSummary, BookingService, CallContext, ChangeStop, CodeNotSent,
    CodeProblem, CodeTexted, Mover, PickFailure, ServiceResult, reminder_due,
};
use crate::start::{SlotStart, StartProblem};
use crate::tenant::{ServiceName, Tenant};

/// What `reschedule_appointment` (or the owner's move) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RescheduleOutcome {
    Rescheduled {
        /// The new appointment.
        appointment_id: BookingId,
        previous_appointment_id: BookingId,
        status: BookingStatus,
        service: String,
        start: Timestamp,
    },
    /// The new time is taken; the free starts closest to it.
    Taken {
        alternatives: Vec<Timestamp>,
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
    Refused(RescheduleRefusal),
}

/// Why an appointment was not moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RescheduleRefusal {
    /// The caller ID is withheld: there is nothing to find appointments by.
    HiddenNumber,
    /// The code that would prove the change could not be texted.
    CodeNotSent(CodeNotSent),
    /// The owner's move of a booking that is not a confirmed appointment (its status now).
    NotConfirmed {
        status: BookingStatus,
    },
    /// The clinic no longer offers the appointment's service.
    ServiceGone {
        service: String,
    },
    /// The new start names no instant in the clinic's zone.
    NoSuchStart(StartProblem),
    /// The new start is the appointment's own.
    SameTime,
    AgainstTheRules(AgainstTheRules),
    /// It changed meanwhile (cancelled or moved).
    NoLongerMovable,
    /// The owner's move to a provider who is retired or does not perform the service.
    NotTheirService {
        provider: ProviderName,
        service: ServiceName,
    },
    /// The owner's move to a provider whose daily or weekly limit the new time would pass.
    ProviderFull {
        provider: ProviderName,
    },
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
        code: Option<&OtpAttempt>,
    ) -> ServiceResult<RescheduleOutcome> {
        match self.pick_appointment(ctx, appointment_id).await? {
            Ok(b) => {
                self.reschedule(&ctx.tenant, &b, new_start, Mover::Caller { ctx, code })
                    .await
            }
            Err(PickFailure::HiddenNumber) => {
                Ok(RescheduleOutcome::Refused(RescheduleRefusal::HiddenNumber))
            }
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
    /// not the clinic's is `NotFound`; one who is retired or does not perform the service is
    /// refused; the new time is checked against that provider's hours and limits, and the
    /// database has the last word on their calendar.
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
                        self.move_booking(tenant, &b, new_start, Mover::Owner, Some(&p))
                            .await
                    }
                    Some(p) => Ok(RescheduleOutcome::Refused(
                        RescheduleRefusal::NotTheirService {
                            provider: p.name,
                            service: b.service.clone(),
                        },
                    )),
                    None => Ok(RescheduleOutcome::NotFound {
                        appointments: Vec::new(),
                    }),
                }
            }
            Some(b) => Ok(RescheduleOutcome::Refused(
                RescheduleRefusal::NotConfirmed {
                    status: b.effective_status(self.clock.now()),
                },
            )),
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
        self.move_booking(tenant, old, new_start, mover, None).await
    }

    /// The move; `target` is the provider the owner moves it to (`None`: as below, the one it
    /// is with).
    async fn move_booking(
        &self,
        tenant: &Tenant,
        old: &Booking,
        new_start: &SlotStart,
        mover: Mover<'_>,
        target: Option<&Provider>,
    ) -> ServiceResult<RescheduleOutcome> {
        let mut new_link = None;
        self.move_booking_linked(tenant, old, new_start, mover, target, &mut new_link)
            .await
    }

    /// The move; `new_link` gets the new appointment's link when it moved and the deployment
    /// has links (the patient's page goes on to it).
    pub(super) async fn move_booking_linked(
        &self,
        tenant: &Tenant,
        old: &Booking,
        new_start: &SlotStart,
        mover: Mover<'_>,
        target: Option<&Provider>,
        new_link: &mut Option<LinkToken>,
    ) -> ServiceResult<RescheduleOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = RescheduleOutcome::Refused;
        let Some(svc) = cfg.service(old.service.as_str()) else {
            return Ok(refused(RescheduleRefusal::ServiceGone {
                service: old.service.to_string(),
            }));
        };
        let at = match new_start.resolve(cfg.zone.tz()) {
            Ok(t) => t,
            Err(problem) => return Ok(refused(RescheduleRefusal::NoSuchStart(problem))),
        };
        if at == old.slot.start && target.is_none() {
            return Ok(refused(RescheduleRefusal::SameTime));
        }
        // A move keeps the provider (while they are active and perform the service).
        let providers: Vec<_> = match (target, tenant.provider(old.calendar)) {
            (Some(to), _) => vec![to.clone()],
            (None, Some(p)) if p.offers(&svc.name) => vec![p],
            (None, _) => tenant.providers_for(svc),
        };
        let (slot, working) = match self
            .slot_by_the_rules(tenant, svc, &providers, at, now)
            .await?
        {
            Ok(s) => s,
            Err(against) => return Ok(refused(RescheduleRefusal::AgainstTheRules(against))),
        };
        let Some(provider) = working
            .iter()
            .find(|p| p.id == old.calendar)
            .or(working.first())
            .cloned()
        else {
            return Ok(refused(RescheduleRefusal::AgainstTheRules(
                AgainstTheRules {
                    why: crate::availability::Unbookable::Closed,
                    alternatives: Vec::new(),
                },
            )));
        };
        let (proof, call) = match mover {
            Mover::Owner => (ChangeProof::Owner, None),
            Mover::Patient => (ChangeProof::PatientLink, None),
            Mover::Caller { ctx, code } => {
                // No code is texted for a move that cannot happen (the store still has the last
                // word when it is made).
                let busy = self
                    .occupied_in(tenant, &[provider.id], slot.blocked, now)
                    .await?;
                if busy.iter().any(|o| {
                    !(o.is_booking() && o.blocked == old.blocked)
                        && o.blocked.overlaps(&slot.blocked)
                }) {
                    return Ok(RescheduleOutcome::Taken {
                        alternatives: self
                            .alternatives_near(tenant, svc, &providers, at, now)
                            .await?,
                    });
                }
                match self.caller_proof(ctx, old, code).await? {
                    Ok(proof) => (proof, ctx.call_id.as_ref()),
                    Err(ChangeStop::NeedsCode(texted)) => {
                        return Ok(RescheduleOutcome::NeedsCode(texted));
                    }
                    Err(ChangeStop::CodeRefused(problem)) => {
                        return Ok(RescheduleOutcome::CodeRefused(problem));
                    }
                    Err(ChangeStop::CodeNotSent(not_sent)) => {
                        return Ok(refused(RescheduleRefusal::CodeNotSent(not_sent)));
                    }
                }
            }
        };
        let new = NewAppointment {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: provider.id,
            limits: provider.limits_at(cfg, slot.slot.start),
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
        // The new appointment gets a link of its own; the old one's is revoked once it moved.
        let link = self
            .issue_link(tenant.id, new.id, new.slot.end, now)
            .await?;
        let url = link.as_ref().map(|l| l.url.as_str());
        let texts = [
            // The "moved" text is the new appointment's confirmation: one per booking, and what
            // send_confirmation_sms reports for it.
            self.new_message(
                MessageDraft {
                    tenant: tenant.id,
                    kind: MessageKind::Confirmation,
                    dedupe_key: DedupeKey::confirmation(new.id),
                    to: to.clone(),
                    body: messages::rescheduled_text(
                        &cfg.name,
                        &cfg.zone,
                        &old.service,
                        tenant.provider_to_name(provider.id).as_ref(),
                        old.slot.start,
                        slot.slot.start,
                        url,
                    ),
                    due_at: now,
                    booking: Some(new.id),
                    call_id: new.call_id.as_ref().cloned(),
                },
                now,
            ),
            self.new_message(
                MessageDraft {
                    tenant: tenant.id,
                    kind: MessageKind::Reminder,
                    dedupe_key: DedupeKey::reminder(new.id),
                    to: to.clone(),
                    body: messages::reminder_text(
                        &cfg.name,
                        &cfg.zone,
                        &old.service,
                        tenant.provider_to_name(provider.id).as_ref(),
                        slot.slot.start,
                        url,
                    ),
                    due_at: reminder_due(
                        now,
                        slot.slot.start,
                        self.config.reminder_before,
                        self.config.reminder_min_gap,
                    ),
                    booking: Some(new.id),
                    call_id: new.call_id.as_ref().cloned(),
                },
                now,
            ),
        ];
        let withdraw = [DedupeKey::reminder(old.id), DedupeKey::confirmation(old.id)];
        let outcome = match self
            .store
            .reschedule_booking(tenant.id, old.id, proof, &new, now, &withdraw, &texts)
            .await
        {
            Ok(b) => {
                self.store.revoke_links(tenant.id, old.id, now).await?;
                *new_link = link.map(|l| l.token);
                RescheduleOutcome::Rescheduled {
                    appointment_id: b.id,
                    previous_appointment_id: old.id,
                    status: b.status,
                    service: b.service.to_string(),
                    start: b.slot.start,
                }
            }
            Err(StoreError::LimitReached) if target.is_some() => {
                refused(RescheduleRefusal::ProviderFull {
                    provider: provider.name.clone(),
                })
            }
            Err(StoreError::SlotTaken) | Err(StoreError::LimitReached) => {
                RescheduleOutcome::Taken {
                    alternatives: self
                        .alternatives_near(tenant, svc, &providers, at, now)
                        .await?,
                }
            }
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                match self.store.booking(tenant.id, old.id).await? {
                    // Still booked: the code was used or ran out meanwhile.
                    Some(b) if b.status == BookingStatus::Confirmed => {
                        RescheduleOutcome::CodeRefused(CodeProblem::Gone)
                    }
                    _ => refused(RescheduleRefusal::NoLongerMovable),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(outcome)
    }
}
