-- How often a run was retried from its failed step: part of each step's idempotency key, so
-- a step run again after a retry is a new run of its skill, not the failed one replayed.
ALTER TABLE flow_runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
