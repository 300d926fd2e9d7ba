//! Skill manifests: the YAML files under `<root>/metadata/`, parsed and validated.
//!
//! The format is the predecessor's (`id`, `name`, `description`, `version`, `entrypoint`, `tags`,
//! deprecation fields) with optional fields for the execution path (schemas, cost, risk tier,
//! permissions, timeout, retryability). Every field is checked by hand so that each problem is
//! reported with the field it concerns, and all problems of a file are reported at once.

use std::time::Duration;

use serde_json::Value as Json;
use serde_norway::{Mapping, Value as Yaml};

use crate::skill_id::SkillId;

/// Longest `timeout_seconds` a manifest may declare (one day).
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// Most routing examples a manifest may give, and their longest length.
const MAX_EXAMPLES: usize = 50;
const MAX_EXAMPLE_CHARS: usize = 500;

/// Keys a manifest may carry; anything else is reported as a warning.
const KNOWN_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "version",
    "entrypoint",
    "tags",
    "examples",
    "execution_mode",
    "eval",
    "deprecated",
    "deprecation_reason",
    "replacement_id",
    "input_schema",
    "output_schema",
    "cost_estimate",
    "model_tiers",
    "risk_tier",
    "required_permissions",
    "timeout_seconds",
    "retryable",
];

/// A validated skill manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub id: SkillId,
    pub name: String,
    pub description: String,
    pub version: semver::Version,
    pub entrypoint: Entrypoint,
    /// Trimmed, lowercased, without duplicates, in file order.
    pub tags: Vec<String>,
    /// Example requests a user would make of the skill, any language; routing compares
    /// requests with them. Trimmed, without duplicates, in file order.
    pub examples: Vec<String>,
    pub input_schema: Option<serde_json::Map<String, Json>>,
    pub output_schema: Option<serde_json::Map<String, Json>>,
    /// `None` when the manifest declares none (not the same as a skill that costs nothing).
    pub cost_estimate: Option<f64>,
    /// Model tiers the skill can run with, preferred first, each with its own cost estimate;
    /// when a budget runs low the cheapest is passed to the runner.
    pub model_tiers: Vec<ModelTier>,
    pub risk_tier: Option<RiskTier>,
    pub required_permissions: Vec<String>,
    pub timeout: Option<Duration>,
    pub retryable: bool,
    pub deprecation: Deprecation,
    /// The predecessor's eval-as-code block, kept verbatim for tools that run evals.
    pub eval: Option<Json>,
}

/// A model tier a skill can run with.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelTier {
    pub name: String,
    /// Budget units one run with this tier is expected to cost.
    pub cost_estimate: f64,
}

/// `module.path:function`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entrypoint {
    pub module: String,
    pub function: String,
}

impl std::fmt::Display for Entrypoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.module, self.function)
    }
}

/// Deprecation state of a skill.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deprecation {
    pub deprecated: bool,
    pub reason: Option<String>,
    pub replacement_id: Option<SkillId>,
}

/// How much harm a wrong run of a skill can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskTier {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskTier {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// One problem with a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not YAML, or not a mapping.
    Syntax,
    /// A field is missing or invalid: the skill cannot be served.
    Field,
    /// Worth a look, but the skill is served (an unknown key, say).
    Warning,
}

/// The outcome of parsing one manifest file.
#[derive(Debug)]
pub struct Parsed {
    /// The manifest, when no problem of kind `Syntax` or `Field` was found.
    pub manifest: Option<Manifest>,
    /// The declared id, when it could be read, even if the manifest is invalid.
    pub declared_id: Option<String>,
    pub problems: Vec<Problem>,
}

/// Parses and validates the text of one manifest file.
pub fn parse(text: &str) -> Parsed {
    let document: Yaml = match serde_norway::from_str(text) {
        Ok(document) => document,
        Err(error) => {
            return Parsed {
                manifest: None,
                declared_id: None,
                problems: vec![Problem {
                    kind: ProblemKind::Syntax,
                    message: format!("not valid YAML: {error}"),
                }],
            };
        }
    };
    let Yaml::Mapping(mapping) = document else {
        return Parsed {
            manifest: None,
            declared_id: None,
            problems: vec![Problem {
                kind: ProblemKind::Syntax,
                message: "a skill manifest must be a YAML mapping".to_owned(),
            }],
        };
    };
    Fields::new(mapping).into_parsed()
}

/// Reads fields out of the YAML mapping, collecting every problem on the way.
struct Fields {
    mapping: Mapping,
    problems: Vec<Problem>,
}

impl Fields {
    fn new(mapping: Mapping) -> Self {
        Self {
            mapping,
            problems: Vec::new(),
        }
    }

    fn into_parsed(mut self) -> Parsed {
        self.warn_unknown_keys();
        let declared_id = self.optional_string("id");
        let id = self.id("id", declared_id.as_deref());
        let name = self.required_string("name");
        let description = self.required_string("description");
        let version = self.version();
        let entrypoint = self.entrypoint();
        let tags = self
            .string_list("tags")
            .map(normalize_tags)
            .unwrap_or_default();
        let examples = self.examples();
        self.execution_mode();
        let input_schema = self.schema("input_schema");
        let output_schema = self.schema("output_schema");
        let cost_estimate = self.cost_estimate();
        let model_tiers = self.model_tiers();
        let risk_tier = self.risk_tier();
        let required_permissions = self.string_list("required_permissions").unwrap_or_default();
        let timeout = self.timeout();
        let retryable = self.bool("retryable").unwrap_or(false);
        let deprecation = self.deprecation();
        let eval = self
            .get("eval")
            .filter(|value| !value.is_null())
            .map(yaml_to_json);

        let fatal = self
            .problems
            .iter()
            .any(|problem| problem.kind != ProblemKind::Warning);
        let manifest = match (fatal, id, name, description, version, entrypoint) {
            (false, Some(id), Some(name), Some(description), Some(version), Some(entrypoint)) => {
                Some(Manifest {
                    id,
                    name,
                    description,
                    version,
                    entrypoint,
                    tags,
                    examples,
                    input_schema,
                    output_schema,
                    cost_estimate,
                    model_tiers,
                    risk_tier,
                    required_permissions,
                    timeout,
                    retryable,
                    deprecation,
                    eval,
                })
            }
            _ => None,
        };
        Parsed {
            manifest,
            declared_id,
            problems: self.problems,
        }
    }

    fn get(&self, key: &str) -> Option<&Yaml> {
        self.mapping.get(key)
    }

    fn problem(&mut self, key: &str, message: impl std::fmt::Display) {
        self.problems.push(Problem {
            kind: ProblemKind::Field,
            message: format!("{key}: {message}"),
        });
    }

    fn warn_unknown_keys(&mut self) {
        let unknown: Vec<String> = self
            .mapping
            .keys()
            .filter_map(|key| match key {
                Yaml::String(key) if KNOWN_KEYS.contains(&key.as_str()) => None,
                Yaml::String(key) => Some(key.clone()),
                other => Some(format!("{other:?}")),
            })
            .collect();
        for key in unknown {
            self.problems.push(Problem {
                kind: ProblemKind::Warning,
                message: format!("{key}: unknown field, ignored"),
            });
        }
    }

    fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(Yaml::String(value)) => Some(value.clone()),
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem(key, format_args!("must be a string, found {kind}"));
                None
            }
        }
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        let present = !matches!(self.get(key), None | Some(Yaml::Null));
        let value = self.optional_string(key);
        if !present {
            self.problem(key, "is required");
        }
        value
    }

    fn id(&mut self, key: &str, declared: Option<&str>) -> Option<SkillId> {
        let Some(declared) = declared else {
            if matches!(self.get(key), None | Some(Yaml::Null)) {
                self.problem(key, "is required");
            }
            return None;
        };
        if declared.contains('.') && !declared.contains('/') {
            self.problem(key, "must use the `domain/name` form in manifests");
            return None;
        }
        match SkillId::parse(declared) {
            Ok(id) => Some(id),
            Err(error) => {
                self.problem(key, error);
                None
            }
        }
    }

    fn version(&mut self) -> Option<semver::Version> {
        let raw = self.required_string("version")?;
        match semver::Version::parse(&raw) {
            Ok(version) => Some(version),
            Err(error) => {
                self.problem(
                    "version",
                    format_args!("{raw:?} is not SemVer 2.0 ({error})"),
                );
                None
            }
        }
    }

    fn entrypoint(&mut self) -> Option<Entrypoint> {
        let raw = self.required_string("entrypoint")?;
        let Some((module, function)) = raw.split_once(':') else {
            self.problem(
                "entrypoint",
                format_args!("{raw:?} must be `module.path:function`"),
            );
            return None;
        };
        // Modules are imported by path (importlib), so a segment may be any file name made of
        // letters, digits, `_` and `-`, as skill ids are; the function must be an identifier.
        let module_ok = !module.is_empty() && module.split('.').all(is_module_segment);
        if !module_ok || !is_python_identifier(function) {
            self.problem(
                "entrypoint",
                format_args!(
                    "{raw:?} must be `module.path:function`: module segments of letters, digits, \
                     `_` and `-`, and a Python identifier as the function"
                ),
            );
            return None;
        }
        Some(Entrypoint {
            module: module.to_owned(),
            function: function.to_owned(),
        })
    }

    fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Sequence(items)) => {
                let mut strings = Vec::with_capacity(items.len());
                let mut bad_item = None;
                for (index, item) in items.iter().enumerate() {
                    match item {
                        Yaml::String(value) if !value.trim().is_empty() => {
                            strings.push(value.trim().to_owned())
                        }
                        _ => bad_item = Some(index),
                    }
                }
                if let Some(index) = bad_item {
                    self.problem(&format!("{key}[{index}]"), "must be a non-empty string");
                    return None;
                }
                Some(strings)
            }
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem(key, format_args!("must be a list of strings, found {kind}"));
                None
            }
        }
    }

    /// At most [`MAX_EXAMPLES`] examples of at most [`MAX_EXAMPLE_CHARS`] characters each.
    fn examples(&mut self) -> Vec<String> {
        let Some(examples) = self.string_list("examples") else {
            return Vec::new();
        };
        if examples.len() > MAX_EXAMPLES {
            self.problem("examples", format_args!("at most {MAX_EXAMPLES} examples"));
            return Vec::new();
        }
        if let Some(index) = examples
            .iter()
            .position(|e| e.chars().count() > MAX_EXAMPLE_CHARS)
        {
            self.problem(
                &format!("examples[{index}]"),
                format_args!("longer than {MAX_EXAMPLE_CHARS} characters"),
            );
            return Vec::new();
        }
        let mut unique: Vec<String> = Vec::with_capacity(examples.len());
        for example in examples {
            if !unique.contains(&example) {
                unique.push(example);
            }
        }
        unique
    }

    fn bool(&mut self, key: &str) -> Option<bool> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Bool(value)) => Some(*value),
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem(key, format_args!("must be true or false, found {kind}"));
                None
            }
        }
    }

    fn number(&mut self, key: &str) -> Option<f64> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Number(value)) => value.as_f64(),
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem(key, format_args!("must be a number, found {kind}"));
                None
            }
        }
    }

    fn execution_mode(&mut self) {
        if let Some(mode) = self.optional_string("execution_mode")
            && mode != "local"
        {
            self.problem(
                "execution_mode",
                format_args!("{mode:?} is not supported; skills run in runner processes (use `local` or omit it)"),
            );
        }
    }

    fn schema(&mut self, key: &str) -> Option<serde_json::Map<String, Json>> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(value @ Yaml::Mapping(_)) => match yaml_to_json(value) {
                Json::Object(object) => Some(object),
                _ => None,
            },
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem(
                    key,
                    format_args!("must be a JSON Schema object, found {kind}"),
                );
                None
            }
        }
    }

    fn cost_estimate(&mut self) -> Option<f64> {
        let cost = self.number("cost_estimate")?;
        if cost.is_finite() && cost >= 0.0 {
            return Some(cost);
        }
        self.problem(
            "cost_estimate",
            format_args!("must be a finite number >= 0, found {cost}"),
        );
        None
    }

    fn model_tiers(&mut self) -> Vec<ModelTier> {
        let items = match self.get("model_tiers") {
            None | Some(Yaml::Null) => return Vec::new(),
            Some(Yaml::Sequence(items)) => items.clone(),
            Some(other) => {
                let kind = yaml_kind(other);
                self.problem("model_tiers", format_args!("must be a list, found {kind}"));
                return Vec::new();
            }
        };
        let mut tiers: Vec<ModelTier> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let name = item.get("name").and_then(Yaml::as_str).map(str::trim);
            let cost = item.get("cost_estimate").and_then(Yaml::as_f64);
            match (name, cost) {
                (Some(name), Some(cost))
                    if !name.is_empty()
                        && name.len() <= 64
                        && cost.is_finite()
                        && cost >= 0.0
                        && tiers.iter().all(|tier| tier.name != name) =>
                {
                    tiers.push(ModelTier {
                        name: name.to_owned(),
                        cost_estimate: cost,
                    });
                }
                _ => {
                    self.problem(
                        &format!("model_tiers[{index}]"),
                        format_args!(
                            "needs a unique name (1-64 characters) and a cost_estimate >= 0"
                        ),
                    );
                    return Vec::new();
                }
            }
        }
        tiers
    }

    fn risk_tier(&mut self) -> Option<RiskTier> {
        let raw = self.optional_string("risk_tier")?;
        let tier = RiskTier::parse(raw.trim().to_ascii_lowercase().as_str());
        if tier.is_none() {
            self.problem(
                "risk_tier",
                format_args!("{raw:?} must be one of low, medium, high, critical"),
            );
        }
        tier
    }

    fn timeout(&mut self) -> Option<Duration> {
        let seconds = self.number("timeout_seconds")?;
        if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS) {
            self.problem(
                "timeout_seconds",
                format_args!("must be > 0 and <= 86400, found {seconds}"),
            );
            return None;
        }
        Some(Duration::from_secs_f64(seconds))
    }

    fn deprecation(&mut self) -> Deprecation {
        let deprecated = self.bool("deprecated").unwrap_or(false);
        let reason = self
            .optional_string("deprecation_reason")
            .map(|r| r.trim().to_owned());
        let reason = reason.filter(|r| !r.is_empty());
        let replacement = self
            .optional_string("replacement_id")
            .map(|r| r.trim().to_owned());
        let replacement_id = match replacement.as_deref() {
            None => None,
            Some("") => {
                self.problem("replacement_id", "must not be empty");
                None
            }
            Some(raw) => match SkillId::parse(raw) {
                Ok(id) => Some(id),
                Err(error) => {
                    self.problem("replacement_id", error);
                    None
                }
            },
        };
        if deprecated && reason.is_none() && replacement.is_none() {
            self.problem(
                "deprecated",
                "a deprecated skill needs deprecation_reason or replacement_id",
            );
        }
        Deprecation {
            deprecated,
            reason,
            replacement_id,
        }
    }
}

fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut normalized: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.to_lowercase();
        if !normalized.contains(&tag) {
            normalized.push(tag);
        }
    }
    normalized
}

fn is_module_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c == '_' || c == '-' || c.is_alphanumeric())
}

fn is_python_identifier(segment: &str) -> bool {
    let mut chars = segment.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn yaml_kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// Converts YAML to JSON; mapping keys that are not strings are written as their YAML text.
pub(crate) fn yaml_to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(value) => Json::Bool(*value),
        Yaml::Number(number) => {
            if let Some(int) = number.as_i64() {
                Json::from(int)
            } else if let Some(uint) = number.as_u64() {
                Json::from(uint)
            } else {
                number
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            }
        }
        Yaml::String(value) => Json::String(value.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(mapping) => Json::Object(
            mapping
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(key) => key.clone(),
                        other => serde_norway::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
id: finance/convert_currency
name: Convert Currency
description: Convert between currencies
version: 0.1.0
entrypoint: implementations.finance.convert_currency:run
tags: [Finance, convert, finance]
input_schema:
  type: object
  required: [amount]
  properties:
    amount: {type: number}
cost_estimate: 0.5
risk_tier: low
required_permissions: ["finance:read"]
timeout_seconds: 5
retryable: true
"#;

    fn messages(parsed: &Parsed) -> Vec<&str> {
        parsed.problems.iter().map(|p| p.message.as_str()).collect()
    }

    #[test]
    fn parses_a_full_manifest() {
        let parsed = parse(VALID);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let manifest = parsed.manifest.unwrap();
        assert_eq!(manifest.id.to_string(), "finance/convert_currency");
        assert_eq!(manifest.tags, ["finance", "convert"]);
        assert_eq!(manifest.version, semver::Version::new(0, 1, 0));
        assert_eq!(
            manifest.entrypoint.to_string(),
            "implementations.finance.convert_currency:run"
        );
        assert_eq!(manifest.timeout, Some(Duration::from_secs(5)));
        assert_eq!(manifest.risk_tier, Some(RiskTier::Low));
        assert!(manifest.retryable);
        let schema = manifest.input_schema.unwrap();
        assert_eq!(schema["required"], serde_json::json!(["amount"]));
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let parsed = parse("id: nodomain\nversion: 1.0\ntags: finance\nentrypoint: nocolon\n");
        assert!(parsed.manifest.is_none());
        let messages = messages(&parsed);
        for expected in [
            "id: invalid skill id",
            "name: is required",
            "description: is required",
            "version: must be a string, found a number",
            "entrypoint: \"nocolon\" must be",
            "tags: must be a list of strings",
        ] {
            assert!(
                messages.iter().any(|m| m.starts_with(expected)),
                "missing {expected:?} in {messages:?}"
            );
        }
        assert_eq!(parsed.declared_id.as_deref(), Some("nodomain"));
    }

    #[test]
    fn rejects_non_semver_and_leading_zeros() {
        for version in ["'1.0'", "'01.0.0'", "'1.0.0.0'", "'v1.0.0'"] {
            let text = VALID.replace("version: 0.1.0", &format!("version: {version}"));
            let parsed = parse(&text);
            assert!(parsed.manifest.is_none(), "{version} accepted");
        }
        let text = VALID.replace("version: 0.1.0", "version: 1.0.0-rc.1+build.5");
        assert!(parse(&text).manifest.is_some());
    }

    #[test]
    fn deprecation_needs_a_reason_or_replacement() {
        let text = format!("{VALID}deprecated: true\n");
        let parsed = parse(&text);
        assert!(parsed.manifest.is_none());
        let text =
            format!("{VALID}deprecated: true\nreplacement_id: finance/convert_currency_v2\n");
        let manifest = parse(&text).manifest.unwrap();
        assert!(manifest.deprecation.deprecated);
        assert_eq!(
            manifest.deprecation.replacement_id.unwrap().to_string(),
            "finance/convert_currency_v2"
        );
    }

    #[test]
    fn model_tiers_keep_their_order_and_are_checked() {
        let text = format!(
            "{VALID}model_tiers:\n- {{name: standard, cost_estimate: 5}}\n- {{name: economy, cost_estimate: 0.5}}\n"
        );
        let tiers = parse(&text).manifest.unwrap().model_tiers;
        assert_eq!(
            tiers
                .iter()
                .map(|t| (t.name.as_str(), t.cost_estimate))
                .collect::<Vec<_>>(),
            [("standard", 5.0), ("economy", 0.5)]
        );
        for bad in [
            "model_tiers: cheap\n",
            "model_tiers:\n- {name: a, cost_estimate: -1}\n",
            "model_tiers:\n- {name: a, cost_estimate: 1}\n- {name: a, cost_estimate: 2}\n",
            "model_tiers:\n- {cost_estimate: 1}\n",
        ] {
            assert!(parse(&format!("{VALID}{bad}")).manifest.is_none(), "{bad}");
        }
    }

    #[test]
    fn examples_are_trimmed_deduplicated_and_bounded() {
        let text = format!(
            "{VALID}examples:\n- ' convert 5 USD '\n- Переведи 100 долларов\n- convert 5 USD\n"
        );
        let manifest = parse(&text).manifest.unwrap();
        assert_eq!(
            manifest.examples,
            ["convert 5 USD", "Переведи 100 долларов"]
        );
        assert!(parse(VALID).manifest.unwrap().examples.is_empty());
        let too_many: String = (0..51).map(|i| format!("- example {i}\n")).collect();
        assert!(
            parse(&format!("{VALID}examples:\n{too_many}"))
                .manifest
                .is_none()
        );
        let too_long = format!("{VALID}examples:\n- {}\n", "x".repeat(501));
        assert!(parse(&too_long).manifest.is_none());
        assert!(parse(&format!("{VALID}examples: one\n")).manifest.is_none());
    }

    #[test]
    fn unknown_keys_are_warnings_not_errors() {
        let parsed = parse(&format!("{VALID}owner: team-a\n"));
        assert!(parsed.manifest.is_some());
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].kind, ProblemKind::Warning);
        assert_eq!(parsed.problems[0].message, "owner: unknown field, ignored");
    }

    #[test]
    fn syntax_errors_and_non_mappings() {
        assert_eq!(parse("id: [unclosed").problems[0].kind, ProblemKind::Syntax);
        assert_eq!(parse("- a\n- b\n").problems[0].kind, ProblemKind::Syntax);
    }

    #[test]
    fn rejects_unsupported_execution_modes_and_bad_optional_fields() {
        let text = format!("{VALID}execution_mode: docker\n")
            .replace("risk_tier: low", "risk_tier: extreme")
            .replace("timeout_seconds: 5", "timeout_seconds: -1")
            .replace("cost_estimate: 0.5", "cost_estimate: -2");
        let parsed = parse(&text);
        assert!(parsed.manifest.is_none());
        let messages = messages(&parsed);
        for field in [
            "execution_mode:",
            "risk_tier:",
            "timeout_seconds:",
            "cost_estimate:",
        ] {
            assert!(
                messages.iter().any(|m| m.starts_with(field)),
                "missing {field} in {messages:?}"
            );
        }
    }
}

/// Mutation tests: thousands of damaged manifests never panic the parser, and a manifest is
/// produced exactly when no problem is fatal. (A coverage-guided fuzz target of the same
/// property lives in `fuzz/`.)
#[cfg(test)]
mod mutation_tests {
    use super::*;

    const SEED: &str = "id: finance/convert_currency\nname: Convert Currency\n\
        description: Convert between currencies\nversion: 0.1.0\n\
        entrypoint: implementations.finance.convert_currency:run\ntags: [finance, convert]\n\
        input_schema:\n  type: object\n  required: [amount]\ncost_estimate: 0.5\nrisk_tier: low\n\
        timeout_seconds: 5\nretryable: true\ndeprecated: false\nreplacement_id: finance/other\n";

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const PIECES: &[&str] = &[
        ":", " ", "\n", "[", "]", "{", "}", "-", "'", "\"", "!!", "&a", "*a", "1.0", "~", "null",
        "true", "é", "ф", "/", ".", "\t", "#", "|", ">", "0x1F", "-1", "1e999", ".nan", "?",
    ];

    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..=rng.below(4) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    for (offset, c) in piece.chars().enumerate() {
                        chars.insert(at + offset, c);
                    }
                }
                _ => {
                    let end = (at + rng.below(12)).min(chars.len());
                    chars.drain(at..end);
                }
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn damaged_manifests_never_panic_and_are_judged_consistently() {
        let seed = parse(SEED);
        assert!(
            seed.manifest.is_some() && seed.problems.is_empty(),
            "{:?}",
            seed.problems
        );
        let mut rng = Rng(0x5eed_5eed_5eed_5eed);
        for _ in 0..5_000 {
            let text = mutate(&mut rng, SEED);
            let parsed = parse(&text);
            let fatal = parsed
                .problems
                .iter()
                .any(|p| p.kind != ProblemKind::Warning);
            assert_eq!(
                parsed.manifest.is_some(),
                !fatal,
                "input:\n{text}\nproblems: {:?}",
                parsed.problems
            );
            if let Some(manifest) = parsed.manifest {
                assert_eq!(
                    SkillId::parse(&manifest.id.to_string()).unwrap(),
                    manifest.id
                );
            }
        }
    }
}
