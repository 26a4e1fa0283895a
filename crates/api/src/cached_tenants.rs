//! The clinics by the number a call reached, kept for a few seconds in this process: a decorator
//! of the store that every part of the process (handlers, the service, the outbox worker) uses.
//!
//! Every message of a call (the assistant-request, each tool call, the report) names the same
//! number, and loading a clinic takes eight queries; under load that was most of a tool call's
//! round trips. So the lookups by phone-number id, by called number and by saved assistant are
//! kept for [`TTL`]. Unknown numbers are not kept. Every change of a clinic made through this
//! store (the operator API, the dashboard's settings, the outbox worker marking the clinic's
//! texting health) drops that clinic's entries at once; a change made by another instance
//! shows within [`TTL`]. Every other port is passed through unchanged.

use booking_core::booking::CallHolds;
use booking_core::ports::Texting;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use booking_core::TenantId;
use booking_core::booking::{Booking, Interval, NewAppointment, NewHold, Occupied};
use booking_core::calls::{CallRecord, CallStart, CapturedLead, FinishOutcome, FinishedCall};
use booking_core::ids::{
    AssistantId, BookingId, CalendarId, CallId, ChallengeId, MessageId, VoiceLineId,
};
use booking_core::otp::{
    Challenge, ChangeProof, CheckClaim, NewChallenge, OtpPolicy, RateWindow, SendCounts,
    SendRefused,
};
use booking_core::outbox::{
    ClaimedMessage, DedupeKey, DeliveryUpdate, MessageStatus, NewMessage, OutboundMessage,
    StatusApplied,
};
use booking_core::phone::PhoneNumber;
use booking_core::ports::{
    BookingStore, CallStore, Clock, ContactStore, InboundCount, InboundCounter, InboundPurpose,
    OtpStore, OutboxStore, SmsAccountChange, Store, StoreResult, TenantStore, TestTextStore,
    ToolCallClaim, ToolCallKey, ToolCallLog,
};
use booking_core::tenant::{SmsAccount, SmsHealth, Tenant, TenantConfig};
use booking_core::test_texts::TestTextsUsedUp;
use jiff::{SignedDuration, Timestamp};

/// How long a looked-up clinic is kept.
pub const TTL: SignedDuration = SignedDuration::from_secs(10);
const MAX_ENTRIES: usize = 10_000;

/// One way to find the clinic of a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    PhoneNumberId(VoiceLineId),
    Called(PhoneNumber),
    AssistantId(AssistantId),
}

#[derive(Default)]
struct Entries {
    kept: HashMap<Key, (Timestamp, Tenant)>,
    /// Counts the changes of clinics: a lookup that read the store before a change is not kept
    /// after it.
    changes: u64,
}

/// The store, with the clinics of calls kept for [`TTL`] (see the module's documentation).
pub struct CachedTenants {
    inner: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
}

impl CachedTenants {
    pub fn new(inner: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(at: Timestamp, now: Timestamp) -> bool {
        at <= now && now.duration_since(at) < TTL
    }

    /// The kept clinic for `key`, else the store's answer (kept when it names a clinic and no
    /// clinic changed meanwhile).
    async fn lookup(&self, key: Key) -> StoreResult<Option<Tenant>> {
        let now = self.clock.now();
        let changes = {
            let e = self.entries();
            if let Some((at, t)) = e.kept.get(&key)
                && Self::fresh(*at, now)
            {
                return Ok(Some(t.clone()));
            }
            e.changes
        };
        let found = match &key {
            Key::PhoneNumberId(id) => self.inner.tenant_by_voice_line_id(id).await?,
            Key::Called(n) => self.inner.tenant_by_called_number(n).await?,
            Key::AssistantId(id) => self.inner.tenant_by_assistant_id(id).await?,
        };
        if let Some(t) = &found {
            let mut e = self.entries();
            if e.changes == changes {
                if e.kept.len() >= MAX_ENTRIES {
                    e.kept.retain(|_, (at, _)| Self::fresh(*at, now));
                    if e.kept.len() >= MAX_ENTRIES {
                        e.kept.clear();
                    }
                }
                e.kept.insert(key, (now, t.clone()));
            }
        }
        Ok(found)
    }

    /// Drops every entry of `tenant`, after a change of it (whether or not the change went
    /// through: a failed write may still have committed).
    fn forget(&self, tenant: TenantId) {
        let mut e = self.entries();
        e.changes = e.changes.wrapping_add(1);
        e.kept.retain(|_, (_, t)| t.id != tenant);
    }

    /// Drops what is kept for the identifiers of one call, so that its next lookup asks the
    /// store: the assistant-request starts a call from the clinic's current settings.
    pub fn forget_call(
        &self,
        phone_number_id: Option<&VoiceLineId>,
        called: Option<&PhoneNumber>,
        assistant_id: Option<&AssistantId>,
    ) {
        let keys = [
            phone_number_id.map(|i| Key::PhoneNumberId(i.clone())),
            called.map(|n| Key::Called(n.clone())),
            assistant_id.map(|i| Key::AssistantId(i.clone())),
        ];
        let mut e = self.entries();
        for key in keys.iter().flatten() {
            e.kept.remove(key);
        }
    }
}

#[async_trait]
impl TenantStore for CachedTenants {
    async fn create_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: Option<&SmsAccount>,
    ) -> StoreResult<Tenant> {
        let created = self.inner.create_tenant(id, config, sms).await;
        self.forget(id);
        created
    }
    async fn update_tenant(
        &self,
        id: TenantId,
        config: &TenantConfig,
        sms: SmsAccountChange,
    ) -> StoreResult<Tenant> {
        let updated = self.inner.update_tenant(id, config, sms).await;
        self.forget(id);
        updated
    }
    async fn set_sms_health(&self, id: TenantId, health: &SmsHealth) -> StoreResult<()> {
        let set = self.inner.set_sms_health(id, health).await;
        self.forget(id);
        set
    }
    async fn tenant_by_called_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        self.lookup(Key::Called(number.clone())).await
    }
    async fn tenant_by_voice_line_id(&self, id: &VoiceLineId) -> StoreResult<Option<Tenant>> {
        self.lookup(Key::PhoneNumberId(id.clone())).await
    }
    async fn tenant_by_assistant_id(&self, id: &AssistantId) -> StoreResult<Option<Tenant>> {
        self.lookup(Key::AssistantId(id.clone())).await
    }
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.inner.tenant(id).await
    }
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.inner.list_tenants().await
    }
    async fn tenant_by_sms_number(&self, number: &PhoneNumber) -> StoreResult<Option<Tenant>> {
        self.inner.tenant_by_sms_number(number).await
    }
    async fn tenant_by_messaging_service(&self, sid: &str) -> StoreResult<Option<Tenant>> {
        self.inner.tenant_by_messaging_service(sid).await
    }
    async fn is_clinic_texting_number(&self, number: &PhoneNumber) -> StoreResult<bool> {
        self.inner.is_clinic_texting_number(number).await
    }
    async fn sms_account(&self, id: TenantId) -> StoreResult<Option<SmsAccount>> {
        self.inner.sms_account(id).await
    }
    async fn tenants_by_account_sid(&self, account_sid: &str) -> StoreResult<Vec<TenantId>> {
        self.inner.tenants_by_account_sid(account_sid).await
    }
}

// The other ports, unchanged.

#[async_trait]
impl BookingStore for CachedTenants {
    async fn busy(
        &self,
        tenant: TenantId,
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Interval>> {
        self.inner.busy(tenant, window, now).await
    }
    async fn occupied(
        &self,
        tenant: TenantId,
        calendars: &[CalendarId],
        window: Interval,
        now: Timestamp,
    ) -> StoreResult<Vec<Occupied>> {
        self.inner.occupied(tenant, calendars, window, now).await
    }
    async fn insert_first_free_hold(
        &self,
        holds: &[NewHold],
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking> {
        self.inner
            .insert_first_free_hold(holds, now, call_holds)
            .await
    }
    async fn insert_hold(
        &self,
        hold: &NewHold,
        now: Timestamp,
        call_holds: CallHolds,
    ) -> StoreResult<Booking> {
        self.inner.insert_hold(hold, now, call_holds).await
    }
    async fn booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>> {
        self.inner.booking(tenant, id).await
    }
    async fn confirm_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        challenge: ChallengeId,
        now: Timestamp,
        link: Option<&booking_core::patient_link::NewPatientLink>,
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        self.inner
            .confirm_hold(tenant, id, challenge, now, link, messages)
            .await
    }
    async fn release_hold(
        &self,
        tenant: TenantId,
        id: BookingId,
        now: Timestamp,
    ) -> StoreResult<Booking> {
        self.inner.release_hold(tenant, id, now).await
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
        self.inner
            .cancel_booking(tenant, id, proof, now, withdraw, messages)
            .await
    }
    #[allow(clippy::too_many_arguments)]
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
        self.inner
            .reschedule_booking(tenant, old, proof, new, now, withdraw, messages)
            .await
    }
    async fn upcoming_for_phone(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> StoreResult<Vec<Booking>> {
        self.inner.upcoming_for_phone(tenant, phone, now).await
    }
    async fn bookings_for_call(
        &self,
        tenant: TenantId,
        call: &CallId,
    ) -> StoreResult<Vec<Booking>> {
        self.inner.bookings_for_call(tenant, call).await
    }
    async fn list_bookings(&self, tenant: TenantId, window: Interval) -> StoreResult<Vec<Booking>> {
        self.inner.list_bookings(tenant, window).await
    }
    async fn expire_holds(&self, now: Timestamp) -> StoreResult<u64> {
        self.inner.expire_holds(now).await
    }
}

#[async_trait]
impl OtpStore for CachedTenants {
    async fn create_challenge(
        &self,
        challenge: &NewChallenge,
        message: &NewMessage,
        policy: &OtpPolicy,
    ) -> StoreResult<Result<Challenge, SendRefused>> {
        self.inner
            .create_challenge(challenge, message, policy)
            .await
    }
    async fn active_challenge(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<Challenge>> {
        self.inner.active_challenge(tenant, booking).await
    }
    async fn begin_check(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
        max_checks: u32,
    ) -> StoreResult<CheckClaim> {
        self.inner
            .begin_check(tenant, booking, now, max_checks)
            .await
    }
    async fn send_counts(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        call: Option<&CallId>,
        since: Timestamp,
    ) -> StoreResult<SendCounts> {
        self.inner.send_counts(tenant, phone, call, since).await
    }
}

#[async_trait]
impl CallStore for CachedTenants {
    async fn record_call_start(&self, call: &CallStart) -> StoreResult<()> {
        self.inner.record_call_start(call).await
    }
    async fn record_call_status(
        &self,
        tenant: TenantId,
        call: &CallId,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.inner
            .record_call_status(tenant, call, status, at)
            .await
    }
    async fn record_lead(
        &self,
        tenant: TenantId,
        call: &CallId,
        lead: &CapturedLead,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.inner.record_lead(tenant, call, lead, at).await
    }
    async fn call(&self, tenant: TenantId, call: &CallId) -> StoreResult<Option<CallRecord>> {
        self.inner.call(tenant, call).await
    }
    async fn prior_calls_from(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        before: Timestamp,
    ) -> StoreResult<u32> {
        self.inner.prior_calls_from(tenant, phone, before).await
    }
    async fn finish_call(
        &self,
        tenant: TenantId,
        call: &FinishedCall,
        messages: &[NewMessage],
    ) -> StoreResult<FinishOutcome> {
        self.inner.finish_call(tenant, call, messages).await
    }
    async fn list_calls(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<CallRecord>> {
        self.inner.list_calls(tenant, limit).await
    }
}

#[async_trait]
impl ContactStore for CachedTenants {
    async fn count_inbound_text(
        &self,
        tenant: TenantId,
        purpose: InboundPurpose,
        counter: InboundCounter<'_>,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<InboundCount> {
        self.inner
            .count_inbound_text(tenant, purpose, counter, window, now)
            .await
    }
    async fn is_opted_out(&self, tenant: TenantId, phone: &PhoneNumber) -> StoreResult<bool> {
        self.inner.is_opted_out(tenant, phone).await
    }
    async fn set_texting(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        texting: Texting,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.inner.set_texting(tenant, phone, texting, at).await
    }
}

#[async_trait]
impl TestTextStore for CachedTenants {
    async fn take_test_text(
        &self,
        tenant: TenantId,
        limit: RateWindow,
        now: Timestamp,
    ) -> StoreResult<Result<(), TestTextsUsedUp>> {
        self.inner.take_test_text(tenant, limit, now).await
    }
}

#[async_trait]
impl OutboxStore for CachedTenants {
    async fn enqueue(&self, messages: &[NewMessage]) -> StoreResult<u32> {
        self.inner.enqueue(messages).await
    }
    async fn message_by_key(
        &self,
        tenant: TenantId,
        key: &DedupeKey,
    ) -> StoreResult<Option<OutboundMessage>> {
        self.inner.message_by_key(tenant, key).await
    }
    async fn message(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>> {
        self.inner.message(tenant, id).await
    }
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        self.inner.claim_due(now, limit, lease_until, worker).await
    }
    async fn record_delivery(
        &self,
        claim: &ClaimedMessage,
        update: &DeliveryUpdate,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.inner.record_delivery(claim, update, now).await
    }
    async fn release_claims(&self, worker: &str, now: Timestamp) -> StoreResult<u32> {
        self.inner.release_claims(worker, now).await
    }
    async fn apply_status(
        &self,
        tenant: TenantId,
        sid: &str,
        status: MessageStatus,
        error_code: Option<u32>,
        at: Timestamp,
    ) -> StoreResult<StatusApplied> {
        self.inner
            .apply_status(tenant, sid, status, error_code, at)
            .await
    }
    async fn last_message_to(
        &self,
        tenant: TenantId,
        to: &PhoneNumber,
        kind: booking_core::outbox::MessageKind,
        key_prefix: &str,
        since: Timestamp,
    ) -> StoreResult<Option<OutboundMessage>> {
        self.inner
            .last_message_to(tenant, to, kind, key_prefix, since)
            .await
    }
    async fn list_messages(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<OutboundMessage>> {
        self.inner.list_messages(tenant, limit).await
    }
}

#[async_trait]
impl ToolCallLog for CachedTenants {
    async fn begin_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        now: Timestamp,
    ) -> StoreResult<ToolCallClaim> {
        self.inner.begin_tool_call(tenant, key, now).await
    }
    async fn finish_tool_call(
        &self,
        tenant: TenantId,
        key: &ToolCallKey,
        result: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.inner.finish_tool_call(tenant, key, result, now).await
    }
    async fn abandon_tool_call(&self, tenant: TenantId, key: &ToolCallKey) -> StoreResult<()> {
        self.inner.abandon_tool_call(tenant, key).await
    }
}

#[async_trait]
impl booking_core::ports::AttendanceStore for CachedTenants {
    async fn mark_attendance(
        &self,
        tenant: TenantId,
        booking: BookingId,
        mark: Option<booking_core::attendance::Attendance>,
        now: Timestamp,
    ) -> StoreResult<Result<(), booking_core::attendance::MarkRefusal>> {
        self.inner.mark_attendance(tenant, booking, mark, now).await
    }
    async fn attendance_of(
        &self,
        tenant: TenantId,
        bookings: &[BookingId],
    ) -> StoreResult<Vec<(BookingId, booking_core::attendance::Attendance)>> {
        self.inner.attendance_of(tenant, bookings).await
    }
    async fn no_show_counts(
        &self,
        tenant: TenantId,
        phones: &[PhoneNumber],
    ) -> StoreResult<Vec<(PhoneNumber, u32)>> {
        self.inner.no_show_counts(tenant, phones).await
    }
}

#[async_trait]
impl booking_core::ports::ReportStore for CachedTenants {
    async fn weekly_figures(
        &self,
        tenant: TenantId,
        weeks: &booking_core::reports::ReportWeeks,
    ) -> StoreResult<Vec<booking_core::reports::WeekFigures>> {
        self.inner.weekly_figures(tenant, weeks).await
    }
}

#[async_trait]
impl booking_core::patient_link::PatientLinkStore for CachedTenants {
    async fn insert_link(
        &self,
        link: &booking_core::patient_link::NewPatientLink,
    ) -> StoreResult<()> {
        self.inner.insert_link(link).await
    }
    async fn link_by_hash(
        &self,
        hash: &booking_core::accounts::TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<booking_core::patient_link::PatientLink>> {
        self.inner.link_by_hash(hash, now).await
    }
    async fn revoke_links(
        &self,
        tenant: TenantId,
        booking: BookingId,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.inner.revoke_links(tenant, booking, now).await
    }
    async fn count_link_action(
        &self,
        key: &booking_core::patient_link::ActionKey,
        window: jiff::SignedDuration,
        now: Timestamp,
    ) -> StoreResult<u32> {
        self.inner.count_link_action(key, window, now).await
    }
}

#[async_trait]
impl booking_core::ports::WaitlistStore for CachedTenants {
    async fn join_waitlist(
        &self,
        entry: &booking_core::waitlist::NewWaitlistEntry,
        max_per_number: u32,
    ) -> StoreResult<
        Result<booking_core::waitlist::WaitlistEntry, booking_core::waitlist::JoinRefusal>,
    > {
        self.inner.join_waitlist(entry, max_per_number).await
    }
    async fn waitlist(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Vec<booking_core::waitlist::WaitlistEntry>> {
        self.inner.waitlist(tenant).await
    }
    async fn waitlist_fills(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<booking_core::waitlist::WaitlistEntry>> {
        self.inner.waitlist_fills(tenant, limit).await
    }
    async fn remove_from_waitlist(
        &self,
        tenant: TenantId,
        id: booking_core::WaitlistEntryId,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.inner.remove_from_waitlist(tenant, id, now).await
    }
    async fn freed_slots(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<booking_core::waitlist::OfferDue>> {
        self.inner.freed_slots(now, limit).await
    }
    async fn record_offer(
        &self,
        offer: &booking_core::waitlist::NewOffer,
        message: &NewMessage,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.inner.record_offer(offer, message, now).await
    }
    async fn offer_by_token(
        &self,
        hash: &booking_core::accounts::TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<booking_core::waitlist::OfferView>> {
        self.inner.offer_by_token(hash, now).await
    }
    async fn claim_offer(
        &self,
        tenant: TenantId,
        offer: booking_core::WaitlistOfferId,
        hold: BookingId,
        now: Timestamp,
        messages: &[NewMessage],
    ) -> StoreResult<Booking> {
        self.inner
            .claim_offer(tenant, offer, hold, now, messages)
            .await
    }
}
