//! Statements of schedules, expanded inside each backend's `Store` implementation (see
//! `sql.rs`).

macro_rules! impl_schedule_queries {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::ScheduleStore for $store {
            async fn insert_schedule(
                &self,
                schedule: &$crate::Schedule,
                claim: Option<&$crate::IdempotencyClaim>,
            ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
                let schedule = schedule.clone();
                let claim = claim.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let schedule = &schedule;
                        let claim = claim.as_ref();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if let Some(claim) = claim
                            && let Some(held) = claim_key(&mut tx, claim, &schedule.id).await?
                        {
                            return Ok(Some(held));
                        }
                        sqlx::query(
                            "INSERT INTO schedules (id, tenant_id, skill_id, payload, description, kind, \
                             cron_expression, time_zone, interval_ms, anchor_at, once_at, catch_up, \
                             max_attempts, state, next_fire_at, last_fire_at, last_job_id, principal, \
                             run_context, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                        )
                        .bind(&schedule.id)
                        .bind(schedule.tenant_id.as_str())
                        .bind(&schedule.skill_id)
                        .bind(sqlx::types::Json(&schedule.payload))
                        .bind(&schedule.description)
                        .bind(&schedule.kind)
                        .bind(&schedule.cron_expression)
                        .bind(&schedule.time_zone)
                        .bind(schedule.interval_ms)
                        .bind(schedule.anchor_at)
                        .bind(schedule.once_at)
                        .bind(&schedule.catch_up)
                        .bind(schedule.max_attempts)
                        .bind(schedule.state.as_str())
                        .bind(schedule.next_fire_at)
                        .bind(schedule.last_fire_at)
                        .bind(&schedule.last_job_id)
                        .bind(&schedule.principal)
                        .bind(sqlx::types::Json(&schedule.run_context))
                        .bind(schedule.created_at)
                        .bind(schedule.updated_at)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn get_schedule(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
            ) -> $crate::Result<Option<$crate::Schedule>> {
                let row: Option<$crate::schedule::ScheduleRow> =
                    sqlx::query_as("SELECT * FROM schedules WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_str())
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_schedules(
                &self,
                tenant: &$crate::TenantId,
                filter: &$crate::ScheduleFilter,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Schedule>> {
                let states = (!filter.states.is_empty()).then(|| {
                    let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
                    format!(",{},", states.join(","))
                });
                let (after_at, after_id) = filter.after.clone().unzip();
                let rows: Vec<$crate::schedule::ScheduleRow> = sqlx::query_as(
                    "SELECT * FROM schedules WHERE tenant_id = $1 \
                     AND ($2 IS NULL OR $2 LIKE '%,' || state || ',%') \
                     AND ($3 IS NULL OR skill_id = $3) \
                     AND ($4 IS NULL OR created_at > $4 OR (created_at = $4 AND id > $5)) \
                     ORDER BY created_at, id LIMIT $6",
                )
                .bind(tenant.as_str())
                .bind(states)
                .bind(&filter.skill_id)
                .bind(after_at)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn set_schedule_state(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                expect: $crate::ScheduleState,
                state: $crate::ScheduleState,
                next_fire_at: Option<chrono::DateTime<chrono::Utc>>,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let changed = sqlx::query(
                            "UPDATE schedules SET state = $4, next_fire_at = $5, updated_at = $6 \
                             WHERE tenant_id = $1 AND id = $2 AND state = $3",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .bind(expect.as_str())
                        .bind(state.as_str())
                        .bind(next_fire_at)
                        .bind($crate::now())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if changed == 0 {
                            return Ok(false);
                        }
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn delete_schedule(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let deleted = sqlx::query("DELETE FROM schedules WHERE tenant_id = $1 AND id = $2")
                            .bind(tenant.as_str())
                            .bind(id)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if deleted == 0 {
                            return Ok(false);
                        }
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn due_schedules(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Schedule>> {
                let rows: Vec<$crate::schedule::ScheduleRow> = sqlx::query_as(
                    "SELECT * FROM schedules WHERE state = 'active' AND next_fire_at <= $1 \
                     ORDER BY next_fire_at, id LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn fire_schedule(
                &self,
                id: &str,
                expected_next: chrono::DateTime<chrono::Utc>,
                next_fire_at: Option<chrono::DateTime<chrono::Utc>>,
                state: $crate::ScheduleState,
                job: Option<&$crate::Job>,
            ) -> $crate::Result<bool> {
                let id = id.to_owned();
                let job = job.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let id = id.as_str();
                        let job = job.as_ref();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let claimed = sqlx::query(
                            "UPDATE schedules SET next_fire_at = $3, state = $4, updated_at = $5, \
                             last_fire_at = COALESCE($6, last_fire_at), \
                             last_job_id = COALESCE($7, last_job_id) \
                             WHERE id = $1 AND state = 'active' AND next_fire_at = $2",
                        )
                        .bind(id)
                        .bind(expected_next)
                        .bind(next_fire_at)
                        .bind(state.as_str())
                        .bind($crate::now())
                        .bind(job.and_then(|job| job.fire_time))
                        .bind(job.map(|job| job.id.as_str()))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if claimed == 0 {
                            return Ok(false);
                        }
                        if let Some(job) = job {
                            Self::insert_job_row(&mut tx, job).await?;
                        }
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn fire_schedule_now(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                job: &$crate::Job,
                claim: Option<&$crate::IdempotencyClaim>,
            ) -> $crate::Result<$crate::ManualFire> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let job = job.clone();
                let claim = claim.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let job = &job;
                        let claim = claim.as_ref();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if let Some(claim) = claim
                            && let Some(held) = claim_key(&mut tx, claim, &job.id).await?
                        {
                            return Ok($crate::ManualFire::KeyHeld(held));
                        }
                        let touched = sqlx::query(
                            "UPDATE schedules SET last_fire_at = $3, last_job_id = $4, updated_at = $5 \
                             WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .bind(job.fire_time)
                        .bind(&job.id)
                        .bind($crate::now())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if touched == 0 {
                            return Ok($crate::ManualFire::NoSchedule);
                        }
                        Self::insert_job_row(&mut tx, job).await?;
                        tx.commit().await?;
                        Ok($crate::ManualFire::Fired)
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use impl_schedule_queries;
