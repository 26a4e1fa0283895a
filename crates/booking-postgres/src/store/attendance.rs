//! Attended and no-show marks: one row per marked appointment in `booking_attendance`, changed
//! under the booking's lock so that the rule of [`may_mark`] is checked on the row as it is.

use async_trait::async_trait;
use booking_core::attendance::{Attendance, MarkRefusal, may_mark};
use booking_core::ports::{AttendanceStore, StoreResult};
use booking_core::{BookingId, PhoneNumber, TenantId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::bookings::lock_booking;
use crate::convert::{corrupt, ts};
use crate::error::Fail;
use crate::schema::{booking_attendance as a, bookings as b};

#[async_trait]
impl AttendanceStore for PgStore {
    async fn mark_attendance(
        &self,
        tenant: TenantId,
        booking: BookingId,
        mark: Option<Attendance>,
        now: Timestamp,
    ) -> StoreResult<Result<(), MarkRefusal>> {
        let (t, bid) = (*tenant.as_uuid(), *booking.as_uuid());
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let row = lock_booking(conn, t, bid).await?;
                if let Err(refusal) = may_mark(&row.into_domain()?, now) {
                    return Ok(Err(refusal));
                }
                match mark {
                    Some(mark) => {
                        diesel::insert_into(a::table)
                            .values((
                                a::tenant_id.eq(t),
                                a::booking_id.eq(bid),
                                a::attendance.eq(mark.as_str()),
                                a::marked_at.eq(ts(now)),
                            ))
                            .on_conflict((a::tenant_id, a::booking_id))
                            .do_update()
                            .set((a::attendance.eq(mark.as_str()), a::marked_at.eq(ts(now))))
                            .execute(conn)
                            .await?;
                    }
                    None => {
                        diesel::delete(a::table.find((t, bid)))
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(Ok(()))
            })
            .await
        })
        .await
    }

    async fn attendance_of(
        &self,
        tenant: TenantId,
        bookings: &[BookingId],
    ) -> StoreResult<Vec<(BookingId, Attendance)>> {
        let t = *tenant.as_uuid();
        let ids: Vec<Uuid> = bookings.iter().map(|id| *id.as_uuid()).collect();
        let rows: Vec<(Uuid, String)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(a::table
                    .filter(a::tenant_id.eq(t).and(a::booking_id.eq_any(&ids)))
                    .select((a::booking_id, a::attendance))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(id, mark)| {
                let mark = Attendance::parse(&mark)
                    .ok_or_else(|| corrupt("attendance", format!("unknown mark {mark:?}")))?;
                Ok((BookingId::from_uuid(id), mark))
            })
            .collect()
    }

    async fn no_show_counts(
        &self,
        tenant: TenantId,
        phones: &[PhoneNumber],
    ) -> StoreResult<Vec<(PhoneNumber, u32)>> {
        let t = *tenant.as_uuid();
        let numbers: Vec<&str> = phones.iter().map(PhoneNumber::as_str).collect();
        let rows: Vec<(String, i64)> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(a::table
                    .inner_join(
                        b::table.on(b::tenant_id.eq(a::tenant_id).and(b::id.eq(a::booking_id))),
                    )
                    .filter(a::tenant_id.eq(t))
                    .filter(a::attendance.eq(Attendance::NoShow.as_str()))
                    .filter(b::caller_phone.eq_any(&numbers))
                    .group_by(b::caller_phone)
                    .select((b::caller_phone, diesel::dsl::count_star()))
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter()
            .map(|(phone, n)| {
                let phone = PhoneNumber::parse(&phone).map_err(|e| corrupt("caller_phone", e))?;
                Ok((phone, u32::try_from(n).unwrap_or(u32::MAX)))
            })
            .collect()
    }
}
