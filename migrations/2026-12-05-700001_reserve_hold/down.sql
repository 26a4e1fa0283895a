DROP FUNCTION IF EXISTS reserve_hold(uuid, uuid, uuid, text, timestamptz, timestamptz,
    timestamptz, timestamptz, text, text, text, text, timestamptz, timestamptz, timestamptz,
    timestamptz[], timestamptz[], int[]);
