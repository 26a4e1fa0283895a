//! A clinic's providers in the operator API: the list as sent (a whole-list edit), and as shown
//! with each provider's calendar link.

use std::collections::BTreeMap;

use booking_core::provider::{
    BookingCap, Provider, ProviderEdit, ProviderId, ProviderName, ProviderServices, ProviderStatus,
};
use booking_core::tenant::{Service, ServiceName};
use serde::{Deserialize, Serialize};

use super::calendar::{CalendarJson, CalendarView};
use super::fields::{
    DateOverrideJson, FieldErrors, double_option, overrides_json, parse_overrides, parse_week,
    week_json,
};

/// A provider (a person or a chair) as the operator sends it, and as `GET` shows it (beside its
/// calendar: [`ProviderView`]).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderJson {
    /// An existing provider's id (as `GET` returns it); absent: a new provider.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// The services performed, by name; absent or `null`: every service the clinic offers.
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Same shape as the clinic's; absent or `null`: the clinic's hours.
    #[serde(default)]
    pub weekly_hours: Option<BTreeMap<String, Vec<[String; 2]>>>,
    /// The provider's own dates off or special hours.
    #[serde(default)]
    pub date_overrides: Option<Vec<DateOverrideJson>>,
    #[serde(default)]
    pub max_per_day: Option<u32>,
    #[serde(default)]
    pub max_per_week: Option<u32>,
    /// A retired provider is never offered nor booked; their appointments stay.
    #[serde(default)]
    pub retired: Option<bool>,
    /// The provider's own calendar over CalDAV: absent, unchanged; `null`, unlinked; an object,
    /// linked (see [`CalendarJson`]). Never serialised: [`ProviderView`] shows the link.
    #[serde(default, deserialize_with = "double_option", skip_serializing)]
    pub calendar: Option<Option<CalendarJson>>,
}

/// A provider as `GET` shows it: the provider's fields, and its calendar link (`null`: none).
#[derive(Debug, Serialize)]
pub struct ProviderView {
    #[serde(flatten)]
    pub provider: ProviderJson,
    pub calendar: Option<CalendarView>,
}

/// The providers' edits, each field checked (names of services against `services`).
pub(super) fn parse_providers(
    errs: &mut FieldErrors,
    list: &[ProviderJson],
    services: &[Service],
) -> Vec<ProviderEdit> {
    if list.len() > MAX_PROVIDERS {
        errs.push("providers", format!("at most {MAX_PROVIDERS}"));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let f = |name: &str| format!("providers[{i}].{name}");
        let id = match &p.id {
            Some(id) => match id.parse::<ProviderId>() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    errs.push(f("id"), "is not a provider id");
                    None
                }
            },
            None => Some(None),
        };
        let name = errs.parse(f("name"), ProviderName::parse(&p.name));
        let provider_services = match &p.services {
            None => ProviderServices::Every,
            Some(names) => {
                let mut v: Vec<ServiceName> = Vec::new();
                for (j, n) in names.iter().enumerate() {
                    match services.iter().find(|s| s.name.matches(n)) {
                        Some(s) if !v.contains(&s.name) => v.push(s.name.clone()),
                        Some(_) => {}
                        None => errs.push(
                            format!("providers[{i}].services[{j}]"),
                            format!("{n:?} is not one of the clinic's services"),
                        ),
                    }
                }
                ProviderServices::Only(v)
            }
        };
        let weekly_hours = p
            .weekly_hours
            .as_ref()
            .map(|w| parse_week(errs, &f("weekly_hours"), w));
        let date_overrides = p
            .date_overrides
            .as_deref()
            .map(|o| parse_overrides(errs, &f("date_overrides"), o))
            .unwrap_or_default();
        let cap = |errs: &mut FieldErrors, field: &str, v: Option<u32>| match v {
            None => Some(None),
            Some(v) => errs.parse(f(field), BookingCap::new("limit", v)).map(Some),
        };
        let max_per_day = cap(errs, "max_per_day", p.max_per_day);
        let max_per_week = cap(errs, "max_per_week", p.max_per_week);
        if let (Some(id), Some(name), Some(max_per_day), Some(max_per_week)) =
            (id, name, max_per_day, max_per_week)
        {
            out.push(ProviderEdit {
                id,
                name,
                services: provider_services,
                weekly_hours,
                date_overrides,
                max_per_day,
                max_per_week,
                status: if p.retired == Some(true) {
                    ProviderStatus::Retired
                } else {
                    ProviderStatus::Active
                },
            });
        }
    }
    out
}

/// The most providers one clinic may list (retired ones included).
pub const MAX_PROVIDERS: usize = 100;

impl From<&Provider> for ProviderJson {
    /// A provider as `GET` returns it, and as a whole-list edit sends it back unchanged (its
    /// calendar link untouched).
    fn from(p: &Provider) -> Self {
        ProviderJson {
            id: Some(p.id.to_string()),
            name: p.name.to_string(),
            services: match &p.services {
                ProviderServices::Every => None,
                ProviderServices::Only(names) => {
                    Some(names.iter().map(|n| n.to_string()).collect())
                }
            },
            weekly_hours: p.weekly_hours.as_ref().map(week_json),
            date_overrides: Some(overrides_json(&p.date_overrides)),
            max_per_day: p.max_per_day.map(BookingCap::get),
            max_per_week: p.max_per_week.map(BookingCap::get),
            retired: Some(!p.is_active()),
            calendar: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant_dto::calendar::CalendarEdits;

    #[test]
    fn calendar_secrets_are_not_printed_nor_serialised() {
        let list: Vec<ProviderJson> = serde_json::from_str(
            r#"[{"name": "A", "calendar": {"url": "https://cal.example.com/a/", "username": "a", "password": "hunter22"}}]"#,
        )
        .expect("json");
        assert!(!format!("{list:?}").contains("hunter22"));
        let mut errs = FieldErrors::default();
        let edits = CalendarEdits::read(&mut errs, list.iter().map(|p| p.calendar.as_ref()));
        assert!(errs.0.is_empty());
        assert!(!format!("{edits:?}").contains("hunter22"));
        let json = serde_json::to_string(&list[0]).expect("json");
        assert!(
            !json.contains("hunter22") && !json.contains("calendar"),
            "{json}"
        );
    }
}
