//! Commands that talk to a running server over gRPC.

use skillos_core::registry::{Category, Issue, Severity};
use skillos_proto::v1::{self, skill_service_client::SkillServiceClient};
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

use super::output::{Failure, print_json, table};
use super::{
    ExecutionsArgs, ExecutionsCommand, FeedbackArgs, RunArgs, RunnersArgs, RunnersCommand,
    SkillsArgs, SkillsCommand,
};
use skillos_engine::skills::{CompositionDocument, SkillDocument};
use skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient;

pub async fn skills(args: SkillsArgs, json: bool) -> Result<(), Failure> {
    let mut client = SkillServiceClient::new(connect(&args.server).await?);
    match args.command {
        SkillsCommand::List {
            tag,
            domain,
            include_deprecated,
        } => {
            let mut skills = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = v1::ListSkillsRequest {
                    tag: tag.clone().unwrap_or_default(),
                    domain: domain.clone().unwrap_or_default(),
                    include_deprecated,
                    page_size: 1000,
                    page_token,
                    // Scripts get every field; the table shows no schemas.
                    view: if json {
                        v1::SkillView::Full
                    } else {
                        v1::SkillView::Basic
                    } as i32,
                };
                let page = client
                    .list_skills(request)
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                skills.extend(page.skills);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                print_json(
                    &serde_json::json!({"skills": skills.iter().map(skill_json).collect::<Vec<_>>()}),
                );
            } else {
                let rows = skills.iter().map(|skill| {
                    [
                        skill.id.clone(),
                        skill.version.clone(),
                        summary(&skill.tags.join(","), 40),
                        state(skill),
                        summary(&skill.description, 60),
                    ]
                });
                outln!(
                    "{}",
                    table(["id", "version", "tags", "state", "description"], rows)
                );
            }
        }
        SkillsCommand::Get { id } => {
            let response = client
                .get_skill(v1::GetSkillRequest { skill_id: id })
                .await
                .map_err(status_failure)?;
            print_skill(response.into_inner().skill, json);
        }
        SkillsCommand::Deprecate {
            id,
            reason,
            replacement,
        } => {
            let request = v1::DeprecateSkillRequest {
                skill_id: id,
                reason: reason.unwrap_or_default(),
                replacement_id: replacement.unwrap_or_default(),
            };
            let response = client
                .deprecate_skill(request)
                .await
                .map_err(status_failure)?;
            print_skill(response.into_inner().skill, json);
        }
        SkillsCommand::Undeprecate { id } => {
            let request = v1::UndeprecateSkillRequest { skill_id: id };
            let response = client
                .undeprecate_skill(request)
                .await
                .map_err(status_failure)?;
            print_skill(response.into_inner().skill, json);
        }
        SkillsCommand::Activate { id } => {
            let request = v1::ActivateSkillRequest { skill_id: id };
            let response = client
                .activate_skill(request)
                .await
                .map_err(status_failure)?;
            print_skill(response.into_inner().skill, json);
        }
        SkillsCommand::Deactivate { id } => {
            let request = v1::DeactivateSkillRequest { skill_id: id };
            let response = client
                .deactivate_skill(request)
                .await
                .map_err(status_failure)?;
            print_skill(response.into_inner().skill, json);
        }
        SkillsCommand::Validate { no_entrypoints } => {
            let request = v1::ValidateSkillsRequest {
                check_entrypoints: !no_entrypoints,
            };
            let report = client
                .validate_skills(request)
                .await
                .map_err(status_failure)?
                .into_inner();
            let issues: Vec<Issue> = report.issues.iter().map(issue_from_proto).collect();
            let skill_count = usize::try_from(report.skill_count).unwrap_or(0);
            super::local::report_validation(skill_count, &issues, json)?;
        }
    }
    Ok(())
}

/// Adds the caller's credential to every call.
#[derive(Clone, Debug)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that sends the caller's credential.
pub type Authed = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

/// Connects to the server of `arg`, with its `--token` (or `SKILLOS_TOKEN`) on every call.
pub async fn connect(arg: &super::ServerArg) -> Result<Authed, Failure> {
    let bearer = match arg
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
            Failure::usage(
                "the token (--token or SKILLOS_TOKEN) has characters a header cannot carry",
            )
        })?),
    };
    let channel = connect_channel(&arg.server).await?;
    Ok(tonic::service::interceptor::InterceptedService::new(
        channel,
        Bearer(bearer),
    ))
}

/// Connects to `server` (`host:port` or a URL).
pub async fn connect_channel(server: &str) -> Result<Channel, Failure> {
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|error| Failure::new(format!("invalid server address {server:?}: {error}")))?
        .connect_timeout(std::time::Duration::from_secs(5));
    endpoint.connect().await.map_err(|error| {
        Failure::with_reason(
            format!("cannot reach the server at {url}: {error}"),
            "UNAVAILABLE",
        )
    })
}

/// A gRPC error as a CLI failure, keeping the server's stable reason.
pub fn status_failure(status: tonic::Status) -> Failure {
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_else(|| format!("{:?}", status.code()));
    Failure::with_reason(status.message().to_owned(), reason)
}

/// `deprecated`, `no runner`, both, or nothing.
fn state(skill: &v1::Skill) -> String {
    let mut words = Vec::new();
    if let Some(composition) = &skill.composition {
        words.push(if composition.active {
            "composition"
        } else {
            "inactive composition"
        });
    }
    if skill.kind() == v1::SkillKind::Flow {
        words.push("flow");
    }
    if skill.deprecation.as_ref().is_some_and(|d| d.deprecated) {
        words.push("deprecated");
    }
    if !skill.available {
        words.push("no runner");
    }
    words.join(", ")
}

fn print_skill(skill: Option<v1::Skill>, json: bool) {
    let Some(skill) = skill else { return };
    if json {
        print_json(&skill_json(&skill));
        return;
    }
    let deprecation = skill.deprecation.clone().unwrap_or_default();
    let mut rows = vec![
        ["id".to_owned(), skill.id.clone()],
        ["name".to_owned(), skill.name.clone()],
        ["version".to_owned(), skill.version.clone()],
        ["description".to_owned(), skill.description.clone()],
        ["tags".to_owned(), skill.tags.join(", ")],
        ["entrypoint".to_owned(), skill.entrypoint.clone()],
        [
            "risk tier".to_owned(),
            risk_name(skill.risk_tier()).to_owned(),
        ],
        [
            "cost estimate".to_owned(),
            skill
                .cost_estimate
                .map_or_else(|| "-".to_owned(), |cost| cost.to_string()),
        ],
        ["retryable".to_owned(), skill.retryable.to_string()],
        ["source".to_owned(), skill.source_path.clone()],
        ["available".to_owned(), skill.available.to_string()],
        ["deprecated".to_owned(), deprecation.deprecated.to_string()],
    ];
    if !deprecation.reason.is_empty() {
        rows.push(["deprecation reason".to_owned(), deprecation.reason.clone()]);
    }
    if !deprecation.replacement_id.is_empty() {
        rows.push(["replacement".to_owned(), deprecation.replacement_id.clone()]);
    }
    if let Some(composition) = &skill.composition {
        rows.push(["steps".to_owned(), composition.steps.join(" -> ")]);
        rows.push(["active".to_owned(), composition.active.to_string()]);
        rows.push(["composition".to_owned(), composition.source_path.clone()]);
    }
    outln!("{}", table(["field", "value"], rows));
}

/// A skill from the server in the JSON shape the HTTP API uses too.
fn skill_json(skill: &v1::Skill) -> serde_json::Value {
    let deprecation = skill.deprecation.clone().unwrap_or_default();
    let document = SkillDocument {
        id: skill.id.clone(),
        name: skill.name.clone(),
        description: skill.description.clone(),
        version: skill.version.clone(),
        tags: skill.tags.clone(),
        entrypoint: skill.entrypoint.clone(),
        input_schema: skill
            .input_schema
            .as_ref()
            .map(crate::grpc::convert::struct_json),
        output_schema: skill
            .output_schema
            .as_ref()
            .map(crate::grpc::convert::struct_json),
        cost_estimate: skill.cost_estimate,
        risk_tier: Some(risk_name(skill.risk_tier()))
            .filter(|tier| *tier != "unspecified")
            .map(str::to_owned),
        required_permissions: skill.required_permissions.clone(),
        timeout_seconds: skill
            .timeout
            .map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9),
        retryable: skill.retryable,
        deprecated: deprecation.deprecated,
        deprecation_reason: Some(deprecation.reason).filter(|r| !r.is_empty()),
        replacement_id: Some(deprecation.replacement_id).filter(|r| !r.is_empty()),
        source_path: skill.source_path.clone(),
        available: skill.available,
        kind: match skill.kind() {
            v1::SkillKind::Composition => "composition",
            v1::SkillKind::Flow => "flow",
            _ => "function",
        },
        composition: skill
            .composition
            .as_ref()
            .map(|composition| CompositionDocument {
                steps: composition.steps.clone(),
                version: composition.version.clone(),
                active: composition.active,
                source_path: composition.source_path.clone(),
            }),
    };
    serde_json::to_value(document).unwrap_or_default()
}

fn risk_name(tier: v1::RiskTier) -> &'static str {
    match tier {
        v1::RiskTier::Unspecified => "unspecified",
        v1::RiskTier::Low => "low",
        v1::RiskTier::Medium => "medium",
        v1::RiskTier::High => "high",
        v1::RiskTier::Critical => "critical",
    }
}

/// A validation issue as the server sent it, in the form the local validator prints.
fn issue_from_proto(issue: &v1::ValidationIssue) -> Issue {
    let category = match issue.category() {
        v1::ValidationCategory::Syntax => Category::Syntax,
        v1::ValidationCategory::DuplicateId => Category::DuplicateId,
        v1::ValidationCategory::Entrypoint => Category::Entrypoint,
        v1::ValidationCategory::Io => Category::Io,
        v1::ValidationCategory::Composition => Category::Composition,
        v1::ValidationCategory::Flow => Category::Flow,
        v1::ValidationCategory::Metadata | v1::ValidationCategory::Unspecified => {
            Category::Metadata
        }
    };
    let severity = match issue.severity() {
        v1::ValidationSeverity::Warning => Severity::Warning,
        v1::ValidationSeverity::Error | v1::ValidationSeverity::Unspecified => Severity::Error,
    };
    Issue {
        path: issue.path.clone(),
        category,
        severity,
        message: issue.message.clone(),
        skill_id: Some(issue.skill_id.clone()).filter(|id| !id.is_empty()),
    }
}

/// The first `width` characters of a text for a table cell (`--json` has the whole text).
fn summary(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        Some((cut, _)) => format!("{}...", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// The `--payload` argument: a JSON object.
pub fn payload_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    let payload: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        Failure::with_reason(format!("--payload is not JSON: {error}"), "INVALID_PAYLOAD")
    })?;
    match payload {
        serde_json::Value::Object(payload) => Ok(payload),
        _ => Err(Failure::with_reason(
            "--payload must be a JSON object",
            "INVALID_PAYLOAD",
        )),
    }
}

pub async fn run(args: RunArgs, json: bool) -> Result<(), Failure> {
    let payload = payload_object(&args.payload)?;
    let timeout = match args.timeout {
        None => None,
        Some(seconds) if seconds > 0.0 && seconds.is_finite() => {
            prost_types::Duration::try_from(std::time::Duration::from_secs_f64(seconds)).ok()
        }
        Some(_) => {
            return Err(Failure::new(
                "--timeout must be a positive number of seconds",
            ));
        }
    };
    let mut client = OrchestratorServiceClient::new(connect(&args.server).await?);
    let target = match (args.skill, args.query) {
        (Some(skill), _) => v1::run_request::Target::SkillId(skill),
        (None, Some(query)) => v1::run_request::Target::Query(query),
        (None, None) => return Err(Failure::usage("give --skill or --query")),
    };
    let request = v1::RunRequest {
        target: Some(target),
        payload: Some(crate::grpc::convert::object(&payload)),
        timeout,
        idempotency_key: args.idempotency_key.unwrap_or_default(),
        dry_run: args.dry_run,
        split: args.split.map_or(v1::QuerySplit::Unspecified, |split| {
            crate::grpc::convert::split_proto(split.into())
        }) as i32,
        ..Default::default()
    };
    let response = client
        .run(request)
        .await
        .map_err(status_failure)?
        .into_inner();
    if !json {
        for segment in &response.segments {
            let decision = segment.decision.clone().unwrap_or_default();
            if decision.status == v1::RoutingStatus::Selected as i32 {
                eprintln!(
                    "segment {:?}: {} (confidence {:.2})",
                    segment.text, decision.skill_id, decision.confidence
                );
            } else {
                eprintln!(
                    "segment {:?}: not routed ({})",
                    segment.text, decision.explanation
                );
            }
        }
    }
    if response.outcome == v1::RunOutcome::Pipeline as i32 {
        return super::pipeline::print(&response.pipeline.unwrap_or_default(), json);
    }
    if response.outcome == v1::RunOutcome::DryRun as i32 {
        return print_plan(&response.plan.unwrap_or_default(), json);
    }
    if response.outcome == v1::RunOutcome::NotRouted as i32 {
        let decision = response.routing.unwrap_or_default();
        let status = v1::RoutingStatus::try_from(decision.status)
            .unwrap_or_default()
            .as_str_name()
            .trim_start_matches("ROUTING_STATUS_")
            .to_ascii_lowercase();
        if json {
            print_json(&serde_json::json!({
                "outcome": "not_routed",
                "status": status,
                "skill_id": decision.skill_id,
                "confidence": decision.confidence,
                "explanation": decision.explanation,
                "candidates": decision.candidates.iter().map(|c| serde_json::json!({
                    "skill_id": c.skill_id, "confidence": c.confidence, "score": c.score,
                })).collect::<Vec<_>>(),
            }));
            return Err(Failure::printed());
        }
        let candidates: Vec<String> = decision
            .candidates
            .iter()
            .map(|c| format!("{} ({:.2})", c.skill_id, c.confidence))
            .collect();
        return Err(Failure::with_reason(
            format!(
                "nothing ran: routing is not confident ({}); candidates: {}",
                decision.explanation,
                if candidates.is_empty() {
                    "none".to_owned()
                } else {
                    candidates.join(", ")
                }
            ),
            if status == "no_skill" {
                "NO_SKILL"
            } else {
                "LOW_CONFIDENCE"
            },
        ));
    }
    if let Some(routing) = &response.routing
        && !json
    {
        eprintln!(
            "routed to {} (confidence {:.2})",
            routing.skill_id, routing.confidence
        );
    }
    let execution = response.execution.unwrap_or_default();
    if response.outcome == v1::RunOutcome::PendingApproval as i32 {
        // Not a failure: the run waits for approvers and then runs by itself.
        if json {
            print_json(&serde_json::json!({
                "outcome": "pending_approval",
                "execution_id": execution.id,
                "approval_id": execution.approval_id,
            }));
        } else {
            outln!(
                "held for approval {}: execution {} runs once approvers approve it \
                 (skillos approvals list)",
                execution.approval_id,
                execution.id
            );
        }
        return Ok(());
    }
    if json {
        print_json(&execution_json(&execution));
    } else if let Some(error) = &execution.error {
        eprintln!(
            "error: {} ({}, execution {})",
            error.message, error.code, execution.id
        );
    } else {
        let output = execution
            .output
            .as_ref()
            .map(crate::grpc::convert::value_json)
            .unwrap_or_default();
        outln!(
            "{}",
            serde_json::to_string_pretty(&output).unwrap_or_default()
        );
    }
    if execution.status() == v1::ExecutionStatus::Succeeded {
        Ok(())
    } else {
        Err(Failure::printed())
    }
}

/// A dry run's plan; a failure (exit 1) when something would refuse the run.
fn print_plan(plan: &v1::RunPlan, json: bool) -> Result<(), Failure> {
    let refusals: Vec<serde_json::Value> = plan
        .refusals
        .iter()
        .map(|refusal| {
            serde_json::json!({"reason": refusal.reason, "message": refusal.message,
                               "metadata": refusal.metadata})
        })
        .collect();
    let runner = plan.runner.as_ref();
    if json {
        print_json(&serde_json::json!({
            "outcome": "dry_run",
            "skill_id": plan.skill_id,
            "skill_version": plan.skill_version,
            "payload_sha256": plan.payload_sha256,
            "policy_id": plan.policy_id,
            "approval_required": plan.approval_required,
            "approval_policy_id": plan.approval_policy_id,
            "required_approvals": plan.required_approvals,
            "approver_group": plan.approver_group,
            "estimated_cost": plan.estimated_cost,
            "model_tier": plan.model_tier,
            "runner": runner.map(|r| serde_json::json!({"id": r.id, "name": r.name})),
            "timeout_seconds": plan.timeout.map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9),
            "refusals": refusals,
        }));
    } else {
        let verdict = if refusals.is_empty() {
            "would run"
        } else {
            "would be refused"
        };
        outln!(
            "dry run: {} {} {verdict}",
            plan.skill_id,
            plan.skill_version
        );
        outln!("  policy:   {}", plan.policy_id);
        if plan.approval_required {
            let group = if plan.approver_group.is_empty() {
                String::new()
            } else {
                format!(" of group {}", plan.approver_group)
            };
            outln!(
                "  approval: required by {}: {} approver(s){group}",
                plan.approval_policy_id,
                plan.required_approvals
            );
        } else {
            outln!("  approval: not required");
        }
        let tier = if plan.model_tier.is_empty() {
            String::new()
        } else {
            format!(" (model tier {})", plan.model_tier)
        };
        outln!("  budget:   reserves {}{tier}", plan.estimated_cost);
        match runner {
            Some(runner) => outln!("  runner:   {} ({})", runner.name, runner.id),
            None => outln!("  runner:   none connected"),
        }
        for refusal in &plan.refusals {
            outln!("  refused:  {}: {}", refusal.reason, refusal.message);
        }
    }
    if plan.refusals.is_empty() {
        Ok(())
    } else {
        Err(Failure::printed())
    }
}

pub async fn executions(args: ExecutionsArgs, json: bool) -> Result<(), Failure> {
    let mut client = OrchestratorServiceClient::new(connect(&args.server).await?);
    match args.command {
        ExecutionsCommand::List { skill, limit } => {
            let request = v1::ListExecutionsRequest {
                skill_id: skill.unwrap_or_default(),
                page_size: limit,
                ..Default::default()
            };
            let listed = client
                .list_executions(request)
                .await
                .map_err(status_failure)?
                .into_inner();
            if json {
                let executions: Vec<_> = listed.executions.iter().map(execution_json).collect();
                print_json(&serde_json::json!({"executions": executions}));
            } else {
                let rows = listed.executions.iter().map(|execution| {
                    [
                        execution.id.clone(),
                        execution.skill_id.clone(),
                        status_name(execution.status()).to_owned(),
                        execution.attempts.to_string(),
                        execution
                            .create_time
                            .map(|t| time_text(&t))
                            .unwrap_or_default(),
                    ]
                });
                outln!(
                    "{}",
                    table(["id", "skill", "status", "attempts", "created"], rows)
                );
            }
        }
        ExecutionsCommand::Get { id } => {
            let request = v1::GetExecutionRequest { execution_id: id };
            let execution = client
                .get_execution(request)
                .await
                .map_err(status_failure)?
                .into_inner()
                .execution;
            print_json(&execution_json(&execution.unwrap_or_default()));
        }
        ExecutionsCommand::Cancel { id, reason } => {
            let request = v1::CancelExecutionRequest {
                execution_id: id,
                reason,
            };
            let execution = client
                .cancel_execution(request)
                .await
                .map_err(status_failure)?
                .into_inner()
                .execution
                .unwrap_or_default();
            if json {
                print_json(&execution_json(&execution));
            } else {
                outln!(
                    "execution {} is {}",
                    execution.id,
                    status_name(execution.status())
                );
            }
        }
    }
    Ok(())
}

pub async fn runners(args: RunnersArgs, json: bool) -> Result<(), Failure> {
    let mut client = OrchestratorServiceClient::new(connect(&args.server).await?);
    let RunnersCommand::List = args.command;
    let listed = client
        .list_runners(v1::ListRunnersRequest::default())
        .await
        .map_err(status_failure)?
        .into_inner();
    if json {
        let runners: Vec<_> = listed
            .runners
            .iter()
            .map(|runner| {
                serde_json::json!({
                    "id": runner.id,
                    "name": runner.name,
                    "version": runner.version,
                    "skills": runner.skills.iter().map(|skill| &skill.skill_id).collect::<Vec<_>>(),
                    "max_concurrency": runner.max_concurrency,
                    "in_flight": runner.in_flight,
                    "draining": runner.state() == v1::RunnerState::Draining,
                })
            })
            .collect();
        print_json(&serde_json::json!({"runners": runners}));
    } else {
        let rows = listed.runners.iter().map(|runner| {
            [
                runner.id.clone(),
                runner.name.clone(),
                runner.skills.len().to_string(),
                format!("{}/{}", runner.in_flight, runner.max_concurrency),
                if runner.state() == v1::RunnerState::Draining {
                    "draining"
                } else {
                    "ready"
                }
                .to_owned(),
            ]
        });
        outln!("{}", table(["id", "name", "skills", "load", "state"], rows));
    }
    Ok(())
}

fn execution_json(execution: &v1::Execution) -> serde_json::Value {
    use crate::grpc::convert::{struct_json, value_json};
    serde_json::json!({
        "id": execution.id,
        "skill_id": execution.skill_id,
        "skill_version": execution.skill_version,
        "status": status_name(execution.status()),
        "payload": execution.payload.as_ref().map(struct_json),
        "output": execution.output.as_ref().map(value_json),
        "error": execution.error.as_ref().map(|error| serde_json::json!({
            "code": error.code,
            "message": error.message,
            "origin": match error.origin() {
                v1::ErrorOrigin::Skill => "skill",
                v1::ErrorOrigin::Runner => "runner",
                v1::ErrorOrigin::Server => "server",
                v1::ErrorOrigin::Unspecified => "unspecified",
            },
        })),
        "attempts": execution.attempts,
        "runner_id": Some(&execution.runner_id).filter(|id| !id.is_empty()),
        "cost": execution.usage.as_ref().map(|usage| usage.cost),
        "created": execution.create_time.map(|t| time_text(&t)),
        "finished": execution.finish_time.map(|t| time_text(&t)),
    })
}

fn status_name(status: v1::ExecutionStatus) -> &'static str {
    crate::grpc::convert::store_status(status).map_or("unspecified", |status| status.as_str())
}

fn time_text(time: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(time.seconds, u32::try_from(time.nanos).unwrap_or(0))
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub async fn feedback(args: FeedbackArgs, json: bool) -> Result<(), Failure> {
    let mut client = OrchestratorServiceClient::new(connect(&args.server).await?);
    let request = v1::RecordFeedbackRequest {
        query: args.query,
        routed_skill_id: args.routed.unwrap_or_default(),
        expected_skill_id: args.expected.unwrap_or_default(),
        source: "cli".to_owned(),
        comment: args.comment,
        execution_id: args.execution.unwrap_or_default(),
    };
    let feedback = client
        .record_feedback(request)
        .await
        .map_err(status_failure)?
        .into_inner()
        .feedback
        .unwrap_or_default();
    if json {
        print_json(&serde_json::json!({
            "id": feedback.id,
            "query": feedback.query,
            "routed_skill_id": feedback.routed_skill_id,
            "expected_skill_id": feedback.expected_skill_id,
            "source": feedback.source,
        }));
    } else {
        outln!("feedback {} recorded", feedback.id);
    }
    Ok(())
}
