//! The outside calendars' tables (kept out of schema.rs, as `master_key_checks` is).

diesel::table! {
    calendar_links (tenant_id, calendar_id) {
        tenant_id -> Uuid,
        calendar_id -> Uuid,
        url -> Text,
        zone -> Text,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        health -> Text,
        health_detail -> Text,
        last_synced_at -> Nullable<Timestamptz>,
        consecutive_failures -> Int4,
        next_sync_at -> Timestamptz,
        sync_token -> Nullable<Text>,
        expanded_until -> Nullable<Timestamptz>,
        claim_token -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
        linked_at -> Timestamptz,
    }
}
diesel::table! {
    calendar_resources (tenant_id, calendar_id, href) {
        tenant_id -> Uuid,
        calendar_id -> Uuid,
        href -> Text,
        etag -> Text,
    }
}
diesel::table! {
    calendar_busy (tenant_id, calendar_id, href, starts_at) {
        tenant_id -> Uuid,
        calendar_id -> Uuid,
        href -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
    }
}
diesel::table! {
    calendar_writes (tenant_id, calendar_id, booking_id) {
        tenant_id -> Uuid,
        calendar_id -> Uuid,
        booking_id -> Uuid,
        want_present -> Bool,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        service -> Text,
        caller_name -> Text,
        stamp -> Timestamptz,
        version -> Int8,
        written_version -> Nullable<Int8>,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_problem -> Nullable<Text>,
        last_problem_detail -> Nullable<Text>,
        claim_token -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
        worker -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

use crate::schema::bookings;
diesel::allow_tables_to_appear_in_same_query!(
    calendar_links,
    calendar_resources,
    calendar_busy,
    calendar_writes,
    bookings,
);

/// Only links whose credentials are under a key this server holds (`csv`: the key ids).
macro_rules! held_keys {
    ($csv:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Bool>("calendar_links.key_id = ANY (string_to_array(")
            .bind::<diesel::sql_types::Text, _>($csv)
            .sql(", ','))")
    };
}
pub(crate) use held_keys;
