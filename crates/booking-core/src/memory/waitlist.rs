//! The waitlist: [`WaitlistStore`] in memory.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{Contact, MemoryStore, State, wrong_state};
use crate::accounts::TokenHash;
use crate::booking::{Booking, BookingStatus};
use crate::ids::{BookingId, TenantId, WaitlistEntryId, WaitlistOfferId};
use crate::outbox::NewMessage;
use crate::ports::{StoreError, StoreResult, WaitlistStore};
use crate::waitlist::{
    EntryStatus, FreedSlot, JoinRefusal, NewOffer, NewWaitlistEntry, OfferDue, OfferView,
    WaitlistEntry,
};

#[derive(Default)]
pub(super) struct Waitlist {
    /// In join order.
    entries: Vec<WaitlistEntry>,
    offers: Vec<Offer>,
}

struct Offer {
    offer: NewOffer,
    claimed: Option<BookingId>,
}

impl Waitlist {
    /// The appointments claims of the tenant's offers became.
    pub(super) fn claimed_bookings(&self, tenant: TenantId) -> impl Iterator<Item = BookingId> {
        self.offers
            .iter()
            .filter(move |o| o.offer.tenant == tenant)
            .filter_map(|o| o.claimed)
    }
}

impl Offer {
    fn live_or_claimed(&self, now: Timestamp) -> bool {
        self.claimed.is_some() || self.offer.expires_at > now
    }
}

impl State {
    fn freed(&self, b: &Booking, now: Timestamp) -> Option<FreedSlot> {
        let frees = !b.occupies_at(now) && b.slot.start > now;
        let open = !self.conflicts(b.calendar, &b.blocked, now, &[])
            && !self.waitlist.offers.iter().any(|o| {
                o.offer.tenant == b.tenant && o.offer.slot.freed == b.id && o.live_or_claimed(now)
            });
        (frees && open).then(|| FreedSlot {
            tenant: b.tenant,
            freed: b.id,
            calendar: b.calendar,
            service: b.service.clone(),
            slot: b.slot,
            blocked: b.blocked,
        })
    }

    fn offered_before(&self, entry: WaitlistEntryId, slot: &FreedSlot) -> bool {
        self.waitlist.offers.iter().any(|o| {
            o.offer.tenant == slot.tenant
                && o.offer.entry == entry
                && o.offer.slot.calendar == slot.calendar
                && o.offer.slot.slot.start == slot.slot.start
        })
    }

    fn candidates(&self, slot: &FreedSlot) -> Vec<WaitlistEntry> {
        self.waitlist
            .entries
            .iter()
            .filter(|e| {
                e.tenant == slot.tenant
                    && e.status == EntryStatus::Waiting
                    && e.service == slot.service
                    && e.provider.is_none_or(|p| p == slot.calendar)
                    && !self.offered_before(e.id, slot)
            })
            .cloned()
            .collect()
    }
}

#[async_trait]
impl WaitlistStore for MemoryStore {
    async fn join_waitlist(
        &self,
        entry: &NewWaitlistEntry,
        max_per_number: u32,
    ) -> StoreResult<Result<WaitlistEntry, JoinRefusal>> {
        let mut s = self.lock();
        s.tenant_exists(entry.tenant)?;
        let mine: Vec<&WaitlistEntry> = s
            .waitlist
            .entries
            .iter()
            .filter(|e| {
                e.tenant == entry.tenant
                    && e.phone == entry.phone
                    && e.status == EntryStatus::Waiting
            })
            .collect();
        if mine
            .iter()
            .any(|e| e.service == entry.service && e.days.overlaps(&entry.days))
        {
            return Ok(Err(JoinRefusal::AlreadyWaiting));
        }
        if mine.len() >= max_per_number as usize {
            return Ok(Err(JoinRefusal::TooManyEntries {
                max: max_per_number,
            }));
        }
        let stored = entry.stored();
        s.waitlist.entries.push(stored.clone());
        Ok(Ok(stored))
    }

    async fn waitlist(&self, tenant: TenantId) -> StoreResult<Vec<WaitlistEntry>> {
        Ok(self
            .lock()
            .waitlist
            .entries
            .iter()
            .filter(|e| e.tenant == tenant && e.status == EntryStatus::Waiting)
            .cloned()
            .collect())
    }

    async fn waitlist_fills(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<WaitlistEntry>> {
        let s = self.lock();
        // Filled in the order the offers were claimed.
        let mut out: Vec<WaitlistEntry> = s
            .waitlist
            .offers
            .iter()
            .filter(|o| o.offer.tenant == tenant && o.claimed.is_some())
            .filter_map(|o| {
                s.waitlist
                    .entries
                    .iter()
                    .find(|e| e.tenant == tenant && e.id == o.offer.entry)
                    .cloned()
            })
            .collect();
        out.reverse();
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn remove_from_waitlist(
        &self,
        tenant: TenantId,
        id: WaitlistEntryId,
        _now: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .waitlist
            .entries
            .iter_mut()
            .find(|e| e.tenant == tenant && e.id == id && e.status == EntryStatus::Waiting)
            .ok_or(StoreError::NotFound)?;
        e.status = EntryStatus::Removed;
        Ok(())
    }

    async fn freed_slots(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OfferDue>> {
        let s = self.lock();
        let mut due: Vec<OfferDue> = s
            .bookings
            .iter()
            .filter_map(|b| s.freed(b, now))
            .map(|slot| OfferDue {
                candidates: s.candidates(&slot),
                slot,
            })
            .filter(|d| !d.candidates.is_empty())
            .collect();
        due.sort_by_key(|d| d.slot.slot.start);
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn record_offer(
        &self,
        offer: &NewOffer,
        message: &NewMessage,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        s.check_messages(offer.tenant, std::slice::from_ref(message))?;
        let Some(bi) = s.booking_index(offer.tenant, offer.slot.freed) else {
            return Ok(false);
        };
        let Some(slot) = s.freed(&s.bookings[bi], now) else {
            return Ok(false);
        };
        let waiting = s.waitlist.entries.iter().any(|e| {
            e.tenant == offer.tenant && e.id == offer.entry && e.status == EntryStatus::Waiting
        });
        if !waiting || s.offered_before(offer.entry, &slot) {
            return Ok(false);
        }
        s.waitlist.offers.push(Offer {
            offer: NewOffer {
                slot,
                ..offer.clone()
            },
            claimed: None,
        });
        s.enqueue(std::slice::from_ref(message));
        Ok(true)
    }

    async fn offer_by_token(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<OfferView>> {
        let s = self.lock();
        let Some(o) = s
            .waitlist
            .offers
            .iter()
            .find(|o| &o.offer.token_hash == hash && o.live_or_claimed(now))
        else {
            return Ok(None);
        };
        let entry = s
            .waitlist
            .entries
            .iter()
            .find(|e| e.tenant == o.offer.tenant && e.id == o.offer.entry)
            .cloned()
            .ok_or_else(|| StoreError::Internal("an offer without its entry".into()))?;
        Ok(Some(OfferView {
            id: o.offer.id,
            entry,
            slot: o.offer.slot.clone(),
            expires_at: o.offer.expires_at,
            claimed: o.claimed,
        }))
    }

    async fn claim_offer(
        &self,
        tenant: TenantId,
        offer: WaitlistOfferId,
        hold: BookingId,
        now: Timestamp,
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        let mut s = self.lock();
        s.check_messages(tenant, messages)?;
        let oi = s
            .waitlist
            .offers
            .iter()
            .position(|o| o.offer.tenant == tenant && o.offer.id == offer)
            .ok_or(StoreError::NotFound)?;
        if s.waitlist.offers[oi].claimed.is_some() {
            return Err(StoreError::WrongState { current: "claimed" });
        }
        if s.waitlist.offers[oi].offer.expires_at <= now {
            return Err(StoreError::WrongState { current: "expired" });
        }
        let entry = s.waitlist.offers[oi].offer.entry;
        let ei = s
            .waitlist
            .entries
            .iter()
            .position(|e| e.tenant == tenant && e.id == entry)
            .ok_or(StoreError::NotFound)?;
        if s.waitlist.entries[ei].status != EntryStatus::Waiting {
            return Err(StoreError::WrongState {
                current: s.waitlist.entries[ei].status.as_str(),
            });
        }
        let bi = s.booking_index(tenant, hold).ok_or(StoreError::NotFound)?;
        let status = s.bookings[bi].effective_status(now);
        if status != BookingStatus::Held {
            return Err(wrong_state(status));
        }
        let b = &mut s.bookings[bi];
        b.status = BookingStatus::Confirmed;
        b.confirmed_at = Some(now);
        let booking = b.clone();
        s.waitlist.offers[oi].claimed = Some(hold);
        s.waitlist.entries[ei].status = EntryStatus::Filled(hold);
        s.contacts
            .entry((tenant, booking.caller_phone.clone()))
            .or_insert(Contact { opted_out: false });
        s.enqueue(messages);
        Ok(booking)
    }
}
