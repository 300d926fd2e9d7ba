//! Webhooks over real HTTP and gRPC: triggers and their secrets, signed deliveries that become
//! jobs, refusals that leave nothing behind, duplicates, rotation, tenancy, triggers of the
//! skills root, and 10,000 concurrent copies of one delivery on SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::runner::{TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason, with_token};
use skillos_engine::webhooks::{Scheme, verify::sign};
use skillos_proto::v1::{
    self, job_service_client::JobServiceClient, webhook_service_client::WebhookServiceClient,
};
use tonic::Code;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn create(server: &TestServer, id: &str, scheme: v1::SignatureScheme) -> String {
    let mut client = WebhookServiceClient::new(server.channel().await);
    let created = client
        .create_trigger(v1::CreateTriggerRequest {
            trigger: Some(v1::Trigger {
                id: id.to_owned(),
                skill_id: "a/one".to_owned(),
                signature_scheme: scheme as i32,
                enabled: true,
                ..Default::default()
            }),
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.trigger.unwrap().secrets.len(), 1);
    created.secret
}

/// A Standard Webhooks delivery: (headers, body).
fn standard(secret: &str, id: &str, body: &str) -> Vec<(String, String)> {
    let t = now();
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), t.to_string()),
        (
            "webhook-signature".into(),
            sign(Scheme::StandardWebhooks, secret, id, t, body.as_bytes()),
        ),
    ]
}

async fn post(
    server: &TestServer,
    trigger: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/webhooks/{trigger}", server.url()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn jobs(server: &TestServer) -> Vec<v1::Job> {
    JobServiceClient::new(server.channel().await)
        .list_jobs(v1::ListJobsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jobs
}

#[tokio::test]
async fn a_signed_delivery_becomes_one_job_and_a_refused_one_leaves_nothing() {
    let server = TestServer::start().await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    let secret = create(&server, "orders", v1::SignatureScheme::StandardWebhooks).await;
    let body = r#"{"amount": 12.5, "idempotency_key": "ignored-here"}"#;

    // A forged delivery first: 401 with nothing a forger could use, no job, no dedup record.
    let mut forged = standard(&secret, "msg_1", body);
    forged[2].1 = sign(
        Scheme::StandardWebhooks,
        "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
        "msg_1",
        now(),
        body.as_bytes(),
    );
    let (status, answer) = post(&server, "orders", &forged, body).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["reason"], "SIGNATURE_INVALID");
    assert_eq!(
        answer["error"]["message"],
        "the webhook signature does not verify"
    );
    assert!(jobs(&server).await.is_empty());

    // The genuine one with the same id is accepted: the refusal recorded nothing.
    let genuine = standard(&secret, "msg_1", body);
    let (status, answer) = post(&server, "orders", &genuine, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["delivery_id"], "msg_1");
    assert_eq!(answer["duplicate"], false);
    let job_id = answer["job_id"].as_str().unwrap().to_owned();
    // Again: 200 and the same job.
    let (status, again) = post(&server, "orders", &genuine, body).await;
    assert_eq!((status, &again["job_id"]), (200, &answer["job_id"]));
    assert_eq!(again["duplicate"], true);

    let mut client = JobServiceClient::new(server.channel().await);
    common::eventually(|| {
        let mut client = client.clone();
        let job_id = job_id.clone();
        async move {
            let job = client
                .get_job(v1::GetJobRequest { job_id })
                .await
                .unwrap()
                .into_inner()
                .job
                .unwrap();
            job.state() == v1::JobState::Succeeded
        }
    })
    .await;
    let job = client
        .get_job(v1::GetJobRequest {
            job_id: job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(job.source(), v1::JobSource::Webhook);
    assert_eq!(
        (job.source_id.as_str(), job.idempotency_key.as_str()),
        ("orders", "msg_1")
    );
    // The envelope without its idempotency_key is the payload.
    let payload = job.payload.unwrap();
    assert!(
        payload.fields.contains_key("amount") && !payload.fields.contains_key("idempotency_key")
    );
    assert_eq!(jobs(&server).await.len(), 1);

    // Malformed, unknown, too large, not JSON.
    let mut dotted = standard(&secret, "msg.2", body);
    dotted[2].1 = sign(
        Scheme::StandardWebhooks,
        &secret,
        "msg.2",
        now(),
        body.as_bytes(),
    );
    assert_eq!(post(&server, "orders", &dotted, body).await.0, 400);
    assert_eq!(post(&server, "nope", &genuine, body).await.0, 404);
    let big = format!(r#"{{"x": "{}"}}"#, "a".repeat(17 * 1024 * 1024));
    assert_eq!(
        post(&server, "orders", &standard(&secret, "msg_3", &big), &big)
            .await
            .0,
        413
    );
    let (status, answer) = post(&server, "orders", &standard(&secret, "msg_4", "[1]"), "[1]").await;
    assert_eq!(
        (status, answer["error"]["reason"].as_str()),
        (400, Some("INVALID_BODY"))
    );
    // A compressed body is refused, never unpacked.
    let gzip = [("content-encoding".to_owned(), "gzip".to_owned())];
    let headers: Vec<_> = standard(&secret, "msg_5", body)
        .into_iter()
        .chain(gzip)
        .collect();
    let (status, answer) = post(&server, "orders", &headers, body).await;
    assert_eq!(
        (status, answer["error"]["reason"].as_str()),
        (400, Some("INVALID_BODY"))
    );
    // A corrected retry of the refused body is evaluated afresh.
    let fixed = r#"{"amount": 1}"#;
    assert_eq!(
        post(&server, "orders", &standard(&secret, "msg_4", fixed), fixed)
            .await
            .0,
        202
    );
    assert_eq!(jobs(&server).await.len(), 2);
}

#[tokio::test]
async fn rotation_keeps_old_secrets_for_the_grace_and_tenants_stay_apart() {
    let server = TestServer::start_with(Options {
        dev_mode: false,
        ..Options::default()
    })
    .await;
    let admin = server.api_key("default", &["admin"]).await;
    let member = server.api_key("default", &["member"]).await;
    let foreign = server.api_key("acme", &["admin"]).await;
    let mut client = WebhookServiceClient::new(server.channel().await);
    let new = |id: &str| v1::CreateTriggerRequest {
        trigger: Some(v1::Trigger {
            id: id.to_owned(),
            skill_id: "a/one".to_owned(),
            signature_scheme: v1::SignatureScheme::GithubSha256 as i32,
            enabled: true,
            ..Default::default()
        }),
        secret: "a-github-secret-long-enough".to_owned(),
    };
    let status = client
        .create_trigger(with_token(new("gh"), &member))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::PermissionDenied, "POLICY_DENIED".to_owned())
    );
    let created = client
        .create_trigger(with_token(new("gh"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.secret, "a-github-secret-long-enough");
    let status = client
        .create_trigger(with_token(new("gh"), &foreign))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "TRIGGER_EXISTS");
    let status = client
        .get_trigger(with_token(
            v1::GetTriggerRequest {
                trigger_id: "gh".into(),
            },
            &foreign,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let short = v1::CreateTriggerRequest {
        secret: "short".into(),
        ..new("other")
    };
    let status = client
        .create_trigger(with_token(short, &admin))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "INVALID_SECRET");

    let github = |secret: &str, delivery: &str, body: &str| {
        vec![
            ("x-github-delivery".to_owned(), delivery.to_owned()),
            (
                "x-hub-signature-256".to_owned(),
                sign(Scheme::GithubSha256, secret, "", 0, body.as_bytes()),
            ),
        ]
    };
    // Each delivery is another event: GitHub deliveries are told apart by their (signed) body.
    let gh_body = |n: u32| format!(r#"{{"action": "opened", "number": {n}}}"#);
    let old = "a-github-secret-long-enough";
    assert_eq!(
        post(&server, "gh", &github(old, "d1", &gh_body(1)), &gh_body(1))
            .await
            .0,
        202
    );

    // Rotate with a grace: old and new both verify.
    let rotated = client
        .rotate_secret(with_token(
            v1::RotateSecretRequest {
                trigger_id: "gh".into(),
                grace_period: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                secret: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let fresh = rotated.secret.clone();
    let secrets = rotated.trigger.unwrap().secrets;
    assert_eq!(secrets.len(), 2);
    assert!(secrets[0].expire_time.is_none() && secrets[1].expire_time.is_some());
    assert_eq!(
        post(&server, "gh", &github(old, "d2", &gh_body(2)), &gh_body(2))
            .await
            .0,
        202
    );
    assert_eq!(
        post(
            &server,
            "gh",
            &github(&fresh, "d3", &gh_body(3)),
            &gh_body(3)
        )
        .await
        .0,
        202
    );
    // Rotate without a grace: only the newest verifies.
    let last = client
        .rotate_secret(with_token(
            v1::RotateSecretRequest {
                trigger_id: "gh".into(),
                grace_period: Some(prost_types::Duration::default()),
                secret: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    assert_eq!(
        post(&server, "gh", &github(old, "d4", &gh_body(4)), &gh_body(4))
            .await
            .0,
        401
    );
    assert_eq!(
        post(
            &server,
            "gh",
            &github(&fresh, "d5", &gh_body(5)),
            &gh_body(5)
        )
        .await
        .0,
        401
    );
    let (status, first) = post(
        &server,
        "gh",
        &github(&last, "d6", &gh_body(6)),
        &gh_body(6),
    )
    .await;
    assert_eq!(status, 202);
    // GitHub signs no delivery id: the same signed body under a new X-GitHub-Delivery is a
    // replay of the same event, not a new job.
    let (status, again) = post(
        &server,
        "gh",
        &github(&last, "d6-again", &gh_body(6)),
        &gh_body(6),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["job_id"], first["job_id"]);
    // The secret is never shown again.
    let listed = client
        .list_triggers(with_token(v1::ListTriggersRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .triggers;
    assert_eq!(listed.len(), 1);
    assert!(!format!("{listed:?}").contains(&last));
    assert!(
        client
            .list_triggers(with_token(v1::ListTriggersRequest::default(), &foreign))
            .await
            .unwrap()
            .into_inner()
            .triggers
            .is_empty()
    );
    client
        .delete_trigger(with_token(
            v1::DeleteTriggerRequest {
                trigger_id: "gh".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    assert_eq!(
        post(
            &server,
            "gh",
            &github(&last, "d7", &gh_body(7)),
            &gh_body(7)
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn triggers_of_the_skills_root_read_their_secrets_when_deliveries_arrive() {
    let secrets = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        secrets.path(),
        "old-secret-0123456789\nnew-secret-0123456789\n",
    )
    .unwrap();
    let file = format!(
        r#"{{"webhooks": [{{"id": "legacy", "skill_id": "a/one", "secret_file": "{}"}},
                          {{"trigger_id": "broken"}}]}}"#,
        secrets.path().display()
    );
    let server = TestServer::start_with(Options {
        configure: Some(Arc::new(move |_, root| {
            common::write(root, "triggers/webhooks.json", &file);
        })),
        ..Options::default()
    })
    .await;
    // The envelope's idempotency_key is signed with the body: it tells deliveries apart.
    let keyed =
        |key: &str| format!(r#"{{"payload": {{"amount": 3}}, "idempotency_key": "{key}"}}"#);
    for (secret, delivery) in [
        ("old-secret-0123456789", "k1"),
        ("new-secret-0123456789", "k2"),
    ] {
        let body = keyed(delivery);
        let header = sign(Scheme::SkillosV1, secret, "", now(), body.as_bytes());
        let headers = vec![("x-skillos-signature".to_owned(), header)];
        let (status, answer) = post(&server, "legacy", &headers, &body).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["delivery_id"], delivery);
    }
    let body = r#"{"payload": {"amount": 3}}"#;
    // Without an id, the signed content is the id: the same signed request again is a duplicate.
    let header = sign(
        Scheme::SkillosV1,
        "new-secret-0123456789",
        "",
        now(),
        body.as_bytes(),
    );
    let headers = vec![("x-skillos-signature".to_owned(), header)];
    let (first, answer) = post(&server, "legacy", &headers, body).await;
    let (second, again) = post(&server, "legacy", &headers, body).await;
    assert_eq!((first, second), (202, 200));
    assert_eq!(answer["job_id"], again["job_id"]);
    // A captured delivery sent again with an Idempotency-Key of its own (which the signature
    // does not cover) is still the same delivery.
    for key in ["replay-1", "replay-2"] {
        let mut replayed = headers.clone();
        replayed.push(("idempotency-key".to_owned(), key.to_owned()));
        let (status, replay) = post(&server, "legacy", &replayed, body).await;
        assert_eq!(status, 200, "{replay}");
        assert_eq!(replay["job_id"], answer["job_id"]);
    }
    let all = jobs(&server).await;
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .all(|job| job.principal_subject == "webhook:legacy")
    );
    let mut client = WebhookServiceClient::new(server.channel().await);
    let trigger = client
        .get_trigger(v1::GetTriggerRequest {
            trigger_id: "legacy".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .trigger
        .unwrap();
    assert_eq!(trigger.origin(), v1::TriggerOrigin::SkillsRoot);
    let status = client
        .delete_trigger(v1::DeleteTriggerRequest {
            trigger_id: "legacy".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "TRIGGER_READ_ONLY");
    // DeliverWebhook over gRPC does what the route does.
    let first_body = keyed("k1");
    let header = sign(
        Scheme::SkillosV1,
        "old-secret-0123456789",
        "",
        now(),
        first_body.as_bytes(),
    );
    let delivered = client
        .deliver_webhook(v1::DeliverWebhookRequest {
            trigger_id: "legacy".into(),
            body: first_body.as_bytes().to_vec(),
            headers: [("X-SkillOS-Signature".to_owned(), header)].into(),
            idempotency_key: "not-signed".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(delivered.duplicate);
    assert_eq!(delivered.delivery_id, "k1");
    let status = client
        .deliver_webhook(v1::DeliverWebhookRequest {
            trigger_id: "legacy".into(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::Unauthenticated, "SIGNATURE_INVALID".to_owned())
    );
}

async fn ten_thousand_copies(server: &TestServer) {
    let secret = create(server, "burst", v1::SignatureScheme::StandardWebhooks).await;
    let body = r#"{"amount": 1}"#;
    let headers = Arc::new(standard(&secret, "msg_burst", body));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let url = format!("{}/webhooks/burst", server.url());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = Vec::new();
    for _ in 0..10_000 {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let (client, url, headers) = (client.clone(), url.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut request = client.post(url).body(body);
            for (name, value) in headers.iter() {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let answer: serde_json::Value = response.json().await.unwrap();
            drop(permit);
            (status, answer["job_id"].as_str().unwrap().to_owned())
        }));
    }
    let mut accepted = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (status, job_id) = task.await.unwrap();
        assert!(status == 200 || status == 202, "{status}");
        accepted += usize::from(status == 202);
        ids.insert(job_id);
    }
    assert_eq!((accepted, ids.len()), (1, 1));
    assert_eq!(jobs(server).await.len(), 1);
}

#[tokio::test]
async fn ten_thousand_concurrent_copies_of_one_delivery_make_one_job_on_sqlite() {
    let server = TestServer::start().await;
    ten_thousand_copies(&server).await;
}

#[tokio::test]
async fn ten_thousand_concurrent_copies_of_one_delivery_make_one_job_on_postgres() {
    if common::postgres_off() {
        return;
    }
    let server = TestServer::start_with(Options {
        backend: skillos::config::StorageBackend::Postgres,
        postgres_schema: Some(format!("skillos_hooks_{}", uuid::Uuid::new_v4().simple())),
        ..Options::default()
    })
    .await;
    ten_thousand_copies(&server).await;
}

#[tokio::test]
async fn unsigned_deliveries_need_both_switches_and_rate_limits_answer_429() {
    let file = r#"{"triggers": [{"id": "open", "skill_id": "a/one", "allow_unsigned": true},
                                {"id": "closed", "skill_id": "a/one"}]}"#;
    let server = TestServer::start_with(Options {
        configure: Some(Arc::new(move |config, root| {
            common::write(root, "triggers/webhooks.json", file);
            config.webhooks.allow_unsigned = true;
            config.rate_limits.principal = Some(skillos_engine::rate_limit::Limit {
                rate: 0.5,
                burst: 2,
            });
        })),
        ..Options::default()
    })
    .await;
    let body = r#"{"n": 1}"#;
    let id = |key: &str| vec![("idempotency-key".to_owned(), key.to_owned())];
    assert_eq!(post(&server, "open", &id("u1"), body).await.0, 202);
    assert_eq!(post(&server, "closed", &id("u2"), body).await.0, 401);
    // A signature that is present is still checked.
    let forged = vec![(
        "x-skillos-signature".to_owned(),
        format!("t={},v1={}", now(), "ab".repeat(32)),
    )];
    assert_eq!(post(&server, "open", &forged, body).await.0, 401);
    // The trigger's principal (webhook:open) has a burst of 2: the third delivery waits.
    assert_eq!(post(&server, "open", &id("u3"), body).await.0, 202);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/webhooks/open", server.url()))
        .header("idempotency-key", "u4")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["reason"], "RATE_LIMITED");
}
