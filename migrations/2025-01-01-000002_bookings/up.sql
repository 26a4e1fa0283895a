-- Holds and appointments: one row each, whose status moves
--   held -> confirmed -> cancelled,  held -> released,  held -> expired.
-- The database, not the application, forbids two occupying bookings (held or confirmed) whose
-- blocked time (the slot widened by the clinic's buffers) overlaps on one calendar. A hold that
-- ran out but is still marked held keeps occupying as far as the constraint knows (an index
-- predicate cannot use now()): a reservation first marks such holds expired, in the same
-- transaction as its insert.
CREATE TABLE bookings (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    id                      uuid        NOT NULL,
    -- Insertion order, for stable listings.
    seq                     bigint      GENERATED ALWAYS AS IDENTITY,
    calendar_id             uuid        NOT NULL,
    status                  text        NOT NULL
                                        CHECK (status IN ('held', 'confirmed', 'cancelled', 'released', 'expired')),
    service                 text        NOT NULL,
    starts_at               timestamptz NOT NULL,
    ends_at                 timestamptz NOT NULL,
    blocked_from            timestamptz NOT NULL,
    blocked_until           timestamptz NOT NULL,
    caller_name             text        NOT NULL,
    caller_phone            text        NOT NULL,
    call_id                 text,
    created_at              timestamptz NOT NULL,
    hold_expires_at         timestamptz,
    confirmed_at            timestamptz,
    cancelled_at            timestamptz,
    rescheduled_from        uuid,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, rescheduled_from) REFERENCES bookings (tenant_id, id),
    CHECK (starts_at < ends_at),
    CHECK (blocked_from <= starts_at AND ends_at <= blocked_until),
    CHECK (status <> 'held' OR hold_expires_at IS NOT NULL),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        tenant_id WITH =,
        calendar_id WITH =,
        tstzrange(blocked_from, blocked_until, '[)') WITH &&
    ) WHERE (status IN ('held', 'confirmed'))
);
CREATE INDEX bookings_starts_at_idx ON bookings (tenant_id, starts_at);
CREATE INDEX bookings_call_idx ON bookings (tenant_id, call_id) WHERE call_id IS NOT NULL;
CREATE INDEX bookings_caller_idx ON bookings (tenant_id, caller_phone, starts_at);
CREATE INDEX bookings_live_holds_idx ON bookings (hold_expires_at, tenant_id) WHERE status = 'held';

-- One-time codes. Only a keyed hash of the code is stored.
CREATE TABLE otp_challenges (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    id                      uuid        NOT NULL,
    seq                     bigint      GENERATED ALWAYS AS IDENTITY,
    booking_id              uuid        NOT NULL,
    call_id                 text,
    phone                   text        NOT NULL,
    code_hash               bytea       NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    failed_checks           integer     NOT NULL DEFAULT 0 CHECK (failed_checks >= 0),
    consumed_at             timestamptz,
    superseded_at           timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id)
);
CREATE INDEX otp_challenges_booking_idx ON otp_challenges (tenant_id, booking_id, created_at);
CREATE INDEX otp_challenges_phone_idx ON otp_challenges (tenant_id, phone, created_at);
CREATE INDEX otp_challenges_call_idx ON otp_challenges (tenant_id, call_id) WHERE call_id IS NOT NULL;
CREATE INDEX otp_challenges_created_idx ON otp_challenges (tenant_id, created_at);

-- The people a clinic deals with, by number: who booked, and who opted out of texts.
CREATE TABLE contacts (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    phone                   text        NOT NULL,
    name                    text,
    -- How they first came to the clinic through us ('phone_booking').
    source                  text,
    booked_at               timestamptz,
    opted_out_at            timestamptz,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);
