//! Holds and appointments: [`BookingStore`] in memory.

use crate::booking::CallHolds;
use crate::patient_link::NewPatientLink;
use async_trait::async_trait;
use jiff::Timestamp;

use crate::booking::{
    Booking, BookingStatus, Interval, NewAppointment, NewHold, Occupied, OccupiedBy,
};
use crate::ids::{BookingId, CalendarId, CallId, ChallengeId, TenantId};
use crate::memory::{Contact, MemoryStore, wrong_state};
use crate::otp::ChangeProof;
use crate::outbox::{DedupeKey, NewMessage};
use crate::phone::PhoneNumber;
use crate::ports::{BookingStore, StoreError, StoreResult};

#[async_trait]
impl BookingStore for MemoryStore {
    async fn busy(
        &self,
        tenant: TenantId,
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Interval>> {
        let s = self.lock();
        let calendar = CalendarId::default_for(tenant);
        let mut out: Vec<Interval> = s
            .bookings
            .iter()
            .filter(|b| {
                b.tenant == tenant
                    && b.calendar == calendar
                    && b.occupies_at(now)
                    && b.blocked.overlaps(&window)
            })
            .map(|b| b.blocked)
            .collect();
        out.sort();
        Ok(out)
    }

    async fn occupied(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Occupied>> {
        let s = self.lock();
        let mut out: Vec<Occupied> = s
            .bookings
            .iter()
            .filter(|b| {
                b.tenant == tenant
                    && calendars.contains(&b.calendar)
                    && b.occupies_at(now)
                    && b.blocked.overlaps(&window)
            })
            .map(|b| Occupied {
                calendar: b.calendar,
                starts_at: b.slot.start,
                blocked: b.blocked,
                by: OccupiedBy::Booking,
            })
            .collect();
        out.sort_by_key(|o| (o.calendar, o.blocked.start, o.blocked.end));
        Ok(out)
    }

    async fn insert_hold(
        &self,
        hold: &NewHold,
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking> {
        let mut s = self.lock();
        s.tenant_exists(hold.tenant)?;
        if s.bookings.iter().any(|b| b.id == hold.id) {
            return Err(StoreError::Duplicate("booking id".into()));
        }
        // The holds this call gives up, if asked: they do not count against the new one.
        let released: Vec<BookingId> = match (&hold.call_id, call_holds) {
            (Some(call), CallHolds::Release) => s
                .bookings
                .iter()
                .filter(|b| {
                    b.tenant == hold.tenant
                        && b.call_id.as_ref() == Some(call)
                        && b.effective_status(now) == BookingStatus::Held
                })
                .map(|b| b.id)
                .collect(),
            _ => Vec::new(),
        };
        if s.conflicts(hold.calendar, &hold.blocked, now, &released)
            || s.calendars
                .outside_overlaps(hold.tenant, hold.calendar, &hold.blocked)
        {
            return Err(StoreError::SlotTaken);
        }
        if s.over_limit(hold.tenant, hold.calendar, &hold.limits, now, &released) {
            return Err(StoreError::LimitReached);
        }
        for b in &mut s.bookings {
            if b.calendar == hold.calendar
                && b.status == BookingStatus::Held
                && b.blocked.overlaps(&hold.blocked)
                && b.effective_status(now) == BookingStatus::Expired
            {
                b.status = BookingStatus::Expired;
            }
            if released.contains(&b.id) {
                b.status = BookingStatus::Released;
            }
        }
        let booking = Booking {
            id: hold.id,
            tenant: hold.tenant,
            calendar: hold.calendar,
            status: BookingStatus::Held,
            service: hold.service.clone(),
            slot: hold.slot,
            blocked: hold.blocked,
            caller_name: hold.caller_name.clone(),
            caller_phone: hold.caller_phone.clone(),
            call_id: hold.call_id.clone(),
            created_at: hold.created_at,
            hold_expires_at: Some(hold.hold_expires_at),
            confirmed_at: None,
            cancelled_at: None,
            rescheduled_from: None,
        };
        s.bookings.push(booking.clone());
        Ok(booking)
    }

    async fn booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>> {
        let s = self.lock();
        Ok(s.booking_index(tenant, id).map(|i| s.bookings[i].clone()))
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
        let mut s = self.lock();
        s.check_messages(tenant, messages)?;
        if let Some(l) = link {
            if l.tenant != tenant || l.booking != id {
                return Err(StoreError::Internal(
                    "the link is not this booking's".into(),
                ));
            }
            if s.patient_links.contains_key(&l.hash.0) {
                return Err(StoreError::Duplicate("link".into()));
            }
        }
        let bi = s.booking_index(tenant, id).ok_or(StoreError::NotFound)?;
        let status = s.bookings[bi].effective_status(now);
        if status != BookingStatus::Held {
            return Err(wrong_state(status));
        }
        let ci = s
            .challenges
            .iter()
            .position(|c| c.tenant == tenant && c.id == challenge && c.booking == id)
            .ok_or(StoreError::NotFound)?;
        if s.challenges[ci].consumed_at.is_some()
            || s.challenges[ci].superseded_at.is_some()
            || s.challenges[ci].expires_at <= now
        {
            return Err(StoreError::WrongState {
                current: "challenge used",
            });
        }
        s.challenges[ci].consumed_at = Some(now);
        let b = &mut s.bookings[bi];
        b.status = BookingStatus::Confirmed;
        b.confirmed_at = Some(now);
        let booking = b.clone();
        s.contacts
            .entry((tenant, booking.caller_phone.clone()))
            .or_insert(Contact { opted_out: false });
        if let Some(l) = link {
            s.patient_links.insert(l.hash.0, (l.clone(), None));
        }
        s.enqueue(messages);
        Ok(booking)
    }

    async fn release_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        now: Timestamp,
    ) -> StoreResult<Booking> {
        let mut s = self.lock();
        let i = s.booking_index(tenant, id).ok_or(StoreError::NotFound)?;
        let status = s.bookings[i].effective_status(now);
        if status != BookingStatus::Held {
            return Err(wrong_state(status));
        }
        s.bookings[i].status = BookingStatus::Released;
        Ok(s.bookings[i].clone())
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
        let mut s = self.lock();
        s.check_messages(tenant, messages)?;
        let i = s.booking_index(tenant, id).ok_or(StoreError::NotFound)?;
        if s.bookings[i].status != BookingStatus::Confirmed {
            return Err(wrong_state(s.bookings[i].status));
        }
        s.consume_proof(tenant, id, proof, now)?;
        s.bookings[i].status = BookingStatus::Cancelled;
        s.bookings[i].cancelled_at = Some(now);
        let booking = s.bookings[i].clone();
        s.withdraw(tenant, withdraw, now);
        s.enqueue(messages);
        Ok(booking)
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
        let mut s = self.lock();
        s.check_messages(tenant, messages)?;
        if new.tenant != tenant || new.rescheduled_from != old {
            return Err(StoreError::Internal(
                "the new booking does not replace the old one".into(),
            ));
        }
        let i = s.booking_index(tenant, old).ok_or(StoreError::NotFound)?;
        if s.bookings[i].status != BookingStatus::Confirmed {
            return Err(wrong_state(s.bookings[i].status));
        }
        if s.bookings.iter().any(|b| b.id == new.id) {
            return Err(StoreError::Duplicate("booking id".into()));
        }
        if s.conflicts(new.calendar, &new.blocked, now, &[old]) {
            return Err(StoreError::SlotTaken);
        }
        if s.over_limit(tenant, new.calendar, &new.limits, now, &[old]) {
            return Err(StoreError::LimitReached);
        }
        s.consume_proof(tenant, old, proof, now)?;
        s.bookings[i].status = BookingStatus::Cancelled;
        s.bookings[i].cancelled_at = Some(now);
        let booking = Booking {
            id: new.id,
            tenant,
            calendar: new.calendar,
            status: BookingStatus::Confirmed,
            service: new.service.clone(),
            slot: new.slot,
            blocked: new.blocked,
            caller_name: new.caller_name.clone(),
            caller_phone: new.caller_phone.clone(),
            call_id: new.call_id.clone(),
            created_at: new.created_at,
            hold_expires_at: None,
            confirmed_at: Some(now),
            cancelled_at: None,
            rescheduled_from: Some(old),
        };
        s.bookings.push(booking.clone());
        s.withdraw(tenant, withdraw, now);
        s.enqueue(messages);
        Ok(booking)
    }

    async fn upcoming_for_phone(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> StoreResult<Vec<Booking>> {
        let s = self.lock();
        let mut out: Vec<Booking> = s
            .bookings
            .iter()
            .filter(|b| {
                b.tenant == tenant
                    && &b.caller_phone == phone
                    && b.status == BookingStatus::Confirmed
                    && b.slot.start > now
            })
            .cloned()
            .collect();
        out.sort_by_key(|b| b.slot.start);
        Ok(out)
    }

    async fn bookings_for_call(
        &self,
        tenant: TenantId,
        call: &CallId,
    ) -> StoreResult<Vec<Booking>> {
        Ok(self
            .lock()
            .bookings
            .iter()
            .filter(|b| b.tenant == tenant && b.call_id.as_ref() == Some(call))
            .cloned()
            .collect())
    }

    async fn list_bookings(&self, tenant: TenantId, window: Interval) -> StoreResult<Vec<Booking>> {
        let s = self.lock();
        let mut out: Vec<Booking> = s
            .bookings
            .iter()
            .filter(|b| b.tenant == tenant && window.contains(b.slot.start))
            .cloned()
            .collect();
        out.sort_by_key(|b| b.slot.start);
        Ok(out)
    }

    async fn expire_holds(&self, now: Timestamp) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut n = 0;
        for b in &mut s.bookings {
            if b.status == BookingStatus::Held && b.effective_status(now) == BookingStatus::Expired
            {
                b.status = BookingStatus::Expired;
                n += 1;
            }
        }
        Ok(n)
    }
}
