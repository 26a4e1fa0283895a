//! `/app/login` and `/app/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::accounts::{
    Email, LOGIN_FAILURE_WINDOW, Session, SessionToken, csrf_token, sign_in_allowed,
};
use serde::Deserialize;

use super::html::{csrf_field, esc, notice, page};
use super::session::{
    CookiePolicy, check_csrf, check_origin, decoy_hash, signed_in, verify_password,
};
use super::{DashError, html_response, see_other};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

fn render(token: &str, email: &str, error: Option<&str>) -> String {
    let error = error.map(|e| notice("error", e)).unwrap_or_default();
    page(
        "Sign in",
        None,
        &format!(
            "<section class=\"signin\"><h1>Sign in</h1>{error}\
             <form method=\"post\" action=\"/app/login\">{csrf}\
             <label>Email<input type=\"email\" name=\"email\" autocomplete=\"username\" required value=\"{email}\"></label>\
             <label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">Sign in</button></form></section>",
            csrf = csrf_field(token),
            email = esc(email),
        ),
    )
}

/// The sign-in form, with a fresh double-submit token in a cookie and in the form.
pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if signed_in(&req, &state).await.is_ok() {
        return see_other("/app");
    }
    let policy = CookiePolicy::for_base_url(&state.config.public_base_url);
    let token = csrf_token(state.random.as_ref());
    let mut resp = html_response(StatusCode::OK, render(&token, "", None));
    let _ = resp.add_cookie(&policy.login_cookie(&token));
    resp
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, DashError> {
    check_origin(&req, &state.config.public_base_url)?;
    let policy = CookiePolicy::for_base_url(&state.config.public_base_url);
    let cookie_token = req
        .cookie(policy.login_name())
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    check_csrf(&cookie_token, form.csrf.as_deref())?;

    let refuse = |status: StatusCode, message: &str| {
        let mut resp = html_response(status, render(&cookie_token, &form.email, Some(message)));
        let _ = resp.add_cookie(&policy.login_cookie(&cookie_token));
        resp
    };
    let wrong = "That email and password do not match an account.";
    let Ok(email) = Email::parse(&form.email) else {
        return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
    };
    let now = state.clock.now();
    let failures = state
        .accounts
        .login_failures_since(&email, now - LOGIN_FAILURE_WINDOW)
        .await?;
    if !sign_in_allowed(failures) {
        tracing::warn!(email = ?email, "sign-in throttled");
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts for this email. Wait 15 minutes, then try again.",
        ));
    }
    let owner = state.accounts.owner_by_email(&email).await?;
    let encoded = owner
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |o| o.password_hash.clone());
    let password = form.password.clone();
    // argon2 is deliberately slow: keep it off the request threads.
    let matches = web::block(move || verify_password(&password, &encoded))
        .await
        .map_err(|_| DashError::Internal)?;
    let owner = match owner {
        Some(o) if matches => o,
        _ => {
            state.accounts.record_login_failure(&email, now).await?;
            tracing::info!(email = ?email, "sign-in refused");
            return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
        }
    };
    state.accounts.clear_login_failures(&email).await?;
    if let Err(e) = state.accounts.delete_expired_sessions(now).await {
        tracing::warn!(error = %e, "deleting expired sessions failed");
    }
    let token = SessionToken::generate(state.random.as_ref());
    let session = Session::start(&owner, &token, csrf_token(state.random.as_ref()), now);
    state.accounts.create_session(&session).await?;
    tracing::info!(owner = %owner.id, tenant = %owner.tenant, "owner signed in");
    let next = if owner.onboarded_at.is_none() {
        "/app/setup"
    } else {
        "/app"
    };
    let mut resp = see_other(next);
    let _ = resp.add_cookie(&policy.session_cookie(&token));
    let _ = resp.add_cookie(&policy.clear_login());
    Ok(resp)
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    let policy = CookiePolicy::for_base_url(&state.config.public_base_url);
    match super::session::signed_in_post(&req, &state, form.csrf.as_deref()).await {
        Ok(ctx) => {
            state
                .accounts
                .delete_session(&ctx.session.token_hash)
                .await?;
        }
        Err(DashError::SignIn) => {}
        Err(e) => return Err(e),
    }
    let mut resp = see_other("/app/login");
    let _ = resp.add_cookie(&policy.clear_session());
    Ok(resp)
}
