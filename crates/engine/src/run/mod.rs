//! The Run pipeline: every run, whatever door it came in by (Run and RunStream by skill id or
//! query, a job attempt, which is also how schedule fires and webhook deliveries run, and an
//! approved run resuming), passes one sequence of stages, each in the file named for it:
//!
//! ```text
//! admit (caller rate limits)   admit.rs        only for calls; a job was admitted when enqueued
//! idempotency (replay)         idempotency.rs  a repeated key answers the stored response
//! resolve (routing)            resolve.rs      a query routing is not sure of ends NOT_ROUTED
//! policy                       policy.rs
//! payload (input schema)       payload.rs
//!   (dry run: plan, stop)      dry_run.rs
//! admit (skill rate limit)     admit.rs
//! approval (hold, stop)        approval.rs     an approved run resumes below, at budget
//! budget (reserve)             budget.rs
//! breaker                      breaker.rs
//! record (store RUNNING)       record.rs       with the idempotency key, in one statement
//! dispatch (runner)            dispatch.rs
//! settle                       settle.rs       state, breaker, budget, usage; the key's response
//! ```
//!
//! A stage returns a typed outcome or an error; nothing after a refusal runs, and a refusal
//! after the budget stage gives the reservation back. RunStream is Run with an event [`Sink`].
//! The domain services outside the pipeline (GetExecution, CancelExecution, listings, routing
//! without running, approved runs resuming) are in `orchestrator.rs`.

pub mod admit;
mod approval;
mod breaker;
mod budget;
mod dispatch;
pub mod dry_run;
pub mod idempotency;
mod payload;
mod policy;
pub(crate) mod record;
pub mod resolve;
mod settle;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use skillos_core::registry::Skill;
use skillos_store::{Execution, ExecutionStatus};

pub use dry_run::{Plan, PlannedApproval, PlannedRunner};
pub use idempotency::{IdempotencyKey, StoredResponse};
pub use resolve::Target;

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::routing::Routed;
use crate::skills::SkillView;
use resolve::Resolved;

/// The longest a run may take, whatever it asks.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Where a run came from, which decides the stages it skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Run or RunStream: the caller's rate limits count.
    Call,
    /// A job's attempt (EnqueueJob, a schedule's fire, a webhook delivery): admitted when the
    /// job was enqueued.
    Job,
    /// A step of a pipeline: admitted when the pipeline started.
    Step,
}

/// A run as a caller asks for it.
#[derive(Clone, Debug)]
pub struct Request {
    pub target: Target,
    pub payload: Json,
    /// `None`: the skill's declared timeout, else the server's default.
    pub timeout: Option<Duration>,
    /// The caller's W3C `traceparent`; a new trace is started when it is missing or malformed.
    pub traceparent: Option<String>,
    pub idempotency: Option<IdempotencyKey>,
    /// The job the run is an attempt of.
    pub job_id: Option<String>,
    /// Plan and check; run, store and reserve nothing.
    pub dry_run: bool,
    pub entry: Entry,
    /// The job attempt's outcome, to record with the run's end (jobs set it).
    pub job_end: Option<Arc<dyn JobEnding>>,
    /// With a query: split it into segments, each routed and run as a step.
    pub split: crate::flow::segments::Split,
    /// The flow step the run is (`{run}:{path}`), stable across its attempts and a
    /// re-dispatch after a crash; the skill sees it to make its side effects idempotent.
    pub step_key: Option<String>,
    /// The most the run may cost: a flow step's share of its run's `max_cost`.
    pub allowance: Option<f64>,
}

/// How a job's attempt ends in the transaction that ends its run: the job queue gives one with
/// the attempt's run, and learns afterwards whether its outcome was recorded there (when the
/// run ended without being stored, or something else ended it first, it was not).
pub trait JobEnding: Send + Sync + std::fmt::Debug {
    /// The job's outcome for the run's result, as the run is about to answer it.
    fn outcome(&self, result: Result<Execution, Error>) -> skillos_store::JobEnd;
    /// Whether that outcome was recorded with the execution's end.
    fn recorded(&self, recorded: bool);
}

impl Request {
    /// A run of `skill_id` with `payload`, as a call, with every other field at its default.
    pub fn skill(skill_id: impl Into<String>, payload: Json) -> Self {
        Self {
            target: Target::SkillId(skill_id.into()),
            payload,
            timeout: None,
            traceparent: None,
            idempotency: None,
            job_id: None,
            dry_run: false,
            entry: Entry::Call,
            job_end: None,
            split: crate::flow::segments::Split::None,
            step_key: None,
            allowance: None,
        }
    }
}

/// What the pipeline tells of a run, as RunStream streams it (the runner's own events come
/// on the sink's dispatch channel).
#[derive(Clone, Debug)]
pub enum Event {
    /// Routing chose the skill (a query was given).
    Routed(Box<Routed>),
    /// The execution exists.
    Accepted { execution_id: String },
}

/// Where a run's events go; `Sink::none()` for Run. Bounded channels: a reader that stops
/// reading loses progress and logs, not memory. An `Accepted` event is sent before the first
/// runner event exists.
#[derive(Clone, Debug, Default)]
pub struct Sink {
    events: Option<tokio::sync::mpsc::Sender<Event>>,
    dispatch: Option<tokio::sync::mpsc::Sender<crate::dispatch::Event>>,
}

impl Sink {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn new(
        events: tokio::sync::mpsc::Sender<Event>,
        dispatch: tokio::sync::mpsc::Sender<crate::dispatch::Event>,
    ) -> Self {
        Self {
            events: Some(events),
            dispatch: Some(dispatch),
        }
    }

    async fn send(&self, event: Event) {
        if let Some(events) = &self.events {
            let _ = events.send(event).await;
        }
    }

    async fn accepted(&self, execution_id: &str) {
        self.send(Event::Accepted {
            execution_id: execution_id.to_owned(),
        })
        .await;
    }

    /// Where the runner's events of this run go.
    fn dispatch_events(&self) -> Option<tokio::sync::mpsc::Sender<crate::dispatch::Event>> {
        self.dispatch.clone()
    }
}

/// What a run produced, when it did not fail.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The skill ran and answered (the execution SUCCEEDED or FAILED with the skill's error).
    Executed(Execution),
    /// Held for approval: stored PENDING_APPROVAL, runs by itself once approved.
    PendingApproval(Execution),
    /// Routing was not confident or found no skill: nothing ran or was stored.
    NotRouted,
    /// A dry run's plan: nothing ran or was stored.
    DryRun(Box<Plan>),
    /// A query split into segments ran as steps, each an execution of its own.
    Pipeline(Box<crate::flow::FlowRun>),
}

/// A run's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub outcome: Outcome,
    /// The routing decision, when a query was given.
    pub routed: Option<Routed>,
    /// The stored answer of an earlier request with the same idempotency key.
    pub replayed: bool,
    /// Each segment's text and routing decision, when a split query ran as steps (or one of
    /// its segments was not routed).
    pub segments: Vec<(String, Routed)>,
}

impl Answer {
    /// The answer of an execution an earlier request with the same key created.
    async fn replayed(execution: Execution, sink: &Sink) -> Self {
        sink.accepted(&execution.id).await;
        Self {
            outcome: executed_or_held(execution),
            routed: None,
            replayed: true,
            segments: Vec::new(),
        }
    }

    /// The execution the run created, if any.
    pub fn execution(&self) -> Option<&Execution> {
        match &self.outcome {
            Outcome::Executed(execution) | Outcome::PendingApproval(execution) => Some(execution),
            Outcome::NotRouted | Outcome::DryRun(_) | Outcome::Pipeline(_) => None,
        }
    }
}

fn executed_or_held(execution: Execution) -> Outcome {
    if execution.status == ExecutionStatus::PendingApproval {
        Outcome::PendingApproval(execution)
    } else {
        Outcome::Executed(execution)
    }
}

/// A run that passed every stage before the budget: what [`Service::execute`] needs.
pub(crate) struct Admitted {
    pub execution: Execution,
    /// Already in the store (an approved run, claimed).
    pub stored: bool,
    pub timeout: Duration,
    pub traceparent: Option<String>,
    /// Claimed with the execution when it is stored; its response recorded at the end.
    pub idempotency: Option<IdempotencyKey>,
    pub job_end: Option<Arc<dyn JobEnding>>,
    pub step_key: Option<String>,
    pub allowance: Option<f64>,
}

impl Service {
    /// Runs a request through the pipeline and waits for its end. A skill's own error is a
    /// FAILED execution, not an error; an error means the run could not be done (and names
    /// the execution when one exists).
    pub async fn run(
        &self,
        principal: &Principal,
        request: Request,
        sink: Sink,
    ) -> Result<Answer, Error> {
        if request.entry == Entry::Call {
            self.admit_caller(principal).await?;
        }
        if request.split != crate::flow::segments::Split::None
            && let Some(answer) = self.run_split(principal, &request).await?
        {
            return Ok(answer);
        }
        if let Some(key) = &request.idempotency
            && let Some(execution) = self.replay(principal, key).await?
        {
            return Ok(Answer::replayed(execution, &sink).await);
        }
        let (skill_id, routed) = match self.resolve(principal, request.target.clone()).await? {
            Resolved::Skill(skill_id, routed) => (skill_id, routed),
            Resolved::NotRouted(routed) => {
                return Ok(Answer {
                    outcome: Outcome::NotRouted,
                    routed: Some(routed),
                    replayed: false,
                    segments: Vec::new(),
                });
            }
        };
        if let Some(routed) = &routed {
            sink.send(Event::Routed(Box::new(routed.clone()))).await;
        }
        let answer = self.run_skill(principal, &skill_id, request, &sink).await?;
        Ok(Answer { routed, ..answer })
    }

    /// The stages from policy on, for a resolved skill.
    async fn run_skill(
        &self,
        principal: &Principal,
        skill_id: &str,
        request: Request,
        sink: &Sink,
    ) -> Result<Answer, Error> {
        if request.dry_run {
            let plan = self.plan(principal, skill_id, &request).await?;
            return Ok(Answer {
                outcome: Outcome::DryRun(Box::new(plan)),
                routed: None,
                replayed: false,
                segments: Vec::new(),
            });
        }
        let view = self.skill_for(principal, skill_id).await?;
        self.check_payload(&view, &request.payload)?;
        let skill_id = view.skill.manifest.id.to_string();
        self.admit_skill_rate(principal, &skill_id).await?;
        let timeout = self.timeout_of(&request, &view);
        if let Some(held) = self
            .hold_for_approval(principal, &view, &request, timeout, sink)
            .await?
        {
            return Ok(held);
        }
        match (&view.skill.composition, &view.skill.flow) {
            (Some(_), _) if !view.active => return Err(Error::CompositionInactive(skill_id)),
            // The server runs a composition's or flow's steps itself, each needing its
            // runner; the caller must be allowed every one of them before any runs.
            (Some(composition), _) => {
                self.check_steps(principal, &composition.definition)
                    .await
                    .map_err(|error| Error::Api(error.into()))?;
            }
            (None, Some(flow)) => {
                self.check_steps(principal, &flow.definition)
                    .await
                    .map_err(|error| Error::Api(error.into()))?;
            }
            (None, None) if !self.dispatcher.hosts(&principal.tenant, &skill_id) => {
                return Err(Error::NoRunner(skill_id));
            }
            (None, None) => {}
        }
        let run = Admitted {
            execution: record::new_execution(
                principal,
                &view.skill,
                request.payload,
                request.job_id,
            ),
            stored: false,
            timeout,
            traceparent: request.traceparent,
            idempotency: request.idempotency,
            job_end: request.job_end,
            step_key: request.step_key,
            allowance: request.allowance,
        };
        self.execute(principal, &view.skill, run, sink).await
    }

    /// The run's timeout: the request's, else the skill's, else the server's; at most a day.
    fn timeout_of(&self, request: &Request, view: &SkillView) -> Duration {
        request
            .timeout
            .or(view.skill.manifest.timeout)
            .unwrap_or(self.default_timeout)
            .min(MAX_TIMEOUT)
    }

    /// The stages after admission: budget, breaker, record, dispatch, settle.
    pub(crate) async fn execute(
        &self,
        principal: &Principal,
        skill: &Skill,
        run: Admitted,
        sink: &Sink,
    ) -> Result<Answer, Error> {
        let Admitted {
            execution,
            stored,
            timeout,
            traceparent,
            idempotency,
            job_end,
            step_key,
            allowance,
        } = run;
        let plan = self
            .reserve_budget(principal, skill, &execution.id, timeout, allowance)
            .await?;
        let mut abandoned = settle::Abandoned {
            store: None,
            budgets: Some(self.governance.budgets.clone()),
            plan: plan.clone(),
            tenant: principal.tenant.clone(),
            execution_id: execution.id.clone(),
        };
        let admission = self
            .admit_breaker(principal, &execution.skill_id, &plan, &mut abandoned)
            .await?;
        let claim = idempotency.as_ref().map(|key| self.claim(principal, key));
        let keyed = idempotency.as_ref().zip(claim.as_ref());
        // If the caller goes away before the run ends, the record must not stay RUNNING. Armed
        // before the record is written: a caller that leaves while the write waits (a busy
        // database) would otherwise leave a stored RUNNING execution whose key answers "in
        // use" for ever; the guard's cancel is queued behind the insert and ends it.
        abandoned.store = Some(self.store.clone());
        if !stored && let Some(taken) = self.record(principal, &execution, keyed).await? {
            // Another request holds the key: its answer, not a second run. Nothing of ours
            // was stored.
            abandoned.store = None;
            return Ok(Answer::replayed(taken, sink).await);
        }
        sink.accepted(&execution.id).await;
        let dispatched = match (&skill.composition, &skill.flow) {
            (Some(composition), _) => {
                self.run_composition(principal, composition, &execution, timeout, traceparent)
                    .await
            }
            (None, Some(flow)) => self.run_flow(principal, flow, &execution, timeout).await,
            (None, None) => {
                self.dispatch(dispatch::Dispatch {
                    principal,
                    skill,
                    execution: &execution,
                    plan: &plan,
                    timeout,
                    traceparent,
                    events: sink.dispatch_events(),
                    step_key,
                })
                .await
            }
        };
        let ended = settle::Dispatched {
            execution: &execution,
            plan: &plan,
            admission,
            claim: claim.as_ref(),
            job_end: job_end.as_deref(),
            result: dispatched,
        };
        let execution = match self.settle(principal, ended, &mut abandoned).await? {
            Some(ended) => ended,
            // Ended by something else first (a cancel): the record says how.
            None => self.get_execution(principal, &execution.id).await?,
        };
        Ok(Answer {
            outcome: Outcome::Executed(execution),
            routed: None,
            replayed: false,
            segments: Vec::new(),
        })
    }
}
