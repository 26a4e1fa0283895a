//! Vapi's server messages: `POST /vapi/webhook` (every type) and `POST /vapi/tools/{name}`.
//!
//! The tenant is always the one the call reached (phone-number id, else the called number, else
//! the saved assistant for a call without a number), never one named in a tool argument. Tool calls are answered 200 with one one-line result per call, in
//! order; a replayed tool call id gets the stored answer and has no second effect.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::calls::{CallReport, CallStart};
use booking_core::ports::StoreError;
use booking_core::service::ServiceError;
use booking_core::tenant::Tenant;
use booking_vapi::{
    AssistantOptions, CallContext as VapiContext, ServerMessage, ToolOutcome, ToolReplies,
    acknowledged, compose_assistant, parse_server_message, unknown_number_error,
};
use serde_json::json;

use crate::auth::verify_vapi;
use crate::error::ApiError;
use crate::server::VAPI_BODY_LIMIT;
use crate::state::AppState;
use crate::tool_calls::{may_queue_texts, run_tool_call};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/vapi/webhook")
            .app_data(web::PayloadConfig::new(VAPI_BODY_LIMIT))
            .route(web::post().to(webhook)),
    )
    .service(
        web::resource("/vapi/tools/{name}")
            .app_data(web::PayloadConfig::new(VAPI_BODY_LIMIT))
            .route(web::post().to(tool_endpoint)),
    );
}

/// Said for each tool call past the limit of one message (`booking_vapi::MAX_TOOL_CALLS`).
const TOO_MANY_CALLS: &str =
    "Too many tool calls at once; this one was not run. Call it again on its own.";
fn authenticate(req: &HttpRequest, state: &AppState, body: &[u8]) -> Result<(), ApiError> {
    let headers = req.headers();
    let now = jiff::Timestamp::now().as_second();
    verify_vapi(
        &state.config.vapi_auth,
        |name| headers.get(name).and_then(|v| v.to_str().ok()),
        body,
        now,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "refused a Vapi request");
        ApiError::Unauthorized
    })
}

async fn webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authenticate(&req, &state, &body)?;
    let message = parse_server_message(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    handle(&state, message, None).await
}

async fn tool_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authenticate(&req, &state, &body)?;
    let message = parse_server_message(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    match message {
        ServerMessage::ToolCalls(_) => handle(&state, message, Some(path.as_str())).await,
        other => Err(ApiError::BadRequest(format!(
            "this URL takes tool-calls messages, not {:?}; send other messages to /vapi/webhook",
            other.kind()
        ))),
    }
}

async fn handle(
    state: &AppState,
    message: ServerMessage,
    path_tool: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let ctx = message.context().clone();
    if let Some(call) = &ctx.call_id {
        tracing::Span::current().record("call_id", call.as_str());
    }
    match message {
        ServerMessage::AssistantRequest(_) => assistant_request(state, &ctx).await,
        ServerMessage::ToolCalls(m) => {
            if m.skipped > 0 {
                tracing::warn!(
                    skipped = m.skipped,
                    "tool calls without a usable id were skipped"
                );
            }
            let tenant = resolve_tenant(state, &ctx).await;
            let mut replies = ToolReplies::new();
            let mut may_have_queued = false;
            for call in &m.calls {
                let name = if call.name.is_empty() {
                    path_tool.unwrap_or("")
                } else {
                    call.name.as_str()
                };
                let outcome = run_tool_call(state, &ctx, &tenant, call, name).await;
                replies.push(call.id.clone(), name, outcome);
                may_have_queued |= may_queue_texts(name);
            }
            if !m.over_limit.is_empty() {
                tracing::warn!(
                    refused = m.over_limit.len(),
                    "tool calls past the limit of one message were answered without being run"
                );
            }
            for call in &m.over_limit {
                let name = if call.name.is_empty() {
                    path_tool.unwrap_or("")
                } else {
                    call.name.as_str()
                };
                replies.push(call.id.clone(), name, ToolOutcome::error(TOO_MANY_CALLS));
            }
            if may_have_queued {
                state.wake_worker();
            }
            Ok(HttpResponse::Ok().json(replies.to_value()))
        }
        ServerMessage::EndOfCallReport(report) => {
            let report = match report.to_call_report() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "unusable end-of-call report; ignored");
                    return Ok(HttpResponse::Ok().json(json!({"error": e.to_string()})));
                }
            };
            match record_report(state, &ctx, report.clone()).await {
                Ok(_) => Ok(HttpResponse::Ok().json(acknowledged())),
                Err(e @ StoreError::Unavailable(_)) => {
                    // Answered 503 all the same, so that Vapi may send it again.
                    hold_report(state, ctx, report);
                    Err(e.into())
                }
                Err(e) => Err(e.into()),
            }
        }
        ServerMessage::StatusUpdate(update) => {
            if let (Ok(Some(tenant)), Some(call), Some(status)) = (
                resolve_tenant(state, &ctx).await,
                &ctx.call_id,
                &update.status,
            ) {
                record_start(state, &tenant, &ctx).await;
                if let Err(e) = state
                    .service
                    .record_call_status(&tenant, call, status)
                    .await
                {
                    tracing::warn!(error = %e, "recording a call status failed");
                }
            }
            Ok(HttpResponse::Ok().json(acknowledged()))
        }
        ServerMessage::Other(_) => Ok(HttpResponse::Ok().json(acknowledged())),
    }
}

/// Records an end-of-call report: the call, its score, and the owner's alerts when it is a hot
/// lead. `Ok(None)` for a number no tenant has (ignored). Recording the same call again
/// changes nothing.
async fn record_report(
    state: &AppState,
    ctx: &VapiContext,
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

fn hold_report(state: &AppState, ctx: VapiContext, report: CallReport) {
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

/// The tenant of the number the call reached (kept for a moment by the store, see
/// [`crate::cached_tenants`]).
///
/// The clinic is the one of the phone-number id (`call.phoneNumberId`), else of the called
/// number, else of the saved assistant (`call.assistantId`, for a call without a number). Every
/// one of these the message carries must agree: a phone-number id whose clinic does not own the
/// called number, or an assistant registered by another clinic than the number's, is refused
/// (`None`, as for an unknown number) and logged as an error.
async fn resolve_tenant(state: &AppState, ctx: &VapiContext) -> Result<Option<Tenant>, StoreError> {
    let mut found = None;
    if let Some(id) = &ctx.phone_number_id
        && let Some(t) = lookup(state, Lookup::PhoneNumberId(id)).await?
    {
        if let Some(called) = &ctx.called
            && !t.config.called_numbers.iter().any(|c| &c.number == called)
        {
            let owner = lookup(state, Lookup::Called(called)).await?;
            refuse_mismatch(state, ctx, "phone-number id", &t, owner.as_ref());
            return Ok(None);
        }
        found = Some(t);
    }
    if found.is_none()
        && let Some(called) = &ctx.called
    {
        found = lookup(state, Lookup::Called(called)).await?;
    }
    if let Some(assistant) = &ctx.assistant_id
        && !found
            .as_ref()
            .is_some_and(|t| t.config.vapi_assistant_ids.contains(assistant))
    {
        let by_assistant = lookup(state, Lookup::AssistantId(assistant)).await?;
        match (&found, by_assistant) {
            (None, by_assistant) => found = by_assistant,
            (Some(t), Some(other)) if other.id != t.id => {
                refuse_mismatch(state, ctx, "assistant id", t, Some(&other));
                return Ok(None);
            }
            _ => {}
        }
    }
    Ok(found)
}

/// One way to find a clinic from a message.
enum Lookup<'a> {
    PhoneNumberId(&'a booking_core::VapiPhoneNumberId),
    Called(&'a booking_core::PhoneNumber),
    AssistantId(&'a booking_core::VapiAssistantId),
}

async fn lookup(state: &AppState, by: Lookup<'_>) -> Result<Option<Tenant>, StoreError> {
    match by {
        Lookup::PhoneNumberId(id) => state.store.tenant_by_vapi_phone_number_id(id).await,
        Lookup::Called(n) => state.store.tenant_by_called_number(n).await,
        Lookup::AssistantId(id) => state.store.tenant_by_vapi_assistant_id(id).await,
    }
}

/// Logs a call whose identifiers name different clinics (or a phone-number id on a number its
/// clinic does not own): someone registered an id that is not theirs, or Vapi is misconfigured.
fn refuse_mismatch(
    state: &AppState,
    ctx: &VapiContext,
    what: &'static str,
    claimed_by: &Tenant,
    owner: Option<&Tenant>,
) {
    state
        .metrics
        .inc("vapi_tenant_mismatch_total", &[("by", what)]);
    tracing::error!(
        by = what,
        called = ?ctx.called,
        phone_number_id = ctx.phone_number_id.as_ref().map(|i| i.as_str()),
        assistant_id = ctx.assistant_id.as_ref().map(|i| i.as_str()),
        claimed_by = %claimed_by.id,
        number_owner = ?owner.map(|t| t.id),
        "refused a call: its {what} and its called number name different clinics"
    );
}

async fn record_start(state: &AppState, tenant: &Tenant, ctx: &VapiContext) {
    let Some(call_id) = ctx.call_id.clone() else {
        return;
    };
    let start = CallStart {
        call_id,
        tenant: tenant.id,
        caller: ctx.caller.clone(),
        called: ctx.called.clone(),
        started_at: ctx.timestamp.unwrap_or_else(|| state.clock.now()),
    };
    if let Err(e) = state.service.record_call_start(&start).await {
        tracing::warn!(error = %e, "recording a call start failed");
    }
}

async fn assistant_request(state: &AppState, ctx: &VapiContext) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    // Once per call: the call starts from the clinic's current settings, and is refused when
    // the database cannot answer.
    state.tenant_cache.forget_call(
        ctx.phone_number_id.as_ref(),
        ctx.called.as_ref(),
        ctx.assistant_id.as_ref(),
    );
    let tenant = match resolve_tenant(state, ctx).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            state
                .metrics
                .inc("assistant_requests_total", &[("outcome", "unknown_number")]);
            tracing::warn!("assistant-request for a number no tenant has");
            return Ok(HttpResponse::Ok().json(unknown_number_error()));
        }
        Err(e) => {
            state
                .metrics
                .inc("assistant_requests_total", &[("outcome", "error")]);
            tracing::error!(error = %e, "assistant-request: tenant lookup failed");
            return Ok(HttpResponse::Ok().json(booking_vapi::assistant_error(
                "Sorry, we cannot take your call right now. Please call back in a few minutes.",
            )));
        }
    };
    record_start(state, &tenant, ctx).await;
    let today = tenant
        .config
        .zone
        .tz()
        .to_datetime(state.clock.now())
        .date();
    let options = AssistantOptions {
        tool_timeout_seconds: state.config.tool_timeout_seconds,
        server_auth: state.config.vapi_server_auth.clone(),
        ..AssistantOptions::default()
    };
    let url = format!("{}/vapi/webhook", state.config.public_base_url);
    let body = compose_assistant(&tenant, today, &url, &options);
    state
        .metrics
        .inc("assistant_requests_total", &[("outcome", "ok")]);
    state
        .metrics
        .observe("assistant_request_seconds", &[], started.elapsed());
    Ok(HttpResponse::Ok().json(body))
}
