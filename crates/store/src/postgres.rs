//! PostgreSQL, for production and several replicas.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::group_commit::BoxFuture;
use crate::sql::{PoolOf, impl_store};

/// PostgreSQL implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, creates `schema` when missing, and applies the migrations inside it.
    pub async fn open(dsn: &str, schema: &str, max_connections: u32) -> crate::Result<Self> {
        if !is_identifier(schema) {
            return Err(crate::Error::Options {
                key: "storage.postgres_schema",
                message: format!("{schema:?} must match [a-z_][a-z0-9_]{{0,62}}"),
            });
        }
        let options = PgConnectOptions::from_str(dsn).map_err(|error| crate::Error::Options {
            key: "storage.postgres_dsn",
            message: error.to_string(),
        })?;

        let mut conn = PgConnection::connect_with(&options).await?;
        // `schema` was checked against the identifier pattern above, so quoting it is safe.
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await?;
        conn.close().await?;

        let options = options.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// PostgreSQL has row locks: writes share the pool with reads, each on a connection of
    /// its own (the same signature as SQLite's group commit, so the SQL is written once).
    async fn write<T, F>(&self, write: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, crate::Result<T>> + Send + 'static,
    {
        let mut conn = self.pool.acquire().await?;
        write(&mut conn).await
    }

    async fn close_writer(&self) {}

    /// Writes share the pool that `SELECT 1` just reached.
    async fn check_writes(&self) -> crate::Result<()> {
        Ok(())
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_lowercase())
        && chars.all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
}

impl PoolOf for PgStore {
    type Connection = PgConnection;
}

impl_store!(PgStore, crate::Backend::Postgres);
