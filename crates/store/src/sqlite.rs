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

impl PoolOf for SqliteStore {
    type Connection = sqlx::SqliteConnection;
}

impl_store!(SqliteStore, crate::Backend::Sqlite);
