//! Settings → Providers, the saving: add a provider, save one, retire one (kept with their
//! appointments, never offered again) or bring a retired one back. The forms are in
//! `settings::provider_forms`.
//!
//! Every change is the operator API's whole-list edit (`TenantInput::providers`) of the clinic's
//! current list with this one provider changed, so the same rules check it. A provider id that is
//! not this clinic's answers 404 and changes nothing.

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::provider::{Provider, ProviderId, ProviderStatus};
use booking_core::tenant::Tenant;

use super::respond::{DashError, see_other};
use super::session::{Ctx, signed_in_post};
use super::settings::{Draft, refused};
use crate::state::AppState;
use crate::tenant_dto::{ProviderJson, TenantInput};

/// This clinic's provider with the id in the path; 404 for anything else.
fn own_provider(t: &Tenant, raw: &str) -> Result<Provider, DashError> {
    let id: ProviderId = raw.trim().parse().map_err(|_| DashError::NotFound)?;
    t.provider(id).ok_or(DashError::NotFound)
}

fn csrf_of(form: &[(String, String)]) -> Option<&str> {
    form.iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
}

/// Saves the clinic's provider list with `changed` in place of the provider with its id (or
/// added at the end when it has none). Refusals re-render Settings with `draft` as sent.
async fn save_list(
    ctx: &Ctx,
    state: &AppState,
    changed: ProviderJson,
    draft: Option<&Draft>,
    mut problems: Vec<String>,
) -> Result<HttpResponse, DashError> {
    let t = &ctx.tenant;
    let mut list: Vec<ProviderJson> = t.providers().iter().map(ProviderJson::from).collect();
    match list
        .iter_mut()
        .find(|p| p.id.is_some() && p.id == changed.id)
    {
        Some(slot) => *slot = changed,
        None => list.push(changed),
    }
    if problems.is_empty() {
        let input = TenantInput {
            providers: Some(list),
            ..TenantInput::default()
        };
        match input.apply(Some(t), || {
            booking_core::CalendarId::from_random_bytes(state.random.bytes16())
        }) {
            Err(errs) => problems.extend(errs.0.iter().map(|e| owner_words(&e.field, &e.message))),
            Ok((config, sms)) => {
                state.store.update_tenant(t.id, &config, sms).await?;
                tracing::info!(tenant = %t.id, "providers saved from the dashboard");
                return Ok(see_other("/app/settings?saved=1#providers"));
            }
        }
    }
    refused(ctx, state, &problems, draft).await
}

/// "providers[2].max_per_day: must be between 1 and 1000" → "Most appointments a day: must be …".
fn owner_words(field: &str, message: &str) -> String {
    let part = field.rsplit_once("].").map_or(field, |(_, f)| f);
    let part = part.split(['.', '[']).next().unwrap_or(part);
    let label = match part {
        "name" => "Name",
        "services" => "Services",
        "weekly_hours" => "Hours",
        "date_overrides" => "Dates off or special hours",
        "max_per_day" => "Most appointments a day",
        "max_per_week" => "Most appointments a week",
        "providers" | "id" => "Providers",
        other => other,
    };
    format!("{label}: {message}")
}

/// `POST /app/providers`: adds a provider.
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, csrf_of(&form)).await?;
    let draft = Draft::from_form(None, &form);
    let mut problems = Vec::new();
    let json = draft.json(ProviderStatus::Active, &mut problems);
    save_list(&ctx, &state, json, Some(&draft), problems).await
}

/// `POST /app/providers/{id}`: saves one provider's form.
pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, csrf_of(&form)).await?;
    let p = own_provider(&ctx.tenant, &path)?;
    let draft = Draft::from_form(Some(p.id), &form);
    let mut problems = Vec::new();
    let json = draft.json(p.status, &mut problems);
    save_list(&ctx, &state, json, Some(&draft), problems).await
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

async fn set_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
    status: ProviderStatus,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let mut p = own_provider(&ctx.tenant, &path)?;
    p.status = status;
    save_list(&ctx, &state, ProviderJson::from(&p), None, Vec::new()).await
}

/// `POST /app/providers/{id}/retire`.
pub async fn retire(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    set_status(req, state, path, form, ProviderStatus::Retired).await
}

/// `POST /app/providers/{id}/restore`.
pub async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    set_status(req, state, path, form, ProviderStatus::Active).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_become_the_forms_labels() {
        assert_eq!(
            owner_words("providers[2].max_per_day", "must be between 1 and 1000"),
            "Most appointments a day: must be between 1 and 1000"
        );
        assert_eq!(
            owner_words("providers[0].weekly_hours.mon", "x"),
            "Hours: x"
        );
        assert_eq!(owner_words("providers", "need one"), "Providers: need one");
    }
}
