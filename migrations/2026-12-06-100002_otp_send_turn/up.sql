-- A code send's turn and its counts in one statement: what `create_challenge` did in four round
-- trips before deciding (the tenant's send lock, the booking locked, the counts over the
-- per-number window, the counts over the per-tenant window). The caller runs it in its own
-- transaction, decides the send limits on what it returns, and stores the code in the same
-- transaction: the lock is held until that commits.
--
-- The lock is taken by the first statement and the counts are read by later ones, each with a
-- fresh snapshot, so they include every code stored by the previous holder of the lock.
--
-- No row when the booking does not exist. Otherwise the booking's caller number, the codes of
-- the tenant since `p_number_since` (to `p_phone`, and all) and since `p_tenant_since` (the
-- same two), and the codes of call `p_call` ever (all, distinct numbers, to `p_phone`; zero
-- without a call).
--
-- Additive: nothing else calls it.
CREATE FUNCTION otp_send_turn(
    p_lock_class int,
    p_tenant uuid,
    p_booking uuid,
    p_phone text,
    p_call text,
    p_number_since timestamptz,
    p_tenant_since timestamptz
) RETURNS TABLE (
    caller_phone text,
    number_to_number bigint,
    number_by_tenant bigint,
    tenant_to_number bigint,
    tenant_by_tenant bigint,
    in_call bigint,
    distinct_in_call bigint,
    to_number_in_call bigint
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    booked_phone text;
BEGIN
    -- The tenant's send lock: the class is the caller's (`OTP_SEND_LOCK_CLASS`), the key the
    -- tenant.
    PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(p_tenant::text));

    -- Concurrent sends for one booking take turns on its row, so that one code stays active.
    SELECT b.caller_phone INTO booked_phone FROM bookings b
    WHERE b.tenant_id = p_tenant AND b.id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    RETURN QUERY
    SELECT booked_phone, recent.number_to_number, recent.number_by_tenant,
           recent.tenant_to_number, recent.tenant_by_tenant,
           calls.n, calls.distinct_numbers, calls.to_number
    FROM (SELECT count(*) FILTER (WHERE c.phone = p_phone AND c.created_at >= p_number_since)
                     AS number_to_number,
                 count(*) FILTER (WHERE c.created_at >= p_number_since) AS number_by_tenant,
                 count(*) FILTER (WHERE c.phone = p_phone AND c.created_at >= p_tenant_since)
                     AS tenant_to_number,
                 count(*) FILTER (WHERE c.created_at >= p_tenant_since) AS tenant_by_tenant
          FROM otp_challenges c
          WHERE c.tenant_id = p_tenant AND c.created_at >= least(p_number_since, p_tenant_since)
         ) AS recent,
         (SELECT count(*) AS n, count(DISTINCT c.phone) AS distinct_numbers,
                 count(*) FILTER (WHERE c.phone = p_phone) AS to_number
          FROM otp_challenges c
          WHERE c.tenant_id = p_tenant AND p_call IS NOT NULL AND c.call_id = p_call
         ) AS calls;
END
$$;
