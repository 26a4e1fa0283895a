//! The operator API under `/admin` (bearer `ADMIN_TOKEN`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::outside_calendar::CalendarStatus;
use booking_core::ports::SmsAccountChange;
use booking_core::{CalendarId, TenantId};
use serde_json::json;

use crate::auth::verify_admin;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tenant_dto::{CalendarChange, CalendarEdits, FieldErrors, TenantInput, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(actix_web::middleware::from_fn(token_first))
            .route("/tenants", web::post().to(create_tenant))
            .route("/tenants", web::get().to(list_tenants))
            .route("/tenants/{id}", web::get().to(get_tenant))
            .route("/tenants/{id}", web::patch().to(patch_tenant)),
    );
}

pub fn require_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    verify_admin(header, state.config.admin_token.expose()).map_err(|_| ApiError::Unauthorized)
}

/// Refuses a request without the operator's token before any of it is read: a caller without
/// the token learns nothing of the API, not even which fields a body must have.
pub async fn token_first(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let allowed = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| require_admin(req.request(), state).is_ok());
    if !allowed {
        return Err(ApiError::Unauthorized.into());
    }
    next.call(req).await
}

fn tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

async fn view(state: &AppState, t: &booking_core::tenant::Tenant) -> Result<TenantView, ApiError> {
    let sms = state.store.sms_account(t.id).await?;
    let links = calendar_links(state, t).await?;
    Ok(TenantView::new(t, sms.as_ref(), &links))
}

/// The calendar links of the clinic's providers (status only: never the credentials).
async fn calendar_links(
    state: &AppState,
    t: &booking_core::tenant::Tenant,
) -> Result<Vec<CalendarStatus>, ApiError> {
    let mut links = Vec::new();
    for p in t.providers() {
        if let Some(s) = state.calendars.calendar_status(t.id, p.id).await? {
            links.push(s);
        }
    }
    Ok(links)
}

/// Both rounds of field errors as one 400, or nothing.
fn refuse(mut first: FieldErrors, second: FieldErrors) -> ApiError {
    first.0.extend(second.0);
    ApiError::Invalid(json!(first))
}

/// The calendar links named in the request, made once the clinic is saved (each its own unit
/// of work; the fields were all checked before anything was saved).
async fn save_calendars(state: &AppState, changes: Vec<CalendarChange>) -> Result<(), ApiError> {
    let now = state.clock.now();
    for change in changes {
        match change {
            CalendarChange::Link(link) => {
                state.calendars.link_calendar(&link, now).await?;
                tracing::info!(tenant = %link.tenant, calendar = %link.calendar, url = %link.url, "calendar linked");
            }
            CalendarChange::Unlink { tenant, calendar } => {
                state.calendars.unlink_calendar(tenant, calendar).await?;
                tracing::info!(tenant = %tenant, calendar = %calendar, "calendar unlinked");
            }
        }
    }
    Ok(())
}

async fn create_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<TenantInput>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = TenantId::from_random_bytes(state.random.bytes16());
    // The first provider of a new clinic is its default calendar, the one a release that
    // predates providers books on during a rolling deploy.
    let mut first = Some(CalendarId::default_for(id));
    let mut calendar_errors = FieldErrors::default();
    let edits = CalendarEdits::read(
        &mut calendar_errors,
        body.providers.iter().flatten().map(|p| p.calendar.as_ref()),
    );
    let (config, sms) = body
        .apply(None, || {
            first
                .take()
                .unwrap_or_else(|| CalendarId::from_random_bytes(state.random.bytes16()))
        })
        .map_err(|e| refuse(e, std::mem::take(&mut calendar_errors)))?;
    if !calendar_errors.0.is_empty() {
        return Err(refuse(calendar_errors, FieldErrors::default()));
    }
    let calendars = edits
        .changes(id, &config, |_| None)
        .map_err(|e| refuse(e, FieldErrors::default()))?;
    let sms = match sms {
        SmsAccountChange::Set(a) => Some(a),
        SmsAccountChange::Keep | SmsAccountChange::Clear => None,
    };
    let tenant = state.store.create_tenant(id, &config, sms.as_ref()).await?;
    save_calendars(&state, calendars).await?;
    tracing::info!(tenant = %tenant.id, "tenant created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/admin/tenants/{}", tenant.id)))
        .json(view(&state, &tenant).await?))
}

async fn list_tenants(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let tenants = state.store.list_tenants().await?;
    let mut out = Vec::with_capacity(tenants.len());
    for t in &tenants {
        out.push(view(&state, t).await?);
    }
    Ok(HttpResponse::Ok().json(json!({ "tenants": out })))
}

async fn get_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = tenant_id(&path)?;
    let tenant = state.store.tenant(id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state, &tenant).await?))
}

async fn patch_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<TenantInput>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = tenant_id(&path)?;
    let current = state.store.tenant(id).await?.ok_or(ApiError::NotFound)?;
    let mut calendar_errors = FieldErrors::default();
    let edits = CalendarEdits::read(
        &mut calendar_errors,
        body.providers.iter().flatten().map(|p| p.calendar.as_ref()),
    );
    let (config, sms) = body
        .apply(Some(&current), || {
            CalendarId::from_random_bytes(state.random.bytes16())
        })
        .map_err(|e| refuse(e, std::mem::take(&mut calendar_errors)))?;
    if !calendar_errors.0.is_empty() {
        return Err(refuse(calendar_errors, FieldErrors::default()));
    }
    let linked = calendar_links(&state, &current).await?;
    let calendars = edits
        .changes(id, &config, |p| {
            linked.iter().find(|s| s.calendar == p).cloned()
        })
        .map_err(|e| refuse(e, FieldErrors::default()))?;
    let tenant = state.store.update_tenant(id, &config, sms).await?;
    save_calendars(&state, calendars).await?;
    tracing::info!(tenant = %tenant.id, "tenant updated");
    Ok(HttpResponse::Ok().json(view(&state, &tenant).await?))
}
