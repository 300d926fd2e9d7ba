//! Rows of webhook triggers, their secrets, and accepted deliveries.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::TenantId;

/// A trigger made through the API. The scheme and payload mapping are kept as their names;
/// the server gives them meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    /// Unique across tenants: it is part of the webhook URL.
    pub id: String,
    pub tenant_id: TenantId,
    pub skill_id: String,
    pub description: String,
    pub scheme: String,
    pub allow_unsigned: bool,
    pub tolerance_seconds: i64,
    pub payload_mapping: String,
    pub forwarded_headers: Vec<String>,
    pub enabled: bool,
    /// Subject of the principal the trigger's jobs run as (its creator).
    pub principal: String,
    /// The roles and attributes of that principal when it made the trigger.
    pub run_context: Json,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One signing secret of a trigger.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct TriggerSecret {
    pub id: String,
    pub trigger_id: String,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// Unset while it is the current secret; set by a rotation to the end of its grace.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An accepted delivery, recorded with the job it created.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub tenant_id: TenantId,
    pub trigger_id: String,
    pub delivery_id: String,
    /// A second delivery with the same id is a duplicate until then.
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TriggerRow {
    pub id: String,
    pub tenant_id: String,
    pub skill_id: String,
    pub description: String,
    pub scheme: String,
    pub allow_unsigned: bool,
    pub tolerance_seconds: i64,
    pub payload_mapping: String,
    pub forwarded_headers: sqlx::types::Json<Vec<String>>,
    pub enabled: bool,
    pub principal: String,
    pub run_context: sqlx::types::Json<Json>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TriggerRow> for Trigger {
    fn from(row: TriggerRow) -> Self {
        Self {
            id: row.id,
            tenant_id: TenantId::new(row.tenant_id),
            skill_id: row.skill_id,
            description: row.description,
            scheme: row.scheme,
            allow_unsigned: row.allow_unsigned,
            tolerance_seconds: row.tolerance_seconds,
            payload_mapping: row.payload_mapping,
            forwarded_headers: row.forwarded_headers.0,
            enabled: row.enabled,
            principal: row.principal,
            run_context: row.run_context.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
