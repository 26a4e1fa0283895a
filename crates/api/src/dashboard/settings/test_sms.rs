//! The test text an owner sends to check the clinic's Twilio account.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::PhoneNumber;
use booking_core::messages::test_text;
use booking_core::ports::{SendOutcome, SmsRequest};
use serde::Deserialize;

use super::pages::render;
use crate::dashboard::html::notice;
use crate::dashboard::respond::{DashError, html_response};
use crate::dashboard::send_limit::{TEST_SMS_LIMIT, TEST_SMS_WINDOW};
use crate::dashboard::session::signed_in_post;
use crate::dashboard::twilio_errors::explain_error;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct TestSmsForm {
    csrf: Option<String>,
    #[serde(default)]
    to: String,
}

/// What Twilio answered, in words.
pub(super) fn describe(outcome: &SendOutcome) -> (bool, String) {
    match outcome {
        SendOutcome::Accepted { sid, status } => (
            true,
            format!(
                "Twilio accepted the test text (message {sid}, status {}). It should arrive within a minute.",
                status.as_str()
            ),
        ),
        SendOutcome::RetrySafe { code, message, .. } => (
            false,
            format!(
                "Twilio could not take it right now{}: {message}. Nothing was sent; try again in a minute.",
                code.map(|c| format!(" (error {c})")).unwrap_or_default()
            ),
        ),
        SendOutcome::Ambiguous { message } => (
            false,
            format!(
                "Twilio gave no clear answer ({message}); the text may or may not have gone. Check Twilio's message log before trying again."
            ),
        ),
        SendOutcome::Permanent { code, message } => (
            false,
            match code {
                Some(c) => format!(
                    "Twilio refused it: {} Twilio said: {message}",
                    explain_error(*c)
                ),
                None => format!("Twilio refused it: {message}"),
            },
        ),
    }
}

/// What the test-SMS button says when the clinic has used up its test texts for now.
pub(super) fn too_many_test_texts() -> String {
    format!(
        "You have sent {TEST_SMS_LIMIT} test texts in the last {} minutes; wait a few minutes and try again.",
        TEST_SMS_WINDOW.as_mins()
    )
}

/// Sends the test text, at most [`TEST_SMS_LIMIT`] per clinic per [`TEST_SMS_WINDOW`] (counted
/// per api instance, see `send_limit`); beyond that the gateway is not called and the answer is
/// 429. As for Twilio's own refusals, an htmx request gets its answer with 200 so that htmx
/// shows it in the box under the button.
pub async fn test_sms(
    req: HttpRequest,
    state: web::Data<AppState>,
    form_data: web::Form<TestSmsForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form_data.csrf.as_deref()).await?;
    let mut retry_after = None;
    let (ok, text) = match (
        PhoneNumber::parse(&form_data.to),
        state.store.sms_account(ctx.tenant.id).await?,
    ) {
        (Err(e), _) => (false, e.to_string()),
        (_, None) => (false, "Enter the clinic's Twilio account first.".to_owned()),
        (Ok(to), Some(account)) => {
            match crate::dashboard::send_limit::test_sms()
                .try_take(ctx.tenant.id, state.clock.now())
            {
                Err(wait) => {
                    tracing::warn!(tenant = %ctx.tenant.id, "test text refused: too many in the window");
                    retry_after = Some(wait);
                    (false, too_many_test_texts())
                }
                Ok(()) => {
                    let request = SmsRequest {
                        to,
                        body: test_text(&ctx.tenant.config.name),
                    };
                    let outcome = state.gateway.send(&account, &request).await;
                    tracing::info!(tenant = %ctx.tenant.id, accepted = matches!(outcome, SendOutcome::Accepted { .. }), "test text sent from the dashboard");
                    describe(&outcome)
                }
            }
        }
    };
    let result = notice(if ok { "ok" } else { "error" }, &text);
    if req.headers().contains_key("hx-request") {
        return Ok(html_response(StatusCode::OK, result));
    }
    let status = match (ok, retry_after) {
        (true, _) => StatusCode::OK,
        (false, Some(_)) => StatusCode::TOO_MANY_REQUESTS,
        (false, None) => StatusCode::BAD_REQUEST,
    };
    let mut response = render(&ctx, &state, &result, status).await?;
    if let Some(wait) = retry_after {
        // Whole seconds, rounded up, at least one.
        let secs = (wait.as_millis() + 999) / 1000;
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs.max(1) as u64),
        );
    }
    Ok(response)
}
