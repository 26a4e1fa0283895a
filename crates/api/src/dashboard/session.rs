//! Signing in and staying signed in: the session cookie, CSRF tokens and
//! the Origin/Referer check. The clinic a request may see comes from its session, and from
//! nowhere else.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use booking_core::accounts::{Session, SessionToken};
use booking_core::tenant::Tenant;

use super::respond::DashError;
use crate::auth::ct_eq;
use crate::state::AppState;

/// How the session cookie is named and flagged for this deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `Secure`: sent over HTTPS only (browsers also honour it on http://localhost and
    /// http://127.0.0.1, which count as secure origins).
    pub secure: bool,
}

impl CookiePolicy {
    /// Secure unless the public URL is plain HTTP to a host other than the local machine (a
    /// test deployment without TLS, where a Secure cookie would never come back).
    pub fn for_base_url(base: &str) -> Self {
        let Some(rest) = base.strip_prefix("http://") else {
            return Self { secure: true };
        };
        let host = rest.split(['/', ':']).next().unwrap_or("");
        let host = if rest.starts_with('[') {
            rest.split(']').next().map(|h| &h[1..]).unwrap_or("")
        } else {
            host
        };
        let local = host == "localhost" || host == "127.0.0.1" || host == "::1";
        Self { secure: local }
    }
    /// `__Host-` (Secure, Path=/, no Domain: the browser refuses it from anywhere else) when
    /// secure.
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-session"
        } else {
            "session"
        }
    }
    pub fn login_name(self) -> &'static str {
        if self.secure { "__Host-login" } else { "login" }
    }
    fn build(
        self,
        name: &'static str,
        value: String,
        max_age: Option<CookieDuration>,
    ) -> Cookie<'static> {
        let mut c = Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure);
        if let Some(age) = max_age {
            c = c.max_age(age);
        }
        c.finish()
    }
    /// The session cookie (a browser-session cookie: the server decides expiry).
    pub fn session_cookie(self, token: &SessionToken) -> Cookie<'static> {
        self.build(self.session_name(), token.expose().to_owned(), None)
    }
    pub fn clear_session(self) -> Cookie<'static> {
        self.build(
            self.session_name(),
            String::new(),
            Some(CookieDuration::ZERO),
        )
    }
    /// The sign-in form's CSRF token (double-submit: cookie and hidden field must match).
    pub fn login_cookie(self, token: &str) -> Cookie<'static> {
        self.build(
            self.login_name(),
            token.to_owned(),
            Some(CookieDuration::minutes(30)),
        )
    }
    pub fn clear_login(self) -> Cookie<'static> {
        self.build(self.login_name(), String::new(), Some(CookieDuration::ZERO))
    }
}

/// A signed-in request: its session and the clinic it belongs to.
pub struct Ctx {
    pub session: Session,
    pub tenant: Tenant,
}

impl Ctx {
    pub fn frame<'a>(&'a self, active: &'a str) -> super::html::Frame<'a> {
        super::html::Frame {
            clinic: self.tenant.config.name.as_str(),
            csrf: &self.session.csrf_token,
            active,
        }
    }
}

fn presented_token(req: &HttpRequest, state: &AppState) -> Option<SessionToken> {
    let policy = CookiePolicy::for_base_url(&state.config.public_base_url);
    req.cookie(policy.session_name())
        .and_then(|c| SessionToken::from_presented(c.value()))
}

/// The session of this request, or `SignIn`. Pushes the expiry forward now and then.
pub async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Ctx, DashError> {
    let token = presented_token(req, state).ok_or(DashError::SignIn)?;
    let now = state.clock.now();
    let session = state
        .accounts
        .session_by_hash(&token.hash(), now)
        .await?
        .ok_or(DashError::SignIn)?;
    if !session.is_live(now) {
        return Err(DashError::SignIn);
    }
    if let Some(expires) = session.slide(now) {
        state
            .accounts
            .touch_session(&session.token_hash, now, expires)
            .await?;
    }
    let tenant = state
        .store
        .tenant(session.tenant)
        .await?
        .ok_or(DashError::SignIn)?;
    Ok(Ctx { session, tenant })
}

/// As [`signed_in`], for a POST: the form's CSRF token must be the session's, and the request
/// must come from our own pages.
pub async fn signed_in_post(
    req: &HttpRequest,
    state: &AppState,
    csrf: Option<&str>,
) -> Result<Ctx, DashError> {
    check_origin(req, &state.config.public_base_url)?;
    let ctx = signed_in(req, state).await?;
    check_csrf(&ctx.session.csrf_token, csrf)?;
    Ok(ctx)
}

/// The form's token against the expected one, in constant time.
pub fn check_csrf(expected: &str, presented: Option<&str>) -> Result<(), DashError> {
    match presented {
        Some(p) if !expected.is_empty() && ct_eq(p.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(DashError::Forbidden(
            "This form has expired or did not come from this dashboard. Reload the page and try again.".into(),
        )),
    }
}

/// The origin of a URL: scheme, host and port, without path.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// `Origin` (or, without it, `Referer`) must be our public origin when the browser sends one.
pub fn check_origin(req: &HttpRequest, public_base_url: &str) -> Result<(), DashError> {
    let ours = origin_of(public_base_url);
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let refused = || {
        DashError::Forbidden("This form was sent from another site; it was not accepted.".into())
    };
    if let Some(origin) = header("origin") {
        return if origin.eq_ignore_ascii_case(ours) {
            Ok(())
        } else {
            Err(refused())
        };
    }
    if let Some(referer) = header("referer") {
        return if origin_of(referer).eq_ignore_ascii_case(ours) {
            Ok(())
        } else {
            Err(refused())
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn csrf_tokens_must_match() {
        assert!(check_csrf("abc", Some("abc")).is_ok());
        assert!(check_csrf("abc", Some("abd")).is_err());
        assert!(check_csrf("abc", Some("")).is_err());
        assert!(check_csrf("abc", None).is_err());
        assert!(check_csrf("", Some("")).is_err());
    }

    #[test]
    fn origins_are_checked_against_the_public_url() {
        let base = "https://dash.example.com";
        let ok = TestRequest::post()
            .insert_header(("Origin", "https://dash.example.com"))
            .to_http_request();
        assert!(check_origin(&ok, base).is_ok());
        let evil = TestRequest::post()
            .insert_header(("Origin", "https://evil.example"))
            .to_http_request();
        assert!(check_origin(&evil, base).is_err());
        let sub = TestRequest::post()
            .insert_header(("Origin", "https://dash.example.com.evil.example"))
            .to_http_request();
        assert!(check_origin(&sub, base).is_err());
        let referer = TestRequest::post()
            .insert_header(("Referer", "https://dash.example.com/app/settings"))
            .to_http_request();
        assert!(check_origin(&referer, base).is_ok());
        let bad_referer = TestRequest::post()
            .insert_header(("Referer", "https://evil.example/app"))
            .to_http_request();
        assert!(check_origin(&bad_referer, base).is_err());
        let none = TestRequest::post().to_http_request();
        assert!(
            check_origin(&none, base).is_ok(),
            "the token still guards it"
        );
        assert!(check_origin(&ok, "https://dash.example.com/").is_ok());
    }

    #[test]
    fn cookies_are_secure_httponly_lax() {
        let p = CookiePolicy::for_base_url("https://dash.example.com");
        assert!(p.secure);
        let token = SessionToken::from_presented(&"a".repeat(64)).unwrap();
        let c = p.session_cookie(&token);
        assert_eq!(c.name(), "__Host-session");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.domain(), None);
        assert!(CookiePolicy::for_base_url("http://127.0.0.1:8080").secure);
        assert!(CookiePolicy::for_base_url("http://localhost:8080").secure);
        let plain = CookiePolicy::for_base_url("http://10.0.0.5:8080");
        assert!(!plain.secure);
        assert_eq!(plain.session_name(), "session");
        assert!(!CookiePolicy::for_base_url("http://localhost.evil.example").secure);
    }
}
