//! Rows as diesel reads them, and their way back into the domain.

use booking_core::booking::{Booking, BookingStatus, Interval};
use booking_core::calls::{CallRecord, CapturedLead, LeadScore, ScoreReason};
use booking_core::otp::{Challenge, CodeHash};
use booking_core::outbox::{
    ClaimedMessage, DedupeKey, MessageKind, MessageStatus, OutboundMessage,
};
use booking_core::ports::StoreError;
use booking_core::tenant::ServiceName;
use booking_core::{
    BookingId, CalendarId, CallId, ChallengeId, MessageId, MessageSid, PhoneNumber, TenantId,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::convert::{corrupt, from_ts, from_ts_opt, u32_of};
use crate::schema::{bookings, calls, otp_challenges, outbound_messages};

type Ts = DateTime<Utc>;

pub(super) fn phone(what: &str, s: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::parse(s).map_err(|e| corrupt(what, e))
}

pub(super) fn call_id(s: Option<String>) -> Result<Option<CallId>, StoreError> {
    s.map(|s| CallId::parse(&s).map_err(|e| corrupt("call id", e)))
        .transpose()
}

fn interval(what: &str, start: Ts, end: Ts) -> Result<Interval, StoreError> {
    Interval::new(from_ts(start)?, from_ts(end)?).ok_or_else(|| corrupt(what, "is empty"))
}

#[derive(Queryable, Selectable, QueryableByName, Clone, Debug)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
pub(super) struct BookingRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub status: String,
    pub service: String,
    pub starts_at: Ts,
    pub ends_at: Ts,
    pub blocked_from: Ts,
    pub blocked_until: Ts,
    pub caller_name: String,
    pub caller_phone: String,
    pub call_id: Option<String>,
    pub created_at: Ts,
    pub hold_expires_at: Option<Ts>,
    pub confirmed_at: Option<Ts>,
    pub cancelled_at: Option<Ts>,
    pub rescheduled_from: Option<Uuid>,
}

impl BookingRow {
    pub(super) fn status(&self) -> Result<BookingStatus, StoreError> {
        BookingStatus::parse(&self.status).ok_or_else(|| corrupt("booking status", &self.status))
    }

    pub(super) fn into_domain(self) -> Result<Booking, StoreError> {
        Ok(Booking {
            id: BookingId::from_uuid(self.id),
            tenant: TenantId::from_uuid(self.tenant_id),
            calendar: CalendarId::from_uuid(self.calendar_id),
            status: self.status()?,
            service: ServiceName::parse(&self.service).map_err(|e| corrupt("service", e))?,
            slot: interval("slot", self.starts_at, self.ends_at)?,
            blocked: interval("blocked time", self.blocked_from, self.blocked_until)?,
            caller_name: self.caller_name,
            caller_phone: phone("caller phone", &self.caller_phone)?,
            call_id: call_id(self.call_id)?,
            created_at: from_ts(self.created_at)?,
            hold_expires_at: from_ts_opt(self.hold_expires_at)?,
            confirmed_at: from_ts_opt(self.confirmed_at)?,
            cancelled_at: from_ts_opt(self.cancelled_at)?,
            rescheduled_from: self.rescheduled_from.map(BookingId::from_uuid),
        })
    }
}

#[derive(Queryable, Selectable, QueryableByName, Debug)]
#[diesel(table_name = otp_challenges, check_for_backend(diesel::pg::Pg))]
pub(super) struct ChallengeRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub booking_id: Uuid,
    pub call_id: Option<String>,
    pub phone: String,
    pub code_hash: Vec<u8>,
    pub created_at: Ts,
    pub expires_at: Ts,
    pub failed_checks: i32,
    pub consumed_at: Option<Ts>,
    pub superseded_at: Option<Ts>,
}

impl ChallengeRow {
    pub(super) fn into_domain(self) -> Result<Challenge, StoreError> {
        let hash: [u8; 32] = self
            .code_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("code hash", "is not 32 bytes"))?;
        Ok(Challenge {
            id: ChallengeId::from_uuid(self.id),
            tenant: TenantId::from_uuid(self.tenant_id),
            booking: BookingId::from_uuid(self.booking_id),
            call_id: call_id(self.call_id)?,
            phone: phone("challenge phone", &self.phone)?,
            code_hash: CodeHash(hash),
            created_at: from_ts(self.created_at)?,
            expires_at: from_ts(self.expires_at)?,
            failed_checks: u32_of("failed checks", self.failed_checks)?,
            consumed_at: from_ts_opt(self.consumed_at)?,
            superseded_at: from_ts_opt(self.superseded_at)?,
        })
    }
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = calls, check_for_backend(diesel::pg::Pg))]
pub(super) struct CallRow {
    pub tenant_id: Uuid,
    pub call_id: String,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub started_at: Option<Ts>,
    pub ended_at: Option<Ts>,
    pub duration_seconds: Option<i32>,
    pub ended_reason: Option<String>,
    pub summary: Option<String>,
    pub last_status: Option<String>,
    pub lead_caller_name: Option<String>,
    pub lead_service_interest: Option<String>,
    pub lead_wants_callback: Option<bool>,
    pub lead_notes: Option<String>,
    pub score: Option<i32>,
    pub score_breakdown: Option<serde_json::Value>,
    pub caller_no_shows: Option<i32>,
    pub hot_lead: bool,
    pub report_received_at: Option<Ts>,
}

impl CallRow {
    pub(super) fn lead(&self) -> CapturedLead {
        CapturedLead {
            caller_name: self.lead_caller_name.clone(),
            service_interest: self.lead_service_interest.clone(),
            wants_callback: self.lead_wants_callback,
            notes: self.lead_notes.clone(),
        }
    }

    pub(super) fn into_domain(self) -> Result<CallRecord, StoreError> {
        let lead = self.lead();
        let score = match self.score {
            None => None,
            Some(total) => {
                let reasons: Vec<ScoreReason> = match self.score_breakdown {
                    Some(v) => {
                        serde_json::from_value(v).map_err(|e| corrupt("score breakdown", e))?
                    }
                    None => Vec::new(),
                };
                Some(LeadScore {
                    total: u32_of("score", total)?,
                    reasons,
                    no_shows: self
                        .caller_no_shows
                        .map(|n| u32_of("caller no-shows", n))
                        .transpose()?
                        .unwrap_or(0),
                })
            }
        };
        Ok(CallRecord {
            call_id: CallId::parse(&self.call_id).map_err(|e| corrupt("call id", e))?,
            tenant: TenantId::from_uuid(self.tenant_id),
            caller: self
                .caller
                .as_deref()
                .map(|p| phone("caller", p))
                .transpose()?,
            called: self
                .called
                .as_deref()
                .map(|p| phone("called number", p))
                .transpose()?,
            started_at: from_ts_opt(self.started_at)?,
            ended_at: from_ts_opt(self.ended_at)?,
            duration_seconds: self
                .duration_seconds
                .map(|d| u32_of("duration", d))
                .transpose()?,
            ended_reason: self.ended_reason,
            summary: self.summary,
            last_status: self.last_status,
            lead,
            score,
            hot_lead: self.hot_lead,
            report_received_at: from_ts_opt(self.report_received_at)?,
        })
    }
}

#[derive(Queryable, Selectable, QueryableByName, Debug)]
#[diesel(table_name = outbound_messages, check_for_backend(diesel::pg::Pg))]
pub(super) struct MessageRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub seq: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub to_number: String,
    pub body: String,
    pub status: String,
    pub due_at: Ts,
    pub booking_id: Option<Uuid>,
    pub call_id: Option<String>,
    pub twilio_sid: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub claim_token: Option<Uuid>,
    pub lease_until: Option<Ts>,
    pub needs_reconcile: bool,
    pub first_attempt_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

pub(super) fn message_status(s: &str) -> Result<MessageStatus, StoreError> {
    MessageStatus::parse(s).ok_or_else(|| corrupt("message status", s))
}

impl MessageRow {
    pub(super) fn into_domain(self) -> Result<OutboundMessage, StoreError> {
        Ok(OutboundMessage {
            id: MessageId::from_uuid(self.id),
            tenant: TenantId::from_uuid(self.tenant_id),
            kind: MessageKind::parse(&self.kind)
                .ok_or_else(|| corrupt("message kind", &self.kind))?,
            dedupe_key: DedupeKey::from_stored(self.dedupe_key),
            to: phone("message recipient", &self.to_number)?,
            body: self.body,
            status: message_status(&self.status)?,
            due_at: from_ts(self.due_at)?,
            booking: self.booking_id.map(BookingId::from_uuid),
            call_id: call_id(self.call_id)?,
            twilio_sid: self
                .twilio_sid
                .map(|s| MessageSid::parse(&s).map_err(|e| corrupt("message sid", e)))
                .transpose()?,
            error_code: self
                .error_code
                .map(|c| u32_of("error code", c))
                .transpose()?,
            error_message: self.error_message,
            attempts: u32_of("attempts", self.attempts)?,
            created_at: from_ts(self.created_at)?,
            updated_at: from_ts(self.updated_at)?,
            first_attempt_at: from_ts_opt(self.first_attempt_at)?,
        })
    }

    pub(super) fn into_claim(self) -> Result<ClaimedMessage, StoreError> {
        let claim_token = self
            .claim_token
            .ok_or_else(|| corrupt("claim", "has no token"))?;
        let lease_until = from_ts(
            self.lease_until
                .ok_or_else(|| corrupt("claim", "has no lease"))?,
        )?;
        let needs_reconcile = self.needs_reconcile;
        Ok(ClaimedMessage {
            message: self.into_domain()?,
            claim_token,
            lease_until,
            needs_reconcile,
        })
    }
}
