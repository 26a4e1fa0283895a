-- The outbox worker's claim as a function planned once per connection.
--
-- Sent as a statement of its own, the claim was planned afresh each time once the table had
-- history: with its parameters unknown the planner takes a third of the rows to be due, so the
-- plan it would keep looked dearer than one made for the values of the moment, and it made one
-- every claim (0.4 ms of planning for 0.2 ms of work, measured after the bench's floor). The plan
-- does not depend on the values: the due and the lapsed are each read down their own partial
-- index, in order, no further than the limit. `plan_cache_mode` is set for the function's
-- statements alone.
--
-- The due (pending or ambiguous, due by `p_now`) and the lapsed (sending, lease run out) of
-- clinics whose texting works and whose credentials are under a key in `p_keys` (comma
-- separated; a clinic without credentials counts as held), the first `p_limit` by due time and
-- queue order, are leased to `p_worker` until `p_lease_until` and returned. Rows another worker
-- holds are skipped, not waited for.
--
-- Additive: the previous release sends the same statement itself.
CREATE FUNCTION claim_due_messages(
    p_now timestamptz,
    p_keys text,
    p_limit int,
    p_worker text,
    p_lease_until timestamptz
) RETURNS SETOF outbound_messages
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH pending AS (
        SELECT msg.tenant_id, msg.id, msg.due_at, msg.seq
        FROM outbound_messages msg
        WHERE msg.status IN ('pending', 'ambiguous') AND msg.due_at <= p_now
          AND (SELECT t.sms_health FROM tenants t WHERE t.id = msg.tenant_id) <> 'needs_attention'
          AND COALESCE((SELECT c.key_id = ANY (string_to_array(p_keys, ','))
                        FROM tenant_sms_credentials c
                        WHERE c.tenant_id = msg.tenant_id), true)
        ORDER BY msg.due_at, msg.seq
        LIMIT p_limit
        FOR UPDATE OF msg SKIP LOCKED
    ),
    lapsed AS (
        SELECT msg.tenant_id, msg.id, msg.due_at, msg.seq
        FROM outbound_messages msg
        WHERE msg.status = 'sending' AND msg.lease_until <= p_now
          AND (SELECT t.sms_health FROM tenants t WHERE t.id = msg.tenant_id) <> 'needs_attention'
          AND COALESCE((SELECT c.key_id = ANY (string_to_array(p_keys, ','))
                        FROM tenant_sms_credentials c
                        WHERE c.tenant_id = msg.tenant_id), true)
        ORDER BY msg.lease_until
        LIMIT p_limit
        FOR UPDATE OF msg SKIP LOCKED
    ),
    due AS (
        SELECT c.tenant_id, c.id
        FROM (SELECT * FROM pending UNION ALL SELECT * FROM lapsed) AS c
        ORDER BY c.due_at, c.seq
        LIMIT p_limit
    )
    UPDATE outbound_messages msg
    SET needs_reconcile = msg.status IN ('ambiguous', 'sending'),
        status = 'sending',
        claim_token = gen_random_uuid(),
        claimed_by = p_worker,
        lease_until = p_lease_until,
        first_attempt_at = COALESCE(msg.first_attempt_at, p_now),
        updated_at = p_now
    FROM due
    WHERE msg.tenant_id = due.tenant_id AND msg.id = due.id
    RETURNING msg.*;
END
$$;
