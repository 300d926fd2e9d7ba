-- Claims take queued jobs by priority (highest first), due time and id: this index walks them
-- in that order, so a claim reads as many rows as it takes instead of sorting every due job.
CREATE INDEX jobs_claim ON jobs (state, priority DESC, next_run_at, id);
