//! Pipelines and compositions over real gRPC with a runner attached over a real stream: each
//! step's output is the next one's payload, a parallel group really runs at once and is keyed
//! by member, the first failure cancels the other members, and what the caller may not run is
//! refused before anything runs. A composition is a skill of the catalog: listed with its
//! kind, run by id (also as a job), refused while inactive.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::runner::{Answer, Handler, TestRunner};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, metadata, reason, write};
use prost_types::value::Kind;
use skillos_proto::runner_v1::attach_response;
use skillos_proto::v1::{self, orchestrator_service_client::OrchestratorServiceClient};
use tonic::Code;
use tonic_types::StatusExt;

fn text(value: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

fn object(fields: Vec<(&str, prost_types::Value)>) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StructValue(prost_types::Struct {
            fields: fields
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect::<BTreeMap<_, _>>(),
        })),
    }
}

fn field<'a>(value: &'a prost_types::Value, key: &str) -> &'a prost_types::Value {
    match &value.kind {
        Some(Kind::StructValue(fields)) => fields
            .fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key:?} in {value:?}")),
        _ => panic!("not an object: {value:?}"),
    }
}

fn string(value: &prost_types::Value) -> &str {
    match &value.kind {
        Some(Kind::StringValue(text)) => text,
        _ => panic!("not a string: {value:?}"),
    }
}

/// Each skill answers `{"by": <its id>, "got": <its payload>}`; `a/text` answers a string,
/// `a/fail` fails, `a/slow` answers after a second and `a/hang` never does.
fn handler() -> Handler {
    Arc::new(|invoke| {
        let got = prost_types::Value {
            kind: Some(Kind::StructValue(
                invoke.payload.clone().unwrap_or_default(),
            )),
        };
        let answer = object(vec![("by", text(&invoke.skill_id)), ("got", got)]);
        match invoke.skill_id.as_str() {
            "a/text" => Answer::Output(text("plain words")),
            "a/fail" => Answer::Error("broken"),
            "a/slow" => Answer::Later(Duration::from_secs(1), answer),
            "a/hang" => Answer::Silence,
            _ => Answer::Output(answer),
        }
    })
}

const SKILLS: [&str; 7] = [
    "a/one", "a/two", "a/text", "a/fail", "a/slow", "a/hang", "b/secret",
];

const PERMISSIONS: &str = r#"{
    "roles": {"member": ["a:run"]},
    "policies": [
        {"skill_id": "a/*", "required_permissions": ["a:run"], "policy_id": "a-skills"},
        {"skill_id": "b/*", "required_permissions": ["b:run"], "policy_id": "b-skills"},
        {"skill_id": "c/*", "required_permissions": ["a:run"], "policy_id": "c-skills"}
    ]
}"#;

/// Compositions of the test root: (id, steps, active).
const COMPOSITIONS: [(&str, &str, bool); 4] = [
    ("c/chain", r#"["a/one", ["a/two", "a/text"]]"#, true),
    ("c/outer", r#"["c/chain", "a/one"]"#, true),
    ("c/broken", r#"["a/one", "a/fail", "a/two"]"#, true),
    ("c/draft", r#"["a/one"]"#, false),
];

fn write_compositions(root: &Path) {
    for (id, steps, active) in COMPOSITIONS {
        write_composition(root, id, steps, active);
    }
}

fn write_composition(root: &Path, id: &str, steps: &str, active: bool) {
    let name = id.split_once('/').unwrap().1;
    let manifest = format!(
        "id: {id}\nname: {name}\ndescription: composed {id}\nversion: 0.1.0\n\
         entrypoint: skillos.composition:run_composed_skill\ntags: [composed]\n"
    );
    write(root, &format!("metadata/c/{name}.yaml"), &manifest);
    let composition =
        format!(r#"{{"id": "{id}", "steps": {steps}, "version": "0.1.0", "active": {active}}}"#);
    write(root, &format!("compositions/c/{name}.json"), &composition);
}

async fn server(policies: bool) -> (TestServer, TestRunner) {
    // c/orphan is in the catalog, but no runner serves it.
    let server = TestServer::start_with(Options {
        skills: [SKILLS.as_slice(), &["c/orphan"]].concat(),
        configure: Some(Arc::new(
            move |_: &mut skillos::config::Config, root: &Path| {
                write_compositions(root);
                if policies {
                    write(root, "policies/permission_policies.json", PERMISSIONS);
                }
            },
        )),
        ..Default::default()
    })
    .await;
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "test",
        &SKILLS,
        handler(),
    )
    .await
    .expect("runner attaches");
    (server, runner)
}

fn pipeline(steps: &[&str]) -> v1::RunPipelineRequest {
    v1::RunPipelineRequest {
        steps: steps.iter().map(|step| step.to_string()).collect(),
        payload: Some(prost_types::Struct {
            fields: [("n".to_owned(), text("start"))].into_iter().collect(),
        }),
        step_timeout: None,
    }
}

async fn client(server: &TestServer) -> OrchestratorServiceClient<tonic::transport::Channel> {
    OrchestratorServiceClient::new(server.channel().await)
}

async fn execution(server: &TestServer, id: &str) -> v1::Execution {
    client(server)
        .await
        .get_execution(v1::GetExecutionRequest {
            execution_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap()
}

/// The skill of every stored execution.
async fn executed(server: &TestServer) -> Vec<String> {
    client(server)
        .await
        .list_executions(v1::ListExecutionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .executions
        .into_iter()
        .map(|execution| execution.skill_id)
        .collect()
}

#[tokio::test]
async fn each_steps_output_is_the_next_steps_payload() {
    let (server, _runner) = server(false).await;
    let response = client(&server)
        .await
        .run_pipeline(pipeline(&["a/one", "a.two", "a/text", "a/one"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.status(),
        v1::PipelineStatus::Succeeded,
        "{response:?}"
    );
    let output = response.output.as_ref().unwrap();
    // The last a/one got a/text's string as {"text": ...}.
    assert_eq!(string(field(output, "by")), "a/one");
    assert_eq!(string(field(field(output, "got"), "text")), "plain words");
    let second = response.steps[1].output.as_ref().unwrap();
    assert_eq!(string(field(second, "by")), "a/two");
    let first_seen = field(field(second, "got"), "by");
    assert_eq!(string(first_seen), "a/one", "a/two got a/one's output");
    assert_eq!(
        string(field(field(field(second, "got"), "got"), "n")),
        "start"
    );
    let ids: Vec<_> = response.steps.iter().map(|s| s.skill_id.as_str()).collect();
    assert_eq!(ids, ["a/one", "a/two", "a/text", "a/one"]);
    for step in &response.steps {
        assert_eq!(step.status(), v1::PipelineStepStatus::Succeeded);
        let execution = execution(&server, &step.execution_id).await;
        assert_eq!(execution.skill_id, step.skill_id);
        assert_eq!(execution.status(), v1::ExecutionStatus::Succeeded);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_group_runs_at_once_and_its_output_is_keyed_by_member() {
    let (server, _runner) = server(false).await;
    let started = Instant::now();
    let response = client(&server)
        .await
        .run_pipeline(pipeline(&["a/slow|a/slow|a/one", "a/two"]))
        .await
        .unwrap()
        .into_inner();
    let took = started.elapsed();
    assert_eq!(
        response.status(),
        v1::PipelineStatus::Succeeded,
        "{response:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "two 1-second members ran one after the other: {took:?}"
    );
    let members: Vec<_> = response
        .steps
        .iter()
        .filter(|s| s.index == 0)
        .map(|s| s.member.as_str())
        .collect();
    assert_eq!(members, ["a/slow", "a/slow#2", "a/one"]);
    let got = field(response.output.as_ref().unwrap(), "got");
    for member in ["a/slow", "a/slow#2", "a/one"] {
        let by = string(field(field(got, member), "by"));
        assert_eq!(by, member.trim_end_matches("#2"));
        assert_eq!(
            string(field(field(field(got, member), "got"), "n")),
            "start"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_first_failure_in_a_group_cancels_the_others_and_stops_the_pipeline() {
    let (server, mut runner) = server(false).await;
    let response = client(&server)
        .await
        .run_pipeline(pipeline(&["a/one", "a/hang|a/fail", "a/two"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.status(),
        v1::PipelineStatus::Failed,
        "{response:?}"
    );
    assert_eq!(response.error.as_ref().unwrap().message, "broken");
    let statuses: Vec<_> = response
        .steps
        .iter()
        .map(|s| (s.skill_id.as_str(), s.status()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("a/one", v1::PipelineStepStatus::Succeeded),
            ("a/hang", v1::PipelineStepStatus::Cancelled),
            ("a/fail", v1::PipelineStepStatus::Failed),
        ],
        "a/two never ran"
    );
    // The hanging member's runner is told to stop.
    let cancelled = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = runner.events.recv().await {
            if let attach_response::Message::Cancel(cancel) = message {
                return cancel;
            }
        }
        panic!("the runner's stream ended");
    })
    .await
    .expect("a cancel reaches the runner");
    let hang = execution(&server, &cancelled.execution_id).await;
    assert_eq!(hang.skill_id, "a/hang");
    common::eventually(|| {
        let server = &server;
        let id = hang.id.clone();
        async move { execution(server, &id).await.status() == v1::ExecutionStatus::Cancelled }
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_or_forbidden_steps_are_refused_before_anything_runs() {
    let (server, _runner) = server(true).await;
    let member = server.api_key("default", &["member"]).await;
    let mut client = client(&server).await;

    let status = client
        .run_pipeline(common::with_token(pipeline(&["a/one", "a/nope"]), &member))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(reason(&status), "SKILL_NOT_FOUND");
    assert_eq!(metadata(&status, "step"), "1");

    let status = client
        .run_pipeline(common::with_token(
            pipeline(&["a/one", "a/two|b/secret"]),
            &member,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason(&status), "POLICY_DENIED");
    assert!(status.message().contains("step 1 (b/secret)"), "{status:?}");

    // A composition with a step the caller may not run is refused before it starts.
    write_composition(
        &server.root_path(),
        "c/sneaky",
        r#"["a/one", "b/secret"]"#,
        true,
    );
    common::eventually(|| {
        let server = &server;
        async move {
            let listed = server
                .skills()
                .await
                .get_skill(v1::GetSkillRequest {
                    skill_id: "c/sneaky".to_owned(),
                })
                .await;
            listed.is_ok()
        }
    })
    .await;
    let request = v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId("c/sneaky".to_owned())),
        ..Default::default()
    };
    let status = client
        .run(common::with_token(request, &member))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "POLICY_DENIED", "{status:?}");
    assert!(status.message().contains("step 1 (b/secret)"), "{status:?}");

    for (steps, field) in [
        (vec![], "steps"),
        (vec!["a/one", "a/two|"], "steps[1]"),
        (vec!["not an id"], "steps[0]"),
    ] {
        let status = client
            .run_pipeline(common::with_token(pipeline(&steps), &member))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{steps:?}: {status:?}"
        );
        assert_eq!(reason(&status), "INVALID_PIPELINE");
        let violations = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, field, "{steps:?}");
    }
    assert_eq!(executed(&server).await, Vec::<String>::new(), "nothing ran");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_step_refused_halfway_ends_the_pipeline_with_the_steps_that_ran() {
    let (server, _runner) = server(false).await;
    let response = client(&server)
        .await
        .run_pipeline(pipeline(&["a/one", "c/orphan", "a/two"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.status(),
        v1::PipelineStatus::Failed,
        "{response:?}"
    );
    let error = response.error.as_ref().unwrap();
    assert_eq!(error.code, "NO_RUNNER");
    assert_eq!(error.origin(), v1::ErrorOrigin::Server);
    let statuses: Vec<_> = response
        .steps
        .iter()
        .map(|s| (s.skill_id.as_str(), s.status(), s.execution_id.is_empty()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("a/one", v1::PipelineStepStatus::Succeeded, false),
            ("c/orphan", v1::PipelineStepStatus::Refused, true),
        ]
    );
    assert_eq!(executed(&server).await, ["a/one"], "only a/one ran");
    server.stop().await.unwrap();
}

async fn run(server: &TestServer, skill: &str) -> Result<v1::Execution, tonic::Status> {
    let request = v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId(skill.to_owned())),
        payload: pipeline(&[]).payload,
        ..Default::default()
    };
    let response = client(server).await.run(request).await?.into_inner();
    Ok(response.execution.unwrap())
}

#[tokio::test]
async fn a_composition_is_listed_and_runs_its_steps_by_id() {
    let (server, _runner) = server(false).await;
    let listed = server
        .skills()
        .await
        .get_skill(v1::GetSkillRequest {
            skill_id: "c.outer".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert_eq!(listed.kind(), v1::SkillKind::Composition);
    assert!(listed.available, "every step has a runner");
    let info = listed.composition.unwrap();
    assert_eq!(info.steps, ["c/chain", "a/one"]);
    assert_eq!(info.source_path, "compositions/c/outer.json");

    // A composition inside a composition: c/chain's group output reaches a/one.
    let execution = run(&server, "c/outer").await.unwrap();
    assert_eq!(
        execution.status(),
        v1::ExecutionStatus::Succeeded,
        "{execution:?}"
    );
    let output = execution.output.as_ref().unwrap();
    assert_eq!(string(field(output, "by")), "a/one");
    let group = field(output, "got");
    assert_eq!(string(field(field(group, "a/two"), "by")), "a/two");
    assert_eq!(string(field(group, "a/text")), "plain words");
    // Every step and the two compositions are executions of their own.
    let mut skills = executed(&server).await;
    skills.sort_unstable();
    assert_eq!(
        skills,
        ["a/one", "a/one", "a/text", "a/two", "c/chain", "c/outer"]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_step_fails_the_composition_and_an_inactive_one_refuses_to_run() {
    let (server, _runner) = server(false).await;
    let failed = run(&server, "c/broken").await.unwrap();
    assert_eq!(failed.status(), v1::ExecutionStatus::Failed);
    let error = failed.error.unwrap();
    assert_eq!(error.message, "step 1 (a/fail): broken", "{error:?}");
    let ran = executed(&server).await;
    assert!(
        !ran.contains(&"a/two".to_owned()),
        "the step after the failure ran"
    );

    let status = run(&server, "c/draft").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), "COMPOSITION_INACTIVE");
    assert_eq!(metadata(&status, "skill_id"), "c/draft");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_composition_runs_as_a_job() {
    use skillos_proto::v1::job_service_client::JobServiceClient;
    let (server, _runner) = server(false).await;
    let mut jobs = JobServiceClient::new(server.channel().await);
    let job = jobs
        .enqueue_job(v1::EnqueueJobRequest {
            skill_id: "c/chain".to_owned(),
            payload: pipeline(&[]).payload,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    common::eventually(|| {
        let mut jobs = jobs.clone();
        let id = job.id.clone();
        async move {
            let job = jobs
                .get_job(v1::GetJobRequest { job_id: id })
                .await
                .unwrap()
                .into_inner()
                .job
                .unwrap();
            job.state() == v1::JobState::Succeeded
        }
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn activation_is_kept_per_tenant_in_the_store_and_decides_whether_it_runs() {
    let (server, _runner) = server(false).await;
    let mut skills = server.skills().await;
    let activated = skills
        .activate_skill(v1::ActivateSkillRequest {
            skill_id: "c.draft".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert!(activated.composition.unwrap().active);
    let execution = run(&server, "c/draft").await.unwrap();
    assert_eq!(execution.status(), v1::ExecutionStatus::Succeeded);

    // The file says active, the tenant says no.
    skills
        .deactivate_skill(v1::DeactivateSkillRequest {
            skill_id: "c/chain".to_owned(),
        })
        .await
        .unwrap();
    let status = run(&server, "c/chain").await.unwrap_err();
    assert_eq!(reason(&status), "COMPOSITION_INACTIVE");

    let status = skills
        .activate_skill(v1::ActivateSkillRequest {
            skill_id: "a/one".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "NOT_A_COMPOSITION");
    let status = skills
        .activate_skill(v1::ActivateSkillRequest {
            skill_id: "c/nope".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Kept across a restart: it is in the store.
    let server = server.restart().await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "test",
        &SKILLS,
        handler(),
    )
    .await
    .unwrap();
    assert!(run(&server, "c/draft").await.is_ok());
    assert_eq!(
        reason(&run(&server, "c/chain").await.unwrap_err()),
        "COMPOSITION_INACTIVE"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_composition_streams_its_acceptance_and_its_end() {
    use v1::run_stream_response::Event;
    let (server, _runner) = server(false).await;
    let request = v1::RunStreamRequest {
        target: Some(v1::run_stream_request::Target::SkillId("c/chain".into())),
        payload: pipeline(&[]).payload,
        ..Default::default()
    };
    let mut stream = client(&server)
        .await
        .run_stream(request)
        .await
        .unwrap()
        .into_inner();
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        events.push(message.event.unwrap());
    }
    let [Event::Accepted(accepted), Event::Completed(completed)] = events.as_slice() else {
        panic!("events: {events:?}")
    };
    let execution = completed.execution.as_ref().unwrap();
    assert_eq!(execution.id, accepted.execution_id);
    assert_eq!(execution.skill_id, "c/chain");
    assert_eq!(execution.status(), v1::ExecutionStatus::Succeeded);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn routing_passes_over_a_composition_that_may_not_run() {
    let (server, _runner) = server(false).await;
    let route = || async {
        client(&server)
            .await
            .route(v1::RouteRequest {
                query: "composed draft".to_owned(),
                mode: v1::RoutingMode::Keyword as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .decision
            .unwrap()
    };
    let before = route().await;
    assert_ne!(before.skill_id, "c/draft", "{before:?}");
    assert!(
        before.candidates.iter().all(|c| c.skill_id != "c/draft"),
        "{before:?}"
    );
    server
        .skills()
        .await
        .activate_skill(v1::ActivateSkillRequest {
            skill_id: "c/draft".to_owned(),
        })
        .await
        .unwrap();
    let after = route().await;
    assert_eq!(after.skill_id, "c/draft", "{after:?}");
    server.stop().await.unwrap();
}
