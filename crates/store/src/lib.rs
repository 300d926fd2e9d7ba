//! The storage boundary of SkillOS.
//!
//! One [`Store`] trait with two implementations over sqlx: [`SqliteStore`] (the embedded default,
//! one WAL file under the data dir) and [`PgStore`] (PostgreSQL, for several replicas). Each has
//! its own embedded migrations, applied by [`open`]. Every tenant-owned row carries `tenant_id`
//! and every query filters on it, so a tenant can never read another tenant's rows.

mod flow;
mod flow_sql;
mod group_commit;
mod job;
mod job_sql;
mod model;
mod postgres;
mod schedule;
mod schedule_sql;
mod sql;
mod sqlite;
mod webhook;
mod webhook_sql;

use std::path::PathBuf;

use serde_json::Value as Json;
use std::sync::Arc;

pub use flow::{
    FlowParent, FlowRun, FlowRunEnd, FlowRunFilter, FlowRunStatus, FlowSignal, FlowStep,
    FlowStepStatus, Signalled,
};
pub use group_commit::WriteStats;
pub use job::{AttemptChange, Job, JobFence, JobFilter, JobSource, JobState, JobTransition};
pub use model::{
    Activation, ApiKey, Approval, ApprovalDecision, ApprovalFilter, ApprovalState, AuditEvent,
    BudgetKey, BudgetLimit, Circuit, CircuitState, Counter, CounterKey, Decided, ErrorClass,
    ErrorOrigin, Execution, ExecutionError, ExecutionFilter, ExecutionStatus, ExecutionUpdate,
    Finished, IdempotencyClaim, IdempotencyRecord, JobEnd, Reservation, ReserveCheck,
    RoutingFeedback, Settlement, SkillState, SkillVector, TenantId, UsageDelta, UsageFilter,
    UsageRow, now,
};
pub use postgres::PgStore;
pub use schedule::{ManualFire, Schedule, ScheduleFilter, ScheduleState};
pub use sqlite::SqliteStore;
pub use webhook::{Delivery, Trigger, TriggerSecret};

/// Rows that retention removes once they are old enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retained {
    /// Executions of every tenant that ended (succeeded, failed, cancelled, timed out,
    /// rejected) before the bound; runs still pending, held or running are never removed.
    Executions,
    /// Jobs that ended (succeeded, dead, cancelled) before the bound.
    Jobs,
    /// Daily usage rows of days before the bound's day (UTC).
    Usage,
}

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded default.
    #[default]
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// How to open a store.
#[derive(Clone, Debug)]
pub enum Options {
    /// A SQLite file, created when missing.
    Sqlite { path: PathBuf },
    /// A PostgreSQL database; tables live in `schema`, which is created when missing.
    Postgres {
        dsn: String,
        schema: String,
        max_connections: u32,
    },
}

/// Storage failures. Messages never contain row contents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    /// A value the database cannot hold as it is (PostgreSQL text and JSON cannot contain a
    /// NUL character); the caller's input, not a fault of the store.
    #[error("a text contains a NUL character, which the database cannot store")]
    Unstorable,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid store option {key}: {message}")]
    Options { key: &'static str, message: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        // 22021: invalid byte sequence (0x00 in text); 22P05: untranslatable character
        // (\u0000 in jsonb).
        let unstorable = error
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code == "22021" || code == "22P05");
        if unstorable {
            Error::Unstorable
        } else {
            Error::Database(Arc::new(error))
        }
    }
}

impl Error {
    /// The database cannot be reached or cannot write now (connection lost, pool exhausted, a
    /// full or read-only disk, an I/O error, locked past the busy timeout): the request may
    /// succeed later, unchanged. Anything else (a constraint, corrupt data) is not.
    pub fn is_unavailable(&self) -> bool {
        let Error::Database(error) = self else {
            return false;
        };
        match error.as_ref() {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// SQLSTATE classes 08 (connection), 53 (insufficient resources: disk full, out of memory),
/// 57P0x (the server shutting down, crashed, or cannot connect now); SQLite's BUSY (5),
/// LOCKED (6), NOMEM (7), READONLY (8), IOERR (10), FULL (13), CANTOPEN (14) in the low byte
/// of an extended result code.
fn unavailable_code(code: &str) -> bool {
    if let Ok(sqlite) = code.parse::<u32>() {
        return matches!(sqlite & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14);
    }
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Opens the store the options name and applies its migrations.
pub async fn open(options: &Options) -> Result<Arc<dyn Store>> {
    Ok(match options {
        Options::Sqlite { path } => Arc::new(SqliteStore::open(path).await?),
        Options::Postgres {
            dsn,
            schema,
            max_connections,
        } => Arc::new(PgStore::open(dsn, schema, *max_connections).await?),
    })
}

/// Everything SkillOS persists.
#[async_trait::async_trait]
pub trait Store: JobStore + WebhookStore + ScheduleStore + FlowStore + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// Round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);

    /// Deprecation override of one skill, if one was set.
    async fn skill_state(&self, tenant: &TenantId, skill_id: &str) -> Result<Option<SkillState>>;

    /// All deprecation overrides of a tenant.
    async fn skill_states(&self, tenant: &TenantId) -> Result<Vec<SkillState>>;

    /// Sets a deprecation override and records the audit event in the same transaction.
    async fn put_skill_state(
        &self,
        tenant: &TenantId,
        state: &SkillState,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// Removes the override of one skill (its manifest decides again) and records the audit
    /// event in the same transaction.
    async fn clear_skill_state(
        &self,
        tenant: &TenantId,
        skill_id: &str,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// The tenant's composition activations.
    async fn activations(&self, tenant: &TenantId) -> Result<Vec<Activation>>;

    /// Activates or deactivates a composition for the tenant and records the audit event in
    /// the same transaction.
    async fn put_activation(
        &self,
        tenant: &TenantId,
        activation: &Activation,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// Stores a new execution record.
    async fn insert_execution(&self, execution: &Execution) -> Result<()>;

    /// Applies a change; false when the tenant has no such execution, or it is not in
    /// `update.expect_status` (a compare-and-set, so two writers cannot both move it on).
    async fn update_execution(
        &self,
        tenant: &TenantId,
        id: &str,
        update: &ExecutionUpdate,
    ) -> Result<bool>;

    async fn get_execution(&self, tenant: &TenantId, id: &str) -> Result<Option<Execution>>;

    /// Newest first; `filter.before_id` continues a listing after its last id.
    async fn list_executions(
        &self,
        tenant: &TenantId,
        filter: &ExecutionFilter,
        limit: u32,
    ) -> Result<Vec<Execution>>;

    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;

    /// Stored vectors of `model` for the given text hashes (those found).
    async fn skill_vectors(&self, model: &str, text_hashes: &[String]) -> Result<Vec<SkillVector>>;

    /// Stores vectors of `model`; an existing (model, hash) keeps its first vector.
    async fn put_skill_vectors(&self, model: &str, vectors: &[SkillVector]) -> Result<()>;

    /// Records routing feedback.
    async fn insert_feedback(&self, feedback: &RoutingFeedback) -> Result<()>;

    /// All routing feedback, oldest first, of every tenant (to rebuild the in-memory books).
    async fn all_feedback(&self) -> Result<Vec<RoutingFeedback>>;

    /// Stores a new API key and records the audit event in the same transaction.
    async fn insert_api_key(&self, key: &ApiKey, audit: &AuditEvent) -> Result<()>;

    /// The key with this id, of any tenant: the id is how a presented key is found.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>>;

    /// Keys of one tenant, or of every tenant; newest first. Revoked keys included.
    async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>>;

    /// Marks a key revoked (with the audit event); false when there is no such unrevoked key.
    async fn revoke_api_key(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
        audit: &AuditEvent,
    ) -> Result<bool>;

    /// The circuit breaker of a skill, if one was ever written.
    async fn circuit(&self, tenant: &TenantId, skill_id: &str) -> Result<Option<Circuit>>;

    /// Writes a breaker if it is still at `expected_version` (`None`: if there is none yet);
    /// the written row has `circuit.version`. False when another writer came first.
    async fn put_circuit(&self, circuit: &Circuit, expected_version: Option<i64>) -> Result<bool>;

    /// Budget limits set through the API for a tenant.
    async fn budget_limits(&self, tenant: &TenantId) -> Result<Vec<BudgetLimit>>;

    /// Sets (`Some`) or removes (`None`) a limit, with its audit event.
    async fn put_budget_limit(
        &self,
        tenant: &TenantId,
        key: &BudgetKey,
        amount: Option<f64>,
        actor: &str,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// The counters of these windows; a window without a counter yet shows the usage settled
    /// in it so far.
    async fn budget_counters(&self, tenant: &TenantId, keys: &[CounterKey])
    -> Result<Vec<Counter>>;

    /// In one transaction: adds `reservation.amount` to the reserved amount of every counter of
    /// the reservation, refusing (and changing nothing) when a check's counter would go over
    /// its limit, then stores the reservation. `Ok(Some(i))`: check `i` refused.
    async fn reserve_budget(
        &self,
        reservation: &Reservation,
        checks: &[ReserveCheck],
    ) -> Result<Option<usize>>;

    /// Ends a reservation once: its amount leaves `reserved`, and `spent` (when given) is added
    /// to every counter, with the usage row, in one transaction. False when the reservation
    /// was already settled, released or expired.
    async fn settle_budget(
        &self,
        tenant: &TenantId,
        id: &str,
        spent: Option<f64>,
        usage: Option<&UsageDelta>,
    ) -> Result<bool>;

    /// Applies an execution's final update (see [`Store::update_execution`]) and settles its
    /// budget, usage and job outcome in one transaction; the job's outcome only when the
    /// update applied.
    async fn finish_execution(
        &self,
        tenant: &TenantId,
        id: &str,
        update: &ExecutionUpdate,
        settlement: &Settlement,
    ) -> Result<Finished>;

    /// Reservations whose time is up, oldest first: `(tenant, id)`.
    async fn expired_reservations(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(TenantId, String)>>;

    /// Usage rows of a tenant, newest day first, then skill and principal.
    async fn list_usage(&self, tenant: &TenantId, filter: &UsageFilter) -> Result<Vec<UsageRow>>;

    /// Stores a run held for approval (its execution, PENDING_APPROVAL) and the approval, with
    /// the audit event, in one transaction.
    async fn insert_approval(
        &self,
        execution: &Execution,
        approval: &Approval,
        audit: &AuditEvent,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Option<IdempotencyRecord>>;

    /// Stores a new execution and claims its idempotency key in one transaction. When the
    /// key is already held (and unexpired), nothing is stored and its record is returned.
    async fn insert_execution_claimed(
        &self,
        execution: &Execution,
        claim: &IdempotencyClaim,
    ) -> Result<Option<IdempotencyRecord>>;

    /// The unexpired record of a key.
    async fn idempotency_record(
        &self,
        claim: &IdempotencyClaim,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<IdempotencyRecord>>;

    /// Stores the response of the request that claimed a key.
    async fn complete_idempotency(&self, claim: &IdempotencyClaim, response: &Json) -> Result<()>;

    /// Forgets expired keys; returns how many.
    async fn delete_expired_idempotency(&self, now: chrono::DateTime<chrono::Utc>) -> Result<u64>;

    /// Removes up to `limit` rows of one kind that are older than `before`, oldest first;
    /// returns how many (see [`Retained`]).
    async fn delete_retained(
        &self,
        rows: Retained,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64>;

    async fn approval(&self, tenant: &TenantId, id: &str) -> Result<Option<Approval>>;

    /// Newest first (created_at, then id).
    async fn list_approvals(
        &self,
        tenant: &TenantId,
        filter: &ApprovalFilter,
        limit: u32,
    ) -> Result<Vec<Approval>>;

    /// Records one decision in one transaction that holds the approval: refuses unless it is
    /// pending and unexpired (an expired one becomes EXPIRED here) and the approver has not
    /// decided; a rejection rejects it, the `required`-th distinct approval approves it. The
    /// execution moves with it (PENDING when approved, REJECTED otherwise). `audit` is written
    /// when the decision is recorded.
    async fn decide_approval(
        &self,
        tenant: &TenantId,
        id: &str,
        decision: &ApprovalDecision,
        audit: &AuditEvent,
    ) -> Result<Decided>;

    /// Expires a pending approval whose time is up (and rejects its execution); `None` when it
    /// is not pending or not expired.
    async fn expire_approval(
        &self,
        tenant: &TenantId,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Approval>>;

    /// Cancels a pending approval and its execution (CANCELLED, with `reason`), with the audit
    /// event, in one transaction; `None` when it is not pending.
    async fn cancel_approval(
        &self,
        tenant: &TenantId,
        id: &str,
        reason: &str,
        audit: &AuditEvent,
    ) -> Result<Option<Approval>>;

    /// Pending approvals whose time is up: `(tenant, id)`, oldest expiry first.
    async fn expired_approvals(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(TenantId, String)>>;

    /// Executions of every tenant waiting to be dispatched (status PENDING), oldest first,
    /// after `after_id` when given.
    async fn pending_executions(
        &self,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Execution>>;

    /// Oldest first, after `after_id` when given.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>>;
}

/// The durable job queue (`job_sql.rs`).
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job. With a claim, its idempotency key is recorded in the same
    /// transaction; when the key is already held, nothing is stored and the holder's record is
    /// returned.
    async fn insert_job(
        &self,
        job: &Job,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Option<IdempotencyRecord>>;

    async fn get_job(&self, tenant: &TenantId, id: &str) -> Result<Option<Job>>;

    /// Newest first; `filter.before_id` continues a listing after its last id.
    async fn list_jobs(
        &self,
        tenant: &TenantId,
        filter: &JobFilter,
        limit: u32,
    ) -> Result<Vec<Job>>;

    /// Dead jobs, most recently dead first; `before` (finish time, id) continues a listing
    /// after its last job.
    async fn list_dead_jobs(
        &self,
        tenant: &TenantId,
        skill_id: Option<&str>,
        before: Option<(chrono::DateTime<chrono::Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<Job>>;

    /// Claims up to `limit` jobs of the `tenant/skill` pairs in `hosted` that are due (queued
    /// with `next_run_at <= now`) or whose lease expired, highest priority first: each becomes
    /// RUNNING under `lease_token` until `lease_until`, its attempt one higher. Replicas
    /// claiming at once never take the same job.
    async fn claim_jobs(
        &self,
        hosted: &[String],
        lease_token: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<Job>>;

    /// Extends the lease of a running job; false when the lease is no longer this token's.
    async fn renew_job_lease(
        &self,
        id: &str,
        lease_token: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool>;

    /// Applies a transition when the fence holds (and records the audit event in the same
    /// transaction); false when the job is gone or has moved on.
    async fn transition_job(
        &self,
        tenant: &TenantId,
        id: &str,
        fence: &JobFence,
        transition: &JobTransition,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// The executions of the attempts of these jobs of `tenant`, as (job id, execution id),
    /// oldest first.
    async fn attempt_ids(
        &self,
        tenant: &TenantId,
        job_ids: &[String],
    ) -> Result<Vec<(String, String)>>;

    /// Jobs of every tenant in one state, by id, for background sweeps.
    async fn jobs_in_state(
        &self,
        state: JobState,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>>;
}

/// Webhook triggers, their secrets and accepted deliveries (`webhook_sql.rs`).
/// Durable flow runs (ADR 9).
#[async_trait::async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new run; with a claim, the key and the run go together, and a key another
    /// request holds answers its record instead (nothing stored).
    async fn insert_flow_run(
        &self,
        run: &FlowRun,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Option<IdempotencyRecord>>;

    async fn get_flow_run(&self, tenant: &TenantId, id: &str) -> Result<Option<FlowRun>>;

    /// Newest first.
    async fn list_flow_runs(
        &self,
        tenant: &TenantId,
        filter: &FlowRunFilter,
        limit: u32,
    ) -> Result<Vec<FlowRun>>;

    /// A run's steps, in the order they started.
    async fn flow_steps(&self, run_id: &str) -> Result<Vec<FlowStep>>;

    /// Inserts or replaces a step's row while the run is running under `lease_token`; false
    /// when it is not (the lease was lost, the run was cancelled).
    async fn put_flow_step(&self, step: &FlowStep, lease_token: &str) -> Result<bool>;

    /// Claims runs whose lease expired (their driver died) or whose wait is due.
    async fn claim_flow_runs(
        &self,
        lease_token: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<FlowRun>>;

    async fn renew_flow_lease(
        &self,
        id: &str,
        lease_token: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool>;

    /// Ends a run, or leaves it waiting (until `wake_at`, or now when it was woken while it
    /// was driven), while it is under `lease_token`.
    async fn end_flow_run(&self, id: &str, lease_token: &str, end: &FlowRunEnd) -> Result<bool>;

    /// Cancels a run that has not ended, whoever drives it; false when it had ended.
    async fn cancel_flow_run(
        &self,
        tenant: &TenantId,
        id: &str,
        error: &ExecutionError,
    ) -> Result<bool>;

    /// Runs a failed or cancelled run again from the steps that did not end well: keeps the
    /// rows of steps that succeeded or were skipped, drops the others, counts the retry and
    /// takes the lease. `None` when the run is not failed or cancelled (or not the tenant's).
    async fn retry_flow_run(
        &self,
        tenant: &TenantId,
        id: &str,
        lease_token: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<FlowRun>>;

    /// Makes a waiting run due now, or marks a run being driven as woken (see
    /// [`FlowStore::wake_flow_runs_of`]).
    async fn wake_flow_run(&self, id: &str) -> Result<bool>;

    /// Makes due now the waiting runs with a step whose execution is `execution_id` (its
    /// approval was decided, or its run ended); a run being driven is marked, and its driver
    /// leaving it waiting leaves it due. Returns how many runs were woken or marked.
    async fn wake_flow_runs_of(&self, execution_id: &str) -> Result<u64>;

    /// Keeps a signal for its run, unless the run has ended or already holds `max_kept`
    /// signals nobody took; a waiting run is woken.
    async fn insert_flow_signal(&self, signal: &FlowSignal, max_kept: u32) -> Result<Signalled>;

    /// The signal named `name` that the step at `path` took before, else the oldest nobody
    /// took (which the step then takes), while the run is under `lease_token`.
    async fn take_flow_signal(
        &self,
        run_id: &str,
        name: &str,
        path: &str,
        lease_token: &str,
    ) -> Result<Option<FlowSignal>>;

    /// Deletes up to `limit` runs (their steps and signals too) that ended before `before`.
    async fn delete_finished_flow_runs(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64>;
}

#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a job created by a webhook delivery together with the delivery's record, in one
    /// transaction. When the delivery was recorded before (and has not expired), nothing is
    /// stored and the job it created is returned.
    async fn insert_delivery_job(&self, job: &Job, delivery: &Delivery) -> Result<Option<String>>;

    /// The job an unexpired delivery record of (trigger, delivery id) names.
    async fn delivery_job(
        &self,
        trigger_id: &str,
        delivery_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>>;

    /// Stores a trigger with its first secret and the audit event; false when the id is taken.
    async fn insert_trigger(
        &self,
        trigger: &Trigger,
        secret: &TriggerSecret,
        audit: &AuditEvent,
    ) -> Result<bool>;

    /// A trigger by id: of `tenant` when given, of any tenant otherwise (a webhook delivery
    /// names only the trigger; its tenant comes from the trigger).
    async fn trigger(&self, tenant: Option<&TenantId>, id: &str) -> Result<Option<Trigger>>;

    /// A tenant's triggers by id, after `after_id`.
    async fn list_triggers(
        &self,
        tenant: &TenantId,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Trigger>>;

    /// Deletes a trigger and its secrets, with the audit event; false when there is none.
    async fn delete_trigger(&self, tenant: &TenantId, id: &str, audit: &AuditEvent)
    -> Result<bool>;

    /// The secrets of a trigger valid at `now`, newest first.
    async fn trigger_secrets(
        &self,
        trigger_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<TriggerSecret>>;

    /// Adds a secret to a trigger of `tenant`; the secrets valid until now stay valid until
    /// `grace_until` at the latest. False when the tenant has no such trigger.
    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        secret: &TriggerSecret,
        grace_until: chrono::DateTime<chrono::Utc>,
        audit: &AuditEvent,
    ) -> Result<bool>;

    /// Removes delivery records and secrets that expired; how many.
    async fn delete_expired_webhook_rows(&self, now: chrono::DateTime<chrono::Utc>) -> Result<u64>;
}

/// Schedules and their fires (`schedule_sql.rs`).
#[async_trait::async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Stores a schedule; with a claim, records its idempotency key in the same transaction
    /// (when the key is held, nothing is stored and the holder's record is returned).
    async fn insert_schedule(
        &self,
        schedule: &Schedule,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Option<IdempotencyRecord>>;

    async fn get_schedule(&self, tenant: &TenantId, id: &str) -> Result<Option<Schedule>>;

    /// By create time, then id; `filter.after` continues a listing after its last schedule.
    async fn list_schedules(
        &self,
        tenant: &TenantId,
        filter: &ScheduleFilter,
        limit: u32,
    ) -> Result<Vec<Schedule>>;

    /// Moves a schedule from `expect` to `state` with its next fire time, and records the
    /// audit event; false when it is gone or not in `expect`.
    async fn set_schedule_state(
        &self,
        tenant: &TenantId,
        id: &str,
        expect: ScheduleState,
        state: ScheduleState,
        next_fire_at: Option<chrono::DateTime<chrono::Utc>>,
        audit: &AuditEvent,
    ) -> Result<bool>;

    async fn delete_schedule(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<bool>;

    /// Active schedules of every tenant whose next fire is due at `now`, earliest first.
    async fn due_schedules(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>>;

    /// Fires a schedule: moves its next fire time from `expected_next` (a compare-and-set on
    /// an active schedule) and stores the fire's job, if any, in the same transaction. False
    /// when another replica fired it first (nothing stored).
    async fn fire_schedule(
        &self,
        id: &str,
        expected_next: chrono::DateTime<chrono::Utc>,
        next_fire_at: Option<chrono::DateTime<chrono::Utc>>,
        state: ScheduleState,
        job: Option<&Job>,
    ) -> Result<bool>;

    /// Fires a schedule of `tenant` now, out of its times: stores the job (and the idempotency
    /// key) and records it as the last fire.
    async fn fire_schedule_now(
        &self,
        tenant: &TenantId,
        id: &str,
        job: &Job,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<ManualFire>;
}
