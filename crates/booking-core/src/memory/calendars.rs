//! Outside calendars: [`CalendarSyncStore`] in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::booking::{BookingStatus, Interval};
use crate::ids::{BookingId, CalendarId, TenantId};
use crate::memory::MemoryStore;
use crate::outside_calendar::link::{CalendarLink, OurEvent, OurEventUid};
use crate::outside_calendar::ports::CalendarSyncStore;
use crate::outside_calendar::sync::{
    CalendarStatus, ChangeScope, SyncClaim, SyncHealth, SyncPoint, SyncResult,
};
use crate::outside_calendar::writes::{CalendarWrite, ClaimedWrite, WriteOutcome};
use crate::ports::StoreResult;

type Key = (TenantId, CalendarId);

#[derive(Default)]
pub(super) struct Calendars {
    links: BTreeMap<Key, LinkRow>,
    writes: BTreeMap<(TenantId, CalendarId, BookingId), WriteRow>,
}

struct LinkRow {
    link: CalendarLink,
    health: SyncHealth,
    last_synced_at: Option<Timestamp>,
    consecutive_failures: u32,
    linked_at: Timestamp,
    next_sync_at: Timestamp,
    claim: Option<(uuid::Uuid, Timestamp)>,
    token: Option<String>,
    expanded_until: Option<Timestamp>,
    /// href → (etag, busy).
    resources: BTreeMap<String, (String, Vec<Interval>)>,
}

impl Calendars {
    /// Whether the synced outside busy time of the calendar overlaps `blocked`.
    pub(super) fn outside_overlaps(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
        blocked: &Interval,
    ) -> bool {
        self.links.get(&(tenant, calendar)).is_some_and(|r| {
            r.resources
                .values()
                .any(|(_, busy)| busy.iter().any(|i| i.overlaps(blocked)))
        })
    }
}

struct WriteRow {
    write: CalendarWrite,
    claim: Option<(uuid::Uuid, Timestamp)>,
}

impl LinkRow {
    fn status(&self) -> CalendarStatus {
        CalendarStatus {
            tenant: self.link.tenant,
            calendar: self.link.calendar,
            url: self.link.url.clone(),
            health: self.health.clone(),
            last_synced_at: self.last_synced_at,
            consecutive_failures: self.consecutive_failures,
            linked_at: self.linked_at,
        }
    }
}

#[async_trait]
impl CalendarSyncStore for MemoryStore {
    async fn link_calendar(&self, link: &CalendarLink, now: Timestamp) -> StoreResult<()> {
        let mut st = self.lock();
        st.tenant_exists(link.tenant)?;
        // Writes waiting for this calendar are tried again with the new link at once.
        for ((t, c, _), w) in st.calendars.writes.iter_mut() {
            if *t == link.tenant && *c == link.calendar && !w.write.is_done() {
                w.write.next_attempt_at = w.write.next_attempt_at.min(now);
            }
        }
        if let Some(row) = st.calendars.links.get_mut(&(link.tenant, link.calendar))
            && row.link.url == link.url
        {
            row.link = link.clone();
            row.health = SyncHealth::Waiting;
            row.consecutive_failures = 0;
            row.linked_at = now;
            row.next_sync_at = now;
            row.claim = None;
            return Ok(());
        }
        st.calendars.links.insert(
            (link.tenant, link.calendar),
            LinkRow {
                link: link.clone(),
                health: SyncHealth::Waiting,
                last_synced_at: None,
                consecutive_failures: 0,
                linked_at: now,
                next_sync_at: now,
                claim: None,
                token: None,
                expanded_until: None,
                resources: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn unlink_calendar(&self, tenant: TenantId, calendar: CalendarId) -> StoreResult<bool> {
        let mut st = self.lock();
        let had = st.calendars.links.remove(&(tenant, calendar)).is_some();
        st.calendars
            .writes
            .retain(|(t, c, _), w| !(*t == tenant && *c == calendar && !w.write.is_done()));
        Ok(had)
    }

    async fn calendar_link(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarLink>> {
        Ok(self
            .lock()
            .calendars
            .links
            .get(&(tenant, calendar))
            .map(|r| r.link.clone()))
    }

    async fn calendar_status(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarStatus>> {
        Ok(self
            .lock()
            .calendars
            .links
            .get(&(tenant, calendar))
            .map(LinkRow::status))
    }

    async fn calendar_statuses(&self) -> StoreResult<Vec<CalendarStatus>> {
        Ok(self
            .lock()
            .calendars
            .links
            .values()
            .map(LinkRow::status)
            .collect())
    }

    async fn claim_due_syncs(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
    ) -> StoreResult<Vec<SyncClaim>> {
        let mut st = self.lock();
        let mut due: Vec<&mut LinkRow> = st
            .calendars
            .links
            .values_mut()
            .filter(|r| r.next_sync_at <= now && r.claim.is_none_or(|(_, until)| until <= now))
            .collect();
        due.sort_by_key(|r| r.next_sync_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|r| {
                let token = uuid::Uuid::new_v4();
                r.claim = Some((token, lease_until));
                SyncClaim {
                    link: r.link.clone(),
                    since: SyncPoint {
                        token: r.token.clone(),
                        known: r
                            .resources
                            .iter()
                            .map(|(href, (etag, _))| (href.clone(), etag.clone()))
                            .collect(),
                    },
                    expanded_until: r.expanded_until,
                    claim_token: token,
                    lease_until,
                }
            })
            .collect())
    }

    async fn record_sync(
        &self,
        claim: &SyncClaim,
        result: &SyncResult,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut st = self.lock();
        let Some(row) = st
            .calendars
            .links
            .get_mut(&(claim.link.tenant, claim.link.calendar))
        else {
            return Ok(false);
        };
        if row.claim.map(|(t, _)| t) != Some(claim.claim_token) {
            return Ok(false);
        }
        row.claim = None;
        match result {
            SyncResult::Synced {
                changes,
                next_sync_at,
            } => {
                if changes.scope == ChangeScope::Everything {
                    row.resources.clear();
                }
                for href in &changes.removed {
                    row.resources.remove(href);
                }
                for r in &changes.changed {
                    row.resources
                        .insert(r.href.clone(), (r.etag.clone(), r.busy.clone()));
                }
                row.token = changes.token.clone();
                if changes.scope == ChangeScope::Everything || row.expanded_until.is_none() {
                    row.expanded_until = Some(changes.expanded_until);
                }
                row.health = SyncHealth::Healthy;
                row.last_synced_at = Some(now);
                row.consecutive_failures = 0;
                row.next_sync_at = *next_sync_at;
            }
            SyncResult::Failed {
                problem,
                next_sync_at,
            } => {
                row.health = SyncHealth::Failing(problem.clone());
                row.consecutive_failures += 1;
                row.next_sync_at = *next_sync_at;
            }
        }
        Ok(true)
    }

    async fn outside_busy_of(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
    ) -> StoreResult<Vec<(CalendarId, Interval)>> {
        let st = self.lock();
        Ok(calendars
            .iter()
            .filter_map(|c| st.calendars.links.get(&(tenant, *c)).map(|r| (*c, r)))
            .flat_map(|(c, r)| {
                r.resources
                    .values()
                    .flat_map(|(_, busy)| busy.iter().copied())
                    .filter(|i| i.overlaps(&window))
                    .map(move |i| (c, i))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    async fn outside_busy(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
        window: Interval,
    ) -> StoreResult<Vec<Interval>> {
        let st = self.lock();
        Ok(st
            .calendars
            .links
            .get(&(tenant, calendar))
            .map(|r| {
                r.resources
                    .values()
                    .flat_map(|(_, busy)| busy.iter().copied())
                    .filter(|i| i.overlaps(&window))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn queue_booking_writes(&self, now: Timestamp) -> StoreResult<u32> {
        let mut st = self.lock();
        let st = &mut *st;
        let since = now - SignedDuration::from_hours(24);
        let mut changed = 0;
        for b in &st.bookings {
            let key = (b.tenant, b.calendar);
            if !st.calendars.links.contains_key(&key) {
                continue;
            }
            let wanted = (b.status == BookingStatus::Confirmed).then(|| OurEvent::for_booking(b));
            let row_key = (b.tenant, b.calendar, b.id);
            match st.calendars.writes.get_mut(&row_key) {
                Some(row) if row.write.wanted != wanted => {
                    row.write.wanted = wanted;
                    row.write.version += 1;
                    row.write.next_attempt_at = now;
                    row.write.attempts = 0;
                    changed += 1;
                }
                Some(_) => {}
                None if wanted.is_some() && b.slot.end > since => {
                    st.calendars.writes.insert(
                        row_key,
                        WriteRow {
                            write: CalendarWrite {
                                tenant: b.tenant,
                                calendar: b.calendar,
                                booking: b.id,
                                uid: OurEventUid::for_booking(b.id),
                                wanted,
                                version: 1,
                                written_version: None,
                                attempts: 0,
                                next_attempt_at: now,
                                last_problem: None,
                            },
                            claim: None,
                        },
                    );
                    changed += 1;
                }
                None => {}
            }
        }
        Ok(changed)
    }

    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        _worker: &str,
    ) -> StoreResult<Vec<ClaimedWrite>> {
        let mut st = self.lock();
        let st = &mut *st;
        let mut due: Vec<(&(TenantId, CalendarId, BookingId), &mut WriteRow)> = st
            .calendars
            .writes
            .iter_mut()
            .filter(|(k, r)| {
                !r.write.is_done()
                    && r.write.next_attempt_at <= now
                    && r.claim.is_none_or(|(_, until)| until <= now)
                    && st.calendars.links.contains_key(&(k.0, k.1))
            })
            .collect();
        due.sort_by_key(|(_, r)| r.write.next_attempt_at);
        let mut out = Vec::new();
        for (k, r) in due.into_iter().take(limit as usize) {
            let Some(link) = st.calendars.links.get(&(k.0, k.1)) else {
                continue;
            };
            let token = uuid::Uuid::new_v4();
            r.claim = Some((token, lease_until));
            out.push(ClaimedWrite {
                write: r.write.clone(),
                link: link.link.clone(),
                claim_token: token,
                lease_until,
            });
        }
        Ok(out)
    }

    async fn record_calendar_write(
        &self,
        claim: &ClaimedWrite,
        outcome: &WriteOutcome,
        _now: Timestamp,
    ) -> StoreResult<bool> {
        let mut st = self.lock();
        let w = &claim.write;
        let Some(row) = st
            .calendars
            .writes
            .get_mut(&(w.tenant, w.calendar, w.booking))
        else {
            return Ok(false);
        };
        if row.claim.map(|(t, _)| t) != Some(claim.claim_token) {
            return Ok(false);
        }
        row.claim = None;
        match outcome {
            WriteOutcome::Written => {
                row.write.written_version = Some(w.version);
                row.write.attempts = 0;
                row.write.last_problem = None;
            }
            WriteOutcome::Retry {
                problem,
                next_attempt_at,
            } => {
                row.write.attempts += 1;
                row.write.last_problem = Some(problem.clone());
                row.write.next_attempt_at = *next_attempt_at;
            }
        }
        Ok(true)
    }

    async fn calendar_writes(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Vec<CalendarWrite>> {
        let st = self.lock();
        let order: Vec<BookingId> = st
            .bookings
            .iter()
            .filter(|b| b.tenant == tenant)
            .map(|b| b.id)
            .collect();
        let mut rows: Vec<CalendarWrite> = st
            .calendars
            .writes
            .iter()
            .filter(|((t, c, _), _)| *t == tenant && *c == calendar)
            .map(|(_, r)| r.write.clone())
            .collect();
        rows.sort_by_key(|w| order.iter().position(|b| *b == w.booking));
        Ok(rows)
    }
}
