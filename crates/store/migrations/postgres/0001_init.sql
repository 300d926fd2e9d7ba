-- Skill state kept by the server (deprecation overrides of the manifests), per tenant.
CREATE TABLE skill_states (
    tenant_id          TEXT        NOT NULL,
    skill_id           TEXT        NOT NULL,
    deprecated         BOOLEAN     NOT NULL,
    reason             TEXT,
    replacement_id     TEXT,
    updated_by         TEXT        NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, skill_id)
);

-- One row per run of a skill.
CREATE TABLE executions (
    id             TEXT             NOT NULL PRIMARY KEY,
    tenant_id      TEXT             NOT NULL,
    skill_id       TEXT             NOT NULL,
    skill_version  TEXT             NOT NULL,
    status         TEXT             NOT NULL,
    principal      TEXT             NOT NULL,
    payload        JSONB            NOT NULL,
    output         JSONB,
    error          JSONB,
    runner_id      TEXT,
    attempts       INTEGER          NOT NULL,
    cost           DOUBLE PRECISION NOT NULL,
    created_at     TIMESTAMPTZ      NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ
);
CREATE INDEX executions_tenant_id ON executions (tenant_id, id);
CREATE INDEX executions_tenant_skill ON executions (tenant_id, skill_id, id);

-- Append-only audit trail.
CREATE TABLE audit_events (
    id          TEXT        NOT NULL PRIMARY KEY,
    tenant_id   TEXT        NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor       TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    target      TEXT        NOT NULL,
    details     JSONB       NOT NULL
);
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id);
