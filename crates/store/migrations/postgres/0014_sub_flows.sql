-- A run started by a `flow` step of another run: the run and the step's path it answers to.
-- The parent is woken when the child ends, and cancelling the parent cancels its children.
ALTER TABLE flow_runs ADD COLUMN parent_run_id TEXT;
ALTER TABLE flow_runs ADD COLUMN parent_path TEXT;
CREATE INDEX flow_runs_parent ON flow_runs (parent_run_id);
