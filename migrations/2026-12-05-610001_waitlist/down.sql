DELETE FROM outbound_messages WHERE kind = 'waitlist_offer';
ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_kind_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_kind_check
    CHECK (kind IN ('otp', 'confirmation', 'reminder', 'cancellation', 'hot_lead',
                    'inbound_reply', 'inbound_forward', 'test'));
DROP INDEX bookings_freed;
DROP TABLE waitlist_offers;
DROP TABLE waitlist_entries;
