//! Free times over several providers: the union of each provider's free starts (their own hours,
//! the clinic's buffers and rules, their own bookings and limits), each start with the providers
//! free at it; and the order in which to try the free providers of a start.
//!
//! The rules of [`super::slots`] apply to each provider unchanged, on the provider's schedule
//! ([`Provider::schedule`]); a provider whose limit for a start's day or week is reached is not
//! free at it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Date, Time};

use super::slots::{Slot, free_slots, spread, suggest_on_day};
use crate::booking::{Interval, Occupied};
use crate::provider::{Provider, ProviderId};
use crate::tenant::{Service, TenantConfig};

/// A free start and the providers free at it, in the clinic's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSlot {
    pub slot: Slot,
    pub providers: Vec<ProviderId>,
}

/// The blocked intervals of one provider: their occupying bookings and the events of their own
/// calendar.
fn busy_of(occupied: &[Occupied], provider: ProviderId) -> Vec<Interval> {
    occupied
        .iter()
        .filter(|o| o.calendar == provider)
        .map(|o| o.blocked)
        .collect()
}

/// How many of `occupied` are the provider's bookings and start in `window` (events of their own
/// calendar are no appointments: they count against no limit).
fn count_in(occupied: &[Occupied], provider: ProviderId, window: &Interval) -> usize {
    occupied
        .iter()
        .filter(|o| o.is_booking() && o.calendar == provider && window.contains(o.starts_at))
        .count()
}

/// Whether the provider's limits leave room for one more appointment starting at `start`, given
/// their occupying bookings in `occupied` (which must cover the limits' windows: see
/// [`limits_window`]).
pub fn within_limits(
    provider: &Provider,
    config: &TenantConfig,
    start: Timestamp,
    occupied: &[Occupied],
) -> bool {
    provider
        .limits_at(config, start)
        .iter()
        .all(|l| count_in(occupied, provider.id, &l.window) < l.max as usize)
}

/// The time whose bookings the limits of starts on local dates `first..=last` count: those
/// dates, widened to whole weeks when a provider has a weekly limit.
pub fn limits_window(
    config: &TenantConfig,
    providers: &[Provider],
    first: Date,
    last: Date,
) -> Interval {
    if providers.iter().any(|p| p.max_per_week.is_some()) {
        let monday = crate::provider::week_start(first);
        let sunday = crate::provider::week_start(last)
            .checked_add(jiff::SignedDuration::from_hours(24 * 6))
            .unwrap_or(Date::MAX);
        crate::provider::local_dates(config, monday, sunday)
    } else {
        crate::provider::local_dates(config, first, last)
    }
}

fn merge(into: &mut BTreeMap<Timestamp, ProviderSlot>, provider: ProviderId, slots: Vec<Slot>) {
    for s in slots {
        into.entry(s.slot.start)
            .or_insert_with(|| ProviderSlot {
                slot: s,
                providers: Vec::new(),
            })
            .providers
            .push(provider);
    }
}

/// Every free start in `window` over `providers` (those who perform `service`), each with the
/// providers free at it, in order of time.
pub fn free_slots_by_provider(
    config: &TenantConfig,
    service: &Service,
    providers: &[Provider],
    window: Interval,
    occupied: &[Occupied],
    now: Timestamp,
) -> Vec<ProviderSlot> {
    let mut by_start = BTreeMap::new();
    for p in providers {
        let schedule = p.schedule(config);
        let free: Vec<Slot> = free_slots(&schedule, service, window, &busy_of(occupied, p.id), now)
            .into_iter()
            .filter(|s| within_limits(p, config, s.slot.start, occupied))
            .collect();
        merge(&mut by_start, p.id, free);
    }
    by_start.into_values().collect()
}

/// A handful (`max`) of free starts on one local date at or after `after`, over `providers`,
/// spread across the day as [`suggest_on_day`] spreads one calendar's: a start counts once
/// however many providers are free at it.
#[allow(clippy::too_many_arguments)]
pub fn suggest_on_day_by_provider(
    config: &TenantConfig,
    service: &Service,
    providers: &[Provider],
    date: Date,
    after: Option<Time>,
    occupied: &[Occupied],
    now: Timestamp,
    max: usize,
) -> Vec<ProviderSlot> {
    if max == 0 {
        return Vec::new();
    }
    let mut by_start = BTreeMap::new();
    for p in providers {
        let schedule = p.schedule(config);
        let free: Vec<Slot> = suggest_on_day(
            &schedule,
            service,
            date,
            after,
            &busy_of(occupied, p.id),
            now,
            usize::MAX,
        )
        .into_iter()
        .filter(|s| within_limits(p, config, s.slot.start, occupied))
        .collect();
        merge(&mut by_start, p.id, free);
    }
    spread(by_start.into_values().collect(), max)
}

/// The order in which to try the providers free at `start` when the caller has no preference:
/// the one with the fewest appointments (confirmed or held) on that local date first, then the
/// clinic's order. Spreads the day's work and keeps the choice predictable.
pub fn try_order(
    config: &TenantConfig,
    free: &[Provider],
    start: Timestamp,
    occupied: &[Occupied],
) -> Vec<Provider> {
    let date = config.zone.tz().to_datetime(start).date();
    let day = crate::provider::local_dates(config, date, date);
    let mut ranked: Vec<(usize, usize, &Provider)> = free
        .iter()
        .enumerate()
        .map(|(i, p)| (count_in(occupied, p.id, &day), i, p))
        .collect();
    ranked.sort_by_key(|(n, i, _)| (*n, *i));
    ranked.into_iter().map(|(_, _, p)| p.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::day_window;
    use crate::provider::{BookingCap, ProviderName, ProviderServices, ProviderStatus};
    use crate::tenant::{DayHours, OpenRange, WeeklyHours};
    use crate::testing::tenant_config;
    use jiff::civil::{Weekday, date};

    fn p(name: &str) -> Provider {
        Provider {
            id: ProviderId::from_uuid(uuid::Uuid::new_v4()),
            name: ProviderName::parse(name).unwrap(),
            services: ProviderServices::Every,
            weekly_hours: None,
            date_overrides: Vec::new(),
            max_per_day: None,
            max_per_week: None,
            status: ProviderStatus::Active,
        }
    }

    fn at(config: &TenantConfig, d: Date, h: i8, m: i8) -> Timestamp {
        config
            .zone
            .tz()
            .to_ambiguous_timestamp(d.at(h, m, 0, 0))
            .compatible()
            .unwrap()
    }

    fn occupied(config: &TenantConfig, who: &Provider, d: Date, h: i8, mins: i64) -> Occupied {
        let start = at(config, d, h, 0);
        let blocked = Interval::new(start, start + jiff::SignedDuration::from_mins(mins)).unwrap();
        Occupied {
            calendar: who.id,
            starts_at: start,
            blocked,
            by: crate::booking::OccupiedBy::Booking,
        }
    }

    // Tuesday 2030-03-05; "now" is the Monday before.
    const DAY: Date = date(2030, 3, 5);
    fn now() -> Timestamp {
        "2030-03-04T14:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_start_lists_every_free_provider_and_each_has_own_hours() {
        let config = tenant_config("Two Chairs");
        let service = config.services[1].clone(); // 60 minutes
        let lee = p("Dr. Lee");
        let mut maria = p("Maria");
        let mut week = WeeklyHours::default();
        week.set(
            Weekday::Tuesday,
            DayHours::new(vec![OpenRange::parse("13:00", "15:00").unwrap()]).unwrap(),
        );
        maria.weekly_hours = Some(week);
        let busy = vec![occupied(&config, &lee, DAY, 13, 60)];
        let slots = free_slots_by_provider(
            &config,
            &service,
            &[lee.clone(), maria.clone()],
            day_window(&config, DAY),
            &busy,
            now(),
        );
        let who = |h, m| {
            slots
                .iter()
                .find(|s| s.slot.slot.start == at(&config, DAY, h, m))
                .map(|s| s.providers.clone())
                .unwrap_or_default()
        };
        assert_eq!(who(9, 0), vec![lee.id], "Maria starts at 13:00");
        assert_eq!(who(13, 0), vec![maria.id], "Dr. Lee is busy at 13:00");
        assert_eq!(who(14, 0), vec![lee.id, maria.id]);
        assert_eq!(
            who(14, 30),
            vec![lee.id],
            "Maria's 60 minutes would pass 15:00"
        );
        assert_eq!(who(16, 0), vec![lee.id]);
    }

    #[test]
    fn a_full_day_takes_the_provider_out_and_the_least_busy_goes_first() {
        let config = tenant_config("Limits");
        let service = config.services[0].clone(); // 30 minutes
        let mut lee = p("Dr. Lee");
        lee.max_per_day = Some(BookingCap::new("limit", 2).unwrap());
        let maria = p("Maria");
        let ben = p("Ben");
        let busy = vec![
            occupied(&config, &lee, DAY, 9, 30),
            occupied(&config, &lee, DAY, 10, 30),
            occupied(&config, &maria, DAY, 11, 30),
        ];
        let all = [lee.clone(), maria.clone(), ben.clone()];
        let slots = free_slots_by_provider(
            &config,
            &service,
            &all,
            day_window(&config, DAY),
            &busy,
            now(),
        );
        assert!(
            slots.iter().all(|s| !s.providers.contains(&lee.id)),
            "Dr. Lee's day is full"
        );
        let next_day = DAY.tomorrow().unwrap();
        let tomorrow = free_slots_by_provider(
            &config,
            &service,
            &all,
            day_window(&config, next_day),
            &busy,
            now(),
        );
        assert!(tomorrow.iter().all(|s| s.providers.contains(&lee.id)));

        let order = try_order(&config, &all, at(&config, DAY, 15, 0), &busy);
        let names: Vec<&str> = order.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Ben", "Maria", "Dr. Lee"]);
        let order = try_order(&config, &all, at(&config, next_day, 15, 0), &busy);
        let names: Vec<&str> = order.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["Dr. Lee", "Maria", "Ben"],
            "a tie keeps the clinic's order"
        );
    }

    #[test]
    fn suggestions_count_a_start_once() {
        let config = tenant_config("Three");
        let service = config.services[1].clone();
        let all = [p("A"), p("B"), p("C")];
        let one =
            suggest_on_day_by_provider(&config, &service, &all[..1], DAY, None, &[], now(), 4);
        let three = suggest_on_day_by_provider(&config, &service, &all, DAY, None, &[], now(), 4);
        let starts = |v: &[ProviderSlot]| v.iter().map(|s| s.slot.slot.start).collect::<Vec<_>>();
        assert_eq!(starts(&one), starts(&three));
        assert!(three.iter().all(|s| s.providers.len() == 3));
    }
}
