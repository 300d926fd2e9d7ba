//! SkillService over real gRPC against a real server.

mod common;

use common::reason;

use common::{TestServer, eventually, manifest, write};
use skillos_proto::v1;
use tonic::Code;

#[tokio::test]
async fn lists_gets_and_pages_skills() {
    let server = TestServer::start().await;
    let mut client = server.skills().await;

    let all = client
        .list_skills(v1::ListSkillsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = all.skills.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a/one", "a/two", "b/three"]);
    assert_eq!(all.total_size, 3);
    assert!(all.next_page_token.is_empty());

    let first = client
        .list_skills(v1::ListSkillsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.skills.len(), 2);
    let second = client
        .list_skills(v1::ListSkillsRequest {
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        second
            .skills
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["b/three"]
    );
    assert!(second.next_page_token.is_empty());

    let domain = client
        .list_skills(v1::ListSkillsRequest {
            domain: "b".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(domain.skills.len(), 1);

    let skill = client
        .get_skill(v1::GetSkillRequest {
            skill_id: "a.two".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert_eq!(skill.id, "a/two");
    assert_eq!(skill.source_path, "metadata/a/two.yaml");
    assert_eq!(skill.tags, ["a", "test"]);

    let missing = client
        .get_skill(v1::GetSkillRequest {
            skill_id: "a/zzz".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "SKILL_NOT_FOUND");

    let malformed = client
        .get_skill(v1::GetSkillRequest {
            skill_id: "a/b/c".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(reason(&malformed), "INVALID_SKILL_ID");

    let bad_token = client
        .list_skills(v1::ListSkillsRequest {
            page_token: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&bad_token), "INVALID_PAGE_TOKEN");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_manifest_is_reported_while_the_others_keep_being_served() {
    let server = TestServer::start().await;
    let mut client = server.skills().await;

    write(
        &server.root_path(),
        "metadata/c/broken.yaml",
        "id: c/broken\nname: [unclosed\n",
    );
    write(
        &server.root_path(),
        "metadata/c/four.yaml",
        &manifest("c/four"),
    );

    eventually(|| {
        let mut client = client.clone();
        async move {
            let listed = client
                .list_skills(v1::ListSkillsRequest::default())
                .await
                .unwrap()
                .into_inner();
            listed.skills.len() == 4
        }
    })
    .await;

    let report = client
        .validate_skills(v1::ValidateSkillsRequest {
            check_entrypoints: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!report.valid);
    assert_eq!(report.skill_count, 4);
    assert_eq!(report.issues.len(), 1);
    let issue = &report.issues[0];
    assert_eq!(issue.path, "metadata/c/broken.yaml");
    assert_eq!(issue.category(), v1::ValidationCategory::Syntax);
    assert_eq!(issue.severity(), v1::ValidationSeverity::Error);

    let with_entrypoints = client
        .validate_skills(v1::ValidateSkillsRequest {
            check_entrypoints: true,
        })
        .await
        .unwrap()
        .into_inner();
    let entrypoint_issues = with_entrypoints
        .issues
        .iter()
        .filter(|i| i.category() == v1::ValidationCategory::Entrypoint)
        .count();
    assert_eq!(
        entrypoint_issues, 4,
        "no implementation files exist in this root"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn deprecation_round_trip_is_persisted_across_restarts() {
    let server = TestServer::start().await;
    let mut client = server.skills().await;

    let refused = client
        .deprecate_skill(v1::DeprecateSkillRequest {
            skill_id: "a/one".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "DEPRECATION_REASON_REQUIRED");

    let unknown_replacement = client
        .deprecate_skill(v1::DeprecateSkillRequest {
            skill_id: "a/one".into(),
            replacement_id: "a/none".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&unknown_replacement), "INVALID_REPLACEMENT");

    let skill = client
        .deprecate_skill(v1::DeprecateSkillRequest {
            skill_id: "a/one".into(),
            reason: "superseded".into(),
            replacement_id: "a/two".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    let deprecation = skill.deprecation.unwrap();
    assert!(deprecation.deprecated);
    assert_eq!(deprecation.replacement_id, "a/two");
    assert!(deprecation.update_time.is_some());

    let default_list = client
        .list_skills(v1::ListSkillsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(default_list.skills.iter().all(|s| s.id != "a/one"));
    let full = client
        .list_skills(v1::ListSkillsRequest {
            include_deprecated: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(full.skills.len(), 3);

    let server = server.restart().await;
    let mut client = server.skills().await;
    let after_restart = client
        .get_skill(v1::GetSkillRequest {
            skill_id: "a/one".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert!(after_restart.deprecation.unwrap().deprecated);

    let cleared = client
        .undeprecate_skill(v1::UndeprecateSkillRequest {
            skill_id: "a/one".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .skill
        .unwrap();
    assert!(!cleared.deprecation.unwrap().deprecated);
    server.stop().await.unwrap();
}
