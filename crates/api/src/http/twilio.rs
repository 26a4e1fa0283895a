//! Twilio's webhooks: delivery status callbacks and inbound texts. Both are signed with the
//! tenant's auth token; an unsigned or wrongly signed request is refused.

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::service::InboundText;
use booking_core::tenant::{SmsAccount, Tenant};
use booking_twilio::{MessageWebhook, SIGNATURE_HEADER, validate_request};

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/twilio/status", web::post().to(status_callback))
        .route("/twilio/inbound", web::post().to(inbound));
}

/// The URL Twilio signed: our public base URL, the path and the query as received.
fn signed_url(req: &HttpRequest, state: &AppState) -> String {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(req.path());
    format!("{}{}", state.config.public_base_url, pq)
}

/// Whether the request is signed with `auth_token`.
fn signed_by(req: &HttpRequest, state: &AppState, body: &[u8], auth_token: &str) -> bool {
    let Some(sig) = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    validate_request(auth_token, &signed_url(req, state), body, sig).is_ok()
}

async fn status_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let hook = MessageWebhook::from_form(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let tenants = state
        .store
        .tenants_by_account_sid(&hook.account_sid)
        .await?;
    let mut verified = None;
    for id in tenants {
        if let Some(acct) = state.store.sms_account(id).await?
            && signed_by(&req, &state, &body, acct.auth_token.expose())
        {
            verified = Some(id);
            break;
        }
    }
    let Some(tenant) = verified else {
        tracing::warn!("status callback with no valid signature for a known account; refused");
        return Err(ApiError::Unauthorized);
    };
    let Some(status) = hook.status else {
        tracing::info!(raw = ?hook.raw_status, "status callback with a status we do not track");
        return Ok(HttpResponse::Ok().finish());
    };
    let applied = state
        .store
        .apply_status(
            tenant,
            hook.message_sid.as_str(),
            status,
            hook.error_code,
            state.clock.now(),
        )
        .await?;
    tracing::info!(status = status.as_str(), ?applied, "status callback");
    Ok(HttpResponse::Ok().finish())
}

/// The tenant whose number received the text (`To`: its sender number or one of its Messaging
/// Service's numbers, else the `MessagingServiceSid`), with its account, if the text came from
/// that tenant's Twilio account (`AccountSid`) and its signature checks out.
async fn inbound_tenant(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
    hook: &MessageWebhook,
) -> Result<Option<(Tenant, SmsAccount)>, ApiError> {
    let by_number = match &hook.to {
        Some(to) => state.store.tenant_by_sms_number(to).await?,
        None => None,
    };
    let tenant = match (by_number, &hook.messaging_service_sid) {
        (Some(t), _) => t,
        (None, Some(ms)) => match state.store.tenant_by_messaging_service(ms).await? {
            Some(t) => t,
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let Some(acct) = state.store.sms_account(tenant.id).await? else {
        return Ok(None);
    };
    if acct.account_sid != hook.account_sid
        || !signed_by(req, state, body, acct.auth_token.expose())
    {
        return Ok(None);
    }
    Ok(Some((tenant, acct)))
}

async fn inbound(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let hook = MessageWebhook::from_form(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Some((tenant, account)) = inbound_tenant(&req, &state, &body, &hook).await? else {
        tracing::warn!("inbound text without a valid signature for a known number; refused");
        return Err(ApiError::Unauthorized);
    };
    let Some(from) = &hook.from else {
        return Err(ApiError::BadRequest(
            "From is missing or not a phone number".into(),
        ));
    };
    let text = hook.body.as_deref().unwrap_or("");
    let outcome = state
        .service
        .handle_inbound_sms(
            &tenant,
            &InboundText {
                from,
                body: text,
                sid: hook.message_sid.as_str(),
                twilio_keyword: hook.opt_out_type,
                keyword_replies: account.keyword_replies,
            },
        )
        .await
        .map_err(|e| match e {
            booking_core::service::ServiceError::Unavailable(m) => {
                ApiError::from(booking_core::ports::StoreError::Unavailable(m))
            }
            booking_core::service::ServiceError::Internal(m) => {
                ApiError::from(booking_core::ports::StoreError::Internal(m))
            }
        })?;
    tracing::info!(?outcome, "inbound text");
    state.wake_worker();
    // Replies go out through the outbox (so they are logged and retried); answer Twilio with an
    // empty TwiML document so it sends nothing itself.
    Ok(HttpResponse::Ok()
        .content_type("text/xml")
        .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"))
}
