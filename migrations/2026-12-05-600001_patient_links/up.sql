-- Patients' links to their appointments (booking_core::patient_link): only the token's SHA-256 is
-- stored. New tables and a column with a default only, so that the previous release keeps
-- working on this schema during a rolling deploy (it neither reads nor writes them).
CREATE TABLE patient_links (
    token_hash              bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    -- No foreign key: a move stores the new appointment's link just before the appointment
    -- itself; a link whose appointment was never made opens nothing.
    booking_id              uuid        NOT NULL,
    created_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    revoked_at              timestamptz
);
CREATE INDEX patient_links_booking_idx ON patient_links (tenant_id, booking_id);

-- Actions on patients' links counted per link and per client address, in fixed windows.
CREATE TABLE link_action_counts (
    key                     text        PRIMARY KEY,
    window_started_at       timestamptz NOT NULL,
    count                   integer     NOT NULL CHECK (count > 0)
);

-- Inside this many minutes before an appointment its link no longer cancels or moves it.
ALTER TABLE tenants ADD COLUMN link_notice_minutes integer NOT NULL DEFAULT 1440
    CHECK (link_notice_minutes BETWEEN 0 AND 43200);

-- A reply to a reminder looks up the last reminder (or question) sent to the number.
CREATE INDEX outbound_messages_to_idx ON outbound_messages (tenant_id, to_number, kind, created_at DESC);
