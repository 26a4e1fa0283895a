//! What every handler shares.

use std::sync::Arc;

use async_trait::async_trait;
use booking_core::accounts::AccountStore;
use booking_core::feeds::CalendarFeedStore;
use booking_core::outside_calendar::{CalendarSyncStore, OutsideCalendar};
use booking_core::ports::{Clock, OpsStats, Random, SmsGateway, Store};
use booking_core::service::BookingService;
use tokio::sync::Notify;

use crate::cached_tenants::CachedTenants;
use crate::config::Config;
use crate::held_reports::HeldReports;
use crate::metrics::Metrics;

/// Whether the service can do its work: the database answers and is migrated.
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), String>;
}

pub struct AppState {
    pub config: Arc<Config>,
    /// The store, through [`CachedTenants`]: the same object as `tenant_cache`.
    pub store: Arc<dyn Store>,
    /// The clinics of calls kept for a moment; a change of a clinic through `store` drops its
    /// entries.
    pub tenant_cache: Arc<CachedTenants>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<dyn Readiness>,
    /// The figures `/metrics` reports about the outbox and bookings.
    pub ops: Arc<dyn OpsStats>,
    pub service: BookingService,
    /// Wakes the outbox worker after a handler queued a text.
    pub wake_worker: Arc<Notify>,
    /// Owner accounts and dashboard sessions.
    pub accounts: Arc<dyn AccountStore>,
    /// The worker's SMS gateway, for the dashboard's "send a test SMS" (sent directly, not
    /// queued).
    pub gateway: Arc<dyn SmsGateway>,
    /// End-of-call reports that arrived while the database was away, tried again by
    /// `server::retry_held_reports`.
    pub held_reports: Arc<HeldReports>,
    /// The dashboard's password checks, bounded (see `dashboard::password_checks`).
    pub password_checks: Arc<crate::dashboard::password_checks::PasswordChecks>,
    /// The clinics' own calendars: links, their health and the busy time synced from them.
    pub calendars: Arc<dyn CalendarSyncStore>,
    /// The clinics' calendar servers, for the dashboard's discovery of their calendars.
    pub outside_calendar: Arc<dyn OutsideCalendar>,
    /// The read-only calendar feeds' secrets (hashes).
    pub feeds: Arc<dyn CalendarFeedStore>,
    /// Refuses floods of feed requests with unknown secrets from one address.
    pub feed_misses: Arc<crate::limits::FeedMisses>,
}

impl AppState {
    pub fn wake_worker(&self) {
        self.wake_worker.notify_one();
    }
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// The operating system's CSPRNG.
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, bytes: &mut [u8]) {
        getrandom::fill(bytes).expect("the operating system's random source failed");
    }
}
