//! Codes and their limits: [`OtpStore`] in memory.

use std::collections::HashSet;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ids::{BookingId, CallId, TenantId};
use crate::memory::{MemoryStore, State};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, NewChallenge, OtpPolicy, SendCounts, SendRefused, SendTurn,
};
use crate::outbox::NewMessage;
use crate::phone::PhoneNumber;
use crate::ports::{OtpStore, StoreError, StoreResult};

#[async_trait]
impl OtpStore for MemoryStore {
    async fn create_challenge(
        &self,
        challenge: &NewChallenge,
        message: &NewMessage,
        policy: &OtpPolicy,
    ) -> StoreResult<Result<Challenge, SendRefused>> {
        let mut s = self.lock();
        s.check_messages(challenge.tenant, std::slice::from_ref(message))?;
        let Some(bi) = s.booking_index(challenge.tenant, challenge.booking) else {
            return Err(StoreError::NotFound);
        };
        if s.challenges.iter().any(|c| c.id == challenge.id) {
            return Err(StoreError::Duplicate("challenge id".into()));
        }
        let (tenant, to, call, now) = (
            challenge.tenant,
            &challenge.phone,
            challenge.call_id.as_ref(),
            challenge.created_at,
        );
        let number_counts = s.send_counts(tenant, to, call, now - policy.per_number.window);
        let tenant_counts = s.send_counts(tenant, to, call, now - policy.per_tenant.window);
        let known = &s.bookings[bi].caller_phone == to
            || call.is_some_and(|call| {
                s.challenges.iter().any(|c| {
                    c.tenant == tenant && c.call_id.as_ref() == Some(call) && &c.phone == to
                })
            });
        let turn = SendTurn {
            number_counts,
            tenant_counts,
            number_known_in_call: known,
            opted_out: s
                .contacts
                .get(&(tenant, to.clone()))
                .is_some_and(|c| c.opted_out),
        };
        if let Err(why) = policy.decide_send(&turn) {
            return Ok(Err(why));
        }
        for c in &mut s.challenges {
            if c.tenant == challenge.tenant
                && c.booking == challenge.booking
                && c.consumed_at.is_none()
                && c.superseded_at.is_none()
            {
                c.superseded_at = Some(challenge.created_at);
            }
        }
        let stored = Challenge {
            id: challenge.id,
            tenant: challenge.tenant,
            booking: challenge.booking,
            call_id: challenge.call_id.clone(),
            phone: challenge.phone.clone(),
            code_hash: challenge.code_hash.clone(),
            created_at: challenge.created_at,
            expires_at: challenge.expires_at,
            failed_checks: 0,
            consumed_at: None,
            superseded_at: None,
        };
        s.challenges.push(stored.clone());
        s.enqueue(std::slice::from_ref(message));
        Ok(Ok(stored))
    }

    async fn active_challenge(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<Challenge>> {
        let s = self.lock();
        Ok(live_code(&s.challenges, tenant, booking).map(|i| s.challenges[i].clone()))
    }

    async fn begin_check(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
        max_checks: u32,
    ) -> StoreResult<CheckClaim> {
        let mut s = self.lock();
        let Some(i) = live_code(&s.challenges, tenant, booking) else {
            return Ok(CheckClaim::Gone);
        };
        let c = &mut s.challenges[i];
        if c.expires_at <= now {
            return Ok(CheckClaim::Expired);
        }
        if c.failed_checks >= max_checks {
            return Ok(CheckClaim::Exhausted);
        }
        c.failed_checks += 1;
        Ok(CheckClaim::Counted(Box::new(c.clone())))
    }

    async fn send_counts(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        call: Option<&CallId>,
        since: Timestamp,
    ) -> StoreResult<SendCounts> {
        Ok(self.lock().send_counts(tenant, phone, call, since))
    }
}

impl State {
    fn send_counts(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        call: Option<&CallId>,
        since: Timestamp,
    ) -> SendCounts {
        let s = self;
        let mine = || s.challenges.iter().filter(|c| c.tenant == tenant);
        let in_call: Vec<&Challenge> = match call {
            Some(call) => mine()
                .filter(|c| c.call_id.as_ref() == Some(call))
                .collect(),
            None => Vec::new(),
        };
        let distinct: HashSet<&PhoneNumber> = in_call.iter().map(|c| &c.phone).collect();
        SendCounts {
            to_number: mine()
                .filter(|c| &c.phone == phone && c.created_at >= since)
                .count() as u32,
            in_call: in_call.len() as u32,
            distinct_numbers_in_call: distinct.len() as u32,
            by_tenant: mine().filter(|c| c.created_at >= since).count() as u32,
        }
    }

    /// Consumes the code that proves a change of `booking`: it must be live and unexpired.
    pub(super) fn consume_proof(
        &mut self,
        tenant: TenantId,
        booking: BookingId,
        proof: ChangeProof,
        now: Timestamp,
    ) -> StoreResult<()> {
        let ChangeProof::Code(id) = proof else {
            return Ok(());
        };
        let c = self
            .challenges
            .iter_mut()
            .find(|c| c.tenant == tenant && c.id == id && c.booking == booking)
            .ok_or(StoreError::NotFound)?;
        if c.consumed_at.is_some() || c.superseded_at.is_some() || c.expires_at <= now {
            return Err(StoreError::WrongState {
                current: "challenge used",
            });
        }
        c.consumed_at = Some(now);
        Ok(())
    }
}

/// Where the booking's live code is: its newest challenge neither consumed nor superseded (of
/// two made at the same time, the first stored, as PostgreSQL orders them).
fn live_code(challenges: &[Challenge], tenant: TenantId, booking: BookingId) -> Option<usize> {
    challenges
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, c)| {
            c.tenant == tenant
                && c.booking == booking
                && c.consumed_at.is_none()
                && c.superseded_at.is_none()
        })
        .max_by_key(|(_, c)| c.created_at)
        .map(|(i, _)| i)
}
