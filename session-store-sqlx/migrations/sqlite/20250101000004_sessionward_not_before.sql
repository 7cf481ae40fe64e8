-- sessionward: a user's "not before" mark (Unix milliseconds). Revoking
-- every session for a password change or a disabled account raises it in
-- the same transaction; `create` refuses a session whose credential was
-- verified before it. Writers are serialised by SQLite, so this table is
-- only the mark, not a lock.
CREATE TABLE sessionward_users (
    user_id    TEXT    PRIMARY KEY,
    not_before INTEGER NOT NULL
);
