//! Routes. Each module is a thin translation between HTTP and the domain service.

pub mod admin;
pub mod feeds;
pub mod health;
pub mod twilio;
pub mod vapi;
pub mod waitlist;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Instrument;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::routes)
        // Before `admin`: it serves /admin/tenants/{id}/owners outside the /admin scope.
        .configure(crate::dashboard::routes)
        .configure(crate::patient::routes)
        .configure(admin::routes)
        .configure(feeds::routes)
        .configure(vapi::routes)
        .configure(twilio::routes)
        .configure(waitlist::routes);
}

/// Every route of the JSON API, for the OpenAPI check (kept next to `routes` so that a new route
/// is listed here and then in `static/openapi.json`). The dashboard's HTML pages under `/app` are
/// not part of it.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/admin/tenants"),
    ("GET", "/admin/tenants"),
    ("GET", "/admin/tenants/{id}"),
    ("PATCH", "/admin/tenants/{id}"),
    ("POST", "/admin/tenants/{id}/owners"),
    ("GET", "/feeds/{file}"),
    ("POST", "/vapi/webhook"),
    ("POST", "/vapi/tools/{name}"),
    ("POST", "/twilio/status"),
    ("POST", "/twilio/inbound"),
];

/// The id of one request, on every log line it causes.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Logs each request (method, route, status, time) inside a span that carries its request id and,
/// once a handler knows it, the Vapi call id; counts it for `/metrics`.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        call_id = tracing::field::Empty,
        method = %method,
        route = %route,
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    let res = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    if let Some(m) = metrics {
        let class = format!("{}xx", status / 100);
        m.inc(
            "http_requests_total",
            &[("route", &route), ("status", &class)],
        );
    }
    res.map(|mut r| {
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
            r.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("x-request-id"),
                v,
            );
        }
        r
    })
}

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use super::health::OPENAPI;

    /// Every route the api serves is in the document, and the document names no route it lacks.
    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let mut documented: Vec<String> = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
            {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        documented.sort();
        let mut served: Vec<String> = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
        served.sort();
        assert_eq!(documented, served);
    }
}
