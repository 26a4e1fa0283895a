//! Today, Appointments (list, cancel, reschedule), Messages and Calls.

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::booking::{Booking, BookingStatus, Interval};
use booking_core::calls::CallRecord;
use booking_core::messages::local_time;
use booking_core::outbox::OutboundMessage;
use booking_core::service::{CancelOutcome, RescheduleOutcome};
use booking_core::start::SlotStart;
use booking_core::tenant::ClinicZone;
use booking_core::{BookingId, CallId};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::html::{csrf_field, esc, notice, page, tel_link};
use super::leads::lead_card;
use super::owner_words::{cancel_notice, reschedule_notice};
use super::respond::{DashError, html_response};
use super::session::{Ctx, signed_in, signed_in_post};
use super::twilio_errors::{explain_error, explain_status};
use crate::state::AppState;

/// From the start of the clinic's day `from_days` away to the start of the day `to_days` away.
pub(super) fn days(zone: &ClinicZone, now: Timestamp, from_days: i64, to_days: i64) -> Interval {
    let start_of = |d: i64| {
        now.to_zoned_datetime(zone.tz().clone())
            .checked_add(SignedDuration::from_hours(24 * d))
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp())
            .unwrap_or(now)
    };
    let (a, b) = (start_of(from_days), start_of(to_days));
    Interval::new(a, b).unwrap_or_else(|| {
        Interval::new(now, now + SignedDuration::from_hours(24)).expect("a day is an interval")
    })
}

pub(super) fn duration_text(secs: Option<u32>) -> String {
    match secs {
        None => "unknown length".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) => format!("{} min {} s", s / 60, s % 60),
    }
}

fn status_label(b: &Booking, now: Timestamp) -> &'static str {
    b.effective_status(now).as_str()
}

/// Whether a booking card's title links to the appointment's own page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CardTitle {
    Linked,
    Plain,
}

fn booking_card(ctx: &Ctx, b: &Booking, now: Timestamp, title: CardTitle) -> String {
    let zone = &ctx.tenant.config.zone;
    let title = if title == CardTitle::Linked {
        format!(
            "<a href=\"/app/appointments/{}\">{}</a>",
            b.id,
            esc(&local_time(zone, b.slot.start))
        )
    } else {
        esc(&local_time(zone, b.slot.start))
    };
    format!(
        "<li class=\"card booking {status}\"><h3>{title}</h3>\
         <p><strong>{service}</strong> for {name}</p>\
         <p>{phone} · <span class=\"status\">{status}</span></p></li>",
        status = status_label(b, now),
        service = esc(b.service.as_str()),
        name = esc(&b.caller_name),
        phone = tel_link(b.caller_phone.as_str()),
    )
}

fn call_card(ctx: &Ctx, c: &CallRecord) -> String {
    let zone = &ctx.tenant.config.zone;
    let when = c
        .started_at
        .map(|t| local_time(zone, t))
        .unwrap_or_else(|| "time unknown".into());
    let who = c
        .lead
        .caller_name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("Caller");
    let number = c
        .caller
        .as_ref()
        .map_or_else(|| "number withheld".to_owned(), |n| tel_link(n.as_str()));
    let score = match &c.score {
        Some(s) if c.hot_lead => format!("<span class=\"score hot\">{} · hot lead</span>", s.total),
        Some(s) => format!("<span class=\"score\">{}</span>", s.total),
        None => "<span class=\"score\">not scored yet</span>".into(),
    };
    let summary = c
        .summary
        .as_deref()
        .map(|s| format!("<p class=\"summary\">{}</p>", esc(s)))
        .unwrap_or_default();
    format!(
        "<li class=\"card call\"><h3><a href=\"/app/calls/{id}\">{when}</a></h3>\
         <p>{who} · {number}</p><p>{duration} · score {score}</p>{summary}</li>",
        id = esc(c.call_id.as_str()),
        when = esc(&when),
        who = esc(who),
        duration = duration_text(c.duration_seconds),
    )
}

fn message_card(ctx: &Ctx, m: &OutboundMessage) -> String {
    let zone = &ctx.tenant.config.zone;
    let error = match (m.error_code, m.error_message.as_deref()) {
        (Some(code), _) => format!("<p class=\"error\">{}</p>", esc(&explain_error(code))),
        (None, Some(msg)) if !msg.is_empty() => {
            format!("<p class=\"error\">{}</p>", esc(msg))
        }
        _ => String::new(),
    };
    format!(
        "<li class=\"card message {status}\"><h3>{kind} to {to}</h3>\
         <p><span class=\"status\">{status}</span>: {explained}</p>{error}\
         <p class=\"body\">{body}</p><p class=\"meta\">{when}{sid}</p></li>",
        status = m.status.as_str(),
        kind = esc(&m.kind.as_str().replace('_', " ")),
        to = esc(m.to.as_str()),
        explained = esc(explain_status(m.status)),
        body = esc(&m.body),
        when = esc(&local_time(zone, m.created_at)),
        sid = m
            .twilio_sid
            .as_ref()
            .map(|s| format!(" · {}", esc(&s.to_string())))
            .unwrap_or_default(),
    )
}

fn list(items: Vec<String>, empty: &str) -> String {
    if items.is_empty() {
        format!("<p class=\"empty\">{}</p>", esc(empty))
    } else {
        format!("<ul class=\"cards\">{}</ul>", items.concat())
    }
}

pub async fn today(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let zone = &ctx.tenant.config.zone;
    let window = days(zone, now, 0, 1);
    let mut bookings = state.store.list_bookings(ctx.tenant.id, window).await?;
    bookings.retain(|b| b.effective_status(now) == BookingStatus::Confirmed);
    bookings.sort_by_key(|b| b.slot.start);
    let calls = state.store.list_calls(ctx.tenant.id, 200).await?;
    let todays: Vec<&CallRecord> = calls
        .iter()
        .filter(|c| {
            c.started_at
                .or(c.report_received_at)
                .is_some_and(|t| window.contains(t))
        })
        .collect();
    let hot: Vec<String> = todays
        .iter()
        .filter(|c| c.hot_lead)
        .map(|c| lead_card(zone, c))
        .collect();
    let mut body = String::new();
    let date = zone.tz().to_datetime(now).date();
    let _ = write!(
        body,
        "<h1>Today, {}</h1>",
        esc(&date.strftime("%A %B %-d").to_string())
    );
    if let booking_core::tenant::SmsHealth::NeedsAttention { code, .. } = &ctx.tenant.sms_health {
        body.push_str(&notice("error", &explain_error(*code)));
    }
    let _ = write!(
        body,
        "<section><h2>Appointments ({})</h2>{}</section>",
        bookings.len(),
        list(
            bookings
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked))
                .collect(),
            "No appointments today."
        )
    );
    let _ = write!(
        body,
        "<section><h2>Hot leads ({})</h2>{}</section>",
        hot.len(),
        list(hot, "No hot leads today yet.")
    );
    let _ = write!(
        body,
        "<section><h2>Calls ({})</h2>{}</section>",
        todays.len(),
        list(
            todays.iter().map(|c| call_card(&ctx, c)).collect(),
            "No calls today yet."
        )
    );
    Ok(html_response(
        StatusCode::OK,
        page("Today", Some(&ctx.frame("/app")), &body),
    ))
}

pub async fn appointments(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let zone = &ctx.tenant.config.zone;
    let horizon = i64::from(ctx.tenant.config.rules.horizon_days.max(1)) + 1;
    let mut bookings = state
        .store
        .list_bookings(ctx.tenant.id, days(zone, now, -7, horizon))
        .await?;
    bookings.retain(|b| {
        matches!(
            b.effective_status(now),
            BookingStatus::Confirmed | BookingStatus::Cancelled
        )
    });
    bookings.sort_by_key(|b| b.slot.start);
    let (upcoming, past): (Vec<&Booking>, Vec<&Booking>) =
        bookings.iter().partition(|b| b.slot.end > now);
    let body = format!(
        "<h1>Appointments</h1><section><h2>Upcoming</h2>{}</section><section><h2>Last 7 days</h2>{}</section>",
        list(
            upcoming
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked))
                .collect(),
            "No upcoming appointments."
        ),
        list(
            past.iter()
                .rev()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked))
                .collect(),
            "None."
        ),
    );
    Ok(html_response(
        StatusCode::OK,
        page("Appointments", Some(&ctx.frame("/app/appointments")), &body),
    ))
}

fn booking_id(raw: &str) -> Result<BookingId, DashError> {
    raw.parse().map_err(|_| DashError::NotFound)
}

fn appointment_page(ctx: &Ctx, b: &Booking, now: Timestamp, flash: &str) -> HttpResponse {
    let zone = &ctx.tenant.config.zone;
    let mut body = format!(
        "<h1>Appointment</h1>{flash}<ul class=\"cards\">{}</ul>",
        booking_card(ctx, b, now, CardTitle::Plain)
    );
    if b.effective_status(now) == BookingStatus::Confirmed && b.slot.start > now {
        let local = zone.tz().to_datetime(b.slot.start);
        let _ = write!(
            body,
            "<section><h2>Move it</h2>\
             <form method=\"post\" action=\"/app/appointments/{id}/reschedule\">{csrf}\
             <label>New start ({zone_name})<input type=\"datetime-local\" name=\"new_start\" required value=\"{value}\"></label>\
             <button type=\"submit\">Reschedule and text the caller</button></form></section>\
             <section><h2>Cancel it</h2>\
             <form method=\"post\" action=\"/app/appointments/{id}/cancel\">{csrf}\
             <button type=\"submit\" class=\"danger\" hx-confirm=\"Cancel this appointment and text the caller?\">Cancel and text the caller</button></form></section>",
            id = b.id,
            csrf = csrf_field(&ctx.session.csrf_token),
            zone_name = esc(zone.name()),
            value = esc(&local.strftime("%Y-%m-%dT%H:%M").to_string()),
        );
    }
    html_response(
        StatusCode::OK,
        page("Appointment", Some(&ctx.frame("/app/appointments")), &body),
    )
}

pub async fn appointment(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let id = booking_id(&path)?;
    let b = state
        .store
        .booking(ctx.tenant.id, id)
        .await?
        .ok_or(DashError::NotFound)?;
    Ok(appointment_page(&ctx, &b, state.clock.now(), ""))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let id = booking_id(&path)?;
    let outcome = state
        .service
        .cancel_booking_for_owner(&ctx.tenant, id)
        .await?;
    if matches!(outcome, CancelOutcome::NotFound { .. }) {
        return Err(DashError::NotFound);
    }
    state.wake_worker();
    let (kind, said) = cancel_notice(&ctx.tenant.config.zone, &outcome);
    let b = state
        .store
        .booking(ctx.tenant.id, id)
        .await?
        .ok_or(DashError::NotFound)?;
    Ok(appointment_page(
        &ctx,
        &b,
        state.clock.now(),
        &notice(kind.as_str(), &said),
    ))
}

#[derive(Deserialize)]
pub struct RescheduleForm {
    csrf: Option<String>,
    #[serde(default)]
    new_start: String,
}

/// The form's new start: the clinic's wall clock as the date-time field sends it
/// ("2026-11-26T14:00"), or an exact instant. The domain reads a wall-clock time on a day the
/// clocks change ([`SlotStart::resolve`]), the same way as for the phone.
fn form_start(s: &str) -> Option<SlotStart> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(SlotStart::Exact(t));
    }
    s.replacen(' ', "T", 1)
        .parse::<jiff::civil::DateTime>()
        .ok()
        .map(SlotStart::Local)
}

pub async fn reschedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<RescheduleForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let id = booking_id(&path)?;
    let Some(new_start) = form_start(&form.new_start) else {
        let b = state
            .store
            .booking(ctx.tenant.id, id)
            .await?
            .ok_or(DashError::NotFound)?;
        return Ok(appointment_page(
            &ctx,
            &b,
            state.clock.now(),
            &notice(
                "error",
                "That is not a date and time; pick the new start in the date-time field.",
            ),
        ));
    };
    let outcome = state
        .service
        .reschedule_booking_for_owner(&ctx.tenant, id, &new_start)
        .await?;
    let shown = match &outcome {
        RescheduleOutcome::NotFound { .. } => return Err(DashError::NotFound),
        RescheduleOutcome::Rescheduled { appointment_id, .. } => {
            state.wake_worker();
            *appointment_id
        }
        _ => id,
    };
    let (kind, said) = reschedule_notice(&ctx.tenant.config.zone, &outcome);
    let b = state
        .store
        .booking(ctx.tenant.id, shown)
        .await?
        .ok_or(DashError::NotFound)?;
    Ok(appointment_page(
        &ctx,
        &b,
        state.clock.now(),
        &notice(kind.as_str(), &said),
    ))
}

pub async fn messages(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let list_items: Vec<String> = state
        .store
        .list_messages(ctx.tenant.id, 200)
        .await?
        .iter()
        .map(|m| message_card(&ctx, m))
        .collect();
    let body = format!(
        "<h1>Messages</h1><p>Every text, newest first, with what happened to it.</p>{}",
        list(list_items, "No texts yet.")
    );
    Ok(html_response(
        StatusCode::OK,
        page("Messages", Some(&ctx.frame("/app/messages")), &body),
    ))
}

pub async fn calls(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let items: Vec<String> = state
        .store
        .list_calls(ctx.tenant.id, 200)
        .await?
        .iter()
        .map(|c| call_card(&ctx, c))
        .collect();
    let body = format!("<h1>Calls</h1>{}", list(items, "No calls yet."));
    Ok(html_response(
        StatusCode::OK,
        page("Calls", Some(&ctx.frame("/app/calls")), &body),
    ))
}

pub async fn call(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let id = CallId::parse(&path).map_err(|_| DashError::NotFound)?;
    let c = state
        .store
        .call(ctx.tenant.id, &id)
        .await?
        .ok_or(DashError::NotFound)?;
    let zone = &ctx.tenant.config.zone;
    let mut body = format!(
        "<h1>Call</h1><ul class=\"cards\">{}</ul>",
        call_card(&ctx, &c)
    );
    if c.score.is_some() {
        let _ = write!(
            body,
            "<section><h2>Score</h2><ul class=\"cards\">{}</ul></section>",
            lead_card(zone, &c)
        );
    }
    let lead = &c.lead;
    let _ = write!(
        body,
        "<section><h2>What the assistant noted</h2><dl>\
         <dt>Name</dt><dd>{}</dd><dt>Interested in</dt><dd>{}</dd>\
         <dt>Wants a call back</dt><dd>{}</dd><dt>Notes</dt><dd>{}</dd><dt>Ended</dt><dd>{}</dd></dl></section>",
        esc(lead.caller_name.as_deref().unwrap_or("—")),
        esc(lead.service_interest.as_deref().unwrap_or("—")),
        match lead.wants_callback {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        },
        esc(lead.notes.as_deref().unwrap_or("—")),
        esc(c.ended_reason.as_deref().unwrap_or("—")),
    );
    let booked = state.store.bookings_for_call(ctx.tenant.id, &id).await?;
    let now = state.clock.now();
    let _ = write!(
        body,
        "<section><h2>Booked during the call</h2>{}</section>",
        list(
            booked
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked))
                .collect(),
            "Nothing."
        )
    );
    Ok(html_response(
        StatusCode::OK,
        page("Call", Some(&ctx.frame("/app/calls")), &body),
    ))
}
