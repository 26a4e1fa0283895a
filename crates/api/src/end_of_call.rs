//! End-of-call reports: each is recorded (the call, its score, the owner's alerts when it is a
//! hot lead); one that arrives while the database is away is held (see [`crate::held_reports`])
//! and tried again by `record_held_reports` until the database takes it.

use std::time::Instant;

use booking_core::calls::CallReport;
use booking_core::ports::StoreError;
use booking_core::service::ServiceError;
use booking_vapi::MessageContext;

use crate::call_tenant::resolve_tenant;
use crate::state::AppState;

/// A report as it arrives: recorded, or, when the database is away, held for a later pass and
/// the error returned all the same (so that Vapi may send it again).
pub async fn report_arrived(
    state: &AppState,
    ctx: MessageContext,
    report: CallReport,
) -> Result<(), StoreError> {
    match record_report(state, &ctx, report.clone()).await {
        Ok(_) => Ok(()),
        Err(e @ StoreError::Unavailable(_)) => {
            hold_report(state, ctx, report);
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Records an end-of-call report: the call, its score, and the owner's alerts when it is a hot
/// lead. `Ok(None)` for a number no tenant has (ignored). Recording the same call again
/// changes nothing.
async fn record_report(
    state: &AppState,
    ctx: &MessageContext,
    report: CallReport,
) -> Result<Option<&'static str>, StoreError> {
    let Some(tenant) = resolve_tenant(state, ctx).await? else {
        tracing::warn!("end-of-call report for a number no tenant has; ignored");
        return Ok(None);
    };
    let outcome = state
        .service
        .end_of_call(&tenant, report)
        .await
        .map_err(|e| match e {
            ServiceError::Unavailable(m) => StoreError::Unavailable(m),
            ServiceError::Internal(m) => StoreError::Internal(m),
        })?;
    let result = if !outcome.recorded {
        "repeated"
    } else if outcome.hot_lead {
        "hot_lead"
    } else {
        "recorded"
    };
    state
        .metrics
        .inc("end_of_call_reports_total", &[("outcome", result)]);
    tracing::info!(outcome = result, "end-of-call report");
    state.wake_worker();
    Ok(Some(result))
}

fn hold_report(state: &AppState, ctx: MessageContext, report: CallReport) {
    let call = report.call_id.clone();
    if let Some(dropped) = state.held_reports.hold(ctx, report, Instant::now()) {
        tracing::error!(
            call_id = %dropped.report.call_id,
            "too many end-of-call reports waiting for the database; the oldest was dropped"
        );
    }
    state
        .metrics
        .inc("end_of_call_reports_total", &[("outcome", "held")]);
    state.metrics.set(
        "end_of_call_reports_held",
        &[],
        state.held_reports.len() as f64,
    );
    tracing::warn!(call_id = %call, "end-of-call report held until the database is back");
}

/// One pass over the held end-of-call reports: each is recorded, or kept while the database
/// is still away, or given up (too old, or too many waiting).
pub(crate) async fn record_held_reports(state: &AppState) {
    let mut pending = state.held_reports.take_all().into_iter();
    let mut waiting = Vec::new();
    for held in pending.by_ref() {
        match record_report(state, &held.ctx, held.report.clone()).await {
            Ok(_) => {
                tracing::info!(
                    call_id = %held.report.call_id,
                    waited_ms = held.since.elapsed().as_millis() as u64,
                    "held end-of-call report recorded"
                );
            }
            Err(StoreError::Unavailable(_)) => {
                // Still away: the rest wait for the next pass.
                waiting.push(held);
                break;
            }
            Err(e) => {
                tracing::error!(call_id = %held.report.call_id, error = %e, "a held end-of-call report could not be recorded; dropped");
            }
        }
    }
    waiting.extend(pending);
    for lost in state.held_reports.put_back(waiting, Instant::now()) {
        tracing::error!(
            call_id = %lost.report.call_id,
            "an end-of-call report was given up (waited too long, or too many waiting); its alert is lost"
        );
    }
    state.metrics.set(
        "end_of_call_reports_held",
        &[],
        state.held_reports.len() as f64,
    );
}
