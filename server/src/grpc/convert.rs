//! Domain values into their protobuf messages.

use prost_types::value::Kind as ValueKind;
use serde_json::Value as Json;
use skillos_core::manifest::RiskTier;
use skillos_core::registry::{Category, Issue, Severity};
use skillos_proto::v1;

use skillos_engine::flow::segments::Split;
use skillos_engine::skills::{CompositionDocument, SkillView};

/// `with_schemas` false leaves out the input and output schemas (the BASIC view).
pub fn skill(view: &SkillView, with_schemas: bool) -> v1::Skill {
    let manifest = &view.skill.manifest;
    let deprecation = &view.deprecation;
    v1::Skill {
        id: manifest.id.to_string(),
        name: manifest.name.clone(),
        description: manifest.description.clone(),
        version: manifest.version.to_string(),
        tags: manifest.tags.clone(),
        entrypoint: manifest.entrypoint.to_string(),
        input_schema: manifest
            .input_schema
            .as_ref()
            .filter(|_| with_schemas)
            .map(object),
        output_schema: manifest
            .output_schema
            .as_ref()
            .filter(|_| with_schemas)
            .map(object),
        cost_estimate: manifest.cost_estimate,
        risk_tier: risk_tier(manifest.risk_tier) as i32,
        required_permissions: manifest.required_permissions.clone(),
        timeout: manifest
            .timeout
            .and_then(|timeout| prost_types::Duration::try_from(timeout).ok()),
        retryable: manifest.retryable,
        deprecation: Some(v1::Deprecation {
            deprecated: deprecation.deprecated,
            reason: deprecation.reason.clone().unwrap_or_default(),
            replacement_id: deprecation.replacement_id.clone().unwrap_or_default(),
            update_time: deprecation.updated_at.map(timestamp),
        }),
        source_path: view.skill.source_path.clone(),
        available: view.available,
        kind: match skillos_engine::skills::kind_name(&view.skill) {
            "composition" => v1::SkillKind::Composition,
            "flow" => v1::SkillKind::Flow,
            _ => v1::SkillKind::Function,
        } as i32,
        composition: view.skill.composition.as_ref().map(|composition| {
            let document = CompositionDocument::new(composition, view.active);
            v1::CompositionInfo {
                steps: document.steps,
                version: document.version,
                active: document.active,
                source_path: document.source_path,
            }
        }),
    }
}

fn risk_tier(tier: Option<RiskTier>) -> v1::RiskTier {
    match tier {
        None => v1::RiskTier::Unspecified,
        Some(RiskTier::Low) => v1::RiskTier::Low,
        Some(RiskTier::Medium) => v1::RiskTier::Medium,
        Some(RiskTier::High) => v1::RiskTier::High,
        Some(RiskTier::Critical) => v1::RiskTier::Critical,
    }
}

pub fn issue(issue: &Issue) -> v1::ValidationIssue {
    let category = match issue.category {
        Category::Syntax => v1::ValidationCategory::Syntax,
        Category::Metadata => v1::ValidationCategory::Metadata,
        Category::DuplicateId => v1::ValidationCategory::DuplicateId,
        Category::Entrypoint => v1::ValidationCategory::Entrypoint,
        Category::Io => v1::ValidationCategory::Io,
        Category::Composition => v1::ValidationCategory::Composition,
        Category::Flow => v1::ValidationCategory::Flow,
    };
    let severity = match issue.severity {
        Severity::Error => v1::ValidationSeverity::Error,
        Severity::Warning => v1::ValidationSeverity::Warning,
    };
    v1::ValidationIssue {
        path: issue.path.clone(),
        category: category as i32,
        message: issue.message.clone(),
        skill_id: issue.skill_id.clone().unwrap_or_default(),
        severity: severity as i32,
    }
}

/// A protobuf time as a `DateTime`; `None` when its nanos are invalid or it is outside what
/// the stores hold (years 1 to 9999, as protobuf's Timestamp itself).
pub fn time(time: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    let nanos = u32::try_from(time.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)?;
    chrono::DateTime::from_timestamp(time.seconds, nanos)
        .filter(|at| skillos_engine::page::in_range(*at))
}

pub fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub fn object(map: &serde_json::Map<String, Json>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(key, value)| (key.clone(), self::value(value)))
            .collect(),
    }
}

pub fn value(json: &Json) -> prost_types::Value {
    let kind = match json {
        Json::Null => ValueKind::NullValue(0),
        Json::Bool(value) => ValueKind::BoolValue(*value),
        Json::Number(number) => ValueKind::NumberValue(number.as_f64().unwrap_or(f64::NAN)),
        Json::String(text) => ValueKind::StringValue(text.clone()),
        Json::Array(items) => ValueKind::ListValue(prost_types::ListValue {
            values: items.iter().map(value).collect(),
        }),
        Json::Object(map) => ValueKind::StructValue(object(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// protobuf numbers are doubles; whole ones within the exactly representable range come back as
/// JSON integers (`100`, not `100.0`), as they were most likely sent.
fn number_json(n: f64) -> serde_json::Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, Into::into)
    }
}

pub fn struct_json(value: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        value
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

pub fn value_json(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number_json(*n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.iter().map(value_json).collect())
        }
        Some(Kind::StructValue(object)) => struct_json(object),
    }
}

pub fn execution_status(status: skillos_store::ExecutionStatus) -> v1::ExecutionStatus {
    use skillos_store::ExecutionStatus as S;
    match status {
        S::Pending => v1::ExecutionStatus::Pending,
        S::PendingApproval => v1::ExecutionStatus::PendingApproval,
        S::Running => v1::ExecutionStatus::Running,
        S::Succeeded => v1::ExecutionStatus::Succeeded,
        S::Failed => v1::ExecutionStatus::Failed,
        S::Cancelled => v1::ExecutionStatus::Cancelled,
        S::TimedOut => v1::ExecutionStatus::TimedOut,
        S::Rejected => v1::ExecutionStatus::Rejected,
    }
}

/// The store's status for a protobuf one; `None` for UNSPECIFIED.
pub fn store_status(status: v1::ExecutionStatus) -> Option<skillos_store::ExecutionStatus> {
    skillos_store::ExecutionStatus::ALL
        .into_iter()
        .find(|candidate| execution_status(*candidate) == status)
}

/// An execution's stored error as protobuf.
pub fn execution_error(error: &skillos_store::ExecutionError) -> v1::ExecutionError {
    use skillos_store::{ErrorClass, ErrorOrigin};
    let class = match error.class {
        ErrorClass::Retryable => v1::ErrorClass::Retryable,
        ErrorClass::Permanent => v1::ErrorClass::Permanent,
    };
    let origin = match error.origin {
        ErrorOrigin::Skill => v1::ErrorOrigin::Skill,
        ErrorOrigin::Runner => v1::ErrorOrigin::Runner,
        ErrorOrigin::Server => v1::ErrorOrigin::Server,
    };
    v1::ExecutionError {
        error_class: class as i32,
        origin: origin as i32,
        code: error.code.clone(),
        message: error.message.clone(),
    }
}

pub fn execution(execution: &skillos_store::Execution) -> v1::Execution {
    let error = execution.error.as_ref().map(execution_error);
    let duration = execution
        .started_at
        .zip(execution.finished_at)
        .and_then(|(start, end)| (end - start).to_std().ok())
        .and_then(|elapsed| prost_types::Duration::try_from(elapsed).ok());
    v1::Execution {
        id: execution.id.clone(),
        skill_id: execution.skill_id.clone(),
        skill_version: execution.skill_version.clone(),
        status: execution_status(execution.status) as i32,
        payload: execution.payload.as_object().map(object),
        output: execution.output.as_ref().map(value),
        error,
        attempts: execution.attempts,
        runner_id: execution.runner_id.clone().unwrap_or_default(),
        usage: Some(v1::Usage {
            cost: execution.cost,
            duration,
            ..Default::default()
        }),
        create_time: Some(timestamp(execution.created_at)),
        start_time: execution.started_at.map(timestamp),
        finish_time: execution.finished_at.map(timestamp),
        principal_subject: execution.principal.clone(),
        approval_id: execution.approval_id.clone().unwrap_or_default(),
        job_id: execution.job_id.clone().unwrap_or_default(),
        ..Default::default()
    }
}

pub fn approval_state(state: skillos_store::ApprovalState) -> v1::ApprovalState {
    use skillos_store::ApprovalState as S;
    match state {
        S::Pending => v1::ApprovalState::Pending,
        S::Approved => v1::ApprovalState::Approved,
        S::Rejected => v1::ApprovalState::Rejected,
        S::Expired => v1::ApprovalState::Expired,
        S::Cancelled => v1::ApprovalState::Cancelled,
    }
}

/// An approval with the payload it binds (read from its execution).
pub fn approval(approval: &skillos_store::Approval, payload: Option<&Json>) -> v1::Approval {
    // A flow step's run carries its step key, `<run id>:<path>`.
    let step = skillos_engine::auth::RunContext::from_json(&approval.run_context).step_key;
    let (flow_run_id, step_path) = step
        .as_deref()
        .and_then(|key| key.split_once(':'))
        .map(|(run, path)| (run.to_owned(), path.to_owned()))
        .unwrap_or_default();
    let risk = match approval.risk_tier.as_deref() {
        Some("low") => v1::RiskTier::Low,
        Some("medium") => v1::RiskTier::Medium,
        Some("high") => v1::RiskTier::High,
        Some("critical") => v1::RiskTier::Critical,
        _ => v1::RiskTier::Unspecified,
    };
    v1::Approval {
        id: approval.id.clone(),
        execution_id: approval.execution_id.clone(),
        skill_id: approval.skill_id.clone(),
        skill_version: approval.skill_version.clone(),
        payload: payload.and_then(Json::as_object).map(object),
        payload_sha256: approval.payload_sha256.clone(),
        risk_tier: risk as i32,
        requester_subject: approval.requester.clone(),
        required_approvals: approval.required,
        decisions: approval
            .decisions
            .iter()
            .map(|decision| v1::ApprovalDecision {
                approver_subject: decision.approver.clone(),
                verdict: if decision.approve {
                    v1::ApprovalVerdict::Approve
                } else {
                    v1::ApprovalVerdict::Reject
                } as i32,
                comment: decision.comment.clone(),
                decide_time: Some(timestamp(decision.decided_at)),
            })
            .collect(),
        state: approval_state(approval.state) as i32,
        policy_id: approval.policy_id.clone(),
        reason: approval.reason.clone(),
        approver_group: approval.approver_group.clone().unwrap_or_default(),
        expire_time: Some(timestamp(approval.expire_at)),
        create_time: Some(timestamp(approval.created_at)),
        resolve_time: approval.resolved_at.map(timestamp),
        flow_run_id,
        step_path,
    }
}

/// A dry run's plan as protobuf.
pub fn run_plan(plan: &skillos_engine::run::Plan) -> v1::RunPlan {
    let approval = plan.approval.as_ref();
    let runner = plan.runner.as_ref().map(|planned| v1::Runner {
        id: planned.id.clone(),
        name: planned.name.clone(),
        ..Default::default()
    });
    v1::RunPlan {
        skill_id: plan.skill_id.clone(),
        skill_version: plan.skill_version.clone(),
        payload_sha256: plan.payload_sha256.clone(),
        approval_required: approval.is_some(),
        approval_policy_id: approval
            .map(|approval| approval.policy_id.clone())
            .unwrap_or_default(),
        estimated_cost: plan.estimated_cost,
        model_tier: plan.model_tier.clone().unwrap_or_default(),
        policy_id: plan.policy_id.clone(),
        required_approvals: approval
            .map(|approval| i32::try_from(approval.required_approvals).unwrap_or(i32::MAX))
            .unwrap_or(0),
        approver_group: approval
            .and_then(|approval| approval.approver_group.clone())
            .unwrap_or_default(),
        runner,
        timeout: prost_types::Duration::try_from(plan.timeout).ok(),
        refusals: plan
            .refusals
            .iter()
            .map(|refusal| v1::PlanRefusal {
                reason: refusal.reason.name.to_owned(),
                message: refusal.message.clone(),
                metadata: refusal
                    .metadata
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), value.clone()))
                    .collect(),
            })
            .collect(),
    }
}

pub fn runner(runner: &skillos_engine::dispatch::RunnerInfo) -> v1::Runner {
    let state = if runner.draining {
        v1::RunnerState::Draining
    } else {
        v1::RunnerState::Ready
    };
    v1::Runner {
        id: runner.id.clone(),
        name: runner.name.clone(),
        version: runner.version.clone(),
        skills: runner
            .skills
            .iter()
            .map(|skill_id| v1::RunnerSkill {
                skill_id: skill_id.clone(),
                version: String::new(),
            })
            .collect(),
        max_concurrency: i32::try_from(runner.max_concurrency).unwrap_or(i32::MAX),
        in_flight: i32::try_from(runner.in_flight).unwrap_or(i32::MAX),
        connect_time: Some(prost_types::Timestamp::from(runner.connected_at)),
        state: state as i32,
        embedding: runner.embedding.as_ref().map(|offer| v1::RunnerEmbedding {
            model: offer.model.clone(),
            dimension: i32::try_from(offer.dimension).unwrap_or(i32::MAX),
        }),
        ..Default::default()
    }
}

/// A routing request's mode; UNSPECIFIED (or an unknown value) means the server's default.
pub fn routing_mode(mode: i32) -> Option<skillos_routing::Mode> {
    use skillos_routing::Mode;
    match v1::RoutingMode::try_from(mode).unwrap_or_default() {
        v1::RoutingMode::Keyword => Some(Mode::Keyword),
        v1::RoutingMode::Vector => Some(Mode::Vector),
        v1::RoutingMode::Hybrid => Some(Mode::Hybrid),
        v1::RoutingMode::Unspecified => None,
    }
}

/// A run's `split`; `None` for a value this server does not know.
pub fn split(split: i32) -> Option<Split> {
    Some(match v1::QuerySplit::try_from(split).ok()? {
        v1::QuerySplit::Unspecified | v1::QuerySplit::None => Split::None,
        v1::QuerySplit::Pipeline => Split::Pipeline,
        v1::QuerySplit::Parallel => Split::Parallel,
        v1::QuerySplit::Auto => Split::Auto,
    })
}

pub fn split_proto(split: Split) -> v1::QuerySplit {
    match split {
        Split::None => v1::QuerySplit::None,
        Split::Pipeline => v1::QuerySplit::Pipeline,
        Split::Parallel => v1::QuerySplit::Parallel,
        Split::Auto => v1::QuerySplit::Auto,
    }
}

fn routing_mode_proto(mode: skillos_routing::Mode) -> v1::RoutingMode {
    use skillos_routing::Mode;
    match mode {
        Mode::Keyword => v1::RoutingMode::Keyword,
        Mode::Vector => v1::RoutingMode::Vector,
        Mode::Hybrid => v1::RoutingMode::Hybrid,
    }
}

pub fn route_filter(filter: Option<v1::RouteFilter>) -> skillos_routing::Filter {
    let filter = filter.unwrap_or_default();
    skillos_routing::Filter {
        tags: filter.tags,
        domain: filter.domain,
        include_deprecated: filter.include_deprecated,
        ..Default::default()
    }
}

/// A routing outcome as the API shows it.
pub fn routing_decision(routed: &skillos_engine::routing::Routed) -> v1::RoutingDecision {
    use skillos_engine::routing::Fallback;
    use skillos_routing::Status;
    let decision = &routed.decision;
    let fallback_reason = match &routed.fallback {
        None => v1::RoutingFallbackReason::Unspecified,
        Some(Fallback::NoEmbedder) => v1::RoutingFallbackReason::NoEmbedder,
        Some(Fallback::EmbedderTimeout) => v1::RoutingFallbackReason::EmbedderTimeout,
        Some(Fallback::EmbedderError(_)) => v1::RoutingFallbackReason::EmbedderError,
        Some(Fallback::IndexNotReady) => v1::RoutingFallbackReason::IndexNotReady,
    };
    let mut explanation = decision.explanation.clone();
    if let Some(fallback) = &routed.fallback {
        explanation.push_str(&format!(
            "; {} ranking was asked for but keyword ranking was used ({})",
            routed.requested_mode.as_str(),
            match fallback {
                Fallback::EmbedderError(message) => format!("embedder error: {message}"),
                other => other.as_str().replace('_', " "),
            }
        ));
    }
    if routed.keyword_decisive {
        explanation.push_str(&format!(
            "; {} ranking was asked for, keyword ranking was decisive",
            routed.requested_mode.as_str()
        ));
    }
    v1::RoutingDecision {
        status: match decision.status {
            Status::Selected => v1::RoutingStatus::Selected,
            Status::LowConfidence => v1::RoutingStatus::LowConfidence,
            Status::NoSkill => v1::RoutingStatus::NoSkill,
        } as i32,
        skill_id: decision.skill_id.clone().unwrap_or_default(),
        confidence: decision.confidence,
        candidates: decision
            .candidates
            .iter()
            .map(|c| v1::RouteCandidate {
                skill_id: c.skill_id.clone(),
                name: c.name.clone(),
                rank: c.rank as i32,
                score: c.score,
                confidence: c.confidence,
                keyword_score: c.keyword_score,
                vector_score: c.vector_score,
                feedback_factor: c.feedback_factor,
                matched_terms: c.matched_terms.clone(),
                deprecated: c.deprecated,
            })
            .collect(),
        mode: routing_mode_proto(decision.mode) as i32,
        requested_mode: routing_mode_proto(routed.requested_mode) as i32,
        fallback: routed.fallback.is_some(),
        fallback_reason: fallback_reason as i32,
        explanation,
        embedding_model: routed.embedding_model.clone().unwrap_or_default(),
        keyword_decisive: routed.keyword_decisive,
    }
}

pub fn feedback(feedback: &skillos_store::RoutingFeedback) -> v1::Feedback {
    v1::Feedback {
        id: feedback.id.clone(),
        query: feedback.query.clone(),
        routed_skill_id: feedback.routed_skill_id.clone().unwrap_or_default(),
        expected_skill_id: feedback.expected_skill_id.clone().unwrap_or_default(),
        source: feedback.source.clone(),
        comment: feedback.comment.clone(),
        execution_id: feedback.execution_id.clone().unwrap_or_default(),
        principal_subject: feedback.principal.clone(),
        create_time: Some(timestamp(feedback.created_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_come_back_as_integers() {
        let value = |n: f64| prost_types::Value {
            kind: Some(ValueKind::NumberValue(n)),
        };
        assert_eq!(value_json(&value(100.0)), serde_json::json!(100));
        assert_eq!(value_json(&value(-3.0)), serde_json::json!(-3));
        assert_eq!(value_json(&value(92.5)), serde_json::json!(92.5));
        assert_eq!(value_json(&value(1e300)), serde_json::json!(1e300));
        assert_eq!(value_json(&value(f64::NAN)), serde_json::Value::Null);
    }

    #[test]
    fn json_converts_to_protobuf_struct() {
        let json = serde_json::json!({"a": [1, "x", null, true], "b": {"c": 2.5}});
        let converted = object(json.as_object().unwrap());
        let Some(ValueKind::ListValue(list)) = &converted.fields["a"].kind else {
            panic!()
        };
        assert_eq!(list.values.len(), 4);
        assert_eq!(list.values[0].kind, Some(ValueKind::NumberValue(1.0)));
        assert_eq!(list.values[2].kind, Some(ValueKind::NullValue(0)));
        let Some(ValueKind::StructValue(inner)) = &converted.fields["b"].kind else {
            panic!()
        };
        assert_eq!(inner.fields["c"].kind, Some(ValueKind::NumberValue(2.5)));
    }
}
#[cfg(test)]
mod time_tests {
    #[test]
    fn times_no_store_holds_are_refused() {
        let at = |seconds| super::time(&prost_types::Timestamp { seconds, nanos: 0 });
        assert!(at(0).is_some());
        assert!(at(-100_000_000_000).is_none());
        assert!(at(i64::MAX).is_none());
    }
}
