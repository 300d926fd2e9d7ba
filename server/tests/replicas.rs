//! Two replicas on one PostgreSQL: what one replica (or the CLI, writing to the store) changes
//! counts on the other within a second, although each serves API keys and deprecation state
//! from memory.

mod common;

use std::time::Duration;

use common::{TestServer, reason, with_token};
use skillos_proto::v1;
use skillos_proto::v1::skill_service_client::SkillServiceClient;
use tonic::Code;

/// The longest a replica may serve what it read before a change elsewhere.
const WITHIN: Duration = Duration::from_secs(1);

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
    if common::postgres_off() {
        return;
    }
    let (first, second) = common::postgres_replicas("skillos_replicas", None).await;
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
    let stored = store.api_key(id).await.unwrap().unwrap();
    assert!(
        skillos::auth::api_key::revoke(store.as_ref(), &stored, "admin")
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
    if common::postgres_off() {
        return;
    }
    let (first, second) = common::postgres_replicas("skillos_replicas", None).await;
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
