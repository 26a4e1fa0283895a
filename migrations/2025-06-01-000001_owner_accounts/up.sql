-- Clinic owners' dashboard accounts, their sessions, and failed sign-ins (for throttling).
-- The rules (password policy, session lifetime, how many failures lock an email) live in
-- booking-core's `accounts` module; this schema only keeps the rows.

CREATE TABLE owner_accounts (
    id                  uuid        PRIMARY KEY,
    tenant_id           uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Lower-cased by the application; one account per email across all clinics.
    email               text        NOT NULL,
    -- An encoded password hash (PHC string, argon2id); never a password.
    password_hash       text        NOT NULL,
    created_at          timestamptz NOT NULL,
    onboarded_at        timestamptz,
    CONSTRAINT owner_accounts_email_key UNIQUE (email)
);
CREATE INDEX owner_accounts_tenant_idx ON owner_accounts (tenant_id);

-- Only the SHA-256 of a session token is stored. The tenant is copied from the owner at sign-in:
-- every dashboard query takes its tenant from here.
CREATE TABLE owner_sessions (
    token_hash          bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    owner_id            uuid        NOT NULL REFERENCES owner_accounts (id) ON DELETE CASCADE,
    tenant_id           uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    csrf_token          text        NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL
);
CREATE INDEX owner_sessions_owner_idx ON owner_sessions (owner_id);
CREATE INDEX owner_sessions_expires_idx ON owner_sessions (expires_at);

CREATE TABLE owner_login_failures (
    id                  bigserial   PRIMARY KEY,
    email               text        NOT NULL,
    at                  timestamptz NOT NULL
);
CREATE INDEX owner_login_failures_email_idx ON owner_login_failures (email, at);
