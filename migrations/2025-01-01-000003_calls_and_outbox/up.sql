-- Phone calls: what Vapi told us and how promising the caller was.
CREATE TABLE calls (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    call_id                 text        NOT NULL,
    caller                  text,
    called                  text,
    started_at              timestamptz,
    ended_at                timestamptz,
    duration_seconds        integer,
    ended_reason            text,
    summary                 text,
    last_status             text,
    last_status_at          timestamptz,
    lead_caller_name        text,
    lead_service_interest   text,
    lead_wants_callback     boolean,
    lead_notes              text,
    -- Set once the end-of-call report is stored; a repeated report changes nothing.
    score                   integer,
    score_breakdown         jsonb,
    hot_lead                boolean     NOT NULL DEFAULT false,
    report_received_at      timestamptz,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    -- Vapi's call id; unique per clinic, so that no clinic can take another's.
    PRIMARY KEY (tenant_id, call_id)
);
CREATE INDEX calls_caller_idx ON calls (tenant_id, caller, started_at);
CREATE INDEX calls_started_idx ON calls (tenant_id, started_at DESC);

-- The outbox and the SMS log in one: every text is a row first, written in the transaction
-- that made it necessary; a worker claims due rows (FOR UPDATE SKIP LOCKED) for a lease, sends,
-- and records the outcome under its claim token.
CREATE TABLE outbound_messages (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    id                      uuid        NOT NULL,
    seq                     bigint      GENERATED ALWAYS AS IDENTITY,
    kind                    text        NOT NULL
                                        CHECK (kind IN ('otp', 'confirmation', 'reminder', 'cancellation', 'hot_lead',
                                                        'inbound_reply', 'inbound_forward', 'test')),
    dedupe_key              text        NOT NULL,
    to_number               text        NOT NULL,
    body                    text        NOT NULL,
    status                  text        NOT NULL
                                        CHECK (status IN ('pending', 'sending', 'ambiguous', 'queued', 'sent', 'delivered',
                                                          'undelivered', 'failed', 'suppressed', 'withdrawn')),
    -- Not sent before this time; moved on by retries.
    due_at                  timestamptz NOT NULL,
    booking_id              uuid,
    call_id                 text,
    twilio_sid              text,
    error_code              integer,
    error_message           text,
    attempts                integer     NOT NULL DEFAULT 0,
    -- The current claim (status 'sending'): who, until when, under which token.
    claim_token             uuid,
    claimed_by              text,
    lease_until             timestamptz,
    -- The message may be at Twilio already (an ambiguous send, a worker that died mid-send).
    needs_reconcile         boolean     NOT NULL DEFAULT false,
    first_attempt_at        timestamptz,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT outbound_messages_dedupe_key UNIQUE (tenant_id, dedupe_key),
    CHECK (status <> 'sending' OR (claim_token IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE UNIQUE INDEX outbound_messages_sid_idx ON outbound_messages (tenant_id, twilio_sid) WHERE twilio_sid IS NOT NULL;
CREATE INDEX outbound_messages_created_idx ON outbound_messages (tenant_id, created_at DESC, seq DESC);
-- The worker's scan: rows that may be due.
CREATE INDEX outbound_messages_due_idx ON outbound_messages (due_at, tenant_id)
    WHERE status IN ('pending', 'ambiguous');
CREATE INDEX outbound_messages_leased_idx ON outbound_messages (lease_until, tenant_id)
    WHERE status = 'sending';

-- Tool calls already answered (toolCallId -> result), so that a replay has no second effect.
CREATE TABLE tool_calls (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id),
    tool_call_id            text        NOT NULL,
    tool                    text        NOT NULL,
    result                  text,
    started_at              timestamptz NOT NULL,
    finished_at             timestamptz,
    PRIMARY KEY (tenant_id, tool_call_id),
    CHECK ((result IS NULL) = (finished_at IS NULL))
);
