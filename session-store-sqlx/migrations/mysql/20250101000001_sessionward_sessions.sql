-- sessionward: session table and per-user lock rows (MySQL / MariaDB, InnoDB).
-- Times are Unix milliseconds (BIGINT). The refresh token is stored only as
-- its SHA-256 digest. `meta` is a JSON document (device, location, risk).
-- Identifiers use a binary collation: user and session ids are
-- case-sensitive, and "Alice" must never match "alice".

-- One row per user that ever logged in. `create` locks it (INSERT ... ON
-- DUPLICATE KEY UPDATE takes an exclusive row lock) so limit checks and
-- evictions for one user never interleave, even with no session rows yet.
CREATE TABLE sessionward_users (
    user_id VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

CREATE TABLE sessionward_sessions (
    user_id            VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    session_id         VARCHAR(32)  CHARACTER SET ascii   COLLATE ascii_bin   NOT NULL,
    created_at         BIGINT       NOT NULL,
    last_seen_at       BIGINT       NOT NULL,
    expires_at         BIGINT       NOT NULL,
    auth_time          BIGINT       NOT NULL,
    refresh_hash       BINARY(32)   NOT NULL,
    refresh_generation BIGINT       NOT NULL,
    rotated_at         BIGINT       NOT NULL,
    revoked_at         BIGINT       NULL,
    revoke_reason      VARCHAR(64)  CHARACTER SET ascii NULL,
    ip                 VARCHAR(64)  CHARACTER SET ascii NULL,
    device_class       VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    country            TEXT         CHARACTER SET utf8mb4 NULL,
    meta               TEXT         CHARACTER SET utf8mb4 NOT NULL,
    -- Serves lookups by (user, session) and, as its leading column, by user.
    PRIMARY KEY (user_id, session_id),
    -- Purge of ended sessions.
    KEY sessionward_sessions_expires_at (expires_at)
) ENGINE = InnoDB;
