//! `calendar_conflicts`: the appointments that collide with an event of the provider's own
//! calendar (see [`crate::outside_calendar::conflicts`]), for the owner's dashboard and for the
//! calendar worker's log and metrics. A query: nothing is changed, nothing is cancelled.

use crate::booking::Interval;
use crate::ids::{BookingId, CalendarId};
use crate::outside_calendar::collisions;
use crate::provider::ProviderName;
use crate::service::{BookingService, ServiceResult, provider_name};
use crate::tenant::{ServiceName, Tenant};

/// A confirmed appointment whose time meets busy time synced from its provider's own calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarConflict {
    pub booking: BookingId,
    /// The provider's calendar, and who it is.
    pub calendar: CalendarId,
    pub provider: ProviderName,
    pub service: ServiceName,
    pub caller_name: String,
    /// The appointment itself.
    pub slot: Interval,
    /// The outside busy time it meets (merged per event occurrence as synced), earliest first.
    pub outside: Vec<Interval>,
}

impl BookingService {
    /// The confirmed appointments of `tenant` starting in `window` that collide with busy time
    /// synced from their provider's own calendar, earliest first. Read from our database only.
    pub async fn calendar_conflicts(
        &self,
        tenant: &Tenant,
        window: Interval,
    ) -> ServiceResult<Vec<CalendarConflict>> {
        let mut bookings = self.store.list_bookings(tenant.id, window).await?;
        bookings.retain(|b| b.status == crate::booking::BookingStatus::Confirmed);
        if bookings.is_empty() {
            return Ok(Vec::new());
        }
        bookings.sort_by_key(|b| (b.slot.start, b.id));
        let mut calendars: Vec<CalendarId> = bookings.iter().map(|b| b.calendar).collect();
        calendars.sort();
        calendars.dedup();
        let reach = Interval {
            start: bookings
                .iter()
                .map(|b| b.blocked.start)
                .min()
                .unwrap_or(window.start),
            end: bookings
                .iter()
                .map(|b| b.blocked.end)
                .max()
                .unwrap_or(window.end),
        };
        let outside = self
            .calendars
            .outside_busy_of(tenant.id, &calendars, reach)
            .await?;
        Ok(collisions(&bookings, &outside)
            .into_iter()
            .map(|(b, met)| CalendarConflict {
                booking: b.id,
                calendar: b.calendar,
                provider: provider_name(tenant, b),
                service: b.service.clone(),
                caller_name: b.caller_name.clone(),
                slot: b.slot,
                outside: met,
            })
            .collect())
    }
}
