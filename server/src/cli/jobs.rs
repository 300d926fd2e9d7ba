//! `skillos jobs enqueue|get|list|cancel|dead-letters|requeue`: the durable job queue of a
//! running server.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, job_service_client::JobServiceClient};

use super::ServerArg;
use super::client::{Authed, connect, payload_object, status_failure};
use super::output::{Failure, print_json, table};
use crate::grpc::convert::{struct_json, value_json};

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Enqueue a job; it is durable once this prints its id.
    Enqueue {
        /// The skill, `domain/name`.
        skill: String,
        /// The payload, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Most attempts (1-100); the skill's default when omitted.
        #[arg(long)]
        max_attempts: Option<i32>,
        /// Start after this many seconds.
        #[arg(long)]
        delay: Option<f64>,
        /// Longest one attempt may run, in seconds.
        #[arg(long)]
        timeout: Option<f64>,
        /// Higher runs first among due jobs (-1000 to 1000).
        #[arg(long, default_value_t = 0)]
        priority: i32,
        /// Makes retrying this command safe: the same key enqueues once.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until the job ends, printing each change of state.
        #[arg(long)]
        wait: bool,
    },
    /// One job, with its attempts.
    Get { id: String },
    /// Jobs, newest first.
    List {
        /// Only jobs in these states (queued, running, pending_approval, succeeded, dead,
        /// cancelled); repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Only jobs of this skill.
        #[arg(long)]
        skill: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Cancel a job that has not ended.
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Dead letters: jobs out of attempts or refused, most recently dead first.
    DeadLetters {
        #[arg(long)]
        skill: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put a dead job back in the queue with a new attempt chain.
    Requeue {
        id: String,
        /// Attempts of the new chain; the job's own when omitted.
        #[arg(long)]
        max_attempts: Option<i32>,
    },
}

pub fn state_name(state: i32) -> String {
    v1::JobState::try_from(state)
        .map(|state| {
            state
                .as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn parse_state(name: &str) -> Result<i32, Failure> {
    let wanted = format!("JOB_STATE_{}", name.trim().to_ascii_uppercase());
    v1::JobState::from_str_name(&wanted)
        .filter(|state| *state != v1::JobState::Unspecified)
        .map(|state| state as i32)
        .ok_or_else(|| {
            Failure::usage(format!(
                "unknown job state {name:?}: use queued, running, pending_approval, succeeded, \
                 dead or cancelled"
            ))
        })
}

fn seconds(value: f64, flag: &str) -> Result<prost_types::Duration, Failure> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(Failure::usage(format!(
            "{flag} must be a number of seconds"
        )));
    }
    prost_types::Duration::try_from(Duration::from_secs_f64(value))
        .map_err(|_| Failure::usage(format!("{flag} is too large")))
}

fn document(job: &v1::Job) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(ToString::to_string);
    json!({
        "id": job.id,
        "skill_id": job.skill_id,
        "state": state_name(job.state),
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
        "priority": job.priority,
        "payload": job.payload.as_ref().map(struct_json),
        "result": job.result.as_ref().map(value_json),
        "last_error": job.last_error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
        "execution_ids": job.execution_ids,
        "source": v1::JobSource::try_from(job.source).map(|s| s.as_str_name().trim_start_matches("JOB_SOURCE_").to_ascii_lowercase()).unwrap_or_default(),
        "source_id": job.source_id,
        "idempotency_key": job.idempotency_key,
        "principal": job.principal_subject,
        "next_run_time": time(&job.next_run_time),
        "create_time": time(&job.create_time),
        "finish_time": time(&job.finish_time),
    })
}

fn print_one(job: &v1::Job, json: bool) {
    if json {
        print_json(&document(job));
        return;
    }
    outln!(
        "job {} ({}) is {}, attempt {}/{}",
        job.id,
        job.skill_id,
        state_name(job.state),
        job.attempt,
        job.max_attempts
    );
    if let Some(error) = &job.last_error {
        outln!("last error: {} {}", error.code, error.message);
    }
    if let Some(result) = &job.result {
        outln!("result: {}", value_json(result));
    }
}

fn print_list(jobs: &[v1::Job], json: bool) {
    if json {
        print_json(&json!({"jobs": jobs.iter().map(document).collect::<Vec<_>>()}));
        return;
    }
    let rows = jobs.iter().map(|job| {
        [
            job.id.clone(),
            job.skill_id.clone(),
            state_name(job.state),
            format!("{}/{}", job.attempt, job.max_attempts),
            job.last_error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_default(),
        ]
    });
    outln!(
        "{}",
        table(["id", "skill", "state", "attempt", "last error"], rows)
    );
}

async fn get(client: &mut JobServiceClient<Authed>, id: &str) -> Result<v1::Job, Failure> {
    Ok(client
        .get_job(v1::GetJobRequest {
            job_id: id.to_owned(),
        })
        .await
        .map_err(status_failure)?
        .into_inner()
        .job
        .unwrap_or_default())
}

/// Polls a job until it ends, reporting each state it passes through on stderr.
async fn wait(client: &mut JobServiceClient<Authed>, mut job: v1::Job) -> Result<v1::Job, Failure> {
    let terminal = [
        v1::JobState::Succeeded as i32,
        v1::JobState::Dead as i32,
        v1::JobState::Cancelled as i32,
    ];
    let mut seen = (job.state, job.attempt);
    eprintln!(
        "job {}: {} (attempt {})",
        job.id,
        state_name(job.state),
        job.attempt
    );
    while !terminal.contains(&job.state) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        job = get(client, &job.id).await?;
        if (job.state, job.attempt) != seen {
            seen = (job.state, job.attempt);
            eprintln!(
                "job {}: {} (attempt {})",
                job.id,
                state_name(job.state),
                job.attempt
            );
        }
    }
    Ok(job)
}

pub async fn jobs(args: JobsArgs, json: bool) -> Result<(), Failure> {
    let mut client = JobServiceClient::new(connect(&args.server).await?);
    match args.command {
        JobsCommand::Enqueue {
            skill,
            payload,
            max_attempts,
            delay,
            timeout,
            priority,
            idempotency_key,
            wait: wait_for_end,
        } => {
            let payload = payload_object(&payload)?;
            let request = v1::EnqueueJobRequest {
                skill_id: skill,
                payload: Some(crate::grpc::convert::object(&payload)),
                idempotency_key: idempotency_key.unwrap_or_default(),
                max_attempts: max_attempts.unwrap_or(0),
                start: delay
                    .map(|d| seconds(d, "--delay"))
                    .transpose()?
                    .map(v1::enqueue_job_request::Start::Delay),
                timeout: timeout.map(|t| seconds(t, "--timeout")).transpose()?,
                priority,
            };
            let response = client
                .enqueue_job(request)
                .await
                .map_err(status_failure)?
                .into_inner();
            let mut job = response.job.unwrap_or_default();
            if response.replayed && !json {
                eprintln!("the idempotency key was used before: this is the job it enqueued");
            }
            if wait_for_end {
                job = wait(&mut client, job).await?;
            }
            print_one(&job, json);
            if wait_for_end && job.state != v1::JobState::Succeeded as i32 {
                return Err(Failure::printed());
            }
        }
        JobsCommand::Get { id } => print_one(&get(&mut client, &id).await?, json),
        JobsCommand::List {
            state,
            skill,
            limit,
        } => {
            let states = state
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_state(s))
                .collect::<Result<Vec<_>, _>>()?;
            let mut jobs = Vec::new();
            let mut page_token = String::new();
            while jobs.len() < limit {
                let page = client
                    .list_jobs(v1::ListJobsRequest {
                        states: states.clone(),
                        skill_id: skill.clone().unwrap_or_default(),
                        page_size: i32::try_from((limit - jobs.len()).min(1000)).unwrap_or(1000),
                        page_token,
                        ..Default::default()
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                jobs.extend(page.jobs);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_list(&jobs, json);
        }
        JobsCommand::Cancel { id, reason } => {
            let job = client
                .cancel_job(v1::CancelJobRequest { job_id: id, reason })
                .await
                .map_err(status_failure)?
                .into_inner()
                .job
                .unwrap_or_default();
            print_one(&job, json);
        }
        JobsCommand::DeadLetters { skill, limit } => {
            let mut jobs = Vec::new();
            let mut page_token = String::new();
            while jobs.len() < limit {
                let page = client
                    .list_dead_letters(v1::ListDeadLettersRequest {
                        skill_id: skill.clone().unwrap_or_default(),
                        page_size: i32::try_from((limit - jobs.len()).min(1000)).unwrap_or(1000),
                        page_token,
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                jobs.extend(page.jobs);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_list(&jobs, json);
        }
        JobsCommand::Requeue { id, max_attempts } => {
            let job = client
                .requeue_job(v1::RequeueJobRequest {
                    job_id: id,
                    max_attempts: max_attempts.unwrap_or(0),
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .job
                .unwrap_or_default();
            print_one(&job, json);
        }
    }
    Ok(())
}
