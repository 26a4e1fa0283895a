-- Providers: the people and chairs of a clinic that appointments are booked with. A provider is
-- a calendar: its id is the `calendar_id` its bookings carry, so `bookings_no_overlap` (on
-- tenant, calendar and blocked time) already forbids overlap per provider, and nothing about
-- bookings changes.
--
-- Every existing clinic becomes one provider named after it, performing every service on the
-- clinic's hours, whose id is the clinic's default calendar (the clinic's own id): the calendar
-- every booking so far is in, and the one the previous release keeps writing and checking during
-- a rolling deploy. That release ignores this table; a clinic it creates has no provider row and
-- reads as that same one provider.
CREATE TABLE providers (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      uuid        NOT NULL,
    position                integer     NOT NULL,
    name                    text        NOT NULL CHECK (name <> ''),
    -- The services performed, by name; NULL: every service the clinic offers.
    services                text[],
    -- The domain's WeeklyHours as JSON; NULL: the clinic's weekly hours.
    weekly_hours            jsonb,
    -- The domain's date overrides (a list) as JSON: the provider's own dates off or hours.
    date_overrides          jsonb       NOT NULL DEFAULT '[]',
    max_per_day             integer     CHECK (max_per_day > 0),
    max_per_week            integer     CHECK (max_per_week > 0),
    -- A retired provider is never offered nor booked; their appointments stay.
    retired                 boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT providers_position_key UNIQUE (tenant_id, position)
);

INSERT INTO providers (tenant_id, id, position, name)
SELECT id, id, 0, name FROM tenants;
