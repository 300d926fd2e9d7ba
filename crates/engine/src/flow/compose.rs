//! A composition's run: its execution is dispatched to the flow driver instead of a runner,
//! each step a Run of its own as the composition's caller.

use std::time::Duration;

use serde_json::Value as Json;
use skillos_core::flow::Composition;
use skillos_store::Execution;

use super::drive::Driver;
use super::{FlowRun, Status};
use crate::auth::Principal;
use crate::dispatch::{self, Dispatched, Finished, SkillError};
use crate::orchestrator::Service;

impl Service {
    /// Runs a composition's steps within the execution's timeout; the last step's output is the
    /// execution's output, the error of the step that stopped it its error.
    pub(crate) async fn run_composition(
        &self,
        principal: &Principal,
        composition: &Composition,
        execution: &Execution,
        timeout: Duration,
        traceparent: Option<String>,
    ) -> Result<Dispatched, dispatch::Error> {
        let driver = Driver {
            service: self,
            principal,
            step_timeout: None,
            traceparent,
        };
        let steps = driver.run(&composition.definition, execution.payload.clone());
        let run = tokio::time::timeout(timeout, steps)
            .await
            .map_err(|_| dispatch::Error::DeadlineExceeded)?;
        Ok(Dispatched {
            finished: Finished {
                outcome: outcome(run),
                usage: dispatch::Usage::default(),
            },
            runner_id: String::new(),
            attempts: 1,
        })
    }
}

fn outcome(run: FlowRun) -> Result<Json, SkillError> {
    if run.status == Status::Succeeded {
        return Ok(run.output.unwrap_or(Json::Null));
    }
    let stopped = super::drive::stopping(&run.steps);
    let (code, message) = match (&run.error, stopped) {
        (Some(error), Some(step)) => (
            error.code.clone(),
            format!("step {} ({}): {}", step.index, step.skill_id, error.message),
        ),
        (Some(error), None) => (error.code.clone(), error.message.clone()),
        (None, Some(step)) if run.status == Status::PendingApproval => (
            "STEP_PENDING_APPROVAL".to_owned(),
            format!(
                "step {} ({}) is held for approval; a composition does not wait for it",
                step.index, step.skill_id
            ),
        ),
        _ => (
            "STEP_FAILED".to_owned(),
            "a step did not succeed".to_owned(),
        ),
    };
    Err(SkillError {
        retryable: false,
        code,
        message,
    })
}
