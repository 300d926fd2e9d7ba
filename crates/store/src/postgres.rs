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

/// A run's end and its usage in one statement, one round trip instead of four (BEGIN, two
/// statements, COMMIT): the usage is a data-modifying CTE of the update, which PostgreSQL runs
/// to completion whether or not the update reads it. The update is the one of
/// `update_execution_in`.
const FINISH_WITH_USAGE: &str = "WITH used AS ( \
     INSERT INTO usage_daily (tenant_id, day, skill_id, principal, executions, cost, \
     input_tokens, output_tokens) VALUES ($1, $12, $13, $14, 1, $15, $16, $17) \
     ON CONFLICT (tenant_id, day, skill_id, principal) DO UPDATE SET \
     executions = usage_daily.executions + 1, cost = usage_daily.cost + excluded.cost, \
     input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
     output_tokens = usage_daily.output_tokens + excluded.output_tokens) \
     UPDATE executions SET status = COALESCE($3, status), \
     output = COALESCE($4, output), error = COALESCE($5, error), \
     runner_id = COALESCE($6, runner_id), attempts = COALESCE($7, attempts), \
     cost = COALESCE($8, cost), started_at = COALESCE($9, started_at), \
     finished_at = COALESCE($10, finished_at) \
     WHERE tenant_id = $1 AND id = $2 AND ($11::text IS NULL OR status = $11) RETURNING 1";

/// One statement: a failure leaves nothing to undo.
const FINISH_WITH_USAGE_UNDO: Option<&str> = None;

impl PoolOf for PgStore {
    type Connection = PgConnection;
}

impl_store!(PgStore, crate::Backend::Postgres);
