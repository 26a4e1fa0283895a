-- The Reports page counts a clinic's last twelve weeks. Calls (calls_started_idx) and no-shows
-- (bookings_starts_at_idx) were already found by their week; appointments booked on a call (by
-- when they were confirmed) and texts that ended delivered or failed (by when they were due)
-- were found by reading every booking and every text the clinic ever had. With these partial
-- indexes a clinic's older history costs nothing. Indexes only: the previous release runs
-- unchanged on this schema.
CREATE INDEX bookings_booked_on_call_idx ON bookings (tenant_id, confirmed_at)
    WHERE call_id IS NOT NULL AND rescheduled_from IS NULL;
CREATE INDEX outbound_messages_outcome_idx ON outbound_messages (tenant_id, due_at) INCLUDE (status)
    WHERE status IN ('delivered', 'failed', 'undelivered');
