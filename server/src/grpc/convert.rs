//! Domain values into their protobuf messages.

use prost_types::value::Kind as ValueKind;
use serde_json::Value as Json;
use skillos_core::manifest::RiskTier;
use skillos_core::registry::{Category, Issue, Severity};
use skillos_proto::v1;

use crate::skills::SkillView;

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

#[cfg(test)]
mod tests {
    use super::*;

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
