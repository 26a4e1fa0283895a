-- The waitlist: callers waiting for a time to free up, and the offers of freed times texted to
-- them. New tables, and one more kind of text, so that the previous release keeps working on this
-- schema during a rolling deploy (it never reads either table, and only the worker of this
-- release queues the new kind).
CREATE TABLE waitlist_entries (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    id                      uuid        NOT NULL,
    -- Join order.
    seq                     bigint      GENERATED ALWAYS AS IDENTITY,
    service                 text        NOT NULL,
    -- The provider asked for; NULL: any who performs the service.
    calendar_id             uuid,
    caller_name             text        NOT NULL,
    phone                   text        NOT NULL,
    from_date               date        NOT NULL,
    to_date                 date        NOT NULL,
    part_of_day             text        CHECK (part_of_day IN ('morning', 'afternoon', 'evening')),
    call_id                 text,
    status                  text        NOT NULL DEFAULT 'waiting'
                                        CHECK (status IN ('waiting', 'filled', 'removed')),
    -- The appointment an offer to this entry became.
    filled_booking_id       uuid,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (from_date <= to_date),
    CHECK ((status = 'filled') = (filled_booking_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, filled_booking_id) REFERENCES bookings (tenant_id, id)
);
CREATE INDEX waitlist_entries_waiting ON waitlist_entries (tenant_id, service, seq)
    WHERE status = 'waiting';
CREATE INDEX waitlist_entries_phone ON waitlist_entries (tenant_id, phone)
    WHERE status = 'waiting';

-- One offer of a freed time (the booking that freed it) to one entry. Only the hash of the
-- link's token is kept. An entry is offered a time (calendar and start) at most once, however
-- many bookings free it.
CREATE TABLE waitlist_offers (
    tenant_id               uuid        NOT NULL,
    id                      uuid        NOT NULL,
    entry_id                uuid        NOT NULL,
    freed_booking_id        uuid        NOT NULL,
    calendar_id             uuid        NOT NULL,
    starts_at               timestamptz NOT NULL,
    token_hash              bytea       NOT NULL UNIQUE,
    offered_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    claimed_booking_id      uuid,
    claimed_at              timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, entry_id, calendar_id, starts_at),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES waitlist_entries (tenant_id, id),
    FOREIGN KEY (tenant_id, freed_booking_id) REFERENCES bookings (tenant_id, id),
    FOREIGN KEY (tenant_id, claimed_booking_id) REFERENCES bookings (tenant_id, id)
);
CREATE INDEX waitlist_offers_freed ON waitlist_offers (tenant_id, freed_booking_id);

-- Freed times are looked for among bookings that no longer occupy their time and start later.
CREATE INDEX bookings_freed ON bookings (starts_at)
    WHERE status IN ('cancelled', 'released', 'expired', 'held');

ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_kind_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_kind_check
    CHECK (kind IN ('otp', 'confirmation', 'reminder', 'cancellation', 'hot_lead',
                    'inbound_reply', 'inbound_forward', 'test', 'waitlist_offer'));
