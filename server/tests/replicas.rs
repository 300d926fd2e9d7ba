//! Two replicas on one PostgreSQL: what one replica (or the CLI, writing to the store) changes
//! counts on the other within a second, although each serves API keys and deprecation state
//! from memory.

mod common;

use std::time::Duration;

use common::{Options, TestServer, reason, with_token};
use skillos_proto::v1;
use skillos_proto::v1::skill_service_client::SkillServiceClient;
use tonic::Code;

/// The longest a replica may serve what it read before a change elsewhere.
const WITHIN: Duration = Duration::from_secs(1);

fn postgres_off() -> bool {
    std::env::var("SKILLOS_TEST_POSTGRES").is_ok_and(|v| v == "off")
        && !std::env::var("CI").is_ok_and(|v| v == "true")
}

async fn replicas() -> (TestServer, TestServer) {
    let schema = format!("skillos_replicas_{}", uuid::Uuid::new_v4().simple());
    let options = || Options {
        backend: skillos::config::StorageBackend::Postgres,
        postgres_schema: Some(schema.clone()),
        ..Options::default()
    };
    let first = TestServer::start_with(options()).await;
    let second = TestServer::start_with(options()).await;
    (first, second)
}

async fn get_skill(server: &TestServer, token: &str) -> Result<v1::Skill, tonic::Status> {
    let mut client = SkillServiceClient::new(server.channel().await);
    let request = v1::GetSkillRequest {
        skill_id: "a/one".into(),
    };
    client
        .get_skill(with_token(request, token))
        .await
        .map(|response| response.into_inner().skill.expect("a skill"))
}

#[tokio::test]
async fn a_key_revoked_in_the_store_stops_working_on_every_replica_within_a_second() {
    if postgres_off() {
        return;
    }
    let (first, second) = replicas().await;
    let key = first.api_key("default", &["admin"]).await;
    // Both replicas have read the key and keep it in memory.
    for server in [&first, &second] {
        for _ in 0..3 {
            get_skill(server, &key).await.unwrap();
        }
    }

    // Revoked as `skillos keys revoke` does: in the store, past both servers.
    let store = skillos_store::open(&skillos::server::store_options(&first.config))
        .await
        .unwrap();
    let id = key
        .strip_prefix("skos_")
        .unwrap()
        .split('_')
        .next()
        .unwrap();
    let audit = skillos_store::AuditEvent::now(
        &skillos_store::TenantId::default_tenant(),
        "admin",
        "api_key.revoked",
        id,
        serde_json::json!({}),
    );
    assert!(
        store
            .revoke_api_key(id, skillos_store::now(), &audit)
            .await
            .unwrap()
    );
    store.close().await;

    tokio::time::sleep(WITHIN).await;
    for server in [&first, &second] {
        let refused = get_skill(server, &key).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        assert_eq!(reason(&refused), "UNAUTHENTICATED");
        assert!(
            refused.message().contains("revoked"),
            "{}",
            refused.message()
        );
    }
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_deprecation_counts_at_once_where_it_was_made_and_within_a_second_elsewhere() {
    if postgres_off() {
        return;
    }
    let (first, second) = replicas().await;
    let key = first.api_key("default", &["admin"]).await;
    for server in [&first, &second] {
        let skill = get_skill(server, &key).await.unwrap();
        assert!(!skill.deprecation.unwrap_or_default().deprecated);
    }

    let mut client = SkillServiceClient::new(first.channel().await);
    client
        .deprecate_skill(with_token(
            v1::DeprecateSkillRequest {
                skill_id: "a/one".into(),
                reason: "superseded".into(),
                replacement_id: "a/two".into(),
            },
            &key,
        ))
        .await
        .unwrap();
    let here = get_skill(&first, &key).await.unwrap();
    assert!(
        here.deprecation.unwrap().deprecated,
        "not at once where it was made"
    );

    tokio::time::sleep(WITHIN).await;
    let there = get_skill(&second, &key).await.unwrap();
    let deprecation = there.deprecation.unwrap();
    assert!(
        deprecation.deprecated,
        "not within a second on the other replica"
    );
    assert_eq!(deprecation.replacement_id, "a/two");
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}
