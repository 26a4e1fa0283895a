//! An in-memory implementation of every store port, behind one mutex: each method holds the lock
//! for its whole body, so each is one unit of work exactly as the contracts in [`crate::ports`]
//! say. It is the reference the behavioural suite ([`crate::testing`]) is written against, and what
//! the service's tests (here and in other crates) run on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::booking::{Booking, BookingStatus, Interval, NewAppointment, NewHold};
use crate::calls::{CallRecord, CallStart, CapturedLead, FinishOutcome, FinishedCall};
use crate::ids::{
    BookingId, CalendarId, CallId, ChallengeId, MessageId, TenantId, VapiAssistantId,
    VapiPhoneNumberId,
};
use crate::otp::{
    Challenge, ChangeProof, CheckClaim, NewChallenge, OtpPolicy, SendCounts, SendLimit,
};
use crate::outbox::{
    ClaimedMessage, DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, NewMessage,
    OutboundMessage, StatusApplied,
};
use crate::phone::PhoneNumber;
use crate::ports::{
    BookingStore, CallStore, ContactStore, InboundCount, InboundCounter, InboundPurpose, OtpStore,
    OutboxStore, SmsAccountChange, StoreError, StoreResult, TenantStore, ToolCallClaim,
    ToolCallKey, ToolCallLog,
};
use crate::tenant::{SmsAccount, SmsHealth, SmsSender, Tenant, TenantConfig};

/// Every store port in memory. Cheap to create; share it behind an `Arc`.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    sms: HashMap<TenantId, SmsAccount>,
    /// In insertion order.
    bookings: Vec<Booking>,
    /// In insertion order.
    challenges: Vec<Challenge>,
    calls: HashMap<(TenantId, CallId), CallRecord>,
    contacts: HashMap<(TenantId, PhoneNumber), Contact>,
    /// In insertion order.
    messages: Vec<MessageRow>,
    tool_calls: HashMap<(TenantId, ToolCallKey), ToolCallRow>,
    /// Status callbacks for sids no message had yet: (tenant, sid, status, error code).
    early_statuses: Vec<(TenantId, String, MessageStatus, Option<u32>)>,
    /// Inbound text counts: window start and count.
    inbound_counts: HashMap<(TenantId, InboundPurpose, Option<PhoneNumber>), (Timestamp, u32)>,
}

struct Contact {
    opted_out: bool,
}

struct MessageRow {
    message: OutboundMessage,
    claim: Option<Claim>,
}

struct Claim {
    token: uuid::Uuid,
    lease_until: Timestamp,
    worker: String,
    needs_reconcile: bool,
}

enum ToolCallRow {
    /// Claimed at this time.
    InProgress(Timestamp),
    Done(String),
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock (a failed assertion in a test) must not hide the state
        // from the rest of that test's output.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn tenant_exists(&self, id: TenantId) -> StoreResult<()> {
        if self.tenants.contains_key(&id) {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    fn booking_index(&self, tenant: TenantId, id: BookingId) -> Option<usize> {
        self.bookings
            .iter()
            .position(|b| b.tenant == tenant && b.id == id)
    }

    /// Occupying bookings of a calendar at `now` whose blocked time overlaps `blocked`, except
    /// those in `except`.
    fn conflicts(
        &self,
        calendar: CalendarId,
        blocked: &Interval,
        now: Timestamp,
        except: &[BookingId],
    ) -> bool {
        self.bookings.iter().any(|b| {
            b.calendar == calendar
                && b.occupies_at(now)
                && b.blocked.overlaps(blocked)
                && !except.contains(&b.id)
        })
    }

    fn check_messages(&self, tenant: TenantId, messages: &[NewMessage]) -> StoreResult<()> {
        if messages.iter().any(|m| m.tenant != tenant) {
            return Err(StoreError::Internal("a message for another tenant".into()));
        }
        Ok(())
    }

    /// Queues the messages whose key the tenant does not have yet; returns how many.
    fn enqueue(&mut self, messages: &[NewMessage]) -> u32 {
        let mut n = 0;
        for m in messages {
            let exists = self
                .messages
                .iter()
                .any(|r| r.message.tenant == m.tenant && r.message.dedupe_key == m.dedupe_key);
            if exists {
                continue;
            }
            self.messages.push(MessageRow {
                message: OutboundMessage {
                    id: m.id,
                    tenant: m.tenant,
                    kind: m.kind,
                    dedupe_key: m.dedupe_key.clone(),
                    to: m.to.clone(),
                    body: m.body.clone(),
                    status: MessageStatus::Pending,
                    due_at: m.due_at,
                    booking: m.booking,
                    call_id: m.call_id.clone(),
                    twilio_sid: None,
                    error_code: None,
                    error_message: None,
                    attempts: 0,
                    created_at: m.created_at,
                    updated_at: m.created_at,
                    first_attempt_at: None,
                },
                claim: None,
            });
            n += 1;
        }
        n
    }

    fn withdraw(&mut self, tenant: TenantId, keys: &[DedupeKey], now: Timestamp) {
        for r in &mut self.messages {
            let m = &mut r.message;
            if m.tenant == tenant
                && m.status == MessageStatus::Pending
                && keys.contains(&m.dedupe_key)
            {
                m.status = MessageStatus::Withdrawn;
                m.updated_at = now;
            }
        }
    }

    fn number_taken(&self, config: &TenantConfig, except: TenantId) -> Option<String> {
        for t in self.tenants.values().filter(|t| t.id != except) {
            for mine in &config.called_numbers {
                for theirs in &t.config.called_numbers {
                    if mine.number == theirs.number {
                        return Some(format!("called number {}", mine.number.masked()));
                    }
                    if mine.vapi_phone_number_id.is_some()
                        && mine.vapi_phone_number_id == theirs.vapi_phone_number_id
                    {
                        return Some("Vapi phone number id".into());
                    }
                }
            }
            if config
                .vapi_assistant_ids
                .iter()
                .any(|a| t.config.vapi_assistant_ids.contains(a))
            {
                return Some("Vapi assistant id".into());
            }
        }
        None
    }

    /// What of `sms` another tenant already texts from (the PostgreSQL store's unique indexes),
    /// or an alert number of `config` that a clinic texts from.
    fn sms_taken(
        &self,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
        except: TenantId,
    ) -> Option<String> {
        if let Some(sms) = sms {
            for (id, theirs) in self.sms.iter().filter(|(id, _)| **id != except) {
                let _ = id;
                if let (
                    SmsSender::MessagingService { sid: mine, .. },
                    SmsSender::MessagingService { sid: other, .. },
                ) = (&sms.sender, &theirs.sender)
                    && mine == other
                {
                    return Some("Messaging Service".into());
                }
                let theirs = theirs.inbound_numbers();
                if sms.inbound_numbers().iter().any(|n| theirs.contains(n)) {
                    return Some("texting number".into());
                }
            }
        }
        let texting = |n: &PhoneNumber| {
            self.sms
                .iter()
                .filter(|(id, _)| **id != except)
                .map(|(_, a)| a)
                .chain(sms)
                .any(|a| a.inbound_numbers().contains(&n))
        };
        if config.alert_numbers.iter().any(texting) {
            return Some("alert number (a clinic's texting number)".into());
        }
        // Another clinic's alert number claimed as this clinic's texting number.
        if let Some(sms) = sms {
            for t in self.tenants.values().filter(|t| t.id != except) {
                if t.config
                    .alert_numbers
                    .iter()
                    .any(|a| sms.inbound_numbers().contains(&a))
                {
                    return Some("texting number (a clinic's alert number)".into());
                }
            }
        }
        None
    }

    /// Applies the kept early callbacks of a sid that was just recorded.
    fn apply_early_statuses(&mut self, tenant: TenantId, sid: &str, at: Timestamp) {
        let mut early: Vec<(MessageStatus, Option<u32>)> = Vec::new();
        self.early_statuses.retain(|(t, s, status, code)| {
            if *t == tenant && s == sid {
                early.push((*status, *code));
                false
            } else {
                true
            }
        });
        early.sort_by_key(|(status, _)| status.rank());
        for (status, code) in early {
            let _ = self.apply_status_locked(tenant, sid, status, code, at);
        }
    }

    fn apply_status_locked(
        &mut self,
        tenant: TenantId,
        sid: &str,
        status: MessageStatus,
        error_code: Option<u32>,
        at: Timestamp,
    ) -> Option<StatusApplied> {
        let r = self.messages.iter_mut().find(|r| {
            r.message.tenant == tenant
                && r.message
                    .twilio_sid
                    .as_ref()
                    .is_some_and(|x| x.as_str() == sid)
        })?;
        if !r.message.status.may_advance_to(status) {
            return Some(StatusApplied::Ignored);
        }
        r.message.status = status;
        if error_code.is_some() {
            r.message.error_code = error_code;
        }
        r.message.updated_at = at;
        Some(StatusApplied::Updated)
    }
}

fn wrong_state(status: BookingStatus) -> StoreError {
    StoreError::WrongState {
        current: status.as_str(),
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn create_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
    ) -> StoreResult<Tenant> {
        let mut s = self.lock();
        if s.tenants.contains_key(&id) {
            return Err(StoreError::Duplicate("tenant id".into()));
        }
        if let Some(what) = s.number_taken(config, id) {
            return Err(StoreError::Duplicate(what));
        }
        if let Some(what) = s.sms_taken(config, sms, id) {
            return Err(StoreError::Duplicate(what));
        }
        let tenant = Tenant {
            id,
            config: config.clone(),
            sms_health: if sms.is_some() {
                SmsHealth::Ok
            } else {
                SmsHealth::NotConfigured
            },
        };
        s.tenants.insert(id, tenant.clone());
        if let Some(a) = sms {
            s.sms.insert(id, a.clone());
        }
        Ok(tenant)
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: SmsAccountChange,
    ) -> StoreResult<Tenant> {
        let mut s = self.lock();
        s.tenant_exists(id)?;
        if let Some(what) = s.number_taken(config, id) {
            return Err(StoreError::Duplicate(what));
        }
        let kept = match &sms {
            SmsAccountChange::Keep => s.sms.get(&id).cloned(),
            SmsAccountChange::Set(a) => Some(a.clone()),
            SmsAccountChange::Clear => None,
        };
        if let Some(what) = s.sms_taken(config, kept.as_ref(), id) {
            return Err(StoreError::Duplicate(what));
        }
        let health = match &sms {
            SmsAccountChange::Keep => None,
            SmsAccountChange::Set(a) => {
                s.sms.insert(id, a.clone());
                Some(SmsHealth::Ok)
            }
            SmsAccountChange::Clear => {
                s.sms.remove(&id);
                Some(SmsHealth::NotConfigured)
            }
        };
        let t = s.tenants.get_mut(&id).expect("checked above");
        t.config = config.clone();
        if let Some(h) = health {
            t.sms_health = h;
        }
        Ok(t.clone())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.lock().tenants.get(&id).cloned())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn tenant_by_called_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.config.called_numbers.iter().any(|c| &c.number == number))
            .cloned())
    }

    async fn tenant_by_vapi_phone_number_id(
        &self,
        id: &VapiPhoneNumberId,
    ) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| {
                t.config
                    .called_numbers
                    .iter()
                    .any(|c| c.vapi_phone_number_id.as_ref() == Some(id))
            })
            .cloned())
    }

    async fn tenant_by_vapi_assistant_id(
        &self,
        id: &VapiAssistantId,
    ) -> StoreResult<Option<Tenant>> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.config.vapi_assistant_ids.contains(id))
            .cloned())
    }

    async fn tenant_by_sms_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        let s = self.lock();
        let id = s
            .sms
            .iter()
            .find(|(_, a)| a.inbound_numbers().contains(&number))
            .map(|(id, _)| *id);
        Ok(id.and_then(|id| s.tenants.get(&id).cloned()))
    }

    async fn tenant_by_messaging_service(&self, sid: &str) -> StoreResult<Option<Tenant>> {
        let s = self.lock();
        let id = s
            .sms
            .iter()
            .find(|(_, a)| {
                matches!(&a.sender, SmsSender::MessagingService { sid: mine, .. } if mine == sid)
            })
            .map(|(id, _)| *id);
        Ok(id.and_then(|id| s.tenants.get(&id).cloned()))
    }

    async fn is_clinic_texting_number(&self, number: &PhoneNumber) -> StoreResult<bool> {
        Ok(self
            .lock()
            .sms
            .values()
            .any(|a| a.inbound_numbers().contains(&number)))
    }

    async fn sms_account(&self, id: TenantId) -> StoreResult<Option<SmsAccount>> {
        Ok(self.lock().sms.get(&id).cloned())
    }

    async fn tenants_by_account_sid(&self, account_sid: &str) -> StoreResult<Vec<TenantId>> {
        let s = self.lock();
        let mut ids: Vec<TenantId> = s
            .sms
            .iter()
            .filter(|(_, a)| a.account_sid == account_sid)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn set_sms_health(&self, id: TenantId, health: &SmsHealth) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s.tenants.get_mut(&id).ok_or(StoreError::NotFound)?;
        t.sms_health = health.clone();
        Ok(())
    }
}

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

    async fn insert_hold(
        &self,
        hold: &NewHold,
        now: Timestamp,
        release_call_holds: bool,
    ) -> StoreResult<Booking> {
        let mut s = self.lock();
        s.tenant_exists(hold.tenant)?;
        if s.bookings.iter().any(|b| b.id == hold.id) {
            return Err(StoreError::Duplicate("booking id".into()));
        }
        // The holds this call gives up, if asked: they do not count against the new one.
        let released: Vec<BookingId> = match (&hold.call_id, release_call_holds) {
            (Some(call), true) => s
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
        if s.conflicts(hold.calendar, &hold.blocked, now, &released) {
            return Err(StoreError::SlotTaken);
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
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        let mut s = self.lock();
        s.check_messages(tenant, messages)?;
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

#[async_trait]
impl OtpStore for MemoryStore {
    async fn create_challenge(
        &self,
        challenge: &NewChallenge,
        message: &NewMessage,
        policy: &OtpPolicy,
    ) -> StoreResult<Result<Challenge, SendLimit>> {
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
        if let Err(limit) = policy.check_send(&number_counts, &tenant_counts, known) {
            return Ok(Err(limit));
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
        Ok(self
            .lock()
            .challenges
            .iter()
            .rev()
            .filter(|c| {
                c.tenant == tenant
                    && c.booking == booking
                    && c.consumed_at.is_none()
                    && c.superseded_at.is_none()
            })
            .max_by_key(|c| c.created_at)
            .cloned())
    }

    async fn begin_check(
        &self,
        tenant: TenantId,
        challenge: ChallengeId,
        now: Timestamp,
        max_checks: u32,
    ) -> StoreResult<CheckClaim> {
        let mut s = self.lock();
        let Some(c) = s.challenges.iter_mut().find(|c| {
            c.tenant == tenant
                && c.id == challenge
                && c.consumed_at.is_none()
                && c.superseded_at.is_none()
        }) else {
            return Ok(CheckClaim::Gone);
        };
        if c.expires_at <= now {
            return Ok(CheckClaim::Expired);
        }
        if c.failed_checks >= max_checks {
            return Ok(CheckClaim::Exhausted);
        }
        c.failed_checks += 1;
        Ok(CheckClaim::Counted {
            checks: c.failed_checks,
        })
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
    fn consume_proof(
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

#[async_trait]
impl CallStore for MemoryStore {
    async fn record_call_start(&self, call: &CallStart) -> StoreResult<()> {
        let mut s = self.lock();
        s.tenant_exists(call.tenant)?;
        s.calls
            .entry((call.tenant, call.call_id.clone()))
            .or_insert_with(|| CallRecord {
                call_id: call.call_id.clone(),
                tenant: call.tenant,
                caller: call.caller.clone(),
                called: call.called.clone(),
                started_at: Some(call.started_at),
                ended_at: None,
                duration_seconds: None,
                ended_reason: None,
                summary: None,
                last_status: None,
                lead: CapturedLead::default(),
                score: None,
                hot_lead: false,
                report_received_at: None,
            });
        Ok(())
    }

    async fn record_call_status(
        &self,
        tenant: TenantId,
        call: &CallId,
        status: &str,
        _at: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let c = s
            .calls
            .get_mut(&(tenant, call.clone()))
            .ok_or(StoreError::NotFound)?;
        c.last_status = Some(status.to_owned());
        Ok(())
    }

    async fn record_lead(
        &self,
        tenant: TenantId,
        call: &CallId,
        lead: &CapturedLead,
        _at: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let c = s
            .calls
            .get_mut(&(tenant, call.clone()))
            .ok_or(StoreError::NotFound)?;
        merge_lead(&mut c.lead, lead);
        Ok(())
    }

    async fn call(&self, tenant: TenantId, call: &CallId) -> StoreResult<Option<CallRecord>> {
        Ok(self.lock().calls.get(&(tenant, call.clone())).cloned())
    }

    async fn prior_calls_from(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        before: Timestamp,
    ) -> StoreResult<u32> {
        Ok(self
            .lock()
            .calls
            .values()
            .filter(|c| {
                c.tenant == tenant
                    && c.caller.as_ref() == Some(phone)
                    && c.started_at.is_some_and(|t| t < before)
            })
            .count() as u32)
    }

    async fn finish_call(
        &self,
        tenant: TenantId,
        call: &FinishedCall,
        messages: &[NewMessage],
    ) -> StoreResult<FinishOutcome> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        s.check_messages(tenant, messages)?;
        let r = &call.report;
        let key = (tenant, r.call_id.clone());
        if s.calls
            .get(&key)
            .is_some_and(|c| c.report_received_at.is_some())
        {
            return Ok(FinishOutcome::AlreadyRecorded);
        }
        let c = s.calls.entry(key).or_insert_with(|| CallRecord {
            call_id: r.call_id.clone(),
            tenant,
            caller: None,
            called: None,
            started_at: None,
            ended_at: None,
            duration_seconds: None,
            ended_reason: None,
            summary: None,
            last_status: None,
            lead: CapturedLead::default(),
            score: None,
            hot_lead: false,
            report_received_at: None,
        });
        if c.caller.is_none() {
            c.caller = r.caller.clone();
        }
        if c.called.is_none() {
            c.called = r.called.clone();
        }
        // The report's start is the call's; a row made from an earlier message holds that
        // message's time.
        c.started_at = r.started_at.or(c.started_at);
        c.ended_at = r.ended_at;
        c.duration_seconds = r.duration_seconds();
        c.ended_reason = r.ended_reason.clone();
        c.summary = r.summary.clone();
        // What the model captured during the call stays; the analysis fills the gaps.
        let mut lead = r.structured.clone();
        merge_lead(&mut lead, &c.lead);
        c.lead = lead;
        c.score = Some(call.score.clone());
        c.hot_lead = call.hot_lead;
        c.report_received_at = Some(call.received_at);
        s.enqueue(messages);
        Ok(FinishOutcome::Recorded)
    }

    async fn list_calls(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<CallRecord>> {
        let s = self.lock();
        let mut out: Vec<CallRecord> = s
            .calls
            .values()
            .filter(|c| c.tenant == tenant)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| a.call_id.cmp(&b.call_id))
        });
        out.truncate(limit as usize);
        Ok(out)
    }
}

/// Later non-empty fields win.
fn merge_lead(into: &mut CapturedLead, later: &CapturedLead) {
    fn text(into: &mut Option<String>, later: &Option<String>) {
        if let Some(v) = later.as_ref().filter(|v| !v.trim().is_empty()) {
            *into = Some(v.clone());
        }
    }
    text(&mut into.caller_name, &later.caller_name);
    text(&mut into.service_interest, &later.service_interest);
    text(&mut into.notes, &later.notes);
    if later.wants_callback.is_some() {
        into.wants_callback = later.wants_callback;
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn count_inbound_text(
        &self,
        tenant: TenantId,
        purpose: InboundPurpose,
        counter: InboundCounter<'_>,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<InboundCount> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        let sender = match counter {
            InboundCounter::Sender(p) => Some(p.clone()),
            InboundCounter::Clinic => None,
        };
        let entry = s
            .inbound_counts
            .entry((tenant, purpose, sender))
            .or_insert((now, 0));
        if entry.0 + window <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        Ok(InboundCount {
            count: entry.1,
            window_started_at: entry.0,
        })
    }

    async fn is_opted_out(&self, tenant: TenantId, phone: &PhoneNumber) -> StoreResult<bool> {
        Ok(self
            .lock()
            .contacts
            .get(&(tenant, phone.clone()))
            .is_some_and(|c| c.opted_out))
    }

    async fn set_opted_out(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        opted_out: bool,
        _at: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.tenant_exists(tenant)?;
        s.contacts
            .entry((tenant, phone.clone()))
            .or_insert(Contact { opted_out })
            .opted_out = opted_out;
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, messages: &[NewMessage]) -> StoreResult<u32> {
        Ok(self.lock().enqueue(messages))
    }

    async fn message_by_key(
        &self,
        tenant: TenantId,
        key: &DedupeKey,
    ) -> StoreResult<Option<OutboundMessage>> {
        Ok(self
            .lock()
            .messages
            .iter()
            .find(|r| r.message.tenant == tenant && &r.message.dedupe_key == key)
            .map(|r| r.message.clone()))
    }

    async fn message(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>> {
        Ok(self
            .lock()
            .messages
            .iter()
            .find(|r| r.message.tenant == tenant && r.message.id == id)
            .map(|r| r.message.clone()))
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        let mut s = self.lock();
        let paused: HashSet<TenantId> = s
            .tenants
            .values()
            .filter(|t| matches!(t.sms_health, SmsHealth::NeedsAttention { .. }))
            .map(|t| t.id)
            .collect();
        let mut due: Vec<usize> = s
            .messages
            .iter()
            .enumerate()
            .filter(|(_, r)| !paused.contains(&r.message.tenant))
            .filter(|(_, r)| match r.message.status {
                MessageStatus::Pending | MessageStatus::Ambiguous => r.message.due_at <= now,
                MessageStatus::Sending => r.claim.as_ref().is_none_or(|c| c.lease_until <= now),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        due.sort_by_key(|&i| (s.messages[i].message.due_at, i));
        due.truncate(limit as usize);
        let mut out = Vec::with_capacity(due.len());
        for i in due {
            let r = &mut s.messages[i];
            let needs_reconcile = match r.message.status {
                MessageStatus::Ambiguous | MessageStatus::Sending => true,
                _ => r.claim.as_ref().is_some_and(|c| c.needs_reconcile),
            };
            let token = uuid::Uuid::new_v4();
            r.message.status = MessageStatus::Sending;
            r.message.updated_at = now;
            r.message.first_attempt_at.get_or_insert(now);
            r.claim = Some(Claim {
                token,
                lease_until,
                worker: worker.to_owned(),
                needs_reconcile,
            });
            out.push(ClaimedMessage {
                message: r.message.clone(),
                claim_token: token,
                lease_until,
                needs_reconcile,
            });
        }
        Ok(out)
    }

    async fn record_delivery(
        &self,
        claim: &ClaimedMessage,
        update: &DeliveryUpdate,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(r) = s
            .messages
            .iter_mut()
            .find(|r| r.message.tenant == claim.message.tenant && r.message.id == claim.message.id)
        else {
            return Ok(false);
        };
        let ours = r.message.status == MessageStatus::Sending
            && r.claim
                .as_ref()
                .is_some_and(|c| c.token == claim.claim_token);
        if !ours {
            return Ok(false);
        }
        let needs_reconcile = r.claim.as_ref().is_some_and(|c| c.needs_reconcile);
        let m = &mut r.message;
        m.updated_at = now;
        if m.kind == MessageKind::Otp
            && matches!(
                update,
                DeliveryUpdate::Accepted { .. }
                    | DeliveryUpdate::Failed { .. }
                    | DeliveryUpdate::Suppressed { .. }
            )
        {
            m.body = crate::ports::SENT_CODE_BODY.to_owned();
        }
        match update {
            DeliveryUpdate::Accepted { sid, status } => {
                m.status = if status.rank() >= MessageStatus::Queued.rank() {
                    *status
                } else {
                    MessageStatus::Queued
                };
                m.twilio_sid = Some(sid.clone());
                m.attempts += 1;
                r.claim = None;
            }
            DeliveryUpdate::Retry {
                next_attempt_at,
                error_code,
                error_message,
            } => {
                m.status = MessageStatus::Pending;
                m.due_at = *next_attempt_at;
                m.error_code = *error_code;
                m.error_message = Some(error_message.clone());
                m.attempts += 1;
                r.claim = None;
            }
            DeliveryUpdate::Ambiguous {
                next_attempt_at,
                error_message,
            } => {
                m.status = MessageStatus::Ambiguous;
                m.due_at = *next_attempt_at;
                m.error_message = Some(error_message.clone());
                m.attempts += 1;
                r.claim = None;
            }
            DeliveryUpdate::Failed {
                error_code,
                error_message,
            } => {
                m.status = MessageStatus::Failed;
                m.error_code = *error_code;
                m.error_message = Some(error_message.clone());
                m.attempts += 1;
                r.claim = None;
            }
            DeliveryUpdate::Suppressed { reason } => {
                m.status = MessageStatus::Suppressed;
                m.error_message = Some(reason.clone());
                r.claim = None;
            }
            DeliveryUpdate::Deferred { until, reason } => {
                // A message that may already be at Twilio stays marked for reconciliation.
                m.status = if needs_reconcile {
                    MessageStatus::Ambiguous
                } else {
                    MessageStatus::Pending
                };
                m.due_at = *until;
                m.error_message = Some(reason.clone());
                r.claim = None;
            }
        }
        if let DeliveryUpdate::Accepted { sid, .. } = update {
            let tenant = claim.message.tenant;
            s.apply_early_statuses(tenant, sid.as_str(), now);
        }
        Ok(true)
    }

    async fn release_claims(&self, worker: &str, now: Timestamp) -> StoreResult<u32> {
        let mut s = self.lock();
        let mut n = 0;
        for r in &mut s.messages {
            let mine = r.message.status == MessageStatus::Sending
                && r.claim.as_ref().is_some_and(|c| c.worker == worker);
            if mine {
                let reconcile = r.claim.as_ref().is_some_and(|c| c.needs_reconcile);
                r.message.status = if reconcile {
                    MessageStatus::Ambiguous
                } else {
                    MessageStatus::Pending
                };
                r.message.updated_at = now;
                r.claim = None;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn apply_status(
        &self,
        tenant: TenantId,
        sid: &str,
        status: MessageStatus,
        error_code: Option<u32>,
        at: Timestamp,
    ) -> StoreResult<StatusApplied> {
        let mut s = self.lock();
        match s.apply_status_locked(tenant, sid, status, error_code, at) {
            Some(applied) => Ok(applied),
            None => {
                s.tenant_exists(tenant)?;
                let early = (tenant, sid.to_owned(), status, error_code);
                if !s.early_statuses.contains(&early) {
                    s.early_statuses.push(early);
                }
                Ok(StatusApplied::Kept)
            }
        }
    }

    async fn list_messages(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<OutboundMessage>> {
        let s = self.lock();
        let mut out: Vec<(usize, OutboundMessage)> = s
            .messages
            .iter()
            .enumerate()
            .filter(|(_, r)| r.message.tenant == tenant)
            .map(|(i, r)| (i, r.message.clone()))
            .collect();
        out.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at).then(b.0.cmp(&a.0)));
        Ok(out
            .into_iter()
            .take(limit as usize)
            .map(|(_, m)| m)
            .collect())
    }
}

#[async_trait]
impl ToolCallLog for MemoryStore {
    async fn begin_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        now: Timestamp,
    ) -> StoreResult<ToolCallClaim> {
        let mut s = self.lock();
        let key = (tenant, key.clone());
        Ok(match s.tool_calls.get(&key) {
            Some(ToolCallRow::Done(r)) => ToolCallClaim::Done(r.clone()),
            Some(ToolCallRow::InProgress(at))
                if now.duration_since(*at) < crate::ports::TOOL_CALL_ABANDONED_AFTER =>
            {
                ToolCallClaim::InProgress
            }
            // Never claimed, or claimed by a request that died: run it.
            _ => {
                s.tool_calls.insert(key, ToolCallRow::InProgress(now));
                ToolCallClaim::New
            }
        })
    }

    async fn finish_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        result: &str,
        _now: Timestamp,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        match s.tool_calls.get_mut(&(tenant, key.clone())) {
            Some(row @ ToolCallRow::InProgress(_)) => {
                *row = ToolCallRow::Done(result.to_owned());
                Ok(())
            }
            // Already finished: the first answer stays.
            Some(ToolCallRow::Done(_)) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    async fn abandon_tool_call(&self, tenant: TenantId, key: &ToolCallKey) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (tenant, key.clone());
        if matches!(s.tool_calls.get(&key), Some(ToolCallRow::InProgress(_))) {
            s.tool_calls.remove(&key);
        }
        Ok(())
    }
}
