//! Durable flows over real gRPC with a runner attached over a real stream: a flow file of the
//! root is started with FlowService, its steps run as Runs with stored rows (`when` skips, a
//! parallel group, a loop that stops on `until`, retries with the step key the skill sees),
//! and a run ends, fails with a clear status, is cancelled or is retried from its failed step.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::runner::{Answer, Handler, TestRunner};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason, write};
use serde_json::{Value as Json, json};
use skillos_proto::v1::{self, flow_service_client::FlowServiceClient};
use tonic::Code;

const SKILLS: [&str; 5] = ["a/count", "a/echo", "a/flaky", "a/fail", "a/hang"];

/// Invocations seen by skill, and the step keys they came with.
#[derive(Default)]
struct Seen {
    calls: HashMap<String, u32>,
    step_keys: Vec<(String, String)>,
    /// `a/flaky` fails this many times before it answers.
    flaky_failures: u32,
}

fn to_json(value: &prost_types::Struct) -> Json {
    let fields = value
        .fields
        .iter()
        .map(|(key, value)| (key.clone(), kind_json(value)))
        .collect();
    Json::Object(fields)
}

fn kind_json(value: &prost_types::Value) -> Json {
    use prost_types::value::Kind;
    match &value.kind {
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::StructValue(s)) => to_json(s),
        Some(Kind::ListValue(list)) => Json::Array(list.values.iter().map(kind_json).collect()),
        Some(Kind::NullValue(_)) | None => Json::Null,
    }
}

fn from_json(value: &Json) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(from_json).collect(),
        }),
        Json::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .iter()
                .map(|(key, value)| (key.clone(), from_json(value)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// `a/count` adds one to `n` and is done at 3; `a/echo` answers its payload; `a/flaky` fails
/// (retryably) as often as told, then answers; `a/fail` fails; `a/hang` never answers.
fn handler(seen: Arc<Mutex<Seen>>) -> Handler {
    Arc::new(move |invoke| {
        let payload = to_json(&invoke.payload.clone().unwrap_or_default());
        let mut seen = seen.lock().unwrap();
        *seen.calls.entry(invoke.skill_id.clone()).or_default() += 1;
        seen.step_keys
            .push((invoke.skill_id.clone(), invoke.step_key.clone()));
        match invoke.skill_id.as_str() {
            "a/count" => {
                let n = payload["n"].as_f64().unwrap_or(0.0) + 1.0;
                Answer::Output(from_json(&json!({"n": n, "done": n >= 3.0})))
            }
            "a/flaky" if seen.flaky_failures > 0 => {
                seen.flaky_failures -= 1;
                Answer::Retryable("not yet")
            }
            "a/fail" => Answer::Error("broken"),
            "a/hang" => Answer::Silence,
            _ => Answer::Output(from_json(&payload)),
        }
    })
}

const FULL: &str = r#"
id: demo/full
version: 1.2.0
description: every kind of step
input_schema: {type: object, required: [start]}
steps:
  - name: first
    skill: a/echo
    input: {start: "${{ input.start }}", who: "${{ principal.subject }}"}
  - name: never
    skill: a/fail
    when: "${{ steps.first.output.start > 100 }}"
  - name: both
    parallel:
      - {name: left, skill: a/echo, input: {side: left}}
      - {name: right, skill: a/flaky, retry: {attempts: 3, backoff: 10ms}}
  - name: poll
    loop:
      max_iterations: 5
      until: "${{ steps.check.output.done }}"
      steps:
        - name: check
          skill: a/count
          input: {n: "${{ iteration == 0 ? input.start : steps.check.output.n }}"}
output: {first: "${{ steps.first.output }}", right: "${{ steps.both.output.right }}", n: "${{ steps.check.output.n }}", skipped: "${{ steps.never.status }}"}
"#;

const EXHAUSTED: &str = r#"
id: demo/exhausted
steps:
  - name: poll
    loop:
      max_iterations: 2
      until: "${{ steps.check.output.n > 100 }}"
      steps:
        - {name: check, skill: a/count, input: {n: 0}}
"#;

const BROKEN: &str = r#"
id: demo/broken
steps:
  - {name: first, skill: a/echo, input: {x: 1}}
  - {name: second, skill: a/flaky}
"#;

const ORPHAN: &str = r#"
id: demo/orphan
steps:
  - name: both
    parallel:
      - {name: left, skill: a/echo, input: {side: left}}
      - {name: right, skill: a/echo, input: {side: right}}
  - {name: only, skill: a/orphan, input: {x: 1}}
output: {left: "${{ steps.left.output }}", only: "${{ steps.only.output }}"}
"#;

const HANGS: &str = r#"
id: demo/hangs
steps:
  - {name: wait, skill: a/hang}
"#;

async fn server(seen: Arc<Mutex<Seen>>) -> (TestServer, TestRunner) {
    let server = TestServer::start_with(Options {
        // a/orphan is in the catalog, but no runner serves it until a test attaches one.
        skills: [SKILLS.as_slice(), &["a/orphan"]].concat(),
        configure: Some(Arc::new(|_: &mut skillos::config::Config, root: &Path| {
            write(root, "flows/demo/full.yaml", FULL);
            write(root, "flows/demo/exhausted.yaml", EXHAUSTED);
            write(root, "flows/demo/broken.yaml", BROKEN);
            write(root, "flows/demo/hangs.yaml", HANGS);
            write(root, "flows/demo/orphan.yaml", ORPHAN);
        })),
        ..Default::default()
    })
    .await;
    let runner = attach(&server, "test", &SKILLS, handler(seen)).await;
    (server, runner)
}

/// A runner named `name` serving `skills` with `handler`, attached to `server`.
async fn attach(server: &TestServer, name: &str, skills: &[&str], handler: Handler) -> TestRunner {
    TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        name,
        skills,
        handler,
    )
    .await
    .expect("runner attaches")
}

async fn flows(server: &TestServer) -> FlowServiceClient<tonic::transport::Channel> {
    FlowServiceClient::new(server.channel().await)
}

async fn start(server: &TestServer, flow: &str, input: Json) -> Result<v1::FlowRun, tonic::Status> {
    let Json::Object(input) = input else {
        panic!("an object")
    };
    let input = match from_json(&Json::Object(input)).kind {
        Some(prost_types::value::Kind::StructValue(input)) => input,
        _ => unreachable!(),
    };
    flows(server)
        .await
        .start_flow(v1::StartFlowRequest {
            flow_id: flow.to_owned(),
            input: Some(input),
        })
        .await
        .map(|response| response.into_inner().run.unwrap())
}

/// The run, read with a credential when one is given.
async fn get_as(server: &TestServer, id: &str, token: Option<&str>) -> v1::FlowRun {
    let request = v1::GetFlowRunRequest {
        run_id: id.to_owned(),
    };
    let request = match token {
        Some(token) => common::with_token(request, token),
        None => tonic::Request::new(request),
    };
    flows(server)
        .await
        .get_flow_run(request)
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap()
}

/// The run once `done` holds for it (within 10 s).
async fn until(
    server: &TestServer,
    id: &str,
    token: Option<&str>,
    done: impl Fn(v1::FlowRunStatus) -> bool,
) -> v1::FlowRun {
    for _ in 0..200 {
        let run = get_as(server, id, token).await;
        if done(run.status()) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "flow run {id} did not get there: {:?}",
        get_as(server, id, token).await
    );
}

/// The run once it left RUNNING.
async fn settled(server: &TestServer, id: &str) -> v1::FlowRun {
    until(server, id, None, |status| {
        status != v1::FlowRunStatus::Running
    })
    .await
}

/// Approves a held run as `token`, for the payload the approval shows.
async fn approve(server: &TestServer, token: &str, approval_id: &str) {
    use skillos_proto::v1::approval_service_client::ApprovalServiceClient;
    let mut approvals = ApprovalServiceClient::new(server.channel().await);
    let approval = approvals
        .get_approval(common::with_token(
            v1::GetApprovalRequest {
                approval_id: approval_id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    approvals
        .approve(common::with_token(
            v1::ApproveRequest {
                approval_id: approval_id.to_owned(),
                payload_sha256: approval.payload_sha256,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap();
}

fn step<'a>(run: &'a v1::FlowRun, path: &str) -> &'a v1::FlowStep {
    run.steps
        .iter()
        .find(|step| step.path == path)
        .unwrap_or_else(|| panic!("no step {path} in {:?}", run.steps))
}

#[tokio::test]
async fn a_flow_runs_every_kind_of_step_with_its_rows_stored() {
    let seen = Arc::new(Mutex::new(Seen {
        flaky_failures: 1,
        ..Default::default()
    }));
    let (server, _runner) = server(seen.clone()).await;

    let listed = flows(&server)
        .await
        .list_flows(v1::ListFlowsRequest {})
        .await
        .unwrap()
        .into_inner()
        .flows;
    let full = listed.iter().find(|flow| flow.id == "demo/full").unwrap();
    assert_eq!(full.steps, ["first", "never", "both", "poll"]);
    assert_eq!(full.version, "1.2.0");

    let started = start(&server, "demo/full", json!({"start": 1}))
        .await
        .unwrap();
    assert_eq!(started.definition_sha256, full.definition_sha256);
    let run = settled(&server, &started.id).await;
    assert_eq!(run.status(), v1::FlowRunStatus::Succeeded, "{run:?}");
    let output = kind_json(run.output.as_ref().unwrap());
    assert_eq!(output["first"], json!({"start": 1.0, "who": "anonymous"}));
    assert_eq!(output["n"], json!(3.0), "the loop stopped once done");
    assert_eq!(output["skipped"], json!("skipped"));
    assert_eq!(output["right"], json!({"start": 1.0, "who": "anonymous"}));

    assert_eq!(step(&run, "never").status(), v1::FlowStepStatus::Skipped);
    let right = step(&run, "both.right");
    assert_eq!(right.attempt, 2, "one retry after a retryable failure");
    assert_eq!(
        step(&run, "both.left").status(),
        v1::FlowStepStatus::Succeeded
    );
    let poll = step(&run, "poll");
    assert_eq!((poll.kind.as_str(), poll.attempt), ("loop", 2));
    assert_eq!(
        kind_json(step(&run, "poll[1].check").output.as_ref().unwrap()),
        json!({"n": 3.0, "done": true})
    );
    assert!(run.steps.iter().all(|s| !s.path.starts_with("poll[2]")));
    let check = step(&run, "poll[0].check");
    assert!(!check.execution_id.is_empty(), "each step is an execution");

    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.calls.get("a/fail"),
        None,
        "a skipped step does not run"
    );
    assert_eq!(seen.calls["a/flaky"], 2);
    let keys: Vec<&str> = seen
        .step_keys
        .iter()
        .filter(|(skill, _)| skill == "a/flaky")
        .map(|(_, key)| key.as_str())
        .collect();
    let expected = format!("{}:both.right", run.id);
    assert_eq!(
        keys,
        [expected.as_str(), expected.as_str()],
        "the same step key each attempt"
    );
}

#[tokio::test]
async fn a_loop_that_never_ends_well_fails_with_its_own_status() {
    let (server, _runner) = server(Arc::default()).await;
    let run = start(&server, "demo/exhausted", json!({})).await.unwrap();
    let run = settled(&server, &run.id).await;
    assert_eq!(run.status(), v1::FlowRunStatus::Failed);
    let error = run.error.as_ref().unwrap();
    assert_eq!(error.code, "FLOW_LOOP_EXHAUSTED");
    assert!(
        error
            .message
            .starts_with("step poll: the loop ran its 2 iterations"),
        "{error:?}"
    );
    assert_eq!(step(&run, "poll").status(), v1::FlowStepStatus::Failed);
    assert_eq!(
        step(&run, "poll[1].check").status(),
        v1::FlowStepStatus::Succeeded
    );
}

#[tokio::test]
async fn a_failed_run_is_retried_from_its_failed_step() {
    let seen = Arc::new(Mutex::new(Seen {
        flaky_failures: 1,
        ..Default::default()
    }));
    let (server, _runner) = server(seen.clone()).await;
    let run = start(&server, "demo/broken", json!({})).await.unwrap();
    let run = settled(&server, &run.id).await;
    assert_eq!(run.status(), v1::FlowRunStatus::Failed, "no retry declared");
    assert_eq!(step(&run, "second").status(), v1::FlowStepStatus::Failed);
    assert!(
        run.error
            .as_ref()
            .unwrap()
            .message
            .starts_with("step second (a/flaky): ")
    );

    let retried = flows(&server)
        .await
        .retry_flow_run(v1::RetryFlowRunRequest {
            run_id: run.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(retried.retries, 1);
    let run = settled(&server, &run.id).await;
    assert_eq!(run.status(), v1::FlowRunStatus::Succeeded, "{run:?}");
    let calls = seen.lock().unwrap().calls.clone();
    assert_eq!(
        calls["a/echo"], 1,
        "the step that succeeded did not run again"
    );
    assert_eq!(calls["a/flaky"], 2);

    let again = flows(&server)
        .await
        .retry_flow_run(v1::RetryFlowRunRequest {
            run_id: run.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "FLOW_RUN_NOT_RETRYABLE");
}

#[tokio::test]
async fn a_cancelled_run_stops_and_its_running_step_is_cancelled() {
    let (server, _runner) = server(Arc::default()).await;
    let run = start(&server, "demo/hangs", json!({})).await.unwrap();
    let mut execution_id = String::new();
    for _ in 0..100 {
        if let Some(execution) = hang_executions(&server).await.first() {
            execution_id = execution.id.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!execution_id.is_empty(), "the step started");
    let cancelled = flows(&server)
        .await
        .cancel_flow_run(v1::CancelFlowRunRequest {
            run_id: run.id.clone(),
            reason: "no longer needed".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(cancelled.status(), v1::FlowRunStatus::Cancelled);
    assert_eq!(
        cancelled.error.as_ref().unwrap().message,
        "no longer needed"
    );
    assert_eq!(
        step(&cancelled, "wait").status(),
        v1::FlowStepStatus::Cancelled
    );
    common::eventually(|| {
        let server = &server;
        async move {
            hang_executions(server)
                .await
                .first()
                .is_some_and(|e| e.status() == v1::ExecutionStatus::Cancelled)
        }
    })
    .await;
}

async fn hang_executions(server: &TestServer) -> Vec<v1::Execution> {
    skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient::new(
        server.channel().await,
    )
    .list_executions(v1::ListExecutionsRequest {
        skill_id: "a/hang".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .executions
}

#[tokio::test]
async fn bad_starts_are_refused_before_anything_is_stored() {
    let (server, _runner) = server(Arc::default()).await;
    let missing = start(&server, "demo/missing", json!({})).await.unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "FLOW_NOT_FOUND")
    );
    let malformed = start(&server, "not an id", json!({})).await.unwrap_err();
    assert_eq!(reason(&malformed), "INVALID_SKILL_ID");
    let schema = start(&server, "demo/full", json!({"other": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        (schema.code(), reason(&schema).as_str()),
        (Code::InvalidArgument, "INVALID_PAYLOAD")
    );
    let runs = flows(&server)
        .await
        .list_flow_runs(v1::ListFlowRunsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runs;
    assert!(runs.is_empty(), "{runs:?}");
    let unknown = flows(&server)
        .await
        .get_flow_run(v1::GetFlowRunRequest {
            run_id: "nope".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&unknown), "FLOW_RUN_NOT_FOUND");
}

#[tokio::test]
async fn a_step_without_a_runner_waits_for_one_without_using_an_attempt() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (server, _runner) = server(seen.clone()).await;
    let run = start(&server, "demo/orphan", json!({})).await.unwrap();
    let waiting = settled(&server, &run.id).await;
    assert_eq!(waiting.status(), v1::FlowRunStatus::Waiting, "{waiting:?}");
    let only = step(&waiting, "only");
    assert_eq!(only.status(), v1::FlowStepStatus::Running);
    assert_eq!(only.error.as_ref().unwrap().code, "NO_RUNNER");

    let _late = attach(&server, "late", &["a/orphan"], handler(seen.clone())).await;
    let run = until(&server, &run.id, None, |s| {
        s == v1::FlowRunStatus::Succeeded
    })
    .await;
    assert_eq!(step(&run, "only").attempt, 1, "waiting used up no attempt");
    // The run was driven again after its wait: what the group's members left is still read.
    assert_eq!(
        kind_json(run.output.as_ref().unwrap()),
        json!({"left": {"side": "left"}, "only": {"x": 1.0}})
    );
}

const HELD: &str = r#"
id: demo/held
steps:
  - {name: before, skill: a/echo, input: {x: 1}}
  - name: both
    parallel:
      - {name: sign, skill: a/held}
      - {name: free, skill: a/echo}
  - {name: after, skill: a/echo}
"#;

#[tokio::test]
async fn a_step_held_for_approval_makes_the_run_wait_until_it_is_decided() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let skills = [SKILLS.as_slice(), &["a/held"]].concat();
    let server = TestServer::start_with(Options {
        dev_mode: false,
        skills: skills.clone(),
        configure: Some(Arc::new(|_: &mut skillos::config::Config, root: &Path| {
            write(root, "flows/demo/held.yaml", HELD);
            write(
                root,
                "flows/demo/gated.yaml",
                "id: demo/gated\nsteps:\n  - {name: only, skill: a/echo, input: {gated: true}}\n",
            );
            write(
                root,
                "flows/demo/secret.yaml",
                "id: demo/secret\nsteps:\n  - {name: only, skill: a/echo}\n",
            );
            write(
                root,
                "flows/demo/wraps.yaml",
                "id: demo/wraps\nsteps:\n  - {name: inside, flow: demo/unheld}\n",
            );
            write(
                root,
                "flows/demo/unheld.yaml",
                "id: demo/unheld\nsteps:\n  - {name: deep, skill: a/echo}\n  - {name: secret, flow: demo/secret}\n",
            );
            write(
                root,
                "policies/permission_policies.json",
                r#"{"roles": {"approver": ["approvals:decide"], "member": []},
                    "policies": [{"skill_id": "*", "required_permissions": [], "policy_id": "everyone"},
                                 {"skill_id": "demo/secret", "required_permissions": ["secret:start"], "policy_id": "secret"}]}"#,
            );
            write(
                root,
                "policies/approval_policies.json",
                r#"{"policies": [{"skill_id": "a/held", "policy_id": "sign-off"},
                                   {"skill_id": "demo/gated", "policy_id": "gate"}]}"#,
            );
        })),
        ..Default::default()
    })
    .await;
    let _runner = attach(&server, "test", &skills, handler(seen.clone())).await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;

    let mut client = flows(&server).await;
    let started = client
        .start_flow(common::with_token(
            v1::StartFlowRequest {
                flow_id: "demo/held".to_owned(),
                input: None,
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let waiting = |s| s == v1::FlowRunStatus::Waiting;
    let run = until(&server, &started.id, Some(&alice), waiting).await;
    let sign = step(&run, "both.sign");
    assert_eq!(sign.status(), v1::FlowStepStatus::PendingApproval);
    assert!(!sign.approval_id.is_empty());
    assert_eq!(
        step(&run, "both.free").status(),
        v1::FlowStepStatus::Succeeded,
        "the other member ran"
    );
    assert!(
        run.steps.iter().all(|s| s.path != "after"),
        "the steps after it wait"
    );

    approve(&server, &bob, &sign.approval_id).await;
    let succeeded = |s| s == v1::FlowRunStatus::Succeeded;
    let run = until(&server, &started.id, Some(&alice), succeeded).await;
    assert_eq!(
        step(&run, "both.sign").status(),
        v1::FlowStepStatus::Succeeded
    );
    let calls = seen.lock().unwrap().calls.clone();
    assert_eq!(
        calls["a/held"], 1,
        "the held step ran once, after its approval"
    );
    let keys = seen.lock().unwrap().step_keys.clone();
    assert!(
        keys.iter()
            .any(|(skill, key)| skill == "a/held" && *key == format!("{}:both.sign", started.id)),
        "the approved step runs with its step key: {keys:?}"
    );

    // StartFlow applies the flow's own policies: one the caller may not run is refused, and
    // one an approval policy holds must be run with Run, which holds it.
    for (flow, code, why) in [
        ("demo/secret", Code::PermissionDenied, "POLICY_DENIED"),
        (
            "demo/gated",
            Code::FailedPrecondition,
            "FLOW_APPROVAL_REQUIRED",
        ),
        // A sub-flow's sub-flow the caller may not run: refused at the start, not halfway.
        ("demo/wraps", Code::PermissionDenied, "POLICY_DENIED"),
    ] {
        let refused = flows(&server)
            .await
            .start_flow(common::with_token(
                v1::StartFlowRequest {
                    flow_id: flow.to_owned(),
                    input: None,
                },
                &alice,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), reason(&refused)),
            (code, why.to_owned()),
            "{flow}"
        );
    }
    let listed = flows(&server)
        .await
        .list_flow_runs(common::with_token(
            v1::ListFlowRunsRequest::default(),
            &alice,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.runs.len(), 1, "only the first run was stored");

    // A run of the flow itself held by an approval policy starts once approved (no runner
    // serves a flow's id: the server runs it).
    use skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient;
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let held = orchestrator
        .run(common::with_token(
            v1::RunRequest {
                target: Some(v1::run_request::Target::SkillId("demo/gated".to_owned())),
                ..Default::default()
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(held.status(), v1::ExecutionStatus::PendingApproval);
    approve(&server, &bob, &held.approval_id).await;
    let mut status = held.status();
    for _ in 0..200 {
        let execution = orchestrator
            .get_execution(common::with_token(
                v1::GetExecutionRequest {
                    execution_id: held.id.clone(),
                },
                &alice,
            ))
            .await
            .unwrap()
            .into_inner()
            .execution
            .unwrap();
        status = execution.status();
        if status == v1::ExecutionStatus::Succeeded {
            assert_eq!(
                kind_json(execution.output.as_ref().unwrap()),
                json!({"gated": true})
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, v1::ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_flow_is_a_skill_of_the_catalog_run_by_id() {
    use skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient;
    let (server, _runner) = server(Arc::default()).await;
    let skill = server
        .skills()
        .await
        .get_skill(v1::GetSkillRequest {
            skill_id: "demo/full".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert_eq!(skill.kind(), v1::SkillKind::Flow);
    assert_eq!(skill.description, "every kind of step");
    assert_eq!(skill.source_path, "flows/demo/full.yaml");

    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let payload = match from_json(&json!({"start": 1})).kind {
        Some(prost_types::value::Kind::StructValue(payload)) => payload,
        _ => unreachable!(),
    };
    let answer = orchestrator
        .run(v1::RunRequest {
            target: Some(v1::run_request::Target::SkillId("demo/full".to_owned())),
            payload: Some(payload.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let execution = answer.execution.unwrap();
    assert_eq!(
        execution.status(),
        v1::ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    let output = kind_json(execution.output.as_ref().unwrap());
    assert_eq!(output["n"], json!(3.0));
    let runs = flows(&server)
        .await
        .list_flow_runs(v1::ListFlowRunsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].flow_id, "demo/full");
    assert_eq!(runs[0].status(), v1::FlowRunStatus::Succeeded);

    // As a job: the job's attempt waits for the flow run it started.
    let mut jobs =
        skillos_proto::v1::job_service_client::JobServiceClient::new(server.channel().await);
    let job = jobs
        .enqueue_job(v1::EnqueueJobRequest {
            skill_id: "demo/full".to_owned(),
            payload: Some(payload.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let mut state = v1::JobState::Queued;
    for _ in 0..200 {
        let got = jobs
            .get_job(v1::GetJobRequest {
                job_id: job.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        state = got.state();
        if state == v1::JobState::Succeeded {
            assert_eq!(kind_json(got.result.as_ref().unwrap())["n"], json!(3.0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, v1::JobState::Succeeded);

    // The input schema of the flow is the skill's: a Run that breaks it runs nothing.
    let refused = orchestrator
        .run(v1::RunRequest {
            target: Some(v1::run_request::Target::SkillId("demo/full".to_owned())),
            payload: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "INVALID_PAYLOAD");
}

const GATES: &str = r#"
id: demo/gates
version: 2.0.0
steps:
  - {name: quote, skill: a/echo, input: {amount: "${{ input.amount }}"}}
  - name: small
    when: "${{ steps.quote.output.amount < 10 }}"
    approval: {approvers: [role:approver]}
  - name: sign
    approval: {approvers: [role:approver], reason: "orders over 10 need a sign-off"}
  - {name: ship, skill: a/echo}
  - name: reviews
    parallel:
      - {name: legal, approval: {approvers: [role:legal]}}
      - {name: finance, approval: {approvers: [role:approver, group:finance], quorum: 2}}
  - name: rounds
    loop:
      max_iterations: 2
      until: "${{ steps.confirm.output.approved }}"
      steps:
        - {name: confirm, approval: {approvers: [role:approver]}}
output: {ship: "${{ steps.ship.output }}", finance: "${{ steps.finance.output.approvers }}", small: "${{ steps.small.status }}"}
"#;

const SIGNALS: &str = r#"
id: demo/signals
steps:
  - {name: first, wait: first}
  - {name: second, wait: {signal: second, timeout: 1h}}
  - {name: after, skill: a/echo}
output: {first: "${{ steps.first.output.payload }}", by: "${{ steps.second.output.sender }}", after: "${{ steps.after.output }}"}
"#;

const TIMES_OUT: &str = r#"
id: demo/times_out
steps:
  - {name: late, wait: {signal: never, timeout: 1s}}
"#;

/// A server whose approvers are roles (`approver`, `legal`, `finance`) and whose flows have
/// approval and wait steps; drivers look again every 100 ms.
async fn gated_server(seen: Arc<Mutex<Seen>>) -> (TestServer, TestRunner) {
    let server = TestServer::start_with(Options {
        dev_mode: false,
        skills: SKILLS.to_vec(),
        configure: Some(Arc::new(|config: &mut skillos::config::Config, root: &Path| {
            config.flows.poll_interval_ms = 100;
            write(root, "flows/demo/gates.yaml", GATES);
            write(root, "flows/demo/signals.yaml", SIGNALS);
            write(root, "flows/demo/times_out.yaml", TIMES_OUT);
            write(
                root,
                "policies/permission_policies.json",
                r#"{"roles": {"approver": ["approvals:decide"], "legal": ["approvals:decide"],
                              "finance": ["approvals:decide"], "member": []},
                    "policies": [{"skill_id": "*", "required_permissions": [], "policy_id": "everyone"}]}"#,
            );
        })),
        ..Default::default()
    })
    .await;
    let runner = attach(&server, "test", &SKILLS, handler(seen)).await;
    (server, runner)
}

async fn start_as(server: &TestServer, token: &str, flow: &str, input: Json) -> v1::FlowRun {
    let Some(prost_types::value::Kind::StructValue(input)) = from_json(&input).kind else {
        panic!("an object")
    };
    flows(server)
        .await
        .start_flow(common::with_token(
            v1::StartFlowRequest {
                flow_id: flow.to_owned(),
                input: Some(input),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap()
}

/// The run once `path` is in `status` (within 10 s).
async fn step_until(
    server: &TestServer,
    id: &str,
    token: &str,
    path: &str,
    status: v1::FlowStepStatus,
) -> v1::FlowRun {
    for _ in 0..200 {
        let run = get_as(server, id, Some(token)).await;
        if run
            .steps
            .iter()
            .any(|step| step.path == path && step.status() == status)
        {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "step {path} of {id} did not get to {status:?}: {:?}",
        get_as(server, id, Some(token)).await
    );
}

async fn get_approval(server: &TestServer, token: &str, id: &str) -> v1::Approval {
    use skillos_proto::v1::approval_service_client::ApprovalServiceClient;
    ApprovalServiceClient::new(server.channel().await)
        .get_approval(common::with_token(
            v1::GetApprovalRequest {
                approval_id: id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap()
}

async fn reject(server: &TestServer, token: &str, id: &str) -> Result<(), tonic::Status> {
    use skillos_proto::v1::approval_service_client::ApprovalServiceClient;
    ApprovalServiceClient::new(server.channel().await)
        .reject(common::with_token(
            v1::RejectRequest {
                approval_id: id.to_owned(),
                reason: "not this week".to_owned(),
            },
            token,
        ))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn approval_steps_wait_for_their_own_approvers_without_polling_the_run() {
    let (server, _runner) = gated_server(Arc::default()).await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["approver"]).await;
    let carol = server.api_key("default", &["finance"]).await;
    let dave = server.api_key("default", &["legal"]).await;

    let started = start_as(&server, &alice, "demo/gates", json!({"amount": 50})).await;
    let run = step_until(
        &server,
        &started.id,
        &alice,
        "sign",
        v1::FlowStepStatus::PendingApproval,
    )
    .await;
    // The step's row is written before the run's end says it waits.
    let run = until(&server, &run.id, Some(&alice), |status| {
        status == v1::FlowRunStatus::Waiting
    })
    .await;
    assert_eq!(
        step(&run, "sign").status(),
        v1::FlowStepStatus::PendingApproval
    );
    assert_eq!(step(&run, "small").status(), v1::FlowStepStatus::Skipped);
    let sign = step(&run, "sign");
    assert_eq!(sign.kind, "approval");
    let approval = get_approval(&server, &bob, &sign.approval_id).await;
    assert_eq!(approval.skill_id, "demo/gates#sign");
    assert_eq!(approval.skill_version, "2.0.0");
    assert_eq!(approval.flow_run_id, started.id);
    assert_eq!(approval.step_path, "sign");
    assert_eq!(approval.reason, "orders over 10 need a sign-off");
    assert_eq!(approval.approver_group, "approver");
    assert_eq!(approval.policy_id, "flow:demo/gates");
    assert_eq!(
        to_json(approval.payload.as_ref().unwrap()),
        json!({"amount": 50.0}),
        "what is approved is the step's input"
    );

    // Waiting is not polled: the run is not claimed and left again every look.
    let before = get_as(&server, &started.id, Some(&alice)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = get_as(&server, &started.id, Some(&alice)).await;
    assert_eq!(after.status(), v1::FlowRunStatus::Waiting);
    assert_eq!(
        before.update_time, after.update_time,
        "a waiting run stays as it is until its approval is decided"
    );

    // The decision wakes the run at once; the step after the gate gets the gate's input.
    approve(&server, &bob, &sign.approval_id).await;
    let run = step_until(
        &server,
        &started.id,
        &alice,
        "reviews.finance",
        v1::FlowStepStatus::PendingApproval,
    )
    .await;
    let run = if step(&run, "reviews.legal").status() == v1::FlowStepStatus::PendingApproval {
        run
    } else {
        step_until(
            &server,
            &started.id,
            &alice,
            "reviews.legal",
            v1::FlowStepStatus::PendingApproval,
        )
        .await
    };
    assert_eq!(
        kind_json(step(&run, "ship").output.as_ref().unwrap()),
        json!({"amount": 50.0})
    );
    let output = kind_json(step(&run, "sign").output.as_ref().unwrap());
    assert_eq!(output["approved"], json!(true));
    assert_eq!(output["approval_id"], json!(sign.approval_id));

    // Both members of the group wait at once, each for its own approvers.
    let legal = step(&run, "reviews.legal").approval_id.clone();
    let finance = step(&run, "reviews.finance").approval_id.clone();
    assert_ne!(legal, finance);
    let refused = reject(&server, &bob, &legal).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    approve(&server, &dave, &legal).await;
    approve(&server, &bob, &finance).await;
    let run = step_until(
        &server,
        &started.id,
        &alice,
        "reviews.legal",
        v1::FlowStepStatus::Succeeded,
    )
    .await;
    assert_eq!(
        step(&run, "reviews.finance").status(),
        v1::FlowStepStatus::PendingApproval,
        "a quorum of two needs a second approver"
    );
    approve(&server, &carol, &finance).await;

    // A gate inside a loop: each iteration holds its own approval.
    let run = step_until(
        &server,
        &started.id,
        &alice,
        "rounds[0].confirm",
        v1::FlowStepStatus::PendingApproval,
    )
    .await;
    approve(&server, &bob, &step(&run, "rounds[0].confirm").approval_id).await;
    let run = until(&server, &started.id, Some(&alice), |s| {
        s == v1::FlowRunStatus::Succeeded
    })
    .await;
    let output = kind_json(run.output.as_ref().unwrap());
    assert_eq!(output["ship"], json!({"amount": 50.0}));
    assert_eq!(output["small"], json!("skipped"));
    let approvers: Vec<String> = serde_json::from_value(output["finance"].clone()).unwrap();
    assert_eq!(approvers.len(), 2);
    assert!(run.steps.iter().all(|s| s.path != "rounds[1].confirm"));

    // A rejected gate fails the run, naming the step, at once.
    let small = start_as(&server, &alice, "demo/gates", json!({"amount": 5})).await;
    let run = step_until(
        &server,
        &small.id,
        &alice,
        "small",
        v1::FlowStepStatus::PendingApproval,
    )
    .await;
    reject(&server, &bob, &step(&run, "small").approval_id)
        .await
        .unwrap();
    let run = until(&server, &small.id, Some(&alice), |s| {
        s == v1::FlowRunStatus::Failed
    })
    .await;
    let error = run.error.clone().unwrap();
    assert_eq!(error.code, "APPROVAL_REJECTED");
    assert!(
        error.message.starts_with("step small:"),
        "{}",
        error.message
    );
    assert_eq!(step(&run, "small").status(), v1::FlowStepStatus::Failed);
    assert!(run.steps.iter().all(|s| s.path != "sign"));
}

async fn signal(
    server: &TestServer,
    token: &str,
    run: &str,
    name: &str,
    payload: Json,
) -> Result<v1::FlowRun, tonic::Status> {
    let Some(prost_types::value::Kind::StructValue(payload)) = from_json(&payload).kind else {
        panic!("an object")
    };
    flows(server)
        .await
        .signal_flow_run(common::with_token(
            v1::SignalFlowRunRequest {
                run_id: run.to_owned(),
                name: name.to_owned(),
                payload: Some(payload),
            },
            token,
        ))
        .await
        .map(|response| response.into_inner().run.unwrap())
}

#[tokio::test]
async fn wait_steps_take_the_signals_sent_to_their_run_before_or_after_they_wait() {
    let (server, _runner) = gated_server(Arc::default()).await;
    let alice = server.api_key("default", &["member"]).await;
    let eve = server.api_key("default", &["member"]).await;

    let started = start_as(&server, &alice, "demo/signals", json!({"order": 7})).await;
    let run = step_until(
        &server,
        &started.id,
        &alice,
        "first",
        v1::FlowStepStatus::Waiting,
    )
    .await;
    // The step's row is written before the run's end says it waits.
    let run = until(&server, &run.id, Some(&alice), |status| {
        status == v1::FlowRunStatus::Waiting
    })
    .await;
    assert_eq!(step(&run, "first").status(), v1::FlowStepStatus::Waiting);
    assert_eq!(step(&run, "first").kind, "wait");

    // A signal for a later step is kept until that step takes it.
    signal(&server, &alice, &started.id, "second", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run = get_as(&server, &started.id, Some(&alice)).await;
    assert_eq!(step(&run, "first").status(), v1::FlowStepStatus::Waiting);
    assert!(run.steps.iter().all(|s| s.path != "second"));

    // Only the starter (or flows:manage) signals a run; bad names and payloads are refused.
    let refused = signal(&server, &eve, &started.id, "first", json!({}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = signal(&server, &alice, &started.id, "no spaces", json!({}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_SIGNAL");
    let big = json!({"text": "x".repeat(300 * 1024)});
    let refused = signal(&server, &alice, &started.id, "first", big)
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "INVALID_PAYLOAD");
    let refused = signal(&server, &alice, "0190-no-such-run", "first", json!({}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    signal(&server, &alice, &started.id, "first", json!({"n": 1}))
        .await
        .unwrap();
    let run = until(&server, &started.id, Some(&alice), |s| {
        s == v1::FlowRunStatus::Succeeded
    })
    .await;
    let output = kind_json(run.output.as_ref().unwrap());
    assert_eq!(output["first"], json!({"n": 1.0}));
    assert!(output["by"].as_str().is_some_and(|by| !by.is_empty()));
    assert_eq!(
        output["after"],
        json!({"order": 7.0}),
        "wait steps pass their input on"
    );
    let refused = signal(&server, &alice, &started.id, "first", json!({}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "FLOW_RUN_FINISHED");

    // A wait with a timeout fails the run when no signal comes in time.
    let late = start_as(&server, &alice, "demo/times_out", json!({})).await;
    let run = until(&server, &late.id, Some(&alice), |s| {
        s == v1::FlowRunStatus::Failed
    })
    .await;
    let error = run.error.unwrap();
    assert_eq!(error.code, "FLOW_SIGNAL_TIMEOUT");
    assert!(error.message.starts_with("step late:"), "{}", error.message);
}

const CAPPED: &str = r#"
id: demo/capped
max_cost: 2.5
steps:
  - {name: tiered, skill: a/tiered}
  - {name: go, wait: go}
  - name: each
    loop:
      max_iterations: 10
      steps:
        - {name: pay, skill: a/paid}
"#;

/// `a/paid` is estimated at 1 and reports 0.25 a run; `a/tiered` is estimated at 5 on its
/// standard tier and 1 on its economy one, and reports as much. The run waits for a signal
/// between the two, so that its second drive counts the first step's cost from the store.
#[tokio::test]
async fn a_run_stops_at_its_max_cost_counting_what_its_steps_cost() {
    let server = TestServer::start_with(Options {
        skills: vec!["a/echo"],
        configure: Some(Arc::new(|_: &mut skillos::config::Config, root: &Path| {
            let paid = common::manifest("a/paid") + "cost_estimate: 1\n";
            write(root, "metadata/a/paid.yaml", &paid);
            let tiered = common::manifest("a/tiered")
                + "model_tiers:\n- {name: standard, cost_estimate: 5}\n- {name: economy, cost_estimate: 1}\n";
            write(root, "metadata/a/tiered.yaml", &tiered);
            write(root, "flows/demo/capped.yaml", CAPPED);
        })),
        ..Default::default()
    })
    .await;
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let calls = seen.clone();
    let _runner = attach(
        &server,
        "priced",
        &["a/echo", "a/paid", "a/tiered"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            calls
                .lock()
                .unwrap()
                .push((invoke.skill_id.clone(), invoke.model_tier.clone()));
            let output = from_json(&json!({"ok": true}));
            match (invoke.skill_id.as_str(), invoke.model_tier.as_str()) {
                ("a/tiered", "economy") => Answer::Costed(output, 1.0),
                ("a/tiered", _) => Answer::Costed(output, 5.0),
                _ => Answer::Output(output),
            }
        }),
    )
    .await;

    let alice = server.api_key("default", &["member"]).await;
    let started = start_as(&server, &alice, "demo/capped", json!({})).await;
    step_until(
        &server,
        &started.id,
        &alice,
        "go",
        v1::FlowStepStatus::Waiting,
    )
    .await;
    // The run goes on in a new drive, which counts what its ended steps cost from the store.
    signal(&server, &alice, &started.id, "go", json!({}))
        .await
        .unwrap();
    let run = until(&server, &started.id, Some(&alice), |status| {
        status != v1::FlowRunStatus::Running && status != v1::FlowRunStatus::Waiting
    })
    .await;
    assert_eq!(run.status(), v1::FlowRunStatus::Failed, "{run:?}");
    let error = run.error.clone().unwrap();
    assert_eq!(error.code, "FLOW_BUDGET_EXCEEDED", "{error:?}");
    assert!(
        error.message.starts_with("step each[3].pay (a/paid)"),
        "{error:?}"
    );
    // The standard tier (5) does not fit in 2.5: the step ran on the economy one. Then 1.5
    // was left, and each run of a/paid cost 0.25 of its estimate of 1: three fit.
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls[0], ("a/tiered".to_owned(), "economy".to_owned()));
    assert_eq!(calls.len(), 4, "{calls:?}");
    let refused = step(&run, "each[3].pay");
    assert_eq!(refused.status(), v1::FlowStepStatus::Failed);
    assert!(refused.execution_id.is_empty(), "nothing ran for it");
    server.stop().await.unwrap();
}

const OUTER: &str = r#"
id: demo/outer
steps:
  - {name: first, skill: a/echo, input: {order: "${{ input.order }}"}}
  - {name: sub, flow: demo/inner}
  - {name: last, skill: a/echo, input: {inner: "${{ steps.sub.output }}"}}
"#;

const INNER: &str = r#"
id: demo/inner
input_schema: {type: object, required: [order], properties: {order: {type: number}}}
steps:
  - {name: go, wait: go}
  - {name: echoed, skill: a/echo}
output: {order: "${{ input.order }}", by: "${{ steps.go.output.payload.by }}"}
"#;

const BROKEN_OUTER: &str = r#"
id: demo/broken_outer
steps:
  - {name: sub, flow: demo/broken}
"#;

/// The sub-flow runs of `parent`, as `token` lists them.
async fn children(server: &TestServer, token: &str, parent: &str) -> Vec<v1::FlowRun> {
    flows(server)
        .await
        .list_flow_runs(common::with_token(
            v1::ListFlowRunsRequest {
                parent_run_id: parent.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .runs
}

#[tokio::test]
async fn a_flow_step_runs_a_sub_flow_that_wakes_its_parent_and_is_cancelled_with_it() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = TestServer::start_with(Options {
        skills: SKILLS.to_vec(),
        configure: Some(Arc::new(|_: &mut skillos::config::Config, root: &Path| {
            write(root, "flows/demo/outer.yaml", OUTER);
            write(root, "flows/demo/inner.yaml", INNER);
            write(root, "flows/demo/broken.yaml", BROKEN);
            write(root, "flows/demo/broken_outer.yaml", BROKEN_OUTER);
        })),
        ..Default::default()
    })
    .await;
    let _runner = attach(&server, "test", &SKILLS, handler(seen.clone())).await;
    let alice = server.api_key("default", &["member"]).await;

    let outer = start_as(&server, &alice, "demo/outer", json!({"order": 7})).await;
    let waiting = step_until(
        &server,
        &outer.id,
        &alice,
        "sub",
        v1::FlowStepStatus::Waiting,
    )
    .await;
    assert_eq!(step(&waiting, "sub").kind, "flow");
    assert_eq!(step(&waiting, "sub").skill_id, "demo/inner");
    let inner = children(&server, &alice, &outer.id).await;
    assert_eq!(
        inner.len(),
        1,
        "one child run, however often the parent was looked at"
    );
    assert_eq!(inner[0].flow_id, "demo/inner");
    assert_eq!(
        (
            inner[0].parent_run_id.as_str(),
            inner[0].parent_step_path.as_str()
        ),
        (outer.id.as_str(), "sub")
    );
    assert_eq!(
        inner[0].input, outer.input,
        "the step's input is the child's"
    );
    let first_child = inner[0].id.clone();
    signal(&server, &alice, &first_child, "go", json!({"by": "alice"}))
        .await
        .unwrap();
    // The child's end wakes the parent at once (it would otherwise look again in a minute).
    let done = until(&server, &outer.id, Some(&alice), |status| {
        status == v1::FlowRunStatus::Succeeded
    })
    .await;
    assert_eq!(
        kind_json(done.output.as_ref().unwrap()),
        json!({"inner": {"order": 7.0, "by": "alice"}})
    );
    assert_eq!(children(&server, &alice, &outer.id).await.len(), 1);

    // Cancelling the parent cancels the child that waits.
    let outer = start_as(&server, &alice, "demo/outer", json!({"order": 8})).await;
    step_until(
        &server,
        &outer.id,
        &alice,
        "sub",
        v1::FlowStepStatus::Waiting,
    )
    .await;
    flows(&server)
        .await
        .cancel_flow_run(common::with_token(
            v1::CancelFlowRunRequest {
                run_id: outer.id.clone(),
                reason: "changed our mind".to_owned(),
            },
            &alice,
        ))
        .await
        .unwrap();
    let inner = children(&server, &alice, &outer.id).await;
    assert_eq!(inner.len(), 1);
    assert_ne!(inner[0].id, first_child);
    assert_eq!(
        inner[0].status(),
        v1::FlowRunStatus::Cancelled,
        "{:?}",
        inner[0]
    );

    // An input the sub-flow's schema refuses fails the step; no child run is stored.
    let outer = start_as(&server, &alice, "demo/outer", json!({"order": "seven"})).await;
    let failed = until(&server, &outer.id, Some(&alice), |status| {
        status == v1::FlowRunStatus::Failed
    })
    .await;
    assert_eq!(failed.error.unwrap().code, "INVALID_PAYLOAD");
    assert!(children(&server, &alice, &outer.id).await.is_empty());

    // A sub-flow that fails fails its step, naming the child's error.
    seen.lock().unwrap().flaky_failures = 100;
    let outer = start_as(&server, &alice, "demo/broken_outer", json!({})).await;
    let failed = until(&server, &outer.id, Some(&alice), |status| {
        status == v1::FlowRunStatus::Failed
    })
    .await;
    let error = failed.error.unwrap();
    assert!(
        error
            .message
            .starts_with("step sub (demo/broken): sub-flow run "),
        "{error:?}"
    );
    assert!(error.message.contains("step second (a/flaky)"), "{error:?}");
    server.stop().await.unwrap();
}
