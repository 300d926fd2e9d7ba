//! Runners over real gRPC: registration, token scopes, Run by skill id, execution records,
//! oversized results and lost runners.

mod common;

use common::reason;

use std::sync::Arc;

use common::runner::{Answer, TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer};
use skillos_proto::v1::{self, orchestrator_service_client::OrchestratorServiceClient};
use tonic::Code;
use tonic_types::StatusExt;

fn run_request(skill_id: &str, payload: serde_json::Value) -> v1::RunRequest {
    let payload = match payload {
        serde_json::Value::Object(map) => Some(prost_types::Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| {
                    let kind = match v {
                        serde_json::Value::Number(n) => {
                            prost_types::value::Kind::NumberValue(n.as_f64().unwrap())
                        }
                        serde_json::Value::String(s) => prost_types::value::Kind::StringValue(s),
                        other => panic!("unsupported in test payloads: {other}"),
                    };
                    (k, prost_types::Value { kind: Some(kind) })
                })
                .collect(),
        }),
        _ => None,
    };
    v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId(skill_id.to_owned())),
        payload,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_registered_runner_serves_run_and_the_execution_is_recorded() {
    let server = TestServer::start().await;
    let mut skills = server.skills().await;
    let listed = skills
        .list_skills(v1::ListSkillsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.skills.iter().all(|skill| !skill.available),
        "no runner is attached yet"
    );
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one", "b/three"],
        echo(),
    )
    .await
    .unwrap();
    assert_eq!(runner.registered.accepted_skill_ids, ["a/one", "b/three"]);
    let listed = skills
        .list_skills(v1::ListSkillsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let available: Vec<&str> = listed
        .skills
        .iter()
        .filter(|skill| skill.available)
        .map(|skill| skill.id.as_str())
        .collect();
    assert_eq!(available, ["a/one", "b/three"]);
    assert!(runner.registered.rejected_skills.is_empty());

    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let response = orchestrator
        .run(run_request(
            "a.one",
            serde_json::json!({"amount": 100, "to": "EUR"}),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.outcome(), v1::RunOutcome::Executed);
    let execution = response.execution.unwrap();
    assert_eq!(execution.status(), v1::ExecutionStatus::Succeeded);
    assert_eq!(execution.skill_id, "a/one");
    assert_eq!(execution.attempts, 1);
    assert_eq!(execution.runner_id, runner.registered.runner_id);
    assert_eq!(execution.usage.unwrap().cost, 0.25);
    let output = skillos_json(&execution.output.unwrap());
    assert_eq!(
        output,
        serde_json::json!({"echo": {"amount": 100.0, "to": "EUR"}})
    );

    let fetched = orchestrator
        .get_execution(v1::GetExecutionRequest {
            execution_id: execution.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(fetched.status(), v1::ExecutionStatus::Succeeded);
    let listed = orchestrator
        .list_executions(v1::ListExecutionsRequest {
            skill_id: "a/one".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .executions
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [execution.id.as_str()]
    );

    let runners = orchestrator
        .list_runners(v1::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(runners.runners.len(), 1);
    assert_eq!(runners.runners[0].name, "echo");
    server.stop().await.unwrap();
}

type PendingRun = tokio::task::JoinHandle<Result<tonic::Response<v1::RunResponse>, tonic::Status>>;

/// A runner that never answers, and a Run of `a/one` waiting on it (already dispatched).
async fn hanging_call(server: &TestServer) -> (TestRunner, PendingRun) {
    let silent: common::runner::Handler = Arc::new(|_| Answer::Silence);
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "hangs",
        &["a/one"],
        silent,
    )
    .await
    .unwrap();
    let mut caller = OrchestratorServiceClient::new(server.channel().await);
    let pending = tokio::spawn(async move {
        caller
            .run(run_request("a/one", serde_json::json!({})))
            .await
    });
    let orchestrator = OrchestratorServiceClient::new(server.channel().await);
    common::eventually(|| {
        let mut orchestrator = orchestrator.clone();
        async move {
            let runners = orchestrator
                .list_runners(v1::ListRunnersRequest::default())
                .await
                .unwrap()
                .into_inner();
            runners.runners.iter().any(|runner| runner.in_flight == 1)
        }
    })
    .await;
    (runner, pending)
}

fn skillos_json(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        Some(Kind::StructValue(object)) => serde_json::Value::Object(
            object
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), skillos_json(v)))
                .collect(),
        ),
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::StringValue(s)) => serde_json::json!(s),
        Some(Kind::BoolValue(b)) => serde_json::json!(b),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.iter().map(skillos_json).collect())
        }
        Some(Kind::NullValue(_)) | None => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn tokens_decide_who_attaches_and_which_skills_they_may_serve() {
    let options = Options {
        runner_tokens: vec![("finance-only-runner-token", vec!["a/*"])],
        ..Default::default()
    };
    let server = TestServer::start_with(options).await;

    let unknown = TestRunner::attach(
        server.channel().await,
        "not-a-configured-token",
        "x",
        &["a/one"],
        echo(),
    )
    .await;
    let status = unknown.err().expect("unknown token accepted");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "RUNNER_TOKEN_INVALID");

    let scoped = TestRunner::attach(
        server.channel().await,
        "finance-only-runner-token",
        "x",
        &["a/one", "b/three"],
        echo(),
    )
    .await
    .unwrap();
    assert_eq!(scoped.registered.accepted_skill_ids, ["a/one"]);
    assert_eq!(scoped.registered.rejected_skills.len(), 1);
    assert_eq!(scoped.registered.rejected_skills[0].skill_id, "b/three");

    let nothing_allowed = TestRunner::attach(
        server.channel().await,
        "finance-only-runner-token",
        "x",
        &["b/three"],
        echo(),
    )
    .await;
    let status = nothing_allowed
        .err()
        .expect("a runner with no allowed skill was accepted");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "NO_SKILL_ALLOWED");

    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let status = orchestrator
        .run(run_request("b/three", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "NO_RUNNER");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_skill_error_is_a_failed_execution_and_an_oversized_result_fails_only_its_call() {
    let options = Options {
        max_result_bytes: 64 * 1024,
        ..Default::default()
    };
    let server = TestServer::start_with(options).await;
    let handler: common::runner::Handler = Arc::new(|invoke| match invoke.skill_id.as_str() {
        "a/two" => Answer::Error("amount: required"),
        "b/three" => Answer::Output(prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(
                "x".repeat(200 * 1024),
            )),
        }),
        _ => Answer::Output(prost_types::Value {
            kind: Some(prost_types::value::Kind::BoolValue(true)),
        }),
    });
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["a/one", "a/two", "b/three"],
        handler,
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);

    let failed = orchestrator
        .run(run_request("a/two", serde_json::json!({})))
        .await
        .unwrap()
        .into_inner();
    let execution = failed.execution.unwrap();
    assert_eq!(execution.status(), v1::ExecutionStatus::Failed);
    let error = execution.error.unwrap();
    assert_eq!(
        (error.origin(), error.message.as_str()),
        (v1::ErrorOrigin::Skill, "amount: required")
    );

    let too_large = orchestrator
        .run(run_request("b/three", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), Code::ResourceExhausted);
    assert_eq!(reason(&too_large), "RESULT_TOO_LARGE");
    let info = too_large.get_details_error_info().unwrap();
    let execution_id = info
        .metadata
        .get("execution_id")
        .expect("the failed run names its execution");

    // The stream survived: the next call on the same runner succeeds.
    let ok = orchestrator
        .run(run_request("a/one", serde_json::json!({})))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ok.execution.unwrap().status(),
        v1::ExecutionStatus::Succeeded
    );
    let recorded = orchestrator
        .get_execution(v1::GetExecutionRequest {
            execution_id: execution_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    assert_eq!(recorded.status(), v1::ExecutionStatus::Failed);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_killed_runner_fails_its_calls_at_once_and_the_run_times_out_without_one() {
    let server = TestServer::start().await;
    let (runner, pending) = hanging_call(&server).await;
    runner.kill();
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    // a/one is not retryable in this root: the loss is reported, not retried.
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "RUNNER_LOST");

    let _silent = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "hangs",
        &["a/one"],
        Arc::new(|_| Answer::Silence),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let mut request = run_request("a/one", serde_json::json!({}));
    request.timeout = Some(prost_types::Duration {
        seconds: 0,
        nanos: 300_000_000,
    });
    let status = orchestrator.run(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(reason(&status), "EXECUTION_TIMED_OUT");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_runner_is_removed_after_the_heartbeat_timeout() {
    let server = TestServer::start().await;
    // The test runner never sends heartbeats; the harness sets a 3 s timeout.
    let _runner = TestRunner::attach_silent(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "silent",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let listed = orchestrator
        .list_runners(v1::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.runners.len(), 1);
    common::eventually(|| {
        let mut orchestrator = orchestrator.clone();
        async move {
            let listed = orchestrator
                .list_runners(v1::ListRunnersRequest::default())
                .await
                .unwrap()
                .into_inner();
            listed.runners.is_empty()
        }
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_runners_and_ends_their_streams() {
    let mut server = TestServer::start().await;
    let mut runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    server.begin_shutdown();
    let drained = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match runner.events.recv().await {
                Some(skillos_proto::runner_v1::attach_response::Message::Drain(_)) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    })
    .await
    .unwrap();
    assert!(drained, "the runner was not told to drain");
    server.join().await.unwrap();
}

#[tokio::test]
async fn payloads_are_checked_against_the_input_schema_before_anything_runs() {
    let server = TestServer::start().await;
    let manifest = "id: c/typed\nname: typed\ndescription: d\nversion: 1.0.0\nentrypoint: m:run\n\
                    input_schema:\n  type: object\n  required: [amount]\n  properties:\n    amount: {type: number, minimum: 0}\n  additionalProperties: false\n";
    common::write(&server.root_path(), "metadata/c/typed.yaml", manifest);
    let skills = server.skills().await;
    common::eventually(|| {
        let mut skills = skills.clone();
        async move {
            skills
                .get_skill(v1::GetSkillRequest {
                    skill_id: "c/typed".into(),
                })
                .await
                .is_ok()
        }
    })
    .await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["c/typed"],
        echo(),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);

    for (bad, field) in [
        (serde_json::json!({}), "payload"),
        (serde_json::json!({"amount": -1}), "payload.amount"),
        (serde_json::json!({"amount": 1, "x": "y"}), "payload"),
    ] {
        let status = orchestrator
            .run(run_request("c/typed", bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(
            reason(&status),
            "INVALID_PAYLOAD",
            "{bad}: {}",
            status.message()
        );
        // The field at fault, as google.rpc.BadRequest beside the ErrorInfo.
        let bad_request = status
            .get_details_bad_request()
            .expect("a BadRequest detail");
        assert_eq!(bad_request.field_violations[0].field, field, "{bad}");
    }
    let listed = orchestrator
        .list_executions(v1::ListExecutionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.executions.is_empty(),
        "a refused payload must not create an execution"
    );

    let ok = orchestrator
        .run(run_request("c/typed", serde_json::json!({"amount": 5})))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ok.execution.unwrap().status(),
        v1::ExecutionStatus::Succeeded
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn run_stream_reports_acceptance_attempts_progress_and_the_result() {
    use v1::run_stream_response::Event;
    let server = TestServer::start().await;
    let handler: common::runner::Handler = Arc::new(|_| {
        Answer::ProgressThen(
            "half way",
            prost_types::Value {
                kind: Some(prost_types::value::Kind::BoolValue(true)),
            },
        )
    });
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["a/one"],
        handler,
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let request = v1::RunStreamRequest {
        target: Some(v1::run_stream_request::Target::SkillId("a/one".into())),
        ..Default::default()
    };
    let mut stream = orchestrator.run_stream(request).await.unwrap().into_inner();
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        events.push(message.event.unwrap());
    }
    let Event::Accepted(accepted) = &events[0] else {
        panic!("first event: {:?}", events[0])
    };
    let Event::AttemptStarted(started) = &events[1] else {
        panic!("second event: {:?}", events[1])
    };
    assert_eq!(
        (started.attempt, started.runner_id.as_str()),
        (1, runner.registered.runner_id.as_str())
    );
    let Event::Progress(progress) = &events[2] else {
        panic!("third event: {:?}", events[2])
    };
    assert_eq!(
        (progress.message.as_str(), progress.percent),
        ("half way", Some(50.0))
    );
    assert_eq!(progress.execution_id, accepted.execution_id);
    let Event::Completed(completed) = &events[3] else {
        panic!("last event: {:?}", events[3])
    };
    let execution = completed.execution.as_ref().unwrap();
    assert_eq!(
        (execution.id.as_str(), execution.status()),
        (
            accepted.execution_id.as_str(),
            v1::ExecutionStatus::Succeeded
        )
    );
    assert_eq!(events.len(), 4);

    let missing = v1::RunStreamRequest {
        target: Some(v1::run_stream_request::Target::SkillId("b/three".into())),
        ..Default::default()
    };
    let status = match orchestrator.run_stream(missing).await {
        Err(status) => status,
        Ok(response) => response.into_inner().message().await.unwrap_err(),
    };
    assert_eq!(reason(&status), "NO_RUNNER");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_caller_that_goes_away_leaves_a_cancelled_execution_not_a_running_one() {
    let server = TestServer::start().await;
    let (_runner, pending) = hanging_call(&server).await;
    pending.abort();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    common::eventually(|| {
        let mut orchestrator = orchestrator.clone();
        async move {
            let listed = orchestrator
                .list_executions(v1::ListExecutionsRequest::default())
                .await
                .unwrap()
                .into_inner();
            listed.executions.len() == 1
                && listed.executions[0].status() == v1::ExecutionStatus::Cancelled
        }
    })
    .await;
    let listed = orchestrator
        .list_executions(v1::ListExecutionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.executions[0].error.as_ref().unwrap().code,
        "EXECUTION_CANCELLED"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_callers_trace_context_reaches_the_runner() {
    let server = TestServer::start().await;
    let mut runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut request = tonic::Request::new(run_request("a/one", serde_json::json!({})));
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    orchestrator.run(request).await.unwrap();
    orchestrator
        .run(run_request("a/one", serde_json::json!({})))
        .await
        .unwrap();

    let mut seen = Vec::new();
    while seen.len() < 2 {
        if let Some(skillos_proto::runner_v1::attach_response::Message::Invoke(invoke)) =
            runner.events.recv().await
        {
            seen.push(invoke.traceparent);
        }
    }
    assert_eq!(seen[0], traceparent);
    assert_ne!(seen[1], traceparent);
    assert!(
        seen[1].starts_with("00-") && seen[1].len() == 55,
        "a new trace is started: {}",
        seen[1]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn executions_are_listed_by_time_range_and_by_several_statuses() {
    let server = TestServer::start().await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "r",
        &["a/one"],
        Arc::new(|invoke| {
            let fail = invoke
                .payload
                .as_ref()
                .is_some_and(|payload| payload.fields.contains_key("fail"));
            if fail {
                Answer::Error("asked to fail")
            } else {
                echo()(invoke)
            }
        }),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let run = |payload: serde_json::Value| {
        let mut orchestrator = orchestrator.clone();
        async move {
            orchestrator
                .run(run_request("a/one", payload))
                .await
                .unwrap()
                .into_inner()
                .execution
                .unwrap()
        }
    };
    let first = run(serde_json::json!({"amount": 1})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = prost_types::Timestamp::from(std::time::SystemTime::now());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let failed = run(serde_json::json!({"fail": 1})).await;
    let last = run(serde_json::json!({"amount": 2})).await;
    assert_eq!(failed.status(), v1::ExecutionStatus::Failed);
    let ids = |request: v1::ListExecutionsRequest| {
        let mut orchestrator = orchestrator.clone();
        async move {
            orchestrator
                .list_executions(request)
                .await
                .unwrap()
                .into_inner()
                .executions
                .into_iter()
                .map(|execution| execution.id)
                .collect::<Vec<_>>()
        }
    };
    let since = ids(v1::ListExecutionsRequest {
        created_after: Some(between),
        ..Default::default()
    })
    .await;
    assert_eq!(since, [last.id.as_str(), failed.id.as_str()]);
    let before = ids(v1::ListExecutionsRequest {
        created_before: Some(between),
        ..Default::default()
    })
    .await;
    assert_eq!(before, [first.id]);
    let either = ids(v1::ListExecutionsRequest {
        statuses: vec![
            v1::ExecutionStatus::Failed as i32,
            v1::ExecutionStatus::Cancelled as i32,
        ],
        ..Default::default()
    })
    .await;
    assert_eq!(either, [failed.id.as_str()]);
    let succeeded_since = ids(v1::ListExecutionsRequest {
        created_after: Some(between),
        statuses: vec![v1::ExecutionStatus::Succeeded as i32],
        ..Default::default()
    })
    .await;
    assert_eq!(succeeded_since, [last.id]);

    // A time out of range names its field.
    let status = orchestrator
        .list_executions(v1::ListExecutionsRequest {
            created_after: Some(prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad_request = status.get_details_bad_request().unwrap();
    assert_eq!(bad_request.field_violations[0].field, "created_after");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn runners_are_listed_in_pages_and_bad_filters_are_refused() {
    let server = TestServer::start().await;
    let mut attached = Vec::new();
    for (name, skills) in [
        ("c", &["a/one"][..]),
        ("a", &["a/one"]),
        ("b", &["b/three"]),
    ] {
        let runner = TestRunner::attach(
            server.channel().await,
            ALL_SKILLS_TOKEN,
            name,
            skills,
            echo(),
        )
        .await
        .unwrap();
        attached.push(runner);
    }
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let names = |response: &v1::ListRunnersResponse| {
        response
            .runners
            .iter()
            .map(|runner| runner.name.clone())
            .collect::<Vec<_>>()
    };
    let first = orchestrator
        .list_runners(v1::ListRunnersRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&first), ["a", "b"]);
    assert!(!first.next_page_token.is_empty());
    let second = orchestrator
        .list_runners(v1::ListRunnersRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&second), ["c"]);
    assert!(second.next_page_token.is_empty());
    let serving = orchestrator
        .list_runners(v1::ListRunnersRequest {
            skill_id: "a.one".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&serving), ["a", "c"]);

    for (request, code, why, field) in [
        (
            v1::ListRunnersRequest {
                page_token: "garbage!".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "INVALID_PAGE_TOKEN",
            "page_token",
        ),
        (
            v1::ListRunnersRequest {
                page_size: -1,
                ..Default::default()
            },
            Code::InvalidArgument,
            "INVALID_PAGE_SIZE",
            "page_size",
        ),
        (
            v1::ListRunnersRequest {
                skill_id: "not an id".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "INVALID_SKILL_ID",
            "skill_id",
        ),
    ] {
        let status = orchestrator.list_runners(request).await.unwrap_err();
        assert_eq!(status.code(), code);
        assert_eq!(reason(&status), why);
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations[0].field, field);
    }
    drop(attached);
    server.stop().await.unwrap();
}
