//! An in-memory implementation of every store port, behind one mutex: each method holds the lock
//! for its whole body, so each is one unit of work exactly as the contracts in [`crate::ports`]
//! say. It is the reference the behavioural suite ([`crate::testing`]) is written against, and what
//! the service's tests (here and in other crates) run on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;

use crate::booking::{Booking, BookingLimit, BookingStatus, Interval};
use crate::calls::CallRecord;
use crate::ids::{BookingId, CalendarId, CallId, TenantId};
use crate::otp::Challenge;
use crate::outbox::{DedupeKey, MessageStatus, NewMessage, OutboundMessage, StatusApplied};
use crate::phone::PhoneNumber;
use crate::ports::{InboundPurpose, StoreError, StoreResult, ToolCallKey};
use crate::tenant::{SmsAccount, SmsSender, Tenant, TenantConfig};

mod attendance;
mod bookings;
mod calendars;
mod calls;
mod contacts;
mod feeds;
mod otp;
mod outbox;
mod patient_links;
mod reports;
mod tenants;
mod test_texts;
mod tool_calls;
mod waitlist;

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
    /// The dashboard's test texts per clinic: when each was admitted.
    test_texts: HashMap<TenantId, Vec<Timestamp>>,
    /// Attended and no-show marks by booking.
    attendance: HashMap<(TenantId, BookingId), crate::attendance::Attendance>,
    /// Outside calendars: links, busy time, sync state, write queue.
    calendars: calendars::Calendars,
    /// Calendar feeds and the hash of each one's secret.
    feeds: Vec<(crate::feeds::Feed, crate::accounts::TokenHash)>,
    /// Patients' links: (link, revoked at) by hash.
    patient_links: HashMap<[u8; 32], (crate::patient_link::NewPatientLink, Option<Timestamp>)>,
    /// Link action counts: window start and count.
    link_actions: HashMap<String, (Timestamp, u32)>,
    /// Waitlist entries (in join order) and offers.
    waitlist: waitlist::Waitlist,
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

    /// Whether one more booking on the calendar would pass one of `limits`: the occupying
    /// bookings at `now` starting in its window (except those in `except`) already reach its max.
    fn over_limit(
        &self,
        tenant: TenantId,
        calendar: CalendarId,
        limits: &[BookingLimit],
        now: Timestamp,
        except: &[BookingId],
    ) -> bool {
        limits.iter().any(|l| {
            let n = self
                .bookings
                .iter()
                .filter(|b| {
                    b.tenant == tenant
                        && b.calendar == calendar
                        && b.occupies_at(now)
                        && l.window.contains(b.slot.start)
                        && !except.contains(&b.id)
                })
                .count();
            n >= l.max as usize
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
