//! The operator API's JSON for a tenant (DESIGN.md §9), and its translation to the domain's
//! `TenantConfig`. Secrets come in; they never go out.
//!
//! - `providers`: the provider list, as sent and as shown;
//! - `calendar`: a provider's own calendar (CalDAV link), as sent and as shown.

mod calendar;
mod fields;
mod providers;

pub use calendar::{CalendarChange, CalendarEdits, CalendarJson, CalendarView};
pub use fields::{DateOverrideJson, FieldError, FieldErrors};
use fields::{double_option, overrides_json, parse_overrides, parse_week, week_json};
use providers::parse_providers;
pub use providers::{MAX_PROVIDERS, ProviderJson, ProviderView};

use std::collections::BTreeMap;

use booking_core::country::Country;
use booking_core::outside_calendar::CalendarStatus;
use booking_core::ports::SmsAccountChange;
use booking_core::provider::{ProviderId, apply_provider_edits, prune_services};
use booking_core::tenant::{
    BookingRules, CalledNumber, ClinicName, ClinicZone, HotLeadThreshold, KeywordReplies, Secret,
    Service, ServiceName, SmsAccount, SmsHealth, SmsSender, SystemPrompt, Tenant, TenantConfig,
};
use booking_core::{AssistantId, PhoneNumber, VoiceLineId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberJson {
    pub number: String,
    #[serde(default)]
    pub vapi_phone_number_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceJson {
    pub name: String,
    pub duration_minutes: u32,
    #[serde(default)]
    pub value_cents: Option<u32>,
}

/// Twilio credentials as the operator sends them. Never serialised back.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioJson {
    pub account_sid: String,
    pub auth_token: String,
    #[serde(default)]
    pub api_key_sid: Option<String>,
    #[serde(default)]
    pub api_key_secret: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The numbers of the Messaging Service's sender pool: texts to the clinic arrive on them.
    #[serde(default)]
    pub messaging_service_numbers: Option<Vec<String>>,
    /// Who answers STOP, START and HELP: `"twilio"` (default: Twilio's default opt-out handling
    /// or Advanced Opt-Out) or `"clinic"` (Twilio's replies are turned off; we answer).
    #[serde(default)]
    pub keyword_replies: Option<String>,
}

impl std::fmt::Debug for TwilioJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioJson")
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

/// `POST /admin/tenants` and, with every field optional, `PATCH /admin/tenants/{id}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub phone_numbers: Option<Vec<PhoneNumberJson>>,
    /// The clinic's saved Vapi assistants (ids from Vapi's dashboard), for calls without a phone
    /// number. Each belongs to one clinic only.
    pub vapi_assistant_ids: Option<Vec<String>>,
    pub alert_numbers: Option<Vec<String>>,
    pub hot_lead_threshold: Option<u32>,
    /// `null` in a PATCH removes the credentials.
    #[serde(default, deserialize_with = "double_option")]
    pub twilio: Option<Option<TwilioJson>>,
    pub services: Option<Vec<ServiceJson>>,
    pub weekly_hours: Option<BTreeMap<String, Vec<[String; 2]>>>,
    pub date_overrides: Option<Vec<DateOverrideJson>>,
    pub buffer_before_minutes: Option<u32>,
    pub buffer_after_minutes: Option<u32>,
    pub min_notice_minutes: Option<u32>,
    pub slot_interval_minutes: Option<u32>,
    pub booking_horizon_days: Option<u32>,
    /// Inside this many minutes before an appointment, the patient's link no longer cancels or
    /// moves it (default 1440).
    pub link_notice_minutes: Option<u32>,
    pub system_prompt: Option<String>,
    /// ISO country codes codes may be texted to; `[]`: the clinic's own country.
    pub otp_allowed_countries: Option<Vec<String>>,
    /// The whole list of providers, in order: a listed `id` edits that provider, an entry
    /// without one adds a provider, and a provider left out is retired (kept with their
    /// appointments, never offered again). Absent: unchanged (a new clinic: one provider named
    /// after it, performing every service, on its hours).
    pub providers: Option<Vec<ProviderJson>>,
}

impl TenantInput {
    /// The configuration this input makes, on top of `base` (none for a create, in which case
    /// `name` and `timezone` are required). New providers get their ids from `new_provider_id`.
    pub fn apply(
        &self,
        base: Option<&Tenant>,
        new_provider_id: impl FnMut() -> ProviderId,
    ) -> Result<(TenantConfig, SmsAccountChange), FieldErrors> {
        let mut errs = FieldErrors::default();
        let current_providers = base.map(Tenant::providers).unwrap_or_default();
        let base = base.map(|t| &t.config);

        let name = match (&self.name, base) {
            (Some(n), _) => errs.parse("name", ClinicName::parse(n)),
            (None, Some(b)) => Some(b.name.clone()),
            (None, None) => {
                errs.push("name", "is required");
                None
            }
        };
        let zone = match (&self.timezone, base) {
            (Some(z), _) => errs.parse("timezone", ClinicZone::parse(z)),
            (None, Some(b)) => Some(b.zone.clone()),
            (None, None) => {
                errs.push(
                    "timezone",
                    "is required (an IANA name such as America/New_York)",
                );
                None
            }
        };
        let called_numbers = match &self.phone_numbers {
            Some(list) => {
                let mut v = Vec::new();
                for (i, p) in list.iter().enumerate() {
                    let number = errs.parse(
                        format!("phone_numbers[{i}].number"),
                        PhoneNumber::parse(&p.number),
                    );
                    let id = match &p.vapi_phone_number_id {
                        Some(id) => errs
                            .parse(
                                format!("phone_numbers[{i}].vapi_phone_number_id"),
                                VoiceLineId::parse(id),
                            )
                            .map(Some),
                        None => Some(None),
                    };
                    if let (Some(number), Some(vapi_phone_number_id)) = (number, id) {
                        v.push(CalledNumber {
                            number,
                            vapi_phone_number_id,
                        });
                    }
                }
                v
            }
            None => base.map(|b| b.called_numbers.clone()).unwrap_or_default(),
        };
        let vapi_assistant_ids = match &self.vapi_assistant_ids {
            Some(list) => parse_assistant_ids(&mut errs, list),
            None => base
                .map(|b| b.vapi_assistant_ids.clone())
                .unwrap_or_default(),
        };
        let alert_numbers = match &self.alert_numbers {
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    errs.parse(format!("alert_numbers[{i}]"), PhoneNumber::parse(n))
                })
                .collect(),
            None => base.map(|b| b.alert_numbers.clone()).unwrap_or_default(),
        };
        if alert_numbers.len() > 10 {
            errs.push("alert_numbers", "at most 10");
        }
        let hot_lead_threshold = match self.hot_lead_threshold {
            Some(t) => errs
                .parse("hot_lead_threshold", HotLeadThreshold::new(t))
                .unwrap_or_default(),
            None => base.map(|b| b.hot_lead_threshold).unwrap_or_default(),
        };
        let services = match &self.services {
            Some(list) => {
                let mut v: Vec<Service> = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    let Some(name) =
                        errs.parse(format!("services[{i}].name"), ServiceName::parse(&s.name))
                    else {
                        continue;
                    };
                    if v.iter().any(|o| o.name.matches(name.as_str())) {
                        errs.push(format!("services[{i}].name"), "appears twice");
                        continue;
                    }
                    if let Some(svc) = errs.parse(
                        format!("services[{i}].duration_minutes"),
                        Service::new(name, s.duration_minutes, s.value_cents),
                    ) {
                        v.push(svc);
                    }
                }
                v
            }
            None => base.map(|b| b.services.clone()).unwrap_or_default(),
        };
        let weekly_hours = match &self.weekly_hours {
            Some(map) => parse_week(&mut errs, "weekly_hours", map),
            None => base.map(|b| b.weekly_hours.clone()).unwrap_or_default(),
        };
        let date_overrides = match &self.date_overrides {
            Some(list) => parse_overrides(&mut errs, "date_overrides", list),
            None => base.map(|b| b.date_overrides.clone()).unwrap_or_default(),
        };
        let r = base.map(|b| b.rules.clone()).unwrap_or_default();
        let rules = errs
            .parse(
                "booking rules",
                BookingRules::new(
                    self.buffer_before_minutes.unwrap_or(r.buffer_before),
                    self.buffer_after_minutes.unwrap_or(r.buffer_after),
                    self.min_notice_minutes.unwrap_or(r.min_notice_minutes),
                    self.slot_interval_minutes.unwrap_or(r.slot_interval.get()),
                    self.booking_horizon_days.unwrap_or(r.horizon_days),
                )
                .and_then(|rules| {
                    rules
                        .with_link_notice(self.link_notice_minutes.unwrap_or(r.link_notice_minutes))
                }),
            )
            .unwrap_or_default();
        let system_prompt = match &self.system_prompt {
            Some(p) => errs
                .parse("system_prompt", SystemPrompt::parse(p))
                .unwrap_or_default(),
            None => base.map(|b| b.system_prompt.clone()).unwrap_or_default(),
        };
        let otp_allowed_countries = match &self.otp_allowed_countries {
            Some(list) => {
                let mut v = Vec::new();
                for (i, c) in list.iter().enumerate() {
                    if let Some(c) =
                        errs.parse(format!("otp_allowed_countries[{i}]"), Country::parse(c))
                        && !v.contains(&c)
                    {
                        v.push(c);
                    }
                }
                v
            }
            None => base
                .map(|b| b.otp_allowed_countries.clone())
                .unwrap_or_default(),
        };
        let twilio = match &self.twilio {
            None => SmsAccountChange::Keep,
            Some(None) => SmsAccountChange::Clear,
            Some(Some(t)) => match sms_account(&mut errs, t) {
                Some(a) => SmsAccountChange::Set(a),
                None => SmsAccountChange::Keep,
            },
        };

        let providers = match &self.providers {
            Some(list) => {
                let edits = parse_providers(&mut errs, list, &services);
                if errs.0.is_empty() {
                    errs.parse(
                        "providers",
                        apply_provider_edits(&current_providers, edits, &services, new_provider_id),
                    )
                    .unwrap_or_default()
                } else {
                    Vec::new()
                }
            }
            None => {
                let mut kept = base.map(|b| b.providers.clone()).unwrap_or_default();
                prune_services(&mut kept, &services);
                kept
            }
        };

        if !errs.0.is_empty() {
            return Err(errs);
        }
        let (Some(name), Some(zone)) = (name, zone) else {
            return Err(errs);
        };
        Ok((
            TenantConfig {
                name,
                zone,
                called_numbers,
                vapi_assistant_ids,
                alert_numbers,
                hot_lead_threshold,
                services,
                weekly_hours,
                date_overrides,
                rules,
                system_prompt,
                otp_allowed_countries,
                providers,
            },
            twilio,
        ))
    }
}

fn sid(errs: &mut FieldErrors, field: &str, v: &str, prefix: &str) -> Option<String> {
    let v = v.trim();
    if v.len() == 34 && v.starts_with(prefix) && v[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(v.to_owned())
    } else {
        errs.push(
            field,
            format!("must be {prefix} followed by 32 hex characters"),
        );
        None
    }
}

fn sms_account(errs: &mut FieldErrors, t: &TwilioJson) -> Option<SmsAccount> {
    let account_sid = sid(errs, "twilio.account_sid", &t.account_sid, "AC");
    if t.auth_token.trim().len() < 8 {
        errs.push(
            "twilio.auth_token",
            "is required (it validates Twilio's webhook signatures)",
        );
    }
    let api_key = match (&t.api_key_sid, &t.api_key_secret) {
        (Some(k), Some(s)) if !s.trim().is_empty() => {
            sid(errs, "twilio.api_key_sid", k, "SK").map(|k| Some((k, Secret::new(s.trim()))))
        }
        (None, None) => Some(None),
        _ => {
            errs.push(
                "twilio.api_key_secret",
                "api_key_sid and api_key_secret go together",
            );
            None
        }
    };
    let sender = match (&t.from, &t.messaging_service_sid) {
        (Some(from), None) => errs
            .parse("twilio.from", PhoneNumber::parse(from))
            .map(SmsSender::From),
        (None, Some(ms)) => {
            let mut numbers: Vec<PhoneNumber> = Vec::new();
            for (i, n) in t.messaging_service_numbers.iter().flatten().enumerate() {
                if let Some(n) = errs.parse(
                    format!("twilio.messaging_service_numbers[{i}]"),
                    PhoneNumber::parse(n),
                ) && !numbers.contains(&n)
                {
                    numbers.push(n);
                }
            }
            sid(errs, "twilio.messaging_service_sid", ms, "MG")
                .map(|sid| SmsSender::MessagingService { sid, numbers })
        }
        _ => {
            errs.push(
                "twilio.from",
                "give exactly one of from and messaging_service_sid",
            );
            None
        }
    };
    if t.from.is_some()
        && t.messaging_service_numbers
            .as_ref()
            .is_some_and(|n| !n.is_empty())
    {
        errs.push(
            "twilio.messaging_service_numbers",
            "are only for a clinic that sends through a Messaging Service",
        );
    }
    let keyword_replies = match &t.keyword_replies {
        None => Some(KeywordReplies::default()),
        Some(k) => errs.parse("twilio.keyword_replies", KeywordReplies::parse(k)),
    };
    Some(SmsAccount {
        account_sid: account_sid?,
        auth_token: Secret::new(t.auth_token.trim()),
        api_key: api_key?,
        sender: sender?,
        keyword_replies: keyword_replies?,
    })
}

/// The most saved Vapi assistants a clinic lists.
pub const MAX_VAPI_ASSISTANTS: usize = 20;

/// Vapi assistant ids, each once, in the order given (`vapi_assistant_ids[i]` names a bad one).
pub fn parse_assistant_ids(errs: &mut FieldErrors, list: &[String]) -> Vec<AssistantId> {
    if list.len() > MAX_VAPI_ASSISTANTS {
        errs.push(
            "vapi_assistant_ids",
            format!("lists more than {MAX_VAPI_ASSISTANTS} assistants"),
        );
        return Vec::new();
    }
    let mut out: Vec<AssistantId> = Vec::new();
    for (i, id) in list.iter().enumerate() {
        if let Some(id) = errs.parse(format!("vapi_assistant_ids[{i}]"), AssistantId::parse(id))
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// A tenant as the operator API returns it: no secret.
#[derive(Debug, Serialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub phone_numbers: Vec<PhoneNumberJson>,
    pub vapi_assistant_ids: Vec<String>,
    pub alert_numbers: Vec<String>,
    pub hot_lead_threshold: u32,
    pub twilio: Option<TwilioView>,
    pub sms_health: SmsHealth,
    pub services: Vec<ServiceJson>,
    pub weekly_hours: BTreeMap<String, Vec<[String; 2]>>,
    pub date_overrides: Vec<DateOverrideJson>,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    pub min_notice_minutes: u32,
    pub slot_interval_minutes: u32,
    pub booking_horizon_days: u32,
    pub link_notice_minutes: u32,
    pub system_prompt: String,
    /// As set (`[]`: the clinic's own country).
    pub otp_allowed_countries: Vec<String>,
    /// The countries codes go to now: those set, else the clinic's own.
    pub otp_countries_in_effect: Vec<String>,
    /// Every provider, retired ones included, in order, each with its calendar link.
    pub providers: Vec<ProviderView>,
}

#[derive(Debug, Serialize)]
pub struct TwilioView {
    pub account_sid: String,
    pub api_key_sid: Option<String>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub messaging_service_numbers: Vec<String>,
    pub keyword_replies: KeywordReplies,
}

impl TenantView {
    /// `calendars`: the clinic's calendar links (shown on their providers).
    pub fn new(t: &Tenant, sms: Option<&SmsAccount>, calendars: &[CalendarStatus]) -> Self {
        let c = &t.config;
        Self {
            id: t.id.to_string(),
            name: c.name.to_string(),
            timezone: c.zone.name().to_owned(),
            phone_numbers: c
                .called_numbers
                .iter()
                .map(|n| PhoneNumberJson {
                    number: n.number.to_string(),
                    vapi_phone_number_id: n.vapi_phone_number_id.as_ref().map(|i| i.to_string()),
                })
                .collect(),
            vapi_assistant_ids: c.vapi_assistant_ids.iter().map(|a| a.to_string()).collect(),
            alert_numbers: c.alert_numbers.iter().map(|n| n.to_string()).collect(),
            hot_lead_threshold: c.hot_lead_threshold.get(),
            twilio: sms.map(|a| TwilioView {
                account_sid: a.account_sid.clone(),
                api_key_sid: a.api_key.as_ref().map(|(k, _)| k.clone()),
                from: match &a.sender {
                    SmsSender::From(n) => Some(n.to_string()),
                    SmsSender::MessagingService { .. } => None,
                },
                messaging_service_sid: match &a.sender {
                    SmsSender::MessagingService { sid, .. } => Some(sid.clone()),
                    SmsSender::From(_) => None,
                },
                messaging_service_numbers: match &a.sender {
                    SmsSender::MessagingService { numbers, .. } => {
                        numbers.iter().map(|n| n.to_string()).collect()
                    }
                    SmsSender::From(_) => Vec::new(),
                },
                keyword_replies: a.keyword_replies,
            }),
            sms_health: t.sms_health.clone(),
            services: c
                .services
                .iter()
                .map(|s| ServiceJson {
                    name: s.name.to_string(),
                    duration_minutes: s.duration.get(),
                    value_cents: s.value_cents,
                })
                .collect(),
            weekly_hours: week_json(&c.weekly_hours),
            date_overrides: overrides_json(&c.date_overrides),
            buffer_before_minutes: c.rules.buffer_before,
            buffer_after_minutes: c.rules.buffer_after,
            min_notice_minutes: c.rules.min_notice_minutes,
            slot_interval_minutes: c.rules.slot_interval.get(),
            booking_horizon_days: c.rules.horizon_days,
            link_notice_minutes: c.rules.link_notice_minutes,
            system_prompt: c.system_prompt.as_str().to_owned(),
            otp_allowed_countries: c
                .otp_allowed_countries
                .iter()
                .map(|c| c.to_string())
                .collect(),
            otp_countries_in_effect: c.code_countries().iter().map(|c| c.to_string()).collect(),
            providers: t
                .providers()
                .iter()
                .map(|p| ProviderView {
                    provider: ProviderJson::from(p),
                    calendar: calendars
                        .iter()
                        .find(|s| s.tenant == t.id && s.calendar == p.id)
                        .map(CalendarView::from),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Weekday;

    const EXAMPLE: &str = r#"{"name": "Smile Dental", "timezone": "America/New_York",
       "phone_numbers": [{"number": "+19254207621", "vapi_phone_number_id": "4a5a04dc-dcbe-45b1-8f64-fd32a253d136"}],
       "alert_numbers": ["+15550001111"], "hot_lead_threshold": 70,
       "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tok-0123456789", "api_key_sid": null, "api_key_secret": null,
                  "from": "+15550002222", "messaging_service_sid": null},
       "services": [{"name": "Teeth Whitening", "duration_minutes": 60}],
       "weekly_hours": {"mon": [["09:00", "17:00"]], "tue": [["09:00", "12:00"], ["13:00", "17:00"]]},
       "system_prompt": "You are Voxanne, the friendly receptionist of Smile Dental."}"#;

    fn fresh_id() -> ProviderId {
        ProviderId::from_uuid(uuid::Uuid::new_v4())
    }

    fn tenant_of(config: TenantConfig) -> Tenant {
        Tenant {
            id: booking_core::TenantId::from_uuid(uuid::Uuid::new_v4()),
            config,
            sms_health: SmsHealth::NotConfigured,
        }
    }

    #[test]
    fn the_design_example_is_accepted() {
        let input: TenantInput = serde_json::from_str(EXAMPLE).unwrap();
        let (cfg, twilio) = input.apply(None, fresh_id).unwrap();
        assert_eq!(cfg.name.as_str(), "Smile Dental");
        assert_eq!(cfg.weekly_hours.on(Weekday::Tuesday).ranges().len(), 2);
        assert!(cfg.weekly_hours.on(Weekday::Sunday).is_closed());
        assert!(matches!(twilio, SmsAccountChange::Set(ref a) if a.account_sid.starts_with("AC")));
        let SmsAccountChange::Set(acct) = twilio else {
            unreachable!()
        };
        let view = serde_json::to_string(&TenantView::new(
            &Tenant {
                id: booking_core::TenantId::from_random_bytes([7; 16]),
                config: cfg,
                sms_health: SmsHealth::Ok,
            },
            Some(&acct),
            &[],
        ))
        .unwrap();
        assert!(!view.contains("tok-0123456789"), "secret leaked: {view}");
        assert!(view.contains("+15550002222"));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input: TenantInput = serde_json::from_str(
            r#"{"name": "", "timezone": "Mars/Olympus", "alert_numbers": ["5550001111"],
                "services": [{"name": "X", "duration_minutes": 0}],
                "weekly_hours": {"mon": [["17:00", "09:00"]], "funday": []},
                "twilio": {"account_sid": "nope", "auth_token": "x"}}"#,
        )
        .unwrap();
        let errs = input.apply(None, fresh_id).unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "name",
            "timezone",
            "alert_numbers[0]",
            "services[0].duration_minutes",
            "weekly_hours.mon[0]",
            "weekly_hours.funday",
            "twilio.account_sid",
            "twilio.auth_token",
            "twilio.from",
        ] {
            assert!(fields.contains(&f), "{f} not in {fields:?}");
        }
    }

    #[test]
    fn patch_keeps_what_it_does_not_name() {
        let input: TenantInput = serde_json::from_str(EXAMPLE).unwrap();
        let (cfg, _) = input.apply(None, fresh_id).unwrap();
        let patch: TenantInput =
            serde_json::from_str(r#"{"hot_lead_threshold": 50, "twilio": null}"#).unwrap();
        let (patched, twilio) = patch
            .apply(Some(&tenant_of(cfg.clone())), fresh_id)
            .unwrap();
        assert_eq!(patched.hot_lead_threshold.get(), 50);
        assert_eq!(patched.services, cfg.services);
        assert!(matches!(twilio, SmsAccountChange::Clear));
        let unknown = serde_json::from_str::<TenantInput>(r#"{"tenant_secret": 1}"#);
        assert!(unknown.is_err());
    }
}
