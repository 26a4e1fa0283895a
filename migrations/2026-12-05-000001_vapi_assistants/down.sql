DROP TABLE tenant_vapi_assistants;
