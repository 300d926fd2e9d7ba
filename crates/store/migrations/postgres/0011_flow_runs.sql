-- Durable flow runs (ADR 9). A run is claimed under a lease like a job; every step's row is
-- written, fenced on that lease, before the next step starts, so a run resumed after a crash
-- goes on from the first step without a final row.
CREATE TABLE flow_runs (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    flow_id           TEXT NOT NULL,
    version           TEXT NOT NULL,
    document          JSONB NOT NULL,
    definition_sha256 TEXT NOT NULL,
    input             JSONB NOT NULL,
    status            TEXT NOT NULL,
    output            JSONB,
    error             JSONB,
    principal         TEXT NOT NULL,
    run_context       JSONB NOT NULL,
    lease_token       TEXT,
    lease_expires_at  TIMESTAMPTZ,
    execution_id      TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);
CREATE INDEX flow_runs_tenant ON flow_runs (tenant_id, id);
CREATE INDEX flow_runs_due ON flow_runs (status, lease_expires_at);
CREATE INDEX flow_runs_finished ON flow_runs (finished_at);

CREATE TABLE flow_steps (
    run_id       TEXT NOT NULL,
    path         TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    skill_id     TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    input        JSONB,
    output       JSONB,
    error        JSONB,
    execution_id TEXT,
    approval_id  TEXT,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    PRIMARY KEY (run_id, path)
);
