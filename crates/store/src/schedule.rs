//! Rows of schedules.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::TenantId;

/// Where a schedule is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScheduleState {
    Active,
    Paused,
    /// A one-shot schedule that has fired.
    Completed,
}

impl ScheduleState {
    pub const ALL: [Self; 3] = [Self::Active, Self::Paused, Self::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == value)
    }
}

/// A schedule. `kind` is `cron`, `interval` or `once`; the server gives it and `catch_up`
/// their meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub tenant_id: TenantId,
    pub skill_id: String,
    pub payload: Json,
    pub description: String,
    pub kind: String,
    pub cron_expression: String,
    pub time_zone: String,
    pub interval_ms: Option<i64>,
    pub anchor_at: Option<DateTime<Utc>>,
    pub once_at: Option<DateTime<Utc>>,
    pub catch_up: String,
    pub max_attempts: i32,
    pub state: ScheduleState,
    /// The next nominal fire time; unset when paused or completed.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fire_at: Option<DateTime<Utc>>,
    pub last_job_id: String,
    /// Subject of the principal the fires run as (the creator).
    pub principal: String,
    pub run_context: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of a schedule listing; empty and `None` mean no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleFilter {
    pub states: Vec<ScheduleState>,
    pub skill_id: Option<String>,
    /// Only schedules after this (create time, id): the last of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
}

/// What a manual fire did.
#[derive(Clone, Debug, PartialEq)]
pub enum ManualFire {
    Fired,
    /// The tenant has no such schedule; nothing stored.
    NoSchedule,
    /// The idempotency key is held; nothing stored.
    KeyHeld(crate::IdempotencyRecord),
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    pub id: String,
    pub tenant_id: String,
    pub skill_id: String,
    pub payload: sqlx::types::Json<Json>,
    pub description: String,
    pub kind: String,
    pub cron_expression: String,
    pub time_zone: String,
    pub interval_ms: Option<i64>,
    pub anchor_at: Option<DateTime<Utc>>,
    pub once_at: Option<DateTime<Utc>>,
    pub catch_up: String,
    pub max_attempts: i32,
    pub state: String,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fire_at: Option<DateTime<Utc>>,
    pub last_job_id: String,
    pub principal: String,
    pub run_context: sqlx::types::Json<Json>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = crate::Error;

    fn try_from(row: ScheduleRow) -> Result<Self, Self::Error> {
        let state = ScheduleState::parse(&row.state).ok_or_else(|| {
            crate::Error::Corrupt(format!(
                "schedule {} has unknown state {:?}",
                row.id, row.state
            ))
        })?;
        Ok(Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            skill_id: row.skill_id,
            payload: row.payload.0,
            description: row.description,
            kind: row.kind,
            cron_expression: row.cron_expression,
            time_zone: row.time_zone,
            interval_ms: row.interval_ms,
            anchor_at: row.anchor_at,
            once_at: row.once_at,
            catch_up: row.catch_up,
            max_attempts: row.max_attempts,
            state,
            next_fire_at: row.next_fire_at,
            last_fire_at: row.last_fire_at,
            last_job_id: row.last_job_id,
            principal: row.principal,
            run_context: row.run_context.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
