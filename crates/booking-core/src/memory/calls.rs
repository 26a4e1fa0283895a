//! Calls and their reports: [`CallStore`] in memory.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::calls::{CallRecord, CallStart, CapturedLead, FinishOutcome, FinishedCall};
use crate::ids::{CallId, TenantId};
use crate::memory::MemoryStore;
use crate::outbox::NewMessage;
use crate::phone::PhoneNumber;
use crate::ports::{CallStore, StoreError, StoreResult};

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
