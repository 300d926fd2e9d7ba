//! Retention: executions (job attempts among them), finished jobs and daily usage rows are
//! removed once they are older than their configured age, so the store does not grow with
//! every run forever. Idempotency keys and webhook dedup records have TTLs of their own and
//! are swept where they are kept.
//!
//! A sweep removes rows in batches of [`Options::batch`], each its own write, with a pause
//! between them: on SQLite the other writes of the moment commit between two batches instead
//! of waiting for one long delete.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use skillos_store::{Retained, Store};

/// How long rows are kept; `0` keeps them forever.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Days an execution is kept after it ended (runs still pending, held or running are
    /// never removed).
    pub executions_days: u32,
    /// Days a job is kept after it ended (succeeded, dead or cancelled).
    pub jobs_days: u32,
    /// Days a flow run (with its steps) is kept after it ended (succeeded, failed or
    /// cancelled); running and waiting runs are never removed.
    pub flow_runs_days: u32,
    /// Days of daily usage kept. Budgets start a window's counter from its usage, so this
    /// must cover a month window: at least 62.
    pub usage_days: u32,
    /// How often a sweep runs.
    pub interval_seconds: u64,
    /// Rows removed per write.
    pub batch: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            executions_days: 30,
            jobs_days: 30,
            flow_runs_days: 30,
            usage_days: 400,
            interval_seconds: 3600,
            batch: 1000,
        }
    }
}

/// The fewest usage days a budget month window needs.
pub const MIN_USAGE_DAYS: u32 = 62;
/// The pause between two batches of one sweep.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("retention sweep failed: {0}")]
    Store(#[from] skillos_store::Error),
}

/// What one sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub executions: u64,
    pub jobs: u64,
    pub flow_runs: u64,
    pub usage_rows: u64,
}

/// Sweeps the store; cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    options: Options,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("retention::Service")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(store: Arc<dyn Store>, options: Options) -> Self {
        Self { store, options }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.options.interval_seconds.max(1))
    }

    /// Removes what is past its age, batch by batch.
    pub async fn sweep(&self) -> Result<Swept, Error> {
        let now = Utc::now();
        let batch = self.options.batch.max(1);
        let age = |days: u32| now - chrono::Duration::days(i64::from(days));
        let mut swept = Swept::default();
        for (rows, days, count) in [
            (
                Retained::Executions,
                self.options.executions_days,
                &mut swept.executions,
            ),
            (Retained::Jobs, self.options.jobs_days, &mut swept.jobs),
            (
                Retained::Usage,
                self.options.usage_days,
                &mut swept.usage_rows,
            ),
        ] {
            if days > 0 {
                *count = self.batches(rows, age(days), batch).await?;
            }
        }
        if self.options.flow_runs_days > 0 {
            let before = age(self.options.flow_runs_days);
            loop {
                let removed = self.store.delete_finished_flow_runs(before, batch).await?;
                swept.flow_runs += removed;
                if removed < u64::from(batch) {
                    break;
                }
                tokio::time::sleep(BETWEEN_BATCHES).await;
            }
        }
        if swept != Swept::default() {
            tracing::info!(
                executions = swept.executions,
                jobs = swept.jobs,
                flow_runs = swept.flow_runs,
                usage_rows = swept.usage_rows,
                "retention: old rows removed"
            );
        }
        Ok(swept)
    }

    /// Removes batch after batch until one comes back short; the total removed.
    async fn batches(
        &self,
        rows: Retained,
        before: chrono::DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let removed = self.store.delete_retained(rows, before, batch).await?;
            total += removed;
            if removed < u64::from(batch) {
                return Ok(total);
            }
            tokio::time::sleep(BETWEEN_BATCHES).await;
        }
    }
}
