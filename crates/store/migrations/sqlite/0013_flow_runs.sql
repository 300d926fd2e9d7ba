-- Durable flow runs (ADR 9). A run is claimed under a lease like a job; every step's row is
-- written, fenced on that lease, before the next step starts, so a run resumed after a crash
-- goes on from the first step without a final row.
CREATE TABLE flow_runs (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    flow_id           TEXT NOT NULL,
    version           TEXT NOT NULL,
    document          TEXT NOT NULL,
    definition_sha256 TEXT NOT NULL,
    input             TEXT NOT NULL,
    status            TEXT NOT NULL,
    output            TEXT,
    error             TEXT,
    principal         TEXT NOT NULL,
    run_context       TEXT NOT NULL,
    lease_token       TEXT,
    lease_expires_at  TEXT,
    execution_id      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    finished_at       TEXT
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
    input        TEXT,
    output       TEXT,
    error        TEXT,
    execution_id TEXT,
    approval_id  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (run_id, path)
);
