//! The first sign-in walk-through: Twilio credentials → a test SMS → the called number → hours and
//! services → a simulated call that shows the texts that would go out (rendered by booking-core's
//! message functions for a sample booking and hot lead; nothing is sent).

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::PhoneNumber;
use booking_core::calls::LeadScore;
use booking_core::messages::{
    confirmation_text, hot_lead_text, local_time, otp_text, reminder_text,
};
use booking_core::scoring::{LeadSignals, ScoreWeights, score};
use booking_core::tenant::{ServiceName, TenantConfig};
use jiff::Timestamp;
use serde::Deserialize;

use super::html::{csrf_field, esc, page};
use super::respond::{DashError, html_response, see_other};
use super::session::{Ctx, signed_in, signed_in_post};
use super::settings::{hours_fields, numbers_form, services_fields, test_sms_form, twilio_form};
use crate::state::AppState;

const STEPS: [&str; 5] = [
    "Twilio account",
    "Test text",
    "Phone number",
    "Hours and services",
    "Try a call",
];

pub async fn start() -> HttpResponse {
    see_other("/app/setup/1")
}

fn progress(current: usize) -> String {
    let mut out = String::from("<ol class=\"steps\">");
    for (i, s) in STEPS.iter().enumerate() {
        let n = i + 1;
        let mark = if n == current {
            " aria-current=\"step\""
        } else {
            ""
        };
        let _ = write!(out, "<li{mark}><a href=\"/app/setup/{n}\">{s}</a></li>");
    }
    out.push_str("</ol>");
    out
}

fn skip(next: usize) -> String {
    format!("<p><a class=\"button secondary\" href=\"/app/setup/{next}\">Skip this step</a></p>")
}

/// The first opening of the clinic from tomorrow on (10:00 tomorrow if it is never open).
fn sample_start(cfg: &TenantConfig, now: Timestamp) -> Timestamp {
    let tz = cfg.zone.tz();
    let today = tz.to_datetime(now).date();
    for d in 1..=14 {
        let Ok(date) = today.checked_add(jiff::Span::new().days(d)) else {
            break;
        };
        if let Some(r) = cfg.hours_on(date).ranges().first()
            && let Ok(t) = tz.to_timestamp(date.to_datetime(r.start()))
        {
            return t;
        }
    }
    now + jiff::SignedDuration::from_hours(24)
}

/// The texts a typical call would cause, with who gets each.
pub(super) fn simulated_texts(
    cfg: &TenantConfig,
    now: Timestamp,
) -> (String, Vec<(String, String, String)>) {
    let service = cfg
        .services
        .first()
        .map(|s| (s.name.clone(), s.value_cents))
        .unwrap_or_else(|| (ServiceName::parse("Checkup").expect("a valid name"), None));
    let start = sample_start(cfg, now);
    let caller = PhoneNumber::parse("+15555550123").expect("a valid number");
    let lead_score: LeadScore = score(
        &LeadSignals {
            booked: true,
            service_value_cents: service.1,
            duration_seconds: Some(200),
            wants_callback: false,
            buying_intent: true,
            repeat_caller: false,
            no_shows: 0,
        },
        &ScoreWeights::default(),
    );
    let caller_gets = "To the caller (+15555550123)".to_owned();
    let mut texts = vec![
        (
            "Code to confirm the booking".to_owned(),
            caller_gets.clone(),
            otp_text(&cfg.name, "482913"),
        ),
        (
            "Confirmation".to_owned(),
            caller_gets.clone(),
            confirmation_text(&cfg.name, &cfg.zone, &service.0, None, start, None),
        ),
        (
            "Reminder, 24 hours before".to_owned(),
            caller_gets,
            reminder_text(&cfg.name, &cfg.zone, &service.0, None, start, None),
        ),
    ];
    let alert_to = if cfg.alert_numbers.is_empty() {
        "To your alert numbers (none set yet: add one in Settings)".to_owned()
    } else {
        let list: Vec<&str> = cfg.alert_numbers.iter().map(PhoneNumber::as_str).collect();
        format!("To you ({})", list.join(", "))
    };
    let hot = lead_score.total >= cfg.hot_lead_threshold.get();
    if hot {
        texts.push((
            format!("Hot lead alert (score {})", lead_score.total),
            alert_to,
            hot_lead_text(
                &cfg.name,
                Some("Jane Doe"),
                Some(&caller),
                Some(service.0.as_str()),
                &lead_score,
            ),
        ));
    }
    let transcript = format!(
        "<p class=\"line ai\">AI: Thanks for calling {clinic}, how can I help?</p>\
         <p class=\"line caller\">Caller: Hi, this is Jane Doe, I'd like to book {service}.</p>\
         <p class=\"line ai\">AI: I have {when} free. Shall I hold it for you?</p>\
         <p class=\"line caller\">Caller: Yes please.</p>\
         <p class=\"line ai\">AI: I've texted you a code; what is it?</p>\
         <p class=\"line caller\">Caller: 4 8 2 9 1 3.</p>\
         <p class=\"line ai\">AI: You're booked. A confirmation text is on its way.</p>\
         <p class=\"line note\">{hot}</p>",
        clinic = esc(cfg.name.as_str()),
        service = esc(service.0.as_str()),
        when = esc(&local_time(&cfg.zone, start)),
        hot = if hot {
            format!(
                "The call scores {} (your threshold is {}): you get a hot-lead alert.",
                lead_score.total,
                cfg.hot_lead_threshold.get()
            )
        } else {
            format!(
                "The call scores {}, below your threshold of {}: no alert.",
                lead_score.total,
                cfg.hot_lead_threshold.get()
            )
        },
    );
    (transcript, texts)
}

fn simulation(ctx: &Ctx, now: Timestamp) -> String {
    let (transcript, texts) = simulated_texts(&ctx.tenant.config, now);
    let mut out = format!(
        "<p>A pretend call, played here in your browser. Nothing is sent: these are the texts your \
         receptionist would send for it, exactly as written.</p>\
         <div class=\"simulation\" id=\"simulation\">{transcript}</div><h2>The texts</h2><ul class=\"cards\" id=\"simulated-texts\">"
    );
    for (what, to, body) in texts {
        let _ = write!(
            out,
            "<li class=\"card sms\"><h3>{}</h3><p class=\"meta\">{}</p><p class=\"body\">{}</p></li>",
            esc(&what),
            esc(&to),
            esc(&body)
        );
    }
    out.push_str("</ul>");
    out
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn step(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in(&req, &state).await?;
    let n: usize = path.parse().map_err(|_| DashError::NotFound)?;
    let body = match n {
        1 => {
            let sms = state.store.sms_account(ctx.tenant.id).await?;
            format!(
                "<p>Your receptionist texts callers from your own Twilio account. Enter it here; the \
                 secrets are stored encrypted and never shown again.</p>{}{}",
                twilio_form(&ctx, sms.as_ref(), Some("/app/setup/2")),
                skip(2)
            )
        }
        2 => format!(
            "<p>Send yourself a test text to check the account works. Twilio's answer shows below.</p>{}\
             <p><a class=\"button\" href=\"/app/setup/3\">Continue</a></p>",
            test_sms_form(&ctx)
        ),
        3 => format!(
            "<p>The number your callers dial (connected to Vapi).</p>{}{}",
            numbers_form(&ctx, Some("/app/setup/4")),
            skip(4)
        ),
        4 => format!(
            "<form method=\"post\" action=\"/app/settings/hours-services\" class=\"settings\" id=\"form-hours-services\">{}\
             <input type=\"hidden\" name=\"next\" value=\"/app/setup/5\">{}{}<button type=\"submit\">Save and continue</button></form>{}",
            csrf_field(&ctx.session.csrf_token),
            hours_fields(&ctx),
            services_fields(&ctx),
            skip(5)
        ),
        5 => format!(
            "{}<form method=\"post\" action=\"/app/setup/done\">{}<button type=\"submit\">Finish and open the dashboard</button></form>",
            simulation(&ctx, state.clock.now()),
            csrf_field(&ctx.session.csrf_token)
        ),
        _ => return Err(DashError::NotFound),
    };
    let body = format!(
        "<h1>Set up {}: {}</h1>{}{}",
        esc(ctx.tenant.config.name.as_str()),
        STEPS[n - 1],
        progress(n),
        body
    );
    Ok(html_response(
        StatusCode::OK,
        page("Set up", Some(&ctx.frame("/app/setup")), &body),
    ))
}

pub async fn done(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form.csrf.as_deref()).await?;
    state
        .accounts
        .set_owner_onboarded(ctx.session.owner, state.clock.now())
        .await?;
    Ok(see_other("/app"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking_core::tenant::{
        BookingRules, ClinicName, ClinicZone, DayHours, HotLeadThreshold, OpenRange, Service,
        SystemPrompt, WeeklyHours,
    };

    #[test]
    fn the_simulation_shows_every_text_escaped() {
        let mut week = WeeklyHours::default();
        week.set(
            jiff::civil::Weekday::Monday,
            DayHours::new(vec![OpenRange::parse("09:00", "17:00").unwrap()]).unwrap(),
        );
        let cfg = TenantConfig {
            name: ClinicName::parse("Smile <b>Dental</b>").unwrap(),
            zone: ClinicZone::parse("America/New_York").unwrap(),
            called_numbers: vec![],
            vapi_assistant_ids: vec![],
            alert_numbers: vec![PhoneNumber::parse("+15550001111").unwrap()],
            hot_lead_threshold: HotLeadThreshold::default(),
            services: vec![
                Service::new(ServiceName::parse("Whitening").unwrap(), 60, Some(45_000)).unwrap(),
            ],
            weekly_hours: week,
            date_overrides: vec![],
            rules: BookingRules::default(),
            system_prompt: SystemPrompt::default(),
            otp_allowed_countries: Vec::new(),
            providers: Vec::new(),
        };
        let now: Timestamp = "2030-01-02T15:00:00Z".parse().unwrap();
        let (transcript, texts) = simulated_texts(&cfg, now);
        assert!(transcript.contains("Smile &lt;b&gt;Dental&lt;/b&gt;"));
        assert!(!transcript.contains("<b>"));
        assert_eq!(texts.len(), 4, "code, confirmation, reminder, hot lead");
        assert!(texts[1].2.contains("Mon, Jan 7"), "{}", texts[1].2);
        assert!(texts[1].2.contains("9:00"), "{}", texts[1].2);
        assert!(texts[3].2.contains("hot lead"), "{}", texts[3].2);
        assert!(texts[3].1.contains("+15550001111"));
    }
}
