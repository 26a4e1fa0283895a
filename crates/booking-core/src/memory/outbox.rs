//! The outbox: [`OutboxStore`] in memory.

use std::collections::HashSet;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ids::{MessageId, TenantId};
use crate::memory::{Claim, MemoryStore};
use crate::outbox::{
    ClaimedMessage, DedupeKey, DeliveryUpdate, MessageKind, MessageStatus, NewMessage,
    OutboundMessage, StatusApplied,
};
use crate::ports::{OutboxStore, StoreResult};
use crate::tenant::SmsHealth;

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

    async fn last_message_to(
        &self,
        tenant: TenantId,
        to: &crate::phone::PhoneNumber,
        kind: MessageKind,
        key_prefix: &str,
        since: Timestamp,
    ) -> StoreResult<Option<OutboundMessage>> {
        Ok(self
            .lock()
            .messages
            .iter()
            .rev()
            .find(|r| {
                let m = &r.message;
                m.tenant == tenant
                    && &m.to == to
                    && m.kind == kind
                    && m.dedupe_key.as_str().starts_with(key_prefix)
                    && m.created_at >= since
            })
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
