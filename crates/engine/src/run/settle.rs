//! Stage 11, settle: how the dispatch ended becomes the execution's final state, the breaker's
//! outcome, the budget settled (charged the reported cost) or released, and the usage, in one
//! transaction; then the idempotency key's response is recorded.

use std::sync::Arc;

use skillos_store::{
    ErrorClass, ErrorOrigin, Execution, ExecutionError, ExecutionStatus, ExecutionUpdate,
    IdempotencyClaim, Store,
};

use crate::auth::Principal;
use crate::breaker::{Admission, Outcome};
use crate::budget::{self, Plan};
use crate::dispatch;
use crate::error::reason;
use crate::orchestrator::{Error, Service};

/// A dispatched run, to settle.
pub(crate) struct Dispatched<'a> {
    pub execution: &'a Execution,
    pub plan: &'a Plan,
    pub admission: Admission,
    pub claim: Option<&'a IdempotencyClaim>,
    pub job_end: Option<&'a dyn super::JobEnding>,
    pub result: Result<dispatch::Dispatched, dispatch::Error>,
}

impl Service {
    /// Records the end of a dispatched run; an error when the run could not be done (naming
    /// the execution). The ended execution as stored, when this end was the one recorded
    /// (`None`: something else ended it first, read it back).
    pub(crate) async fn settle(
        &self,
        principal: &Principal,
        run: Dispatched<'_>,
        abandoned: &mut Abandoned,
    ) -> Result<Option<Execution>, Error> {
        let Dispatched {
            execution,
            plan,
            admission,
            claim,
            job_end,
            result: dispatched,
        } = run;
        self.record_breaker(principal, &execution.skill_id, admission, &dispatched)
            .await;
        let (update, failure) = finish(&dispatched);
        let succeeded = match &dispatched {
            Ok(done) if done.finished.outcome.is_ok() => Some(&done.finished.usage),
            _ => None,
        };
        let mut settlement =
            self.governance
                .budgets
                .settlement(principal, &execution.skill_id, plan, succeeded);
        let error = failure.map(|source| {
            crate::error::Error::from(Error::Dispatch {
                execution_id: execution.id.clone(),
                source,
            })
        });
        if let Some(job_end) = job_end {
            let answer = match &error {
                Some(error) => Err(Error::Api(error.clone())),
                None => Ok(update.applied_to(execution.clone())),
            };
            settlement.job = Some(job_end.outcome(answer));
        }
        // One transaction: the final state, the budget settled or released, the usage, the
        // job's outcome. The guard stays armed until it commits, so a failure here still ends
        // the record and gives the reservation back.
        let finished = match self
            .store
            .finish_execution(&principal.tenant, &execution.id, &update, &settlement)
            .await
        {
            Ok(finished) => finished,
            // The store cannot write now (gone, full): the run did happen, so its end is
            // written once it can again, instead of leaving the record RUNNING. The job's
            // outcome stays with the queue (its lease fences any late write).
            Err(error) if error.is_unavailable() => {
                abandoned.disarm();
                if let Some(job_end) = job_end {
                    job_end.recorded(false);
                }
                settlement.job = None;
                finish_later(
                    self.store.clone(),
                    principal.tenant.clone(),
                    execution.id.clone(),
                    update,
                    settlement,
                );
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        abandoned.disarm();
        if let Some(job_end) = job_end {
            job_end.recorded(finished.job);
        }
        let recorded = finished.execution;
        if let Some(claim) = claim {
            self.complete_idempotency(claim, &execution.id, error.as_ref())
                .await;
        }
        match error {
            Some(error) => Err(Error::Api(error)),
            None => Ok(recorded.then(|| update.applied_to(execution.clone()))),
        }
    }

    /// Runner losses and timeouts count against the skill's circuit; a skill's own errors, a
    /// cancellation or an oversized result do not.
    async fn record_breaker(
        &self,
        principal: &Principal,
        skill_id: &str,
        admission: Admission,
        dispatched: &Result<dispatch::Dispatched, dispatch::Error>,
    ) {
        let outcome = match dispatched {
            Ok(_) => Outcome::Answered,
            Err(dispatch::Error::RunnerLost { .. } | dispatch::Error::DeadlineExceeded) => {
                Outcome::Failed
            }
            Err(
                dispatch::Error::NoRunner(_)
                | dispatch::Error::ResultTooLarge { .. }
                | dispatch::Error::Cancelled,
            ) => return,
        };
        if let Err(error) = self
            .governance
            .breakers
            .record(&principal.tenant, skill_id, admission, outcome)
            .await
        {
            tracing::warn!(%error, "cannot record the outcome in the circuit breaker");
        }
    }
}

/// How long a run's end is retried while the store cannot write, and the longest pause.
const FINISH_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(600);
const FINISH_RETRY_MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes a run's end (and settles its budget and usage) once the store can write again;
/// after [`FINISH_RETRY_FOR`] the record is left to the start-up recovery.
fn finish_later(
    store: Arc<dyn Store>,
    tenant: skillos_store::TenantId,
    execution_id: String,
    update: ExecutionUpdate,
    settlement: skillos_store::Settlement,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            tokio::time::sleep(pause).await;
            match store
                .finish_execution(&tenant, &execution_id, &update, &settlement)
                .await
            {
                Ok(_) => {
                    tracing::info!(execution_id, "a run's end was written once the store could write again");
                    return;
                }
                Err(error) if error.is_unavailable() && started.elapsed() < FINISH_RETRY_FOR => {
                    pause = (pause * 2).min(FINISH_RETRY_MAX_PAUSE);
                }
                Err(error) => {
                    tracing::error!(%error, execution_id, "cannot write a run's end; it stays RUNNING until the next start");
                    return;
                }
            }
        }
    });
}

/// The record's final state for a dispatch outcome, and the error the caller gets, if any.
fn finish(
    dispatched: &Result<dispatch::Dispatched, dispatch::Error>,
) -> (ExecutionUpdate, Option<dispatch::Error>) {
    let mut update = ExecutionUpdate {
        finished_at: Some(skillos_store::now()),
        expect_status: Some(ExecutionStatus::Running),
        ..Default::default()
    };
    match dispatched {
        Ok(dispatched) => {
            update.runner_id = Some(dispatched.runner_id.clone());
            update.attempts = i32::try_from(dispatched.attempts).ok();
            update.cost = Some(dispatched.finished.usage.cost);
            match &dispatched.finished.outcome {
                Ok(output) => {
                    update.status = Some(ExecutionStatus::Succeeded);
                    update.output = Some(output.clone());
                }
                Err(error) => {
                    update.status = Some(ExecutionStatus::Failed);
                    let class = if error.retryable {
                        ErrorClass::Retryable
                    } else {
                        ErrorClass::Permanent
                    };
                    update.error = Some(ExecutionError::new(
                        class,
                        ErrorOrigin::Skill,
                        error.code.clone(),
                        error.message.clone(),
                    ));
                }
            }
            (update, None)
        }
        Err(error) => {
            let (status, origin, reason) = match error {
                dispatch::Error::DeadlineExceeded => (
                    ExecutionStatus::TimedOut,
                    ErrorOrigin::Server,
                    reason::EXECUTION_TIMED_OUT,
                ),
                dispatch::Error::RunnerLost { .. } => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Runner,
                    reason::RUNNER_LOST,
                ),
                dispatch::Error::ResultTooLarge { .. } => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Runner,
                    reason::RESULT_TOO_LARGE,
                ),
                dispatch::Error::NoRunner(_) => (
                    ExecutionStatus::Failed,
                    ErrorOrigin::Server,
                    reason::NO_RUNNER,
                ),
                dispatch::Error::Cancelled => (
                    ExecutionStatus::Cancelled,
                    ErrorOrigin::Server,
                    reason::EXECUTION_CANCELLED,
                ),
            };
            if let dispatch::Error::RunnerLost { attempts } = error {
                update.attempts = i32::try_from(*attempts).ok();
            }
            let class = if matches!(error, dispatch::Error::Cancelled) {
                ErrorClass::Permanent
            } else {
                ErrorClass::Retryable
            };
            update.status = Some(status);
            update.error = Some(ExecutionError::new(
                class,
                origin,
                reason.name,
                error.to_string(),
            ));
            (update, Some(error.clone()))
        }
    }
}

/// Cleans up after a run that ended early: releases its budget reservation (a refusal after
/// reserving, an error, the caller going away) and, once the execution is stored, marks it
/// cancelled when the run future is dropped before it recorded an end (the caller
/// disconnected; the dispatcher has already told the runner to stop).
pub(crate) struct Abandoned {
    pub store: Option<Arc<dyn Store>>,
    pub budgets: Option<budget::Service>,
    pub plan: Plan,
    pub tenant: skillos_store::TenantId,
    pub execution_id: String,
}

impl Abandoned {
    /// The run settled: nothing is left to clean up.
    fn disarm(&mut self) {
        self.store = None;
        self.budgets = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(budgets) = self.budgets.take()
            && self.plan.reserved
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let tenant = self.tenant.clone();
            let plan = self.plan.clone();
            runtime.spawn(async move {
                if let Err(error) = budgets.release(&tenant, &plan).await {
                    tracing::warn!(%error, "cannot release a budget reservation");
                }
            });
        }
        let Some(store) = self.store.take() else {
            return;
        };
        let tenant = self.tenant.clone();
        let execution_id = std::mem::take(&mut self.execution_id);
        let update = ExecutionUpdate {
            status: Some(ExecutionStatus::Cancelled),
            error: Some(ExecutionError::permanent(
                reason::EXECUTION_CANCELLED.name,
                "the caller stopped waiting",
            )),
            finished_at: Some(skillos_store::now()),
            expect_status: Some(ExecutionStatus::Running),
            ..Default::default()
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store
                    .update_execution(&tenant, &execution_id, &update)
                    .await
                {
                    tracing::warn!(%error, execution_id, "cannot record a cancelled execution");
                }
            });
        }
    }
}
