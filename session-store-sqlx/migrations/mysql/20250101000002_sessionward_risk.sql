-- sessionward: login history for risk scoring and single-use token ids
-- (MySQL / MariaDB, InnoDB). Times are Unix milliseconds (BIGINT).
-- Identifiers and history values use binary collations: "Alice" must never
-- match "alice", and fingerprints compare byte for byte.

-- What a user logged in with before: one row per (user, kind, value), where
-- kind is 'device' (a fingerprint), 'country' (a country code) or 'asn'
-- (decimal). Values longer than 255 characters are stored as 'sha256:<hex>'.
-- The primary key serves lookups by user (its leading column) and the
-- retention delete of one user's old rows.
CREATE TABLE sessionward_login_history (
    user_id      VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    kind         VARCHAR(16)  CHARACTER SET ascii   COLLATE ascii_bin   NOT NULL,
    value        VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    last_seen_at BIGINT       NOT NULL,
    PRIMARY KEY (user_id, kind, value)
) ENGINE = InnoDB;

-- The most recent successful login of each user (impossible-travel check).
CREATE TABLE sessionward_last_login (
    user_id   VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    at        BIGINT       NOT NULL,
    country   TEXT         CHARACTER SET utf8mb4 NULL,
    latitude  DOUBLE       NULL,
    longitude DOUBLE       NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

-- One row per login from an IP (any user), for the login-burst count.
CREATE TABLE sessionward_ip_logins (
    id BIGINT      NOT NULL AUTO_INCREMENT,
    ip VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    at BIGINT      NOT NULL,
    PRIMARY KEY (id),
    KEY sessionward_ip_logins_ip_at (ip, at)
) ENGINE = InnoDB;

-- Single-use token ids ("this wasn't me" links, step-up challenges), kept
-- until the token expires.
CREATE TABLE sessionward_used_tokens (
    token_id   VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    expires_at BIGINT       NOT NULL,
    PRIMARY KEY (token_id),
    KEY sessionward_used_tokens_expires_at (expires_at)
) ENGINE = InnoDB;
