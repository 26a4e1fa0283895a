//! Outside calendars: links (credentials encrypted), the busy time synced from them, their sync
//! state and the write queue ([`CalendarSyncStore`]). Workers claim links and writes with
//! `FOR UPDATE SKIP LOCKED` and a lease, as they claim texts; an outcome is recorded only under
//! the claim's token.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use booking_core::booking::Interval;
use booking_core::outside_calendar::{
    CalendarLink, CalendarProblem, CalendarStatus, CalendarSyncStore, CalendarUrl, CalendarWrite,
    ChangeScope, ClaimedWrite, OurEvent, OurEventUid, SyncClaim, SyncHealth, SyncPoint, SyncResult,
    WriteOutcome,
};
use booking_core::ports::{StoreError, StoreResult};
use booking_core::tenant::ClinicZone;
use booking_core::{BookingId, CalendarId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::PgStore;
use crate::convert::{corrupt, from_ts, from_ts_opt, i32_of, ts, u32_of};
use crate::crypto::{CalendarIdentity, open_calendar_credentials, seal_calendar_credentials};
use crate::error::Fail;
use crate::schema::{bookings as b, tenants};

/// The tables of this module (kept out of schema.rs, as `master_key_checks` is).
pub(crate) mod calendar_tables {
    diesel::table! {
        calendar_links (tenant_id, calendar_id) {
            tenant_id -> Uuid,
            calendar_id -> Uuid,
            url -> Text,
            zone -> Text,
            key_id -> Text,
            nonce -> Bytea,
            ciphertext -> Bytea,
            health -> Text,
            health_detail -> Text,
            last_synced_at -> Nullable<Timestamptz>,
            consecutive_failures -> Int4,
            next_sync_at -> Timestamptz,
            sync_token -> Nullable<Text>,
            expanded_until -> Nullable<Timestamptz>,
            claim_token -> Nullable<Uuid>,
            lease_until -> Nullable<Timestamptz>,
            linked_at -> Timestamptz,
        }
    }
    diesel::table! {
        calendar_resources (tenant_id, calendar_id, href) {
            tenant_id -> Uuid,
            calendar_id -> Uuid,
            href -> Text,
            etag -> Text,
        }
    }
    diesel::table! {
        calendar_busy (tenant_id, calendar_id, href, starts_at) {
            tenant_id -> Uuid,
            calendar_id -> Uuid,
            href -> Text,
            starts_at -> Timestamptz,
            ends_at -> Timestamptz,
        }
    }
    diesel::table! {
        calendar_writes (tenant_id, calendar_id, booking_id) {
            tenant_id -> Uuid,
            calendar_id -> Uuid,
            booking_id -> Uuid,
            want_present -> Bool,
            starts_at -> Timestamptz,
            ends_at -> Timestamptz,
            service -> Text,
            caller_name -> Text,
            stamp -> Timestamptz,
            version -> Int8,
            written_version -> Nullable<Int8>,
            attempts -> Int4,
            next_attempt_at -> Timestamptz,
            last_problem -> Nullable<Text>,
            last_problem_detail -> Nullable<Text>,
            claim_token -> Nullable<Uuid>,
            lease_until -> Nullable<Timestamptz>,
            worker -> Nullable<Text>,
            updated_at -> Timestamptz,
        }
    }

    use crate::schema::bookings;
    diesel::allow_tables_to_appear_in_same_query!(
        calendar_links,
        calendar_resources,
        calendar_busy,
        calendar_writes,
        bookings,
    );
}

use calendar_tables::{
    calendar_busy as busy, calendar_links as l, calendar_resources as res, calendar_writes as w,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = calendar_tables::calendar_links)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct LinkRow {
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

    fn link(&self, store: &PgStore) -> StoreResult<CalendarLink> {
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = calendar_tables::calendar_writes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct WriteRow {
    tenant_id: Uuid,
    calendar_id: Uuid,
    booking_id: Uuid,
    want_present: bool,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    service: String,
    caller_name: String,
    stamp: DateTime<Utc>,
    version: i64,
    written_version: Option<i64>,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_problem: Option<String>,
    last_problem_detail: Option<String>,
}

impl WriteRow {
    fn into_domain(self) -> StoreResult<CalendarWrite> {
        let booking = BookingId::from_uuid(self.booking_id);
        let wanted = if self.want_present {
            let slot = Interval::new(from_ts(self.starts_at)?, from_ts(self.ends_at)?)
                .ok_or_else(|| corrupt("appointment time", "empty"))?;
            Some(OurEvent::new(
                booking,
                slot,
                &self.service,
                &self.caller_name,
                from_ts(self.stamp)?,
            ))
        } else {
            None
        };
        let last_problem = match &self.last_problem {
            None => None,
            Some(kind) => match SyncHealth::from_stored(
                kind,
                self.last_problem_detail.as_deref().unwrap_or(""),
            ) {
                Some(SyncHealth::Failing(p)) => Some(p),
                _ => return Err(corrupt("write problem", kind)),
            },
        };
        let version = u64::try_from(self.version).map_err(|e| corrupt("version", e))?;
        Ok(CalendarWrite {
            tenant: TenantId::from_uuid(self.tenant_id),
            calendar: CalendarId::from_uuid(self.calendar_id),
            booking,
            uid: OurEventUid::for_booking(booking),
            wanted,
            version,
            written_version: self
                .written_version
                .map(u64::try_from)
                .transpose()
                .map_err(|e| corrupt("version", e))?,
            attempts: u32_of("attempts", self.attempts)?,
            next_attempt_at: from_ts(self.next_attempt_at)?,
            last_problem,
        })
    }
}

/// The health of a failed sync or write, as stored: kind and detail.
fn problem_columns(p: &CalendarProblem) -> (String, String) {
    let h = SyncHealth::Failing(p.clone());
    (h.kind().to_owned(), h.detail())
}

fn version_of(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("version {v} is out of range")))
}

/// Only links whose credentials are under a key this server holds (`csv`: the key ids).
macro_rules! held_keys {
    ($csv:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Bool>("calendar_links.key_id = ANY (string_to_array(")
            .bind::<diesel::sql_types::Text, _>($csv)
            .sql(", ','))")
    };
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
        let since = ts(now - SignedDuration::from_hours(24));
        type Candidate = (
            Uuid,
            Uuid,
            Uuid,
            String,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
        );
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                // Bookings of linked calendars that want an event, or that had one.
                let candidates: Vec<Candidate> = b::table
                    .inner_join(
                        l::table.on(l::tenant_id
                            .eq(b::tenant_id)
                            .and(l::calendar_id.eq(b::calendar_id))),
                    )
                    .left_join(
                        w::table.on(w::tenant_id
                            .eq(b::tenant_id)
                            .and(w::calendar_id.eq(b::calendar_id))
                            .and(w::booking_id.eq(b::id))),
                    )
                    .filter(
                        b::status
                            .eq("confirmed")
                            .and(b::ends_at.gt(since))
                            .or(w::want_present.eq(true).and(b::status.ne("confirmed"))),
                    )
                    // One order for every caller, so that concurrent callers inserting the same
                    // rows wait for each other instead of deadlocking.
                    .order((b::tenant_id, b::calendar_id, b::id))
                    .select((
                        b::tenant_id,
                        b::calendar_id,
                        b::id,
                        b::status,
                        b::service,
                        b::caller_name,
                        b::starts_at,
                        b::ends_at,
                        b::confirmed_at,
                        b::created_at,
                    ))
                    .load(conn)
                    .await?;
                let mut changed = 0;
                for (
                    tenant,
                    calendar,
                    id,
                    status,
                    service,
                    caller,
                    starts,
                    ends,
                    confirmed,
                    created,
                ) in candidates
                {
                    let current: Option<WriteRow> = w::table
                        .filter(w::tenant_id.eq(tenant))
                        .filter(w::calendar_id.eq(calendar))
                        .filter(w::booking_id.eq(id))
                        .select(WriteRow::as_select())
                        .first(conn)
                        .await
                        .optional()?;
                    let present = status == "confirmed";
                    let stamp = confirmed.unwrap_or(created);
                    let slot = Interval::new(from_ts(starts)?, from_ts(ends)?)
                        .ok_or_else(|| corrupt("booking slot", "empty"))?;
                    let wanted = present.then(|| {
                        OurEvent::new(
                            BookingId::from_uuid(id),
                            slot,
                            &service,
                            &caller,
                            from_ts(stamp).unwrap_or(now),
                        )
                    });
                    match current {
                        None => {
                            if !present {
                                continue;
                            }
                            changed += diesel::insert_into(w::table)
                                .values((
                                    w::tenant_id.eq(tenant),
                                    w::calendar_id.eq(calendar),
                                    w::booking_id.eq(id),
                                    w::want_present.eq(true),
                                    w::starts_at.eq(starts),
                                    w::ends_at.eq(ends),
                                    w::service.eq(&service),
                                    w::caller_name.eq(&caller),
                                    w::stamp.eq(stamp),
                                    w::version.eq(1_i64),
                                    w::attempts.eq(0),
                                    w::next_attempt_at.eq(ts(now)),
                                    w::updated_at.eq(ts(now)),
                                ))
                                .on_conflict((w::tenant_id, w::calendar_id, w::booking_id))
                                .do_nothing()
                                .execute(conn)
                                .await?;
                        }
                        Some(row) => {
                            let seen = row.version;
                            let stored = row.into_domain()?;
                            if stored.wanted == wanted {
                                continue;
                            }
                            // Only if no one changed it since it was read: of concurrent
                            // callers, one moves it to the next version.
                            let mut set_starts = starts;
                            let mut set_ends = ends;
                            if !present && let Some(old) = &stored.wanted {
                                set_starts = ts(old.slot.start);
                                set_ends = ts(old.slot.end);
                            }
                            changed += diesel::update(
                                w::table
                                    .filter(w::tenant_id.eq(tenant))
                                    .filter(w::calendar_id.eq(calendar))
                                    .filter(w::booking_id.eq(id))
                                    .filter(w::version.eq(seen)),
                            )
                            .set((
                                w::want_present.eq(present),
                                w::starts_at.eq(set_starts),
                                w::ends_at.eq(set_ends),
                                w::service.eq(&service),
                                w::caller_name.eq(&caller),
                                w::stamp.eq(stamp),
                                w::version.eq(seen + 1),
                                w::attempts.eq(0),
                                w::next_attempt_at.eq(ts(now)),
                                w::updated_at.eq(ts(now)),
                            ))
                            .execute(conn)
                            .await?;
                        }
                    }
                }
                Ok(changed as u32)
            })
            .await
        })
        .await
    }

    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedWrite>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::from(i32_of("claim limit", limit)?);
        let token = Uuid::new_v4();
        let held = self.keys().ids_csv();
        let (writes, links) = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    // The link is tested in a subquery, not joined: a join would lock the
                    // link's row too, and concurrent claimers would then skip every write of
                    // that calendar instead of only the rows another claimer holds.
                    let due: Vec<(Uuid, Uuid, Uuid)> = w::table
                        .filter(diesel::dsl::exists(
                            l::table
                                .filter(l::tenant_id.eq(w::tenant_id))
                                .filter(l::calendar_id.eq(w::calendar_id))
                                .filter(held_keys!(&held))
                                .select(l::tenant_id),
                        ))
                        .filter(w::written_version.is_distinct_from(w::version.nullable()))
                        .filter(w::next_attempt_at.le(ts(now)))
                        .filter(w::lease_until.is_null().or(w::lease_until.le(ts(now))))
                        .order(w::next_attempt_at)
                        .limit(limit)
                        .select((w::tenant_id, w::calendar_id, w::booking_id))
                        .for_update()
                        .skip_locked()
                        .load(conn)
                        .await?;
                    let mut writes = Vec::new();
                    let mut links: BTreeMap<(Uuid, Uuid), LinkRow> = BTreeMap::new();
                    for (tenant, calendar, booking) in due {
                        let row: WriteRow = diesel::update(
                            w::table
                                .filter(w::tenant_id.eq(tenant))
                                .filter(w::calendar_id.eq(calendar))
                                .filter(w::booking_id.eq(booking)),
                        )
                        .set((
                            w::claim_token.eq(token),
                            w::lease_until.eq(ts(lease_until)),
                            w::worker.eq(worker),
                        ))
                        .returning(WriteRow::as_returning())
                        .get_result(conn)
                        .await?;
                        if let std::collections::btree_map::Entry::Vacant(slot) =
                            links.entry((tenant, calendar))
                        {
                            let link: LinkRow = l::table
                                .filter(l::tenant_id.eq(tenant))
                                .filter(l::calendar_id.eq(calendar))
                                .select(LinkRow::as_select())
                                .first(conn)
                                .await?;
                            slot.insert(link);
                        }
                        writes.push(row);
                    }
                    Ok((writes, links))
                })
                .await
            })
            .await?;
        let mut decrypted: BTreeMap<(Uuid, Uuid), CalendarLink> = BTreeMap::new();
        for (key, row) in &links {
            decrypted.insert(*key, row.link(self)?);
        }
        writes
            .into_iter()
            .map(|row| {
                let key = (row.tenant_id, row.calendar_id);
                let link = decrypted.get(&key).cloned().ok_or_else(|| {
                    StoreError::Internal("a claimed write without its link".into())
                })?;
                Ok(ClaimedWrite {
                    write: row.into_domain()?,
                    link,
                    claim_token: token,
                    lease_until,
                })
            })
            .collect()
    }

    async fn record_calendar_write(
        &self,
        claim: &ClaimedWrite,
        outcome: &WriteOutcome,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let wr = &claim.write;
        let (tenant, calendar, booking) = (
            *wr.tenant.as_uuid(),
            *wr.calendar.as_uuid(),
            *wr.booking.as_uuid(),
        );
        let this = w::table
            .filter(w::tenant_id.eq(tenant))
            .filter(w::calendar_id.eq(calendar))
            .filter(w::booking_id.eq(booking))
            .filter(w::claim_token.eq(claim.claim_token));
        let version = version_of(wr.version)?;
        let n = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(match outcome {
                    WriteOutcome::Written => {
                        diesel::update(this)
                            .set((
                                w::written_version.eq(Some(version)),
                                w::attempts.eq(0),
                                w::last_problem.eq(None::<String>),
                                w::last_problem_detail.eq(None::<String>),
                                w::claim_token.eq(None::<Uuid>),
                                w::lease_until.eq(None::<DateTime<Utc>>),
                                w::worker.eq(None::<String>),
                                w::updated_at.eq(ts(now)),
                            ))
                            .execute(&mut conn)
                            .await?
                    }
                    WriteOutcome::Retry {
                        problem,
                        next_attempt_at,
                    } => {
                        let (kind, detail) = problem_columns(problem);
                        diesel::update(this)
                            .set((
                                w::attempts.eq(w::attempts + 1),
                                w::last_problem.eq(Some(kind)),
                                w::last_problem_detail.eq(Some(detail)),
                                w::next_attempt_at.eq(ts(*next_attempt_at)),
                                w::claim_token.eq(None::<Uuid>),
                                w::lease_until.eq(None::<DateTime<Utc>>),
                                w::worker.eq(None::<String>),
                                w::updated_at.eq(ts(now)),
                            ))
                            .execute(&mut conn)
                            .await?
                    }
                })
            })
            .await?;
        Ok(n == 1)
    }

    async fn calendar_writes(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
    ) -> StoreResult<Vec<CalendarWrite>> {
        let rows: Vec<WriteRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(w::table
                    .inner_join(
                        b::table.on(b::tenant_id.eq(w::tenant_id).and(b::id.eq(w::booking_id))),
                    )
                    .filter(w::tenant_id.eq(tenant.as_uuid()))
                    .filter(w::calendar_id.eq(calendar.as_uuid()))
                    .order(b::seq)
                    .select(WriteRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter().map(WriteRow::into_domain).collect()
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
