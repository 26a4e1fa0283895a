//! The waitlist: entries in `waitlist_entries`, offers in `waitlist_offers`. What is due an
//! offer is read from the bookings themselves (those that stopped occupying their time), so
//! nothing has to be queued when a booking is cancelled, moved or let go. An offer is recorded
//! under the lock of the booking that freed the time, so two workers offering it take turns and
//! the second finds the first's offer; joins of one number take turns on an advisory lock.

use async_trait::async_trait;
use booking_core::accounts::TokenHash;
use booking_core::booking::{Booking, BookingStatus};
use booking_core::outbox::NewMessage;
use booking_core::ports::{StoreError, StoreResult, WaitlistStore};
use booking_core::tenant::ServiceName;
use booking_core::waitlist::{
    EntryStatus, FreedSlot, JoinRefusal, NewOffer, NewWaitlistEntry, OfferDue, OfferView,
    PartOfDay, WaitlistDays, WaitlistEntry,
};
use booking_core::{BookingId, CalendarId, TenantId, WaitlistEntryId, WaitlistOfferId};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::bookings::{effective, lock_booking, record_booked_contact};
use super::outbox::{check_messages, enqueue_in};
use super::rows::{BookingRow, call_id, phone};
use crate::convert::{corrupt, date, from_date, from_ts, ts};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::{bookings as b, waitlist_entries as e, waitlist_offers as o};

/// The class of the advisory locks that serialise the joins of one number at one clinic
/// (`wait`).
const JOIN_LOCK_CLASS: i32 = 0x7761_6974;

#[derive(Queryable, Selectable)]
#[diesel(table_name = e)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct EntryRow {
    tenant_id: Uuid,
    id: Uuid,
    service: String,
    calendar_id: Option<Uuid>,
    caller_name: String,
    phone: String,
    from_date: NaiveDate,
    to_date: NaiveDate,
    part_of_day: Option<String>,
    call_id: Option<String>,
    status: String,
    filled_booking_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl EntryRow {
    fn into_domain(self) -> Result<WaitlistEntry, StoreError> {
        let status = match (self.status.as_str(), self.filled_booking_id) {
            ("waiting", _) => EntryStatus::Waiting,
            ("filled", Some(b)) => EntryStatus::Filled(BookingId::from_uuid(b)),
            ("removed", _) => EntryStatus::Removed,
            (s, _) => return Err(corrupt("waitlist status", s)),
        };
        Ok(WaitlistEntry {
            id: WaitlistEntryId::from_uuid(self.id),
            tenant: TenantId::from_uuid(self.tenant_id),
            service: ServiceName::parse(&self.service).map_err(|e| corrupt("service", e))?,
            provider: self.calendar_id.map(CalendarId::from_uuid),
            caller_name: self.caller_name,
            phone: phone("waitlist phone", &self.phone)?,
            days: WaitlistDays::new(from_date(self.from_date)?, from_date(self.to_date)?)
                .ok_or_else(|| corrupt("waitlist days", "out of order"))?,
            part_of_day: self
                .part_of_day
                .map(|p| PartOfDay::parse(&p).ok_or_else(|| corrupt("part of day", p)))
                .transpose()?,
            call_id: call_id(self.call_id)?,
            created_at: from_ts(self.created_at)?,
            status,
        })
    }
}

#[derive(QueryableByName)]
struct FreedRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    calendar_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    service: String,
    #[diesel(sql_type = Timestamptz)]
    starts_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    ends_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    blocked_from: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    blocked_until: DateTime<Utc>,
}

fn interval(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<booking_core::booking::Interval, StoreError> {
    booking_core::booking::Interval::new(from_ts(from)?, from_ts(until)?)
        .ok_or_else(|| corrupt("interval", "is empty"))
}

impl FreedRow {
    fn into_domain(self) -> Result<FreedSlot, StoreError> {
        Ok(FreedSlot {
            tenant: TenantId::from_uuid(self.tenant_id),
            freed: BookingId::from_uuid(self.id),
            calendar: CalendarId::from_uuid(self.calendar_id),
            service: ServiceName::parse(&self.service).map_err(|e| corrupt("service", e))?,
            slot: interval(self.starts_at, self.ends_at)?,
            blocked: interval(self.blocked_from, self.blocked_until)?,
        })
    }
}

fn freed_of(b: &Booking) -> FreedSlot {
    FreedSlot {
        tenant: b.tenant,
        freed: b.id,
        calendar: b.calendar,
        service: b.service.clone(),
        slot: b.slot,
        blocked: b.blocked,
    }
}

/// The bookings that free their time at `$1` and are due an offer (see
/// [`WaitlistStore::freed_slots`]), soonest first.
const FREED_SQL: &str = "\
SELECT b.tenant_id, b.id, b.calendar_id, b.service, b.starts_at, b.ends_at, b.blocked_from, \
       b.blocked_until \
FROM bookings b \
WHERE b.starts_at > $1 \
  AND (b.status IN ('cancelled', 'released', 'expired') \
       OR (b.status = 'held' AND b.hold_expires_at <= $1)) \
  AND NOT EXISTS (SELECT 1 FROM waitlist_offers o \
                  WHERE o.tenant_id = b.tenant_id AND o.freed_booking_id = b.id \
                    AND (o.claimed_at IS NOT NULL OR o.expires_at > $1)) \
  AND NOT EXISTS (SELECT 1 FROM bookings x \
                  WHERE x.tenant_id = b.tenant_id AND x.calendar_id = b.calendar_id \
                    AND (x.status = 'confirmed' OR (x.status = 'held' AND x.hold_expires_at > $1)) \
                    AND x.blocked_from < b.blocked_until AND x.blocked_until > b.blocked_from) \
  AND EXISTS (SELECT 1 FROM waitlist_entries e \
              WHERE e.tenant_id = b.tenant_id AND e.status = 'waiting' AND e.service = b.service \
                AND (e.calendar_id IS NULL OR e.calendar_id = b.calendar_id) \
                AND NOT EXISTS (SELECT 1 FROM waitlist_offers o2 \
                                WHERE o2.tenant_id = e.tenant_id AND o2.entry_id = e.id \
                                  AND o2.calendar_id = b.calendar_id \
                                  AND o2.starts_at = b.starts_at)) \
ORDER BY b.starts_at, b.tenant_id, b.id \
LIMIT $2";

/// The waiting entries that may be offered `slot`, in join order.
async fn candidates(
    conn: &mut AsyncPgConnection,
    slot: &FreedSlot,
) -> Result<Vec<WaitlistEntry>, Fail> {
    let (t, cal, start) = (
        *slot.tenant.as_uuid(),
        *slot.calendar.as_uuid(),
        ts(slot.slot.start),
    );
    let offered: Vec<Uuid> = o::table
        .filter(o::tenant_id.eq(t))
        .filter(o::calendar_id.eq(cal))
        .filter(o::starts_at.eq(start))
        .select(o::entry_id)
        .load(conn)
        .await?;
    let rows: Vec<EntryRow> = e::table
        .filter(e::tenant_id.eq(t))
        .filter(e::status.eq("waiting"))
        .filter(e::service.eq(slot.service.as_str()))
        .filter(e::calendar_id.is_null().or(e::calendar_id.eq(cal)))
        .filter(diesel::dsl::not(e::id.eq_any(&offered)))
        .order(e::seq)
        .select(EntryRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(EntryRow::into_domain)
        .collect::<Result<_, _>>()?)
}

/// Whether an occupying booking of the calendar overlaps `slot`'s blocked time at `now`.
async fn occupied(
    conn: &mut AsyncPgConnection,
    slot: &FreedSlot,
    now: Timestamp,
) -> Result<bool, Fail> {
    let n: i64 = b::table
        .filter(b::tenant_id.eq(slot.tenant.as_uuid()))
        .filter(b::calendar_id.eq(slot.calendar.as_uuid()))
        .filter(
            b::status
                .eq("confirmed")
                .or(b::status.eq("held").and(b::hold_expires_at.gt(ts(now)))),
        )
        .filter(b::blocked_from.lt(ts(slot.blocked.end)))
        .filter(b::blocked_until.gt(ts(slot.blocked.start)))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

#[async_trait]
impl WaitlistStore for PgStore {
    async fn join_waitlist(
        &self,
        entry: &NewWaitlistEntry,
        max_per_number: u32,
    ) -> StoreResult<Result<WaitlistEntry, JoinRefusal>> {
        let t = *entry.tenant.as_uuid();
        let number = entry.phone.as_str().to_owned();
        let lock_key = format!("{t}:{number}");
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let exists: i64 = crate::schema::tenants::table
                    .filter(crate::schema::tenants::id.eq(t))
                    .count()
                    .get_result(conn)
                    .await?;
                if exists == 0 {
                    return Err(Fail::Store(StoreError::NotFound));
                }
                Fixed::new(
                    "SELECT pg_advisory_xact_lock(?, hashtext(?))",
                    [Bind::Int(JOIN_LOCK_CLASS), Bind::Text(&lock_key)],
                )
                .execute(conn)
                .await?;
                let mine: Vec<(String, NaiveDate, NaiveDate)> = e::table
                    .filter(e::tenant_id.eq(t))
                    .filter(e::phone.eq(&number))
                    .filter(e::status.eq("waiting"))
                    .select((e::service, e::from_date, e::to_date))
                    .load(conn)
                    .await?;
                let (from, to) = (date(entry.days.from()), date(entry.days.to()));
                if mine
                    .iter()
                    .any(|(s, f, u)| s == entry.service.as_str() && *f <= to && from <= *u)
                {
                    return Ok(Err(JoinRefusal::AlreadyWaiting));
                }
                if mine.len() >= max_per_number as usize {
                    return Ok(Err(JoinRefusal::TooManyEntries {
                        max: max_per_number,
                    }));
                }
                diesel::insert_into(e::table)
                    .values((
                        e::tenant_id.eq(t),
                        e::id.eq(entry.id.as_uuid()),
                        e::service.eq(entry.service.as_str()),
                        e::calendar_id.eq(entry.provider.map(|p| *p.as_uuid())),
                        e::caller_name.eq(&entry.caller_name),
                        e::phone.eq(&number),
                        e::from_date.eq(from),
                        e::to_date.eq(to),
                        e::part_of_day.eq(entry.part_of_day.map(PartOfDay::as_str)),
                        e::call_id.eq(entry.call_id.as_ref().map(|c| c.as_str())),
                        e::status.eq("waiting"),
                        e::created_at.eq(ts(entry.created_at)),
                        e::updated_at.eq(ts(entry.created_at)),
                    ))
                    .execute(conn)
                    .await?;
                Ok(Ok(entry.stored()))
            })
            .await
        })
        .await
    }

    async fn waitlist(&self, tenant: TenantId) -> StoreResult<Vec<WaitlistEntry>> {
        let rows: Vec<EntryRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(e::table
                    .filter(e::tenant_id.eq(tenant.as_uuid()))
                    .filter(e::status.eq("waiting"))
                    .order(e::seq)
                    .select(EntryRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter().map(EntryRow::into_domain).collect()
    }

    async fn waitlist_fills(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<WaitlistEntry>> {
        let rows: Vec<EntryRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(e::table
                    .filter(e::tenant_id.eq(tenant.as_uuid()))
                    .filter(e::status.eq("filled"))
                    .order((e::updated_at.desc(), e::seq.desc()))
                    .limit(i64::from(limit))
                    .select(EntryRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter().map(EntryRow::into_domain).collect()
    }

    async fn remove_from_waitlist(
        &self,
        tenant: TenantId,
        id: WaitlistEntryId,
        now: Timestamp,
    ) -> StoreResult<()> {
        let n = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(diesel::update(
                    e::table
                        .filter(e::tenant_id.eq(tenant.as_uuid()))
                        .filter(e::id.eq(id.as_uuid()))
                        .filter(e::status.eq("waiting")),
                )
                .set((e::status.eq("removed"), e::updated_at.eq(ts(now))))
                .execute(&mut conn)
                .await?)
            })
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn freed_slots(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OfferDue>> {
        self.run(async {
            let mut conn = self.conn().await?;
            let rows: Vec<FreedRow> = diesel::sql_query(FREED_SQL)
                .bind::<Timestamptz, _>(ts(now))
                .bind::<BigInt, _>(i64::from(limit))
                .load(&mut conn)
                .await?;
            let mut due = Vec::with_capacity(rows.len());
            for row in rows {
                let slot = row.into_domain()?;
                let candidates = candidates(&mut conn, &slot).await?;
                if !candidates.is_empty() {
                    due.push(OfferDue { slot, candidates });
                }
            }
            Ok(due)
        })
        .await
    }

    async fn record_offer(
        &self,
        offer: &NewOffer,
        message: &NewMessage,
        now: Timestamp,
    ) -> StoreResult<bool> {
        check_messages(offer.tenant, std::slice::from_ref(message))?;
        let t = *offer.tenant.as_uuid();
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let row = match lock_booking(conn, t, *offer.slot.freed.as_uuid()).await {
                    Ok(r) => r,
                    Err(Fail::Store(StoreError::NotFound)) => return Ok(false),
                    Err(e) => return Err(e),
                };
                let freed = row.into_domain()?;
                if freed.occupies_at(now) || freed.slot.start <= now {
                    return Ok(false);
                }
                let slot = freed_of(&freed);
                if occupied(conn, &slot, now).await? {
                    return Ok(false);
                }
                let open: i64 = o::table
                    .filter(o::tenant_id.eq(t))
                    .filter(o::freed_booking_id.eq(freed.id.as_uuid()))
                    .filter(o::claimed_at.is_not_null().or(o::expires_at.gt(ts(now))))
                    .count()
                    .get_result(conn)
                    .await?;
                if open > 0 {
                    return Ok(false);
                }
                let status: Option<String> = e::table
                    .find((t, *offer.entry.as_uuid()))
                    .select(e::status)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if status.as_deref() != Some("waiting") {
                    return Ok(false);
                }
                let inserted = diesel::insert_into(o::table)
                    .values((
                        o::tenant_id.eq(t),
                        o::id.eq(offer.id.as_uuid()),
                        o::entry_id.eq(offer.entry.as_uuid()),
                        o::freed_booking_id.eq(freed.id.as_uuid()),
                        o::calendar_id.eq(slot.calendar.as_uuid()),
                        o::starts_at.eq(ts(slot.slot.start)),
                        o::token_hash.eq(offer.token_hash.0.as_slice()),
                        o::offered_at.eq(ts(offer.offered_at)),
                        o::expires_at.eq(ts(offer.expires_at)),
                    ))
                    .on_conflict((o::tenant_id, o::entry_id, o::calendar_id, o::starts_at))
                    .do_nothing()
                    .execute(conn)
                    .await?;
                if inserted == 0 {
                    return Ok(false);
                }
                enqueue_in(conn, std::slice::from_ref(message)).await?;
                Ok(true)
            })
            .await
        })
        .await
    }

    async fn offer_by_token(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<OfferView>> {
        type OfferRow = (Uuid, Uuid, Uuid, Uuid, DateTime<Utc>, Option<Uuid>);
        self.run(async {
            let mut conn = self.conn().await?;
            let found: Option<OfferRow> = o::table
                .filter(o::token_hash.eq(hash.0.as_slice()))
                .filter(o::claimed_at.is_not_null().or(o::expires_at.gt(ts(now))))
                .select((
                    o::tenant_id,
                    o::id,
                    o::entry_id,
                    o::freed_booking_id,
                    o::expires_at,
                    o::claimed_booking_id,
                ))
                .first(&mut conn)
                .await
                .optional()?;
            let Some((t, id, entry, freed, expires_at, claimed)) = found else {
                return Ok(None);
            };
            let entry: EntryRow = e::table
                .find((t, entry))
                .select(EntryRow::as_select())
                .first(&mut conn)
                .await?;
            let freed: BookingRow = b::table
                .find((t, freed))
                .select(BookingRow::as_select())
                .first(&mut conn)
                .await?;
            Ok(Some(OfferView {
                id: WaitlistOfferId::from_uuid(id),
                entry: entry.into_domain()?,
                slot: freed_of(&freed.into_domain()?),
                expires_at: from_ts(expires_at)?,
                claimed: claimed.map(BookingId::from_uuid),
            }))
        })
        .await
    }

    async fn claim_offer(
        &self,
        tenant: TenantId,
        offer: WaitlistOfferId,
        hold: BookingId,
        now: Timestamp,
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        check_messages(tenant, messages)?;
        let t = *tenant.as_uuid();
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    let (entry, expires_at, claimed_at): (
                        Uuid,
                        DateTime<Utc>,
                        Option<DateTime<Utc>>,
                    ) = o::table
                        .find((t, *offer.as_uuid()))
                        .select((o::entry_id, o::expires_at, o::claimed_at))
                        .for_update()
                        .first(conn)
                        .await
                        .optional()?
                        .ok_or(Fail::Store(StoreError::NotFound))?;
                    if claimed_at.is_some() {
                        return Err(Fail::Store(StoreError::WrongState { current: "claimed" }));
                    }
                    if from_ts(expires_at)? <= now {
                        return Err(Fail::Store(StoreError::WrongState { current: "expired" }));
                    }
                    let status: String = e::table
                        .find((t, entry))
                        .select(e::status)
                        .for_update()
                        .first(conn)
                        .await?;
                    if status != "waiting" {
                        return Err(Fail::Store(StoreError::WrongState {
                            current: "left the waitlist",
                        }));
                    }
                    let held = lock_booking(conn, t, *hold.as_uuid()).await?;
                    let status = effective(&held, now)?;
                    if status != BookingStatus::Held {
                        return Err(Fail::Store(StoreError::WrongState {
                            current: status.as_str(),
                        }));
                    }
                    let row: BookingRow = diesel::update(b::table.find((t, *hold.as_uuid())))
                        .set((
                            b::status.eq("confirmed"),
                            b::confirmed_at.eq(ts(now)),
                            b::updated_at.eq(ts(now)),
                        ))
                        .returning(BookingRow::as_returning())
                        .get_result(conn)
                        .await?;
                    diesel::update(o::table.find((t, *offer.as_uuid())))
                        .set((
                            o::claimed_booking_id.eq(hold.as_uuid()),
                            o::claimed_at.eq(ts(now)),
                        ))
                        .execute(conn)
                        .await?;
                    diesel::update(e::table.find((t, entry)))
                        .set((
                            e::status.eq("filled"),
                            e::filled_booking_id.eq(hold.as_uuid()),
                            e::updated_at.eq(ts(now)),
                        ))
                        .execute(conn)
                        .await?;
                    record_booked_contact(
                        conn,
                        t,
                        &row.caller_phone,
                        &row.caller_name,
                        "waitlist",
                        now,
                    )
                    .await?;
                    enqueue_in(conn, messages).await?;
                    Ok(row)
                })
                .await
            })
            .await?;
        row.into_domain()
    }
}
