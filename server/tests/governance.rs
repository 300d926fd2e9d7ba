//! Governance over real gRPC and HTTP: JWT and API-key authentication (and the attacks on
//! them), tenant isolation, permission policies, rate limits (in process and in Redis) and
//! circuit breakers.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::runner::{Answer, TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, metadata, reason, with_token, write};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use skillos::config::{Config, JwtKeyConfig};
use skillos_engine::rate_limit::Limit as RateLimit;
use skillos_proto::v1::{
    self, orchestrator_service_client::OrchestratorServiceClient,
    skill_service_client::SkillServiceClient,
};
use tonic::Code;
use tonic_types::StatusExt;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "skillos";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> serde_json::Value {
    json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600,
           "tenant_id": "default", "roles": ["admin"]})
}

fn sign(alg: Algorithm, kid: Option<&str>, key_file: &str, claims: &serde_json::Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&fixture(key_file)).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&fixture(key_file)).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&fixture(key_file)).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(&fixture(key_file)),
        other => panic!("{other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A server that authenticates with JWT keys from the fixture files; no dev mode.
async fn jwt_server(jwks_url: Option<String>) -> TestServer {
    TestServer::start_with(Options {
        dev_mode: false,
        configure: Some(Arc::new(move |config: &mut Config, _root: &Path| {
            let key = |file: &str, alg: &str, kid: &str| JwtKeyConfig {
                path: Path::new(FIXTURES).join(file),
                alg: alg.to_owned(),
                kid: Some(kid.to_owned()),
            };
            config.auth.jwt_keys = vec![
                key("rsa-public.pem", "RS256", "rsa1"),
                key("ec-public.pem", "ES256", "ec1"),
                key("ed-public.pem", "EdDSA", "ed1"),
            ];
            config.auth.jwt_issuer = Some(ISSUER.to_owned());
            config.auth.jwt_audience = Some(AUDIENCE.to_owned());
            config.auth.jwks_url = jwks_url.clone();
            config.auth.jwks_min_refresh_seconds = 1;
        })),
        ..Default::default()
    })
    .await
}

async fn list_with(server: &TestServer, token: &str) -> Result<(), tonic::Status> {
    let mut skills = server.skills().await;
    skills
        .list_skills(with_token(v1::ListSkillsRequest::default(), token))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_jwt_negative_matrix_is_refused() {
    let server = jwt_server(None).await;
    for (alg, kid, file) in [
        (Algorithm::RS256, "rsa1", "rsa-private.pem"),
        (Algorithm::ES256, "ec1", "ec-private.pem"),
        (Algorithm::EdDSA, "ed1", "ed-private.pem"),
    ] {
        let token = sign(alg, Some(kid), file, &claims());
        list_with(&server, &token)
            .await
            .unwrap_or_else(|status| panic!("{alg:?}: {status:?}"));
    }

    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = claims();
        change(&mut claims);
        sign(Algorithm::RS256, Some("rsa1"), "rsa-private.pem", &claims)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims().to_string().as_bytes())
    );
    // HS256 with the server's RSA public key as the HMAC secret: the classic key confusion.
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa1".to_owned());
        let key = EncodingKey::from_secret(&fixture("rsa-public.pem"));
        jsonwebtoken::encode(&header, &claims(), &key).unwrap()
    };
    let tampered = {
        let token = sign(Algorithm::RS256, Some("rsa1"), "rsa-private.pem", &claims());
        let (signed, _) = token.rsplit_once('.').unwrap();
        let mut evil = claims();
        evil["roles"] = json!(["admin", "root"]);
        let (header, _) = signed.split_once('.').unwrap();
        let signature = token.rsplit('.').next().unwrap();
        format!("{header}.{}.{signature}", b64(evil.to_string().as_bytes()))
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned),
        ("key confusion", confused),
        ("expired", with(&|c| c["exp"] = json!(now() - 120))),
        (
            "exp as a string",
            with(&|c| c["exp"] = json!((now() + 600).to_string())),
        ),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "nbf in the future",
            with(&|c| c["nbf"] = json!(now() + 600)),
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("someone-else")),
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.test")),
        ),
        (
            "unknown kid",
            sign(
                Algorithm::ES256,
                Some("ec-unknown"),
                "ec2-private.pem",
                &claims(),
            ),
        ),
        (
            "key of another kid",
            sign(Algorithm::ES256, Some("ec1"), "ec2-private.pem", &claims()),
        ),
        (
            "oversize",
            with(&|c| c["padding"] = json!("x".repeat(9 * 1024))),
        ),
        ("tampered claims", tampered),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (case, token) in cases {
        let status = list_with(&server, &token).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_eq!(reason(&status), "UNAUTHENTICATED", "{case}");
    }
    // No credential at all.
    let status = server
        .skills()
        .await
        .list_skills(v1::ListSkillsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    server.stop().await.unwrap();
}

/// A JWKS endpoint whose key set the test changes, counting the fetches.
#[derive(Clone, Default)]
struct Jwks {
    body: Arc<std::sync::Mutex<Option<String>>>,
    fetches: Arc<AtomicUsize>,
}

impl Jwks {
    fn serve(&self, kids: &[(&str, &str)]) {
        let keys: Vec<serde_json::Value> = kids
            .iter()
            .map(|(kid, file)| {
                let key = EncodingKey::from_ec_pem(&fixture(file)).unwrap();
                let mut jwk = serde_json::to_value(
                    jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap(),
                )
                .unwrap();
                jwk["kid"] = json!(kid);
                // Only the public part.
                jwk.as_object_mut().unwrap().remove("d");
                jwk
            })
            .collect();
        *self.body.lock().unwrap() = Some(json!({"keys": keys}).to_string());
    }

    fn go_down(&self) {
        *self.body.lock().unwrap() = None;
    }

    async fn start(&self) -> String {
        let state = self.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let state = state.clone();
                async move {
                    state.fetches.fetch_add(1, Ordering::SeqCst);
                    match state.body.lock().unwrap().clone() {
                        Some(body) => (axum::http::StatusCode::OK, body),
                        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new()),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/jwks.json")
    }
}

#[tokio::test]
async fn jwks_is_fetched_again_for_an_unknown_kid_at_most_once_a_period_and_survives_outages() {
    let jwks = Jwks::default();
    jwks.serve(&[("ec-a", "ec-private.pem")]);
    let url = jwks.start().await;
    let server = jwt_server(Some(url)).await;
    let token_a = sign(Algorithm::ES256, Some("ec-a"), "ec-private.pem", &claims());
    let token_b = sign(Algorithm::ES256, Some("ec-b"), "ec2-private.pem", &claims());

    list_with(&server, &token_a).await.unwrap();
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    list_with(&server, &token_a).await.unwrap();
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "known keys are cached"
    );

    // A burst of tokens naming an unknown kid fetches at most once per period.
    jwks.serve(&[("ec-a", "ec-private.pem"), ("ec-b", "ec2-private.pem")]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let burst = (0..20).map(|_| list_with(&server, &token_b));
    let results = futures_all(burst).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);

    // The URL goes down: known keys keep working; an unknown kid is refused.
    jwks.go_down();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token_c = sign(Algorithm::ES256, Some("ec-c"), "ec2-private.pem", &claims());
    let status = list_with(&server, &token_c).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 3);
    list_with(&server, &token_a).await.unwrap();
    list_with(&server, &token_b).await.unwrap();
    server.stop().await.unwrap();
}

async fn futures_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(future);
    }
    let mut out = Vec::new();
    // Polled together, so the calls overlap.
    let joined = futures_join(set).await;
    out.extend(joined);
    out
}

async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, result) in pinned.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *result = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

const POLICIES: &str = r#"{
    "roles": {"operator": ["a:*"], "viewer": ["skills:read"]},
    "policies": [{"skill_id": "a/*", "required_permissions": ["a:run"], "policy_id": "a-skills"}]
}"#;

/// A server without dev mode, with the policies above, and API keys made in its store.
async fn keyed_server(configure: impl Fn(&mut Config) + Send + Sync + 'static) -> TestServer {
    TestServer::start_with(Options {
        dev_mode: false,
        configure: Some(Arc::new(move |config: &mut Config, root: &Path| {
            write(root, "policies/permission_policies.json", POLICIES);
            configure(config);
        })),
        ..Default::default()
    })
    .await
}

fn run_request(skill_id: &str) -> v1::RunRequest {
    v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId(skill_id.to_owned())),
        ..Default::default()
    }
}

#[tokio::test]
async fn roles_and_tenants_come_only_from_credentials_and_tenants_are_isolated() {
    let server = keyed_server(|_| {}).await;
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one", "b/three"],
        echo(),
    )
    .await
    .unwrap();
    let viewer = server.api_key("default", &["viewer"]).await;
    let operator = server.api_key("default", &["operator"]).await;
    let admin = server.api_key("default", &["admin"]).await;
    let foreign = server.api_key("acme", &["admin"]).await;
    let mut client = OrchestratorServiceClient::new(server.channel().await);

    // A role and a tenant smuggled in headers and the payload change nothing.
    let mut smuggled = run_request("a/one");
    smuggled.payload = Some(prost_types::Struct {
        fields: [("role", "admin"), ("tenant_id", "acme"), ("roles", "admin")]
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue(v.to_owned())),
                    },
                )
            })
            .collect(),
    });
    let mut request = with_token(smuggled, &viewer);
    for (header, value) in [
        ("x-role", "admin"),
        ("x-skillos-role", "admin"),
        ("x-tenant-id", "acme"),
        ("x-skillos-tenant", "acme"),
    ] {
        request
            .metadata_mut()
            .insert(header, value.parse().unwrap());
    }
    let status = client.run(request).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason(&status), "POLICY_DENIED");
    assert_eq!(metadata(&status, "policy_id"), "a-skills");
    assert_eq!(metadata(&status, "missing_permissions"), "a:run");

    // The operator holds a:* and runs a/one; b/three is granted by no policy (default deny).
    let executed = client
        .run(with_token(run_request("a/one"), &operator))
        .await
        .unwrap()
        .into_inner();
    let execution = executed.execution.unwrap();
    assert_eq!(execution.status, v1::ExecutionStatus::Succeeded as i32);
    assert!(
        execution.principal_subject.starts_with("key:"),
        "{execution:?}"
    );
    let status = client
        .run(with_token(run_request("b/three"), &operator))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(metadata(&status, "policy_id"), "default_deny");

    // Another tenant sees nothing of it.
    let get = |token: &str| {
        with_token(
            v1::GetExecutionRequest {
                execution_id: execution.id.clone(),
            },
            token,
        )
    };
    let status = client.get_execution(get(&foreign)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "EXECUTION_NOT_FOUND");
    client.get_execution(get(&admin)).await.unwrap();
    let foreign_list = client
        .list_executions(with_token(v1::ListExecutionsRequest::default(), &foreign))
        .await
        .unwrap()
        .into_inner();
    assert!(foreign_list.executions.is_empty());
    let own_list = client
        .list_executions(with_token(v1::ListExecutionsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own_list.executions.len(), 1);
    // Nor can it run the default tenant's skills on its runners.
    let status = client
        .run(with_token(run_request("a/one"), &foreign))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "NO_RUNNER");

    // Administrative calls need their permission.
    let mut skills = SkillServiceClient::new(server.channel().await);
    let deprecate = |token: &str| {
        with_token(
            v1::DeprecateSkillRequest {
                skill_id: "a/two".to_owned(),
                reason: "replaced".to_owned(),
                ..Default::default()
            },
            token,
        )
    };
    let status = skills
        .deprecate_skill(deprecate(&operator))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(metadata(&status, "missing_permissions"), "skills:manage");
    skills.deprecate_skill(deprecate(&admin)).await.unwrap();

    // HTTP takes the same credentials.
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/skills", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .get(format!("{}/skills", server.url()))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .post(format!("{}/skills/a/one/deprecate", server.url()))
        .bearer_auth(&viewer)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn rate_limits_refuse_with_retry_info_over_grpc_and_retry_after_over_http() {
    let server = keyed_server(|config| {
        config.rate_limits.principal = Some(RateLimit {
            rate: 0.001,
            burst: 3,
        });
    })
    .await;
    let token = server.api_key("default", &["admin"]).await;
    let other = server.api_key("default", &["admin"]).await;
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    let route = |token: &str| {
        with_token(
            v1::RouteRequest {
                query: "convert currency".to_owned(),
                ..Default::default()
            },
            token,
        )
    };
    for _ in 0..3 {
        client.route(route(&token)).await.unwrap();
    }
    let status = client.route(route(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "RATE_LIMITED");
    assert_eq!(metadata(&status, "scope"), "principal");
    let retry = status.get_details_retry_info().expect("RetryInfo detail");
    assert!(retry.retry_delay.unwrap() > Duration::from_secs(60));
    // Another principal is counted apart.
    client.route(route(&other)).await.unwrap();

    let response = reqwest::Client::new()
        .get(format!("{}/skills", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > 60, "{after}");
    server.stop().await.unwrap();
}

fn redis_url() -> String {
    std::env::var("SKILLOS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn strict(config: &mut Config, url: &str) {
    config.rate_limits.strict = true;
    config.rate_limits.redis_url = Some(url.to_owned());
    config.rate_limits.principal = Some(RateLimit {
        rate: 0.001,
        burst: 10,
    });
}

#[tokio::test]
async fn strict_mode_shares_the_limit_across_servers_through_redis() {
    let url = redis_url();
    let first = keyed_server({
        let url = url.clone();
        move |config| strict(config, &url)
    })
    .await;
    // The second server shares the first one's store (and so its keys) and Redis.
    let second = TestServer::start_with(Options {
        dev_mode: false,
        configure: Some(Arc::new({
            let url = url.clone();
            let data = first.config.storage.data_dir.clone();
            move |config: &mut Config, root: &Path| {
                write(root, "policies/permission_policies.json", POLICIES);
                config.storage.data_dir = data.clone();
                strict(config, &url);
            }
        })),
        ..Default::default()
    })
    .await;
    // A fresh key: a subject no earlier run has counted in Redis.
    let token = first.api_key("default", &["admin"]).await;
    let mut clients = Vec::new();
    for server in [&first, &second] {
        clients.push(OrchestratorServiceClient::new(server.channel().await));
    }
    let calls = (0..40).map(|i| {
        let mut client = clients[i % 2].clone();
        let request = with_token(
            v1::RouteRequest {
                query: "convert currency".to_owned(),
                ..Default::default()
            },
            &token,
        );
        async move { client.route(request).await }
    });
    let results = futures_join(calls.collect()).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|s| reason(s) == "RATE_LIMITED"))
        .count();
    // Burst 10 at a rate of one per 1000 s: the limit plus burst over the test is 10 (11 if a
    // token accrued during the run).
    assert!((10..=11).contains(&admitted), "admitted {admitted}");
    assert_eq!(admitted + limited, 40);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

/// A TCP relay to Redis that the test can cut.
async fn relay(target: String) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut, cut_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            let mut cut_rx = cut_rx.clone();
            tokio::spawn(async move {
                if *cut_rx.borrow() {
                    return;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut_rx.wait_for(|cut| *cut) => {}
                }
            });
        }
    });
    (format!("redis://{addr}"), cut)
}

#[tokio::test]
async fn strict_mode_fails_closed_when_redis_goes_away_and_refuses_to_start_without_it() {
    let target = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let (url, cut) = relay(target).await;
    let server = keyed_server(move |config| strict(config, &url)).await;
    let token = server.api_key("default", &["admin"]).await;
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    let route = || {
        with_token(
            v1::RouteRequest {
                query: "convert currency".to_owned(),
                ..Default::default()
            },
            &token,
        )
    };
    client.route(route()).await.unwrap();
    cut.send_replace(true);
    let status = client.route(route()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), "RATE_LIMITER_UNAVAILABLE");
    server.stop().await.unwrap();

    // No Redis at all: the server does not start.
    let mut config = Config::default();
    config.rate_limits.strict = true;
    config.rate_limits.redis_url = Some("redis://127.0.0.1:1".to_owned());
    let error = skillos_engine::rate_limit::Service::new(&config.rate_limits)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Redis"), "{error}");
}

#[tokio::test]
async fn the_circuit_opens_on_runner_failures_not_on_skill_errors() {
    let server = keyed_server(|config| {
        config.circuit_breaker.failure_threshold = 2;
        config.circuit_breaker.open_seconds = 3600;
    })
    .await;
    let token = server.api_key("default", &["admin"]).await;
    let invocations = Arc::new(AtomicUsize::new(0));
    let counted = invocations.clone();
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "flaky",
        &["a/one", "a/two"],
        Arc::new(move |invoke: &skillos_proto::runner_v1::Invoke| {
            counted.fetch_add(1, Ordering::SeqCst);
            if invoke.skill_id == "a/one" {
                Answer::Silence
            } else {
                Answer::Error("BUSINESS_RULE")
            }
        }),
    )
    .await
    .unwrap();
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    let timed = |skill: &str| {
        let mut request = run_request(skill);
        request.timeout = Some(prost_types::Duration {
            seconds: 0,
            nanos: 200_000_000,
        });
        with_token(request, &token)
    };
    // A skill's own errors are answers: the circuit stays closed.
    for _ in 0..4 {
        let response = client.run(timed("a/two")).await.unwrap().into_inner();
        assert_eq!(
            response.execution.unwrap().status,
            v1::ExecutionStatus::Failed as i32
        );
    }
    // Two timeouts open it; the next call fails fast without reaching the runner.
    for _ in 0..2 {
        let status = client.run(timed("a/one")).await.unwrap_err();
        assert_eq!(reason(&status), "EXECUTION_TIMED_OUT");
    }
    let before = invocations.load(Ordering::SeqCst);
    let status = client.run(timed("a/one")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "CIRCUIT_OPEN");
    assert!(status.get_details_retry_info().is_some());
    assert_eq!(invocations.load(Ordering::SeqCst), before);
    // Per skill: a/two still runs.
    client.run(timed("a/two")).await.unwrap();
    server.stop().await.unwrap();
}
