//! gRPC adapter of `skillos.v1.FlowService`; the logic lives in [`skillos_engine::flow::runs`].

use std::collections::HashMap;
use std::time::Duration;

use skillos_proto::v1::{self, flow_service_server::FlowService};
use skillos_store::{FlowRunFilter, FlowRunStatus, FlowStep, FlowStepStatus};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{invalid_field, status};
use skillos_engine::error::reason;
use skillos_engine::flow::runs::{self, RunView};

/// How often WatchFlowRun looks at the store for changes (a run may be driven by another
/// replica, so the store is what it watches).
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Clone, Debug)]
pub struct Adapter {
    flows: runs::Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(flows: runs::Service, auth: auth::Authenticator) -> Self {
        Self { flows, auth }
    }
}

pub fn run_status(status: FlowRunStatus) -> v1::FlowRunStatus {
    match status {
        FlowRunStatus::Running => v1::FlowRunStatus::Running,
        FlowRunStatus::Waiting => v1::FlowRunStatus::Waiting,
        FlowRunStatus::Succeeded => v1::FlowRunStatus::Succeeded,
        FlowRunStatus::Failed => v1::FlowRunStatus::Failed,
        FlowRunStatus::Cancelled => v1::FlowRunStatus::Cancelled,
    }
}

fn step_status(status: FlowStepStatus) -> v1::FlowStepStatus {
    match status {
        FlowStepStatus::Running => v1::FlowStepStatus::Running,
        FlowStepStatus::Succeeded => v1::FlowStepStatus::Succeeded,
        FlowStepStatus::Failed => v1::FlowStepStatus::Failed,
        FlowStepStatus::Skipped => v1::FlowStepStatus::Skipped,
        FlowStepStatus::Cancelled => v1::FlowStepStatus::Cancelled,
        FlowStepStatus::PendingApproval => v1::FlowStepStatus::PendingApproval,
        FlowStepStatus::Waiting => v1::FlowStepStatus::Waiting,
    }
}

fn step(step: &FlowStep) -> v1::FlowStep {
    v1::FlowStep {
        path: step.path.clone(),
        name: step.name.clone(),
        kind: step.kind.clone(),
        skill_id: step.skill_id.clone(),
        status: step_status(step.status) as i32,
        attempt: step.attempt,
        input: step.input.as_ref().map(convert::value),
        output: step.output.as_ref().map(convert::value),
        error: step.error.as_ref().map(convert::execution_error),
        execution_id: step.execution_id.clone().unwrap_or_default(),
        approval_id: step.approval_id.clone().unwrap_or_default(),
        start_time: Some(convert::timestamp(step.started_at)),
        finish_time: step.finished_at.map(convert::timestamp),
    }
}

/// The protobuf form of a run, with its steps.
pub fn run(view: &RunView) -> v1::FlowRun {
    let run = &view.run;
    v1::FlowRun {
        id: run.id.clone(),
        flow_id: run.flow_id.clone(),
        version: run.version.clone(),
        definition_sha256: run.definition_sha256.clone(),
        status: run_status(run.status) as i32,
        input: run.input.as_object().map(convert::object),
        output: run.output.as_ref().map(convert::value),
        error: run.error.as_ref().map(convert::execution_error),
        principal_subject: run.principal.clone(),
        retries: run.retries,
        steps: view.steps.iter().map(step).collect(),
        create_time: Some(convert::timestamp(run.created_at)),
        update_time: Some(convert::timestamp(run.updated_at)),
        finish_time: run.finished_at.map(convert::timestamp),
        parent_run_id: run
            .parent
            .as_ref()
            .map(|parent| parent.run_id.clone())
            .unwrap_or_default(),
        parent_step_path: run
            .parent
            .as_ref()
            .map(|parent| parent.path.clone())
            .unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl FlowService for Adapter {
    async fn list_flows(
        &self,
        request: Request<v1::ListFlowsRequest>,
    ) -> Result<Response<v1::ListFlowsResponse>, Status> {
        self.auth.grpc(&request).await?;
        let flows = self
            .flows
            .flows()
            .iter()
            .map(|flow| v1::Flow {
                id: flow.id.to_string(),
                version: flow.version.to_string(),
                name: flow.name.clone(),
                description: flow.description.clone(),
                tags: flow.tags.clone(),
                steps: flow
                    .definition
                    .steps
                    .iter()
                    .map(|step| step.name.clone())
                    .collect(),
                source_path: flow.source_path.clone(),
                definition_sha256: runs::definition_sha256(&flow.document),
            })
            .collect();
        Ok(Response::new(v1::ListFlowsResponse { flows }))
    }

    async fn start_flow(
        &self,
        request: Request<v1::StartFlowRequest>,
    ) -> Result<Response<v1::StartFlowResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let input = request
            .input
            .as_ref()
            .map(convert::struct_json)
            .unwrap_or_else(|| serde_json::json!({}));
        let view = self
            .flows
            .start(&principal, &request.flow_id, input)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::StartFlowResponse {
            run: Some(run(&view)),
        }))
    }

    async fn get_flow_run(
        &self,
        request: Request<v1::GetFlowRunRequest>,
    ) -> Result<Response<v1::GetFlowRunResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .flows
            .get(&principal, &request.get_ref().run_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetFlowRunResponse {
            run: Some(run(&view)),
        }))
    }

    async fn list_flow_runs(
        &self,
        request: Request<v1::ListFlowRunsRequest>,
    ) -> Result<Response<v1::ListFlowRunsResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let mut statuses = Vec::new();
        for wanted in &request.statuses {
            let wanted = v1::FlowRunStatus::try_from(*wanted).ok();
            let status = FlowRunStatus::ALL
                .into_iter()
                .find(|candidate| Some(run_status(*candidate)) == wanted)
                .ok_or_else(|| {
                    invalid_field(
                        reason::INVALID_REQUEST,
                        "statuses",
                        "unknown flow run status",
                    )
                })?;
            statuses.push(status);
        }
        let flow_id = match request.flow_id.trim() {
            "" => None,
            id => Some(
                skillos_core::SkillId::parse(id)
                    .map_err(|error| {
                        invalid_field(reason::INVALID_SKILL_ID, "flow_id", error.to_string())
                    })?
                    .to_string(),
            ),
        };
        let parent_run_id = match request.parent_run_id.trim() {
            "" => None,
            id => Some(id.to_owned()),
        };
        let filter = FlowRunFilter {
            flow_id,
            statuses,
            parent_run_id,
            ..Default::default()
        };
        let (runs, next) = self
            .flows
            .list(&principal, filter, request.page_size, &request.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListFlowRunsResponse {
            runs: runs.iter().map(run).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_flow_run(
        &self,
        request: Request<v1::CancelFlowRunRequest>,
    ) -> Result<Response<v1::CancelFlowRunResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let view = self
            .flows
            .cancel(&principal, &request.run_id, &request.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::CancelFlowRunResponse {
            run: Some(run(&view)),
        }))
    }

    async fn retry_flow_run(
        &self,
        request: Request<v1::RetryFlowRunRequest>,
    ) -> Result<Response<v1::RetryFlowRunResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .flows
            .retry(&principal, &request.get_ref().run_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RetryFlowRunResponse {
            run: Some(run(&view)),
        }))
    }

    async fn signal_flow_run(
        &self,
        request: Request<v1::SignalFlowRunRequest>,
    ) -> Result<Response<v1::SignalFlowRunResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let payload = request
            .payload
            .as_ref()
            .map(convert::struct_json)
            .unwrap_or_else(|| serde_json::json!({}));
        let view = self
            .flows
            .signal(&principal, &request.run_id, &request.name, payload)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::SignalFlowRunResponse {
            run: Some(run(&view)),
        }))
    }

    type WatchFlowRunStream = super::BoxStream<v1::WatchFlowRunResponse>;

    async fn watch_flow_run(
        &self,
        request: Request<v1::WatchFlowRunRequest>,
    ) -> Result<Response<Self::WatchFlowRunStream>, Status> {
        use v1::watch_flow_run_response::Event;
        let principal = self.auth.grpc(&request).await?;
        let id = request.into_inner().run_id;
        let first = self.flows.get(&principal, &id).await.map_err(status)?;
        let flows = self.flows.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let event = |event| Ok(v1::WatchFlowRunResponse { event: Some(event) });
            if sender.send(event(Event::Run(run(&first)))).await.is_err() {
                return;
            }
            let mut status = first.run.status;
            let mut seen: HashMap<String, (FlowStepStatus, i32)> = first
                .steps
                .iter()
                .map(|step| (step.path.clone(), (step.status, step.attempt)))
                .collect();
            while !status.is_terminal() {
                tokio::select! {
                    // The caller went away.
                    () = sender.closed() => return,
                    () = tokio::time::sleep(WATCH_INTERVAL) => {}
                }
                let view = match flows.get(&principal, &id).await {
                    Ok(view) => view,
                    Err(error) => {
                        let _ = sender.send(Err(crate::error::status(error))).await;
                        return;
                    }
                };
                for changed in &view.steps {
                    let now = (changed.status, changed.attempt);
                    if seen.get(&changed.path) != Some(&now) {
                        seen.insert(changed.path.clone(), now);
                        if sender
                            .send(event(Event::Step(step(changed))))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                if view.run.status != status {
                    status = view.run.status;
                    let without_steps = RunView {
                        run: view.run,
                        steps: Vec::new(),
                    };
                    if sender
                        .send(event(Event::Run(run(&without_steps))))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
