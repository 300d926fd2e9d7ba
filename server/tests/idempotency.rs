//! Idempotency keys on Run over real gRPC: replays, reuse with another request, concurrent
//! duplicates, replayed errors and key spaces per principal.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::runner::{Answer, TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, TestServer, metadata, reason, with_token};
use skillos_proto::v1::{self, orchestrator_service_client::OrchestratorServiceClient};
use tonic::Code;

fn keyed(skill: &str, key: &str, amount: f64, timeout_ms: Option<i32>) -> v1::RunRequest {
    v1::RunRequest {
        timeout: timeout_ms.map(|ms| prost_types::Duration {
            seconds: 0,
            nanos: ms * 1_000_000,
        }),
        idempotency_key: key.to_owned(),
        ..common::run_amount(skill, amount)
    }
}

/// A runner that answers a/one, stays silent on a/two, and counts its invocations.
async fn runner(server: &TestServer) -> (TestRunner, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let answer = echo();
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "counting",
        &["a/one", "a/two"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            counted.fetch_add(1, Ordering::SeqCst);
            if invoke.skill_id == "a/two" {
                Answer::Silence
            } else {
                answer(invoke)
            }
        }),
    )
    .await
    .unwrap();
    (runner, count)
}

#[tokio::test]
async fn the_same_key_and_request_replay_the_stored_response_and_run_nothing() {
    let server = TestServer::start().await;
    let (_runner, count) = runner(&server).await;
    let mut client = OrchestratorServiceClient::new(server.channel().await);

    let first = client
        .run(keyed("a/one", "order-1", 5.0, None))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    let again = client
        .run(keyed("a/one", "order-1", 5.0, None))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.execution.unwrap().id, first.execution.unwrap().id);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // The same key with another request is refused; another key runs.
    let status = client
        .run(keyed("a/one", "order-1", 6.0, None))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED".to_owned())
    );
    client
        .run(keyed("a/one", "order-2", 6.0, None))
        .await
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // Keys are per principal: another caller's "order-1" is its own.
    let key = server.api_key("default", &["admin"]).await;
    let other = client
        .run(with_token(keyed("a/one", "order-1", 5.0, None), &key))
        .await
        .unwrap()
        .into_inner();
    assert!(!other.replayed);
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let status = client
        .run(keyed("a/one", "naïve-ключ", 5.0, None))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "INVALID_IDEMPOTENCY_KEY");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_duplicates_run_once_and_an_error_is_replayed_as_it_was() {
    let server = TestServer::start().await;
    let (_runner, count) = runner(&server).await;
    let channel = server.channel().await;
    // a/two never answers: every attempt ends in its 300 ms deadline.
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let mut client = OrchestratorServiceClient::new(channel.clone());
            tokio::spawn(async move { client.run(keyed("a/two", "once", 1.0, Some(300))).await })
        })
        .collect();
    let mut timed_out = 0;
    let mut in_use = 0;
    for call in calls {
        let status = call.await.unwrap().unwrap_err();
        match reason(&status).as_str() {
            "EXECUTION_TIMED_OUT" => timed_out += 1,
            "IDEMPOTENCY_KEY_IN_USE" => {
                assert_eq!(status.code(), Code::Aborted);
                in_use += 1;
            }
            other => panic!("{other}: {status:?}"),
        }
    }
    // The first ran; the others found it running, or ended and replayed its error.
    assert!(timed_out >= 1 && timed_out + in_use == 20);
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "concurrent duplicates ran once"
    );

    let mut client = OrchestratorServiceClient::new(channel);
    let status = client
        .run(keyed("a/two", "once", 1.0, Some(300)))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::DeadlineExceeded, "EXECUTION_TIMED_OUT".to_owned())
    );
    assert_eq!(metadata(&status, "replayed"), "true");
    assert!(!metadata(&status, "execution_id").is_empty());
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}

/// Of many racing copies of one keyed request, exactly one runs and answers `replayed: false`;
/// every other answer that is not IDEMPOTENCY_KEY_IN_USE is the stored one and says so, also
/// when it lost the race at the claim rather than finding the key before it.
#[tokio::test]
async fn racing_duplicates_that_replay_always_say_replayed() {
    let server = TestServer::start().await;
    let (_runner, count) = runner(&server).await;
    let channel = server.channel().await;
    let mut first_runs = 0;
    let mut replayed = 0;
    let mut in_use = 0;
    for round in 0..4 {
        let key = format!("race-{round}");
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let mut client = OrchestratorServiceClient::new(channel.clone());
                let request = keyed("a/one", &key, 1.0, None);
                tokio::spawn(async move { client.run(request).await })
            })
            .collect();
        let mut fresh = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(response) => {
                    let response = response.into_inner();
                    assert_eq!(
                        response.execution.unwrap().status(),
                        v1::ExecutionStatus::Succeeded
                    );
                    if response.replayed {
                        replayed += 1;
                    } else {
                        fresh += 1;
                    }
                }
                Err(status) => {
                    assert_eq!(reason(&status), "IDEMPOTENCY_KEY_IN_USE", "{status:?}");
                    in_use += 1;
                }
            }
        }
        assert_eq!(fresh, 1, "round {round}: one answer is the run's own");
        first_runs += fresh;
    }
    assert_eq!(count.load(Ordering::SeqCst), 4, "each key ran once");
    assert_eq!(first_runs + replayed + in_use, 200);
    server.stop().await.unwrap();
}
