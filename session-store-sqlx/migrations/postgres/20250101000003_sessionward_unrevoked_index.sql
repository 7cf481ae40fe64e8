-- sessionward: the user's unrevoked sessions, for the admission read of a
-- login with limits. Without it that read walks every row of the user,
-- revoked tombstones included (a user on a "5 sessions, evict" policy can
-- have thousands until they end), so a login would slow down with them.
CREATE INDEX sessionward_sessions_unrevoked
    ON sessionward_sessions (user_id) WHERE revoked_at IS NULL;
