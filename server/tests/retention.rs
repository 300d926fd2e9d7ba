//! Retention on a running server: executions past their age are swept while it serves, and a
//! run that ended recently stays readable.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{Options, TestServer, eventually};
use skillos_store::{Execution, ExecutionStatus, TenantId};

fn ended(id: &str, finished_days_ago: i64) -> Execution {
    let finished = Utc::now() - Duration::days(finished_days_ago);
    Execution {
        id: id.to_owned(),
        tenant_id: TenantId::default_tenant(),
        skill_id: "a/one".to_owned(),
        skill_version: "1.0.0".to_owned(),
        status: ExecutionStatus::Succeeded,
        principal: "alice".to_owned(),
        payload: serde_json::json!({}),
        output: Some(serde_json::json!({"ok": true})),
        error: None,
        runner_id: None,
        attempts: 1,
        cost: 0.0,
        created_at: finished,
        started_at: Some(finished),
        finished_at: Some(finished),
        approval_id: None,
        job_id: None,
    }
}

#[tokio::test]
async fn executions_past_their_retention_are_swept_while_the_server_runs() {
    let server = TestServer::start_with(Options {
        configure: Some(Arc::new(|config, _| {
            config.retention.executions_days = 7;
            config.retention.interval_seconds = 1;
            config.retention.batch = 2;
        })),
        ..Options::default()
    })
    .await;
    let store = skillos_store::open(&skillos::server::store_options(&server.config))
        .await
        .unwrap();
    for i in 0..5 {
        store
            .insert_execution(&ended(&format!("old-{i}"), 8))
            .await
            .unwrap();
    }
    store.insert_execution(&ended("recent", 6)).await.unwrap();

    let tenant = TenantId::default_tenant();
    eventually(|| async {
        store
            .get_execution(&tenant, "old-4")
            .await
            .unwrap()
            .is_none()
            && store
                .get_execution(&tenant, "old-0")
                .await
                .unwrap()
                .is_none()
    })
    .await;
    assert!(
        store
            .get_execution(&tenant, "recent")
            .await
            .unwrap()
            .is_some(),
        "a run within its retention was removed"
    );
    store.close().await;
    server.stop().await.unwrap();
}
