//! The one port: HTTP routes, gRPC health, reflection, shutdown and start-up failures.

mod common;

use std::time::{Duration, Instant};

use common::{Options, TestServer};
use skillos::config::StorageBackend;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

#[tokio::test]
async fn http_routes_share_the_grpc_port() {
    let server = TestServer::start().await;

    let (status, body) = server.http_get_async("/healthz").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let (status, body) = server.http_get_async("/readyz").await.unwrap();
    assert_eq!(status, 200);
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["store"], "ok");
    assert_eq!(ready["skills"], 3);

    let mut skills = server.skills().await;
    skills
        .list_skills(skillos_proto::v1::ListSkillsRequest::default())
        .await
        .unwrap();
    let (status, metrics) = server.http_get_async("/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"skillos_requests_total{method="/skillos.v1.SkillService/ListSkills",code="grpc_0"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"skillos_request_duration_seconds_count{method="/skillos.v1.SkillService/ListSkills"} 1"#
    ));
    assert!(metrics.contains("skillos_skills 3"), "{metrics}");

    let (status, _) = server.http_get_async("/no/such/route").await.unwrap();
    assert_eq!(status, 404);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_health_reports_serving_then_not_serving_on_shutdown() {
    let mut server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };

    for service in ["", "skillos.v1.SkillService"] {
        let status = health
            .check(check(service))
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }

    let mut watch = health.watch(check("")).await.unwrap().into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );

    let started = Instant::now();
    server.begin_shutdown();
    let update = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .unwrap();
    assert_eq!(update.unwrap().unwrap().status(), ServingStatus::NotServing);
    // The open watch stream keeps the drain waiting until the grace period (5 s) ends.
    server.join().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "shutdown exceeded its grace period"
    );
}

#[tokio::test]
async fn a_busy_port_fails_with_a_clear_message() {
    let server = TestServer::start().await;
    let error = skillos::server::bind(server.addr)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&server.addr.to_string()), "{error}");
    assert!(error.contains("--listen"), "{error}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_lists_every_service_in_both_versions() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "skillos.runner.v1.RunnerService",
            "skillos.v1.ApprovalService",
            "skillos.v1.BudgetService",
            "skillos.v1.FlowService",
            "skillos.v1.JobService",
            "skillos.v1.OrchestratorService",
            "skillos.v1.ScheduleService",
            "skillos.v1.SkillService",
            "skillos.v1.WebhookService",
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn serves_from_postgres() {
    let schema = format!("skillos_it_{}", std::process::id());
    let options = Options {
        backend: StorageBackend::Postgres,
        postgres_schema: Some(schema.clone()),
        ..Default::default()
    };
    let server = TestServer::start_with(options).await;
    let (_, body) = server.http_get_async("/readyz").await.unwrap();
    assert!(body.contains(r#""store_backend":"postgres""#), "{body}");

    let mut client = server.skills().await;
    let request = skillos_proto::v1::DeprecateSkillRequest {
        skill_id: "b/three".into(),
        reason: "testing".into(),
        ..Default::default()
    };
    client.deprecate_skill(request).await.unwrap();
    let server = server.restart().await;
    let mut client = server.skills().await;
    let skill = client
        .get_skill(skillos_proto::v1::GetSkillRequest {
            skill_id: "b/three".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert_eq!(skill.deprecation.unwrap().reason, "testing");
    server.stop().await.unwrap();

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&common::postgres_dsn())
        .await
        .unwrap();
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
}
