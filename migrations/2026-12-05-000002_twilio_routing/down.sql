DROP TABLE inbound_text_counts;
DROP TABLE early_status_callbacks;
ALTER TABLE tenant_sms_credentials DROP COLUMN keyword_replies;
DROP TRIGGER tenant_sms_routes_sync ON tenant_sms_credentials;
DROP FUNCTION tenant_sms_routes_sync();
DROP TABLE tenant_sms_routes;
