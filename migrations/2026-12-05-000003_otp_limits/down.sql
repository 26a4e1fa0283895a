ALTER TABLE tenants DROP COLUMN otp_allowed_countries;
