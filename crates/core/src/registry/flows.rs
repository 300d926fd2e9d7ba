//! Flows of a skills root: `flows/<domain>/<name>.yaml` (see [`crate::flow::yaml`]). A flow is
//! a skill of the catalog: its file gives the id, name, description, tags, examples and input
//! schema that routing and listings use, and the server runs its steps.
//!
//! A flow whose file does not parse, whose id another skill has, or that names a skill the
//! root does not have (or another flow: sub-flows are not run yet) is an error issue and is
//! not served.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Category, FLOWS_DIR, Issue, Severity, Skill};
use super::{collect_files, is_manifest, relative_path};
use crate::flow::Flow;
use crate::manifest::{Deprecation, Entrypoint, Manifest};
use crate::skill_id::SkillId;

/// The entrypoint a flow's catalog entry shows: the server runs it, no runner.
pub const FLOW_ENTRYPOINT: &str = "skillos.flow:run";

/// Adds the root's flows to the catalog.
pub(super) fn load(
    root: &Path,
    skills: &mut BTreeMap<SkillId, Arc<Skill>>,
    issues: &mut Vec<Issue>,
) {
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
    for (id, flow) in found {
        let problem = flow.definition.skills().into_iter().find_map(|step| {
            match skills.get(step) {
                None => Some(format!("step skill {step} is not a skill of this root")),
                Some(skill) if skill.flow.is_some() => Some(format!(
                    "step skill {step} is a flow; sub-flows are not run by this version"
                )),
                Some(_) => None,
            }
        });
        if let Some(message) = problem {
            issues.push(Issue::error(
                &flow.source_path,
                Category::Flow,
                message,
                Some(id.to_string()),
            ));
            continue;
        }
        let skill = Skill {
            manifest: manifest_of(&flow),
            source_path: flow.source_path.clone(),
            composition: None,
            flow: Some(Arc::new(flow)),
        };
        skills.insert(id, Arc::new(skill));
    }
}

/// The catalog entry of a flow.
fn manifest_of(flow: &Flow) -> Manifest {
    let (module, function) = FLOW_ENTRYPOINT.split_once(':').expect("module:function");
    Manifest {
        id: flow.id.clone(),
        name: flow.name.clone(),
        description: flow.description.clone(),
        version: flow.version.clone(),
        entrypoint: Entrypoint {
            module: module.to_owned(),
            function: function.to_owned(),
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
        deprecation: Deprecation::default(),
        eval: None,
    }
}
