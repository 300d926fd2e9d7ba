//! The SQL both backends share. The statements are portable between SQLite and PostgreSQL
//! (numbered `$N` parameters, `ON CONFLICT`, JSON through `sqlx::types::Json`); only the
//! migrations and connection setup differ, so the `Store` implementation is written once here
//! and instantiated for each pool type.

macro_rules! impl_store {
    ($store:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                self.check_writes().await
            }

            async fn close(&self) {
                self.close_writer().await;
                self.pool.close().await;
            }

            async fn skill_state(
                &self,
                tenant: &$crate::TenantId,
                skill_id: &str,
            ) -> $crate::Result<Option<$crate::SkillState>> {
                let state = sqlx::query_as(
                    "SELECT skill_id, deprecated, reason, replacement_id, updated_by, updated_at \
                     FROM skill_states WHERE tenant_id = $1 AND skill_id = $2",
                )
                .bind(tenant.as_str())
                .bind(skill_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(state)
            }

            async fn skill_states(
                &self,
                tenant: &$crate::TenantId,
            ) -> $crate::Result<Vec<$crate::SkillState>> {
                let states = sqlx::query_as(
                    "SELECT skill_id, deprecated, reason, replacement_id, updated_by, updated_at \
                     FROM skill_states WHERE tenant_id = $1 ORDER BY skill_id",
                )
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await?;
                Ok(states)
            }

            async fn put_skill_state(
                &self,
                tenant: &$crate::TenantId,
                state: &$crate::SkillState,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                let tenant = tenant.clone();
                let state = state.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let state = &state;
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        sqlx::query(
                            "INSERT INTO skill_states \
                             (tenant_id, skill_id, deprecated, reason, replacement_id, updated_by, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (tenant_id, skill_id) DO UPDATE SET \
                             deprecated = excluded.deprecated, reason = excluded.reason, \
                             replacement_id = excluded.replacement_id, updated_by = excluded.updated_by, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(tenant.as_str())
                        .bind(&state.skill_id)
                        .bind(state.deprecated)
                        .bind(&state.reason)
                        .bind(&state.replacement_id)
                        .bind(&state.updated_by)
                        .bind(state.updated_at)
                        .execute(&mut *tx)
                        .await?;
                        insert_audit(&mut *tx, audit).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn clear_skill_state(
                &self,
                tenant: &$crate::TenantId,
                skill_id: &str,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                let tenant = tenant.clone();
                let skill_id = skill_id.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let skill_id = skill_id.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        sqlx::query("DELETE FROM skill_states WHERE tenant_id = $1 AND skill_id = $2")
                            .bind(tenant.as_str())
                            .bind(skill_id)
                            .execute(&mut *tx)
                            .await?;
                        insert_audit(&mut *tx, audit).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn activations(
                &self,
                tenant: &$crate::TenantId,
            ) -> $crate::Result<Vec<$crate::Activation>> {
                let activations = sqlx::query_as(
                    "SELECT skill_id, active, updated_by, updated_at \
                     FROM composition_activations WHERE tenant_id = $1 ORDER BY skill_id",
                )
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await?;
                Ok(activations)
            }

            async fn put_activation(
                &self,
                tenant: &$crate::TenantId,
                activation: &$crate::Activation,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                let tenant = tenant.clone();
                let activation = activation.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        sqlx::query(
                            "INSERT INTO composition_activations \
                             (tenant_id, skill_id, active, updated_by, updated_at) \
                             VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (tenant_id, skill_id) DO UPDATE SET \
                             active = excluded.active, updated_by = excluded.updated_by, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(tenant.as_str())
                        .bind(&activation.skill_id)
                        .bind(activation.active)
                        .bind(&activation.updated_by)
                        .bind(activation.updated_at)
                        .execute(&mut *tx)
                        .await?;
                        insert_audit(&mut *tx, &audit).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn insert_execution(&self, execution: &$crate::Execution) -> $crate::Result<()> {
                let execution = execution.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let execution = &execution;
                        insert_execution_row(conn, execution).await
                    })
                })
                .await
            }

            async fn update_execution(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                update: &$crate::ExecutionUpdate,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let update = update.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let update = &update;
                        update_execution_in(conn, tenant, id, update).await
                    })
                })
                .await
            }

            async fn get_execution(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
            ) -> $crate::Result<Option<$crate::Execution>> {
                let row: Option<$crate::model::ExecutionRow> = sqlx::query_as(
                    "SELECT * FROM executions WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::Execution::try_from).transpose()
            }

            async fn list_executions(
                &self,
                tenant: &$crate::TenantId,
                filter: &$crate::ExecutionFilter,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Execution>> {
                // One placeholder per status; only numbered placeholders are formatted in.
                let statuses: Vec<String> = (0..filter.statuses.len())
                    .map(|i| format!("${}", i + 8))
                    .collect();
                let status_clause = if statuses.is_empty() {
                    String::new()
                } else {
                    format!(" AND status IN ({})", statuses.join(", "))
                };
                let sql = format!(
                    "SELECT * FROM executions WHERE tenant_id = $1 \
                     AND ($2 IS NULL OR skill_id = $2) AND ($3 IS NULL OR created_at >= $3) \
                     AND ($4 IS NULL OR id < $4) AND ($6 IS NULL OR job_id = $6) \
                     AND ($7 IS NULL OR created_at < $7){status_clause} \
                     ORDER BY id DESC LIMIT $5"
                );
                let mut query = sqlx::query_as::<_, $crate::model::ExecutionRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.as_str())
                    .bind(&filter.skill_id)
                    .bind(filter.created_after)
                    .bind(&filter.before_id)
                    .bind(i64::from(limit))
                    .bind(&filter.job_id)
                    .bind(filter.created_before);
                for status in &filter.statuses {
                    query = query.bind(status.as_str());
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::Execution::try_from).collect()
            }

            async fn append_audit(&self, event: &$crate::AuditEvent) -> $crate::Result<()> {
                let event = event.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let event = &event;
                        insert_audit(&mut *conn, event).await
                    })
                })
                .await
            }

            async fn skill_vectors(
                &self,
                model: &str,
                text_hashes: &[String],
            ) -> $crate::Result<Vec<$crate::SkillVector>> {
                let mut found = Vec::with_capacity(text_hashes.len());
                // Chunks keep the parameter count under SQLite's limit.
                for chunk in text_hashes.chunks(500) {
                    let placeholders: Vec<String> =
                        (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                    // Only numbered placeholders are formatted in; the values are bound.
                    let sql = format!(
                        "SELECT text_hash, vector FROM skill_vectors \
                         WHERE model = $1 AND text_hash IN ({})",
                        placeholders.join(", ")
                    );
                    let mut query = sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql)).bind(model);
                    for hash in chunk {
                        query = query.bind(hash);
                    }
                    for (text_hash, bytes) in query.fetch_all(&self.pool).await? {
                        found.push($crate::SkillVector {
                            text_hash,
                            vector: $crate::model::vector_from_bytes(&bytes),
                        });
                    }
                }
                Ok(found)
            }

            async fn put_skill_vectors(
                &self,
                model: &str,
                vectors: &[$crate::SkillVector],
            ) -> $crate::Result<()> {
                let model = model.to_owned();
                let vectors = vectors.to_vec();
                self.write(move |conn| {
                    Box::pin(async move {
                        let model = model.as_str();
                        let vectors = vectors.as_slice();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let now = $crate::model::now();
                        for vector in vectors {
                            sqlx::query(
                                "INSERT INTO skill_vectors (model, text_hash, dimension, vector, created_at) \
                                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, text_hash) DO NOTHING",
                            )
                            .bind(model)
                            .bind(&vector.text_hash)
                            .bind(vector.vector.len() as i64)
                            .bind($crate::model::vector_to_bytes(&vector.vector))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn insert_feedback(
                &self,
                feedback: &$crate::RoutingFeedback,
            ) -> $crate::Result<()> {
                let feedback = feedback.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let feedback = &feedback;
                        sqlx::query(
                            "INSERT INTO routing_feedback (id, tenant_id, query, query_key, \
                             routed_skill_id, expected_skill_id, source, comment, execution_id, \
                             principal, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        )
                        .bind(&feedback.id)
                        .bind(feedback.tenant_id.as_str())
                        .bind(&feedback.query)
                        .bind(&feedback.query_key)
                        .bind(&feedback.routed_skill_id)
                        .bind(&feedback.expected_skill_id)
                        .bind(&feedback.source)
                        .bind(&feedback.comment)
                        .bind(&feedback.execution_id)
                        .bind(&feedback.principal)
                        .bind(feedback.created_at)
                        .execute(&mut *conn)
                        .await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn all_feedback(&self) -> $crate::Result<Vec<$crate::RoutingFeedback>> {
                let rows = sqlx::query_as("SELECT * FROM routing_feedback ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows)
            }

            async fn insert_api_key(
                &self,
                key: &$crate::ApiKey,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                let key = key.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let key = &key;
                        let audit = &audit;
                        let roles = serde_json::to_string(&key.roles)
                            .map_err(|error| $crate::Error::Corrupt(error.to_string()))?;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        sqlx::query(
                            "INSERT INTO api_keys (id, tenant_id, name, secret_sha256, roles, created_by, \
                             created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(&key.id)
                        .bind(key.tenant_id.as_str())
                        .bind(&key.name)
                        .bind(&key.secret_sha256)
                        .bind(roles)
                        .bind(&key.created_by)
                        .bind(key.created_at)
                        .bind(key.expires_at)
                        .bind(key.revoked_at)
                        .execute(&mut *tx)
                        .await?;
                        insert_audit(&mut *tx, audit).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn api_key(&self, id: &str) -> $crate::Result<Option<$crate::ApiKey>> {
                let row: Option<$crate::model::ApiKeyRow> =
                    sqlx::query_as("SELECT * FROM api_keys WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_api_keys(
                &self,
                tenant: Option<&$crate::TenantId>,
            ) -> $crate::Result<Vec<$crate::ApiKey>> {
                let rows: Vec<$crate::model::ApiKeyRow> = sqlx::query_as(
                    "SELECT * FROM api_keys WHERE ($1 IS NULL OR tenant_id = $1) \
                     ORDER BY created_at DESC, id DESC",
                )
                .bind(tenant.map($crate::TenantId::as_str))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn revoke_api_key(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<bool> {
                let id = id.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let id = id.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let done = sqlx::query(
                            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                        )
                        .bind(id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                            == 1;
                        if done {
                            insert_audit(&mut *tx, audit).await?;
                        }
                        tx.commit().await?;
                        Ok(done)
                    })
                })
                .await
            }

            async fn circuit(
                &self,
                tenant: &$crate::TenantId,
                skill_id: &str,
            ) -> $crate::Result<Option<$crate::Circuit>> {
                let row: Option<$crate::model::CircuitRow> = sqlx::query_as(
                    "SELECT * FROM circuit_breakers WHERE tenant_id = $1 AND skill_id = $2",
                )
                .bind(tenant.as_str())
                .bind(skill_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn put_circuit(
                &self,
                circuit: &$crate::Circuit,
                expected_version: Option<i64>,
            ) -> $crate::Result<bool> {
                let circuit = circuit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let circuit = &circuit;
                        let statement = if expected_version.is_some() {
                            "UPDATE circuit_breakers SET state = $3, failures = $4, opened_at = $5, \
                             probe_expires_at = $6, version = $7, updated_at = $8 \
                             WHERE tenant_id = $1 AND skill_id = $2 AND version = $9"
                        } else {
                            "INSERT INTO circuit_breakers (tenant_id, skill_id, state, failures, opened_at, \
                             probe_expires_at, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                             ON CONFLICT (tenant_id, skill_id) DO NOTHING"
                        };
                        let mut query = sqlx::query(statement)
                            .bind(circuit.tenant_id.as_str())
                            .bind(&circuit.skill_id)
                            .bind(circuit.state.as_str())
                            .bind(circuit.failures)
                            .bind(circuit.opened_at)
                            .bind(circuit.probe_expires_at)
                            .bind(circuit.version)
                            .bind(circuit.updated_at);
                        if let Some(expected) = expected_version {
                            query = query.bind(expected);
                        }
                        Ok(query.execute(&mut *conn).await?.rows_affected() == 1)
                    })
                })
                .await
            }

            async fn budget_limits(
                &self,
                tenant: &$crate::TenantId,
            ) -> $crate::Result<Vec<$crate::BudgetLimit>> {
                let rows: Vec<$crate::model::BudgetLimitRow> = sqlx::query_as(
                    "SELECT scope, scope_key, period, amount, updated_by, updated_at \
                     FROM budget_limits WHERE tenant_id = $1 ORDER BY scope, scope_key, period",
                )
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn put_budget_limit(
                &self,
                tenant: &$crate::TenantId,
                key: &$crate::BudgetKey,
                amount: Option<f64>,
                actor: &str,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                let tenant = tenant.clone();
                let key = key.clone();
                let actor = actor.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let key = &key;
                        let actor = actor.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        match amount {
                            Some(amount) => {
                                sqlx::query(
                                    "INSERT INTO budget_limits (tenant_id, scope, scope_key, period, amount, \
                                     updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                     ON CONFLICT (tenant_id, scope, scope_key, period) DO UPDATE SET \
                                     amount = excluded.amount, updated_by = excluded.updated_by, \
                                     updated_at = excluded.updated_at",
                                )
                                .bind(tenant.as_str())
                                .bind(&key.scope)
                                .bind(&key.scope_key)
                                .bind(&key.period)
                                .bind(amount)
                                .bind(actor)
                                .bind(audit.occurred_at)
                                .execute(&mut *tx)
                                .await?;
                            }
                            None => {
                                sqlx::query(
                                    "DELETE FROM budget_limits WHERE tenant_id = $1 AND scope = $2 \
                                     AND scope_key = $3 AND period = $4",
                                )
                                .bind(tenant.as_str())
                                .bind(&key.scope)
                                .bind(&key.scope_key)
                                .bind(&key.period)
                                .execute(&mut *tx)
                                .await?;
                            }
                        }
                        insert_audit(&mut *tx, audit).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn budget_counters(
                &self,
                tenant: &$crate::TenantId,
                keys: &[$crate::CounterKey],
            ) -> $crate::Result<Vec<$crate::Counter>> {
                let mut counters = Vec::with_capacity(keys.len());
                for key in keys {
                    let row: Option<(f64, f64)> = sqlx::query_as(
                        "SELECT spent, reserved FROM budget_counters WHERE tenant_id = $1 \
                         AND scope = $2 AND scope_key = $3 AND period = $4 AND window_key = $5",
                    )
                    .bind(tenant.as_str())
                    .bind(&key.budget.scope)
                    .bind(&key.budget.scope_key)
                    .bind(&key.budget.period)
                    .bind(&key.window)
                    .fetch_optional(&self.pool)
                    .await?;
                    // A window without a counter yet: what was settled in it so far.
                    let (spent, reserved) = match row {
                        Some(row) => row,
                        None => {
                            let (spent,): (Option<f64>,) = sqlx::query_as(
                                "SELECT SUM(cost) FROM usage_daily WHERE tenant_id = $1 \
                                 AND day >= $4 AND day < $5 AND ($2 = 'tenant' \
                                 OR ($2 = 'principal' AND principal = $3) \
                                 OR ($2 = 'skill' AND skill_id = $3))",
                            )
                            .bind(tenant.as_str())
                            .bind(&key.budget.scope)
                            .bind(&key.budget.scope_key)
                            .bind(&key.from_day)
                            .bind(&key.to_day)
                            .fetch_one(&self.pool)
                            .await?;
                            (spent.unwrap_or(0.0), 0.0)
                        }
                    };
                    counters.push($crate::Counter { spent, reserved });
                }
                Ok(counters)
            }

            async fn reserve_budget(
                &self,
                reservation: &$crate::Reservation,
                checks: &[$crate::ReserveCheck],
            ) -> $crate::Result<Option<usize>> {
                let reservation = reservation.clone();
                let checks = checks.to_vec();
                self.write(move |conn| {
                    Box::pin(async move {
                        let reservation = &reservation;
                        let checks = checks.as_slice();
                        let tenant = reservation.tenant_id.as_str();
                        let counters = serde_json::to_string(&reservation.counters)
                            .map_err(|error| $crate::Error::Corrupt(error.to_string()))?;
                        // Counters in one global order, so concurrent reservations lock rows in the
                        // same order and cannot deadlock.
                        let mut keys: Vec<&$crate::CounterKey> = reservation.counters.iter().collect();
                        keys.sort();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        for key in keys {
                            // A window's first counter starts from what was already settled in it, so a
                            // limit set mid-period counts the period's earlier spending.
                            sqlx::query(
                                "INSERT INTO budget_counters (tenant_id, scope, scope_key, period, window_key, \
                                 spent, reserved) SELECT $1, $2, $3, $4, $5, COALESCE(SUM(cost), 0), 0 \
                                 FROM usage_daily WHERE tenant_id = $1 AND day >= $6 AND day < $7 \
                                 AND ($2 = 'tenant' OR ($2 = 'principal' AND principal = $3) \
                                 OR ($2 = 'skill' AND skill_id = $3)) \
                                 ON CONFLICT DO NOTHING",
                            )
                            .bind(tenant)
                            .bind(&key.budget.scope)
                            .bind(&key.budget.scope_key)
                            .bind(&key.budget.period)
                            .bind(&key.window)
                            .bind(&key.from_day)
                            .bind(&key.to_day)
                            .execute(&mut *tx)
                            .await?;
                            let limit = checks
                                .iter()
                                .position(|check| &check.counter == key);
                            // 1e-9 absorbs binary rounding of decimal amounts (0.1 + 0.2 <= 0.3).
                            let updated = sqlx::query(
                                "UPDATE budget_counters SET reserved = reserved + $6 WHERE tenant_id = $1 \
                                 AND scope = $2 AND scope_key = $3 AND period = $4 AND window_key = $5 \
                                 AND ($7 IS NULL OR spent + reserved + $6 <= $7 + 0.000000001)",
                            )
                            .bind(tenant)
                            .bind(&key.budget.scope)
                            .bind(&key.budget.scope_key)
                            .bind(&key.budget.period)
                            .bind(&key.window)
                            .bind(reservation.amount)
                            .bind(limit.map(|index| checks[index].limit))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if updated == 0 {
                                tx.rollback().await?;
                                return Ok(limit);
                            }
                        }
                        sqlx::query(
                            "INSERT INTO budget_reservations (id, tenant_id, amount, counters, expires_at, \
                             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(&reservation.id)
                        .bind(tenant)
                        .bind(reservation.amount)
                        .bind(counters)
                        .bind(reservation.expires_at)
                        .bind(reservation.created_at)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn settle_budget(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                spent: Option<f64>,
                usage: Option<&$crate::UsageDelta>,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let usage = usage.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let usage = usage.as_ref();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let settled = settle_in(&mut tx, tenant, Some(id), spent, usage).await?;
                        tx.commit().await?;
                        Ok(settled)
                    })
                })
                .await
            }

            async fn finish_execution(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                update: &$crate::ExecutionUpdate,
                settlement: &$crate::Settlement,
            ) -> $crate::Result<$crate::Finished> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let update = update.clone();
                let settlement = settlement.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let update = &update;
                        let settlement = &settlement;
                        let alone = |execution| $crate::Finished {
                            execution,
                            job: false,
                        };
                        match settlement {
                            // Nothing to settle: one statement, no transaction.
                            $crate::Settlement {
                                reservation_id: None,
                                usage: None,
                                job: None,
                                ..
                            } => {
                                return update_execution_in(conn, tenant, id, update).await.map(alone);
                            }
                            // The common end of a run: its state and its usage in one call
                            // to the database (FINISH_WITH_USAGE, per backend).
                            $crate::Settlement {
                                reservation_id: None,
                                usage: Some(usage),
                                job: None,
                                ..
                            } => {
                                return finish_with_usage(conn, tenant, id, update, usage)
                                    .await
                                    .map(alone);
                            }
                            _ => {}
                        }
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let execution = match &settlement.usage {
                            Some(usage) if settlement.reservation_id.is_none() => {
                                finish_with_usage(&mut tx, tenant, id, update, usage).await?
                            }
                            _ => {
                                let updated = update_execution_in(&mut tx, tenant, id, update).await?;
                                settle_in(
                                    &mut tx,
                                    tenant,
                                    settlement.reservation_id.as_deref(),
                                    settlement.spent,
                                    settlement.usage.as_ref(),
                                )
                                .await?;
                                updated
                            }
                        };
                        // A job's outcome goes with its execution's end, never without it.
                        let job = match &settlement.job {
                            Some(end) if execution => {
                                Self::transition_job_in(
                                    &mut tx,
                                    tenant,
                                    &end.job_id,
                                    &end.fence,
                                    &end.transition,
                                )
                                .await?
                            }
                            _ => false,
                        };
                        tx.commit().await?;
                        Ok($crate::Finished { execution, job })
                    })
                })
                .await
            }

            async fn expired_reservations(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<Vec<($crate::TenantId, String)>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT tenant_id, id FROM budget_reservations WHERE expires_at < $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(tenant, id)| ($crate::TenantId::new(tenant), id))
                    .collect())
            }

            async fn list_usage(
                &self,
                tenant: &$crate::TenantId,
                filter: &$crate::UsageFilter,
            ) -> $crate::Result<Vec<$crate::UsageRow>> {
                let rows = sqlx::query_as(
                    "SELECT day, skill_id, principal, executions, cost, input_tokens, output_tokens \
                     FROM usage_daily WHERE tenant_id = $1 AND ($2 IS NULL OR day >= $2) \
                     AND ($3 IS NULL OR day < $3) AND ($4 IS NULL OR skill_id = $4) \
                     AND ($5 IS NULL OR principal = $5) \
                     ORDER BY day DESC, skill_id, principal LIMIT 100000",
                )
                .bind(tenant.as_str())
                .bind(&filter.from_day)
                .bind(&filter.to_day)
                .bind(&filter.skill_id)
                .bind(&filter.principal)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            async fn insert_approval(
                &self,
                execution: &$crate::Execution,
                approval: &$crate::Approval,
                audit: &$crate::AuditEvent,
                claim: Option<&$crate::IdempotencyClaim>,
            ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
                let execution = execution.clone();
                let approval = approval.clone();
                let audit = audit.clone();
                let claim = claim.cloned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let execution = &execution;
                        let approval = &approval;
                        let audit = &audit;
                        let claim = claim.as_ref();
                        let run_context = serde_json::to_string(&approval.run_context)
                            .map_err(|error| $crate::Error::Corrupt(error.to_string()))?;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if let Some(claim) = claim
                            && let Some(held) = claim_key(&mut tx, claim, &execution.id).await?
                        {
                            return Ok(Some(held));
                        }
                        insert_execution_row(&mut tx, execution).await?;
                        sqlx::query(
                            "INSERT INTO approvals (id, tenant_id, execution_id, skill_id, skill_version, \
                             payload_sha256, risk_tier, requester, required, state, policy_id, reason, \
                             approver_group, run_context, expire_at, created_at, resolved_at) VALUES \
                             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                        )
                        .bind(&approval.id)
                        .bind(approval.tenant_id.as_str())
                        .bind(&approval.execution_id)
                        .bind(&approval.skill_id)
                        .bind(&approval.skill_version)
                        .bind(&approval.payload_sha256)
                        .bind(&approval.risk_tier)
                        .bind(&approval.requester)
                        .bind(approval.required)
                        .bind(approval.state.as_str())
                        .bind(&approval.policy_id)
                        .bind(&approval.reason)
                        .bind(&approval.approver_group)
                        .bind(run_context)
                        .bind(approval.expire_at)
                        .bind(approval.created_at)
                        .bind(approval.resolved_at)
                        .execute(&mut *tx)
                        .await?;
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn insert_execution_claimed(
                &self,
                execution: &$crate::Execution,
                claim: &$crate::IdempotencyClaim,
            ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
                let execution = execution.clone();
                let claim = claim.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let execution = &execution;
                        let claim = &claim;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if let Some(held) = claim_key(&mut tx, claim, &execution.id).await? {
                            return Ok(Some(held));
                        }
                        insert_execution_row(&mut tx, execution).await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn idempotency_record(
                &self,
                claim: &$crate::IdempotencyClaim,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
                let mut conn = self.pool.acquire().await?;
                read_key(&mut conn, claim, now).await
            }

            async fn complete_idempotency(
                &self,
                claim: &$crate::IdempotencyClaim,
                response: &serde_json::Value,
            ) -> $crate::Result<()> {
                let claim = claim.clone();
                let response = response.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let claim = &claim;
                        let response = &response;
                        sqlx::query(
                            "UPDATE idempotency_keys SET response = $5 WHERE tenant_id = $1 \
                             AND principal = $2 AND method = $3 AND idem_key = $4",
                        )
                        .bind(claim.tenant_id.as_str())
                        .bind(&claim.principal)
                        .bind(&claim.method)
                        .bind(&claim.key)
                        .bind(response.to_string())
                        .execute(&mut *conn)
                        .await?;
                        Ok(())
                    })
                })
                .await
            }

            async fn delete_expired_idempotency(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<u64> {
                self.write(move |conn| {
                    Box::pin(async move {
                        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                            .bind(now)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected())
                    })
                })
                .await
            }

            async fn delete_retained(
                &self,
                rows: $crate::Retained,
                before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<u64> {
                // `$1` the age bound, `$2` the batch; ids of runs and jobs are time-ordered.
                let statement = match rows {
                    $crate::Retained::Executions => {
                        "DELETE FROM executions WHERE id IN (SELECT id FROM executions \
                         WHERE status IN ('succeeded', 'failed', 'cancelled', 'timed_out', \
                         'rejected') AND finished_at < $1 ORDER BY id LIMIT $2)"
                    }
                    $crate::Retained::Jobs => {
                        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                         WHERE state IN ('succeeded', 'dead', 'cancelled') \
                         AND finished_at < $1 ORDER BY id LIMIT $2)"
                    }
                    $crate::Retained::Usage => {
                        "DELETE FROM usage_daily WHERE (tenant_id, day, skill_id, principal) \
                         IN (SELECT tenant_id, day, skill_id, principal FROM usage_daily \
                         WHERE day < $1 ORDER BY day LIMIT $2)"
                    }
                };
                // Usage rows are by day (`YYYY-MM-DD`), the others by time.
                let day = before.format("%Y-%m-%d").to_string();
                self.write(move |conn| {
                    Box::pin(async move {
                        let query = sqlx::query(statement);
                        let query = match rows {
                            $crate::Retained::Usage => query.bind(day),
                            _ => query.bind(before),
                        };
                        Ok(query
                            .bind(i64::from(limit))
                            .execute(&mut *conn)
                            .await?
                            .rows_affected())
                    })
                })
                .await
            }

            async fn approval(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
            ) -> $crate::Result<Option<$crate::Approval>> {
                let mut conn = self.pool.acquire().await?;
                load_approval(&mut conn, tenant, id).await
            }

            async fn list_approvals(
                &self,
                tenant: &$crate::TenantId,
                filter: &$crate::ApprovalFilter,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Approval>> {
                let states: Option<String> = (!filter.states.is_empty()).then(|| {
                    filter
                        .states
                        .iter()
                        .map(|state| state.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                });
                let (before_at, before_id) = match &filter.before {
                    Some((at, id)) => (Some(*at), Some(id.clone())),
                    None => (None, None),
                };
                let rows: Vec<$crate::model::ApprovalRow> = sqlx::query_as(
                    "SELECT * FROM approvals WHERE tenant_id = $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR ',' || CAST($2 AS TEXT) || ',' LIKE '%,' || state || ',%') \
                     AND ($3 IS NULL OR skill_id = $3) AND ($4 IS NULL OR requester = $4) \
                     AND ($5 IS NULL OR created_at < $5 OR (created_at = $5 AND id < $6)) \
                     ORDER BY created_at DESC, id DESC LIMIT $7",
                )
                .bind(tenant.as_str())
                .bind(states)
                .bind(&filter.skill_id)
                .bind(&filter.requester)
                .bind(before_at)
                .bind(before_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let mut conn = self.pool.acquire().await?;
                let mut approvals = Vec::with_capacity(rows.len());
                for row in rows {
                    let decisions = load_decisions(&mut conn, &row_id(&row)).await?;
                    approvals.push(row.into_approval(decisions)?);
                }
                Ok(approvals)
            }

            async fn decide_approval(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                decision: &$crate::ApprovalDecision,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<$crate::Decided> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let decision = decision.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let decision = &decision;
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        // A write first: it takes the row (Postgres) or the database (SQLite) for this
                        // transaction, so two decisions and the expiry cannot interleave.
                        let held = sqlx::query(
                            "UPDATE approvals SET state = state WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if held == 0 {
                            return Ok($crate::Decided::NotFound);
                        }
                        let Some(approval) = load_approval(&mut tx, tenant, id).await? else {
                            return Ok($crate::Decided::NotFound);
                        };
                        if approval.state != $crate::ApprovalState::Pending {
                            return Ok($crate::Decided::NotPending(approval.state));
                        }
                        if approval.expire_at <= decision.decided_at {
                            resolve_approval(&mut tx, &approval, $crate::ApprovalState::Expired, decision.decided_at, None).await?;
                            let expired = $crate::AuditEvent::now(
                                tenant,
                                "skillos",
                                "approval.expired",
                                id,
                                serde_json::json!({"execution_id": approval.execution_id}),
                            );
                            insert_audit(&mut tx, &expired).await?;
                            let approval = load_approval(&mut tx, tenant, id).await?.ok_or_else(|| {
                                $crate::Error::Corrupt(format!("approval {id} vanished"))
                            })?;
                            tx.commit().await?;
                            return Ok($crate::Decided::Expired(approval));
                        }
                        if approval
                            .decisions
                            .iter()
                            .any(|earlier| earlier.approver == decision.approver)
                        {
                            return Ok($crate::Decided::AlreadyDecided);
                        }
                        sqlx::query(
                            "INSERT INTO approval_decisions (approval_id, approver, approve, comment, decided_at) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(id)
                        .bind(&decision.approver)
                        .bind(decision.approve)
                        .bind(&decision.comment)
                        .bind(decision.decided_at)
                        .execute(&mut *tx)
                        .await?;
                        let approvals = approval.decisions.iter().filter(|d| d.approve).count()
                            + usize::from(decision.approve);
                        let next = if !decision.approve {
                            Some($crate::ApprovalState::Rejected)
                        } else if approvals >= usize::try_from(approval.required).unwrap_or(1) {
                            Some($crate::ApprovalState::Approved)
                        } else {
                            None
                        };
                        if let Some(state) = next {
                            resolve_approval(&mut tx, &approval, state, decision.decided_at, None).await?;
                        }
                        insert_audit(&mut tx, audit).await?;
                        let approval = load_approval(&mut tx, tenant, id)
                            .await?
                            .ok_or_else(|| $crate::Error::Corrupt(format!("approval {id} vanished")))?;
                        tx.commit().await?;
                        Ok($crate::Decided::Recorded(approval))
                    })
                })
                .await
            }

            async fn expire_approval(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::Approval>> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let held = sqlx::query(
                            "UPDATE approvals SET state = state WHERE tenant_id = $1 AND id = $2 \
                             AND state = 'pending' AND expire_at <= $3",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if held == 0 {
                            return Ok(None);
                        }
                        let Some(approval) = load_approval(&mut tx, tenant, id).await? else {
                            return Ok(None);
                        };
                        resolve_approval(&mut tx, &approval, $crate::ApprovalState::Expired, now, None)
                            .await?;
                        let audit = $crate::AuditEvent::now(
                            tenant,
                            "skillos",
                            "approval.expired",
                            id,
                            serde_json::json!({"execution_id": approval.execution_id}),
                        );
                        insert_audit(&mut tx, &audit).await?;
                        let approval = load_approval(&mut tx, tenant, id).await?;
                        tx.commit().await?;
                        Ok(approval)
                    })
                })
                .await
            }

            async fn cancel_approval(
                &self,
                tenant: &$crate::TenantId,
                id: &str,
                reason: &str,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<Option<$crate::Approval>> {
                let tenant = tenant.clone();
                let id = id.to_owned();
                let reason = reason.to_owned();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let id = id.as_str();
                        let reason = reason.as_str();
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let held = sqlx::query(
                            "UPDATE approvals SET state = state WHERE tenant_id = $1 AND id = $2 \
                             AND state = 'pending'",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if held == 0 {
                            return Ok(None);
                        }
                        let Some(approval) = load_approval(&mut tx, tenant, id).await? else {
                            return Ok(None);
                        };
                        let now = $crate::now();
                        resolve_approval(&mut tx, &approval, $crate::ApprovalState::Cancelled, now, Some(reason)).await?;
                        insert_audit(&mut tx, audit).await?;
                        let approval = load_approval(&mut tx, tenant, id).await?;
                        tx.commit().await?;
                        Ok(approval)
                    })
                })
                .await
            }

            async fn expired_approvals(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<Vec<($crate::TenantId, String)>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT tenant_id, id FROM approvals WHERE state = 'pending' AND expire_at <= $1 \
                     ORDER BY expire_at LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(tenant, id)| ($crate::TenantId::new(tenant), id))
                    .collect())
            }

            async fn pending_executions(
                &self,
                after_id: Option<&str>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Execution>> {
                let rows: Vec<$crate::model::ExecutionRow> = sqlx::query_as(
                    "SELECT * FROM executions WHERE status = 'pending' \
                     AND ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn list_audit(
                &self,
                tenant: &$crate::TenantId,
                after_id: Option<&str>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::AuditEvent>> {
                let rows: Vec<$crate::model::AuditRow> = sqlx::query_as(
                    "SELECT * FROM audit_events WHERE tenant_id = $1 \
                     AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(tenant.as_str())
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }

        $crate::job_sql::impl_job_queries!($store, $backend);
        $crate::webhook_sql::impl_webhook_queries!($store);
        $crate::schedule_sql::impl_schedule_queries!($store);
        $crate::flow_sql::impl_flow_queries!($store, $backend);

        async fn insert_execution_row(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            execution: &$crate::Execution,
        ) -> $crate::Result<()> {
            sqlx::query(
                "INSERT INTO executions (id, tenant_id, skill_id, skill_version, status, \
                 principal, payload, output, error, runner_id, attempts, cost, created_at, \
                 started_at, finished_at, approval_id, job_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17)",
            )
            .bind(&execution.id)
            .bind(execution.tenant_id.as_str())
            .bind(&execution.skill_id)
            .bind(&execution.skill_version)
            .bind(execution.status.as_str())
            .bind(&execution.principal)
            .bind(sqlx::types::Json(&execution.payload))
            .bind(execution.output.as_ref().map(sqlx::types::Json))
            .bind(execution.error.as_ref().map(sqlx::types::Json))
            .bind(&execution.runner_id)
            .bind(execution.attempts)
            .bind(execution.cost)
            .bind(execution.created_at)
            .bind(execution.started_at)
            .bind(execution.finished_at)
            .bind(&execution.approval_id)
            .bind(&execution.job_id)
            .execute(conn)
            .await?;
            Ok(())
        }

        async fn load_decisions(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            approval_id: &str,
        ) -> $crate::Result<Vec<$crate::ApprovalDecision>> {
            let rows: Vec<$crate::model::DecisionRow> = sqlx::query_as(
                "SELECT approver, approve, comment, decided_at FROM approval_decisions \
                 WHERE approval_id = $1 ORDER BY decided_at, approver",
            )
            .bind(approval_id)
            .fetch_all(conn)
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn load_approval(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            tenant: &$crate::TenantId,
            id: &str,
        ) -> $crate::Result<Option<$crate::Approval>> {
            let row: Option<$crate::model::ApprovalRow> =
                sqlx::query_as("SELECT * FROM approvals WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let decisions = load_decisions(conn, id).await?;
                    Ok(Some(row.into_approval(decisions)?))
                }
            }
        }

        /// Ends a pending approval and its execution in the caller's transaction.
        async fn resolve_approval(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            approval: &$crate::Approval,
            state: $crate::ApprovalState,
            now: chrono::DateTime<chrono::Utc>,
            reason: Option<&str>,
        ) -> $crate::Result<()> {
            sqlx::query(
                "UPDATE approvals SET state = $3, resolved_at = $4 \
                 WHERE tenant_id = $1 AND id = $2 AND state = 'pending'",
            )
            .bind(approval.tenant_id.as_str())
            .bind(&approval.id)
            .bind(state.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            let (status, error) = match state {
                $crate::ApprovalState::Approved => ($crate::ExecutionStatus::Pending, None),
                $crate::ApprovalState::Cancelled => (
                    $crate::ExecutionStatus::Cancelled,
                    Some($crate::ExecutionError::permanent(
                        "EXECUTION_CANCELLED",
                        reason.unwrap_or("cancelled while waiting for approval"),
                    )),
                ),
                other => {
                    let code = match other {
                        $crate::ApprovalState::Expired => "APPROVAL_EXPIRED",
                        $crate::ApprovalState::Cancelled => "APPROVAL_CANCELLED",
                        _ => "APPROVAL_REJECTED",
                    };
                    (
                        $crate::ExecutionStatus::Rejected,
                        Some($crate::ExecutionError::permanent(
                            code,
                            format!("approval {} {}", approval.id, other.as_str()),
                        )),
                    )
                }
            };
            sqlx::query(
                "UPDATE executions SET status = $3, error = COALESCE($4, error), \
                 finished_at = CASE WHEN $3 = 'pending' THEN finished_at ELSE $5 END \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'pending_approval'",
            )
            .bind(approval.tenant_id.as_str())
            .bind(&approval.execution_id)
            .bind(status.as_str())
            .bind(error.as_ref().map(sqlx::types::Json))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn update_execution_in(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            tenant: &$crate::TenantId,
            id: &str,
            update: &$crate::ExecutionUpdate,
        ) -> $crate::Result<bool> {
            let result = bind_update(
                sqlx::query(
                    "UPDATE executions SET status = COALESCE($3, status), \
                     output = COALESCE($4, output), error = COALESCE($5, error), \
                     runner_id = COALESCE($6, runner_id), attempts = COALESCE($7, attempts), \
                     cost = COALESCE($8, cost), started_at = COALESCE($9, started_at), \
                     finished_at = COALESCE($10, finished_at) \
                     WHERE tenant_id = $1 AND id = $2 AND ($11 IS NULL OR status = $11)",
                ),
                tenant,
                id,
                update,
            )
            .execute(conn)
            .await?;
            Ok(result.rows_affected() > 0)
        }

        type Db = <<$store as $crate::sql::PoolOf>::Connection as sqlx::Connection>::Database;

        /// Binds an execution update's `$1`-`$11` (tenant, id, the fields, the expected
        /// status), as [`update_execution_in`] and `FINISH_WITH_USAGE` number them.
        fn bind_update<'q>(
            query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
            tenant: &'q $crate::TenantId,
            id: &'q str,
            update: &'q $crate::ExecutionUpdate,
        ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
            query
                .bind(tenant.as_str())
                .bind(id)
                .bind(update.status.map(|status| status.as_str()))
                .bind(update.output.as_ref().map(sqlx::types::Json))
                .bind(update.error.as_ref().map(sqlx::types::Json))
                .bind(&update.runner_id)
                .bind(update.attempts)
                .bind(update.cost)
                .bind(update.started_at)
                .bind(update.finished_at)
                .bind(update.expect_status.map(|status| status.as_str()))
        }

        /// The execution's end and its usage, with the backend's `FINISH_WITH_USAGE`: the
        /// update's parameters are `$1`-`$11` as in [`update_execution_in`], the usage's
        /// `$12`-`$17`; a row comes back when the update matched.
        async fn finish_with_usage(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            tenant: &$crate::TenantId,
            id: &str,
            update: &$crate::ExecutionUpdate,
            usage: &$crate::UsageDelta,
        ) -> $crate::Result<bool> {
            let rows = bind_update(sqlx::query(FINISH_WITH_USAGE), tenant, id, update)
                .bind(&usage.day)
                .bind(&usage.skill_id)
                .bind(&usage.principal)
                .bind(usage.cost)
                .bind(usage.input_tokens)
                .bind(usage.output_tokens)
                .fetch_all(&mut *conn)
                .await;
            match rows {
                Ok(rows) => Ok(!rows.is_empty()),
                Err(error) => {
                    if let Some(undo) = FINISH_WITH_USAGE_UNDO
                        && let Err(undo_error) = sqlx::raw_sql(undo).execute(&mut *conn).await
                    {
                        tracing::warn!(%undo_error, "cannot undo a failed finish");
                    }
                    Err(error.into())
                }
            }
        }

        /// Ends reservation `id` (when given) and adds `spent` to its counters, and records
        /// `usage`, in the caller's transaction; true when the reservation was still there.
        async fn settle_in(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            tenant: &$crate::TenantId,
            id: Option<&str>,
            spent: Option<f64>,
            usage: Option<&$crate::UsageDelta>,
        ) -> $crate::Result<bool> {
            let row: Option<(f64, String)> = match id {
                None => None,
                Some(id) => {
                    sqlx::query_as(
                        "DELETE FROM budget_reservations WHERE tenant_id = $1 AND id = $2 \
                         RETURNING amount, counters",
                    )
                    .bind(tenant.as_str())
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                }
            };
            let settled = row.is_some();
            if let Some((amount, counters)) = row {
                let mut counters: Vec<$crate::CounterKey> = serde_json::from_str(&counters)
                    .map_err(|error| $crate::Error::Corrupt(format!("reservation {id:?}: {error}")))?;
                // The order reservations lock them in, so the two cannot deadlock (Postgres).
                counters.sort();
                for key in counters {
                    sqlx::query(
                        "UPDATE budget_counters SET reserved = reserved - $6, spent = spent + $7 \
                         WHERE tenant_id = $1 AND scope = $2 AND scope_key = $3 AND period = $4 \
                         AND window_key = $5",
                    )
                    .bind(tenant.as_str())
                    .bind(&key.budget.scope)
                    .bind(&key.budget.scope_key)
                    .bind(&key.budget.period)
                    .bind(&key.window)
                    .bind(amount)
                    .bind(spent.unwrap_or(0.0))
                    .execute(&mut *conn)
                    .await?;
                }
            }
            if let Some(usage) = usage {
                sqlx::query(
                    "INSERT INTO usage_daily (tenant_id, day, skill_id, principal, executions, \
                     cost, input_tokens, output_tokens) VALUES ($1, $2, $3, $4, 1, $5, $6, $7) \
                     ON CONFLICT (tenant_id, day, skill_id, principal) DO UPDATE SET \
                     executions = usage_daily.executions + 1, cost = usage_daily.cost + excluded.cost, \
                     input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
                     output_tokens = usage_daily.output_tokens + excluded.output_tokens",
                )
                .bind(tenant.as_str())
                .bind(&usage.day)
                .bind(&usage.skill_id)
                .bind(&usage.principal)
                .bind(usage.cost)
                .bind(usage.input_tokens)
                .bind(usage.output_tokens)
                .execute(&mut *conn)
                .await?;
            }
            Ok(settled)
        }

        async fn read_key(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            claim: &$crate::IdempotencyClaim,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
            let row: Option<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT request_sha256, execution_id, response FROM idempotency_keys \
                 WHERE tenant_id = $1 AND principal = $2 AND method = $3 AND idem_key = $4 \
                 AND expires_at > $5",
            )
            .bind(claim.tenant_id.as_str())
            .bind(&claim.principal)
            .bind(&claim.method)
            .bind(&claim.key)
            .bind(now)
            .fetch_optional(conn)
            .await?;
            row.map(|(request_sha256, execution_id, response)| {
                let response = response
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|error| $crate::Error::Corrupt(format!("idempotency response: {error}")))?;
                Ok($crate::IdempotencyRecord {
                    request_sha256,
                    execution_id,
                    response,
                })
            })
            .transpose()
        }

        /// Claims a key in the caller's transaction (an expired holder is replaced); the
        /// current holder's record when it is taken.
        async fn claim_key(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            claim: &$crate::IdempotencyClaim,
            execution_id: &str,
        ) -> $crate::Result<Option<$crate::IdempotencyRecord>> {
            let now = $crate::now();
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 \
                 AND method = $3 AND idem_key = $4 AND expires_at <= $5",
            )
            .bind(claim.tenant_id.as_str())
            .bind(&claim.principal)
            .bind(&claim.method)
            .bind(&claim.key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (tenant_id, principal, method, idem_key, \
                 request_sha256, execution_id, response, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(claim.tenant_id.as_str())
            .bind(&claim.principal)
            .bind(&claim.method)
            .bind(&claim.key)
            .bind(&claim.request_sha256)
            .bind(execution_id)
            .bind(claim.response.as_ref().map(|response| response.to_string()))
            .bind(now)
            .bind(claim.expires_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(None);
            }
            read_key(conn, claim, now).await
        }

        fn row_id(row: &$crate::model::ApprovalRow) -> String {
            row.id()
        }

        async fn insert_audit(
            conn: &mut <$store as $crate::sql::PoolOf>::Connection,
            event: &$crate::AuditEvent,
        ) -> $crate::Result<()> {
            sqlx::query(
                "INSERT INTO audit_events (id, tenant_id, occurred_at, actor, action, target, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&event.id)
            .bind(event.tenant_id.as_str())
            .bind(event.occurred_at)
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(sqlx::types::Json(&event.details))
            .execute(conn)
            .await?;
            Ok(())
        }
    };
}

pub(crate) use impl_store;

/// Names the connection type of a store's pool, for helpers used inside transactions.
pub(crate) trait PoolOf {
    type Connection;
}
