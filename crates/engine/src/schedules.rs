//! Schedules: `ScheduleService` as a domain service, and the scheduler that fires them.
//!
//! A schedule runs one skill at the times of a cron expression (5 fields, or 6 with seconds
//! first, read in an IANA time zone), every fixed interval from an anchor, or once. The
//! scheduler on every replica looks for due schedules twice a second; a fire moves the
//! schedule's next time on with a compare-and-set on the time it expected and stores the
//! fire's job in the same transaction, and jobs are unique per (schedule, nominal time): each
//! nominal time fires at most once across replicas and restarts. Fires more than a minute late
//! (the server was down) follow the schedule's catch-up policy: SKIP drops them, RUN_ONCE fires
//! once, keyed by the latest missed time. A one-shot schedule fires once even when late.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use skillos_store::{
    AuditEvent, IdempotencyRecord, ManualFire, Schedule, ScheduleFilter, ScheduleState, Store,
};

use crate::auth::Principal;
use crate::error::reason;
use crate::jobs::{self, EnqueueRequest, JobView};
use crate::orchestrator;
use crate::policy::{self, permission};
use crate::run::{self, IdempotencyKey};

/// A fire this late or later counts as missed (the catch-up policy decides).
const GRACE: Duration = Duration::from_secs(60);
/// How often the scheduler looks for due schedules.
const TICK: Duration = Duration::from_millis(500);
/// Shortest interval.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Most missed times walked through to find the latest one.
const MAX_CATCH_UP_STEPS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("schedule {0} not found")]
    NotFound(String),
    #[error("schedule {0} is completed")]
    Completed(String),
    #[error("{0}")]
    InvalidCron(String),
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/Moscow")]
    UnknownTimeZone(String),
    #[error("{0}")]
    Invalid(String),
    #[error("only the creator of schedule {0} or a holder of schedules:manage may do this")]
    Denied(String),
    #[error("invalid page_token; pass the next_page_token of the previous response")]
    InvalidPageToken,
    #[error("page_size must be between 0 and {}", crate::page::MAX_SIZE)]
    InvalidPageSize,
    #[error(transparent)]
    Run(#[from] orchestrator::Error),
    #[error(transparent)]
    Jobs(#[from] jobs::Error),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// When a schedule fires.
#[derive(Clone, Debug)]
pub enum Spec {
    Cron {
        expression: String,
        time_zone: String,
        cron: Box<croner::Cron>,
        tz: chrono_tz::Tz,
    },
    Interval {
        every: Duration,
        anchor: DateTime<Utc>,
    },
    Once(DateTime<Utc>),
}

/// What to do with fires missed while the server was down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUp {
    Skip,
    RunOnce,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::RunOnce => "run_once",
        }
    }

    fn parse(value: &str) -> Self {
        if value == "run_once" {
            Self::RunOnce
        } else {
            Self::Skip
        }
    }
}

impl Spec {
    /// A cron spec: 5 fields, or 6 with seconds first; `time_zone` empty means UTC.
    pub fn cron(expression: &str, time_zone: &str) -> Result<Self, Error> {
        use croner::parser::{CronParser, Seconds, Year};
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expression.trim())
            .map_err(|error| Error::InvalidCron(format!("cron {expression:?}: {error}")))?;
        let zone = if time_zone.trim().is_empty() {
            "UTC"
        } else {
            time_zone.trim()
        };
        let tz = chrono_tz::Tz::from_str(zone)
            .map_err(|_| Error::UnknownTimeZone(time_zone.to_owned()))?;
        let spec = Self::Cron {
            expression: expression.trim().to_owned(),
            time_zone: zone.to_owned(),
            cron: Box::new(cron),
            tz,
        };
        // A pattern that never matches (30 February) is refused now, not at its first fire.
        if spec.next_after(Utc::now()).is_none() {
            return Err(Error::InvalidCron(format!(
                "cron {expression:?} never matches a time"
            )));
        }
        Ok(spec)
    }

    /// The schedule's spec as stored.
    fn of(schedule: &Schedule) -> Result<Self, Error> {
        match schedule.kind.as_str() {
            "cron" => Self::cron(&schedule.cron_expression, &schedule.time_zone),
            "interval" => Ok(Self::Interval {
                every: Duration::from_millis(
                    u64::try_from(schedule.interval_ms.unwrap_or(1000)).unwrap_or(1000),
                ),
                anchor: schedule.anchor_at.unwrap_or(schedule.created_at),
            }),
            _ => Ok(Self::Once(schedule.once_at.unwrap_or(schedule.created_at))),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cron { .. } => "cron",
            Self::Interval { .. } => "interval",
            Self::Once(_) => "once",
        }
    }

    /// The first nominal time strictly after `t`; `None` when there is none.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron { cron, tz, .. } => cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
            Self::Interval { every, anchor } => {
                let every_ms = i64::try_from(every.as_millis()).ok()?.max(1);
                if t < *anchor {
                    return Some(*anchor);
                }
                let elapsed = (t - *anchor).num_milliseconds();
                let steps = elapsed / every_ms + 1;
                Some(*anchor + chrono::Duration::milliseconds(steps.checked_mul(every_ms)?))
            }
            Self::Once(at) => (*at > t).then_some(*at),
        }
    }
}

/// What a fire of a due schedule does: fire at `fire` (if any), then wait for `next`.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    fire: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
    state: ScheduleState,
}

/// The plan for a schedule due at `nominal`, seen at `now`.
fn plan(spec: &Spec, catch_up: CatchUp, nominal: DateTime<Utc>, now: DateTime<Utc>) -> Plan {
    let grace = chrono::Duration::from_std(GRACE).unwrap_or_default();
    if let Spec::Once(_) = spec {
        // A one-shot fire is never dropped: late, it still runs once.
        return Plan {
            fire: Some(nominal),
            next: None,
            state: ScheduleState::Completed,
        };
    }
    // The latest nominal time that is due now.
    let mut latest = nominal;
    for _ in 0..MAX_CATCH_UP_STEPS {
        match spec.next_after(latest) {
            Some(next) if next <= now => latest = next,
            _ => break,
        }
    }
    let next = match spec.next_after(latest) {
        // More missed times than were walked through: start again from now.
        Some(next) if next <= now => spec.next_after(now),
        next => next,
    };
    let on_time = now - latest <= grace;
    let fire = match (on_time, catch_up) {
        (true, _) => Some(latest),
        (false, CatchUp::RunOnce) => Some(latest),
        (false, CatchUp::Skip) => None,
    };
    Plan {
        fire,
        next,
        state: ScheduleState::Active,
    }
}

/// A new schedule, as a caller describes it.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub skill_id: String,
    pub payload: Json,
    pub description: String,
    pub spec: Spec,
    pub catch_up: CatchUp,
    /// `None`: the job default.
    pub max_attempts: Option<u32>,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    jobs: jobs::Service,
    orchestrator: orchestrator::Service,
    policies: Arc<policy::Service>,
    idempotency_ttl: Duration,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("schedules::Service").finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        jobs: jobs::Service,
        orchestrator: orchestrator::Service,
        policies: Arc<policy::Service>,
        idempotency_ttl: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                jobs,
                orchestrator,
                policies,
                idempotency_ttl,
            }),
        }
    }

    fn claim(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
        response: Json,
    ) -> skillos_store::IdempotencyClaim {
        skillos_store::IdempotencyClaim {
            response: Some(response),
            ..run::idempotency::claim(principal, key, self.inner.idempotency_ttl)
        }
    }

    /// The id an earlier request with this key made, if any (IDEMPOTENCY_KEY_REUSED when it
    /// came with another request).
    async fn replayed(
        &self,
        principal: &Principal,
        key: Option<&IdempotencyKey>,
    ) -> Result<Option<String>, Error> {
        let Some(key) = key else {
            return Ok(None);
        };
        let claim = run::idempotency::claim(principal, key, self.inner.idempotency_ttl);
        match self
            .inner
            .store
            .idempotency_record(&claim, skillos_store::now())
            .await?
        {
            Some(record) => Self::replayed_id(key, &record).map(Some),
            None => Ok(None),
        }
    }

    /// An earlier request's record of this key: the id it made, or IDEMPOTENCY_KEY_REUSED.
    fn replayed_id(key: &IdempotencyKey, record: &IdempotencyRecord) -> Result<String, Error> {
        if record.request_sha256 != key.request_sha256 {
            return Err(orchestrator::Error::IdempotencyKeyReused.into());
        }
        Ok(record.execution_id.clone())
    }

    /// Creates a schedule, ACTIVE, with its first fire computed.
    pub async fn create(
        &self,
        principal: &Principal,
        new: NewSchedule,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<(Schedule, bool), Error> {
        self.inner.orchestrator.admit_caller(principal).await?;
        let store = &self.inner.store;
        if let Some(id) = self.replayed(principal, idempotency.as_ref()).await? {
            return Ok((self.get(principal, &id).await?, true));
        }
        let view = self
            .inner
            .orchestrator
            .admit_skill(principal, &new.skill_id, &new.payload)
            .await?;
        if new
            .max_attempts
            .is_some_and(|n| !(1..=jobs::MAX_ATTEMPTS).contains(&n))
        {
            return Err(Error::Invalid(format!(
                "max_attempts must be between 1 and {}",
                jobs::MAX_ATTEMPTS
            )));
        }
        let now = skillos_store::now();
        let (expression, time_zone, interval_ms, anchor_at, once_at) = match &new.spec {
            Spec::Cron {
                expression,
                time_zone,
                ..
            } => (expression.clone(), time_zone.clone(), None, None, None),
            Spec::Interval { every, anchor } => {
                if *every < MIN_INTERVAL {
                    return Err(Error::Invalid("the interval must be at least 1 s".into()));
                }
                (
                    String::new(),
                    String::new(),
                    i64::try_from(every.as_millis()).ok(),
                    Some(*anchor),
                    None,
                )
            }
            Spec::Once(at) => {
                if *at <= now {
                    return Err(Error::Invalid("the one-shot time is in the past".into()));
                }
                (String::new(), String::new(), None, None, Some(*at))
            }
        };
        let next_fire_at = new.spec.next_after(now);
        let schedule = Schedule {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant.clone(),
            skill_id: view.skill.manifest.id.to_string(),
            payload: new.payload,
            description: new.description,
            kind: new.spec.kind().to_owned(),
            cron_expression: expression,
            time_zone,
            interval_ms,
            anchor_at,
            once_at,
            catch_up: new.catch_up.as_str().to_owned(),
            max_attempts: new
                .max_attempts
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0),
            state: ScheduleState::Active,
            next_fire_at,
            last_fire_at: None,
            last_job_id: String::new(),
            principal: principal.subject.clone(),
            run_context: principal.run_context().to_json(),
            created_at: now,
            updated_at: now,
        };
        let claim = idempotency
            .as_ref()
            .map(|key| self.claim(principal, key, json!({"schedule_id": schedule.id})));
        if let Some(held) = store.insert_schedule(&schedule, claim.as_ref()).await? {
            let key = idempotency.as_ref().expect("a claim has a key");
            let id = Self::replayed_id(key, &held)?;
            return Ok((self.get(principal, &id).await?, true));
        }
        tracing::info!(schedule_id = %schedule.id, skill_id = %schedule.skill_id, kind = %schedule.kind,
                       next_fire_at = ?schedule.next_fire_at, "schedule created");
        Ok((schedule, false))
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<Schedule, Error> {
        self.inner
            .store
            .get_schedule(&principal.tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// By create time, then id; the page token is the last schedule's id.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: ScheduleFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Schedule>, Option<String>), Error> {
        let limit = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        if !page_token.is_empty() {
            let last = self
                .inner
                .store
                .get_schedule(&principal.tenant, page_token)
                .await?
                .ok_or(Error::InvalidPageToken)?;
            filter.after = Some((last.created_at, last.id));
        }
        let mut schedules = self
            .inner
            .store
            .list_schedules(&principal.tenant, &filter, limit + 1)
            .await?;
        let next = (schedules.len() > limit as usize).then(|| {
            schedules.truncate(limit as usize);
            schedules.last().map(|s| s.id.clone()).unwrap_or_default()
        });
        Ok((schedules, next))
    }

    async fn owned(&self, principal: &Principal, id: &str) -> Result<Schedule, Error> {
        let schedule = self.get(principal, id).await?;
        let manager = self
            .inner
            .policies
            .check_permission(principal, permission::SCHEDULES_MANAGE)
            .allowed;
        if schedule.principal != principal.subject && !manager {
            return Err(Error::Denied(id.to_owned()));
        }
        Ok(schedule)
    }

    /// Pauses an active schedule; a paused one is returned unchanged.
    pub async fn pause(&self, principal: &Principal, id: &str) -> Result<Schedule, Error> {
        let schedule = self.owned(principal, id).await?;
        match schedule.state {
            ScheduleState::Paused => return Ok(schedule),
            ScheduleState::Completed => return Err(Error::Completed(id.to_owned())),
            ScheduleState::Active => {}
        }
        self.set_state(
            principal,
            id,
            ScheduleState::Active,
            ScheduleState::Paused,
            None,
            "schedule.paused",
        )
        .await
    }

    /// Resumes a paused schedule from its next nominal time after now; an active one is
    /// returned unchanged.
    pub async fn resume(&self, principal: &Principal, id: &str) -> Result<Schedule, Error> {
        let schedule = self.owned(principal, id).await?;
        match schedule.state {
            ScheduleState::Active => return Ok(schedule),
            ScheduleState::Completed => return Err(Error::Completed(id.to_owned())),
            ScheduleState::Paused => {}
        }
        let spec = Spec::of(&schedule)?;
        let next = spec.next_after(skillos_store::now());
        let state = if next.is_some() {
            ScheduleState::Active
        } else {
            ScheduleState::Completed
        };
        self.set_state(
            principal,
            id,
            ScheduleState::Paused,
            state,
            next,
            "schedule.resumed",
        )
        .await
    }

    /// Moves a schedule from `from` to `to` with its next fire time, audited as `action`;
    /// returns it as it is then.
    async fn set_state(
        &self,
        principal: &Principal,
        id: &str,
        from: ScheduleState,
        to: ScheduleState,
        next_fire_at: Option<DateTime<Utc>>,
        action: &str,
    ) -> Result<Schedule, Error> {
        let audit = AuditEvent::now(&principal.tenant, &principal.subject, action, id, json!({}));
        self.inner
            .store
            .set_schedule_state(&principal.tenant, id, from, to, next_fire_at, &audit)
            .await?;
        self.get(principal, id).await
    }

    pub async fn delete(&self, principal: &Principal, id: &str) -> Result<(), Error> {
        self.owned(principal, id).await?;
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "schedule.deleted",
            id,
            json!({}),
        );
        if !self
            .inner
            .store
            .delete_schedule(&principal.tenant, id, &audit)
            .await?
        {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(())
    }

    /// Fires a schedule now, whatever its state, with now as the nominal time.
    pub async fn trigger(
        &self,
        principal: &Principal,
        id: &str,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<(Schedule, JobView, bool), Error> {
        self.inner.orchestrator.admit_caller(principal).await?;
        let store = &self.inner.store;
        if let Some(job_id) = self.replayed(principal, idempotency.as_ref()).await? {
            let job = self.inner.jobs.get(principal, &job_id).await?;
            return Ok((self.get(principal, id).await?, job, true));
        }
        let schedule = self.owned(principal, id).await?;
        let job = self.job(&schedule, skillos_store::now()).await?;
        let claim = idempotency
            .as_ref()
            .map(|key| self.claim(principal, key, json!({"job_id": job.id})));
        match store
            .fire_schedule_now(&principal.tenant, id, &job, claim.as_ref())
            .await?
        {
            ManualFire::Fired => {}
            ManualFire::NoSchedule => return Err(Error::NotFound(id.to_owned())),
            ManualFire::KeyHeld(record) => {
                let key = idempotency.as_ref().expect("a claim has a key");
                let job_id = Self::replayed_id(key, &record)?;
                let job = self.inner.jobs.get(principal, &job_id).await?;
                return Ok((self.get(principal, id).await?, job, true));
            }
        }
        self.inner.jobs.notify();
        tracing::info!(schedule_id = id, job_id = %job.id, "schedule fired by hand");
        let view = self.inner.jobs.get(principal, &job.id).await?;
        Ok((self.get(principal, id).await?, view, false))
    }

    /// The job of one fire of a schedule, checked as its creator now.
    async fn job(
        &self,
        schedule: &Schedule,
        fire: DateTime<Utc>,
    ) -> Result<skillos_store::Job, Error> {
        let principal = Principal::stored(
            &schedule.principal,
            &schedule.tenant_id,
            crate::auth::RunContext::from_json(&schedule.run_context),
        );
        if let Some(problem) = self
            .inner
            .orchestrator
            .credential_problem(&principal)
            .await?
        {
            return Err(Error::Invalid(problem));
        }
        let request = EnqueueRequest {
            source: skillos_store::JobSource::Schedule,
            source_id: schedule.id.clone(),
            fire_time: Some(fire),
            max_attempts: u32::try_from(schedule.max_attempts).ok().filter(|n| *n > 0),
            ..EnqueueRequest::new(schedule.skill_id.clone(), schedule.payload.clone())
        };
        Ok(self.inner.jobs.prepare(&principal, request).await?)
    }

    /// Fires the schedules that are due, until `shutdown` changes.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.fire_due().await {
                tracing::warn!(%error, "cannot fire due schedules");
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Fires every schedule due now; returns how many fires this replica made.
    pub async fn fire_due(&self) -> Result<usize, Error> {
        let store = &self.inner.store;
        let mut fired = 0;
        for schedule in store.due_schedules(skillos_store::now(), 100).await? {
            let Some(nominal) = schedule.next_fire_at else {
                continue;
            };
            let spec = match Spec::of(&schedule) {
                Ok(spec) => spec,
                Err(error) => {
                    tracing::warn!(%error, schedule_id = %schedule.id, "schedule cannot fire; paused");
                    let audit = AuditEvent::now(
                        &schedule.tenant_id,
                        "scheduler",
                        "schedule.paused",
                        &schedule.id,
                        json!({"reason": error.to_string()}),
                    );
                    store
                        .set_schedule_state(
                            &schedule.tenant_id,
                            &schedule.id,
                            ScheduleState::Active,
                            ScheduleState::Paused,
                            None,
                            &audit,
                        )
                        .await?;
                    continue;
                }
            };
            let plan = plan(
                &spec,
                CatchUp::parse(&schedule.catch_up),
                nominal,
                skillos_store::now(),
            );
            let job = match plan.fire {
                Some(at) => match self.job(&schedule, at).await {
                    Ok(job) => Some(job),
                    Err(Error::Store(error)) => return Err(error.into()),
                    Err(error) => {
                        // The fire cannot become a job (skill gone, policy or key revoked):
                        // it is skipped, and the schedule goes on.
                        tracing::warn!(%error, schedule_id = %schedule.id, "schedule fire skipped");
                        None
                    }
                },
                None => {
                    tracing::info!(schedule_id = %schedule.id, %nominal, "missed fires skipped");
                    None
                }
            };
            if store
                .fire_schedule(&schedule.id, nominal, plan.next, plan.state, job.as_ref())
                .await?
                && job.is_some()
            {
                fired += 1;
                tracing::info!(schedule_id = %schedule.id, fire_time = ?plan.fire, "schedule fired");
            }
        }
        if fired > 0 {
            self.inner.jobs.notify();
        }
        Ok(fired)
    }
}

impl From<crate::schedules::Error> for crate::error::Error {
    fn from(error: crate::schedules::Error) -> Self {
        use crate::schedules::Error as E;
        let message = error.to_string();
        let reason = match error {
            E::Run(run) => return Self::from(run),
            E::Jobs(jobs) => return Self::from(jobs),
            E::Store(store) => return Self::store(&store),
            E::NotFound(_) => reason::SCHEDULE_NOT_FOUND,
            E::Completed(_) => reason::SCHEDULE_COMPLETED,
            E::InvalidCron(_) => return Self::field(reason::INVALID_CRON, "cron", message),
            E::UnknownTimeZone(_) => {
                return Self::field(reason::UNKNOWN_TIME_ZONE, "time_zone", message);
            }
            E::Invalid(_) => reason::INVALID_SCHEDULE,
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
    use chrono::TimeZone as _;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn cron_reads_its_time_zone_and_optional_seconds() {
        let moscow = Spec::cron("0 9 * * *", "Europe/Moscow").unwrap();
        // 09:00 in Moscow is 06:00 UTC.
        assert_eq!(
            moscow.next_after(utc(2026, 11, 24, 12, 0, 0)),
            Some(utc(2026, 11, 25, 6, 0, 0))
        );
        let seconds = Spec::cron("*/10 * * * * *", "").unwrap();
        assert_eq!(
            seconds.next_after(utc(2026, 1, 1, 0, 0, 1)),
            Some(utc(2026, 1, 1, 0, 0, 10))
        );
        assert!(matches!(
            Spec::cron("0 9 * * *", "Mars/Base"),
            Err(Error::UnknownTimeZone(_))
        ));
        assert!(matches!(
            Spec::cron("61 * * * *", ""),
            Err(Error::InvalidCron(_))
        ));
        assert!(matches!(
            Spec::cron("not cron", ""),
            Err(Error::InvalidCron(_))
        ));
        assert!(matches!(
            Spec::cron("0 0 30 2 *", ""),
            Err(Error::InvalidCron(_))
        ));
    }

    #[test]
    fn a_time_that_daylight_saving_repeats_fires_once() {
        // New York falls back on 2026-11-01: 01:30 happens twice; the cron fires once that day.
        let spec = Spec::cron("30 1 * * *", "America/New_York").unwrap();
        let first = spec.next_after(utc(2026, 11, 1, 0, 0, 0)).unwrap();
        let second = spec.next_after(first).unwrap();
        assert!(
            second - first >= chrono::Duration::hours(23),
            "{first} then {second}"
        );
    }

    #[test]
    fn intervals_count_from_their_anchor() {
        let anchor = utc(2026, 1, 1, 0, 0, 0);
        let spec = Spec::Interval {
            every: Duration::from_secs(90),
            anchor,
        };
        assert_eq!(spec.next_after(anchor), Some(utc(2026, 1, 1, 0, 1, 30)));
        assert_eq!(
            spec.next_after(utc(2026, 1, 1, 0, 2, 0)),
            Some(utc(2026, 1, 1, 0, 3, 0))
        );
        assert_eq!(spec.next_after(utc(2025, 1, 1, 0, 0, 0)), Some(anchor));
    }

    #[test]
    fn missed_fires_follow_the_catch_up_policy() {
        let spec = Spec::cron("0 * * * *", "").unwrap();
        let nominal = utc(2026, 1, 1, 10, 0, 0);
        // On time: fire at the nominal time, next an hour later.
        let on_time = plan(
            &spec,
            CatchUp::Skip,
            nominal,
            nominal + chrono::Duration::seconds(1),
        );
        assert_eq!(on_time.fire, Some(nominal));
        assert_eq!(on_time.next, Some(utc(2026, 1, 1, 11, 0, 0)));
        // Down from 09:59 to 13:30: three fires missed.
        let now = utc(2026, 1, 1, 13, 30, 0);
        let skip = plan(&spec, CatchUp::Skip, nominal, now);
        assert_eq!(
            (skip.fire, skip.next),
            (None, Some(utc(2026, 1, 1, 14, 0, 0)))
        );
        let once = plan(&spec, CatchUp::RunOnce, nominal, now);
        assert_eq!(
            (once.fire, once.next),
            (
                Some(utc(2026, 1, 1, 13, 0, 0)),
                Some(utc(2026, 1, 1, 14, 0, 0))
            )
        );
        // Back just after a fire time: that fire is not missed, whatever the policy.
        let now = utc(2026, 1, 1, 13, 0, 20);
        assert_eq!(
            plan(&spec, CatchUp::Skip, nominal, now).fire,
            Some(utc(2026, 1, 1, 13, 0, 0))
        );
        // A one-shot runs once even when late, then completes.
        let at = utc(2026, 1, 1, 10, 0, 0);
        let late = plan(&Spec::Once(at), CatchUp::Skip, at, now);
        assert_eq!(
            (late.fire, late.next, late.state),
            (Some(at), None, ScheduleState::Completed)
        );
    }
}
