//! Input a hostile client sends, on PostgreSQL (whose text and JSON cannot hold a NUL) and on
//! SQLite: every answer is a status the caller can act on, never INTERNAL.

mod common;

use common::runner::{TestRunner, echo};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason};
use skillos_proto::v1::{
    self, approval_service_client::ApprovalServiceClient, job_service_client::JobServiceClient,
    orchestrator_service_client::OrchestratorServiceClient,
};
use tonic::Code;

fn nul_payload() -> v1::RunRequest {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "text".to_owned(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("a\0b".to_owned())),
        },
    );
    v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId("a/one".into())),
        payload: Some(prost_types::Struct { fields }),
        ..Default::default()
    }
}

/// INVALID_ARGUMENT or NOT_FOUND, or an answer: anything but INTERNAL.
fn acceptable<T: std::fmt::Debug>(what: &str, result: &Result<T, tonic::Status>) {
    if let Err(status) = result {
        assert!(
            matches!(status.code(), Code::InvalidArgument | Code::NotFound),
            "{what}: {status:?}"
        );
    }
}

async fn nothing_is_internal(server: &TestServer) {
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one"],
        echo(),
    )
    .await
    .unwrap();
    let mut orchestrator = OrchestratorServiceClient::new(server.channel().await);
    let run = orchestrator.run(nul_payload()).await;
    acceptable("a NUL in the payload", &run);
    if let Ok(response) = &run {
        // Stored faithfully: it comes back as it was sent.
        let output = response
            .get_ref()
            .execution
            .as_ref()
            .unwrap()
            .output
            .clone();
        assert!(format!("{output:?}").contains("a\\0b"), "{output:?}");
    } else if let Err(status) = &run {
        assert_eq!(reason(status), "UNSTORABLE_TEXT");
    }
    let got = orchestrator
        .get_execution(v1::GetExecutionRequest {
            execution_id: "a\0b".into(),
        })
        .await;
    acceptable("a NUL in an id", &got);
    let listed = orchestrator
        .list_executions(v1::ListExecutionsRequest {
            skill_id: "a/one".into(),
            job_id: "j\0".into(),
            ..Default::default()
        })
        .await;
    acceptable("a NUL in a filter", &listed);
    let feedback = orchestrator
        .record_feedback(v1::RecordFeedbackRequest {
            query: "convert\0money".into(),
            routed_skill_id: "a/one".into(),
            comment: "\0".into(),
            ..Default::default()
        })
        .await;
    acceptable("a NUL in feedback", &feedback);

    // Page tokens with times no store holds.
    let approvals = ApprovalServiceClient::new(server.channel().await)
        .list_approvals(v1::ListApprovalsRequest {
            page_token: format!("{}:x", i64::MIN),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (approvals.code(), reason(&approvals).as_str()),
        (Code::InvalidArgument, "INVALID_PAGE_TOKEN")
    );
    let jobs = JobServiceClient::new(server.channel().await)
        .list_jobs(v1::ListJobsRequest {
            page_token: format!("{}~{}", i64::MIN, uuid::Uuid::new_v4()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (jobs.code(), reason(&jobs).as_str()),
        (Code::InvalidArgument, "INVALID_PAGE_TOKEN")
    );
    let since = orchestrator
        .list_executions(v1::ListExecutionsRequest {
            created_after: Some(prost_types::Timestamp {
                seconds: -100_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(since.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn hostile_strings_and_tokens_are_never_internal_on_postgres() {
    let schema = format!("skillos_hostile_{}", uuid::Uuid::new_v4().simple());
    let server = TestServer::start_with(Options {
        backend: skillos::config::StorageBackend::Postgres,
        postgres_schema: Some(schema),
        ..Options::default()
    })
    .await;
    nothing_is_internal(&server).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hostile_strings_and_tokens_are_never_internal_on_sqlite() {
    let server = TestServer::start().await;
    nothing_is_internal(&server).await;
    server.stop().await.unwrap();
}
