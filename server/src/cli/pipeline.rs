//! `skillos pipeline run`: skills one after another on a running server, each step's output
//! the next step's payload.

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, orchestrator_service_client::OrchestratorServiceClient};

use super::ServerArg;
use super::client::{connect, payload_object, status_failure};
use super::output::{Failure, print_json};
use crate::grpc::convert::value_json;

#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: PipelineCommand,
}

#[derive(Debug, Subcommand)]
enum PipelineCommand {
    /// Run the steps in order and print the last one's output. Each step's output is the next
    /// step's payload; `A|B` runs A and B at once, and the next step gets
    /// `{"A": <A's output>, "B": <B's output>}`.
    Run {
        /// A step: a skill id, or ids separated by `|` to run at once. Repeat for each step,
        /// in order.
        #[arg(long = "step", required = true)]
        steps: Vec<String>,
        /// The first step's payload, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Longest each step may run, in seconds (the skill's own timeout when omitted).
        #[arg(long)]
        step_timeout: Option<f64>,
    },
}

pub async fn pipeline(args: PipelineArgs, json: bool) -> Result<(), Failure> {
    let PipelineCommand::Run {
        steps,
        payload,
        step_timeout,
    } = args.command;
    let payload = payload_object(&payload)?;
    let step_timeout = step_timeout
        .map(|seconds| positive_seconds(seconds, "--step-timeout"))
        .transpose()?;
    let mut client = OrchestratorServiceClient::new(connect(&args.server).await?);
    let count = steps.len();
    if !json {
        eprintln!("running {count} step(s)...");
    }
    let response = client
        .run_pipeline(v1::RunPipelineRequest {
            steps,
            payload: Some(crate::grpc::convert::object(&payload)),
            step_timeout,
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    print(&response, json)
}

/// A pipeline's end as `pipeline run` prints it (also a split query's, by `run`): the steps on
/// stderr and the last output on stdout; exit 1 unless it succeeded or waits for approval.
pub(super) fn print(response: &v1::RunPipelineResponse, json: bool) -> Result<(), Failure> {
    let status = response.status();
    if json {
        print_json(&document(response));
    } else {
        for step in &response.steps {
            eprintln!("{}", step_line(step));
        }
        match status {
            v1::PipelineStatus::Succeeded => {
                let output = response.output.as_ref().map(value_json).unwrap_or_default();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&output).unwrap_or_default()
                );
            }
            v1::PipelineStatus::PendingApproval => {
                let held = response
                    .steps
                    .iter()
                    .find(|step| step.status() == v1::PipelineStepStatus::PendingApproval);
                if let Some(step) = held {
                    outln!(
                        "held for approval {}: step {} ({}) runs once approvers approve it; the \
                         steps after it do not run (skillos approvals list)",
                        step.approval_id,
                        step.index,
                        step.skill_id
                    );
                }
            }
            _ => {
                if let Some(error) = &response.error {
                    eprintln!("error: {} ({})", error.message, error.code);
                }
            }
        }
    }
    match status {
        v1::PipelineStatus::Succeeded | v1::PipelineStatus::PendingApproval => Ok(()),
        _ => Err(Failure::printed()),
    }
}

fn positive_seconds(seconds: f64, flag: &str) -> Result<prost_types::Duration, Failure> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Failure::usage(format!(
            "{flag} must be a positive number of seconds"
        )));
    }
    prost_types::Duration::try_from(std::time::Duration::from_secs_f64(seconds))
        .map_err(|_| Failure::usage(format!("{flag} is too large")))
}

fn lowercase(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_lowercase()
}

fn step_line(step: &v1::PipelineStep) -> String {
    let name = if step.member.is_empty() {
        step.skill_id.clone()
    } else {
        format!("{} (group member {})", step.skill_id, step.member)
    };
    let status = lowercase(step.status().as_str_name(), "PIPELINE_STEP_STATUS_");
    let mut line = format!("step {}: {name}: {status}", step.index);
    if !step.execution_id.is_empty() {
        line.push_str(&format!(", execution {}", step.execution_id));
    }
    if let Some(error) = &step.error {
        line.push_str(&format!(" ({})", error.code));
    }
    line
}

fn document(response: &v1::RunPipelineResponse) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(ToString::to_string);
    let error = |e: &Option<v1::ExecutionError>| {
        e.as_ref()
            .map(|e| json!({"code": e.code, "message": e.message}))
    };
    json!({
        "status": lowercase(response.status().as_str_name(), "PIPELINE_STATUS_"),
        "output": response.output.as_ref().map(value_json),
        "error": error(&response.error),
        "steps": response.steps.iter().map(|step| json!({
            "index": step.index,
            "member": step.member,
            "skill_id": step.skill_id,
            "status": lowercase(step.status().as_str_name(), "PIPELINE_STEP_STATUS_"),
            "execution_id": step.execution_id,
            "approval_id": step.approval_id,
            "output": step.output.as_ref().map(value_json),
            "error": error(&step.error),
            "start_time": time(&step.start_time),
            "end_time": time(&step.end_time),
        })).collect::<Vec<_>>(),
    })
}
