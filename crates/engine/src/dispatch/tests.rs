use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;

fn registration(name: &str, skills: &[&str], capacity: usize) -> Registration {
    Registration {
        name: name.to_owned(),
        version: "test".to_owned(),
        tenant: TenantId::default_tenant(),
        max_concurrency: capacity,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        embedding: None,
    }
}

fn invocation(id: &str, skill: &str, retryable: bool) -> Invocation {
    Invocation {
        roles: Vec::new(),
        attributes: Default::default(),
        model_tier: None,
        execution_id: id.to_owned(),
        skill_id: skill.to_owned(),
        skill_version: "1.0.0".to_owned(),
        payload: json!({"n": id}),
        tenant: TenantId::default_tenant(),
        principal: "alice".to_owned(),
        deadline: Instant::now() + Duration::from_secs(5),
        retryable,
        max_attempts: 3,
        events: None,
        traceparent: String::new(),
        job_id: None,
        step_key: None,
    }
}

fn output(value: Json) -> Finished {
    Finished {
        outcome: Ok(value),
        usage: Usage::default(),
    }
}

/// The next invoke on a runner's stream: (execution id, attempt).
async fn next_invoke(stream: &mut UnboundedReceiver<ToRunner>) -> (String, u32) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), stream.recv())
            .await
            .unwrap()
            .unwrap();
        if let ToRunner::Invoke {
            attempt,
            invocation,
            ..
        } = message
        {
            return (invocation.execution_id.clone(), attempt);
        }
    }
}

/// Answers every invoke with `{"echo": payload, "runner": name}`.
fn echo_runner(
    dispatcher: &Service,
    name: &'static str,
    skills: &[&str],
    capacity: usize,
) -> String {
    let (id, mut stream) = dispatcher.attach(registration(name, skills, capacity));
    let dispatcher = dispatcher.clone();
    let runner_id = id.clone();
    tokio::spawn(async move {
        while let Some(message) = stream.recv().await {
            if let ToRunner::Invoke {
                attempt,
                invocation,
                ..
            } = message
            {
                let answer = output(json!({"echo": invocation.payload, "runner": name}));
                let _ = dispatcher.complete(&runner_id, &invocation.execution_id, attempt, answer);
            }
        }
    });
    id
}

#[tokio::test]
async fn runs_on_a_runner_that_hosts_the_skill_and_returns_its_output() {
    let dispatcher = Service::new();
    echo_runner(&dispatcher, "other", &["b/other"], 4);
    let runner = echo_runner(&dispatcher, "echo", &["a/echo"], 4);
    let dispatched = dispatcher
        .dispatch(invocation("e1", "a/echo", false))
        .await
        .unwrap();
    assert_eq!(dispatched.runner_id, runner);
    assert_eq!(dispatched.attempts, 1);
    assert_eq!(
        dispatched.finished.outcome,
        Ok(json!({"echo": {"n": "e1"}, "runner": "echo"}))
    );
    assert_eq!(
        dispatcher
            .runners()
            .iter()
            .map(|r| r.in_flight)
            .sum::<usize>(),
        0
    );
}

#[tokio::test]
async fn no_runner_for_the_skill_or_the_tenant_is_an_error() {
    let dispatcher = Service::new();
    assert_eq!(
        dispatcher.dispatch(invocation("e1", "a/echo", false)).await,
        Err(Error::NoRunner("a/echo".to_owned()))
    );
    let mut foreign = registration("foreign", &["a/echo"], 1);
    foreign.tenant = TenantId::new("acme");
    let _stream = dispatcher.attach(foreign);
    assert!(!dispatcher.hosts(&TenantId::default_tenant(), "a/echo"));
    assert!(matches!(
        dispatcher.dispatch(invocation("e2", "a/echo", false)).await,
        Err(Error::NoRunner(_))
    ));
}

#[tokio::test]
async fn picks_the_least_loaded_runner_and_waits_for_a_free_slot() {
    let dispatcher = Service::new();
    let (first, mut first_stream) = dispatcher.attach(registration("first", &["a/x"], 1));
    let (second, mut second_stream) = dispatcher.attach(registration("second", &["a/x"], 1));

    let one = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e1", "a/x", false)).await }
    });
    assert_eq!(next_invoke(&mut first_stream).await, ("e1".to_owned(), 1));
    let two = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e2", "a/x", false)).await }
    });
    assert_eq!(next_invoke(&mut second_stream).await, ("e2".to_owned(), 1));

    // Both runners are full: the third waits until a slot frees.
    let three = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e3", "a/x", false)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!three.is_finished());
    dispatcher
        .complete(&second, "e2", 1, output(json!(2)))
        .unwrap();
    assert_eq!(next_invoke(&mut second_stream).await, ("e3".to_owned(), 1));
    dispatcher
        .complete(&second, "e3", 1, output(json!(3)))
        .unwrap();
    dispatcher
        .complete(&first, "e1", 1, output(json!(1)))
        .unwrap();

    assert_eq!(one.await.unwrap().unwrap().finished.outcome, Ok(json!(1)));
    assert_eq!(two.await.unwrap().unwrap().finished.outcome, Ok(json!(2)));
    assert_eq!(three.await.unwrap().unwrap().runner_id, second);
}

#[tokio::test]
async fn a_lost_runner_retries_a_retryable_skill_elsewhere_and_fences_the_old_attempt() {
    let dispatcher = Service::new();
    let (doomed, mut doomed_stream) = dispatcher.attach(registration("doomed", &["a/x"], 4));
    let pending = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e1", "a/x", true)).await }
    });
    assert_eq!(next_invoke(&mut doomed_stream).await, ("e1".to_owned(), 1));

    let (healthy, mut healthy_stream) = dispatcher.attach(registration("healthy", &["a/x"], 4));
    dispatcher.detach(&doomed);
    assert_eq!(next_invoke(&mut healthy_stream).await, ("e1".to_owned(), 2));

    // The lost runner's late answer to attempt 1 is refused.
    assert_eq!(
        dispatcher.complete(&doomed, "e1", 1, output(json!("late"))),
        Err(Rejection::Superseded)
    );
    dispatcher
        .complete(&healthy, "e1", 2, output(json!("ok")))
        .unwrap();
    let dispatched = pending.await.unwrap().unwrap();
    assert_eq!((dispatched.attempts, dispatched.runner_id), (2, healthy));
    assert_eq!(dispatched.finished.outcome, Ok(json!("ok")));
}

#[tokio::test]
async fn a_lost_runner_fails_a_skill_that_is_not_retryable() {
    let dispatcher = Service::new();
    let (doomed, mut stream) = dispatcher.attach(registration("doomed", &["a/x"], 4));
    echo_runner(&dispatcher, "other", &["a/x"], 4);
    let pending = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e1", "a/x", false)).await }
    });
    // Both runners are idle; the first attached gets the first invocation.
    assert_eq!(next_invoke(&mut stream).await, ("e1".to_owned(), 1));
    dispatcher.detach(&doomed);
    assert_eq!(
        pending.await.unwrap(),
        Err(Error::RunnerLost { attempts: 1 })
    );
}

#[tokio::test]
async fn the_deadline_cancels_the_attempt_on_its_runner() {
    let dispatcher = Service::new();
    let (runner, mut stream) = dispatcher.attach(registration("slow", &["a/x"], 1));
    let mut late = invocation("e1", "a/x", true);
    late.deadline = Instant::now() + Duration::from_millis(100);
    assert_eq!(
        dispatcher.dispatch(late).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(next_invoke(&mut stream).await, ("e1".to_owned(), 1));
    let cancel = tokio::time::timeout(Duration::from_secs(1), stream.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        cancel,
        ToRunner::Cancel { ref execution_id, attempt: 1, reason: CancelReason::DeadlineExceeded } if execution_id == "e1"
    ));
    assert_eq!(
        dispatcher.complete(&runner, "e1", 1, output(json!(1))),
        Err(Rejection::NotInFlight)
    );
    assert_eq!(dispatcher.runners()[0].in_flight, 0);
}

#[tokio::test]
async fn a_caller_that_stops_waiting_cancels_the_attempt() {
    let dispatcher = Service::new();
    let (_runner, mut stream) = dispatcher.attach(registration("r", &["a/x"], 1));
    let pending = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e1", "a/x", false)).await }
    });
    next_invoke(&mut stream).await;
    pending.abort();
    let cancel = tokio::time::timeout(Duration::from_secs(1), stream.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        cancel,
        ToRunner::Cancel {
            reason: CancelReason::Requested,
            ..
        }
    ));
    assert_eq!(dispatcher.runners()[0].in_flight, 0);
}

#[tokio::test]
async fn an_oversized_result_fails_only_its_invocation() {
    let dispatcher = Service::new();
    let (runner, mut stream) = dispatcher.attach(registration("r", &["a/x"], 2));
    let big = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("big", "a/x", false)).await }
    });
    next_invoke(&mut stream).await;
    dispatcher
        .reject_too_large(&runner, "big", 1, Some(5_000_000), 4_000_000)
        .unwrap();
    assert_eq!(
        big.await.unwrap(),
        Err(Error::ResultTooLarge {
            bytes: Some(5_000_000),
            limit: 4_000_000
        })
    );

    let small = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("small", "a/x", false)).await }
    });
    next_invoke(&mut stream).await;
    dispatcher
        .complete(&runner, "small", 1, output(json!("fine")))
        .unwrap();
    assert_eq!(
        small.await.unwrap().unwrap().finished.outcome,
        Ok(json!("fine"))
    );
}

#[tokio::test]
async fn a_draining_runner_gets_no_new_invocations() {
    let dispatcher = Service::new();
    let (draining, _stream) = dispatcher.attach(registration("draining", &["a/x"], 4));
    dispatcher.drain(&draining);
    assert!(matches!(
        dispatcher.dispatch(invocation("e1", "a/x", false)).await,
        Err(Error::NoRunner(_))
    ));
    let other = echo_runner(&dispatcher, "other", &["a/x"], 4);
    assert_eq!(
        dispatcher
            .dispatch(invocation("e2", "a/x", false))
            .await
            .unwrap()
            .runner_id,
        other
    );
}

#[tokio::test]
async fn a_skill_error_is_an_outcome_not_a_dispatch_error() {
    let dispatcher = Service::new();
    let (runner, mut stream) = dispatcher.attach(registration("r", &["a/x"], 1));
    let pending = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(invocation("e1", "a/x", true)).await }
    });
    next_invoke(&mut stream).await;
    let failed = Finished {
        outcome: Err(SkillError {
            retryable: false,
            code: "ValueError".into(),
            message: "amount: required".into(),
        }),
        usage: Usage::default(),
    };
    dispatcher
        .complete(&runner, "e1", 1, failed.clone())
        .unwrap();
    assert_eq!(pending.await.unwrap().unwrap().finished, failed);
}

#[tokio::test]
async fn streaming_callers_see_attempts_progress_and_logs_of_the_current_attempt_only() {
    let dispatcher = Service::new();
    let (runner, mut stream) = dispatcher.attach(registration("r", &["a/x"], 1));
    let (events, mut received) = mpsc::channel(64);
    let mut streamed = invocation("e1", "a/x", false);
    streamed.events = Some(events);
    let pending = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.dispatch(streamed).await }
    });
    next_invoke(&mut stream).await;
    let progress = Event::Progress {
        attempt: 1,
        message: "half".into(),
        percent: Some(50.0),
    };
    dispatcher
        .report(&runner, "e1", 1, progress.clone())
        .unwrap();
    let stale = Event::Log {
        attempt: 0,
        level: LogLevel::Info,
        message: "old".into(),
    };
    assert_eq!(
        dispatcher.report(&runner, "e1", 0, stale),
        Err(Rejection::Superseded)
    );
    dispatcher
        .complete(&runner, "e1", 1, output(json!(1)))
        .unwrap();
    pending.await.unwrap().unwrap();

    assert_eq!(
        received.recv().await,
        Some(Event::AttemptStarted {
            attempt: 1,
            runner_id: runner.clone()
        })
    );
    assert_eq!(received.recv().await, Some(progress));
    assert_eq!(received.try_recv().ok(), None);
}

fn embedder(name: &str, model: &str) -> Registration {
    Registration {
        embedding: Some(EmbeddingOffer {
            model: model.to_owned(),
            dimension: 2,
            max_batch_size: 0,
        }),
        ..registration(name, &[], 1)
    }
}

#[tokio::test]
async fn embeddings_go_to_a_runner_offering_the_model_and_come_back() {
    let dispatcher = Service::new();
    let (_plain, _plain_rx) = dispatcher.attach(registration("plain", &["a/x"], 1));
    let (runner, mut rx) = dispatcher.attach(embedder("emb", "m1"));
    assert_eq!(dispatcher.embedding_models(None).len(), 1);
    let deadline = SystemTime::now() + Duration::from_secs(5);
    let call = {
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move {
            dispatcher
                .embed(
                    None,
                    "m1",
                    vec!["hello".into(), "world".into()],
                    EmbedKind::Query,
                    deadline,
                )
                .await
        })
    };
    let Some(ToRunner::Embed {
        request_id,
        texts,
        kind,
        ..
    }) = rx.recv().await
    else {
        panic!("expected an embed message");
    };
    assert_eq!(texts, ["hello", "world"]);
    assert_eq!(kind, EmbedKind::Query);
    // An answer from another runner is ignored.
    dispatcher.embed_result("runner-000001", &request_id, Ok(vec![]));
    dispatcher.embed_result(
        &runner,
        &request_id,
        Ok(vec![vec![1.0, 0.0], vec![0.0, 1.0]]),
    );
    assert_eq!(call.await.unwrap().unwrap().len(), 2);

    let missing = dispatcher
        .embed(
            None,
            "other-model",
            vec!["x".into()],
            EmbedKind::Query,
            deadline,
        )
        .await;
    assert_eq!(missing, Err(EmbedError::NoProvider));
}

#[tokio::test]
async fn an_embedding_request_fails_when_its_runner_leaves_or_is_too_slow() {
    let dispatcher = Service::new();
    let (runner, mut rx) = dispatcher.attach(embedder("emb", "m1"));
    let deadline = SystemTime::now() + Duration::from_secs(5);
    let call = {
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move {
            dispatcher
                .embed(None, "m1", vec!["x".into()], EmbedKind::Document, deadline)
                .await
        })
    };
    assert!(matches!(rx.recv().await, Some(ToRunner::Embed { .. })));
    dispatcher.detach(&runner);
    assert_eq!(call.await.unwrap(), Err(EmbedError::RunnerLost));

    let (_runner, _rx) = dispatcher.attach(embedder("slow", "m1"));
    let soon = SystemTime::now() + Duration::from_millis(50);
    let slow = dispatcher
        .embed(None, "m1", vec!["x".into()], EmbedKind::Query, soon)
        .await;
    assert_eq!(slow, Err(EmbedError::Timeout));
    // A query of one tenant never goes to another tenant's runner.
    let other = TenantId::new("other");
    let refused = dispatcher
        .embed(
            Some(&other),
            "m1",
            vec!["x".into()],
            EmbedKind::Query,
            deadline,
        )
        .await;
    assert_eq!(refused, Err(EmbedError::NoProvider));
}
