-- sessionward: login history for risk scoring and single-use token ids (PostgreSQL).
-- Times are Unix milliseconds (BIGINT).

-- What a user logged in with before: one row per (user, kind, value), where
-- kind is 'device' (a fingerprint), 'country' (a country code) or 'asn'
-- (decimal). Values longer than 255 characters are stored as 'sha256:<hex>'.
-- The primary key serves lookups by user (its leading column) and the
-- retention delete of one user's old rows.
CREATE TABLE sessionward_login_history (
    user_id      TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    value        TEXT   NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);

-- The most recent successful login of each user (impossible-travel check).
CREATE TABLE sessionward_last_login (
    user_id   TEXT             PRIMARY KEY,
    at        BIGINT           NOT NULL,
    country   TEXT             NULL,
    latitude  DOUBLE PRECISION NULL,
    longitude DOUBLE PRECISION NULL
);

-- One row per login from an IP (any user), for the login-burst count.
CREATE TABLE sessionward_ip_logins (
    ip TEXT   NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sessionward_ip_logins_ip_at ON sessionward_ip_logins (ip, at);

-- Single-use token ids ("this wasn't me" links, step-up challenges), kept
-- until the token expires.
CREATE TABLE sessionward_used_tokens (
    token_id   TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessionward_used_tokens_expires_at ON sessionward_used_tokens (expires_at);
