//! Dry runs over real gRPC: the plan names the skill, the deciding policy, the approval a run
//! would wait for, the reservation and the runner; what would refuse a real run is listed; and
//! nothing is stored, reserved, charged or dispatched.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::runner::{TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason, with_token, write};
use skillos::config::Config;
use skillos_engine::budget::DefaultLimit;
use skillos_proto::v1::{self, orchestrator_service_client::OrchestratorServiceClient};
use tonic::Code;

const PERMISSIONS: &str = r#"{
    "roles": {"member": ["a:run"]},
    "policies": [{"skill_id": "a/*", "required_permissions": ["a:run"], "policy_id": "a-skills"},
                 {"skill_id": "c/*", "required_permissions": [], "policy_id": "c-flows"}]
}"#;
const APPROVALS: &str = r#"{"policies": [
    {"skill_id": "a/two", "required_approvals": 2, "approver_group": "finance", "policy_id": "two-of-finance"}
]}"#;

/// Skills cost 0.25 each (their manifests say so); the tenant may spend 0.3 a day.
async fn server() -> TestServer {
    TestServer::start_with(Options {
        dev_mode: false,
        skills: vec!["a/one", "a/two", "a/dear", "b/three"],
        configure: Some(Arc::new(|config: &mut Config, root: &Path| {
            write(root, "policies/permission_policies.json", PERMISSIONS);
            write(root, "policies/approval_policies.json", APPROVALS);
            for id in ["a/one", "a/two", "b/three"] {
                let (domain, name) = id.split_once('/').unwrap();
                let manifest = format!("{}cost_estimate: 0.25\n", common::manifest(id));
                write(root, &format!("metadata/{domain}/{name}.yaml"), &manifest);
            }
            write(
                root,
                "flows/c/mixed.yaml",
                "id: c/mixed\nsteps:\n  - {name: first, skill: a/one}\n  - {name: second, skill: b/three}\n",
            );
            let dear = format!("{}cost_estimate: 5\n", common::manifest("a/dear"));
            write(root, "metadata/a/dear.yaml", &dear);
            config.budgets.defaults = vec![DefaultLimit {
                scope: "tenant".into(),
                period: "day".into(),
                limit: 0.3,
            }];
        })),
        ..Default::default()
    })
    .await
}

fn dry(skill: &str) -> v1::RunRequest {
    v1::RunRequest {
        dry_run: true,
        ..common::run_amount(skill, 1.0)
    }
}

/// The plan of a dry run of `skill` as `token`.
async fn plan_of(server: &TestServer, token: &str, skill: &str) -> v1::RunPlan {
    OrchestratorServiceClient::new(server.channel().await)
        .run(with_token(dry(skill), token))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
}

fn reasons(plan: &v1::RunPlan) -> Vec<&str> {
    plan.refusals.iter().map(|r| r.reason.as_str()).collect()
}

async fn executions(server: &TestServer, token: &str) -> usize {
    OrchestratorServiceClient::new(server.channel().await)
        .list_executions(with_token(v1::ListExecutionsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .executions
        .len()
}

#[tokio::test]
async fn a_dry_run_plans_and_leaves_nothing_behind() {
    let server = server().await;
    let member = server.api_key("default", &["member"]).await;
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let inner = echo();
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "planner",
        &["a/one", "a/two", "a/dear", "b/three"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            counted.fetch_add(1, Ordering::SeqCst);
            inner(invoke)
        }),
    )
    .await
    .unwrap();
    let mut client = OrchestratorServiceClient::new(server.channel().await);

    // A run that would go ahead: the plan, no refusal.
    for _ in 0..3 {
        let response = client
            .run(with_token(dry("a.one"), &member))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.outcome(), v1::RunOutcome::DryRun);
        assert!(response.execution.is_none());
        let plan = response.plan.unwrap();
        assert_eq!(plan.skill_id, "a/one");
        assert_eq!(plan.skill_version, "1.0.0");
        assert_eq!(plan.policy_id, "a-skills");
        assert!(!plan.approval_required);
        assert_eq!(plan.estimated_cost, 0.25);
        assert_eq!(plan.runner.unwrap().name, "planner");
        assert_eq!(plan.payload_sha256.len(), 64);
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    }

    // Held for approval: who must approve.
    let plan = plan_of(&server, &member, "a/two").await;
    assert!(plan.approval_required);
    assert_eq!(plan.approval_policy_id, "two-of-finance");
    assert_eq!(plan.required_approvals, 2);
    assert_eq!(plan.approver_group, "finance");
    assert!(plan.refusals.is_empty());

    // Over the budget, and denied by policy: listed, in stage order.
    let plan = plan_of(&server, &member, "a/dear").await;
    assert_eq!(reasons(&plan), ["BUDGET_EXCEEDED"]);
    assert_eq!(plan.refusals[0].metadata["limit"], "0.3");
    let plan = plan_of(&server, &member, "b/three").await;
    assert_eq!(reasons(&plan), ["POLICY_DENIED"]);
    // A flow the caller may start, with a step it may not run: the step is named.
    let plan = plan_of(&server, &member, "c/mixed").await;
    assert_eq!(plan.policy_id, "c-flows");
    assert_eq!(reasons(&plan), ["POLICY_DENIED"]);
    assert!(
        plan.refusals[0].message.contains("b/three"),
        "{:?}",
        plan.refusals
    );

    // What the request gets wrong fails as a run would.
    let status = client
        .run(with_token(dry("a/nope"), &member))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::NotFound, "SKILL_NOT_FOUND")
    );

    // Nothing ran, nothing was stored, nothing was reserved: the day's budget is whole, so a
    // real run of a/one still fits.
    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert_eq!(executions(&server, &member).await, 0);
    let real = client
        .run(with_token(common::run_amount("a/one", 1.0), &member))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(real.outcome(), v1::RunOutcome::Executed);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(executions(&server, &member).await, 1);

    // Now 0.25 of 0.3 is spent: a dry run says the next one would be refused.
    let plan = plan_of(&server, &member, "a/one").await;
    assert_eq!(reasons(&plan), ["BUDGET_EXCEEDED"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_dry_run_without_a_runner_says_so() {
    let server = server().await;
    let member = server.api_key("default", &["member"]).await;
    let plan = plan_of(&server, &member, "a/one").await;
    assert!(plan.runner.is_none());
    assert_eq!(reasons(&plan), ["NO_RUNNER"]);
    server.stop().await.unwrap();
}
