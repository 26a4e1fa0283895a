//! The owner's dashboard under `/app`: server-rendered HTML, a little htmx and one small script,
//! all served from the binary. Every page takes the clinic from the signed-in session; an id of
//! another clinic's row answers 404. See docs/user-flow.md for each screen and button.

mod calendars;
mod day_view;
mod html;
mod leads;
mod login;
mod marks;
mod owner_words;
mod owners;
mod pages;
pub mod password_checks;
pub mod passwords;
mod providers;
mod reports;
mod respond;
pub mod session;
mod settings;
mod setup;
mod twilio_errors;
mod waitlist;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, ResponseError, web};

use respond::DashError;

pub use html::esc;
pub use login::client_address;
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
            .route(
                "/appointments/{id}/attendance",
                web::post().to(pages::attendance),
            )
            .route("/messages", web::get().to(pages::messages))
            .route("/waitlist", web::get().to(waitlist::page_view))
            .route("/waitlist/{id}/remove", web::post().to(waitlist::remove))
            .route("/calls", web::get().to(pages::calls))
            .route("/calls/{id}", web::get().to(pages::call))
            .route("/reports", web::get().to(reports::show))
            .route("/settings", web::get().to(settings::page))
            .route("/settings/{section}", web::post().to(settings::save))
            .route("/providers", web::post().to(providers::add))
            .route("/providers/{id}", web::post().to(providers::save))
            .route("/providers/{id}/retire", web::post().to(providers::retire))
            .route(
                "/providers/{id}/restore",
                web::post().to(providers::restore),
            )
            .route("/providers/{id}/calendar", web::get().to(calendars::form))
            .route("/providers/{id}/calendar", web::post().to(calendars::find))
            .route(
                "/providers/{id}/calendar/link",
                web::post().to(calendars::link),
            )
            .route(
                "/providers/{id}/calendar/unlink",
                web::post().to(calendars::unlink),
            )
            .route("/feeds", web::post().to(calendars::make_feed))
            .route("/feeds/revoke", web::post().to(calendars::revoke_feed))
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
