//! The Waitlist page: who waits for which service and days, a Remove button for each, and the
//! appointments the waitlist filled.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::WaitlistEntryId;
use booking_core::waitlist::{EntryStatus, WaitlistEntry};

use super::html::{csrf_field, esc, notice, page};
use super::respond::{DashError, html_response, see_other};
use super::session::{Ctx, signed_in, signed_in_post};
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct Shown {
    removed: Option<String>,
}

fn who(ctx: &Ctx, e: &WaitlistEntry) -> String {
    let days = if e.days.from() == e.days.to() {
        e.days.from().strftime("%a %b %-d").to_string()
    } else {
        format!(
            "{} to {}",
            e.days.from().strftime("%a %b %-d"),
            e.days.to().strftime("%a %b %-d")
        )
    };
    let provider = e
        .provider
        .and_then(|p| ctx.tenant.provider(p))
        .map(|p| format!(" with {}", esc(p.name.as_str())))
        .unwrap_or_default();
    let part = e
        .part_of_day
        .map(|p| format!(", {}", p.as_str()))
        .unwrap_or_default();
    format!(
        "<strong>{name}</strong> ({phone}): {service}{provider}, {days}{part}",
        name = esc(&e.caller_name),
        phone = esc(e.phone.as_str()),
        service = esc(e.service.as_str()),
        days = esc(&days),
    )
}

/// `GET /app/waitlist`.
pub async fn page_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    shown: web::Query<Shown>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let waiting = state.store.waitlist(ctx.tenant.id).await?;
    let fills = state.store.waitlist_fills(ctx.tenant.id, 100).await?;
    let mut body = String::from("<h1>Waitlist</h1>");
    if shown.removed.is_some() {
        body.push_str(&notice("ok", "Removed from the waitlist."));
    }
    body.push_str(
        "<p>Callers for whom no time suited. When a matching time frees up, the first in line gets \
         one text with a link to claim it.</p><h2>Waiting</h2>",
    );
    if waiting.is_empty() {
        body.push_str("<p class=\"empty\">No one is waiting.</p>");
    } else {
        body.push_str("<ol class=\"cards\">");
        for e in &waiting {
            body.push_str(&format!(
                "<li class=\"card\"><p>{who}</p>\
                 <form method=\"post\" action=\"/app/waitlist/{id}/remove\">{csrf}\
                 <button type=\"submit\" aria-label=\"Remove {name} from the waitlist\">Remove</button>\
                 </form></li>",
                who = who(&ctx, e),
                id = e.id,
                csrf = csrf_field(&ctx.session.csrf_token),
                name = esc(&e.caller_name),
            ));
        }
        body.push_str("</ol>");
    }
    body.push_str("<h2>Filled by the waitlist</h2>");
    let filled: Vec<String> = fills
        .iter()
        .filter_map(|e| match e.status {
            EntryStatus::Filled(b) => Some(format!(
                "<li class=\"card\"><p>{who}</p><p><a href=\"/app/appointments/{b}\">The appointment</a></p></li>",
                who = who(&ctx, e)
            )),
            _ => None,
        })
        .collect();
    if filled.is_empty() {
        body.push_str("<p class=\"empty\">No appointment came from the waitlist yet.</p>");
    } else {
        body.push_str(&format!("<ul class=\"cards\">{}</ul>", filled.concat()));
    }
    Ok(html_response(
        StatusCode::OK,
        page("Waitlist", Some(&ctx.frame("/app/waitlist")), &body),
    ))
}

/// `POST /app/waitlist/{id}/remove`: another clinic's id, or one no longer waiting, is 404.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let id: WaitlistEntryId = path.parse().map_err(|_| DashError::NotFound)?;
    if !state
        .service
        .remove_from_waitlist(ctx.tenant.id, id)
        .await?
    {
        return Err(DashError::NotFound);
    }
    Ok(see_other("/app/waitlist?removed=1"))
}
