//! The stores of what a clinic wins back: the waitlist, and the figures of the Reports page.

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreResult;
use crate::accounts::TokenHash;
use crate::booking::Booking;
use crate::ids::{BookingId, TenantId, WaitlistEntryId, WaitlistOfferId};
use crate::outbox::NewMessage;
use crate::reports::{ReportWeeks, WeekFigures};
use crate::waitlist::{
    JoinRefusal, NewOffer, NewWaitlistEntry, OfferDue, OfferView, WaitlistEntry,
};

/// The figures of the dashboard's Reports page ([`crate::reports`]).
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// One [`WeekFigures`] for each of `weeks`, in order, counted over the tenant's rows only as
    /// [`crate::reports`] says.
    async fn weekly_figures(
        &self,
        tenant: TenantId,
        weeks: &ReportWeeks,
    ) -> StoreResult<Vec<WeekFigures>>;
}

/// The waitlist ([`crate::waitlist`]): entries, the freed times due an offer, offers and claims.
#[async_trait]
pub trait WaitlistStore: Send + Sync {
    /// In one unit of work, serialised with every other join of the same number at the tenant:
    /// `AlreadyWaiting` when a waiting entry of the number has the same service and days that
    /// overlap these; `TooManyEntries` when the number already has `max_per_number` waiting
    /// entries; otherwise the entry is added. A refusal changes nothing. `NotFound` for an
    /// unknown tenant.
    async fn join_waitlist(
        &self,
        entry: &NewWaitlistEntry,
        max_per_number: u32,
    ) -> StoreResult<Result<WaitlistEntry, JoinRefusal>>;
    /// The tenant's waiting entries, in join order.
    async fn waitlist(&self, tenant: TenantId) -> StoreResult<Vec<WaitlistEntry>>;
    /// The tenant's entries that took an offered time (each names its appointment), newest
    /// first, at most `limit`.
    async fn waitlist_fills(&self, tenant: TenantId, limit: u32)
    -> StoreResult<Vec<WaitlistEntry>>;
    /// Waiting → removed. `NotFound` when the tenant has no such waiting entry.
    async fn remove_from_waitlist(
        &self,
        tenant: TenantId,
        id: WaitlistEntryId,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Across tenants, soonest first, at most `limit`: the bookings that no longer occupy their
    /// time at `now` (cancelled, released, expired, or held past their expiry) and start after
    /// `now`, whose blocked time no occupying booking of their calendar overlaps, with no offer
    /// that is live (unexpired) or claimed, and with at least one candidate: a waiting entry of
    /// the tenant for the same service, for that calendar or any, never offered that calendar
    /// and start. Each comes with all its candidates, in join order.
    async fn freed_slots(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OfferDue>>;
    /// In one unit of work, serialised with every other offer of the same freed booking: checks
    /// again that the booking frees its time at `now` and nothing occupies it, that none of its
    /// offers is live or claimed, that the entry is waiting and was never offered that calendar
    /// and start; only then records the offer and queues `message`. `Ok(false)` and no change
    /// when any of it does not hold.
    async fn record_offer(
        &self,
        offer: &NewOffer,
        message: &NewMessage,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// The offer whose link token has this hash, when it is live at `now` or claimed; `None`
    /// otherwise (expired, unknown).
    async fn offer_by_token(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<OfferView>>;
    /// In one unit of work, under the offer's lock: the offer must be live at `now` and its
    /// entry waiting (`WrongState` otherwise), `hold` a live hold of the tenant (`WrongState`
    /// otherwise); the hold is confirmed, the offer claimed with it, the entry filled with it,
    /// the caller recorded as a contact and `messages` queued. Returns the appointment.
    async fn claim_offer(
        &self,
        tenant: TenantId,
        offer: WaitlistOfferId,
        hold: BookingId,
        now: Timestamp,
        messages: &[NewMessage],
    ) -> StoreResult<Booking>;
}
