ALTER TABLE calls DROP COLUMN caller_no_shows;
DROP TABLE booking_attendance;
