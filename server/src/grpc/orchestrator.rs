//! gRPC adapter of `skillos.v1.OrchestratorService`; the logic lives in [`skillos_engine::orchestrator`].
//! Dry runs and idempotency keys answer UNIMPLEMENTED until they are built.

use std::time::Duration;

use skillos_proto::v1::{self, orchestrator_service_server::OrchestratorService};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{IntoStatus, invalid_field, status};
use skillos_engine::error::{Error, reason};
use skillos_engine::orchestrator::{FeedbackRequest, IdempotencyKey, RunRequest, Service};
use skillos_engine::routing::{RouteRequest, Routed};

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

fn not_yet(rpc: &str) -> Status {
    status(Error::new(
        reason::NOT_IMPLEMENTED,
        format!(
            "skillos.v1.OrchestratorService/{rpc} is not implemented by this version of SkillOS yet"
        ),
    ))
}

/// EXECUTED, or PENDING_APPROVAL for a run held for approval.
fn outcome(execution: &skillos_store::Execution) -> v1::RunOutcome {
    if execution.status == skillos_store::ExecutionStatus::PendingApproval {
        v1::RunOutcome::PendingApproval
    } else {
        v1::RunOutcome::Executed
    }
}

fn invalid(message: &str) -> Status {
    Error::new(reason::INVALID_REQUEST, message).into_status()
}

#[tonic::async_trait]
impl OrchestratorService for Adapter {
    type RunStreamStream = super::BoxStream<v1::RunStreamResponse>;

    async fn run(
        &self,
        request: Request<v1::RunRequest>,
    ) -> Result<Response<v1::RunResponse>, Status> {
        let (principal, traceparent, request, idempotency, replayed) = self
            .admit(request, "Run", |r| &mut r.idempotency_key)
            .await?;
        if let Some(execution) = replayed {
            return Ok(Response::new(v1::RunResponse {
                outcome: outcome(&execution) as i32,
                execution: Some(convert::execution(&execution)),
                replayed: true,
                ..Default::default()
            }));
        }
        let (skill_id, routed) = match self
            .resolve(
                &principal,
                request.target.map(Target::from),
                request.filter,
                request.routing_mode,
            )
            .await?
        {
            Resolved::Skill(skill_id, routed) => (skill_id, routed),
            Resolved::NotRouted(routed) => {
                return Ok(Response::new(v1::RunResponse {
                    outcome: v1::RunOutcome::NotRouted as i32,
                    routing: Some(convert::routing_decision(&routed)),
                    ..Default::default()
                }));
            }
        };
        let mut run = run_request(
            skill_id,
            request.payload,
            request.timeout,
            request.dry_run,
            idempotency,
        )?;
        run.traceparent = traceparent;
        let execution = self.service.run(&principal, run).await.map_err(status)?;
        Ok(Response::new(v1::RunResponse {
            outcome: outcome(&execution) as i32,
            execution: Some(convert::execution(&execution)),
            routing: routed.as_ref().map(convert::routing_decision),
            ..Default::default()
        }))
    }

    async fn run_stream(
        &self,
        request: Request<v1::RunStreamRequest>,
    ) -> Result<Response<Self::RunStreamStream>, Status> {
        let (principal, traceparent, request, idempotency, replayed) = self
            .admit(request, "RunStream", |r| &mut r.idempotency_key)
            .await?;
        if let Some(execution) = replayed {
            let (out, stream) = tokio::sync::mpsc::channel(1);
            let completed = v1::RunCompleted {
                outcome: outcome(&execution) as i32,
                execution: Some(convert::execution(&execution)),
                replayed: true,
                ..Default::default()
            };
            let _ = out
                .send(Ok(event(v1::run_stream_response::Event::Completed(
                    completed,
                ))))
                .await;
            return Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(stream),
            )));
        }
        let resolved = self
            .resolve(
                &principal,
                request.target.map(Target::from),
                request.filter,
                request.routing_mode,
            )
            .await?;
        let (out, stream) = tokio::sync::mpsc::channel::<Result<v1::RunStreamResponse, Status>>(64);
        let (skill_id, routed) = match resolved {
            Resolved::Skill(skill_id, routed) => (skill_id, routed),
            Resolved::NotRouted(routed) => {
                let decision = convert::routing_decision(&routed);
                let _ = out
                    .send(Ok(event(v1::run_stream_response::Event::Routed(
                        decision.clone(),
                    ))))
                    .await;
                let _ = out
                    .send(Ok(event(v1::run_stream_response::Event::Completed(
                        v1::RunCompleted {
                            outcome: v1::RunOutcome::NotRouted as i32,
                            routing: Some(decision),
                            ..Default::default()
                        },
                    ))))
                    .await;
                return Ok(Response::new(Box::pin(
                    tokio_stream::wrappers::ReceiverStream::new(stream),
                )));
            }
        };
        let mut run = run_request(
            skill_id,
            request.payload,
            request.timeout,
            request.dry_run,
            idempotency,
        )?;
        run.traceparent = traceparent;
        let service = self.service.clone();
        if let Some(routed) = &routed {
            let _ = out
                .send(Ok(event(v1::run_stream_response::Event::Routed(
                    convert::routing_decision(routed),
                ))))
                .await;
        }
        tokio::spawn(async move {
            // Bounded: a client that stops reading loses progress and logs, not memory.
            let (events_tx, mut events) = tokio::sync::mpsc::channel(256);
            let (accepted_tx, mut accepted) = tokio::sync::oneshot::channel();
            let running =
                service.run_with_events(&principal, run, Some(accepted_tx), Some(events_tx));
            tokio::pin!(running);
            let mut accepted_sent = false;
            let mut execution_id = String::new();
            let result = loop {
                tokio::select! {
                    biased;
                    id = &mut accepted, if !accepted_sent => {
                        accepted_sent = true;
                        if let Ok(id) = id {
                            execution_id = id;
                            if out.send(Ok(event(accepted_event(execution_id.clone())))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(dispatched) = events.recv() => {
                        // A closed stream drops `running`, which cancels the attempt on its runner.
                        if out.send(Ok(event(dispatch_event(&execution_id, &dispatched)))).await.is_err() {
                            return;
                        }
                    }
                    result = &mut running => break result,
                }
            };
            while let Ok(dispatched) = events.try_recv() {
                let _ = out
                    .send(Ok(event(dispatch_event(&execution_id, &dispatched))))
                    .await;
            }
            let last = match result {
                Ok(execution) => Ok(event(v1::run_stream_response::Event::Completed(
                    v1::RunCompleted {
                        outcome: outcome(&execution) as i32,
                        execution: Some(convert::execution(&execution)),
                        ..Default::default()
                    },
                ))),
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
        self.service
            .admit_caller(&principal)
            .await
            .map_err(status)?;
        let request = request.into_inner();
        let max_candidates = usize::try_from(request.max_candidates)
            .map_err(|_| invalid("max_candidates must be between 1 and 50 (0: 5)"))?;
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

/// The target of Run and RunStream, which have the same fields in two messages.
enum Target {
    SkillId(String),
    Query(String),
}

/// What a Run's target came to.
enum Resolved {
    /// Run this skill; the routing decision when it was chosen by a query.
    Skill(String, Option<Routed>),
    /// A query routing did not select a skill for: nothing runs.
    NotRouted(Routed),
}

impl Adapter {
    /// The skill a Run names, or the one routing selects for its query.
    async fn resolve(
        &self,
        principal: &auth::Principal,
        target: Option<Target>,
        filter: Option<v1::RouteFilter>,
        mode: i32,
    ) -> Result<Resolved, Status> {
        match target {
            Some(Target::SkillId(skill_id)) => Ok(Resolved::Skill(skill_id, None)),
            Some(Target::Query(query)) => {
                let request = RouteRequest {
                    query,
                    mode: convert::routing_mode(mode),
                    filter: convert::route_filter(filter),
                    max_candidates: 0,
                };
                let routed = self
                    .service
                    .route(principal, &request)
                    .await
                    .map_err(status)?;
                match &routed.decision.skill_id {
                    Some(skill_id)
                        if routed.decision.status == skillos_routing::Status::Selected =>
                    {
                        Ok(Resolved::Skill(skill_id.clone(), Some(routed)))
                    }
                    _ => Ok(Resolved::NotRouted(routed)),
                }
            }
            None => Err(invalid("skill_id or query is required")),
        }
    }
}

impl From<v1::run_request::Target> for Target {
    fn from(target: v1::run_request::Target) -> Self {
        match target {
            v1::run_request::Target::SkillId(id) => Self::SkillId(id),
            v1::run_request::Target::Query(query) => Self::Query(query),
        }
    }
}

impl From<v1::run_stream_request::Target> for Target {
    fn from(target: v1::run_stream_request::Target) -> Self {
        match target {
            v1::run_stream_request::Target::SkillId(id) => Self::SkillId(id),
            v1::run_stream_request::Target::Query(query) => Self::Query(query),
        }
    }
}

/// The checks Run and RunStream share, before anything runs.
/// What the first stages make of a run request: the caller, its trace context, the request,
/// its idempotency key, and the stored execution when the key replays one.
type Admitted<M> = (
    auth::Principal,
    Option<String>,
    M,
    Option<IdempotencyKey>,
    Option<skillos_store::Execution>,
);

impl Adapter {
    /// The first stages of Run and RunStream: authenticate, rate limits of the caller, and the
    /// idempotency key (a replay answers from the store).
    async fn admit<M: prost::Message + Clone>(
        &self,
        request: Request<M>,
        method: &'static str,
        key_of: impl Fn(&mut M) -> &mut String,
    ) -> Result<Admitted<M>, Status> {
        let principal = self.auth.grpc(&request).await?;
        self.service
            .admit_caller(&principal)
            .await
            .map_err(status)?;
        let traceparent = traceparent(&request);
        let mut request = request.into_inner();
        let idempotency = idempotency(method, &mut request, key_of)?;
        let replayed = match &idempotency {
            Some(key) => self.service.replay(&principal, key).await.map_err(status)?,
            None => None,
        };
        Ok((principal, traceparent, request, idempotency, replayed))
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
        return Err(Error::new(
            reason::INVALID_IDEMPOTENCY_KEY,
            "idempotency_key must be 1-255 printable ASCII characters",
        )
        .into_status());
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

fn run_request(
    skill_id: String,
    payload: Option<prost_types::Struct>,
    timeout: Option<prost_types::Duration>,
    dry_run: bool,
    idempotency: Option<IdempotencyKey>,
) -> Result<RunRequest, Status> {
    if dry_run {
        return Err(not_yet("Run with dry_run"));
    }
    let timeout = match timeout {
        None => None,
        Some(timeout) => Some(
            Duration::try_from(timeout)
                .ok()
                .filter(|timeout| !timeout.is_zero())
                .ok_or_else(|| invalid("timeout must be positive"))?,
        ),
    };
    let payload = payload
        .as_ref()
        .map(convert::struct_json)
        .unwrap_or_else(|| serde_json::json!({}));
    Ok(RunRequest {
        skill_id,
        payload,
        timeout,
        traceparent: None,
        idempotency,
        job_id: None,
    })
}

fn event(event: v1::run_stream_response::Event) -> v1::RunStreamResponse {
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
