//! Budgets over real gRPC on SQLite and PostgreSQL: atomic reservation under concurrency,
//! settlement and release, per-request limits, model tiers and BudgetService.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::runner::{Answer, TestRunner};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, metadata, reason, write};
use skillos::config::{Config, StorageBackend};
use skillos_proto::v1::{
    self, budget_service_client::BudgetServiceClient,
    orchestrator_service_client::OrchestratorServiceClient,
};
use tonic::Code;

const PAID: &str = "id: a/paid\nname: paid\ndescription: costs one unit\nversion: 1.0.0\n\
    entrypoint: implementations.a.paid:run\ncost_estimate: 1\n";
const TIERED: &str = "id: a/tiered\nname: tiered\ndescription: has model tiers\nversion: 1.0.0\n\
    entrypoint: implementations.a.tiered:run\n\
    model_tiers:\n- {name: standard, cost_estimate: 5}\n- {name: economy, cost_estimate: 1}\n";

async fn server(backend: StorageBackend) -> TestServer {
    TestServer::start_with(Options {
        backend,
        postgres_schema: (backend == StorageBackend::Postgres)
            .then(|| format!("skillos_budget_{}", uuid::Uuid::new_v4().simple())),
        skills: vec!["a/one"],
        configure: Some(Arc::new(|_config: &mut Config, root: &Path| {
            write(root, "metadata/a/paid.yaml", PAID);
            write(root, "metadata/a/tiered.yaml", TIERED);
            let one = common::manifest("a/one") + "cost_estimate: 3\n";
            write(root, "metadata/a/one.yaml", &one);
        })),
        ..Default::default()
    })
    .await
}

/// A runner that answers every skill with `{}` and records the model tier of each invoke.
async fn runner(server: &TestServer) -> (TestRunner, Arc<Mutex<Vec<String>>>) {
    let tiers = Arc::new(Mutex::new(Vec::new()));
    let seen = tiers.clone();
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "budgeted",
        &["a/one", "a/paid", "a/tiered"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            seen.lock().unwrap().push(invoke.model_tier.clone());
            if invoke.skill_id == "a/one" {
                Answer::Error("BUSINESS_RULE")
            } else {
                // The runner reports what the skill estimated: one unit per run.
                let cost = if invoke.model_tier == "economy" {
                    1.0
                } else if invoke.skill_id == "a/tiered" {
                    5.0
                } else {
                    1.0
                };
                Answer::Costed(
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue("ok".into())),
                    },
                    cost,
                )
            }
        }),
    )
    .await
    .unwrap();
    (runner, tiers)
}

fn run(skill: &str) -> v1::RunRequest {
    v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId(skill.to_owned())),
        ..Default::default()
    }
}

async fn set(
    client: &mut BudgetServiceClient<tonic::transport::Channel>,
    scope: v1::BudgetScope,
    key: &str,
    period: v1::BudgetPeriod,
    limit: Option<f64>,
) -> v1::Budget {
    client
        .set_budget(v1::SetBudgetRequest {
            scope: scope as i32,
            scope_key: key.to_owned(),
            period: period as i32,
            limit,
        })
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap()
}

async fn get(
    client: &mut BudgetServiceClient<tonic::transport::Channel>,
    scope: v1::BudgetScope,
    key: &str,
    period: v1::BudgetPeriod,
) -> v1::Budget {
    client
        .get_budget(v1::GetBudgetRequest {
            scope: scope as i32,
            scope_key: key.to_owned(),
            period: period as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap()
}

async fn a_thousand_concurrent_runs_against_a_budget_of_100_admit_exactly_100(
    backend: StorageBackend,
) {
    let server = server(backend).await;
    let (_runner, _) = runner(&server).await;
    let mut budgets = BudgetServiceClient::new(server.channel().await);
    let day = v1::BudgetPeriod::Day;
    let set_to = set(&mut budgets, v1::BudgetScope::Tenant, "", day, Some(100.0)).await;
    assert_eq!(set_to.limit, Some(100.0));
    assert_eq!(set_to.limit_source, v1::BudgetLimitSource::Api as i32);

    let channel = server.channel().await;
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let mut client = OrchestratorServiceClient::new(channel.clone());
            tokio::spawn(async move { client.run(run("a/paid")).await })
        })
        .collect();
    let mut admitted = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => {
                let execution = response.into_inner().execution.unwrap();
                assert_eq!(execution.status, v1::ExecutionStatus::Succeeded as i32);
                admitted += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert_eq!(reason(&status), "BUDGET_EXCEEDED");
                assert_eq!(metadata(&status, "scope"), "tenant");
                assert_eq!(metadata(&status, "period"), "day");
                assert_eq!(metadata(&status, "limit"), "100");
                refused += 1;
            }
        }
    }
    assert_eq!((admitted, refused), (100, 900));
    // Exactly the admitted runs were charged; nothing is left reserved.
    let budget = get(&mut budgets, v1::BudgetScope::Tenant, "", day).await;
    assert_eq!(
        (budget.spent, budget.reserved, budget.remaining),
        (100.0, 0.0, Some(0.0))
    );
    let usage = budgets
        .list_usage(v1::ListUsageRequest::default())
        .await
        .unwrap()
        .into_inner();
    let totals = usage.totals.unwrap();
    assert_eq!((totals.execution_count, totals.cost), (100, 100.0));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn budget_admits_exactly_its_limit_under_concurrency_on_sqlite() {
    a_thousand_concurrent_runs_against_a_budget_of_100_admit_exactly_100(StorageBackend::Sqlite)
        .await;
}

#[tokio::test]
async fn budget_admits_exactly_its_limit_under_concurrency_on_postgres() {
    a_thousand_concurrent_runs_against_a_budget_of_100_admit_exactly_100(StorageBackend::Postgres)
        .await;
}

#[tokio::test]
async fn failures_release_per_request_limits_refuse_and_low_budgets_pick_the_cheap_tier() {
    let server = server(StorageBackend::Sqlite).await;
    let (_runner, tiers) = runner(&server).await;
    let mut budgets = BudgetServiceClient::new(server.channel().await);
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    let month = v1::BudgetPeriod::Month;

    // A skill's own error releases its reservation: nothing is spent.
    set(
        &mut budgets,
        v1::BudgetScope::Skill,
        "a/one",
        month,
        Some(10.0),
    )
    .await;
    for _ in 0..5 {
        let execution = client
            .run(run("a/one"))
            .await
            .unwrap()
            .into_inner()
            .execution
            .unwrap();
        assert_eq!(execution.status, v1::ExecutionStatus::Failed as i32);
    }
    let budget = get(&mut budgets, v1::BudgetScope::Skill, "a.one", month).await;
    assert_eq!((budget.spent, budget.reserved), (0.0, 0.0));

    // A per-request limit below the estimate refuses without reserving anything.
    set(
        &mut budgets,
        v1::BudgetScope::Skill,
        "a/one",
        v1::BudgetPeriod::PerRequest,
        Some(2.0),
    )
    .await;
    let status = client.run(run("a/one")).await.unwrap_err();
    assert_eq!(reason(&status), "BUDGET_EXCEEDED");
    assert_eq!(metadata(&status, "period"), "request");

    // Model tiers: standard (5) while the budget lasts, economy (1) once it runs low.
    set(
        &mut budgets,
        v1::BudgetScope::Skill,
        "a/tiered",
        month,
        Some(13.0),
    )
    .await;
    tiers.lock().unwrap().clear();
    for _ in 0..4 {
        client.run(run("a/tiered")).await.unwrap();
    }
    assert_eq!(
        *tiers.lock().unwrap(),
        ["standard", "standard", "economy", "economy"]
    );
    let budget = get(&mut budgets, v1::BudgetScope::Skill, "a/tiered", month).await;
    assert_eq!(budget.spent, 12.0);

    // Removing the limit falls back to the configuration (none here).
    let removed = set(
        &mut budgets,
        v1::BudgetScope::Skill,
        "a/tiered",
        month,
        None,
    )
    .await;
    assert_eq!(removed.limit, None);
    assert_eq!(
        removed.limit_source,
        v1::BudgetLimitSource::Unspecified as i32
    );

    // Bad requests.
    let status = budgets
        .set_budget(v1::SetBudgetRequest {
            scope: v1::BudgetScope::Tenant as i32,
            period: month as i32,
            limit: Some(-1.0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "INVALID_BUDGET_LIMIT");
    let status = budgets
        .get_budget(v1::GetBudgetRequest {
            scope: v1::BudgetScope::Skill as i32,
            period: month as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "INVALID_BUDGET_SCOPE");
    server.stop().await.unwrap();
}
