//! Settings → Calendars: each provider's own calendar (CalDAV) and the read-only feeds.
//!
//! Linking is two steps. The owner gives a server address and credentials; we ask the server
//! for the calendars those credentials see (`OutsideCalendar::find_calendars`) and show them.
//! The credentials and the list found travel to the second step sealed under the master key in
//! the form (a note bound to this clinic, this provider and a quarter of an hour), so that they
//! are never shown again and any instance can take the pick. Picking one links it
//! (`CalendarSyncStore::link_calendar`): the credentials are stored encrypted, the background
//! loop syncs it. Unlinking removes the link and its busy time.
//!
//! A feed is a secret URL (`/feeds/<secret>.ics`, see `http::feeds`) showing a provider's or the
//! clinic's appointments; its secret is shown once, when made, and only its hash is stored.
//!
//! Conflicts: a confirmed appointment overlapping busy time synced from its provider's calendar
//! (an event typed there after the booking) is shown as a warning beside it; nothing is
//! cancelled.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::booking::{Booking, Interval};
use booking_core::feeds::{Feed, FeedScope};
use booking_core::link_token::LinkToken;
use booking_core::messages::local_time;
use booking_core::outside_calendar::conflicts::collisions;
use booking_core::outside_calendar::{
    CalendarCredentials, CalendarLink, CalendarProblem, CalendarStatus, CalendarUrl, FoundCalendar,
    SyncHealth,
};
use booking_core::provider::{Provider, ProviderId};
use booking_core::tenant::{Secret, Tenant};
use booking_core::{BookingId, CalendarId, TenantId};
use serde::{Deserialize, Serialize};

use super::html::{csrf_field, esc, page};
use super::respond::{DashError, html_response, see_other};
use super::session::{Ctx, signed_in, signed_in_post};
use crate::state::AppState;

/// What the sealed note of a discovery is bound to.
const DISCOVERY: &[u8] = b"dashboard calendar discovery v1";
/// How long a list of found calendars may be picked from.
const DISCOVERY_MINUTES: i64 = 15;
/// Most calendars offered from one server.
const MOST_FOUND: usize = 50;

/// This clinic's provider with the id in the path; 404 for anything else.
fn own_provider(t: &Tenant, raw: &str) -> Result<Provider, DashError> {
    let id: ProviderId = raw.trim().parse().map_err(|_| DashError::NotFound)?;
    t.provider(id).ok_or(DashError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Conflicts

/// The confirmed bookings among `bookings` that meet busy time synced from their provider's
/// own calendar (the rule: `outside_calendar::conflicts::collisions`). One query per provider
/// on the page.
pub(super) async fn conflicting(
    state: &AppState,
    tenant: TenantId,
    bookings: &[&Booking],
) -> Result<HashSet<BookingId>, DashError> {
    let mut by_calendar: BTreeMap<CalendarId, Vec<&Booking>> = BTreeMap::new();
    for b in bookings {
        by_calendar.entry(b.calendar).or_default().push(b);
    }
    let mut out = HashSet::new();
    for (calendar, list) in by_calendar {
        let start = list.iter().map(|b| b.blocked.start).min();
        let end = list.iter().map(|b| b.blocked.end).max();
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let Some(window) = Interval::new(start, end) else {
            continue;
        };
        let busy = state
            .calendars
            .outside_busy(tenant, calendar, window)
            .await?;
        if busy.is_empty() {
            continue;
        }
        let outside: Vec<(CalendarId, Interval)> =
            busy.into_iter().map(|i| (calendar, i)).collect();
        out.extend(
            collisions(list.iter().copied(), &outside)
                .into_iter()
                .map(|(b, _)| b.id),
        );
    }
    Ok(out)
}

/// The warning shown beside a booking that overlaps its provider's own calendar.
pub(super) fn conflict_warning(provider: &str) -> String {
    format!(
        "<p class=\"conflict\" role=\"alert\">Conflict: {} has an event in their own calendar at \
         this time, added there after this appointment was booked. Nothing was changed or \
         cancelled: move the appointment or the event, or call the caller.</p>",
        esc(provider)
    )
}

// ---------------------------------------------------------------------------------------------
// Settings → Calendars

/// The health of a link in a few words, and the sentence that explains it.
fn health_label(h: &SyncHealth) -> &'static str {
    match h {
        SyncHealth::Waiting => "Waiting for the first sync",
        SyncHealth::Healthy => "Healthy",
        SyncHealth::Failing(CalendarProblem::Refused { .. }) => "Wrong password",
        SyncHealth::Failing(CalendarProblem::Unreachable { .. }) => "Server unreachable",
        SyncHealth::Failing(CalendarProblem::NotFound) => "Calendar not found",
        SyncHealth::Failing(CalendarProblem::BadData { .. }) => "Unreadable answer from the server",
    }
}

fn link_status(ctx: &Ctx, p: &Provider, status: Option<&CalendarStatus>) -> String {
    let zone = &ctx.tenant.config.zone;
    let csrf = csrf_field(&ctx.session.csrf_token);
    match status {
        None => format!(
            "<p>No calendar linked.</p>\
             <p><a class=\"button\" href=\"/app/providers/{id}/calendar\">Link a calendar</a></p>",
            id = p.id
        ),
        Some(s) => {
            let last = s
                .last_synced_at
                .map_or_else(|| "not yet".to_owned(), |t| local_time(zone, t));
            let error = match &s.health {
                SyncHealth::Failing(problem) => format!(
                    "<p class=\"calendar-error\">Last error: {}</p>",
                    esc(&problem.owner_words())
                ),
                _ => String::new(),
            };
            format!(
                "<p>Linked to <code>{url}</code></p>\
                 <p class=\"calendar-health {kind}\"><strong>{label}.</strong> {words}</p>\
                 <p>Last successful sync: <span class=\"last-sync\">{last}</span></p>{error}\
                 <p><a href=\"/app/providers/{id}/calendar\">Link another calendar</a></p>\
                 <form method=\"post\" action=\"/app/providers/{id}/calendar/unlink\" class=\"inline\">{csrf}\
                 <button type=\"submit\" class=\"danger\" hx-confirm=\"Unlink this calendar? Its events stop blocking times and new appointments are no longer added to it.\">Unlink</button></form>",
                url = esc(s.url.as_str()),
                kind = s.health.kind(),
                label = health_label(&s.health),
                words = esc(&s.health.owner_words()),
                last = esc(&last),
                id = p.id,
            )
        }
    }
}

fn scope_value(scope: FeedScope) -> String {
    match scope {
        FeedScope::Clinic => "clinic".to_owned(),
        FeedScope::Provider(p) => p.to_string(),
    }
}

fn feed_row(ctx: &Ctx, scope: FeedScope, label: &str, feed: Option<&Feed>) -> String {
    let zone = &ctx.tenant.config.zone;
    let csrf = csrf_field(&ctx.session.csrf_token);
    let value = scope_value(scope);
    let (state_text, make) = match feed {
        None => ("No feed URL.".to_owned(), "Make a feed URL"),
        Some(f) => (
            format!(
                "A feed URL made {} is live (it was shown once, when made).",
                local_time(zone, f.created_at)
            ),
            "Make a new feed URL (the old one stops working)",
        ),
    };
    let revoke = if feed.is_some() {
        format!(
            "<form method=\"post\" action=\"/app/feeds/revoke\" class=\"inline\">{csrf}\
             <input type=\"hidden\" name=\"scope\" value=\"{value}\">\
             <button type=\"submit\" class=\"danger\">Revoke the feed URL</button></form>"
        )
    } else {
        String::new()
    };
    format!(
        "<li class=\"feed\" data-scope=\"{value}\"><strong>{label}</strong>: {state}\
         <form method=\"post\" action=\"/app/feeds\" class=\"inline\">{csrf}\
         <input type=\"hidden\" name=\"scope\" value=\"{value}\">\
         <button type=\"submit\">{make}</button></form>{revoke}</li>",
        label = esc(label),
        state = esc(&state_text),
    )
}

/// The Calendars section of Settings.
pub(crate) async fn section(ctx: &Ctx, state: &AppState) -> Result<String, DashError> {
    let t = &ctx.tenant;
    let mut out = String::from(
        "<p>Link each provider's own calendar (Google, iCloud, Fastmail, Nextcloud or any \
         calendar that speaks CalDAV): its events block those times for callers, and every \
         appointment booked by phone is added to it.</p><ul class=\"calendars\">",
    );
    let providers: Vec<Provider> = t
        .providers()
        .into_iter()
        .filter(|p| p.is_active())
        .collect();
    for p in &providers {
        let status = state.calendars.calendar_status(t.id, p.id).await?;
        let _ = write!(
            out,
            "<li class=\"calendar\" data-provider=\"{id}\"><h3>{name}</h3>{body}</li>",
            id = p.id,
            name = esc(p.name.as_str()),
            body = link_status(ctx, p, status.as_ref()),
        );
    }
    out.push_str("</ul>");
    let feeds = state.feeds.feeds(t.id).await?;
    let find = |scope: FeedScope| feeds.iter().find(|f| f.scope == scope);
    out.push_str(
        "<h3>Calendar feeds (read-only)</h3>\
         <p>A secret address any calendar app can subscribe to, showing the appointments. \
         Anyone with the address sees them: keep it private, and revoke it if it leaks.</p>\
         <ul class=\"feeds\">",
    );
    out.push_str(&feed_row(
        ctx,
        FeedScope::Clinic,
        "Every provider",
        find(FeedScope::Clinic),
    ));
    for p in &providers {
        let scope = FeedScope::Provider(p.id);
        out.push_str(&feed_row(ctx, scope, p.name.as_str(), find(scope)));
    }
    out.push_str("</ul>");
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Linking

/// What travels, sealed, from the list of found calendars to the pick.
#[derive(Serialize, Deserialize)]
struct Discovery {
    tenant: uuid::Uuid,
    calendar: uuid::Uuid,
    /// Unix seconds after which the pick is refused.
    expires: i64,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    found: Vec<String>,
}

impl Discovery {
    fn credentials(&self) -> Option<CalendarCredentials> {
        match (&self.username, &self.password, &self.token) {
            (Some(u), Some(p), None) => Some(CalendarCredentials::Password {
                username: u.clone(),
                password: Secret::new(p),
            }),
            (None, None, Some(t)) => Some(CalendarCredentials::Token(Secret::new(t))),
            _ => None,
        }
    }
}

fn link_page(ctx: &Ctx, p: &Provider, flash: &str, server: &str, username: &str) -> String {
    let body = format!(
        "<h1>Link a calendar for {name}</h1>{flash}\
         <p>Its events will block those times for callers, and each appointment booked by phone \
         is added to it. Use an <strong>app password</strong> where your calendar service has \
         them (iCloud, Fastmail, Google with 2-step verification): your usual password may be \
         refused. We use these only to reach the calendar; they are stored encrypted and never \
         shown again.</p>\
         <form method=\"post\" action=\"/app/providers/{id}/calendar\" class=\"settings\" id=\"calendar-find\">{csrf}\
         <label>Calendar server address (https://…)<input type=\"text\" inputmode=\"url\" name=\"server\" value=\"{server}\" required \
         placeholder=\"https://caldav.fastmail.com/\" autocomplete=\"url\"></label>\
         <label>Username<input type=\"text\" name=\"username\" value=\"{username}\" autocomplete=\"username\"></label>\
         <label>App password<input type=\"password\" name=\"password\" autocomplete=\"new-password\"></label>\
         <label>Or a token, instead of a username and password<input type=\"password\" name=\"token\" autocomplete=\"off\"></label>\
         <button type=\"submit\">Find my calendars</button></form>\
         <p><a href=\"/app/settings#calendars\">Back to Settings</a></p>",
        name = esc(p.name.as_str()),
        id = p.id,
        csrf = csrf_field(&ctx.session.csrf_token),
        server = esc(server),
        username = esc(username),
    );
    page("Link a calendar", Some(&ctx.frame("/app/settings")), &body)
}

fn problems_notice(problems: &[String]) -> String {
    let mut flash =
        String::from("<div class=\"notice error\" role=\"alert\"><p>Not linked:</p><ul>");
    for p in problems {
        let _ = write!(flash, "<li>{}</li>", esc(p));
    }
    flash.push_str("</ul></div>");
    flash
}

/// `GET /app/providers/{id}/calendar`: the form that finds the calendars.
pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let p = own_provider(&ctx.tenant, &path)?;
    Ok(html_response(
        StatusCode::OK,
        link_page(&ctx, &p, "", "", ""),
    ))
}

#[derive(Deserialize)]
pub struct FindForm {
    csrf: Option<String>,
    server: Option<String>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// What a discovery that failed means to the owner.
fn discovery_words(problem: &CalendarProblem) -> String {
    match problem {
        CalendarProblem::Refused { .. } => {
            "The calendar server refused that username and password \
             (or token). Check them; many services need an app password rather than your usual one."
                .into()
        }
        CalendarProblem::Unreachable { .. } => "We could not reach a calendar server at that \
             address. Check the address (it starts with https://) and try again."
            .into(),
        CalendarProblem::NotFound => "We found no calendar service at that address. Check the \
             address your calendar service gives for CalDAV."
            .into(),
        CalendarProblem::BadData { .. } => "The server at that address did not answer like a \
             calendar server (CalDAV). Check the address your calendar service gives for CalDAV."
            .into(),
    }
}

/// `POST /app/providers/{id}/calendar`: finds the calendars the credentials see and offers them.
pub async fn find(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<FindForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let p = own_provider(&ctx.tenant, &path)?;
    let server_text = form.server.as_deref().unwrap_or("").trim().to_owned();
    let username_text = form.username.as_deref().unwrap_or("").trim().to_owned();
    let refused = |problems: Vec<String>| {
        Ok(html_response(
            StatusCode::BAD_REQUEST,
            link_page(
                &ctx,
                &p,
                &problems_notice(&problems),
                &server_text,
                &username_text,
            ),
        ))
    };
    let mut problems = Vec::new();
    let server = CalendarUrl::parse(&server_text)
        .map_err(|e| problems.push(format!("Calendar server address: {}", e.problem())))
        .ok();
    let credentials = CalendarCredentials::parse(
        form.username.as_deref(),
        form.password.as_deref(),
        form.token.as_deref(),
    )
    .map_err(|e| problems.push(format!("Sign-in: {}", e.problem())))
    .ok();
    let (Some(server), Some(credentials)) = (server, credentials) else {
        return refused(problems);
    };
    let found = match state
        .outside_calendar
        .find_calendars(&server, &credentials)
        .await
    {
        Ok(found) => found,
        Err(problem) => {
            tracing::info!(
                tenant = %ctx.tenant.id,
                provider = %p.id,
                host = server.host(),
                problem = problem.kind(),
                "calendar discovery failed"
            );
            return refused(vec![discovery_words(&problem)]);
        }
    };
    let found: Vec<FoundCalendar> = found.into_iter().take(MOST_FOUND).collect();
    if found.is_empty() {
        return refused(vec![
            "The server accepted the sign-in but shows no calendars for it. Create a calendar \
             there first, or check the username."
                .into(),
        ]);
    }
    let (username, password, token) = match &credentials {
        CalendarCredentials::Password { username, password } => (
            Some(username.clone()),
            Some(password.expose().to_owned()),
            None,
        ),
        CalendarCredentials::Token(t) => (None, None, Some(t.expose().to_owned())),
    };
    let now = state.clock.now();
    let note = Discovery {
        tenant: *ctx.tenant.id.as_uuid(),
        calendar: *p.id.as_uuid(),
        expires: now.as_second() + DISCOVERY_MINUTES * 60,
        username,
        password,
        token,
        found: found.iter().map(|f| f.url.as_str().to_owned()).collect(),
    };
    let plain = serde_json::to_vec(&note).map_err(|_| DashError::Internal)?;
    let sealed = state.config.master_key.seal_note(DISCOVERY, &plain);
    let mut choices = String::new();
    for (i, f) in found.iter().enumerate() {
        let name = f.name.as_deref().filter(|n| !n.trim().is_empty());
        let _ = write!(
            choices,
            "<label class=\"check\"><input type=\"radio\" name=\"calendar\" value=\"{url}\"{checked}> \
             {name} <small>{url}</small></label>",
            url = esc(f.url.as_str()),
            checked = if i == 0 { " checked" } else { "" },
            name = esc(name.unwrap_or("(no name)")),
        );
    }
    let body = format!(
        "<h1>Pick the calendar for {name}</h1>\
         <p>{n} found at {server}. Pick the one whose events are {name}'s busy times; \
         appointments booked by phone are added to it.</p>\
         <form method=\"post\" action=\"/app/providers/{id}/calendar/link\" class=\"settings\" id=\"calendar-pick\">{csrf}\
         <input type=\"hidden\" name=\"found\" value=\"{sealed}\">\
         <fieldset><legend>Calendars</legend>{choices}</fieldset>\
         <button type=\"submit\">Link this calendar</button></form>\
         <p><a href=\"/app/providers/{id}/calendar\">Start again</a> · <a href=\"/app/settings#calendars\">Back to Settings</a></p>",
        name = esc(p.name.as_str()),
        n = if found.len() == 1 {
            "One calendar".to_owned()
        } else {
            format!("{} calendars", found.len())
        },
        server = esc(server.host()),
        id = p.id,
        csrf = csrf_field(&ctx.session.csrf_token),
        sealed = esc(&sealed),
    );
    Ok(html_response(
        StatusCode::OK,
        page("Pick a calendar", Some(&ctx.frame("/app/settings")), &body),
    ))
}

#[derive(Deserialize)]
pub struct PickForm {
    csrf: Option<String>,
    found: Option<String>,
    calendar: Option<String>,
}

/// `POST /app/providers/{id}/calendar/link`: links the calendar picked from the list found.
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<PickForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let p = own_provider(&ctx.tenant, &path)?;
    let now = state.clock.now();
    let note: Option<Discovery> = form
        .found
        .as_deref()
        .and_then(|s| state.config.master_key.open_note(DISCOVERY, s))
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .filter(|d: &Discovery| {
            d.tenant == *ctx.tenant.id.as_uuid()
                && d.calendar == *p.id.as_uuid()
                && d.expires > now.as_second()
        });
    let again = |words: &str| {
        Ok(html_response(
            StatusCode::BAD_REQUEST,
            link_page(&ctx, &p, &problems_notice(&[words.to_owned()]), "", ""),
        ))
    };
    let Some(note) = note else {
        return again(
            "That list of calendars is too old or not for this provider. Enter the server and \
             sign-in again to find the calendars.",
        );
    };
    let chosen = form.calendar.as_deref().unwrap_or("").trim();
    let Some(url) = note
        .found
        .iter()
        .find(|u| u.as_str() == chosen)
        .and_then(|u| CalendarUrl::parse(u).ok())
    else {
        return again("Pick one of the calendars found.");
    };
    let Some(credentials) = note.credentials() else {
        return again("Enter the server and sign-in again to find the calendars.");
    };
    let link = CalendarLink {
        tenant: ctx.tenant.id,
        calendar: p.id,
        url,
        credentials,
        zone: ctx.tenant.config.zone.clone(),
    };
    state.calendars.link_calendar(&link, now).await?;
    tracing::info!(tenant = %ctx.tenant.id, provider = %p.id, host = link.url.host(), "calendar linked from the dashboard");
    Ok(see_other("/app/settings?saved=1#calendars"))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

/// `POST /app/providers/{id}/calendar/unlink`.
pub async fn unlink(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let p = own_provider(&ctx.tenant, &path)?;
    state.calendars.unlink_calendar(ctx.tenant.id, p.id).await?;
    tracing::info!(tenant = %ctx.tenant.id, provider = %p.id, "calendar unlinked from the dashboard");
    Ok(see_other("/app/settings?saved=1#calendars"))
}

// ---------------------------------------------------------------------------------------------
// Feeds

#[derive(Deserialize)]
pub struct FeedForm {
    csrf: Option<String>,
    scope: Option<String>,
}

/// The feed a form names: the clinic's, or one of this clinic's providers' (404 otherwise).
fn scope_of(t: &Tenant, raw: Option<&str>) -> Result<(FeedScope, String), DashError> {
    match raw.map(str::trim) {
        Some("clinic") => Ok((FeedScope::Clinic, "every provider".to_owned())),
        Some(raw) => {
            let p = own_provider(t, raw)?;
            Ok((FeedScope::Provider(p.id), p.name.to_string()))
        }
        None => Err(DashError::NotFound),
    }
}

/// `POST /app/feeds`: a new secret for a feed (replacing the old one); its URL is shown once.
pub async fn make_feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<FeedForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let (scope, whose) = scope_of(&ctx.tenant, form.scope.as_deref())?;
    let token = LinkToken::generate(state.random.as_ref());
    state
        .feeds
        .replace_feed(ctx.tenant.id, scope, &token.hash(), state.clock.now())
        .await?;
    tracing::info!(tenant = %ctx.tenant.id, "calendar feed made from the dashboard");
    let url = format!(
        "{}/feeds/{}.ics",
        state.config.public_base_url.trim_end_matches('/'),
        token.expose()
    );
    let body = format!(
        "<h1>The calendar feed of {whose}</h1>\
         <p class=\"notice ok\" role=\"status\">Copy this address now: it is shown only once. \
         If you lose it, make a new one (this one then stops working).</p>\
         <p><label>Feed address<input type=\"text\" readonly id=\"feed-url\" value=\"{url}\"></label></p>\
         <p>Add it to your calendar app as a subscription: in Google Calendar, <em>Other \
         calendars → From URL</em>; in Apple Calendar, <em>File → New Calendar \
         Subscription</em>; in Outlook, <em>Add calendar → Subscribe from web</em>. Apps refresh \
         it every few hours. Anyone with the address sees these appointments and callers' names: \
         keep it private.</p>\
         <p><a href=\"/app/settings#calendars\">Back to Settings</a></p>",
        whose = esc(&whose),
        url = esc(&url),
    );
    Ok(html_response(
        StatusCode::OK,
        page("Calendar feed", Some(&ctx.frame("/app/settings")), &body),
    ))
}

/// `POST /app/feeds/revoke`: the feed's URL stops working.
pub async fn revoke_feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<FeedForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let (scope, _) = scope_of(&ctx.tenant, form.scope.as_deref())?;
    state.feeds.revoke_feed(ctx.tenant.id, scope).await?;
    tracing::info!(tenant = %ctx.tenant.id, "calendar feed revoked from the dashboard");
    Ok(see_other("/app/settings?saved=1#calendars"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_health_has_a_label_in_words() {
        for (h, label) in [
            (SyncHealth::Waiting, "Waiting for the first sync"),
            (SyncHealth::Healthy, "Healthy"),
            (
                SyncHealth::Failing(CalendarProblem::Refused { status: 401 }),
                "Wrong password",
            ),
            (
                SyncHealth::Failing(CalendarProblem::Unreachable {
                    detail: "connection refused".into(),
                }),
                "Server unreachable",
            ),
        ] {
            assert_eq!(health_label(&h), label);
        }
    }

    #[test]
    fn a_discovery_without_one_kind_of_credentials_gives_none() {
        let mut d = Discovery {
            tenant: uuid::Uuid::nil(),
            calendar: uuid::Uuid::nil(),
            expires: 0,
            username: Some("ada".into()),
            password: Some("pw".into()),
            token: None,
            found: Vec::new(),
        };
        assert!(matches!(
            d.credentials(),
            Some(CalendarCredentials::Password { .. })
        ));
        d.token = Some("t".into());
        assert_eq!(d.credentials(), None);
    }
}
