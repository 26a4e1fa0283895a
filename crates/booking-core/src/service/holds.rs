//! `reserve_slot`: a hold on a time while the caller proves their number.

use jiff::Timestamp;

use crate::booking::{Booking, BookingStatus, HOLD_TTL, NewHold};
use crate::ids::BookingId;
use crate::ports::StoreError;
use crate::service::{
    AgainstTheRules, BookingService, CallContext, ReserveSlot, ServiceResult, UnknownService,
    clean_text, find_service,
};
use crate::start::StartProblem;

/// What `reserve_slot` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    Held {
        hold_id: BookingId,
        start: Timestamp,
        expires_at: Timestamp,
        service: String,
    },
    /// Someone else holds or booked it; the free starts closest to it.
    Taken {
        alternatives: Vec<Timestamp>,
    },
    Refused(ReserveRefusal),
}

/// Why `reserve_slot` held nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveRefusal {
    UnknownService(UnknownService),
    /// No caller name was given.
    NoCallerName,
    /// The caller ID is withheld and no number was given.
    HiddenNumber,
    /// The start names no instant in the clinic's zone.
    NoSuchStart(StartProblem),
    AgainstTheRules(AgainstTheRules),
}

impl BookingService {
    /// `reserve_slot(start, service, caller_name, phone?)`: the number booked under is `phone`,
    /// else the caller ID.
    pub async fn reserve_slot(
        &self,
        ctx: &CallContext,
        input: ReserveSlot,
    ) -> ServiceResult<ReserveOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |why| Ok(ReserveOutcome::Refused(why));
        let Some(svc) = find_service(cfg, &input.service) else {
            return refused(ReserveRefusal::UnknownService(UnknownService::new(
                cfg,
                &input.service,
            )));
        };
        let name = clean_text(&input.caller_name, 100);
        if name.is_empty() {
            return refused(ReserveRefusal::NoCallerName);
        }
        let Some(phone) = input.phone.or_else(|| ctx.caller.clone()) else {
            return refused(ReserveRefusal::HiddenNumber);
        };
        let at = match input.start.resolve(cfg.zone.tz()) {
            Ok(t) => t,
            Err(problem) => return refused(ReserveRefusal::NoSuchStart(problem)),
        };

        // The same call asking again for the slot it already holds gets the same hold.
        if let Some(call) = &ctx.call_id {
            let mine = self.store.bookings_for_call(tenant.id, call).await?;
            if let Some(b) = mine.iter().find(|b| {
                b.slot.start == at
                    && b.service == svc.name
                    && b.effective_status(now) == BookingStatus::Held
            }) {
                return Ok(Self::held(b));
            }
        }

        let slot = match self.slot_by_the_rules(tenant, svc, at, now).await? {
            Ok(s) => s,
            Err(against) => return refused(ReserveRefusal::AgainstTheRules(against)),
        };
        let hold = NewHold {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: tenant.calendar(),
            limits: Vec::new(),
            service: svc.name.clone(),
            slot: slot.slot,
            blocked: slot.blocked,
            caller_name: name,
            caller_phone: phone,
            call_id: ctx.call_id.clone(),
            created_at: now,
            hold_expires_at: now + HOLD_TTL,
        };
        match self
            .store
            .insert_hold(&hold, now, ctx.call_id.is_some())
            .await
        {
            Ok(b) => Ok(Self::held(&b)),
            Err(StoreError::SlotTaken) => Ok(ReserveOutcome::Taken {
                alternatives: self.alternatives_near(tenant, svc, at, now).await?,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn held(b: &Booking) -> ReserveOutcome {
        ReserveOutcome::Held {
            hold_id: b.id,
            start: b.slot.start,
            expires_at: b.hold_expires_at.unwrap_or(b.created_at + HOLD_TTL),
            service: b.service.to_string(),
        }
    }

    /// A booking of this tenant that this caller may act on: made during this call, or for the
    /// number calling. Another tenant's, another caller's or a made-up id all read as missing.
    pub(super) async fn callers_booking(
        &self,
        ctx: &CallContext,
        id: BookingId,
    ) -> ServiceResult<Option<Booking>> {
        let Some(b) = self.store.booking(ctx.tenant.id, id).await? else {
            return Ok(None);
        };
        let same_call = b.call_id.is_some() && b.call_id == ctx.call_id;
        let same_caller = ctx.caller.as_ref() == Some(&b.caller_phone);
        Ok((same_call || same_caller).then_some(b))
    }
}
