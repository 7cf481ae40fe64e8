-- sessionward: per-tenant limits count the active sessions of a tenant's
-- users (`meta.tenant`) at every limited login, under a transaction-level
-- advisory lock on the tenant; this index serves the count. The tenant is
-- read from the JSON text by pattern, not by parsing it, so a corrupt
-- `meta` neither breaks this index nor the count (a tenant id's charset
-- has no quote, and JSON escapes every quote inside a string, so only the
-- top-level member matches).
CREATE INDEX sessionward_sessions_tenant
    ON sessionward_sessions ((substring(meta from '"tenant":"([A-Za-z0-9._:-]{1,64})"')))
    WHERE revoked_at IS NULL;
