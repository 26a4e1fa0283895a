//! The ports of the outside calendar: the clinic's calendar server, and where links, busy time,
//! sync state and the write queue are kept. All keyed by (tenant, calendar).

use async_trait::async_trait;
use jiff::Timestamp;

use crate::booking::Interval;
use crate::ids::{CalendarId, TenantId};
use crate::outside_calendar::link::{
    CalendarCredentials, CalendarLink, CalendarUrl, FoundCalendar, OurEvent, OurEventUid,
};
use crate::outside_calendar::sync::{
    CalendarChanges, CalendarProblem, CalendarStatus, SyncClaim, SyncPoint, SyncResult,
};
use crate::outside_calendar::writes::{CalendarWrite, ClaimedWrite, WriteOutcome};
use crate::ports::StoreResult;

/// The clinic's calendar server.
#[async_trait]
pub trait OutsideCalendar: Send + Sync {
    /// The calendars the credentials can see on the server at `server` (a server's address or
    /// any address on it: the adapter finds the calendars from there).
    async fn find_calendars(
        &self,
        server: &CalendarUrl,
        credentials: &CalendarCredentials,
    ) -> Result<Vec<FoundCalendar>, CalendarProblem>;

    /// What changed in the linked calendar since `since` (everything, from
    /// [`SyncPoint::start`]), as busy time within `horizon`. Our own events are left out.
    async fn changes(
        &self,
        link: &CalendarLink,
        since: &SyncPoint,
        horizon: Interval,
    ) -> Result<CalendarChanges, CalendarProblem>;

    /// Creates or replaces our event (same UID, same resource: repeating it changes nothing).
    async fn write_event(
        &self,
        link: &CalendarLink,
        event: &OurEvent,
    ) -> Result<(), CalendarProblem>;

    /// Removes our event; one already gone is fine.
    async fn remove_event(
        &self,
        link: &CalendarLink,
        uid: &OurEventUid,
    ) -> Result<(), CalendarProblem>;
}

/// Links, the busy time synced from them, their sync state, and the write queue.
///
/// As with every store port, each method is one unit of work and every tenant's rows are
/// reached only through its id.
#[async_trait]
pub trait CalendarSyncStore: Send + Sync {
    /// Links `link.calendar` to the outside calendar (or replaces the link): the credentials are
    /// stored encrypted, the health is `Waiting`, a sync is due at once and a sync in flight
    /// under the old link records nothing. An earlier link to another address loses its busy
    /// time and sync point; an earlier link to the same address keeps them (new credentials for
    /// the same calendar: what was synced keeps blocking until the next sync, whatever the new
    /// credentials are worth). Writes of the calendar not yet done become due at `now`.
    /// `NotFound` when the tenant does not exist.
    async fn link_calendar(&self, link: &CalendarLink, now: Timestamp) -> StoreResult<()>;
    /// Removes the link with its busy time and sync state; writes not yet done are dropped.
    /// Whether there was one.
    async fn unlink_calendar(&self, tenant: TenantId, calendar: CalendarId) -> StoreResult<bool>;
    /// The link with its decrypted credentials (for discovery and the workers only).
    async fn calendar_link(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarLink>>;
    /// What may be shown of a link: address, health, last sync. Never the credentials.
    async fn calendar_status(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarStatus>>;
    /// Every link's status (all tenants), for `/metrics`.
    async fn calendar_statuses(&self) -> StoreResult<Vec<CalendarStatus>>;

    /// Claims up to `limit` links whose next sync is due at `now` and which no other worker
    /// holds, until `lease_until`. No link goes to two workers at once.
    async fn claim_due_syncs(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
    ) -> StoreResult<Vec<SyncClaim>>;
    /// Records a sync under its claim: on `Synced`, in one unit of work, the busy time replaced
    /// (scope everything) or patched (each changed resource's busy time replaced, removed ones
    /// dropped), the sync point moved on, the health `Healthy` and `last_synced_at` = `now`; on
    /// `Failed`, only the health and the failure count. `false` (and no change) when the claim
    /// is no longer current (it lapsed and another worker took the link, or the link was
    /// replaced).
    async fn record_sync(
        &self,
        claim: &SyncClaim,
        result: &SyncResult,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// The outside busy time of a calendar overlapping `window`, for availability. Merged or
    /// not, in no particular order.
    async fn outside_busy(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
        window: Interval,
    ) -> StoreResult<Vec<Interval>>;
    /// The outside busy time of several calendars of one tenant overlapping `window`, each
    /// interval with its calendar, in one read: what availability and reserving add to the
    /// bookings (another tenant's calendars, and calendars not linked, have none).
    async fn outside_busy_of(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
    ) -> StoreResult<Vec<(CalendarId, Interval)>>;

    /// Brings the write queue in line with the bookings of linked calendars, in one unit of
    /// work: a confirmed booking that ends after `now` less a day wants its event (as it is
    /// now); a booking that had a row and is no longer confirmed wants it gone. Only rows whose
    /// wish changed get a new version and become due at `now`. Returns how many changed.
    async fn queue_booking_writes(&self, now: Timestamp) -> StoreResult<u32>;
    /// Claims up to `limit` writes that are not done and due at `now`, of calendars that are
    /// linked, skipping rows another worker holds, until `lease_until`. No row goes to two
    /// workers at once.
    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedWrite>>;
    /// Records a write's outcome under its claim: `Written` marks the claimed version written
    /// (the row is done unless the wish changed meanwhile, then it is due again); `Retry`
    /// counts a failed attempt and makes it due at the time given. `false` (and no change) when
    /// the claim is no longer this one.
    async fn record_calendar_write(
        &self,
        claim: &ClaimedWrite,
        outcome: &WriteOutcome,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// The write queue of a calendar, done rows included, in booking order.
    async fn calendar_writes(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Vec<CalendarWrite>>;
}
