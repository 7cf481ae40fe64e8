-- sessionward: the session directory (operators' queries across users).
-- It walks the unrevoked sessions newest first through the first index
-- (ids in byte order, as every backend sorts them), and finds the sessions
-- of an address block through the second: `ip_key` is the login address
-- as 32 hex digits of its IPv6 form (IPv4 mapped), so a block is one
-- range. Rows written before this column get it from
-- `migrate` (a backfill after the migrations). Other criteria are checked on the rows.
ALTER TABLE sessionward_sessions ADD COLUMN ip_key TEXT NULL;
CREATE INDEX sessionward_sessions_directory
    ON sessionward_sessions (created_at DESC, user_id COLLATE "C" DESC, session_id COLLATE "C" DESC)
    WHERE revoked_at IS NULL;
CREATE INDEX sessionward_sessions_ip_key
    ON sessionward_sessions (ip_key COLLATE "C")
    WHERE revoked_at IS NULL;
