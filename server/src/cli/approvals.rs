//! `skillos approvals list|approve|reject`: decide runs held for approval, through the server.

use clap::{Args, Subcommand};
use serde_json::json;
use skillos_proto::v1::{self, approval_service_client::ApprovalServiceClient};

use super::ServerArg;
use super::client::{connect, status_failure};
use super::output::{Failure, print_json, table};

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// Approvals you may see, newest first (pending ones by default).
    List {
        /// Every state, not only pending.
        #[arg(long)]
        all: bool,
        /// Only those you can decide now.
        #[arg(long)]
        actionable: bool,
        /// Only runs of this skill.
        #[arg(long)]
        skill: Option<String>,
    },
    /// Approve a run. Pass --sha256 with the payload hash you reviewed (from `list --json`) so a
    /// different payload is refused.
    Approve {
        id: String,
        #[arg(long)]
        sha256: Option<String>,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a run; it never executes.
    Reject {
        id: String,
        /// Why (required; shown to the requester).
        #[arg(long)]
        reason: String,
    },
}

fn state_name(state: i32) -> String {
    v1::ApprovalState::try_from(state)
        .map(|state| {
            state
                .as_str_name()
                .trim_start_matches("APPROVAL_STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn document(approval: &v1::Approval) -> serde_json::Value {
    let payload = approval
        .payload
        .as_ref()
        .map(crate::grpc::convert::struct_json)
        .unwrap_or(serde_json::Value::Null);
    json!({
        "id": approval.id,
        "execution_id": approval.execution_id,
        "skill_id": approval.skill_id,
        "skill_version": approval.skill_version,
        "payload": payload,
        "payload_sha256": approval.payload_sha256,
        "state": state_name(approval.state),
        "requester": approval.requester_subject,
        "required_approvals": approval.required_approvals,
        "approvals": approval.decisions.iter().filter(|d| d.verdict == v1::ApprovalVerdict::Approve as i32).count(),
        "approver_group": approval.approver_group,
        "policy_id": approval.policy_id,
        "reason": approval.reason,
        "flow_run_id": approval.flow_run_id,
        "step_path": approval.step_path,
    })
}

fn print_one(approval: &v1::Approval, json: bool) {
    if json {
        print_json(&document(approval));
    } else {
        let approvals = approval
            .decisions
            .iter()
            .filter(|d| d.verdict == v1::ApprovalVerdict::Approve as i32)
            .count();
        outln!(
            "approval {} is {} ({approvals}/{} approvals); execution {}",
            approval.id,
            state_name(approval.state),
            approval.required_approvals,
            approval.execution_id
        );
    }
}

pub async fn approvals(args: ApprovalsArgs, json: bool) -> Result<(), Failure> {
    let mut client = ApprovalServiceClient::new(connect(&args.server).await?);
    match args.command {
        ApprovalsCommand::List {
            all,
            actionable,
            skill,
        } => {
            let mut approvals = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_approvals(v1::ListApprovalsRequest {
                        states: if all {
                            Vec::new()
                        } else {
                            vec![v1::ApprovalState::Pending as i32]
                        },
                        skill_id: skill.clone().unwrap_or_default(),
                        actionable_only: actionable,
                        page_size: 1000,
                        page_token,
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                approvals.extend(page.approvals);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                print_json(
                    &json!({"approvals": approvals.iter().map(document).collect::<Vec<_>>()}),
                );
            } else {
                let rows = approvals.iter().map(|approval| {
                    let approved = approval
                        .decisions
                        .iter()
                        .filter(|d| d.verdict == v1::ApprovalVerdict::Approve as i32)
                        .count();
                    [
                        approval.id.clone(),
                        approval.skill_id.clone(),
                        state_name(approval.state),
                        format!("{approved}/{}", approval.required_approvals),
                        approval.requester_subject.clone(),
                        approval.policy_id.clone(),
                    ]
                });
                outln!(
                    "{}",
                    table(
                        ["id", "skill", "state", "approvals", "requester", "policy"],
                        rows
                    )
                );
            }
        }
        ApprovalsCommand::Approve {
            id,
            sha256,
            comment,
        } => {
            let approval = client
                .approve(v1::ApproveRequest {
                    approval_id: id,
                    comment,
                    payload_sha256: sha256.unwrap_or_default(),
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .approval
                .unwrap_or_default();
            print_one(&approval, json);
        }
        ApprovalsCommand::Reject { id, reason } => {
            let approval = client
                .reject(v1::RejectRequest {
                    approval_id: id,
                    reason,
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .approval
                .unwrap_or_default();
            print_one(&approval, json);
        }
    }
    Ok(())
}
