//! Errors as the HTTP client sees them: a status and `{"error": "...", "details": ...}`. Nothing a
//! caller or a model can send yields a 500; a 5xx means our side (the database) failed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use booking_core::ports::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request has invalid fields")]
    Invalid(serde_json::Value),
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Duplicate(what) => Self::Conflict(format!("already in use: {what}")),
            StoreError::SlotTaken => Self::Conflict("that time is already booked".into()),
            StoreError::LimitReached => Self::Conflict(
                "the provider already has as many appointments as their limit allows".into(),
            ),
            StoreError::WrongState { current } => {
                Self::Conflict(format!("the booking is {current}"))
            }
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "store unavailable");
                Self::Unavailable
            }
            StoreError::Internal(msg) => {
                tracing::error!(error = %msg, "store error");
                Self::Internal
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::Invalid(details) => json!({"error": self.to_string(), "details": details}),
            _ => json!({"error": self.to_string()}),
        };
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if matches!(self, Self::Unavailable) {
            resp.insert_header(("Retry-After", "2"));
        }
        resp.json(body)
    }
}

/// The JSON extractor's own errors (malformed JSON, wrong types, too large) as clear 4xx bodies.
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let (status, message) = match &err {
        E::OverflowKnownLength { length, limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {length} bytes; at most {limit} are accepted"),
        ),
        E::Overflow { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the {limit} bytes accepted"),
        ),
        E::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json".into(),
        ),
        E::Deserialize(e) => (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
        other => (StatusCode::BAD_REQUEST, format!("unreadable body: {other}")),
    };
    actix_web::error::InternalError::from_response(
        err,
        HttpResponse::build(status).json(json!({"error": message})),
    )
    .into()
}
