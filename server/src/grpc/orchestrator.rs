//! gRPC adapter of `skillos.v1.OrchestratorService`; the logic lives in [`crate::orchestrator`].
//! Runs by natural-language query, streaming, feedback and cancellation answer UNIMPLEMENTED
//! until they are built.

use std::time::Duration;

use skillos_proto::v1::{self, orchestrator_service_server::OrchestratorService};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{ApiError, Kind};
use crate::orchestrator::{RunRequest, Service};

#[derive(Clone, Debug)]
pub struct Adapter {
    service: Service,
}

impl Adapter {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

fn not_yet(rpc: &str) -> Status {
    ApiError::unimplemented(&format!("skillos.v1.OrchestratorService/{rpc}")).into_status()
}

fn invalid(message: &str) -> Status {
    ApiError::new(Kind::InvalidArgument, "INVALID_REQUEST", message).into_status()
}

#[tonic::async_trait]
impl OrchestratorService for Adapter {
    type RunStreamStream = super::unimplemented::BoxStream<v1::RunStreamResponse>;

    async fn run(
        &self,
        request: Request<v1::RunRequest>,
    ) -> Result<Response<v1::RunResponse>, Status> {
        let principal = auth::principal(&request);
        let request = request.into_inner();
        let skill_id = match request.target {
            Some(v1::run_request::Target::SkillId(skill_id)) => skill_id,
            Some(v1::run_request::Target::Query(_)) => {
                return Err(not_yet("Run with a query (routing)"));
            }
            None => return Err(invalid("skill_id or query is required")),
        };
        if request.dry_run || !request.idempotency_key.is_empty() {
            return Err(not_yet("Run with dry_run or idempotency_key"));
        }
        let timeout = match request.timeout {
            None => None,
            Some(timeout) => Some(
                Duration::try_from(timeout)
                    .ok()
                    .filter(|timeout| !timeout.is_zero())
                    .ok_or_else(|| invalid("timeout must be positive"))?,
            ),
        };
        let payload = request
            .payload
            .as_ref()
            .map(convert::struct_json)
            .unwrap_or_else(|| serde_json::json!({}));
        let execution = self
            .service
            .run(
                &principal,
                RunRequest {
                    skill_id,
                    payload,
                    timeout,
                },
            )
            .await?;
        Ok(Response::new(v1::RunResponse {
            outcome: v1::RunOutcome::Executed as i32,
            execution: Some(convert::execution(&execution)),
            ..Default::default()
        }))
    }

    async fn run_stream(
        &self,
        _: Request<v1::RunStreamRequest>,
    ) -> Result<Response<Self::RunStreamStream>, Status> {
        Err(not_yet("RunStream"))
    }

    async fn route(
        &self,
        _: Request<v1::RouteRequest>,
    ) -> Result<Response<v1::RouteResponse>, Status> {
        Err(not_yet("Route"))
    }

    async fn record_feedback(
        &self,
        _: Request<v1::RecordFeedbackRequest>,
    ) -> Result<Response<v1::RecordFeedbackResponse>, Status> {
        Err(not_yet("RecordFeedback"))
    }

    async fn get_execution(
        &self,
        request: Request<v1::GetExecutionRequest>,
    ) -> Result<Response<v1::GetExecutionResponse>, Status> {
        let principal = auth::principal(&request);
        let execution = self
            .service
            .get_execution(&principal, &request.get_ref().execution_id)
            .await?;
        Ok(Response::new(v1::GetExecutionResponse {
            execution: Some(convert::execution(&execution)),
        }))
    }

    async fn list_executions(
        &self,
        request: Request<v1::ListExecutionsRequest>,
    ) -> Result<Response<v1::ListExecutionsResponse>, Status> {
        let principal = auth::principal(&request);
        let request = request.into_inner();
        if request.created_after.is_some()
            || request.created_before.is_some()
            || !request.job_id.is_empty()
        {
            return Err(not_yet("ListExecutions filtered by time or job"));
        }
        let status = match request.statuses().collect::<Vec<_>>().as_slice() {
            [] => None,
            [status] => Some(
                convert::store_status(*status)
                    .ok_or_else(|| invalid("statuses: unknown status"))?,
            ),
            _ => {
                return Err(invalid(
                    "statuses: filter by one status at a time in this version",
                ));
            }
        };
        let skill_id = Some(request.skill_id).filter(|id| !id.is_empty());
        let page_token = Some(request.page_token).filter(|token| !token.is_empty());
        let (executions, next) = self
            .service
            .list_executions(&principal, skill_id, status, request.page_size, page_token)
            .await?;
        Ok(Response::new(v1::ListExecutionsResponse {
            executions: executions.iter().map(convert::execution).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_execution(
        &self,
        _: Request<v1::CancelExecutionRequest>,
    ) -> Result<Response<v1::CancelExecutionResponse>, Status> {
        Err(not_yet("CancelExecution"))
    }

    async fn list_runners(
        &self,
        request: Request<v1::ListRunnersRequest>,
    ) -> Result<Response<v1::ListRunnersResponse>, Status> {
        let principal = auth::principal(&request);
        let skill_id = request.get_ref().skill_id.clone();
        let runners = self
            .service
            .runners(&principal)
            .into_iter()
            .filter(|runner| skill_id.is_empty() || runner.skills.contains(&skill_id))
            .map(|runner| convert::runner(&runner))
            .collect();
        Ok(Response::new(v1::ListRunnersResponse {
            runners,
            next_page_token: String::new(),
        }))
    }
}
