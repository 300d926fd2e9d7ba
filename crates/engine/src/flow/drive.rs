//! Driving a definition: its steps in order, the members of a group at once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value as Json};
use skillos_core::SkillId;
use skillos_core::flow::{FlowDefinition, Step, StepKind};
use skillos_store::{ErrorClass, ErrorOrigin, ExecutionError, ExecutionStatus};
use tokio::task::JoinSet;

use super::{FlowRun, Status, StepRun, StepStatus, next_payload};
use crate::auth::Principal;
use crate::error::reason;
use crate::orchestrator::Service;
use crate::run::{self, Entry, Outcome, Sink, Target};

/// What every step of one run shares.
#[derive(Clone)]
pub(super) struct Driver<'a> {
    pub service: &'a Service,
    pub principal: &'a Principal,
    pub step_timeout: Option<Duration>,
    pub traceparent: Option<String>,
}

impl Driver<'_> {
    pub async fn run(&self, definition: &FlowDefinition, payload: Json) -> FlowRun {
        let mut steps = Vec::new();
        let mut input = payload;
        let mut output = Json::Null;
        for (index, step) in definition.steps.iter().enumerate() {
            let ended = match &step.kind {
                StepKind::Skill(skill) => {
                    vec![self.skill(index, String::new(), skill, input.clone()).await]
                }
                StepKind::Parallel(members) => self.group(index, members, &input).await,
                // Pipelines and compositions compile to skills and groups only.
                StepKind::Loop(_)
                | StepKind::Approval(_)
                | StepKind::Wait(_)
                | StepKind::Flow(_) => {
                    vec![unsupported(index, &step.name)]
                }
            };
            let stopped = stopping(&ended).map(|step| (step.status, step.error.clone()));
            output = match &step.kind {
                StepKind::Skill(_)
                | StepKind::Loop(_)
                | StepKind::Approval(_)
                | StepKind::Wait(_)
                | StepKind::Flow(_) => ended[0].output.clone().unwrap_or(Json::Null),
                StepKind::Parallel(_) => Json::Object(
                    ended
                        .iter()
                        .map(|member| {
                            let output = member.output.clone().unwrap_or(Json::Null);
                            (member.member.clone(), output)
                        })
                        .collect::<Map<_, _>>(),
                ),
            };
            steps.extend(ended);
            if let Some((status, error)) = stopped {
                let status = match status {
                    StepStatus::PendingApproval => Status::PendingApproval,
                    _ => Status::Failed,
                };
                return FlowRun {
                    status,
                    output: None,
                    steps,
                    error,
                };
            }
            input = next_payload(output.clone());
        }
        FlowRun {
            status: Status::Succeeded,
            output: Some(output),
            steps,
            error: None,
        }
    }

    /// Runs every member at once with the same input. The first member that fails or is
    /// refused cancels the others; one held for approval lets the others finish. Members come
    /// back in their declared order.
    async fn group(&self, index: usize, members: &[Step], input: &Json) -> Vec<StepRun> {
        let mut running = JoinSet::new();
        // Each member's skill by name, and each task's member.
        let mut names = HashMap::new();
        let mut tasks = HashMap::new();
        for member in members {
            let StepKind::Skill(skill) = &member.kind else {
                continue;
            };
            let service = self.service.clone();
            let principal = self.principal.clone();
            let (step_timeout, traceparent) = (self.step_timeout, self.traceparent.clone());
            names.insert(member.name.clone(), skill.clone());
            let (name, skill, input) = (member.name.clone(), skill.clone(), input.clone());
            let handle = running.spawn(async move {
                let driver = Driver {
                    service: &service,
                    principal: &principal,
                    step_timeout,
                    traceparent,
                };
                driver.skill(index, name, &skill, input).await
            });
            tasks.insert(handle.id(), member.name.clone());
        }
        let started_at = Utc::now();
        let mut ended: HashMap<String, StepRun> = HashMap::new();
        while let Some(joined) = running.join_next_with_id().await {
            match joined {
                Ok((_, step)) => {
                    if matches!(step.status, StepStatus::Failed | StepStatus::Refused) {
                        running.abort_all();
                    }
                    ended.insert(step.member.clone(), step);
                }
                Err(error) => {
                    let Some(name) = tasks.get(&error.id()) else {
                        continue;
                    };
                    let skill = &names[name];
                    let status = if error.is_cancelled() {
                        StepStatus::Cancelled
                    } else {
                        tracing::error!(%error, skill_id = %skill, "a group member's task failed");
                        StepStatus::Failed
                    };
                    let message = if error.is_cancelled() {
                        "cancelled: another member of its group failed first"
                    } else {
                        "the step failed inside the server"
                    };
                    let code = if error.is_cancelled() {
                        reason::EXECUTION_CANCELLED
                    } else {
                        reason::INTERNAL
                    };
                    ended.insert(
                        name.clone(),
                        StepRun {
                            index,
                            member: name.clone(),
                            skill_id: skill.to_string(),
                            status,
                            execution_id: None,
                            output: None,
                            error: Some(server_error(code.name, message, false)),
                            approval_id: None,
                            started_at,
                            finished_at: Utc::now(),
                        },
                    );
                }
            }
        }
        members
            .iter()
            .filter_map(|member| ended.remove(&member.name))
            .collect()
    }

    /// Runs one skill through the whole pipeline, as the run's principal.
    ///
    /// Boxed, with `Send` in its type: a step may be a composition, whose run drives steps
    /// again, and a future that contains itself needs a box to have a size (and a named type
    /// for the compiler to see it is `Send` without following the cycle).
    fn skill<'a>(
        &'a self,
        index: usize,
        member: String,
        skill: &'a SkillId,
        payload: Json,
    ) -> Pin<Box<dyn Future<Output = StepRun> + Send + 'a>> {
        Box::pin(self.run_skill(index, member, skill, payload))
    }

    async fn run_skill(
        &self,
        index: usize,
        member: String,
        skill: &SkillId,
        payload: Json,
    ) -> StepRun {
        let request = run::Request {
            timeout: self.step_timeout,
            traceparent: self.traceparent.clone(),
            entry: Entry::Step,
            ..run::Request::skill(skill.to_string(), payload)
        };
        debug_assert!(matches!(request.target, Target::SkillId(_)));
        let started_at = Utc::now();
        let mut step = StepRun {
            index,
            member,
            skill_id: skill.to_string(),
            status: StepStatus::Refused,
            execution_id: None,
            output: None,
            error: None,
            approval_id: None,
            started_at,
            finished_at: started_at,
        };
        match self
            .service
            .run(self.principal, request, Sink::none())
            .await
        {
            Ok(answer) => match answer.outcome {
                Outcome::Executed(execution) => {
                    step.status = match execution.status {
                        ExecutionStatus::Succeeded => StepStatus::Succeeded,
                        ExecutionStatus::Cancelled => StepStatus::Cancelled,
                        ExecutionStatus::Rejected => StepStatus::Refused,
                        _ => StepStatus::Failed,
                    };
                    step.execution_id = Some(execution.id);
                    step.output = execution.output;
                    step.error = execution.error;
                }
                Outcome::PendingApproval(execution) => {
                    step.status = StepStatus::PendingApproval;
                    step.execution_id = Some(execution.id);
                    step.approval_id = execution.approval_id;
                }
                Outcome::NotRouted | Outcome::DryRun(_) | Outcome::Pipeline(_) => {
                    step.error = Some(server_error(
                        reason::INTERNAL.name,
                        "the step was not run",
                        false,
                    ));
                }
            },
            Err(error) => {
                let retryable = error.is_retryable();
                let api = crate::error::Error::from(error);
                step.execution_id = api.metadata("execution_id").map(str::to_owned);
                // A run that started and then failed (runner lost, deadline) failed; one the
                // pipeline stopped before it started was refused.
                if step.execution_id.is_some() {
                    step.status = StepStatus::Failed;
                }
                step.error = Some(server_error(api.reason.name, &api.message, retryable));
            }
        }
        step.finished_at = Utc::now();
        step
    }
}

/// The step that stops a run, if any: a failure or refusal first (the members it cancelled say
/// less), then a hold for approval, then a cancellation.
pub(super) fn stopping(ended: &[StepRun]) -> Option<&StepRun> {
    [
        &[StepStatus::Failed, StepStatus::Refused][..],
        &[StepStatus::PendingApproval],
        &[StepStatus::Cancelled],
    ]
    .iter()
    .find_map(|statuses| ended.iter().find(|step| statuses.contains(&step.status)))
}

/// A step this driver does not run.
fn unsupported(index: usize, name: &str) -> StepRun {
    let now = Utc::now();
    StepRun {
        index,
        member: String::new(),
        skill_id: String::new(),
        status: StepStatus::Refused,
        execution_id: None,
        output: None,
        error: Some(server_error(
            reason::INTERNAL.name,
            &format!("step {name}: a loop does not run in a pipeline"),
            false,
        )),
        approval_id: None,
        started_at: now,
        finished_at: now,
    }
}

/// An error of the server's own (not the skill's) for a step.
pub(super) fn server_error(code: &str, message: &str, retryable: bool) -> ExecutionError {
    let class = if retryable {
        ErrorClass::Retryable
    } else {
        ErrorClass::Permanent
    };
    ExecutionError::new(class, ErrorOrigin::Server, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(member: &str, status: StepStatus) -> StepRun {
        let now = Utc::now();
        StepRun {
            index: 0,
            member: member.to_owned(),
            skill_id: member.to_owned(),
            status,
            execution_id: None,
            output: None,
            error: None,
            approval_id: None,
            started_at: now,
            finished_at: now,
        }
    }

    #[test]
    fn a_failure_stops_a_group_before_a_hold_or_a_cancellation_does() {
        use StepStatus::*;
        let group = [
            step("a/held", PendingApproval),
            step("a/cancelled", Cancelled),
            step("a/failed", Failed),
        ];
        assert_eq!(stopping(&group).unwrap().member, "a/failed");
        assert_eq!(stopping(&group[..2]).unwrap().member, "a/held");
        assert_eq!(stopping(&group[1..2]).unwrap().member, "a/cancelled");
        assert!(stopping(&[step("a/ok", Succeeded)]).is_none());
    }
}
