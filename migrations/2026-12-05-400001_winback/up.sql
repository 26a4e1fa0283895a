-- Whether a patient came to an appointment, as the clinic's owner marked it: one row per marked
-- appointment (no row: not marked). A new table only, so that the previous release keeps
-- working on this schema during a rolling deploy.
CREATE TABLE booking_attendance (
    tenant_id               uuid        NOT NULL,
    booking_id              uuid        NOT NULL,
    attendance              text        NOT NULL CHECK (attendance IN ('attended', 'no_show')),
    marked_at               timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, booking_id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id)
);

-- The caller's no-shows when the call was scored (shown beside the score; worth no points).
-- Nullable and unread by the previous release.
ALTER TABLE calls ADD COLUMN caller_no_shows integer CHECK (caller_no_shows >= 0);
