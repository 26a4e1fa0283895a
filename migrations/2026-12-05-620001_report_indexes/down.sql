DROP INDEX IF EXISTS outbound_messages_outcome_idx;
DROP INDEX IF EXISTS bookings_booked_on_call_idx;
