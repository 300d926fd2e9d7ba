//! Rows of the durable job queue.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::TenantId;

/// Where a job is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting until it is due and a worker claims it (also between retries).
    Queued,
    /// Claimed under a lease; an attempt runs.
    Running,
    /// The current attempt waits for an approval.
    PendingApproval,
    Succeeded,
    /// Dead letter: out of attempts, a permanent error, or refused.
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Running,
        Self::PendingApproval,
        Self::Succeeded,
        Self::Dead,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::PendingApproval => "pending_approval",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == value)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Cancelled)
    }
}

/// What created a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobSource {
    Api,
    Webhook,
    Schedule,
}

impl JobSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Webhook => "webhook",
            Self::Schedule => "schedule",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Api, Self::Webhook, Self::Schedule]
            .into_iter()
            .find(|source| source.as_str() == value)
    }
}

/// A durable request to run a skill in the background.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// UUIDv7, so ids sort by creation time.
    pub id: String,
    pub tenant_id: TenantId,
    pub skill_id: String,
    pub payload: Json,
    pub state: JobState,
    /// The current or last attempt of the current chain, 1-based; 0 before the first.
    pub attempt: i32,
    pub max_attempts: i32,
    pub timeout_ms: Option<i64>,
    pub priority: i32,
    pub next_run_at: Option<DateTime<Utc>>,
    /// The claim the running attempt holds; every change of a running job is fenced on it.
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The execution of the current or last attempt.
    pub execution_id: Option<String>,
    pub last_error: Option<crate::ExecutionError>,
    pub result: Option<Json>,
    pub source: JobSource,
    /// The trigger or schedule that created the job; empty for the API.
    pub source_id: String,
    /// The nominal time of the schedule fire that created the job.
    pub fire_time: Option<DateTime<Utc>>,
    pub idempotency_key: String,
    /// Subject of the principal the job runs as.
    pub principal: String,
    /// What else of the principal a later attempt needs (roles, attributes, trace).
    pub run_context: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Filters of a job listing; `None` and empty mean no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    pub skill_id: Option<String>,
    pub source: Option<JobSource>,
    pub source_id: Option<String>,
    /// Only jobs older than this id (the last id of the previous page).
    pub before_id: Option<String>,
}

/// Which version of a job a change applies to: a compare-and-set, so two writers cannot both
/// move it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobFence {
    /// A running job under this lease token.
    Lease(String),
    /// A job in this state.
    State(JobState),
}

/// What a change does to the attempt counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttemptChange {
    #[default]
    Keep,
    /// The attempt did not count (it never reached a runner): one less.
    Refund,
    /// A new attempt chain: back to 0.
    Reset,
}

/// A state change of a job. Leaving RUNNING clears the lease; a terminal state stamps
/// `finished_at`; QUEUED clears `finished_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobTransition {
    pub state: JobState,
    /// When a queued job is due.
    pub next_run_at: Option<DateTime<Utc>>,
    pub attempt: AttemptChange,
    pub max_attempts: Option<i32>,
    /// Replaces the stored value when set.
    pub execution_id: Option<String>,
    /// Replaces the stored value when set.
    pub last_error: Option<crate::ExecutionError>,
    pub result: Option<Json>,
}

impl JobTransition {
    pub fn to(state: JobState) -> Self {
        Self {
            state,
            next_run_at: None,
            attempt: AttemptChange::Keep,
            max_attempts: None,
            execution_id: None,
            last_error: None,
            result: None,
        }
    }
}

/// Row shape shared by both backends.
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: String,
    pub tenant_id: String,
    pub skill_id: String,
    pub payload: sqlx::types::Json<Json>,
    pub state: String,
    pub attempt: i32,
    pub max_attempts: i32,
    pub timeout_ms: Option<i64>,
    pub priority: i32,
    pub next_run_at: Option<DateTime<Utc>>,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub execution_id: Option<String>,
    pub last_error: Option<sqlx::types::Json<crate::ExecutionError>>,
    pub result: Option<sqlx::types::Json<Json>>,
    pub source: String,
    pub source_id: String,
    pub fire_time: Option<DateTime<Utc>>,
    pub idempotency_key: String,
    pub principal: String,
    pub run_context: sqlx::types::Json<Json>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for Job {
    type Error = crate::Error;

    fn try_from(row: JobRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str, value: &str| {
            crate::Error::Corrupt(format!("job {} has unknown {what} {value:?}", row.id))
        };
        let state = JobState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?;
        let source = JobSource::parse(&row.source).ok_or_else(|| corrupt("source", &row.source))?;
        Ok(Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            skill_id: row.skill_id,
            payload: row.payload.0,
            state,
            attempt: row.attempt,
            max_attempts: row.max_attempts,
            timeout_ms: row.timeout_ms,
            priority: row.priority,
            next_run_at: row.next_run_at,
            lease_token: row.lease_token,
            lease_expires_at: row.lease_expires_at,
            execution_id: row.execution_id,
            last_error: row.last_error.map(|json| json.0),
            result: row.result.map(|json| json.0),
            source,
            source_id: row.source_id,
            fire_time: row.fire_time,
            idempotency_key: row.idempotency_key,
            principal: row.principal,
            run_context: row.run_context.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
        })
    }
}
