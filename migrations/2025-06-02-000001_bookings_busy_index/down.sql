DROP INDEX bookings_busy_idx;
