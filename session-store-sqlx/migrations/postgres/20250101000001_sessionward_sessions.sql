-- sessionward: session table and per-user lock rows (PostgreSQL).
-- Times are Unix milliseconds (BIGINT). The refresh token is stored only as
-- its SHA-256 digest. `meta` is a JSON document (device, location, risk).

-- One row per user that ever logged in. `create` locks it (INSERT ... ON
-- CONFLICT DO UPDATE) so limit checks and evictions for one user never
-- interleave, even when the user has no session rows yet.
CREATE TABLE sessionward_users (
    user_id TEXT PRIMARY KEY
);

CREATE TABLE sessionward_sessions (
    user_id            TEXT     NOT NULL,
    session_id         TEXT     NOT NULL,
    created_at         BIGINT   NOT NULL,
    last_seen_at       BIGINT   NOT NULL,
    expires_at         BIGINT   NOT NULL,
    auth_time          BIGINT   NOT NULL,
    refresh_hash       BYTEA    NOT NULL CHECK (octet_length(refresh_hash) = 32),
    refresh_generation BIGINT   NOT NULL CHECK (refresh_generation >= 0),
    rotated_at         BIGINT   NOT NULL,
    revoked_at         BIGINT   NULL,
    revoke_reason      TEXT     NULL,
    ip                 TEXT     NULL,
    device_class       TEXT     NOT NULL,
    country            TEXT     NULL,
    meta               TEXT     NOT NULL,
    -- Serves lookups by (user, session) and, as its leading column, by user
    -- (list, limit checks, revoke-all): no separate user index is needed.
    PRIMARY KEY (user_id, session_id)
);

-- Purge of ended sessions.
CREATE INDEX sessionward_sessions_expires_at ON sessionward_sessions (expires_at);
