//! The outside calendars' write queue in PostgreSQL: derived from the bookings, claimed under
//! leases, recorded under the claim. [`CalendarSyncStore`]'s write methods call these.
//!
//! [`CalendarSyncStore`]: booking_core::outside_calendar::CalendarSyncStore

use std::collections::BTreeMap;

use booking_core::booking::Interval;
use booking_core::outside_calendar::{
    CalendarLink, CalendarWrite, ClaimedWrite, OurEvent, OurEventUid, SyncHealth, WriteOutcome,
};
use booking_core::ports::{StoreError, StoreResult};
use booking_core::{BookingId, CalendarId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::PgStore;
use crate::convert::{corrupt, from_ts, i32_of, ts, u32_of};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::bookings as b;

use super::calendar_tables::{calendar_links as l, calendar_writes as w, held_keys};
use super::calendars::{LinkRow, problem_columns};

#[derive(Queryable, Selectable)]
#[diesel(table_name = super::calendar_tables::calendar_writes)]
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

fn version_of(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("version {v} is out of range")))
}

impl PgStore {
    pub(super) async fn queue_writes(&self, now: Timestamp) -> StoreResult<u32> {
        #[derive(QueryableByName)]
        struct Changed {
            #[diesel(sql_type = diesel::sql_types::Int8)]
            changed: i64,
        }
        let (since, now) = (ts(now - SignedDuration::from_hours(24)), ts(now));
        let changed: Changed = self
            .run(async {
                let mut conn = self.conn().await?;
                // One statement, however many bookings the linked calendars have: it ran once
                // per candidate booking before, thousands of round trips a step for a clinic
                // with a full calendar. Queuers of several instances take turns (the advisory
                // lock), so that two never lock the same rows in different orders.
                Ok(Fixed::new(
                    "WITH turn AS (SELECT pg_advisory_xact_lock(hashtextextended('calendar write queue', 0))), \
                     wanted AS ( \
                       SELECT b.tenant_id, b.calendar_id, b.id AS booking_id, \
                              b.status = 'confirmed' AS present, b.starts_at, b.ends_at, \
                              b.service, b.caller_name, \
                              coalesce(b.confirmed_at, b.created_at) AS stamp, \
                              w.booking_id IS NOT NULL AS queued \
                       FROM turn, bookings b \
                       JOIN calendar_links l \
                         ON l.tenant_id = b.tenant_id AND l.calendar_id = b.calendar_id \
                       LEFT JOIN calendar_writes w \
                         ON w.tenant_id = b.tenant_id AND w.calendar_id = b.calendar_id \
                        AND w.booking_id = b.id \
                       WHERE (b.status = 'confirmed' AND b.ends_at > ?) \
                          OR (w.want_present AND b.status <> 'confirmed')), \
                     added AS ( \
                       INSERT INTO calendar_writes (tenant_id, calendar_id, booking_id, want_present, \
                         starts_at, ends_at, service, caller_name, stamp, version, attempts, \
                         next_attempt_at, updated_at) \
                       SELECT tenant_id, calendar_id, booking_id, true, starts_at, ends_at, \
                              service, caller_name, stamp, 1, 0, ?, ? \
                       FROM wanted WHERE present AND NOT queued \
                       ON CONFLICT (tenant_id, calendar_id, booking_id) DO NOTHING \
                       RETURNING 1), \
                     moved AS ( \
                       UPDATE calendar_writes w SET \
                         want_present = c.present, \
                         starts_at = CASE WHEN c.present THEN c.starts_at ELSE w.starts_at END, \
                         ends_at = CASE WHEN c.present THEN c.ends_at ELSE w.ends_at END, \
                         service = c.service, caller_name = c.caller_name, stamp = c.stamp, \
                         version = w.version + 1, attempts = 0, next_attempt_at = ?, updated_at = ? \
                       FROM wanted c \
                       WHERE c.queued AND w.tenant_id = c.tenant_id \
                         AND w.calendar_id = c.calendar_id AND w.booking_id = c.booking_id \
                         AND (w.want_present <> c.present \
                              OR (c.present AND (w.starts_at, w.ends_at, w.service, w.caller_name, w.stamp) \
                                  IS DISTINCT FROM (c.starts_at, c.ends_at, c.service, c.caller_name, c.stamp))) \
                       RETURNING 1) \
                     SELECT (SELECT count(*) FROM added) + (SELECT count(*) FROM moved) AS changed",
                    [
                        Bind::Timestamp(since),
                        Bind::Timestamp(now),
                        Bind::Timestamp(now),
                        Bind::Timestamp(now),
                        Bind::Timestamp(now),
                    ],
                )
                .get_result(&mut conn)
                .await?)
            })
            .await?;
        u32::try_from(changed.changed).map_err(|e| corrupt("queued writes", e))
    }

    pub(super) async fn claim_writes(
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

    pub(super) async fn record_write(
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

    pub(super) async fn write_queue(
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
