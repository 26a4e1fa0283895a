CREATE INDEX outbound_messages_due_idx ON outbound_messages (due_at, tenant_id)
    WHERE status IN ('pending', 'ambiguous');
DROP INDEX outbound_messages_due_order_idx;
