//! Settings: the clinic, its numbers, hours, services, booking rules, prompt and Twilio account,
//! each a form that posts the fields it shows. Every form is checked by the same rules as the
//! operator API (`tenant_dto`); the Twilio secrets are write-only (an empty field keeps the stored
//! one). A save goes through the store every part of the api uses, which drops what it kept of the
//! clinic (`crate::cached_tenants`), so the next tool call of a call in progress already sees it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::PhoneNumber;
use booking_core::messages::test_text;
use booking_core::ports::{SendOutcome, SmsRequest};
use booking_core::tenant::{
    DateOverride, DayHours, KeywordReplies, SmsAccount, SmsHealth, SmsSender, Tenant,
};
use booking_vapi::{AssistantOptions, compose_assistant, system_prompt};
use serde::Deserialize;

use super::html::{csrf_field, esc, notice, page as frame_page};
use super::respond::{DashError, html_response, see_other};
use super::send_limit::{TEST_SMS_LIMIT, TEST_SMS_WINDOW};
use super::session::{Ctx, signed_in, signed_in_post};
use super::twilio_errors::explain_error;
use crate::state::AppState;
use crate::tenant_dto::{DateOverrideJson, PhoneNumberJson, ServiceJson, TenantInput, TwilioJson};

pub(super) const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

fn hhmm(t: jiff::civil::Time) -> String {
    if t == jiff::civil::Time::MAX {
        "24:00".into()
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

/// "09:00-12:00, 13:00-17:00"; empty when closed.
pub(super) fn ranges_text(h: &DayHours) -> String {
    h.ranges()
        .iter()
        .map(|r| format!("{}-{}", hhmm(r.start()), hhmm(r.end())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inverse of [`ranges_text`]; "closed" or nothing is a closed day.
pub(super) fn parse_ranges(s: &str) -> Vec<[String; 2]> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("closed") {
        return Vec::new();
    }
    s.split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => [a.trim().to_owned(), b.trim().to_owned()],
            // Left for the hours parser to reject with its own message.
            None => [p.to_owned(), String::new()],
        })
        .collect()
}

/// The booking rules' fields: (form field and operator API name, label, what a bad value is).
const RULES: [(&str, &str, &str); 5] = [
    (
        "buffer_before_minutes",
        "Minutes between appointments (buffer) before each one",
        "the buffer before each appointment",
    ),
    (
        "buffer_after_minutes",
        "Minutes between appointments (buffer) after each one",
        "the buffer after each appointment",
    ),
    (
        "min_notice_minutes",
        "Book no sooner than … minutes from now",
        "the minimum notice",
    ),
    (
        "slot_interval_minutes",
        "Offer start times every … minutes",
        "the time between start times",
    ),
    (
        "booking_horizon_days",
        "Book up to … days ahead",
        "how many days ahead",
    ),
];

/// A whole number from a form field; `None` when the field is absent, or (with a problem noted)
/// not a whole number.
fn whole_number(errors: &mut Vec<String>, value: Option<&str>, what: &str) -> Option<u32> {
    let v = value?.trim();
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(format!(
                "{what} must be a whole number (0 or more, like 15), not {v:?}"
            ));
            None
        }
    }
}

fn lines(s: &str) -> impl Iterator<Item = &str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// "2030-12-25 closed Christmas" or "2030-12-24 09:00-12:00 short day".
pub(super) fn parse_overrides(s: &str) -> Vec<DateOverrideJson> {
    lines(s)
        .map(|l| {
            let mut words = l.split_whitespace();
            let date = words.next().unwrap_or("").to_owned();
            let mut hours = Vec::new();
            let mut note = Vec::new();
            for w in words {
                if w.eq_ignore_ascii_case("closed") && hours.is_empty() && note.is_empty() {
                    continue;
                }
                if note.is_empty() && w.contains(':') && w.contains('-') {
                    hours.extend(parse_ranges(w));
                } else {
                    note.push(w);
                }
            }
            DateOverrideJson {
                date,
                hours,
                note: (!note.is_empty()).then(|| note.join(" ")),
            }
        })
        .collect()
}

/// "Teeth Whitening, 60, 450" (name, minutes, optional price in whole currency units).
fn parse_services(s: &str) -> Result<Vec<ServiceJson>, String> {
    lines(s)
        .map(|l| {
            let parts: Vec<&str> = l.split(',').map(str::trim).collect();
            let minutes = parts.get(1).and_then(|m| m.parse::<u32>().ok()).ok_or_else(|| {
                format!("services: {l:?} needs its length in minutes after a comma, like \"Checkup, 30\"")
            })?;
            let value_cents = match parts.get(2).filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => Some(
                    p.trim_start_matches('$')
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e7)
                        .map(|v| (v * 100.0).round() as u32)
                        .ok_or_else(|| format!("services: the price in {l:?} is not a number"))?,
                ),
            };
            Ok(ServiceJson {
                name: parts[0].to_owned(),
                duration_minutes: minutes,
                value_cents,
            })
        })
        .collect()
}

/// The configuration change a settings form asks for: only the fields it carries.
fn input_from(
    form: &HashMap<String, String>,
    current: Option<&SmsAccount>,
) -> Result<TenantInput, Vec<String>> {
    let mut input = TenantInput::default();
    let mut errors = Vec::new();
    let get = |k: &str| form.get(k).map(String::as_str);
    if let Some(v) = get("name") {
        input.name = Some(v.to_owned());
    }
    if let Some(v) = get("timezone") {
        input.timezone = Some(v.to_owned());
    }
    if let Some(v) = get("hot_lead_threshold") {
        match v.trim().parse() {
            Ok(n) => input.hot_lead_threshold = Some(n),
            Err(_) => errors.push("hot lead threshold must be a whole number from 0 to 100".into()),
        }
    }
    if let Some(v) = get("alert_numbers") {
        input.alert_numbers = Some(lines(v).map(str::to_owned).collect());
    }
    if let Some(v) = get("otp_allowed_countries") {
        input.otp_allowed_countries = Some(
            v.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    if let Some(v) = get("called_numbers") {
        input.phone_numbers = Some(
            lines(v)
                .map(|l| {
                    let mut w = l.split_whitespace();
                    PhoneNumberJson {
                        number: w.next().unwrap_or("").to_owned(),
                        vapi_phone_number_id: w.next().map(str::to_owned),
                    }
                })
                .collect(),
        );
    }
    if let Some(v) = get("vapi_assistant_ids") {
        input.vapi_assistant_ids = Some(lines(v).map(str::to_owned).collect());
    }
    if DAYS
        .iter()
        .any(|(k, _)| form.contains_key(&format!("hours_{k}")))
    {
        let mut week = BTreeMap::new();
        for (k, _) in DAYS {
            let ranges = parse_ranges(get(&format!("hours_{k}")).unwrap_or(""));
            if !ranges.is_empty() {
                week.insert(k.to_owned(), ranges);
            }
        }
        input.weekly_hours = Some(week);
    }
    if let Some(v) = get("date_overrides") {
        input.date_overrides = Some(parse_overrides(v));
    }
    if let Some(v) = get("services") {
        match parse_services(v) {
            Ok(s) => input.services = Some(s),
            Err(e) => errors.push(e),
        }
    }
    let [before, after, notice, interval, horizon] =
        RULES.map(|(name, _, what)| whole_number(&mut errors, get(name), what));
    input.buffer_before_minutes = before;
    input.buffer_after_minutes = after;
    input.min_notice_minutes = notice;
    input.slot_interval_minutes = interval;
    input.booking_horizon_days = horizon;
    if let Some(v) = get("system_prompt") {
        input.system_prompt = Some(v.replace("\r\n", "\n"));
    }
    if let Some(sid) = get("twilio_account_sid") {
        let opt = |k: &str| {
            get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let auth_token = match (opt("twilio_auth_token"), current) {
            (Some(t), _) => t,
            (None, Some(a)) => a.auth_token.expose().to_owned(),
            (None, None) => String::new(),
        };
        let api_key_sid = opt("twilio_api_key_sid");
        let api_key_secret = match (&api_key_sid, opt("twilio_api_key_secret")) {
            (_, Some(s)) => Some(s),
            (Some(k), None) => current
                .and_then(|a| a.api_key.as_ref())
                .filter(|(stored, _)| stored == k)
                .map(|(_, s)| s.expose().to_owned()),
            (None, None) => None,
        };
        input.twilio = Some(Some(TwilioJson {
            account_sid: sid.trim().to_owned(),
            auth_token,
            api_key_sid,
            api_key_secret,
            from: opt("twilio_from"),
            messaging_service_sid: opt("twilio_messaging_service_sid"),
            messaging_service_numbers: opt("twilio_messaging_service_numbers").map(|v| {
                v.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            keyword_replies: opt("twilio_keyword_replies"),
        }));
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// Where to go after a successful save: a path of the dashboard only.
fn safe_next(next: Option<&String>) -> Option<&str> {
    next.map(String::as_str).filter(|n| {
        n.starts_with("/app/") && !n.starts_with("//") && !n.contains("://") && !n.contains('\\')
    })
}

fn textarea(name: &str, label: &str, value: &str, rows: u32, hint: &str) -> String {
    format!(
        "<label>{label}<textarea name=\"{name}\" rows=\"{rows}\">{value}</textarea><small>{hint}</small></label>",
        value = esc(value),
        hint = esc(hint),
    )
}

fn input(name: &str, label: &str, value: &str, kind: &str) -> String {
    format!(
        "<label>{label}<input type=\"{kind}\" name=\"{name}\" value=\"{value}\"></label>",
        value = esc(value)
    )
}

fn form(ctx: &Ctx, section: &str, next: Option<&str>, fields: &str, button: &str) -> String {
    let next = next
        .map(|n| format!("<input type=\"hidden\" name=\"next\" value=\"{}\">", esc(n)))
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"/app/settings/{section}\" class=\"settings\" id=\"form-{section}\">{csrf}{next}{fields}\
         <button type=\"submit\">{button}</button></form>",
        csrf = csrf_field(&ctx.session.csrf_token),
    )
}

pub(super) fn clinic_form(ctx: &Ctx, next: Option<&str>) -> String {
    let c = &ctx.tenant.config;
    let alerts: Vec<&str> = c.alert_numbers.iter().map(PhoneNumber::as_str).collect();
    let allowed: Vec<&str> = c.otp_allowed_countries.iter().map(|c| c.as_str()).collect();
    let countries_in_effect: Vec<String> =
        c.code_countries().iter().map(|c| c.to_string()).collect();
    let fields = format!(
        "{}{}{}{}{}",
        input(
            "name",
            "Clinic name (goes into every text)",
            c.name.as_str(),
            "text"
        ),
        input(
            "timezone",
            "Time zone (IANA, e.g. America/New_York)",
            c.zone.name(),
            "text"
        ),
        input(
            "hot_lead_threshold",
            "Hot-lead score threshold (0-100)",
            &c.hot_lead_threshold.get().to_string(),
            "number"
        ),
        textarea(
            "alert_numbers",
            "Alert numbers",
            &alerts.join("\n"),
            3,
            "One per line, like +15551234567. Hot leads and forwarded texts go here."
        ),
        input(
            "otp_allowed_countries",
            &format!(
                "Countries verification codes may be texted to (two-letter codes, e.g. US, CA; empty: the clinic's own, now {})",
                countries_in_effect.join(", ")
            ),
            &allowed.join(", "),
            "text"
        ),
    );
    form(ctx, "clinic", next, &fields, "Save clinic")
}

pub(super) fn numbers_form(ctx: &Ctx, next: Option<&str>) -> String {
    let text: Vec<String> = ctx
        .tenant
        .config
        .called_numbers
        .iter()
        .map(|n| match &n.vapi_phone_number_id {
            Some(id) => format!("{} {}", n.number, id),
            None => n.number.to_string(),
        })
        .collect();
    let assistants: Vec<String> = ctx
        .tenant
        .config
        .vapi_assistant_ids
        .iter()
        .map(ToString::to_string)
        .collect();
    let fields = textarea(
        "called_numbers",
        "Numbers callers dial",
        &text.join("\n"),
        3,
        "One per line: the number, then (optionally) Vapi's phone-number id, like +19254207621 4a5a04dc-dcbe-45b1-8f64-fd32a253d136",
    ) + &textarea(
        "vapi_assistant_ids",
        "Vapi assistant ids",
        &assistants.join("\n"),
        2,
        "Optional, one per line: the ids of your saved assistants in Vapi's dashboard, so that test calls from Vapi's dashboard or web widget (which have no phone number) reach this clinic.",
    );
    form(ctx, "numbers", next, &fields, "Save numbers")
}

pub(super) fn hours_fields(ctx: &Ctx) -> String {
    let c = &ctx.tenant.config;
    let mut out = String::from("<fieldset><legend>Opening hours</legend>");
    for (i, (k, label)) in DAYS.iter().enumerate() {
        let day = jiff::civil::Weekday::from_monday_zero_offset(i as i8).expect("0..=6");
        out.push_str(&input(
            &format!("hours_{k}"),
            label,
            &ranges_text(c.weekly_hours.on(day)),
            "text",
        ));
    }
    out.push_str("<small>Like 09:00-12:00, 13:00-17:00. Empty means closed.</small></fieldset>");
    out.push_str(&textarea(
        "date_overrides",
        "Date overrides",
        &overrides_text(&c.date_overrides),
        3,
        "One per line: 2030-12-25 closed Christmas, or 2030-12-24 09:00-12:00 short day",
    ));
    out
}

/// The inverse of [`parse_overrides`]: one date a line.
pub(super) fn overrides_text(list: &[DateOverride]) -> String {
    list.iter()
        .map(|o| {
            let hours = if o.hours.is_closed() {
                "closed".to_owned()
            } else {
                ranges_text(&o.hours).replace(' ', "")
            };
            format!("{} {} {}", o.date, hours, o.note.as_deref().unwrap_or(""))
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn services_fields(ctx: &Ctx) -> String {
    let text: Vec<String> = ctx
        .tenant
        .config
        .services
        .iter()
        .map(|s| match s.value_cents {
            Some(v) => format!("{}, {}, {}", s.name, s.duration.get(), f64::from(v) / 100.0),
            None => format!("{}, {}", s.name, s.duration.get()),
        })
        .collect();
    textarea(
        "services",
        "Services",
        &text.join("\n"),
        4,
        "One per line: name, minutes, and optionally the price (it raises a caller's lead score), like Teeth Whitening, 60, 450",
    )
}

pub(super) fn hours_form(ctx: &Ctx, next: Option<&str>) -> String {
    form(ctx, "hours", next, &hours_fields(ctx), "Save hours")
}

pub(super) fn services_form(ctx: &Ctx, next: Option<&str>) -> String {
    form(
        ctx,
        "services",
        next,
        &services_fields(ctx),
        "Save services",
    )
}

/// The rules that turn opening hours into the times callers are offered (checked by
/// `BookingRules::new` through the operator API's validation).
fn rules_form(ctx: &Ctx, next: Option<&str>) -> String {
    let r = &ctx.tenant.config.rules;
    let values = [
        r.buffer_before,
        r.buffer_after,
        r.min_notice_minutes,
        r.slot_interval.get(),
        r.horizon_days,
    ];
    let mut fields = String::from("<fieldset><legend>When callers can book</legend>");
    for ((name, label, _), value) in RULES.iter().zip(values) {
        fields.push_str(&input(name, label, &value.to_string(), "number"));
    }
    fields.push_str(
        "<small>Buffers keep time free around every appointment. Start times are counted from \
         opening time. A change applies to the next time a caller asks; appointments already \
         booked stay where they are.</small></fieldset>",
    );
    form(ctx, "rules", next, &fields, "Save booking rules")
}

pub(super) fn twilio_form(ctx: &Ctx, sms: Option<&SmsAccount>, next: Option<&str>) -> String {
    let (sid, key, from, ms) = match sms {
        Some(a) => (
            a.account_sid.as_str(),
            a.api_key.as_ref().map_or("", |(k, _)| k.as_str()),
            match &a.sender {
                SmsSender::From(n) => n.as_str(),
                SmsSender::MessagingService { .. } => "",
            },
            match &a.sender {
                SmsSender::MessagingService { sid, .. } => sid.as_str(),
                SmsSender::From(_) => "",
            },
        ),
        None => ("", "", "", ""),
    };
    let ms_numbers = match sms.map(|a| &a.sender) {
        Some(SmsSender::MessagingService { numbers, .. }) => numbers
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let replies = sms.map(|a| a.keyword_replies).unwrap_or_default();
    let option = |value: KeywordReplies, label: &str| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            value.as_str(),
            if value == replies { " selected" } else { "" },
            esc(label)
        )
    };
    let keyword_select = format!(
        "<label>Who answers STOP, START and HELP<select name=\"twilio_keyword_replies\">{}{}</select></label>",
        option(
            KeywordReplies::Twilio,
            "Twilio (its default replies or Advanced Opt-Out; the usual setting)"
        ),
        option(
            KeywordReplies::Clinic,
            "This service (only if Twilio's replies are turned off for your number)"
        ),
    );
    let stored = if sms.is_some() {
        "stored; leave empty to keep it"
    } else {
        "required"
    };
    let fields = format!(
        "{}<label>Auth token ({stored})<input type=\"password\" name=\"twilio_auth_token\" autocomplete=\"off\" value=\"\"></label>\
         {}<label>API key secret (optional; {stored})<input type=\"password\" name=\"twilio_api_key_secret\" autocomplete=\"off\" value=\"\"></label>{}{}{}{keyword_select}",
        input("twilio_account_sid", "Account SID (AC…)", sid, "text"),
        input(
            "twilio_api_key_sid",
            "API key SID (SK…, optional)",
            key,
            "text"
        ),
        input("twilio_from", "Send from number", from, "text"),
        input(
            "twilio_messaging_service_sid",
            "or Messaging Service SID (MG…)",
            ms,
            "text"
        ),
        input(
            "twilio_messaging_service_numbers",
            "The Messaging Service's numbers (texts to the clinic arrive on them; comma separated)",
            &ms_numbers,
            "text"
        ),
    );
    form(ctx, "twilio", next, &fields, "Save Twilio account")
}

pub(super) fn test_sms_form(ctx: &Ctx) -> String {
    let to = ctx
        .tenant
        .config
        .alert_numbers
        .first()
        .map(PhoneNumber::as_str)
        .unwrap_or("");
    format!(
        "<form method=\"post\" action=\"/app/test-sms\" class=\"settings\" id=\"form-test-sms\" \
         hx-post=\"/app/test-sms\" hx-target=\"#test-sms-result\" hx-swap=\"innerHTML\">{csrf}\
         <label>Send a test text to<input type=\"tel\" name=\"to\" value=\"{to}\" required></label>\
         <button type=\"submit\">Send a test SMS</button></form><div id=\"test-sms-result\" aria-live=\"polite\"></div>",
        csrf = csrf_field(&ctx.session.csrf_token),
        to = esc(to),
    )
}

fn prompt_section(ctx: &Ctx, state: &AppState) -> String {
    let t = &ctx.tenant;
    let today = t.config.zone.tz().to_datetime(state.clock.now()).date();
    let prompt = system_prompt(t, today);
    // With the credential id but without our Vapi secret: the preview is for the owner's eyes,
    // the secret is for Vapi.
    let options = AssistantOptions {
        tool_timeout_seconds: state.config.tool_timeout_seconds,
        server_auth: booking_vapi::ServerAuth {
            credential_id: state.config.vapi_server_auth.credential_id.clone(),
            header: None,
        },
        ..AssistantOptions::default()
    };
    let url = format!("{}/vapi/webhook", state.config.public_base_url);
    let assistant = compose_assistant(t, today, &url, &options);
    let assistant = serde_json::to_string_pretty(&assistant).unwrap_or_default();
    let fields = textarea(
        "system_prompt",
        "Your prompt (tone, style, facts about the clinic)",
        t.config.system_prompt.as_str(),
        6,
        "The booking rules below always come after it and cannot be switched off.",
    );
    format!(
        "{}<details open><summary>What the AI receives as its instructions</summary><pre class=\"preview\" id=\"prompt-preview\">{}</pre></details>\
         <details><summary>The whole assistant sent to Vapi</summary><pre class=\"preview\">{}</pre></details>",
        form(ctx, "prompt", None, &fields, "Save prompt"),
        esc(&prompt),
        esc(&assistant),
    )
}

fn health_text(t: &Tenant) -> String {
    match &t.sms_health {
        SmsHealth::NotConfigured => notice("error", "Texts cannot go out: no Twilio account yet."),
        SmsHealth::Ok => notice("ok", "Texting works as far as we know."),
        SmsHealth::NeedsAttention { code, .. } => notice("error", &explain_error(*code)),
    }
}

async fn render(
    ctx: &Ctx,
    state: &AppState,
    flash: &str,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    render_with(ctx, state, flash, status, None).await
}

/// Settings with a list of problems on top, 400, and the provider form the owner sent as sent.
pub(super) async fn refused(
    ctx: &Ctx,
    state: &AppState,
    problems: &[String],
    draft: Option<&super::providers::Draft>,
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
    draft: Option<&super::providers::Draft>,
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
        providers = super::providers::section(ctx, draft),
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

#[derive(Deserialize)]
pub struct TestSmsForm {
    csrf: Option<String>,
    #[serde(default)]
    to: String,
}

/// What Twilio answered, in words.
fn describe(outcome: &SendOutcome) -> (bool, String) {
    match outcome {
        SendOutcome::Accepted { sid, status } => (
            true,
            format!(
                "Twilio accepted the test text (message {sid}, status {}). It should arrive within a minute.",
                status.as_str()
            ),
        ),
        SendOutcome::RetrySafe { code, message, .. } => (
            false,
            format!(
                "Twilio could not take it right now{}: {message}. Nothing was sent; try again in a minute.",
                code.map(|c| format!(" (error {c})")).unwrap_or_default()
            ),
        ),
        SendOutcome::Ambiguous { message } => (
            false,
            format!(
                "Twilio gave no clear answer ({message}); the text may or may not have gone. Check Twilio's message log before trying again."
            ),
        ),
        SendOutcome::Permanent { code, message } => (
            false,
            match code {
                Some(c) => format!(
                    "Twilio refused it: {} Twilio said: {message}",
                    explain_error(*c)
                ),
                None => format!("Twilio refused it: {message}"),
            },
        ),
    }
}

/// What the test-SMS button says when the clinic has used up its test texts for now.
fn too_many_test_texts() -> String {
    format!(
        "You have sent {TEST_SMS_LIMIT} test texts in the last {} minutes; wait a few minutes and try again.",
        TEST_SMS_WINDOW.as_mins()
    )
}

/// Sends the test text, at most [`TEST_SMS_LIMIT`] per clinic per [`TEST_SMS_WINDOW`] (counted
/// per api instance, see `send_limit`); beyond that the gateway is not called and the answer is
/// 429. As for Twilio's own refusals, an htmx request gets its answer with 200 so that htmx
/// shows it in the box under the button.
pub async fn test_sms(
    req: HttpRequest,
    state: web::Data<AppState>,
    form_data: web::Form<TestSmsForm>,
) -> Result<HttpResponse, DashError> {
    let ctx = signed_in_post(&req, &state, form_data.csrf.as_deref()).await?;
    let mut retry_after = None;
    let (ok, text) = match (
        PhoneNumber::parse(&form_data.to),
        state.store.sms_account(ctx.tenant.id).await?,
    ) {
        (Err(e), _) => (false, e.to_string()),
        (_, None) => (false, "Enter the clinic's Twilio account first.".to_owned()),
        (Ok(to), Some(account)) => {
            match super::send_limit::test_sms().try_take(ctx.tenant.id, state.clock.now()) {
                Err(wait) => {
                    tracing::warn!(tenant = %ctx.tenant.id, "test text refused: too many in the window");
                    retry_after = Some(wait);
                    (false, too_many_test_texts())
                }
                Ok(()) => {
                    let request = SmsRequest {
                        to,
                        body: test_text(&ctx.tenant.config.name),
                    };
                    let outcome = state.gateway.send(&account, &request).await;
                    tracing::info!(tenant = %ctx.tenant.id, accepted = matches!(outcome, SendOutcome::Accepted { .. }), "test text sent from the dashboard");
                    describe(&outcome)
                }
            }
        }
    };
    let result = notice(if ok { "ok" } else { "error" }, &text);
    if req.headers().contains_key("hx-request") {
        return Ok(html_response(StatusCode::OK, result));
    }
    let status = match (ok, retry_after) {
        (true, _) => StatusCode::OK,
        (false, Some(_)) => StatusCode::TOO_MANY_REQUESTS,
        (false, None) => StatusCode::BAD_REQUEST,
    };
    let mut response = render(&ctx, &state, &result, status).await?;
    if let Some(wait) = retry_after {
        // Whole seconds, rounded up, at least one.
        let secs = (wait.as_millis() + 999) / 1000;
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs.max(1) as u64),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_text_round_trips() {
        assert_eq!(
            parse_ranges("09:00-12:00, 13:00 - 17:00"),
            vec![
                ["09:00".to_owned(), "12:00".to_owned()],
                ["13:00".to_owned(), "17:00".to_owned()]
            ]
        );
        assert!(parse_ranges("closed").is_empty());
        assert!(parse_ranges("  ").is_empty());
        let o = parse_overrides("2030-12-25 closed Christmas Day\n2030-12-24 09:00-12:00 short");
        assert_eq!(o[0].date, "2030-12-25");
        assert!(o[0].hours.is_empty());
        assert_eq!(o[0].note.as_deref(), Some("Christmas Day"));
        assert_eq!(o[1].hours.len(), 1);
        assert_eq!(o[1].note.as_deref(), Some("short"));
    }

    #[test]
    fn services_text_parses() {
        let s = parse_services("Teeth Whitening, 60, $450\nCheckup, 30").unwrap();
        assert_eq!(s[0].value_cents, Some(45_000));
        assert_eq!(s[1].duration_minutes, 30);
        assert!(parse_services("Checkup").is_err());
        assert!(parse_services("Checkup, 30, lots").is_err());
    }

    #[test]
    fn booking_rules_come_as_whole_numbers() {
        let form = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let input = input_from(
            &form(&[
                ("buffer_before_minutes", "10"),
                ("buffer_after_minutes", " 5 "),
                ("min_notice_minutes", "600"),
                ("slot_interval_minutes", "45"),
                ("booking_horizon_days", "30"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(input.buffer_before_minutes, Some(10));
        assert_eq!(input.buffer_after_minutes, Some(5));
        assert_eq!(input.min_notice_minutes, Some(600));
        assert_eq!(input.slot_interval_minutes, Some(45));
        assert_eq!(input.booking_horizon_days, Some(30));

        let errors = input_from(
            &form(&[
                ("min_notice_minutes", "two hours"),
                ("slot_interval_minutes", "-5"),
            ]),
            None,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("minimum notice must be a whole number"),
            "{errors:?}"
        );
        assert!(errors[1].contains("\"-5\""), "{errors:?}");

        // Another form leaves the rules as they are.
        let input = input_from(&form(&[("name", "Smile Dental")]), None).unwrap();
        assert_eq!(input.min_notice_minutes, None);
        assert_eq!(input.slot_interval_minutes, None);
    }

    #[test]
    fn only_dashboard_paths_are_followed() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(safe_next(s("/app/setup/2").as_ref()), Some("/app/setup/2"));
        assert_eq!(safe_next(s("https://evil.example/app/").as_ref()), None);
        assert_eq!(safe_next(s("//evil.example").as_ref()), None);
        assert_eq!(safe_next(s("/app/\\evil").as_ref()), None);
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn an_empty_secret_keeps_the_stored_one() {
        let current = SmsAccount {
            account_sid: format!("AC{}", "a".repeat(32)),
            auth_token: booking_core::tenant::Secret::new("stored-token-123"),
            api_key: None,
            sender: SmsSender::From(PhoneNumber::parse("+15550001111").unwrap()),
            keyword_replies: Default::default(),
        };
        let form: HashMap<String, String> = [
            ("twilio_account_sid", current.account_sid.as_str()),
            ("twilio_auth_token", ""),
            ("twilio_from", "+15550002222"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let input = input_from(&form, Some(&current)).unwrap();
        let t = input.twilio.unwrap().unwrap();
        assert_eq!(t.auth_token, "stored-token-123");
        assert_eq!(t.from.as_deref(), Some("+15550002222"));
        assert!(input.name.is_none(), "only the fields the form carries");
    }
}
