//! `check_availability`: free times of a service, offered to the caller.

use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};

use crate::availability;
use crate::availability::{Slot, Unbookable};
use crate::booking::Interval;
use crate::service::{BookingService, CallContext, ServiceResult, UnknownService, find_service};
use crate::tenant::{Service, Tenant};

/// What `check_availability` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvailabilityOutcome {
    Available {
        service: String,
        /// Free starts, earliest first.
        slots: Vec<Timestamp>,
        /// A date was asked for and had nothing free: these are the nearest later times.
        requested_day_full: bool,
    },
    /// Nothing free within the days searched.
    NoneAvailable {
        service: String,
    },
    Refused(AvailabilityRefusal),
}

/// Why `check_availability` looked for nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvailabilityRefusal {
    UnknownService(UnknownService),
    /// The day asked for is before the clinic's today.
    DayPassed {
        day: Date,
        today: Date,
    },
    /// The day asked for is past the clinic's booking horizon, which ends on `last`.
    BeyondHorizon {
        horizon_days: u32,
        last: Date,
    },
}

/// Why a start cannot be booked by the clinic's rules, with the free starts closest to it when
/// there can be some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgainstTheRules {
    pub why: Unbookable,
    pub alternatives: Vec<Timestamp>,
}

impl BookingService {
    /// The busy intervals that matter to `service` slots starting from `first` to `last`
    /// (local dates): the days widened by the buffers and the service, so that a booking just
    /// past midnight is seen by a late slot whose time runs into it.
    async fn busy_between(
        &self,
        tenant: &Tenant,
        service: &Service,
        first: Date,
        last: Date,
        now: Timestamp,
    ) -> ServiceResult<Vec<Interval>> {
        let cfg = &tenant.config;
        let start = availability::day_window(cfg, first).start;
        let end = availability::day_window(cfg, last).end;
        match Interval::new(start, end) {
            Some(w) => {
                let w = availability::busy_window(cfg, service, w);
                Ok(self.store.busy(tenant.id, w, now).await?)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Suggestions from `first` on, day by day up to `days` days (within the horizon), until
    /// `self.config.suggestions` are found.
    async fn suggest_from(
        &self,
        tenant: &Tenant,
        service: &Service,
        first: Date,
        after: Option<Time>,
        days: u32,
        now: Timestamp,
    ) -> ServiceResult<Vec<Slot>> {
        let cfg = &tenant.config;
        let horizon_end = Self::last_bookable_day(cfg, now);
        let last = first
            .saturating_add(i64::from(days.max(1) - 1).days())
            .min(horizon_end);
        if first > last {
            return Ok(Vec::new());
        }
        let busy = self.busy_between(tenant, service, first, last, now).await?;
        let want = self.config.suggestions.max(1);
        let mut out: Vec<Slot> = Vec::new();
        let mut day = first;
        while day <= last && out.len() < want {
            let found = availability::suggest_on_day(
                cfg,
                service,
                day,
                after,
                &busy,
                now,
                want - out.len(),
            );
            out.extend(found);
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// The slot a start makes by the clinic's rules alone, or why not with close alternatives
    /// where there can be some.
    pub(super) async fn slot_by_the_rules(
        &self,
        tenant: &Tenant,
        svc: &Service,
        at: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Result<Slot, AgainstTheRules>> {
        match availability::slot_at(&tenant.config, svc, at, now) {
            Ok(s) => Ok(Ok(s)),
            Err(u) => {
                let alternatives = match u {
                    Unbookable::Closed
                    | Unbookable::OffGrid { .. }
                    | Unbookable::RepeatedTime
                    | Unbookable::TooSoon { .. } => {
                        self.alternatives_near(tenant, svc, at.max(now), now)
                            .await?
                    }
                    Unbookable::InPast | Unbookable::BeyondHorizon { .. } => Vec::new(),
                };
                Ok(Err(AgainstTheRules {
                    why: u,
                    alternatives,
                }))
            }
        }
    }

    /// Free starts closest to `near` on its local day, else the next suggestions after it.
    pub(super) async fn alternatives_near(
        &self,
        tenant: &Tenant,
        service: &Service,
        near: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Vec<Timestamp>> {
        let cfg = &tenant.config;
        let day = near.to_zoned_datetime(cfg.zone.tz().clone()).date();
        let window = availability::day_window(cfg, day);
        let busy = self
            .store
            .busy(
                tenant.id,
                availability::busy_window(cfg, service, window),
                now,
            )
            .await?;
        let mut slots = availability::free_slots(cfg, service, window, &busy, now);
        slots.retain(|s| s.slot.start != near);
        slots.sort_by_key(|s| (s.slot.start - near).abs());
        slots.truncate(self.config.alternatives);
        if slots.is_empty() {
            let today = Self::today(cfg, now);
            let from = day.tomorrow().unwrap_or(day).max(today);
            slots = self
                .suggest_from(tenant, service, from, None, self.config.search_days, now)
                .await?;
            slots.truncate(self.config.alternatives);
        }
        slots.sort_by_key(|s| s.slot.start);
        Ok(slots.iter().map(|s| s.slot.start).collect())
    }

    /// `check_availability(service, date?, after?)`.
    pub async fn check_availability(
        &self,
        ctx: &CallContext,
        service: &str,
        date: Option<Date>,
        after: Option<Time>,
    ) -> ServiceResult<AvailabilityOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(svc) = find_service(cfg, service) else {
            return Ok(AvailabilityOutcome::Refused(
                AvailabilityRefusal::UnknownService(UnknownService::new(cfg, service)),
            ));
        };
        let today = Self::today(cfg, now);
        let last = Self::last_bookable_day(cfg, now);
        let name = svc.name.to_string();
        let offers =
            |slots: Vec<Slot>| -> Vec<Timestamp> { slots.iter().map(|s| s.slot.start).collect() };
        match date {
            None => {
                let slots = self
                    .suggest_from(tenant, svc, today, after, self.config.search_days, now)
                    .await?;
                if slots.is_empty() {
                    return Ok(AvailabilityOutcome::NoneAvailable { service: name });
                }
                Ok(AvailabilityOutcome::Available {
                    service: name,
                    slots: offers(slots),
                    requested_day_full: false,
                })
            }
            Some(day) => {
                if day < today {
                    return Ok(AvailabilityOutcome::Refused(
                        AvailabilityRefusal::DayPassed { day, today },
                    ));
                }
                if day > last {
                    return Ok(AvailabilityOutcome::Refused(
                        AvailabilityRefusal::BeyondHorizon {
                            horizon_days: cfg.rules.horizon_days,
                            last,
                        },
                    ));
                }
                let busy = self.busy_between(tenant, svc, day, day, now).await?;
                let on_day = availability::suggest_on_day(
                    cfg,
                    svc,
                    day,
                    after,
                    &busy,
                    now,
                    self.config.suggestions.max(1),
                );
                if !on_day.is_empty() {
                    return Ok(AvailabilityOutcome::Available {
                        service: name,
                        slots: offers(on_day),
                        requested_day_full: false,
                    });
                }
                let later = match day.tomorrow() {
                    Ok(next) => {
                        self.suggest_from(tenant, svc, next, None, self.config.search_days, now)
                            .await?
                    }
                    Err(_) => Vec::new(),
                };
                if later.is_empty() {
                    return Ok(AvailabilityOutcome::NoneAvailable { service: name });
                }
                Ok(AvailabilityOutcome::Available {
                    service: name,
                    slots: offers(later),
                    requested_day_full: true,
                })
            }
        }
    }
}
