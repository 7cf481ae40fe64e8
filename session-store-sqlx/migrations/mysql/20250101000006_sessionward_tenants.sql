-- sessionward: per-tenant limits count the active sessions of a tenant's
-- users at every limited login.
-- One lock row per tenant: every login under a tenant takes it (after the
-- user's row), so no other login of the tenant can add a session while
-- one is counted.
CREATE TABLE sessionward_tenants (
    tenant_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (tenant_id)
) ENGINE = InnoDB;

-- The tenant of each session, as a generated column the count's index
-- serves (`meta.tenant`; NULL without one, or for a corrupt `meta`).
ALTER TABLE sessionward_sessions
    ADD COLUMN tenant_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin
        AS (IF(JSON_VALID(meta), JSON_UNQUOTE(JSON_EXTRACT(meta, '$.tenant')), NULL)) VIRTUAL,
    ADD INDEX sessionward_sessions_tenant (tenant_id, revoked_at);
