-- Clinics (tenants) and everything they configure.
-- Every table below carries tenant_id in its primary key; lookups that must find the tenant
-- from outside (a called number, a Vapi phone-number id, a Twilio account) have global indexes.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE tenants (
    id                      uuid        PRIMARY KEY,
    name                    text        NOT NULL,
    time_zone               text        NOT NULL,
    hot_lead_threshold      integer     NOT NULL CHECK (hot_lead_threshold BETWEEN 0 AND 100),
    buffer_before_minutes   integer     NOT NULL CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes    integer     NOT NULL CHECK (buffer_after_minutes >= 0),
    min_notice_minutes      integer     NOT NULL CHECK (min_notice_minutes >= 0),
    slot_interval_minutes   integer     NOT NULL CHECK (slot_interval_minutes > 0),
    horizon_days            integer     NOT NULL CHECK (horizon_days >= 0),
    system_prompt           text        NOT NULL,
    -- Whether the clinic's texts can go out: not_configured, ok, or needs_attention (Twilio
    -- refused the credentials; sending is paused until they change).
    sms_health              text        NOT NULL DEFAULT 'not_configured'
                                        CHECK (sms_health IN ('not_configured', 'ok', 'needs_attention')),
    sms_health_code         integer,
    sms_health_message      text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((sms_health = 'needs_attention') = (sms_health_code IS NOT NULL AND sms_health_message IS NOT NULL))
);

-- The numbers callers dial. A number and a Vapi phone-number id belong to one clinic only.
CREATE TABLE tenant_called_numbers (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position                integer     NOT NULL,
    number                  text        NOT NULL,
    vapi_phone_number_id    text,
    PRIMARY KEY (tenant_id, position),
    CONSTRAINT tenant_called_numbers_number_key UNIQUE (number),
    CONSTRAINT tenant_called_numbers_vapi_id_key UNIQUE (vapi_phone_number_id)
);

-- The owner's numbers for hot-lead alerts and forwarded texts.
CREATE TABLE tenant_alert_numbers (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position                integer     NOT NULL,
    number                  text        NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

-- The clinic's Twilio account. The secrets (auth token, API key secret) exist here only as
-- ciphertext: XChaCha20-Poly1305 under the operator's master key `key_id`, with the tenant id
-- and the identifiers below as associated data. The identifiers stay readable: they route
-- status callbacks (account_sid) and inbound texts (sender_number) to the clinic.
CREATE TABLE tenant_sms_credentials (
    tenant_id               uuid        PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    account_sid             text        NOT NULL,
    api_key_sid             text,
    sender_number           text,
    messaging_service_sid   text,
    key_id                  text        NOT NULL,
    nonce                   bytea       NOT NULL CHECK (octet_length(nonce) = 24),
    ciphertext              bytea       NOT NULL,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((sender_number IS NULL) <> (messaging_service_sid IS NULL))
);
CREATE INDEX tenant_sms_credentials_account_sid_idx ON tenant_sms_credentials (account_sid, tenant_id);
CREATE INDEX tenant_sms_credentials_sender_number_idx ON tenant_sms_credentials (sender_number, tenant_id);
CREATE INDEX tenant_sms_credentials_key_id_idx ON tenant_sms_credentials (key_id, tenant_id);

CREATE TABLE services (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position                integer     NOT NULL,
    name                    text        NOT NULL,
    duration_minutes        integer     NOT NULL CHECK (duration_minutes > 0),
    value_cents             bigint      CHECK (value_cents >= 0),
    PRIMARY KEY (tenant_id, position)
);

-- Opening ranges per weekday (0 = Monday), in the clinic's local time. closes may be 24:00.
CREATE TABLE weekly_hours (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    weekday                 smallint    NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens                   time        NOT NULL,
    closes                  time        NOT NULL,
    PRIMARY KEY (tenant_id, weekday, opens),
    CHECK (opens < closes)
);

-- Dates whose hours differ from the week's; no hours rows means closed all day.
CREATE TABLE date_overrides (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position                integer     NOT NULL,
    day                     date        NOT NULL,
    note                    text,
    PRIMARY KEY (tenant_id, position)
);
CREATE INDEX date_overrides_day_idx ON date_overrides (tenant_id, day);

CREATE TABLE date_override_hours (
    tenant_id               uuid        NOT NULL,
    override_position       integer     NOT NULL,
    opens                   time        NOT NULL,
    closes                  time        NOT NULL,
    PRIMARY KEY (tenant_id, override_position, opens),
    FOREIGN KEY (tenant_id, override_position) REFERENCES date_overrides (tenant_id, position) ON DELETE CASCADE,
    CHECK (opens < closes)
);
