//! Attended and no-show marks: [`AttendanceStore`] in memory.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::attendance::{Attendance, MarkRefusal, may_mark};
use crate::ids::{BookingId, TenantId};
use crate::memory::MemoryStore;
use crate::phone::PhoneNumber;
use crate::ports::{AttendanceStore, StoreError, StoreResult};

#[async_trait]
impl AttendanceStore for MemoryStore {
    async fn mark_attendance(
        &self,
        tenant: TenantId,
        booking: BookingId,
        mark: Option<Attendance>,
        now: Timestamp,
    ) -> StoreResult<Result<(), MarkRefusal>> {
        let mut s = self.lock();
        let i = s
            .booking_index(tenant, booking)
            .ok_or(StoreError::NotFound)?;
        if let Err(refusal) = may_mark(&s.bookings[i], now) {
            return Ok(Err(refusal));
        }
        match mark {
            Some(a) => {
                s.attendance.insert((tenant, booking), a);
            }
            None => {
                s.attendance.remove(&(tenant, booking));
            }
        }
        Ok(Ok(()))
    }

    async fn attendance_of(
        &self,
        tenant: TenantId,
        bookings: &[BookingId],
    ) -> StoreResult<Vec<(BookingId, Attendance)>> {
        let s = self.lock();
        Ok(bookings
            .iter()
            .filter_map(|id| s.attendance.get(&(tenant, *id)).map(|a| (*id, *a)))
            .collect())
    }

    async fn no_show_counts(
        &self,
        tenant: TenantId,
        phones: &[PhoneNumber],
    ) -> StoreResult<Vec<(PhoneNumber, u32)>> {
        let s = self.lock();
        let mut out: Vec<(PhoneNumber, u32)> = Vec::new();
        for phone in phones {
            if out.iter().any(|(p, _)| p == phone) {
                continue;
            }
            let n = s
                .bookings
                .iter()
                .filter(|b| {
                    b.tenant == tenant
                        && &b.caller_phone == phone
                        && s.attendance.get(&(tenant, b.id)) == Some(&Attendance::NoShow)
                })
                .count();
            if n > 0 {
                out.push((phone.clone(), u32::try_from(n).unwrap_or(u32::MAX)));
            }
        }
        Ok(out)
    }
}
