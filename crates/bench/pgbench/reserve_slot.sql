-- One reserve_slot tool call, statement by statement as the api issues it (from the server's
-- statement log), minus the connection pool's liveness probes and the tenant lookup (the api
-- keeps the tenant for the length of a call). {TENANT}: the clinic; :k counts this client's
-- transactions, so that every hold is for a slot of its own.
BEGIN;
SET LOCAL synchronous_commit = off;
INSERT INTO "tool_calls" ("tenant_id", "tool_call_id", "tool", "started_at") VALUES ('{TENANT}', 'pgb_' || :client_id || '_' || :k, 'reserve_slot', now()) ON CONFLICT ("tenant_id", "tool_call_id") DO NOTHING;
COMMIT;
SELECT "bookings"."tenant_id", "bookings"."id", "bookings"."calendar_id", "bookings"."status", "bookings"."service", "bookings"."starts_at", "bookings"."ends_at", "bookings"."blocked_from", "bookings"."blocked_until", "bookings"."caller_name", "bookings"."caller_phone", "bookings"."call_id", "bookings"."created_at", "bookings"."hold_expires_at", "bookings"."confirmed_at", "bookings"."cancelled_at", "bookings"."rescheduled_from" FROM "bookings" WHERE (("bookings"."tenant_id" = '{TENANT}') AND ("bookings"."call_id" = 'pgb-' || :client_id || '-' || :k)) ORDER BY "bookings"."seq";
BEGIN;
SELECT pg_advisory_xact_lock(1651207783, hashtext('{TENANT}'::text));
UPDATE "bookings" SET "status" = 'expired', "updated_at" = now() WHERE (((((("bookings"."tenant_id" = '{TENANT}') AND ("bookings"."calendar_id" = '{TENANT}')) AND ("bookings"."status" = 'held')) AND ("bookings"."hold_expires_at" <= now())) AND ("bookings"."blocked_from" < to_timestamp(:slot_end))) AND ("bookings"."blocked_until" > to_timestamp(:slot)));
UPDATE "bookings" SET "status" = 'released', "updated_at" = now() WHERE (((("bookings"."tenant_id" = '{TENANT}') AND ("bookings"."call_id" = 'pgb-' || :client_id || '-' || :k)) AND ("bookings"."status" = 'held')) AND ("bookings"."hold_expires_at" > now()));
INSERT INTO "bookings" ("tenant_id", "id", "calendar_id", "status", "service", "starts_at", "ends_at", "blocked_from", "blocked_until", "caller_name", "caller_phone", "call_id", "created_at", "hold_expires_at", "updated_at") VALUES ('{TENANT}', gen_random_uuid(), '{TENANT}', 'held', 'Checkup', to_timestamp(:slot), to_timestamp(:slot_end), to_timestamp(:slot), to_timestamp(:slot_end), 'Floor Caller', '+14159990000', 'pgb-' || :client_id || '-' || :k, now(), now() + interval '10 minutes', now()) RETURNING "bookings"."tenant_id", "bookings"."id", "bookings"."calendar_id", "bookings"."status", "bookings"."service", "bookings"."starts_at", "bookings"."ends_at", "bookings"."blocked_from", "bookings"."blocked_until", "bookings"."caller_name", "bookings"."caller_phone", "bookings"."call_id", "bookings"."created_at", "bookings"."hold_expires_at", "bookings"."confirmed_at", "bookings"."cancelled_at", "bookings"."rescheduled_from";
COMMIT;
BEGIN;
SET LOCAL synchronous_commit = off;
UPDATE "tool_calls" SET "result" = '{"result"="{\"expires_at\"=\"2026-11-25T00=10=00-05=00\",\"hold_id\"=\"4be60861-851a-4777-adf3-8548505fdacd\",\"message\"=\"Wednesday November 25 at 12=00 AM for Checkup is held for the next 10 minutes. Now call send_otp with the hold_id to text the caller a code.\",\"ok\"=true,\"outcome\"=\"held\",\"service\"=\"Checkup\",\"spoken\"=\"Wednesday November 25 at 12=00 AM\",\"start\"=\"2026-11-25T00=00=00-05=00\"}"}', "finished_at" = now() WHERE ((("tool_calls"."tenant_id" = '{TENANT}') AND ("tool_calls"."tool_call_id" = 'pgb_' || :client_id || '_' || :k)) AND ("tool_calls"."result" IS NULL));
COMMIT;
