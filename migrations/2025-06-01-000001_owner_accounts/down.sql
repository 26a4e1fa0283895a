DROP TABLE owner_login_failures;
DROP TABLE owner_sessions;
DROP TABLE owner_accounts;
