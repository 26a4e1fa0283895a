-- The countries a clinic texts codes to (ISO 3166-1 alpha-2 codes). Empty: the clinic's own
-- country, from the numbers it is called on (else its time zone). Added with a default, so that
-- the previous release keeps reading and writing tenants as before.
ALTER TABLE tenants ADD COLUMN otp_allowed_countries text[] NOT NULL DEFAULT '{}'
    CHECK (array_position(otp_allowed_countries, NULL) IS NULL);
