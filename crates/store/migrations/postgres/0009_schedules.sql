-- Schedules: a skill run at cron times (in an IANA time zone), at fixed intervals, or once.
-- A fire moves next_fire_at on with a compare-and-set in the same transaction as its job, so
-- each nominal time fires at most once whatever the number of replicas.
CREATE TABLE schedules (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    skill_id        TEXT    NOT NULL,
    payload         JSONB   NOT NULL,
    description     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    cron_expression TEXT    NOT NULL,
    time_zone       TEXT    NOT NULL,
    interval_ms     BIGINT,
    anchor_at       TIMESTAMPTZ,
    once_at         TIMESTAMPTZ,
    catch_up        TEXT    NOT NULL,
    max_attempts    INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    next_fire_at    TIMESTAMPTZ,
    last_fire_at    TIMESTAMPTZ,
    last_job_id     TEXT    NOT NULL,
    principal       TEXT    NOT NULL,
    run_context     JSONB   NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_due ON schedules (state, next_fire_at);
CREATE INDEX schedules_tenant ON schedules (tenant_id, created_at, id);

-- A schedule's fire is unique: (schedule, nominal time).
CREATE UNIQUE INDEX jobs_schedule_fire ON jobs (source_id, fire_time) WHERE source = 'schedule';
