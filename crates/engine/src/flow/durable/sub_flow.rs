//! A `flow` step: another flow of the catalog, run as a run of its own.
//!
//! The child run is stored with a key made of the parent run, its retries, the step's path
//! and the attempt, so a driver that resumes the parent finds the child it started instead of
//! starting another. The child runs as the parent's principal, on the definition the catalog
//! has when it starts; the parent waits without a driver and is woken when the child ends.
//! Cancelling the parent (or the group the step is in) cancels the child and its own
//! children.

use serde_json::Value as Json;
use skillos_core::SkillId;
use skillos_store::{
    ExecutionError, FlowParent, FlowRun, FlowRunFilter, FlowRunStatus, FlowStep, FlowStepStatus,
    TenantId,
};

use super::{Driver, Flowed, Stop, WAKE_CHECK, from_now, named};
use crate::auth::{Principal, RunContext};
use crate::error::reason;
use crate::flow::drive::server_error;
use crate::flow::runs::new_run;
use crate::orchestrator::Service;
use crate::run::IdempotencyKey;

/// The key space of sub-flow runs.
const METHOD: &str = "SubFlow";
/// Most children of one run cancelled with it.
const MAX_CHILDREN: u32 = 1000;

impl Driver {
    /// Starts the step's sub-flow run (once), then follows it: its output is the child's, a
    /// child that failed or was cancelled fails the step with its error.
    pub(super) async fn sub_flow(&self, id: &SkillId, row: &mut FlowStep) -> Flowed<Json> {
        let child = match self.child(id, row).await? {
            Ok(child) => child,
            Err(error) => {
                let named = named(&row.path, &row.skill_id, &error);
                row.error = Some(error);
                return Err(Stop::Failed(named));
            }
        };
        match child.status {
            FlowRunStatus::Succeeded => Ok(child.output.unwrap_or(Json::Null)),
            FlowRunStatus::Failed | FlowRunStatus::Cancelled => {
                let error = child.error.unwrap_or_else(|| {
                    server_error(
                        reason::EXECUTION_CANCELLED.name,
                        &format!("sub-flow run {} was cancelled", child.id),
                        false,
                    )
                });
                let error = ExecutionError {
                    message: format!("sub-flow run {}: {}", child.id, error.message),
                    ..error
                };
                let named = named(&row.path, &row.skill_id, &error);
                row.error = Some(error);
                Err(Stop::Failed(named))
            }
            FlowRunStatus::Running | FlowRunStatus::Waiting => {
                if row.status != FlowStepStatus::Waiting {
                    row.status = FlowStepStatus::Waiting;
                    self.put(row).await?;
                }
                Err(Stop::Waiting(from_now(WAKE_CHECK)))
            }
        }
    }

    /// The step's child run: the one stored for its key, else a new one.
    async fn child(&self, id: &SkillId, row: &FlowStep) -> Flowed<Result<FlowRun, ExecutionError>> {
        let service = &self.service;
        let Some(flow) = service
            .skills
            .skill(id)
            .ok()
            .and_then(|skill| skill.flow.clone())
        else {
            return Ok(Err(server_error(
                reason::FLOW_NOT_FOUND.name,
                &format!("no flow {id}"),
                false,
            )));
        };
        let input = row.input.clone().unwrap_or(Json::Null);
        let input = crate::flow::next_payload(input);
        if let Some(schema) = &flow.input_schema
            && let Err(error) = service.check_schema(&id.to_string(), schema, &input)
        {
            let api = crate::error::Error::from(error);
            return Ok(Err(server_error(api.reason.name, &api.message, false)));
        }
        let key = IdempotencyKey {
            key: format!(
                "sub-flow:{}:{}:{}:{}",
                self.run.id, self.run.retries, row.path, row.attempt
            ),
            method: METHOD,
            request_sha256: super::request_sha256(&id.to_string(), &input),
        };
        let claim = service.claim(&self.principal, &key);
        let mut child = new_run(&self.principal, &flow, input, String::new(), None);
        child.parent = Some(FlowParent {
            run_id: self.run.id.clone(),
            path: row.path.clone(),
        });
        let child_id = match service.store.insert_flow_run(&child, Some(&claim)).await? {
            None => {
                tracing::info!(run_id = %self.run.id, child = %child.id, path = %row.path, "sub-flow run started");
                service.flow_wake.notify_one();
                return Ok(Ok(child));
            }
            Some(record) => record.execution_id,
        };
        match service
            .store
            .get_flow_run(&self.principal.tenant, &child_id)
            .await?
        {
            Some(child) => Ok(Ok(child)),
            None => Ok(Err(server_error(
                reason::FLOW_RUN_NOT_FOUND.name,
                &format!("sub-flow run {child_id} is gone"),
                false,
            ))),
        }
    }
}

/// Cancels the unfinished sub-flow runs of `run_id` (of the steps under `prefix`, when one is
/// given) and theirs, withdrawing the approvals they hold.
pub(crate) async fn cancel_children(
    service: &Service,
    tenant: &TenantId,
    run_id: &str,
    prefix: Option<&str>,
    error: &ExecutionError,
) -> Result<(), skillos_store::Error> {
    let mut parents = vec![(run_id.to_owned(), prefix.map(str::to_owned))];
    while let Some((parent, prefix)) = parents.pop() {
        let filter = FlowRunFilter {
            parent_run_id: Some(parent),
            statuses: vec![FlowRunStatus::Running, FlowRunStatus::Waiting],
            ..Default::default()
        };
        let children = service
            .store
            .list_flow_runs(tenant, &filter, MAX_CHILDREN)
            .await?;
        for child in children {
            let under = child.parent.as_ref().is_some_and(|parent| {
                prefix
                    .as_deref()
                    .is_none_or(|prefix| parent.path.starts_with(prefix))
            });
            if !under {
                continue;
            }
            if service
                .store
                .cancel_flow_run(tenant, &child.id, error)
                .await?
            {
                let starter = Principal::stored(
                    &child.principal,
                    &child.tenant_id,
                    RunContext::from_json(&child.run_context),
                );
                super::withdraw_held(service, &starter, &child.id).await?;
                tracing::info!(run_id = %child.id, "sub-flow run cancelled with its parent");
            }
            parents.push((child.id, None));
        }
    }
    Ok(())
}
