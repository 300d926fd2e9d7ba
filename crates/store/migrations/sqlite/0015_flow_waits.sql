-- What a waiting flow run waits for. A step's execution is found by id when its approval is
-- decided or its run ends, to wake the run that waits for it; signals sent to a run are kept
-- until a `wait` step of the run takes them (each is taken once, by the step path that took it).
-- A wake that comes while the run is being driven is kept in `woken`: the driver that then
-- leaves the run waiting makes it due at once instead of at its look-again time.
ALTER TABLE flow_runs ADD COLUMN woken INTEGER NOT NULL DEFAULT 0;
CREATE INDEX flow_steps_execution ON flow_steps (execution_id);

CREATE TABLE flow_signals (
    id          TEXT NOT NULL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    taken_by    TEXT
);
CREATE INDEX flow_signals_run ON flow_signals (run_id, name, taken_by);
