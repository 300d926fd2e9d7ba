//! One behaviour, two databases: every case runs against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `SKILLOS_TEST_POSTGRES_DSN`, else `DATABASE_URL`, else the local
//! `postgres://postgres@127.0.0.1:5432/test`. Each test gets its own schema, dropped at the end.
//! An unreachable PostgreSQL fails the tests; outside CI a contributor without PostgreSQL may set
//! `SKILLOS_TEST_POSTGRES=off` to leave the PostgreSQL half out explicitly.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use skillos_store::{
    AuditEvent, Execution, ExecutionFilter, ExecutionStatus, ExecutionUpdate, SkillState, Store,
    TenantId,
};

struct Fixture {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Fixture {
    async fn sqlite() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let options = skillos_store::Options::Sqlite {
            path: dir.path().join("skillos.db"),
        };
        let store = skillos_store::open(&options)
            .await
            .expect("open sqlite store");
        Some(Self {
            store,
            _dir: Some(dir),
            pg_schema: None,
        })
    }

    async fn postgres() -> Option<Self> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        if !ci && std::env::var("SKILLOS_TEST_POSTGRES").is_ok_and(|v| v == "off") {
            eprintln!(
                "SKILLOS_TEST_POSTGRES=off: PostgreSQL half of the conformance suite left out"
            );
            return None;
        }
        let dsn = std::env::var("SKILLOS_TEST_POSTGRES_DSN")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let schema = format!("skillos_test_{}", uuid_simple());
        let options = skillos_store::Options::Postgres {
            dsn: dsn.clone(),
            schema: schema.clone(),
            max_connections: 4,
        };
        let store = skillos_store::open(&options).await.unwrap_or_else(|error| {
            panic!("PostgreSQL at {dsn} is required for the conformance suite: {error}")
        });
        Some(Self {
            store,
            _dir: None,
            pg_schema: Some((dsn, schema)),
        })
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((dsn, schema)) = self.pg_schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&dsn).await.unwrap();
            let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

fn uuid_simple() -> String {
    format!("{:x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut hasher = state.build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    u128::from(hasher.finish()) << 64 | u128::from(std::process::id())
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let fixture = super::Fixture::sqlite().await.unwrap();
                    assert_eq!(fixture.store.backend(), skillos_store::Backend::Sqlite);
                    super::cases::$case(&*fixture.store).await;
                    fixture.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    assert_eq!(fixture.store.backend(), skillos_store::Backend::Postgres);
                    super::cases::$case(&*fixture.store).await;
                    fixture.finish().await;
                }
            )*
        }
    };
}

conformance!(
    ping_and_backend,
    activations_are_per_tenant_upserted_and_audited,
    clearing_a_skill_state_removes_the_override_and_is_audited,
    execution_updates_can_be_conditional,
    skill_state_round_trip_and_upsert,
    skill_state_writes_its_audit_event,
    tenants_never_see_each_others_rows,
    execution_lifecycle,
    execution_listing_filters_and_pages,
    audit_listing_pages_in_order,
    skill_vectors_are_cached_per_model_and_text,
    routing_feedback_round_trip,
    api_keys_round_trip_and_revoke_once,
    circuit_writes_are_compare_and_set,
    budget_reservations_are_all_or_nothing_and_settle_once,
    approvals_count_distinct_approvers_and_move_their_execution,
    an_approve_racing_the_expiry_ends_in_exactly_one_state,
    an_idempotency_key_is_claimed_once_with_its_execution,
    jobs_are_claimed_once_by_priority_and_due_time,
    job_changes_are_fenced_by_lease_and_state,
    jobs_list_by_filter_and_dead_letters_by_finish_time,
    an_expired_lease_is_claimed_again,
    a_delivery_is_recorded_once_with_its_job,
    triggers_are_unique_across_tenants_and_rotate_their_secrets,
    a_schedule_fires_each_nominal_time_once,
    rows_past_their_retention_are_removed_in_batches,
    a_run_ends_with_its_usage_in_one_write,
    a_job_outcome_is_recorded_with_its_execution_end_or_not_at_all,
    flow_steps_are_written_only_under_the_runs_lease,
    a_waiting_run_is_woken_by_its_steps_execution_and_its_signals,
);

fn schedule(tenant: &str, id: &str, next: chrono::DateTime<Utc>) -> skillos_store::Schedule {
    let now = skillos_store::now();
    skillos_store::Schedule {
        id: id.to_owned(),
        tenant_id: TenantId::new(tenant),
        skill_id: "a/b".to_owned(),
        payload: json!({}),
        description: String::new(),
        kind: "cron".to_owned(),
        cron_expression: "* * * * *".to_owned(),
        time_zone: "Europe/Moscow".to_owned(),
        interval_ms: None,
        anchor_at: None,
        once_at: None,
        catch_up: "skip".to_owned(),
        max_attempts: 0,
        state: skillos_store::ScheduleState::Active,
        next_fire_at: Some(next),
        last_fire_at: None,
        last_job_id: String::new(),
        principal: "alice".to_owned(),
        run_context: json!({}),
        created_at: now,
        updated_at: now,
    }
}

fn trigger(tenant: &str, id: &str) -> skillos_store::Trigger {
    let now = skillos_store::now();
    skillos_store::Trigger {
        id: id.to_owned(),
        tenant_id: TenantId::new(tenant),
        skill_id: "a/b".to_owned(),
        description: String::new(),
        scheme: "standard_webhooks".to_owned(),
        allow_unsigned: false,
        tolerance_seconds: 300,
        payload_mapping: "envelope".to_owned(),
        forwarded_headers: vec!["x-event".to_owned()],
        enabled: true,
        principal: "alice".to_owned(),
        run_context: json!({"roles": ["ops"]}),
        created_at: now,
        updated_at: now,
    }
}

fn secret(trigger: &str, id: &str, value: &str) -> skillos_store::TriggerSecret {
    skillos_store::TriggerSecret {
        id: id.to_owned(),
        trigger_id: trigger.to_owned(),
        secret: value.to_owned(),
        created_at: skillos_store::now(),
        expires_at: None,
    }
}

fn job(tenant: &TenantId, id: &str, skill: &str, priority: i32) -> skillos_store::Job {
    let now = skillos_store::now();
    skillos_store::Job {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        skill_id: skill.to_owned(),
        payload: json!({"n": id}),
        state: skillos_store::JobState::Queued,
        attempt: 0,
        max_attempts: 3,
        timeout_ms: None,
        priority,
        next_run_at: Some(now),
        lease_token: None,
        lease_expires_at: None,
        execution_id: None,
        last_error: None,
        result: None,
        source: skillos_store::JobSource::Api,
        source_id: String::new(),
        fire_time: None,
        idempotency_key: String::new(),
        principal: "alice".to_owned(),
        run_context: json!({"roles": ["ops"]}),
        created_at: now,
        updated_at: now,
        finished_at: None,
    }
}

fn execution(tenant: &TenantId, id: &str, skill: &str, status: ExecutionStatus) -> Execution {
    Execution {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        skill_id: skill.to_owned(),
        skill_version: "1.0.0".to_owned(),
        status,
        principal: "alice".to_owned(),
        payload: json!({"amount": 100, "to": "EUR", "nested": {"list": [1, 2.5, null]}}),
        output: None,
        error: None,
        runner_id: None,
        attempts: 0,
        cost: 0.0,
        created_at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
        started_at: None,
        finished_at: None,
        approval_id: None,
        job_id: None,
    }
}

fn state(skill: &str, deprecated: bool) -> SkillState {
    SkillState {
        skill_id: skill.to_owned(),
        deprecated,
        reason: deprecated.then(|| "use v2".to_owned()),
        replacement_id: deprecated.then(|| "finance/convert_v2".to_owned()),
        updated_by: "admin".to_owned(),
        updated_at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 30, 15).unwrap(),
    }
}

mod cases {
    use super::*;

    pub async fn rows_past_their_retention_are_removed_in_batches(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let old = Utc::now() - Duration::days(40);
        let cutoff = Utc::now() - Duration::days(30);
        for i in 0..5 {
            let mut ended = execution(
                &tenant,
                &format!("old-{i}"),
                "a/x",
                ExecutionStatus::Succeeded,
            );
            ended.finished_at = Some(old);
            store.insert_execution(&ended).await.unwrap();
        }
        // An old run that never ended, and a recent one that did, stay.
        let mut running = execution(&tenant, "old-running", "a/x", ExecutionStatus::Running);
        running.created_at = old;
        store.insert_execution(&running).await.unwrap();
        let mut recent = execution(&tenant, "recent", "a/x", ExecutionStatus::Failed);
        recent.finished_at = Some(Utc::now() - Duration::days(1));
        store.insert_execution(&recent).await.unwrap();

        assert_eq!(
            store
                .delete_retained(skillos_store::Retained::Executions, cutoff, 3)
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .delete_retained(skillos_store::Retained::Executions, cutoff, 3)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .delete_retained(skillos_store::Retained::Executions, cutoff, 3)
                .await
                .unwrap(),
            0
        );
        for (id, kept) in [
            ("old-0", false),
            ("old-4", false),
            ("old-running", true),
            ("recent", true),
        ] {
            let found = store.get_execution(&tenant, id).await.unwrap();
            assert_eq!(found.is_some(), kept, "{id}");
        }

        let mut done = job(&tenant, "job-done", "a/x", 0);
        done.state = skillos_store::JobState::Succeeded;
        done.finished_at = Some(old);
        let mut dead = job(&tenant, "job-dead-recent", "a/x", 0);
        dead.state = skillos_store::JobState::Dead;
        dead.finished_at = Some(Utc::now());
        let mut queued = job(&tenant, "job-queued", "a/x", 0);
        queued.created_at = old;
        for job in [&done, &dead, &queued] {
            store.insert_job(job, None).await.unwrap();
        }
        assert_eq!(
            store
                .delete_retained(skillos_store::Retained::Jobs, cutoff, 10)
                .await
                .unwrap(),
            1
        );
        assert!(store.get_job(&tenant, "job-done").await.unwrap().is_none());
        assert!(
            store
                .get_job(&tenant, "job-dead-recent")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .get_job(&tenant, "job-queued")
                .await
                .unwrap()
                .is_some()
        );

        for (id, day) in [("u-old", "2020-01-01"), ("u-new", "2026-11-30")] {
            let run = execution(&tenant, id, "a/x", ExecutionStatus::Running);
            store.insert_execution(&run).await.unwrap();
            let settlement = skillos_store::Settlement {
                reservation_id: None,
                spent: None,
                usage: Some(skillos_store::UsageDelta {
                    day: day.to_owned(),
                    skill_id: "a/x".to_owned(),
                    principal: "alice".to_owned(),
                    cost: 1.0,
                    input_tokens: 0,
                    output_tokens: 0,
                }),
                job: None,
            };
            let end = ExecutionUpdate {
                status: Some(ExecutionStatus::Succeeded),
                finished_at: Some(Utc::now()),
                ..Default::default()
            };
            assert!(
                store
                    .finish_execution(&tenant, id, &end, &settlement)
                    .await
                    .unwrap()
                    .execution
            );
        }
        assert_eq!(
            store
                .delete_retained(
                    skillos_store::Retained::Usage,
                    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
                    10
                )
                .await
                .unwrap(),
            1
        );
        let days: Vec<String> = store
            .list_usage(&tenant, &skillos_store::UsageFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.day)
            .collect();
        assert_eq!(days, vec!["2026-11-30".to_owned()]);
    }

    pub async fn a_run_ends_with_its_usage_in_one_write(store: &dyn Store) {
        let tenant = TenantId::new("t1");
        let started = execution(&tenant, "e1", "a/b", ExecutionStatus::Running);
        store.insert_execution(&started).await.unwrap();
        store
            .insert_execution(&execution(&tenant, "e2", "a/b", ExecutionStatus::Running))
            .await
            .unwrap();
        let usage = skillos_store::UsageDelta {
            day: "2026-12-02".to_owned(),
            skill_id: "a/b".to_owned(),
            principal: "alice".to_owned(),
            cost: 0.25,
            input_tokens: 3,
            output_tokens: 4,
        };
        let settlement = skillos_store::Settlement {
            usage: Some(usage.clone()),
            ..Default::default()
        };
        let end = ExecutionUpdate {
            status: Some(ExecutionStatus::Succeeded),
            output: Some(json!({"ok": true})),
            runner_id: Some("r-1".to_owned()),
            attempts: Some(1),
            cost: Some(0.25),
            finished_at: Some(skillos_store::now()),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        for id in ["e1", "e2"] {
            assert!(
                store
                    .finish_execution(&tenant, id, &end, &settlement)
                    .await
                    .unwrap()
                    .execution
            );
        }
        let done = store.get_execution(&tenant, "e1").await.unwrap().unwrap();
        // What the run answers without reading the record back is what the store holds.
        assert_eq!(done, end.applied_to(started));
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        assert_eq!(done.output, Some(json!({"ok": true})));
        assert_eq!((done.runner_id.as_deref(), done.attempts), (Some("r-1"), 1));
        assert!(done.finished_at.is_some());
        // An end that no longer applies (the run is not RUNNING) says so; its usage counts,
        // as before, since the run did happen.
        assert!(
            !store
                .finish_execution(&tenant, "e1", &end, &settlement)
                .await
                .unwrap()
                .execution
        );
        let rows = store
            .list_usage(&tenant, &Default::default())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].executions,
                rows[0].cost,
                rows[0].input_tokens,
                rows[0].output_tokens
            ),
            (3, 0.75, 9, 12)
        );
        // An execution of another tenant is not touched.
        let other = TenantId::new("t2");
        assert!(
            !store
                .finish_execution(&other, "e2", &end, &settlement)
                .await
                .unwrap()
                .execution
        );
    }

    pub async fn a_job_outcome_is_recorded_with_its_execution_end_or_not_at_all(store: &dyn Store) {
        use skillos_store::{JobEnd, JobFence, JobState, JobTransition, Settlement};
        let tenant = TenantId::new("acme");
        let hosted = vec!["acme/a/b".to_owned()];
        for id in ["j1", "j2"] {
            store
                .insert_job(&super::job(&tenant, id, "a/b", 0), None)
                .await
                .unwrap();
        }
        let now = skillos_store::now();
        let claimed = store
            .claim_jobs(&hosted, "lease", now, now + Duration::seconds(30), 2)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2);
        for id in ["e1", "e2", "e3"] {
            store
                .insert_execution(&execution(&tenant, id, "a/b", ExecutionStatus::Running))
                .await
                .unwrap();
        }
        let end = ExecutionUpdate {
            status: Some(ExecutionStatus::Succeeded),
            output: Some(json!({"ok": 1})),
            finished_at: Some(now),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        let settle = |job: &str, lease: &str, execution: &str| Settlement {
            usage: Some(skillos_store::UsageDelta {
                day: "2026-12-02".to_owned(),
                skill_id: "a/b".to_owned(),
                principal: "alice".to_owned(),
                cost: 0.0,
                input_tokens: 0,
                output_tokens: 0,
            }),
            job: Some(JobEnd {
                job_id: job.to_owned(),
                fence: JobFence::Lease(lease.to_owned()),
                transition: JobTransition {
                    execution_id: Some(execution.to_owned()),
                    result: Some(json!({"ok": 1})),
                    ..JobTransition::to(JobState::Succeeded)
                },
            }),
            ..Default::default()
        };
        // Both apply in one write.
        let both = store
            .finish_execution(&tenant, "e1", &end, &settle("j1", "lease", "e1"))
            .await
            .unwrap();
        assert_eq!((both.execution, both.job), (true, true));
        let job = store.get_job(&tenant, "j1").await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.execution_id.as_deref(), Some("e1"));
        // A lease no longer held: the execution ends, the job is left to its holder.
        let fenced = store
            .finish_execution(&tenant, "e2", &end, &settle("j2", "stale", "e2"))
            .await
            .unwrap();
        assert_eq!((fenced.execution, fenced.job), (true, false));
        let job = store.get_job(&tenant, "j2").await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Running);
        // An execution something else ended first: the job's outcome is not written either.
        let cancel = ExecutionUpdate {
            status: Some(ExecutionStatus::Cancelled),
            ..Default::default()
        };
        store
            .update_execution(&tenant, "e3", &cancel)
            .await
            .unwrap();
        let late = store
            .finish_execution(&tenant, "e3", &end, &settle("j2", "lease", "e3"))
            .await
            .unwrap();
        assert_eq!((late.execution, late.job), (false, false));
        let job = store.get_job(&tenant, "j2").await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Running);
    }

    /// The actions of the tenant's audit events, oldest first.
    async fn audit_actions(store: &dyn Store, tenant: &TenantId) -> Vec<String> {
        store
            .list_audit(tenant, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.action)
            .collect()
    }

    pub async fn ping_and_backend(store: &dyn Store) {
        store.ping().await.unwrap();
    }

    pub async fn activations_are_per_tenant_upserted_and_audited(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let other = TenantId::new("other");
        assert!(store.activations(&tenant).await.unwrap().is_empty());
        let activation = |skill_id: &str, active| skillos_store::Activation {
            skill_id: skill_id.to_owned(),
            active,
            updated_by: "admin".to_owned(),
            updated_at: skillos_store::now(),
        };
        for (skill_id, active, action) in [
            ("c/two", true, "composition.activated"),
            ("c/one", true, "composition.activated"),
            ("c/two", false, "composition.deactivated"),
        ] {
            let audit = AuditEvent::now(&tenant, "admin", action, skill_id, json!({}));
            store
                .put_activation(&tenant, &activation(skill_id, active), &audit)
                .await
                .unwrap();
        }
        let stored: Vec<_> = store
            .activations(&tenant)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.skill_id, a.active, a.updated_by))
            .collect();
        assert_eq!(
            stored,
            [
                ("c/one".to_owned(), true, "admin".to_owned()),
                ("c/two".to_owned(), false, "admin".to_owned())
            ]
        );
        assert!(store.activations(&other).await.unwrap().is_empty());
        let actions = audit_actions(store, &tenant).await;
        assert_eq!(
            actions,
            [
                "composition.activated",
                "composition.activated",
                "composition.deactivated"
            ]
        );
    }

    pub async fn clearing_a_skill_state_removes_the_override_and_is_audited(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let set = AuditEvent::now(&tenant, "admin", "skill.deprecated", "a/b", json!({}));
        store
            .put_skill_state(&tenant, &state("a/b", true), &set)
            .await
            .unwrap();
        let cleared = AuditEvent::now(&tenant, "admin", "skill.undeprecated", "a/b", json!({}));
        store
            .clear_skill_state(&tenant, "a/b", &cleared)
            .await
            .unwrap();
        assert_eq!(store.skill_state(&tenant, "a/b").await.unwrap(), None);
        let actions = audit_actions(store, &tenant).await;
        assert_eq!(actions, ["skill.deprecated", "skill.undeprecated"]);
    }

    pub async fn execution_updates_can_be_conditional(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        store
            .insert_execution(&execution(&tenant, "c1", "a/b", ExecutionStatus::Running))
            .await
            .unwrap();
        let finish = |status| ExecutionUpdate {
            status: Some(status),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        assert!(
            store
                .update_execution(&tenant, "c1", &finish(ExecutionStatus::Succeeded))
                .await
                .unwrap()
        );
        assert!(
            !store
                .update_execution(&tenant, "c1", &finish(ExecutionStatus::Cancelled))
                .await
                .unwrap()
        );
        let stored = store.get_execution(&tenant, "c1").await.unwrap().unwrap();
        assert_eq!(stored.status, ExecutionStatus::Succeeded);
    }

    pub async fn skill_state_round_trip_and_upsert(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        assert_eq!(
            store.skill_state(&tenant, "finance/convert").await.unwrap(),
            None
        );

        let deprecated = state("finance/convert", true);
        let audit = AuditEvent::now(
            &tenant,
            "admin",
            "skill.deprecated",
            "finance/convert",
            json!({}),
        );
        store
            .put_skill_state(&tenant, &deprecated, &audit)
            .await
            .unwrap();
        assert_eq!(
            store.skill_state(&tenant, "finance/convert").await.unwrap(),
            Some(deprecated)
        );

        let cleared = state("finance/convert", false);
        let audit = AuditEvent::now(
            &tenant,
            "admin",
            "skill.undeprecated",
            "finance/convert",
            json!({}),
        );
        store
            .put_skill_state(&tenant, &cleared, &audit)
            .await
            .unwrap();
        assert_eq!(
            store.skill_state(&tenant, "finance/convert").await.unwrap(),
            Some(cleared.clone())
        );

        let other = state("travel/search", true);
        let audit = AuditEvent::now(
            &tenant,
            "admin",
            "skill.deprecated",
            "travel/search",
            json!({}),
        );
        store
            .put_skill_state(&tenant, &other, &audit)
            .await
            .unwrap();
        assert_eq!(
            store.skill_states(&tenant).await.unwrap(),
            vec![cleared, other]
        );
    }

    pub async fn skill_state_writes_its_audit_event(store: &dyn Store) {
        let tenant = TenantId::new("acme");
        let audit = AuditEvent::now(
            &tenant,
            "bob",
            "skill.deprecated",
            "a/b",
            json!({"reason": "old"}),
        );
        store
            .put_skill_state(&tenant, &state("a/b", true), &audit)
            .await
            .unwrap();
        assert_eq!(
            store.list_audit(&tenant, None, 10).await.unwrap(),
            vec![audit]
        );
    }

    pub async fn tenants_never_see_each_others_rows(store: &dyn Store) {
        let acme = TenantId::new("acme");
        let globex = TenantId::new("globex");
        let audit = AuditEvent::now(&acme, "a", "skill.deprecated", "a/b", json!({}));
        store
            .put_skill_state(&acme, &state("a/b", true), &audit)
            .await
            .unwrap();
        store
            .insert_execution(&execution(&acme, "e1", "a/b", ExecutionStatus::Running))
            .await
            .unwrap();

        assert_eq!(store.skill_state(&globex, "a/b").await.unwrap(), None);
        assert!(store.skill_states(&globex).await.unwrap().is_empty());
        assert_eq!(store.get_execution(&globex, "e1").await.unwrap(), None);
        let listed = store
            .list_executions(&globex, &ExecutionFilter::default(), 10)
            .await
            .unwrap();
        assert!(listed.is_empty());
        assert!(
            store
                .list_audit(&globex, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let update = ExecutionUpdate {
            status: Some(ExecutionStatus::Cancelled),
            ..Default::default()
        };
        assert!(
            !store
                .update_execution(&globex, "e1", &update)
                .await
                .unwrap()
        );
        let kept = store.get_execution(&acme, "e1").await.unwrap().unwrap();
        assert_eq!(kept.status, ExecutionStatus::Running);
    }

    pub async fn execution_lifecycle(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let created = execution(&tenant, "0001", "finance/convert", ExecutionStatus::Pending);
        store.insert_execution(&created).await.unwrap();
        assert_eq!(
            store.get_execution(&tenant, "0001").await.unwrap(),
            Some(created.clone())
        );

        let started = created.created_at + Duration::milliseconds(5);
        let running = ExecutionUpdate {
            status: Some(ExecutionStatus::Running),
            runner_id: Some("runner-1".to_owned()),
            attempts: Some(1),
            started_at: Some(started),
            ..Default::default()
        };
        assert!(
            store
                .update_execution(&tenant, "0001", &running)
                .await
                .unwrap()
        );

        let finished = started + Duration::milliseconds(40);
        let done = ExecutionUpdate {
            status: Some(ExecutionStatus::Succeeded),
            output: Some(json!({"converted": 92.5})),
            cost: Some(0.25),
            finished_at: Some(finished),
            ..Default::default()
        };
        assert!(
            store
                .update_execution(&tenant, "0001", &done)
                .await
                .unwrap()
        );

        let stored = store.get_execution(&tenant, "0001").await.unwrap().unwrap();
        assert_eq!(stored.status, ExecutionStatus::Succeeded);
        assert_eq!(stored.runner_id.as_deref(), Some("runner-1"));
        assert_eq!(stored.attempts, 1);
        assert_eq!(stored.output, Some(json!({"converted": 92.5})));
        assert_eq!(stored.error, None);
        assert_eq!(stored.cost, 0.25);
        assert_eq!(stored.payload, created.payload);
        assert_eq!(stored.started_at, Some(started));
        assert_eq!(stored.finished_at, Some(finished));
        assert!(
            !store
                .update_execution(&tenant, "missing", &done)
                .await
                .unwrap()
        );
    }

    pub async fn execution_listing_filters_and_pages(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let base = skillos_store::now() - chrono::Duration::hours(1);
        for (index, skill, status) in [
            (1, "a/x", ExecutionStatus::Succeeded),
            (2, "a/y", ExecutionStatus::Failed),
            (3, "a/x", ExecutionStatus::Failed),
            (4, "a/x", ExecutionStatus::Succeeded),
            (5, "a/y", ExecutionStatus::Succeeded),
        ] {
            let id = format!("e{index:03}");
            let mut row = execution(&tenant, &id, skill, status);
            row.created_at = base + chrono::Duration::seconds(index);
            store.insert_execution(&row).await.unwrap();
        }
        let ids =
            |executions: Vec<Execution>| executions.into_iter().map(|e| e.id).collect::<Vec<_>>();

        let all = store
            .list_executions(&tenant, &ExecutionFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(ids(all), ["e005", "e004", "e003", "e002", "e001"]);

        let filter = ExecutionFilter {
            skill_id: Some("a/x".to_owned()),
            ..Default::default()
        };
        let first = store.list_executions(&tenant, &filter, 2).await.unwrap();
        assert_eq!(ids(first.clone()), ["e004", "e003"]);
        let next = ExecutionFilter {
            before_id: Some(first[1].id.clone()),
            ..filter
        };
        assert_eq!(
            ids(store.list_executions(&tenant, &next, 2).await.unwrap()),
            ["e001"]
        );

        let failed = ExecutionFilter {
            statuses: vec![ExecutionStatus::Failed],
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_executions(&tenant, &failed, 10).await.unwrap()),
            ["e003", "e002"]
        );
        let either = ExecutionFilter {
            statuses: vec![ExecutionStatus::Failed, ExecutionStatus::Running],
            skill_id: Some("a/x".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_executions(&tenant, &either, 10).await.unwrap()),
            ["e003"]
        );
        // [after, before): the second and third executions.
        let window = ExecutionFilter {
            created_after: Some(base + chrono::Duration::seconds(2)),
            created_before: Some(base + chrono::Duration::seconds(4)),
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_executions(&tenant, &window, 10).await.unwrap()),
            ["e003", "e002"]
        );
        let succeeded_since = ExecutionFilter {
            created_after: Some(base + chrono::Duration::seconds(4)),
            statuses: vec![ExecutionStatus::Succeeded],
            ..Default::default()
        };
        assert_eq!(
            ids(store
                .list_executions(&tenant, &succeeded_since, 10)
                .await
                .unwrap()),
            ["e005", "e004"]
        );
    }

    pub async fn audit_listing_pages_in_order(store: &dyn Store) {
        let tenant = TenantId::default_tenant();
        let mut written = Vec::new();
        for index in 0..5 {
            let event = AuditEvent::now(
                &tenant,
                "svc",
                "test.event",
                &format!("t{index}"),
                json!({"i": index}),
            );
            store.append_audit(&event).await.unwrap();
            written.push(event);
        }
        let first = store.list_audit(&tenant, None, 3).await.unwrap();
        assert_eq!(first, written[..3]);
        let rest = store
            .list_audit(&tenant, Some(&first[2].id), 10)
            .await
            .unwrap();
        assert_eq!(rest, written[3..]);
    }

    pub async fn skill_vectors_are_cached_per_model_and_text(store: &dyn Store) {
        let vector = |text_hash: &str, values: &[f32]| skillos_store::SkillVector {
            text_hash: text_hash.to_owned(),
            vector: values.to_vec(),
        };
        store
            .put_skill_vectors(
                "m1",
                &[vector("a", &[0.5, -1.25, 3.0e-7]), vector("b", &[1.0])],
            )
            .await
            .unwrap();
        // A second write of the same (model, text) keeps the first vector.
        store
            .put_skill_vectors("m1", &[vector("a", &[9.0])])
            .await
            .unwrap();
        store
            .put_skill_vectors("m2", &[vector("a", &[2.0, 2.0])])
            .await
            .unwrap();
        let hashes = vec!["a".to_owned(), "b".to_owned(), "missing".to_owned()];
        let mut found = store.skill_vectors("m1", &hashes).await.unwrap();
        found.sort_by(|x, y| x.text_hash.cmp(&y.text_hash));
        assert_eq!(
            found,
            [vector("a", &[0.5, -1.25, 3.0e-7]), vector("b", &[1.0])]
        );
        let other = store.skill_vectors("m2", &hashes).await.unwrap();
        assert_eq!(other, [vector("a", &[2.0, 2.0])]);
        let many: Vec<String> = (0..1200).map(|i| format!("h{i}")).collect();
        assert!(store.skill_vectors("m1", &many).await.unwrap().is_empty());
    }

    pub async fn routing_feedback_round_trip(store: &dyn Store) {
        let feedback = |id: &str, tenant: &str| skillos_store::RoutingFeedback {
            id: id.to_owned(),
            tenant_id: TenantId::new(tenant),
            query: "Переведи 100 долларов".to_owned(),
            query_key: "доллар перевед".to_owned(),
            routed_skill_id: Some("finance/get_exchange_rates".to_owned()),
            expected_skill_id: Some("finance/convert_currency".to_owned()),
            source: "cli".to_owned(),
            comment: String::new(),
            execution_id: None,
            principal: "alice".to_owned(),
            created_at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
        };
        store.insert_feedback(&feedback("01", "t1")).await.unwrap();
        store.insert_feedback(&feedback("02", "t2")).await.unwrap();
        let all = store.all_feedback().await.unwrap();
        assert_eq!(all, [feedback("01", "t1"), feedback("02", "t2")]);
    }

    pub async fn api_keys_round_trip_and_revoke_once(store: &dyn Store) {
        let tenant = TenantId::new("t1");
        let key = skillos_store::ApiKey {
            id: "0123456789abcdef".to_owned(),
            tenant_id: tenant.clone(),
            name: "ci".to_owned(),
            secret_sha256: "ab".repeat(32),
            roles: vec!["operator".to_owned(), "approver".to_owned()],
            created_by: "admin".to_owned(),
            created_at: skillos_store::now(),
            expires_at: Some(skillos_store::now() + Duration::days(1)),
            revoked_at: None,
        };
        let audit = AuditEvent::now(&tenant, "admin", "api_key.created", &key.id, json!({}));
        store.insert_api_key(&key, &audit).await.unwrap();
        assert_eq!(store.api_key(&key.id).await.unwrap().as_ref(), Some(&key));
        assert!(store.api_key("ffffffffffffffff").await.unwrap().is_none());
        assert_eq!(
            store.list_api_keys(Some(&tenant)).await.unwrap(),
            std::slice::from_ref(&key)
        );
        assert!(
            store
                .list_api_keys(Some(&TenantId::new("t2")))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.list_api_keys(None).await.unwrap().len(), 1);
        let at = skillos_store::now();
        let revoke = AuditEvent::now(&tenant, "admin", "api_key.revoked", &key.id, json!({}));
        assert!(store.revoke_api_key(&key.id, at, &revoke).await.unwrap());
        assert!(!store.revoke_api_key(&key.id, at, &revoke).await.unwrap());
        assert_eq!(
            store.api_key(&key.id).await.unwrap().unwrap().revoked_at,
            Some(at)
        );
        let audit = store.list_audit(&tenant, None, 10).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["api_key.created", "api_key.revoked"]);
    }

    pub async fn circuit_writes_are_compare_and_set(store: &dyn Store) {
        use skillos_store::{Circuit, CircuitState};
        let tenant = TenantId::new("t1");
        let now = skillos_store::now();
        let closed = Circuit {
            tenant_id: tenant.clone(),
            skill_id: "a/b".to_owned(),
            state: CircuitState::Closed,
            failures: 1,
            opened_at: None,
            probe_expires_at: None,
            version: 1,
            updated_at: now,
        };
        assert!(store.put_circuit(&closed, None).await.unwrap());
        assert!(
            !store.put_circuit(&closed, None).await.unwrap(),
            "inserted once"
        );
        let open = Circuit {
            state: CircuitState::Open,
            failures: 2,
            opened_at: Some(now),
            version: 2,
            ..closed.clone()
        };
        assert!(store.put_circuit(&open, Some(1)).await.unwrap());
        // A writer that read version 1 loses.
        assert!(!store.put_circuit(&closed, Some(1)).await.unwrap());
        assert_eq!(store.circuit(&tenant, "a/b").await.unwrap(), Some(open));
        assert!(
            store
                .circuit(&TenantId::new("t2"), "a/b")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn budget_reservations_are_all_or_nothing_and_settle_once(store: &dyn Store) {
        use skillos_store::{BudgetKey, CounterKey, Reservation, ReserveCheck, UsageDelta};
        let tenant = TenantId::new("t1");
        let counter = |scope: &str, key: &str| CounterKey {
            budget: BudgetKey {
                scope: scope.to_owned(),
                scope_key: key.to_owned(),
                period: "day".to_owned(),
            },
            window: "2026-11-24".to_owned(),
            from_day: "2026-11-24".to_owned(),
            to_day: "2026-11-25".to_owned(),
        };
        let tenant_day = counter("tenant", "");
        let skill_day = counter("skill", "a/b");
        let reservation = |id: &str, amount: f64| Reservation {
            id: id.to_owned(),
            tenant_id: tenant.clone(),
            amount,
            counters: vec![tenant_day.clone(), skill_day.clone()],
            expires_at: skillos_store::now() + Duration::seconds(60),
            created_at: skillos_store::now(),
        };
        let checks = [
            ReserveCheck {
                counter: tenant_day.clone(),
                limit: 10.0,
            },
            ReserveCheck {
                counter: skill_day.clone(),
                limit: 3.0,
            },
        ];
        assert_eq!(
            store
                .reserve_budget(&reservation("r1", 2.0), &checks)
                .await
                .unwrap(),
            None
        );
        // The skill's limit refuses: neither counter changes.
        assert_eq!(
            store
                .reserve_budget(&reservation("r2", 2.0), &checks)
                .await
                .unwrap(),
            Some(1)
        );
        let counters = store
            .budget_counters(&tenant, &[tenant_day.clone(), skill_day.clone()])
            .await
            .unwrap();
        assert_eq!(
            counters.iter().map(|c| c.reserved).collect::<Vec<_>>(),
            [2.0, 2.0]
        );
        // Settled once, with usage; a second settlement changes nothing.
        let usage = UsageDelta {
            day: "2026-11-24".to_owned(),
            skill_id: "a/b".to_owned(),
            principal: "alice".to_owned(),
            cost: 1.5,
            input_tokens: 10,
            output_tokens: 5,
        };
        assert!(
            store
                .settle_budget(&tenant, "r1", Some(1.5), Some(&usage))
                .await
                .unwrap()
        );
        assert!(
            !store
                .settle_budget(&tenant, "r1", Some(1.5), None)
                .await
                .unwrap()
        );
        let counters = store
            .budget_counters(&tenant, std::slice::from_ref(&tenant_day))
            .await
            .unwrap();
        assert_eq!((counters[0].spent, counters[0].reserved), (1.5, 0.0));
        let rows = store
            .list_usage(&tenant, &Default::default())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].executions, rows[0].cost, rows[0].input_tokens),
            (1, 1.5, 10)
        );
        assert!(
            store
                .list_usage(&TenantId::new("t2"), &Default::default())
                .await
                .unwrap()
                .is_empty()
        );
        // A counter created later starts from the usage already settled in its window: the
        // principal's day counter sees alice's 1.5.
        let alice_day = counter("principal", "alice");
        let late = Reservation {
            counters: vec![alice_day.clone()],
            ..reservation("r4", 1.0)
        };
        let check = [ReserveCheck {
            counter: alice_day.clone(),
            limit: 2.0,
        }];
        assert_eq!(store.reserve_budget(&late, &check).await.unwrap(), Some(0));
        let check = [ReserveCheck {
            counter: alice_day.clone(),
            limit: 2.5,
        }];
        assert_eq!(store.reserve_budget(&late, &check).await.unwrap(), None);
        let counters = store
            .budget_counters(&tenant, std::slice::from_ref(&alice_day))
            .await
            .unwrap();
        assert_eq!((counters[0].spent, counters[0].reserved), (1.5, 1.0));
        assert!(
            store
                .settle_budget(&tenant, "r4", None, None)
                .await
                .unwrap()
        );

        // Expired reservations are listed for release.
        let mut stale = reservation("r3", 1.0);
        stale.expires_at = skillos_store::now() - Duration::seconds(1);
        assert_eq!(store.reserve_budget(&stale, &checks).await.unwrap(), None);
        let expired = store
            .expired_reservations(skillos_store::now(), 10)
            .await
            .unwrap();
        assert_eq!(expired, [(tenant.clone(), "r3".to_owned())]);
        assert!(
            store
                .settle_budget(&tenant, "r3", None, None)
                .await
                .unwrap()
        );
        let counters = store.budget_counters(&tenant, &[skill_day]).await.unwrap();
        assert_eq!((counters[0].spent, counters[0].reserved), (1.5, 0.0));
    }

    fn held(
        tenant: &TenantId,
        id: &str,
        required: i32,
        expire_in: Duration,
    ) -> (Execution, skillos_store::Approval) {
        let mut execution = super::execution(
            tenant,
            &format!("e-{id}"),
            "a/b",
            ExecutionStatus::PendingApproval,
        );
        execution.approval_id = Some(id.to_owned());
        let approval = skillos_store::Approval {
            id: id.to_owned(),
            tenant_id: tenant.clone(),
            execution_id: execution.id.clone(),
            skill_id: "a/b".to_owned(),
            skill_version: "1.0.0".to_owned(),
            payload_sha256: "00".repeat(32),
            risk_tier: Some("high".to_owned()),
            requester: "alice".to_owned(),
            required,
            state: skillos_store::ApprovalState::Pending,
            policy_id: "p".to_owned(),
            reason: "skill_policy".to_owned(),
            approver_group: None,
            run_context: json!({"timeout_ms": 1000}),
            expire_at: skillos_store::now() + expire_in,
            created_at: skillos_store::now(),
            resolved_at: None,
            decisions: Vec::new(),
        };
        (execution, approval)
    }

    fn decision(approver: &str, approve: bool) -> skillos_store::ApprovalDecision {
        skillos_store::ApprovalDecision {
            approver: approver.to_owned(),
            approve,
            comment: String::new(),
            decided_at: skillos_store::now(),
        }
    }

    async fn decide(
        store: &dyn Store,
        tenant: &TenantId,
        id: &str,
        who: &str,
        approve: bool,
    ) -> skillos_store::Decided {
        let audit = AuditEvent::now(tenant, who, "approval.decided", id, json!({}));
        store
            .decide_approval(tenant, id, &decision(who, approve), &audit)
            .await
            .unwrap()
    }

    pub async fn approvals_count_distinct_approvers_and_move_their_execution(store: &dyn Store) {
        use skillos_store::{ApprovalState, Decided};
        let tenant = TenantId::new("t1");
        let (execution, approval) = held(&tenant, "ap1", 2, Duration::hours(1));
        let audit = AuditEvent::now(&tenant, "alice", "approval.created", "ap1", json!({}));
        store
            .insert_approval(&execution, &approval, &audit, None)
            .await
            .unwrap();
        assert_eq!(
            store.approval(&tenant, "ap1").await.unwrap().unwrap(),
            approval
        );
        assert!(
            store
                .approval(&TenantId::new("t2"), "ap1")
                .await
                .unwrap()
                .is_none()
        );
        let got = store
            .get_execution(&tenant, &execution.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.approval_id.as_deref(), Some("ap1"));

        let Decided::Recorded(first) = decide(store, &tenant, "ap1", "bob", true).await else {
            panic!()
        };
        assert_eq!(first.state, ApprovalState::Pending);
        assert_eq!(
            decide(store, &tenant, "ap1", "bob", true).await,
            Decided::AlreadyDecided
        );
        let Decided::Recorded(second) = decide(store, &tenant, "ap1", "carol", true).await else {
            panic!()
        };
        assert_eq!(second.state, ApprovalState::Approved);
        assert_eq!(second.decisions.len(), 2);
        assert_eq!(
            decide(store, &tenant, "ap1", "dave", true).await,
            Decided::NotPending(ApprovalState::Approved)
        );
        let got = store
            .get_execution(&tenant, &execution.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.status, ExecutionStatus::Pending);
        let pending = store.pending_executions(None, 10).await.unwrap();
        assert_eq!(
            pending.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            [execution.id.as_str()]
        );

        // One rejection rejects; the execution is rejected and never pending.
        let (execution, approval) = held(&tenant, "ap2", 2, Duration::hours(1));
        let audit = AuditEvent::now(&tenant, "alice", "approval.created", "ap2", json!({}));
        store
            .insert_approval(&execution, &approval, &audit, None)
            .await
            .unwrap();
        let audit = AuditEvent::now(&tenant, "bob", "approval.decided", "ap2", json!({}));
        let Decided::Recorded(rejected) = store
            .decide_approval(&tenant, "ap2", &decision("bob", false), &audit)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(rejected.state, ApprovalState::Rejected);
        let got = store
            .get_execution(&tenant, &execution.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.status, ExecutionStatus::Rejected);

        let listed = store
            .list_approvals(
                &tenant,
                &skillos_store::ApprovalFilter {
                    states: vec![ApprovalState::Rejected],
                    ..Default::default()
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["ap2"]
        );
        let all = store
            .list_approvals(&tenant, &Default::default(), 10)
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["ap2", "ap1"]
        );
        assert!(
            store
                .list_approvals(&TenantId::new("t2"), &Default::default(), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn an_approve_racing_the_expiry_ends_in_exactly_one_state(store: &dyn Store) {
        use skillos_store::{ApprovalState, Decided};
        let tenant = TenantId::new("t1");
        for round in 0..10 {
            let id = format!("race{round}");
            let (execution, approval) = held(&tenant, &id, 1, Duration::milliseconds(30));
            let audit = AuditEvent::now(&tenant, "alice", "approval.created", &id, json!({}));
            store
                .insert_approval(&execution, &approval, &audit, None)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            let decide_audit = AuditEvent::now(&tenant, "bob", "approval.decided", &id, json!({}));
            let now = skillos_store::now() + Duration::milliseconds(5);
            let bob = decision("bob", true);
            let (decided, expired) = tokio::join!(
                store.decide_approval(&tenant, &id, &bob, &decide_audit),
                store.expire_approval(&tenant, &id, now),
            );
            let (decided, expired) = (decided.unwrap(), expired.unwrap());
            let stored = store.approval(&tenant, &id).await.unwrap().unwrap();
            let execution = store
                .get_execution(&tenant, &execution.id)
                .await
                .unwrap()
                .unwrap();
            match stored.state {
                ApprovalState::Approved => {
                    assert!(matches!(decided, Decided::Recorded(_)), "{decided:?}");
                    assert!(expired.is_none());
                    assert_eq!(execution.status, ExecutionStatus::Pending);
                }
                ApprovalState::Expired => {
                    assert!(!matches!(decided, Decided::Recorded(_)), "{decided:?}");
                    assert_eq!(execution.status, ExecutionStatus::Rejected);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    pub async fn an_idempotency_key_is_claimed_once_with_its_execution(store: &dyn Store) {
        use skillos_store::IdempotencyClaim;
        let tenant = TenantId::new("t1");
        let claim = IdempotencyClaim {
            tenant_id: tenant.clone(),
            principal: "alice".to_owned(),
            method: "Run".to_owned(),
            key: "k1".to_owned(),
            request_sha256: "aa".repeat(32),
            expires_at: skillos_store::now() + Duration::hours(1),
            response: None,
        };
        let first = super::execution(&tenant, "i1", "a/b", ExecutionStatus::Running);
        assert_eq!(
            store
                .insert_execution_claimed(&first, &claim)
                .await
                .unwrap(),
            None
        );
        // A second claim stores nothing and names the holder.
        let second = super::execution(&tenant, "i2", "a/b", ExecutionStatus::Running);
        let held = store
            .insert_execution_claimed(&second, &claim)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((held.execution_id.as_str(), held.response), ("i1", None));
        assert!(store.get_execution(&tenant, "i2").await.unwrap().is_none());
        store
            .complete_idempotency(&claim, &json!({"execution_id": "i1"}))
            .await
            .unwrap();
        let record = store
            .idempotency_record(&claim, skillos_store::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.response, Some(json!({"execution_id": "i1"})));
        // Other principals and methods are other key spaces.
        let other = IdempotencyClaim {
            principal: "bob".to_owned(),
            ..claim.clone()
        };
        assert!(
            store
                .idempotency_record(&other, skillos_store::now())
                .await
                .unwrap()
                .is_none()
        );
        // An expired key is replaced by the next claim, and swept.
        let expired = IdempotencyClaim {
            key: "k2".to_owned(),
            expires_at: skillos_store::now() - Duration::seconds(1),
            ..claim.clone()
        };
        let third = super::execution(&tenant, "i3", "a/b", ExecutionStatus::Running);
        assert_eq!(
            store
                .insert_execution_claimed(&third, &expired)
                .await
                .unwrap(),
            None
        );
        let fourth = super::execution(&tenant, "i4", "a/b", ExecutionStatus::Running);
        assert_eq!(
            store
                .insert_execution_claimed(&fourth, &expired)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .delete_expired_idempotency(skillos_store::now())
                .await
                .unwrap(),
            1
        );
    }

    pub async fn jobs_are_claimed_once_by_priority_and_due_time(store: &dyn Store) {
        use skillos_store::JobState;
        let tenant = TenantId::new("acme");
        let hosted = vec!["acme/a/b".to_owned()];
        let mut later = super::job(&tenant, "j0", "a/b", 9);
        later.next_run_at = Some(skillos_store::now() + Duration::hours(1));
        for job in [
            later,
            super::job(&tenant, "j1", "a/b", 0),
            super::job(&tenant, "j2", "a/b", 5),
            super::job(&tenant, "j3", "c/d", 9),
            super::job(&TenantId::new("other"), "j4", "a/b", 9),
        ] {
            assert_eq!(store.insert_job(&job, None).await.unwrap(), None);
        }
        let now = skillos_store::now();
        let until = now + Duration::seconds(30);
        let claimed = store
            .claim_jobs(&hosted, "t1", now, until, 1)
            .await
            .unwrap();
        // Highest priority among the due jobs of hosted skills of the hosting tenant.
        assert_eq!(claimed.len(), 1);
        let first = &claimed[0];
        assert_eq!(
            (first.id.as_str(), first.state, first.attempt),
            ("j2", JobState::Running, 1)
        );
        assert_eq!(first.lease_token.as_deref(), Some("t1"));
        assert_eq!(first.lease_expires_at, Some(until));
        assert_eq!(first.next_run_at, None);
        let rest = store
            .claim_jobs(&hosted, "t2", now, until, 10)
            .await
            .unwrap();
        assert_eq!(
            rest.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["j1"]
        );
        assert!(
            store
                .claim_jobs(&hosted, "t3", now, until, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .claim_jobs(&[], "t3", now, until, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn job_changes_are_fenced_by_lease_and_state(store: &dyn Store) {
        use skillos_store::{AttemptChange, JobFence, JobState, JobTransition};
        let tenant = TenantId::new("acme");
        store
            .insert_job(&super::job(&tenant, "j1", "a/b", 0), None)
            .await
            .unwrap();
        let now = skillos_store::now();
        let hosted = vec!["acme/a/b".to_owned()];
        store
            .claim_jobs(&hosted, "t1", now, now + Duration::seconds(30), 1)
            .await
            .unwrap();
        let later = now + Duration::seconds(60);
        assert!(store.renew_job_lease("j1", "t1", later).await.unwrap());
        assert!(!store.renew_job_lease("j1", "stale", later).await.unwrap());
        // A retry: back in the queue with the error, the lease cleared.
        let retry = JobTransition {
            next_run_at: Some(now + Duration::seconds(5)),
            execution_id: Some("e1".to_owned()),
            last_error: Some(skillos_store::ExecutionError::retryable("BOOM", "boom")),
            ..JobTransition::to(JobState::Queued)
        };
        let stale = JobFence::Lease("stale".to_owned());
        assert!(
            !store
                .transition_job(&tenant, "j1", &stale, &retry, None)
                .await
                .unwrap()
        );
        let fence = JobFence::Lease("t1".to_owned());
        assert!(
            store
                .transition_job(&tenant, "j1", &fence, &retry, None)
                .await
                .unwrap()
        );
        // The same lease cannot record a second outcome.
        assert!(
            !store
                .transition_job(&tenant, "j1", &fence, &retry, None)
                .await
                .unwrap()
        );
        let job = store.get_job(&tenant, "j1").await.unwrap().unwrap();
        assert_eq!((job.state, job.attempt), (JobState::Queued, 1));
        // Attempts are found through the executions that name their job.
        let mut attempt = super::execution(&tenant, "e1", "a/b", ExecutionStatus::Failed);
        attempt.job_id = Some("j1".to_owned());
        store.insert_execution(&attempt).await.unwrap();
        let ids = vec!["j1".to_owned(), "j9".to_owned()];
        assert_eq!(
            store.attempt_ids(&tenant, &ids).await.unwrap(),
            [("j1".to_owned(), "e1".to_owned())]
        );
        assert!(
            store
                .attempt_ids(&TenantId::new("other"), &ids)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!((job.lease_token, job.lease_expires_at), (None, None));
        assert_eq!(job.execution_id.as_deref(), Some("e1"));
        assert_eq!(
            job.last_error,
            Some(skillos_store::ExecutionError::retryable("BOOM", "boom"))
        );
        // Another tenant cannot move it.
        let queued = JobFence::State(JobState::Queued);
        let cancel = JobTransition::to(JobState::Cancelled);
        assert!(
            !store
                .transition_job(&TenantId::new("other"), "j1", &queued, &cancel, None)
                .await
                .unwrap()
        );
        // Dead, then requeued as a new chain with the audit event in the same transaction.
        let dead = JobTransition::to(JobState::Dead);
        assert!(
            store
                .transition_job(&tenant, "j1", &queued, &dead, None)
                .await
                .unwrap()
        );
        let job = store.get_job(&tenant, "j1").await.unwrap().unwrap();
        assert!(job.finished_at.is_some());
        let requeue = JobTransition {
            next_run_at: Some(now),
            attempt: AttemptChange::Reset,
            max_attempts: Some(7),
            ..JobTransition::to(JobState::Queued)
        };
        let audit = AuditEvent::now(&tenant, "alice", "job.requeued", "j1", json!({}));
        let was_dead = JobFence::State(JobState::Dead);
        assert!(
            store
                .transition_job(&tenant, "j1", &was_dead, &requeue, Some(&audit))
                .await
                .unwrap()
        );
        assert!(
            !store
                .transition_job(&tenant, "j1", &was_dead, &requeue, Some(&audit))
                .await
                .unwrap()
        );
        let job = store.get_job(&tenant, "j1").await.unwrap().unwrap();
        assert_eq!(
            (job.state, job.attempt, job.max_attempts),
            (JobState::Queued, 0, 7)
        );
        assert_eq!(job.finished_at, None);
        assert_eq!(
            job.last_error,
            Some(skillos_store::ExecutionError::retryable("BOOM", "boom"))
        );
        let audit = store.list_audit(&tenant, None, 10).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|event| event.action == "job.requeued")
                .count(),
            1
        );
        // A refunded attempt does not count.
        let now = skillos_store::now();
        store
            .claim_jobs(&hosted, "t2", now, now + Duration::seconds(30), 1)
            .await
            .unwrap();
        let refund = JobTransition {
            next_run_at: Some(now),
            attempt: AttemptChange::Refund,
            ..JobTransition::to(JobState::Queued)
        };
        let fence = JobFence::Lease("t2".to_owned());
        assert!(
            store
                .transition_job(&tenant, "j1", &fence, &refund, None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.get_job(&tenant, "j1").await.unwrap().unwrap().attempt,
            0
        );
    }

    pub async fn jobs_list_by_filter_and_dead_letters_by_finish_time(store: &dyn Store) {
        use skillos_store::{JobFence, JobFilter, JobSource, JobState, JobTransition};
        let tenant = TenantId::new("acme");
        for id in ["j1", "j2", "j3", "j4"] {
            let mut job = super::job(&tenant, id, if id == "j4" { "c/d" } else { "a/b" }, 0);
            if id == "j3" {
                job.source = JobSource::Webhook;
                job.source_id = "hook".to_owned();
            }
            store.insert_job(&job, None).await.unwrap();
        }
        store
            .insert_job(&super::job(&TenantId::new("other"), "j5", "a/b", 0), None)
            .await
            .unwrap();
        let ids =
            |jobs: Vec<skillos_store::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
        let all = store
            .list_jobs(&tenant, &JobFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(ids(all), ["j4", "j3", "j2", "j1"]);
        let page = JobFilter {
            skill_id: Some("a/b".to_owned()),
            before_id: Some("j3".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_jobs(&tenant, &page, 10).await.unwrap()),
            ["j2", "j1"]
        );
        let webhook = JobFilter {
            source: Some(JobSource::Webhook),
            source_id: Some("hook".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_jobs(&tenant, &webhook, 10).await.unwrap()),
            ["j3"]
        );
        let queued = JobFence::State(JobState::Queued);
        for id in ["j2", "j1", "j4"] {
            let dead = JobTransition::to(JobState::Dead);
            assert!(
                store
                    .transition_job(&tenant, id, &queued, &dead, None)
                    .await
                    .unwrap()
            );
        }
        let states = JobFilter {
            states: vec![JobState::Dead, JobState::Cancelled],
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_jobs(&tenant, &states, 10).await.unwrap()),
            ["j4", "j2", "j1"]
        );
        let dead = store.list_dead_jobs(&tenant, None, None, 2).await.unwrap();
        assert_eq!(ids(dead.clone()), ["j4", "j1"]);
        let last = dead.last().unwrap();
        let after = (last.finished_at.unwrap(), last.id.clone());
        assert_eq!(
            ids(store
                .list_dead_jobs(&tenant, None, Some(after), 2)
                .await
                .unwrap()),
            ["j2"]
        );
        assert_eq!(
            ids(store
                .list_dead_jobs(&tenant, Some("c/d"), None, 10)
                .await
                .unwrap()),
            ["j4"]
        );
        assert!(
            store
                .list_dead_jobs(&TenantId::new("other"), None, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let waiting = store
            .jobs_in_state(JobState::Queued, None, 10)
            .await
            .unwrap();
        assert_eq!(ids(waiting), ["j3", "j5"]);
    }

    pub async fn an_expired_lease_is_claimed_again(store: &dyn Store) {
        use skillos_store::{IdempotencyClaim, JobFence, JobState, JobTransition};
        let tenant = TenantId::new("acme");
        let claim = IdempotencyClaim {
            tenant_id: tenant.clone(),
            principal: "alice".to_owned(),
            method: "EnqueueJob".to_owned(),
            key: "k1".to_owned(),
            request_sha256: "aa".repeat(32),
            expires_at: skillos_store::now() + Duration::hours(1),
            response: Some(json!({"job_id": "j1"})),
        };
        assert_eq!(
            store
                .insert_job(&super::job(&tenant, "j1", "a/b", 0), Some(&claim))
                .await
                .unwrap(),
            None
        );
        // The key is held: the second job is not stored.
        let held = store
            .insert_job(&super::job(&tenant, "j2", "a/b", 0), Some(&claim))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (held.execution_id.as_str(), held.response),
            ("j1", Some(json!({"job_id": "j1"})))
        );
        assert!(store.get_job(&tenant, "j2").await.unwrap().is_none());
        let hosted = vec!["acme/a/b".to_owned()];
        let now = skillos_store::now();
        store
            .claim_jobs(&hosted, "t1", now, now + Duration::seconds(1), 1)
            .await
            .unwrap();
        // Not yet expired: nobody else takes it.
        assert!(
            store
                .claim_jobs(&hosted, "t2", now, now, 1)
                .await
                .unwrap()
                .is_empty()
        );
        let later = now + Duration::seconds(2);
        let again = store
            .claim_jobs(&hosted, "t2", later, later + Duration::seconds(30), 1)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].attempt, again[0].lease_token.as_deref()),
            (2, Some("t2"))
        );
        // The first worker's outcome is refused; renewing its lease fails.
        let done = JobTransition::to(JobState::Succeeded);
        assert!(
            !store
                .transition_job(
                    &tenant,
                    "j1",
                    &JobFence::Lease("t1".to_owned()),
                    &done,
                    None
                )
                .await
                .unwrap()
        );
        assert!(!store.renew_job_lease("j1", "t1", later).await.unwrap());
        assert!(
            store
                .transition_job(
                    &tenant,
                    "j1",
                    &JobFence::Lease("t2".to_owned()),
                    &done,
                    None
                )
                .await
                .unwrap()
        );
    }

    pub async fn a_delivery_is_recorded_once_with_its_job(store: &dyn Store) {
        use skillos_store::{Delivery, JobFilter};
        let tenant = TenantId::new("acme");
        let delivery = Delivery {
            tenant_id: tenant.clone(),
            trigger_id: "hook".to_owned(),
            delivery_id: "msg_1".to_owned(),
            expires_at: skillos_store::now() + Duration::hours(1),
        };
        let first = super::job(&tenant, "j1", "a/b", 0);
        assert_eq!(
            store.insert_delivery_job(&first, &delivery).await.unwrap(),
            None
        );
        // The same delivery again: the first job, and nothing stored.
        let second = super::job(&tenant, "j2", "a/b", 0);
        assert_eq!(
            store
                .insert_delivery_job(&second, &delivery)
                .await
                .unwrap()
                .as_deref(),
            Some("j1")
        );
        assert!(store.get_job(&tenant, "j2").await.unwrap().is_none());
        let now = skillos_store::now();
        assert_eq!(
            store
                .delivery_job("hook", "msg_1", now)
                .await
                .unwrap()
                .as_deref(),
            Some("j1")
        );
        assert_eq!(
            store.delivery_job("hook", "msg_9", now).await.unwrap(),
            None
        );
        // Another trigger is another key space.
        let other = Delivery {
            trigger_id: "other".to_owned(),
            ..delivery.clone()
        };
        assert_eq!(
            store.insert_delivery_job(&second, &other).await.unwrap(),
            None
        );
        // An expired record is replaced, and swept.
        let stale = Delivery {
            delivery_id: "msg_2".to_owned(),
            expires_at: skillos_store::now() - Duration::seconds(1),
            ..delivery.clone()
        };
        let third = super::job(&tenant, "j3", "a/b", 0);
        assert_eq!(
            store.insert_delivery_job(&third, &stale).await.unwrap(),
            None
        );
        let fourth = super::job(&tenant, "j4", "a/b", 0);
        assert_eq!(
            store.insert_delivery_job(&fourth, &stale).await.unwrap(),
            None
        );
        let jobs = store
            .list_jobs(&tenant, &JobFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 4);
        assert_eq!(
            store
                .delete_expired_webhook_rows(skillos_store::now())
                .await
                .unwrap(),
            1
        );
    }

    pub async fn triggers_are_unique_across_tenants_and_rotate_their_secrets(store: &dyn Store) {
        let acme = TenantId::new("acme");
        let audit = || AuditEvent::now(&acme, "alice", "trigger.changed", "hook", json!({}));
        let made = super::trigger("acme", "hook");
        assert!(
            store
                .insert_trigger(&made, &super::secret("hook", "s1", "one"), &audit())
                .await
                .unwrap()
        );
        // The id is taken for every tenant.
        let taken = super::trigger("other", "hook");
        assert!(
            !store
                .insert_trigger(&taken, &super::secret("hook", "s9", "x"), &audit())
                .await
                .unwrap()
        );
        assert_eq!(
            store.trigger(None, "hook").await.unwrap(),
            Some(made.clone())
        );
        assert_eq!(
            store.trigger(Some(&acme), "hook").await.unwrap(),
            Some(made.clone())
        );
        assert!(
            store
                .trigger(Some(&TenantId::new("other")), "hook")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .list_triggers(&TenantId::new("other"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        store
            .insert_trigger(
                &super::trigger("acme", "later"),
                &super::secret("later", "s2", "two"),
                &audit(),
            )
            .await
            .unwrap();
        let ids = |t: Vec<skillos_store::Trigger>| t.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_triggers(&acme, None, 10).await.unwrap()),
            ["hook", "later"]
        );
        assert_eq!(
            ids(store.list_triggers(&acme, Some("hook"), 10).await.unwrap()),
            ["later"]
        );

        // A rotation: both secrets valid during the grace, then only the new one.
        let now = skillos_store::now();
        let grace = now + Duration::seconds(60);
        let rotated = super::secret("hook", "s3", "three");
        assert!(
            store
                .rotate_secret(&acme, &rotated, grace, &audit())
                .await
                .unwrap()
        );
        let valid = store.trigger_secrets("hook", now).await.unwrap();
        assert_eq!(
            valid.iter().map(|s| s.secret.as_str()).collect::<Vec<_>>(),
            ["three", "one"]
        );
        assert_eq!(valid[1].expires_at, Some(grace));
        let after = store
            .trigger_secrets("hook", grace + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(
            after.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["s3"]
        );
        // Another tenant cannot rotate or delete it.
        let other = TenantId::new("other");
        assert!(
            !store
                .rotate_secret(&other, &super::secret("hook", "s4", "x"), grace, &audit())
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_trigger(&other, "hook", &audit())
                .await
                .unwrap()
        );
        assert!(store.delete_trigger(&acme, "hook", &audit()).await.unwrap());
        assert!(store.trigger(None, "hook").await.unwrap().is_none());
        assert!(store.trigger_secrets("hook", now).await.unwrap().is_empty());
    }

    pub async fn a_schedule_fires_each_nominal_time_once(store: &dyn Store) {
        use skillos_store::{JobSource, ManualFire, ScheduleFilter, ScheduleState};
        let tenant = TenantId::new("acme");
        let t0 = skillos_store::now() - Duration::seconds(5);
        let t1 = t0 + Duration::minutes(1);
        assert_eq!(
            store
                .insert_schedule(&super::schedule("acme", "s1", t0), None)
                .await
                .unwrap(),
            None
        );
        store
            .insert_schedule(&super::schedule("acme", "s2", t1), None)
            .await
            .unwrap();
        store
            .insert_schedule(&super::schedule("other", "s3", t0), None)
            .await
            .unwrap();
        let due = store.due_schedules(skillos_store::now(), 10).await.unwrap();
        assert_eq!(
            due.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["s1", "s3"]
        );

        let fire = |id: &str| {
            let mut job = super::job(&tenant, id, "a/b", 0);
            job.source = JobSource::Schedule;
            job.source_id = "s1".to_owned();
            job.fire_time = Some(t0);
            job
        };
        let first = fire("j1");
        assert!(
            store
                .fire_schedule("s1", t0, Some(t1), ScheduleState::Active, Some(&first))
                .await
                .unwrap()
        );
        // A second replica firing the same nominal time stores nothing.
        let second = fire("j2");
        assert!(
            !store
                .fire_schedule("s1", t0, Some(t1), ScheduleState::Active, Some(&second))
                .await
                .unwrap()
        );
        assert!(store.get_job(&tenant, "j2").await.unwrap().is_none());
        let s1 = store.get_schedule(&tenant, "s1").await.unwrap().unwrap();
        assert_eq!(
            (s1.next_fire_at, s1.last_fire_at, s1.last_job_id.as_str()),
            (Some(t1), Some(t0), "j1")
        );
        // Even a job made outside the compare-and-set cannot repeat a fire.
        assert!(store.insert_job(&fire("j3"), None).await.is_err());

        // A manual fire, and pause / resume / delete with their audit events.
        let mut manual = super::job(&tenant, "j4", "a/b", 0);
        manual.source = JobSource::Schedule;
        manual.source_id = "s2".to_owned();
        manual.fire_time = Some(skillos_store::now());
        assert_eq!(
            store
                .fire_schedule_now(&tenant, "s2", &manual, None)
                .await
                .unwrap(),
            ManualFire::Fired
        );
        let mut stray = manual.clone();
        stray.id = "j5".to_owned();
        assert_eq!(
            store
                .fire_schedule_now(&TenantId::new("other"), "s2", &stray, None)
                .await
                .unwrap(),
            ManualFire::NoSchedule
        );
        let audit = || AuditEvent::now(&tenant, "alice", "schedule.changed", "s2", json!({}));
        assert!(
            store
                .set_schedule_state(
                    &tenant,
                    "s2",
                    ScheduleState::Active,
                    ScheduleState::Paused,
                    None,
                    &audit()
                )
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_schedule_state(
                    &tenant,
                    "s2",
                    ScheduleState::Active,
                    ScheduleState::Paused,
                    None,
                    &audit()
                )
                .await
                .unwrap()
        );
        assert!(
            !store
                .fire_schedule("s2", t1, None, ScheduleState::Active, None)
                .await
                .unwrap()
        );
        let paused = ScheduleFilter {
            states: vec![ScheduleState::Paused],
            ..Default::default()
        };
        let listed = store.list_schedules(&tenant, &paused, 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["s2"]
        );
        assert_eq!(listed[0].last_job_id, "j4");
        let all = store
            .list_schedules(&tenant, &ScheduleFilter::default(), 1)
            .await
            .unwrap();
        assert_eq!(all[0].id, "s1");
        let after = ScheduleFilter {
            after: Some((all[0].created_at, all[0].id.clone())),
            ..Default::default()
        };
        assert_eq!(
            store.list_schedules(&tenant, &after, 10).await.unwrap()[0].id,
            "s2"
        );
        assert!(
            store
                .delete_schedule(&tenant, "s2", &audit())
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_schedule(&tenant, "s2", &audit())
                .await
                .unwrap()
        );
        assert!(store.get_schedule(&tenant, "s2").await.unwrap().is_none());
    }

    pub async fn flow_steps_are_written_only_under_the_runs_lease(store: &dyn Store) {
        use skillos_store::{
            FlowRun, FlowRunEnd, FlowRunFilter, FlowRunStatus, FlowStep, FlowStepStatus,
        };
        let tenant = TenantId::new("acme");
        let now = skillos_store::now();
        let run = FlowRun {
            id: "r1".to_owned(),
            tenant_id: tenant.clone(),
            flow_id: "f/demo".to_owned(),
            version: "1.0.0".to_owned(),
            document: json!({"id": "f/demo"}),
            definition_sha256: "abc".to_owned(),
            input: json!({"n": 1}),
            status: FlowRunStatus::Running,
            output: None,
            error: None,
            principal: "ann".to_owned(),
            run_context: json!({}),
            lease_token: Some("t1".to_owned()),
            lease_expires_at: Some(now + Duration::seconds(30)),
            execution_id: String::new(),
            retries: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
            parent: None,
        };
        assert_eq!(store.insert_flow_run(&run, None).await.unwrap(), None);
        let mut step = FlowStep {
            run_id: "r1".to_owned(),
            path: "poll[0].check".to_owned(),
            name: "check".to_owned(),
            kind: "skill".to_owned(),
            skill_id: "a/b".to_owned(),
            status: FlowStepStatus::Running,
            attempt: 1,
            input: Some(json!({"n": 1})),
            output: None,
            error: None,
            execution_id: None,
            approval_id: None,
            started_at: now,
            finished_at: None,
        };
        assert!(store.put_flow_step(&step, "t1").await.unwrap());
        step.status = FlowStepStatus::Succeeded;
        step.output = Some(json!({"done": true}));
        step.finished_at = Some(now);
        assert!(
            !store.put_flow_step(&step, "stale").await.unwrap(),
            "another lease"
        );
        assert!(store.put_flow_step(&step, "t1").await.unwrap());
        let steps = store.flow_steps("r1").await.unwrap();
        assert_eq!(steps.len(), 1, "one row per path");
        assert_eq!(steps[0].status, FlowStepStatus::Succeeded);
        assert_eq!(steps[0].output, Some(json!({"done": true})));

        // Not due: its lease holds. Once it expires, another driver claims it.
        assert!(
            store
                .claim_flow_runs("t2", now, now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let later = now + Duration::seconds(31);
        let claimed = store
            .claim_flow_runs("t2", later, later + Duration::seconds(30), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].lease_token.as_deref(), Some("t2"));
        assert!(
            !store.put_flow_step(&step, "t1").await.unwrap(),
            "the old lease is lost"
        );
        assert!(!store.renew_flow_lease("r1", "t1", later).await.unwrap());
        assert!(
            store
                .renew_flow_lease("r1", "t2", later + Duration::seconds(60))
                .await
                .unwrap()
        );

        // Waiting: no lease, due again at its wake time.
        let wait = FlowRunEnd {
            status: FlowRunStatus::Waiting,
            output: None,
            error: None,
            wake_at: Some(later + Duration::hours(1)),
        };
        assert!(store.end_flow_run("r1", "t2", &wait).await.unwrap());
        assert!(
            !store.put_flow_step(&step, "t2").await.unwrap(),
            "a waiting run has no driver"
        );
        assert!(
            store
                .claim_flow_runs("t3", later, later, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.wake_flow_run("r1").await.unwrap());
        let claimed = store
            .claim_flow_runs("t3", skillos_store::now(), later, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let done = FlowRunEnd {
            status: FlowRunStatus::Succeeded,
            output: Some(json!({"ok": true})),
            error: None,
            wake_at: None,
        };
        assert!(store.end_flow_run("r1", "t3", &done).await.unwrap());
        let error = skillos_store::ExecutionError::permanent("CANCELLED", "too late");
        assert!(
            !store.cancel_flow_run(&tenant, "r1", &error).await.unwrap(),
            "it ended"
        );
        let stored = store.get_flow_run(&tenant, "r1").await.unwrap().unwrap();
        assert_eq!(stored.status, FlowRunStatus::Succeeded);
        assert!(stored.finished_at.is_some() && stored.lease_token.is_none());
        assert!(
            store
                .get_flow_run(&TenantId::new("other"), "r1")
                .await
                .unwrap()
                .is_none()
        );

        let second = FlowRun {
            id: "r2".to_owned(),
            ..run.clone()
        };
        store.insert_flow_run(&second, None).await.unwrap();
        let ended = |path: &str, status| FlowStep {
            run_id: "r2".to_owned(),
            path: path.to_owned(),
            status,
            ..step.clone()
        };
        for (path, status) in [
            ("a", FlowStepStatus::Succeeded),
            ("b", FlowStepStatus::Skipped),
            ("c", FlowStepStatus::Failed),
        ] {
            assert!(
                store
                    .put_flow_step(&ended(path, status), "t1")
                    .await
                    .unwrap()
            );
        }
        assert!(
            store
                .retry_flow_run(&tenant, "r2", "t4", now)
                .await
                .unwrap()
                .is_none(),
            "a running run is not retried"
        );
        assert!(store.cancel_flow_run(&tenant, "r2", &error).await.unwrap());
        assert!(
            store
                .retry_flow_run(&TenantId::new("other"), "r2", "t4", now)
                .await
                .unwrap()
                .is_none(),
            "another tenant's run"
        );
        let retried = store
            .retry_flow_run(&tenant, "r2", "t4", now)
            .await
            .unwrap()
            .expect("a cancelled run is retried");
        assert_eq!(retried.status, FlowRunStatus::Running);
        assert_eq!((retried.retries, retried.error), (1, None));
        assert_eq!(retried.lease_token.as_deref(), Some("t4"));
        let kept: Vec<String> = store
            .flow_steps("r2")
            .await
            .unwrap()
            .into_iter()
            .map(|step| step.path)
            .collect();
        assert_eq!(kept, ["a", "b"], "what did not end well runs again");
        assert!(store.cancel_flow_run(&tenant, "r2", &error).await.unwrap());
        let filter = FlowRunFilter {
            statuses: vec![FlowRunStatus::Cancelled],
            ..Default::default()
        };
        let listed = store.list_flow_runs(&tenant, &filter, 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|run| run.id.as_str()).collect::<Vec<_>>(),
            ["r2"]
        );
        // A sub-flow's run keeps the run and step it answers to, and is listed by them.
        let child = FlowRun {
            id: "r3".to_owned(),
            parent: Some(skillos_store::FlowParent {
                run_id: "r2".to_owned(),
                path: "each[1].sub".to_owned(),
            }),
            ..run.clone()
        };
        store.insert_flow_run(&child, None).await.unwrap();
        let children = FlowRunFilter {
            parent_run_id: Some("r2".to_owned()),
            ..Default::default()
        };
        let listed = store.list_flow_runs(&tenant, &children, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].parent, child.parent);
        let orphans = FlowRunFilter {
            parent_run_id: Some("r1".to_owned()),
            ..Default::default()
        };
        assert!(
            store
                .list_flow_runs(&tenant, &orphans, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let all = store
            .list_flow_runs(&tenant, &FlowRunFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let removed = store
            .delete_finished_flow_runs(skillos_store::now() + Duration::seconds(1), 10)
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert!(store.flow_steps("r1").await.unwrap().is_empty());
    }

    pub async fn a_waiting_run_is_woken_by_its_steps_execution_and_its_signals(store: &dyn Store) {
        use skillos_store::{
            FlowRun, FlowRunEnd, FlowRunStatus, FlowSignal, FlowStep, FlowStepStatus, Signalled,
        };
        let tenant = TenantId::new("acme");
        let now = skillos_store::now();
        let run = FlowRun {
            id: "w1".to_owned(),
            tenant_id: tenant.clone(),
            flow_id: "f/demo".to_owned(),
            version: "1.0.0".to_owned(),
            document: json!({"id": "f/demo"}),
            definition_sha256: "abc".to_owned(),
            input: json!({}),
            status: FlowRunStatus::Running,
            output: None,
            error: None,
            principal: "ann".to_owned(),
            run_context: json!({}),
            lease_token: Some("t1".to_owned()),
            lease_expires_at: Some(now + Duration::seconds(30)),
            execution_id: String::new(),
            retries: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
            parent: None,
        };
        store.insert_flow_run(&run, None).await.unwrap();
        let step = FlowStep {
            run_id: "w1".to_owned(),
            path: "sign".to_owned(),
            name: "sign".to_owned(),
            kind: "skill".to_owned(),
            skill_id: "a/b".to_owned(),
            status: FlowStepStatus::PendingApproval,
            attempt: 1,
            input: None,
            output: None,
            error: None,
            execution_id: Some("e-held".to_owned()),
            approval_id: Some("ap".to_owned()),
            started_at: now,
            finished_at: None,
        };
        assert!(store.put_flow_step(&step, "t1").await.unwrap());
        let later = now + Duration::hours(1);
        let wait = FlowRunEnd {
            status: FlowRunStatus::Waiting,
            output: None,
            error: None,
            wake_at: Some(later),
        };
        let due = |token: &'static str| async move {
            store
                .claim_flow_runs(token, skillos_store::now(), later, 10)
                .await
                .unwrap()
        };
        // A wake that comes while the run is driven is kept: the driver that then leaves the
        // run waiting leaves it due at once.
        assert_eq!(store.wake_flow_runs_of("e-held").await.unwrap(), 1);
        assert!(store.end_flow_run("w1", "t1", &wait).await.unwrap());
        assert_eq!(
            due("t1b").await.len(),
            1,
            "a wake during the drive is not lost"
        );
        assert!(store.end_flow_run("w1", "t1b", &wait).await.unwrap());
        assert!(due("t2").await.is_empty(), "waiting until its wake time");
        assert_eq!(store.wake_flow_runs_of("e-other").await.unwrap(), 0);
        assert_eq!(store.wake_flow_runs_of("e-held").await.unwrap(), 1);
        let claimed = due("t2").await;
        assert_eq!(claimed.len(), 1, "woken by its step's execution");

        // Signals are kept in order; a step takes the oldest of its name, and again the same
        // one when it asks again (after a crash).
        let signal = |id: &str, name: &str, n: i64| FlowSignal {
            id: id.to_owned(),
            tenant_id: tenant.clone(),
            run_id: "w1".to_owned(),
            name: name.to_owned(),
            payload: json!({"n": n}),
            sender: "bob".to_owned(),
            created_at: skillos_store::now(),
            taken_by: None,
        };
        assert_eq!(
            store
                .insert_flow_signal(&signal("s1", "go", 1), 2)
                .await
                .unwrap(),
            Signalled::Kept
        );
        assert_eq!(
            store
                .insert_flow_signal(&signal("s2", "go", 2), 2)
                .await
                .unwrap(),
            Signalled::Kept
        );
        assert_eq!(
            store
                .insert_flow_signal(&signal("s3", "go", 3), 2)
                .await
                .unwrap(),
            Signalled::Full
        );
        let mut other = signal("s4", "go", 4);
        other.tenant_id = TenantId::new("other");
        assert_eq!(
            store.insert_flow_signal(&other, 2).await.unwrap(),
            Signalled::NotFound,
            "another tenant's run does not exist"
        );
        assert_eq!(
            store
                .take_flow_signal("w1", "go", "w[0]", "stale")
                .await
                .unwrap(),
            None,
            "only under the run's lease"
        );
        assert_eq!(
            store
                .take_flow_signal("w1", "stop", "s", "t2")
                .await
                .unwrap(),
            None
        );
        let first = store
            .take_flow_signal("w1", "go", "w[0]", "t2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.id.as_str(), first.payload.clone()),
            ("s1", json!({"n": 1}))
        );
        assert_eq!(first.taken_by.as_deref(), Some("w[0]"));
        let again = store
            .take_flow_signal("w1", "go", "w[0]", "t2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, "s1", "the same step gets the same signal");
        let second = store
            .take_flow_signal("w1", "go", "w[1]", "t2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.id, "s2");
        assert_eq!(
            store
                .take_flow_signal("w1", "go", "w[2]", "t2")
                .await
                .unwrap(),
            None
        );

        // A signal wakes a waiting run; an ended run takes no more.
        assert!(store.end_flow_run("w1", "t2", &wait).await.unwrap());
        assert_eq!(
            due("t2b").await.len(),
            1,
            "signals sent while it was driven leave it due"
        );
        assert!(store.end_flow_run("w1", "t2b", &wait).await.unwrap());
        assert!(due("t3").await.is_empty());
        assert_eq!(
            store
                .insert_flow_signal(&signal("s5", "go", 5), 2)
                .await
                .unwrap(),
            Signalled::Kept
        );
        assert_eq!(due("t3").await.len(), 1, "woken by the signal");
        let done = FlowRunEnd {
            status: FlowRunStatus::Succeeded,
            output: None,
            error: None,
            wake_at: None,
        };
        assert!(store.end_flow_run("w1", "t3", &done).await.unwrap());
        assert_eq!(
            store
                .insert_flow_signal(&signal("s6", "go", 6), 2)
                .await
                .unwrap(),
            Signalled::Finished
        );
    }
}
