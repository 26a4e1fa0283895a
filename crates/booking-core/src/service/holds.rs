//! `reserve_slot`: a hold on a time while the caller proves their number.

use crate::booking::CallHolds;
use futures_util::FutureExt;
use jiff::Timestamp;

use crate::availability;
use crate::booking::{Booking, BookingStatus, HOLD_TTL, NewHold};
use crate::ids::BookingId;
use crate::ports::StoreError;
use crate::provider::ProviderName;
use crate::service::{
    AgainstTheRules, BookingService, CallContext, ProviderProblem, ReserveSlot, ServiceResult,
    UnknownService, candidates, clean_text, find_service,
};
use crate::start::StartProblem;
use crate::tenant::Tenant;

/// What `reserve_slot` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    Held {
        hold_id: BookingId,
        start: Timestamp,
        expires_at: Timestamp,
        service: String,
        /// Who the appointment is with.
        provider: ProviderName,
    },
    /// Someone else holds or booked it (with every provider who could take it); the free starts
    /// closest to it.
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
    /// The provider asked for is unknown, ambiguous or does not perform the service.
    Provider(ProviderProblem),
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
        let asked = input.provider.as_deref().filter(|p| !p.trim().is_empty());
        let providers = match candidates(tenant, svc, asked) {
            Ok(p) => p,
            Err(problem) => return refused(ReserveRefusal::Provider(problem)),
        };

        // The same call asking again for the slot it already holds gets the same hold.
        let mut own_holds = Vec::new();
        if let Some(call) = &ctx.call_id {
            let mine = self.store.bookings_for_call(tenant.id, call).await?;
            // The call's live holds give way to the new one (the store releases them).
            own_holds = mine
                .iter()
                .filter(|b| b.effective_status(now) == BookingStatus::Held)
                .map(|b| (b.calendar, b.blocked))
                .collect();
            if let Some(b) = mine.iter().find(|b| {
                b.slot.start == at
                    && b.service == svc.name
                    && b.effective_status(now) == BookingStatus::Held
                    && providers.iter().any(|p| p.id == b.calendar)
            }) {
                return Ok(Self::held(tenant, b));
            }
        }

        let (slot, working) = match self
            .slot_by_the_rules(tenant, svc, &providers, at, now)
            .await?
        {
            Ok(s) => s,
            Err(against) => return refused(ReserveRefusal::AgainstTheRules(against)),
        };
        // Who to try, in order: those free at the start by what we read now (the store has the
        // last word on our bookings; the events of a provider's own calendar, as last synced,
        // are read with them), the least busy that day first (see availability::try_order).
        // With one provider there is nothing to choose: the store's answer is the only one
        // needed (it refuses a time that overlaps a live booking or the calendar's synced
        // outside busy time too), and the read is skipped.
        let order = if working.len() == 1 {
            working
        } else {
            let date = cfg.zone.tz().to_datetime(at).date();
            let mut busy = self
                .occupied_between(tenant, svc, &working, date, date, now)
                .await?;
            // Outside events stay: a caller's own hold gives way, the clinic's calendar does not.
            busy.retain(|o| !(o.is_booking() && own_holds.contains(&(o.calendar, o.blocked))));
            let free: Vec<_> = working
                .into_iter()
                .filter(|p| {
                    !busy
                        .iter()
                        .any(|o| o.calendar == p.id && o.blocked.overlaps(&slot.blocked))
                        && availability::within_limits(p, cfg, at, &busy)
                })
                .collect();
            availability::try_order(cfg, &free, at, &busy)
        };
        let id = self.booking_id();
        let holds: Vec<NewHold> = order
            .into_iter()
            .map(|p| NewHold {
                id,
                tenant: tenant.id,
                calendar: p.id,
                limits: p.limits_at(cfg, at),
                service: svc.name.clone(),
                slot: slot.slot,
                blocked: slot.blocked,
                caller_name: name.clone(),
                caller_phone: phone.clone(),
                call_id: ctx.call_id.clone(),
                created_at: now,
                hold_expires_at: now + HOLD_TTL,
            })
            .collect();
        let call_holds = CallHolds::of(ctx.call_id.as_ref());
        // A caller with no hold of their own races the others asking for this time here (see
        // `races`); one whose own hold would give way goes to the store directly.
        let inserted = if own_holds.is_empty() {
            let store = self.store.clone();
            self.races
                .reserve(holds, move |holds| {
                    let store = store.clone();
                    async move { store.insert_first_free_hold(&holds, now, call_holds).await }
                        .boxed()
                })
                .await
        } else {
            self.store
                .insert_first_free_hold(&holds, now, call_holds)
                .await
        };
        match inserted {
            Ok(b) => Ok(Self::held(tenant, &b)),
            Err(StoreError::SlotTaken) | Err(StoreError::LimitReached) => {
                Ok(ReserveOutcome::Taken {
                    alternatives: self
                        .alternatives_near(tenant, svc, &providers, at, now)
                        .await?,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    fn held(tenant: &Tenant, b: &Booking) -> ReserveOutcome {
        ReserveOutcome::Held {
            hold_id: b.id,
            start: b.slot.start,
            expires_at: b.hold_expires_at.unwrap_or(b.created_at + HOLD_TTL),
            service: b.service.to_string(),
            provider: provider_name(tenant, b),
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

/// The name of the provider a booking is with (the clinic's name for a calendar that is no
/// provider's, which only a corrupt row could have).
pub fn provider_name(tenant: &Tenant, b: &Booking) -> ProviderName {
    tenant
        .provider(b.calendar)
        .map(|p| p.name)
        .unwrap_or_else(|| crate::provider::Provider::whole_clinic(tenant.id, &tenant.config).name)
}
