DROP FUNCTION IF EXISTS claim_due_messages(timestamptz, text, int, text, timestamptz);
