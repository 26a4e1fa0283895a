DROP FUNCTION IF EXISTS confirm_hold(uuid, uuid, uuid, timestamptz, bytea, timestamptz,
    timestamptz, uuid[],
    text[], text[], text[], text[], timestamptz[], uuid[], text[], timestamptz[]);
