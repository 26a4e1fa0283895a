-- The busy times of one calendar in a window (availability, every check_availability) were
-- found by scanning every booking the clinic ever had: no index leads with the calendar and
-- bounds the blocked time. Only occupying bookings count, and a window only needs those that
-- end after it starts; with this index a calendar's history costs nothing.
CREATE INDEX bookings_busy_idx ON bookings (tenant_id, calendar_id, blocked_until)
    WHERE status IN ('held', 'confirmed');
