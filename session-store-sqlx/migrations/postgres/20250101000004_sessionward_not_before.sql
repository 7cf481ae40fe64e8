-- sessionward: a user's "not before" mark (Unix milliseconds). Revoking
-- every session for a password change or a disabled account raises it in
-- the same transaction; `create` refuses a session whose credential was
-- verified before it. It lives on the lock row `create` already takes.
ALTER TABLE sessionward_users ADD COLUMN not_before BIGINT NULL;
