//! The durable job queue: `JobService` as a domain service, and the workers that run jobs.
//!
//! A job is stored before EnqueueJob answers, so an acknowledged job survives a crash. Workers
//! claim due jobs under a lease (a token and an expiry, renewed while the attempt runs); every
//! outcome is recorded only while the lease is still the worker's, so a worker that lost its
//! lease (its replica stalled, another claimed the job) cannot overwrite a newer attempt. A job
//! whose replica died is claimed again once its lease expires. Each attempt is an execution run
//! as the principal that enqueued the job, through the same policy, approval and budget stages
//! as a direct run; the skill sees the job id, stable across attempts, to deduplicate effects.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use skillos_store::{
    AttemptChange, AuditEvent, ExecutionError, ExecutionFilter, ExecutionStatus, IdempotencyRecord,
    Job, JobEnd, JobFence, JobFilter, JobSource, JobState, JobTransition, Store,
};
use tokio::sync::{Notify, Semaphore};

use crate::auth::Principal;
use crate::dispatch;
use crate::error::reason;
use crate::orchestrator;
use crate::policy::{self, permission};
use crate::run::{self, Entry, IdempotencyKey};

/// The job queue's workers and retry policy.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Attempts one replica runs at once; 0 turns this replica's workers off (it still
    /// accepts jobs).
    pub workers: u32,
    /// How long a claimed job stays leased without renewal. A worker renews it every third of
    /// this while the attempt runs; when its replica dies, another claims the job after it.
    pub lease_seconds: u64,
    /// How often an idle worker looks for due jobs (a job enqueued on this replica wakes it
    /// at once).
    pub poll_interval_ms: u64,
    /// Delay before the first retry; each further retry doubles it, with ±20% jitter.
    pub backoff_initial_ms: u64,
    /// The longest delay between retries.
    pub backoff_max_ms: u64,
    /// Attempts of a job of a retryable skill when EnqueueJob names none (a skill that is not
    /// retryable gets 1).
    pub max_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: 64,
            lease_seconds: 30,
            poll_interval_ms: 500,
            backoff_initial_ms: 5_000,
            backoff_max_ms: 300_000,
            max_attempts: 3,
        }
    }
}

/// How long a worker woken by a finished (or new) job waits for more before it claims, while
/// fewer than half the workers are free: jobs that end together are claimed with one write.
const CLAIM_DEBOUNCE: Duration = Duration::from_millis(2);

/// Most attempts one chain may have.
pub const MAX_ATTEMPTS: u32 = 100;
/// Furthest in the future a job may start.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
const PRIORITIES: std::ops::RangeInclusive<i32> = -1000..=1000;
/// How long a job waits after a refusal that says nothing of when to retry (no runner, a
/// store error).
const RETRY_SOON: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("job {0} not found")]
    NotFound(String),
    #[error("job {id} already ended ({})", state.as_str())]
    Finished { id: String, state: JobState },
    #[error("job {0} is not a dead letter")]
    NotDead(String),
    #[error("{0}")]
    Invalid(String),
    #[error("only whoever enqueued job {0} or a holder of jobs:manage may do this")]
    Denied(String),
    #[error("invalid page_token; pass the next_page_token of the previous response")]
    InvalidPageToken,
    #[error("page_size must be between 0 and {}", crate::page::MAX_SIZE)]
    InvalidPageSize,
    #[error(transparent)]
    Run(#[from] orchestrator::Error),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct EnqueueRequest {
    pub skill_id: String,
    pub payload: Json,
    pub idempotency: Option<IdempotencyKey>,
    /// `None`: the skill's default (the configured attempts when it is retryable, else 1).
    pub max_attempts: Option<u32>,
    /// When the first attempt may start; `None` or the past mean now.
    pub run_at: Option<DateTime<Utc>>,
    pub timeout: Option<Duration>,
    pub priority: i32,
    pub source: JobSource,
    pub source_id: String,
    pub fire_time: Option<DateTime<Utc>>,
    /// The webhook delivery id the job was created for, shown as its idempotency key.
    pub delivery_id: Option<String>,
}

impl EnqueueRequest {
    /// A job enqueued through the API with every option at its default.
    pub fn new(skill_id: impl Into<String>, payload: Json) -> Self {
        Self {
            skill_id: skill_id.into(),
            payload,
            idempotency: None,
            max_attempts: None,
            run_at: None,
            timeout: None,
            priority: 0,
            source: JobSource::Api,
            source_id: String::new(),
            fire_time: None,
            delivery_id: None,
        }
    }
}

/// A job with the ids of its attempts' executions, oldest first.
#[derive(Clone, Debug)]
pub struct JobView {
    pub job: Job,
    pub execution_ids: Vec<String>,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    orchestrator: orchestrator::Service,
    policies: Arc<policy::Service>,
    dispatcher: dispatch::Service,
    config: Options,
    idempotency_ttl: Duration,
    /// Wakes this replica's workers when a job is enqueued or requeued here, or a worker
    /// becomes free.
    wake: Notify,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("jobs::Service").finish_non_exhaustive()
    }
}

/// How an attempt ended, for the job.
enum Next {
    Succeeded(Json),
    /// Held for approval; the sweep finishes the job when the execution ends.
    Waiting,
    /// Failed; retried while attempts remain when `retryable`.
    Failed {
        error: ExecutionError,
        retryable: bool,
    },
    /// Refused for a reason that does not count as an attempt (rate limit, open breaker, no
    /// runner, a store error): due again after the delay.
    Later {
        delay: Duration,
        error: ExecutionError,
    },
    /// Refused for good (policy, budget, a rejected approval, an unknown skill).
    Refused(ExecutionError),
    Cancelled,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        orchestrator: orchestrator::Service,
        policies: Arc<policy::Service>,
        dispatcher: dispatch::Service,
        config: Options,
        idempotency_ttl: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                orchestrator,
                policies,
                dispatcher,
                config,
                idempotency_ttl,
                wake: Notify::new(),
            }),
        }
    }

    /// Stores a job; it is durable once this returns. The skill, the caller's permission and
    /// the payload are checked now; every attempt checks them again.
    pub async fn enqueue(
        &self,
        principal: &Principal,
        request: EnqueueRequest,
    ) -> Result<(JobView, bool), Error> {
        // The caller's rate limits count first (a webhook delivery was counted at its door).
        self.inner.orchestrator.admit_caller(principal).await?;
        let store = &self.inner.store;
        let claim = request
            .idempotency
            .as_ref()
            .map(|key| run::idempotency::claim(principal, key, self.inner.idempotency_ttl));
        if let (Some(claim), Some(key)) = (&claim, &request.idempotency)
            && let Some(record) = store
                .idempotency_record(claim, skillos_store::now())
                .await?
        {
            return self.replayed(principal, key, record).await;
        }
        let key = request.idempotency.clone();
        let job = self.prepare(principal, request).await?;
        let claim = claim.map(|claim| skillos_store::IdempotencyClaim {
            response: Some(json!({"job_id": job.id})),
            ..claim
        });
        if let Some(held) = store.insert_job(&job, claim.as_ref()).await? {
            let key = key.as_ref().expect("a claim has a key");
            return self.replayed(principal, key, held).await;
        }
        Ok((self.enqueued(job), false))
    }

    /// Enqueues the job of a webhook delivery, recorded with the delivery in one transaction.
    /// A delivery seen before creates nothing: its job is returned, with `true`.
    pub async fn enqueue_delivery(
        &self,
        principal: &Principal,
        request: EnqueueRequest,
        delivery: &skillos_store::Delivery,
    ) -> Result<(JobView, bool), Error> {
        let job = self.prepare(principal, request).await?;
        match self.inner.store.insert_delivery_job(&job, delivery).await? {
            Some(existing) => Ok((self.get(principal, &existing).await?, true)),
            None => Ok((self.enqueued(job), false)),
        }
    }

    /// Wakes this replica's workers: jobs were stored outside [`Service::enqueue`].
    pub fn notify(&self) {
        self.inner.wake.notify_one();
    }

    fn enqueued(&self, job: Job) -> JobView {
        tracing::debug!(job_id = %job.id, skill_id = %job.skill_id, "job enqueued");
        self.inner.wake.notify_one();
        JobView {
            job,
            execution_ids: Vec::new(),
        }
    }

    /// Checks a request and makes its job (not stored yet).
    pub(crate) async fn prepare(
        &self,
        principal: &Principal,
        request: EnqueueRequest,
    ) -> Result<Job, Error> {
        let view = self
            .inner
            .orchestrator
            .admit_skill(principal, &request.skill_id, &request.payload)
            .await?;
        let manifest = &view.skill.manifest;
        let max_attempts = match request.max_attempts {
            Some(attempts) if (1..=MAX_ATTEMPTS).contains(&attempts) => attempts,
            Some(_) => {
                return Err(Error::Invalid(format!(
                    "max_attempts must be between 1 and {MAX_ATTEMPTS}"
                )));
            }
            None if manifest.retryable => self.inner.config.max_attempts,
            None => 1,
        };
        if !PRIORITIES.contains(&request.priority) {
            return Err(Error::Invalid(
                "priority must be between -1000 and 1000".to_owned(),
            ));
        }
        let timeout = match request.timeout {
            Some(timeout) if timeout.is_zero() || timeout > MAX_TIMEOUT => {
                return Err(Error::Invalid(
                    "timeout must be positive and at most 24 hours".to_owned(),
                ));
            }
            timeout => timeout,
        };
        let now = skillos_store::now();
        let run_at = match request.run_at {
            Some(at) if at > now + chrono_duration(MAX_DELAY) => {
                return Err(Error::Invalid(
                    "a job may start at most 365 days from now".to_owned(),
                ));
            }
            Some(at) => at.max(now),
            None => now,
        };
        let job = Job {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant.clone(),
            skill_id: manifest.id.to_string(),
            payload: request.payload,
            state: JobState::Queued,
            attempt: 0,
            max_attempts: i32::try_from(max_attempts).unwrap_or(1),
            timeout_ms: timeout.and_then(|t| i64::try_from(t.as_millis()).ok()),
            priority: request.priority,
            next_run_at: Some(run_at),
            lease_token: None,
            lease_expires_at: None,
            execution_id: None,
            last_error: None,
            result: None,
            source: request.source,
            source_id: request.source_id,
            fire_time: request.fire_time,
            idempotency_key: request
                .idempotency
                .as_ref()
                .map(|key| key.key.clone())
                .or(request.delivery_id)
                .unwrap_or_default(),
            principal: principal.subject.clone(),
            run_context: principal.run_context().to_json(),
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        Ok(job)
    }

    async fn replayed(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
        record: IdempotencyRecord,
    ) -> Result<(JobView, bool), Error> {
        if record.request_sha256 != key.request_sha256 {
            return Err(orchestrator::Error::IdempotencyKeyReused.into());
        }
        Ok((self.get(principal, &record.execution_id).await?, true))
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<JobView, Error> {
        let job = self
            .inner
            .store
            .get_job(&principal.tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_owned()))?;
        self.view(job).await
    }

    async fn view(&self, job: Job) -> Result<JobView, Error> {
        Ok(self.views(vec![job]).await?.remove(0))
    }

    /// The executions of a job's attempts, newest first, at most `limit`.
    async fn attempts(
        &self,
        job: &Job,
        limit: u32,
    ) -> Result<Vec<skillos_store::Execution>, skillos_store::Error> {
        let filter = ExecutionFilter {
            job_id: Some(job.id.clone()),
            ..Default::default()
        };
        self.inner
            .store
            .list_executions(&job.tenant_id, &filter, limit)
            .await
    }

    /// Newest first; the page token is the last id of the previous page.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: JobFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<JobView>, Option<String>), Error> {
        let limit = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        if !page_token.is_empty() {
            if uuid::Uuid::parse_str(page_token).is_err() {
                return Err(Error::InvalidPageToken);
            }
            filter.before_id = Some(page_token.to_owned());
        }
        let mut jobs = self
            .inner
            .store
            .list_jobs(&principal.tenant, &filter, limit + 1)
            .await?;
        let next = (jobs.len() > limit as usize).then(|| {
            jobs.truncate(limit as usize);
            jobs.last().map(|job| job.id.clone()).unwrap_or_default()
        });
        Ok((self.views(jobs).await?, next))
    }

    /// Dead letters, most recently dead first; the page token names the last one's finish time
    /// and id.
    pub async fn dead_letters(
        &self,
        principal: &Principal,
        skill_id: Option<&str>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<JobView>, Option<String>), Error> {
        let limit = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        let before = if page_token.is_empty() {
            None
        } else {
            let (at, id) =
                crate::page::time_cursor(page_token, '~').ok_or(Error::InvalidPageToken)?;
            uuid::Uuid::parse_str(&id).map_err(|_| Error::InvalidPageToken)?;
            Some((at, id))
        };
        let mut jobs = self
            .inner
            .store
            .list_dead_jobs(&principal.tenant, skill_id, before, limit + 1)
            .await?;
        let next = if jobs.len() > limit as usize {
            jobs.truncate(limit as usize);
            jobs.last().map(|job| {
                let at = job.finished_at.unwrap_or(DateTime::UNIX_EPOCH);
                crate::page::time_token(at, '~', &job.id)
            })
        } else {
            None
        };
        Ok((self.views(jobs).await?, next))
    }

    /// Jobs with the executions of their attempts (one query for the page; jobs of one
    /// tenant).
    async fn views(&self, jobs: Vec<Job>) -> Result<Vec<JobView>, Error> {
        let Some(tenant) = jobs.first().map(|job| job.tenant_id.clone()) else {
            return Ok(Vec::new());
        };
        let ids: Vec<String> = jobs.iter().map(|job| job.id.clone()).collect();
        let mut attempts: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for (job_id, execution_id) in self.inner.store.attempt_ids(&tenant, &ids).await? {
            attempts.entry(job_id).or_default().push(execution_id);
        }
        Ok(jobs
            .into_iter()
            .map(|job| JobView {
                execution_ids: attempts.remove(&job.id).unwrap_or_default(),
                job,
            })
            .collect())
    }

    /// The caller may change the job: it enqueued it, or holds `jobs:manage`.
    fn authorize(&self, principal: &Principal, job: &Job) -> Result<(), Error> {
        if job.principal == principal.subject
            || self
                .inner
                .policies
                .check_permission(principal, permission::JOBS_MANAGE)
                .allowed
        {
            Ok(())
        } else {
            Err(Error::Denied(job.id.clone()))
        }
    }

    /// Cancels a job that has not ended: a queued one never runs, a running or held one has
    /// its execution cancelled. Cancelling a cancelled job returns it unchanged.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<JobView, Error> {
        let reason = match reason.trim() {
            "" => format!("cancelled by {}", principal.subject),
            reason if reason.chars().count() > 1024 => {
                return Err(Error::Invalid(
                    "the reason is limited to 1024 characters".to_owned(),
                ));
            }
            reason => reason.to_owned(),
        };
        let store = &self.inner.store;
        // The state may change under us (claimed, finished): look again, a few times.
        for _ in 0..4 {
            let job = store
                .get_job(&principal.tenant, id)
                .await?
                .ok_or_else(|| Error::NotFound(id.to_owned()))?;
            self.authorize(principal, &job)?;
            match job.state {
                JobState::Cancelled => return self.view(job).await,
                state @ (JobState::Succeeded | JobState::Dead) => {
                    return Err(Error::Finished {
                        id: id.to_owned(),
                        state,
                    });
                }
                JobState::Queued | JobState::Running | JobState::PendingApproval => {}
            }
            let transition = JobTransition {
                last_error: Some(ExecutionError::permanent("JOB_CANCELLED", reason.clone())),
                ..JobTransition::to(JobState::Cancelled)
            };
            let audit = AuditEvent::now(
                &principal.tenant,
                &principal.subject,
                "job.cancelled",
                id,
                json!({"reason": reason, "was": job.state.as_str()}),
            );
            let fence = JobFence::State(job.state);
            if !store
                .transition_job(&principal.tenant, id, &fence, &transition, Some(&audit))
                .await?
            {
                continue;
            }
            // Its attempt, if one runs or waits, ends too (as the job's owner: the caller was
            // allowed to cancel the job).
            if job.state != JobState::Queued {
                self.cancel_attempt(&job, &reason).await;
            }
            tracing::info!(job_id = id, actor = %principal.subject, "job cancelled");
            return self.get(principal, id).await;
        }
        Err(Error::Invalid(format!(
            "job {id} keeps changing; try again"
        )))
    }

    /// Cancels the latest execution of a job, if it has not ended.
    async fn cancel_attempt(&self, job: &Job, reason: &str) {
        let owner = Principal::stored(
            &job.principal,
            &job.tenant_id,
            crate::auth::RunContext::from_json(&job.run_context),
        );
        let latest = match self.attempts(job, 1).await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::warn!(%error, job_id = %job.id, "cannot find the attempt to cancel");
                return;
            }
        };
        for execution in latest.into_iter().filter(|e| !e.status.is_terminal()) {
            if let Err(error) = self
                .inner
                .orchestrator
                .cancel_execution(&owner, &execution.id, reason)
                .await
            {
                tracing::debug!(%error, execution_id = %execution.id, "attempt not cancelled");
            }
        }
    }

    /// Puts a dead job back in the queue as a new attempt chain, due now.
    pub async fn requeue(
        &self,
        principal: &Principal,
        id: &str,
        max_attempts: Option<u32>,
    ) -> Result<JobView, Error> {
        if max_attempts.is_some_and(|n| !(1..=MAX_ATTEMPTS).contains(&n)) {
            return Err(Error::Invalid(format!(
                "max_attempts must be between 1 and {MAX_ATTEMPTS}"
            )));
        }
        let store = &self.inner.store;
        let job = store
            .get_job(&principal.tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_owned()))?;
        self.authorize(principal, &job)?;
        if job.state != JobState::Dead {
            return Err(Error::NotDead(id.to_owned()));
        }
        let transition = JobTransition {
            next_run_at: Some(skillos_store::now()),
            attempt: AttemptChange::Reset,
            max_attempts: max_attempts.and_then(|n| i32::try_from(n).ok()),
            ..JobTransition::to(JobState::Queued)
        };
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "job.requeued",
            id,
            json!({"attempts": job.attempt, "last_error": job.last_error}),
        );
        let fence = JobFence::State(JobState::Dead);
        if !store
            .transition_job(&principal.tenant, id, &fence, &transition, Some(&audit))
            .await?
        {
            return Err(Error::NotDead(id.to_owned()));
        }
        tracing::info!(job_id = id, actor = %principal.subject, "dead job requeued");
        // The job as the requeue left it (a worker may claim it at once).
        let requeued = Job {
            state: JobState::Queued,
            attempt: 0,
            max_attempts: transition.max_attempts.unwrap_or(job.max_attempts),
            next_run_at: transition.next_run_at,
            finished_at: None,
            ..job
        };
        let view = self.view(requeued).await?;
        self.inner.wake.notify_one();
        Ok(view)
    }

    /// Runs this replica's workers until `shutdown` changes: claims due jobs of the skills its
    /// runners host while workers are free, and finishes jobs whose held attempt ended.
    pub async fn work(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let workers = self.inner.config.workers as usize;
        if workers == 0 {
            tracing::info!("job workers are off on this replica");
            return;
        }
        let slots = Arc::new(Semaphore::new(workers));
        let poll = Duration::from_millis(self.inner.config.poll_interval_ms);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            let claimed = match self.claim(&slots).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim jobs");
                    0
                }
            };
            if last_sweep.elapsed() >= poll {
                last_sweep = tokio::time::Instant::now();
                if let Err(error) = self.sweep_held().await {
                    tracing::warn!(%error, "cannot finish jobs held for approval");
                }
            }
            // A full batch: more may be due at once; otherwise wait for work or a free slot.
            if claimed > 0 && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = self.inner.wake.notified() => {
                    if slots.available_permits() < workers / 2 {
                        tokio::time::sleep(CLAIM_DEBOUNCE).await;
                    }
                }
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims as many due jobs as there are free workers and starts an attempt of each;
    /// returns how many.
    async fn claim(&self, slots: &Arc<Semaphore>) -> Result<usize, Error> {
        let free = slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let mut hosted = self.inner.dispatcher.hosted_skills();
        if hosted.is_empty() {
            return Ok(0);
        }
        // The server runs compositions and flows itself, for every tenant with a runner.
        let compositions = self.inner.orchestrator.skills.server_run_ids();
        if !compositions.is_empty() {
            let tenants: std::collections::BTreeSet<String> = hosted
                .iter()
                .filter_map(|hosted| hosted.split_once('/').map(|(tenant, _)| tenant.to_owned()))
                .collect();
            for tenant in tenants {
                hosted.extend(compositions.iter().map(|id| format!("{tenant}/{id}")));
            }
        }
        let lease_token = uuid::Uuid::new_v4().simple().to_string();
        let now = skillos_store::now();
        let lease = chrono_duration(self.lease());
        let jobs = self
            .inner
            .store
            .claim_jobs(
                &hosted,
                &lease_token,
                now,
                now + lease,
                u32::try_from(free).unwrap_or(u32::MAX),
            )
            .await?;
        let claimed = jobs.len();
        for job in jobs {
            let permit = slots
                .clone()
                .try_acquire_owned()
                .expect("claims never exceed the free workers");
            let jobs = self.clone();
            let token = lease_token.clone();
            tokio::spawn(async move {
                jobs.attempt(job, token).await;
                drop(permit);
                jobs.inner.wake.notify_one();
            });
        }
        Ok(claimed)
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.inner.config.lease_seconds)
    }

    /// Runs one claimed attempt, renewing its lease meanwhile, and records how it ended: with
    /// the run's end when the run got that far, else on its own.
    async fn attempt(&self, job: Job, token: String) {
        let id = job.id.clone();
        let renewer = self.renew_while_running(&job, &token);
        let ending = Arc::new(AttemptEnd {
            jobs: self.clone(),
            job: job.clone(),
            token: token.clone(),
            recorded: std::sync::atomic::AtomicBool::new(false),
        });
        let next = tokio::select! {
            next = self.run_attempt(&job, ending.clone()) => next,
            () = renewer => {
                // The lease is no longer ours (cancelled, or another worker took over after
                // this replica stalled): stop here, the other side records the outcome.
                tracing::info!(job_id = %id, "job lease lost; attempt abandoned");
                self.cancel_attempt(&job, "the job's lease was lost").await;
                return;
            }
        };
        if ending.recorded.load(std::sync::atomic::Ordering::Acquire) {
            tracing::debug!(job_id = %id, attempt = job.attempt, "job attempt recorded with its run");
            return;
        }
        if let Err(error) = self.record(&job, &token, next).await {
            // The lease expires and another worker runs the job again.
            tracing::warn!(%error, job_id = %id, "cannot record a job attempt");
        }
    }

    /// Extends the lease every third of its length; returns when it could not.
    async fn renew_while_running(&self, job: &Job, token: &str) {
        let lease = self.lease();
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = skillos_store::now() + chrono_duration(lease);
            match self
                .inner
                .store
                .renew_job_lease(&job.id, token, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, job_id = %job.id, "cannot renew a job lease");
                }
            }
        }
    }

    async fn run_attempt(&self, job: &Job, ending: Arc<AttemptEnd>) -> (Next, Option<String>) {
        let principal = Principal::stored(
            &job.principal,
            &job.tenant_id,
            crate::auth::RunContext::from_json(&job.run_context),
        );
        // An attempt after a lost lease: the previous one may have succeeded before its
        // replica died. Then its result is the job's, and nothing runs again.
        match self.previous_success(job).await {
            Ok(Some((execution_id, output))) => {
                return (Next::Succeeded(output), Some(execution_id));
            }
            Ok(None) => {}
            Err(error) => {
                return (
                    Next::Later {
                        delay: RETRY_SOON,
                        error: ExecutionError::retryable(reason::INTERNAL.name, error.to_string()),
                    },
                    None,
                );
            }
        }
        match self.inner.orchestrator.credential_problem(&principal).await {
            Ok(None) => {}
            Ok(Some(problem)) => {
                return (
                    Next::Refused(ExecutionError::permanent("CREDENTIAL_REVOKED", problem)),
                    None,
                );
            }
            Err(error) => {
                return (
                    Next::Later {
                        delay: RETRY_SOON,
                        error: ExecutionError::retryable(reason::INTERNAL.name, error.to_string()),
                    },
                    None,
                );
            }
        }
        let request = run::Request {
            timeout: job
                .timeout_ms
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis),
            job_id: Some(job.id.clone()),
            entry: Entry::Job,
            job_end: Some(ending),
            ..run::Request::skill(job.skill_id.clone(), job.payload.clone())
        };
        let result = self
            .inner
            .orchestrator
            .run(&principal, request, run::Sink::none())
            .await
            .map(|answer| match answer.outcome {
                run::Outcome::Executed(execution) | run::Outcome::PendingApproval(execution) => {
                    execution
                }
                // A job names its skill and never dry-runs.
                run::Outcome::NotRouted | run::Outcome::DryRun(_) | run::Outcome::Pipeline(_) => {
                    unreachable!("a job's run names its skill and is not a dry run")
                }
            });
        classify(result)
    }

    /// The latest attempt of a job, when it succeeded (a replica died before recording it).
    async fn previous_success(&self, job: &Job) -> Result<Option<(String, Json)>, Error> {
        if job.attempt <= 1 {
            return Ok(None);
        }
        let latest = self.attempts(job, 1).await?;
        Ok(latest.into_iter().find_map(|execution| {
            (execution.status == ExecutionStatus::Succeeded)
                .then(|| (execution.id, execution.output.unwrap_or(Json::Null)))
        }))
    }

    /// The job's next state after an attempt, fenced by its lease.
    fn end(&self, job: &Job, token: &str, (next, execution_id): (Next, Option<String>)) -> JobEnd {
        JobEnd {
            job_id: job.id.clone(),
            fence: JobFence::Lease(token.to_owned()),
            transition: JobTransition {
                execution_id,
                ..self.transition(job, next)
            },
        }
    }

    /// Records an attempt's end under its lease.
    async fn record(
        &self,
        job: &Job,
        token: &str,
        outcome: (Next, Option<String>),
    ) -> Result<(), Error> {
        let JobEnd {
            fence, transition, ..
        } = self.end(job, token, outcome);
        let recorded = self
            .inner
            .store
            .transition_job(&job.tenant_id, &job.id, &fence, &transition, None)
            .await?;
        if recorded {
            tracing::debug!(job_id = %job.id, attempt = job.attempt, state = transition.state.as_str(),
                            "job attempt recorded");
        } else {
            tracing::info!(job_id = %job.id, "job changed during its attempt (cancelled or re-leased)");
        }
        Ok(())
    }

    /// The job's next state after an attempt (attempt numbers are 1-based).
    fn transition(&self, job: &Job, next: Next) -> JobTransition {
        let now = skillos_store::now();
        match next {
            Next::Succeeded(output) => JobTransition {
                result: Some(output),
                ..JobTransition::to(JobState::Succeeded)
            },
            Next::Waiting => JobTransition::to(JobState::PendingApproval),
            Next::Failed { error, retryable } if retryable && job.attempt < job.max_attempts => {
                let delay = self.backoff(u32::try_from(job.attempt).unwrap_or(1));
                JobTransition {
                    next_run_at: Some(now + chrono_duration(delay)),
                    last_error: Some(error),
                    ..JobTransition::to(JobState::Queued)
                }
            }
            Next::Failed { error, .. } | Next::Refused(error) => JobTransition {
                last_error: Some(error),
                ..JobTransition::to(JobState::Dead)
            },
            Next::Later { delay, error } => JobTransition {
                next_run_at: Some(now + chrono_duration(delay)),
                attempt: AttemptChange::Refund,
                last_error: Some(error),
                ..JobTransition::to(JobState::Queued)
            },
            Next::Cancelled => JobTransition::to(JobState::Cancelled),
        }
    }

    /// Delay before the retry after failed attempt `n` (1-based): the initial backoff doubled
    /// per attempt, capped, with ±20% jitter so retries of many jobs do not arrive together.
    fn backoff(&self, n: u32) -> Duration {
        backoff(
            Duration::from_millis(self.inner.config.backoff_initial_ms),
            Duration::from_millis(self.inner.config.backoff_max_ms),
            n,
            jitter(),
        )
    }

    /// Finishes jobs whose attempt was held for approval once that execution ended (approved
    /// and run, rejected, expired or cancelled).
    async fn sweep_held(&self) -> Result<(), Error> {
        const PAGE: u32 = 100;
        let store = &self.inner.store;
        let mut after: Option<String> = None;
        loop {
            let page = store
                .jobs_in_state(JobState::PendingApproval, after.as_deref(), PAGE)
                .await?;
            let Some(last) = page.last().map(|job| job.id.clone()) else {
                return Ok(());
            };
            for job in page {
                let Some(execution_id) = &job.execution_id else {
                    continue;
                };
                let Some(execution) = store.get_execution(&job.tenant_id, execution_id).await?
                else {
                    continue;
                };
                if !execution.status.is_terminal() {
                    continue;
                }
                let (next, _) = classify(Ok(execution));
                let transition = match next {
                    // A held attempt is not retried: its approval covered that one run.
                    Next::Failed { error, .. } => JobTransition {
                        last_error: Some(error),
                        ..JobTransition::to(JobState::Dead)
                    },
                    next => self.transition(&job, next),
                };
                let fence = JobFence::State(JobState::PendingApproval);
                store
                    .transition_job(&job.tenant_id, &job.id, &fence, &transition, None)
                    .await?;
            }
            after = Some(last);
        }
    }
}

/// How an attempt ended, from the run's result, with the execution it created.
/// An attempt's outcome, handed to its run so that the two are recorded in one transaction.
struct AttemptEnd {
    jobs: Service,
    job: Job,
    token: String,
    recorded: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for AttemptEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptEnd")
            .field("job_id", &self.job.id)
            .finish_non_exhaustive()
    }
}

impl run::JobEnding for AttemptEnd {
    fn outcome(&self, result: Result<skillos_store::Execution, orchestrator::Error>) -> JobEnd {
        self.jobs.end(&self.job, &self.token, classify(result))
    }

    fn recorded(&self, recorded: bool) {
        self.recorded
            .store(recorded, std::sync::atomic::Ordering::Release);
    }
}

fn classify(
    result: Result<skillos_store::Execution, orchestrator::Error>,
) -> (Next, Option<String>) {
    use orchestrator::Error as E;
    let execution = match result {
        Ok(execution) => execution,
        Err(error) => {
            let later = match &error {
                E::RateLimited(crate::rate_limit::Refusal::Limited { retry_after, .. }) => {
                    Some(*retry_after)
                }
                E::Breaker(crate::breaker::Error::Open { retry_after, .. }) => Some(*retry_after),
                E::RateLimited(crate::rate_limit::Refusal::Unavailable)
                | E::NoRunner(_)
                | E::Store(_)
                | E::Breaker(crate::breaker::Error::Store(_))
                | E::Budget(crate::budget::Error::Store(_)) => Some(RETRY_SOON),
                _ => None,
            };
            let execution_id = error.execution_id().map(str::to_owned);
            let retryable = error.is_retryable();
            let cancelled = error.is_cancelled();
            let api = crate::error::Error::from(error);
            let error = if later.is_some() || retryable {
                ExecutionError::retryable(api.reason.name, api.message)
            } else {
                ExecutionError::permanent(api.reason.name, api.message)
            };
            let next = match later {
                Some(delay) => Next::Later { delay, error },
                None if cancelled => Next::Cancelled,
                None if execution_id.is_some() => Next::Failed { error, retryable },
                None => Next::Refused(error),
            };
            return (next, execution_id);
        }
    };
    let id = Some(execution.id.clone());
    let next = match execution.status {
        ExecutionStatus::Succeeded => Next::Succeeded(execution.output.unwrap_or(Json::Null)),
        ExecutionStatus::PendingApproval | ExecutionStatus::Pending => Next::Waiting,
        ExecutionStatus::Cancelled => Next::Cancelled,
        ExecutionStatus::Rejected => Next::Refused(
            execution
                .error
                .unwrap_or_else(|| ExecutionError::permanent("REJECTED", "the run was refused")),
        ),
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Running => {
            let error = execution.error.unwrap_or_else(|| {
                ExecutionError::retryable(
                    reason::INTERNAL.name,
                    "the attempt ended without an error",
                )
            });
            let retryable = error.is_retryable();
            Next::Failed { error, retryable }
        }
    };
    (next, id)
}

/// An error of the server's making, in the shape executions store errors.
fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// A factor in [0.8, 1.2).
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    0.8 + 0.4 * f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

fn backoff(initial: Duration, max: Duration, n: u32, jitter: f64) -> Duration {
    let doubled = initial.saturating_mul(1u32 << n.saturating_sub(1).min(20));
    doubled.min(max).mul_f64(jitter)
}

impl From<crate::jobs::Error> for crate::error::Error {
    fn from(error: crate::jobs::Error) -> Self {
        use crate::jobs::Error as E;
        let message = error.to_string();
        let reason = match error {
            E::Run(run) => return Self::from(run),
            E::Store(store) => return Self::store(&store),
            E::NotFound(_) => reason::JOB_NOT_FOUND,
            E::Finished { .. } => reason::JOB_FINISHED,
            E::NotDead(_) => reason::JOB_NOT_DEAD,
            E::Invalid(_) => reason::INVALID_REQUEST,
            E::Denied(_) => reason::POLICY_DENIED,
            E::InvalidPageToken => {
                return Self::field(reason::INVALID_PAGE_TOKEN, "page_token", message);
            }
            E::InvalidPageSize => {
                return Self::field(reason::INVALID_PAGE_SIZE, "page_size", message);
            }
        };
        Self::new(reason, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_within_the_jitter() {
        let initial = Duration::from_secs(5);
        let max = Duration::from_secs(300);
        let exact: Vec<u64> = (1..=9)
            .map(|n| backoff(initial, max, n, 1.0).as_secs())
            .collect();
        assert_eq!(exact, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(initial, max, 1, 0.8), Duration::from_secs(4));
        assert_eq!(backoff(initial, max, 100, 1.2), Duration::from_secs(360));
        for _ in 0..1000 {
            let factor = jitter();
            assert!((0.8..1.2).contains(&factor), "{factor}");
        }
    }
}
