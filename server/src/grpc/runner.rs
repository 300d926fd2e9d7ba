//! gRPC adapter of `skillos.runner.v1.RunnerService/Attach`: authenticates the runner, turns
//! its stream into a session with the [`dispatch::Service`], and enforces the protocol's limits.

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use prost::Message as _;
use skillos_core::SkillId;
use skillos_proto::runner_v1::{
    self, attach_request, attach_response, runner_service_server::RunnerService,
};
use skillos_proto::v1;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use crate::auth::{RunnerGrant, RunnerTokens};
use crate::error::{IntoStatus, status};
use skillos_engine::dispatch::{
    self, CancelReason, EmbedKind, EmbeddingOffer, Event, Finished, LogLevel, Registration,
    Rejection, SkillError, ToRunner, Usage,
};
use skillos_engine::error::{Error, Reason, reason};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: i32 = 1;
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// The code of a runner's error result for an output it would not send because of its size.
const RESULT_TOO_LARGE: &str = "RESULT_TOO_LARGE";

/// Limits a runner session enforces and announces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_result_bytes: usize,
    pub max_message_bytes: usize,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Adapter {
    dispatcher: dispatch::Service,
    tokens: RunnerTokens,
    limits: Limits,
}

impl Adapter {
    pub fn new(dispatcher: dispatch::Service, tokens: RunnerTokens, limits: Limits) -> Self {
        Self {
            dispatcher,
            tokens,
            limits,
        }
    }
}

type Outbound = mpsc::Sender<Result<runner_v1::AttachResponse, Status>>;

#[tonic::async_trait]
impl RunnerService for Adapter {
    type AttachStream =
        Pin<Box<dyn Stream<Item = Result<runner_v1::AttachResponse, Status>> + Send>>;

    async fn attach(
        &self,
        request: Request<Streaming<runner_v1::AttachRequest>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let Some(grant) = self.tokens.authenticate(&request) else {
            return Err(Error::new(
                reason::RUNNER_TOKEN_INVALID,
                "missing or unknown runner token",
            )
            .into_status());
        };
        let (outbound, stream) = mpsc::channel(64);
        let session = Session {
            dispatcher: self.dispatcher.clone(),
            grant,
            limits: self.limits,
            outbound,
        };
        // The response stream is returned at once; the Register message is read inside the
        // session, so clients that wait for response headers before sending do not deadlock.
        tokio::spawn(session.run(request.into_inner()));
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }
}

struct Session {
    dispatcher: dispatch::Service,
    grant: RunnerGrant,
    limits: Limits,
    outbound: Outbound,
}

fn refuse(reason: Reason, message: impl Into<String>) -> Status {
    status(Error::new(reason, message))
}

impl Session {
    async fn send(&self, message: attach_response::Message) -> bool {
        let response = runner_v1::AttachResponse {
            message: Some(message),
        };
        self.outbound.send(Ok(response)).await.is_ok()
    }

    async fn send_drain(&self) -> bool {
        let drain = runner_v1::Drain {
            reason: "server shutting down".to_owned(),
            deadline: None,
        };
        self.send(attach_response::Message::Drain(drain)).await
    }

    async fn end(&self, status: Status) {
        let _ = self.outbound.send(Err(status)).await;
    }

    async fn run(self, mut inbound: Streaming<runner_v1::AttachRequest>) {
        let register = match tokio::time::timeout(REGISTER_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(runner_v1::AttachRequest {
                message: Some(attach_request::Message::Register(register)),
            }))) => register,
            Ok(Ok(Some(_))) | Err(_) => {
                let message = "the first message must be `register`, sent within 10 s";
                return self.end(refuse(reason::REGISTER_REQUIRED, message)).await;
            }
            Ok(Ok(None)) | Ok(Err(_)) => return,
        };
        if !matches!(register.protocol_version, 0 | PROTOCOL_VERSION) {
            let message = format!(
                "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                register.protocol_version
            );
            return self
                .end(refuse(reason::UNSUPPORTED_PROTOCOL_VERSION, message))
                .await;
        }

        let (accepted, rejected) = self.sort_skills(&register.skills);
        let embedding = register
            .embedding
            .as_ref()
            .filter(|offer| !offer.model.is_empty() && offer.dimension > 0)
            .map(|offer| EmbeddingOffer {
                model: offer.model.clone(),
                dimension: usize::try_from(offer.dimension).unwrap_or(0),
                max_batch_size: usize::try_from(offer.max_batch_size).unwrap_or(0),
            });
        if accepted.is_empty() && embedding.is_none() {
            let ids: Vec<&str> = rejected.iter().map(|r| r.skill_id.as_str()).collect();
            let message = format!(
                "the runner token allows none of the registered skills ({})",
                ids.join(", ")
            );
            return self.end(refuse(reason::NO_SKILL_ALLOWED, message)).await;
        }
        let registration = Registration {
            name: register.name.clone(),
            version: register.version.clone(),
            tenant: self.grant.tenant.clone(),
            max_concurrency: usize::try_from(register.max_concurrency)
                .unwrap_or(1)
                .max(1),
            skills: accepted.clone(),
            embedding: embedding.clone(),
        };
        let (runner_id, mut to_runner) = self.dispatcher.attach(registration);
        tracing::info!(
            runner_id,
            name = %register.name,
            skills = accepted.len(),
            rejected = rejected.len(),
            embedding_model = embedding.as_ref().map(|e| e.model.as_str()),
            "runner attached"
        );

        let registered = runner_v1::Registered {
            runner_id: runner_id.clone(),
            tenant_id: self.grant.tenant.to_string(),
            accepted_skill_ids: accepted,
            rejected_skills: rejected,
            heartbeat_interval: prost_types::Duration::try_from(self.limits.heartbeat_interval)
                .ok(),
            heartbeat_timeout: prost_types::Duration::try_from(self.limits.heartbeat_timeout).ok(),
            max_message_bytes: self.limits.max_message_bytes as i64,
            max_result_bytes: self.limits.max_result_bytes as i64,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: PROTOCOL_VERSION,
        };
        if self
            .send(attach_response::Message::Registered(registered))
            .await
        {
            self.serve(&runner_id, &mut inbound, &mut to_runner).await;
        }
        self.dispatcher.detach(&runner_id);
        tracing::info!(runner_id, "runner detached");
    }

    /// Which registered skills this runner may serve.
    fn sort_skills(
        &self,
        skills: &[runner_v1::SkillManifest],
    ) -> (Vec<String>, Vec<runner_v1::RejectedSkill>) {
        let mut accepted: Vec<String> = Vec::new();
        let mut rejected = Vec::new();
        for manifest in skills {
            let verdict = match SkillId::parse(&manifest.id) {
                Err(error) => Err((
                    runner_v1::SkillRejectionReason::InvalidManifest,
                    error.to_string(),
                )),
                Ok(id) if !self.grant.allows(&id.to_string()) => Err((
                    runner_v1::SkillRejectionReason::NotAllowed,
                    format!("the runner token does not allow {id}"),
                )),
                Ok(id) if accepted.contains(&id.to_string()) => Err((
                    runner_v1::SkillRejectionReason::Duplicate,
                    format!("{id} is registered twice"),
                )),
                Ok(id) => Ok(id.to_string()),
            };
            match verdict {
                Ok(id) => accepted.push(id),
                Err((reason, message)) => rejected.push(runner_v1::RejectedSkill {
                    skill_id: manifest.id.clone(),
                    reason: reason as i32,
                    message,
                }),
            }
        }
        (accepted, rejected)
    }

    async fn serve(
        &self,
        runner_id: &str,
        inbound: &mut Streaming<runner_v1::AttachRequest>,
        to_runner: &mut mpsc::UnboundedReceiver<ToRunner>,
    ) {
        let mut last_heard = Instant::now();
        let mut heartbeat = tokio::time::interval(self.limits.heartbeat_interval);
        heartbeat.tick().await;
        let mut shutdown = self.dispatcher.shutdown_signal();
        // The server may have started shutting down while this runner registered.
        let mut draining = *shutdown.borrow_and_update();
        if draining && !self.send_drain().await {
            return;
        }
        loop {
            if draining && self.dispatcher.in_flight(runner_id) == 0 {
                let message = "the server is shutting down";
                return self.end(refuse(reason::SHUTTING_DOWN, message)).await;
            }
            tokio::select! {
                changed = shutdown.changed(), if !draining => {
                    draining = changed.is_err() || *shutdown.borrow_and_update();
                    if draining && !self.send_drain().await {
                        return;
                    }
                }
                message = inbound.message() => match message {
                    Ok(Some(message)) => {
                        last_heard = Instant::now();
                        if !self.handle(runner_id, message).await {
                            return;
                        }
                    }
                    Ok(None) | Err(_) => return,
                },
                Some(message) = to_runner.recv() => {
                    if !self.send(to_proto(message)).await {
                        return;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > self.limits.heartbeat_timeout {
                        tracing::warn!(runner_id, "runner missed its heartbeats; removing it");
                        let message = "no message from the runner within the heartbeat timeout";
                        return self.end(refuse(reason::HEARTBEAT_TIMEOUT, message)).await;
                    }
                    let beat = runner_v1::ServerHeartbeat { send_time: Some(convert::timestamp(chrono::Utc::now())) };
                    if !self.send(attach_response::Message::Heartbeat(beat)).await {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one message of the runner; false ends the session.
    async fn handle(&self, runner_id: &str, message: runner_v1::AttachRequest) -> bool {
        match message.message {
            Some(attach_request::Message::Result(result)) => self.result(runner_id, result).await,
            Some(attach_request::Message::Draining(_)) => {
                self.dispatcher.drain(runner_id);
                true
            }
            Some(attach_request::Message::Register(_)) => {
                self.end(refuse(
                    reason::ALREADY_REGISTERED,
                    "`register` was already sent",
                ))
                .await;
                false
            }
            Some(attach_request::Message::Progress(progress)) => {
                let attempt = u32::try_from(progress.attempt).unwrap_or(0);
                let event = Event::Progress {
                    attempt,
                    message: progress.message,
                    percent: progress.percent,
                };
                // A report of an attempt that is no longer current is dropped silently.
                let _ = self
                    .dispatcher
                    .report(runner_id, &progress.execution_id, attempt, event);
                true
            }
            Some(attach_request::Message::Log(entry)) => {
                let attempt = u32::try_from(entry.attempt).unwrap_or(0);
                let level = match entry.level() {
                    v1::LogLevel::Debug => LogLevel::Debug,
                    v1::LogLevel::Warning => LogLevel::Warning,
                    v1::LogLevel::Error => LogLevel::Error,
                    v1::LogLevel::Info | v1::LogLevel::Unspecified => LogLevel::Info,
                };
                let event = Event::Log {
                    attempt,
                    level,
                    message: entry.message,
                };
                let _ = self
                    .dispatcher
                    .report(runner_id, &entry.execution_id, attempt, event);
                true
            }
            Some(attach_request::Message::EmbedResult(result)) => {
                let outcome = match result.outcome {
                    Some(runner_v1::embed_result::Outcome::Embeddings(batch)) => {
                        Ok(batch.embeddings.into_iter().map(|e| e.values).collect())
                    }
                    Some(runner_v1::embed_result::Outcome::Error(error)) => Err(error),
                    None => Err("empty embed result".to_owned()),
                };
                self.dispatcher
                    .embed_result(runner_id, &result.request_id, outcome);
                true
            }
            // Liveness is counted by the caller.
            Some(attach_request::Message::Heartbeat(_)) => true,
            None => {
                self.end(refuse(reason::INVALID_REQUEST, "empty message"))
                    .await;
                false
            }
        }
    }

    async fn result(&self, runner_id: &str, result: runner_v1::InvokeResult) -> bool {
        let attempt = u32::try_from(result.attempt).unwrap_or(0);
        let usage = usage(result.usage.as_ref());
        let delivered = match result.outcome {
            Some(runner_v1::invoke_result::Outcome::Output(output)) => {
                let bytes = output.encoded_len();
                if bytes > self.limits.max_result_bytes {
                    let limit = self.limits.max_result_bytes;
                    self.dispatcher
                        .reject_too_large(
                            runner_id,
                            &result.execution_id,
                            attempt,
                            Some(bytes),
                            limit,
                        )
                        .map(|()| Some(runner_v1::ResultRejectionReason::TooLarge))
                } else {
                    let finished = Finished {
                        outcome: Ok(convert::value_json(&output)),
                        usage,
                    };
                    self.dispatcher
                        .complete(runner_id, &result.execution_id, attempt, finished)
                        .map(|()| None)
                }
            }
            // A runner that measured its own result as too large reports it instead of sending it.
            Some(runner_v1::invoke_result::Outcome::Error(error))
                if error.runner_failure && error.code == RESULT_TOO_LARGE =>
            {
                let limit = self.limits.max_result_bytes;
                self.dispatcher
                    .reject_too_large(runner_id, &result.execution_id, attempt, None, limit)
                    .map(|()| None)
            }
            Some(runner_v1::invoke_result::Outcome::Error(error)) => {
                let outcome = Err(SkillError {
                    retryable: error.error_class() == v1::ErrorClass::Retryable,
                    code: error.code,
                    message: error.message,
                });
                self.dispatcher
                    .complete(
                        runner_id,
                        &result.execution_id,
                        attempt,
                        Finished { outcome, usage },
                    )
                    .map(|()| None)
            }
            None => Ok(Some(runner_v1::ResultRejectionReason::Invalid)),
        };
        let rejection = match delivered {
            Ok(None) => return true,
            Ok(Some(reason)) => reason,
            Err(Rejection::Superseded) => runner_v1::ResultRejectionReason::Superseded,
            Err(Rejection::NotInFlight) => runner_v1::ResultRejectionReason::NotInFlight,
        };
        let rejected = runner_v1::ResultRejected {
            execution_id: result.execution_id,
            attempt: result.attempt,
            reason: rejection as i32,
            message: String::new(),
        };
        self.send(attach_response::Message::ResultRejected(rejected))
            .await
    }
}

fn usage(usage: Option<&v1::Usage>) -> Usage {
    let Some(usage) = usage else {
        return Usage::default();
    };
    Usage {
        // A runner cannot report an infinite or NaN cost into the budget counters.
        cost: if usage.cost.is_finite() {
            usage.cost.max(0.0)
        } else {
            0.0
        },
        input_tokens: u64::try_from(usage.input_tokens).unwrap_or(0),
        output_tokens: u64::try_from(usage.output_tokens).unwrap_or(0),
        duration: usage
            .duration
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default(),
    }
}

fn to_proto(message: ToRunner) -> attach_response::Message {
    match message {
        ToRunner::Invoke {
            attempt,
            invocation,
            deadline,
        } => {
            let payload = match &invocation.payload {
                serde_json::Value::Object(object) => Some(convert::object(object)),
                _ => None,
            };
            let timeout = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            attach_response::Message::Invoke(runner_v1::Invoke {
                execution_id: invocation.execution_id.clone(),
                attempt: attempt as i32,
                skill_id: invocation.skill_id.clone(),
                skill_version: invocation.skill_version.clone(),
                payload,
                deadline: Some(prost_types::Timestamp::from(deadline)),
                timeout: prost_types::Duration::try_from(timeout).ok(),
                principal: Some(runner_v1::Principal {
                    subject: invocation.principal.clone(),
                    roles: invocation.roles.clone(),
                    attributes: invocation
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                }),
                tenant_id: invocation.tenant.to_string(),
                traceparent: invocation.traceparent.clone(),
                model_tier: invocation.model_tier.clone().unwrap_or_default(),
                job_id: invocation.job_id.clone().unwrap_or_default(),
                step_key: invocation.step_key.clone().unwrap_or_default(),
                ..Default::default()
            })
        }
        ToRunner::Cancel {
            execution_id,
            attempt,
            reason,
        } => attach_response::Message::Cancel(runner_v1::Cancel {
            execution_id,
            attempt: attempt as i32,
            reason: match reason {
                CancelReason::Requested => runner_v1::CancelReason::Requested,
                CancelReason::DeadlineExceeded => runner_v1::CancelReason::DeadlineExceeded,
            } as i32,
            message: String::new(),
        }),
        ToRunner::Embed {
            request_id,
            texts,
            kind,
            deadline,
        } => attach_response::Message::Embed(runner_v1::Embed {
            request_id,
            texts,
            kind: match kind {
                EmbedKind::Query => runner_v1::EmbedInputKind::Query,
                EmbedKind::Document => runner_v1::EmbedInputKind::Document,
            } as i32,
            deadline: Some(prost_types::Timestamp::from(deadline)),
        }),
    }
}
