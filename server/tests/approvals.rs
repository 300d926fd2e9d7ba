//! Approvals over real gRPC: held runs, N-of-M distinct approvers, self-approval, approver
//! groups, payload binding, expiry, exactly-once execution (also across a restart) and
//! WatchApprovals.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::runner::{TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, eventually, reason, with_token, write};
use skillos::config::Config;
use skillos_proto::v1::{
    self, approval_service_client::ApprovalServiceClient,
    orchestrator_service_client::OrchestratorServiceClient,
};
use skillos_store::TenantId;
use tonic::Code;

const PERMISSIONS: &str = r#"{
    "roles": {"approver": ["approvals:decide"], "member": [], "finance": ["approvals:decide"]},
    "policies": [{"skill_id": "*", "required_permissions": [], "policy_id": "everyone"}]
}"#;
const APPROVALS: &str = r#"{"policies": [
    {"skill_id": "a/one", "required_approvals": 2, "policy_id": "two-people"},
    {"skill_id": "a/two", "approver_group": "finance", "policy_id": "finance-only"},
    {"skill_id": "b/three", "expires_in_seconds": 1, "policy_id": "hurry"}
]}"#;

async fn server() -> TestServer {
    TestServer::start_with(Options {
        dev_mode: false,
        skills: vec!["a/one", "a/two", "b/three", "c/free"],
        configure: Some(Arc::new(|_config: &mut Config, root: &Path| {
            write(root, "policies/permission_policies.json", PERMISSIONS);
            write(root, "policies/approval_policies.json", APPROVALS);
        })),
        ..Default::default()
    })
    .await
}

/// A runner for every skill that counts its invocations.
async fn counting_runner(server: &TestServer) -> (TestRunner, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let inner = echo();
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "counting",
        &["a/one", "a/two", "b/three"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            counted.fetch_add(1, Ordering::SeqCst);
            inner(invoke)
        }),
    )
    .await
    .unwrap();
    (runner, count)
}

fn run(skill: &str, amount: f64) -> v1::RunRequest {
    common::run_amount(skill, amount)
}

fn approve(id: &str, sha: &str) -> v1::ApproveRequest {
    v1::ApproveRequest {
        approval_id: id.to_owned(),
        payload_sha256: sha.to_owned(),
        ..Default::default()
    }
}

async fn execution(server: &TestServer, token: &str, id: &str) -> v1::Execution {
    OrchestratorServiceClient::new(server.channel().await)
        .get_execution(with_token(
            v1::GetExecutionRequest {
                execution_id: id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap()
}

/// Waits until the execution reaches `status`.
async fn wait_for(server: &TestServer, token: &str, id: &str, status: v1::ExecutionStatus) {
    eventually(|| async move { execution(server, token, id).await.status == status as i32 }).await;
}

#[tokio::test]
async fn a_held_run_needs_two_other_people_and_then_runs_exactly_once() {
    let server = server().await;
    let (_runner, count) = counting_runner(&server).await;
    let alice = server.api_key("default", &["member", "approver"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let carol = server.api_key("default", &["member"]).await;
    let dave = server.api_key("default", &["approver"]).await;
    let foreign = server.api_key("acme", &["approver"]).await;
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let mut approvals = ApprovalServiceClient::new(server.channel().await);

    let response = orchestrator
        .run(with_token(run("a/one", 5.0), &alice))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.outcome, v1::RunOutcome::PendingApproval as i32);
    let held = response.execution.unwrap();
    assert_eq!(held.status, v1::ExecutionStatus::PendingApproval as i32);
    let approval_id = held.approval_id.clone();
    let approval = approvals
        .get_approval(with_token(
            v1::GetApprovalRequest {
                approval_id: approval_id.clone(),
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(
        (approval.required_approvals, approval.policy_id.as_str()),
        (2, "two-people")
    );
    assert_eq!(approval.payload_sha256.len(), 64);
    let sha = approval.payload_sha256.clone();

    let client = approvals.clone();
    let refused = |token: &str, sha: &str| {
        let mut approvals = client.clone();
        let request = with_token(approve(&approval_id, sha), token);
        async move { approvals.approve(request).await.unwrap_err() }
    };
    let status = refused(&alice, &sha).await;
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::PermissionDenied, "SELF_APPROVAL".to_owned())
    );
    let status = refused(&carol, &sha).await;
    assert_eq!(reason(&status), "NOT_AN_APPROVER");
    let status = refused(&bob, &"ab".repeat(32)).await;
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::FailedPrecondition, "PAYLOAD_MISMATCH".to_owned())
    );
    let status = refused(&foreign, &sha).await;
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::NotFound, "APPROVAL_NOT_FOUND".to_owned())
    );

    let first = approvals
        .approve(with_token(approve(&approval_id, &sha), &bob))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(first.state, v1::ApprovalState::Pending as i32);
    let status = refused(&bob, &sha).await;
    assert_eq!(reason(&status), "APPROVER_ALREADY_DECIDED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "one approval of two runs nothing"
    );

    let second = approvals
        .approve(with_token(approve(&approval_id, ""), &dave))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(second.state, v1::ApprovalState::Approved as i32);
    assert_eq!(second.decisions.len(), 2);
    wait_for(&server, &alice, &held.id, v1::ExecutionStatus::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the approved run ran exactly once"
    );
    let status = refused(&dave, &sha).await;
    assert_eq!(reason(&status), "APPROVAL_NOT_PENDING");

    // Every decision, refused ones included, is in the audit trail.
    let store = skillos_store::open(&skillos::server::store_options(&server.config))
        .await
        .unwrap();
    let audit = store
        .list_audit(&TenantId::default_tenant(), None, 1000)
        .await
        .unwrap();
    let about: Vec<&str> = audit
        .iter()
        .filter(|event| event.target == approval_id)
        .map(|event| event.action.as_str())
        .collect();
    assert_eq!(
        about,
        [
            "approval.requested",
            "approval.decision_refused",
            "approval.decision_refused",
            "approval.decision_refused",
            "approval.approved",
            "approval.decision_refused",
            "approval.approved",
            "approval.decision_refused",
        ]
    );
    store.close().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn groups_rejections_and_expiry_decide_and_nothing_runs() {
    let server = server().await;
    let (_runner, count) = counting_runner(&server).await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let fiona = server.api_key("default", &["finance"]).await;
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let mut approvals = ApprovalServiceClient::new(server.channel().await);

    // Only the finance group decides a/two; one rejection rejects.
    let held = orchestrator
        .run(with_token(run("a/two", 1.0), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let status = approvals
        .approve(with_token(approve(&held.approval_id, ""), &bob))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "NOT_AN_APPROVER");
    let status = approvals
        .reject(with_token(
            v1::RejectRequest {
                approval_id: held.approval_id.clone(),
                reason: String::new(),
            },
            &fiona,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&status),
        "INVALID_REQUEST",
        "a rejection needs a reason"
    );
    let rejected = approvals
        .reject(with_token(
            v1::RejectRequest {
                approval_id: held.approval_id.clone(),
                reason: "not this quarter".to_owned(),
            },
            &fiona,
        ))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(rejected.state, v1::ApprovalState::Rejected as i32);
    let after = execution(&server, &alice, &held.id).await;
    assert_eq!(after.status, v1::ExecutionStatus::Rejected as i32);
    let status = orchestrator
        .cancel_execution(with_token(
            v1::CancelExecutionRequest {
                execution_id: held.id.clone(),
                reason: String::new(),
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "EXECUTION_FINISHED");

    // b/three's approval expires after a second: expiry means deny.
    let held = orchestrator
        .run(with_token(run("b/three", 1.0), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = approvals
        .approve(with_token(approve(&held.approval_id, ""), &bob))
        .await
        .unwrap_err();
    assert!(
        ["APPROVAL_EXPIRED", "APPROVAL_NOT_PENDING"].contains(&reason(&status).as_str()),
        "{status:?}"
    );
    let after = execution(&server, &alice, &held.id).await;
    assert_eq!(after.status, v1::ExecutionStatus::Rejected as i32);
    assert_eq!(after.error.unwrap().code, "APPROVAL_EXPIRED");

    // Lists: the requester sees its own, the approver sees what it can decide.
    let listed = approvals
        .list_approvals(with_token(v1::ListApprovalsRequest::default(), &alice))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.approvals.len(), 2);
    let actionable = approvals
        .list_approvals(with_token(
            v1::ListApprovalsRequest {
                actionable_only: true,
                ..Default::default()
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(actionable.approvals.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_payload_changed_after_approval_never_runs() {
    let server = server().await;
    let (_runner, count) = counting_runner(&server).await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let dave = server.api_key("default", &["approver"]).await;
    let held = OrchestratorServiceClient::new(server.channel().await)
        .run(with_token(run("a/one", 5.0), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    // Someone with database access swaps the stored payload.
    let db = server.config.storage.data_dir.join("skillos.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE executions SET payload = '{\"amount\": 5000000}' WHERE id = ?")
        .bind(&held.id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mut approvals = ApprovalServiceClient::new(server.channel().await);
    for approver in [&bob, &dave] {
        approvals
            .approve(with_token(approve(&held.approval_id, ""), approver))
            .await
            .unwrap();
    }
    wait_for(&server, &alice, &held.id, v1::ExecutionStatus::Rejected).await;
    let after = execution(&server, &alice, &held.id).await;
    assert_eq!(after.error.unwrap().code, "APPROVAL_MISMATCH");
    assert_eq!(count.load(Ordering::SeqCst), 0);

    // A requester whose key is revoked before the approval: the run does not execute either.
    let carol = server.api_key("default", &["member"]).await;
    let held = OrchestratorServiceClient::new(server.channel().await)
        .run(with_token(run("a/one", 5.0), &carol))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let store = skillos_store::open(&skillos::server::store_options(&server.config))
        .await
        .unwrap();
    let key_id = held
        .principal_subject
        .strip_prefix("key:")
        .unwrap()
        .to_owned();
    let audit = skillos_store::AuditEvent::now(
        &TenantId::default_tenant(),
        "admin",
        "api_key.revoked",
        &key_id,
        serde_json::json!({}),
    );
    assert!(
        store
            .revoke_api_key(&key_id, skillos_store::now(), &audit)
            .await
            .unwrap()
    );
    store.close().await;
    let mut approvals = ApprovalServiceClient::new(server.channel().await);
    for approver in [&bob, &dave] {
        approvals
            .approve(with_token(approve(&held.approval_id, ""), approver))
            .await
            .unwrap();
    }
    let admin = server.api_key("default", &["admin"]).await;
    wait_for(&server, &admin, &held.id, v1::ExecutionStatus::Rejected).await;
    let after = execution(&server, &admin, &held.id).await;
    assert!(after.error.unwrap().message.contains("revoked"));
    assert_eq!(count.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_approved_run_waits_for_a_runner_and_runs_once_after_a_restart() {
    let server = server().await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let dave = server.api_key("default", &["approver"]).await;
    let mut watch = ApprovalServiceClient::new(server.channel().await)
        .watch_approvals(with_token(v1::WatchApprovalsRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();
    // No runner is attached: the run is held, approved, and waits.
    let held = OrchestratorServiceClient::new(server.channel().await)
        .run(with_token(run("a/one", 7.0), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let created = watch.message().await.unwrap().unwrap();
    assert_eq!(created.kind, v1::ApprovalEventKind::Created as i32);
    let mut approvals = ApprovalServiceClient::new(server.channel().await);
    for approver in [&bob, &dave] {
        approvals
            .approve(with_token(approve(&held.approval_id, ""), approver))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let decided = watch.message().await.unwrap().unwrap();
        assert_eq!(decided.kind, v1::ApprovalEventKind::Decided as i32);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        execution(&server, &alice, &held.id).await.status,
        v1::ExecutionStatus::Pending as i32
    );
    drop(watch);

    let server = server.restart().await;
    let (_runner, count) = counting_runner(&server).await;
    wait_for(&server, &alice, &held.id, v1::ExecutionStatus::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}

fn cancel(id: &str) -> v1::CancelExecutionRequest {
    v1::CancelExecutionRequest {
        execution_id: id.to_owned(),
        reason: "changed my mind".to_owned(),
    }
}

#[tokio::test]
async fn cancelling_ends_held_and_running_runs_and_only_the_requester_may() {
    let server = server().await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let foreign = server.api_key("acme", &["admin"]).await;
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let mut watch = ApprovalServiceClient::new(server.channel().await)
        .watch_approvals(with_token(v1::WatchApprovalsRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();

    // A held run: cancelled with its approval, which can no longer be decided.
    let held = orchestrator
        .run(with_token(run("a/one", 1.0), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let status = orchestrator
        .cancel_execution(with_token(cancel(&held.id), &bob))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "POLICY_DENIED", "bob did not start it");
    let status = orchestrator
        .cancel_execution(with_token(cancel(&held.id), &foreign))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "EXECUTION_NOT_FOUND");
    let cancelled = orchestrator
        .cancel_execution(with_token(cancel(&held.id), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(cancelled.status, v1::ExecutionStatus::Cancelled as i32);
    assert_eq!(cancelled.error.unwrap().message, "changed my mind");
    let again = orchestrator
        .cancel_execution(with_token(cancel(&held.id), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(again.status, v1::ExecutionStatus::Cancelled as i32);
    let status = ApprovalServiceClient::new(server.channel().await)
        .approve(with_token(approve(&held.approval_id, ""), &bob))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "APPROVAL_NOT_PENDING");
    let created = watch.message().await.unwrap().unwrap();
    assert_eq!(created.kind, v1::ApprovalEventKind::Created as i32);
    let ended = watch.message().await.unwrap().unwrap();
    assert_eq!(ended.kind, v1::ApprovalEventKind::Cancelled as i32);
    assert_eq!(
        ended.approval.unwrap().state,
        v1::ApprovalState::Cancelled as i32
    );

    // A running run (its runner never answers): the caller gets CANCELLED, the runner a cancel.
    let mut runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "silent",
        &["c/free"],
        Arc::new(|_: &skillos_proto::runner_v1::Invoke| common::runner::Answer::Silence),
    )
    .await
    .unwrap();
    let mut caller = orchestrator.clone();
    let request = with_token(run("c/free", 1.0), &alice);
    let running = tokio::spawn(async move { caller.run(request).await });
    let mut listing = orchestrator.clone();
    let alice_key = alice.clone();
    let mut running_id = String::new();
    for _ in 0..200 {
        let listed = listing
            .list_executions(with_token(
                v1::ListExecutionsRequest {
                    skill_id: "c/free".to_owned(),
                    ..Default::default()
                },
                &alice_key,
            ))
            .await
            .unwrap()
            .into_inner();
        if let Some(execution) = listed.executions.first() {
            running_id = execution.id.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!running_id.is_empty(), "the run started");
    let cancelled = orchestrator
        .cancel_execution(with_token(cancel(&running_id), &alice))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(cancelled.status, v1::ExecutionStatus::Cancelled as i32);
    let status = running.await.unwrap().unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::Cancelled, "EXECUTION_CANCELLED".to_owned())
    );
    let told = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(message) = runner.events.recv().await {
            if let skillos_proto::runner_v1::attach_response::Message::Cancel(cancel) = message {
                return cancel.execution_id;
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert_eq!(told, running_id);
    server.stop().await.unwrap();
}
