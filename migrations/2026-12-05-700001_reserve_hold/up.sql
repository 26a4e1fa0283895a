-- A hold reserved in one statement: what `insert_hold` did in eight round trips (BEGIN, the
-- calendar's advisory lock, expire, release, one count per limit, insert, COMMIT), now one call
-- that runs in the statement's own transaction. Each statement of a plpgsql function reads
-- with a fresh snapshot, so everything after the lock sees what the previous holder of the
-- lock committed, as the separate statements did.
--
-- Returns the new row, or no row when a live booking of the calendar overlapping the time was
-- already committed when the call began, or the calendar's synced outside busy time overlaps it: that caller is answered "taken" without waiting in
-- line for the lock (the rows of the call's own holds, which the reservation releases, do not
-- count). A limit reached raises check_violation on the constraint name `booking_limits`, and
-- an overlap found at the insert the exclusion violation of `bookings_no_overlap`; both roll
-- back the expiry and the release.
--
-- Additive: a release that does not call it is unaffected.
CREATE FUNCTION reserve_hold(
    p_tenant uuid,
    p_id uuid,
    p_calendar uuid,
    p_service text,
    p_starts timestamptz,
    p_ends timestamptz,
    p_blocked_from timestamptz,
    p_blocked_until timestamptz,
    p_caller_name text,
    p_caller_phone text,
    p_call_id text,
    p_release_call text,
    p_created timestamptz,
    p_expires timestamptz,
    p_now timestamptz,
    p_limit_from timestamptz[],
    p_limit_until timestamptz[],
    p_limit_max int[]
) RETURNS SETOF bookings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i int;
    made bookings%ROWTYPE;
BEGIN
    IF EXISTS (
        SELECT 1 FROM bookings
        WHERE tenant_id = p_tenant AND calendar_id = p_calendar
          AND (status = 'confirmed' OR (status = 'held' AND hold_expires_at > p_now))
          AND blocked_from < p_blocked_until AND blocked_until > p_blocked_from
          AND (p_release_call IS NULL OR call_id IS DISTINCT FROM p_release_call)
    ) THEN
        RETURN;
    END IF;

    -- Busy time synced from the provider's own calendar (`calendar_busy`) takes the time too:
    -- with one provider the service reads nothing before this call.
    IF EXISTS (
        SELECT 1 FROM calendar_busy
        WHERE tenant_id = p_tenant AND calendar_id = p_calendar
          AND starts_at < p_blocked_until AND ends_at > p_blocked_from
    ) THEN
        RETURN;
    END IF;

    -- The class and key of the calendar's reservation lock, as `lock_calendar` takes it.
    PERFORM pg_advisory_xact_lock(1651207783, hashtext(p_calendar::text));

    UPDATE bookings SET status = 'expired', updated_at = p_now
    WHERE tenant_id = p_tenant AND calendar_id = p_calendar AND status = 'held'
      AND hold_expires_at <= p_now
      AND blocked_from < p_blocked_until AND blocked_until > p_blocked_from;

    IF p_release_call IS NOT NULL THEN
        UPDATE bookings SET status = 'released', updated_at = p_now
        WHERE tenant_id = p_tenant AND call_id = p_release_call AND status = 'held'
          AND hold_expires_at > p_now;
    END IF;

    FOR i IN 1 .. coalesce(array_length(p_limit_max, 1), 0) LOOP
        IF (SELECT count(*) FROM bookings
            WHERE tenant_id = p_tenant AND calendar_id = p_calendar
              AND (status = 'confirmed' OR (status = 'held' AND hold_expires_at > p_now))
              AND starts_at >= p_limit_from[i] AND starts_at < p_limit_until[i]
           ) >= p_limit_max[i] THEN
            RAISE EXCEPTION 'the calendar''s booking limit is reached'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'booking_limits';
        END IF;
    END LOOP;

    INSERT INTO bookings (tenant_id, id, calendar_id, status, service, starts_at, ends_at,
                          blocked_from, blocked_until, caller_name, caller_phone, call_id,
                          created_at, hold_expires_at, updated_at)
    VALUES (p_tenant, p_id, p_calendar, 'held', p_service, p_starts, p_ends,
            p_blocked_from, p_blocked_until, p_caller_name, p_caller_phone, p_call_id,
            p_created, p_expires, p_now)
    RETURNING * INTO made;
    RETURN NEXT made;
END
$$;
