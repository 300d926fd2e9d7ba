-- API keys: the secret is kept only as its SHA-256; the id is the public part of the key.
CREATE TABLE api_keys (
    id            TEXT NOT NULL PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    roles         TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

-- Circuit breakers per (tenant, skill), shared by every replica. `version` makes each change
-- a compare-and-set.
CREATE TABLE circuit_breakers (
    tenant_id        TEXT    NOT NULL,
    skill_id         TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    failures         INTEGER NOT NULL,
    opened_at        TIMESTAMPTZ,
    probe_expires_at TIMESTAMPTZ,
    version          BIGINT  NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, skill_id)
);
