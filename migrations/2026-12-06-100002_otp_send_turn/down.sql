DROP FUNCTION IF EXISTS otp_send_turn(int, uuid, uuid, text, text, timestamptz, timestamptz);
