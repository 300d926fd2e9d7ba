//! `skillos schedules create|list|get|pause|resume|delete|trigger`: the schedules of a running
//! server.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, schedule_service_client::ScheduleServiceClient};

use super::ServerArg;
use super::client::{connect, payload_object, status_failure};
use super::output::{Failure, print_json, table};
use crate::grpc::convert::struct_json;

#[derive(Debug, Args)]
pub struct SchedulesArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: SchedulesCommand,
}

#[derive(Debug, Subcommand)]
enum SchedulesCommand {
    /// Create a schedule: exactly one of --cron, --every and --at.
    Create {
        /// The skill, `domain/name`.
        skill: String,
        /// The payload of every fire, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// A cron expression: 5 fields, or 6 with seconds first.
        #[arg(long, group = "spec")]
        cron: Option<String>,
        /// The IANA time zone of --cron (default UTC), e.g. Europe/Moscow.
        #[arg(long, requires = "cron")]
        tz: Option<String>,
        /// Fire every this many seconds.
        #[arg(long, group = "spec")]
        every: Option<f64>,
        /// Fire once at this time (RFC 3339, e.g. 2026-12-01T09:00:00+03:00).
        #[arg(long, group = "spec")]
        at: Option<String>,
        /// What to do with fires missed while the server was down: skip or run_once.
        #[arg(long, default_value = "skip")]
        catch_up: String,
        /// Attempts of each fire's job (1-100); the job default when omitted.
        #[arg(long)]
        max_attempts: Option<i32>,
        #[arg(long, default_value = "")]
        description: String,
        /// Makes retrying this command safe.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Schedules, oldest first.
    List {
        /// Only these states: active, paused, completed (repeat or comma-separated).
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        #[arg(long)]
        skill: Option<String>,
    },
    /// One schedule.
    Get { id: String },
    /// Stop a schedule firing until it is resumed.
    Pause { id: String },
    /// Fire again from the next time after now.
    Resume { id: String },
    /// Delete a schedule; the jobs of its fires stay.
    Delete { id: String },
    /// Fire a schedule now, whatever its state; prints the job.
    Trigger {
        id: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

fn state_name(state: i32) -> String {
    v1::ScheduleState::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("SCHEDULE_STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn spec_text(schedule: &v1::Schedule) -> String {
    match &schedule.spec {
        Some(v1::schedule::Spec::Cron(cron)) if cron.time_zone.is_empty() => {
            format!("cron {}", cron.expression)
        }
        Some(v1::schedule::Spec::Cron(cron)) => {
            format!("cron {} ({})", cron.expression, cron.time_zone)
        }
        Some(v1::schedule::Spec::Interval(interval)) => format!(
            "every {}s",
            interval.interval.map(|d| d.seconds).unwrap_or_default()
        ),
        Some(v1::schedule::Spec::OneShotTime(at)) => format!("once at {at}"),
        None => String::new(),
    }
}

fn document(schedule: &v1::Schedule) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(ToString::to_string);
    json!({
        "id": schedule.id,
        "skill_id": schedule.skill_id,
        "spec": spec_text(schedule),
        "state": state_name(schedule.state),
        "payload": schedule.payload.as_ref().map(struct_json),
        "catch_up": v1::CatchUpPolicy::try_from(schedule.catch_up_policy)
            .map(|p| p.as_str_name().trim_start_matches("CATCH_UP_POLICY_").to_ascii_lowercase())
            .unwrap_or_default(),
        "max_attempts": schedule.max_attempts,
        "next_fire_time": time(&schedule.next_fire_time),
        "last_fire_time": time(&schedule.last_fire_time),
        "last_job_id": schedule.last_job_id,
        "principal": schedule.principal_subject,
        "description": schedule.description,
    })
}

fn print_one(schedule: &v1::Schedule, json: bool) {
    if json {
        print_json(&document(schedule));
        return;
    }
    let next = schedule
        .next_fire_time
        .as_ref()
        .map(|t| format!(", next fire {t}"))
        .unwrap_or_default();
    outln!(
        "schedule {} ({}, {}) is {}{next}",
        schedule.id,
        schedule.skill_id,
        spec_text(schedule),
        state_name(schedule.state)
    );
}

/// The schedule an RPC answered with, or its error as a CLI failure.
fn answered(
    response: Result<Option<v1::Schedule>, tonic::Status>,
) -> Result<v1::Schedule, Failure> {
    Ok(response.map_err(status_failure)?.unwrap_or_default())
}

pub async fn schedules(args: SchedulesArgs, json: bool) -> Result<(), Failure> {
    let mut client = ScheduleServiceClient::new(connect(&args.server).await?);
    match args.command {
        SchedulesCommand::Create {
            skill,
            payload,
            cron,
            tz,
            every,
            at,
            catch_up,
            max_attempts,
            description,
            idempotency_key,
        } => {
            let spec = match (cron, every, at) {
                (Some(expression), None, None) => v1::schedule::Spec::Cron(v1::CronSpec {
                    expression,
                    time_zone: tz.unwrap_or_default(),
                }),
                (None, Some(seconds), None) => {
                    if !(seconds.is_finite() && seconds >= 1.0) {
                        return Err(Failure::usage("--every must be at least 1 second"));
                    }
                    v1::schedule::Spec::Interval(v1::IntervalSpec {
                        interval: prost_types::Duration::try_from(Duration::from_secs_f64(seconds))
                            .ok(),
                        anchor_time: None,
                    })
                }
                (None, None, Some(at)) => {
                    let at = chrono::DateTime::parse_from_rfc3339(&at).map_err(|error| {
                        Failure::usage(format!("--at {at:?} is not an RFC 3339 time: {error}"))
                    })?;
                    v1::schedule::Spec::OneShotTime(crate::grpc::convert::timestamp(at.to_utc()))
                }
                _ => {
                    return Err(Failure::usage(
                        "give exactly one of --cron, --every and --at",
                    ));
                }
            };
            let catch_up = match catch_up.as_str() {
                "skip" => v1::CatchUpPolicy::Skip,
                "run_once" | "run-once" => v1::CatchUpPolicy::RunOnce,
                other => {
                    return Err(Failure::usage(format!(
                        "--catch-up {other:?}: use skip or run_once"
                    )));
                }
            };
            let payload = payload_object(&payload)?;
            let response = client
                .create_schedule(v1::CreateScheduleRequest {
                    schedule: Some(v1::Schedule {
                        skill_id: skill,
                        payload: Some(crate::grpc::convert::object(&payload)),
                        description,
                        spec: Some(spec),
                        catch_up_policy: catch_up as i32,
                        max_attempts: max_attempts.unwrap_or(0),
                        ..Default::default()
                    }),
                    idempotency_key: idempotency_key.unwrap_or_default(),
                })
                .await
                .map_err(status_failure)?
                .into_inner();
            print_one(&response.schedule.unwrap_or_default(), json);
        }
        SchedulesCommand::List { state, skill } => {
            let mut states = Vec::new();
            for name in state.iter().filter(|s| !s.trim().is_empty()) {
                let wanted = format!("SCHEDULE_STATE_{}", name.trim().to_ascii_uppercase());
                let state = v1::ScheduleState::from_str_name(&wanted)
                    .filter(|s| *s != v1::ScheduleState::Unspecified)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "unknown state {name:?}: use active, paused or completed"
                        ))
                    })?;
                states.push(state as i32);
            }
            let mut schedules = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_schedules(v1::ListSchedulesRequest {
                        skill_id: skill.clone().unwrap_or_default(),
                        states: states.clone(),
                        page_size: 1000,
                        page_token,
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                schedules.extend(page.schedules);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                print_json(
                    &json!({"schedules": schedules.iter().map(document).collect::<Vec<_>>()}),
                );
            } else {
                let rows = schedules.iter().map(|s| {
                    [
                        s.id.clone(),
                        s.skill_id.clone(),
                        spec_text(s),
                        state_name(s.state),
                        s.next_fire_time
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    ]
                });
                outln!(
                    "{}",
                    table(["id", "skill", "when", "state", "next fire"], rows)
                );
            }
        }
        SchedulesCommand::Get { id } => {
            let request = v1::GetScheduleRequest { schedule_id: id };
            let response = client.get_schedule(request).await;
            print_one(&answered(response.map(|r| r.into_inner().schedule))?, json);
        }
        SchedulesCommand::Pause { id } => {
            let request = v1::PauseScheduleRequest { schedule_id: id };
            let response = client.pause_schedule(request).await;
            print_one(&answered(response.map(|r| r.into_inner().schedule))?, json);
        }
        SchedulesCommand::Resume { id } => {
            let request = v1::ResumeScheduleRequest { schedule_id: id };
            let response = client.resume_schedule(request).await;
            print_one(&answered(response.map(|r| r.into_inner().schedule))?, json);
        }
        SchedulesCommand::Delete { id } => {
            client
                .delete_schedule(v1::DeleteScheduleRequest {
                    schedule_id: id.clone(),
                })
                .await
                .map_err(status_failure)?;
            if json {
                print_json(&json!({"id": id, "deleted": true}));
            } else {
                outln!("schedule {id} deleted");
            }
        }
        SchedulesCommand::Trigger {
            id,
            idempotency_key,
        } => {
            let response = client
                .trigger_schedule(v1::TriggerScheduleRequest {
                    schedule_id: id,
                    idempotency_key: idempotency_key.unwrap_or_default(),
                })
                .await
                .map_err(status_failure)?
                .into_inner();
            let job = response.job.unwrap_or_default();
            if json {
                print_json(
                    &json!({"job_id": job.id, "schedule_id": response.schedule.unwrap_or_default().id,
                                   "replayed": response.replayed}),
                );
            } else {
                outln!("fired: job {} ({})", job.id, job.skill_id);
            }
        }
    }
    Ok(())
}
