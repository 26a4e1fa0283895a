//! Outside calendars: links (credentials encrypted), the busy time synced from them, their sync
//! state and the write queue ([`CalendarSyncStore`]). Workers claim links and writes with
//! `FOR UPDATE SKIP LOCKED` and a lease, as they claim texts; an outcome is recorded only under
//! the claim's token.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use booking_core::booking::Interval;
use booking_core::outside_calendar::{
    CalendarLink, CalendarProblem, CalendarStatus, CalendarSyncStore, CalendarUrl, CalendarWrite,
    ChangeScope, ClaimedWrite, SyncClaim, SyncHealth, SyncPoint, SyncResult, WriteOutcome,
};
use booking_core::ports::{StoreError, StoreResult};
use booking_core::tenant::ClinicZone;
use booking_core::{CalendarId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use crate::convert::{corrupt, from_ts, from_ts_opt, i32_of, ts, u32_of};
use crate::crypto::{CalendarIdentity, open_calendar_credentials, seal_calendar_credentials};
use crate::error::Fail;
use crate::schema::tenants;

use super::calendar_tables::{
    calendar_busy as busy, calendar_links as l, calendar_resources as res, calendar_writes as w,
    held_keys,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = super::calendar_tables::calendar_links)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(super) struct LinkRow {
    tenant_id: Uuid,
    calendar_id: Uuid,
    url: String,
    zone: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    health: String,
    health_detail: String,
    last_synced_at: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    sync_token: Option<String>,
    expanded_until: Option<DateTime<Utc>>,
    linked_at: DateTime<Utc>,
}

impl LinkRow {
    fn identity(&self) -> CalendarIdentity {
        CalendarIdentity {
            tenant: TenantId::from_uuid(self.tenant_id),
            calendar: CalendarId::from_uuid(self.calendar_id),
        }
    }

    pub(super) fn link(&self, store: &PgStore) -> StoreResult<CalendarLink> {
        Ok(CalendarLink {
            tenant: TenantId::from_uuid(self.tenant_id),
            calendar: CalendarId::from_uuid(self.calendar_id),
            url: CalendarUrl::parse(&self.url).map_err(|e| corrupt("calendar URL", e))?,
            credentials: open_calendar_credentials(
                store.keys(),
                &self.identity(),
                &self.key_id,
                &self.nonce,
                &self.ciphertext,
            )?,
            zone: ClinicZone::parse(&self.zone).map_err(|e| corrupt("calendar zone", e))?,
        })
    }

    fn status(&self) -> StoreResult<CalendarStatus> {
        Ok(CalendarStatus {
            tenant: TenantId::from_uuid(self.tenant_id),
            calendar: CalendarId::from_uuid(self.calendar_id),
            url: CalendarUrl::parse(&self.url).map_err(|e| corrupt("calendar URL", e))?,
            health: SyncHealth::from_stored(&self.health, &self.health_detail)
                .ok_or_else(|| corrupt("calendar health", &self.health))?,
            last_synced_at: from_ts_opt(self.last_synced_at)?,
            consecutive_failures: u32_of("failure count", self.consecutive_failures)?,
            linked_at: from_ts(self.linked_at)?,
        })
    }
}

/// The health of a failed sync or write, as stored: kind and detail.
pub(super) fn problem_columns(p: &CalendarProblem) -> (String, String) {
    let h = SyncHealth::Failing(p.clone());
    (h.kind().to_owned(), h.detail())
}

#[async_trait]
impl CalendarSyncStore for PgStore {
    async fn link_calendar(&self, link: &CalendarLink, now: Timestamp) -> StoreResult<()> {
        let identity = CalendarIdentity {
            tenant: link.tenant,
            calendar: link.calendar,
        };
        let sealed = seal_calendar_credentials(&self.keys().current, &identity, &link.credentials)?;
        let (tenant, calendar) = (*link.tenant.as_uuid(), *link.calendar.as_uuid());
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let exists: i64 = tenants::table
                    .filter(tenants::id.eq(tenant))
                    .count()
                    .get_result(conn)
                    .await?;
                if exists == 0 {
                    return Err(StoreError::NotFound.into());
                }
                // Writes waiting for this calendar are tried again with the new link at once.
                diesel::update(
                    w::table
                        .filter(w::tenant_id.eq(tenant))
                        .filter(w::calendar_id.eq(calendar))
                        .filter(w::written_version.is_distinct_from(w::version.nullable()))
                        .filter(w::next_attempt_at.gt(ts(now))),
                )
                .set(w::next_attempt_at.eq(ts(now)))
                .execute(conn)
                .await?;
                // New credentials for the same address: the busy time and sync point stay;
                // the claim goes, so a sync in flight with the old credentials records nothing.
                let same = diesel::update(
                    l::table
                        .filter(l::tenant_id.eq(tenant))
                        .filter(l::calendar_id.eq(calendar))
                        .filter(l::url.eq(link.url.as_str())),
                )
                .set((
                    l::zone.eq(link.zone.name()),
                    l::key_id.eq(&sealed.key_id),
                    l::nonce.eq(&sealed.nonce),
                    l::ciphertext.eq(&sealed.ciphertext),
                    l::health.eq(SyncHealth::Waiting.kind()),
                    l::health_detail.eq(""),
                    l::consecutive_failures.eq(0),
                    l::next_sync_at.eq(ts(now)),
                    l::linked_at.eq(ts(now)),
                    l::claim_token.eq(None::<Uuid>),
                    l::lease_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)
                .await?;
                if same == 1 {
                    return Ok(());
                }
                // A new address starts from nothing: the old one's busy time and sync point go.
                diesel::delete(
                    l::table
                        .filter(l::tenant_id.eq(tenant))
                        .filter(l::calendar_id.eq(calendar)),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(l::table)
                    .values((
                        l::tenant_id.eq(tenant),
                        l::calendar_id.eq(calendar),
                        l::url.eq(link.url.as_str()),
                        l::zone.eq(link.zone.name()),
                        l::key_id.eq(&sealed.key_id),
                        l::nonce.eq(&sealed.nonce),
                        l::ciphertext.eq(&sealed.ciphertext),
                        l::health.eq(SyncHealth::Waiting.kind()),
                        l::health_detail.eq(""),
                        l::consecutive_failures.eq(0),
                        l::next_sync_at.eq(ts(now)),
                        l::linked_at.eq(ts(now)),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
        })
        .await
    }

    async fn unlink_calendar(&self, tenant: TenantId, calendar: CalendarId) -> StoreResult<bool> {
        let (tenant, calendar) = (*tenant.as_uuid(), *calendar.as_uuid());
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let n = diesel::delete(
                    l::table
                        .filter(l::tenant_id.eq(tenant))
                        .filter(l::calendar_id.eq(calendar)),
                )
                .execute(conn)
                .await?;
                diesel::delete(
                    w::table
                        .filter(w::tenant_id.eq(tenant))
                        .filter(w::calendar_id.eq(calendar))
                        .filter(w::written_version.is_distinct_from(w::version.nullable())),
                )
                .execute(conn)
                .await?;
                Ok(n > 0)
            })
            .await
        })
        .await
    }

    async fn calendar_link(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarLink>> {
        let row = self.link_row(tenant, calendar).await?;
        row.map(|r| r.link(self)).transpose()
    }

    async fn calendar_status(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<CalendarStatus>> {
        let row = self.link_row(tenant, calendar).await?;
        row.map(|r| r.status()).transpose()
    }

    async fn calendar_statuses(&self) -> StoreResult<Vec<CalendarStatus>> {
        let rows: Vec<LinkRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(l::table
                    .select(LinkRow::as_select())
                    .order((l::tenant_id, l::calendar_id))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.iter().map(LinkRow::status).collect()
    }

    async fn claim_due_syncs(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
    ) -> StoreResult<Vec<SyncClaim>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::from(i32_of("claim limit", limit)?);
        let token = Uuid::new_v4();
        let held = self.keys().ids_csv();
        let (rows, known) = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    // Never a link whose credentials are under a key this server lacks.
                    let due: Vec<(Uuid, Uuid)> = l::table
                        .filter(l::next_sync_at.le(ts(now)))
                        .filter(l::lease_until.is_null().or(l::lease_until.le(ts(now))))
                        .filter(held_keys!(&held))
                        .order(l::next_sync_at)
                        .limit(limit)
                        .select((l::tenant_id, l::calendar_id))
                        .for_update()
                        .skip_locked()
                        .load(conn)
                        .await?;
                    let mut rows = Vec::new();
                    let mut known = Vec::new();
                    for (tenant, calendar) in due {
                        let row: LinkRow = diesel::update(
                            l::table
                                .filter(l::tenant_id.eq(tenant))
                                .filter(l::calendar_id.eq(calendar)),
                        )
                        .set((l::claim_token.eq(token), l::lease_until.eq(ts(lease_until))))
                        .returning(LinkRow::as_returning())
                        .get_result(conn)
                        .await?;
                        let etags: Vec<(String, String)> = res::table
                            .filter(res::tenant_id.eq(tenant))
                            .filter(res::calendar_id.eq(calendar))
                            .select((res::href, res::etag))
                            .load(conn)
                            .await?;
                        rows.push(row);
                        known.push(etags);
                    }
                    Ok((rows, known))
                })
                .await
            })
            .await?;
        rows.into_iter()
            .zip(known)
            .map(|(row, etags)| {
                Ok(SyncClaim {
                    link: row.link(self)?,
                    since: SyncPoint {
                        token: row.sync_token.clone(),
                        known: etags.into_iter().collect::<BTreeMap<_, _>>(),
                    },
                    expanded_until: from_ts_opt(row.expanded_until)?,
                    claim_token: token,
                    lease_until,
                })
            })
            .collect()
    }

    async fn record_sync(
        &self,
        claim: &SyncClaim,
        result: &SyncResult,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (tenant, calendar) = (*claim.link.tenant.as_uuid(), *claim.link.calendar.as_uuid());
        let token = claim.claim_token;
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let this = l::table
                    .filter(l::tenant_id.eq(tenant))
                    .filter(l::calendar_id.eq(calendar))
                    .filter(l::claim_token.eq(token));
                let held: Option<Option<DateTime<Utc>>> = this
                    .select(l::expanded_until)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                let Some(expanded_until) = held else {
                    return Ok(false);
                };
                match result {
                    SyncResult::Synced {
                        changes,
                        next_sync_at,
                    } => {
                        let link_res = res::table
                            .filter(res::tenant_id.eq(tenant))
                            .filter(res::calendar_id.eq(calendar));
                        if changes.scope == ChangeScope::Everything {
                            diesel::delete(link_res).execute(conn).await?;
                        } else {
                            let gone: BTreeSet<&str> = changes
                                .removed
                                .iter()
                                .map(String::as_str)
                                .chain(changes.changed.iter().map(|r| r.href.as_str()))
                                .collect();
                            let gone: Vec<&str> = gone.into_iter().collect();
                            diesel::delete(link_res.filter(res::href.eq_any(gone)))
                                .execute(conn)
                                .await?;
                        }
                        for r in &changes.changed {
                            diesel::insert_into(res::table)
                                .values((
                                    res::tenant_id.eq(tenant),
                                    res::calendar_id.eq(calendar),
                                    res::href.eq(&r.href),
                                    res::etag.eq(&r.etag),
                                ))
                                .on_conflict((res::tenant_id, res::calendar_id, res::href))
                                .do_update()
                                .set(res::etag.eq(&r.etag))
                                .execute(conn)
                                .await?;
                            let rows: Vec<_> = r
                                .busy
                                .iter()
                                .map(|i| {
                                    (
                                        busy::tenant_id.eq(tenant),
                                        busy::calendar_id.eq(calendar),
                                        busy::href.eq(&r.href),
                                        busy::starts_at.eq(ts(i.start)),
                                        busy::ends_at.eq(ts(i.end)),
                                    )
                                })
                                .collect();
                            if !rows.is_empty() {
                                diesel::insert_into(busy::table)
                                    .values(rows)
                                    .execute(conn)
                                    .await?;
                            }
                        }
                        let expanded = if changes.scope == ChangeScope::Everything
                            || expanded_until.is_none()
                        {
                            Some(ts(changes.expanded_until))
                        } else {
                            expanded_until
                        };
                        diesel::update(this)
                            .set((
                                l::sync_token.eq(changes.token.as_deref()),
                                l::expanded_until.eq(expanded),
                                l::health.eq(SyncHealth::Healthy.kind()),
                                l::health_detail.eq(""),
                                l::last_synced_at.eq(ts(now)),
                                l::consecutive_failures.eq(0),
                                l::next_sync_at.eq(ts(*next_sync_at)),
                                l::claim_token.eq(None::<Uuid>),
                                l::lease_until.eq(None::<DateTime<Utc>>),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    SyncResult::Failed {
                        problem,
                        next_sync_at,
                    } => {
                        let (kind, detail) = problem_columns(problem);
                        diesel::update(this)
                            .set((
                                l::health.eq(kind),
                                l::health_detail.eq(detail),
                                l::consecutive_failures.eq(l::consecutive_failures + 1),
                                l::next_sync_at.eq(ts(*next_sync_at)),
                                l::claim_token.eq(None::<Uuid>),
                                l::lease_until.eq(None::<DateTime<Utc>>),
                            ))
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(true)
            })
            .await
        })
        .await
    }

    async fn outside_busy(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
        window: Interval,
    ) -> StoreResult<Vec<Interval>> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(busy::table
                    .filter(busy::tenant_id.eq(tenant.as_uuid()))
                    .filter(busy::calendar_id.eq(calendar.as_uuid()))
                    .filter(busy::starts_at.lt(ts(window.end)))
                    .filter(busy::ends_at.gt(ts(window.start)))
                    .select((busy::starts_at, busy::ends_at))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(s, e)| {
                Interval::new(from_ts(s)?, from_ts(e)?).ok_or_else(|| corrupt("busy time", "empty"))
            })
            .collect()
    }

    async fn outside_busy_of(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
    ) -> StoreResult<Vec<(CalendarId, Interval)>> {
        if calendars.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = calendars.iter().map(|c| *c.as_uuid()).collect();
        let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(busy::table
                    .filter(busy::tenant_id.eq(tenant.as_uuid()))
                    .filter(busy::calendar_id.eq_any(&ids))
                    .filter(busy::starts_at.lt(ts(window.end)))
                    .filter(busy::ends_at.gt(ts(window.start)))
                    .select((busy::calendar_id, busy::starts_at, busy::ends_at))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(c, s, e)| {
                let i = Interval::new(from_ts(s)?, from_ts(e)?)
                    .ok_or_else(|| corrupt("busy time", "empty"))?;
                Ok((CalendarId::from_uuid(c), i))
            })
            .collect()
    }

    async fn queue_booking_writes(&self, now: Timestamp) -> StoreResult<u32> {
        self.queue_writes(now).await
    }

    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedWrite>> {
        self.claim_writes(now, limit, lease_until, worker).await
    }

    async fn record_calendar_write(
        &self,
        claim: &ClaimedWrite,
        outcome: &WriteOutcome,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.record_write(claim, outcome, now).await
    }

    async fn calendar_writes(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Vec<CalendarWrite>> {
        self.write_queue(tenant, calendar).await
    }
}

impl PgStore {
    async fn link_row(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Option<LinkRow>> {
        self.run(async {
            let mut conn = self.conn().await?;
            Ok(l::table
                .filter(l::tenant_id.eq(tenant.as_uuid()))
                .filter(l::calendar_id.eq(calendar.as_uuid()))
                .select(LinkRow::as_select())
                .first(&mut conn)
                .await
                .optional()?)
        })
        .await
    }
}
