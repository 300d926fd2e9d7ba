//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::sql::{PoolOf, impl_store};

/// SQLite implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for every write: SQLite has one writer at a time, and writers queued in
    /// the pool wait their turn in order instead of sleeping in SQLite's busy handler.
    writer: SqlitePool,
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self { pool, writer })
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

impl PoolOf for SqliteStore {
    type Connection = sqlx::SqliteConnection;
}

impl_store!(SqliteStore, crate::Backend::Sqlite);
