//! The job queue's statements, expanded inside each backend's `Store` implementation (see
//! `sql.rs`). Claims differ by backend: PostgreSQL locks the rows it takes with
//! `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take different jobs; SQLite has one
//! writer at a time, which serialises claims by itself.

/// What a claim sets on the jobs it takes.
pub(crate) const CLAIM_SET: &str = "state = 'running', attempt = attempt + 1, \
    lease_token = $1, lease_expires_at = $2, next_run_at = NULL, updated_at = $3";

macro_rules! impl_job_queries {
    ($store:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::JobStore for $store {
        async fn insert_job(
            &self,
            job: &$crate::Job,
            claim: Option<&$crate::IdempotencyClaim>,
        ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
            let job = job.clone();
            let claim = claim.cloned();
            self.write(move |conn| {
                Box::pin(async move {
                    let job = &job;
                    let Some(claim) = claim.as_ref() else {
                        // One statement: atomic without a savepoint of its own.
                        Self::insert_job_row(&mut *conn, job).await?;
                        return Ok(None);
                    };
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    if let Some(held) = claim_key(&mut tx, claim, &job.id).await? {
                        return Ok(Some(held));
                    }
                    Self::insert_job_row(&mut tx, job).await?;
                    tx.commit().await?;
                    Ok(None)
                })
            })
            .await
        }

        async fn get_job(
            &self,
            tenant: &$crate::TenantId,
            id: &str,
        ) -> $crate::Result<Option<$crate::Job>> {
            let row: Option<$crate::job::JobRow> =
                sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
            row.map($crate::Job::try_from).transpose()
        }

        async fn list_jobs(
            &self,
            tenant: &$crate::TenantId,
            filter: &$crate::JobFilter,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::Job>> {
            // The states as one comma-separated parameter: the same statement on both backends.
            let states = (!filter.states.is_empty()).then(|| {
                let states: Vec<&str> = filter.states.iter().map(|state| state.as_str()).collect();
                format!(",{},", states.join(","))
            });
            let rows: Vec<$crate::job::JobRow> = sqlx::query_as(
                "SELECT * FROM jobs WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR $2 LIKE '%,' || state || ',%') \
                 AND ($3 IS NULL OR skill_id = $3) AND ($4 IS NULL OR source = $4) \
                 AND ($5 IS NULL OR source_id = $5) AND ($6 IS NULL OR id < $6) \
                 ORDER BY id DESC LIMIT $7",
            )
            .bind(tenant.as_str())
            .bind(states)
            .bind(&filter.skill_id)
            .bind(filter.source.map(|source| source.as_str()))
            .bind(&filter.source_id)
            .bind(&filter.before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map($crate::Job::try_from).collect()
        }

        async fn list_dead_jobs(
            &self,
            tenant: &$crate::TenantId,
            skill_id: Option<&str>,
            before: Option<(chrono::DateTime<chrono::Utc>, String)>,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::Job>> {
            let (before_at, before_id) = before.unzip();
            let rows: Vec<$crate::job::JobRow> = sqlx::query_as(
                "SELECT * FROM jobs WHERE tenant_id = $1 AND state = 'dead' \
                 AND ($2 IS NULL OR skill_id = $2) \
                 AND ($3 IS NULL OR finished_at < $3 OR (finished_at = $3 AND id < $4)) \
                 ORDER BY finished_at DESC, id DESC LIMIT $5",
            )
            .bind(tenant.as_str())
            .bind(skill_id)
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map($crate::Job::try_from).collect()
        }

        async fn claim_jobs(
            &self,
            hosted: &[String],
            lease_token: &str,
            now: chrono::DateTime<chrono::Utc>,
            lease_until: chrono::DateTime<chrono::Utc>,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::Job>> {
            let hosted = hosted.to_vec();
            let lease_token = lease_token.to_owned();
            self.write(move |conn| {
                Box::pin(async move {
                    let hosted = hosted.as_slice();
                    let lease_token = lease_token.as_str();
                    if hosted.is_empty() || limit == 0 {
                        return Ok(Vec::new());
                    }
                    let statement = match $backend {
                        $crate::Backend::Postgres => format!(
                            "UPDATE jobs SET {set} WHERE id IN (SELECT id FROM jobs WHERE \
                             ((state = 'queued' AND next_run_at <= $3) \
                             OR (state = 'running' AND lease_expires_at <= $3)) AND {hosted} \
                             ORDER BY priority DESC, next_run_at, id LIMIT $5 \
                             FOR UPDATE SKIP LOCKED) RETURNING *",
                            set = $crate::job_sql::CLAIM_SET,
                            hosted = "(tenant_id || '/' || skill_id) IN \
                                      (SELECT jsonb_array_elements_text($4))",
                        ),
                        // One writer at a time: no locks to take. The queued jobs are walked in
                        // claim order on `jobs_claim` up to the limit (without INDEXED BY the
                        // planner sorted every due job on each claim); expired leases are few.
                        $crate::Backend::Sqlite => format!(
                            "UPDATE jobs SET {set} WHERE id IN (SELECT id FROM ( \
                             SELECT * FROM (SELECT id, priority, next_run_at AS due \
                             FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' \
                             AND next_run_at <= $3 AND {hosted} \
                             ORDER BY priority DESC, next_run_at, id LIMIT $5) \
                             UNION ALL \
                             SELECT * FROM (SELECT id, priority, lease_expires_at AS due FROM jobs \
                             WHERE state = 'running' AND lease_expires_at <= $3 AND {hosted} \
                             ORDER BY priority DESC, lease_expires_at, id LIMIT $5)) \
                             ORDER BY priority DESC, due, id LIMIT $5) RETURNING *",
                            set = $crate::job_sql::CLAIM_SET,
                            hosted = "(tenant_id || '/' || skill_id) IN (SELECT value FROM json_each($4))",
                        ),
                    };
                    let rows: Vec<$crate::job::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
                        .bind(lease_token)
                        .bind(lease_until)
                        .bind(now)
                        .bind(sqlx::types::Json(hosted))
                        .bind(i64::from(limit))
                        .fetch_all(&mut *conn)
                        .await?;
                    let mut jobs = rows
                        .into_iter()
                        .map($crate::Job::try_from)
                        .collect::<$crate::Result<Vec<_>>>()?;
                    jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
                    Ok(jobs)
                })
            })
            .await
        }

        async fn renew_job_lease(
            &self,
            id: &str,
            lease_token: &str,
            until: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<bool> {
            let id = id.to_owned();
            let lease_token = lease_token.to_owned();
            self.write(move |conn| {
                Box::pin(async move {
                    let id = id.as_str();
                    let lease_token = lease_token.as_str();
                    let renewed = sqlx::query(
                        "UPDATE jobs SET lease_expires_at = $3 \
                         WHERE id = $1 AND state = 'running' AND lease_token = $2",
                    )
                    .bind(id)
                    .bind(lease_token)
                    .bind(until)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    Ok(renewed == 1)
                })
            })
            .await
        }

        async fn transition_job(
            &self,
            tenant: &$crate::TenantId,
            id: &str,
            fence: &$crate::JobFence,
            transition: &$crate::JobTransition,
            audit: Option<&$crate::AuditEvent>,
        ) -> $crate::Result<bool> {
            let tenant = tenant.clone();
            let id = id.to_owned();
            let fence = fence.clone();
            let transition = transition.clone();
            let audit = audit.cloned();
            self.write(move |conn| {
                Box::pin(async move {
                    let tenant = &tenant;
                    let id = id.as_str();
                    let audit = audit.as_ref();
                    // With an audit event, the change and its event go together; alone, the
                    // change is one statement and needs no savepoint.
                    let Some(audit) = audit else {
                        return Self::transition_job_in(conn, tenant, id, &fence, &transition).await;
                    };
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    let changed =
                        Self::transition_job_in(&mut tx, tenant, id, &fence, &transition).await?;
                    if changed {
                        insert_audit(&mut tx, audit).await?;
                    }
                    tx.commit().await?;
                    Ok(changed)
                })
            })
            .await
        }

        async fn attempt_ids(
            &self,
            tenant: &$crate::TenantId,
            job_ids: &[String],
        ) -> $crate::Result<Vec<(String, String)>> {
            if job_ids.is_empty() {
                return Ok(Vec::new());
            }
            let ids = match $backend {
                $crate::Backend::Postgres => "SELECT jsonb_array_elements_text($2)",
                $crate::Backend::Sqlite => "SELECT value FROM json_each($2)",
            };
            let statement = format!(
                "SELECT job_id, id FROM executions WHERE tenant_id = $1 AND job_id IN ({ids}) \
                 ORDER BY id"
            );
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(statement))
                .bind(tenant.as_str())
                .bind(sqlx::types::Json(job_ids))
                .fetch_all(&self.pool)
                .await?)
        }

        async fn jobs_in_state(
            &self,
            state: $crate::JobState,
            after_id: Option<&str>,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::Job>> {
            let rows: Vec<$crate::job::JobRow> = sqlx::query_as(
                "SELECT * FROM jobs WHERE state = $1 AND ($2 IS NULL OR id > $2) \
                 ORDER BY id LIMIT $3",
            )
            .bind(state.as_str())
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map($crate::Job::try_from).collect()
        }
        }

        impl $store {
        /// A job's change, fenced by its lease or its state, in the caller's transaction;
        /// true when it applied.
        async fn transition_job_in(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            tenant: &$crate::TenantId,
            id: &str,
            fence: &$crate::JobFence,
            transition: &$crate::JobTransition,
        ) -> $crate::Result<bool> {
            let now = $crate::now();
            let (fence_token, fence_state) = match fence {
                $crate::JobFence::Lease(token) => (Some(token.as_str()), None),
                $crate::JobFence::State(state) => (None, Some(state.as_str())),
            };
            let attempt = match transition.attempt {
                $crate::AttemptChange::Keep => "keep",
                $crate::AttemptChange::Refund => "refund",
                $crate::AttemptChange::Reset => "reset",
            };
            let finished_at = transition.state.is_terminal().then_some(now);
            let changed = sqlx::query(
                "UPDATE jobs SET state = $3, next_run_at = $4, \
                 attempt = CASE $5 WHEN 'refund' THEN attempt - 1 WHEN 'reset' THEN 0 \
                 ELSE attempt END, \
                 max_attempts = COALESCE($6, max_attempts), \
                 execution_id = COALESCE($7, execution_id), \
                 last_error = COALESCE($8, last_error), result = COALESCE($9, result), \
                 lease_token = CASE WHEN $3 = 'running' THEN lease_token END, \
                 lease_expires_at = CASE WHEN $3 = 'running' THEN lease_expires_at END, \
                 updated_at = $10, finished_at = $11 \
                 WHERE tenant_id = $1 AND id = $2 \
                 AND ($12 IS NULL OR (state = 'running' AND lease_token = $12)) \
                 AND ($13 IS NULL OR state = $13)",
            )
            .bind(tenant.as_str())
            .bind(id)
            .bind(transition.state.as_str())
            .bind(transition.next_run_at)
            .bind(attempt)
            .bind(transition.max_attempts)
            .bind(&transition.execution_id)
            .bind(transition.last_error.as_ref().map(sqlx::types::Json))
            .bind(transition.result.as_ref().map(sqlx::types::Json))
            .bind(now)
            .bind(finished_at)
            .bind(fence_token)
            .bind(fence_state)
            .execute(conn)
            .await?
            .rows_affected()
                == 1;
            Ok(changed)
        }

        /// Inserts a job in the caller's transaction.
        async fn insert_job_row(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            job: &$crate::Job,
        ) -> $crate::Result<()> {
            sqlx::query(
                "INSERT INTO jobs (id, tenant_id, skill_id, payload, state, attempt, max_attempts, \
                 timeout_ms, priority, next_run_at, lease_token, lease_expires_at, execution_id, \
                 last_error, result, source, source_id, fire_time, idempotency_key, principal, \
                 run_context, created_at, updated_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, \
                 $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
                 $24)",
            )
            .bind(&job.id)
            .bind(job.tenant_id.as_str())
            .bind(&job.skill_id)
            .bind(sqlx::types::Json(&job.payload))
            .bind(job.state.as_str())
            .bind(job.attempt)
            .bind(job.max_attempts)
            .bind(job.timeout_ms)
            .bind(job.priority)
            .bind(job.next_run_at)
            .bind(&job.lease_token)
            .bind(job.lease_expires_at)
            .bind(&job.execution_id)
            .bind(job.last_error.as_ref().map(sqlx::types::Json))
            .bind(job.result.as_ref().map(sqlx::types::Json))
            .bind(job.source.as_str())
            .bind(&job.source_id)
            .bind(job.fire_time)
            .bind(&job.idempotency_key)
            .bind(&job.principal)
            .bind(sqlx::types::Json(&job.run_context))
            .bind(job.created_at)
            .bind(job.updated_at)
            .bind(job.finished_at)
            .execute(conn)
            .await?;
            Ok(())
        }
        }
    };
}

pub(crate) use impl_job_queries;
