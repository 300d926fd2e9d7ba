-- Skill state kept by the server (deprecation overrides of the manifests), per tenant.
CREATE TABLE skill_states (
    tenant_id          TEXT    NOT NULL,
    skill_id           TEXT    NOT NULL,
    deprecated         BOOLEAN NOT NULL,
    reason             TEXT,
    replacement_id     TEXT,
    updated_by         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, skill_id)
);

-- One row per run of a skill.
CREATE TABLE executions (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    skill_id       TEXT    NOT NULL,
    skill_version  TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    principal      TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    output         TEXT,
    error          TEXT,
    runner_id      TEXT,
    attempts       INTEGER NOT NULL,
    cost           REAL    NOT NULL,
    created_at     TEXT    NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
);
CREATE INDEX executions_tenant_id ON executions (tenant_id, id);
CREATE INDEX executions_tenant_skill ON executions (tenant_id, skill_id, id);

-- Append-only audit trail.
CREATE TABLE audit_events (
    id          TEXT NOT NULL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id);
