//! Calls: their start, status, what the model captured, and the end-of-call report with its
//! score and alerts (stored once).

use async_trait::async_trait;
use booking_core::calls::{CallRecord, CallStart, CapturedLead, FinishOutcome, FinishedCall};
use booking_core::outbox::NewMessage;
use booking_core::ports::{CallStore, StoreError, StoreResult};
use booking_core::{CallId, PhoneNumber, TenantId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;
use uuid::Uuid;

use super::PgStore;
use super::outbox::{check_messages, enqueue_in};
use super::rows::CallRow;
use crate::convert::{i32_of, ts, ts_opt};
use crate::error::Fail;
use crate::schema::calls as c;

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

async fn lock_call(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    call: &CallId,
) -> Result<Option<CallRow>, Fail> {
    Ok(c::table
        .find((tenant, call.as_str()))
        .select(CallRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

#[async_trait]
impl CallStore for PgStore {
    async fn record_call_start(&self, call: &CallStart) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            let now = ts(call.started_at);
            diesel::insert_into(c::table)
                .values((
                    c::tenant_id.eq(call.tenant.as_uuid()),
                    c::call_id.eq(call.call_id.as_str()),
                    c::caller.eq(call.caller.as_ref().map(PhoneNumber::as_str)),
                    c::called.eq(call.called.as_ref().map(PhoneNumber::as_str)),
                    c::started_at.eq(now),
                    c::created_at.eq(now),
                    c::updated_at.eq(now),
                ))
                .on_conflict((c::tenant_id, c::call_id))
                .do_nothing()
                .execute(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn record_call_status(
        &self,
        tenant: TenantId,
        call: &CallId,
        status: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.conn().await?;
            let n = diesel::update(c::table.find((tenant.as_uuid(), call.as_str())))
                .set((
                    c::last_status.eq(status),
                    c::last_status_at.eq(ts(at)),
                    c::updated_at.eq(ts(at)),
                ))
                .execute(&mut conn)
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    async fn record_lead(
        &self,
        tenant: TenantId,
        call: &CallId,
        lead: &CapturedLead,
        at: Timestamp,
    ) -> StoreResult<()> {
        let t = *tenant.as_uuid();
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let row = lock_call(conn, t, call)
                    .await?
                    .ok_or(Fail::Store(StoreError::NotFound))?;
                let mut merged = row.lead();
                merge_lead(&mut merged, lead);
                diesel::update(c::table.find((t, call.as_str())))
                    .set((
                        c::lead_caller_name.eq(merged.caller_name),
                        c::lead_service_interest.eq(merged.service_interest),
                        c::lead_wants_callback.eq(merged.wants_callback),
                        c::lead_notes.eq(merged.notes),
                        c::updated_at.eq(ts(at)),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
        })
        .await
    }

    async fn call(&self, tenant: TenantId, call: &CallId) -> StoreResult<Option<CallRecord>> {
        let row = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(c::table
                    .find((tenant.as_uuid(), call.as_str()))
                    .select(CallRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()?)
            })
            .await?;
        row.map(CallRow::into_domain).transpose()
    }

    async fn prior_calls_from(
        &self,
        tenant: TenantId,
        phone: &PhoneNumber,
        before: Timestamp,
    ) -> StoreResult<u32> {
        let n: i64 = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(c::table
                    .filter(c::tenant_id.eq(tenant.as_uuid()))
                    .filter(c::caller.eq(phone.as_str()))
                    .filter(c::started_at.lt(ts(before)))
                    .count()
                    .get_result(&mut conn)
                    .await?)
            })
            .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn finish_call(
        &self,
        tenant: TenantId,
        call: &FinishedCall,
        messages: &[NewMessage],
    ) -> StoreResult<FinishOutcome> {
        check_messages(tenant, messages)?;
        let t = *tenant.as_uuid();
        let r = &call.report;
        let breakdown = serde_json::to_value(&call.score.reasons)
            .map_err(|e| StoreError::Internal(format!("could not encode the score: {e}")))?;
        let total = i32_of("score", call.score.total)?;
        let no_shows = (call.score.no_shows > 0)
            .then(|| i32_of("caller no-shows", call.score.no_shows))
            .transpose()?;
        let duration = r
            .duration_seconds()
            .map(|d| i32_of("duration", d))
            .transpose()?;
        self.run(async {
            let mut conn = self.conn().await?;
            conn.transaction::<_, Fail, _>(async |conn| {
                let received = ts(call.received_at);
                // The row may not exist yet (a report for a call whose start we missed); create
                // it empty first so that concurrent reports serialise on its lock.
                diesel::insert_into(c::table)
                    .values((
                        c::tenant_id.eq(t),
                        c::call_id.eq(r.call_id.as_str()),
                        c::created_at.eq(received),
                        c::updated_at.eq(received),
                    ))
                    .on_conflict((c::tenant_id, c::call_id))
                    .do_nothing()
                    .execute(conn)
                    .await?;
                let row = lock_call(conn, t, &r.call_id).await?.ok_or(Fail::Store(
                    StoreError::Internal("the call row vanished".into()),
                ))?;
                if row.report_received_at.is_some() {
                    return Ok(FinishOutcome::AlreadyRecorded);
                }
                // What the model captured during the call stays; the analysis fills the gaps.
                let mut lead = r.structured.clone();
                merge_lead(&mut lead, &row.lead());
                let caller = row
                    .caller
                    .clone()
                    .or_else(|| r.caller.as_ref().map(|p| p.as_str().to_owned()));
                // The report's start is the call's; a row made from an earlier message holds
                // that message's time. A called number the row lacks comes from the report.
                let started_at = ts_opt(r.started_at).or(row.started_at);
                let called = row
                    .called
                    .clone()
                    .or_else(|| r.called.as_ref().map(|p| p.as_str().to_owned()));
                diesel::update(c::table.find((t, r.call_id.as_str())))
                    .set((
                        c::caller.eq(caller),
                        c::called.eq(called),
                        c::started_at.eq(started_at),
                        c::ended_at.eq(ts_opt(r.ended_at)),
                        c::duration_seconds.eq(duration),
                        c::ended_reason.eq(&r.ended_reason),
                        c::summary.eq(&r.summary),
                        c::lead_caller_name.eq(lead.caller_name),
                        c::lead_service_interest.eq(lead.service_interest),
                        c::lead_wants_callback.eq(lead.wants_callback),
                        c::lead_notes.eq(lead.notes),
                        c::score.eq(total),
                        c::score_breakdown.eq(&breakdown),
                        c::caller_no_shows.eq(no_shows),
                        c::hot_lead.eq(call.hot_lead),
                        c::report_received_at.eq(received),
                        c::updated_at.eq(received),
                    ))
                    .execute(conn)
                    .await?;
                enqueue_in(conn, messages).await?;
                Ok(FinishOutcome::Recorded)
            })
            .await
        })
        .await
    }

    async fn list_calls(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<CallRecord>> {
        let rows: Vec<CallRow> = self
            .run(async {
                let mut conn = self.conn().await?;
                Ok(c::table
                    .filter(c::tenant_id.eq(tenant.as_uuid()))
                    .order((
                        c::started_at.desc().nulls_last(),
                        diesel::dsl::sql::<diesel::sql_types::Text>("call_id COLLATE \"C\"").asc(),
                    ))
                    .limit(i64::from(limit))
                    .select(CallRow::as_select())
                    .load(&mut conn)
                    .await?)
            })
            .await?;
        rows.into_iter().map(CallRow::into_domain).collect()
    }
}
