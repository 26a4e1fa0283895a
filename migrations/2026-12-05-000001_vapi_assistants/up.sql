-- A clinic's saved Vapi assistants. A call from Vapi's dashboard or web widget has no phone
-- number; it names the assistant (`call.assistantId`), and the clinic is found by it. An assistant
-- id belongs to one clinic only. Releases that predate this table ignore it.
CREATE TABLE tenant_vapi_assistants (
    tenant_id               uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position                integer     NOT NULL,
    assistant_id            text        NOT NULL,
    PRIMARY KEY (tenant_id, position),
    CONSTRAINT tenant_vapi_assistants_assistant_id_key UNIQUE (assistant_id)
);
