//! SQLite's group commit: writes queued together commit in one transaction, a write that fails
//! fails alone, and a caller that goes away does not lose (or half-write) its write.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use skillos_store::{Execution, ExecutionStatus, IdempotencyClaim, SqliteStore, Store, TenantId};

fn execution(id: &str) -> Execution {
    Execution {
        id: id.to_owned(),
        tenant_id: TenantId::default_tenant(),
        skill_id: "office/coffee_break".to_owned(),
        skill_version: "1.0.0".to_owned(),
        status: ExecutionStatus::Running,
        principal: "alice".to_owned(),
        payload: json!({"n": id}),
        output: None,
        error: None,
        runner_id: None,
        attempts: 0,
        cost: 0.0,
        created_at: Utc::now(),
        started_at: Some(Utc::now()),
        finished_at: None,
        approval_id: None,
        job_id: None,
    }
}

fn claim(key: &str) -> IdempotencyClaim {
    IdempotencyClaim {
        tenant_id: TenantId::default_tenant(),
        principal: "alice".to_owned(),
        method: "Run".to_owned(),
        key: key.to_owned(),
        request_sha256: "0".repeat(64),
        expires_at: Utc::now() + chrono::Duration::hours(1),
        response: None,
    }
}

async fn open() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("skillos.db"))
        .await
        .unwrap();
    (Arc::new(store), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_a_failing_one_fails_alone() {
    let (store, _dir) = open().await;
    // Taken ids: inserting them again violates the primary key.
    for i in 0..20 {
        store
            .insert_execution(&execution(&format!("taken-{i:03}")))
            .await
            .unwrap();
    }
    let before = store.write_stats();

    let mut tasks = Vec::new();
    for i in 0..400 {
        let store = store.clone();
        let id = if i % 20 == 7 || i % 20 == 12 {
            format!("taken-{:03}", i / 20)
        } else {
            format!("new-{i:03}")
        };
        tasks.push(tokio::spawn(async move {
            // Every other write is two statements in a transaction of its own (claim a key,
            // insert): when the insert fails, the claim must go with it.
            let result = if i % 2 == 0 {
                store.insert_execution(&execution(&id)).await
            } else {
                store
                    .insert_execution_claimed(&execution(&id), &claim(&format!("key-{i}")))
                    .await
                    .map(|held| assert!(held.is_none()))
            };
            (i, id, result)
        }));
    }
    let mut failed = 0;
    for task in tasks {
        let (i, id, result) = task.await.unwrap();
        let held = store
            .idempotency_record(&claim(&format!("key-{i}")), Utc::now())
            .await
            .unwrap();
        if id.starts_with("taken-") {
            assert!(result.is_err(), "{id} inserted twice");
            assert!(held.is_none(), "key-{i} kept for a write that failed");
            failed += 1;
        } else {
            result.unwrap_or_else(|error| panic!("{id} failed beside a failing write: {error}"));
            let stored = store
                .get_execution(&TenantId::default_tenant(), &id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{id} acknowledged but not stored"));
            assert_eq!(stored.payload, json!({"n": id}));
            assert_eq!(held.is_some(), i % 2 == 1, "key-{i}");
        }
    }
    assert_eq!(failed, 40);

    let after = store.write_stats();
    let writes = after.writes - before.writes;
    let commits = after.commits - before.commits;
    assert_eq!(writes, 400);
    assert!(
        commits < writes / 2,
        "400 concurrent writes took {commits} commits: they were not grouped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_went_away_is_still_done_whole() {
    use sqlx::{ConnectOptions as _, Connection as _};
    let (store, dir) = open().await;
    // Another connection holds the write lock, so the writer waits and writes queue behind it.
    let mut other = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("skillos.db"))
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.insert_execution(&execution("first")).await })
    };
    let abandoned = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        store.insert_execution(&execution("abandoned")),
    )
    .await;
    assert!(
        abandoned.is_err(),
        "the write answered while the writer was blocked"
    );
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    first.await.unwrap().unwrap();

    // The next write commits after the abandoned one, which was queued before it.
    store.insert_execution(&execution("after")).await.unwrap();
    let stored = store
        .get_execution(&TenantId::default_tenant(), "abandoned")
        .await
        .unwrap();
    assert!(stored.is_some(), "a queued write was lost with its caller");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_end_that_fails_part_way_leaves_nothing_and_fails_alone() {
    use sqlx::{ConnectOptions as _, Connection as _};
    let (store, dir) = open().await;
    let tenant = TenantId::default_tenant();
    let ids: Vec<String> = (0..30)
        .map(|i| format!("{}-{i:02}", if i % 3 == 0 { "doomed" } else { "fine" }))
        .collect();
    for id in &ids {
        store.insert_execution(&execution(id)).await.unwrap();
    }
    // The end's update fails after its usage row was written in the same call.
    let mut other = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("skillos.db"))
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_doomed BEFORE UPDATE ON executions WHEN OLD.id LIKE 'doomed%' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(&mut other)
    .await
    .unwrap();
    other.close().await.unwrap();
    let settlement = skillos_store::Settlement {
        usage: Some(skillos_store::UsageDelta {
            day: "2026-12-02".to_owned(),
            skill_id: "office/coffee_break".to_owned(),
            principal: "alice".to_owned(),
            cost: 1.0,
            input_tokens: 0,
            output_tokens: 0,
        }),
        ..Default::default()
    };
    let end = skillos_store::ExecutionUpdate {
        status: Some(ExecutionStatus::Succeeded),
        finished_at: Some(Utc::now()),
        expect_status: Some(ExecutionStatus::Running),
        ..Default::default()
    };
    let ends = ids.iter().map(|id| {
        let (store, tenant, id) = (store.clone(), tenant.clone(), id.clone());
        let (end, settlement) = (end.clone(), settlement.clone());
        tokio::spawn(async move {
            let result = store
                .finish_execution(&tenant, &id, &end, &settlement)
                .await;
            (id, result)
        })
    });
    for end in ends.collect::<Vec<_>>() {
        let (id, result) = end.await.unwrap();
        if id.starts_with("doomed") {
            assert!(result.is_err(), "{id}: {result:?}");
        } else {
            assert!(result.unwrap().execution, "{id}");
        }
    }
    // Twenty runs ended and counted; the ten refused are still RUNNING and counted nowhere.
    let usage = store
        .list_usage(&tenant, &Default::default())
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].executions, 20);
    for id in &ids {
        let stored = store.get_execution(&tenant, id).await.unwrap().unwrap();
        let expected = if id.starts_with("doomed") {
            ExecutionStatus::Running
        } else {
            ExecutionStatus::Succeeded
        };
        assert_eq!(stored.status, expected, "{id}");
    }
}

#[tokio::test]
async fn writes_after_close_are_refused() {
    let (store, _dir) = open().await;
    store.insert_execution(&execution("one")).await.unwrap();
    store.close().await;
    let error = store
        .insert_execution(&execution("two"))
        .await
        .expect_err("a closed store accepted a write");
    assert!(error.to_string().contains("closed"), "{error}");
}
