-- Hardening, round two. Every change only adds, so that the previous release keeps working on
-- this schema during a rolling deploy.

-- Sign-in attempts counted per client address ("" as email: all accounts from that address) and
-- per address and account together, in fixed windows that start at the first attempt. One row
-- per key, changed with one upsert: concurrent attempts queue on the row lock, so the count a
-- request sees is exact. `owner_login_failures` is no longer written (the previous release
-- still uses it until it is gone; a later release drops it).
CREATE TABLE sign_in_attempts (
    address             text        NOT NULL,
    email               text        NOT NULL,
    window_start        timestamptz NOT NULL,
    attempts            integer     NOT NULL CHECK (attempts >= 0),
    PRIMARY KEY (address, email)
);
CREATE INDEX sign_in_attempts_window_idx ON sign_in_attempts (window_start);

-- One check value per master key id: a known text sealed under the key by the first instance
-- that starts with it. An instance whose key of the same id does not open it refuses to start.
CREATE TABLE master_key_checks (
    key_id              text        PRIMARY KEY,
    nonce               bytea       NOT NULL,
    ciphertext          bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- The replay log of tool calls, keyed by the call, the toolCallId and the tool: another call
-- of the same clinic reusing a toolCallId, or the same id naming another tool, is a new tool
-- call. `tool_calls` (keyed by clinic and toolCallId only) is left for the previous release;
-- a later release drops it. `call_id` is '' when Vapi named no call.
CREATE TABLE tool_call_log (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    call_id                 text        NOT NULL,
    tool_call_id            text        NOT NULL,
    tool                    text        NOT NULL,
    result                  text,
    started_at              timestamptz NOT NULL,
    finished_at             timestamptz,
    PRIMARY KEY (tenant_id, call_id, tool_call_id, tool),
    CHECK ((result IS NULL) = (finished_at IS NULL))
);
