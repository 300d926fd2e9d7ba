//! `skillos add-skill`: a new manifest and a Python implementation that runs as is.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::skill_id::SkillId;

/// The files a scaffold created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffolded {
    pub manifest: PathBuf,
    pub implementation: PathBuf,
}

/// Why a skill could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("skill {id} already exists: {path}")]
    Exists { id: SkillId, path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates `metadata/<domain>/<name>.yaml` and `implementations/<domain>/<name>.py` (plus the
/// package `__init__.py` files) under `root`. Nothing is overwritten.
pub fn scaffold(root: &Path, id: &SkillId) -> Result<Scaffolded, ScaffoldError> {
    let manifest = root
        .join(super::METADATA_DIR)
        .join(id.domain())
        .join(format!("{}.yaml", id.name()));
    let implementation_dir = root.join("implementations").join(id.domain());
    let implementation = implementation_dir.join(format!("{}.py", id.name()));
    for path in [&manifest, &implementation] {
        if path.exists() {
            return Err(ScaffoldError::Exists {
                id: id.clone(),
                path: path.clone(),
            });
        }
    }

    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    for dir in [manifest.parent().unwrap_or(root), &implementation_dir] {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    for init in [
        root.join("implementations/__init__.py"),
        implementation_dir.join("__init__.py"),
    ] {
        if !init.exists() {
            std::fs::write(&init, "").map_err(io(&init))?;
        }
    }
    write_new(&manifest, &manifest_text(id)).map_err(io(&manifest))?;
    write_new(&implementation, &implementation_text(id)).map_err(io(&implementation))?;
    Ok(Scaffolded {
        manifest,
        implementation,
    })
}

/// Writes a file that must not exist yet (`create_new`), so a race cannot overwrite one.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

fn title(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn manifest_text(id: &SkillId) -> String {
    use serde_norway::{Mapping, Value};
    let text = |value: &str| Value::String(value.to_owned());
    let mut schema = Mapping::new();
    schema.insert(text("type"), text("object"));
    schema.insert(text("properties"), Value::Mapping(Mapping::new()));
    schema.insert(text("additionalProperties"), Value::Bool(true));
    let description = format!(
        "Describe what {id} does, what it needs and what it returns; routing reads this text."
    );
    let entrypoint = format!("implementations.{}.{}:run", id.domain(), id.name());
    let mut manifest = Mapping::new();
    manifest.insert(text("id"), text(&id.to_string()));
    manifest.insert(text("name"), text(&title(id.name())));
    manifest.insert(text("description"), text(&description));
    manifest.insert(text("version"), text("0.1.0"));
    manifest.insert(text("entrypoint"), text(&entrypoint));
    manifest.insert(
        text("tags"),
        Value::Sequence(vec![text(&id.domain().to_lowercase())]),
    );
    manifest.insert(text("input_schema"), Value::Mapping(schema));
    manifest.insert(text("timeout_seconds"), Value::Number(10.into()));
    manifest.insert(text("retryable"), Value::Bool(false));
    // Serialising (rather than formatting) quotes values YAML would read as other types
    // (`true`, `null`, `123`).
    serde_norway::to_string(&Value::Mapping(manifest)).unwrap_or_default()
}

fn implementation_text(id: &SkillId) -> String {
    format!(
        r#""""{id}: replace this with what the skill does."""


def run(payload: dict, ctx=None) -> dict:
    """Handle one request; `payload` is the request's JSON object, the return value its output."""
    return {{"skill": "{id}", "received": payload}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Catalog;

    #[test]
    fn every_valid_id_scaffolds_a_skill_that_validates() {
        let root = tempfile::tempdir().unwrap();
        let ids = [
            "x/true",
            "x/null",
            "123/456",
            "my-dom/x-y",
            "A/B",
            "d/1e3",
            "yes/no",
            "a/b_",
        ];
        for raw in ids {
            let id = SkillId::parse(raw).unwrap();
            scaffold(root.path(), &id).unwrap();
            let catalog = Catalog::validate(root.path(), true);
            assert!(catalog.get(&id).is_some(), "{raw}: {:?}", catalog.issues());
        }
        let catalog = Catalog::validate(root.path(), true);
        assert!(catalog.issues().is_empty(), "{:?}", catalog.issues());
        assert_eq!(catalog.len(), ids.len());
    }

    #[test]
    fn scaffolds_a_valid_skill_and_refuses_to_overwrite() {
        let root = tempfile::tempdir().unwrap();
        let id = SkillId::parse("travel/search_trains").unwrap();
        let created = scaffold(root.path(), &id).unwrap();
        assert!(
            created
                .manifest
                .ends_with("metadata/travel/search_trains.yaml")
        );
        assert!(
            created
                .implementation
                .ends_with("implementations/travel/search_trains.py")
        );
        assert!(root.path().join("implementations/__init__.py").is_file());
        assert!(
            root.path()
                .join("implementations/travel/__init__.py")
                .is_file()
        );

        let catalog = Catalog::validate(root.path(), true);
        assert!(catalog.issues().is_empty(), "{:?}", catalog.issues());
        let skill = catalog.get(&id).unwrap();
        assert_eq!(skill.manifest.name, "Search Trains");
        assert_eq!(skill.manifest.tags, ["travel"]);

        let again = scaffold(root.path(), &id).unwrap_err();
        assert!(matches!(again, ScaffoldError::Exists { .. }), "{again}");
    }
}
