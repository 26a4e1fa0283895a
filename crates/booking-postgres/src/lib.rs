//! booking-core's store ports on PostgreSQL (diesel 2 + diesel-async, pooled with deadpool).
//!
//! - [`PgStore`] implements every port of `booking_core::ports`; [`PgConfig`] says where the
//!   database is and how long to wait for it.
//! - [`run_migrations`] applies the embedded `migrations/` on any runtime.
//! - [`MasterKey`] and [`rotate_key`]: Twilio secrets are stored only as ciphertext under the
//!   operator's master key.
//! - `testing` (feature): a private cluster per test process, one fresh database per test.
//!
//! All SQL of the project lives in this crate.

mod convert;
mod crypto;
mod error;
mod fixed;
mod migrate;
mod schema;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use crypto::{KeyError, MasterKey, RotationReport, rotate_key};
pub use migrate::{
    MIGRATIONS, MigrationError, migration_versions, run_migrations, run_migrations_blocking,
};
pub use store::{KeyMismatch, NotReady, PgConfig, PgStore, PoolLayout};
