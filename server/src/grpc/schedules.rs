//! gRPC adapter of `skillos.v1.ScheduleService`; the logic lives in [`skillos_engine::schedules`].

use std::time::Duration;

use skillos_proto::v1::{self, schedule_service_server::ScheduleService};
use skillos_store::{Schedule, ScheduleFilter, ScheduleState};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{invalid_field, status};
use skillos_engine::error::{Reason, reason};
use skillos_engine::schedules::{self, CatchUp, NewSchedule, Spec};

#[derive(Clone, Debug)]
pub struct Adapter {
    schedules: schedules::Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(schedules: schedules::Service, auth: auth::Authenticator) -> Self {
        Self { schedules, auth }
    }
}

fn invalid(field: &str, reason: Reason, message: impl Into<String>) -> Status {
    invalid_field(reason, field, message)
}

fn state(state: ScheduleState) -> v1::ScheduleState {
    match state {
        ScheduleState::Active => v1::ScheduleState::Active,
        ScheduleState::Paused => v1::ScheduleState::Paused,
        ScheduleState::Completed => v1::ScheduleState::Completed,
    }
}

fn time(t: &prost_types::Timestamp) -> Result<chrono::DateTime<chrono::Utc>, Status> {
    convert::time(t).ok_or_else(|| {
        invalid(
            "schedule",
            reason::INVALID_SCHEDULE,
            "a time is out of range",
        )
    })
}

/// The protobuf form of a schedule.
pub fn schedule(schedule: &Schedule) -> v1::Schedule {
    let spec = match schedule.kind.as_str() {
        "cron" => Some(v1::schedule::Spec::Cron(v1::CronSpec {
            expression: schedule.cron_expression.clone(),
            time_zone: schedule.time_zone.clone(),
        })),
        "interval" => Some(v1::schedule::Spec::Interval(v1::IntervalSpec {
            interval: schedule
                .interval_ms
                .and_then(|ms| u64::try_from(ms).ok())
                .and_then(|ms| prost_types::Duration::try_from(Duration::from_millis(ms)).ok()),
            anchor_time: schedule.anchor_at.map(convert::timestamp),
        })),
        _ => schedule
            .once_at
            .map(|at| v1::schedule::Spec::OneShotTime(convert::timestamp(at))),
    };
    v1::Schedule {
        id: schedule.id.clone(),
        skill_id: schedule.skill_id.clone(),
        payload: schedule.payload.as_object().map(convert::object),
        description: schedule.description.clone(),
        spec,
        catch_up_policy: if schedule.catch_up == CatchUp::RunOnce.as_str() {
            v1::CatchUpPolicy::RunOnce
        } else {
            v1::CatchUpPolicy::Skip
        } as i32,
        max_attempts: schedule.max_attempts,
        state: state(schedule.state) as i32,
        next_fire_time: schedule.next_fire_at.map(convert::timestamp),
        last_fire_time: schedule.last_fire_at.map(convert::timestamp),
        last_job_id: schedule.last_job_id.clone(),
        principal_subject: schedule.principal.clone(),
        create_time: Some(convert::timestamp(schedule.created_at)),
        update_time: Some(convert::timestamp(schedule.updated_at)),
    }
}

#[tonic::async_trait]
impl ScheduleService for Adapter {
    async fn create_schedule(
        &self,
        request: Request<v1::CreateScheduleRequest>,
    ) -> Result<Response<v1::CreateScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let mut request = request.into_inner();
        let idempotency = super::orchestrator::idempotency("CreateSchedule", &mut request, |r| {
            &mut r.idempotency_key
        })?;
        let given = request.schedule.unwrap_or_default();
        let spec = match given.spec {
            None => {
                return Err(invalid(
                    "schedule",
                    reason::INVALID_SCHEDULE,
                    "a cron, an interval or a one-shot time is required",
                ));
            }
            Some(v1::schedule::Spec::Cron(cron)) => {
                Spec::cron(&cron.expression, &cron.time_zone).map_err(status)?
            }
            Some(v1::schedule::Spec::Interval(interval)) => Spec::Interval {
                every: interval
                    .interval
                    .and_then(|d| Duration::try_from(d).ok())
                    .ok_or_else(|| {
                        invalid(
                            "schedule.interval",
                            reason::INVALID_SCHEDULE,
                            "the interval must be at least 1 s",
                        )
                    })?,
                anchor: match &interval.anchor_time {
                    Some(anchor) => time(anchor)?,
                    None => skillos_store::now(),
                },
            },
            Some(v1::schedule::Spec::OneShotTime(at)) => Spec::Once(time(&at)?),
        };
        let catch_up = match v1::CatchUpPolicy::try_from(given.catch_up_policy) {
            Ok(v1::CatchUpPolicy::RunOnce) => CatchUp::RunOnce,
            Ok(_) => CatchUp::Skip,
            Err(_) => {
                return Err(invalid(
                    "schedule.catch_up_policy",
                    reason::INVALID_REQUEST,
                    "catch_up_policy: unknown policy",
                ));
            }
        };
        let max_attempts = match u32::try_from(given.max_attempts) {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return Err(invalid(
                    "schedule.max_attempts",
                    reason::INVALID_REQUEST,
                    "max_attempts must not be negative",
                ));
            }
        };
        let new = NewSchedule {
            skill_id: given.skill_id,
            payload: given
                .payload
                .as_ref()
                .map(convert::struct_json)
                .unwrap_or_else(|| serde_json::json!({})),
            description: given.description,
            spec,
            catch_up,
            max_attempts,
        };
        let (created, replayed) = self
            .schedules
            .create(&principal, new, idempotency)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::CreateScheduleResponse {
            schedule: Some(schedule(&created)),
            replayed,
        }))
    }

    async fn list_schedules(
        &self,
        request: Request<v1::ListSchedulesRequest>,
    ) -> Result<Response<v1::ListSchedulesResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let mut states = Vec::new();
        for value in &request.states {
            let wanted =
                v1::ScheduleState::try_from(*value).unwrap_or(v1::ScheduleState::Unspecified);
            let found = ScheduleState::ALL
                .into_iter()
                .find(|candidate| state(*candidate) == wanted)
                .ok_or_else(|| {
                    invalid(
                        "states",
                        reason::INVALID_REQUEST,
                        "states: unknown schedule state",
                    )
                })?;
            states.push(found);
        }
        let skill_id = match request.skill_id.trim() {
            "" => None,
            id => Some(
                skillos_core::SkillId::parse(id)
                    .map_err(|error| {
                        invalid("skill_id", reason::INVALID_SKILL_ID, error.to_string())
                    })?
                    .to_string(),
            ),
        };
        let filter = ScheduleFilter {
            states,
            skill_id,
            after: None,
        };
        let (schedules, next) = self
            .schedules
            .list(&principal, filter, request.page_size, &request.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListSchedulesResponse {
            schedules: schedules.iter().map(schedule).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_schedule(
        &self,
        request: Request<v1::GetScheduleRequest>,
    ) -> Result<Response<v1::GetScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let found = self
            .schedules
            .get(&principal, &request.get_ref().schedule_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetScheduleResponse {
            schedule: Some(schedule(&found)),
        }))
    }

    async fn pause_schedule(
        &self,
        request: Request<v1::PauseScheduleRequest>,
    ) -> Result<Response<v1::PauseScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let paused = self
            .schedules
            .pause(&principal, &request.get_ref().schedule_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::PauseScheduleResponse {
            schedule: Some(schedule(&paused)),
        }))
    }

    async fn resume_schedule(
        &self,
        request: Request<v1::ResumeScheduleRequest>,
    ) -> Result<Response<v1::ResumeScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let resumed = self
            .schedules
            .resume(&principal, &request.get_ref().schedule_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ResumeScheduleResponse {
            schedule: Some(schedule(&resumed)),
        }))
    }

    async fn delete_schedule(
        &self,
        request: Request<v1::DeleteScheduleRequest>,
    ) -> Result<Response<v1::DeleteScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        self.schedules
            .delete(&principal, &request.get_ref().schedule_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::DeleteScheduleResponse {}))
    }

    async fn trigger_schedule(
        &self,
        request: Request<v1::TriggerScheduleRequest>,
    ) -> Result<Response<v1::TriggerScheduleResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let mut request = request.into_inner();
        let idempotency = super::orchestrator::idempotency("TriggerSchedule", &mut request, |r| {
            &mut r.idempotency_key
        })?;
        let (fired, job, replayed) = self
            .schedules
            .trigger(&principal, &request.schedule_id, idempotency)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::TriggerScheduleResponse {
            schedule: Some(schedule(&fired)),
            job: Some(super::jobs::job(&job)),
            replayed,
        }))
    }
}
