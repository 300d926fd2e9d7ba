//! Flow definitions: the one model that pipelines and compositions compile to (ADR 9).
//!
//! A definition is a sequence of steps; a step is a skill, or a parallel group of skills that
//! get the same input. Each step's input is the previous step's output (the flow's input for
//! the first), and a group's output is an object keyed by its members' names. Names are unique
//! among siblings: a member is named by its skill id, a repeated id gets `#2`, `#3`, and so is
//! a step of the sequence (a group by its members joined with `|`).
//!
//! Flows written in YAML ([`yaml`]) compile to the same model, with more: a step's input
//! computed by expressions ([`expr`]), a condition (`when`), retries, a timeout, bounded
//! loops, and steps that wait: for an approval (its approvers' decision is its output) or for
//! a signal sent to the run.

pub mod expr;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::skill_id::SkillId;
pub use expr::{Expr, Template};
pub use yaml::Flow;

/// Most steps a definition may have, counting every member of every group.
pub const MAX_STEPS: usize = 256;
/// Most members of one parallel group.
pub const MAX_GROUP: usize = 32;

/// A flow to run: its steps, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowDefinition {
    pub steps: Vec<Step>,
    /// What a run answers; `None`: the last step's output.
    pub output: Option<Template>,
    /// The most a run's skill steps may cost together (the estimates of those running and
    /// the costs of those that ran); `None`: only the budgets limit it.
    pub max_cost: Option<f64>,
}

/// One step of a definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Unique among its siblings; a step's path is its name (`margin`), a member's its
    /// group's name, a dot and its own (`checks.margin`), a step of a loop's body the loop's
    /// name, the iteration and its own (`poll[2].check`).
    pub name: String,
    pub kind: StepKind,
    /// The step's input; `None`: the previous step's output (for the first step of a
    /// sequence, the input of the sequence: the run's, a group's, or a loop iteration's).
    pub input: Option<Template>,
    /// The step runs only when this is true; a skipped step's output is null.
    pub when: Option<Expr>,
    pub retry: Retry,
    /// Each attempt's timeout; `None`: the skill's own, else the server's default.
    pub timeout: Option<Duration>,
}

/// How often a failed step runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts at most, the first included.
    pub attempts: u32,
    /// Delay before the second attempt; each further one doubles it.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// Runs the skill with the step's input as its payload.
    Skill(SkillId),
    /// Runs every member at once, each with the same input; the first failure cancels the
    /// others. The output is an object keyed by member name.
    Parallel(Vec<Step>),
    /// Runs its steps again and again, each iteration's input the previous iteration's
    /// output, until `until` is true after an iteration or `max_iterations` ran.
    Loop(Loop),
    /// Waits until people approve the step's input; a rejection or the expiry fails the step.
    /// Its output is the decision; the step after it gets the approval step's input.
    Approval(Gate),
    /// Waits for a signal sent to the run (SignalFlowRun); its output is the signal's payload,
    /// and the step after it gets the wait step's input.
    Wait(Wait),
    /// Runs another flow of the catalog as a run of its own, with the step's input as the
    /// run's input; its output is the sub-flow's output.
    Flow(SkillId),
}

/// An explicit approval step.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// Who may decide: role or group names (`role:finance` and `group:finance` both name
    /// `finance`); empty: anyone with the approver permission.
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub quorum: u32,
    /// Until the approval expires (which means deny).
    pub timeout: Duration,
    /// What approvers read about why they are asked.
    pub reason: Option<String>,
}

/// A wait for a signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Wait {
    pub signal: String,
    /// How long it waits at most; `None`: until the run is cancelled.
    pub timeout: Option<Duration>,
}

/// A bounded loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    pub max_iterations: u32,
    pub until: Option<Expr>,
    pub steps: Vec<Step>,
}

impl Step {
    /// A step that runs one skill on the previous step's output.
    pub fn skill(name: String, skill: SkillId) -> Self {
        Self::of(name, StepKind::Skill(skill))
    }

    fn of(name: String, kind: StepKind) -> Self {
        Self {
            name,
            kind,
            input: None,
            when: None,
            retry: Retry::default(),
            timeout: None,
        }
    }
}

impl FlowDefinition {
    /// Every skill the definition runs, in order, each once.
    pub fn skills(&self) -> Vec<&SkillId> {
        let mut skills: Vec<&SkillId> = Vec::new();
        for step in &self.steps {
            for skill in step.skills() {
                if !skills.contains(&skill) {
                    skills.push(skill);
                }
            }
        }
        skills
    }

    /// Every flow the definition runs as a sub-flow, in order, each once.
    pub fn flows(&self) -> Vec<&SkillId> {
        let mut flows: Vec<&SkillId> = Vec::new();
        for flow in self.steps.iter().flat_map(Step::flows) {
            if !flows.contains(&flow) {
                flows.push(flow);
            }
        }
        flows
    }

    /// Compiles a pipeline: each step is a skill id or a parallel group of ids separated by
    /// `|` (`"text/summarize"`, `"finance/convert|finance/rates"`); ids in either form
    /// (`domain/name`, `domain.name`).
    pub fn pipeline<S: AsRef<str>>(steps: &[S]) -> Result<Self, DefinitionError> {
        let groups = steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                step.as_ref()
                    .split('|')
                    .map(|id| parse_id(id.trim(), index))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_groups(groups)
    }

    /// A definition of groups of skills: one member makes a skill step, more a parallel group.
    pub fn from_groups(groups: Vec<Vec<SkillId>>) -> Result<Self, DefinitionError> {
        if groups.is_empty() {
            return Err(DefinitionError::NoSteps);
        }
        let count: usize = groups.iter().map(Vec::len).sum();
        if count > MAX_STEPS {
            return Err(DefinitionError::TooManySteps(count));
        }
        let mut names = Names::default();
        let mut steps = Vec::with_capacity(groups.len());
        for (index, group) in groups.into_iter().enumerate() {
            let step = match group.len() {
                0 => return Err(DefinitionError::EmptyStep { index }),
                1 => {
                    let skill = group.into_iter().next().expect("one member");
                    Step::skill(names.next(skill.to_string()), skill)
                }
                members if members > MAX_GROUP => {
                    return Err(DefinitionError::GroupTooLarge { index, members });
                }
                _ => {
                    let label = group
                        .iter()
                        .map(SkillId::to_string)
                        .collect::<Vec<_>>()
                        .join("|");
                    let mut member_names = Names::default();
                    let members = group
                        .into_iter()
                        .map(|skill| Step::skill(member_names.next(skill.to_string()), skill))
                        .collect();
                    Step::of(names.next(label), StepKind::Parallel(members))
                }
            };
            steps.push(step);
        }
        Ok(Self {
            steps,
            output: None,
            max_cost: None,
        })
    }
}

impl Step {
    /// The skills this step runs, in order.
    pub fn skills(&self) -> Vec<&SkillId> {
        match &self.kind {
            StepKind::Skill(skill) => vec![skill],
            StepKind::Parallel(members) => members.iter().flat_map(Step::skills).collect(),
            StepKind::Loop(body) => body.steps.iter().flat_map(Step::skills).collect(),
            StepKind::Approval(_) | StepKind::Wait(_) | StepKind::Flow(_) => Vec::new(),
        }
    }

    /// Every flow the step runs as a sub-flow, this one's or its members' and body's.
    pub fn flows(&self) -> Vec<&SkillId> {
        match &self.kind {
            StepKind::Flow(flow) => vec![flow],
            StepKind::Parallel(members) => members.iter().flat_map(Step::flows).collect(),
            StepKind::Loop(body) => body.steps.iter().flat_map(Step::flows).collect(),
            StepKind::Skill(_) | StepKind::Approval(_) | StepKind::Wait(_) => Vec::new(),
        }
    }

    /// A gate (an approval or a wait) passes its input on to the step after it, as a skipped
    /// step does: its own output is what it waited for.
    pub fn passes_input_on(&self) -> bool {
        matches!(self.kind, StepKind::Approval(_) | StepKind::Wait(_))
    }

    /// `skill`, `flow`, `parallel`, `loop`, `approval` or `wait`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            StepKind::Skill(_) => "skill",
            StepKind::Parallel(_) => "parallel",
            StepKind::Loop(_) => "loop",
            StepKind::Approval(_) => "approval",
            StepKind::Wait(_) => "wait",
            StepKind::Flow(_) => "flow",
        }
    }
}

impl fmt::Display for FlowDefinition {
    /// The pipeline syntax: steps joined with ` -> `, members of a group with `|`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, step) in self.steps.iter().enumerate() {
            if index > 0 {
                f.write_str(" -> ")?;
            }
            f.write_str(&step.name)?;
        }
        Ok(())
    }
}

/// A composition: a named pipeline in the catalog, read from
/// `compositions/<domain>/<name>.json` in the predecessor's format:
/// `{"id": "domain/name", "steps": ["a/b", ["c/d", "e/f"]], "version": "0.1.0", "active": true}`,
/// a step being a skill id or a list of ids that run at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Composition {
    pub id: SkillId,
    pub version: String,
    /// An inactive composition is listed but refuses to run until activated.
    pub active: bool,
    pub definition: FlowDefinition,
    /// The file's path relative to the skills root (set by the registry).
    pub source_path: String,
}

/// The entrypoint the predecessor writes into a composition's metadata file.
pub const COMPOSITION_ENTRYPOINT: &str = "skillos.composition:run_composed_skill";

impl Composition {
    /// Parses a composition file.
    pub fn parse(text: &str) -> Result<Self, CompositionError> {
        let invalid = |message: &str| CompositionError(message.to_owned());
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|error| CompositionError(format!("not JSON: {error}")))?;
        let Some(object) = json.as_object() else {
            return Err(invalid("Composition file must be a mapping"));
        };
        let id = match object.get("id") {
            Some(serde_json::Value::String(id)) => {
                SkillId::parse(id).map_err(|error| CompositionError(format!("id: {error}")))?
            }
            _ => return Err(invalid("id: a skill id (domain/name) is required")),
        };
        let version = match object.get("version") {
            None | Some(serde_json::Value::Null) => "0.1.0".to_owned(),
            Some(serde_json::Value::String(version)) => version.clone(),
            Some(_) => return Err(invalid("version: must be a string")),
        };
        let active = match object.get("active") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(active)) => *active,
            Some(_) => return Err(invalid("active: must be true or false")),
        };
        let not_steps = "Composition steps must be a list of skill ids or parallel groups";
        let Some(serde_json::Value::Array(items)) = object.get("steps") else {
            return Err(invalid(not_steps));
        };
        if items.is_empty() {
            return Err(invalid("Composition requires at least one step"));
        }
        let mut groups = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let ids: Vec<&serde_json::Value> = match item {
                serde_json::Value::Array(members) => members.iter().collect(),
                other => vec![other],
            };
            let group = ids
                .into_iter()
                .map(|id| match id {
                    serde_json::Value::String(id) => SkillId::parse(id)
                        .map_err(|error| CompositionError(format!("steps[{index}]: {error}"))),
                    _ => Err(invalid(not_steps)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            groups.push(group);
        }
        let definition = FlowDefinition::from_groups(groups)
            .map_err(|error| CompositionError(error.to_string()))?;
        Ok(Self {
            id,
            version,
            active,
            definition,
            source_path: String::new(),
        })
    }
}

/// Why a composition file was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompositionError(String);

/// Names unique among siblings: the second `x` is `x#2`.
#[derive(Default)]
struct Names(HashMap<String, usize>);

impl Names {
    fn next(&mut self, base: String) -> String {
        let seen = self.0.entry(base.clone()).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            base
        } else {
            format!("{base}#{seen}")
        }
    }
}

fn parse_id(id: &str, index: usize) -> Result<SkillId, DefinitionError> {
    if id.is_empty() {
        return Err(DefinitionError::EmptyStep { index });
    }
    SkillId::parse(id).map_err(|source| DefinitionError::InvalidSkillId { index, source })
}

/// Why steps do not make a definition; `index` is the step's position (from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("a pipeline needs at least one step")]
    NoSteps,
    #[error("step {index} is empty (a skill id, or ids separated by `|`)")]
    EmptyStep { index: usize },
    #[error("step {index}: {source}")]
    InvalidSkillId {
        index: usize,
        source: crate::skill_id::InvalidSkillId,
    },
    #[error("step {index} runs {members} skills at once; a group has at most {MAX_GROUP}")]
    GroupTooLarge { index: usize, members: usize },
    #[error("the steps run {0} skills; a definition has at most {MAX_STEPS}")]
    TooManySteps(usize),
}

impl DefinitionError {
    /// The step at fault, if one is.
    pub fn index(&self) -> Option<usize> {
        match self {
            Self::EmptyStep { index }
            | Self::InvalidSkillId { index, .. }
            | Self::GroupTooLarge { index, .. } => Some(*index),
            Self::NoSteps | Self::TooManySteps(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> SkillId {
        SkillId::parse(text).unwrap()
    }

    #[test]
    fn a_pipeline_is_steps_and_groups_named_by_their_skills() {
        let definition =
            FlowDefinition::pipeline(&["text/summarize", "a/b | a.c", "text/summarize"]).unwrap();
        assert_eq!(
            definition.to_string(),
            "text/summarize -> a/b|a/c -> text/summarize#2"
        );
        let StepKind::Parallel(members) = &definition.steps[1].kind else {
            panic!("a group");
        };
        let names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a/b", "a/c"]);
        assert_eq!(
            definition.skills(),
            [&id("text/summarize"), &id("a/b"), &id("a/c")]
        );
    }

    #[test]
    fn a_repeated_member_of_a_group_is_numbered() {
        let definition = FlowDefinition::pipeline(&["a/b|a/b|a/b"]).unwrap();
        let StepKind::Parallel(members) = &definition.steps[0].kind else {
            panic!("a group");
        };
        let names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a/b", "a/b#2", "a/b#3"]);
    }

    #[test]
    fn bad_steps_name_their_position() {
        let empty: [&str; 0] = [];
        assert_eq!(
            FlowDefinition::pipeline(&empty),
            Err(DefinitionError::NoSteps)
        );
        let error = FlowDefinition::pipeline(&["a/b", "a/c|"]).unwrap_err();
        assert_eq!(error, DefinitionError::EmptyStep { index: 1 });
        let error = FlowDefinition::pipeline(&["a/b", " "]).unwrap_err();
        assert_eq!(error.index(), Some(1));
        let error = FlowDefinition::pipeline(&["a/b", "not an id"]).unwrap_err();
        assert!(matches!(
            error,
            DefinitionError::InvalidSkillId { index: 1, .. }
        ));
        assert!(
            error.to_string().starts_with("step 1: invalid skill id"),
            "{error}"
        );
    }

    #[test]
    fn a_composition_reads_the_predecessors_format() {
        let text = r#"{"id": "oysters/quote_and_check", "version": "0.1.2", "active": true,
                       "steps": ["oysters/generate_quote", ["oysters/calculate_margin", "oysters/calculate_logistics"]]}"#;
        let composition = Composition::parse(text).unwrap();
        assert_eq!(composition.id, id("oysters/quote_and_check"));
        assert_eq!(
            (composition.version.as_str(), composition.active),
            ("0.1.2", true)
        );
        assert_eq!(
            composition.definition.to_string(),
            "oysters/generate_quote -> oysters/calculate_margin|oysters/calculate_logistics"
        );
        let flat = Composition::parse(r#"{"id": "a/b", "steps": ["c/d", "e/f"]}"#).unwrap();
        assert!(
            !flat.active,
            "a composition is inactive unless it says otherwise"
        );
        assert_eq!(flat.definition.steps.len(), 2);
    }

    #[test]
    fn bad_compositions_say_what_is_wrong() {
        for (text, message) in [
            ("[]", "Composition file must be a mapping"),
            (
                r#"{"id": "a/b", "steps": []}"#,
                "Composition requires at least one step",
            ),
            (
                r#"{"id": "a/b", "steps": "c/d"}"#,
                "Composition steps must be a list",
            ),
            (
                r#"{"id": "a/b", "steps": [1]}"#,
                "Composition steps must be a list",
            ),
            (r#"{"id": "a/b", "steps": [[]]}"#, "step 0 is empty"),
            (r#"{"steps": ["c/d"]}"#, "id: a skill id"),
            (
                r#"{"id": "a/b", "steps": ["c d"]}"#,
                "steps[0]: invalid skill id",
            ),
            (
                r#"{"id": "a/b", "steps": ["c/d"], "active": "yes"}"#,
                "active: must be",
            ),
            ("{", "not JSON"),
        ] {
            let error = Composition::parse(text).unwrap_err().to_string();
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn definitions_are_bounded() {
        let wide = vec!["a/b"; MAX_GROUP + 1].join("|");
        assert!(matches!(
            FlowDefinition::pipeline(&[wide]),
            Err(DefinitionError::GroupTooLarge { index: 0, .. })
        ));
        let long = vec!["a/b"; MAX_STEPS + 1];
        assert_eq!(
            FlowDefinition::pipeline(&long),
            Err(DefinitionError::TooManySteps(MAX_STEPS + 1))
        );
    }
}
