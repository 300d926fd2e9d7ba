//! A runner written in Rust that attaches over real gRPC, for tests: it registers skills and
//! answers each invoke with what its handler returns.

use std::sync::Arc;

use skillos_proto::runner_v1::{
    self, attach_request, attach_response, runner_service_client::RunnerServiceClient,
};
use skillos_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// What a test runner answers to one invoke.
pub enum Answer {
    Output(prost_types::Value),
    /// A progress report, then the output.
    ProgressThen(&'static str, prost_types::Value),
    Error(&'static str),
    /// A retryable error of the skill.
    Retryable(&'static str),
    /// The output, reporting this cost (the other answers report 0.25).
    Costed(prost_types::Value, f64),
    /// Never answer (the runner hangs).
    Silence,
    /// The output after a pause (the runner answers nothing else meanwhile).
    After(std::time::Duration, prost_types::Value),
    /// The output after a pause, answering other invokes meanwhile (a runner with slots).
    Later(std::time::Duration, prost_types::Value),
}

pub type Handler = Arc<dyn Fn(&runner_v1::Invoke) -> Answer + Send + Sync>;

pub struct TestRunner {
    pub registered: runner_v1::Registered,
    task: tokio::task::JoinHandle<()>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    pub events: mpsc::UnboundedReceiver<attach_response::Message>,
}

impl TestRunner {
    /// Attaches with `token`, registering `skills`, and sends heartbeats as a runner must; the
    /// server's refusal is the error.
    pub async fn attach(
        channel: Channel,
        token: &str,
        name: &str,
        skills: &[&str],
        handler: Handler,
    ) -> Result<Self, tonic::Status> {
        Self::connect(channel, token, name, skills, handler, true).await
    }

    /// Like [`TestRunner::attach`], but never sends a heartbeat.
    pub async fn attach_silent(
        channel: Channel,
        token: &str,
        name: &str,
        skills: &[&str],
        handler: Handler,
    ) -> Result<Self, tonic::Status> {
        Self::connect(channel, token, name, skills, handler, false).await
    }

    async fn connect(
        channel: Channel,
        token: &str,
        name: &str,
        skills: &[&str],
        handler: Handler,
        heartbeats: bool,
    ) -> Result<Self, tonic::Status> {
        let mut client = RunnerServiceClient::new(channel);
        let (outbound, outbound_stream) = mpsc::channel::<runner_v1::AttachRequest>(64);
        let register = runner_v1::Register {
            name: name.to_owned(),
            version: "test".to_owned(),
            max_concurrency: 64,
            protocol_version: 1,
            skills: skills
                .iter()
                .map(|id| runner_v1::SkillManifest {
                    id: id.to_string(),
                    version: "1.0.0".into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        outbound
            .send(runner_v1::AttachRequest {
                message: Some(attach_request::Message::Register(register)),
            })
            .await
            .unwrap();
        let mut request = tonic::Request::new(ReceiverStream::new(outbound_stream));
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let mut inbound = client.attach(request).await?.into_inner();
        let registered = match inbound.message().await? {
            Some(runner_v1::AttachResponse {
                message: Some(attach_response::Message::Registered(registered)),
            }) => registered,
            other => panic!("expected registered, got {other:?}"),
        };
        let heartbeat = heartbeats.then(|| {
            let interval = registered
                .heartbeat_interval
                .and_then(|interval| std::time::Duration::try_from(interval).ok())
                .unwrap_or(std::time::Duration::from_secs(1));
            let outbound = outbound.clone();
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                loop {
                    ticker.tick().await;
                    let beat = runner_v1::RunnerHeartbeat::default();
                    let message = attach_request::Message::Heartbeat(beat);
                    if outbound
                        .send(runner_v1::AttachRequest {
                            message: Some(message),
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            })
        });
        let (events_tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                let Some(message) = message.message else {
                    continue;
                };
                if let attach_response::Message::Invoke(invoke) = &message {
                    let answer = handler(invoke);
                    let cost = match &answer {
                        Answer::Costed(_, cost) => *cost,
                        _ => 0.25,
                    };
                    let outcome = match answer {
                        Answer::Output(value) => {
                            Some(runner_v1::invoke_result::Outcome::Output(value))
                        }
                        Answer::ProgressThen(text, value) => {
                            let progress = runner_v1::Progress {
                                execution_id: invoke.execution_id.clone(),
                                attempt: invoke.attempt,
                                message: text.to_owned(),
                                percent: Some(50.0),
                            };
                            let message = attach_request::Message::Progress(progress);
                            let _ = outbound
                                .send(runner_v1::AttachRequest {
                                    message: Some(message),
                                })
                                .await;
                            Some(runner_v1::invoke_result::Outcome::Output(value))
                        }
                        Answer::Error(text) => Some(runner_v1::invoke_result::Outcome::Error(
                            runner_v1::SkillError {
                                error_class: v1::ErrorClass::Permanent as i32,
                                code: "ValueError".into(),
                                message: text.into(),
                                runner_failure: false,
                            },
                        )),
                        Answer::Retryable(text) => Some(runner_v1::invoke_result::Outcome::Error(
                            runner_v1::SkillError {
                                error_class: v1::ErrorClass::Retryable as i32,
                                code: "Unavailable".into(),
                                message: text.into(),
                                runner_failure: false,
                            },
                        )),
                        Answer::Costed(value, _) => {
                            Some(runner_v1::invoke_result::Outcome::Output(value))
                        }
                        Answer::Silence => None,
                        Answer::After(pause, value) => {
                            tokio::time::sleep(pause).await;
                            Some(runner_v1::invoke_result::Outcome::Output(value))
                        }
                        Answer::Later(pause, value) => {
                            let outbound = outbound.clone();
                            let (execution_id, attempt) =
                                (invoke.execution_id.clone(), invoke.attempt);
                            tokio::spawn(async move {
                                tokio::time::sleep(pause).await;
                                let result = runner_v1::InvokeResult {
                                    execution_id,
                                    attempt,
                                    outcome: Some(runner_v1::invoke_result::Outcome::Output(value)),
                                    usage: Some(v1::Usage {
                                        cost,
                                        ..Default::default()
                                    }),
                                };
                                let message = attach_request::Message::Result(result);
                                let _ = outbound
                                    .send(runner_v1::AttachRequest {
                                        message: Some(message),
                                    })
                                    .await;
                            });
                            None
                        }
                    };
                    if let Some(outcome) = outcome {
                        let result = runner_v1::InvokeResult {
                            execution_id: invoke.execution_id.clone(),
                            attempt: invoke.attempt,
                            outcome: Some(outcome),
                            usage: Some(v1::Usage {
                                cost,
                                ..Default::default()
                            }),
                        };
                        let message = attach_request::Message::Result(result);
                        if outbound
                            .send(runner_v1::AttachRequest {
                                message: Some(message),
                            })
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                let _ = events_tx.send(message);
            }
        });
        Ok(Self {
            registered,
            task,
            heartbeat,
            events,
        })
    }

    /// Ends the runner's stream at once, as a killed process would.
    pub fn kill(&self) {
        self.task.abort();
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.abort();
        }
    }
}

/// Answers its payload as it is (so steps of a pipeline can chain it).
pub fn identity() -> Handler {
    Arc::new(|invoke| {
        Answer::Output(prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(
                invoke.payload.clone().unwrap_or_default(),
            )),
        })
    })
}

/// Answers `{"echo": payload}`.
pub fn echo() -> Handler {
    Arc::new(|invoke| {
        let payload = invoke.payload.clone().unwrap_or_default();
        let mut fields = std::collections::BTreeMap::new();
        fields.insert(
            "echo".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(payload)),
            },
        );
        Answer::Output(prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                fields,
            })),
        })
    })
}
