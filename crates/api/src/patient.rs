//! The patient's page behind the link in their texts (`/a/{token}`): server-rendered HTML that
//! works without JavaScript and reads on a small phone. It shows the appointment and offers
//! Cancel (after a confirm step), Reschedule (free times from a list) and "Add to my calendar"
//! (an .ics file). Every change is a use-case of `BookingService` (`cancel_by_link`,
//! `reschedule_by_link`): the same rules, texts and constraint as the phone.
//!
//! The token names the clinic and the appointment; an unknown, expired or revoked one gets the
//! same polite 404 as a malformed one. Each form carries a token bound to the link (an HMAC of
//! it under the OTP key) and must come from our origin; a POST without them changes nothing.
//! Pages are never cached, never framed and send a Referer to our own origin only (the URL is the
//! secret; a form POST from a page with no referrer at all would carry `Origin: null`).

use std::fmt::Write;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::link_token::LinkToken;
use booking_core::messages::local_time;
use booking_core::patient_link::LINK_PATH;
use booking_core::provider::ProviderId;
use booking_core::service::{
    CancelOutcome, LinkRefusal, LinkState, LinkedAppointment, ProviderChoice, RescheduleOutcome,
    RescheduleRefusal,
};
use booking_core::start::SlotStart;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use sha2::Sha256;

use crate::dashboard::{client_address, esc};
use crate::state::AppState;

/// The page's own styles: system fonts, one column, large tap targets.
static PATIENT_CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#f6f7f9}\
header,main,footer{max-width:36rem;margin:0 auto;padding:1rem}\
header{background:#1f4e79;color:#fff;max-width:none}\
header p{margin:0 auto;max-width:34rem;font-weight:600}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}\
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}\
dl{background:#fff;border:1px solid #c9ced6;border-radius:.5rem;padding:1rem;margin:0}\
dt{font-weight:600;color:#374151}dd{margin:0 0 .75rem}\
a{color:#0b57a3}\
.button,button{display:block;width:100%;min-height:3rem;margin:.75rem 0;padding:.75rem 1rem;\
border-radius:.5rem;border:2px solid #0b57a3;background:#0b57a3;color:#fff;font:inherit;\
font-weight:600;text-align:center;text-decoration:none}\
.button.secondary,button.secondary{background:#fff;color:#0b57a3}\
button.danger{background:#a61b1b;border-color:#a61b1b}\
fieldset{border:1px solid #c9ced6;border-radius:.5rem;background:#fff;margin:0;padding:.5rem 1rem}\
legend{font-weight:600;padding:0 .25rem}\
.choice{display:flex;gap:.75rem;align-items:center;min-height:3rem;border-bottom:1px solid #e5e7eb}\
.choice:last-child{border-bottom:0}.choice input{width:1.25rem;height:1.25rem}\
.notice{background:#fff7e0;border:1px solid #b7791f;border-radius:.5rem;padding:.75rem 1rem}\
.notice.ok{background:#e8f5ec;border-color:#2f7d4a}\
nav ul{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}\
footer{color:#4b5563;font-size:.9rem}";

const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/a/patient.css", web::get().to(css))
        .route("/a/{token}", web::get().to(show))
        .route("/a/{token}/cancel", web::get().to(confirm_cancel))
        .route("/a/{token}/cancel", web::post().to(cancel))
        .route("/a/{token}/move", web::get().to(move_page))
        .route("/a/{token}/move", web::post().to(move_post))
        .route("/a/{token}/calendar.ics", web::get().to(ics));
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(PATIENT_CSS)
}

fn html(status: StatusCode, title: &str, clinic: Option<&str>, body: &str) -> HttpResponse {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/a/patient.css\"></head><body>\
         <header><p>{clinic}</p></header><main>{body}</main></body></html>",
        title = esc(title),
        clinic = esc(clinic.unwrap_or("Your appointment")),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(out)
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        "Link not found",
        None,
        "<h1>This link does not work</h1>\
         <p>We could not find an appointment for this link. It may have expired after the \
         appointment, or the appointment was moved: the newest text from your clinic has the \
         current link.</p><p>To change an appointment, please call your clinic.</p>",
    )
}

fn unavailable() -> HttpResponse {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again soon",
        None,
        "<h1>Something went wrong on our side</h1>\
         <p>Nothing was changed. Please try again in a few minutes, or call your clinic.</p>",
    )
}

fn too_many(linked: Option<&LinkedAppointment>) -> HttpResponse {
    let mut body = String::from(
        "<h1>Please wait a while</h1><p>There have been too many tries from here. Nothing was \
         changed. Please try again in an hour",
    );
    body.push_str(&call_clinic(linked, ", or call the clinic"));
    body.push_str(".</p>");
    html(
        StatusCode::TOO_MANY_REQUESTS,
        "Please wait",
        linked.map(|l| l.tenant.config.name.as_str()),
        &body,
    )
}

/// ", or call the clinic at <tel link>", or `fallback` without a number.
fn call_clinic(linked: Option<&LinkedAppointment>, fallback: &str) -> String {
    match linked.and_then(|l| l.tenant.config.contact_number()) {
        Some(n) => format!(
            ", or call the clinic at <a href=\"tel:{n}\">{n}</a>",
            n = esc(n.as_str())
        ),
        None => fallback.to_owned(),
    }
}

/// The token from the path, or `None` (a 404) when it has not the shape of one.
fn token_of(path: &web::Path<String>) -> Option<LinkToken> {
    LinkToken::from_presented(path.as_str())
}

/// The form token of a link's page: an HMAC of the link under the OTP key.
fn form_token(state: &AppState, token: &LinkToken) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(state.config.otp_key.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"patient-link-form:");
    mac.update(token.expose().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn form_field(state: &AppState, token: &LinkToken) -> String {
    format!(
        "<input type=\"hidden\" name=\"form\" value=\"{}\">",
        form_token(state, token)
    )
}

/// The form token matches and the request comes from our origin (when the browser says).
fn form_ok(state: &AppState, req: &HttpRequest, token: &LinkToken, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = form_token(state, token);
    let same = expected.as_bytes().ct_eq(sent.as_bytes()).into();
    same && crate::dashboard::session::check_origin(req, &state.config.public_base_url).is_ok()
}

fn forbidden() -> HttpResponse {
    html(
        StatusCode::FORBIDDEN,
        "Not accepted",
        None,
        "<h1>This form was not accepted</h1><p>Nothing was changed. Please open the link from \
         your text again and try once more.</p>",
    )
}

fn base(token: &LinkToken) -> String {
    format!("{LINK_PATH}{}", token.expose())
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .finish()
}

fn when(l: &LinkedAppointment, at: Timestamp) -> String {
    local_time(&l.tenant.config.zone, at)
}

/// The appointment as a description list.
fn details(l: &LinkedAppointment) -> String {
    let mut out = String::from("<dl>");
    let _ = write!(
        out,
        "<dt>When</dt><dd>{}</dd><dt>What</dt><dd>{}</dd>",
        esc(&when(l, l.booking.slot.start)),
        esc(l.booking.service.as_str())
    );
    if let Some(p) = &l.provider {
        let _ = write!(out, "<dt>With</dt><dd>{}</dd>", esc(p.as_str()));
    }
    let _ = write!(
        out,
        "<dt>Where</dt><dd>{}</dd>",
        esc(l.tenant.config.name.as_str())
    );
    out.push_str("</dl>");
    out
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    let linked = match state.service.open_link(&token).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(),
        Err(_) => return unavailable(),
    };
    let base = base(&token);
    let mut body = String::new();
    let title = match linked.state {
        LinkState::Cancelled => "Appointment cancelled",
        _ => "Your appointment",
    };
    let _ = write!(body, "<h1>{title}</h1>");
    match q.done.as_deref() {
        Some("cancelled") => body.push_str(
            "<p class=\"notice ok\" role=\"status\">Your appointment is cancelled. We have \
             texted you too.</p>",
        ),
        Some("moved") => body.push_str(
            "<p class=\"notice ok\" role=\"status\">Your appointment has moved. We have texted \
             you the new time and this page's new link.</p>",
        ),
        _ => {}
    }
    body.push_str(&details(&linked));
    match linked.state {
        LinkState::Changeable => {
            let _ = write!(
                body,
                "<h2>Change your appointment</h2>\
                 <a class=\"button\" href=\"{base}/move\">Choose another time</a>\
                 <a class=\"button secondary\" href=\"{base}/cancel\">Cancel appointment</a>\
                 <h2>Your calendar</h2>\
                 <a class=\"button secondary\" href=\"{base}/calendar.ics\" download>Add to my calendar</a>"
            );
        }
        LinkState::InsideNotice => {
            let hours = notice_words(linked.tenant.config.rules.link_notice_minutes);
            let _ = write!(
                body,
                "<h2>Change your appointment</h2><p class=\"notice\">Your appointment is less \
                 than {hours} away, so it can no longer be changed here. To change or cancel \
                 it, please call the clinic{}.</p>\
                 <h2>Your calendar</h2>\
                 <a class=\"button secondary\" href=\"{base}/calendar.ics\" download>Add to my calendar</a>",
                call_clinic(Some(&linked), "").trim_start_matches(", or call the clinic")
            );
        }
        LinkState::Cancelled => {
            let _ = write!(
                body,
                "<p>This appointment is cancelled. To book a new time, please call the \
                 clinic{}.</p>",
                call_clinic(Some(&linked), "").trim_start_matches(", or call the clinic")
            );
        }
    }
    html(
        StatusCode::OK,
        title,
        Some(linked.tenant.config.name.as_str()),
        &body,
    )
}

/// "24 hours", "90 minutes", "2 days".
fn notice_words(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 && m >= 2880 => format!("{} days", m / 1440),
        m if m % 60 == 0 && m >= 60 => {
            let h = m / 60;
            format!("{h} hour{}", if h == 1 { "" } else { "s" })
        }
        m => format!("{m} minutes"),
    }
}

/// Opens a link for a page that changes something: 404 or the page that says why not.
async fn changeable(
    state: &AppState,
    token: &LinkToken,
) -> Result<LinkedAppointment, HttpResponse> {
    match state.service.open_link(token).await {
        Ok(Some(l)) if l.state == LinkState::Changeable => Ok(l),
        // The appointment's own page says why (too close, cancelled).
        Ok(Some(_)) => Err(see_other(&base(token))),
        Ok(None) => Err(not_found()),
        Err(_) => Err(unavailable()),
    }
}

async fn confirm_cancel(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    let linked = match changeable(&state, &token).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let base = base(&token);
    let body = format!(
        "<h1>Cancel this appointment?</h1>{details}\
         <form method=\"post\" action=\"{base}/cancel\">{field}\
         <button type=\"submit\" class=\"danger\">Yes, cancel it</button></form>\
         <a class=\"button secondary\" href=\"{base}\">No, keep it</a>",
        details = details(&linked),
        field = form_field(&state, &token),
    );
    html(
        StatusCode::OK,
        "Cancel this appointment?",
        Some(linked.tenant.config.name.as_str()),
        &body,
    )
}

#[derive(Deserialize)]
struct FormToken {
    #[serde(default)]
    form: String,
}

async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<FormToken>,
) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    if !form_ok(&state, &req, &token, &form.form) {
        return forbidden();
    }
    let address = client_address(&req, state.config.trusted_proxy_hops);
    match state.service.cancel_by_link(&token, address.as_str()).await {
        Ok(Ok(CancelOutcome::Cancelled { .. })) => {
            state.wake_worker();
            see_other(&format!("{}?done=cancelled", base(&token)))
        }
        Ok(Ok(_)) | Ok(Err(LinkRefusal::Cancelled)) | Ok(Err(LinkRefusal::InsideNotice)) => {
            see_other(&base(&token))
        }
        Ok(Err(LinkRefusal::NotFound)) => not_found(),
        Ok(Err(LinkRefusal::TooMany)) => too_many(
            state
                .service
                .open_link(&token)
                .await
                .ok()
                .flatten()
                .as_ref(),
        ),
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct MoveQuery {
    from: Option<String>,
    with: Option<String>,
}

fn choice_of(with: Option<&str>) -> ProviderChoice {
    match with {
        Some("any") => ProviderChoice::Any,
        _ => ProviderChoice::Same,
    }
}

async fn move_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<MoveQuery>,
) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    let linked = match changeable(&state, &token).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let from = q.from.as_deref().and_then(|d| d.parse::<Date>().ok());
    let choice = choice_of(q.with.as_deref());
    move_form(&state, &token, &linked, from, choice, None).await
}

async fn move_form(
    state: &AppState,
    token: &LinkToken,
    linked: &LinkedAppointment,
    from: Option<Date>,
    choice: ProviderChoice,
    problem: Option<&str>,
) -> HttpResponse {
    let (options, next) = match state.service.move_options(linked, from, choice).await {
        Ok(found) => found,
        Err(_) => return unavailable(),
    };
    let base = base(token);
    let mut body = String::from("<h1>Choose another time</h1>");
    if let Some(p) = problem {
        let _ = write!(body, "<p class=\"notice\" role=\"alert\">{}</p>", esc(p));
    }
    let _ = write!(
        body,
        "<p>Now: {}</p>",
        esc(&when(linked, linked.booking.slot.start))
    );
    let several = linked.provider.is_some();
    if several {
        let (same, any) = match choice {
            ProviderChoice::Same => ("aria-current=\"true\"", ""),
            ProviderChoice::Any => ("", "aria-current=\"true\""),
        };
        let _ = write!(
            body,
            "<nav aria-label=\"Who with\"><ul>\
             <li><a href=\"{base}/move?with=same\" {same}>With {who} only</a></li>\
             <li><a href=\"{base}/move?with=any\" {any}>With anyone</a></li></ul></nav>",
            who = esc(linked.provider.as_ref().map_or("", |p| p.as_str())),
        );
    }
    let with = match choice {
        ProviderChoice::Same => "same",
        ProviderChoice::Any => "any",
    };
    if options.is_empty() {
        body.push_str("<p>There are no free times in these days.</p>");
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{base}/move\">{field}\
             <input type=\"hidden\" name=\"with\" value=\"{with}\">\
             <fieldset><legend>Free times</legend>",
            field = form_field(state, token)
        );
        for (i, o) in options.iter().enumerate() {
            let mut label = when(linked, o.start);
            if let Some(p) = &o.provider_name {
                let _ = write!(label, " with {}", p.as_str());
            }
            let _ = write!(
                body,
                "<div class=\"choice\"><input type=\"radio\" name=\"slot\" id=\"slot{i}\" \
                 value=\"{start}|{provider}\"{checked}><label for=\"slot{i}\">{label}</label></div>",
                start = o.start,
                provider = o.provider,
                checked = if i == 0 { " required" } else { "" },
                label = esc(&label),
            );
        }
        body.push_str("</fieldset><button type=\"submit\">Move my appointment</button></form>");
    }
    if let Some(next) = next {
        let _ = write!(
            body,
            "<a class=\"button secondary\" href=\"{base}/move?from={next}&amp;with={with}\">Later times</a>"
        );
    }
    let _ = write!(
        body,
        "<a class=\"button secondary\" href=\"{base}\">Keep my appointment</a>"
    );
    html(
        StatusCode::OK,
        "Choose another time",
        Some(linked.tenant.config.name.as_str()),
        &body,
    )
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    form: String,
    #[serde(default)]
    slot: String,
    with: Option<String>,
}

async fn move_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<MoveForm>,
) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    if !form_ok(&state, &req, &token, &form.form) {
        return forbidden();
    }
    let choice = choice_of(form.with.as_deref());
    let parsed = form.slot.split_once('|').and_then(|(start, provider)| {
        let start: Timestamp = start.parse().ok()?;
        let provider: ProviderId = provider
            .parse::<uuid::Uuid>()
            .ok()
            .map(ProviderId::from_uuid)?;
        Some((start, provider))
    });
    let Some((start, provider)) = parsed else {
        return match changeable(&state, &token).await {
            Ok(l) => {
                let mut r = move_form(
                    &state,
                    &token,
                    &l,
                    None,
                    choice,
                    Some("Please choose one of the times."),
                )
                .await;
                *r.status_mut() = StatusCode::BAD_REQUEST;
                r
            }
            Err(r) => r,
        };
    };
    let address = client_address(&req, state.config.trusted_proxy_hops);
    let moved = state
        .service
        .reschedule_by_link(
            &token,
            address.as_str(),
            &SlotStart::Exact(start),
            Some(provider),
        )
        .await;
    let problem = match moved {
        Ok(Ok(m)) => match m.outcome {
            RescheduleOutcome::Rescheduled { .. } => {
                state.wake_worker();
                let to = m.new_link.as_ref().unwrap_or(&token);
                return see_other(&format!("{}?done=moved", base(to)));
            }
            RescheduleOutcome::Taken { .. } => "That time was just taken. Please choose another.",
            RescheduleOutcome::Refused(RescheduleRefusal::SameTime) => {
                "That is the time you have already. Please choose another."
            }
            RescheduleOutcome::Refused(RescheduleRefusal::NotTheirService { .. }) => {
                "That time is no longer free. Please choose another."
            }
            RescheduleOutcome::Refused(RescheduleRefusal::NoLongerMovable) => {
                return see_other(&base(&token));
            }
            _ => "That time can no longer be booked. Please choose another.",
        },
        Ok(Err(LinkRefusal::NotFound)) => return not_found(),
        Ok(Err(LinkRefusal::TooMany)) => {
            return too_many(
                state
                    .service
                    .open_link(&token)
                    .await
                    .ok()
                    .flatten()
                    .as_ref(),
            );
        }
        Ok(Err(_)) => return see_other(&base(&token)),
        Err(_) => return unavailable(),
    };
    match changeable(&state, &token).await {
        Ok(l) => {
            let mut r = move_form(&state, &token, &l, None, choice, Some(problem)).await;
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(r) => r,
    }
}

async fn ics(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(token) = token_of(&path) else {
        return not_found();
    };
    let linked = match state.service.open_link(&token).await {
        Ok(Some(l)) if l.state != LinkState::Cancelled => l,
        Ok(_) => return not_found(),
        Err(_) => return unavailable(),
    };
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"appointment.ics\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(calendar_file(&linked, state.clock.now()))
}

/// One VEVENT for the appointment (RFC 5545), times in UTC.
fn calendar_file(l: &LinkedAppointment, now: Timestamp) -> String {
    let stamp = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    let clinic = l.tenant.config.name.as_str();
    let mut summary = format!("{} at {clinic}", l.booking.service.as_str());
    if let Some(p) = &l.provider {
        let _ = write!(summary, " with {}", p.as_str());
    }
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//receptionist//patient link//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@appointments", l.booking.id),
        format!("DTSTAMP:{}", stamp(now)),
        format!("DTSTART:{}", stamp(l.booking.slot.start)),
        format!("DTEND:{}", stamp(l.booking.slot.end)),
        format!("SUMMARY:{}", ical_text(&summary)),
        format!("LOCATION:{}", ical_text(clinic)),
    ];
    if let Some(n) = l.tenant.config.contact_number() {
        lines.push(format!(
            "DESCRIPTION:{}",
            ical_text(&format!("To change or cancel it, call {n}."))
        ));
    }
    lines.extend(["END:VEVENT".to_owned(), "END:VCALENDAR".to_owned()]);
    lines.iter().map(|l| fold(l) + "\r\n").collect()
}

/// TEXT escaped for iCalendar: backslash, semicolon, comma, newline.
fn ical_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded at 75 octets, never inside a character.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ical_lines_are_escaped_and_folded() {
        assert_eq!(ical_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let long = format!("SUMMARY:{}", "é".repeat(60));
        let folded = fold(&long);
        for part in folded.split("\r\n") {
            assert!(part.len() <= 75, "{part}");
        }
        assert_eq!(folded.replace("\r\n ", ""), long);
    }

    #[test]
    fn notice_in_words() {
        assert_eq!(notice_words(1440), "24 hours");
        assert_eq!(notice_words(60), "1 hour");
        assert_eq!(notice_words(2880), "2 days");
        assert_eq!(notice_words(90), "90 minutes");
    }
}
