//! Runs of many steps (ADR 9): a [`FlowDefinition`] driven step by step, each step a Run
//! through the whole pipeline (policy, approval policies, budget, breaker, rate limits) as the
//! caller.
//!
//! It drives pipelines (`RunPipeline`), compositions (at their execution's dispatch,
//! `compose.rs`) and split queries (`split.rs`): the caller waits for the end, each step's
//! execution is stored like any Run's, and a step's output is the next step's payload. A run
//! of steps is not yet a stored record of its own, so a restart ends it where it was.

mod compose;
mod cost;
mod drive;
mod durable;
pub(crate) mod endings;
mod of_run;
pub mod runs;
pub mod segments;
mod split;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use skillos_core::flow::{DefinitionError, FlowDefinition};
use skillos_store::ExecutionError;

use crate::auth::Principal;
use crate::error::reason;
use crate::orchestrator::{self, Service};

/// The id an approval step's held execution (and its approval) goes by: the flow's id and
/// the step's path, `demo/quote_and_ship#sign_off`. No skill has such an id.
pub(crate) fn gate_id(flow_id: &str, path: &str) -> String {
    format!("{flow_id}#{path}")
}

/// Is this the execution of an approval step (see [`gate_id`])?
pub(crate) fn is_gate(skill_id: &str) -> bool {
    skill_id.contains('#')
}

/// A pipeline as a caller asks for it.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Each a skill id, or ids separated by `|` to run at once.
    pub steps: Vec<String>,
    /// The first step's payload.
    pub payload: Json,
    /// Each step's timeout; `None`: the skill's own, else the server's default.
    pub step_timeout: Option<Duration>,
    pub traceparent: Option<String>,
}

/// How a run of steps ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every step succeeded; the output is the last step's.
    Succeeded,
    /// A step failed or was refused; later steps did not run.
    Failed,
    /// A step is held for approval. It runs by itself once approved, but the steps after it
    /// do not (that needs a stored run of steps).
    PendingApproval,
}

/// How one step (or one member of a group) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    Succeeded,
    /// The skill answered with an error.
    Failed,
    /// The pipeline refused the step before it ran (budget, breaker, rate limit, no runner).
    Refused,
    /// Another member of its group failed first.
    Cancelled,
    PendingApproval,
}

/// One step of a run, or one member of a group.
#[derive(Clone, Debug)]
pub struct StepRun {
    /// The step's position in the sequence, from 0.
    pub index: usize,
    /// The member's name in its group (its skill id, `#2` for a repeat); empty for a step of
    /// one skill.
    pub member: String,
    pub skill_id: String,
    pub status: StepStatus,
    pub execution_id: Option<String>,
    pub output: Option<Json>,
    pub error: Option<ExecutionError>,
    pub approval_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A run of steps as it ended.
#[derive(Clone, Debug)]
pub struct FlowRun {
    pub status: Status,
    /// The last step's output, when every step succeeded.
    pub output: Option<Json>,
    /// Every step and member that started, in the order they ended within each step.
    pub steps: Vec<StepRun>,
    /// Why the run failed: the failed step's error.
    pub error: Option<ExecutionError>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid pipeline: {0}")]
    Definition(#[from] DefinitionError),
    /// A step the caller may not run, or that does not exist: nothing ran.
    #[error("step {index} ({skill_id}): {source}")]
    Step {
        index: usize,
        skill_id: String,
        source: Box<orchestrator::Error>,
    },
    #[error("invalid payload: a pipeline's payload must be a JSON object")]
    PayloadNotObject,
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Definition(source) => {
                let field = match source.index() {
                    Some(index) => format!("steps[{index}]"),
                    None => "steps".to_owned(),
                };
                let message = format!("invalid pipeline: {source}");
                crate::error::Error::field(reason::INVALID_PIPELINE, field, message)
            }
            Error::Step {
                index,
                skill_id,
                source,
            } => {
                let inner = crate::error::Error::from(*source);
                let message = format!("step {index} ({skill_id}): {}", inner.message);
                crate::error::Error {
                    message: crate::error::bounded(message, crate::error::MAX_MESSAGE_BYTES),
                    ..inner
                }
                .with("step", index.to_string())
            }
            Error::PayloadNotObject => {
                crate::error::Error::field(reason::INVALID_PAYLOAD, "payload", error.to_string())
            }
        }
    }
}

impl Service {
    /// Runs a pipeline to its end. Every step's skill must exist and be allowed for the caller
    /// before the first one runs; a step's own failure or refusal is the run's FAILED status,
    /// with the steps that ran.
    pub async fn run_pipeline(
        &self,
        principal: &Principal,
        pipeline: Pipeline,
    ) -> Result<FlowRun, crate::error::Error> {
        let definition = FlowDefinition::pipeline(&pipeline.steps).map_err(Error::from)?;
        if !pipeline.payload.is_object() {
            return Err(Error::PayloadNotObject.into());
        }
        self.admit_caller(principal).await?;
        self.run_definition(
            principal,
            &definition,
            pipeline.payload,
            pipeline.step_timeout,
            pipeline.traceparent,
        )
        .await
    }

    /// Checks every step of a definition for the caller, then runs it to its end (the caller
    /// was admitted).
    pub(crate) async fn run_definition(
        &self,
        principal: &Principal,
        definition: &FlowDefinition,
        payload: Json,
        step_timeout: Option<Duration>,
        traceparent: Option<String>,
    ) -> Result<FlowRun, crate::error::Error> {
        self.check_steps(principal, definition).await?;
        Ok(drive::Driver {
            service: self,
            principal,
            step_timeout,
            traceparent,
        }
        .run(definition, payload)
        .await)
    }

    /// Every skill of the definition exists for the caller's tenant and a policy lets the
    /// caller run it, so a run does not fail halfway for a permission it never had.
    pub(crate) async fn check_steps(
        &self,
        principal: &Principal,
        definition: &FlowDefinition,
    ) -> Result<(), Error> {
        match self.step_refusals(principal, definition, 1).await.pop() {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// The first `most` steps, in order, whose skill does not exist for the caller or may not
    /// be run by it; a sub-flow's steps too (named by the top-level step that runs it), since
    /// the catalog's sub-flows do not call back into each other.
    pub(crate) async fn step_refusals(
        &self,
        principal: &Principal,
        definition: &FlowDefinition,
        most: usize,
    ) -> Vec<Error> {
        let mut refusals = Vec::new();
        let top = definition
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| (index, step.clone()));
        let mut steps: std::collections::VecDeque<(usize, skillos_core::flow::Step)> =
            top.collect();
        while let Some((index, step)) = steps.pop_front() {
            for flow in step.flows() {
                let flow_id = flow.to_string();
                match self.skill_for(principal, &flow_id).await {
                    Ok(view) => {
                        if let Some(sub) = &view.skill.flow {
                            let nested = sub.definition.steps.iter().cloned();
                            steps.extend(nested.map(|step| (index, step)));
                        }
                    }
                    Err(source) => {
                        refusals.push(Error::Step {
                            index,
                            skill_id: flow_id,
                            source: Box::new(source),
                        });
                        if refusals.len() >= most {
                            return refusals;
                        }
                    }
                }
            }
            for skill in step.skills() {
                let skill_id = skill.to_string();
                if let Err(source) = self.skill_for(principal, &skill_id).await {
                    refusals.push(Error::Step {
                        index,
                        skill_id,
                        source: Box::new(source),
                    });
                    if refusals.len() >= most {
                        return refusals;
                    }
                }
            }
        }
        refusals
    }
}

/// The payload the next step gets for a step's output: an object as it is; a string as
/// `{"text": ...}` (what a skill reading text takes); anything else as `{"value": ...}`.
pub fn next_payload(output: Json) -> Json {
    match output {
        Json::Object(_) => output,
        Json::String(text) => serde_json::json!({ "text": text }),
        other => serde_json::json!({ "value": other }),
    }
}
