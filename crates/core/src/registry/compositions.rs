//! Compositions of a skills root: `compositions/<domain>/<name>.json` in the predecessor's
//! format, each with the metadata file of its id (`metadata/<domain>/<name>.yaml`, entrypoint
//! `skillos.composition:run_composed_skill`), which gives it the name, description and tags
//! routing and listings use.
//!
//! A composition whose file does not parse, that has no metadata file, that names a skill the
//! root does not have, or that reaches itself through other compositions is an error issue and
//! is not served; so is a metadata file with the composition entrypoint but no composition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::{COMPOSITIONS_DIR, Category, Issue, METADATA_DIR, Severity, Skill};
use super::{collect_files, relative_path};
use crate::flow::{COMPOSITION_ENTRYPOINT, Composition};
use crate::skill_id::SkillId;

fn is_composition(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "json")
}

/// Attaches the root's compositions to their skills, and removes what cannot be served.
pub(super) fn load(
    root: &Path,
    skills: &mut BTreeMap<SkillId, Arc<Skill>>,
    issues: &mut Vec<Issue>,
) {
    let dir = root.join(COMPOSITIONS_DIR);
    let mut files = Vec::new();
    if dir.is_dir() {
        collect_files(root, &dir, is_composition, &mut files, issues);
    }
    files.sort();
    // Each composition by id, with its file's path.
    let mut found: BTreeMap<SkillId, (String, Composition)> = BTreeMap::new();
    for path in files {
        let relative = relative_path(root, &path);
        let parsed = std::fs::read_to_string(&path)
            .map_err(|error| (Category::Io, format!("cannot read: {error}")))
            .and_then(|text| {
                Composition::parse(&text)
                    .map_err(|error| (Category::Composition, error.to_string()))
            });
        let composition = match parsed {
            Ok(composition) => Composition {
                source_path: relative.clone(),
                ..composition
            },
            Err((category, message)) => {
                issues.push(Issue::error(&relative, category, message, None));
                continue;
            }
        };
        let id = composition.id.clone();
        if let Some((first, _)) = found.get(&id) {
            let message = format!(
                "composition {id} is declared by both {first} and {relative}; the first is served"
            );
            issues.push(Issue::error(
                &relative,
                Category::DuplicateId,
                message,
                Some(id.to_string()),
            ));
            continue;
        }
        let expected = format!("{COMPOSITIONS_DIR}/{}/{}.json", id.domain(), id.name());
        if relative != expected {
            issues.push(Issue {
                path: relative.clone(),
                category: Category::Composition,
                severity: Severity::Warning,
                message: format!(
                    "composition {id} is usually kept in {expected}; the id, not the path, names it"
                ),
                skill_id: Some(id.to_string()),
            });
        }
        found.insert(id, (relative, composition));
    }

    skills.retain(|id, skill| {
        if skill.manifest.entrypoint.to_string() != COMPOSITION_ENTRYPOINT || found.contains_key(id)
        {
            return true;
        }
        let message = format!(
            "entrypoint {COMPOSITION_ENTRYPOINT} makes {id} a composition, but there is no \
             {COMPOSITIONS_DIR}/{}/{}.json",
            id.domain(),
            id.name()
        );
        issues.push(Issue::error(
            &skill.source_path,
            Category::Composition,
            message,
            Some(id.to_string()),
        ));
        false
    });

    let mut paths = BTreeMap::new();
    for (id, (relative, composition)) in found {
        match skills.get_mut(&id) {
            Some(skill) => {
                Arc::make_mut(skill).composition = Some(composition);
                paths.insert(id, relative);
            }
            None => {
                let message = format!(
                    "composition {id} has no metadata file: add {METADATA_DIR}/{}/{}.yaml with \
                     its name, description and entrypoint {COMPOSITION_ENTRYPOINT}",
                    id.domain(),
                    id.name()
                );
                issues.push(Issue::error(
                    &relative,
                    Category::Composition,
                    message,
                    Some(id.to_string()),
                ));
            }
        }
    }

    // Removing one composition can leave another with an unknown step: until none is left.
    loop {
        let refused: Vec<(SkillId, String)> = skills
            .values()
            .filter_map(|skill| {
                let composition = skill.composition.as_ref()?;
                let unknown: Vec<String> = composition
                    .definition
                    .skills()
                    .into_iter()
                    .filter(|step| !skills.contains_key(*step))
                    .map(ToString::to_string)
                    .collect();
                if !unknown.is_empty() {
                    return Some((
                        skill.id().clone(),
                        format!("Unknown skills: {}", unknown.join(", ")),
                    ));
                }
                let cycle = cycle_through(skills, skill.id())?;
                Some((
                    skill.id().clone(),
                    format!("Composition cycle detected: {}", cycle.join(" -> ")),
                ))
            })
            .collect();
        if refused.is_empty() {
            break;
        }
        for (id, message) in refused {
            skills.remove(&id);
            let path = paths.get(&id).cloned().unwrap_or_default();
            issues.push(Issue::error(
                &path,
                Category::Composition,
                message,
                Some(id.to_string()),
            ));
        }
    }
}

/// The ids on a path from `start` back to itself through composition steps, if there is one.
fn cycle_through(skills: &BTreeMap<SkillId, Arc<Skill>>, start: &SkillId) -> Option<Vec<String>> {
    fn walk<'a>(
        skills: &'a BTreeMap<SkillId, Arc<Skill>>,
        start: &SkillId,
        at: &'a SkillId,
        path: &mut Vec<&'a SkillId>,
        seen: &mut BTreeSet<&'a SkillId>,
    ) -> bool {
        let Some(composition) = skills.get(at).and_then(|skill| skill.composition.as_ref()) else {
            return false;
        };
        for step in composition.definition.skills() {
            if step == start {
                path.push(step);
                return true;
            }
            if seen.insert(step) {
                path.push(step);
                if walk(skills, start, step, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    let mut seen = BTreeSet::new();
    walk(skills, start, start, &mut path, &mut seen)
        .then(|| path.iter().map(ToString::to_string).collect())
}
