//! Flows of a skills root: `flows/<domain>/<name>.yaml` (see [`crate::flow::yaml`]). Each is
//! read and checked with the catalog, kept in [`super::Catalog::flows`], and is a skill of the
//! catalog too (listed, routed and run by id like any skill; the server drives its steps).
//!
//! A flow whose file does not parse, whose id a skill has, or that names a skill the root does
//! not have is an error issue and is not kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Category, FLOWS_DIR, Issue, Severity, Skill};
use super::{collect_files, is_manifest, relative_path};
use crate::flow::Flow;
use crate::skill_id::SkillId;

/// Reads the root's flows and checks them against its skills.
pub(super) fn load(
    root: &Path,
    skills: &mut BTreeMap<SkillId, Arc<Skill>>,
    issues: &mut Vec<Issue>,
) -> Vec<Arc<Flow>> {
    let dir = root.join(FLOWS_DIR);
    let mut files = Vec::new();
    if dir.is_dir() {
        collect_files(root, &dir, is_manifest, &mut files, issues);
    }
    files.sort();
    let mut found: BTreeMap<SkillId, Flow> = BTreeMap::new();
    for path in files {
        let relative = relative_path(root, &path);
        let parsed = std::fs::read_to_string(&path)
            .map_err(|error| (Category::Io, format!("cannot read: {error}")))
            .and_then(|text| {
                Flow::parse_yaml(&text).map_err(|error| (Category::Flow, error.to_string()))
            });
        let flow = match parsed {
            Ok(flow) => Flow {
                source_path: relative.clone(),
                ..flow
            },
            Err((category, message)) => {
                issues.push(Issue::error(&relative, category, message, None));
                continue;
            }
        };
        let id = flow.id.clone();
        let first = found
            .get(&id)
            .map(|flow| flow.source_path.clone())
            .or_else(|| skills.get(&id).map(|skill| skill.source_path.clone()));
        if let Some(first) = first {
            let message =
                format!("{id} is declared by both {first} and {relative}; the first is served");
            issues.push(Issue::error(
                &relative,
                Category::DuplicateId,
                message,
                Some(id.to_string()),
            ));
            continue;
        }
        let expected = format!("{FLOWS_DIR}/{}/{}.yaml", id.domain(), id.name());
        if relative != expected {
            issues.push(Issue {
                path: relative.clone(),
                category: Category::Flow,
                severity: Severity::Warning,
                message: format!(
                    "flow {id} is usually kept in {expected}; the id, not the path, names it"
                ),
                skill_id: Some(id.to_string()),
            });
        }
        found.insert(id, flow);
    }
    let mut flows = Vec::new();
    for (id, flow) in found {
        let unknown = flow
            .definition
            .skills()
            .into_iter()
            .find(|step| !skills.contains_key(*step));
        if let Some(step) = unknown {
            issues.push(Issue::error(
                &flow.source_path,
                Category::Flow,
                format!("step skill {step} is not a skill of this root"),
                Some(id.to_string()),
            ));
            continue;
        }
        flows.push(Arc::new(flow));
    }
    let flows = with_sound_sub_flows(flows, issues);
    // Added once every flow was checked against the skills alone: a flow's skill step is a
    // skill, never another flow (sub-flows have a step kind of their own).
    for flow in &flows {
        let skill = Skill {
            manifest: manifest_of(flow),
            source_path: flow.source_path.clone(),
            composition: None,
            flow: Some(flow.clone()),
        };
        skills.insert(flow.id.clone(), Arc::new(skill));
    }
    flows
}

/// The flows whose sub-flows are flows of the root and do not call back into them; each other
/// is an error issue and is not kept (nor is a flow that calls one of those).
fn with_sound_sub_flows(mut flows: Vec<Arc<Flow>>, issues: &mut Vec<Issue>) -> Vec<Arc<Flow>> {
    loop {
        let known: BTreeMap<&SkillId, &Flow> =
            flows.iter().map(|flow| (&flow.id, flow.as_ref())).collect();
        let mut refused: Vec<(SkillId, String)> = Vec::new();
        for flow in &flows {
            if let Some(missing) = flow
                .definition
                .flows()
                .into_iter()
                .find(|id| !known.contains_key(id))
            {
                let message = format!("sub-flow {missing} is not a flow of this root");
                refused.push((flow.id.clone(), message));
            } else if let Some(cycle) = cycle_from(&flow.id, &known) {
                let message = format!("sub-flows call each other: {}", cycle.join(" -> "));
                refused.push((flow.id.clone(), message));
            }
        }
        if refused.is_empty() {
            return flows;
        }
        for (id, message) in refused {
            let Some(flow) = flows.iter().find(|flow| flow.id == id) else {
                continue;
            };
            let path = flow.source_path.clone();
            issues.push(Issue::error(
                &path,
                Category::Flow,
                message,
                Some(id.to_string()),
            ));
            flows.retain(|flow| flow.id != id);
        }
    }
}

/// The ids of a cycle of sub-flows through `start` (starting and ending with it), if any.
fn cycle_from(start: &SkillId, known: &BTreeMap<&SkillId, &Flow>) -> Option<Vec<String>> {
    fn walk(
        at: &SkillId,
        start: &SkillId,
        known: &BTreeMap<&SkillId, &Flow>,
        path: &mut Vec<String>,
        seen: &mut std::collections::BTreeSet<SkillId>,
    ) -> bool {
        let Some(flow) = known.get(at) else {
            return false;
        };
        for next in flow.definition.flows() {
            path.push(next.to_string());
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) && walk(next, start, known, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = std::collections::BTreeSet::new();
    walk(start, start, known, &mut path, &mut seen).then_some(path)
}

/// What the catalog shows of a flow, as a skill: its id, name, description, tags, examples and
/// input schema, with the flow entrypoint.
fn manifest_of(flow: &Flow) -> crate::manifest::Manifest {
    crate::manifest::Manifest {
        id: flow.id.clone(),
        name: flow.name.clone(),
        description: flow.description.clone(),
        version: flow.version.clone(),
        entrypoint: crate::manifest::Entrypoint {
            module: FLOW_MODULE.to_owned(),
            function: FLOW_FUNCTION.to_owned(),
        },
        tags: flow.tags.clone(),
        examples: flow.examples.clone(),
        input_schema: flow.input_schema.clone(),
        output_schema: None,
        cost_estimate: None,
        model_tiers: Vec::new(),
        risk_tier: None,
        required_permissions: Vec::new(),
        timeout: None,
        retryable: false,
        deprecation: crate::manifest::Deprecation::default(),
        eval: None,
    }
}

/// The entrypoint a flow's skill has: the server runs it, no runner.
pub const FLOW_MODULE: &str = "skillos.flow";
pub const FLOW_FUNCTION: &str = "run_flow";
