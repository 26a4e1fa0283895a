//! Holds and appointments (the codes that confirm them: `otp`).
//!
//! Overlap is the database's business: the `bookings_no_overlap` exclusion constraint turns a
//! lost race into SQLSTATE 23P01, which becomes `StoreError::SlotTaken`. Rows that change
//! state are locked (`FOR UPDATE`) before they are checked, so two confirmations of one hold
//! serialise and the second sees the first's result.

use async_trait::async_trait;
use booking_core::booking::CallHolds;
use booking_core::booking::{
    Booking, BookingLimit, BookingStatus, Interval, NewAppointment, NewHold, Occupied,
};
use booking_core::otp::ChangeProof;
use booking_core::outbox::{DedupeKey, NewMessage};
use booking_core::patient_link::NewPatientLink;
use booking_core::ports::{BookingStore, StoreError, StoreResult};
use booking_core::{BookingId, CalendarId, CallId, ChallengeId, PhoneNumber, TenantId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::outbox::{MessageColumns, check_messages, enqueue_in, withdraw_in};
use super::rows::BookingRow;
use crate::convert::{from_ts, ts};
use crate::error::Fail;
use crate::fixed::{Bind, Fixed};
use crate::schema::{bookings as b, contacts, otp_challenges as ch};

/// What the function `confirm_hold` returns: a refusal, or none, and the booking.
#[derive(QueryableByName)]
struct ConfirmRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    refusal: Option<String>,
    #[diesel(embed)]
    booking: BookingRow,
}

fn wrong_state(status: BookingStatus) -> Fail {
    Fail::Store(StoreError::WrongState {
        current: status.as_str(),
    })
}

/// The booking, locked for the rest of the transaction.
pub(super) async fn lock_booking(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<BookingRow, Fail> {
    b::table
        .find((tenant, id))
        .select(BookingRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(Fail::Store(StoreError::NotFound))
}

/// Records the caller of a booking just confirmed as a contact (created, or its name and last
/// booking updated), in the confirming transaction. `source` says how they booked.
pub(super) async fn record_booked_contact(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    phone: &str,
    name: &str,
    source: &str,
    now: Timestamp,
) -> Result<(), Fail> {
    diesel::insert_into(contacts::table)
        .values((
            contacts::tenant_id.eq(tenant),
            contacts::phone.eq(phone),
            contacts::name.eq(name),
            contacts::source.eq(source),
            contacts::booked_at.eq(ts(now)),
            contacts::created_at.eq(ts(now)),
            contacts::updated_at.eq(ts(now)),
        ))
        .on_conflict((contacts::tenant_id, contacts::phone))
        .do_update()
        .set((
            contacts::name.eq(name),
            contacts::booked_at.eq(ts(now)),
            contacts::updated_at.eq(ts(now)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Consumes a code of the booking: it must be neither consumed nor superseded, and unexpired at
/// `now`. One statement on the way that succeeds (the update locks the row and checks it again
/// under the lock, whatever a concurrent check or send did before); only a refusal reads the
/// code again, to say why.
async fn consume_code(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    booking: Uuid,
    challenge: ChallengeId,
    now: Timestamp,
) -> Result<(), Fail> {
    let this = ch::table
        .filter(ch::tenant_id.eq(tenant))
        .filter(ch::id.eq(challenge.as_uuid()))
        .filter(ch::booking_id.eq(booking));
    let consumed = diesel::update(
        this.filter(ch::consumed_at.is_null())
            .filter(ch::superseded_at.is_null())
            .filter(ch::expires_at.gt(ts(now))),
    )
    .set(ch::consumed_at.eq(ts(now)))
    .execute(conn)
    .await?;
    if consumed == 1 {
        return Ok(());
    }
    let exists: i64 = this.count().get_result(conn).await?;
    if exists == 0 {
        return Err(StoreError::NotFound.into());
    }
    Err(StoreError::WrongState {
        current: "challenge used",
    }
    .into())
}

/// The status a booking has at `now` (a held booking whose hold ran out is expired).
pub(super) fn effective(row: &BookingRow, now: Timestamp) -> Result<BookingStatus, Fail> {
    let status = row.status()?;
    Ok(match (status, row.hold_expires_at) {
        (BookingStatus::Held, Some(exp)) if from_ts(exp)? <= now => BookingStatus::Expired,
        (s, _) => s,
    })
}

/// Marks the calendar's holds that overlap `blocked` and ran out by `now` as expired, so that
/// the exclusion constraint stops counting them.
async fn expire_overlapping(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    calendar: Uuid,
    blocked: &Interval,
    now: Timestamp,
) -> Result<(), Fail> {
    diesel::update(
        b::table
            .filter(b::tenant_id.eq(tenant))
            .filter(b::calendar_id.eq(calendar))
            .filter(b::status.eq("held"))
            .filter(b::hold_expires_at.le(ts(now)))
            .filter(b::blocked_from.lt(ts(blocked.end)))
            .filter(b::blocked_until.gt(ts(blocked.start))),
    )
    .set((b::status.eq("expired"), b::updated_at.eq(ts(now))))
    .execute(conn)
    .await?;
    Ok(())
}

/// The class of the advisory locks that serialise reservations per calendar (`bkng`); the
/// two-key form keeps them apart from the single-key locks taken elsewhere.
const CALENDAR_LOCK_CLASS: i32 = 0x626b_6e67;

/// Takes the calendar's reservation lock until the end of the transaction. Two transactions
/// inserting overlapping bookings can each find the other's uncommitted row in the exclusion
/// constraint and wait for it: a deadlock that Postgres breaks only after `deadlock_timeout`
/// (1 s), failing one of them with an error that is not "slot taken", while the rest of the
/// racers wait behind them. Queued on this lock instead, the next one in finds the winner's
/// committed row and gets a clean exclusion violation at once.
async fn lock_calendar(conn: &mut AsyncPgConnection, calendar: Uuid) -> Result<(), Fail> {
    Fixed::new(
        "SELECT pg_advisory_xact_lock(?, hashtext(?::text))",
        [Bind::Int(CALENDAR_LOCK_CLASS), Bind::Uuid(calendar)],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The constraint name `reserve_hold` raises a reached limit under (SQLSTATE check_violation).
const LIMITS_CONSTRAINT: &str = "booking_limits";

/// `LimitReached` when the calendar's occupying bookings at `now` starting in one of the limits'
/// windows already reach its max. Run under the calendar's lock ([`lock_calendar`]), after the
/// changes that free time (expired and released holds, the booking a reschedule replaces), so
/// the count cannot change before the insert commits.
async fn check_limits(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    calendar: Uuid,
    limits: &[BookingLimit],
    now: Timestamp,
) -> Result<(), Fail> {
    for limit in limits {
        let n: i64 = b::table
            .filter(b::tenant_id.eq(tenant))
            .filter(b::calendar_id.eq(calendar))
            .filter(
                b::status
                    .eq("confirmed")
                    .or(b::status.eq("held").and(b::hold_expires_at.gt(ts(now)))),
            )
            .filter(b::starts_at.ge(ts(limit.window.start)))
            .filter(b::starts_at.lt(ts(limit.window.end)))
            .count()
            .get_result(conn)
            .await?;
        if n >= i64::from(limit.max) {
            return Err(StoreError::LimitReached.into());
        }
    }
    Ok(())
}

fn domain(rows: Vec<BookingRow>) -> StoreResult<Vec<Booking>> {
    rows.into_iter().map(BookingRow::into_domain).collect()
}

#[async_trait]
impl BookingStore for PgStore {
    async fn busy(
        &self,
        tenant: TenantId,
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Interval>> {
        let calendar = *CalendarId::default_for(tenant).as_uuid();
        let rows: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(b::table
                    .filter(b::tenant_id.eq(tenant.as_uuid()))
                    .filter(b::calendar_id.eq(calendar))
                    .filter(
                        b::status
                            .eq("confirmed")
                            .or(b::status.eq("held").and(b::hold_expires_at.gt(ts(now)))),
                    )
                    .filter(b::blocked_from.lt(ts(window.end)))
                    .filter(b::blocked_until.gt(ts(window.start)))
                    .order((b::blocked_from, b::blocked_until))
                    .select((b::blocked_from, b::blocked_until))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(from, until)| {
                Interval::new(from_ts(from)?, from_ts(until)?)
                    .ok_or_else(|| crate::convert::corrupt("blocked time", "is empty"))
            })
            .collect()
    }

    async fn occupied(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Occupied>> {
        type Row = (
            Uuid,
            chrono::DateTime<chrono::Utc>,
            chrono::DateTime<chrono::Utc>,
            chrono::DateTime<chrono::Utc>,
        );
        let ids: Vec<Uuid> = calendars.iter().map(|c| *c.as_uuid()).collect();
        let rows: Vec<Row> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(b::table
                    .filter(b::tenant_id.eq(tenant.as_uuid()))
                    .filter(b::calendar_id.eq_any(&ids))
                    .filter(
                        b::status
                            .eq("confirmed")
                            .or(b::status.eq("held").and(b::hold_expires_at.gt(ts(now)))),
                    )
                    .filter(b::blocked_from.lt(ts(window.end)))
                    .filter(b::blocked_until.gt(ts(window.start)))
                    .order((b::calendar_id, b::blocked_from, b::blocked_until))
                    .select((
                        b::calendar_id,
                        b::starts_at,
                        b::blocked_from,
                        b::blocked_until,
                    ))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(calendar, starts, from, until)| {
                Ok(Occupied {
                    calendar: CalendarId::from_uuid(calendar),
                    starts_at: from_ts(starts)?,
                    blocked: Interval::new(from_ts(from)?, from_ts(until)?)
                        .ok_or_else(|| crate::convert::corrupt("blocked time", "is empty"))?,
                    by: booking_core::booking::OccupiedBy::Booking,
                })
            })
            .collect()
    }

    async fn insert_hold(
        &self,
        hold: &NewHold,
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking> {
        let release = match call_holds {
            CallHolds::Release => hold.call_id.as_ref().map(CallId::as_str),
            CallHolds::Keep => None,
        };
        let limit_from: Vec<_> = hold.limits.iter().map(|l| ts(l.window.start)).collect();
        let limit_until: Vec<_> = hold.limits.iter().map(|l| ts(l.window.end)).collect();
        let limit_max: Vec<i32> = hold
            .limits
            .iter()
            .map(|l| i32::try_from(l.max).unwrap_or(i32::MAX))
            .collect();
        let row: Option<BookingRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                // One statement, its own transaction: see the migration `reserve_hold`.
                let made = Fixed::new(
                    "SELECT * FROM reserve_hold(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        Bind::Uuid(*hold.tenant.as_uuid()),
                        Bind::Uuid(*hold.id.as_uuid()),
                        Bind::Uuid(*hold.calendar.as_uuid()),
                        Bind::Text(hold.service.as_str()),
                        Bind::Timestamp(ts(hold.slot.start)),
                        Bind::Timestamp(ts(hold.slot.end)),
                        Bind::Timestamp(ts(hold.blocked.start)),
                        Bind::Timestamp(ts(hold.blocked.end)),
                        Bind::Text(&hold.caller_name),
                        Bind::Text(hold.caller_phone.as_str()),
                        Bind::OptionalText(hold.call_id.as_ref().map(CallId::as_str)),
                        Bind::OptionalText(release),
                        Bind::Timestamp(ts(hold.created_at)),
                        Bind::Timestamp(ts(hold.hold_expires_at)),
                        Bind::Timestamp(ts(now)),
                        Bind::Timestamps(&limit_from),
                        Bind::Timestamps(&limit_until),
                        Bind::Ints(&limit_max),
                    ],
                )
                .get_result::<BookingRow>(&mut conn)
                .await
                .optional();
                match made {
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::CheckViolation,
                        info,
                    )) if info.constraint_name() == Some(LIMITS_CONSTRAINT) => {
                        Err(Fail::Store(StoreError::LimitReached))
                    }
                    other => Ok(other?),
                }
            })
            .await?;
        // No row: a live booking over that time was committed before the call began.
        row.ok_or(StoreError::SlotTaken)?.into_domain()
    }

    async fn booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>> {
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(b::table
                    .find((tenant.as_uuid(), id.as_uuid()))
                    .select(BookingRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(BookingRow::into_domain).transpose()
    }

    async fn confirm_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        challenge: ChallengeId,
        now: Timestamp,
        link: Option<&NewPatientLink>,
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        check_messages(tenant, messages)?;
        if link.is_some_and(|l| l.tenant != tenant || l.booking != id) {
            return Err(StoreError::Internal(
                "the link is not this booking's".into(),
            ));
        }
        let columns = MessageColumns::of(messages);
        let row: Option<ConfirmRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                // One statement, its own transaction: see the migration `confirm_hold`.
                let binds = [
                    Bind::Uuid(*tenant.as_uuid()),
                    Bind::Uuid(*id.as_uuid()),
                    Bind::Uuid(*challenge.as_uuid()),
                    Bind::Timestamp(ts(now)),
                    Bind::OptionalBytes(link.map(|l| l.hash.0.as_slice())),
                    Bind::OptionalTimestamp(link.map(|l| ts(l.created_at))),
                    Bind::OptionalTimestamp(link.map(|l| ts(l.expires_at))),
                ]
                .into_iter()
                .chain(columns.binds());
                let made = Fixed::new(
                    "SELECT c.refusal, (c.booking).* \
                     FROM confirm_hold(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) AS c",
                    binds,
                )
                .get_result::<ConfirmRow>(&mut conn)
                .await
                .optional();
                match made {
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        info,
                    )) if info.constraint_name() == Some("patient_links_pkey") => {
                        Err(Fail::Store(StoreError::Duplicate("link".into())))
                    }
                    other => Ok(other?),
                }
            })
            .await?;
        let Some(ConfirmRow { refusal, booking }) = row else {
            return Err(StoreError::NotFound);
        };
        match refusal.as_deref() {
            None => booking.into_domain(),
            Some("not held") => {
                let status = booking.into_domain()?.effective_status(now);
                Err(StoreError::WrongState {
                    current: status.as_str(),
                })
            }
            Some("challenge used") => Err(StoreError::WrongState {
                current: "challenge used",
            }),
            Some("no challenge") => Err(StoreError::NotFound),
            Some(other) => Err(StoreError::Internal(format!(
                "confirm_hold refused with {other:?}"
            ))),
        }
    }

    async fn release_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        now: Timestamp,
    ) -> StoreResult<Booking> {
        let (t, bid) = (*tenant.as_uuid(), *id.as_uuid());
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    let row = lock_booking(conn, t, bid).await?;
                    let status = effective(&row, now)?;
                    if status != BookingStatus::Held {
                        return Err(wrong_state(status));
                    }
                    Ok(diesel::update(b::table.find((t, bid)))
                        .set((b::status.eq("released"), b::updated_at.eq(ts(now))))
                        .returning(BookingRow::as_returning())
                        .get_result(conn)
                        .await?)
                })
                .await
            })
            .await?;
        row.into_domain()
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        proof: ChangeProof,
        now: Timestamp,
        withdraw: &[DedupeKey],
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        check_messages(tenant, messages)?;
        let (t, bid) = (*tenant.as_uuid(), *id.as_uuid());
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    let row = lock_booking(conn, t, bid).await?;
                    let status = row.status()?;
                    if status != BookingStatus::Confirmed {
                        return Err(wrong_state(status));
                    }
                    if let ChangeProof::Code(code) = proof {
                        consume_code(conn, t, bid, code, now).await?;
                    }
                    let row: BookingRow = diesel::update(b::table.find((t, bid)))
                        .set((
                            b::status.eq("cancelled"),
                            b::cancelled_at.eq(ts(now)),
                            b::updated_at.eq(ts(now)),
                        ))
                        .returning(BookingRow::as_returning())
                        .get_result(conn)
                        .await?;
                    withdraw_in(conn, t, withdraw, now).await?;
                    enqueue_in(conn, messages).await?;
                    Ok(row)
                })
                .await
            })
            .await?;
        row.into_domain()
    }

    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        old: BookingId,
        proof: ChangeProof,
        new: &NewAppointment,
        now: Timestamp,
        withdraw: &[DedupeKey],
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        check_messages(tenant, messages)?;
        if new.tenant != tenant || new.rescheduled_from != old {
            return Err(StoreError::Internal(
                "the new booking does not replace the old one".into(),
            ));
        }
        let (t, old_id) = (*tenant.as_uuid(), *old.as_uuid());
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                conn.transaction::<_, Fail, _>(async |conn| {
                    let row = lock_booking(conn, t, old_id).await?;
                    let status = row.status()?;
                    if status != BookingStatus::Confirmed {
                        return Err(wrong_state(status));
                    }
                    if let ChangeProof::Code(code) = proof {
                        consume_code(conn, t, old_id, code, now).await?;
                    }
                    diesel::update(b::table.find((t, old_id)))
                        .set((
                            b::status.eq("cancelled"),
                            b::cancelled_at.eq(ts(now)),
                            b::updated_at.eq(ts(now)),
                        ))
                        .execute(conn)
                        .await?;
                    lock_calendar(conn, *new.calendar.as_uuid()).await?;
                    expire_overlapping(conn, t, *new.calendar.as_uuid(), &new.blocked, now).await?;
                    check_limits(conn, t, *new.calendar.as_uuid(), &new.limits, now).await?;
                    let row: BookingRow = diesel::insert_into(b::table)
                        .values((
                            b::tenant_id.eq(t),
                            b::id.eq(new.id.as_uuid()),
                            b::calendar_id.eq(new.calendar.as_uuid()),
                            b::status.eq("confirmed"),
                            b::service.eq(new.service.as_str()),
                            b::starts_at.eq(ts(new.slot.start)),
                            b::ends_at.eq(ts(new.slot.end)),
                            b::blocked_from.eq(ts(new.blocked.start)),
                            b::blocked_until.eq(ts(new.blocked.end)),
                            b::caller_name.eq(&new.caller_name),
                            b::caller_phone.eq(new.caller_phone.as_str()),
                            b::call_id.eq(new.call_id.as_ref().map(CallId::as_str)),
                            b::created_at.eq(ts(new.created_at)),
                            b::confirmed_at.eq(ts(now)),
                            b::rescheduled_from.eq(old_id),
                            b::updated_at.eq(ts(now)),
                        ))
                        .returning(BookingRow::as_returning())
                        .get_result(conn)
                        .await?;
                    withdraw_in(conn, t, withdraw, now).await?;
                    enqueue_in(conn, messages).await?;
                    Ok(row)
                })
                .await
            })
            .await?;
        row.into_domain()
    }

    async fn upcoming_for_phone(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> StoreResult<Vec<Booking>> {
        let rows = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(b::table
                    .filter(b::tenant_id.eq(tenant.as_uuid()))
                    .filter(b::caller_phone.eq(phone.as_str()))
                    .filter(b::status.eq("confirmed"))
                    .filter(b::starts_at.gt(ts(now)))
                    .order((b::starts_at, b::seq))
                    .select(BookingRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        domain(rows)
    }

    async fn bookings_for_call(
        &self,
        tenant: TenantId,
        call: &CallId,
    ) -> StoreResult<Vec<Booking>> {
        // Many reads at once (every caller racing for one slot reads its call's holds first)
        // share statements: see `batches`.
        let store = self.clone();
        let rows = self
            .call_reads()
            .ask(
                |reply| CallRead {
                    tenant: *tenant.as_uuid(),
                    call: call.as_str().to_owned(),
                    reply,
                },
                move |reads| {
                    let store = store.clone();
                    async move { store.read_calls_bookings(reads).await }
                },
            )
            .await?;
        domain(rows)
    }

    async fn list_bookings(&self, tenant: TenantId, window: Interval) -> StoreResult<Vec<Booking>> {
        let rows = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(b::table
                    .filter(b::tenant_id.eq(tenant.as_uuid()))
                    .filter(b::starts_at.ge(ts(window.start)))
                    .filter(b::starts_at.lt(ts(window.end)))
                    .order((b::starts_at, b::seq))
                    .select(BookingRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        domain(rows)
    }

    async fn expire_holds(&self, now: Timestamp) -> StoreResult<u64> {
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::update(
                b::table
                    .filter(b::status.eq("held"))
                    .filter(b::hold_expires_at.le(ts(now))),
            )
            .set((b::status.eq("expired"), b::updated_at.eq(ts(now))))
            .execute(&mut conn)
            .await?;
            Ok(n as u64)
        })
        .await
    }
}

/// A read of the bookings of a call, waiting for its batch.
pub(super) struct CallRead {
    tenant: Uuid,
    call: String,
    reply: tokio::sync::oneshot::Sender<StoreResult<Vec<BookingRow>>>,
}

impl PgStore {
    /// The bookings of each read's call, in the order they were made, in one statement.
    async fn read_calls_bookings(&self, reads: Vec<CallRead>) {
        let tenants: Vec<Uuid> = reads.iter().map(|r| r.tenant).collect();
        let calls: Vec<&str> = reads.iter().map(|r| r.call.as_str()).collect();
        let rows: StoreResult<Vec<BookingRow>> = self
            .run(async {
                let mut conn = self.conn().await?;
                // Alone: the plain statement.
                if let [one] = reads.as_slice() {
                    return Ok(b::table
                        .filter(b::tenant_id.eq(one.tenant))
                        .filter(b::call_id.eq(&one.call))
                        .order(b::seq)
                        .select(BookingRow::as_select())
                        .load(&mut conn)
                        .await?);
                }
                // Each call's rows by the call index (the keys are few; a semi-join could read
                // the whole table).
                Ok(Fixed::new(
                    "SELECT b.* \
                     FROM (SELECT DISTINCT * FROM unnest(?, ?)) AS k(tenant_id, call_id) \
                     JOIN bookings b ON b.tenant_id = k.tenant_id AND b.call_id = k.call_id \
                     ORDER BY b.seq",
                    [Bind::Uuids(&tenants), Bind::Texts(&calls)],
                )
                .load(&mut conn)
                .await?)
            })
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                for r in reads {
                    let _ = r.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut by_call: std::collections::HashMap<(Uuid, String), Vec<BookingRow>> =
            std::collections::HashMap::new();
        for row in rows {
            if let Some(call) = row.call_id.clone() {
                by_call.entry((row.tenant_id, call)).or_default().push(row);
            }
        }
        for r in reads {
            // Two reads of one call in a batch each get all of its rows.
            let mine = by_call
                .get(&(r.tenant, r.call))
                .cloned()
                .unwrap_or_default();
            let _ = r.reply.send(Ok(mine));
        }
    }
}
