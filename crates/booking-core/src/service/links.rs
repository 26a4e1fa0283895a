//! The patient's own link to an appointment ([`crate::patient_link`]): what the page shows, the
//! free times it offers, and its cancel and move, which are the phone's use-cases (`cancel`,
//! `reschedule`: the same rules, texts and constraint) with the link as the proof.
//!
//! A link opens one appointment of one clinic: the token names both, nothing in the request
//! does. An unknown, expired or revoked token, or one whose appointment is neither confirmed
//! nor cancelled, opens nothing. Inside the clinic's notice window
//! ([`crate::tenant::BookingRules::link_notice_minutes`]) the page shows the appointment and
//! says to call; cancel and move are refused here too. Every action is counted per client
//! address, then per link, before it is looked at ([`crate::patient_link::ACTIONS_PER_ADDRESS`],
//! [`crate::patient_link::ACTIONS_PER_LINK`]).

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::availability;
use crate::booking::{Booking, BookingStatus};
use crate::link_token::LinkToken;
use crate::otp::ChangeProof;
use crate::patient_link::{
    ACTION_WINDOW, ACTIONS_PER_ADDRESS, ACTIONS_PER_LINK, ActionKey, PatientLink,
};
use crate::provider::{ProviderId, ProviderName};
use crate::service::{
    BookingService, CancelOutcome, Mover, RescheduleOutcome, RescheduleRefusal, ServiceResult,
};
use crate::start::SlotStart;
use crate::tenant::Tenant;

/// An appointment as its link opens it.
#[derive(Clone, Debug)]
pub struct LinkedAppointment {
    pub tenant: Tenant,
    pub booking: Booking,
    /// Who it is with, when the clinic has several providers.
    pub provider: Option<ProviderName>,
    pub link: PatientLink,
    pub state: LinkState,
}

/// What the page may offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Confirmed and outside the notice window: cancel and move are offered.
    Changeable,
    /// Confirmed, but inside the notice window: call the clinic.
    InsideNotice,
    /// Cancelled (by the link, the phone, a reply or the owner).
    Cancelled,
}

/// Why a link's action was not done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No live link with this token (unknown, expired, revoked): a polite 404.
    NotFound,
    /// Too many actions from this address or on this link for now.
    TooMany,
    /// Inside the notice window: call the clinic.
    InsideNotice,
    /// It is cancelled already.
    Cancelled,
}

/// Which providers the free times of a move are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderChoice {
    /// The provider the appointment is with.
    Same,
    /// Anyone who performs the service.
    Any,
}

/// A free time a patient may move to, and who would see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveOption {
    pub start: Timestamp,
    pub provider: ProviderId,
    /// Named when the clinic has several providers.
    pub provider_name: Option<ProviderName>,
}

/// A move by link: the outcome and, when it moved, the new appointment's link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkMove {
    pub outcome: RescheduleOutcome,
    pub new_link: Option<LinkToken>,
}

/// Free times are listed from a date on, over this many days at most.
pub const MOVE_SEARCH_DAYS: i64 = 14;
/// At most this many free times are listed at once.
pub const MOVE_OPTIONS: usize = 12;

impl BookingService {
    /// What `token` opens now, if anything.
    pub async fn open_link(&self, token: &LinkToken) -> ServiceResult<Option<LinkedAppointment>> {
        let now = self.clock.now();
        let Some(link) = self.store.link_by_hash(&token.hash(), now).await? else {
            return Ok(None);
        };
        let Some(tenant) = self.store.tenant(link.tenant).await? else {
            return Ok(None);
        };
        let Some(booking) = self.store.booking(tenant.id, link.booking).await? else {
            return Ok(None);
        };
        let state = match booking.status {
            BookingStatus::Confirmed => {
                let notice =
                    SignedDuration::from_mins(i64::from(tenant.config.rules.link_notice_minutes));
                if now + notice >= booking.slot.start {
                    LinkState::InsideNotice
                } else {
                    LinkState::Changeable
                }
            }
            BookingStatus::Cancelled => LinkState::Cancelled,
            _ => return Ok(None),
        };
        Ok(Some(LinkedAppointment {
            provider: tenant.provider_to_name(booking.calendar),
            tenant,
            booking,
            link,
            state,
        }))
    }

    /// Counts an action from `address` on `token` and opens the link when within the limits.
    async fn link_action(
        &self,
        token: &LinkToken,
        address: &str,
    ) -> ServiceResult<Result<LinkedAppointment, LinkRefusal>> {
        let now = self.clock.now();
        // The address first: guessing tokens is bounded by it, and leaves no row per guess.
        let by_address = self
            .store
            .count_link_action(&ActionKey::address(address), ACTION_WINDOW, now)
            .await?;
        if by_address > ACTIONS_PER_ADDRESS {
            return Ok(Err(LinkRefusal::TooMany));
        }
        let Some(linked) = self.open_link(token).await? else {
            return Ok(Err(LinkRefusal::NotFound));
        };
        let by_link = self
            .store
            .count_link_action(&ActionKey::link(&token.hash()), ACTION_WINDOW, now)
            .await?;
        if by_link > ACTIONS_PER_LINK {
            return Ok(Err(LinkRefusal::TooMany));
        }
        match linked.state {
            LinkState::Changeable => Ok(Ok(linked)),
            LinkState::InsideNotice => Ok(Err(LinkRefusal::InsideNotice)),
            LinkState::Cancelled => Ok(Err(LinkRefusal::Cancelled)),
        }
    }

    /// The patient cancels through their link: the phone's cancel (the same text, the reminder
    /// withdrawn, the slot freed), proved by the link.
    pub async fn cancel_by_link(
        &self,
        token: &LinkToken,
        address: &str,
    ) -> ServiceResult<Result<CancelOutcome, LinkRefusal>> {
        let linked = match self.link_action(token, address).await? {
            Ok(l) => l,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(Ok(self
            .cancel(
                &linked.tenant,
                &linked.booking,
                ChangeProof::PatientLink,
                None,
            )
            .await?))
    }

    /// The patient moves their appointment through their link to `new_start`, with `provider`
    /// (one who performs the service; `None`: the one it is with): the phone's and the owner's
    /// move, with its rules, texts and constraint. The new appointment gets a new link, which the
    /// "has moved" text carries; the old one is revoked.
    pub async fn reschedule_by_link(
        &self,
        token: &LinkToken,
        address: &str,
        new_start: &SlotStart,
        provider: Option<ProviderId>,
    ) -> ServiceResult<Result<LinkMove, LinkRefusal>> {
        let linked = match self.link_action(token, address).await? {
            Ok(l) => l,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let (tenant, b) = (&linked.tenant, &linked.booking);
        let target = match provider.filter(|p| *p != b.calendar) {
            None => None,
            Some(id) => match tenant.provider(id) {
                Some(p) if p.offers(&b.service) => Some(p),
                Some(p) => {
                    return Ok(Ok(LinkMove {
                        outcome: RescheduleOutcome::Refused(RescheduleRefusal::NotTheirService {
                            provider: p.name,
                            service: b.service.clone(),
                        }),
                        new_link: None,
                    }));
                }
                None => return Ok(Err(LinkRefusal::NotFound)),
            },
        };
        let mut new_link = None;
        let outcome = self
            .move_booking_linked(
                tenant,
                b,
                new_start,
                Mover::Patient,
                target.as_ref(),
                &mut new_link,
            )
            .await?;
        Ok(Ok(LinkMove { outcome, new_link }))
    }

    /// The free times the appointment may move to, from the clinic's date `from` on (today at
    /// the earliest), with its provider or anyone who performs the service: at most
    /// [`MOVE_OPTIONS`] over [`MOVE_SEARCH_DAYS`] days, and the date to look from next.
    pub async fn move_options(
        &self,
        linked: &LinkedAppointment,
        from: Option<Date>,
        choice: ProviderChoice,
    ) -> ServiceResult<(Vec<MoveOption>, Option<Date>)> {
        let (tenant, b) = (&linked.tenant, &linked.booking);
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(svc) = cfg.service(b.service.as_str()) else {
            return Ok((Vec::new(), None));
        };
        let providers = match (choice, tenant.provider(b.calendar)) {
            (ProviderChoice::Same, Some(p)) if p.offers(&svc.name) => vec![p],
            _ => tenant.providers_for(svc),
        };
        let today = Self::today(cfg, now);
        let horizon = Self::last_bookable_day(cfg, now);
        let first = from.filter(|d| *d > today).unwrap_or(today);
        if first > horizon {
            return Ok((Vec::new(), None));
        }
        let last = first
            .saturating_add((MOVE_SEARCH_DAYS - 1).days())
            .min(horizon);
        let occupied: Vec<_> = self
            .occupied_between(tenant, svc, &providers, first, last, now)
            .await?
            .into_iter()
            // Its own time is free for it.
            .filter(|o| !(o.calendar == b.calendar && o.blocked == b.blocked))
            .collect();
        let mut out = Vec::new();
        let mut day = first;
        let mut next = None;
        while day <= last {
            let window = availability::day_window(cfg, day);
            let free =
                availability::free_slots_by_provider(cfg, svc, &providers, window, &occupied, now);
            for ps in free {
                if out.len() == MOVE_OPTIONS {
                    next = Some(day);
                    break;
                }
                if ps.slot.slot.start == b.slot.start {
                    continue;
                }
                // The provider it is with when free, else the first free in the clinic's order.
                let Some(p) = ps
                    .providers
                    .iter()
                    .find(|p| **p == b.calendar)
                    .or(ps.providers.first())
                else {
                    continue;
                };
                out.push(MoveOption {
                    start: ps.slot.slot.start,
                    provider: *p,
                    provider_name: tenant.provider_to_name(*p),
                });
            }
            if next.is_some() {
                break;
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        if next.is_none() && last < horizon {
            next = last.tomorrow().ok();
        }
        Ok((out, next))
    }
}
