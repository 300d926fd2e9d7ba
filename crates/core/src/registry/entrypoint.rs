//! Static check of a skill's entrypoint against the Python files of the root.
//!
//! The server never imports skill code (runners do), so the check is textual: the module must
//! resolve to a file the way the predecessor resolved it, and the file must define the function
//! at top level (`def f(`, `async def f(` or an assignment `f =`).

use std::path::{Path, PathBuf};

use crate::manifest::Entrypoint;

pub(super) fn check(root: &Path, entrypoint: &Entrypoint) -> Result<(), String> {
    let candidates = module_files(root, &entrypoint.module);
    let Some(file) = candidates.iter().find(|path| path.is_file()) else {
        let tried: Vec<String> = candidates
            .iter()
            .map(|path| {
                path.strip_prefix(root)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .collect();
        return Err(format!(
            "module {} not found (looked for {})",
            entrypoint.module,
            tried.join(", ")
        ));
    };
    // Messages name files relative to the root: they reach API clients.
    let relative = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let source = std::fs::read_to_string(file)
        .map_err(|error| format!("cannot read {relative}: {}", error.kind()))?;
    if defines(&source, &entrypoint.function) {
        Ok(())
    } else {
        Err(format!(
            "{relative} defines no top-level function {}",
            entrypoint.function
        ))
    }
}

fn module_files(root: &Path, module: &str) -> Vec<PathBuf> {
    let relative: PathBuf = module.split('.').collect();
    let mut candidates = vec![
        root.join(&relative).with_extension("py"),
        root.join(&relative).join("__init__.py"),
    ];
    if !module
        .split('.')
        .any(|segment| segment == "implementations")
    {
        let nested = root.join("implementations").join(&relative);
        candidates.push(nested.with_extension("py"));
        candidates.push(nested.join("__init__.py"));
    }
    candidates
}

fn defines(source: &str, function: &str) -> bool {
    source.lines().any(|line| {
        let rest = line
            .strip_prefix("async def ")
            .or_else(|| line.strip_prefix("def "));
        if let Some(rest) = rest {
            return rest
                .strip_prefix(function)
                .is_some_and(|after| after.trim_start().starts_with('('));
        }
        line.strip_prefix(function).is_some_and(|after| {
            let after = after.trim_start();
            after.starts_with('=') && !after.starts_with("==")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::defines;

    #[test]
    fn finds_top_level_definitions_only() {
        let source = "import x\n\ndef run(payload, ctx=None):\n    def inner():\n        pass\n";
        assert!(defines(source, "run"));
        assert!(!defines(source, "inner"));
        assert!(!defines(source, "ru"));
        assert!(defines("async def go (p):\n  pass\n", "go"));
        assert!(defines("handler = make_handler()\n", "handler"));
        assert!(!defines("handler == 1\n", "handler"));
    }
}
