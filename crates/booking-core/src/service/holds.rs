//! `reserve_slot`: a hold on a time while the caller proves their number.

use serde::Serialize;

use crate::booking::{Booking, BookingStatus, HOLD_TTL, NewHold};
use crate::ids::BookingId;
use crate::phone::PhoneNumber;
use crate::ports::StoreError;
use crate::service::{
    BookingService, CallContext, ServiceResult, SlotOffer, ToolResult, clean_text, find_service,
    rfc3339, speak_offers, start_instant, unknown_service,
};
use crate::start::SlotStart;
use crate::tenant::TenantConfig;

/// What `reserve_slot` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReserveOutcome {
    Held {
        hold_id: BookingId,
        /// RFC 3339, clinic's offset.
        expires_at: String,
        start: String,
        spoken: String,
        service: String,
    },
    /// Someone else holds or booked it.
    Taken { alternatives: Vec<SlotOffer> },
    Refused {
        reason: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<SlotOffer>,
    },
}

impl ToolResult for ReserveOutcome {
    fn ok(&self) -> bool {
        matches!(self, Self::Held { .. })
    }
    fn message(&self) -> String {
        match self {
            Self::Held { spoken, service, .. } => format!(
                "{spoken} for {service} is held for the next {} minutes. Now call send_otp with the hold_id to text the caller a code.",
                HOLD_TTL.as_mins()
            ),
            Self::Taken { alternatives } if alternatives.is_empty() => {
                "That time was just taken and nothing close to it is free; ask check_availability for another day.".into()
            }
            Self::Taken { alternatives } => {
                format!("That time was just taken. Close free times: {}.", speak_offers(alternatives))
            }
            Self::Refused { reason, alternatives } if alternatives.is_empty() => reason.clone(),
            Self::Refused { reason, alternatives } => {
                format!("{} Close free times: {}.", reason, speak_offers(alternatives))
            }
        }
    }
}

impl BookingService {
    /// `reserve_slot(start, service, caller_name)`. `phone` is the number to book under when the
    /// caller ID is withheld (or the caller wants another); otherwise the caller ID is used.
    pub async fn reserve_slot(
        &self,
        ctx: &CallContext,
        start: &SlotStart,
        service: &str,
        caller_name: &str,
        phone: Option<PhoneNumber>,
    ) -> ServiceResult<ReserveOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |reason: String| ReserveOutcome::Refused {
            reason,
            alternatives: Vec::new(),
        };
        let Some(svc) = find_service(cfg, service) else {
            return Ok(refused(unknown_service(cfg, service)));
        };
        let name = clean_text(caller_name, 100);
        if name.is_empty() {
            return Ok(refused(
                "I need the caller's name to hold a time; ask for it and call reserve_slot again."
                    .into(),
            ));
        }
        let phone = match phone {
            Some(p) => p,
            None => match &ctx.caller {
                Some(p) => p.clone(),
                None => {
                    return Ok(refused(
                        "The caller's number is hidden; ask for a mobile number in international format (+1…) and pass it as phone.".into(),
                    ));
                }
            },
        };
        let at = match start_instant(&cfg.zone, start) {
            Ok(t) => t,
            Err(reason) => return Ok(refused(reason)),
        };

        // The same call asking again for the slot it already holds gets the same hold.
        if let Some(call) = &ctx.call_id {
            let mine = self.store.bookings_for_call(tenant.id, call).await?;
            if let Some(b) = mine.iter().find(|b| {
                b.slot.start == at
                    && b.service == svc.name
                    && b.effective_status(now) == BookingStatus::Held
            }) {
                return Ok(self.held(cfg, b));
            }
        }

        let slot = match self.slot_by_the_rules(tenant, svc, at, now).await? {
            Ok(s) => s,
            Err((reason, alternatives)) => {
                return Ok(ReserveOutcome::Refused {
                    reason,
                    alternatives,
                });
            }
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
            Ok(b) => Ok(self.held(cfg, &b)),
            Err(StoreError::SlotTaken) => Ok(ReserveOutcome::Taken {
                alternatives: self.alternatives_near(tenant, svc, at, now).await?,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn held(&self, cfg: &TenantConfig, b: &Booking) -> ReserveOutcome {
        let offer = SlotOffer::new(&cfg.zone, b.slot.start);
        ReserveOutcome::Held {
            hold_id: b.id,
            expires_at: rfc3339(
                &cfg.zone,
                b.hold_expires_at.unwrap_or(b.created_at + HOLD_TTL),
            ),
            start: offer.start,
            spoken: offer.spoken,
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
