-- A hold confirmed by its code in one statement: what `confirm_hold` did in seven round trips
-- (BEGIN, the booking locked, the code consumed, the booking confirmed, the contact recorded,
-- the texts queued, COMMIT), with the patient's link stored in the same unit of work (it was an
-- insert and a commit of its own before). It runs in the statement's own transaction.
--
-- Returns no row when the booking does not exist. Otherwise one row: `refusal` NULL and the
-- booking as confirmed; or, with nothing changed, `refusal` 'not held' and the booking as it
-- is (the caller works out its status at `p_now`), 'challenge used' when the code was
-- consumed, superseded or ran out, 'no challenge' when the booking has no such code.
--
-- The texts come as one array per column, one element per text; a key already queued for the
-- tenant is skipped.
--
-- Additive: nothing else calls it.
CREATE FUNCTION confirm_hold(
    p_tenant uuid,
    p_id uuid,
    p_challenge uuid,
    p_now timestamptz,
    p_link_hash bytea,
    p_link_created timestamptz,
    p_link_expires timestamptz,
    p_msg_ids uuid[],
    p_msg_kinds text[],
    p_msg_keys text[],
    p_msg_to text[],
    p_msg_bodies text[],
    p_msg_due timestamptz[],
    p_msg_bookings uuid[],
    p_msg_calls text[],
    p_msg_created timestamptz[]
) RETURNS TABLE (refusal text, booking bookings)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b bookings%ROWTYPE;
BEGIN
    SELECT * INTO b FROM bookings WHERE tenant_id = p_tenant AND id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF b.status <> 'held' OR b.hold_expires_at IS NULL OR b.hold_expires_at <= p_now THEN
        RETURN QUERY SELECT 'not held'::text, b;
        RETURN;
    END IF;

    UPDATE otp_challenges SET consumed_at = p_now
    WHERE tenant_id = p_tenant AND id = p_challenge AND booking_id = p_id
      AND consumed_at IS NULL AND superseded_at IS NULL AND expires_at > p_now;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM otp_challenges
                   WHERE tenant_id = p_tenant AND id = p_challenge AND booking_id = p_id) THEN
            RETURN QUERY SELECT 'challenge used'::text, b;
        ELSE
            RETURN QUERY SELECT 'no challenge'::text, b;
        END IF;
        RETURN;
    END IF;

    UPDATE bookings SET status = 'confirmed', confirmed_at = p_now, updated_at = p_now
    WHERE tenant_id = p_tenant AND id = p_id
    RETURNING * INTO b;

    INSERT INTO contacts (tenant_id, phone, name, source, booked_at, created_at, updated_at)
    VALUES (p_tenant, b.caller_phone, b.caller_name, 'phone_booking', p_now, p_now, p_now)
    ON CONFLICT (tenant_id, phone)
    DO UPDATE SET name = EXCLUDED.name, booked_at = EXCLUDED.booked_at,
                  updated_at = EXCLUDED.updated_at;

    IF p_link_hash IS NOT NULL THEN
        INSERT INTO patient_links (token_hash, tenant_id, booking_id, created_at, expires_at)
        VALUES (p_link_hash, p_tenant, p_id, p_link_created, p_link_expires);
    END IF;

    INSERT INTO outbound_messages (tenant_id, id, kind, dedupe_key, to_number, body, status,
                                   due_at, booking_id, call_id, created_at, updated_at)
    SELECT p_tenant, m.id, m.kind, m.dedupe_key, m.to_number, m.body, 'pending',
           m.due_at, m.booking_id, m.call_id, m.created_at, m.created_at
    FROM unnest(p_msg_ids, p_msg_kinds, p_msg_keys, p_msg_to, p_msg_bodies, p_msg_due,
                p_msg_bookings, p_msg_calls, p_msg_created)
         AS m(id, kind, dedupe_key, to_number, body, due_at, booking_id, call_id, created_at)
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING;

    RETURN QUERY SELECT NULL::text, b;
END
$$;
