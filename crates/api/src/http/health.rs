//! `/healthz` (the process is up), `/readyz` (the database answers and is migrated), `/metrics`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.readiness.check().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "reason": why}))
        }
    }
}

/// The OpenAPI document of every route, kept beside the code (`static/openapi.json`).
pub const OPENAPI: &str = include_str!("../../static/openapi.json");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The database's figures are read at scrape time; when the database does not answer they keep
    // their last values and /readyz says why.
    match state.ops.ops_figures(state.clock.now()).await {
        Ok(f) => {
            let m = &state.metrics;
            m.set("outbox_pending", &[], f.outbox_due as f64);
            m.set(
                "outbox_oldest_pending_seconds",
                &[],
                f.oldest_due_seconds as f64,
            );
            m.set("outbox_failed_total", &[], f.failed_total as f64);
            m.set(
                "bookings_confirmed_last_12h",
                &[],
                f.confirmed_last_12h as f64,
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: database figures unavailable"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
