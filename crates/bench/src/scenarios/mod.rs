//! The scenarios of the benchmark, one module each: whole calls, contention on one slot,
//! availability over a full calendar (and with the clinics' own calendars synced), the outbox, the pgbench floor, a sign-in flood, several
//! instances, and growth.

mod availability;
mod calendars;
mod calls;
mod contention;
pub mod floor;
pub mod growth;
mod instances;
mod outbox;
mod signin;

use serde::Serialize;
use serde_json::Value;

use crate::harness::TIME_ZONE;

pub use availability::{AvailabilityResult, availability};
pub use calendars::{STALENESS_SECONDS, synced_availability};
pub use calls::{CallsConfig, CallsResult, calls};
pub use contention::contention;
pub use instances::instances;
pub use outbox::outbox;
pub use signin::sign_in_flood;

/// The clinic-local date `days` from today.
pub fn local_date(days: i64) -> jiff::civil::Date {
    let today = jiff::Timestamp::now()
        .in_tz(TIME_ZONE)
        .expect("time zone")
        .date();
    today
        .checked_add(jiff::Span::new().days(days))
        .expect("date in range")
}

/// Summary used by the JSON of a run.
pub fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
