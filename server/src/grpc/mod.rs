//! The gRPC side of the port: SkillOS services, health and reflection, each reachable over gRPC
//! and gRPC-web (with CORS for browsers), mounted on the same axum router as the HTTP routes.

mod approvals;
mod budget;
pub(crate) mod convert;
mod flows;
mod jobs;
mod orchestrator;
pub(crate) mod runner;
mod schedules;
mod skills;
mod webhooks;

use std::convert::Infallible;

use axum::Router;
use http::{HeaderName, Method};
use tonic::server::NamedService;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use skillos_engine::skills::Service as SkillsService;

/// The stream type of server-streaming RPCs.
pub type BoxStream<T> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// Encoded descriptor sets served by reflection (and used for metric labels). `google.rpc` is
/// there so that clients such as grpcurl can decode the `ErrorInfo` details of errors.
pub fn descriptor_sets() -> [&'static [u8]; 5] {
    [
        skillos_proto::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
}

/// The domain services the gRPC adapters serve.
pub struct Services {
    pub skills: SkillsService,
    pub orchestrator: skillos_engine::orchestrator::Service,
    pub dispatcher: skillos_engine::dispatch::Service,
    pub runner_tokens: crate::auth::RunnerTokens,
    pub runner_limits: runner::Limits,
    pub auth: crate::auth::Authenticator,
    pub budgets: skillos_engine::budget::Service,
    pub policies: std::sync::Arc<skillos_engine::policy::Service>,
    pub approvals: skillos_engine::approvals::Service,
    pub jobs: skillos_engine::jobs::Service,
    pub webhooks: skillos_engine::webhooks::Service,
    pub schedules: skillos_engine::schedules::Service,
    pub flows: skillos_engine::flow::runs::Service,
}

/// Adds every gRPC service to `router`; `health` is tonic-health's service.
pub fn mount<H>(
    router: Router,
    services: Services,
    health: H,
    cors_origins: &[String],
) -> anyhow::Result<Router>
where
    H: GrpcService,
    H::Future: Send + 'static,
{
    use skillos_proto::runner_v1::runner_service_server::RunnerServiceServer;
    use skillos_proto::v1::{
        approval_service_server::ApprovalServiceServer, budget_service_server::BudgetServiceServer,
        flow_service_server::FlowServiceServer, job_service_server::JobServiceServer,
        orchestrator_service_server::OrchestratorServiceServer,
        schedule_service_server::ScheduleServiceServer, skill_service_server::SkillServiceServer,
        webhook_service_server::WebhookServiceServer,
    };

    // Both reflection versions describe every service, themselves included.
    let mut reflection =
        tonic_reflection::server::Builder::configure().include_reflection_service(false);
    let mut reflection_alpha =
        tonic_reflection::server::Builder::configure().include_reflection_service(false);
    for set in descriptor_sets() {
        reflection = reflection.register_encoded_file_descriptor_set(set);
        reflection_alpha = reflection_alpha.register_encoded_file_descriptor_set(set);
    }
    let limits = services.runner_limits;
    let shutdown = services.dispatcher.shutdown_signal();
    let runner = runner::Adapter::new(services.dispatcher, services.runner_tokens, limits);
    // Explicit limits on the runner stream: a message over tonic's default would end the whole
    // stream; results between max_result_bytes and this limit fail only their invocation.
    let runner_server = RunnerServiceServer::new(runner)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes);
    let cors = cors(cors_origins);
    let mount = Mount { router, cors };
    let router = mount
        .add(SkillServiceServer::new(skills::Adapter::new(
            services.skills,
            services.auth.clone(),
        )))
        .add(OrchestratorServiceServer::new(orchestrator::Adapter::new(
            services.orchestrator.clone(),
            services.auth.clone(),
        )))
        .add(ApprovalServiceServer::new(approvals::Adapter::new(
            services.approvals,
            services.auth.clone(),
            shutdown,
        )))
        .add(WebhookServiceServer::new(webhooks::Adapter::new(
            services.webhooks,
            services.auth.clone(),
        )))
        .add(JobServiceServer::new(jobs::Adapter::new(
            services.jobs,
            services.auth.clone(),
        )))
        .add(FlowServiceServer::new(flows::Adapter::new(
            services.flows,
            services.auth.clone(),
        )))
        .add(ScheduleServiceServer::new(schedules::Adapter::new(
            services.schedules,
            services.auth.clone(),
        )))
        .add(BudgetServiceServer::new(budget::Adapter::new(
            services.budgets,
            services.policies,
            services.auth.clone(),
        )))
        .add(runner_server)
        .add(health)
        .add(reflection.build_v1()?)
        .add(reflection_alpha.build_v1alpha()?)
        .router;
    Ok(router)
}

/// What tonic's generated servers are.
pub trait GrpcService:
    Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

struct Mount {
    router: Router,
    cors: CorsLayer,
}

impl Mount {
    /// Routes `/<package.Service>/*` to the service, behind gRPC-web and CORS, as tonic's own
    /// `Routes::add_service` does for plain gRPC.
    fn add<S>(self, service: S) -> Self
    where
        S: GrpcService,
        S::Future: Send + 'static,
    {
        let service = ServiceBuilder::new()
            .layer(self.cors.clone())
            .layer(tonic_web::GrpcWebLayer::new())
            .map_response(size_refusal)
            .service(service)
            .map_request(|request: http::Request<axum::body::Body>| {
                request.map(tonic::body::Body::new)
            });
        let path = format!("/{}/{{*rest}}", S::NAME);
        Self {
            router: self.router.route_service(&path, service),
            cors: self.cors,
        }
    }
}

/// tonic answers a request over its message limit with OUT_OF_RANGE, which no SkillOS call
/// uses: it becomes RESOURCE_EXHAUSTED (MESSAGE_TOO_LARGE), as the API promises for sizes.
fn size_refusal(response: http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> {
    let out_of_range = (tonic::Code::OutOfRange as i32).to_string();
    let status = response.headers().get("grpc-status");
    if status.is_none_or(|status| status.as_bytes() != out_of_range.as_bytes()) {
        return response;
    }
    let refused = skillos_engine::error::Error::new(
        skillos_engine::error::reason::MESSAGE_TOO_LARGE,
        "the message is larger than this server accepts",
    );
    let mut refusal = crate::error::status(refused).into_http::<tonic::body::Body>();
    *refusal.headers_mut() = {
        let mut headers = response.headers().clone();
        for (name, value) in refusal.headers() {
            headers.insert(name, value.clone());
        }
        headers
    };
    refusal
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        // Config::validate has checked every origin.
        AllowOrigin::list(origins.iter().filter_map(|origin| origin.parse().ok()))
    };
    let header = |name: &'static str| HeaderName::from_static(name);
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header("content-type"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("authorization"),
            header("idempotency-key"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
        ])
}
