DROP FUNCTION IF EXISTS otp_send_turn_and_opt_out(int, uuid, uuid, text, text, timestamptz, timestamptz);
