-- The clinic's own calendars (CalDAV), one link per calendar of ours: today a clinic has one
-- calendar, with providers each provider is one. Everything is keyed by (tenant_id,
-- calendar_id), as the bookings' exclusion constraint is. Only new tables: the previous release
-- never reads them, so it keeps working during a rolling deploy.

-- A link: where the calendar is, the credentials (encrypted like the Twilio ones: XChaCha20-
-- Poly1305 under the master key `key_id`, bound to tenant and calendar), and the sync state.
CREATE TABLE calendar_links (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    calendar_id             uuid        NOT NULL,
    url                     text        NOT NULL,
    -- The clinic's IANA zone, for all-day events and floating times.
    zone                    text        NOT NULL,
    key_id                  text        NOT NULL,
    nonce                   bytea       NOT NULL CHECK (octet_length(nonce) = 24),
    ciphertext              bytea       NOT NULL,
    health                  text        NOT NULL
                                        CHECK (health IN ('not_synced_yet', 'ok', 'unreachable',
                                                          'wrong_credentials', 'not_found', 'bad_data')),
    health_detail           text        NOT NULL DEFAULT '',
    last_synced_at          timestamptz,
    consecutive_failures    integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    next_sync_at            timestamptz NOT NULL,
    sync_token              text,
    expanded_until          timestamptz,
    -- The claim of the worker syncing it, if any.
    claim_token             uuid,
    lease_until             timestamptz,
    linked_at               timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, calendar_id)
);
CREATE INDEX calendar_links_due_idx ON calendar_links (next_sync_at);

-- The event resources of a linked calendar as last synced, with their ETags.
CREATE TABLE calendar_resources (
    tenant_id               uuid        NOT NULL,
    calendar_id             uuid        NOT NULL,
    href                    text        NOT NULL,
    etag                    text        NOT NULL,
    PRIMARY KEY (tenant_id, calendar_id, href),
    FOREIGN KEY (tenant_id, calendar_id) REFERENCES calendar_links (tenant_id, calendar_id)
        ON DELETE CASCADE
);

-- The busy time each resource makes (recurring events expanded up to the link's
-- expanded_until). Availability reads this table; a tool call never waits on the server.
CREATE TABLE calendar_busy (
    tenant_id               uuid        NOT NULL,
    calendar_id             uuid        NOT NULL,
    href                    text        NOT NULL,
    starts_at               timestamptz NOT NULL,
    ends_at                 timestamptz NOT NULL,
    CHECK (starts_at < ends_at),
    FOREIGN KEY (tenant_id, calendar_id, href)
        REFERENCES calendar_resources (tenant_id, calendar_id, href) ON DELETE CASCADE
);
CREATE INDEX calendar_busy_window_idx ON calendar_busy (tenant_id, calendar_id, starts_at);
CREATE INDEX calendar_busy_resource_idx ON calendar_busy (tenant_id, calendar_id, href);

-- The write queue: one row per booking of a linked calendar, saying whether its event should
-- be in the clinic's calendar and as what (version bumped on every change; done when
-- written_version = version). Derived from the bookings, so it cannot miss one.
CREATE TABLE calendar_writes (
    tenant_id               uuid        NOT NULL,
    calendar_id             uuid        NOT NULL,
    booking_id              uuid        NOT NULL,
    want_present            boolean     NOT NULL,
    starts_at               timestamptz NOT NULL,
    ends_at                 timestamptz NOT NULL,
    service                 text        NOT NULL,
    caller_name             text        NOT NULL,
    stamp                   timestamptz NOT NULL,
    version                 bigint      NOT NULL CHECK (version >= 1),
    written_version         bigint,
    attempts                integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at         timestamptz NOT NULL,
    last_problem            text,
    last_problem_detail     text,
    claim_token             uuid,
    lease_until             timestamptz,
    worker                  text,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, calendar_id, booking_id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id)
);
CREATE INDEX calendar_writes_due_idx ON calendar_writes (next_attempt_at)
    WHERE written_version IS DISTINCT FROM version;
