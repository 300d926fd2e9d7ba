//! Routing over real gRPC against a real server with no embedding runner: keyword ranking,
//! the fallback it reports, validation, deprecation and Run by query.

mod common;

use common::{TestServer, eventually, write};
use skillos_proto::v1;
use skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const FLIGHTS: &str = "id: travel/search_flights\nname: Search Flights\n\
    description: Find flights and air tickets between two cities\nversion: 1.0.0\n\
    entrypoint: implementations.travel.search_flights:run\ntags: [travel, flights]\n";
const HOTELS: &str = "id: travel/search_hotels\nname: Search Hotels\n\
    description: Find a hotel or another place to stay in a city\nversion: 1.0.0\n\
    entrypoint: implementations.travel.search_hotels:run\ntags: [travel, hotels]\n";

async fn route(
    client: &mut OrchestratorServiceClient<Channel>,
    request: v1::RouteRequest,
) -> Result<v1::RoutingDecision, tonic::Status> {
    Ok(client.route(request).await?.into_inner().decision.unwrap())
}

fn query(text: &str) -> v1::RouteRequest {
    v1::RouteRequest {
        query: text.into(),
        ..Default::default()
    }
}

async fn server_with_travel_skills() -> (TestServer, OrchestratorServiceClient<Channel>) {
    let server = TestServer::start().await;
    write(
        &server.root_path(),
        "metadata/travel/search_flights.yaml",
        FLIGHTS,
    );
    write(
        &server.root_path(),
        "metadata/travel/search_hotels.yaml",
        HOTELS,
    );
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    // The root is reloaded and the index updated in the background.
    eventually(|| {
        let mut client = client.clone();
        async move {
            let decision = route(&mut client, query("cheap flights to Sochi"))
                .await
                .unwrap();
            decision.skill_id == "travel/search_flights"
        }
    })
    .await;
    let _ = &mut client;
    (server, client)
}

#[tokio::test]
async fn without_an_embedder_hybrid_routing_falls_back_to_keywords_and_says_why() {
    let (server, mut client) = server_with_travel_skills().await;
    let decision = route(&mut client, query("cheap flights to Sochi"))
        .await
        .unwrap();
    assert_eq!(decision.status(), v1::RoutingStatus::Selected);
    assert_eq!(decision.requested_mode(), v1::RoutingMode::Hybrid);
    assert_eq!(decision.mode(), v1::RoutingMode::Keyword);
    assert!(decision.fallback);
    assert_eq!(
        decision.fallback_reason(),
        v1::RoutingFallbackReason::NoEmbedder
    );
    assert!(
        decision.explanation.contains("keyword ranking was used"),
        "{}",
        decision.explanation
    );
    let top = &decision.candidates[0];
    assert_eq!(top.rank, 1);
    assert!(top.keyword_score.is_some() && top.vector_score.is_none());
    assert_eq!(top.matched_terms, ["flights"]);

    let keyword = route(
        &mut client,
        v1::RouteRequest {
            mode: v1::RoutingMode::Keyword as i32,
            ..query("a place to stay in Kazan")
        },
    )
    .await
    .unwrap();
    assert!(!keyword.fallback);
    assert_eq!(keyword.skill_id, "travel/search_hotels");

    let nothing = route(&mut client, query("xylophone gluon quark"))
        .await
        .unwrap();
    assert_eq!(nothing.status(), v1::RoutingStatus::NoSkill);
    assert!(nothing.skill_id.is_empty() && nothing.candidates.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let (server, mut client) = server_with_travel_skills().await;
    for request in [
        query("   "),
        query(&"x".repeat(4097)),
        v1::RouteRequest {
            max_candidates: 51,
            ..query("flights")
        },
        v1::RouteRequest {
            max_candidates: -1,
            ..query("flights")
        },
    ] {
        let status = route(&mut client, request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "INVALID_REQUEST"
        );
    }
    let unknown = client
        .record_feedback(v1::RecordFeedbackRequest {
            query: "flights".into(),
            expected_skill_id: "travel/search_trains".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        unknown.get_details_error_info().unwrap().reason,
        "SKILL_NOT_FOUND"
    );
    let empty = client
        .record_feedback(v1::RecordFeedbackRequest {
            query: "flights".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_skill_deprecated_through_the_api_is_not_routed_to() {
    let (server, mut client) = server_with_travel_skills().await;
    server
        .skills()
        .await
        .deprecate_skill(v1::DeprecateSkillRequest {
            skill_id: "travel/search_flights".into(),
            reason: "use trains".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let decision = route(&mut client, query("cheap flights to Sochi"))
        .await
        .unwrap();
    assert!(
        decision
            .candidates
            .iter()
            .all(|c| c.skill_id != "travel/search_flights")
    );
    let with = route(
        &mut client,
        v1::RouteRequest {
            filter: Some(v1::RouteFilter {
                include_deprecated: true,
                ..Default::default()
            }),
            ..query("cheap flights to Sochi")
        },
    )
    .await
    .unwrap();
    assert_eq!(with.candidates[0].skill_id, "travel/search_flights");
    assert!(with.candidates[0].deprecated);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn run_by_query_runs_nothing_when_routing_is_not_confident() {
    let (server, mut client) = server_with_travel_skills().await;
    let response = client
        .run(v1::RunRequest {
            target: Some(v1::run_request::Target::Query(
                "xylophone gluon quark".into(),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.outcome(), v1::RunOutcome::NotRouted);
    assert!(response.execution.is_none());
    assert_eq!(
        response.routing.unwrap().status(),
        v1::RoutingStatus::NoSkill
    );

    // A selected skill with no runner: routing worked, the run reports the missing runner.
    let status = client
        .run(v1::RunRequest {
            target: Some(v1::run_request::Target::Query(
                "cheap flights to Sochi".into(),
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.get_details_error_info().unwrap().reason, "NO_RUNNER");
    server.stop().await.unwrap();
}
