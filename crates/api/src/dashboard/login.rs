//! `/app/login` and `/app/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::accounts::{
    ClientAddress, Email, Session, SessionToken, SignInVerdict, csrf_token, sign_in_verdict,
};
use serde::Deserialize;

use super::html::{csrf_field, esc, notice, page};
use super::password_checks::{Against, NotChecked};
use super::respond::{DashError, html_response, see_other};
use super::session::{CookiePolicy, check_csrf, check_origin, signed_in};
use crate::state::AppState;

/// How long a sign-in turned away because every password check is busy waits for its answer.
pub const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

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
    let busy = || {
        tracing::warn!("sign-in refused: every password check was busy");
        let mut resp = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Signing in is busy right now. Wait a moment, then try again.",
        );
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("5"),
        );
        resp
    };
    // A place in line for a checker first: a sign-in refused because too many are in line
    // costs nothing more (no query, no count).
    let admitted = match state.password_checks.admit() {
        Ok(a) => a,
        Err(NotChecked::Busy | NotChecked::Stopped) => {
            let resp = busy();
            // Answered after a pause, the form already dropped: a client that sends the next
            // attempt as soon as this one is refused gets one answer per pause per connection,
            // instead of keeping the api busy answering refusals.
            drop(form);
            tokio::time::sleep(BUSY_PAUSE).await;
            return Ok(resp);
        }
    };
    // Counted before the password is checked (and before the turn is waited for, so that the
    // limits hold however slow the checks are), per address and per address and account, so
    // that neither a flood nor a stranger's guesses reach the checks or lock the owner out.
    let address = client_address(&req, state.config.trusted_proxy_hops);
    let attempts = state
        .accounts
        .count_sign_in_attempt(&address, &email, now)
        .await?;
    match sign_in_verdict(attempts) {
        SignInVerdict::Check => {}
        SignInVerdict::AccountThrottled => {
            tracing::warn!(email = ?email, address = ?address, "sign-in throttled for this account");
            return Ok(refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts for this email from your network. Wait 15 minutes, then try again.",
            ));
        }
        SignInVerdict::AddressThrottled => {
            tracing::warn!(address = ?address, "sign-in throttled for this address");
            return Ok(refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts from your network. Wait 15 minutes, then try again.",
            ));
        }
    }
    let turn = match admitted.turn().await {
        Ok(t) => t,
        Err(NotChecked::Busy | NotChecked::Stopped) => {
            // Waited its turn for as long as a sign-in may: answered at once.
            return Ok(busy());
        }
    };
    let owner = state.accounts.owner_by_email(&email).await?;
    let against = owner
        .as_ref()
        .map_or(Against::Decoy, |o| Against::Hash(o.password_hash.clone()));
    let Ok(matches) = state
        .password_checks
        .check_in(turn, form.password.clone(), against)
        .await
    else {
        return Err(DashError::Unavailable);
    };
    let owner = match owner {
        Some(o) if matches => o,
        _ => {
            tracing::info!(email = ?email, address = ?address, "sign-in refused");
            return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
        }
    };
    state.accounts.sign_in_succeeded(&address, &email).await?;
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

/// The address a sign-in comes from. With no trusted proxy, the connection's peer: a client
/// cannot choose it. Behind `hops` proxies that each append the address they received the
/// request from to `X-Forwarded-For`, the entry the outermost of them appended (the `hops`-th
/// from the right); entries to its left were written by the client and are ignored. A header
/// shorter than that (a request that did not come through every proxy) counts as its leftmost
/// entry; a missing or unreadable one as the peer.
pub fn client_address(req: &HttpRequest, hops: u32) -> ClientAddress {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if hops == 0 {
        return ClientAddress::from_ip(peer);
    }
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let hops = hops as usize;
    let chosen = if entries.len() >= hops {
        entries.get(entries.len() - hops)
    } else {
        entries.first()
    };
    let ip = chosen.and_then(|e| {
        e.parse::<std::net::IpAddr>()
            .ok()
            .or_else(|| e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
    });
    ClientAddress::from_ip(ip.unwrap_or(peer))
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

#[cfg(test)]
mod tests {
    use super::client_address;
    use actix_web::test::TestRequest;

    fn addr(hops: u32, xff: &[&str]) -> String {
        let mut req = TestRequest::post().peer_addr("10.0.0.9:5000".parse().unwrap());
        for h in xff {
            req = req.append_header(("X-Forwarded-For", *h));
        }
        client_address(&req.to_http_request(), hops)
            .as_str()
            .to_owned()
    }

    #[test]
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        assert_eq!(addr(0, &[]), "10.0.0.9");
        assert_eq!(addr(0, &["203.0.113.5"]), "10.0.0.9", "ignored by default");
        assert_eq!(addr(1, &["203.0.113.5"]), "203.0.113.5");
        // The client wrote the left part; the proxy appended the right one.
        assert_eq!(addr(1, &["1.1.1.1, 203.0.113.5"]), "203.0.113.5");
        assert_eq!(addr(1, &["1.1.1.1", "203.0.113.5"]), "203.0.113.5");
        assert_eq!(addr(2, &["1.1.1.1, 203.0.113.5, 10.0.0.2"]), "203.0.113.5");
        assert_eq!(addr(2, &["203.0.113.5"]), "203.0.113.5");
        assert_eq!(addr(1, &[]), "10.0.0.9");
        assert_eq!(addr(1, &["not an address"]), "10.0.0.9");
        assert_eq!(addr(1, &["203.0.113.5:4711"]), "203.0.113.5");
        assert_eq!(addr(1, &["2001:db8:1:2::7"]), "2001:db8:1:2::/64");
    }
}
