DROP INDEX outbound_messages_to_idx;
ALTER TABLE tenants DROP COLUMN link_notice_minutes;
DROP TABLE link_action_counts;
DROP TABLE patient_links;
