//! Commands that work on local files and need no server.

use std::path::Path;

use skillos_core::SkillId;
use skillos_core::registry::{Catalog, Issue, Severity, scaffold};

use super::ServeArgs;
use super::output::{Failure, print_json, table};

pub fn config_show(args: &ServeArgs, json: bool) -> Result<(), Failure> {
    let config = args
        .config()
        .map_err(|error| Failure::new(error.to_string()))?;
    if json {
        print_json(&serde_json::to_value(config.redacted()).unwrap_or_default());
    } else {
        out!("{}", config.to_toml());
    }
    Ok(())
}

pub fn validate(root: &Path, check_entrypoints: bool, json: bool) -> Result<(), Failure> {
    if !root.is_dir() {
        return Err(Failure::new(format!(
            "skills root {} is not a directory",
            root.display()
        )));
    }
    let catalog = Catalog::validate(root, check_entrypoints);
    report_validation(catalog.len(), catalog.issues(), json)
}

/// Prints a validation report (the same for a local root and a server's); exit 1 when invalid.
pub fn report_validation(skill_count: usize, issues: &[Issue], json: bool) -> Result<(), Failure> {
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    let warnings = issues.len() - errors;
    let valid = errors == 0;
    if json {
        print_json(&serde_json::json!({
            "valid": valid,
            "skill_count": skill_count,
            "issues": issues.iter().map(issue_json).collect::<Vec<_>>(),
        }));
    } else {
        if !issues.is_empty() {
            let rows = issues.iter().map(|issue| {
                [
                    issue.severity.as_str().to_owned(),
                    issue.category.as_str().to_owned(),
                    issue.path.clone(),
                    issue.message.clone(),
                ]
            });
            outln!(
                "{}",
                table(["severity", "category", "path", "message"], rows)
            );
        }
        let verdict = if valid { "valid" } else { "invalid" };
        outln!("{verdict}: {skill_count} skills, {errors} errors, {warnings} warnings");
    }
    if valid {
        Ok(())
    } else {
        Err(Failure::printed())
    }
}

fn issue_json(issue: &Issue) -> serde_json::Value {
    serde_json::json!({
        "path": issue.path,
        "category": issue.category.as_str(),
        "severity": issue.severity.as_str(),
        "message": issue.message,
        "skill_id": issue.skill_id,
    })
}

pub fn add_skill(id: &str, root: &Path, json: bool) -> Result<(), Failure> {
    let id = SkillId::parse(id.trim())
        .map_err(|error| Failure::with_reason(error.to_string(), "INVALID_SKILL_ID"))?;
    if !root.is_dir() {
        return Err(Failure::new(format!(
            "skills root {} is not a directory",
            root.display()
        )));
    }
    let created = scaffold(root, &id).map_err(|error| Failure::new(error.to_string()))?;
    if json {
        print_json(&serde_json::json!({
            "skill_id": id.to_string(),
            "manifest": created.manifest,
            "implementation": created.implementation,
        }));
    } else {
        outln!("created {}", created.manifest.display());
        outln!("created {}", created.implementation.display());
    }
    Ok(())
}
