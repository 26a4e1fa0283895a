DROP TABLE date_override_hours;
DROP TABLE date_overrides;
DROP TABLE weekly_hours;
DROP TABLE services;
DROP TABLE tenant_sms_credentials;
DROP TABLE tenant_alert_numbers;
DROP TABLE tenant_called_numbers;
DROP TABLE tenants;
