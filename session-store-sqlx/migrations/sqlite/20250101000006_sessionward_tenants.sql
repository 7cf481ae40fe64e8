-- sessionward: per-tenant limits count the active sessions of a tenant's
-- users (`meta.tenant`) at every limited login. Writers are serialised by
-- SQLite, so the count needs no lock, only this index (a corrupt `meta`
-- counts as no tenant rather than failing the count).
CREATE INDEX sessionward_sessions_tenant
    ON sessionward_sessions (CASE WHEN json_valid(meta) THEN json_extract(meta, '$.tenant') END)
    WHERE revoked_at IS NULL;
