mod dst;
mod properties;
mod slots;
mod suggestions;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::slots::spread;
use crate::booking::Interval;
use crate::tenant::{OpenRange, Service, TenantConfig};

use super::*;
use crate::tenant::{
    BookingRules, ClinicName, ClinicZone, DateOverride, DayHours, HotLeadThreshold, ServiceName,
    SystemPrompt, WeeklyHours,
};
use jiff::civil::{Weekday, date, time};
use proptest::prelude::*;
use std::collections::HashMap;

const NY: &str = "America/New_York";
const LONDON: &str = "Europe/London";
const LORD_HOWE: &str = "Australia/Lord_Howe";

fn hours(ranges: &[(&str, &str)]) -> DayHours {
    DayHours::new(
        ranges
            .iter()
            .map(|(s, e)| OpenRange::parse(s, e).unwrap())
            .collect(),
    )
    .unwrap()
}

fn every_day(day: DayHours) -> WeeklyHours {
    let mut w = WeeklyHours::default();
    for d in [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ] {
        w.set(d, day.clone());
    }
    w
}

fn config(zone: &str, weekly_hours: WeeklyHours, rules: BookingRules) -> TenantConfig {
    TenantConfig {
        name: ClinicName::parse("Smile Dental").unwrap(),
        zone: ClinicZone::parse(zone).unwrap(),
        called_numbers: Vec::new(),
        vapi_assistant_ids: Vec::new(),
        alert_numbers: Vec::new(),
        hot_lead_threshold: HotLeadThreshold::default(),
        services: Vec::new(),
        weekly_hours,
        date_overrides: Vec::new(),
        rules,
        system_prompt: SystemPrompt::default(),
        otp_allowed_countries: Vec::new(),
        providers: Vec::new(),
    }
}

/// No notice, no buffers, a horizon long enough for every date below.
fn loose_rules(interval: u32) -> BookingRules {
    BookingRules::new(0, 0, 0, interval, 366).unwrap()
}

fn service(minutes: u32) -> Service {
    Service::new(ServiceName::parse("Cleaning").unwrap(), minutes, None).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An unambiguous local time in the config's zone.
fn at(cfg: &TenantConfig, dt: DateTime) -> Timestamp {
    cfg.zone
        .tz()
        .to_ambiguous_timestamp(dt)
        .unambiguous()
        .unwrap()
}

fn starts(slots: &[Slot]) -> Vec<Timestamp> {
    slots.iter().map(|s| s.slot.start).collect()
}

/// Local wall-clock starts, "HH:MM".
fn local_starts(cfg: &TenantConfig, slots: &[Slot]) -> Vec<String> {
    slots
        .iter()
        .map(|s| {
            let t = cfg.zone.tz().to_datetime(s.slot.start).time();
            format!("{:02}:{:02}", t.hour(), t.minute())
        })
        .collect()
}

fn day(cfg: &TenantConfig, d: Date, svc: &Service, busy: &[Interval], now: Timestamp) -> Vec<Slot> {
    free_slots(cfg, svc, day_window(cfg, d), busy, now)
}

// A Monday well before anything below.
const EARLY: &str = "2026-01-01T00:00:00Z";
const MONDAY: Date = date(2026, 6, 15);
