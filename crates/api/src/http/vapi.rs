//! Vapi's server messages: `POST /vapi/webhook` (every type) and `POST /vapi/tools/{name}`.
//!
//! The HTTP side only: authentication, parsing, and the answer. The clinic is the one the call
//! reached ([`crate::call_tenant`]); each tool call runs in [`crate::tool_calls`] (answered 200
//! with one one-line result per call, in order; a replayed tool call id gets the stored answer
//! and has no second effect); reports are recorded or held in [`crate::end_of_call`].

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::calls::CallStart;
use booking_core::tenant::Tenant;
use booking_vapi::{
    AssistantOptions, MessageContext, ServerMessage, ToolOutcome, ToolReplies, acknowledged,
    compose_assistant, parse_server_message, unknown_number_error,
};
use serde_json::json;

use crate::auth::verify_vapi;
use crate::call_tenant::resolve_tenant;
use crate::end_of_call;
use crate::error::ApiError;
use crate::limits::VAPI_BODY_LIMIT;
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
            // Answered 503 when it was held, so that Vapi may send it again.
            end_of_call::report_arrived(state, ctx, report).await?;
            Ok(HttpResponse::Ok().json(acknowledged()))
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

async fn record_start(state: &AppState, tenant: &Tenant, ctx: &MessageContext) {
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

async fn assistant_request(
    state: &AppState,
    ctx: &MessageContext,
) -> Result<HttpResponse, ApiError> {
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
