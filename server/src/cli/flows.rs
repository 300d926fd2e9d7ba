//! `skillos flows list|start|get|watch|runs|signal|cancel|retry`: durable flows of a running
//! server.

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, flow_service_client::FlowServiceClient};
use tokio_stream::StreamExt;

use super::ServerArg;
use super::client::{Authed, connect, payload_object, status_failure};
use super::output::{Failure, print_json, table};
use crate::grpc::convert::{struct_json, value_json};

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: FlowsCommand,
}

#[derive(Debug, Subcommand)]
enum FlowsCommand {
    /// The catalog's flows.
    List,
    /// Start a run of a flow and print its id; it goes on in the background.
    Start {
        /// The flow, `domain/name`.
        flow: String,
        /// The flow's input, a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Wait until the run ends, printing each step on stderr, then print its output
        /// (with --json, the run with every step).
        #[arg(long)]
        wait: bool,
    },
    /// One run, with every step.
    Get { run: String },
    /// Follow a run: each step as it starts and ends, until the run ends.
    Watch { run: String },
    /// Runs, newest first.
    Runs {
        /// Only runs of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Only runs in these states (running, waiting, succeeded, failed, cancelled); repeat
        /// or separate with commas.
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
        /// Only the sub-flow runs the `flow` steps of this run started.
        #[arg(long)]
        parent: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send a signal to a run: a `wait` step waiting for that name takes it (it is kept until
    /// one does).
    Signal {
        run: String,
        /// The signal's name, as the wait step names it.
        name: String,
        /// What the wait step's output carries as `payload`, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Cancel a run that has not ended.
    Cancel {
        run: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Run a failed or cancelled run again from the steps that did not end well.
    Retry { run: String },
}

fn run_status(status: i32) -> String {
    let name = v1::FlowRunStatus::try_from(status).map(|status| status.as_str_name());
    lower_name(name.unwrap_or_default(), "FLOW_RUN_STATUS_")
}

fn step_status(status: i32) -> String {
    let name = v1::FlowStepStatus::try_from(status).map(|status| status.as_str_name());
    lower_name(name.unwrap_or_default(), "FLOW_STEP_STATUS_")
}

/// An enum value's name as the CLI writes it: `FLOW_RUN_STATUS_WAITING` is `waiting`.
fn lower_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_lowercase()
}

fn parse_status(name: &str) -> Result<i32, Failure> {
    let wanted = format!("FLOW_RUN_STATUS_{}", name.trim().to_ascii_uppercase());
    v1::FlowRunStatus::from_str_name(&wanted)
        .filter(|status| *status != v1::FlowRunStatus::Unspecified)
        .map(|status| status as i32)
        .ok_or_else(|| {
            Failure::usage(format!(
                "unknown run status {name:?}: use running, waiting, succeeded, failed or cancelled"
            ))
        })
}

fn error_document(error: &Option<v1::ExecutionError>) -> serde_json::Value {
    error
        .as_ref()
        .map(|e| json!({"code": e.code, "message": e.message}))
        .unwrap_or(serde_json::Value::Null)
}

fn step_document(step: &v1::FlowStep) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(ToString::to_string);
    json!({
        "path": step.path,
        "kind": step.kind,
        "skill_id": step.skill_id,
        "status": step_status(step.status),
        "attempt": step.attempt,
        "input": step.input.as_ref().map(value_json),
        "output": step.output.as_ref().map(value_json),
        "error": error_document(&step.error),
        "execution_id": step.execution_id,
        "approval_id": step.approval_id,
        "start_time": time(&step.start_time),
        "finish_time": time(&step.finish_time),
    })
}

fn document(run: &v1::FlowRun) -> serde_json::Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(ToString::to_string);
    json!({
        "id": run.id,
        "flow_id": run.flow_id,
        "version": run.version,
        "definition_sha256": run.definition_sha256,
        "status": run_status(run.status),
        "input": run.input.as_ref().map(struct_json),
        "output": run.output.as_ref().map(value_json),
        "error": error_document(&run.error),
        "principal": run.principal_subject,
        "retries": run.retries,
        "steps": run.steps.iter().map(step_document).collect::<Vec<_>>(),
        "create_time": time(&run.create_time),
        "finish_time": time(&run.finish_time),
        "parent_run_id": run.parent_run_id,
        "parent_step_path": run.parent_step_path,
    })
}

fn step_line(step: &v1::FlowStep) -> String {
    let mut line = format!("step {}: {}", step.path, step_status(step.status));
    if !step.skill_id.is_empty() {
        line.push_str(&format!(" ({})", step.skill_id));
    }
    if step.attempt > 1 && step.kind == "skill" {
        line.push_str(&format!(", attempt {}", step.attempt));
    }
    if let Some(error) = &step.error
        && step.status != v1::FlowStepStatus::Succeeded as i32
    {
        line.push_str(&format!(": {} {}", error.code, error.message));
    }
    line
}

fn print_run(run: &v1::FlowRun, json: bool) {
    if json {
        print_json(&document(run));
        return;
    }
    outln!(
        "flow run {} ({} {}) is {}",
        run.id,
        run.flow_id,
        run.version,
        run_status(run.status)
    );
    if !run.parent_run_id.is_empty() {
        outln!(
            "  sub-flow of run {} (step {})",
            run.parent_run_id,
            run.parent_step_path
        );
    }
    for step in &run.steps {
        outln!("  {}", step_line(step));
    }
    if let Some(error) = &run.error {
        outln!("error: {} {}", error.code, error.message);
    }
    if let Some(output) = &run.output {
        outln!("output: {}", value_json(output));
    }
}

async fn get(client: &mut FlowServiceClient<Authed>, id: &str) -> Result<v1::FlowRun, Failure> {
    Ok(client
        .get_flow_run(v1::GetFlowRunRequest {
            run_id: id.to_owned(),
        })
        .await
        .map_err(status_failure)?
        .into_inner()
        .run
        .unwrap_or_default())
}

/// Follows a run until it ends, each step and status change on stderr; the run as it ended.
async fn follow(client: &mut FlowServiceClient<Authed>, id: &str) -> Result<v1::FlowRun, Failure> {
    use v1::watch_flow_run_response::Event;
    let mut stream = client
        .watch_flow_run(v1::WatchFlowRunRequest {
            run_id: id.to_owned(),
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    while let Some(message) = stream.next().await {
        match message.map_err(status_failure)?.event {
            Some(Event::Run(run)) => {
                eprintln!("flow run {}: {}", run.id, run_status(run.status));
                for step in &run.steps {
                    eprintln!("{}", step_line(step));
                }
            }
            Some(Event::Step(step)) => eprintln!("{}", step_line(&step)),
            None => {}
        }
    }
    get(client, id).await
}

/// Exit 1 unless the run succeeded (the run was printed).
fn ended(run: &v1::FlowRun) -> Result<(), Failure> {
    if run.status == v1::FlowRunStatus::Succeeded as i32 {
        Ok(())
    } else {
        Err(Failure::printed())
    }
}

pub async fn flows(args: FlowsArgs, json: bool) -> Result<(), Failure> {
    let mut client = FlowServiceClient::new(connect(&args.server).await?);
    match args.command {
        FlowsCommand::List => {
            let flows = client
                .list_flows(v1::ListFlowsRequest {})
                .await
                .map_err(status_failure)?
                .into_inner()
                .flows;
            if json {
                let flows: Vec<_> = flows
                    .iter()
                    .map(|flow| {
                        json!({
                            "id": flow.id, "version": flow.version, "name": flow.name,
                            "description": flow.description, "tags": flow.tags,
                            "steps": flow.steps, "source_path": flow.source_path,
                            "definition_sha256": flow.definition_sha256,
                        })
                    })
                    .collect();
                print_json(&json!({ "flows": flows }));
            } else {
                let rows = flows.iter().map(|flow| {
                    [
                        flow.id.clone(),
                        flow.version.clone(),
                        flow.steps.join(" -> "),
                        flow.description.clone(),
                    ]
                });
                outln!("{}", table(["id", "version", "steps", "description"], rows));
            }
        }
        FlowsCommand::Start { flow, input, wait } => {
            let input = payload_object(&input)?;
            let run = client
                .start_flow(v1::StartFlowRequest {
                    flow_id: flow,
                    input: Some(crate::grpc::convert::object(&input)),
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .run
                .unwrap_or_default();
            if !wait {
                if json {
                    print_json(&document(&run));
                } else {
                    outln!("{}", run.id);
                }
                return Ok(());
            }
            let run = follow(&mut client, &run.id).await?;
            if json {
                print_json(&document(&run));
            } else if let Some(output) = &run.output {
                outln!("{}", value_json(output));
            } else {
                print_run(&run, false);
            }
            ended(&run)?;
        }
        FlowsCommand::Get { run } => print_run(&get(&mut client, &run).await?, json),
        FlowsCommand::Watch { run } => {
            let run = follow(&mut client, &run).await?;
            print_run(&run, json);
            ended(&run)?;
        }
        FlowsCommand::Runs {
            flow,
            status,
            parent,
            limit,
        } => {
            let statuses = status
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_status(s))
                .collect::<Result<Vec<_>, _>>()?;
            let mut runs = Vec::new();
            let mut page_token = String::new();
            while runs.len() < limit {
                let page = client
                    .list_flow_runs(v1::ListFlowRunsRequest {
                        flow_id: flow.clone().unwrap_or_default(),
                        statuses: statuses.clone(),
                        page_size: i32::try_from((limit - runs.len()).min(1000)).unwrap_or(1000),
                        page_token,
                        parent_run_id: parent.clone().unwrap_or_default(),
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                runs.extend(page.runs);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                print_json(&json!({"runs": runs.iter().map(document).collect::<Vec<_>>()}));
            } else {
                let rows = runs.iter().map(|run| {
                    [
                        run.id.clone(),
                        run.flow_id.clone(),
                        run_status(run.status),
                        run.error
                            .as_ref()
                            .map(|e| e.code.clone())
                            .unwrap_or_default(),
                    ]
                });
                outln!("{}", table(["id", "flow", "status", "error"], rows));
            }
        }
        FlowsCommand::Signal { run, name, payload } => {
            let payload = payload_object(&payload)?;
            let run = client
                .signal_flow_run(v1::SignalFlowRunRequest {
                    run_id: run,
                    name,
                    payload: Some(crate::grpc::convert::object(&payload)),
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .run
                .unwrap_or_default();
            print_run(&run, json);
        }
        FlowsCommand::Cancel { run, reason } => {
            let run = client
                .cancel_flow_run(v1::CancelFlowRunRequest {
                    run_id: run,
                    reason,
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .run
                .unwrap_or_default();
            print_run(&run, json);
        }
        FlowsCommand::Retry { run } => {
            let run = client
                .retry_flow_run(v1::RetryFlowRunRequest { run_id: run })
                .await
                .map_err(status_failure)?
                .into_inner()
                .run
                .unwrap_or_default();
            print_run(&run, json);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_statuses_read_as_the_cli_writes_them() {
        for status in ["running", "waiting", "succeeded", "failed", "cancelled"] {
            assert_eq!(run_status(parse_status(status).unwrap()), status);
        }
        assert!(parse_status("done").is_err());
    }
}
