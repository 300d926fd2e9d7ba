//! gRPC adapter of `skillos.v1.OrchestratorService`; the logic lives in
//! [`skillos_engine::orchestrator`] and the Run pipeline in [`skillos_engine::run`]. Run and
//! RunStream unwrap the request, hand it to the pipeline and convert its answer; RunStream
//! streams the pipeline's events as they come.

use std::time::Duration;

use skillos_engine::run::{self, Answer, Entry, IdempotencyKey, Outcome, Sink, Target};
use skillos_proto::v1::{self, orchestrator_service_server::OrchestratorService};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{invalid_field, status};
use skillos_engine::error::reason;
use skillos_engine::flow;
use skillos_engine::flow::segments::Split;
use skillos_engine::orchestrator::{FeedbackRequest, Service};
use skillos_engine::routing::RouteRequest;

#[derive(Clone, Debug)]
pub struct Adapter {
    service: Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(service: Service, auth: auth::Authenticator) -> Self {
        Self { service, auth }
    }
}

fn invalid(field: &str, message: &str) -> Status {
    invalid_field(reason::INVALID_REQUEST, field, message)
}

/// The fields Run and RunStream share, in two messages.
struct RunFields {
    target: Option<Target>,
    payload: Option<prost_types::Struct>,
    timeout: Option<prost_types::Duration>,
    dry_run: bool,
    split: i32,
}

/// Run and RunStream carry the same fields in two messages: one conversion for both.
macro_rules! run_fields {
    ($request:ty, $target:path) => {
        impl From<&mut $request> for RunFields {
            fn from(request: &mut $request) -> Self {
                use $target as T;
                let filter = request.filter.take();
                let mode = request.routing_mode;
                Self {
                    target: request.target.take().map(|target| match target {
                        T::SkillId(id) => Target::SkillId(id),
                        T::Query(query) => query_target(query, mode, filter),
                    }),
                    payload: request.payload.take(),
                    timeout: request.timeout.take(),
                    dry_run: request.dry_run,
                    split: request.split,
                }
            }
        }
    };
}

run_fields!(v1::RunRequest, v1::run_request::Target);
run_fields!(v1::RunStreamRequest, v1::run_stream_request::Target);

fn query_target(query: String, mode: i32, filter: Option<v1::RouteFilter>) -> Target {
    Target::Query(RouteRequest {
        query,
        mode: convert::routing_mode(mode),
        filter: convert::route_filter(filter),
        max_candidates: 0,
    })
}

/// The pipeline's answer as the fields RunResponse and RunCompleted share.
fn answer_fields(
    answer: &Answer,
) -> (
    v1::RunOutcome,
    Option<v1::Execution>,
    Option<v1::RoutingDecision>,
    Option<v1::RunPlan>,
) {
    let routing = answer.routed.as_ref().map(convert::routing_decision);
    match &answer.outcome {
        Outcome::Executed(execution) => (
            v1::RunOutcome::Executed,
            Some(convert::execution(execution)),
            routing,
            None,
        ),
        Outcome::PendingApproval(execution) => (
            v1::RunOutcome::PendingApproval,
            Some(convert::execution(execution)),
            routing,
            None,
        ),
        Outcome::NotRouted => (v1::RunOutcome::NotRouted, None, routing, None),
        Outcome::Pipeline(_) => (v1::RunOutcome::Pipeline, None, routing, None),
        Outcome::DryRun(plan) => (
            v1::RunOutcome::DryRun,
            None,
            routing,
            Some(convert::run_plan(plan)),
        ),
    }
}

#[tonic::async_trait]
impl OrchestratorService for Adapter {
    type RunStreamStream = super::BoxStream<v1::RunStreamResponse>;

    async fn run(
        &self,
        request: Request<v1::RunRequest>,
    ) -> Result<Response<v1::RunResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let traceparent = traceparent(&request);
        let mut request = request.into_inner();
        let idempotency = idempotency("Run", &mut request, |r| &mut r.idempotency_key)?;
        let run = run_request(RunFields::from(&mut request), traceparent, idempotency)?;
        let answer = self
            .service
            .run(&principal, run, Sink::none())
            .await
            .map_err(status)?;
        let (outcome, execution, routing, plan) = answer_fields(&answer);
        let pipeline = match &answer.outcome {
            Outcome::Pipeline(run) => Some(pipeline_response(run)),
            _ => None,
        };
        Ok(Response::new(v1::RunResponse {
            outcome: outcome as i32,
            execution,
            routing,
            plan,
            replayed: answer.replayed,
            pipeline,
            segments: answer
                .segments
                .iter()
                .map(|(text, routed)| v1::QuerySegment {
                    text: text.clone(),
                    decision: Some(convert::routing_decision(routed)),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn run_pipeline(
        &self,
        request: Request<v1::RunPipelineRequest>,
    ) -> Result<Response<v1::RunPipelineResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let traceparent = traceparent(&request);
        let request = request.into_inner();
        let pipeline = flow::Pipeline {
            steps: request.steps,
            payload: request
                .payload
                .as_ref()
                .map(convert::struct_json)
                .unwrap_or_else(|| serde_json::json!({})),
            step_timeout: positive_duration("step_timeout", request.step_timeout)?,
            traceparent,
        };
        let run = self
            .service
            .run_pipeline(&principal, pipeline)
            .await
            .map_err(status)?;
        Ok(Response::new(pipeline_response(&run)))
    }

    async fn run_stream(
        &self,
        request: Request<v1::RunStreamRequest>,
    ) -> Result<Response<Self::RunStreamStream>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let traceparent = traceparent(&request);
        let mut request = request.into_inner();
        let idempotency = idempotency("RunStream", &mut request, |r| &mut r.idempotency_key)?;
        let run = run_request(RunFields::from(&mut request), traceparent, idempotency)?;
        if run.split != Split::None {
            return Err(invalid(
                "split",
                "RunStream streams the run of one skill and does not split queries; use Run",
            ));
        }
        let (out, stream) = tokio::sync::mpsc::channel::<Result<v1::RunStreamResponse, Status>>(64);
        let service = self.service.clone();
        tokio::spawn(async move {
            // Bounded: a client that stops reading loses progress and logs, not memory.
            let (events_tx, mut events) = tokio::sync::mpsc::channel(16);
            let (dispatch_tx, mut dispatched) = tokio::sync::mpsc::channel(256);
            let running = service.run(&principal, run, Sink::new(events_tx, dispatch_tx));
            tokio::pin!(running);
            let mut execution_id = String::new();
            let result = loop {
                tokio::select! {
                    biased;
                    Some(event) = events.recv() => {
                        if out.send(Ok(pipeline_event(event, &mut execution_id))).await.is_err() {
                            return;
                        }
                    }
                    Some(event) = dispatched.recv() => {
                        // A closed stream drops `running`, which cancels the attempt on its runner.
                        if out.send(Ok(message(dispatch_event(&execution_id, &event)))).await.is_err() {
                            return;
                        }
                    }
                    result = &mut running => break result,
                }
            };
            while let Ok(event) = events.try_recv() {
                let _ = out.send(Ok(pipeline_event(event, &mut execution_id))).await;
            }
            while let Ok(event) = dispatched.try_recv() {
                let _ = out
                    .send(Ok(message(dispatch_event(&execution_id, &event))))
                    .await;
            }
            let last = match result {
                Ok(answer) => {
                    let (outcome, execution, routing, plan) = answer_fields(&answer);
                    Ok(message(v1::run_stream_response::Event::Completed(
                        v1::RunCompleted {
                            outcome: outcome as i32,
                            execution,
                            routing,
                            plan,
                            replayed: answer.replayed,
                            ..Default::default()
                        },
                    )))
                }
                Err(error) => Err(status(error)),
            };
            let _ = out.send(last).await;
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(stream),
        )))
    }

    async fn route(
        &self,
        request: Request<v1::RouteRequest>,
    ) -> Result<Response<v1::RouteResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let max_candidates = usize::try_from(request.max_candidates).map_err(|_| {
            invalid(
                "max_candidates",
                "max_candidates must be between 1 and 50 (0: 5)",
            )
        })?;
        let routed = self
            .service
            .route(
                &principal,
                &RouteRequest {
                    query: request.query,
                    mode: convert::routing_mode(request.mode),
                    filter: convert::route_filter(request.filter),
                    max_candidates,
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RouteResponse {
            decision: Some(convert::routing_decision(&routed)),
        }))
    }

    async fn record_feedback(
        &self,
        request: Request<v1::RecordFeedbackRequest>,
    ) -> Result<Response<v1::RecordFeedbackResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let some = |text: String| Some(text).filter(|text| !text.trim().is_empty());
        let feedback = self
            .service
            .record_feedback(
                &principal,
                FeedbackRequest {
                    query: request.query,
                    routed_skill_id: some(request.routed_skill_id),
                    expected_skill_id: some(request.expected_skill_id),
                    source: request.source,
                    comment: request.comment,
                    execution_id: some(request.execution_id),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RecordFeedbackResponse {
            feedback: Some(convert::feedback(&feedback)),
        }))
    }

    async fn get_execution(
        &self,
        request: Request<v1::GetExecutionRequest>,
    ) -> Result<Response<v1::GetExecutionResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let execution = self
            .service
            .get_execution(&principal, &request.get_ref().execution_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetExecutionResponse {
            execution: Some(convert::execution(&execution)),
        }))
    }

    async fn list_executions(
        &self,
        request: Request<v1::ListExecutionsRequest>,
    ) -> Result<Response<v1::ListExecutionsResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let statuses = request
            .statuses()
            .map(|status| {
                convert::store_status(status).ok_or_else(|| {
                    invalid_field(
                        reason::INVALID_REQUEST,
                        "statuses",
                        "statuses: unknown status",
                    )
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let time = |field: &str, time: Option<prost_types::Timestamp>| {
            time.map(|time| {
                convert::time(&time).ok_or_else(|| {
                    invalid_field(
                        reason::INVALID_REQUEST,
                        field,
                        format!("{field} is out of range"),
                    )
                })
            })
            .transpose()
        };
        let created_after = time("created_after", request.created_after)?;
        let created_before = time("created_before", request.created_before)?;
        let filter = skillos_store::ExecutionFilter {
            skill_id: Some(request.skill_id),
            statuses,
            created_after,
            created_before,
            job_id: Some(request.job_id),
            before_id: None,
        };
        let page_token = Some(request.page_token).filter(|token| !token.is_empty());
        let (executions, next) = self
            .service
            .list_executions(&principal, filter, request.page_size, page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListExecutionsResponse {
            executions: executions.iter().map(convert::execution).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_execution(
        &self,
        request: Request<v1::CancelExecutionRequest>,
    ) -> Result<Response<v1::CancelExecutionResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let execution = self
            .service
            .cancel_execution(&principal, &request.execution_id, &request.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::CancelExecutionResponse {
            execution: Some(convert::execution(&execution)),
        }))
    }

    async fn list_runners(
        &self,
        request: Request<v1::ListRunnersRequest>,
    ) -> Result<Response<v1::ListRunnersResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let (runners, next) = self
            .service
            .list_runners(
                &principal,
                &request.skill_id,
                request.page_size,
                &request.page_token,
            )
            .map_err(status)?;
        Ok(Response::new(v1::ListRunnersResponse {
            runners: runners.iter().map(convert::runner).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }
}

/// The idempotency key of a request, with the SHA-256 of the request without it (its protobuf
/// encoding is deterministic: fields in tag order, `Struct` keys sorted).
pub(super) fn idempotency<M: prost::Message + Clone>(
    method: &'static str,
    request: &mut M,
    key_of: impl Fn(&mut M) -> &mut String,
) -> Result<Option<IdempotencyKey>, Status> {
    let key = key_of(request).clone();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > 255 || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid_field(
            reason::INVALID_IDEMPOTENCY_KEY,
            "idempotency_key",
            "idempotency_key must be 1-255 printable ASCII characters",
        ));
    }
    let mut unkeyed = request.clone();
    key_of(&mut unkeyed).clear();
    let digest = crate::auth::sha256(&unkeyed.encode_to_vec());
    Ok(Some(IdempotencyKey {
        key,
        method,
        request_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }))
}

/// A pipeline request from Run's or RunStream's fields.
fn run_request(
    fields: RunFields,
    traceparent: Option<String>,
    idempotency: Option<IdempotencyKey>,
) -> Result<run::Request, Status> {
    let target = fields
        .target
        .ok_or_else(|| invalid("skill_id", "skill_id or query is required"))?;
    let timeout = positive_duration("timeout", fields.timeout)?;
    let payload = fields
        .payload
        .as_ref()
        .map(convert::struct_json)
        .unwrap_or_else(|| serde_json::json!({}));
    Ok(run::Request {
        target,
        payload,
        timeout,
        traceparent,
        idempotency,
        job_id: None,
        dry_run: fields.dry_run,
        entry: Entry::Call,
        job_end: None,
        step_key: None,
        allowance: None,
        split: convert::split(fields.split).ok_or_else(|| invalid("split", "unknown split"))?,
    })
}

/// An optional duration field that must be positive when set.
fn positive_duration(
    field: &str,
    duration: Option<prost_types::Duration>,
) -> Result<Option<Duration>, Status> {
    duration
        .map(|duration| {
            Duration::try_from(duration)
                .ok()
                .filter(|duration| !duration.is_zero())
                .ok_or_else(|| invalid(field, &format!("{field} must be positive")))
        })
        .transpose()
}

fn pipeline_response(run: &flow::FlowRun) -> v1::RunPipelineResponse {
    let status = match run.status {
        flow::Status::Succeeded => v1::PipelineStatus::Succeeded,
        flow::Status::Failed => v1::PipelineStatus::Failed,
        flow::Status::PendingApproval => v1::PipelineStatus::PendingApproval,
    };
    v1::RunPipelineResponse {
        status: status as i32,
        output: run.output.as_ref().map(convert::value),
        steps: run.steps.iter().map(pipeline_step).collect(),
        error: run.error.as_ref().map(convert::execution_error),
    }
}

fn pipeline_step(step: &flow::StepRun) -> v1::PipelineStep {
    let status = match step.status {
        flow::StepStatus::Succeeded => v1::PipelineStepStatus::Succeeded,
        flow::StepStatus::Failed => v1::PipelineStepStatus::Failed,
        flow::StepStatus::Refused => v1::PipelineStepStatus::Refused,
        flow::StepStatus::Cancelled => v1::PipelineStepStatus::Cancelled,
        flow::StepStatus::PendingApproval => v1::PipelineStepStatus::PendingApproval,
    };
    v1::PipelineStep {
        index: i32::try_from(step.index).unwrap_or(i32::MAX),
        member: step.member.clone(),
        skill_id: step.skill_id.clone(),
        status: status as i32,
        execution_id: step.execution_id.clone().unwrap_or_default(),
        output: step.output.as_ref().map(convert::value),
        error: step.error.as_ref().map(convert::execution_error),
        approval_id: step.approval_id.clone().unwrap_or_default(),
        start_time: Some(convert::timestamp(step.started_at)),
        end_time: Some(convert::timestamp(step.finished_at)),
    }
}

fn message(event: v1::run_stream_response::Event) -> v1::RunStreamResponse {
    v1::RunStreamResponse {
        time: Some(convert::timestamp(chrono::Utc::now())),
        event: Some(event),
    }
}

fn accepted_event(execution_id: String) -> v1::run_stream_response::Event {
    v1::run_stream_response::Event::Accepted(v1::RunAccepted {
        execution_id,
        status: v1::ExecutionStatus::Running as i32,
        ..Default::default()
    })
}

fn dispatch_event(
    execution_id: &str,
    event: &skillos_engine::dispatch::Event,
) -> v1::run_stream_response::Event {
    use skillos_engine::dispatch::{Event, LogLevel};
    let now = || Some(convert::timestamp(chrono::Utc::now()));
    match event {
        Event::AttemptStarted { attempt, runner_id } => {
            v1::run_stream_response::Event::AttemptStarted(v1::RunAttemptStarted {
                execution_id: execution_id.to_owned(),
                attempt: *attempt as i32,
                runner_id: runner_id.clone(),
            })
        }
        Event::Progress {
            attempt,
            message,
            percent,
        } => v1::run_stream_response::Event::Progress(v1::ExecutionProgress {
            execution_id: execution_id.to_owned(),
            attempt: *attempt as i32,
            message: message.clone(),
            percent: *percent,
            time: now(),
        }),
        Event::Log {
            attempt,
            level,
            message,
        } => v1::run_stream_response::Event::Log(v1::ExecutionLogEntry {
            attempt: *attempt as i32,
            level: match level {
                LogLevel::Debug => v1::LogLevel::Debug,
                LogLevel::Info => v1::LogLevel::Info,
                LogLevel::Warning => v1::LogLevel::Warning,
                LogLevel::Error => v1::LogLevel::Error,
            } as i32,
            message: message.clone(),
            time: now(),
            execution_id: execution_id.to_owned(),
        }),
    }
}

/// The caller's W3C trace context, from the `traceparent` request header.
fn traceparent<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A pipeline event as a stream message; `Accepted` names the execution later events carry.
fn pipeline_event(event: run::Event, execution_id: &mut String) -> v1::RunStreamResponse {
    match event {
        run::Event::Routed(routed) => message(v1::run_stream_response::Event::Routed(
            convert::routing_decision(&routed),
        )),
        run::Event::Accepted { execution_id: id } => {
            execution_id.clone_from(&id);
            message(accepted_event(id))
        }
    }
}
