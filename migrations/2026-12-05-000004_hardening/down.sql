DROP TABLE tool_call_log;
DROP TABLE master_key_checks;
DROP TABLE sign_in_attempts;
