//! The owner's dashboard under `/app`: server-rendered HTML, a little htmx and one small script,
//! all served from the binary. Every page takes the clinic from the signed-in session; an id of
//! another clinic's row answers 404. See docs/user-flow.md for each screen and button.

mod html;
mod leads;
mod login;
mod owners;
mod pages;
mod password_checks;
mod send_limit;
pub mod session;
mod settings;
mod setup;
mod twilio_errors;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, ResponseError, web};
use booking_core::ports::StoreError;

pub use html::esc;
pub use password_checks::PasswordChecks;
pub use twilio_errors::explain_error;

/// Scripts, styles, images and connections from this origin only; no inline script or style, no
/// framing, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

static HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
static APP_JS: &[u8] = include_bytes!("../../static/app.js");
static APP_CSS: &[u8] = include_bytes!("../../static/app.css");

/// The dashboard's routes, and the operator's route that creates owner accounts (registered
/// before the `/admin` scope so that it is found).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/tenants/{id}/owners")
            .wrap(actix_web::middleware::from_fn(
                crate::http::admin::token_first,
            ))
            .route(web::post().to(owners::create_owner)),
    );
    cfg.service(
        web::scope("/app")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "same-origin")),
            )
            .route("/static/htmx.min.js", web::get().to(htmx))
            .route("/static/app.js", web::get().to(app_js))
            .route("/static/app.css", web::get().to(app_css))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("", web::get().to(pages::today))
            .route("/", web::get().to(pages::today))
            .route("/leads", web::get().to(leads::page))
            .route("/leads/stream", web::get().to(leads::stream))
            .route("/appointments", web::get().to(pages::appointments))
            .route("/appointments/{id}", web::get().to(pages::appointment))
            .route("/appointments/{id}/cancel", web::post().to(pages::cancel))
            .route(
                "/appointments/{id}/reschedule",
                web::post().to(pages::reschedule),
            )
            .route("/messages", web::get().to(pages::messages))
            .route("/calls", web::get().to(pages::calls))
            .route("/calls/{id}", web::get().to(pages::call))
            .route("/settings", web::get().to(settings::page))
            .route("/settings/{section}", web::post().to(settings::save))
            .route("/test-sms", web::post().to(settings::test_sms))
            .route("/setup", web::get().to(setup::start))
            .route("/setup/done", web::post().to(setup::done))
            .route("/setup/{step}", web::get().to(setup::step))
            .default_service(web::to(not_found)),
    );
}

fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

async fn htmx() -> HttpResponse {
    asset(HTMX, "text/javascript; charset=utf-8")
}
async fn app_js() -> HttpResponse {
    asset(APP_JS, "text/javascript; charset=utf-8")
}
async fn app_css() -> HttpResponse {
    asset(APP_CSS, "text/css; charset=utf-8")
}

async fn not_found() -> HttpResponse {
    DashError::NotFound.error_response()
}

/// An HTML page with the headers every dashboard page has (no caching: pages show patients'
/// data).
pub fn html_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Why a dashboard request did not get its page.
#[derive(Debug, thiserror::Error)]
pub enum DashError {
    /// Not signed in (or the session ended): go to the sign-in page.
    #[error("sign in")]
    SignIn,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable,
    #[error("something went wrong on our side")]
    Internal,
}

impl From<StoreError> for DashError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::Internal
            }
        }
    }
}

impl From<booking_core::service::ServiceError> for DashError {
    fn from(e: booking_core::service::ServiceError) -> Self {
        tracing::warn!(error = %e, "service error");
        Self::Unavailable
    }
}

impl ResponseError for DashError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn => {
                let mut r = see_other("/app/login");
                // An htmx request follows redirects invisibly; tell it to load the page.
                r.headers_mut().insert(
                    header::HeaderName::from_static("hx-redirect"),
                    HeaderValue::from_static("/app/login"),
                );
                r
            }
            other => {
                let (title, text) = match other {
                    Self::NotFound => ("Not found", "There is nothing here.".to_owned()),
                    e => ("Not done", e.to_string()),
                };
                let body = html::page(
                    title,
                    None,
                    &format!(
                        "<h1>{}</h1><p>{}</p><p><a href=\"/app\">Back to the dashboard</a></p>",
                        html::esc(title),
                        html::esc(&text)
                    ),
                );
                html_response(other.status_code(), body)
            }
        }
    }
}
