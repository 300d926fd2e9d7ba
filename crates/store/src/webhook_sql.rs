//! Statements of webhook triggers and secrets, expanded inside each backend's `Store`
//! implementation (see `sql.rs`).

macro_rules! impl_webhook_queries {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::WebhookStore for $store {
            async fn insert_delivery_job(
                &self,
                job: &$crate::Job,
                delivery: &$crate::Delivery,
            ) -> $crate::Result<Option<String>> {
                let job = job.clone();
                let delivery = delivery.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let job = &job;
                        let delivery = &delivery;
                        let now = $crate::now();
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        sqlx::query(
                            "DELETE FROM webhook_deliveries WHERE trigger_id = $1 AND delivery_id = $2 \
                             AND expires_at <= $3",
                        )
                        .bind(&delivery.trigger_id)
                        .bind(&delivery.delivery_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        let inserted = sqlx::query(
                            "INSERT INTO webhook_deliveries (trigger_id, delivery_id, tenant_id, job_id, \
                             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        )
                        .bind(&delivery.trigger_id)
                        .bind(&delivery.delivery_id)
                        .bind(delivery.tenant_id.as_str())
                        .bind(&job.id)
                        .bind(now)
                        .bind(delivery.expires_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 0 {
                            let (existing,): (String,) = sqlx::query_as(
                                "SELECT job_id FROM webhook_deliveries WHERE trigger_id = $1 \
                                 AND delivery_id = $2",
                            )
                            .bind(&delivery.trigger_id)
                            .bind(&delivery.delivery_id)
                            .fetch_one(&mut *tx)
                            .await?;
                            return Ok(Some(existing));
                        }
                        Self::insert_job_row(&mut tx, job).await?;
                        tx.commit().await?;
                        Ok(None)
                    })
                })
                .await
            }

            async fn delivery_job(
                &self,
                trigger_id: &str,
                delivery_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as(
                    "SELECT job_id FROM webhook_deliveries WHERE trigger_id = $1 \
                     AND delivery_id = $2 AND expires_at > $3",
                )
                .bind(trigger_id)
                .bind(delivery_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(job_id,)| job_id))
            }

            async fn insert_trigger(
                &self,
                trigger: &$crate::Trigger,
                secret: &$crate::TriggerSecret,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<bool> {
                let trigger = trigger.clone();
                let secret = secret.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let trigger = &trigger;
                        let secret = &secret;
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let inserted = sqlx::query(
                            "INSERT INTO webhook_triggers (id, tenant_id, skill_id, description, scheme, \
                             allow_unsigned, tolerance_seconds, payload_mapping, forwarded_headers, \
                             enabled, principal, run_context, created_at, updated_at) VALUES ($1, $2, \
                             $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
                        )
                        .bind(&trigger.id)
                        .bind(trigger.tenant_id.as_str())
                        .bind(&trigger.skill_id)
                        .bind(&trigger.description)
                        .bind(&trigger.scheme)
                        .bind(trigger.allow_unsigned)
                        .bind(trigger.tolerance_seconds)
                        .bind(&trigger.payload_mapping)
                        .bind(sqlx::types::Json(&trigger.forwarded_headers))
                        .bind(trigger.enabled)
                        .bind(&trigger.principal)
                        .bind(sqlx::types::Json(&trigger.run_context))
                        .bind(trigger.created_at)
                        .bind(trigger.updated_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 0 {
                            return Ok(false);
                        }
                        Self::insert_secret_row(&mut tx, secret).await?;
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn trigger(
                &self,
                tenant: Option<&$crate::TenantId>,
                id: &str,
            ) -> $crate::Result<Option<$crate::Trigger>> {
                let row: Option<$crate::webhook::TriggerRow> = sqlx::query_as(
                    "SELECT * FROM webhook_triggers WHERE id = $1 \
                     AND ($2 IS NULL OR tenant_id = $2)",
                )
                .bind(id)
                .bind(tenant.map($crate::TenantId::as_str))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn list_triggers(
                &self,
                tenant: &$crate::TenantId,
                after_id: Option<&str>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Trigger>> {
                let rows: Vec<$crate::webhook::TriggerRow> = sqlx::query_as(
                    "SELECT * FROM webhook_triggers WHERE tenant_id = $1 \
                     AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(tenant.as_str())
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_trigger(
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
                        let deleted = sqlx::query(
                            "DELETE FROM webhook_triggers WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_str())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if deleted == 0 {
                            return Ok(false);
                        }
                        sqlx::query("DELETE FROM webhook_secrets WHERE trigger_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn trigger_secrets(
                &self,
                trigger_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<$crate::TriggerSecret>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM webhook_secrets WHERE trigger_id = $1 \
                     AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id DESC",
                )
                .bind(trigger_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn rotate_secret(
                &self,
                tenant: &$crate::TenantId,
                secret: &$crate::TriggerSecret,
                grace_until: chrono::DateTime<chrono::Utc>,
                audit: &$crate::AuditEvent,
            ) -> $crate::Result<bool> {
                let tenant = tenant.clone();
                let secret = secret.clone();
                let audit = audit.clone();
                self.write(move |conn| {
                    Box::pin(async move {
                        let tenant = &tenant;
                        let secret = &secret;
                        let audit = &audit;
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let touched = sqlx::query(
                            "UPDATE webhook_triggers SET updated_at = $3 WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_str())
                        .bind(&secret.trigger_id)
                        .bind(secret.created_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if touched == 0 {
                            return Ok(false);
                        }
                        // Every secret valid now stays valid until the grace ends, not longer.
                        sqlx::query(
                            "UPDATE webhook_secrets SET expires_at = $2 WHERE trigger_id = $1 \
                             AND (expires_at IS NULL OR expires_at > $2)",
                        )
                        .bind(&secret.trigger_id)
                        .bind(grace_until)
                        .execute(&mut *tx)
                        .await?;
                        Self::insert_secret_row(&mut tx, secret).await?;
                        insert_audit(&mut tx, audit).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                })
                .await
            }

            async fn delete_expired_webhook_rows(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<u64> {
                self.write(move |conn| {
                    Box::pin(async move {
                        let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE expires_at <= $1")
                            .bind(now)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                        let secrets = sqlx::query("DELETE FROM webhook_secrets WHERE expires_at <= $1")
                            .bind(now)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                        Ok(deliveries + secrets)
                    })
                })
                .await
            }
        }

        impl $store {
            async fn insert_secret_row(
                conn: &mut <$store as $crate::sql::PoolOf>::Connection,
                secret: &$crate::TriggerSecret,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO webhook_secrets (id, trigger_id, secret, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&secret.id)
                .bind(&secret.trigger_id)
                .bind(&secret.secret)
                .bind(secret.created_at)
                .bind(secret.expires_at)
                .execute(conn)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_webhook_queries;
