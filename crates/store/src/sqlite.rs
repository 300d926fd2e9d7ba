//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::group_commit::{BoxFuture, WriteStats, Writer};
use crate::sql::{PoolOf, impl_store};

/// How long the store counts as unable to write after a write found it so.
const FAILING_FOR: Duration = Duration::from_secs(3);

/// SQLite implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Every write: one connection, whose task commits the writes queued together in one
    /// transaction (`group_commit.rs`).
    writer: Writer,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and applies the migrations.
    pub async fn open(path: &Path) -> crate::Result<Self> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| crate::Error::Options {
                key: "storage.data_dir",
                message: format!("cannot create {}: {error}", parent.display()),
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = Writer::start(options).await?;
        Ok(Self { pool, writer })
    }

    /// Runs `write` on the writer's connection, in the next group commit.
    async fn write<T, F>(&self, write: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, crate::Result<T>>
            + Send
            + 'static,
    {
        self.writer.write(write).await
    }

    /// How many writes were committed in how many transactions since the store opened.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// Whether the database can write: unhealthy for [`FAILING_FOR`] after a write found it
    /// unable to (a full disk may still take some writes and not others), and after that
    /// until a probe write succeeds.
    async fn check_writes(&self) -> crate::Result<()> {
        let Some(ago) = self.writer.failed_ago() else {
            return Ok(());
        };
        let probe = self
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO health_probe (id, checked_at) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                    )
                    .bind(crate::now())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await;
        probe?;
        if ago < FAILING_FOR {
            return Err(crate::Error::Database(std::sync::Arc::new(
                sqlx::Error::Io(std::io::Error::other(format!(
                    "a write failed {} ms ago",
                    ago.as_millis()
                ))),
            )));
        }
        self.writer.recovered();
        Ok(())
    }

    async fn close_writer(&self) {
        if !self.writer.is_closed() {
            self.writer.close().await;
        }
    }
}

/// A run's end and its usage in one call to SQLite's thread (four statements, one hand-off
/// instead of four): a savepoint keeps the pair atomic inside the group commit's transaction.
/// The update's statement is the one of `update_execution_in`.
const FINISH_WITH_USAGE: &str = "SAVEPOINT finish_with_usage; \
     INSERT INTO usage_daily (tenant_id, day, skill_id, principal, executions, cost, \
     input_tokens, output_tokens) VALUES ($1, $12, $13, $14, 1, $15, $16, $17) \
     ON CONFLICT (tenant_id, day, skill_id, principal) DO UPDATE SET \
     executions = usage_daily.executions + 1, cost = usage_daily.cost + excluded.cost, \
     input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
     output_tokens = usage_daily.output_tokens + excluded.output_tokens; \
     UPDATE executions SET status = COALESCE($3, status), \
     output = COALESCE($4, output), error = COALESCE($5, error), \
     runner_id = COALESCE($6, runner_id), attempts = COALESCE($7, attempts), \
     cost = COALESCE($8, cost), started_at = COALESCE($9, started_at), \
     finished_at = COALESCE($10, finished_at) \
     WHERE tenant_id = $1 AND id = $2 AND ($11 IS NULL OR status = $11) RETURNING 1; \
     RELEASE finish_with_usage";

/// After a failure part-way through [`FINISH_WITH_USAGE`]: nothing of it stays.
const FINISH_WITH_USAGE_UNDO: Option<&str> =
    Some("ROLLBACK TO finish_with_usage; RELEASE finish_with_usage");

impl PoolOf for SqliteStore {
    type Connection = sqlx::SqliteConnection;
}

impl_store!(SqliteStore, crate::Backend::Sqlite);
