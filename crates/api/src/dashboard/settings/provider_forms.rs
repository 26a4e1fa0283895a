//! Settings → Providers, the forms: one per provider (name, the services they perform, their
//! weekly hours in the same editor as the clinic's, their own date overrides, limits a day and a
//! week), one to add a provider, and the buttons that retire one or bring them back. The handlers
//! that save them are in `dashboard::providers`.

use std::collections::BTreeMap;

use booking_core::provider::{Provider, ProviderId, ProviderServices, ProviderStatus};
use booking_core::tenant::Tenant;

use super::fields::{DAYS, overrides_text, parse_overrides, parse_ranges, ranges_text};
use crate::dashboard::html::{csrf_field, esc};
use crate::dashboard::session::Ctx;
use crate::tenant_dto::ProviderJson;

/// One provider's form as the owner sees it: what is stored, or what they just sent (so that a
/// refused save loses nothing).
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// `None`: a provider being added.
    pub id: Option<ProviderId>,
    pub name: String,
    pub every_service: bool,
    pub services: Vec<String>,
    pub own_hours: bool,
    pub hours: [String; 7],
    pub overrides: String,
    pub max_per_day: String,
    pub max_per_week: String,
}

impl Draft {
    fn of(p: &Provider, t: &Tenant) -> Self {
        let week = p.weekly_hours.as_ref().unwrap_or(&t.config.weekly_hours);
        Self {
            id: Some(p.id),
            name: p.name.to_string(),
            every_service: matches!(p.services, ProviderServices::Every),
            services: match &p.services {
                ProviderServices::Every => Vec::new(),
                ProviderServices::Only(v) => v.iter().map(|s| s.to_string()).collect(),
            },
            own_hours: p.weekly_hours.is_some(),
            hours: std::array::from_fn(|i| {
                let day = jiff::civil::Weekday::from_monday_zero_offset(i as i8).expect("0..=6");
                ranges_text(week.on(day))
            }),
            overrides: overrides_text(&p.date_overrides),
            max_per_day: p
                .max_per_day
                .map(|c| c.get().to_string())
                .unwrap_or_default(),
            max_per_week: p
                .max_per_week
                .map(|c| c.get().to_string())
                .unwrap_or_default(),
        }
    }

    /// A new provider's empty form: every service, the clinic's hours.
    fn blank(t: &Tenant) -> Self {
        Self {
            every_service: true,
            hours: std::array::from_fn(|i| {
                let day = jiff::civil::Weekday::from_monday_zero_offset(i as i8).expect("0..=6");
                ranges_text(t.config.weekly_hours.on(day))
            }),
            ..Self::default()
        }
    }

    pub(crate) fn from_form(id: Option<ProviderId>, form: &[(String, String)]) -> Self {
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Self {
            id,
            name: get("name"),
            every_service: get("services_from") != "list",
            services: form
                .iter()
                .filter(|(n, _)| n == "service")
                .map(|(_, v)| v.clone())
                .collect(),
            own_hours: get("hours_from") == "own",
            hours: std::array::from_fn(|i| get(&format!("hours_{}", DAYS[i].0))),
            overrides: get("date_overrides"),
            max_per_day: get("max_per_day"),
            max_per_week: get("max_per_week"),
        }
    }

    /// The operator API's shape of this draft; problems the API would not word for the owner
    /// (a limit that is not a number) are noted in `errors`.
    pub(crate) fn json(&self, status: ProviderStatus, errors: &mut Vec<String>) -> ProviderJson {
        let limit = |errors: &mut Vec<String>, v: &str, what: &str| {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            match v.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(format!(
                        "{what} must be a whole number (like 8), or empty for no limit, not {v:?}"
                    ));
                    None
                }
            }
        };
        if !self.every_service && self.services.is_empty() {
            errors.push(
                "Services: tick the services this provider performs, or choose every service."
                    .into(),
            );
        }
        ProviderJson {
            id: self.id.map(|id| id.to_string()),
            name: self.name.clone(),
            services: (!self.every_service).then(|| self.services.clone()),
            weekly_hours: self.own_hours.then(|| {
                let mut week = BTreeMap::new();
                for (i, (k, _)) in DAYS.iter().enumerate() {
                    let ranges = parse_ranges(&self.hours[i]);
                    if !ranges.is_empty() {
                        week.insert((*k).to_owned(), ranges);
                    }
                }
                week
            }),
            date_overrides: Some(parse_overrides(&self.overrides)),
            max_per_day: limit(errors, &self.max_per_day, "Most appointments a day"),
            max_per_week: limit(errors, &self.max_per_week, "Most appointments a week"),
            retired: Some(status == ProviderStatus::Retired),
            // The dashboard's provider form leaves the calendar link as it is.
            calendar: None,
        }
    }
}

fn checked(on: bool) -> &'static str {
    if on { " checked" } else { "" }
}

/// The form of one provider (or of a new one when `d.id` is `None`).
fn provider_form(ctx: &Ctx, d: &Draft) -> String {
    let t = &ctx.tenant;
    let (action, key, button) = match d.id {
        Some(id) => (
            format!("/app/providers/{id}"),
            id.to_string(),
            "Save provider",
        ),
        None => (
            "/app/providers".to_owned(),
            "new".to_owned(),
            "Add provider",
        ),
    };
    let mut services = String::new();
    for s in &t.config.services {
        let name = s.name.as_str();
        services.push_str(&format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"service\" value=\"{v}\"{c}> {v}</label>",
            v = esc(name),
            c = checked(d.services.iter().any(|x| x == name)),
        ));
    }
    let mut hours = String::new();
    for (i, (k, label)) in DAYS.iter().enumerate() {
        hours.push_str(&format!(
            "<label>{label}<input type=\"text\" name=\"hours_{k}\" value=\"{}\"></label>",
            esc(&d.hours[i])
        ));
    }
    format!(
        "<form method=\"post\" action=\"{action}\" class=\"settings provider\" id=\"provider-{key}\">{csrf}\
         <label>Name (as callers say it, like Dr. Lee or Laser Room)<input type=\"text\" name=\"name\" value=\"{name}\" required></label>\
         <fieldset><legend>Services</legend>\
         <label class=\"check\"><input type=\"radio\" name=\"services_from\" value=\"every\"{every}> Every service, including ones added later</label>\
         <label class=\"check\"><input type=\"radio\" name=\"services_from\" value=\"list\"{list}> Only these:</label>{services}</fieldset>\
         <fieldset><legend>Hours</legend>\
         <label class=\"check\"><input type=\"radio\" name=\"hours_from\" value=\"clinic\"{clinic}> The clinic's opening hours</label>\
         <label class=\"check\"><input type=\"radio\" name=\"hours_from\" value=\"own\"{own}> Their own hours:</label>{hours}\
         <small>Like 09:00-12:00, 13:00-17:00. Empty means not working that day. A clinic holiday closes everyone.</small></fieldset>\
         <label>Their dates off or special hours<textarea name=\"date_overrides\" rows=\"2\">{overrides}</textarea>\
         <small>One per line: 2030-12-25 closed vacation, or 2030-12-24 09:00-12:00 short day</small></label>\
         <label>Most appointments a day (empty: no limit)<input type=\"number\" min=\"1\" name=\"max_per_day\" value=\"{per_day}\"></label>\
         <label>Most appointments a week, Monday to Sunday (empty: no limit)<input type=\"number\" min=\"1\" name=\"max_per_week\" value=\"{per_week}\"></label>\
         <button type=\"submit\">{button}</button></form>",
        csrf = csrf_field(&ctx.session.csrf_token),
        name = esc(&d.name),
        every = checked(d.every_service),
        list = checked(!d.every_service),
        clinic = checked(!d.own_hours),
        own = checked(d.own_hours),
        overrides = esc(&d.overrides),
        per_day = esc(&d.max_per_day),
        per_week = esc(&d.max_per_week),
    )
}

fn status_button(ctx: &Ctx, p: &Provider) -> String {
    let (verb, label, class) = if p.is_active() {
        (
            "retire",
            "Retire (keeps their appointments; no new ones)",
            "danger",
        )
    } else {
        ("restore", "Bring back", "")
    };
    format!(
        "<form method=\"post\" action=\"/app/providers/{id}/{verb}\" class=\"inline\">{csrf}\
         <button type=\"submit\" class=\"{class}\">{label}</button></form>",
        id = p.id,
        csrf = csrf_field(&ctx.session.csrf_token),
    )
}

/// The Providers section of Settings. `kept` is the form the owner just sent and that was not
/// saved: it is shown as sent, in place of the stored one (or of the empty "add" form).
pub(crate) fn section(ctx: &Ctx, kept: Option<&Draft>) -> String {
    let t = &ctx.tenant;
    let kept_for = |id: Option<ProviderId>| kept.filter(|d| d.id == id);
    let providers = t.providers();
    let mut out = String::from(
        "<p>The people and chairs appointments are booked with. Each can have their own hours, \
         services and limits; callers can ask for one by name.</p><ul class=\"providers\">",
    );
    for p in providers.iter().filter(|p| p.is_active()) {
        let d = kept_for(Some(p.id))
            .cloned()
            .unwrap_or_else(|| Draft::of(p, t));
        let open = if kept_for(Some(p.id)).is_some() {
            " open"
        } else {
            ""
        };
        out.push_str(&format!(
            "<li class=\"provider\" data-provider=\"{id}\"><details{open}><summary>{name}</summary>{form}{retire}</details></li>",
            id = p.id,
            name = esc(p.name.as_str()),
            form = provider_form(ctx, &d),
            retire = status_button(ctx, p),
        ));
    }
    out.push_str("</ul>");
    let new = kept_for(None).cloned().unwrap_or_else(|| Draft::blank(t));
    out.push_str(&format!(
        "<details{}><summary>Add a provider</summary>{}</details>",
        if kept_for(None).is_some() {
            " open"
        } else {
            ""
        },
        provider_form(ctx, &new)
    ));
    let retired: Vec<&Provider> = providers.iter().filter(|p| !p.is_active()).collect();
    if !retired.is_empty() {
        out.push_str("<h3>Retired</h3><ul class=\"providers retired\">");
        for p in retired {
            out.push_str(&format!(
                "<li class=\"provider retired\" data-provider=\"{id}\">{name} {button}</li>",
                id = p.id,
                name = esc(p.name.as_str()),
                button = status_button(ctx, p),
            ));
        }
        out.push_str("</ul>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_without_services_is_refused_in_words() {
        let form: Vec<(String, String)> = [("name", "Dr. Lee"), ("services_from", "list")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let d = Draft::from_form(None, &form);
        let mut errors = Vec::new();
        let json = d.json(ProviderStatus::Active, &mut errors);
        assert_eq!(json.services, Some(Vec::new()));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("Services:"), "{errors:?}");
    }
}
