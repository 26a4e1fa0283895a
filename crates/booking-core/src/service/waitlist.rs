//! `join_waitlist`, the offers of freed times to the waitlist, and their claims by link.

use std::collections::HashMap;

use jiff::civil::Date;

use crate::booking::{Booking, CallHolds, HOLD_TTL, NewHold};
use crate::ids::{TenantId, WaitlistEntryId, WaitlistOfferId};
use crate::link_token::LinkToken;
use crate::messages;
use crate::outbox::{DedupeKey, MessageDraft, MessageKind};
use crate::ports::StoreError;
use crate::provider::ProviderName;
use crate::service::{
    BookingService, CallContext, ProviderProblem, ServiceResult, UnknownService, candidates,
    clean_text, find_service,
};
use crate::tenant::Tenant;
use crate::waitlist::{
    JoinRefusal, NewOffer, NewWaitlistEntry, OfferView, PartOfDay, WaitlistDays, first_taker,
};

/// `join_waitlist`'s input: the service as the caller named it, their name, the clinic's days
/// they can come on, and optionally a provider (as said, or an id) and a part of the day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinWaitlist {
    pub service: String,
    pub caller_name: String,
    pub from: Date,
    pub to: Date,
    pub provider: Option<String>,
    pub part_of_day: Option<PartOfDay>,
}

/// What `join_waitlist` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined {
        entry: WaitlistEntryId,
        service: String,
        /// The days as kept (today at the earliest, the clinic's horizon at the latest).
        from: Date,
        to: Date,
        provider: Option<ProviderName>,
        part_of_day: Option<PartOfDay>,
    },
    Refused(JoinWaitlistRefusal),
}

/// Why `join_waitlist` added no one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinWaitlistRefusal {
    UnknownService(UnknownService),
    NoCallerName,
    /// The caller ID is withheld: there is no number to text an offer to.
    HiddenNumber,
    /// `to_date` is before `from_date`.
    DaysOutOfOrder,
    /// Every day asked for is over.
    DaysPast {
        today: Date,
    },
    /// Every day asked for is past the clinic's booking horizon.
    BeyondHorizon {
        last: Date,
    },
    Provider(ProviderProblem),
    /// The number already waits for this service on some of these days.
    AlreadyWaiting,
    /// The number already has as many entries as a number may.
    TooManyEntries {
        max: u32,
    },
}

/// An offer as its link shows it: the clinic and the offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferPage {
    pub tenant: Tenant,
    pub offer: OfferView,
    /// Who the appointment would be with, when the clinic has more than one provider.
    pub provider: Option<ProviderName>,
}

/// What claiming an offer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The appointment is booked; its confirmation and reminder are queued.
    Claimed {
        page: Box<OfferPage>,
        booking: Box<Booking>,
    },
    /// This offer was already claimed (a second press of the button).
    AlreadyClaimed { page: Box<OfferPage> },
    /// Someone else has the time now; the entry stays on the list.
    Taken { page: Box<OfferPage> },
    /// No live offer has this link (expired, unknown, or the entry left the list).
    Gone,
}

impl BookingService {
    /// `join_waitlist(service, caller_name, from_date, to_date, provider?, part_of_day?)`: the
    /// caller's number is the caller ID.
    pub async fn join_waitlist(
        &self,
        ctx: &CallContext,
        input: JoinWaitlist,
    ) -> ServiceResult<JoinOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let refused = |why| Ok(JoinOutcome::Refused(why));
        let Some(svc) = find_service(cfg, &input.service) else {
            return refused(JoinWaitlistRefusal::UnknownService(UnknownService::new(
                cfg,
                &input.service,
            )));
        };
        let name = clean_text(&input.caller_name, 100);
        if name.is_empty() {
            return refused(JoinWaitlistRefusal::NoCallerName);
        }
        let Some(phone) = ctx.caller.clone() else {
            return refused(JoinWaitlistRefusal::HiddenNumber);
        };
        if input.to < input.from {
            return refused(JoinWaitlistRefusal::DaysOutOfOrder);
        }
        let today = Self::today(cfg, now);
        let last = Self::last_bookable_day(cfg, now);
        if input.to < today {
            return refused(JoinWaitlistRefusal::DaysPast { today });
        }
        if input.from > last {
            return refused(JoinWaitlistRefusal::BeyondHorizon { last });
        }
        let Some(days) = WaitlistDays::new(input.from.max(today), input.to.min(last)) else {
            return refused(JoinWaitlistRefusal::DaysOutOfOrder);
        };
        let asked = input.provider.as_deref().filter(|p| !p.trim().is_empty());
        let provider = match (asked, candidates(tenant, svc, asked)) {
            (_, Err(problem)) => return refused(JoinWaitlistRefusal::Provider(problem)),
            (Some(_), Ok(mut one)) => one.pop(),
            (None, Ok(_)) => None,
        };
        let entry = NewWaitlistEntry {
            id: WaitlistEntryId::from_random_bytes(self.random.bytes16()),
            tenant: tenant.id,
            service: svc.name.clone(),
            provider: provider.as_ref().map(|p| p.id),
            caller_name: name,
            phone,
            days,
            part_of_day: input.part_of_day,
            call_id: ctx.call_id.clone(),
            created_at: now,
        };
        match self
            .store
            .join_waitlist(&entry, self.config.waitlist.max_per_number)
            .await?
        {
            Ok(e) => Ok(JoinOutcome::Joined {
                entry: e.id,
                service: svc.name.to_string(),
                from: days.from(),
                to: days.to(),
                provider: provider.map(|p| p.name),
                part_of_day: input.part_of_day,
            }),
            Err(JoinRefusal::AlreadyWaiting) => refused(JoinWaitlistRefusal::AlreadyWaiting),
            Err(JoinRefusal::TooManyEntries { max }) => {
                refused(JoinWaitlistRefusal::TooManyEntries { max })
            }
        }
    }

    /// One round of offers: every freed time that is due one (see
    /// [`crate::ports::WaitlistStore::freed_slots`]) is offered to the first entry that wants it
    /// and may be texted, with a link to claim it. Any number of workers may run this at once:
    /// the store records one live offer per freed booking and one text per entry and time.
    /// Returns how many offers were made. A deployment without a public address for links
    /// (`link_base`) makes none: an offer is its link.
    pub async fn offer_freed_slots(&self) -> ServiceResult<u32> {
        let Some(base) = &self.config.link_base else {
            return Ok(0);
        };
        let now = self.clock.now();
        let due = self
            .store
            .freed_slots(now, self.config.waitlist.batch)
            .await?;
        let mut tenants: HashMap<TenantId, Option<Tenant>> = HashMap::new();
        let mut made = 0;
        for d in due {
            let tenant = match tenants.get(&d.slot.tenant) {
                Some(t) => t.clone(),
                None => {
                    let t = self.store.tenant(d.slot.tenant).await?;
                    tenants.insert(d.slot.tenant, t.clone());
                    t
                }
            };
            let Some(tenant) = tenant else { continue };
            let cfg = &tenant.config;
            // Too soon to come: the clinic's notice applies to offers as to calls.
            let notice = jiff::SignedDuration::from_mins(i64::from(cfg.rules.min_notice_minutes));
            if d.slot.slot.start < now + notice {
                continue;
            }
            let mut opted_out = Vec::new();
            for c in &d.candidates {
                if self.store.is_opted_out(tenant.id, &c.phone).await? {
                    opted_out.push(c.phone.clone());
                }
            }
            let Some(entry) = first_taker(&d.slot, &d.candidates, cfg.zone.tz(), |p| {
                opted_out.contains(p)
            }) else {
                continue;
            };
            let token = LinkToken::generate(self.random.as_ref());
            let ttl = self.config.waitlist.offer_ttl;
            let link = format!("{}/w/{}", base.as_str(), token.expose());
            let message = self.new_message(
                MessageDraft {
                    tenant: tenant.id,
                    kind: MessageKind::WaitlistOffer,
                    dedupe_key: DedupeKey::waitlist_offer(
                        entry.id,
                        d.slot.calendar,
                        d.slot.slot.start,
                    ),
                    to: entry.phone.clone(),
                    body: messages::waitlist_offer_text(
                        &cfg.name,
                        &cfg.zone,
                        &d.slot.service,
                        d.slot.slot.start,
                        &link,
                        ttl.as_mins(),
                    ),
                    due_at: now,
                    booking: None,
                    call_id: None,
                },
                now,
            );
            let offer = NewOffer {
                id: WaitlistOfferId::from_random_bytes(self.random.bytes16()),
                tenant: tenant.id,
                entry: entry.id,
                slot: d.slot.clone(),
                token_hash: token.hash(),
                offered_at: now,
                expires_at: now + ttl,
            };
            if self.store.record_offer(&offer, &message, now).await? {
                made += 1;
            }
        }
        Ok(made)
    }

    /// The offer a link names, if it is live or was claimed; `None` for an expired, unknown or
    /// malformed one.
    pub async fn waitlist_offer(&self, token: &LinkToken) -> ServiceResult<Option<OfferPage>> {
        let now = self.clock.now();
        let Some(offer) = self.store.offer_by_token(&token.hash(), now).await? else {
            return Ok(None);
        };
        let Some(tenant) = self.store.tenant(offer.entry.tenant).await? else {
            return Ok(None);
        };
        let provider = tenant.provider_to_name(offer.slot.calendar);
        Ok(Some(OfferPage {
            tenant,
            offer,
            provider,
        }))
    }

    /// Claims the offer a link names: a hold on the freed time through the same exclusive insert
    /// as a call's (the store has the last word on overlaps and the provider's limits), then,
    /// in one store call, the hold confirmed, the offer claimed, the entry filled and the
    /// confirmation and reminder queued to the waitlisted number.
    pub async fn claim_waitlist_offer(&self, token: &LinkToken) -> ServiceResult<ClaimOutcome> {
        let now = self.clock.now();
        let Some(page) = self.waitlist_offer(token).await? else {
            return Ok(ClaimOutcome::Gone);
        };
        if page.offer.claimed.is_some() {
            return Ok(ClaimOutcome::AlreadyClaimed {
                page: Box::new(page),
            });
        }
        let tenant = &page.tenant;
        let cfg = &tenant.config;
        let slot = &page.offer.slot;
        let entry = &page.offer.entry;
        let Some(provider) = tenant.provider(slot.calendar).filter(|p| p.is_active()) else {
            return Ok(ClaimOutcome::Taken {
                page: Box::new(page),
            });
        };
        let hold = NewHold {
            id: self.booking_id(),
            tenant: tenant.id,
            calendar: slot.calendar,
            limits: provider.limits_at(cfg, slot.slot.start),
            service: slot.service.clone(),
            slot: slot.slot,
            blocked: slot.blocked,
            caller_name: entry.caller_name.clone(),
            caller_phone: entry.phone.clone(),
            call_id: None,
            created_at: now,
            hold_expires_at: now + HOLD_TTL,
        };
        let held = match self.store.insert_hold(&hold, now, CallHolds::Keep).await {
            Ok(b) => b,
            Err(StoreError::SlotTaken) | Err(StoreError::LimitReached) => {
                return self.after_lost_claim(token, page).await;
            }
            Err(e) => return Err(e.into()),
        };
        let link = self
            .issue_link(tenant.id, held.id, held.slot.end, now)
            .await?;
        let url = link.as_ref().map(|l| l.url.as_str());
        let texts = self.appointment_texts(tenant, &held, &entry.phone, url, now);
        match self
            .store
            .claim_offer(tenant.id, page.offer.id, held.id, now, &texts)
            .await
        {
            Ok(booking) => Ok(ClaimOutcome::Claimed {
                page: Box::new(page),
                booking: Box::new(booking),
            }),
            Err(StoreError::WrongState { .. }) | Err(StoreError::NotFound) => {
                // The offer lapsed, was claimed or its entry left the list meanwhile: the hold
                // made for it goes.
                match self.store.release_hold(tenant.id, held.id, now).await {
                    Ok(_) | Err(StoreError::WrongState { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                self.after_lost_claim(token, page).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What a claim that got no appointment says: the offer's own earlier claim, or that the
    /// time was taken, or that the offer is gone.
    async fn after_lost_claim(
        &self,
        token: &LinkToken,
        page: OfferPage,
    ) -> ServiceResult<ClaimOutcome> {
        Ok(match self.waitlist_offer(token).await? {
            Some(now) if now.offer.claimed.is_some() => ClaimOutcome::AlreadyClaimed {
                page: Box::new(now),
            },
            Some(_) => ClaimOutcome::Taken {
                page: Box::new(page),
            },
            None => ClaimOutcome::Gone,
        })
    }

    /// The owner takes an entry off the list. `NotFound` (as `Ok(false)`) for another clinic's
    /// id or an entry no longer waiting.
    pub async fn remove_from_waitlist(
        &self,
        tenant: TenantId,
        id: WaitlistEntryId,
    ) -> ServiceResult<bool> {
        match self
            .store
            .remove_from_waitlist(tenant, id, self.clock.now())
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
