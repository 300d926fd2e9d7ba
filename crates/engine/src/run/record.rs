//! Stage 9, record: the execution a run creates, stored RUNNING (with its idempotency key in
//! the same statement) before it is dispatched, so a crash never loses a run that started.

use serde_json::Value as Json;
use skillos_store::{Execution, ExecutionStatus, IdempotencyClaim};

use super::idempotency::IdempotencyKey;
use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use skillos_core::registry::Skill;

/// The execution a new run creates, not yet stored: RUNNING from now (a held run changes that).
pub(crate) fn new_execution(
    principal: &Principal,
    skill: &Skill,
    payload: Json,
    job_id: Option<String>,
) -> Execution {
    let manifest = &skill.manifest;
    let now = skillos_store::now();
    Execution {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: principal.tenant.clone(),
        skill_id: manifest.id.to_string(),
        skill_version: manifest.version.to_string(),
        status: ExecutionStatus::Running,
        principal: principal.subject.clone(),
        payload,
        output: None,
        error: None,
        runner_id: None,
        attempts: 0,
        cost: 0.0,
        created_at: now,
        started_at: Some(now),
        finished_at: None,
        approval_id: None,
        job_id,
    }
}

impl Service {
    /// Stores the execution, claiming its idempotency key in the same statement; `Some` when
    /// the key was taken meanwhile (the answer is then the other request's, and nothing is
    /// stored).
    pub(crate) async fn record(
        &self,
        principal: &Principal,
        execution: &Execution,
        idempotency: Option<(&IdempotencyKey, &IdempotencyClaim)>,
    ) -> Result<Option<Execution>, Error> {
        let Some((key, claim)) = idempotency else {
            self.store.insert_execution(execution).await?;
            return Ok(None);
        };
        match self
            .store
            .insert_execution_claimed(execution, claim)
            .await?
        {
            None => Ok(None),
            Some(taken) => Ok(Some(self.replay_record(principal, key, taken).await?)),
        }
    }
}
