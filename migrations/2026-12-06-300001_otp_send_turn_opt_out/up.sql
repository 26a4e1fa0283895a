-- A code send's turn, its counts, and whether the number opted out of the tenant's texts, in one
-- statement: `create_challenge` read the opt-out in a round trip of its own before its
-- transaction began.
--
-- `otp_send_turn` takes the tenant's send lock and reads the counts (see its migration); the
-- opt-out is read after it, by a later statement with a fresh snapshot, so a STOP committed
-- while this send waited for the lock is seen. No row when the booking does not exist.
--
-- Additive: `otp_send_turn` stays for the previous release, which still calls it.
CREATE FUNCTION otp_send_turn_and_opt_out(
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
    to_number_in_call bigint,
    opted_out boolean
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    turn record;
BEGIN
    SELECT * INTO turn FROM otp_send_turn(p_lock_class, p_tenant, p_booking, p_phone, p_call,
                                          p_number_since, p_tenant_since);
    IF NOT FOUND THEN
        RETURN;
    END IF;

    RETURN QUERY
    SELECT turn.caller_phone, turn.number_to_number, turn.number_by_tenant,
           turn.tenant_to_number, turn.tenant_by_tenant, turn.in_call, turn.distinct_in_call,
           turn.to_number_in_call,
           EXISTS (SELECT 1 FROM contacts c
                   WHERE c.tenant_id = p_tenant AND c.phone = p_phone
                     AND c.opted_out_at IS NOT NULL);
END
$$;
