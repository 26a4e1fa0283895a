-- Texting numbers belong to one clinic; Messaging Service numbers route inbound texts; Twilio's
-- status callbacks that beat our record of the sid are kept; inbound texts are counted so that
-- auto-replies and forwards have limits.
--
-- Rolling deploy: the previous release keeps writing tenant_sms_credentials as before. The
-- trigger below keeps tenant_sms_routes in step with those writes (so a claim the previous
-- release saves is checked by the same unique indexes), and the new column has a default.

-- Every number and Messaging Service a clinic texts from (and, through a Messaging Service,
-- receives on). kind: sender_number (tenant_sms_credentials.sender_number),
-- messaging_service (tenant_sms_credentials.messaging_service_sid), service_number (a number
-- in that Messaging Service's sender pool, listed by the operator or the owner).
CREATE TABLE tenant_sms_routes (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind                    text        NOT NULL
                                        CHECK (kind IN ('sender_number', 'messaging_service', 'service_number')),
    value                   text        NOT NULL,
    PRIMARY KEY (tenant_id, kind, value)
);
-- A number is one clinic's, whether it sends directly or sits in a Messaging Service.
CREATE UNIQUE INDEX tenant_sms_routes_number_key ON tenant_sms_routes (value)
    WHERE kind IN ('sender_number', 'service_number');
CREATE UNIQUE INDEX tenant_sms_routes_service_key ON tenant_sms_routes (value)
    WHERE kind = 'messaging_service';

-- Existing duplicates (possible before this migration): the clinic created first keeps the
-- claim; the later ones keep their credentials but are not routed to, and must choose another
-- number before their Twilio settings can be saved again (docs/operations.md).
INSERT INTO tenant_sms_routes (tenant_id, kind, value)
SELECT DISTINCT ON (c.sender_number) c.tenant_id, 'sender_number', c.sender_number
FROM tenant_sms_credentials c JOIN tenants t ON t.id = c.tenant_id
WHERE c.sender_number IS NOT NULL
ORDER BY c.sender_number, t.created_at, c.tenant_id;

INSERT INTO tenant_sms_routes (tenant_id, kind, value)
SELECT DISTINCT ON (c.messaging_service_sid) c.tenant_id, 'messaging_service', c.messaging_service_sid
FROM tenant_sms_credentials c JOIN tenants t ON t.id = c.tenant_id
WHERE c.messaging_service_sid IS NOT NULL
ORDER BY c.messaging_service_sid, t.created_at, c.tenant_id;

-- Keeps the sender claims in step with the credentials row, whichever release writes it. Only
-- a change of the sender columns fires it (a key rotation rewrites the ciphertext alone).
CREATE FUNCTION tenant_sms_routes_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM tenant_sms_routes WHERE tenant_id = OLD.tenant_id;
        RETURN OLD;
    END IF;
    DELETE FROM tenant_sms_routes
        WHERE tenant_id = NEW.tenant_id AND kind IN ('sender_number', 'messaging_service');
    IF NEW.messaging_service_sid IS NULL THEN
        DELETE FROM tenant_sms_routes WHERE tenant_id = NEW.tenant_id AND kind = 'service_number';
    END IF;
    IF NEW.sender_number IS NOT NULL THEN
        INSERT INTO tenant_sms_routes (tenant_id, kind, value)
            VALUES (NEW.tenant_id, 'sender_number', NEW.sender_number);
    END IF;
    IF NEW.messaging_service_sid IS NOT NULL THEN
        INSERT INTO tenant_sms_routes (tenant_id, kind, value)
            VALUES (NEW.tenant_id, 'messaging_service', NEW.messaging_service_sid);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tenant_sms_routes_sync
    AFTER INSERT OR UPDATE OF sender_number, messaging_service_sid OR DELETE
    ON tenant_sms_credentials
    FOR EACH ROW EXECUTE FUNCTION tenant_sms_routes_sync();

-- Who answers STOP, START and HELP: 'twilio' (Twilio's default opt-out handling or Advanced
-- Opt-Out replies; we record the opt-out and send nothing) or 'clinic' (Twilio's replies are
-- turned off for this sender; we answer). Twilio answers by default.
ALTER TABLE tenant_sms_credentials
    ADD COLUMN keyword_replies text NOT NULL DEFAULT 'twilio'
        CHECK (keyword_replies IN ('twilio', 'clinic'));

-- Status callbacks for a sid no message has yet: Twilio can post one before our write of its
-- 201 commits. Applied (forward only) when the sid is recorded.
CREATE TABLE early_status_callbacks (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    twilio_sid              text        NOT NULL,
    status                  text        NOT NULL,
    error_code              integer,
    received_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, twilio_sid, status)
);
CREATE INDEX early_status_callbacks_received_idx ON early_status_callbacks (received_at);

-- Inbound texts counted per window, so that auto-replies and forwards stay within limits under
-- any concurrency (one upsert decides). sender '' counts the clinic as a whole.
CREATE TABLE inbound_text_counts (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    purpose                 text        NOT NULL CHECK (purpose IN ('auto_reply', 'forward')),
    sender                  text        NOT NULL,
    window_started_at       timestamptz NOT NULL,
    count                   integer     NOT NULL CHECK (count > 0),
    PRIMARY KEY (tenant_id, purpose, sender)
);
