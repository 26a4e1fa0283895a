//! How database failures become the domain's [`StoreError`].

use booking_core::ports::StoreError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What a unit of work fails with inside a transaction: a database error (rolls back, then is
/// classified) or a domain refusal decided by the code (rolls back as well).
#[derive(Debug)]
pub(crate) enum Fail {
    Db(DieselError),
    Store(StoreError),
}

impl From<DieselError> for Fail {
    fn from(e: DieselError) -> Self {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Fail::Store(e) => e,
            Fail::Db(e) => classify(&e),
        }
    }
}

/// Maps a diesel error: the exclusion constraint is a taken slot, a unique violation a
/// duplicate, a missing parent row a missing row, and anything that says the server is gone,
/// busy or too slow is `Unavailable` (safe to retry).
pub(crate) fn classify(e: &DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(kind, info) => {
            let message = info.message();
            match kind {
                DatabaseErrorKind::ExclusionViolation => StoreError::SlotTaken,
                DatabaseErrorKind::UniqueViolation => {
                    StoreError::Duplicate(duplicate_what(info.constraint_name().unwrap_or("")))
                }
                DatabaseErrorKind::ForeignKeyViolation => StoreError::NotFound,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreError::Unavailable(format!("the database connection failed: {message}"))
                }
                DatabaseErrorKind::SerializationFailure => StoreError::Unavailable(format!(
                    "a concurrent change got in the way: {message}"
                )),
                _ if is_transient(message) => StoreError::Unavailable(message.to_owned()),
                _ => StoreError::Internal(format!("{message} ({kind:?})")),
            }
        }
        DieselError::NotFound => StoreError::NotFound,
        DieselError::BrokenTransactionManager => {
            StoreError::Unavailable("the database connection was lost mid-transaction".into())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// Server messages for conditions that pass: timeouts, shutdowns, restarts, deadlocks.
fn is_transient(message: &str) -> bool {
    const MARKERS: &[&str] = &[
        "statement timeout",
        "lock timeout",
        "canceling statement",
        "terminating connection",
        "the database system is",
        "deadlock detected",
        "too many clients",
        "remaining connection slots",
        "connection closed",
        "server closed the connection",
    ];
    MARKERS.iter().any(|m| message.contains(m))
}

/// A name for what was duplicated, from the constraint (never the value: it may be a number).
fn duplicate_what(constraint: &str) -> String {
    match constraint {
        "tenants_pkey" => "tenant id",
        "tenant_called_numbers_number_key" => "called number",
        "tenant_called_numbers_vapi_id_key" => "Vapi phone number id",
        "tenant_vapi_assistants_assistant_id_key" => "Vapi assistant id",
        "tenant_called_numbers_pkey"
        | "tenant_vapi_assistants_pkey"
        | "tenant_alert_numbers_pkey"
        | "services_pkey"
        | "date_overrides_pkey" => "tenant configuration row",
        "weekly_hours_pkey" | "date_override_hours_pkey" => "opening range",
        "bookings_pkey" => "booking id",
        "otp_challenges_pkey" => "challenge id",
        "outbound_messages_pkey" => "message id",
        "outbound_messages_dedupe_key" => "message dedupe key",
        "outbound_messages_sid_idx" => "message sid",
        "calls_pkey" => "call id",
        "tenant_sms_routes_number_key" => "texting number",
        "tenant_sms_routes_service_key" => "Messaging Service",
        "" => "value",
        other => other,
    }
    .to_owned()
}

/// A pool or connection failure: the database cannot be reached right now.
pub(crate) fn unavailable(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(what.to_string())
}
