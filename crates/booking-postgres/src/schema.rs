//! Diesel's view of the tables in `migrations/` (kept by hand, checked by the tests, which run
//! every query against the migrated schema).

diesel::table! {
    tenants (id) {
        id -> Uuid,
        name -> Text,
        time_zone -> Text,
        hot_lead_threshold -> Int4,
        buffer_before_minutes -> Int4,
        buffer_after_minutes -> Int4,
        min_notice_minutes -> Int4,
        slot_interval_minutes -> Int4,
        horizon_days -> Int4,
        system_prompt -> Text,
        sms_health -> Text,
        sms_health_code -> Nullable<Int4>,
        sms_health_message -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        otp_allowed_countries -> Array<Text>,
        link_notice_minutes -> Int4,
    }
}

diesel::table! {
    tenant_called_numbers (tenant_id, position) {
        tenant_id -> Uuid,
        position -> Int4,
        number -> Text,
        vapi_phone_number_id -> Nullable<Text>,
    }
}

diesel::table! {
    tenant_alert_numbers (tenant_id, position) {
        tenant_id -> Uuid,
        position -> Int4,
        number -> Text,
    }
}

diesel::table! {
    tenant_sms_credentials (tenant_id) {
        tenant_id -> Uuid,
        account_sid -> Text,
        api_key_sid -> Nullable<Text>,
        sender_number -> Nullable<Text>,
        messaging_service_sid -> Nullable<Text>,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        updated_at -> Timestamptz,
        keyword_replies -> Text,
    }
}

diesel::table! {
    services (tenant_id, position) {
        tenant_id -> Uuid,
        position -> Int4,
        name -> Text,
        duration_minutes -> Int4,
        value_cents -> Nullable<Int8>,
    }
}

diesel::table! {
    bookings (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        seq -> Int8,
        calendar_id -> Uuid,
        status -> Text,
        service -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        blocked_from -> Timestamptz,
        blocked_until -> Timestamptz,
        caller_name -> Text,
        caller_phone -> Text,
        call_id -> Nullable<Text>,
        created_at -> Timestamptz,
        hold_expires_at -> Nullable<Timestamptz>,
        confirmed_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        rescheduled_from -> Nullable<Uuid>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    otp_challenges (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        seq -> Int8,
        booking_id -> Uuid,
        call_id -> Nullable<Text>,
        phone -> Text,
        code_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        failed_checks -> Int4,
        consumed_at -> Nullable<Timestamptz>,
        superseded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    contacts (tenant_id, phone) {
        tenant_id -> Uuid,
        phone -> Text,
        name -> Nullable<Text>,
        source -> Nullable<Text>,
        booked_at -> Nullable<Timestamptz>,
        opted_out_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    calls (tenant_id, call_id) {
        tenant_id -> Uuid,
        call_id -> Text,
        caller -> Nullable<Text>,
        called -> Nullable<Text>,
        started_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        duration_seconds -> Nullable<Int4>,
        ended_reason -> Nullable<Text>,
        summary -> Nullable<Text>,
        last_status -> Nullable<Text>,
        last_status_at -> Nullable<Timestamptz>,
        lead_caller_name -> Nullable<Text>,
        lead_service_interest -> Nullable<Text>,
        lead_wants_callback -> Nullable<Bool>,
        lead_notes -> Nullable<Text>,
        score -> Nullable<Int4>,
        score_breakdown -> Nullable<Jsonb>,
        caller_no_shows -> Nullable<Int4>,
        hot_lead -> Bool,
        report_received_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    outbound_messages (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        seq -> Int8,
        kind -> Text,
        dedupe_key -> Text,
        to_number -> Text,
        body -> Text,
        status -> Text,
        due_at -> Timestamptz,
        booking_id -> Nullable<Uuid>,
        call_id -> Nullable<Text>,
        twilio_sid -> Nullable<Text>,
        error_code -> Nullable<Int4>,
        error_message -> Nullable<Text>,
        attempts -> Int4,
        claim_token -> Nullable<Uuid>,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        needs_reconcile -> Bool,
        first_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tool_calls (tenant_id, tool_call_id) {
        tenant_id -> Uuid,
        tool_call_id -> Text,
        tool -> Text,
        result -> Nullable<Text>,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tool_call_log (tenant_id, call_id, tool_call_id, tool) {
        tenant_id -> Uuid,
        call_id -> Text,
        tool_call_id -> Text,
        tool -> Text,
        result -> Nullable<Text>,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    booking_attendance (tenant_id, booking_id) {
        tenant_id -> Uuid,
        booking_id -> Uuid,
        attendance -> Text,
        marked_at -> Timestamptz,
    }
}

diesel::table! {
    waitlist_entries (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        seq -> Int8,
        service -> Text,
        calendar_id -> Nullable<Uuid>,
        caller_name -> Text,
        phone -> Text,
        from_date -> Date,
        to_date -> Date,
        part_of_day -> Nullable<Text>,
        call_id -> Nullable<Text>,
        status -> Text,
        filled_booking_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    waitlist_offers (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        entry_id -> Uuid,
        freed_booking_id -> Uuid,
        calendar_id -> Uuid,
        starts_at -> Timestamptz,
        token_hash -> Bytea,
        offered_at -> Timestamptz,
        expires_at -> Timestamptz,
        claimed_booking_id -> Nullable<Uuid>,
        claimed_at -> Nullable<Timestamptz>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    tenant_called_numbers,
    tenant_alert_numbers,
    tenant_sms_credentials,
    services,
    bookings,
    otp_challenges,
    contacts,
    calls,
    outbound_messages,
    tool_calls,
    tool_call_log,
    booking_attendance,
    waitlist_entries,
    waitlist_offers,
);
