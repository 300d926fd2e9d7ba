//! gRPC adapter of `skillos.v1.JobService`; the logic lives in [`skillos_engine::jobs`].

use std::time::Duration;

use skillos_proto::v1::{self, job_service_server::JobService};
use skillos_store::{JobFilter, JobSource, JobState};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{invalid_field, status};
use skillos_engine::error::reason;
use skillos_engine::jobs::{self, EnqueueRequest, JobView};

#[derive(Clone, Debug)]
pub struct Adapter {
    jobs: jobs::Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(jobs: jobs::Service, auth: auth::Authenticator) -> Self {
        Self { jobs, auth }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Status {
    invalid_field(reason::INVALID_REQUEST, field, message)
}

fn skill_filter(skill_id: &str) -> Result<Option<String>, Status> {
    match skill_id.trim() {
        "" => Ok(None),
        id => skillos_core::SkillId::parse(id)
            .map(|id| Some(id.to_string()))
            .map_err(|error| {
                invalid_field(reason::INVALID_SKILL_ID, "skill_id", error.to_string())
            }),
    }
}

pub fn job_state(state: JobState) -> v1::JobState {
    match state {
        JobState::Queued => v1::JobState::Queued,
        JobState::Running => v1::JobState::Running,
        JobState::PendingApproval => v1::JobState::PendingApproval,
        JobState::Succeeded => v1::JobState::Succeeded,
        JobState::Dead => v1::JobState::Dead,
        JobState::Cancelled => v1::JobState::Cancelled,
    }
}

fn job_source(source: JobSource) -> v1::JobSource {
    match source {
        JobSource::Api => v1::JobSource::Api,
        JobSource::Webhook => v1::JobSource::Webhook,
        JobSource::Schedule => v1::JobSource::Schedule,
    }
}

fn duration(ms: i64) -> Option<prost_types::Duration> {
    u64::try_from(ms)
        .ok()
        .and_then(|ms| prost_types::Duration::try_from(Duration::from_millis(ms)).ok())
}

/// The protobuf form of a job.
pub fn job(view: &JobView) -> v1::Job {
    let job = &view.job;
    v1::Job {
        id: job.id.clone(),
        skill_id: job.skill_id.clone(),
        payload: job.payload.as_object().map(convert::object),
        state: job_state(job.state) as i32,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        timeout: job.timeout_ms.and_then(duration),
        priority: job.priority,
        next_run_time: job.next_run_at.map(convert::timestamp),
        lease_expire_time: job.lease_expires_at.map(convert::timestamp),
        last_error: job.last_error.as_ref().map(convert::execution_error),
        result: job.result.as_ref().map(convert::value),
        execution_ids: view.execution_ids.clone(),
        source: job_source(job.source) as i32,
        source_id: job.source_id.clone(),
        fire_time: job.fire_time.map(convert::timestamp),
        idempotency_key: job.idempotency_key.clone(),
        principal_subject: job.principal.clone(),
        create_time: Some(convert::timestamp(job.created_at)),
        update_time: Some(convert::timestamp(job.updated_at)),
        finish_time: job.finished_at.map(convert::timestamp),
    }
}

fn attempts(value: i32, field: &str) -> Result<Option<u32>, Status> {
    match u32::try_from(value) {
        Ok(0) => Ok(None),
        Ok(n) if n <= skillos_engine::jobs::MAX_ATTEMPTS => Ok(Some(n)),
        _ => Err(invalid(
            field,
            format!(
                "{field} must be between 1 and {}, or 0 for the default",
                skillos_engine::jobs::MAX_ATTEMPTS
            ),
        )),
    }
}

#[tonic::async_trait]
impl JobService for Adapter {
    async fn enqueue_job(
        &self,
        request: Request<v1::EnqueueJobRequest>,
    ) -> Result<Response<v1::EnqueueJobResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let mut request = request.into_inner();
        let idempotency = super::orchestrator::idempotency("EnqueueJob", &mut request, |r| {
            &mut r.idempotency_key
        })?;
        let now = chrono::Utc::now();
        let run_at = match request.start {
            None => None,
            Some(v1::enqueue_job_request::Start::RunTime(time)) => Some(
                convert::time(&time)
                    .ok_or_else(|| invalid("run_time", "run_time is not a valid time"))?,
            ),
            Some(v1::enqueue_job_request::Start::Delay(delay)) => {
                let delay = Duration::try_from(delay)
                    .map_err(|_| invalid("delay", "delay must be between 0 and 365 days"))?;
                Some(
                    now + chrono::Duration::from_std(delay)
                        .map_err(|_| invalid("delay", "delay is too long"))?,
                )
            }
        };
        let timeout = match request.timeout {
            None => None,
            Some(timeout) => Some(
                Duration::try_from(timeout)
                    .ok()
                    .filter(|timeout| !timeout.is_zero())
                    .ok_or_else(|| invalid("timeout", "timeout must be positive"))?,
            ),
        };
        let enqueue = EnqueueRequest {
            idempotency,
            max_attempts: attempts(request.max_attempts, "max_attempts")?,
            run_at,
            timeout,
            priority: request.priority,
            ..EnqueueRequest::new(
                request.skill_id,
                request
                    .payload
                    .as_ref()
                    .map(convert::struct_json)
                    .unwrap_or_else(|| serde_json::json!({})),
            )
        };
        let (view, replayed) = self
            .jobs
            .enqueue(&principal, enqueue)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::EnqueueJobResponse {
            job: Some(job(&view)),
            replayed,
        }))
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::GetJobResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .jobs
            .get(&principal, &request.get_ref().job_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetJobResponse {
            job: Some(job(&view)),
        }))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let mut states = Vec::new();
        for state in &request.states {
            let state = v1::JobState::try_from(*state).unwrap_or(v1::JobState::Unspecified);
            let state = JobState::ALL
                .into_iter()
                .find(|candidate| job_state(*candidate) == state)
                .ok_or_else(|| invalid("states", "states: unknown job state"))?;
            states.push(state);
        }
        let source = match v1::JobSource::try_from(request.source) {
            Ok(v1::JobSource::Unspecified) => None,
            Ok(v1::JobSource::Api) => Some(JobSource::Api),
            Ok(v1::JobSource::Webhook) => Some(JobSource::Webhook),
            Ok(v1::JobSource::Schedule) => Some(JobSource::Schedule),
            Err(_) => return Err(invalid("source", "source: unknown job source")),
        };
        let filter = JobFilter {
            states,
            skill_id: skill_filter(&request.skill_id)?,
            source,
            source_id: Some(request.source_id).filter(|id| !id.is_empty()),
            before_id: None,
        };
        let (jobs, next) = self
            .jobs
            .list(&principal, filter, request.page_size, &request.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListJobsResponse {
            jobs: jobs.iter().map(job).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::CancelJobResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let view = self
            .jobs
            .cancel(&principal, &request.job_id, &request.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::CancelJobResponse {
            job: Some(job(&view)),
        }))
    }

    async fn list_dead_letters(
        &self,
        request: Request<v1::ListDeadLettersRequest>,
    ) -> Result<Response<v1::ListDeadLettersResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let skill_id = skill_filter(&request.skill_id)?;
        let (jobs, next) = self
            .jobs
            .dead_letters(
                &principal,
                skill_id.as_deref(),
                request.page_size,
                &request.page_token,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListDeadLettersResponse {
            jobs: jobs.iter().map(job).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn requeue_job(
        &self,
        request: Request<v1::RequeueJobRequest>,
    ) -> Result<Response<v1::RequeueJobResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let max_attempts = attempts(request.max_attempts, "max_attempts")?;
        let view = self
            .jobs
            .requeue(&principal, &request.job_id, max_attempts)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RequeueJobResponse {
            job: Some(job(&view)),
        }))
    }
}
