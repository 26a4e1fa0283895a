//! Each settings section as a form.

use booking_core::PhoneNumber;
use booking_core::tenant::{KeywordReplies, SmsAccount, SmsHealth, SmsSender, Tenant};
use booking_vapi::{AssistantOptions, compose_assistant, system_prompt};

use super::fields::{DAYS, RULES, overrides_text, ranges_text};
use crate::dashboard::html::{csrf_field, esc, notice};
use crate::dashboard::session::Ctx;
use crate::dashboard::twilio_errors::explain_error;
use crate::state::AppState;

pub(super) fn textarea(name: &str, label: &str, value: &str, rows: u32, hint: &str) -> String {
    format!(
        "<label>{label}<textarea name=\"{name}\" rows=\"{rows}\">{value}</textarea><small>{hint}</small></label>",
        value = esc(value),
        hint = esc(hint),
    )
}

pub(super) fn input(name: &str, label: &str, value: &str, kind: &str) -> String {
    format!(
        "<label>{label}<input type=\"{kind}\" name=\"{name}\" value=\"{value}\"></label>",
        value = esc(value)
    )
}

pub(super) fn form(
    ctx: &Ctx,
    section: &str,
    next: Option<&str>,
    fields: &str,
    button: &str,
) -> String {
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

pub(crate) fn numbers_form(ctx: &Ctx, next: Option<&str>) -> String {
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

pub(crate) fn hours_fields(ctx: &Ctx) -> String {
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

pub(crate) fn services_fields(ctx: &Ctx) -> String {
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
pub(super) fn rules_form(ctx: &Ctx, next: Option<&str>) -> String {
    let r = &ctx.tenant.config.rules;
    let values = [
        r.buffer_before,
        r.buffer_after,
        r.min_notice_minutes,
        r.slot_interval.get(),
        r.horizon_days,
        r.link_notice_minutes,
    ];
    let mut fields = String::from("<fieldset><legend>When callers can book</legend>");
    for ((name, label, _), value) in RULES.iter().zip(values) {
        fields.push_str(&input(name, label, &value.to_string(), "number"));
    }
    fields.push_str(
        "<small>Buffers keep time free around every appointment. Start times are counted from \
         opening time. A change applies to the next time a caller asks; appointments already \
         booked stay where they are. The link in a patient's texts cancels or moves their \
         appointment until the notice you set (1440 minutes: 24 hours); closer to it, the page \
         asks them to call.</small></fieldset>",
    );
    form(ctx, "rules", next, &fields, "Save booking rules")
}

pub(crate) fn twilio_form(ctx: &Ctx, sms: Option<&SmsAccount>, next: Option<&str>) -> String {
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

pub(crate) fn test_sms_form(ctx: &Ctx) -> String {
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

pub(super) fn prompt_section(ctx: &Ctx, state: &AppState) -> String {
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
        "{}<details open><summary>What the AI receives as its instructions</summary><pre class=\"preview\" id=\"prompt-preview\" tabindex=\"0\" role=\"region\" aria-label=\"What the AI receives as its instructions\">{}</pre></details>\
         <details><summary>The whole assistant sent to Vapi</summary><pre class=\"preview\" id=\"assistant-preview\" tabindex=\"0\" role=\"region\" aria-label=\"The whole assistant sent to Vapi\">{}</pre></details>",
        form(ctx, "prompt", None, &fields, "Save prompt"),
        esc(&prompt),
        esc(&assistant),
    )
}

pub(super) fn health_text(t: &Tenant) -> String {
    match &t.sms_health {
        SmsHealth::NotConfigured => notice("error", "Texts cannot go out: no Twilio account yet."),
        SmsHealth::Ok => notice("ok", "Texting works as far as we know."),
        SmsHealth::NeedsAttention { code, .. } => notice("error", &explain_error(*code)),
    }
}
