-- sessionward: session table (SQLite).
-- Times are Unix milliseconds (INTEGER). The refresh token is stored only as
-- its SHA-256 digest. `meta` is a JSON document (device, location, risk).
-- Writers are serialised by SQLite itself (`BEGIN IMMEDIATE`), so no per-user
-- lock table is needed.

CREATE TABLE sessionward_sessions (
    user_id            TEXT    NOT NULL,
    session_id         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    last_seen_at       INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    auth_time          INTEGER NOT NULL,
    refresh_hash       BLOB    NOT NULL CHECK (length(refresh_hash) = 32),
    refresh_generation INTEGER NOT NULL CHECK (refresh_generation >= 0),
    rotated_at         INTEGER NOT NULL,
    revoked_at         INTEGER NULL,
    revoke_reason      TEXT    NULL,
    ip                 TEXT    NULL,
    device_class       TEXT    NOT NULL,
    country            TEXT    NULL,
    meta               TEXT    NOT NULL,
    -- Serves lookups by (user, session) and, as its leading column, by user.
    PRIMARY KEY (user_id, session_id)
) WITHOUT ROWID;

-- Purge of ended sessions.
CREATE INDEX sessionward_sessions_expires_at ON sessionward_sessions (expires_at);
