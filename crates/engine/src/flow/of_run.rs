//! A flow as a skill: Run, RunStream, jobs (and so schedules and webhook triggers) run a flow
//! by its id like any skill. The execution is dispatched to a flow run stored for it, which
//! the flow drivers (`runs.rs`) drive as any other; the execution waits for the run's end
//! within its timeout, and answers its output or the error of the step that failed.
//!
//! A job's attempts share one flow run, keyed by the job: an attempt after a crash waits for
//! the run the first attempt started (which the drivers resume) instead of starting the flow
//! again. A direct run that times out or whose caller goes away cancels its flow run.

use std::sync::Arc;
use std::time::Duration;

use skillos_core::flow::Flow;
use skillos_store::{Execution, ExecutionError, FlowRunStatus};

use super::runs::new_run;
use crate::auth::Principal;
use crate::dispatch::{self, Dispatched, Finished, SkillError};
use crate::orchestrator::Service;
use crate::run::IdempotencyKey;

/// The key space of the flow runs of executions.
const METHOD: &str = "FlowOfRun";
/// The longest pause between two looks at the run.
const MAX_PAUSE: Duration = Duration::from_millis(250);

impl Service {
    /// Starts (or, for a job's later attempt, finds) the execution's flow run and waits for
    /// its end.
    pub(crate) async fn run_flow(
        &self,
        principal: &Principal,
        flow: &Arc<Flow>,
        execution: &Execution,
        timeout: Duration,
    ) -> Result<Dispatched, dispatch::Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let owner = execution.job_id.as_deref().unwrap_or(&execution.id);
        let key = IdempotencyKey {
            key: format!("flow-of:{owner}"),
            method: METHOD,
            request_sha256: super::durable::request_sha256(
                &flow.id.to_string(),
                &execution.payload,
            ),
        };
        let claim = self.claim(principal, &key);
        let run = new_run(
            principal,
            flow,
            execution.payload.clone(),
            execution.id.clone(),
            None,
        );
        let run_id = match self.store.insert_flow_run(&run, Some(&claim)).await {
            Ok(None) => run.id,
            // An earlier attempt of the job started it.
            Ok(Some(record)) => record.execution_id,
            Err(error) => {
                let message = format!("the flow run could not be stored: {error}");
                return Ok(failed("STORE_UNAVAILABLE", message, true));
            }
        };
        self.flow_wake.notify_one();
        // Nobody waits for a direct run's flow once it stops waiting: it is cancelled then.
        let mut guard = CancelOnDrop {
            service: self.clone(),
            principal: principal.clone(),
            run_id: run_id.clone(),
            armed: execution.job_id.is_none(),
        };
        // Told at once when this replica records the run's end; another replica's end is
        // found by the looks at the store, at growing pauses.
        let endings = self.flow_endings.clone();
        let ending = endings.watch(&run_id);
        let _forget = Forget {
            endings: &endings,
            run_id: &run_id,
        };
        let mut pause = Duration::from_millis(10);
        loop {
            match self.store.get_flow_run(&principal.tenant, &run_id).await {
                Ok(Some(run)) if run.status == FlowRunStatus::Cancelled => {
                    guard.armed = false;
                    return Err(dispatch::Error::Cancelled);
                }
                Ok(Some(run)) if run.status.is_terminal() => {
                    guard.armed = false;
                    return Ok(ended(run.status, run.output, run.error));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    guard.armed = false;
                    let message = format!("the flow run {run_id} is gone");
                    return Ok(failed(
                        crate::error::reason::FLOW_RUN_NOT_FOUND.name,
                        message,
                        false,
                    ));
                }
                Err(error) => tracing::warn!(%error, run_id, "cannot read a flow run"),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(dispatch::Error::DeadlineExceeded);
            }
            tokio::select! {
                () = tokio::time::sleep(pause.min(deadline - now)) => {}
                () = ending.notified() => {}
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

/// The execution's end for the flow run's.
fn ended(
    status: FlowRunStatus,
    output: Option<serde_json::Value>,
    error: Option<ExecutionError>,
) -> Dispatched {
    match (status, error) {
        (FlowRunStatus::Succeeded, _) => dispatched(Ok(output.unwrap_or(serde_json::Value::Null))),
        (_, Some(error)) => failed(&error.code, error.message, false),
        (status, None) => failed(
            "FLOW_RUN_ENDED",
            format!("the flow run ended {}", status.as_str()),
            false,
        ),
    }
}

fn failed(code: &str, message: String, retryable: bool) -> Dispatched {
    dispatched(Err(SkillError {
        retryable,
        code: code.to_owned(),
        message,
    }))
}

fn dispatched(outcome: Result<serde_json::Value, SkillError>) -> Dispatched {
    Dispatched {
        finished: Finished {
            outcome,
            usage: dispatch::Usage::default(),
        },
        runner_id: String::new(),
        attempts: 1,
    }
}

/// Stops watching for a run's end when the Run of its flow stops waiting.
struct Forget<'a> {
    endings: &'a super::endings::Endings,
    run_id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.endings.forget(self.run_id);
    }
}

/// Cancels the flow run of a direct run whose caller stopped waiting (its deadline passed, or
/// it went away).
struct CancelOnDrop {
    service: Service,
    principal: Principal,
    run_id: String,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (service, principal, run_id) = (
            self.service.clone(),
            self.principal.clone(),
            std::mem::take(&mut self.run_id),
        );
        tokio::spawn(async move {
            let error = ExecutionError::permanent(
                crate::error::reason::EXECUTION_CANCELLED.name,
                "the run of the flow stopped waiting for it",
            );
            let store = &service.store;
            if let Err(error) = store
                .cancel_flow_run(&principal.tenant, &run_id, &error)
                .await
            {
                tracing::warn!(%error, run_id, "cannot cancel an abandoned flow run");
                return;
            }
            if let Err(error) = super::durable::withdraw_held(&service, &principal, &run_id).await {
                tracing::warn!(%error, run_id, "cannot withdraw the approvals of a flow run");
            }
            let tenant = &principal.tenant;
            if let Err(error) =
                super::durable::cancel_children(&service, tenant, &run_id, None, &error).await
            {
                tracing::warn!(%error, run_id, "cannot cancel the sub-flow runs of a flow run");
            }
        });
    }
}
