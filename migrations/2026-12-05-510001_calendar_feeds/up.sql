-- The read-only calendar feeds: one secret URL per provider and one for the whole clinic. Only
-- the SHA-256 of the URL's secret is kept; a new secret replaces the old one in its row. Only a
-- new table: the previous release never reads it, so it keeps working during a rolling deploy.
CREATE TABLE calendar_feeds (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The provider's calendar id, or the nil uuid for the clinic's feed (all providers).
    scope                   uuid        NOT NULL,
    token_hash              bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, scope)
);
