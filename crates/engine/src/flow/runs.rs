//! `FlowService` as a domain service: starting, reading, cancelling and retrying stored flow
//! runs, and this replica's drivers, which claim runs whose lease expired (their replica died)
//! or whose wait is due, and drive them under a renewed lease (ADR 9).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use skillos_core::SkillId;
use skillos_core::flow::Flow;
use skillos_store::{
    ExecutionError, FlowRun, FlowRunEnd, FlowRunFilter, FlowRunStatus, FlowStep, FlowStepStatus,
    Store,
};
use tokio::sync::{Notify, Semaphore};

use super::durable::{self, Driver};
use crate::auth::{Principal, RunContext};
use crate::error::{Error, reason};
use crate::orchestrator;
use crate::policy::{self, permission};

/// The largest payload of a signal, as JSON.
const MAX_SIGNAL_PAYLOAD: usize = 256 * 1024;

/// The flow drivers of a replica.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Runs one replica drives at once; 0 turns this replica's drivers off (it still starts
    /// runs, which another replica then drives).
    pub drivers: u32,
    /// How long a driven run stays leased without renewal (renewed every third of it); when
    /// its replica dies, another resumes the run after it.
    pub lease_seconds: u64,
    /// How often this replica looks for runs to resume, and how soon a run waiting for an
    /// approval is looked at again.
    pub poll_interval_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            drivers: 256,
            lease_seconds: 30,
            poll_interval_ms: 1000,
        }
    }
}

/// A run with its steps, as GetFlowRun shows it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub run: FlowRun,
    /// In the order they started; empty in listings.
    pub steps: Vec<FlowStep>,
}

/// Serves flow runs; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    orchestrator: orchestrator::Service,
    store: Arc<dyn Store>,
    policies: Arc<policy::Service>,
    options: Options,
    /// Runs this replica drives now, to stop at once when cancelled here.
    driving: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    slots: Arc<Semaphore>,
    wake: Notify,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("flow::runs::Service")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(
        orchestrator: orchestrator::Service,
        store: Arc<dyn Store>,
        policies: Arc<policy::Service>,
        options: Options,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(options.drivers as usize));
        Self {
            inner: Arc::new(Inner {
                orchestrator,
                store,
                policies,
                options,
                driving: Mutex::new(HashMap::new()),
                slots,
                wake: Notify::new(),
            }),
        }
    }

    /// The catalog's flows, by id.
    pub fn flows(&self) -> Vec<Arc<Flow>> {
        let mut flows = self.inner.orchestrator.skills.flows();
        flows.sort_by(|a, b| a.id.cmp(&b.id));
        flows
    }

    fn flow(&self, id: &SkillId) -> Result<Arc<Flow>, Error> {
        self.flows()
            .into_iter()
            .find(|flow| &flow.id == id)
            .ok_or_else(|| {
                Error::new(reason::FLOW_NOT_FOUND, format!("no flow {id}"))
                    .with("flow_id", id.to_string())
            })
    }

    /// Stores a new run and starts driving it on this replica. The flow itself, and every
    /// skill it names, must exist for the caller and be allowed by a policy first.
    pub async fn start(
        &self,
        principal: &Principal,
        flow_id: &str,
        input: Json,
    ) -> Result<RunView, Error> {
        let id = SkillId::parse(flow_id.trim()).map_err(|error| {
            Error::field(reason::INVALID_SKILL_ID, "flow_id", error.to_string())
        })?;
        let flow = self.flow(&id)?;
        if !input.is_object() {
            return Err(Error::field(
                reason::INVALID_PAYLOAD,
                "input",
                "a flow's input must be a JSON object",
            ));
        }
        let orchestrator = &self.inner.orchestrator;
        if let Some(schema) = &flow.input_schema {
            orchestrator
                .check_schema(&flow.id.to_string(), schema, &input)
                .map_err(Error::from)?;
        }
        orchestrator.admit_caller(principal).await?;
        // The flow is a skill of the catalog: its own policies, approval policies and rate
        // limit apply to a start as to a Run of it.
        let view = orchestrator
            .skill_for(principal, &flow.id.to_string())
            .await?;
        if let Some(requirement) =
            orchestrator
                .governance
                .approvals
                .requirement(principal, &view.skill, &input)
        {
            return Err(Error::new(
                reason::FLOW_APPROVAL_REQUIRED,
                format!(
                    "approval policy {} holds runs of {}: run it with OrchestratorService/Run, which waits for the approval",
                    requirement.policy_id, flow.id
                ),
            )
            .with("flow_id", flow.id.to_string())
            .with("policy_id", requirement.policy_id));
        }
        orchestrator
            .admit_skill_rate(principal, &flow.id.to_string())
            .await?;
        orchestrator
            .check_steps(principal, &flow.definition)
            .await
            .map_err(Error::from)?;
        let token = new_token();
        // A replica whose drivers are off stores the run due for another to claim.
        let lease = self
            .drives()
            .then(|| (token.clone(), skillos_store::now() + self.lease_chrono()));
        let run = new_run(principal, &flow, input, String::new(), lease);
        self.inner
            .store
            .insert_flow_run(&run, None)
            .await
            .map_err(store_error)?;
        tracing::info!(run_id = %run.id, flow_id = %run.flow_id, "flow run started");
        if self.drives() {
            self.spawn(run.clone(), token);
        }
        Ok(RunView {
            run,
            steps: Vec::new(),
        })
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<RunView, Error> {
        let run = self.stored(principal, id).await?;
        let steps = self
            .inner
            .store
            .flow_steps(&run.id)
            .await
            .map_err(store_error)?;
        Ok(view(run, steps))
    }

    async fn stored(&self, principal: &Principal, id: &str) -> Result<FlowRun, Error> {
        self.inner
            .store
            .get_flow_run(&principal.tenant, id.trim())
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(id))
    }

    /// Newest first, without steps; the page token is the last id of the previous page.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: FlowRunFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<RunView>, Option<String>), Error> {
        let limit = crate::page::size(page_size).ok_or_else(|| {
            Error::field(
                reason::INVALID_PAGE_SIZE,
                "page_size",
                "page_size must be between 0 and 1000",
            )
        })?;
        if !page_token.is_empty() {
            if uuid::Uuid::parse_str(page_token).is_err() {
                return Err(Error::field(
                    reason::INVALID_PAGE_TOKEN,
                    "page_token",
                    "not a page token of this listing",
                ));
            }
            filter.before_id = Some(page_token.to_owned());
        }
        let mut runs = self
            .inner
            .store
            .list_flow_runs(&principal.tenant, &filter, limit + 1)
            .await
            .map_err(store_error)?;
        let next = (runs.len() > limit as usize).then(|| {
            runs.truncate(limit as usize);
            runs.last().map(|run| run.id.clone()).unwrap_or_default()
        });
        let runs = runs.into_iter().map(|run| view(run, Vec::new())).collect();
        Ok((runs, next))
    }

    /// Cancels a run that has not ended: no further step starts, and the steps that run are
    /// cancelled (at once on this replica, within a third of the lease on another).
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        why: &str,
    ) -> Result<RunView, Error> {
        let run = self.stored(principal, id).await?;
        self.authorize(principal, &run)?;
        match run.status {
            FlowRunStatus::Cancelled => return self.get(principal, &run.id).await,
            FlowRunStatus::Succeeded | FlowRunStatus::Failed => return Err(finished(&run)),
            FlowRunStatus::Running | FlowRunStatus::Waiting => {}
        }
        let why = match why.trim() {
            "" => format!("cancelled by {}", principal.subject),
            why => crate::error::bounded(why.to_owned(), 1024),
        };
        let error = ExecutionError::permanent(reason::EXECUTION_CANCELLED.name, why);
        let cancelled = self
            .inner
            .store
            .cancel_flow_run(&principal.tenant, &run.id, &error)
            .await
            .map_err(store_error)?;
        if !cancelled {
            // It ended meanwhile.
            let run = self.stored(principal, &run.id).await?;
            if run.status == FlowRunStatus::Cancelled {
                return self.get(principal, &run.id).await;
            }
            return Err(finished(&run));
        }
        let handle = self
            .inner
            .driving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&run.id);
        if let Some(handle) = handle {
            // Dropping the driver cancels the executions of the steps it runs.
            handle.abort();
        }
        // Steps held for approval will not run: their approvals are withdrawn.
        let starter = Principal::stored(
            &run.principal,
            &run.tenant_id,
            RunContext::from_json(&run.run_context),
        );
        durable::withdraw_held(&self.inner.orchestrator, &starter, &run.id)
            .await
            .map_err(store_error)?;
        durable::cancel_children(
            &self.inner.orchestrator,
            &run.tenant_id,
            &run.id,
            None,
            &error,
        )
        .await
        .map_err(store_error)?;
        self.inner.orchestrator.flow_endings.ended(&run.id);
        self.wake_parent(run.parent.as_ref()).await;
        tracing::info!(run_id = %run.id, "flow run cancelled");
        self.get(principal, &run.id).await
    }

    /// Sends a signal to a run that has not ended: kept until a `wait` step of its name takes
    /// it (the oldest first), and a run that waits is woken.
    pub async fn signal(
        &self,
        principal: &Principal,
        id: &str,
        name: &str,
        payload: Json,
    ) -> Result<RunView, Error> {
        let name = name.trim();
        if !skillos_core::flow::yaml::valid_signal(name) {
            return Err(Error::field(
                reason::INVALID_SIGNAL,
                "name",
                "a signal name is 1 to 64 letters, digits, `_`, `-` and `.`",
            ));
        }
        if payload.to_string().len() > MAX_SIGNAL_PAYLOAD {
            return Err(Error::field(
                reason::INVALID_PAYLOAD,
                "payload",
                format!("a signal's payload is at most {MAX_SIGNAL_PAYLOAD} bytes as JSON"),
            ));
        }
        let run = self.stored(principal, id).await?;
        self.authorize(principal, &run)?;
        let signal = skillos_store::FlowSignal {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant.clone(),
            run_id: run.id.clone(),
            name: name.to_owned(),
            payload,
            sender: principal.subject.clone(),
            created_at: skillos_store::now(),
            taken_by: None,
        };
        let kept = self
            .inner
            .store
            .insert_flow_signal(&signal, durable::MAX_KEPT_SIGNALS)
            .await
            .map_err(store_error)?;
        match kept {
            skillos_store::Signalled::Kept => {}
            skillos_store::Signalled::NotFound => return Err(not_found(id)),
            skillos_store::Signalled::Finished => {
                return Err(finished(&self.stored(principal, &run.id).await?));
            }
            skillos_store::Signalled::Full => {
                return Err(Error::new(
                    reason::FLOW_SIGNALS_FULL,
                    format!(
                        "flow run {} already holds {} signals no step took",
                        run.id,
                        durable::MAX_KEPT_SIGNALS
                    ),
                )
                .with("run_id", run.id.clone()));
            }
        }
        self.inner.orchestrator.flow_wake.notify_one();
        tracing::info!(run_id = %run.id, signal = name, sender = %principal.subject, "signal sent to a flow run");
        self.get(principal, &run.id).await
    }

    /// Runs a failed or cancelled run again from the steps that did not end well.
    pub async fn retry(&self, principal: &Principal, id: &str) -> Result<RunView, Error> {
        let run = self.stored(principal, id).await?;
        self.authorize(principal, &run)?;
        let token = new_token();
        let until = if self.drives() {
            skillos_store::now() + self.lease_chrono()
        } else {
            skillos_store::now()
        };
        let Some(run) = self
            .inner
            .store
            .retry_flow_run(&principal.tenant, &run.id, &token, until)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::new(
                reason::FLOW_RUN_NOT_RETRYABLE,
                format!(
                    "flow run {} is {}; only a failed or cancelled run is retried",
                    run.id,
                    run.status.as_str()
                ),
            )
            .with("run_id", run.id.clone()));
        };
        tracing::info!(run_id = %run.id, retries = run.retries, "flow run retried");
        if self.drives() {
            self.spawn(run.clone(), token);
        }
        self.get(principal, &run.id).await
    }

    /// The caller may change the run: it started it, or holds `flows:manage`.
    fn authorize(&self, principal: &Principal, run: &FlowRun) -> Result<(), Error> {
        if run.principal == principal.subject
            || self
                .inner
                .policies
                .check_permission(principal, permission::FLOWS_MANAGE)
                .allowed
        {
            return Ok(());
        }
        Err(Error::new(
            reason::POLICY_DENIED,
            format!(
                "flow run {} was started by another principal; changing it needs {}",
                run.id,
                permission::FLOWS_MANAGE
            ),
        ))
    }

    /// Resumes runs until `shutdown` changes: at start every run whose lease expired, then
    /// every poll interval those whose driver died and those whose wait is due.
    pub async fn work(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        // Decisions taken here wake the runs they end, whichever replica drives them.
        let wakes = tokio::spawn(self.clone().wake_on_decisions());
        if self.inner.options.drivers == 0 {
            tracing::info!("flow drivers are off on this replica");
            let _ = shutdown.changed().await;
            wakes.abort();
            return;
        }
        let poll = self.poll();
        loop {
            let claimed = match self.claim().await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim flow runs");
                    0
                }
            };
            if claimed > 0 && self.inner.slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    wakes.abort();
                    return;
                }
                () = self.inner.wake.notified() => {}
                () = self.inner.orchestrator.flow_wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Wakes the runs whose held step was rejected, expired or cancelled (an approved one
    /// wakes its run once it ran). A wake lost to a lagging receiver is made up by the runs' own look-again
    /// times.
    async fn wake_on_decisions(self) {
        use crate::approvals::EventKind;
        let orchestrator = &self.inner.orchestrator;
        let mut events = orchestrator.governance.approvals.subscribe();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let ended = match event.kind {
                EventKind::Decided => {
                    event.approval.state == skillos_store::ApprovalState::Rejected
                }
                EventKind::Expired | EventKind::Cancelled => true,
                EventKind::Created => false,
            };
            if ended {
                orchestrator
                    .wake_flows_waiting_on(&event.approval.execution_id)
                    .await;
            }
        }
    }

    async fn claim(&self) -> Result<usize, skillos_store::Error> {
        let free = self.inner.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let token = new_token();
        let now = skillos_store::now();
        let runs = self
            .inner
            .store
            .claim_flow_runs(
                &token,
                now,
                now + self.lease_chrono(),
                u32::try_from(free).unwrap_or(u32::MAX),
            )
            .await?;
        let claimed = runs.len();
        for run in runs {
            tracing::info!(run_id = %run.id, status = run.status.as_str(), "flow run resumed");
            self.spawn(run, token.clone());
        }
        Ok(claimed)
    }

    /// Wakes the run whose `flow` step a run that ended answers to.
    async fn wake_parent(&self, parent: Option<&skillos_store::FlowParent>) {
        let Some(parent) = parent else {
            return;
        };
        match self.inner.store.wake_flow_run(&parent.run_id).await {
            Ok(_) => self.inner.wake.notify_one(),
            Err(error) => {
                tracing::warn!(%error, run_id = %parent.run_id, "cannot wake a sub-flow's parent; it looks again within a minute");
            }
        }
    }

    /// Drives a run this replica holds the lease of, in a task of its own.
    fn spawn(&self, run: FlowRun, token: String) {
        let flows = self.clone();
        let id = run.id.clone();
        let permit = self.inner.slots.clone().try_acquire_owned().ok();
        let mut driving = self
            .inner
            .driving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let task = tokio::spawn(async move {
            flows.drive(run, token).await;
            drop(permit);
            flows.inner.wake.notify_one();
        });
        driving.insert(id, task.abort_handle());
    }

    /// Drives a run to its end or its wait, renewing the lease meanwhile; a lost lease stops
    /// it where it is.
    async fn drive(&self, run: FlowRun, token: String) {
        let id = run.id.clone();
        let parent = run.parent.clone();
        let end = tokio::select! {
            end = self.driven(run, &token) => end,
            () = self.renew(&id, &token) => {
                tracing::info!(run_id = %id, "flow run lease lost; its driver stopped");
                None
            }
        };
        {
            // Only this task's handle: a newer driver of the run (after a retry) keeps its own.
            let mut driving = self
                .inner
                .driving
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if driving
                .get(&id)
                .is_some_and(|handle| handle.id() == tokio::task::id())
            {
                driving.remove(&id);
            }
        }
        let Some(end) = end else {
            return;
        };
        match self.inner.store.end_flow_run(&id, &token, &end).await {
            Ok(true) => {
                tracing::info!(run_id = %id, status = end.status.as_str(), "flow run left");
                if end.status.is_terminal() {
                    self.inner.orchestrator.flow_endings.ended(&id);
                    self.wake_parent(parent.as_ref()).await;
                }
            }
            Ok(false) => tracing::info!(run_id = %id, "flow run changed under its driver"),
            Err(error) => tracing::warn!(%error, run_id = %id, "cannot record a flow run's end"),
        }
    }

    async fn driven(&self, run: FlowRun, token: &str) -> Option<FlowRunEnd> {
        let principal = Principal::stored(
            &run.principal,
            &run.tenant_id,
            RunContext::from_json(&run.run_context),
        );
        let failed = |code: &str, message: String| {
            Some(FlowRunEnd {
                status: FlowRunStatus::Failed,
                output: None,
                error: Some(ExecutionError::permanent(code, message)),
                wake_at: None,
            })
        };
        // The definition the run started with, whatever the file says now.
        let definition = match Flow::from_document(run.document.clone()) {
            Ok(flow) => flow.definition,
            Err(error) => {
                return failed(
                    reason::INTERNAL.name,
                    format!("the run's stored definition does not read: {error}"),
                );
            }
        };
        match self.inner.orchestrator.credential_problem(&principal).await {
            Ok(None) => {}
            Ok(Some(problem)) => return failed("CREDENTIAL_REVOKED", problem),
            Err(error) => {
                tracing::warn!(%error, run_id = %run.id, "cannot check a flow run's credential");
                return None;
            }
        }
        let rows = match self.inner.store.flow_steps(&run.id).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, run_id = %run.id, "cannot read a flow run's steps");
                return None;
            }
        };
        let driver = Driver::new(
            self.inner.orchestrator.clone(),
            run,
            token.to_owned(),
            principal,
            definition,
            rows,
            self.poll(),
        );
        driver.drive().await
    }

    /// Extends the lease every third of its length; returns when it could not.
    async fn renew(&self, id: &str, token: &str) {
        let lease = Duration::from_secs(self.inner.options.lease_seconds.max(1));
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = skillos_store::now() + self.lease_chrono();
            match self.inner.store.renew_flow_lease(id, token, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => tracing::warn!(%error, run_id = %id, "cannot renew a flow run lease"),
            }
        }
    }

    /// Whether this replica drives runs.
    fn drives(&self) -> bool {
        self.inner.options.drivers > 0
    }

    fn poll(&self) -> Duration {
        Duration::from_millis(self.inner.options.poll_interval_ms.max(10))
    }

    fn lease_chrono(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            i64::try_from(self.inner.options.lease_seconds.max(1)).unwrap_or(30),
        )
    }
}

/// A new run of a flow, RUNNING: leased to this replica's driver, or (without a lease) due for
/// the first replica that claims it.
pub(crate) fn new_run(
    principal: &Principal,
    flow: &Flow,
    input: Json,
    execution_id: String,
    lease: Option<(String, chrono::DateTime<chrono::Utc>)>,
) -> FlowRun {
    let now = skillos_store::now();
    let (lease_token, lease_expires_at) = match lease {
        Some((token, until)) => (Some(token), until),
        None => (None, now),
    };
    FlowRun {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: principal.tenant.clone(),
        flow_id: flow.id.to_string(),
        version: flow.version.to_string(),
        definition_sha256: definition_sha256(&flow.document),
        document: flow.document.clone(),
        input,
        status: FlowRunStatus::Running,
        output: None,
        error: None,
        principal: principal.subject.clone(),
        run_context: principal.run_context().to_json(),
        lease_token,
        lease_expires_at: Some(lease_expires_at),
        execution_id,
        retries: 0,
        created_at: now,
        updated_at: now,
        finished_at: None,
        parent: None,
    }
}

/// A run as callers see it: steps of a run that ended without them ending are cancelled.
fn view(run: FlowRun, mut steps: Vec<FlowStep>) -> RunView {
    if run.status.is_terminal() {
        for step in &mut steps {
            if !step.status.is_final() {
                step.status = FlowStepStatus::Cancelled;
            }
        }
    }
    RunView { run, steps }
}

/// The hex SHA-256 of a flow's document (its file as JSON), as a run pins it.
pub fn definition_sha256(document: &Json) -> String {
    use sha2::Digest;
    format!(
        "{:x}",
        sha2::Sha256::digest(document.to_string().as_bytes())
    )
}

fn finished(run: &FlowRun) -> Error {
    Error::new(
        reason::FLOW_RUN_FINISHED,
        format!("flow run {} has ended ({})", run.id, run.status.as_str()),
    )
    .with("run_id", run.id.clone())
}

fn not_found(id: &str) -> Error {
    Error::new(
        reason::FLOW_RUN_NOT_FOUND,
        format!("no flow run {}", id.trim()),
    )
    .with("run_id", id.trim().to_owned())
}

fn store_error(error: skillos_store::Error) -> Error {
    Error::store(&error)
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
