//! Running skills: `OrchestratorService` as a domain service. A run by skill id checks the
//! request, stores an execution record, dispatches it to a runner and records how it ended.
//! (Routing by free text, policies, approvals and budgets join this path as they are built.)

use crate::error::reason;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value as Json, json};
use skillos_store::{
    ErrorClass, ErrorOrigin, Execution, ExecutionError, ExecutionFilter, ExecutionStatus,
    ExecutionUpdate, IdempotencyClaim, IdempotencyRecord, Store,
};
use std::sync::Arc;

use crate::approvals::{self, Approvals, HeldRun, payload_sha256};
use crate::auth::{Principal, RunContext};
use crate::breaker::{self, Breakers, Outcome};
use crate::budget::{self, Budgets, Plan};
use crate::dispatch::{self, Dispatcher, Invocation, RunnerInfo};
use crate::policy::{Decision, Policies};
use crate::rate_limit::{RateLimiter, Refusal};
use crate::routing::{self, RouteRequest, Routed, Routing};
use crate::skills;
use skillos_core::registry::Skill;

const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Attempts of a retryable skill whose runner was lost.
const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Skills(#[from] skills::Error),
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// The payload does not match the skill's input schema: each violation's field path
    /// (`payload.amount`) and what is wrong there.
    #[error("invalid payload: does not match the input schema of {skill_id}: {}", summary(.violations))]
    SchemaViolations {
        skill_id: String,
        violations: Vec<(String, String)>,
    },
    /// A request field other than the payload is invalid.
    #[error("{message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    InvalidSchema(String),
    #[error("no connected runner serves skill {0}")]
    NoRunner(String),
    #[error("execution {execution_id}: {source}")]
    Dispatch {
        execution_id: String,
        source: dispatch::Error,
    },
    #[error("execution {0} not found")]
    ExecutionNotFound(String),
    #[error("invalid page_token; pass the next_page_token of the previous response")]
    InvalidPageToken,
    #[error("page_size must be between 0 and {}", crate::page::MAX_SIZE)]
    InvalidPageSize,
    #[error("{}", decision.reason)]
    Denied {
        skill_id: String,
        decision: Decision,
    },
    #[error(transparent)]
    RateLimited(#[from] Refusal),
    #[error(transparent)]
    Breaker(#[from] breaker::Error),
    #[error(transparent)]
    Budget(#[from] budget::Error),
    #[error(transparent)]
    Approval(#[from] approvals::Error),
    #[error("{0}")]
    ApprovalMismatch(String),
    #[error("execution {0} already ended")]
    Finished(String),
    #[error("this idempotency key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still running; retry when it has ended")]
    IdempotencyKeyInUse,
    /// An error to give as it is (a stored response, replayed; or the one being stored).
    #[error("{}", .0.message)]
    Api(crate::error::Error),
    #[error(transparent)]
    Routing(#[from] routing::Error),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

impl Error {
    /// The execution the failed run created, if it got that far.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Error::Dispatch { execution_id, .. } => Some(execution_id),
            Error::Api(error) => error.metadata("execution_id"),
            _ => None,
        }
    }

    /// A failure of the run's transport (runner lost, deadline, no runner) that another attempt
    /// may not meet.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Dispatch { source, .. } => matches!(
                source,
                dispatch::Error::RunnerLost { .. }
                    | dispatch::Error::DeadlineExceeded
                    | dispatch::Error::NoRunner(_)
            ),
            Error::NoRunner(_) => true,
            Error::Api(error) => [
                reason::RUNNER_LOST,
                reason::EXECUTION_TIMED_OUT,
                reason::NO_RUNNER,
            ]
            .contains(&error.reason),
            _ => false,
        }
    }

    /// The run was cancelled (CancelExecution) while its caller waited.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Error::Dispatch { source, .. } => matches!(source, dispatch::Error::Cancelled),
            Error::Api(error) => error.reason == reason::EXECUTION_CANCELLED,
            _ => false,
        }
    }
}

/// A JSON pointer into the payload (`/items/0/name`) as a request field path
/// (`payload.items[0].name`).
fn field_path(pointer: &str) -> String {
    let mut path = String::from("payload");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// Schema violations as one line, each with its path.
fn summary(violations: &[(String, String)]) -> String {
    violations
        .iter()
        .map(|(field, problem)| format!("{field}: {problem}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The response of an idempotent run, as the store keeps it with the key: the execution it
/// created and, when the run could not be done, the error it answered.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredResponse {
    #[serde(default)]
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Stored>,
}

impl StoredResponse {
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A response that does not parse has no error to replay.
    pub fn from_json(value: &Json) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

/// A run that passed every check before the budget: what [`Service::execute`] needs.
struct Admitted {
    execution: Execution,
    /// Already in the store (an approved run, claimed).
    stored: bool,
    timeout: Duration,
    traceparent: Option<String>,
    /// Claimed with the execution when it is stored; its response recorded at the end.
    idempotency: Option<IdempotencyKey>,
}

/// Feedback on one routing, as a caller gives it.
#[derive(Clone, Debug, Default)]
pub struct FeedbackRequest {
    pub query: String,
    pub routed_skill_id: Option<String>,
    pub expected_skill_id: Option<String>,
    pub source: String,
    pub comment: String,
    pub execution_id: Option<String>,
}

/// A run by skill id.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub skill_id: String,
    pub payload: Json,
    pub timeout: Option<Duration>,
    /// The caller's W3C `traceparent`; a new trace is started when it is missing or malformed.
    pub traceparent: Option<String>,
    pub idempotency: Option<IdempotencyKey>,
    /// The job the run is an attempt of.
    pub job_id: Option<String>,
}

/// A request's idempotency key: the key, the RPC whose key space it is in, and the SHA-256 of
/// the request it came with.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    pub key: String,
    pub method: &'static str,
    pub request_sha256: String,
}

/// The checks every run passes besides routing: permission policies, rate limits and circuit
/// breakers.
#[derive(Clone, Debug)]
pub struct Governance {
    pub policies: Arc<Policies>,
    pub limiter: Arc<RateLimiter>,
    pub breakers: Breakers,
    pub budgets: Budgets,
    pub approvals: Approvals,
}

#[derive(Clone)]
pub struct Service {
    governance: Governance,
    idempotency_ttl: Duration,
    skills: skills::Service,
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    routing: Arc<Routing>,
    default_timeout: Duration,
    /// Compiled input schemas, by their JSON text (a changed schema is a new entry).
    validators: Arc<Mutex<HashMap<String, Arc<jsonschema::Validator>>>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("orchestrator::Service")
            .finish_non_exhaustive()
    }
}

/// Most schema violations one error message lists.
const MAX_REPORTED_VIOLATIONS: usize = 5;

impl Service {
    pub fn new(
        skills: skills::Service,
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        routing: Arc<Routing>,
        default_timeout: Duration,
        governance: Governance,
        idempotency_ttl: Duration,
    ) -> Self {
        Self {
            governance,
            idempotency_ttl,
            skills,
            store,
            dispatcher,
            routing,
            default_timeout,
            validators: Arc::default(),
        }
    }

    fn claim(&self, principal: &Principal, key: &IdempotencyKey) -> IdempotencyClaim {
        idempotency_claim(principal, key, self.idempotency_ttl)
    }

    /// The stored answer of an earlier request with this key, if any: its execution (as it is
    /// now), or its error (`Error::Api`, marked replayed). The same key with another request
    /// is IDEMPOTENCY_KEY_REUSED; one still running is IDEMPOTENCY_KEY_IN_USE.
    pub async fn replay(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
    ) -> Result<Option<Execution>, Error> {
        let claim = self.claim(principal, key);
        let Some(record) = self
            .store
            .idempotency_record(&claim, skillos_store::now())
            .await?
        else {
            return Ok(None);
        };
        self.replay_record(principal, key, record).await.map(Some)
    }

    async fn replay_record(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
        record: IdempotencyRecord,
    ) -> Result<Execution, Error> {
        if record.request_sha256 != key.request_sha256 {
            return Err(Error::IdempotencyKeyReused);
        }
        let response = record.response.as_ref().map(StoredResponse::from_json);
        if let Some(error) = response.as_ref().and_then(|r| r.error.as_ref()) {
            return Err(match crate::error::Error::replayed(error) {
                Some(error) => Error::Api(error),
                None => Error::IdempotencyKeyInUse,
            });
        }
        let execution = self.get_execution(principal, &record.execution_id).await?;
        // No response stored yet: still running, unless it ended without one (its server
        // stopped first); then the execution is the answer.
        let ended = !matches!(
            execution.status,
            ExecutionStatus::Running | ExecutionStatus::Pending
        );
        if record.response.is_none() && !ended {
            return Err(Error::IdempotencyKeyInUse);
        }
        Ok(execution)
    }

    /// The rate limits of the caller (tenant and principal), counted once per call that does
    /// work (Run, RunStream, Route) before anything else.
    pub async fn admit_caller(&self, principal: &Principal) -> Result<(), Error> {
        Ok(self.governance.limiter.check(principal, true, None).await?)
    }

    /// Routes a natural-language request to a skill of the caller's tenant; runs nothing.
    pub async fn route(
        &self,
        principal: &Principal,
        request: &RouteRequest,
    ) -> Result<Routed, Error> {
        // The tenant's deprecations made through the API count as much as the manifests'.
        let mut request = request.clone();
        request.filter.deprecation_overrides = self
            .store
            .skill_states(&principal.tenant)
            .await?
            .into_iter()
            .map(|state| (state.skill_id, state.deprecated))
            .collect();
        Ok(self
            .routing
            .route(&principal.tenant, &request, None)
            .await?)
    }

    /// Records a routing correction or confirmation; it adjusts the tenant's ranking.
    pub async fn record_feedback(
        &self,
        principal: &Principal,
        request: FeedbackRequest,
    ) -> Result<skillos_store::RoutingFeedback, Error> {
        let canonical = |id: Option<String>| -> Result<Option<String>, Error> {
            id.map(|id| {
                skillos_core::SkillId::parse(&id)
                    .map(|id| id.to_string())
                    .map_err(|error| Error::Skills(skills::Error::InvalidId(error)))
            })
            .transpose()
        };
        let routed = canonical(request.routed_skill_id)?;
        let expected = canonical(request.expected_skill_id)?;
        if request.query.trim().is_empty() || (routed.is_none() && expected.is_none()) {
            return Err(routing::Error::InvalidRequest(
                "a query and at least one of routed_skill_id and expected_skill_id are required"
                    .into(),
            )
            .into());
        }
        if request.source.chars().count() > 64 || request.comment.chars().count() > 1024 {
            return Err(routing::Error::InvalidRequest(
                "source is limited to 64 characters and comment to 1024".into(),
            )
            .into());
        }
        if let Some(execution_id) = &request.execution_id {
            self.get_execution(principal, execution_id).await?;
        }
        let feedback = skillos_store::RoutingFeedback {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant.clone(),
            query: request.query,
            query_key: String::new(),
            routed_skill_id: routed,
            expected_skill_id: expected,
            source: request.source,
            comment: request.comment,
            execution_id: request.execution_id,
            principal: principal.subject.clone(),
            created_at: skillos_store::now(),
        };
        Ok(self.routing.record_feedback(feedback).await?)
    }

    /// Runs a skill and waits for its end. A skill's own error is a FAILED execution, not an
    /// error; an error means the run could not be done (and names the execution when one exists).
    pub async fn run(
        &self,
        principal: &Principal,
        request: RunRequest,
    ) -> Result<Execution, Error> {
        self.run_with_events(principal, request, None, None).await
    }

    /// [`Service::run`], reporting the new execution's id on `accepted` and what happens during
    /// it on `events`.
    pub async fn run_with_events(
        &self,
        principal: &Principal,
        request: RunRequest,
        accepted: Option<tokio::sync::oneshot::Sender<String>>,
        events: Option<tokio::sync::mpsc::Sender<dispatch::Event>>,
    ) -> Result<Execution, Error> {
        let view = self
            .admit_skill(principal, &request.skill_id, &request.payload)
            .await?;
        let manifest = &view.skill.manifest;
        let skill_id = manifest.id.to_string();
        self.governance
            .limiter
            .check(principal, false, Some(&skill_id))
            .await?;
        let timeout = request
            .timeout
            .or(manifest.timeout)
            .unwrap_or(self.default_timeout)
            .min(MAX_TIMEOUT);
        let approvals = &self.governance.approvals;
        if let Some(requirement) = approvals.requirement(principal, &view.skill, &request.payload) {
            let held = HeldRun {
                principal,
                skill: &view.skill,
                payload: &request.payload,
                timeout,
                traceparent: request.traceparent.clone(),
                job_id: request.job_id.clone(),
            };
            let claim = request
                .idempotency
                .as_ref()
                .map(|key| self.claim(principal, key));
            let execution = match approvals.hold(held, requirement, claim.as_ref()).await? {
                Ok(execution) => execution,
                Err(taken) => {
                    let key = request.idempotency.as_ref().expect("a claim has a key");
                    return self.replay_record(principal, key, taken).await;
                }
            };
            if let Some(accepted) = accepted {
                let _ = accepted.send(execution.id.clone());
            }
            return Ok(execution);
        }
        if !self.dispatcher.hosts(&principal.tenant, &skill_id) {
            return Err(Error::NoRunner(skill_id));
        }
        let now = skillos_store::now();
        let execution = Execution {
            id: uuid_v7(),
            tenant_id: principal.tenant.clone(),
            skill_id,
            skill_version: manifest.version.to_string(),
            status: ExecutionStatus::Running,
            principal: principal.subject.clone(),
            payload: request.payload,
            output: None,
            error: None,
            runner_id: None,
            attempts: 0,
            cost: 0.0,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            approval_id: None,
            job_id: request.job_id,
        };
        let run = Admitted {
            execution,
            stored: false,
            timeout,
            traceparent: request.traceparent,
            idempotency: request.idempotency,
        };
        self.execute(principal, &view.skill, run, accepted, events)
            .await
    }

    /// A skill of the caller's tenant that a policy lets the caller run.
    pub async fn skill_for(
        &self,
        principal: &Principal,
        skill_id: &str,
    ) -> Result<skills::SkillView, Error> {
        let view = self.skills.get(principal, skill_id).await?;
        let manifest = &view.skill.manifest;
        let skill_id = manifest.id.to_string();
        let decision = self
            .governance
            .policies
            .check_skill(principal, &skill_id, &manifest.tags);
        if !decision.allowed {
            tracing::info!(tenant = %principal.tenant, subject = %principal.subject, skill_id,
                           policy_id = %decision.policy_id, "run denied by policy");
            return Err(Error::Denied { skill_id, decision });
        }
        Ok(view)
    }

    /// The checks a run of a skill passes before anything is stored or limited: the skill
    /// exists for the tenant, a policy grants it, the payload is an object that matches its
    /// input schema. EnqueueJob applies them too, so a bad job is refused at once.
    pub async fn admit_skill(
        &self,
        principal: &Principal,
        skill_id: &str,
        payload: &Json,
    ) -> Result<skills::SkillView, Error> {
        let view = self.skill_for(principal, skill_id).await?;
        let manifest = &view.skill.manifest;
        let skill_id = manifest.id.to_string();
        if !payload.is_object() {
            return Err(Error::InvalidPayload(
                "the payload must be a JSON object".to_owned(),
            ));
        }
        if let Some(schema) = &manifest.input_schema {
            self.check_payload(&skill_id, schema, payload)?;
        }
        Ok(view)
    }

    /// The stages after admission: budget, circuit breaker, dispatch, record.
    async fn execute(
        &self,
        principal: &Principal,
        skill: &Skill,
        run: Admitted,
        accepted: Option<tokio::sync::oneshot::Sender<String>>,
        events: Option<tokio::sync::mpsc::Sender<dispatch::Event>>,
    ) -> Result<Execution, Error> {
        let Admitted {
            execution,
            stored,
            timeout,
            traceparent,
            idempotency,
        } = run;
        let claim = idempotency.as_ref().map(|key| self.claim(principal, key));
        let plan = self
            .governance
            .budgets
            .reserve(principal, skill, &execution.id, timeout)
            .await?;
        // From here on, every way out gives the reservation back unless the run settles it.
        let mut abandoned = Abandoned {
            store: None,
            budgets: Some(self.governance.budgets.clone()),
            plan: plan.clone(),
            tenant: principal.tenant.clone(),
            execution_id: execution.id.clone(),
        };
        let admission = match self
            .governance
            .breakers
            .admit(&principal.tenant, &execution.skill_id)
            .await
        {
            Ok(admission) => admission,
            Err(refused) => {
                // Give the reservation back now, not later: the same execution may be claimed
                // again (an approved run requeued) and reserve under the same id.
                abandoned.budgets = None;
                if let Err(error) = self
                    .governance
                    .budgets
                    .release(&principal.tenant, &plan)
                    .await
                {
                    tracing::warn!(%error, "cannot release a budget reservation");
                }
                return Err(refused.into());
            }
        };
        if !stored {
            match (&claim, &idempotency) {
                (Some(claim), Some(key)) => {
                    if let Some(taken) = self
                        .store
                        .insert_execution_claimed(&execution, claim)
                        .await?
                    {
                        // Another request holds the key: its answer, not a second run.
                        return self.replay_record(principal, key, taken).await;
                    }
                }
                _ => self.store.insert_execution(&execution).await?,
            }
        }
        if let Some(accepted) = accepted {
            let _ = accepted.send(execution.id.clone());
        }
        // If the caller goes away before the run ends, the record must not stay RUNNING.
        abandoned.store = Some(self.store.clone());

        let invocation = Invocation {
            execution_id: execution.id.clone(),
            skill_id: execution.skill_id.clone(),
            skill_version: execution.skill_version.clone(),
            payload: execution.payload.clone(),
            tenant: principal.tenant.clone(),
            principal: principal.subject.clone(),
            roles: principal.roles.clone(),
            attributes: principal.attributes.clone(),
            model_tier: plan.tier.clone(),
            deadline: tokio::time::Instant::now() + timeout,
            retryable: skill.manifest.retryable,
            max_attempts: MAX_ATTEMPTS,
            events: events.clone(),
            traceparent: traceparent
                .filter(|traceparent| is_traceparent(traceparent))
                .unwrap_or_else(new_traceparent),
            job_id: execution.job_id.clone(),
        };
        let dispatched = self.dispatcher.dispatch(invocation).await;
        let outcome = match &dispatched {
            Ok(_) => Some(Outcome::Answered),
            Err(dispatch::Error::RunnerLost { .. } | dispatch::Error::DeadlineExceeded) => {
                Some(Outcome::Failed)
            }
            Err(
                dispatch::Error::NoRunner(_)
                | dispatch::Error::ResultTooLarge { .. }
                | dispatch::Error::Cancelled,
            ) => None,
        };
        if let Some(outcome) = outcome
            && let Err(error) = self
                .governance
                .breakers
                .record(&principal.tenant, &execution.skill_id, admission, outcome)
                .await
        {
            tracing::warn!(%error, "cannot record the outcome in the circuit breaker");
        }
        let (update, failure) = finish(&dispatched);
        let succeeded = match &dispatched {
            Ok(done) if done.finished.outcome.is_ok() => Some(&done.finished.usage),
            _ => None,
        };
        let settlement =
            self.governance
                .budgets
                .settlement(principal, &execution.skill_id, &plan, succeeded);
        // One transaction: the final state, the budget settled or released, the usage. The
        // guard stays armed until it commits, so a failure here still ends the record and
        // gives the reservation back.
        self.store
            .finish_execution(&principal.tenant, &execution.id, &update, &settlement)
            .await?;
        abandoned.store = None;
        abandoned.budgets = None;
        let result = match failure {
            Some(source) => Err(crate::error::Error::from(Error::Dispatch {
                execution_id: execution.id.clone(),
                source,
            })),
            None => Ok(()),
        };
        if let Some(claim) = &claim {
            let response = StoredResponse {
                execution_id: execution.id.clone(),
                error: result.as_ref().err().map(crate::error::Error::to_stored),
            }
            .to_json();
            if let Err(error) = self.store.complete_idempotency(claim, &response).await {
                tracing::warn!(%error, "cannot record the response of an idempotent request");
            }
        }
        result.map_err(Error::Api)?;
        self.get_execution(principal, &execution.id).await
    }

    /// Starts the approved runs that wait (status PENDING) and that a connected runner serves.
    /// Each is claimed with a compare-and-set (PENDING to RUNNING), so it runs exactly once
    /// however many replicas look; returns how many were started.
    pub async fn resume_approved(&self) -> Result<usize, Error> {
        const PAGE: u32 = 100;
        let mut started = 0;
        let mut after: Option<String> = None;
        // Page through every waiting run: those no runner serves yet must not hide the others.
        loop {
            let page = self
                .store
                .pending_executions(after.as_deref(), PAGE)
                .await?;
            let last = page.last().map(|execution| execution.id.clone());
            for execution in page {
                if !self
                    .dispatcher
                    .hosts(&execution.tenant_id, &execution.skill_id)
                {
                    continue;
                }
                let claim = ExecutionUpdate {
                    status: Some(ExecutionStatus::Running),
                    started_at: Some(skillos_store::now()),
                    expect_status: Some(ExecutionStatus::Pending),
                    ..Default::default()
                };
                if !self
                    .store
                    .update_execution(&execution.tenant_id, &execution.id, &claim)
                    .await?
                {
                    continue;
                }
                started += 1;
                let service = self.clone();
                tokio::spawn(async move { service.resume(execution).await });
            }
            match last {
                Some(last) => after = Some(last),
                None => return Ok(started),
            }
        }
    }

    /// Puts a claimed approved run back in the queue (RUNNING to PENDING) for a later try.
    async fn requeue(&self, tenant: &skillos_store::TenantId, id: &str) {
        let back = ExecutionUpdate {
            status: Some(ExecutionStatus::Pending),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        if let Err(error) = self.store.update_execution(tenant, id, &back).await {
            tracing::warn!(%error, execution_id = %id, "cannot requeue an approved run");
        }
    }

    /// Runs one claimed, approved execution, checking that it is still what was approved.
    async fn resume(&self, execution: Execution) {
        let tenant = execution.tenant_id.clone();
        let id = execution.id.clone();
        let result = self.resume_checked(execution).await;
        let (status, code, message) = match result {
            Ok(()) | Err(Error::Dispatch { .. } | Error::Api(_)) => return,
            // The breaker refuses for now: back in the queue, to try again later.
            Err(Error::Breaker(breaker::Error::Open { .. })) => {
                return self.requeue(&tenant, &id).await;
            }
            Err(error @ Error::Budget(budget::Error::Exceeded { .. })) => (
                ExecutionStatus::Rejected,
                "BUDGET_EXCEEDED",
                error.to_string(),
            ),
            // The store failed: back in the queue, to try again.
            Err(Error::Budget(budget::Error::Store(error)) | Error::Store(error)) => {
                tracing::warn!(%error, execution_id = %id, "approved run requeued after a store error");
                return self.requeue(&tenant, &id).await;
            }
            Err(error @ Error::ApprovalMismatch(_)) => (
                ExecutionStatus::Rejected,
                "APPROVAL_MISMATCH",
                error.to_string(),
            ),
            Err(error) => (ExecutionStatus::Failed, "INTERNAL", error.to_string()),
        };
        tracing::warn!(execution_id = %id, code, message, "approved run did not execute");
        let update = ExecutionUpdate {
            status: Some(status),
            error: Some(ExecutionError::permanent(code, message)),
            finished_at: Some(skillos_store::now()),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        if let Err(error) = self.store.update_execution(&tenant, &id, &update).await {
            tracing::warn!(%error, execution_id = %id, "cannot record the end of an approved run");
        }
    }

    async fn resume_checked(&self, execution: Execution) -> Result<(), Error> {
        let approval_id = execution
            .approval_id
            .clone()
            .ok_or_else(|| Error::ApprovalMismatch("the execution has no approval".into()))?;
        let approval = self
            .store
            .approval(&execution.tenant_id, &approval_id)
            .await?
            .ok_or_else(|| Error::ApprovalMismatch(format!("approval {approval_id} is gone")))?;
        // The run executes only with exactly what was approved.
        if approval.state != skillos_store::ApprovalState::Approved
            || approval.execution_id != execution.id
            || approval.skill_id != execution.skill_id
            || approval.skill_version != execution.skill_version
            || approval.payload_sha256 != payload_sha256(&execution.payload)
        {
            return Err(Error::ApprovalMismatch(format!(
                "execution {} no longer matches approval {approval_id} (state, skill, version or payload)",
                execution.id
            )));
        }
        let context = RunContext::from_json(&approval.run_context);
        let timeout = context
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.default_timeout)
            .min(MAX_TIMEOUT);
        let traceparent = context.traceparent.clone();
        let principal = Principal::stored(&execution.principal, &execution.tenant_id, context);
        // The requester must still be allowed now: its API key not revoked or expired, and the
        // policies of today still granting the skill.
        if let Some(problem) = self.credential_problem(&principal).await? {
            return Err(Error::ApprovalMismatch(problem));
        }
        let view = self.skills.get(&principal, &execution.skill_id).await?;
        let decision = self.governance.policies.check_skill(
            &principal,
            &execution.skill_id,
            &view.skill.manifest.tags,
        );
        if !decision.allowed {
            return Err(Error::ApprovalMismatch(format!(
                "the requester may no longer run {}: {}",
                execution.skill_id, decision.reason
            )));
        }
        if view.skill.manifest.version.to_string() != approval.skill_version {
            return Err(Error::ApprovalMismatch(format!(
                "skill {} is now version {}; the approval was for {}",
                execution.skill_id, view.skill.manifest.version, approval.skill_version
            )));
        }
        let run = Admitted {
            execution,
            stored: true,
            timeout,
            traceparent,
            idempotency: None,
        };
        tracing::info!(execution_id = %run.execution.id, approval_id, "running an approved run");
        self.execute(&principal, &view.skill, run, None, None)
            .await?;
        Ok(())
    }

    /// Why a stored principal may no longer run anything (its API key revoked or expired);
    /// `None` when it may.
    pub async fn credential_problem(&self, principal: &Principal) -> Result<Option<String>, Error> {
        let Some(key_id) = principal.subject.strip_prefix("key:") else {
            return Ok(None);
        };
        let key = self.store.api_key(key_id).await?;
        let usable = key.is_some_and(|key| {
            key.revoked_at.is_none() && key.expires_at.is_none_or(|at| at > chrono::Utc::now())
        });
        Ok((!usable).then(|| format!("the requester's API key {key_id} is revoked or expired")))
    }

    /// Checks a payload against the skill's input schema (compiled once per schema).
    fn check_payload(
        &self,
        skill_id: &str,
        schema: &serde_json::Map<String, Json>,
        payload: &Json,
    ) -> Result<(), Error> {
        let schema = Json::Object(schema.clone());
        let key = schema.to_string();
        let cached = self
            .validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let validator = match cached {
            Some(validator) => validator,
            None => {
                let validator = jsonschema::validator_for(&schema).map_err(|error| {
                    Error::InvalidSchema(format!(
                        "the input_schema of {skill_id} is not a valid JSON Schema: {error}"
                    ))
                })?;
                let validator = Arc::new(validator);
                self.validators
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, validator.clone());
                validator
            }
        };
        let violations: Vec<(String, String)> = validator
            .iter_errors(payload)
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|error| {
                (
                    field_path(&error.instance_path().to_string()),
                    error.to_string(),
                )
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::SchemaViolations {
                skill_id: skill_id.to_owned(),
                violations,
            })
        }
    }

    pub async fn get_execution(&self, principal: &Principal, id: &str) -> Result<Execution, Error> {
        self.store
            .get_execution(&principal.tenant, id)
            .await?
            .ok_or_else(|| Error::ExecutionNotFound(id.to_owned()))
    }

    /// Cancels an execution that has not ended: a held one with its approval, a pending one
    /// before it runs, a running one on its runner (when it runs on this replica; elsewhere its
    /// result is discarded when it arrives). Cancelling a cancelled execution returns it.
    pub async fn cancel_execution(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<Execution, Error> {
        let reason = match reason.trim() {
            "" => format!("cancelled by {}", principal.subject),
            reason if reason.chars().count() > 1024 => {
                return Err(Error::InvalidField {
                    field: "reason",
                    message: "the reason is limited to 1024 characters".to_owned(),
                });
            }
            reason => reason.to_owned(),
        };
        // A status may change under us (approved, claimed, finished): look again, a few times.
        for _ in 0..4 {
            let execution = self.get_execution(principal, id).await?;
            if execution.principal != principal.subject {
                let decision = self
                    .governance
                    .policies
                    .check_permission(principal, crate::policy::permission::EXECUTIONS_CANCEL);
                if !decision.allowed {
                    return Err(Error::Denied {
                        skill_id: execution.skill_id,
                        decision,
                    });
                }
            }
            let done = match execution.status {
                ExecutionStatus::Cancelled => return Ok(execution),
                ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::TimedOut
                | ExecutionStatus::Rejected => return Err(Error::Finished(id.to_owned())),
                ExecutionStatus::PendingApproval => match &execution.approval_id {
                    Some(approval_id) => self
                        .governance
                        .approvals
                        .cancel(principal, approval_id, &reason)
                        .await?
                        .is_some(),
                    None => false,
                },
                status @ (ExecutionStatus::Pending | ExecutionStatus::Running) => {
                    let update = ExecutionUpdate {
                        status: Some(ExecutionStatus::Cancelled),
                        error: Some(ExecutionError::permanent(
                            reason::EXECUTION_CANCELLED.name,
                            reason.clone(),
                        )),
                        finished_at: Some(skillos_store::now()),
                        expect_status: Some(status),
                        ..Default::default()
                    };
                    let cancelled = self
                        .store
                        .update_execution(&principal.tenant, id, &update)
                        .await?;
                    if cancelled {
                        self.dispatcher.cancel(&principal.tenant, id);
                        let audit = skillos_store::AuditEvent::now(
                            &principal.tenant,
                            &principal.subject,
                            "execution.cancelled",
                            id,
                            json!({"reason": reason, "was": status.as_str()}),
                        );
                        self.store.append_audit(&audit).await?;
                    }
                    cancelled
                }
            };
            if done {
                tracing::info!(execution_id = id, actor = %principal.subject, "execution cancelled");
                return self.get_execution(principal, id).await;
            }
        }
        Err(Error::Finished(id.to_owned()))
    }

    /// Newest first; the page token is the last id of the previous page.
    pub async fn list_executions(
        &self,
        principal: &Principal,
        filter: ExecutionFilter,
        page_size: i32,
        page_token: Option<String>,
    ) -> Result<(Vec<Execution>, Option<String>), Error> {
        let page_size = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        if let (Some(after), Some(before)) = (filter.created_after, filter.created_before)
            && after >= before
        {
            return Err(Error::InvalidField {
                field: "created_after",
                message: "created_after must be before created_before".to_owned(),
            });
        }
        let before_id = page_token.filter(|token| !token.is_empty());
        if before_id
            .as_deref()
            .is_some_and(|token| uuid::Uuid::parse_str(token).is_err())
        {
            return Err(Error::InvalidPageToken);
        }
        let skill_id = filter
            .skill_id
            .filter(|id| !id.is_empty())
            .map(|id| skillos_core::SkillId::parse(&id).map(|id| id.to_string()));
        let skill_id = skill_id.transpose().map_err(skills::Error::from)?;
        let filter = ExecutionFilter {
            skill_id,
            job_id: filter.job_id.filter(|id| !id.is_empty()),
            before_id,
            ..filter
        };
        // One more than asked tells whether another page exists.
        let mut executions = self
            .store
            .list_executions(&principal.tenant, &filter, page_size + 1)
            .await?;
        let next = if executions.len() > page_size as usize {
            executions.truncate(page_size as usize);
            executions.last().map(|execution| execution.id.clone())
        } else {
            None
        };
        Ok((executions, next))
    }

    pub fn runners(&self, principal: &Principal) -> Vec<RunnerInfo> {
        self.dispatcher
            .runners()
            .into_iter()
            .filter(|runner| runner.tenant == principal.tenant)
            .collect()
    }

    /// The runners of the caller's tenant attached now, ordered by name then id, optionally
    /// only those serving `skill_id`; the page token names the last runner of the previous
    /// page, so a runner that leaves meanwhile does not shift the pages.
    pub fn list_runners(
        &self,
        principal: &Principal,
        skill_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<RunnerInfo>, Option<String>), Error> {
        let page_size = crate::page::size(page_size).ok_or(Error::InvalidPageSize)? as usize;
        let skill_id = match skill_id {
            "" => None,
            id => Some(
                skillos_core::SkillId::parse(id)
                    .map_err(skills::Error::from)?
                    .to_string(),
            ),
        };
        let after = match page_token {
            "" => None,
            token => Some(runner_cursor(token).ok_or(Error::InvalidPageToken)?),
        };
        let mut runners: Vec<RunnerInfo> = self
            .runners(principal)
            .into_iter()
            .filter(|runner| {
                skill_id
                    .as_ref()
                    .is_none_or(|id| runner.skills.contains(id))
            })
            .filter(|runner| {
                after.as_ref().is_none_or(|(name, id)| {
                    (runner.name.as_str(), runner.id.as_str()) > (name.as_str(), id.as_str())
                })
            })
            .collect();
        runners.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        let next = (runners.len() > page_size).then(|| {
            let last = &runners[page_size - 1];
            runner_token(&last.name, &last.id)
        });
        runners.truncate(page_size);
        Ok((runners, next))
    }
}

/// The page token after the runner `(name, id)`.
fn runner_token(name: &str, id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{name}\n{id}"))
}

/// The `(name, id)` a runner page token names; `None` when it is not one.
fn runner_cursor(token: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (name, id) = text.split_once('\n')?;
    Some((name.to_owned(), id.to_owned()))
}

/// The claim of an idempotency key in the caller's key space (tenant, principal, RPC), good
/// for `ttl`; its response is recorded later.
pub fn idempotency_claim(
    principal: &Principal,
    key: &IdempotencyKey,
    ttl: Duration,
) -> IdempotencyClaim {
    IdempotencyClaim {
        tenant_id: principal.tenant.clone(),
        principal: principal.subject.clone(),
        method: key.method.to_owned(),
        key: key.key.clone(),
        request_sha256: key.request_sha256.clone(),
        expires_at: skillos_store::now()
            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1)),
        response: None,
    }
}

/// The record's final state for a dispatch outcome, and the error the caller gets, if any.
fn finish(
    dispatched: &Result<dispatch::Dispatched, dispatch::Error>,
) -> (ExecutionUpdate, Option<dispatch::Error>) {
    let mut update = ExecutionUpdate {
        finished_at: Some(skillos_store::now()),
        expect_status: Some(ExecutionStatus::Running),
        ..Default::default()
    };
    match dispatched {
        Ok(dispatched) => {
            update.runner_id = Some(dispatched.runner_id.clone());
            update.attempts = i32::try_from(dispatched.attempts).ok();
            update.cost = Some(dispatched.finished.usage.cost);
            match &dispatched.finished.outcome {
                Ok(output) => {
                    update.status = Some(ExecutionStatus::Succeeded);
                    update.output = Some(output.clone());
                }
                Err(error) => {
                    update.status = Some(ExecutionStatus::Failed);
                    let class = if error.retryable {
                        ErrorClass::Retryable
                    } else {
                        ErrorClass::Permanent
                    };
                    update.error = Some(ExecutionError::new(
                        class,
                        ErrorOrigin::Skill,
                        error.code.clone(),
                        error.message.clone(),
                    ));
                }
            }
            (update, None)
        }
        Err(error) => {
            let (status, origin, reason) = match error {
                dispatch::Error::DeadlineExceeded => (
                    ExecutionStatus::TimedOut,
                    ErrorOrigin::Server,
                    reason::EXECUTION_TIMED_OUT,
                ),
                dispatch::Error::RunnerLost { .. } => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Runner,
                    reason::RUNNER_LOST,
                ),
                dispatch::Error::ResultTooLarge { .. } => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Runner,
                    reason::RESULT_TOO_LARGE,
                ),
                dispatch::Error::NoRunner(_) => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Server,
                    reason::NO_RUNNER,
                ),
                dispatch::Error::Cancelled => (
                    ExecutionStatus::Cancelled,
                    ErrorOrigin::Server,
                    reason::EXECUTION_CANCELLED,
                ),
            };
            if let dispatch::Error::RunnerLost { attempts } = error {
                update.attempts = i32::try_from(*attempts).ok();
            }
            let class = if matches!(error, dispatch::Error::Cancelled) {
                ErrorClass::Permanent
            } else {
                ErrorClass::Retryable
            };
            update.status = Some(status);
            update.error = Some(ExecutionError::new(
                class,
                origin,
                reason.name,
                error.to_string(),
            ));
            (update, Some(error.clone()))
        }
    }
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Cleans up after a run that ended early: releases its budget reservation (a refusal after
/// reserving, an error, the caller going away) and, once the execution is stored, marks it
/// cancelled when the run future is dropped before it recorded an end (the caller
/// disconnected; the dispatcher has already told the runner to stop).
struct Abandoned {
    store: Option<Arc<dyn Store>>,
    budgets: Option<Budgets>,
    plan: Plan,
    tenant: skillos_store::TenantId,
    execution_id: String,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(budgets) = self.budgets.take()
            && self.plan.reserved
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let tenant = self.tenant.clone();
            let plan = self.plan.clone();
            runtime.spawn(async move {
                if let Err(error) = budgets.release(&tenant, &plan).await {
                    tracing::warn!(%error, "cannot release a budget reservation");
                }
            });
        }
        let Some(store) = self.store.take() else {
            return;
        };
        let tenant = self.tenant.clone();
        let execution_id = std::mem::take(&mut self.execution_id);
        let update = ExecutionUpdate {
            status: Some(ExecutionStatus::Cancelled),
            error: Some(ExecutionError::permanent(
                reason::EXECUTION_CANCELLED.name,
                "the caller stopped waiting",
            )),
            finished_at: Some(skillos_store::now()),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store
                    .update_execution(&tenant, &execution_id, &update)
                    .await
                {
                    tracing::warn!(%error, execution_id, "cannot record a cancelled execution");
                }
            });
        }
    }
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, the W3C trace context version 00.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if *version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{parent}-01")
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        use crate::dispatch::Error as D;
        use Error as E;
        let message = error.to_string();
        match error {
            E::Skills(skills) => Self::from(skills),
            E::InvalidPayload(_) => Self::field(reason::INVALID_PAYLOAD, "payload", message),
            E::SchemaViolations { violations, .. } => violations.into_iter().fold(
                Self::new(reason::INVALID_PAYLOAD, message),
                |error, (field, problem)| error.violation(field, problem),
            ),
            E::InvalidField { field, .. } => Self::field(reason::INVALID_REQUEST, field, message),
            E::InvalidSchema(_) => Self::new(reason::INVALID_SKILL_SCHEMA, message),
            E::NoRunner(_) => Self::new(reason::NO_RUNNER, message),
            E::ExecutionNotFound(_) => Self::new(reason::EXECUTION_NOT_FOUND, message),
            E::InvalidPageToken => Self::field(reason::INVALID_PAGE_TOKEN, "page_token", message),
            E::InvalidPageSize => Self::field(reason::INVALID_PAGE_SIZE, "page_size", message),
            E::Routing(routing) => Self::from(routing),
            E::Denied { skill_id, decision } => {
                let mut error = Self::new(reason::POLICY_DENIED, message)
                    .with("skill_id", skill_id)
                    .with("policy_id", decision.policy_id);
                if !decision.missing.is_empty() {
                    error = error.with("missing_permissions", decision.missing.join(","));
                }
                error
            }
            E::RateLimited(refusal) => Self::from(refusal),
            E::Breaker(crate::breaker::Error::Open {
                skill_id,
                retry_after,
            }) => Self::new(reason::CIRCUIT_OPEN, message)
                .with("skill_id", skill_id)
                .retry_after(retry_after),
            E::Breaker(crate::breaker::Error::Store(store)) => Self::internal(&store),
            E::Budget(crate::budget::Error::Exceeded {
                scope,
                scope_key,
                period,
                limit,
                remaining,
                ..
            }) => Self::new(reason::BUDGET_EXCEEDED, message)
                .with("scope", scope.as_str())
                .with("scope_key", scope_key)
                .with("period", period.as_str())
                .with("limit", limit.to_string())
                .with("remaining", remaining.to_string()),
            E::Budget(crate::budget::Error::Store(store)) => Self::internal(&store),
            E::Approval(approval) => Self::from(approval),
            E::Finished(_) => Self::new(reason::EXECUTION_FINISHED, message),
            E::IdempotencyKeyReused => {
                Self::field(reason::IDEMPOTENCY_KEY_REUSED, "idempotency_key", message)
            }
            E::IdempotencyKeyInUse => Self::new(reason::IDEMPOTENCY_KEY_IN_USE, message),
            E::Api(error) => error,
            E::ApprovalMismatch(_) => Self::new(reason::APPROVAL_MISMATCH, message),
            E::Store(store) => Self::internal(&store),
            E::Dispatch {
                execution_id,
                source,
            } => {
                let reason = match source {
                    D::NoRunner(_) => reason::NO_RUNNER,
                    D::RunnerLost { .. } => reason::RUNNER_LOST,
                    D::ResultTooLarge { .. } => reason::RESULT_TOO_LARGE,
                    D::DeadlineExceeded => reason::EXECUTION_TIMED_OUT,
                    D::Cancelled => reason::EXECUTION_CANCELLED,
                };
                Self::new(reason, message).with("execution_id", execution_id)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_page_tokens_round_trip_and_others_are_refused() {
        let token = runner_token("echo", "r-1");
        assert_eq!(runner_cursor(&token), Some(("echo".into(), "r-1".into())));
        assert_eq!(runner_cursor("not base64!"), None);
        assert_eq!(
            runner_cursor(&runner_token("", "")),
            Some((String::new(), String::new()))
        );
        use base64::Engine as _;
        let no_separator = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x");
        assert_eq!(runner_cursor(&no_separator), None);
    }

    #[test]
    fn schema_paths_name_payload_fields() {
        assert_eq!(field_path(""), "payload");
        assert_eq!(field_path("/amount"), "payload.amount");
        assert_eq!(field_path("/items/0/a~1b"), "payload.items[0].a/b");
    }

    #[test]
    fn trace_context_is_checked_and_made_when_missing() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-0000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(!is_traceparent(bad), "{bad:?}");
        }
        assert!(is_traceparent(&new_traceparent()));
    }
}
