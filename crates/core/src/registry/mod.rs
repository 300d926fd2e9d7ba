//! The skill registry: the skills of a skills root, loaded from `metadata/**/*.y{a,}ml`, and
//! the compositions among them (`compositions/**/*.json`, see [`compositions`]).
//!
//! Loading never fails because of one file: an invalid manifest is reported as an [`Issue`] with
//! its path and reason, and every other skill is still served. The current [`Catalog`] is an
//! immutable snapshot behind a lock that is held only to clone an `Arc`, so a reload (on a file
//! change, see [`watch`]) never blocks requests.

mod compositions;
mod entrypoint;
pub mod flows;
mod scaffold;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use scaffold::{Scaffolded, scaffold};
pub use watch::Watcher;

use crate::flow::Composition;
use crate::manifest::{self, Manifest, ProblemKind};
use crate::skill_id::SkillId;

/// Folder of the manifests inside a skills root.
pub const METADATA_DIR: &str = "metadata";
/// Folder of the compositions inside a skills root.
pub const COMPOSITIONS_DIR: &str = "compositions";
/// Folder of the flows inside a skills root.
pub const FLOWS_DIR: &str = "flows";
/// Requests the root does not serve, relative to the root.
pub const OUT_OF_SCOPE_FILE: &str = "routing/out_of_scope.yaml";
/// Most out-of-scope examples a root may list, and their longest length.
const MAX_OUT_OF_SCOPE: usize = 1000;
const MAX_OUT_OF_SCOPE_CHARS: usize = 500;

/// Reads `routing/out_of_scope.yaml` (`out_of_scope: [request, ...]`); a missing file is an
/// empty list, a malformed one an error issue and an empty list.
fn load_out_of_scope(root: &Path, issues: &mut Vec<Issue>) -> Vec<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        out_of_scope: Vec<String>,
    }
    let path = root.join(OUT_OF_SCOPE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            let message = format!("cannot read: {error}");
            issues.push(Issue::error(OUT_OF_SCOPE_FILE, Category::Io, message, None));
            return Vec::new();
        }
    };
    let file: File = match serde_norway::from_str(&text) {
        Ok(file) => file,
        Err(error) => {
            let message = format!("expected `out_of_scope:` with a list of requests: {error}");
            issues.push(Issue::error(
                OUT_OF_SCOPE_FILE,
                Category::Syntax,
                message,
                None,
            ));
            return Vec::new();
        }
    };
    let mut requests: Vec<String> = Vec::new();
    for request in file.out_of_scope {
        let request = request.trim().to_owned();
        if !request.is_empty() && !requests.contains(&request) {
            requests.push(request);
        }
    }
    if requests.len() > MAX_OUT_OF_SCOPE
        || requests
            .iter()
            .any(|r| r.chars().count() > MAX_OUT_OF_SCOPE_CHARS)
    {
        let message = format!(
            "at most {MAX_OUT_OF_SCOPE} requests of at most {MAX_OUT_OF_SCOPE_CHARS} characters"
        );
        issues.push(Issue::error(
            OUT_OF_SCOPE_FILE,
            Category::Metadata,
            message,
            None,
        ));
        return Vec::new();
    }
    requests
}

/// A skill as loaded from the root.
#[derive(Clone, Debug, PartialEq)]
pub struct Skill {
    pub manifest: Manifest,
    /// Path of the manifest relative to the root, with `/` separators.
    pub source_path: String,
    /// Set when the skill is a composition of others: its steps, run by the server itself.
    pub composition: Option<Composition>,
    /// Set when the skill is a flow of the root (`flows/`): run by the server as a durable
    /// flow run.
    pub flow: Option<Arc<crate::flow::Flow>>,
}

impl Skill {
    pub fn id(&self) -> &SkillId {
        &self.manifest.id
    }

    /// The server runs it itself (a composition or a flow), not a runner.
    pub fn run_by_server(&self) -> bool {
        self.composition.is_some() || self.flow.is_some()
    }
}

/// One problem found in a skills root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Path relative to the root, with `/` separators.
    pub path: String,
    pub category: Category,
    pub severity: Severity,
    pub message: String,
    pub skill_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Syntax,
    Metadata,
    DuplicateId,
    Entrypoint,
    Composition,
    Flow,
    Io,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Metadata => "metadata",
            Self::DuplicateId => "duplicate_id",
            Self::Entrypoint => "entrypoint",
            Self::Composition => "composition",
            Self::Flow => "flow",
            Self::Io => "io",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file's skill is not served.
    Error,
    /// The skill is served.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// An immutable snapshot of a skills root.
#[derive(Debug, Default)]
pub struct Catalog {
    skills: BTreeMap<SkillId, Arc<Skill>>,
    /// The compositions among the skills, so that the request path (routing, job claims)
    /// looks at them without walking the whole catalog.
    compositions: Vec<Arc<Skill>>,
    /// The flows of the root that passed their checks.
    flows: Vec<Arc<crate::flow::Flow>>,
    issues: Vec<Issue>,
    out_of_scope: Vec<String>,
}

impl Catalog {
    /// Loads every manifest under `<root>/metadata`. A missing metadata folder is an empty catalog.
    pub fn load(root: &Path) -> Self {
        let metadata_dir = root.join(METADATA_DIR);
        let mut issues = Vec::new();
        let mut files = Vec::new();
        if metadata_dir.is_dir() {
            collect_files(root, &metadata_dir, is_manifest, &mut files, &mut issues);
        }
        files.sort();

        let mut skills: BTreeMap<SkillId, Arc<Skill>> = BTreeMap::new();
        for path in files {
            let relative = relative_path(root, &path);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    issues.push(Issue::error(
                        &relative,
                        Category::Io,
                        format!("cannot read: {error}"),
                        None,
                    ));
                    continue;
                }
            };
            let parsed = manifest::parse(&text);
            for problem in &parsed.problems {
                let (category, severity) = match problem.kind {
                    ProblemKind::Syntax => (Category::Syntax, Severity::Error),
                    ProblemKind::Field => (Category::Metadata, Severity::Error),
                    ProblemKind::Warning => (Category::Metadata, Severity::Warning),
                };
                issues.push(Issue {
                    path: relative.clone(),
                    category,
                    severity,
                    message: problem.message.clone(),
                    skill_id: parsed.declared_id.clone(),
                });
            }
            let Some(manifest) = parsed.manifest else {
                continue;
            };
            if let Some(first) = skills.get(&manifest.id) {
                let message = format!(
                    "skill id {} is declared by both {} and {}; the first is served",
                    manifest.id, first.source_path, relative
                );
                let skill_id = Some(manifest.id.to_string());
                issues.push(Issue::error(
                    &relative,
                    Category::DuplicateId,
                    message,
                    skill_id,
                ));
                continue;
            }
            let expected = format!(
                "{METADATA_DIR}/{}/{}.",
                manifest.id.domain(),
                manifest.id.name()
            );
            if !relative.starts_with(&expected) {
                issues.push(Issue {
                    path: relative.clone(),
                    category: Category::Metadata,
                    severity: Severity::Warning,
                    message: format!(
                        "skill {} is usually kept in {expected}yaml; the id, not the path, names it",
                        manifest.id
                    ),
                    skill_id: Some(manifest.id.to_string()),
                });
            }
            let skill = Skill {
                manifest,
                source_path: relative,
                composition: None,
                flow: None,
            };
            skills.insert(skill.id().clone(), Arc::new(skill));
        }
        compositions::load(root, &mut skills, &mut issues);
        let flows = flows::load(root, &mut skills, &mut issues);
        let out_of_scope = load_out_of_scope(root, &mut issues);
        issues.sort_by(|a, b| (&a.path, a.category).cmp(&(&b.path, b.category)));
        let compositions = skills
            .values()
            .filter(|skill| skill.composition.is_some())
            .cloned()
            .collect();
        Self {
            skills,
            compositions,
            flows,
            issues,
            out_of_scope,
        }
    }

    /// Loads the root and, when asked, checks every entrypoint against the Python files.
    pub fn validate(root: &Path, check_entrypoints: bool) -> Self {
        let mut catalog = Self::load(root);
        if check_entrypoints {
            let mut entrypoint_issues: Vec<Issue> = catalog
                .skills
                .values()
                .filter(|skill| !skill.run_by_server())
                .filter_map(|skill| {
                    entrypoint::check(root, &skill.manifest.entrypoint)
                        .err()
                        .map(|message| {
                            Issue::error(
                                &skill.source_path,
                                Category::Entrypoint,
                                message,
                                Some(skill.id().to_string()),
                            )
                        })
                })
                .collect();
            catalog.issues.append(&mut entrypoint_issues);
            catalog
                .issues
                .sort_by(|a, b| (&a.path, a.category).cmp(&(&b.path, b.category)));
        }
        catalog
    }

    pub fn get(&self, id: &SkillId) -> Option<&Arc<Skill>> {
        self.skills.get(id)
    }

    /// The compositions, ordered by id.
    pub fn compositions(&self) -> impl Iterator<Item = &Arc<Skill>> {
        self.compositions.iter()
    }

    /// Skills ordered by id.
    pub fn skills(&self) -> impl Iterator<Item = &Arc<Skill>> {
        self.skills.values()
    }

    pub fn len(&self) -> usize {
        self.skills.len()
    }

    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }

    /// Requests this root does not serve (`routing/out_of_scope.yaml`), which routing uses
    /// to recognise requests for no skill.
    pub fn out_of_scope(&self) -> &[String] {
        &self.out_of_scope
    }

    /// The root's flows that passed their checks, by id.
    pub fn flows(&self) -> &[Arc<crate::flow::Flow>] {
        &self.flows
    }

    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// True when no issue has severity error.
    pub fn is_valid(&self) -> bool {
        self.issues
            .iter()
            .all(|issue| issue.severity != Severity::Error)
    }
}

impl Issue {
    fn error(path: &str, category: Category, message: String, skill_id: Option<String>) -> Self {
        Self {
            path: path.to_owned(),
            category,
            severity: Severity::Error,
            message,
            skill_id,
        }
    }
}

/// The live registry of one skills root.
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    current: RwLock<Arc<Catalog>>,
    reloads: AtomicU64,
}

/// Why a registry cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("skills root {0} does not exist or is not a directory")]
    RootMissing(PathBuf),
    #[error("cannot watch skills root {path}: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

impl Registry {
    /// Opens a skills root and loads it.
    pub fn open(root: impl Into<PathBuf>) -> Result<Arc<Self>, Error> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::RootMissing(root));
        }
        // Watch events carry absolute, resolved paths; compare them with a resolved root.
        let root = root.canonicalize().unwrap_or(root);
        let catalog = Catalog::load(&root);
        log_catalog(&root, &catalog);
        Ok(Arc::new(Self {
            root,
            current: RwLock::new(Arc::new(catalog)),
            reloads: AtomicU64::new(0),
        }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many times the root was reloaded since it was opened.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Reloads the root from disk and swaps the snapshot in.
    pub fn reload(&self) -> Arc<Catalog> {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let catalog = Arc::new(Catalog::load(&self.root));
        log_catalog(&self.root, &catalog);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = catalog.clone();
        catalog
    }
}

fn log_catalog(root: &Path, catalog: &Catalog) {
    let errors = catalog
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    tracing::info!(root = %root.display(), skills = catalog.len(), errors, "skills root loaded");
    for issue in &catalog.issues {
        match issue.severity {
            Severity::Error => {
                tracing::warn!(path = %issue.path, category = issue.category.as_str(), "{}", issue.message)
            }
            Severity::Warning => {
                tracing::info!(path = %issue.path, category = issue.category.as_str(), "{}", issue.message)
            }
        }
    }
}

/// The files under `dir` that `accept` takes, at any depth.
fn collect_files(
    root: &Path,
    dir: &Path,
    accept: fn(&Path) -> bool,
    files: &mut Vec<PathBuf>,
    issues: &mut Vec<Issue>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            let path = relative_path(root, dir);
            issues.push(Issue::error(
                &path,
                Category::Io,
                format!("cannot list: {error}"),
                None,
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            collect_files(root, &path, accept, files, issues);
        } else if accept(&path) {
            files.push(path);
        }
    }
}

pub(crate) fn is_manifest(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
