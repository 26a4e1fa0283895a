//! How the dashboard answers: an HTML page, a redirect, or why the page is not given.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use booking_core::ports::StoreError;

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
                let body = super::html::page(
                    title,
                    None,
                    &format!(
                        "<h1>{}</h1><p>{}</p><p><a href=\"/app\">Back to the dashboard</a></p>",
                        super::html::esc(title),
                        super::html::esc(&text)
                    ),
                );
                html_response(other.status_code(), body)
            }
        }
    }
}
