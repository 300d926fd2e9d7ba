//! Flows written in YAML: `flows/<domain>/<name>.yaml`.
//!
//! ```yaml
//! id: demo/quote_and_ship
//! version: 1.0.0
//! description: Quotes an order, checks it two ways, and polls until it ships.
//! input_schema: {type: object, required: [client]}
//! steps:
//!   - name: quote
//!     skill: oysters/generate_quote
//!     input: {client: "${{ input.client }}", boxes: "${{ input.boxes }}"}
//!   - name: checks
//!     parallel:
//!       - {name: margin, skill: oysters/calculate_margin}
//!       - {name: route, skill: oysters/calculate_logistics}
//!   - name: poll
//!     when: "${{ steps.quote.output.total > 1000 }}"
//!     loop:
//!       max_iterations: 5
//!       until: "${{ steps.check.output.done }}"
//!       steps:
//!         - {name: check, skill: demo/check, input: {n: "${{ iteration }}"}}
//! output: "${{ steps.quote.output }}"
//! ```
//!
//! Step names are unique in the whole flow (expressions read `steps.<name>`). A step has one
//! of `skill`, `parallel` or `loop`, and may have `input`, `when`, `retry` (`attempts`,
//! `backoff`) and `timeout` (`500ms`, `30s`, `5m`, `24h`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::expr::{ExprError, Template};
use super::{FlowDefinition, Gate, Loop, MAX_GROUP, MAX_STEPS, Retry, Step, StepKind, Wait};
use crate::skill_id::SkillId;

/// Most iterations a loop may declare.
pub const MAX_ITERATIONS: u32 = 1000;
/// Most attempts a step may declare.
pub const MAX_ATTEMPTS: u32 = 10;
/// Deepest nesting of groups and loops.
pub const MAX_NESTING: usize = 8;
/// Longest step timeout or retry backoff.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Longest an approval or a wait may wait.
const MAX_WAIT: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest signal name.
const MAX_SIGNAL_NAME: usize = 64;

const TOP_KEYS: [&str; 9] = [
    "id",
    "version",
    "name",
    "description",
    "tags",
    "examples",
    "input_schema",
    "max_cost",
    "steps",
];
const STEP_KEYS: [&str; 11] = [
    "name", "skill", "flow", "parallel", "loop", "approval", "wait", "input", "when", "retry",
    "timeout",
];
const KINDS: [&str; 6] = ["skill", "flow", "parallel", "loop", "approval", "wait"];

/// A flow of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: SkillId,
    pub version: semver::Version,
    /// Display name; the id's name when the file has none.
    pub name: String,
    /// Routing reads it like a skill's.
    pub description: String,
    pub tags: Vec<String>,
    pub examples: Vec<String>,
    pub input_schema: Option<Map<String, Json>>,
    pub definition: FlowDefinition,
    /// The file as JSON: what a run keeps, so that it goes on with the definition it started
    /// with when the file changes.
    pub document: Json,
    /// The file's path relative to the skills root (set by the registry).
    pub source_path: String,
}

/// Why a flow file does not make a flow: where (`steps[1].parallel[0].input.client`) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct FlowError {
    pub path: String,
    pub message: String,
}

impl FlowError {
    fn at(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    fn expr(path: &str, error: ExprError) -> Self {
        Self::at(path, error.to_string())
    }
}

impl Flow {
    /// Reads a flow file.
    pub fn parse_yaml(text: &str) -> Result<Self, FlowError> {
        let document: Json = serde_norway::from_str(text)
            .map_err(|error| FlowError::at("", format!("not YAML: {error}")))?;
        Self::from_document(document)
    }

    /// Reads a flow from its document (the file as JSON).
    pub fn from_document(document: Json) -> Result<Self, FlowError> {
        let Some(top) = document.as_object() else {
            return Err(FlowError::at("", "a flow file is a mapping"));
        };
        if let Some(key) = top
            .keys()
            .find(|key| !TOP_KEYS.contains(&key.as_str()) && *key != "output")
        {
            return Err(FlowError::at(
                key,
                format!("unknown field; a flow has {}, output", TOP_KEYS.join(", ")),
            ));
        }
        let id = match top.get("id") {
            Some(Json::String(id)) => {
                SkillId::parse(id).map_err(|error| FlowError::at("id", error.to_string()))?
            }
            _ => return Err(FlowError::at("id", "a flow id (domain/name) is required")),
        };
        let version = match top.get("version") {
            None => semver::Version::new(0, 1, 0),
            Some(Json::String(text)) => semver::Version::parse(text)
                .map_err(|error| FlowError::at("version", format!("not a version: {error}")))?,
            Some(Json::Number(number)) => semver::Version::parse(&format!("{number}.0"))
                .or_else(|_| semver::Version::parse(&format!("{number}.0.0")))
                .map_err(|error| FlowError::at("version", format!("not a version: {error}")))?,
            Some(_) => return Err(FlowError::at("version", "a version such as 1.0.0")),
        };
        let text = |key: &str| match top.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(_) => Err(FlowError::at(key, "must be a string")),
        };
        let name = text("name")?.unwrap_or_else(|| id.name().to_owned());
        let description = text("description")?.unwrap_or_default();
        let list = |key: &str| match top.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Json::String(text) => Ok(text.trim().to_owned()),
                    _ => Err(FlowError::at(key, "must be a list of strings")),
                })
                .collect(),
            Some(_) => Err(FlowError::at(key, "must be a list of strings")),
        };
        let mut tags: Vec<String> = Vec::new();
        for tag in list("tags")? {
            let tag = tag.to_lowercase();
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let mut examples: Vec<String> = Vec::new();
        for example in list("examples")? {
            if !example.is_empty() && !examples.contains(&example) {
                examples.push(example);
            }
        }
        let input_schema = match top.get("input_schema") {
            None | Some(Json::Null) => None,
            Some(Json::Object(schema)) => Some(schema.clone()),
            Some(_) => {
                return Err(FlowError::at(
                    "input_schema",
                    "must be a JSON schema object",
                ));
            }
        };
        let max_cost = match top.get("max_cost") {
            None | Some(Json::Null) => None,
            Some(Json::Number(number))
                if number
                    .as_f64()
                    .is_some_and(|cost| cost.is_finite() && cost > 0.0) =>
            {
                number.as_f64()
            }
            Some(_) => {
                return Err(FlowError::at(
                    "max_cost",
                    "a positive number: the most the run's skill steps may cost together",
                ));
            }
        };
        let mut reader = Reader::default();
        let steps = match top.get("steps") {
            Some(Json::Array(steps)) if !steps.is_empty() => {
                reader.sequence(steps, "steps", 0, false)?
            }
            _ => return Err(FlowError::at("steps", "a flow needs a list of steps")),
        };
        let output = match top.get("output") {
            None | Some(Json::Null) => None,
            Some(value) => Some(Template::parse(value).map_err(|error| {
                FlowError::at(&format!("output{}", error.path), error.error.to_string())
            })?),
        };
        let definition = FlowDefinition {
            steps,
            output,
            max_cost,
        };
        reader.check_references(&definition)?;
        Ok(Self {
            id,
            version,
            name,
            description,
            tags,
            examples,
            input_schema,
            definition,
            document,
            source_path: String::new(),
        })
    }
}

/// What reading the steps has seen so far.
#[derive(Default)]
struct Reader {
    names: BTreeSet<String>,
    count: usize,
}

impl Reader {
    fn sequence(
        &mut self,
        items: &[Json],
        path: &str,
        depth: usize,
        in_loop: bool,
    ) -> Result<Vec<Step>, FlowError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| self.step(item, &format!("{path}[{index}]"), depth, in_loop))
            .collect()
    }

    fn step(
        &mut self,
        item: &Json,
        path: &str,
        depth: usize,
        in_loop: bool,
    ) -> Result<Step, FlowError> {
        let Some(fields) = item.as_object() else {
            return Err(FlowError::at(path, "a step is a mapping with a name"));
        };
        if let Some(key) = fields.keys().find(|key| !STEP_KEYS.contains(&key.as_str())) {
            return Err(FlowError::at(
                &format!("{path}.{key}"),
                format!("unknown field; a step has {}", STEP_KEYS.join(", ")),
            ));
        }
        let name = match fields.get("name") {
            Some(Json::String(name)) if valid_name(name) => name.clone(),
            Some(Json::String(_)) | None => {
                return Err(FlowError::at(
                    &format!("{path}.name"),
                    "a step name of lowercase letters, digits and `_`, starting with a letter, \
                     at most 64 characters",
                ));
            }
            Some(_) => return Err(FlowError::at(&format!("{path}.name"), "must be a string")),
        };
        if !self.names.insert(name.clone()) {
            return Err(FlowError::at(
                &format!("{path}.name"),
                format!("duplicate step name `{name}`: names are unique in a flow"),
            ));
        }
        self.count += 1;
        if self.count > MAX_STEPS {
            return Err(FlowError::at(
                path,
                format!("a flow has at most {MAX_STEPS} steps"),
            ));
        }
        if depth >= MAX_NESTING {
            return Err(FlowError::at(
                path,
                format!("groups and loops nest at most {MAX_NESTING} deep"),
            ));
        }
        let kinds: Vec<&str> = KINDS
            .into_iter()
            .filter(|key| fields.contains_key(*key))
            .collect();
        let kind =
            match kinds.as_slice() {
                ["skill"] => match &fields["skill"] {
                    Json::String(id) => StepKind::Skill(SkillId::parse(id).map_err(|error| {
                        FlowError::at(&format!("{path}.skill"), error.to_string())
                    })?),
                    _ => return Err(FlowError::at(&format!("{path}.skill"), "a skill id")),
                },
                ["flow"] => match &fields["flow"] {
                    Json::String(id) => StepKind::Flow(SkillId::parse(id).map_err(|error| {
                        FlowError::at(&format!("{path}.flow"), error.to_string())
                    })?),
                    _ => return Err(FlowError::at(&format!("{path}.flow"), "a flow id")),
                },
                ["parallel"] => {
                    let at = format!("{path}.parallel");
                    match &fields["parallel"] {
                        Json::Array(members) if !members.is_empty() => {
                            if members.len() > MAX_GROUP {
                                return Err(FlowError::at(
                                    &at,
                                    format!("a group has at most {MAX_GROUP} members"),
                                ));
                            }
                            StepKind::Parallel(self.sequence(members, &at, depth + 1, in_loop)?)
                        }
                        _ => return Err(FlowError::at(&at, "a non-empty list of steps")),
                    }
                }
                ["loop"] => {
                    StepKind::Loop(self.body(&fields["loop"], &format!("{path}.loop"), depth)?)
                }
                ["approval"] => {
                    StepKind::Approval(gate(&fields["approval"], &format!("{path}.approval"))?)
                }
                ["wait"] => StepKind::Wait(wait(&fields["wait"], &format!("{path}.wait"))?),
                [] => {
                    return Err(FlowError::at(
                        path,
                        "a step runs a `skill`, a `flow`, a `parallel` group or a `loop`, or \
                         waits for an `approval` or a signal (`wait`)",
                    ));
                }
                _ => {
                    return Err(FlowError::at(
                        path,
                        format!(
                            "a step has one of {}, not {}",
                            KINDS.join(", "),
                            kinds.join(" and ")
                        ),
                    ));
                }
            };
        if matches!(kind, StepKind::Flow(_))
            && let Some(key) = ["retry", "timeout"]
                .into_iter()
                .find(|key| fields.contains_key(*key))
        {
            return Err(FlowError::at(
                &format!("{path}.{key}"),
                format!("a flow step has no {key}; the sub-flow's own steps have theirs"),
            ));
        }
        if matches!(kind, StepKind::Approval(_) | StepKind::Wait(_)) {
            let gate = kinds[0];
            if let Some(key) = ["retry", "timeout"]
                .into_iter()
                .find(|key| fields.contains_key(*key))
            {
                return Err(FlowError::at(
                    &format!("{path}.{key}"),
                    format!("an {gate} step has no {key}; its own timeout is `{gate}.timeout`"),
                ));
            }
        }
        let input = match fields.get("input") {
            None => None,
            Some(value) => Some(Template::parse(value).map_err(|error| {
                FlowError::at(
                    &format!("{path}.input{}", error.path),
                    error.error.to_string(),
                )
            })?),
        };
        let when = match fields.get("when") {
            None => None,
            Some(Json::String(text)) => Some(
                Template::condition(text)
                    .map_err(|error| FlowError::expr(&format!("{path}.when"), error))?,
            ),
            Some(_) => {
                return Err(FlowError::at(
                    &format!("{path}.when"),
                    "a condition, `${{ ... }}`",
                ));
            }
        };
        let retry = match fields.get("retry") {
            None => Retry::default(),
            Some(value) => retry(value, &format!("{path}.retry"))?,
        };
        let timeout = match fields.get("timeout") {
            None => None,
            Some(value) => Some(duration(value, &format!("{path}.timeout"))?),
        };
        let step = Step {
            name,
            kind,
            input,
            when,
            retry,
            timeout,
        };
        if !in_loop {
            let outside = step
                .own_exprs()
                .into_iter()
                .any(|expr| expr.reads_iteration());
            if outside {
                return Err(FlowError::at(path, "`iteration` is read outside a loop"));
            }
        }
        Ok(step)
    }

    fn body(&mut self, value: &Json, path: &str, depth: usize) -> Result<Loop, FlowError> {
        let Some(fields) = value.as_object() else {
            return Err(FlowError::at(
                path,
                "a loop has max_iterations, until and steps",
            ));
        };
        if let Some(key) = fields
            .keys()
            .find(|key| !["max_iterations", "until", "steps"].contains(&key.as_str()))
        {
            return Err(FlowError::at(
                &format!("{path}.{key}"),
                "unknown field; a loop has max_iterations, until, steps",
            ));
        }
        let max_iterations = match fields.get("max_iterations") {
            Some(Json::Number(number)) => number
                .as_u64()
                .filter(|n| (1..=u64::from(MAX_ITERATIONS)).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    FlowError::at(
                        &format!("{path}.max_iterations"),
                        format!("between 1 and {MAX_ITERATIONS}"),
                    )
                })?,
            _ => {
                return Err(FlowError::at(
                    &format!("{path}.max_iterations"),
                    format!("a loop must say how often it may run at most (1 to {MAX_ITERATIONS})"),
                ));
            }
        };
        let until = match fields.get("until") {
            None => None,
            Some(Json::String(text)) => Some(
                Template::condition(text)
                    .map_err(|error| FlowError::expr(&format!("{path}.until"), error))?,
            ),
            Some(_) => {
                return Err(FlowError::at(
                    &format!("{path}.until"),
                    "a condition, `${{ ... }}`",
                ));
            }
        };
        let steps = match fields.get("steps") {
            Some(Json::Array(steps)) if !steps.is_empty() => {
                self.sequence(steps, &format!("{path}.steps"), depth + 1, true)?
            }
            _ => {
                return Err(FlowError::at(
                    &format!("{path}.steps"),
                    "a non-empty list of steps",
                ));
            }
        };
        Ok(Loop {
            max_iterations,
            until,
            steps,
        })
    }

    /// Every `steps.<name>` an expression reads is a step of the flow.
    fn check_references(&self, definition: &FlowDefinition) -> Result<(), FlowError> {
        let mut exprs: Vec<(String, &super::Expr)> = Vec::new();
        collect(&definition.steps, "steps", &mut exprs);
        if let Some(output) = &definition.output {
            exprs.extend(
                output
                    .exprs()
                    .into_iter()
                    .map(|expr| ("output".to_owned(), expr)),
            );
        }
        for (path, expr) in exprs {
            if let Some(name) = expr
                .step_names()
                .into_iter()
                .find(|name| !self.names.contains(name))
            {
                return Err(FlowError::at(
                    &path,
                    format!("`steps.{name}` names no step of this flow"),
                ));
            }
        }
        Ok(())
    }
}

/// Each expression of the steps, with the path of its step.
fn collect<'a>(steps: &'a [Step], path: &str, out: &mut Vec<(String, &'a super::Expr)>) {
    for (index, step) in steps.iter().enumerate() {
        let at = format!("{path}[{index}]");
        out.extend(step.own_exprs().into_iter().map(|expr| (at.clone(), expr)));
        match &step.kind {
            StepKind::Skill(_) | StepKind::Flow(_) | StepKind::Approval(_) | StepKind::Wait(_) => {}
            StepKind::Parallel(members) => collect(members, &format!("{at}.parallel"), out),
            StepKind::Loop(body) => {
                if let Some(until) = &body.until {
                    out.push((format!("{at}.loop.until"), until));
                }
                collect(&body.steps, &format!("{at}.loop.steps"), out);
            }
        }
    }
}

impl Step {
    /// The expressions of the step itself (its input and condition), not of its members.
    fn own_exprs(&self) -> Vec<&super::Expr> {
        let mut exprs: Vec<&super::Expr> = self.input.iter().flat_map(Template::exprs).collect();
        exprs.extend(self.when.iter());
        exprs
    }
}

fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn retry(value: &Json, path: &str) -> Result<Retry, FlowError> {
    let Some(fields) = value.as_object() else {
        return Err(FlowError::at(path, "a mapping with attempts and backoff"));
    };
    if let Some(key) = fields
        .keys()
        .find(|key| !["attempts", "backoff"].contains(&key.as_str()))
    {
        return Err(FlowError::at(
            &format!("{path}.{key}"),
            "unknown field; retry has attempts, backoff",
        ));
    }
    let mut retry = Retry::default();
    if let Some(attempts) = fields.get("attempts") {
        retry.attempts = attempts
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_ATTEMPTS)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                FlowError::at(
                    &format!("{path}.attempts"),
                    format!("between 1 and {MAX_ATTEMPTS}"),
                )
            })?;
    }
    if let Some(backoff) = fields.get("backoff") {
        retry.backoff = duration(backoff, &format!("{path}.backoff"))?;
    }
    Ok(retry)
}

fn gate(value: &Json, path: &str) -> Result<Gate, FlowError> {
    let Some(fields) = value.as_object() else {
        return Err(FlowError::at(
            path,
            "a mapping with approvers, quorum, timeout and reason",
        ));
    };
    if let Some(key) = fields
        .keys()
        .find(|key| !["approvers", "quorum", "timeout", "reason"].contains(&key.as_str()))
    {
        return Err(FlowError::at(
            &format!("{path}.{key}"),
            "unknown field; an approval has approvers, quorum, timeout, reason",
        ));
    }
    let mut approvers: Vec<String> = Vec::new();
    match fields.get("approvers") {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let at = format!("{path}.approvers[{index}]");
                let Some(text) = item.as_str() else {
                    return Err(FlowError::at(&at, "a role or group name, `role:finance`"));
                };
                let name = text
                    .strip_prefix("role:")
                    .or_else(|| text.strip_prefix("group:"))
                    .unwrap_or(text)
                    .trim();
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                {
                    return Err(FlowError::at(
                        &at,
                        "a role or group name (`role:finance`, `group:ops`) of letters, digits, \
                         `_`, `-` and `.`",
                    ));
                }
                if !approvers.iter().any(|known| known == name) {
                    approvers.push(name.to_owned());
                }
            }
        }
        Some(_) => {
            return Err(FlowError::at(
                &format!("{path}.approvers"),
                "a list of roles or groups, `[role:finance]`",
            ));
        }
    }
    let quorum = match fields.get("quorum") {
        None => 1,
        Some(Json::Number(number)) => number
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| FlowError::at(&format!("{path}.quorum"), "between 1 and 100"))?,
        Some(_) => return Err(FlowError::at(&format!("{path}.quorum"), "a number")),
    };
    let timeout = match fields.get("timeout") {
        None => Duration::from_secs(24 * 3600),
        Some(value) => wait_duration(value, &format!("{path}.timeout"))?,
    };
    let reason = match fields.get("reason") {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) if text.chars().count() <= 500 => Some(text.trim().to_owned()),
        Some(_) => {
            return Err(FlowError::at(
                &format!("{path}.reason"),
                "a text of at most 500 characters",
            ));
        }
    };
    Ok(Gate {
        approvers,
        quorum,
        timeout,
        reason,
    })
}

fn wait(value: &Json, path: &str) -> Result<Wait, FlowError> {
    let shape = || FlowError::at(path, "a signal name, or a mapping with signal and timeout");
    let (signal, timeout) = match value {
        Json::String(signal) => (signal.as_str(), None),
        Json::Object(fields) => {
            if let Some(key) = fields
                .keys()
                .find(|key| !["signal", "timeout"].contains(&key.as_str()))
            {
                return Err(FlowError::at(
                    &format!("{path}.{key}"),
                    "unknown field; a wait has signal, timeout",
                ));
            }
            let Some(signal) = fields.get("signal").and_then(Json::as_str) else {
                return Err(FlowError::at(
                    &format!("{path}.signal"),
                    "the name of the signal to wait for",
                ));
            };
            let timeout = match fields.get("timeout") {
                None | Some(Json::Null) => None,
                Some(value) => Some(wait_duration(value, &format!("{path}.timeout"))?),
            };
            (signal, timeout)
        }
        _ => return Err(shape()),
    };
    if !valid_signal(signal) {
        return Err(FlowError::at(
            path,
            format!(
                "a signal name of letters, digits, `_`, `-` and `.`, at most {MAX_SIGNAL_NAME} \
                 characters"
            ),
        ));
    }
    Ok(Wait {
        signal: signal.to_owned(),
        timeout,
    })
}

/// A signal's name: what SignalFlowRun and a `wait` step agree on.
pub fn valid_signal(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SIGNAL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// `500ms`, `30s`, `5m`, `24h`, `1d`, or a number of seconds; at most a day.
pub fn duration(value: &Json, path: &str) -> Result<Duration, FlowError> {
    bounded_duration(value, path, MAX_DURATION, "24h")
}

/// A duration of at most 30 days.
fn wait_duration(value: &Json, path: &str) -> Result<Duration, FlowError> {
    bounded_duration(value, path, MAX_WAIT, "30d")
}

fn bounded_duration(
    value: &Json,
    path: &str,
    max: Duration,
    max_text: &str,
) -> Result<Duration, FlowError> {
    let invalid = || {
        FlowError::at(
            path,
            format!("a duration such as 500ms, 30s, 5m or 24h (at most {max_text})"),
        )
    };
    let parsed = match value {
        Json::Number(number) => number
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(Duration::from_secs_f64),
        Json::String(text) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: f64 = number.parse().map_err(|_| invalid())?;
            let scale = match unit.trim() {
                "ms" => 0.001,
                "s" | "" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86_400.0,
                _ => return Err(invalid()),
            };
            Some(Duration::from_secs_f64(number * scale))
        }
        _ => None,
    };
    parsed
        .filter(|duration| *duration <= max)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEMO: &str = r#"
id: demo/quote_and_ship
version: 1.0.0
description: Quotes an order and checks it
input_schema: {type: object}
max_cost: 2.5
steps:
  - name: quote
    skill: oysters/generate_quote
    input: {client: "${{ input.client }}", boxes: "${{ input.boxes }}"}
  - name: checks
    parallel:
      - {name: margin, skill: oysters/calculate_margin}
      - {name: route, skill: oysters/calculate_logistics, retry: {attempts: 3, backoff: 100ms}}
  - name: poll
    when: "${{ steps.quote.output.total > 1000 }}"
    loop:
      max_iterations: 5
      until: "${{ steps.check.output.done }}"
      steps:
        - {name: check, skill: demo/check, timeout: 30s, input: {n: "${{ iteration == 0 ? 1 : steps.check.output.n }}"}}
output: "${{ steps.quote.output }}"
"#;

    #[test]
    fn a_flow_file_compiles_to_a_definition() {
        let flow = Flow::parse_yaml(DEMO).unwrap();
        assert_eq!(flow.id.to_string(), "demo/quote_and_ship");
        assert_eq!(flow.version, semver::Version::new(1, 0, 0));
        assert_eq!(flow.name, "quote_and_ship");
        let steps = &flow.definition.steps;
        assert_eq!(steps.len(), 3);
        let StepKind::Parallel(members) = &steps[1].kind else {
            panic!("a group")
        };
        assert_eq!(members[1].retry.attempts, 3);
        assert_eq!(members[1].retry.backoff, Duration::from_millis(100));
        let StepKind::Loop(body) = &steps[2].kind else {
            panic!("a loop")
        };
        assert_eq!(body.max_iterations, 5);
        assert_eq!(body.steps[0].timeout, Some(Duration::from_secs(30)));
        assert!(steps[2].when.is_some());
        assert!(flow.definition.output.is_some());
        assert_eq!(flow.definition.max_cost, Some(2.5));
        assert_eq!(flow.document["steps"][0]["name"], json!("quote"));
        let again = Flow::from_document(flow.document.clone()).unwrap();
        assert_eq!(again, flow);
    }

    #[test]
    fn mistakes_are_reported_with_their_path() {
        for (edit, path, message) in [
            (
                ("max_iterations: 5", ""),
                "steps[2].loop.max_iterations",
                "how often",
            ),
            (
                ("name: margin", "name: quote"),
                "steps[1].parallel[0].name",
                "duplicate step name",
            ),
            (
                ("input.boxes }}", "input.boxes + }}"),
                "steps[0].input.boxes",
                "column",
            ),
            (
                ("steps.quote.output.total", "steps.qoute.output.total"),
                "steps[2]",
                "names no step",
            ),
            (
                ("skill: demo/check", "skill: demo check"),
                "steps[2].loop.steps[0].skill",
                "invalid skill id",
            ),
            (
                ("timeout: 30s", "timeout: soon"),
                "steps[2].loop.steps[0].timeout",
                "duration",
            ),
            (
                ("max_cost: 2.5", "max_cost: 0"),
                "max_cost",
                "positive number",
            ),
            (
                ("max_cost: 2.5", "max_cost: lots"),
                "max_cost",
                "positive number",
            ),
            (
                ("attempts: 3", "attempts: 30"),
                "steps[1].parallel[1].retry.attempts",
                "between",
            ),
            (
                (
                    "input: {client",
                    "when: \"${{ iteration > 0 }}\"\n    input: {client",
                ),
                "steps[0]",
                "outside a loop",
            ),
            (
                ("skill: oysters/generate_quote", "flow: demo other"),
                "steps[0].flow",
                "invalid skill id",
            ),
            (
                (
                    "skill: oysters/generate_quote",
                    "flow: demo/other\n    timeout: 5s",
                ),
                "steps[0].timeout",
                "flow step has no timeout",
            ),
            (
                (
                    "skill: oysters/generate_quote",
                    "approval: {approvers: [\"role:fin ance\"]}",
                ),
                "steps[0].approval.approvers[0]",
                "role or group",
            ),
            (
                ("skill: oysters/generate_quote", "approval: {quorum: 0}"),
                "steps[0].approval.quorum",
                "between 1 and 100",
            ),
            (
                ("skill: oysters/generate_quote", "approval: {timeout: 31d}"),
                "steps[0].approval.timeout",
                "at most 30d",
            ),
            (
                (
                    "skill: oysters/generate_quote",
                    "wait: {signal: \"no spaces\"}",
                ),
                "steps[0].wait",
                "signal name",
            ),
            (
                (
                    "skill: oysters/generate_quote",
                    "wait: shipped\n    retry: {attempts: 2}",
                ),
                "steps[0].retry",
                "wait.timeout",
            ),
            (
                (
                    "skill: oysters/generate_quote",
                    "skill: oysters/generate_quote\n    loop: {}",
                ),
                "steps[0]",
                "one of",
            ),
        ] {
            let text = DEMO.replacen(edit.0, edit.1, 1);
            let error = Flow::parse_yaml(&text).unwrap_err();
            assert_eq!(error.path, path, "{edit:?}: {error}");
            assert!(error.message.contains(message), "{edit:?}: {error}");
        }
        let error = Flow::parse_yaml("id: a/b\nsteps: []").unwrap_err();
        assert_eq!(error.path, "steps");
        let error = Flow::parse_yaml("id: a/b\nstep: []").unwrap_err();
        assert_eq!(error.path, "step");
    }

    #[test]
    fn approvals_and_waits_are_gates_that_pass_their_input_on() {
        let flow = Flow::parse_yaml(
            r#"
id: demo/gates
steps:
  - {name: quote, skill: a/quote}
  - name: sign_off
    approval: {approvers: ["role:finance", "group:ops", finance], quorum: 2, timeout: 7d, reason: big order}
    when: "${{ steps.quote.output.total > 1000 }}"
  - {name: shipped, wait: {signal: shipped, timeout: 2d}}
  - {name: paid, wait: paid}
  - {name: ship, skill: a/ship, input: {who: "${{ steps.sign_off.output.approvers }}"}}
"#,
        )
        .unwrap();
        let steps = &flow.definition.steps;
        let StepKind::Approval(gate) = &steps[1].kind else {
            panic!("an approval")
        };
        assert_eq!(gate.approvers, ["finance", "ops"]);
        assert_eq!(gate.quorum, 2);
        assert_eq!(gate.timeout, Duration::from_secs(7 * 86_400));
        assert_eq!(gate.reason.as_deref(), Some("big order"));
        let StepKind::Wait(wait) = &steps[2].kind else {
            panic!("a wait")
        };
        assert_eq!(wait.signal, "shipped");
        assert_eq!(wait.timeout, Some(Duration::from_secs(2 * 86_400)));
        let StepKind::Wait(wait) = &steps[3].kind else {
            panic!("a wait")
        };
        assert_eq!((wait.signal.as_str(), wait.timeout), ("paid", None));
        assert!(steps[1].passes_input_on() && steps[2].passes_input_on());
        assert!(!steps[0].passes_input_on());
        assert!(flow.definition.skills().iter().all(|id| id.domain() == "a"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        for (text, expected) in [
            (json!("500ms"), Duration::from_millis(500)),
            (json!("30s"), Duration::from_secs(30)),
            (json!("5m"), Duration::from_secs(300)),
            (json!("24h"), Duration::from_secs(86_400)),
            (json!(2), Duration::from_secs(2)),
        ] {
            assert_eq!(duration(&text, "t").unwrap(), expected, "{text}");
        }
        for bad in [json!("2 weeks"), json!("25h"), json!(-1), json!(true)] {
            assert!(duration(&bad, "t").is_err(), "{bad}");
        }
    }
}
