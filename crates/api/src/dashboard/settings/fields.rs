//! The forms' text fields (hours, date overrides, services, booking rules) shown from a clinic and
//! read back into the operator API's input.

use std::collections::{BTreeMap, HashMap};

use booking_core::tenant::{DayHours, SmsAccount};

use crate::tenant_dto::{DateOverrideJson, PhoneNumberJson, ServiceJson, TenantInput, TwilioJson};

pub(crate) const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

pub(super) fn hhmm(t: jiff::civil::Time) -> String {
    if t == jiff::civil::Time::MAX {
        "24:00".into()
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

/// "09:00-12:00, 13:00-17:00"; empty when closed.
pub(crate) fn ranges_text(h: &DayHours) -> String {
    h.ranges()
        .iter()
        .map(|r| format!("{}-{}", hhmm(r.start()), hhmm(r.end())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inverse of [`ranges_text`]; "closed" or nothing is a closed day.
pub(crate) fn parse_ranges(s: &str) -> Vec<[String; 2]> {
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
pub(super) const RULES: [(&str, &str, &str); 6] = [
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
    (
        "link_notice_minutes",
        "Patients may cancel or move by link until … minutes before",
        "the link's notice window",
    ),
];

/// A whole number from a form field; `None` when the field is absent, or (with a problem noted)
/// not a whole number.
pub(super) fn whole_number(
    errors: &mut Vec<String>,
    value: Option<&str>,
    what: &str,
) -> Option<u32> {
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

pub(super) fn lines(s: &str) -> impl Iterator<Item = &str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// "2030-12-25 closed Christmas" or "2030-12-24 09:00-12:00 short day".
/// The inverse of [`parse_overrides`]: one date a line.
pub(crate) fn overrides_text(list: &[booking_core::tenant::DateOverride]) -> String {
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

pub(crate) fn parse_overrides(s: &str) -> Vec<DateOverrideJson> {
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
pub(super) fn parse_services(s: &str) -> Result<Vec<ServiceJson>, String> {
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
pub(super) fn input_from(
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
    let [before, after, notice, interval, horizon, link_notice] =
        RULES.map(|(name, _, what)| whole_number(&mut errors, get(name), what));
    input.link_notice_minutes = link_notice;
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
