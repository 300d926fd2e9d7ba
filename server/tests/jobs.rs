//! JobService over real gRPC with real runners: attempts carry the job id, retries back off
//! until a dead letter, requeue starts a new chain, cancel, idempotent enqueue, tenancy, and
//! two replicas sharing one Postgres queue.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::runner::{Answer, TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason, with_token};
use skillos_proto::v1::{
    self, job_service_client::JobServiceClient,
    orchestrator_service_client::OrchestratorServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

/// Invocations per job id, as the runner saw them.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// A runner that echoes a/one, fails a/two with a retryable error and b/three with a
/// permanent one, and counts invocations per job.
async fn runner(server: &TestServer) -> (TestRunner, Seen) {
    let seen: Seen = Arc::default();
    let counted = seen.clone();
    let answer = echo();
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "jobs",
        &["a/one", "a/two", "b/three"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            *counted
                .lock()
                .unwrap()
                .entry(invoke.job_id.clone())
                .or_default() += 1;
            match invoke.skill_id.as_str() {
                "a/two" => Answer::Retryable("try again"),
                "b/three" => Answer::Error("bad input"),
                _ => answer(invoke),
            }
        }),
    )
    .await
    .unwrap();
    (runner, seen)
}

fn fast_retries() -> Options {
    Options {
        configure: Some(Arc::new(|config, _| {
            config.jobs.backoff_initial_ms = 40;
            config.jobs.backoff_max_ms = 100;
            config.jobs.poll_interval_ms = 20;
        })),
        ..Options::default()
    }
}

fn enqueue(skill: &str, max_attempts: i32) -> v1::EnqueueJobRequest {
    v1::EnqueueJobRequest {
        skill_id: skill.to_owned(),
        payload: common::run_amount(skill, 1.0).payload,
        max_attempts,
        ..Default::default()
    }
}

/// Enqueues a job and returns its id.
async fn enqueued(
    client: &mut JobServiceClient<Channel>,
    request: v1::EnqueueJobRequest,
) -> String {
    client
        .enqueue_job(request)
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
        .id
}

async fn wait_for(
    client: &mut JobServiceClient<Channel>,
    id: &str,
    state: v1::JobState,
) -> v1::Job {
    wait_as(client, id, state, None).await
}

/// Polls a job until it is in `state`, as the caller `token` when given.
async fn wait_as(
    client: &mut JobServiceClient<Channel>,
    id: &str,
    state: v1::JobState,
    token: Option<&str>,
) -> v1::Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let request = v1::GetJobRequest {
            job_id: id.to_owned(),
        };
        let request = match token {
            Some(token) => with_token(request, token),
            None => tonic::Request::new(request),
        };
        let job = client
            .get_job(request)
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        if job.state == state as i32 {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} is {:?}, not {state:?}",
            job.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_job_runs_once_as_an_execution_that_names_it() {
    let server = TestServer::start().await;
    let (_runner, seen) = runner(&server).await;
    let mut client = JobServiceClient::new(server.channel().await);

    let enqueued = client
        .enqueue_job(enqueue("a/one", 0))
        .await
        .unwrap()
        .into_inner();
    assert!(!enqueued.replayed);
    let queued = enqueued.job.unwrap();
    assert_eq!(queued.source(), v1::JobSource::Api);
    assert_eq!((queued.attempt, queued.max_attempts), (0, 1));
    let job = wait_for(&mut client, &queued.id, v1::JobState::Succeeded).await;
    assert_eq!(job.attempt, 1);
    assert!(job.finish_time.is_some() && job.lease_expire_time.is_none());
    match job.result.as_ref().and_then(|value| value.kind.as_ref()) {
        Some(prost_types::value::Kind::StructValue(result)) => {
            assert!(result.fields.contains_key("echo"), "{result:?}");
        }
        other => panic!("unexpected result {other:?}"),
    }
    assert_eq!(job.execution_ids.len(), 1);
    assert_eq!(seen.lock().unwrap().get(&job.id), Some(&1));

    // The attempt is an execution of the job.
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let executions = orchestrator
        .list_executions(v1::ListExecutionsRequest {
            job_id: job.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .executions;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].id, job.execution_ids[0]);
    assert_eq!(executions[0].job_id, job.id);
    assert_eq!(executions[0].status(), v1::ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_failing_job_is_retried_then_dead_lettered_and_requeued_as_a_new_chain() {
    let server = TestServer::start_with(fast_retries()).await;
    let (_runner, seen) = runner(&server).await;
    let mut client = JobServiceClient::new(server.channel().await);

    let id = enqueued(&mut client, enqueue("a/two", 3)).await;
    let dead = wait_for(&mut client, &id, v1::JobState::Dead).await;
    assert_eq!((dead.attempt, dead.max_attempts), (3, 3));
    assert_eq!(dead.execution_ids.len(), 3);
    let error = dead.last_error.unwrap();
    assert_eq!(
        (error.code.as_str(), error.message.as_str()),
        ("Unavailable", "try again")
    );
    assert_eq!(error.error_class(), v1::ErrorClass::Retryable);
    assert_eq!(seen.lock().unwrap().get(&id), Some(&3));

    let letters = client
        .list_dead_letters(v1::ListDeadLettersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(letters.iter().map(|j| &j.id).collect::<Vec<_>>(), [&id]);

    // A requeue starts a new chain of its own length, keeping the history.
    let requeued = client
        .requeue_job(v1::RequeueJobRequest {
            job_id: id.clone(),
            max_attempts: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!((requeued.attempt, requeued.max_attempts), (0, 2));
    let dead = wait_for(&mut client, &id, v1::JobState::Dead).await;
    assert_eq!(dead.attempt, 2);
    assert_eq!(dead.execution_ids.len(), 5);
    assert_eq!(seen.lock().unwrap().get(&id), Some(&5));

    // Only dead jobs are requeued.
    let ok = enqueued(&mut client, enqueue("a/one", 0)).await;
    wait_for(&mut client, &ok, v1::JobState::Succeeded).await;
    let status = client
        .requeue_job(v1::RequeueJobRequest {
            job_id: ok,
            max_attempts: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::FailedPrecondition, "JOB_NOT_DEAD".to_owned())
    );
}

#[tokio::test]
async fn a_permanent_error_is_a_dead_letter_at_once() {
    let server = TestServer::start_with(fast_retries()).await;
    let (_runner, seen) = runner(&server).await;
    let mut client = JobServiceClient::new(server.channel().await);
    let id = enqueued(&mut client, enqueue("b/three", 5)).await;
    let dead = wait_for(&mut client, &id, v1::JobState::Dead).await;
    assert_eq!(dead.attempt, 1);
    assert_eq!(dead.last_error.unwrap().code, "ValueError");
    assert_eq!(seen.lock().unwrap().get(&id), Some(&1));
}

#[tokio::test]
async fn enqueue_is_idempotent_and_checked_before_anything_is_stored() {
    let server = TestServer::start().await;
    let mut client = JobServiceClient::new(server.channel().await);
    // No runner yet: the job waits, queued.
    let keyed = |skill: &str, key: &str| v1::EnqueueJobRequest {
        idempotency_key: key.to_owned(),
        ..enqueue(skill, 0)
    };
    let first = client
        .enqueue_job(keyed("a/one", "job-1"))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .enqueue_job(keyed("a/one", "job-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed && again.replayed);
    let id = first.job.unwrap().id;
    assert_eq!(again.job.as_ref().unwrap().id, id);
    assert_eq!(again.job.unwrap().idempotency_key, "job-1");
    let status = client
        .enqueue_job(keyed("a/two", "job-1"))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "IDEMPOTENCY_KEY_REUSED");

    for (request, code, expected) in [
        (enqueue("x/none", 0), Code::NotFound, "SKILL_NOT_FOUND"),
        (
            enqueue("a/one", 101),
            Code::InvalidArgument,
            "INVALID_REQUEST",
        ),
        (
            v1::EnqueueJobRequest {
                priority: 5000,
                ..enqueue("a/one", 0)
            },
            Code::InvalidArgument,
            "INVALID_REQUEST",
        ),
        (
            v1::EnqueueJobRequest {
                idempotency_key: "bad\nkey".to_owned(),
                ..enqueue("a/one", 0)
            },
            Code::InvalidArgument,
            "INVALID_IDEMPOTENCY_KEY",
        ),
    ] {
        let status = client.enqueue_job(request).await.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status)),
            (code, expected.to_owned())
        );
    }
    let listed = client
        .list_jobs(v1::ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(listed.iter().map(|j| &j.id).collect::<Vec<_>>(), [&id]);
    assert_eq!(listed[0].state(), v1::JobState::Queued);

    // A runner arrives: the waiting job runs.
    let (_runner, seen) = runner(&server).await;
    wait_for(&mut client, &id, v1::JobState::Succeeded).await;
    assert_eq!(seen.lock().unwrap().get(&id), Some(&1));
}

#[tokio::test]
async fn cancel_stops_a_waiting_job_and_only_its_owner_or_a_manager_may() {
    let server = TestServer::start_with(Options {
        dev_mode: false,
        ..Options::default()
    })
    .await;
    let alice = server.api_key("default", &["member"]).await;
    let bob = server.api_key("default", &["member"]).await;
    let admin = server.api_key("default", &["admin"]).await;
    let foreign = server.api_key("acme", &["admin"]).await;
    let mut client = JobServiceClient::new(server.channel().await);

    let later = v1::EnqueueJobRequest {
        start: Some(v1::enqueue_job_request::Start::Delay(
            prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            },
        )),
        ..enqueue("a/one", 0)
    };
    let job = client
        .enqueue_job(with_token(later.clone(), &alice))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(job.state(), v1::JobState::Queued);
    let cancel = |id: &str, token: &str| {
        with_token(
            v1::CancelJobRequest {
                job_id: id.to_owned(),
                reason: "not needed".to_owned(),
            },
            token,
        )
    };
    let status = client.cancel_job(cancel(&job.id, &bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .cancel_job(cancel(&job.id, &foreign))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::NotFound, "JOB_NOT_FOUND".to_owned())
    );
    let cancelled = client
        .cancel_job(cancel(&job.id, &alice))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(cancelled.state(), v1::JobState::Cancelled);
    assert_eq!(cancelled.last_error.unwrap().message, "not needed");
    // Cancelling again answers the same.
    let again = client.cancel_job(cancel(&job.id, &alice)).await.unwrap();
    assert_eq!(
        again.into_inner().job.unwrap().state(),
        v1::JobState::Cancelled
    );

    // A manager may cancel another's job; a finished job cannot be cancelled.
    let other = client
        .enqueue_job(with_token(later, &bob))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    client.cancel_job(cancel(&other.id, &admin)).await.unwrap();
    let (_runner, _) = runner(&server).await;
    let done = client
        .enqueue_job(with_token(enqueue("a/one", 0), &alice))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    wait_as(&mut client, &done.id, v1::JobState::Succeeded, Some(&alice)).await;
    let status = client
        .cancel_job(cancel(&done.id, &alice))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::FailedPrecondition, "JOB_FINISHED".to_owned())
    );
    // Another tenant sees none of these jobs.
    let foreign_list = client
        .list_jobs(with_token(v1::ListJobsRequest::default(), &foreign))
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert!(foreign_list.is_empty());
}

/// Two replicas on one Postgres queue, each with its own runner: every job runs exactly once.
#[tokio::test]
async fn two_replicas_on_one_postgres_queue_run_each_job_once() {
    if common::postgres_off() {
        return;
    }
    let configure: common::Configure = Arc::new(|config, _| {
        config.jobs.poll_interval_ms = 20;
        config.jobs.workers = 8;
    });
    let (first, second) = common::postgres_replicas("skillos_jobs", Some(configure)).await;
    let (_one, seen_one) = runner(&first).await;
    let (_two, seen_two) = runner(&second).await;
    let mut client = JobServiceClient::new(first.channel().await);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let job = client
            .enqueue_job(enqueue("a/one", 0))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        ids.push(job.id);
    }
    for id in &ids {
        wait_for(&mut client, id, v1::JobState::Succeeded).await;
    }
    let one = seen_one.lock().unwrap().clone();
    let two = seen_two.lock().unwrap().clone();
    for id in &ids {
        let runs = one.get(id).unwrap_or(&0) + two.get(id).unwrap_or(&0);
        assert_eq!(runs, 1, "job {id} ran {runs} times");
    }
    assert!(
        !one.is_empty() && !two.is_empty(),
        "both replicas claimed jobs ({} and {})",
        one.len(),
        two.len()
    );
}

#[tokio::test]
async fn an_attempt_longer_than_the_lease_keeps_it_by_renewing() {
    let server = TestServer::start_with(Options {
        configure: Some(Arc::new(|config, _| {
            config.jobs.lease_seconds = 3;
            config.jobs.poll_interval_ms = 20;
        })),
        ..Options::default()
    })
    .await;
    let seen: Seen = Arc::default();
    let counted = seen.clone();
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "slow",
        &["a/one"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            *counted
                .lock()
                .unwrap()
                .entry(invoke.job_id.clone())
                .or_default() += 1;
            Answer::After(
                Duration::from_secs(5),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("done".into())),
                },
            )
        }),
    )
    .await
    .unwrap();
    let mut client = JobServiceClient::new(server.channel().await);
    let id = enqueued(&mut client, enqueue("a/one", 3)).await;
    let running = wait_for(&mut client, &id, v1::JobState::Running).await;
    let first_expiry = running.lease_expire_time.unwrap().seconds;
    let done = wait_for(&mut client, &id, v1::JobState::Succeeded).await;
    // Renewed, never taken over: one attempt, one invocation.
    assert_eq!((done.attempt, done.execution_ids.len()), (1, 1));
    assert_eq!(seen.lock().unwrap().get(&id), Some(&1));
    // The first lease had run out before the attempt ended.
    assert!(first_expiry < chrono::Utc::now().timestamp());
}

#[tokio::test]
async fn concurrent_enqueues_with_one_key_make_one_job() {
    let server = TestServer::start().await;
    let channel = server.channel().await;
    let mut calls = Vec::new();
    for _ in 0..50 {
        let mut client = JobServiceClient::new(channel.clone());
        calls.push(tokio::spawn(async move {
            client
                .enqueue_job(v1::EnqueueJobRequest {
                    idempotency_key: "once".to_owned(),
                    ..enqueue("a/one", 0)
                })
                .await
                .map(|response| response.into_inner())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut fresh = 0;
    for call in calls {
        let response = call.await.unwrap().unwrap();
        fresh += usize::from(!response.replayed);
        ids.insert(response.job.unwrap().id);
    }
    assert_eq!((fresh, ids.len()), (1, 1));
    let listed = JobServiceClient::new(channel)
        .list_jobs(v1::ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(listed.len(), 1);
}
