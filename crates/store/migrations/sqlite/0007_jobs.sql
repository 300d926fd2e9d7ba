-- The job an execution is an attempt of.
ALTER TABLE executions ADD COLUMN job_id TEXT;
CREATE INDEX executions_job ON executions (job_id, id);

-- The durable job queue. A worker claims due jobs (and jobs whose lease expired) by setting a
-- lease token and expiry; every later change of a running job is fenced on that token, so a
-- worker that lost its lease cannot record an outcome.
CREATE TABLE jobs (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    skill_id         TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    timeout_ms       INTEGER,
    priority         INTEGER NOT NULL,
    next_run_at      TEXT,
    lease_token      TEXT,
    lease_expires_at TEXT,
    execution_id     TEXT,
    last_error       TEXT,
    result           TEXT,
    source           TEXT    NOT NULL,
    source_id        TEXT    NOT NULL,
    fire_time        TEXT,
    idempotency_key  TEXT    NOT NULL,
    principal        TEXT    NOT NULL,
    run_context      TEXT    NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX jobs_due ON jobs (state, next_run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_expires_at);
CREATE INDEX jobs_tenant ON jobs (tenant_id, id);
CREATE INDEX jobs_dead ON jobs (tenant_id, state, finished_at, id);
