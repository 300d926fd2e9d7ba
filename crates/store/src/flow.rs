//! Rows of durable flow runs (ADR 9): a run, and one row per step (or group, or loop) by its
//! path, written before the next step starts.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::{ExecutionError, TenantId};

/// Where a flow run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowRunStatus {
    /// A driver works on it under a lease (or will, once the lease of a dead one expires).
    Running,
    /// A step waits for an approval; looked at again when `lease_expires_at` is due.
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

impl FlowRunStatus {
    pub const ALL: [Self; 5] = [
        Self::Running,
        Self::Waiting,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Where a step of a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowStepStatus {
    Running,
    Succeeded,
    Failed,
    /// Its `when` was false.
    Skipped,
    Cancelled,
    /// Held for approval: the run waits.
    PendingApproval,
    /// Waits for a signal (a `wait` step) or for a sub-flow's run to end.
    Waiting,
}

impl FlowStepStatus {
    pub const ALL: [Self; 7] = [
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
        Self::PendingApproval,
        Self::Waiting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
            Self::PendingApproval => "pending_approval",
            Self::Waiting => "waiting",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The step will not run again: its output (or lack of one) is final.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled
        )
    }
}

/// A run of a flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRun {
    /// UUIDv7, so ids sort by creation time.
    pub id: String,
    pub tenant_id: TenantId,
    pub flow_id: String,
    pub version: String,
    /// The definition the run started with (the flow file as JSON); the run keeps it.
    pub document: Json,
    pub definition_sha256: String,
    pub input: Json,
    pub status: FlowRunStatus,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    /// Subject of the principal the run's steps run as.
    pub principal: String,
    /// What else of the principal a resumed run needs (roles, attributes, trace).
    pub run_context: Json,
    pub lease_token: Option<String>,
    /// A running run's lease; a waiting run's next look.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The execution a run started by Run (a flow run by id) answers for; empty otherwise.
    pub execution_id: String,
    /// How often the run was retried from its failed step; part of each step's idempotency
    /// key, so a step run again after a retry is a new run of its skill.
    pub retries: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The run and step a sub-flow's run answers to; `None` for a run started on its own.
    pub parent: Option<FlowParent>,
}

/// The `flow` step whose run a sub-flow's run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowParent {
    pub run_id: String,
    /// The step's path in the parent run.
    pub path: String,
}

/// A step of a run: a skill's attempt, or a group or loop as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowStep {
    pub run_id: String,
    /// `quote`, `checks.margin`, `poll[2].check`.
    pub path: String,
    pub name: String,
    /// `skill`, `parallel` or `loop`.
    pub kind: String,
    pub skill_id: String,
    pub status: FlowStepStatus,
    /// The current or last attempt, from 1; a loop's iterations run.
    pub attempt: i32,
    pub input: Option<Json>,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    pub execution_id: Option<String>,
    pub approval_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A signal sent to a run (SignalFlowRun), kept until a `wait` step for its name takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSignal {
    /// UUIDv7: signals of one name are taken in the order they were sent.
    pub id: String,
    pub tenant_id: TenantId,
    pub run_id: String,
    pub name: String,
    pub payload: Json,
    /// Subject of the principal that sent it.
    pub sender: String,
    pub created_at: DateTime<Utc>,
    /// The path of the step that took it.
    pub taken_by: Option<String>,
}

/// How a signal sent to a run was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signalled {
    /// Kept for the run (and the run woken, when it waits).
    Kept,
    /// No such run in the tenant.
    NotFound,
    /// The run has ended: nothing waits for signals any more.
    Finished,
    /// The run already holds as many signals nobody took as it may.
    Full,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FlowSignalRow {
    pub id: String,
    pub tenant_id: String,
    pub run_id: String,
    pub name: String,
    pub payload: sqlx::types::Json<Json>,
    pub sender: String,
    pub created_at: DateTime<Utc>,
    pub taken_by: Option<String>,
}

impl From<FlowSignalRow> for FlowSignal {
    fn from(row: FlowSignalRow) -> Self {
        Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            run_id: row.run_id,
            name: row.name,
            payload: row.payload.0,
            sender: row.sender,
            created_at: row.created_at,
            taken_by: row.taken_by,
        }
    }
}

/// Filters of a run listing; `None` and empty mean no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowRunFilter {
    pub flow_id: Option<String>,
    pub statuses: Vec<FlowRunStatus>,
    /// Only runs older than this id (the last id of the previous page).
    pub before_id: Option<String>,
    /// Only the sub-flow runs of this run.
    pub parent_run_id: Option<String>,
}

/// How a driver leaves a run: ended, or waiting until `wake_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRunEnd {
    pub status: FlowRunStatus,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    pub wake_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FlowRunRow {
    pub id: String,
    pub tenant_id: String,
    pub flow_id: String,
    pub version: String,
    pub document: sqlx::types::Json<Json>,
    pub definition_sha256: String,
    pub input: sqlx::types::Json<Json>,
    pub status: String,
    pub output: Option<sqlx::types::Json<Json>>,
    pub error: Option<sqlx::types::Json<ExecutionError>>,
    pub principal: String,
    pub run_context: sqlx::types::Json<Json>,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub execution_id: String,
    pub retries: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub parent_run_id: Option<String>,
    pub parent_path: Option<String>,
}

impl TryFrom<FlowRunRow> for FlowRun {
    type Error = crate::Error;

    fn try_from(row: FlowRunRow) -> Result<Self, Self::Error> {
        let status = FlowRunStatus::parse(&row.status).ok_or_else(|| {
            crate::Error::Corrupt(format!(
                "flow run {} has unknown status {:?}",
                row.id, row.status
            ))
        })?;
        Ok(Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            flow_id: row.flow_id,
            version: row.version,
            document: row.document.0,
            definition_sha256: row.definition_sha256,
            input: row.input.0,
            status,
            output: row.output.map(|json| json.0),
            error: row.error.map(|json| json.0),
            principal: row.principal,
            run_context: row.run_context.0,
            lease_token: row.lease_token,
            lease_expires_at: row.lease_expires_at,
            execution_id: row.execution_id,
            retries: row.retries,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
            parent: row.parent_run_id.map(|run_id| FlowParent {
                run_id,
                path: row.parent_path.unwrap_or_default(),
            }),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FlowStepRow {
    pub run_id: String,
    pub path: String,
    pub name: String,
    pub kind: String,
    pub skill_id: String,
    pub status: String,
    pub attempt: i32,
    pub input: Option<sqlx::types::Json<Json>>,
    pub output: Option<sqlx::types::Json<Json>>,
    pub error: Option<sqlx::types::Json<ExecutionError>>,
    pub execution_id: Option<String>,
    pub approval_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<FlowStepRow> for FlowStep {
    type Error = crate::Error;

    fn try_from(row: FlowStepRow) -> Result<Self, Self::Error> {
        let status = FlowStepStatus::parse(&row.status).ok_or_else(|| {
            crate::Error::Corrupt(format!(
                "step {} of flow run {} has unknown status {:?}",
                row.path, row.run_id, row.status
            ))
        })?;
        Ok(Self {
            run_id: row.run_id,
            path: row.path,
            name: row.name,
            kind: row.kind,
            skill_id: row.skill_id,
            status,
            attempt: row.attempt,
            input: row.input.map(|json| json.0),
            output: row.output.map(|json| json.0),
            error: row.error.map(|json| json.0),
            execution_id: row.execution_id,
            approval_id: row.approval_id,
            started_at: row.started_at,
            finished_at: row.finished_at,
        })
    }
}
