//! Rows the store keeps.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value as Json;

/// The current time at the precision both databases keep (microseconds), so a value reads back
/// exactly as it was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The tenant that owns a row.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of callers when no authentication is configured.
    pub const DEFAULT: &'static str = "default";

    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A tenant id from outside (a token claim, a flag): trimmed and lowercased, then 1-64 of
    /// `a-z 0-9 - _`, starting with a letter or digit.
    pub fn parse(id: &str) -> Result<Self, String> {
        let id = id.trim().to_ascii_lowercase();
        let valid = (1..=64).contains(&id.len())
            && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(id))
        } else {
            Err(format!(
                "tenant id {id:?} must be 1-64 characters of a-z, 0-9, - and _, starting with a letter or digit"
            ))
        }
    }

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for TenantId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A deprecation override of a skill's manifest.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SkillState {
    pub skill_id: String,
    pub deprecated: bool,
    pub reason: Option<String>,
    pub replacement_id: Option<String>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's decision to run a composition or not, overriding its file's `active`.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Activation {
    pub skill_id: String,
    pub active: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// Where an execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Pending,
    PendingApproval,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    /// Refused before it ran (policy, approval rejected, budget).
    Rejected,
}

impl ExecutionStatus {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::PendingApproval,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::PendingApproval => "pending_approval",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::TimedOut | Self::Rejected
        )
    }
}

/// Whether repeating a failed run may succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorClass {
    Retryable,
    Permanent,
}

/// Who reported a failure: the skill's own code, its runner, or the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorOrigin {
    Skill,
    Runner,
    Server,
}

/// Why an execution, or a job's last attempt, did not succeed, as it is stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExecutionError {
    pub class: ErrorClass,
    pub origin: ErrorOrigin,
    /// A stable code: the skill's own, or a server reason such as `RUNNER_LOST`.
    pub code: String,
    pub message: String,
}

impl ExecutionError {
    pub fn new(
        class: ErrorClass,
        origin: ErrorOrigin,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            class,
            origin,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A permanent failure the server decided.
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, ErrorOrigin::Server, code, message)
    }

    /// A failure of the server that a later attempt may not meet.
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Retryable, ErrorOrigin::Server, code, message)
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }
}

/// One run of a skill.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// UUIDv7, so ids sort by creation time.
    pub id: String,
    pub tenant_id: TenantId,
    pub skill_id: String,
    pub skill_version: String,
    pub status: ExecutionStatus,
    /// Subject of the caller the run is done for.
    pub principal: String,
    pub payload: Json,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    pub runner_id: Option<String>,
    pub attempts: i32,
    pub cost: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The approval the execution waits for or waited for.
    pub approval_id: Option<String>,
    /// The job the execution is an attempt of.
    pub job_id: Option<String>,
}

/// A status change of an execution; `None` fields keep their stored value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionUpdate {
    pub status: Option<ExecutionStatus>,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    pub runner_id: Option<String>,
    pub attempts: Option<i32>,
    pub cost: Option<f64>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Apply the change only when the execution is in this status.
    pub expect_status: Option<ExecutionStatus>,
}

impl ExecutionUpdate {
    /// `execution` as the store holds it once this update applied to it (the fields set here
    /// replace the stored ones, as the store's update does).
    pub fn applied_to(&self, mut execution: Execution) -> Execution {
        if let Some(status) = self.status {
            execution.status = status;
        }
        if let Some(output) = &self.output {
            execution.output = Some(output.clone());
        }
        if let Some(error) = &self.error {
            execution.error = Some(error.clone());
        }
        if let Some(runner_id) = &self.runner_id {
            execution.runner_id = Some(runner_id.clone());
        }
        if let Some(attempts) = self.attempts {
            execution.attempts = attempts;
        }
        if let Some(cost) = self.cost {
            execution.cost = cost;
        }
        if let Some(started_at) = self.started_at {
            execution.started_at = Some(started_at);
        }
        if let Some(finished_at) = self.finished_at {
            execution.finished_at = Some(finished_at);
        }
        execution
    }
}

/// Filters of an execution listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    pub skill_id: Option<String>,
    /// Any of these statuses; empty: every status.
    pub statuses: Vec<ExecutionStatus>,
    /// Only executions created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only executions created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Only the attempts of this job.
    pub job_id: Option<String>,
    /// Only executions older than this id (the last id of the previous page).
    pub before_id: Option<String>,
}

/// One entry of the audit trail.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// UUIDv7, so ids sort by time.
    pub id: String,
    pub tenant_id: TenantId,
    pub occurred_at: DateTime<Utc>,
    /// Subject of whoever caused the event.
    pub actor: String,
    /// Dotted verb, e.g. `skill.deprecated`.
    pub action: String,
    /// What the event is about, e.g. a skill id.
    pub target: String,
    pub details: Json,
}

impl AuditEvent {
    /// A new event stamped now with a fresh id.
    pub fn now(tenant: &TenantId, actor: &str, action: &str, target: &str, details: Json) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.clone(),
            occurred_at: now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            details,
        }
    }
}

/// Row shape shared by both backends; converted into [`Execution`] after decoding.
#[derive(sqlx::FromRow)]
pub(crate) struct ExecutionRow {
    pub id: String,
    pub tenant_id: String,
    pub skill_id: String,
    pub skill_version: String,
    pub status: String,
    pub principal: String,
    pub payload: sqlx::types::Json<Json>,
    pub output: Option<sqlx::types::Json<Json>>,
    pub error: Option<sqlx::types::Json<ExecutionError>>,
    pub runner_id: Option<String>,
    pub attempts: i32,
    pub cost: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub approval_id: Option<String>,
    pub job_id: Option<String>,
}

impl TryFrom<ExecutionRow> for Execution {
    type Error = crate::Error;

    fn try_from(row: ExecutionRow) -> Result<Self, Self::Error> {
        let status = ExecutionStatus::parse(&row.status).ok_or_else(|| {
            crate::Error::Corrupt(format!(
                "execution {} has unknown status {:?}",
                row.id, row.status
            ))
        })?;
        Ok(Self {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            skill_id: row.skill_id,
            skill_version: row.skill_version,
            status,
            principal: row.principal,
            payload: row.payload.0,
            output: row.output.map(|json| json.0),
            error: row.error.map(|json| json.0),
            runner_id: row.runner_id,
            attempts: row.attempts,
            cost: row.cost,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            approval_id: row.approval_id,
            job_id: row.job_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: sqlx::types::Json<Json>,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            occurred_at: row.occurred_at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            details: row.details.0,
        }
    }
}

/// A skill embedding kept in the store, keyed by model and the hash of the embedded text.
#[derive(Clone, Debug, PartialEq)]
pub struct SkillVector {
    pub text_hash: String,
    pub vector: Vec<f32>,
}

/// One routing correction or confirmation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct RoutingFeedback {
    /// UUIDv7.
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub query: String,
    /// The query's normalised terms, sorted (how routing files feedback).
    pub query_key: String,
    pub routed_skill_id: Option<String>,
    pub expected_skill_id: Option<String>,
    pub source: String,
    pub comment: String,
    pub execution_id: Option<String>,
    /// Subject of whoever gave the feedback.
    pub principal: String,
    pub created_at: DateTime<Utc>,
}

/// Little-endian `f32`s, the storage form of a vector.
pub(crate) fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// An API key. Only the SHA-256 of its secret is kept; the id is the key's public part.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    /// Lowercase hex SHA-256 of the secret part.
    pub secret_sha256: String,
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    tenant_id: String,
    name: String,
    secret_sha256: String,
    roles: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = crate::Error;

    fn try_from(row: ApiKeyRow) -> Result<Self, Self::Error> {
        let roles = serde_json::from_str(&row.roles).map_err(|error| {
            crate::Error::Corrupt(format!("roles of API key {}: {error}", row.id))
        })?;
        Ok(Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            name: row.name,
            secret_sha256: row.secret_sha256,
            roles,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// Where a circuit breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "closed" => Self::Closed,
            "open" => Self::Open,
            "half_open" => Self::HalfOpen,
            _ => return None,
        })
    }
}

/// The circuit breaker of one (tenant, skill).
#[derive(Clone, Debug, PartialEq)]
pub struct Circuit {
    pub tenant_id: TenantId,
    pub skill_id: String,
    pub state: CircuitState,
    /// Consecutive runner or transport failures while closed.
    pub failures: i32,
    pub opened_at: Option<DateTime<Utc>>,
    /// While half-open: until when the one probe in flight holds the circuit.
    pub probe_expires_at: Option<DateTime<Utc>>,
    /// Bumped by every change; a write names the version it read.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CircuitRow {
    tenant_id: String,
    skill_id: String,
    state: String,
    failures: i32,
    opened_at: Option<DateTime<Utc>>,
    probe_expires_at: Option<DateTime<Utc>>,
    version: i64,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CircuitRow> for Circuit {
    type Error = crate::Error;

    fn try_from(row: CircuitRow) -> Result<Self, Self::Error> {
        let state = CircuitState::parse(&row.state).ok_or_else(|| {
            crate::Error::Corrupt(format!("circuit state {:?} of {}", row.state, row.skill_id))
        })?;
        Ok(Self {
            tenant_id: TenantId::new(row.tenant_id),
            skill_id: row.skill_id,
            state,
            failures: row.failures,
            opened_at: row.opened_at,
            probe_expires_at: row.probe_expires_at,
            version: row.version,
            updated_at: row.updated_at,
        })
    }
}

/// Which budget: a scope (`tenant`, `principal`, `skill`), its key (empty for the tenant) and a
/// period (`request`, `day`, `month`, `total`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct BudgetKey {
    pub scope: String,
    pub scope_key: String,
    pub period: String,
}

/// A limit set through the API.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetLimit {
    pub key: BudgetKey,
    pub amount: f64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct BudgetLimitRow {
    scope: String,
    scope_key: String,
    period: String,
    amount: f64,
    updated_by: String,
    updated_at: DateTime<Utc>,
}

impl From<BudgetLimitRow> for BudgetLimit {
    fn from(row: BudgetLimitRow) -> Self {
        Self {
            key: BudgetKey {
                scope: row.scope,
                scope_key: row.scope_key,
                period: row.period,
            },
            amount: row.amount,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        }
    }
}

/// One budget in one period window (`2026-11-24`, `2026-11`, `total`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct CounterKey {
    pub budget: BudgetKey,
    pub window: String,
    /// The UTC days the window covers, `from_day` inclusive, `to_day` exclusive
    /// (`YYYY-MM-DD`): a new counter starts from the usage already settled in them.
    pub from_day: String,
    pub to_day: String,
}

/// What a budget window has spent and has reserved for runs in flight.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counter {
    pub spent: f64,
    pub reserved: f64,
}

/// One check of a reservation: the counter must stay within `limit`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReserveCheck {
    pub counter: CounterKey,
    pub limit: f64,
}

/// A run's reservation, settled or released once.
#[derive(Clone, Debug, PartialEq)]
pub struct Reservation {
    /// The execution id.
    pub id: String,
    pub tenant_id: TenantId,
    pub amount: f64,
    /// Every counter the amount was reserved on (also those without a limit, for spending).
    pub counters: Vec<CounterKey>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Usage a settled run adds to its day.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageDelta {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub skill_id: String,
    pub principal: String,
    pub cost: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// What finishing an execution settles in the same transaction: its budget reservation (when
/// one was made) with the amount spent (`None`: released), and its usage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settlement {
    pub reservation_id: Option<String>,
    pub spent: Option<f64>,
    pub usage: Option<UsageDelta>,
    /// The job whose attempt the execution is: its outcome, recorded with the execution's end
    /// when that end applies.
    pub job: Option<JobEnd>,
}

/// A job attempt's outcome, recorded in the transaction that ends its execution.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEnd {
    pub job_id: String,
    pub fence: crate::JobFence,
    pub transition: crate::JobTransition,
}

/// What [`crate::Store::finish_execution`] recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// The execution's end applied (it was in the expected status).
    pub execution: bool,
    /// The job's outcome applied (the execution's did, and the job's fence held).
    pub job: bool,
}

/// Settled usage of one day, skill and principal.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UsageRow {
    pub day: String,
    pub skill_id: String,
    pub principal: String,
    pub executions: i64,
    pub cost: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Which usage rows to read; days are `YYYY-MM-DD`, `to_day` exclusive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageFilter {
    pub from_day: Option<String>,
    pub to_day: Option<String>,
    pub skill_id: Option<String>,
    pub principal: Option<String>,
}

/// Where an approval is; every state but `Pending` is terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
}

impl ApprovalState {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

/// One approver's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalDecision {
    pub approver: String,
    pub approve: bool,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

/// A run held for approval.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub id: String,
    pub tenant_id: TenantId,
    pub execution_id: String,
    pub skill_id: String,
    pub skill_version: String,
    pub payload_sha256: String,
    pub risk_tier: Option<String>,
    pub requester: String,
    /// Distinct approvers needed.
    pub required: i32,
    pub state: ApprovalState,
    pub policy_id: String,
    pub reason: String,
    pub approver_group: Option<String>,
    /// What the run needs to resume (deadline, the requester's roles and attributes, trace).
    pub run_context: Json,
    pub expire_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub decisions: Vec<ApprovalDecision>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApprovalRow {
    id: String,
    tenant_id: String,
    execution_id: String,
    skill_id: String,
    skill_version: String,
    payload_sha256: String,
    risk_tier: Option<String>,
    requester: String,
    required: i32,
    state: String,
    policy_id: String,
    reason: String,
    approver_group: Option<String>,
    run_context: String,
    expire_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

impl ApprovalRow {
    pub(crate) fn id(&self) -> String {
        self.id.clone()
    }

    pub(crate) fn into_approval(
        self,
        decisions: Vec<ApprovalDecision>,
    ) -> Result<Approval, crate::Error> {
        let state = ApprovalState::parse(&self.state).ok_or_else(|| {
            crate::Error::Corrupt(format!("approval {} has state {:?}", self.id, self.state))
        })?;
        let run_context = serde_json::from_str(&self.run_context)
            .map_err(|error| crate::Error::Corrupt(format!("approval {}: {error}", self.id)))?;
        Ok(Approval {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            execution_id: self.execution_id,
            skill_id: self.skill_id,
            skill_version: self.skill_version,
            payload_sha256: self.payload_sha256,
            risk_tier: self.risk_tier,
            requester: self.requester,
            required: self.required,
            state,
            policy_id: self.policy_id,
            reason: self.reason,
            approver_group: self.approver_group,
            run_context,
            expire_at: self.expire_at,
            created_at: self.created_at,
            resolved_at: self.resolved_at,
            decisions,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DecisionRow {
    pub approver: String,
    pub approve: bool,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

impl From<DecisionRow> for ApprovalDecision {
    fn from(row: DecisionRow) -> Self {
        Self {
            approver: row.approver,
            approve: row.approve,
            comment: row.comment,
            decided_at: row.decided_at,
        }
    }
}

/// How a decision ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Decided {
    /// Recorded; the approval as it is now (still pending, approved or rejected).
    Recorded(Approval),
    NotFound,
    /// It had already left pending.
    NotPending(ApprovalState),
    /// Its time was up: it is now expired (the decision was not recorded).
    Expired(Approval),
    /// This approver had already decided it.
    AlreadyDecided,
}

/// Which approvals to list, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApprovalFilter {
    pub states: Vec<ApprovalState>,
    pub skill_id: Option<String>,
    /// Only approvals requested by this subject.
    pub requester: Option<String>,
    /// Continue after this (created_at, id), the last of the previous page.
    pub before: Option<(DateTime<Utc>, String)>,
}

/// An idempotency key a request claims together with the execution it creates.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyClaim {
    pub tenant_id: TenantId,
    pub principal: String,
    /// The RPC (`Run`, `RunStream`, ...): each is a key space of its own.
    pub method: String,
    pub key: String,
    pub request_sha256: String,
    pub expires_at: DateTime<Utc>,
    /// The response when it is known at once (a held run); set later otherwise.
    pub response: Option<Json>,
}

/// What a key holds.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyRecord {
    pub request_sha256: String,
    pub execution_id: String,
    /// `None` while the request that claimed it is still running.
    pub response: Option<Json>,
}
