-- Limits that held per api instance now hold across all of them.

-- The dashboard's test texts, one row per text admitted, so that the limit of 5 per clinic in
-- any 10 minutes is one count for every instance (it was kept in each instance's memory). A
-- take locks the clinic's count (a transaction advisory lock), reads the rows in the window,
-- and inserts one when the limit allows; rows that left the window go with it. Only added: the
-- previous release does not read it.
CREATE TABLE test_texts (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      bigint      GENERATED ALWAYS AS IDENTITY,
    sent_at                 timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
