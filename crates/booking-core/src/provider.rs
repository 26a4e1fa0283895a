//! Providers: the people and chairs (rooms) of a clinic that appointments are booked with.
//!
//! A provider is a calendar: its id is the [`CalendarId`] its bookings carry, and the database
//! forbids overlapping bookings per calendar, so two providers can see two patients at 10:00 while
//! one cannot see two. Each provider has a spoken name ("Dr. Lee", "Hygienist Maria"), the
//! services they perform, their own weekly hours and date overrides (by default the clinic's),
//! and optional limits (at most N appointments a day or a week).
//!
//! A clinic that configured no providers (one created by a release that predates them) is one
//! provider named after the clinic, performing every service on the clinic's hours, whose id is
//! the clinic's default calendar: the one every booking made before providers existed is in.
//!
//! A retired provider is never offered nor booked, but stays in the list so that their past (and
//! already booked) appointments keep a name.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::booking::Interval;
use crate::error::ParseError;
use crate::ids::{CalendarId, TenantId};
use crate::tenant::{
    DateOverride, DayHours, Service, ServiceName, Tenant, TenantConfig, WeeklyHours,
};

/// A provider's id: the calendar their bookings are in.
pub type ProviderId = CalendarId;

/// A provider's name as callers say it ("Dr. Lee"): trimmed, 1..=80 characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderName(String);

impl ProviderName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::new("provider name", "is empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(
                "provider name",
                format!("is longer than {} characters", Self::MAX_CHARS),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError::new(
                "provider name",
                "contains control characters",
            ));
        }
        if spoken_words(s).is_empty() {
            return Err(ParseError::new(
                "provider name",
                "needs a word besides a title (\"Dr. Lee\", not \"Dr.\")",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The words that identify the provider when spoken: lower-cased, without punctuation and
    /// titles ("Dr. Lee" → `["lee"]`).
    pub fn words(&self) -> Vec<String> {
        spoken_words(&self.0)
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for ProviderName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<ProviderName> for String {
    fn from(v: ProviderName) -> String {
        v.0
    }
}

/// Words a name may carry that say what someone is, not who: dropped when names are compared.
const TITLES: &[&str] = &[
    "dr",
    "doctor",
    "doc",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "prof",
    "professor",
    "nurse",
    "hygienist",
    "dentist",
    "therapist",
    "injector",
    "esthetician",
    "aesthetician",
    "the",
    "with",
];

/// Lower-cased words of `s` without punctuation and titles.
fn spoken_words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '/' | '(' | ')'))
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty() && !TITLES.contains(&w.as_str()))
        .collect()
}

/// Which of the clinic's services a provider performs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderServices {
    /// Every service the clinic offers, including those added later.
    #[default]
    Every,
    /// These (by name; a name the clinic no longer offers is ignored).
    Only(Vec<ServiceName>),
}

impl ProviderServices {
    pub fn includes(&self, service: &ServiceName) -> bool {
        match self {
            Self::Every => true,
            Self::Only(names) => names.contains(service),
        }
    }
}

/// A limit on a provider's appointments: 1..=1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BookingCap(u32);

impl BookingCap {
    pub const MAX: u32 = 1000;
    pub fn new(what: &'static str, v: u32) -> Result<Self, ParseError> {
        if v == 0 || v > Self::MAX {
            return Err(ParseError::new(
                what,
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(v))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}
impl TryFrom<u32> for BookingCap {
    type Error = ParseError;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new("booking limit", v)
    }
}
impl From<BookingCap> for u32 {
    fn from(c: BookingCap) -> u32 {
        c.0
    }
}

/// Whether a provider takes new appointments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    #[default]
    Active,
    /// No longer offered nor booked; their appointments stay.
    Retired,
}

/// A person or a chair appointments are booked with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub id: ProviderId,
    pub name: ProviderName,
    pub services: ProviderServices,
    /// `None`: the clinic's weekly hours.
    pub weekly_hours: Option<WeeklyHours>,
    /// The provider's own dates off or special hours (see [`Provider::hours_on`]).
    pub date_overrides: Vec<DateOverride>,
    /// At most this many appointments (confirmed or held) starting on one local date.
    pub max_per_day: Option<BookingCap>,
    /// At most this many appointments starting in one week (Monday to Sunday, local dates).
    pub max_per_week: Option<BookingCap>,
    pub status: ProviderStatus,
}

impl Provider {
    /// The provider a clinic without configured providers is: named after the clinic, every
    /// service, the clinic's hours, no limits, on the clinic's default calendar.
    pub fn whole_clinic(tenant: TenantId, config: &TenantConfig) -> Self {
        Self {
            id: CalendarId::default_for(tenant),
            name: ProviderName::parse(config.name.as_str())
                .unwrap_or_else(|_| ProviderName("The clinic".into())),
            services: ProviderServices::Every,
            weekly_hours: None,
            date_overrides: Vec::new(),
            max_per_day: None,
            max_per_week: None,
            status: ProviderStatus::Active,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == ProviderStatus::Active
    }

    /// Whether this provider can be booked for `service`: active and performing it.
    pub fn offers(&self, service: &ServiceName) -> bool {
        self.is_active() && self.services.includes(service)
    }

    /// The provider's hours on a date: their own override for it, else the clinic's override for
    /// it (a clinic holiday closes everyone; special clinic hours apply to everyone), else their
    /// weekly hours (the clinic's when they have none of their own).
    pub fn hours_on<'a>(&'a self, config: &'a TenantConfig, date: Date) -> &'a DayHours {
        if let Some(o) = self.date_overrides.iter().find(|o| o.date == date) {
            return &o.hours;
        }
        if let Some(o) = config.date_overrides.iter().find(|o| o.date == date) {
            return &o.hours;
        }
        match &self.weekly_hours {
            Some(w) => w.on(date.weekday()),
            None => config.weekly_hours.on(date.weekday()),
        }
    }

    /// What availability reads of a clinic's configuration (zone, rules, services, hours), with
    /// this provider's weekly hours in place of the clinic's and their date overrides before the
    /// clinic's: the availability functions then give this provider's free times. Nothing else of
    /// the clinic is copied (no prompt, numbers or providers).
    pub fn schedule(&self, config: &TenantConfig) -> TenantConfig {
        let mut date_overrides = self.date_overrides.clone();
        for o in &config.date_overrides {
            if !date_overrides.iter().any(|mine| mine.date == o.date) {
                date_overrides.push(o.clone());
            }
        }
        TenantConfig {
            name: config.name.clone(),
            zone: config.zone.clone(),
            called_numbers: Vec::new(),
            vapi_assistant_ids: Vec::new(),
            alert_numbers: Vec::new(),
            hot_lead_threshold: config.hot_lead_threshold,
            services: config.services.clone(),
            weekly_hours: self
                .weekly_hours
                .clone()
                .unwrap_or_else(|| config.weekly_hours.clone()),
            date_overrides,
            rules: config.rules.clone(),
            system_prompt: crate::tenant::SystemPrompt::default(),
            otp_allowed_countries: Vec::new(),
            providers: Vec::new(),
        }
    }

    /// The limits a new appointment starting at `start` must stay within, as windows of time and
    /// the most appointments that may start in each (the new one included).
    pub fn limits_at(&self, config: &TenantConfig, start: Timestamp) -> Vec<BookingLimit> {
        let tz = config.zone.tz();
        let date = tz.to_datetime(start).date();
        let mut out = Vec::new();
        if let Some(cap) = self.max_per_day {
            out.push(BookingLimit {
                window: local_dates(config, date, date),
                max: cap.get(),
            });
        }
        if let Some(cap) = self.max_per_week {
            let monday = week_start(date);
            let sunday = monday
                .checked_add(SignedDuration::from_hours(24 * 6))
                .unwrap_or(Date::MAX);
            out.push(BookingLimit {
                window: local_dates(config, monday, sunday),
                max: cap.get(),
            });
        }
        out
    }
}

/// The Monday of the week `date` is in.
pub fn week_start(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(SignedDuration::from_hours(24 * back))
        .unwrap_or(Date::MIN)
}

/// The instants from the first of local date `first` to the first of the day after `last`.
pub fn local_dates(config: &TenantConfig, first: Date, last: Date) -> Interval {
    let start = crate::availability::day_window(config, first).start;
    let end = crate::availability::day_window(config, last).end;
    Interval::new(start, end).unwrap_or(Interval { start, end: start })
}

/// At most `max` occupying bookings of a calendar may start in `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BookingLimit {
    pub window: Interval,
    pub max: u32,
}

impl Tenant {
    /// Every provider of the clinic, retired ones included, in the owner's order. A clinic that
    /// configured none is one provider (see [`Provider::whole_clinic`]).
    pub fn providers(&self) -> Vec<Provider> {
        if self.config.providers.is_empty() {
            vec![Provider::whole_clinic(self.id, &self.config)]
        } else {
            self.config.providers.clone()
        }
    }

    /// The providers who can be booked for `service`, in the owner's order.
    pub fn providers_for(&self, service: &Service) -> Vec<Provider> {
        self.providers()
            .into_iter()
            .filter(|p| p.offers(&service.name))
            .collect()
    }

    /// The name texts give for who an appointment on `calendar` is with: the provider's, when
    /// the clinic has more than one provider (a clinic that is one provider is named already).
    pub fn provider_to_name(&self, calendar: ProviderId) -> Option<ProviderName> {
        let all = self.providers();
        if all.len() < 2 {
            return None;
        }
        all.into_iter().find(|p| p.id == calendar).map(|p| p.name)
    }

    /// The provider with this id (retired ones included).
    pub fn provider(&self, id: ProviderId) -> Option<Provider> {
        self.providers().into_iter().find(|p| p.id == id)
    }
}

/// What a caller's words for a provider matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderMatch {
    One(Provider),
    /// Several providers fit the words ("Maria" with two Marias): ask which.
    Several(Vec<ProviderName>),
    None,
}

/// The active provider `spoken` names: an id, or a name matched leniently (case, spacing,
/// punctuation and titles do not matter: "dr lee", "Lee", "Doctor Lee" all name "Dr. Lee"). A
/// name whose words all appear in one provider's name ("Maria" for "Maria Garcia") names them
/// when no one else's name has those words too.
pub fn match_provider(providers: &[Provider], spoken: &str) -> ProviderMatch {
    let active: Vec<&Provider> = providers.iter().filter(|p| p.is_active()).collect();
    if let Ok(id) = spoken.trim().parse::<CalendarId>() {
        return match active.iter().find(|p| p.id == id) {
            Some(p) => ProviderMatch::One((*p).clone()),
            None => ProviderMatch::None,
        };
    }
    let words = spoken_words(spoken);
    if words.is_empty() {
        return ProviderMatch::None;
    }
    let exact: Vec<&&Provider> = active.iter().filter(|p| p.name.words() == words).collect();
    if let [p] = exact.as_slice() {
        return ProviderMatch::One((**p).clone());
    }
    let partial: Vec<&&Provider> = active
        .iter()
        .filter(|p| {
            let theirs = p.name.words();
            words.iter().all(|w| theirs.contains(w))
        })
        .collect();
    match partial.as_slice() {
        [] => ProviderMatch::None,
        [p] => ProviderMatch::One((**p).clone()),
        many => ProviderMatch::Several(many.iter().map(|p| p.name.clone()).collect()),
    }
}

/// One provider as the owner edits it: `id` names an existing provider (absent: a new one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEdit {
    pub id: Option<ProviderId>,
    pub name: ProviderName,
    pub services: ProviderServices,
    pub weekly_hours: Option<WeeklyHours>,
    pub date_overrides: Vec<DateOverride>,
    pub max_per_day: Option<BookingCap>,
    pub max_per_week: Option<BookingCap>,
    pub status: ProviderStatus,
}

/// The providers after the owner's edit of the whole list: each edit with an id replaces that
/// provider, each without one is a new provider with an id from `new_id`, and a provider the
/// list no longer names is kept, retired (their appointments keep their provider). The edits'
/// order is the new order; the newly retired follow.
///
/// Refused (with the field to blame): an id that is not one of `current`, two providers with the
/// same name, a service the clinic does not offer, no active provider left.
pub fn apply_provider_edits(
    current: &[Provider],
    edits: Vec<ProviderEdit>,
    services: &[Service],
    mut new_id: impl FnMut() -> ProviderId,
) -> Result<Vec<Provider>, ParseError> {
    let mut out: Vec<Provider> = Vec::with_capacity(edits.len());
    for e in edits {
        let id = match e.id {
            Some(id) => {
                if !current.iter().any(|p| p.id == id) {
                    return Err(ParseError::new(
                        "provider id",
                        format!("{id} is not a provider of this clinic"),
                    ));
                }
                if out.iter().any(|p| p.id == id) {
                    return Err(ParseError::new(
                        "provider id",
                        format!("{id} is listed twice"),
                    ));
                }
                id
            }
            None => new_id(),
        };
        if let ProviderServices::Only(names) = &e.services
            && let Some(unknown) = names
                .iter()
                .find(|n| !services.iter().any(|s| &s.name == *n))
        {
            return Err(ParseError::new(
                "provider services",
                format!("{unknown:?} is not one of the clinic's services"),
            ));
        }
        out.push(Provider {
            id,
            name: e.name,
            services: e.services,
            weekly_hours: e.weekly_hours,
            date_overrides: e.date_overrides,
            max_per_day: e.max_per_day,
            max_per_week: e.max_per_week,
            status: e.status,
        });
    }
    for p in current {
        if !out.iter().any(|q| q.id == p.id) {
            let mut kept = p.clone();
            kept.status = ProviderStatus::Retired;
            out.push(kept);
        }
    }
    check_providers(&out)?;
    Ok(out)
}

/// A clinic's provider list must name each active provider once (by its spoken words) and keep
/// at least one active.
pub fn check_providers(providers: &[Provider]) -> Result<(), ParseError> {
    let active: Vec<&Provider> = providers.iter().filter(|p| p.is_active()).collect();
    if active.is_empty() {
        return Err(ParseError::new(
            "providers",
            "need at least one provider who is not retired",
        ));
    }
    for (i, p) in active.iter().enumerate() {
        if active[..i].iter().any(|q| q.name.words() == p.name.words()) {
            return Err(ParseError::new(
                "provider name",
                format!("{:?} is used twice", p.name.as_str()),
            ));
        }
    }
    for (i, p) in providers.iter().enumerate() {
        if providers[..i].iter().any(|q| q.id == p.id) {
            return Err(ParseError::new(
                "provider id",
                format!("{} is used twice", p.id),
            ));
        }
    }
    Ok(())
}

/// Providers' services with the names the clinic no longer offers dropped (a service renamed
/// or removed).
pub fn prune_services(providers: &mut [Provider], services: &[Service]) {
    for p in providers {
        if let ProviderServices::Only(names) = &mut p.services {
            names.retain(|n| services.iter().any(|s| &s.name == n));
        }
    }
}

/// The weekdays a provider works (for the assistant's description of who works when).
pub fn working_days(p: &Provider, config: &TenantConfig) -> Vec<Weekday> {
    let week = p.weekly_hours.as_ref().unwrap_or(&config.weekly_hours);
    week.iter()
        .filter(|(_, h)| !h.is_closed())
        .map(|(d, _)| d)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Provider {
        Provider {
            id: CalendarId::from_uuid(uuid::Uuid::new_v4()),
            name: ProviderName::parse(name).unwrap(),
            services: ProviderServices::Every,
            weekly_hours: None,
            date_overrides: Vec::new(),
            max_per_day: None,
            max_per_week: None,
            status: ProviderStatus::Active,
        }
    }

    fn one(m: ProviderMatch) -> String {
        match m {
            ProviderMatch::One(p) => p.name.to_string(),
            other => panic!("expected one provider, got {other:?}"),
        }
    }

    #[test]
    fn names_match_leniently() {
        let list = vec![p("Dr. Lee"), p("Hygienist Maria"), p("Laser Room")];
        for said in ["Dr. Lee", "dr lee", "Lee", "Doctor  LEE", "with Dr Lee"] {
            assert_eq!(one(match_provider(&list, said)), "Dr. Lee", "{said}");
        }
        assert_eq!(one(match_provider(&list, "maria")), "Hygienist Maria");
        assert_eq!(one(match_provider(&list, "the laser room")), "Laser Room");
        assert_eq!(
            one(match_provider(&list, &list[2].id.to_string())),
            "Laser Room"
        );
        assert_eq!(match_provider(&list, "Dr. Smith"), ProviderMatch::None);
        assert_eq!(match_provider(&list, "Dr."), ProviderMatch::None);
    }

    #[test]
    fn ambiguous_and_retired_names() {
        let mut list = vec![p("Maria Garcia"), p("Maria Lopez"), p("Sam")];
        assert!(matches!(
            match_provider(&list, "Maria"),
            ProviderMatch::Several(v) if v.len() == 2
        ));
        assert_eq!(one(match_provider(&list, "maria lopez")), "Maria Lopez");
        list[2].status = ProviderStatus::Retired;
        assert_eq!(match_provider(&list, "Sam"), ProviderMatch::None);
        assert_eq!(
            match_provider(&list, &list[2].id.to_string()),
            ProviderMatch::None
        );
    }

    #[test]
    fn a_name_needs_more_than_a_title() {
        assert!(ProviderName::parse("Dr.").is_err());
        assert!(ProviderName::parse("  ").is_err());
        assert_eq!(ProviderName::parse("Dr. Lee").unwrap().words(), vec!["lee"]);
    }

    #[test]
    fn edits_keep_ids_retire_the_unnamed_and_refuse_strangers() {
        let a = p("Dr. Lee");
        let b = p("Maria");
        let edit = |id, name: &str| ProviderEdit {
            id,
            name: ProviderName::parse(name).unwrap(),
            services: ProviderServices::Every,
            weekly_hours: None,
            date_overrides: Vec::new(),
            max_per_day: None,
            max_per_week: None,
            status: ProviderStatus::Active,
        };
        let fresh = CalendarId::from_uuid(uuid::Uuid::new_v4());
        let out = apply_provider_edits(
            &[a.clone(), b.clone()],
            vec![edit(Some(a.id), "Dr. Ann Lee"), edit(None, "Sam")],
            &[],
            || fresh,
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].id, out[0].name.as_str()), (a.id, "Dr. Ann Lee"));
        assert_eq!(out[1].id, fresh);
        assert_eq!((out[2].id, out[2].status), (b.id, ProviderStatus::Retired));

        let stranger = CalendarId::from_uuid(uuid::Uuid::new_v4());
        assert!(
            apply_provider_edits(
                std::slice::from_ref(&a),
                vec![edit(Some(stranger), "X")],
                &[],
                || fresh
            )
            .is_err()
        );
        assert!(
            apply_provider_edits(
                &[],
                vec![edit(None, "Lee"), edit(None, "Dr. Lee")],
                &[],
                || { CalendarId::from_uuid(uuid::Uuid::new_v4()) }
            )
            .is_err(),
            "two providers called Lee"
        );
        let mut only = edit(None, "Sam");
        only.services = ProviderServices::Only(vec![ServiceName::parse("Laser").unwrap()]);
        assert!(apply_provider_edits(&[], vec![only], &[], || fresh).is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        let d = jiff::civil::date(2030, 3, 7); // a Thursday
        assert_eq!(week_start(d), jiff::civil::date(2030, 3, 4));
        assert_eq!(
            week_start(jiff::civil::date(2030, 3, 4)),
            jiff::civil::date(2030, 3, 4)
        );
        assert_eq!(
            week_start(jiff::civil::date(2030, 3, 10)),
            jiff::civil::date(2030, 3, 4)
        );
    }
}
