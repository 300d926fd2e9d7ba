//! Statements of durable flow runs, expanded inside each backend's `Store` implementation (see
//! `sql.rs`). Claims differ by backend as the jobs' do: PostgreSQL locks the rows it takes
//! with `FOR UPDATE SKIP LOCKED`; SQLite's single writer serialises claims by itself.

macro_rules! impl_flow_queries {
    ($store:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::FlowStore for $store {
            async fn insert_flow_run(
                &self,
                run: &$crate::FlowRun,
                claim: Option<&$crate::IdempotencyClaim>,
            ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
                let run = run.clone();
                let claim = claim.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let run = &run;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if let Some(claim) = claim.as_ref()
                            && let Some(held) = claim_key(&mut tx, claim, &run.id).await?
                        {
                            return Ok(Some(held));
                        }
                        sqlx::query(
                            "INSERT INTO flow_runs (id, tenant_id, flow_id, version, document, \
                             definition_sha256, input, status, output, error, principal, \
                             run_context, lease_token, lease_expires_at, execution_id, \
                             created_at, updated_at, finished_at, retries, parent_run_id, \
                             parent_path) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                             $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                        )
                        .bind(&run.id)
                        .bind(run.tenant_id.as_str())
                        .bind(&run.flow_id)
                        .bind(&run.version)
                        .bind(sqlx::types::Json(&run.document))
                        .bind(&run.definition_sha256)
                        .bind(sqlx::types::Json(&run.input))
                        .bind(run.status.as_str())
                        .bind(run.output.as_ref().map(sqlx::types::Json))
                        .bind(run.error.as_ref().map(sqlx::types::Json))
                        .bind(&run.principal)
                        .bind(sqlx::types::Json(&run.run_context))
                        .bind(&run.lease_token)
                        .bind(run.lease_expires_at)
                        .bind(&run.execution_id)
                        .bind(run.created_at)
                        .bind(run.updated_at)
                        .bind(run.finished_at)
                        .bind(run.retries)
                        .bind(run.parent.as_ref().map(|parent| parent.run_id.as_str()))
                        .bind(run.parent.as_ref().map(|parent| parent.path.as_str()))
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn get_flow_run(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
            ) -> $crate::Result<Option<$crate::FlowRun>> {
                let row: Option<$crate::flow::FlowRunRow> =
                    sqlx::query_as("SELECT * FROM flow_runs WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_str())
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map($crate::FlowRun::try_from).transpose()
            }

            async fn list_flow_runs(
                &self,
                tenant: &$crate::TenantId,
                filter: &$crate::FlowRunFilter,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::FlowRun>> {
                let statuses = (!filter.statuses.is_empty()).then(|| {
                    let statuses: Vec<&str> =
                        filter.statuses.iter().map(|status| status.as_str()).collect();
                    format!(",{},", statuses.join(","))
                });
                let rows: Vec<$crate::flow::FlowRunRow> = sqlx::query_as(
                    "SELECT * FROM flow_runs WHERE tenant_id = $1 \
                     AND ($2 IS NULL OR $2 LIKE '%,' || status || ',%') \
                     AND ($3 IS NULL OR flow_id = $3) AND ($4 IS NULL OR id < $4) \
                     AND ($6 IS NULL OR parent_run_id = $6) \
                     ORDER BY id DESC LIMIT $5",
                )
                .bind(tenant.as_str())
                .bind(statuses)
                .bind(&filter.flow_id)
                .bind(&filter.before_id)
                .bind(i64::from(limit))
                .bind(&filter.parent_run_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::FlowRun::try_from).collect()
            }

            async fn flow_steps(&self, run_id: &str) -> $crate::Result<Vec<$crate::FlowStep>> {
                let rows: Vec<$crate::flow::FlowStepRow> = sqlx::query_as(
                    "SELECT * FROM flow_steps WHERE run_id = $1 ORDER BY started_at, path",
                )
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::FlowStep::try_from).collect()
            }

            async fn put_flow_step(
                &self,
                step: &$crate::FlowStep,
                lease_token: &str,
            ) -> $crate::Result<bool> {
                let step = step.clone();
                let lease_token = lease_token.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let step = &step;
                        // Written only while the run is this driver's: one whose lease was
                        // lost (or that was cancelled) cannot record a step.
                        let written = sqlx::query(
                            "INSERT INTO flow_steps (run_id, path, name, kind, skill_id, status, \
                             attempt, input, output, error, execution_id, approval_id, \
                             started_at, finished_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, \
                             $10, $11, $12, $13, $14 WHERE EXISTS (SELECT 1 FROM flow_runs \
                             WHERE id = $1 AND status = 'running' AND lease_token = $15) \
                             ON CONFLICT (run_id, path) DO UPDATE SET status = excluded.status, \
                             attempt = excluded.attempt, input = excluded.input, \
                             output = excluded.output, error = excluded.error, \
                             execution_id = excluded.execution_id, \
                             approval_id = excluded.approval_id, \
                             finished_at = excluded.finished_at",
                        )
                        .bind(&step.run_id)
                        .bind(&step.path)
                        .bind(&step.name)
                        .bind(&step.kind)
                        .bind(&step.skill_id)
                        .bind(step.status.as_str())
                        .bind(step.attempt)
                        .bind(step.input.as_ref().map(sqlx::types::Json))
                        .bind(step.output.as_ref().map(sqlx::types::Json))
                        .bind(step.error.as_ref().map(sqlx::types::Json))
                        .bind(&step.execution_id)
                        .bind(&step.approval_id)
                        .bind(step.started_at)
                        .bind(step.finished_at)
                        .bind(lease_token.as_str())
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(written == 1)
                    })
                })
                .await
            }

            async fn claim_flow_runs(
                &self,
                lease_token: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::FlowRun>> {
                let lease_token = lease_token.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        if limit == 0 {
                            return Ok(Vec::new());
                        }
                        let lock = match $backend {
                            $crate::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
                            $crate::Backend::Sqlite => "",
                        };
                        let statement = format!(
                            "UPDATE flow_runs SET status = 'running', lease_token = $1, \
                             lease_expires_at = $2, updated_at = $3, woken = FALSE WHERE id IN (SELECT id \
                             FROM flow_runs WHERE status IN ('running', 'waiting') \
                             AND lease_expires_at <= $3 ORDER BY lease_expires_at, id \
                             LIMIT $4 {lock}) RETURNING *"
                        );
                        let rows: Vec<$crate::flow::FlowRunRow> =
                            sqlx::query_as(sqlx::AssertSqlSafe(statement))
                                .bind(lease_token.as_str())
                                .bind(lease_until)
                                .bind(now)
                                .bind(i64::from(limit))
                                .fetch_all(&mut *conn)
                                .await?;
                        rows.into_iter().map($crate::FlowRun::try_from).collect()
                    })
                })
                .await
            }

            async fn renew_flow_lease(
                &self,
                id: &str,
                lease_token: &str,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let id = id.to_owned();
                let lease_token = lease_token.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let renewed = sqlx::query(
                            "UPDATE flow_runs SET lease_expires_at = $3 \
                             WHERE id = $1 AND status = 'running' AND lease_token = $2",
                        )
                        .bind(id.as_str())
                        .bind(lease_token.as_str())
                        .bind(until)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(renewed == 1)
                    })
                })
                .await
            }

            async fn end_flow_run(
                &self,
                id: &str,
                lease_token: &str,
                end: &$crate::FlowRunEnd,
            ) -> $crate::Result<bool> {
                let id = id.to_owned();
                let lease_token = lease_token.to_owned();
                let end = end.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let now = $crate::now();
                        let finished_at = end.status.is_terminal().then_some(now);
                        let ended = sqlx::query(
                            "UPDATE flow_runs SET status = $3, output = $4, error = $5, \
                             lease_token = NULL, lease_expires_at = CASE WHEN woken \
                             AND $3 = 'waiting' THEN $7 ELSE $6 END, woken = FALSE, \
                             updated_at = $7, finished_at = $8 \
                             WHERE id = $1 AND status = 'running' AND lease_token = $2",
                        )
                        .bind(id.as_str())
                        .bind(lease_token.as_str())
                        .bind(end.status.as_str())
                        .bind(end.output.as_ref().map(sqlx::types::Json))
                        .bind(end.error.as_ref().map(sqlx::types::Json))
                        .bind(end.wake_at)
                        .bind(now)
                        .bind(finished_at)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(ended == 1)
                    })
                })
                .await
            }

            async fn cancel_flow_run(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                error: &$crate::ExecutionError,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let error = error.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let now = $crate::now();
                        let cancelled = sqlx::query(
                            "UPDATE flow_runs SET status = 'cancelled', error = $3, \
                             lease_token = NULL, lease_expires_at = NULL, updated_at = $4, \
                             finished_at = $4 WHERE tenant_id = $1 AND id = $2 \
                             AND status IN ('running', 'waiting')",
                        )
                        .bind(tenant.as_str())
                        .bind(id.as_str())
                        .bind(sqlx::types::Json(&error))
                        .bind(now)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(cancelled == 1)
                    })
                })
                .await
            }

            async fn retry_flow_run(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                lease_token: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::FlowRun>> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let lease_token = lease_token.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let row: Option<$crate::flow::FlowRunRow> = sqlx::query_as(
                            "UPDATE flow_runs SET status = 'running', output = NULL, \
                             error = NULL, retries = retries + 1, lease_token = $3, \
                             lease_expires_at = $4, updated_at = $5, finished_at = NULL, \
                             woken = FALSE WHERE tenant_id = $1 AND id = $2 \
                             AND status IN ('failed', 'cancelled') RETURNING *",
                        )
                        .bind(tenant.as_str())
                        .bind(id.as_str())
                        .bind(lease_token.as_str())
                        .bind(lease_until)
                        .bind($crate::now())
                        .fetch_optional(&mut *tx)
                        .await?;
                        if row.is_some() {
                            sqlx::query(
                                "DELETE FROM flow_steps WHERE run_id = $1 \
                                 AND status NOT IN ('succeeded', 'skipped')",
                            )
                            .bind(id.as_str())
                            .execute(&mut *tx)
                            .await?;
                        }
                        tx.commit().await?;
                        row.map($crate::FlowRun::try_from).transpose()
                    })
                })
                .await
            }

            async fn wake_flow_run(&self, id: &str) -> $crate::Result<bool> {
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let woken = sqlx::query(
                            "UPDATE flow_runs SET woken = TRUE, lease_expires_at = CASE \
                             WHEN status = 'waiting' THEN $2 ELSE lease_expires_at END \
                             WHERE id = $1 AND status IN ('waiting', 'running')",
                        )
                        .bind(id.as_str())
                        .bind($crate::now())
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(woken == 1)
                    })
                })
                .await
            }

            async fn wake_flow_runs_of(&self, execution_id: &str) -> $crate::Result<u64> {
                let execution_id = execution_id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let woken = sqlx::query(
                            "UPDATE flow_runs SET woken = TRUE, lease_expires_at = CASE \
                             WHEN status = 'waiting' THEN $2 ELSE lease_expires_at END \
                             WHERE status IN ('waiting', 'running') \
                             AND id IN (SELECT run_id FROM flow_steps WHERE execution_id = $1)",
                        )
                        .bind(execution_id.as_str())
                        .bind($crate::now())
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                        Ok(woken)
                    })
                })
                .await
            }

            async fn insert_flow_signal(
                &self,
                signal: &$crate::FlowSignal,
                max_kept: u32,
            ) -> $crate::Result<$crate::Signalled> {
                let signal = signal.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let status: Option<(String,)> = sqlx::query_as(
                            "SELECT status FROM flow_runs WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(signal.tenant_id.as_str())
                        .bind(signal.run_id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some((status,)) = status else {
                            return Ok($crate::Signalled::NotFound);
                        };
                        if $crate::FlowRunStatus::parse(&status)
                            .is_none_or(|status| status.is_terminal())
                        {
                            return Ok($crate::Signalled::Finished);
                        }
                        let (kept,): (i64,) = sqlx::query_as(
                            "SELECT COUNT(*) FROM flow_signals \
                             WHERE run_id = $1 AND taken_by IS NULL",
                        )
                        .bind(signal.run_id.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                        if kept >= i64::from(max_kept) {
                            return Ok($crate::Signalled::Full);
                        }
                        sqlx::query(
                            "INSERT INTO flow_signals (id, tenant_id, run_id, name, payload, \
                             sender, created_at, taken_by) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                             NULL)",
                        )
                        .bind(signal.id.as_str())
                        .bind(signal.tenant_id.as_str())
                        .bind(signal.run_id.as_str())
                        .bind(signal.name.as_str())
                        .bind(sqlx::types::Json(&signal.payload))
                        .bind(signal.sender.as_str())
                        .bind(signal.created_at)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE flow_runs SET woken = TRUE, lease_expires_at = CASE \
                             WHEN status = 'waiting' THEN $2 ELSE lease_expires_at END \
                             WHERE id = $1",
                        )
                        .bind(signal.run_id.as_str())
                        .bind($crate::now())
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok($crate::Signalled::Kept)
                    })
                })
                .await
            }

            async fn take_flow_signal(
                &self,
                run_id: &str,
                name: &str,
                path: &str,
                lease_token: &str,
            ) -> $crate::Result<Option<$crate::FlowSignal>> {
                let (run_id, name, path, lease_token) = (
                    run_id.to_owned(),
                    name.to_owned(),
                    path.to_owned(),
                    lease_token.to_owned(),
                );
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let leased: Option<(String,)> = sqlx::query_as(
                            "SELECT id FROM flow_runs WHERE id = $1 AND status = 'running' \
                             AND lease_token = $2",
                        )
                        .bind(run_id.as_str())
                        .bind(lease_token.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                        if leased.is_none() {
                            return Ok(None);
                        }
                        let taken: Option<$crate::flow::FlowSignalRow> = sqlx::query_as(
                            "SELECT * FROM flow_signals WHERE run_id = $1 AND name = $2 \
                             AND taken_by = $3",
                        )
                        .bind(run_id.as_str())
                        .bind(name.as_str())
                        .bind(path.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(taken) = taken {
                            return Ok(Some(taken.into()));
                        }
                        let oldest: Option<$crate::flow::FlowSignalRow> = sqlx::query_as(
                            "SELECT * FROM flow_signals WHERE run_id = $1 AND name = $2 \
                             AND taken_by IS NULL ORDER BY id LIMIT 1",
                        )
                        .bind(run_id.as_str())
                        .bind(name.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some(oldest) = oldest else {
                            return Ok(None);
                        };
                        sqlx::query("UPDATE flow_signals SET taken_by = $2 WHERE id = $1")
                            .bind(oldest.id.as_str())
                            .bind(path.as_str())
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        let mut signal: $crate::FlowSignal = oldest.into();
                        signal.taken_by = Some(path);
                        Ok(Some(signal))
                    })
                })
                .await
            }

            async fn delete_finished_flow_runs(
                &self,
                before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<u64> {
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let ids: Vec<(String,)> = sqlx::query_as(
                            "SELECT id FROM flow_runs WHERE finished_at IS NOT NULL \
                             AND finished_at < $1 ORDER BY finished_at LIMIT $2",
                        )
                        .bind(before)
                        .bind(i64::from(limit))
                        .fetch_all(&mut *tx)
                        .await?;
                        for (id,) in &ids {
                            sqlx::query("DELETE FROM flow_steps WHERE run_id = $1")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("DELETE FROM flow_signals WHERE run_id = $1")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("DELETE FROM flow_runs WHERE id = $1")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        tx.commit().await?;
                        Ok(ids.len() as u64)
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use impl_flow_queries;
