//! A stored flow run, driven step by step (ADR 9).
//!
//! Each step's row is written before the step starts and again when it ends, fenced by the
//! run's lease. A skill step runs through the whole Run pipeline as the run's principal, with
//! an idempotency key made of the run, its retries, the step's path and the attempt. A driver
//! that resumes a run reads the rows and goes on from the first step without a final one: a
//! finished step is read from its row, a step whose run ended before its row was written is
//! answered from its key (it does not run again), and a step whose run was cut off by a crash
//! is dispatched again, with the same step key, as the next attempt.

mod sub_flow;

pub(crate) use sub_flow::cancel_children;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};
use skillos_core::SkillId;
use skillos_core::flow::expr::Scope;
use skillos_core::flow::{FlowDefinition, Gate, Loop, Step, StepKind, Wait};
use skillos_store::{
    ErrorClass, ErrorOrigin, Execution, ExecutionError, ExecutionStatus, ExecutionUpdate, FlowRun,
    FlowRunEnd, FlowRunStatus, FlowStep, FlowStepStatus,
};

use super::cost::Ledger;
use super::drive::server_error;
use crate::auth::Principal;
use crate::error::reason;
use crate::orchestrator::{self, Service};
use crate::run::{self, Entry, IdempotencyKey, Outcome, Sink};

/// The key space of flow steps' idempotency keys.
const METHOD: &str = "FlowStep";
/// The longest delay between two attempts of a step.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often a run that waits for something that wakes it (a decision, a signal, a step's
/// run ending) is looked at anyway, should a wake be lost.
const WAKE_CHECK: Duration = Duration::from_secs(60);
/// Signals a run keeps that no step took.
pub(crate) const MAX_KEPT_SIGNALS: u32 = 1000;

/// Why a driver stopped before the end of a sequence.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A step failed for good: the run fails with this error.
    Failed(ExecutionError),
    /// A step waits (for an approval, a signal, a runner): the run waits, and is looked at
    /// again at this time, or sooner when what it waits for wakes it.
    Waiting(DateTime<Utc>),
    /// The run is no longer this driver's (cancelled, or another driver took it over): stop
    /// and write nothing more.
    Lost,
    /// The store failed: stop; the lease expires and the run is resumed.
    Store(skillos_store::Error),
}

impl From<skillos_store::Error> for Stop {
    fn from(error: skillos_store::Error) -> Self {
        Self::Store(error)
    }
}

type Flowed<T> = Result<T, Stop>;
type Boxed<'a, T> = Pin<Box<dyn Future<Output = Flowed<T>> + Send + 'a>>;

/// What a step left for the steps after it: its output and how it ended.
struct Ended {
    output: Json,
    status: FlowStepStatus,
    scope: Scope,
}

/// How one attempt of a skill step went.
enum Attempted {
    Succeeded(Execution),
    /// Held for approval (or, once approved, still running).
    Held(Option<Execution>),
    /// The skill failed or the pipeline refused the run; `retry` when another attempt may
    /// do better.
    Failed {
        error: ExecutionError,
        execution_id: Option<String>,
        retry: bool,
    },
    /// The attempt's run was cut off by a crash: it is ended, and the step runs again.
    Interrupted,
    /// The pipeline refused the run for now (no runner, a rate limit, an open circuit): the
    /// run waits and tries the same attempt again; it does not use one up.
    Later(ExecutionError),
}

/// Refusals that pass with time; nothing of the attempt was stored.
const LATER: [crate::error::Reason; 3] = [
    reason::NO_RUNNER,
    reason::RATE_LIMITED,
    reason::CIRCUIT_OPEN,
];

/// Drives one run under its lease.
pub(crate) struct Driver {
    pub service: Service,
    pub run: FlowRun,
    pub token: String,
    pub principal: Principal,
    pub definition: FlowDefinition,
    pub traceparent: Option<String>,
    /// How soon a run that waits for what passes with time (a runner, a rate limit) is
    /// looked at again.
    pub poll: Duration,
    /// The run's rows by path, as stored; kept up to date by [`Driver::put`].
    rows: Mutex<HashMap<String, FlowStep>>,
    /// What the run's skill steps cost, against the flow's `max_cost`.
    ledger: Ledger,
}

impl Driver {
    pub fn new(
        service: Service,
        run: FlowRun,
        token: String,
        principal: Principal,
        definition: FlowDefinition,
        rows: Vec<FlowStep>,
        poll: Duration,
    ) -> Self {
        let traceparent = crate::auth::RunContext::from_json(&run.run_context).traceparent;
        let ledger = Ledger::new(definition.max_cost);
        Self {
            ledger,
            service,
            run,
            token,
            principal,
            definition,
            traceparent,
            poll,
            rows: Mutex::new(
                rows.into_iter()
                    .map(|row| (row.path.clone(), row))
                    .collect(),
            ),
        }
    }

    /// Drives the run to its end, or until it waits; returns how it was left, `None` when the
    /// run is not this driver's any more (or the store failed: the lease then expires).
    pub async fn drive(&self) -> Option<FlowRunEnd> {
        let rows: Vec<FlowStep> = self
            .rows
            .lock()
            .expect("rows lock")
            .values()
            .cloned()
            .collect();
        let skills = &self.service.skills;
        if let Err(error) = self
            .ledger
            .load(self.service.store.as_ref(), &self.principal, &rows, |id| {
                SkillId::parse(id)
                    .ok()
                    .and_then(|id| skills.skill(&id).ok())
            })
            .await
        {
            tracing::warn!(%error, run_id = %self.run.id, "cannot count a flow run's costs; it resumes once its lease expires");
            return None;
        }
        let scope = Scope {
            input: self.run.input.clone(),
            steps: Map::new(),
            iteration: None,
            principal: json!({
                "subject": self.principal.subject,
                "tenant": self.principal.tenant.as_str(),
                "roles": self.principal.roles,
            }),
        };
        let ended = self
            .sequence(
                &self.definition.steps,
                String::new(),
                self.run.input.clone(),
                scope,
            )
            .await;
        let end = |status, output, error| FlowRunEnd {
            status,
            output,
            error,
            wake_at: None,
        };
        match ended {
            Ok(ended) => match &self.definition.output {
                None => Some(end(FlowRunStatus::Succeeded, Some(ended.output), None)),
                Some(template) => match template.render(&ended.scope) {
                    Ok(output) => Some(end(FlowRunStatus::Succeeded, Some(output), None)),
                    Err(error) => {
                        let error = expression_error(&format!("output: {error}"));
                        Some(end(FlowRunStatus::Failed, None, Some(error)))
                    }
                },
            },
            Err(Stop::Failed(error)) => Some(end(FlowRunStatus::Failed, None, Some(error))),
            Err(Stop::Waiting(at)) => Some(FlowRunEnd {
                wake_at: Some(at),
                ..end(FlowRunStatus::Waiting, None, None)
            }),
            Err(Stop::Lost) => None,
            Err(Stop::Store(error)) => {
                tracing::warn!(%error, run_id = %self.run.id, "a flow run stopped on a store error; it resumes once its lease expires");
                None
            }
        }
    }

    /// Runs steps in order, each one's default input the previous one's output (a skipped
    /// step, an approval and a wait pass their input on); the sequence's output is the last
    /// output.
    fn sequence<'a>(
        &'a self,
        steps: &'a [Step],
        prefix: String,
        input: Json,
        mut scope: Scope,
    ) -> Boxed<'a, Ended> {
        Box::pin(async move {
            let mut previous = input;
            for step in steps {
                let ended = self
                    .step(
                        step,
                        format!("{prefix}{}", step.name),
                        previous.clone(),
                        scope,
                    )
                    .await?;
                scope = ended.scope;
                if ended.status != FlowStepStatus::Skipped && !step.passes_input_on() {
                    previous = ended.output;
                } else if ended.status != FlowStepStatus::Skipped {
                    // A gate passes on the input it was given (which its template may have
                    // made), not what it waited for.
                    previous = self.row_input(&format!("{prefix}{}", step.name), previous);
                }
            }
            Ok(Ended {
                output: previous,
                status: FlowStepStatus::Succeeded,
                scope,
            })
        })
    }

    /// One step, from its row when it ended before.
    fn step<'a>(
        &'a self,
        step: &'a Step,
        path: String,
        input: Json,
        scope: Scope,
    ) -> Boxed<'a, Ended> {
        Box::pin(async move {
            let row = self.row(&path);
            if let Some(row) = &row {
                // A group or loop that ended is entered again (its steps are all read from
                // their rows), so that the names of the steps inside it are in the scope.
                let inner = matches!(step.kind, StepKind::Parallel(_) | StepKind::Loop(_));
                match row.status {
                    FlowStepStatus::Succeeded if inner => {}
                    FlowStepStatus::Succeeded | FlowStepStatus::Skipped => {
                        let output = row.output.clone().unwrap_or(Json::Null);
                        return Ok(ended(step, output, row.status, scope));
                    }
                    FlowStepStatus::Failed | FlowStepStatus::Cancelled => {
                        return Err(Stop::Failed(run_error(row)));
                    }
                    FlowStepStatus::Running
                    | FlowStepStatus::PendingApproval
                    | FlowStepStatus::Waiting => {}
                }
            }
            let mut row = match row {
                Some(row) => row,
                None => {
                    let mut row = self.new_row(step, &path);
                    if let Some(when) = &step.when {
                        match when.eval_bool(&scope) {
                            Ok(true) => {}
                            Ok(false) => {
                                row.status = FlowStepStatus::Skipped;
                                row.finished_at = Some(skillos_store::now());
                                self.put(&row).await?;
                                return Ok(ended(step, Json::Null, row.status, scope));
                            }
                            Err(error) => {
                                let error = expression_error(&format!("when: {error}"));
                                return Err(self.fail(row, error).await);
                            }
                        }
                    }
                    let input = match &step.input {
                        None => Ok(input),
                        Some(template) => template.render(&scope),
                    };
                    match input {
                        Ok(input) => row.input = Some(input),
                        Err(error) => {
                            let error = expression_error(&format!("input: {error}"));
                            return Err(self.fail(row, error).await);
                        }
                    }
                    self.put(&row).await?;
                    row
                }
            };
            let input = row.input.clone().unwrap_or(Json::Null);
            let (output, scope) = match &step.kind {
                StepKind::Skill(skill) => match self.skill(step, skill, &mut row).await {
                    Ok(output) => (output, scope),
                    Err(stop) => return Err(self.stopped(row, stop).await),
                },
                StepKind::Parallel(members) => {
                    let (output, scope) = self.group(members, &path, input, scope).await;
                    match output {
                        Ok(output) => (output, scope),
                        Err(stop) => return Err(self.stopped(row, stop).await),
                    }
                }
                StepKind::Loop(body) => {
                    match self.repeat(body, &path, input, scope, &mut row).await {
                        Ok(ended) => ended,
                        Err(stop) => return Err(self.stopped(row, stop).await),
                    }
                }
                StepKind::Approval(gate) => match self.approval(gate, &mut row).await {
                    Ok(output) => (output, scope),
                    Err(stop) => return Err(self.stopped(row, stop).await),
                },
                StepKind::Wait(wait) => match self.wait(wait, &mut row).await {
                    Ok(output) => (output, scope),
                    Err(stop) => return Err(self.stopped(row, stop).await),
                },
                StepKind::Flow(flow) => match self.sub_flow(flow, &mut row).await {
                    Ok(output) => (output, scope),
                    Err(stop) => return Err(self.stopped(row, stop).await),
                },
            };
            if row.status != FlowStepStatus::Succeeded {
                row.status = FlowStepStatus::Succeeded;
                row.output = Some(output.clone());
                row.error = None;
                row.finished_at = Some(skillos_store::now());
                self.put(&row).await?;
            }
            Ok(ended(step, output, FlowStepStatus::Succeeded, scope))
        })
    }

    /// Runs a skill step's attempts until one succeeds, the step waits, or no attempt is left.
    async fn skill(&self, step: &Step, skill: &SkillId, row: &mut FlowStep) -> Flowed<Json> {
        loop {
            let held = row.status == FlowStepStatus::PendingApproval && row.execution_id.is_some();
            let allowance = match self.service.skills.skill(skill).ok() {
                // A held step keeps the allowance it was held with.
                Some(found) if !held => match self.ledger.hold(&row.path, &found) {
                    Ok(allowance) => allowance,
                    Err(error) => {
                        let named = named(&row.path, &row.skill_id, &error);
                        row.error = Some(error);
                        return Err(Stop::Failed(named));
                    }
                },
                // An unknown skill: its run answers SKILL_NOT_FOUND.
                _ => None,
            };
            let attempted = self.attempt(skill, step.timeout, allowance, row).await;
            if !matches!(attempted, Ok(Attempted::Held(_))) {
                let cost = match &attempted {
                    Ok(Attempted::Succeeded(execution)) => Some(execution.cost),
                    Ok(Attempted::Failed { .. }) => Some(0.0),
                    _ => None,
                };
                match cost {
                    Some(cost) => self.ledger.ended(&row.path, cost),
                    None => self.ledger.release(&row.path),
                }
            }
            match attempted? {
                Attempted::Succeeded(execution) => {
                    row.execution_id = Some(execution.id);
                    row.approval_id = None;
                    return Ok(execution.output.unwrap_or(Json::Null));
                }
                Attempted::Held(execution) => {
                    let before = row.clone();
                    if let Some(execution) = execution {
                        row.execution_id = Some(execution.id);
                        row.approval_id = execution.approval_id;
                    }
                    row.status = FlowStepStatus::PendingApproval;
                    if *row != before {
                        self.put(row).await?;
                    }
                    return Err(Stop::Waiting(from_now(WAKE_CHECK)));
                }
                Attempted::Failed {
                    error,
                    execution_id,
                    retry,
                } => {
                    row.execution_id = execution_id;
                    let attempts = u32::try_from(row.attempt).unwrap_or(u32::MAX);
                    if !retry || attempts >= step.retry.attempts {
                        let named = named(&row.path, &row.skill_id, &error);
                        row.error = Some(error);
                        return Err(Stop::Failed(named));
                    }
                    let delay = step
                        .retry
                        .backoff
                        .saturating_mul(1 << (attempts - 1).min(20))
                        .min(MAX_BACKOFF);
                    row.error = Some(error);
                    self.next_attempt(row).await?;
                    tokio::time::sleep(delay).await;
                }
                Attempted::Interrupted => self.next_attempt(row).await?,
                Attempted::Later(error) => {
                    if row.error.as_ref() != Some(&error) {
                        row.error = Some(error);
                        self.put(row).await?;
                    }
                    return Err(Stop::Waiting(from_now(self.poll)));
                }
            }
        }
    }

    /// An approval step: holds an approval of the step's input (once: its key is the run's,
    /// the step's and the attempt's), then follows it until it is decided. Approved, its
    /// output is the decision; rejected or expired, the step fails.
    async fn approval(&self, gate: &Gate, row: &mut FlowStep) -> Flowed<Json> {
        let Some(id) = row.execution_id.clone() else {
            return self.hold(gate, row).await;
        };
        let execution = match self.service.get_execution(&self.principal, &id).await {
            Ok(execution) => execution,
            Err(orchestrator::Error::Store(error)) => return Err(Stop::Store(error)),
            Err(error) => {
                let error = server_error(
                    reason::EXECUTION_NOT_FOUND.name,
                    &format!("the approval step's execution is gone: {error}"),
                    false,
                );
                row.error = Some(error.clone());
                return Err(Stop::Failed(named(&row.path, "", &error)));
            }
        };
        match execution.status {
            ExecutionStatus::Succeeded => Ok(execution.output.unwrap_or(Json::Null)),
            ExecutionStatus::PendingApproval
            | ExecutionStatus::Pending
            | ExecutionStatus::Running => Err(Stop::Waiting(from_now(WAKE_CHECK))),
            status => {
                let error = execution.error.unwrap_or_else(|| {
                    server_error(
                        "APPROVAL_REJECTED",
                        &format!("the approval ended {}", status.as_str()),
                        false,
                    )
                });
                row.error = Some(error.clone());
                Err(Stop::Failed(named(&row.path, "", &error)))
            }
        }
    }

    /// Stores the approval an approval step waits for, and the step as waiting for it.
    async fn hold(&self, gate: &Gate, row: &mut FlowStep) -> Flowed<Json> {
        let payload = super::next_payload(row.input.clone().unwrap_or(Json::Null));
        let gate_id = super::gate_id(&self.run.flow_id, &row.path);
        let key = IdempotencyKey {
            key: format!(
                "flow:{}:{}:{}:{}",
                self.run.id, self.run.retries, row.path, row.attempt
            ),
            method: METHOD,
            request_sha256: request_sha256(&gate_id, &payload),
        };
        let claim = self.service.claim(&self.principal, &key);
        let requirement = crate::policy::Requirement {
            policy_id: format!("flow:{}", self.run.flow_id),
            reason: gate
                .reason
                .clone()
                .unwrap_or_else(|| format!("step {} of flow {}", row.path, self.run.flow_id)),
            required_approvals: gate.quorum,
            approver_group: (!gate.approvers.is_empty()).then(|| gate.approvers.join(",")),
            expires_in: gate.timeout,
        };
        let held = crate::approvals::HeldGate {
            principal: &self.principal,
            skill_id: gate_id,
            skill_version: self.run.version.clone(),
            payload: &payload,
            step_key: format!("{}:{}", self.run.id, row.path),
            traceparent: self.traceparent.clone(),
        };
        let execution = match self
            .service
            .governance
            .approvals
            .hold_gate(held, requirement, &claim)
            .await
        {
            Ok(Ok(execution)) => execution,
            // Held before a crash cut the driver off: the held execution is the key's.
            Ok(Err(record)) => {
                match self
                    .service
                    .store
                    .get_execution(&self.principal.tenant, &record.execution_id)
                    .await?
                {
                    Some(execution) => execution,
                    None => {
                        row.execution_id = Some(record.execution_id);
                        self.put(row).await?;
                        return Err(Stop::Waiting(from_now(self.poll)));
                    }
                }
            }
            Err(crate::approvals::Error::Store(error)) => return Err(Stop::Store(error)),
            Err(error) => {
                let api = crate::error::Error::from(error);
                let error = server_error(api.reason.name, &api.message, false);
                row.error = Some(error.clone());
                return Err(Stop::Failed(named(&row.path, "", &error)));
            }
        };
        row.execution_id = Some(execution.id);
        row.approval_id = execution.approval_id;
        row.status = FlowStepStatus::PendingApproval;
        self.put(row).await?;
        Err(Stop::Waiting(from_now(WAKE_CHECK)))
    }

    /// A wait step: takes the oldest signal of its name sent to the run (the same one again
    /// after a crash), or waits until one comes or its timeout passes.
    async fn wait(&self, wait: &Wait, row: &mut FlowStep) -> Flowed<Json> {
        let store = &self.service.store;
        if let Some(signal) = store
            .take_flow_signal(&self.run.id, &wait.signal, &row.path, &self.token)
            .await?
        {
            return Ok(json!({
                "signal": signal.name,
                "payload": signal.payload,
                "sender": signal.sender,
                "sent_at": signal.created_at.to_rfc3339(),
            }));
        }
        let mut look_again = from_now(WAKE_CHECK);
        if let Some(timeout) = wait.timeout {
            let deadline = row.started_at
                + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::days(30));
            if deadline <= skillos_store::now() {
                let error = server_error(
                    reason::FLOW_SIGNAL_TIMEOUT.name,
                    &format!(
                        "no signal `{}` came within {} s",
                        wait.signal,
                        timeout.as_secs()
                    ),
                    false,
                );
                row.error = Some(error.clone());
                return Err(Stop::Failed(named(&row.path, "", &error)));
            }
            look_again = look_again.min(deadline);
        }
        if row.status != FlowStepStatus::Waiting {
            row.status = FlowStepStatus::Waiting;
            self.put(row).await?;
        }
        Err(Stop::Waiting(look_again))
    }

    /// The input a step was given (a gate passes it on), or `default` when it has none.
    fn row_input(&self, path: &str, default: Json) -> Json {
        self.row(path).and_then(|row| row.input).unwrap_or(default)
    }

    /// Starts the row's next attempt: stored before it runs, so that a crash resumes it.
    async fn next_attempt(&self, row: &mut FlowStep) -> Flowed<()> {
        row.attempt += 1;
        row.status = FlowStepStatus::Running;
        row.execution_id = None;
        row.approval_id = None;
        row.started_at = skillos_store::now();
        self.put(row).await
    }

    /// One attempt of a skill step: a Run of the skill, keyed by the run, the step and the
    /// attempt, so that a repeat of it (after a crash) answers the run it made.
    async fn attempt(
        &self,
        skill: &SkillId,
        timeout: Option<Duration>,
        allowance: Option<f64>,
        row: &FlowStep,
    ) -> Flowed<Attempted> {
        // A held step is looked at through its execution (its key may have expired while
        // the approval waited).
        if row.status == FlowStepStatus::PendingApproval
            && let Some(id) = &row.execution_id
        {
            return Ok(
                match self.service.get_execution(&self.principal, id).await {
                    Ok(execution) => match execution.status {
                        ExecutionStatus::PendingApproval
                        | ExecutionStatus::Pending
                        | ExecutionStatus::Running => Attempted::Held(Some(execution)),
                        _ => executed(execution),
                    },
                    Err(orchestrator::Error::Store(error)) => return Err(Stop::Store(error)),
                    Err(error) => Attempted::Failed {
                        error: server_error(
                            reason::EXECUTION_NOT_FOUND.name,
                            &format!("the held step's execution is gone: {error}"),
                            false,
                        ),
                        execution_id: Some(id.clone()),
                        retry: false,
                    },
                },
            );
        }
        let input = row.input.clone().unwrap_or(Json::Null);
        let key = IdempotencyKey {
            key: format!(
                "flow:{}:{}:{}:{}",
                self.run.id, self.run.retries, row.path, row.attempt
            ),
            method: METHOD,
            request_sha256: request_sha256(&skill.to_string(), &input),
        };
        let request = run::Request {
            timeout,
            traceparent: self.traceparent.clone(),
            idempotency: Some(key.clone()),
            entry: Entry::Step,
            step_key: Some(format!("{}:{}", self.run.id, row.path)),
            allowance,
            ..run::Request::skill(skill.to_string(), super::next_payload(input))
        };
        let answer = self
            .service
            .run(&self.principal, request, Sink::none())
            .await;
        Ok(match answer {
            Ok(answer) => match answer.outcome {
                Outcome::Executed(execution) => executed(execution),
                Outcome::PendingApproval(execution) => Attempted::Held(Some(execution)),
                Outcome::NotRouted | Outcome::DryRun(_) | Outcome::Pipeline(_) => {
                    Attempted::Failed {
                        error: server_error(reason::INTERNAL.name, "the step was not run", false),
                        execution_id: None,
                        retry: false,
                    }
                }
            },
            // The key's run has not ended: held and then approved (it runs now), or cut off
            // by the crash of the server that drove this run.
            Err(orchestrator::Error::IdempotencyKeyInUse) => self.interrupted(&key).await?,
            Err(error) => {
                let retry = error.is_retryable();
                let api = crate::error::Error::from(error);
                if LATER.contains(&api.reason) && api.metadata("execution_id").is_none() {
                    return Ok(Attempted::Later(server_error(
                        api.reason.name,
                        &api.message,
                        true,
                    )));
                }
                Attempted::Failed {
                    execution_id: api.metadata("execution_id").map(str::to_owned),
                    error: server_error(api.reason.name, &api.message, retry),
                    retry,
                }
            }
        })
    }

    /// The run of a key that has not ended: one held for approval (a crash came before its
    /// row said so) is waited for; one whose driver died while it ran is ended, and the step
    /// runs again (the runner that had it may still finish, but nobody waits for its answer).
    async fn interrupted(&self, key: &IdempotencyKey) -> Flowed<Attempted> {
        let claim = self.service.claim(&self.principal, key);
        let store = &self.service.store;
        let Some(record) = store
            .idempotency_record(&claim, skillos_store::now())
            .await?
        else {
            return Ok(Attempted::Interrupted);
        };
        let execution = store
            .get_execution(&self.principal.tenant, &record.execution_id)
            .await?;
        match execution {
            Some(execution)
                if matches!(
                    execution.status,
                    ExecutionStatus::PendingApproval | ExecutionStatus::Pending
                ) =>
            {
                return Ok(Attempted::Held(Some(execution)));
            }
            Some(execution) if execution.status != ExecutionStatus::Running => {
                return Ok(executed(execution));
            }
            _ => {}
        }
        let now = skillos_store::now();
        let update = ExecutionUpdate {
            status: Some(ExecutionStatus::Failed),
            error: Some(server_error(
                reason::EXECUTION_INTERRUPTED.name,
                "the server driving the flow stopped while the step ran; the step ran again",
                true,
            )),
            finished_at: Some(now),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        store
            .update_execution(&self.principal.tenant, &record.execution_id, &update)
            .await?;
        tracing::info!(run_id = %self.run.id, execution_id = %record.execution_id, "a flow step cut off by a crash runs again");
        Ok(Attempted::Interrupted)
    }

    /// Runs every member at once, each with the same input. The first that fails cancels the
    /// others; one that waits lets the others finish. The output is keyed by member name.
    async fn group(
        &self,
        members: &[Step],
        path: &str,
        input: Json,
        mut scope: Scope,
    ) -> (Flowed<Json>, Scope) {
        let mut running: FuturesUnordered<_> = members
            .iter()
            .map(|member| {
                let ran = self.step(
                    member,
                    format!("{path}.{}", member.name),
                    input.clone(),
                    scope.clone(),
                );
                async move { (member.name.as_str(), ran.await) }
            })
            .collect();
        let mut outputs: HashMap<&str, Json> = HashMap::new();
        let mut stop = None;
        while let Some((name, ended)) = running.next().await {
            match ended {
                Ok(mut ended) => {
                    // A member adds its own steps to the scope, nothing else: its copy of
                    // its siblings' entries may be older (a loop's previous iteration).
                    let member = members.iter().find(|m| m.name == name).expect("a member");
                    for own in step_names(member) {
                        if let Some(entry) = ended.scope.steps.remove(own) {
                            scope.steps.insert(own.to_owned(), entry);
                        }
                    }
                    outputs.insert(name, ended.output);
                }
                // The members that wait let the others go on; the group waits until the
                // soonest of their look-again times.
                Err(Stop::Waiting(at)) => {
                    stop = match stop {
                        Some(Stop::Waiting(before)) => Some(Stop::Waiting(before.min(at))),
                        _ => Some(Stop::Waiting(at)),
                    };
                }
                Err(other) => {
                    stop = Some(other);
                    break;
                }
            }
        }
        // Dropping the members that still run cancels their runs.
        drop(running);
        match stop {
            Some(Stop::Failed(error)) => {
                if let Err(stop) = self.cancel_unfinished(&format!("{path}.")).await {
                    return (Err(stop), scope);
                }
                (Err(Stop::Failed(error)), scope)
            }
            Some(stop) => (Err(stop), scope),
            None => {
                let output = members
                    .iter()
                    .map(|member| {
                        let output = outputs.remove(member.name.as_str()).unwrap_or(Json::Null);
                        (member.name.clone(), output)
                    })
                    .collect::<Map<_, _>>();
                (Ok(Json::Object(output)), scope)
            }
        }
    }

    /// Marks the rows under `prefix` that did not end as cancelled (a member of a group that
    /// another member's failure stopped).
    async fn cancel_unfinished(&self, prefix: &str) -> Flowed<()> {
        let unfinished: Vec<FlowStep> = self
            .rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .filter(|row| row.path.starts_with(prefix) && !row.status.is_final())
            .cloned()
            .collect();
        for mut row in unfinished {
            if row.status == FlowStepStatus::PendingApproval {
                withdraw(&self.service, &self.principal, &row).await;
            }
            row.status = FlowStepStatus::Cancelled;
            row.error = Some(server_error(
                reason::EXECUTION_CANCELLED.name,
                "cancelled: another member of its group failed first",
                false,
            ));
            row.finished_at = Some(skillos_store::now());
            self.put(&row).await?;
        }
        let error = server_error(
            reason::EXECUTION_CANCELLED.name,
            "cancelled: another member of its parent's group failed first",
            false,
        );
        let tenant = &self.principal.tenant;
        cancel_children(&self.service, tenant, &self.run.id, Some(prefix), &error).await?;
        Ok(())
    }

    /// Runs a loop's body until `until` is true after an iteration or `max_iterations` ran;
    /// the row counts the iterations that ended. Iterations that ended before a crash are read
    /// from their rows.
    async fn repeat(
        &self,
        body: &Loop,
        path: &str,
        input: Json,
        mut scope: Scope,
        row: &mut FlowStep,
    ) -> Flowed<(Json, Scope)> {
        let outer = scope.iteration;
        let mut input = input;
        for iteration in 0..body.max_iterations {
            scope.iteration = Some(iteration);
            let ended = self
                .sequence(&body.steps, format!("{path}[{iteration}]."), input, scope)
                .await?;
            scope = ended.scope;
            input = ended.output;
            let done = i32::try_from(iteration + 1).unwrap_or(i32::MAX);
            if row.attempt < done {
                row.attempt = done;
                self.put(row).await?;
            }
            if let Some(until) = &body.until {
                match until.eval_bool(&scope) {
                    Ok(true) => {
                        scope.iteration = outer;
                        return Ok((input, scope));
                    }
                    Ok(false) => {}
                    Err(error) => {
                        let error = expression_error(&format!("until: {error}"));
                        return Err(Stop::Failed(named(path, "", &error)));
                    }
                }
            }
        }
        scope.iteration = outer;
        match &body.until {
            None => Ok((input, scope)),
            Some(until) => {
                let error = server_error(
                    reason::FLOW_LOOP_EXHAUSTED.name,
                    &format!(
                        "the loop ran its {} iterations and `{}` was never true",
                        body.max_iterations,
                        until.source()
                    ),
                    false,
                );
                Err(Stop::Failed(named(path, "", &error)))
            }
        }
    }

    /// Records how a step stopped: failed, with the error of the step that failed (named by
    /// its path); one that waits stays as it is.
    async fn stopped(&self, mut row: FlowStep, stop: Stop) -> Stop {
        let Stop::Failed(error) = stop else {
            return stop;
        };
        row.status = FlowStepStatus::Failed;
        row.error = Some(row.error.take().unwrap_or_else(|| error.clone()));
        row.finished_at = Some(skillos_store::now());
        match self.put(&row).await {
            Ok(()) => Stop::Failed(error),
            Err(stop) => stop,
        }
    }

    /// Stores a step's own failure (not one of a step inside it); the run fails with it.
    async fn fail(&self, mut row: FlowStep, error: ExecutionError) -> Stop {
        let named = named(&row.path, &row.skill_id, &error);
        row.error = Some(error);
        self.stopped(row, Stop::Failed(named)).await
    }

    fn new_row(&self, step: &Step, path: &str) -> FlowStep {
        let kind = step.kind_name();
        let skill_id = match &step.kind {
            StepKind::Skill(skill) | StepKind::Flow(skill) => skill.to_string(),
            _ => String::new(),
        };
        FlowStep {
            run_id: self.run.id.clone(),
            path: path.to_owned(),
            name: step.name.clone(),
            kind: kind.to_owned(),
            skill_id,
            status: FlowStepStatus::Running,
            attempt: i32::from(kind != "loop"),
            input: None,
            output: None,
            error: None,
            execution_id: None,
            approval_id: None,
            started_at: skillos_store::now(),
            finished_at: None,
        }
    }

    fn row(&self, path: &str) -> Option<FlowStep> {
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(path)
            .cloned()
    }

    /// Stores a row under the run's lease; a lost lease stops the driver.
    async fn put(&self, row: &FlowStep) -> Flowed<()> {
        if !self.service.store.put_flow_step(row, &self.token).await? {
            return Err(Stop::Lost);
        }
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(row.path.clone(), row.clone());
        Ok(())
    }
}

/// Withdraws the approvals the steps of a run that stopped wait for: nobody may approve a step
/// that will not run. `principal` is the run's.
pub(crate) async fn withdraw_held(
    service: &Service,
    principal: &Principal,
    run_id: &str,
) -> Result<(), skillos_store::Error> {
    for row in service.store.flow_steps(run_id).await? {
        if row.status == FlowStepStatus::PendingApproval {
            withdraw(service, principal, &row).await;
        }
    }
    Ok(())
}

/// Cancels the execution of a step held for approval (which withdraws its approval).
async fn withdraw(service: &Service, principal: &Principal, row: &FlowStep) {
    let Some(id) = &row.execution_id else {
        return;
    };
    let why = "the flow step it was held for will not run";
    if let Err(error) = service.cancel_execution(principal, id, why).await {
        tracing::debug!(%error, execution_id = %id, "a held flow step's execution was not cancelled");
    }
}

/// The names a step puts in the scope: its own and those of the steps inside it.
fn step_names(step: &Step) -> Vec<&str> {
    let mut names = vec![step.name.as_str()];
    match &step.kind {
        StepKind::Skill(_) | StepKind::Approval(_) | StepKind::Wait(_) | StepKind::Flow(_) => {}
        StepKind::Parallel(members) => names.extend(members.iter().flat_map(step_names)),
        StepKind::Loop(body) => names.extend(body.steps.iter().flat_map(step_names)),
    }
    names
}

/// A step that ended, as the steps after it see it: `steps.<name>.output` and `.status`.
fn ended(step: &Step, output: Json, status: FlowStepStatus, mut scope: Scope) -> Ended {
    scope.steps.insert(
        step.name.clone(),
        json!({"output": output, "status": status.as_str()}),
    );
    Ended {
        output,
        status,
        scope,
    }
}

/// How an executed attempt ended.
fn executed(execution: Execution) -> Attempted {
    match execution.status {
        ExecutionStatus::Succeeded => Attempted::Succeeded(execution),
        ExecutionStatus::PendingApproval => Attempted::Held(Some(execution)),
        status => {
            let error = execution.error.clone().unwrap_or_else(|| {
                server_error(
                    reason::INTERNAL.name,
                    &format!("the step's execution ended {status:?} without an error"),
                    false,
                )
            });
            // A skill's own error may go better next time; a cancelled or rejected run not.
            let retry = status == ExecutionStatus::Failed
                && (error.origin == ErrorOrigin::Skill || error.class == ErrorClass::Retryable);
            Attempted::Failed {
                error,
                execution_id: Some(execution.id),
                retry,
            }
        }
    }
}

/// The run's error for a stored step that did not end well (a skill step's row keeps the
/// skill's own error; a group's or loop's the named error of the step inside that failed).
fn run_error(row: &FlowStep) -> ExecutionError {
    let error = row
        .error
        .clone()
        .unwrap_or_else(|| server_error(reason::INTERNAL.name, "the step did not end well", false));
    if row.kind == "skill" {
        named(&row.path, &row.skill_id, &error)
    } else {
        error
    }
}

/// A step's error as the run's: the step's code, the message naming the step.
fn named(path: &str, skill_id: &str, error: &ExecutionError) -> ExecutionError {
    let skill = if skill_id.is_empty() {
        String::new()
    } else {
        format!(" ({skill_id})")
    };
    ExecutionError {
        message: format!("step {path}{skill}: {}", error.message),
        ..error.clone()
    }
}

/// What a key was first used with: the skill (or flow) and its input.
pub(crate) fn request_sha256(id: &str, input: &Json) -> String {
    let mut hash = Sha256::new();
    hash.update(id.as_bytes());
    hash.update([0]);
    hash.update(input.to_string().as_bytes());
    format!("{:x}", hash.finalize())
}

fn expression_error(message: &str) -> ExecutionError {
    server_error(reason::FLOW_EXPRESSION_FAILED.name, message, false)
}

/// `after` from now.
fn from_now(after: Duration) -> DateTime<Utc> {
    skillos_store::now()
        + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(60))
}
