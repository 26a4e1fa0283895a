//! `check_availability`: free times of a service, offered to the caller.

use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};

use crate::availability;
use crate::availability::{ProviderSlot, Slot, Unbookable};
use crate::booking::{Interval, Occupied};
use crate::provider::{Provider, ProviderMatch, ProviderName, match_provider};
use crate::service::{BookingService, CallContext, ServiceResult, UnknownService, find_service};
use crate::tenant::{Service, Tenant};

/// A free start and the providers free at it, in the clinic's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeStart {
    pub start: Timestamp,
    pub providers: Vec<ProviderName>,
}

/// Why the provider a caller asked for cannot be looked at or booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderProblem {
    /// No active provider has that name (or id); `known` are the clinic's active providers.
    Unknown {
        asked: String,
        known: Vec<ProviderName>,
    },
    /// Several providers fit the words: ask which.
    Several(Vec<ProviderName>),
    /// The provider does not perform the service; `who_does` are those who do.
    DoesNotPerform {
        provider: ProviderName,
        service: String,
        who_does: Vec<ProviderName>,
    },
}

/// The providers a request may be booked with: the one asked for (if they perform the
/// service), else every active provider who performs it, in the clinic's order.
pub(super) fn candidates(
    tenant: &Tenant,
    service: &Service,
    asked: Option<&str>,
) -> Result<Vec<Provider>, ProviderProblem> {
    let all = tenant.providers();
    let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(tenant.providers_for(service));
    };
    match match_provider(&all, asked) {
        ProviderMatch::One(p) if p.offers(&service.name) => Ok(vec![p]),
        ProviderMatch::One(p) => Err(ProviderProblem::DoesNotPerform {
            provider: p.name,
            service: service.name.to_string(),
            who_does: tenant
                .providers_for(service)
                .into_iter()
                .map(|p| p.name)
                .collect(),
        }),
        ProviderMatch::Several(names) => Err(ProviderProblem::Several(names)),
        ProviderMatch::None => Err(ProviderProblem::Unknown {
            asked: crate::service::clean_text(asked, 80),
            known: all
                .into_iter()
                .filter(Provider::is_active)
                .map(|p| p.name)
                .collect(),
        }),
    }
}

/// What `check_availability` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvailabilityOutcome {
    Available {
        service: String,
        /// Free starts, earliest first, each with who is free at it.
        slots: Vec<FreeStart>,
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
    Provider(ProviderProblem),
}

/// Why a start cannot be booked by the clinic's rules, with the free starts closest to it when
/// there can be some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgainstTheRules {
    pub why: Unbookable,
    pub alternatives: Vec<Timestamp>,
}

impl BookingService {
    /// The busy time of `providers` (bookings and their own calendars' events) that matters to
    /// `service` slots starting from
    /// `first` to `last` (local dates): the days widened by the buffers and the service (a
    /// booking just past midnight is seen by a late slot whose time runs into it), and by the
    /// providers' limits (whole weeks for a weekly limit).
    pub(super) async fn occupied_between(
        &self,
        tenant: &Tenant,
        service: &Service,
        providers: &[Provider],
        first: Date,
        last: Date,
        now: Timestamp,
    ) -> ServiceResult<Vec<Occupied>> {
        let cfg = &tenant.config;
        let start = availability::day_window(cfg, first).start;
        let end = availability::day_window(cfg, last).end;
        let Some(days) = Interval::new(start, end) else {
            return Ok(Vec::new());
        };
        if providers.is_empty() {
            return Ok(Vec::new());
        }
        let slots = availability::busy_window(cfg, service, days);
        let limits = availability::limits_window(cfg, providers, first, last);
        let window = Interval {
            start: slots.start.min(limits.start),
            end: slots.end.max(limits.end),
        };
        let ids: Vec<_> = providers.iter().map(|p| p.id).collect();
        self.occupied_in(tenant, &ids, window, now).await
    }

    /// Everything that keeps these calendars (providers) busy in `window`: our occupying
    /// bookings, and the events of each provider's own calendar as last synced
    /// ([`crate::outside_calendar::CalendarSyncStore::outside_busy_of`]). Both are read from our
    /// database: a caller never waits on a calendar server. The one place availability,
    /// reserving and moving learn what is busy.
    pub(super) async fn occupied_in(
        &self,
        tenant: &Tenant,
        calendars: &[crate::ids::CalendarId],
        window: Interval,
        now: Timestamp,
    ) -> ServiceResult<Vec<Occupied>> {
        let busy = self
            .reads
            .occupied(
                &self.store,
                &self.calendars,
                tenant.id,
                calendars.to_vec(),
                window,
                now,
            )
            .await?;
        Ok(busy.as_ref().clone())
    }

    /// Suggestions from `first` on, day by day up to `days` days (within the horizon), until
    /// `self.config.suggestions` are found.
    #[allow(clippy::too_many_arguments)]
    async fn suggest_from(
        &self,
        tenant: &Tenant,
        service: &Service,
        providers: &[Provider],
        first: Date,
        after: Option<Time>,
        days: u32,
        now: Timestamp,
    ) -> ServiceResult<Vec<ProviderSlot>> {
        let cfg = &tenant.config;
        let horizon_end = Self::last_bookable_day(cfg, now);
        let last = first
            .saturating_add(i64::from(days.max(1) - 1).days())
            .min(horizon_end);
        if first > last {
            return Ok(Vec::new());
        }
        let busy = self
            .occupied_between(tenant, service, providers, first, last, now)
            .await?;
        let want = self.config.suggestions.max(1);
        let mut out: Vec<ProviderSlot> = Vec::new();
        let mut day = first;
        while day <= last && out.len() < want {
            let found = availability::suggest_on_day_by_provider(
                cfg,
                service,
                providers,
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

    /// The slot a start makes by the clinic's rules alone (hours, grid, notice, horizon) for at
    /// least one of `providers` on their own hours, with those it is within the hours of; or why
    /// not, with close alternatives where there can be some.
    pub(super) async fn slot_by_the_rules(
        &self,
        tenant: &Tenant,
        svc: &Service,
        providers: &[Provider],
        at: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Result<(Slot, Vec<Provider>), AgainstTheRules>> {
        let cfg = &tenant.config;
        let mut first_refusal = None;
        let mut slot = None;
        let mut working = Vec::new();
        for p in providers {
            match availability::slot_at(&p.schedule(cfg), svc, at, now) {
                Ok(s) => {
                    slot = Some(s);
                    working.push(p.clone());
                }
                Err(u) => {
                    first_refusal.get_or_insert(u);
                }
            }
        }
        if let Some(s) = slot {
            return Ok(Ok((s, working)));
        }
        // The clinic's own refusal says best why (too soon, off the grid); a start the clinic is
        // open at but none of these providers works is "closed" for them.
        let u = match availability::slot_at(cfg, svc, at, now) {
            Err(u) => u,
            Ok(_) => first_refusal.unwrap_or(Unbookable::Closed),
        };
        let alternatives = match u {
            Unbookable::Closed
            | Unbookable::OffGrid { .. }
            | Unbookable::RepeatedTime
            | Unbookable::TooSoon { .. } => {
                self.alternatives_near(tenant, svc, providers, at.max(now), now)
                    .await?
            }
            Unbookable::InPast | Unbookable::BeyondHorizon { .. } => Vec::new(),
        };
        Ok(Err(AgainstTheRules {
            why: u,
            alternatives,
        }))
    }

    /// Free starts (over `providers`) closest to `near` on its local day, else the next
    /// suggestions after it.
    pub(super) async fn alternatives_near(
        &self,
        tenant: &Tenant,
        service: &Service,
        providers: &[Provider],
        near: Timestamp,
        now: Timestamp,
    ) -> ServiceResult<Vec<Timestamp>> {
        let cfg = &tenant.config;
        let day = near.to_zoned_datetime(cfg.zone.tz().clone()).date();
        let window = availability::day_window(cfg, day);
        let busy = self
            .occupied_between(tenant, service, providers, day, day, now)
            .await?;
        let mut slots =
            availability::free_slots_by_provider(cfg, service, providers, window, &busy, now);
        slots.retain(|s| s.slot.slot.start != near);
        slots.sort_by_key(|s| (s.slot.slot.start - near).abs());
        slots.truncate(self.config.alternatives);
        if slots.is_empty() {
            let today = Self::today(cfg, now);
            let from = day.tomorrow().unwrap_or(day).max(today);
            slots = self
                .suggest_from(
                    tenant,
                    service,
                    providers,
                    from,
                    None,
                    self.config.search_days,
                    now,
                )
                .await?;
            slots.truncate(self.config.alternatives);
        }
        let mut starts: Vec<Timestamp> = slots.iter().map(|s| s.slot.slot.start).collect();
        starts.sort();
        Ok(starts)
    }

    /// `check_availability(service, date?, after?, provider?)`: over every provider who performs
    /// the service, or only the one asked for.
    pub async fn check_availability(
        &self,
        ctx: &CallContext,
        service: &str,
        date: Option<Date>,
        after: Option<Time>,
        provider: Option<&str>,
    ) -> ServiceResult<AvailabilityOutcome> {
        let tenant = &ctx.tenant;
        let cfg = &tenant.config;
        let now = self.clock.now();
        let Some(svc) = find_service(cfg, service) else {
            return Ok(AvailabilityOutcome::Refused(
                AvailabilityRefusal::UnknownService(UnknownService::new(cfg, service)),
            ));
        };
        let providers = match candidates(tenant, svc, provider) {
            Ok(p) => p,
            Err(problem) => {
                return Ok(AvailabilityOutcome::Refused(AvailabilityRefusal::Provider(
                    problem,
                )));
            }
        };
        let today = Self::today(cfg, now);
        let last = Self::last_bookable_day(cfg, now);
        let name = svc.name.to_string();
        let offers = |slots: Vec<ProviderSlot>| -> Vec<FreeStart> {
            slots
                .into_iter()
                .map(|s| FreeStart {
                    start: s.slot.slot.start,
                    providers: s
                        .providers
                        .iter()
                        .filter_map(|id| providers.iter().find(|p| p.id == *id))
                        .map(|p| p.name.clone())
                        .collect(),
                })
                .collect()
        };
        match date {
            None => {
                let slots = self
                    .suggest_from(
                        tenant,
                        svc,
                        &providers,
                        today,
                        after,
                        self.config.search_days,
                        now,
                    )
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
                let busy = self
                    .occupied_between(tenant, svc, &providers, day, day, now)
                    .await?;
                let on_day = availability::suggest_on_day_by_provider(
                    cfg,
                    svc,
                    &providers,
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
                        self.suggest_from(
                            tenant,
                            svc,
                            &providers,
                            next,
                            None,
                            self.config.search_days,
                            now,
                        )
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
