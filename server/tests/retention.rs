//! Retention on a running server: executions and flow runs past their age are swept while it
//! serves, and a run that ended recently (or still runs) stays readable.

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

fn flow_run(id: &str, finished_days_ago: i64) -> skillos_store::FlowRun {
    let finished = Utc::now() - Duration::days(finished_days_ago);
    skillos_store::FlowRun {
        id: id.to_owned(),
        tenant_id: TenantId::default_tenant(),
        flow_id: "f/demo".to_owned(),
        version: "1.0.0".to_owned(),
        document: serde_json::json!({"id": "f/demo"}),
        definition_sha256: "0".repeat(64),
        input: serde_json::json!({}),
        status: skillos_store::FlowRunStatus::Succeeded,
        output: Some(serde_json::json!({"ok": true})),
        error: None,
        principal: "alice".to_owned(),
        run_context: serde_json::json!({}),
        lease_token: None,
        lease_expires_at: None,
        execution_id: String::new(),
        retries: 0,
        created_at: finished,
        updated_at: finished,
        finished_at: Some(finished),
        parent: None,
    }
}

#[tokio::test]
async fn flow_runs_past_their_retention_are_swept_and_running_ones_kept() {
    let server = TestServer::start_with(Options {
        configure: Some(Arc::new(|config, _| {
            config.retention.flow_runs_days = 7;
            config.retention.interval_seconds = 1;
            config.retention.batch = 2;
        })),
        ..Options::default()
    })
    .await;
    let store = skillos_store::open(&skillos::server::store_options(&server.config))
        .await
        .unwrap();
    for i in 0..3 {
        let run = flow_run(&format!("old-{i}"), 8);
        store.insert_flow_run(&run, None).await.unwrap();
    }
    store
        .insert_flow_run(&flow_run("recent", 6), None)
        .await
        .unwrap();
    // Started long ago and still running (its lease held elsewhere): never removed.
    let running = skillos_store::FlowRun {
        status: skillos_store::FlowRunStatus::Running,
        finished_at: None,
        lease_token: Some("elsewhere".to_owned()),
        lease_expires_at: Some(Utc::now() + Duration::days(1)),
        ..flow_run("running", 30)
    };
    store.insert_flow_run(&running, None).await.unwrap();

    let tenant = TenantId::default_tenant();
    eventually(|| async {
        for id in ["old-0", "old-1", "old-2"] {
            if store.get_flow_run(&tenant, id).await.unwrap().is_some() {
                return false;
            }
        }
        true
    })
    .await;
    for kept in ["recent", "running"] {
        assert!(
            store.get_flow_run(&tenant, kept).await.unwrap().is_some(),
            "{kept} was removed"
        );
    }
    store.close().await;
    server.stop().await.unwrap();
}
