DROP TABLE tool_calls;
DROP TABLE outbound_messages;
DROP TABLE calls;
