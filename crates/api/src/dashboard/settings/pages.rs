//! The settings page and the saving of one section.

use std::collections::HashMap;
use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::fields::input_from;
use super::sections::{
    clinic_form, health_text, hours_form, numbers_form, prompt_section, rules_form, services_form,
    test_sms_form, twilio_form,
};
use crate::dashboard::html::{esc, notice, page as frame_page};
use crate::dashboard::respond::{DashError, html_response, see_other};
use crate::dashboard::session::{Ctx, signed_in, signed_in_post};
use crate::state::AppState;

/// Where to go after a successful save: a path of the dashboard only.
pub(super) fn safe_next(next: Option<&String>) -> Option<&str> {
    next.map(String::as_str).filter(|n| {
        n.starts_with("/app/") && !n.starts_with("//") && !n.contains("://") && !n.contains('\\')
    })
}

pub(super) async fn render(
    ctx: &Ctx,
    state: &AppState,
    flash: &str,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    render_with(ctx, state, flash, status, None).await
}

/// Settings with a list of problems on top, 400, and the provider form the owner sent as sent.
pub(crate) async fn refused(
    ctx: &Ctx,
    state: &AppState,
    problems: &[String],
    draft: Option<&super::provider_forms::Draft>,
) -> Result<HttpResponse, DashError> {
    render_with(
        ctx,
        state,
        &not_saved(problems),
        StatusCode::BAD_REQUEST,
        draft,
    )
    .await
}

fn not_saved(problems: &[String]) -> String {
    let mut flash =
        String::from("<div class=\"notice error\" role=\"alert\"><p>Not saved:</p><ul>");
    for p in problems {
        let _ = write!(flash, "<li>{}</li>", esc(p));
    }
    flash.push_str("</ul></div>");
    flash
}

async fn render_with(
    ctx: &Ctx,
    state: &AppState,
    flash: &str,
    status: StatusCode,
    draft: Option<&super::provider_forms::Draft>,
) -> Result<HttpResponse, DashError> {
    let sms = state.store.sms_account(ctx.tenant.id).await?;
    let body = format!(
        "<h1>Settings</h1>{flash}\
         <section><h2>Clinic</h2>{clinic}</section>\
         <section><h2>Twilio</h2>{health}{twilio}<h3>Test</h3>{test}</section>\
         <section><h2>Phone numbers</h2>{numbers}</section>\
         <section><h2>Hours</h2>{hours}</section>\
         <section><h2>Services</h2>{services}</section>\
         <section id=\"providers\"><h2>Providers</h2>{providers}</section>\
         <section id=\"calendars\"><h2>Calendars</h2>{calendars}</section>\
         <section><h2>Booking rules</h2>{rules}</section>\
         <section><h2>What the AI is told</h2>{prompt}</section>\
         <section><h2>Walk-through</h2><p><a href=\"/app/setup/1\">Run the first-time walk-through again</a></p></section>",
        clinic = clinic_form(ctx, None),
        health = health_text(&ctx.tenant),
        twilio = twilio_form(ctx, sms.as_ref(), None),
        test = test_sms_form(ctx),
        numbers = numbers_form(ctx, None),
        hours = hours_form(ctx, None),
        services = services_form(ctx, None),
        providers = super::provider_forms::section(ctx, draft),
        calendars = crate::dashboard::calendars::section(ctx, state).await?,
        rules = rules_form(ctx, None),
        prompt = prompt_section(ctx, state),
    );
    Ok(html_response(
        status,
        frame_page("Settings", Some(&ctx.frame("/app/settings")), &body),
    ))
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let flash = if query.saved.is_some() {
        notice("ok", "Saved.")
    } else {
        String::new()
    };
    render(&ctx, &state, &flash, StatusCode::OK).await
}

pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    form_data: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, DashError> {
    let form: HashMap<String, String> = form_data.into_inner().into_iter().collect();
    let ctx = signed_in_post(&req, &state, form.get("csrf").map(String::as_str)).await?;
    let current = state.store.sms_account(ctx.tenant.id).await?;
    let problems = match input_from(&form, current.as_ref()) {
        Err(problems) => problems,
        Ok(input) => match input.apply(Some(&ctx.tenant), || {
            booking_core::CalendarId::from_random_bytes(state.random.bytes16())
        }) {
            Err(errs) => errs
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect(),
            Ok((config, sms)) => {
                match state.store.update_tenant(ctx.tenant.id, &config, sms).await {
                    Ok(_) => {
                        tracing::info!(tenant = %ctx.tenant.id, "settings saved from the dashboard");
                        let to = safe_next(form.get("next")).unwrap_or("/app/settings?saved=1");
                        return Ok(see_other(to));
                    }
                    Err(booking_core::ports::StoreError::Duplicate(what))
                        if what.starts_with("alert number") =>
                    {
                        vec![format!(
                            "{what}: an alert number cannot be a number clinics text from"
                        )]
                    }
                    Err(booking_core::ports::StoreError::Duplicate(what)) => {
                        vec![format!("{what} is already used by another clinic")]
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        },
    };
    render(&ctx, &state, &not_saved(&problems), StatusCode::BAD_REQUEST).await
}
