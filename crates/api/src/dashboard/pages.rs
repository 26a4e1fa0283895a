//! Today, Appointments (list, cancel, reschedule, attended or no-show), Messages and Calls.

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::attendance::{Attendance, may_mark};
use booking_core::availability;
use booking_core::booking::{Booking, BookingStatus, Interval};
use booking_core::calls::CallRecord;
use booking_core::messages::local_time;
use booking_core::outbox::OutboundMessage;
use booking_core::provider::Provider;
use booking_core::service::{CancelOutcome, MarkOutcome, RescheduleOutcome};
use booking_core::start::SlotStart;
use booking_core::tenant::ClinicZone;
use booking_core::{BookingId, CallId, PhoneNumber};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::html::{csrf_field, esc, notice, page, tel_link};
use super::leads::lead_card;
use super::marks::Marks;
use super::owner_words::{attendance_label, attendance_notice, cancel_notice, reschedule_notice};
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

fn booking_card(ctx: &Ctx, b: &Booking, now: Timestamp, title: CardTitle, marks: &Marks) -> String {
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
    let attendance = marks
        .attendance
        .get(&b.id)
        .map(|a| {
            format!(
                " · <span class=\"attendance\">{}</span>",
                attendance_label(*a)
            )
        })
        .unwrap_or_default();
    format!(
        "<li class=\"card booking {status}\"><h3>{title}</h3>\
         <p><strong>{service}</strong> for {name}</p>\
         <p class=\"provider\">with {provider}</p>\
         <p>{phone}{no_shows} · <span class=\"status\">{status}</span>{attendance}</p>{conflict}</li>",
        status = status_label(b, now),
        provider = esc(&provider_name(ctx, b)),
        service = esc(b.service.as_str()),
        name = esc(&b.caller_name),
        phone = tel_link(b.caller_phone.as_str()),
        no_shows = marks.no_shows_of(&b.caller_phone),
        conflict = if marks.conflicts.contains(&b.id) {
            super::calendars::conflict_warning(&provider_name(ctx, b))
        } else {
            String::new()
        },
    )
}

/// The name of the provider a booking is with ("the clinic" for a calendar the clinic no longer
/// lists, which only a row older than providers could be in).
fn provider_name(ctx: &Ctx, b: &Booking) -> String {
    ctx.tenant
        .provider(b.calendar)
        .map_or_else(|| "the clinic".to_owned(), |p| p.name.to_string())
}

fn call_card(ctx: &Ctx, c: &CallRecord, marks: &Marks) -> String {
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
    let number = c.caller.as_ref().map_or_else(
        || "number withheld".to_owned(),
        |n| format!("{}{}", tel_link(n.as_str()), marks.no_shows_of(n)),
    );
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
    let date = zone.tz().to_datetime(now).date();
    let picture = super::day_view::day_view(&ctx.tenant, date, &bookings, now);
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
    let booked: Vec<&Booking> = bookings.iter().collect();
    let callers: Vec<&PhoneNumber> = todays.iter().filter_map(|c| c.caller.as_ref()).collect();
    let marks = Marks::load(&state, &ctx, &booked, &callers).await?;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Today, {}</h1>",
        esc(&date.strftime("%A %B %-d").to_string())
    );
    if let booking_core::tenant::SmsHealth::NeedsAttention { code, .. } = &ctx.tenant.sms_health {
        body.push_str(&notice("error", &explain_error(*code)));
    }
    if !marks.conflicts.is_empty() {
        body.push_str(&notice(
            "error",
            &format!(
                "{} of today's appointments overlap events in the providers' own calendars. \
                 Nothing was cancelled: see the warnings below.",
                marks.conflicts.len()
            ),
        ));
    }
    let _ = write!(
        body,
        "<section><h2>The day by provider</h2>{picture}</section>"
    );
    let _ = write!(
        body,
        "<section><h2>Appointments ({})</h2>{}</section>",
        bookings.len(),
        list(
            bookings
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked, &marks))
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
            todays.iter().map(|c| call_card(&ctx, c, &marks)).collect(),
            "No calls today yet."
        )
    );
    Ok(html_response(
        StatusCode::OK,
        page("Today", Some(&ctx.frame("/app")), &body),
    ))
}

#[derive(Deserialize)]
pub struct AppointmentsQuery {
    provider: Option<String>,
}

/// The provider filter of the appointments list: links, the chosen one marked.
fn provider_filter(ctx: &Ctx, chosen: Option<booking_core::provider::ProviderId>) -> String {
    let providers = ctx.tenant.providers();
    if providers.len() < 2 {
        return String::new();
    }
    let link = |href: String, label: &str, current: bool| {
        format!(
            "<li><a href=\"{}\"{}>{}</a></li>",
            esc(&href),
            if current {
                " aria-current=\"true\""
            } else {
                ""
            },
            esc(label)
        )
    };
    let mut out = String::from("<nav class=\"filter\" aria-label=\"Provider\"><ul>");
    out.push_str(&link(
        "/app/appointments".into(),
        "Everyone",
        chosen.is_none(),
    ));
    for p in &providers {
        let label = if p.is_active() {
            p.name.to_string()
        } else {
            format!("{} (retired)", p.name)
        };
        out.push_str(&link(
            format!("/app/appointments?provider={}", p.id),
            &label,
            chosen == Some(p.id),
        ));
    }
    out.push_str("</ul></nav>");
    out
}

pub async fn appointments(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AppointmentsQuery>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    // Another clinic's provider, or no provider at all, is not found.
    let chosen = match query.provider.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let id = raw.parse().map_err(|_| DashError::NotFound)?;
            Some(ctx.tenant.provider(id).ok_or(DashError::NotFound)?)
        }
    };
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
    if let Some(p) = &chosen {
        bookings.retain(|b| b.calendar == p.id);
    }
    bookings.sort_by_key(|b| b.slot.start);
    let (upcoming, past): (Vec<&Booking>, Vec<&Booking>) =
        bookings.iter().partition(|b| b.slot.end > now);
    let all: Vec<&Booking> = bookings.iter().collect();
    let marks = Marks::load(&state, &ctx, &all, &[]).await?;
    let body = format!(
        "<h1>Appointments{}</h1>{}<section><h2>Upcoming</h2>{}</section><section><h2>Last 7 days</h2>{}</section>",
        chosen
            .as_ref()
            .map(|p| format!(" with {}", esc(p.name.as_str())))
            .unwrap_or_default(),
        provider_filter(&ctx, chosen.as_ref().map(|p| p.id)),
        list(
            upcoming
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked, &marks))
                .collect(),
            "No upcoming appointments."
        ),
        list(
            past.iter()
                .rev()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked, &marks))
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

/// What the reschedule form offers: the start it shows and the providers it lists.
struct MoveChoices {
    /// The clinic's wall clock, as the date-time field takes it.
    start: String,
    /// Whether `providers` were checked free at `start` (else: those who perform the service).
    checked: bool,
    providers: Vec<Provider>,
}

/// The providers an appointment can be moved to: active, performing its service, and when a new
/// start is given, working then and with nothing booked over it (the booking being moved aside).
/// The move itself is checked again by the use-case and the database.
async fn move_choices(
    state: &AppState,
    ctx: &Ctx,
    b: &Booking,
    wanted: Option<&str>,
) -> Result<MoveChoices, DashError> {
    let cfg = &ctx.tenant.config;
    let now = state.clock.now();
    let mut providers: Vec<Provider> = ctx
        .tenant
        .providers()
        .into_iter()
        .filter(|p| p.offers(&b.service))
        .collect();
    let local_now = cfg.zone.tz().to_datetime(b.slot.start);
    let at = wanted
        .and_then(form_start)
        .and_then(|s| s.resolve(cfg.zone.tz()).ok());
    let Some(at) = at else {
        return Ok(MoveChoices {
            start: local_now.strftime("%Y-%m-%dT%H:%M").to_string(),
            checked: false,
            providers,
        });
    };
    let mut free = Vec::new();
    if let Some(svc) = cfg.service(b.service.as_str()) {
        for p in providers.drain(..) {
            let Ok(slot) = availability::slot_at(&p.schedule(cfg), svc, at, now) else {
                continue;
            };
            let taken = state
                .store
                .occupied(ctx.tenant.id, &[p.id], slot.blocked, now)
                .await?
                .iter()
                .any(|o| !(o.calendar == b.calendar && o.blocked == b.blocked));
            if !taken {
                free.push(p);
            }
        }
    }
    Ok(MoveChoices {
        start: cfg
            .zone
            .tz()
            .to_datetime(at)
            .strftime("%Y-%m-%dT%H:%M")
            .to_string(),
        checked: true,
        providers: free,
    })
}

fn provider_select(ctx: &Ctx, b: &Booking, choices: &MoveChoices) -> String {
    let mut out = format!(
        "<label>With<select name=\"provider\"><option value=\"\">{} (as now)</option>",
        esc(&provider_name(ctx, b))
    );
    for p in choices.providers.iter().filter(|p| p.id != b.calendar) {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            p.id,
            esc(p.name.as_str())
        );
    }
    out.push_str("</select>");
    out.push_str(if choices.checked {
        "<small>Listed: who performs this service and is free at the new start.</small></label>"
    } else {
        "<small>Listed: who performs this service. Pick the new start and check who is free.</small></label>"
    });
    out
}

fn appointment_page(
    ctx: &Ctx,
    b: &Booking,
    now: Timestamp,
    flash: &str,
    choices: &MoveChoices,
    marks: &Marks,
) -> HttpResponse {
    let zone = &ctx.tenant.config.zone;
    let mut body = format!(
        "<h1>Appointment</h1>{flash}<section><h2>When and with whom</h2><ul class=\"cards\">{}</ul></section>",
        booking_card(ctx, b, now, CardTitle::Plain, marks)
    );
    if may_mark(b, now).is_ok() {
        let current = marks.attendance.get(&b.id).copied();
        let button = |value: &str, label: &str, pressed: bool| {
            format!(
                "<button type=\"submit\" name=\"attendance\" value=\"{value}\" aria-pressed=\"{pressed}\">{label}</button>"
            )
        };
        let _ = write!(
            body,
            "<section><h2>Did they come?</h2><p>Now: {now_text}.</p>\
             <form method=\"post\" action=\"/app/appointments/{id}/attendance\" class=\"buttons\">{csrf}{attended}{no_show}{clear}</form></section>",
            now_text = current.map_or("not marked", attendance_label),
            id = b.id,
            csrf = csrf_field(&ctx.session.csrf_token),
            attended = button(
                "attended",
                "Attended",
                current == Some(Attendance::Attended)
            ),
            no_show = button("no_show", "No-show", current == Some(Attendance::NoShow)),
            clear = button("", "Clear the mark", current.is_none()),
        );
    }
    if b.effective_status(now) == BookingStatus::Confirmed && b.slot.start > now {
        let _ = write!(
            body,
            "<section><h2>Move it</h2>\
             <form method=\"post\" action=\"/app/appointments/{id}/reschedule\" id=\"reschedule\">{csrf}\
             <label>New start ({zone_name})<input type=\"datetime-local\" name=\"new_start\" required value=\"{value}\"></label>\
             {select}\
             <button type=\"submit\">Reschedule and text the caller</button>\
             <button type=\"submit\" formmethod=\"get\" formaction=\"/app/appointments/{id}\" class=\"secondary\" name=\"check\" value=\"1\">Check who is free then</button></form></section>\
             <section><h2>Cancel it</h2>\
             <form method=\"post\" action=\"/app/appointments/{id}/cancel\">{csrf}\
             <button type=\"submit\" class=\"danger\" hx-confirm=\"Cancel this appointment and text the caller?\">Cancel and text the caller</button></form></section>",
            id = b.id,
            csrf = csrf_field(&ctx.session.csrf_token),
            zone_name = esc(zone.name()),
            value = esc(&choices.start),
            select = provider_select(ctx, b, choices),
        );
    }
    html_response(
        StatusCode::OK,
        page("Appointment", Some(&ctx.frame("/app/appointments")), &body),
    )
}

/// An appointment's page after a look or an action: the booking as it is now, the providers the
/// move form offers (free at `wanted`, when given) and its attendance marks.
async fn show_appointment(
    state: &AppState,
    ctx: &Ctx,
    id: BookingId,
    wanted: Option<&str>,
    flash: &str,
) -> Result<HttpResponse, DashError> {
    let b = state
        .store
        .booking(ctx.tenant.id, id)
        .await?
        .ok_or(DashError::NotFound)?;
    let choices = move_choices(state, ctx, &b, wanted).await?;
    let marks = Marks::load(state, ctx, &[&b], &[]).await?;
    Ok(appointment_page(
        ctx,
        &b,
        state.clock.now(),
        flash,
        &choices,
        &marks,
    ))
}

#[derive(Deserialize)]
pub struct AppointmentQuery {
    new_start: Option<String>,
}

pub async fn appointment(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AppointmentQuery>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let id = booking_id(&path)?;
    show_appointment(&state, &ctx, id, query.new_start.as_deref(), "").await
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
    show_appointment(&state, &ctx, id, None, &notice(kind.as_str(), &said)).await
}

#[derive(Deserialize)]
pub struct AttendanceForm {
    csrf: Option<String>,
    /// `attended`, `no_show`, or empty to clear the mark.
    #[serde(default)]
    attendance: String,
}

pub async fn attendance(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<AttendanceForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    let id = booking_id(&path)?;
    let mark = match form.attendance.trim() {
        "" => None,
        raw => Some(Attendance::parse(raw).ok_or_else(|| {
            DashError::BadRequest("Choose attended, no-show or clear the mark.".into())
        })?),
    };
    let outcome = state.service.mark_attendance(&ctx.tenant, id, mark).await?;
    if outcome == MarkOutcome::NotFound {
        return Err(DashError::NotFound);
    }
    let (kind, said) = attendance_notice(outcome);
    show_appointment(&state, &ctx, id, None, &notice(kind.as_str(), &said)).await
}

#[derive(Deserialize)]
pub struct RescheduleForm {
    csrf: Option<String>,
    #[serde(default)]
    new_start: String,
    /// The provider to move it to; empty or absent: the one it is with.
    #[serde(default)]
    provider: String,
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
    // Another clinic's provider (or not an id at all) is not found, and nothing moves.
    let provider = match form.provider.trim() {
        "" => None,
        raw => {
            let id = raw.parse().map_err(|_| DashError::NotFound)?;
            Some(ctx.tenant.provider(id).ok_or(DashError::NotFound)?.id)
        }
    };
    let Some(new_start) = form_start(&form.new_start) else {
        return show_appointment(
            &state,
            &ctx,
            id,
            None,
            &notice(
                "error",
                "That is not a date and time; pick the new start in the date-time field.",
            ),
        )
        .await;
    };
    let outcome = state
        .service
        .reschedule_booking_for_owner(&ctx.tenant, id, &new_start, provider)
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
    show_appointment(&state, &ctx, shown, None, &notice(kind.as_str(), &said)).await
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
        "<h1>Messages</h1><section><h2>Every text, the newest first, with what happened to it</h2>{}</section>",
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
    let calls = state.store.list_calls(ctx.tenant.id, 200).await?;
    let callers: Vec<&PhoneNumber> = calls.iter().filter_map(|c| c.caller.as_ref()).collect();
    let marks = Marks::load(&state, &ctx, &[], &callers).await?;
    let items: Vec<String> = calls.iter().map(|c| call_card(&ctx, c, &marks)).collect();
    let body = format!(
        "<h1>Calls</h1><section><h2>The newest first</h2>{}</section>",
        list(items, "No calls yet.")
    );
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
    let booked = state.store.bookings_for_call(ctx.tenant.id, &id).await?;
    let booked_refs: Vec<&Booking> = booked.iter().collect();
    let callers: Vec<&PhoneNumber> = c.caller.iter().collect();
    let marks = Marks::load(&state, &ctx, &booked_refs, &callers).await?;
    let mut body = format!(
        "<h1>Call</h1><section><h2>Who called, and when</h2><ul class=\"cards\">{}</ul></section>",
        call_card(&ctx, &c, &marks)
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
    let now = state.clock.now();
    let _ = write!(
        body,
        "<section><h2>Booked during the call</h2>{}</section>",
        list(
            booked
                .iter()
                .map(|b| booking_card(&ctx, b, now, CardTitle::Linked, &marks))
                .collect(),
            "Nothing."
        )
    );
    Ok(html_response(
        StatusCode::OK,
        page("Call", Some(&ctx.frame("/app/calls")), &body),
    ))
}
