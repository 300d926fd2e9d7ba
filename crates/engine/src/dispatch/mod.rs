//! Dispatch: runs one invocation on a runner that hosts its skill.
//!
//! Runners attach over a stream (the transport lives in the gRPC adapter); the dispatcher keeps
//! what it needs to choose among them and to match results to invocations:
//!
//! - choice: the least-loaded runner of the invocation's tenant that hosts the skill, is not
//!   draining and has a free slot (ties go to the runner that attached first); when every such
//!   runner is full the invocation waits for a slot until its deadline;
//! - attempts: every attempt of an execution has its own number; only the current attempt's
//!   result is accepted, a late or superseded one is refused (fencing);
//! - loss: a runner that goes away fails its in-flight attempts at once; a retryable skill is
//!   tried again on another runner, any other ends with [`Error::RunnerLost`];
//! - deadlines and cancellation: at the deadline, or when the caller stops waiting, the runner
//!   is told to cancel the attempt and its slot is freed.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value as Json;
use skillos_store::TenantId;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

/// What a runner declares when it attaches.
#[derive(Clone, Debug)]
pub struct Registration {
    pub name: String,
    pub version: String,
    pub tenant: TenantId,
    pub max_concurrency: usize,
    pub skills: Vec<String>,
    /// The embedding model the runner offers to routing, if any.
    pub embedding: Option<EmbeddingOffer>,
}

/// An embedding model a runner offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingOffer {
    pub model: String,
    pub dimension: usize,
    /// Most texts per request; 0: no limit.
    pub max_batch_size: usize,
}

/// Whether texts to embed are queries or skill documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedKind {
    Query,
    Document,
}

/// Why an embedding request through a runner failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    #[error("no connected runner offers embeddings")]
    NoProvider,
    #[error("the embedding runner did not answer in time")]
    Timeout,
    #[error("the embedding runner went away")]
    RunnerLost,
    #[error("the embedding runner failed: {0}")]
    Failed(String),
}

/// A runner as `ListRunners` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunnerInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub tenant: TenantId,
    pub max_concurrency: usize,
    pub in_flight: usize,
    pub draining: bool,
    pub skills: Vec<String>,
    pub embedding: Option<EmbeddingOffer>,
    pub connected_at: SystemTime,
}

/// One execution to run.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub execution_id: String,
    pub skill_id: String,
    pub skill_version: String,
    pub payload: Json,
    pub tenant: TenantId,
    pub principal: String,
    /// The principal's verified roles and attributes, for skills that need them.
    pub roles: Vec<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The model tier budgets chose, when the skill declares tiers.
    pub model_tier: Option<String>,
    pub deadline: Instant,
    /// Whether a lost attempt may run again (the skill is idempotent).
    pub retryable: bool,
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// Where to report attempts, progress and logs as they happen (for streaming callers).
    /// Bounded: when the caller reads too slowly, progress and logs are dropped rather than
    /// kept without limit.
    pub events: Option<mpsc::Sender<Event>>,
    /// W3C trace context passed to the runner, so the skill's spans join the caller's trace.
    pub traceparent: String,
    /// The job the execution is an attempt of.
    pub job_id: Option<String>,
    /// The flow step the execution runs, stable across its attempts.
    pub step_key: Option<String>,
}

/// Something that happened during an invocation, for callers that stream it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    AttemptStarted {
        attempt: u32,
        runner_id: String,
    },
    Progress {
        attempt: u32,
        message: String,
        percent: Option<f32>,
    },
    Log {
        attempt: u32,
        level: LogLevel,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

/// A message for one runner's stream.
#[derive(Clone, Debug)]
pub enum ToRunner {
    Invoke {
        attempt: u32,
        invocation: Arc<Invocation>,
        deadline: SystemTime,
    },
    Cancel {
        execution_id: String,
        attempt: u32,
        reason: CancelReason,
    },
    Embed {
        request_id: String,
        texts: Vec<String>,
        kind: EmbedKind,
        deadline: SystemTime,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    Requested,
    DeadlineExceeded,
}

/// What a runner reported for one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// The skill's output, or its own error.
    pub outcome: Result<Json, SkillError>,
    pub usage: Usage,
}

/// An error the skill itself raised (not a failure to run it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillError {
    pub retryable: bool,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub cost: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub duration: Duration,
}

/// A finished dispatch.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatched {
    pub finished: Finished,
    pub runner_id: String,
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no connected runner serves skill {0}")]
    NoRunner(String),
    #[error("the runner went away during attempt {attempts} and the skill is not retried")]
    RunnerLost { attempts: u32 },
    /// `bytes` is the size when the server measured it (the runner may refuse to send it).
    #[error("the result is larger than the limit of {limit} bytes")]
    ResultTooLarge { bytes: Option<usize>, limit: usize },
    #[error("the execution's deadline passed")]
    DeadlineExceeded,
    #[error("the execution was cancelled")]
    Cancelled,
}

/// Why a result was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the attempt was superseded by a newer one")]
    Superseded,
    #[error("no such attempt is in flight on this runner")]
    NotInFlight,
}

/// How an attempt ended, as the waiting dispatch learns it.
#[derive(Debug)]
enum AttemptEnd {
    Finished(Finished),
    RunnerLost,
    TooLarge {
        bytes: Option<usize>,
        limit: usize,
    },
    /// CancelExecution withdrew it.
    Cancelled,
}

struct Runner {
    info: RunnerInfo,
    hosted: HashSet<String>,
    embedding: Option<EmbeddingOffer>,
    embeds_in_flight: usize,
    sender: mpsc::UnboundedSender<ToRunner>,
}

type EmbedReply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

struct PendingEmbed {
    runner_id: String,
    reply: EmbedReply,
}

struct Pending {
    attempt: u32,
    runner_id: String,
    reply: oneshot::Sender<AttemptEnd>,
    events: Option<mpsc::Sender<Event>>,
}

#[derive(Default)]
struct State {
    /// By id; ids sort by attach order.
    runners: BTreeMap<String, Runner>,
    /// By execution id: the attempt in flight.
    pending: HashMap<String, Pending>,
    /// By request id: embedding requests in flight.
    embeds: HashMap<String, PendingEmbed>,
    attached: u64,
    embed_requests: u64,
}

/// The dispatcher; cheap to clone.
#[derive(Clone)]
pub struct Service {
    state: Arc<Mutex<State>>,
    slot_freed: Arc<Notify>,
    shutting_down: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Service {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            slot_freed: Arc::default(),
            shutting_down: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("dispatch::Service").finish_non_exhaustive()
    }
}

enum Choice {
    Sent(String, oneshot::Receiver<AttemptEnd>),
    Full,
    None,
}

impl Service {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a runner; the receiver yields what to send down its stream.
    pub fn attach(
        &self,
        registration: Registration,
    ) -> (String, mpsc::UnboundedReceiver<ToRunner>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut state = self.state();
        state.attached += 1;
        let id = format!("runner-{:06}", state.attached);
        let info = RunnerInfo {
            id: id.clone(),
            name: registration.name,
            version: registration.version,
            tenant: registration.tenant,
            max_concurrency: registration.max_concurrency.max(1),
            in_flight: 0,
            draining: false,
            skills: registration.skills.clone(),
            embedding: registration.embedding.clone(),
            connected_at: SystemTime::now(),
        };
        let hosted = registration.skills.into_iter().collect();
        state.runners.insert(
            id.clone(),
            Runner {
                info,
                hosted,
                embedding: registration.embedding,
                embeds_in_flight: 0,
                sender,
            },
        );
        drop(state);
        // A waiting invocation may be able to use the new runner.
        self.slot_freed.notify_waiters();
        (id, receiver)
    }

    /// Removes a runner (its stream ended or went silent); its attempts in flight end as lost.
    pub fn detach(&self, runner_id: &str) {
        let mut state = self.state();
        if state.runners.remove(runner_id).is_none() {
            return;
        }
        let lost: Vec<String> = state
            .pending
            .iter()
            .filter(|(_, pending)| pending.runner_id == runner_id)
            .map(|(execution_id, _)| execution_id.clone())
            .collect();
        for execution_id in lost {
            if let Some(pending) = state.pending.remove(&execution_id) {
                let _ = pending.reply.send(AttemptEnd::RunnerLost);
            }
        }
        let lost_embeds: Vec<String> = state
            .embeds
            .iter()
            .filter(|(_, pending)| pending.runner_id == runner_id)
            .map(|(request_id, _)| request_id.clone())
            .collect();
        for request_id in lost_embeds {
            if let Some(pending) = state.embeds.remove(&request_id) {
                let _ = pending.reply.send(Err(EmbedError::RunnerLost));
            }
        }
        drop(state);
        self.slot_freed.notify_waiters();
    }

    /// The runner asked for no new invocations.
    pub fn drain(&self, runner_id: &str) {
        if let Some(runner) = self.state().runners.get_mut(runner_id) {
            runner.info.draining = true;
        }
    }

    /// The server is shutting down: no runner gets new invocations, and sessions end once their
    /// attempts in flight are done.
    pub fn shut_down(&self) {
        for runner in self.state().runners.values_mut() {
            runner.info.draining = true;
        }
        self.shutting_down.send_replace(true);
    }

    /// Changes to true when the server starts shutting down.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutting_down.subscribe()
    }

    /// Attempts in flight on one runner.
    pub fn in_flight(&self, runner_id: &str) -> usize {
        self.state()
            .runners
            .get(runner_id)
            .map_or(0, |runner| runner.info.in_flight)
    }

    /// Whether some runner of `tenant` hosts `skill_id` (draining or not).
    pub fn hosts(&self, tenant: &TenantId, skill_id: &str) -> bool {
        self.state()
            .runners
            .values()
            .any(|runner| &runner.info.tenant == tenant && runner.hosted.contains(skill_id))
    }

    /// `tenant/skill` of every skill some runner that is not draining hosts, for claiming
    /// jobs this replica can run.
    pub fn hosted_skills(&self) -> Vec<String> {
        let mut hosted = std::collections::BTreeSet::new();
        for runner in self.state().runners.values() {
            if runner.info.draining {
                continue;
            }
            for skill_id in &runner.hosted {
                hosted.insert(format!("{}/{skill_id}", runner.info.tenant));
            }
        }
        hosted.into_iter().collect()
    }

    /// The embedding models offered by runners that are not draining (of `tenant` when given),
    /// in attach order, without duplicates.
    pub fn embedding_models(&self, tenant: Option<&TenantId>) -> Vec<EmbeddingOffer> {
        let mut offers: Vec<EmbeddingOffer> = Vec::new();
        for runner in self.state().runners.values() {
            if runner.info.draining || tenant.is_some_and(|t| &runner.info.tenant != t) {
                continue;
            }
            if let Some(offer) = &runner.embedding
                && !offers.iter().any(|o| o.model == offer.model)
            {
                offers.push(offer.clone());
            }
        }
        offers
    }

    /// Embeds `texts` with `model` on the least busy runner offering it (of `tenant` when
    /// given: a query is the tenant's data and goes only to the tenant's runners). Gives up at
    /// `deadline`.
    pub async fn embed(
        &self,
        tenant: Option<&TenantId>,
        model: &str,
        texts: Vec<String>,
        kind: EmbedKind,
        deadline: SystemTime,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let count = texts.len();
        let (request_id, receiver) = {
            let mut state = self.state();
            let chosen = state
                .runners
                .iter()
                .filter(|(_, r)| !r.info.draining)
                .filter(|(_, r)| tenant.is_none_or(|t| &r.info.tenant == t))
                .filter(|(_, r)| r.embedding.as_ref().is_some_and(|e| e.model == model))
                .min_by_key(|(_, r)| r.embeds_in_flight)
                .map(|(id, _)| id.clone());
            let Some(runner_id) = chosen else {
                return Err(EmbedError::NoProvider);
            };
            state.embed_requests += 1;
            let request_id = format!("embed-{}", state.embed_requests);
            let (reply, receiver) = oneshot::channel();
            let runner = state.runners.get_mut(&runner_id).expect("chosen above");
            runner.embeds_in_flight += 1;
            let sent = runner.sender.send(ToRunner::Embed {
                request_id: request_id.clone(),
                texts,
                kind,
                deadline,
            });
            if sent.is_err() {
                runner.embeds_in_flight -= 1;
                return Err(EmbedError::RunnerLost);
            }
            state
                .embeds
                .insert(request_id.clone(), PendingEmbed { runner_id, reply });
            (request_id, receiver)
        };
        let wait = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let outcome = match tokio::time::timeout(wait, receiver).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(EmbedError::RunnerLost),
            Err(_) => Err(EmbedError::Timeout),
        };
        self.finish_embed(&request_id);
        let vectors = outcome?;
        if vectors.len() != count {
            return Err(EmbedError::Failed(format!(
                "{} vectors for {count} texts",
                vectors.len()
            )));
        }
        Ok(vectors)
    }

    /// Delivers a runner's answer to an embedding request; unknown ids (late answers) are
    /// dropped.
    pub fn embed_result(
        &self,
        runner_id: &str,
        request_id: &str,
        result: Result<Vec<Vec<f32>>, String>,
    ) {
        let mut state = self.state();
        let matches = state
            .embeds
            .get(request_id)
            .is_some_and(|pending| pending.runner_id == runner_id);
        if !matches {
            return;
        }
        let pending = state.embeds.remove(request_id).expect("checked above");
        if let Some(runner) = state.runners.get_mut(runner_id) {
            runner.embeds_in_flight = runner.embeds_in_flight.saturating_sub(1);
        }
        let _ = pending.reply.send(result.map_err(EmbedError::Failed));
    }

    fn finish_embed(&self, request_id: &str) {
        let mut state = self.state();
        if let Some(pending) = state.embeds.remove(request_id)
            && let Some(runner) = state.runners.get_mut(&pending.runner_id)
        {
            runner.embeds_in_flight = runner.embeds_in_flight.saturating_sub(1);
        }
    }

    /// The runners attached now, in attach order.
    pub fn runners(&self) -> Vec<RunnerInfo> {
        self.state()
            .runners
            .values()
            .map(|runner| runner.info.clone())
            .collect()
    }

    /// Delivers a runner's report of one attempt.
    pub fn complete(
        &self,
        runner_id: &str,
        execution_id: &str,
        attempt: u32,
        finished: Finished,
    ) -> Result<(), Rejection> {
        self.end_attempt(
            runner_id,
            execution_id,
            attempt,
            AttemptEnd::Finished(finished),
        )
    }

    /// Passes on progress or a log line of the attempt in flight; others are refused.
    pub fn report(
        &self,
        runner_id: &str,
        execution_id: &str,
        attempt: u32,
        event: Event,
    ) -> Result<(), Rejection> {
        let state = self.state();
        let current = state
            .pending
            .get(execution_id)
            .ok_or(Rejection::NotInFlight)?;
        if current.attempt != attempt || current.runner_id != runner_id {
            return Err(if attempt < current.attempt {
                Rejection::Superseded
            } else {
                Rejection::NotInFlight
            });
        }
        if let Some(events) = &current.events {
            let _ = events.try_send(event);
        }
        Ok(())
    }

    /// Fails one attempt whose result was larger than the server accepts; the stream stays up.
    pub fn reject_too_large(
        &self,
        runner_id: &str,
        execution_id: &str,
        attempt: u32,
        bytes: Option<usize>,
        limit: usize,
    ) -> Result<(), Rejection> {
        self.end_attempt(
            runner_id,
            execution_id,
            attempt,
            AttemptEnd::TooLarge { bytes, limit },
        )
    }

    fn end_attempt(
        &self,
        runner_id: &str,
        execution_id: &str,
        attempt: u32,
        end: AttemptEnd,
    ) -> Result<(), Rejection> {
        let mut state = self.state();
        let current = state
            .pending
            .get(execution_id)
            .ok_or(Rejection::NotInFlight)?;
        if current.attempt != attempt {
            return Err(if attempt < current.attempt {
                Rejection::Superseded
            } else {
                Rejection::NotInFlight
            });
        }
        if current.runner_id != runner_id {
            return Err(Rejection::NotInFlight);
        }
        let pending = state
            .pending
            .remove(execution_id)
            .ok_or(Rejection::NotInFlight)?;
        release_slot(&mut state, runner_id);
        drop(state);
        self.slot_freed.notify_waiters();
        let _ = pending.reply.send(end);
        Ok(())
    }

    /// Runs an invocation to its end: a result, a skill error, or a dispatch error.
    /// Dropping the future cancels the attempt in flight on its runner.
    pub async fn dispatch(&self, invocation: Invocation) -> Result<Dispatched, Error> {
        let invocation = Arc::new(invocation);
        let max_attempts = invocation.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (runner_id, reply) = self.assign(&invocation, attempt).await?;
            let guard = InFlight {
                dispatcher: self,
                execution_id: &invocation.execution_id,
                attempt,
                armed: true,
            };
            let ended = tokio::time::timeout_at(invocation.deadline, reply).await;
            let mut guard = guard;
            match ended {
                Err(_elapsed) => {
                    guard.cancel(CancelReason::DeadlineExceeded);
                    return Err(Error::DeadlineExceeded);
                }
                Ok(Ok(AttemptEnd::Finished(finished))) => {
                    guard.armed = false;
                    return Ok(Dispatched {
                        finished,
                        runner_id,
                        attempts: attempt,
                    });
                }
                Ok(Ok(AttemptEnd::TooLarge { bytes, limit })) => {
                    guard.armed = false;
                    return Err(Error::ResultTooLarge { bytes, limit });
                }
                Ok(Ok(AttemptEnd::Cancelled)) => {
                    guard.armed = false;
                    return Err(Error::Cancelled);
                }
                Ok(Ok(AttemptEnd::RunnerLost)) | Ok(Err(_)) => {
                    guard.armed = false;
                    let retry = invocation.retryable
                        && attempt < max_attempts
                        && Instant::now() < invocation.deadline;
                    if !retry {
                        return Err(Error::RunnerLost { attempts: attempt });
                    }
                    tracing::info!(execution_id = %invocation.execution_id, attempt, "runner lost; retrying on another runner");
                }
            }
        }
    }

    /// Sends the attempt to the best runner, waiting for a free slot until the deadline.
    async fn assign(
        &self,
        invocation: &Arc<Invocation>,
        attempt: u32,
    ) -> Result<(String, oneshot::Receiver<AttemptEnd>), Error> {
        loop {
            let freed = self.slot_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            match self.try_assign(invocation, attempt) {
                Choice::Sent(runner_id, reply) => return Ok((runner_id, reply)),
                Choice::None => return Err(Error::NoRunner(invocation.skill_id.clone())),
                Choice::Full => {
                    if tokio::time::timeout_at(invocation.deadline, freed)
                        .await
                        .is_err()
                    {
                        return Err(Error::DeadlineExceeded);
                    }
                }
            }
        }
    }

    fn try_assign(&self, invocation: &Arc<Invocation>, attempt: u32) -> Choice {
        let mut state = self.state();
        loop {
            let candidates: Vec<&Runner> = state
                .runners
                .values()
                .filter(|runner| {
                    runner.info.tenant == invocation.tenant
                        && !runner.info.draining
                        && runner.hosted.contains(&invocation.skill_id)
                })
                .collect();
            if candidates.is_empty() {
                return Choice::None;
            }
            let Some(best) = candidates
                .iter()
                .filter(|runner| runner.info.in_flight < runner.info.max_concurrency)
                .min_by_key(|runner| runner.info.in_flight)
            else {
                return Choice::Full;
            };
            let runner_id = best.info.id.clone();
            let deadline = SystemTime::now()
                + invocation
                    .deadline
                    .saturating_duration_since(Instant::now());
            let message = ToRunner::Invoke {
                attempt,
                invocation: invocation.clone(),
                deadline,
            };
            if best.sender.send(message).is_err() {
                // Its stream is gone and its detach has not run yet: forget it and choose again.
                state.runners.remove(&runner_id);
                continue;
            }
            let (reply, receiver) = oneshot::channel();
            state.pending.insert(
                invocation.execution_id.clone(),
                Pending {
                    attempt,
                    runner_id: runner_id.clone(),
                    reply,
                    events: invocation.events.clone(),
                },
            );
            if let Some(events) = &invocation.events {
                let _ = events.try_send(Event::AttemptStarted {
                    attempt,
                    runner_id: runner_id.clone(),
                });
            }
            if let Some(runner) = state.runners.get_mut(&runner_id) {
                runner.info.in_flight += 1;
            }
            return Choice::Sent(runner_id, receiver);
        }
    }

    /// Cancels the attempt of `execution_id` in flight on a runner of `tenant` here: the runner
    /// is told to stop and the dispatch ends with [`Error::Cancelled`]. False when this replica
    /// has no such attempt in flight.
    pub fn cancel(&self, tenant: &TenantId, execution_id: &str) -> bool {
        let mut state = self.state();
        let owned = state.pending.get(execution_id).is_some_and(|pending| {
            state
                .runners
                .get(&pending.runner_id)
                .is_some_and(|runner| &runner.info.tenant == tenant)
        });
        if !owned {
            return false;
        }
        let Some(pending) = state.pending.remove(execution_id) else {
            return false;
        };
        release_slot(&mut state, &pending.runner_id);
        if let Some(runner) = state.runners.get(&pending.runner_id) {
            let _ = runner.sender.send(ToRunner::Cancel {
                execution_id: execution_id.to_owned(),
                attempt: pending.attempt,
                reason: CancelReason::Requested,
            });
        }
        drop(state);
        self.slot_freed.notify_waiters();
        let _ = pending.reply.send(AttemptEnd::Cancelled);
        true
    }

    /// Withdraws an attempt still in flight and tells its runner to stop it.
    fn withdraw(&self, execution_id: &str, attempt: u32, reason: CancelReason) {
        let mut state = self.state();
        let in_flight = state
            .pending
            .get(execution_id)
            .is_some_and(|pending| pending.attempt == attempt);
        if !in_flight {
            return;
        }
        let Some(pending) = state.pending.remove(execution_id) else {
            return;
        };
        release_slot(&mut state, &pending.runner_id);
        if let Some(runner) = state.runners.get(&pending.runner_id) {
            let cancel = ToRunner::Cancel {
                execution_id: execution_id.to_owned(),
                attempt,
                reason,
            };
            let _ = runner.sender.send(cancel);
        }
        drop(state);
        self.slot_freed.notify_waiters();
    }
}

fn release_slot(state: &mut State, runner_id: &str) {
    if let Some(runner) = state.runners.get_mut(runner_id) {
        runner.info.in_flight = runner.info.in_flight.saturating_sub(1);
    }
}

/// Cancels the attempt on its runner when the dispatch stops waiting for it early.
struct InFlight<'a> {
    dispatcher: &'a Service,
    execution_id: &'a str,
    attempt: u32,
    armed: bool,
}

impl InFlight<'_> {
    fn cancel(&mut self, reason: CancelReason) {
        self.armed = false;
        self.dispatcher
            .withdraw(self.execution_id, self.attempt, reason);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.dispatcher
                .withdraw(self.execution_id, self.attempt, CancelReason::Requested);
        }
    }
}
