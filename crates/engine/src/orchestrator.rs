//! `OrchestratorService` as a domain service: the service and its error, and everything it does
//! besides running (the run itself is the pipeline in [`crate::run`]): routing without
//! running, routing feedback, reading, listing and cancelling executions, listing runners, and
//! resuming approved runs, which enter the pipeline at its budget stage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};
use skillos_store::{
    Execution, ExecutionError, ExecutionFilter, ExecutionStatus, ExecutionUpdate, Store,
};

use crate::approvals::{self, payload_sha256};
use crate::auth::{Principal, RunContext};
use crate::breaker;
use crate::budget;
use crate::dispatch::{self, RunnerInfo};
use crate::error::reason;
use crate::policy::{self, Decision};
use crate::rate_limit::{self, Refusal};
use crate::routing::{self, RouteRequest, Routed};
use crate::run::{Admitted, Sink};
use crate::skills;

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
    #[error(
        "composition {0} is not active: activate it (skillos skills activate) or set \"active\": true in its file"
    )]
    CompositionInactive(String),
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

/// Schema violations as one line, each with its path.
fn summary(violations: &[(String, String)]) -> String {
    violations
        .iter()
        .map(|(field, problem)| format!("{field}: {problem}"))
        .collect::<Vec<_>>()
        .join("; ")
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

/// The checks every run passes besides routing: permission policies, rate limits and circuit
/// breakers.
#[derive(Clone, Debug)]
pub struct Governance {
    pub policies: Arc<policy::Service>,
    pub limiter: Arc<rate_limit::Service>,
    pub breakers: breaker::Service,
    pub budgets: budget::Service,
    pub approvals: approvals::Service,
}

#[derive(Clone)]
pub struct Service {
    pub(crate) governance: Governance,
    pub(crate) idempotency_ttl: Duration,
    pub(crate) skills: skills::Service,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dispatcher: dispatch::Service,
    pub(crate) routing: Arc<routing::Service>,
    pub(crate) default_timeout: Duration,
    /// Compiled input schemas, by their JSON text (a changed schema is a new entry).
    pub(crate) validators: Arc<Mutex<HashMap<String, Arc<jsonschema::Validator>>>>,
    /// Wakes this replica's flow drivers: a flow run was stored for a run of a flow skill.
    pub(crate) flow_wake: Arc<tokio::sync::Notify>,
    /// The Runs of flows on this replica that wait for their flow run's end.
    pub(crate) flow_endings: Arc<crate::flow::endings::Endings>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("orchestrator::Service")
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(
        skills: skills::Service,
        store: Arc<dyn Store>,
        dispatcher: dispatch::Service,
        routing: Arc<routing::Service>,
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
            flow_wake: Arc::default(),
            flow_endings: Arc::default(),
        }
    }

    /// The Route RPC: the caller's rate limits, then routing; runs nothing.
    pub async fn route(
        &self,
        principal: &Principal,
        request: &RouteRequest,
    ) -> Result<Routed, Error> {
        self.admit_caller(principal).await?;
        self.routed(principal, request).await
    }

    /// Routes a natural-language request to a skill of the caller's tenant.
    pub(crate) async fn routed(
        &self,
        principal: &Principal,
        request: &RouteRequest,
    ) -> Result<Routed, Error> {
        // The tenant's deprecations made through the API count as much as the manifests', and
        // a composition that may not run is not routed to.
        let states = self.skills.states(&principal.tenant).await?;
        let mut request = request.clone();
        request.filter.deprecation_overrides = states
            .deprecations
            .values()
            .map(|state| (state.skill_id.clone(), state.deprecated))
            .collect();
        let inactive = self.skills.inactive_compositions(&states);
        let allow = |skill_id: &str| !inactive.contains(skill_id);
        let allow: Option<&(dyn Fn(&str) -> bool + Sync)> =
            (!inactive.is_empty()).then_some(&allow);
        Ok(self
            .routing
            .route(&principal.tenant, &request, allow)
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

    /// Starts the approved runs that wait (status PENDING) and that a connected runner serves.
    /// Each is claimed with a compare-and-set (PENDING to RUNNING), so it runs exactly once
    /// however many replicas look; returns how many were started.
    pub async fn resume_approved(&self) -> Result<usize, Error> {
        const PAGE: u32 = 100;
        let mut started = 0;
        let mut after: Option<String> = None;
        // Compositions and flows need no runner of their own: the server runs their steps.
        let server_run: std::collections::HashSet<String> =
            self.skills.server_run_ids().into_iter().collect();
        // Page through every waiting run: those no runner serves yet must not hide the others.
        loop {
            let page = self
                .store
                .pending_executions(after.as_deref(), PAGE)
                .await?;
            let last = page.last().map(|execution| execution.id.clone());
            for execution in page {
                if !server_run.contains(&execution.skill_id)
                    && !crate::flow::is_gate(&execution.skill_id)
                    && !self
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
        let id = execution.id.clone();
        self.resume_approved_run(execution).await;
        // A flow step held for approval has ended (or runs, for a gate: has ended): the run
        // that waits for it goes on.
        self.wake_flows_waiting_on(&id).await;
    }

    /// Makes the flow runs waiting for this execution due now, here and on other replicas
    /// (which find them due on their next look).
    pub(crate) async fn wake_flows_waiting_on(&self, execution_id: &str) {
        match self.store.wake_flow_runs_of(execution_id).await {
            Ok(0) => {}
            Ok(_) => self.flow_wake.notify_one(),
            Err(error) => {
                tracing::warn!(%error, execution_id, "cannot wake the flow run waiting for an execution");
            }
        }
    }

    async fn resume_approved_run(&self, execution: Execution) {
        let tenant = execution.tenant_id.clone();
        let id = execution.id.clone();
        let result = if crate::flow::is_gate(&execution.skill_id) {
            self.open_gate(execution).await
        } else {
            self.resume_checked(execution).await
        };
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
            Err(error @ Error::Budget(budget::Error::OverAllowance { .. })) => (
                ExecutionStatus::Rejected,
                "FLOW_BUDGET_EXCEEDED",
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

    /// An approved approval step of a flow: done, its output the decision.
    async fn open_gate(&self, execution: Execution) -> Result<(), Error> {
        let approval_id = execution.approval_id.clone().unwrap_or_default();
        let approval = self
            .store
            .approval(&execution.tenant_id, &approval_id)
            .await?
            .filter(|approval| {
                approval.state == skillos_store::ApprovalState::Approved
                    && approval.execution_id == execution.id
            })
            .ok_or_else(|| {
                Error::ApprovalMismatch(format!("approval {approval_id} is not approved"))
            })?;
        let decisions: Vec<Json> = approval
            .decisions
            .iter()
            .map(|decision| {
                json!({"approver": decision.approver, "comment": decision.comment,
                                   "decided_at": decision.decided_at.to_rfc3339()})
            })
            .collect();
        let approvers: Vec<&str> = approval
            .decisions
            .iter()
            .map(|decision| decision.approver.as_str())
            .collect();
        let now = skillos_store::now();
        let done = ExecutionUpdate {
            status: Some(ExecutionStatus::Succeeded),
            output: Some(json!({
                "approved": true, "approvers": approvers, "decisions": decisions,
                "approval_id": approval.id,
            })),
            finished_at: Some(now),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        self.store
            .update_execution(&execution.tenant_id, &execution.id, &done)
            .await?;
        tracing::info!(execution_id = %execution.id, approval_id, "a flow's approval step was approved");
        Ok(())
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
            .min(crate::run::MAX_TIMEOUT);
        let traceparent = context.traceparent.clone();
        let step_key = context.step_key.clone();
        let allowance = context.allowance;
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
            job_end: None,
            step_key,
            allowance,
        };
        tracing::info!(execution_id = %run.execution.id, approval_id, "running an approved run");
        self.execute(&principal, &view.skill, run, &Sink::none())
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
            token => Some(crate::page::name_cursor(token).ok_or(Error::InvalidPageToken)?),
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
            crate::page::name_token(&last.name, &last.id)
        });
        runners.truncate(page_size);
        Ok((runners, next))
    }
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
            E::CompositionInactive(skill_id) => {
                Self::new(reason::COMPOSITION_INACTIVE, message).with("skill_id", skill_id)
            }
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
            E::Breaker(crate::breaker::Error::Store(store)) => Self::store(&store),
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
            E::Budget(crate::budget::Error::OverAllowance {
                allowance,
                estimate,
            }) => Self::new(reason::FLOW_BUDGET_EXCEEDED, message)
                .with("remaining", crate::budget::units(allowance).to_string())
                .with("estimate", estimate.to_string()),
            E::Budget(crate::budget::Error::Store(store)) => Self::store(&store),
            E::Approval(approval) => Self::from(approval),
            E::Finished(_) => Self::new(reason::EXECUTION_FINISHED, message),
            E::IdempotencyKeyReused => {
                Self::field(reason::IDEMPOTENCY_KEY_REUSED, "idempotency_key", message)
            }
            E::IdempotencyKeyInUse => Self::new(reason::IDEMPOTENCY_KEY_IN_USE, message),
            E::Api(error) => error,
            E::ApprovalMismatch(_) => Self::new(reason::APPROVAL_MISMATCH, message),
            E::Store(store) => Self::store(&store),
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
