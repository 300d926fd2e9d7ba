use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

fn manifest(id: &str) -> String {
    let (domain, name) = id.split_once('/').unwrap();
    format!(
        "id: {id}\nname: {name}\ndescription: test skill {id}\nversion: 1.0.0\n\
         entrypoint: implementations.{domain}.{name}:run\ntags: [{domain}]\n"
    )
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn one_invalid_file_does_not_stop_the_others() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(root.path(), "metadata/b/two.yml", &manifest("b/two"));
    write(
        root.path(),
        "metadata/b/broken.yaml",
        "id: b/broken\nname: [unclosed\n",
    );
    write(root.path(), "metadata/notes.txt", "not a manifest");

    let catalog = Catalog::load(root.path());
    let ids: Vec<String> = catalog.skills().map(|s| s.id().to_string()).collect();
    assert_eq!(ids, ["a/one", "b/two"]);
    assert!(!catalog.is_valid());
    let issue = &catalog.issues()[0];
    assert_eq!(issue.path, "metadata/b/broken.yaml");
    assert_eq!(issue.category, Category::Syntax);
    assert_eq!(issue.severity, Severity::Error);
}

#[test]
fn duplicate_ids_name_both_files_and_keep_the_first() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(
        root.path(),
        "metadata/z/copy.yaml",
        &manifest("a/one").replace("test skill", "copy of"),
    );

    let catalog = Catalog::load(root.path());
    assert_eq!(catalog.len(), 1);
    let skill = catalog.get(&SkillId::parse("a/one").unwrap()).unwrap();
    assert_eq!(skill.source_path, "metadata/a/one.yaml");
    let issue = &catalog.issues()[0];
    assert_eq!(issue.category, Category::DuplicateId);
    assert!(
        issue.message.contains("metadata/a/one.yaml"),
        "{}",
        issue.message
    );
    assert!(
        issue.message.contains("metadata/z/copy.yaml"),
        "{}",
        issue.message
    );
    assert_eq!(issue.skill_id.as_deref(), Some("a/one"));
}

#[test]
fn a_root_without_metadata_is_empty_and_a_missing_root_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let catalog = Catalog::load(root.path());
    assert!(catalog.is_empty() && catalog.is_valid());
    assert!(matches!(
        Registry::open(root.path().join("nope")),
        Err(Error::RootMissing(_))
    ));
}

#[test]
fn entrypoints_are_checked_only_when_asked() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(root.path(), "metadata/a/two.yaml", &manifest("a/two"));
    write(
        root.path(),
        "implementations/a/one.py",
        "def run(payload, ctx=None):\n    return {}\n",
    );
    write(
        root.path(),
        "implementations/a/two.py",
        "def other(payload):\n    return {}\n",
    );

    assert!(Catalog::validate(root.path(), false).is_valid());
    let catalog = Catalog::validate(root.path(), true);
    let issues: Vec<_> = catalog
        .issues()
        .iter()
        .map(|i| (i.path.as_str(), i.category))
        .collect();
    assert_eq!(issues, [("metadata/a/two.yaml", Category::Entrypoint)]);
    assert!(
        catalog.issues()[0]
            .message
            .contains("defines no top-level function run")
    );
}

#[test]
fn watched_root_picks_up_changes() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    let registry = Registry::open(root.path()).unwrap();
    let _watcher = registry.watch(Duration::from_millis(50)).unwrap();

    write(root.path(), "metadata/a/two.yaml", &manifest("a/two"));
    wait_until(|| registry.catalog().len() == 2);

    // A reload reads every manifest; reading must not count as a change (no reload loop).
    std::thread::sleep(Duration::from_millis(300));
    let settled = registry.reloads();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        registry.reloads(),
        settled,
        "the registry kept reloading with nothing changed"
    );

    write(
        root.path(),
        "metadata/a/two.yaml",
        "id: a/two\nversion: [\n",
    );
    wait_until(|| registry.catalog().len() == 1 && !registry.catalog().is_valid());

    std::fs::remove_file(root.path().join("metadata/a/two.yaml")).unwrap();
    wait_until(|| registry.catalog().len() == 1 && registry.catalog().is_valid());
}

fn wait_until(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_manifest_outside_its_domain_folder_is_served_with_a_warning() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/misc/one.yaml", &manifest("a/one"));
    let catalog = Catalog::load(root.path());
    assert_eq!(catalog.len(), 1);
    assert!(catalog.is_valid());
    let issue = &catalog.issues()[0];
    assert_eq!(
        (issue.severity, issue.category),
        (Severity::Warning, Category::Metadata)
    );
    assert!(
        issue.message.contains("metadata/a/one.yaml"),
        "{}",
        issue.message
    );
}

#[test]
fn out_of_scope_requests_are_read_from_the_routing_folder() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    assert!(Catalog::load(root.path()).out_of_scope().is_empty());

    write(
        root.path(),
        OUT_OF_SCOPE_FILE,
        "out_of_scope:\n- ' set a timer '\n- Какая погода?\n- set a timer\n",
    );
    let catalog = Catalog::load(root.path());
    assert_eq!(catalog.out_of_scope(), ["set a timer", "Какая погода?"]);
    assert!(catalog.is_valid());

    write(root.path(), OUT_OF_SCOPE_FILE, "out_of_scope: just one\n");
    let catalog = Catalog::load(root.path());
    assert!(catalog.out_of_scope().is_empty());
    assert_eq!(catalog.issues()[0].path, OUT_OF_SCOPE_FILE);
    assert!(!catalog.is_valid());
    assert_eq!(catalog.len(), 1, "the skills are still served");
}

/// The metadata file the predecessor writes for a composition.
fn composed_manifest(id: &str) -> String {
    let (_, name) = id.split_once('/').unwrap();
    format!(
        "id: {id}\nname: {name}\ndescription: composed {id}\nversion: 0.1.0\n\
         entrypoint: skillos.composition:run_composed_skill\ntags: [composed]\n"
    )
}

fn composition(id: &str, steps: &str) -> String {
    format!(r#"{{"id": "{id}", "steps": {steps}, "version": "0.1.0", "active": true}}"#)
}

#[test]
fn a_composition_is_a_skill_of_the_catalog_with_its_steps() {
    let root = tempfile::tempdir().unwrap();
    for id in ["a/one", "a/two", "a/three"] {
        let (domain, name) = id.split_once('/').unwrap();
        write(
            root.path(),
            &format!("metadata/{domain}/{name}.yaml"),
            &manifest(id),
        );
    }
    write(
        root.path(),
        "metadata/c/both.yaml",
        &composed_manifest("c/both"),
    );
    write(
        root.path(),
        "compositions/c/both.json",
        &composition("c/both", r#"["a/one", ["a/two", "a/three"]]"#),
    );
    write(
        root.path(),
        "metadata/c/outer.yaml",
        &composed_manifest("c/outer"),
    );
    write(
        root.path(),
        "compositions/c/outer.json",
        &composition("c/outer", r#"["c/both", "a/one"]"#),
    );

    let catalog = Catalog::validate(root.path(), true);
    let both = catalog.get(&SkillId::parse("c/both").unwrap()).unwrap();
    let steps = &both.composition.as_ref().unwrap().definition;
    assert_eq!(steps.to_string(), "a/one -> a/two|a/three");
    assert!(
        catalog
            .get(&SkillId::parse("c/outer").unwrap())
            .unwrap()
            .composition
            .is_some()
    );
    // The composition entrypoint is not a Python function to check.
    let entrypoint_issues: Vec<_> = catalog
        .issues()
        .iter()
        .filter(|issue| {
            issue
                .skill_id
                .as_deref()
                .is_some_and(|id| id.starts_with("c/"))
        })
        .collect();
    assert!(entrypoint_issues.is_empty(), "{entrypoint_issues:?}");
}

#[test]
fn unknown_steps_cycles_and_missing_halves_are_errors_and_not_served() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    let composed = [
        ("c/unknown", r#"["a/one", "a/missing"]"#),
        ("c/ping", r#"["a/one", "c/pong"]"#),
        ("c/pong", r#"[["a/one", "c/ping"]]"#),
        ("c/self", r#"["c/self"]"#),
        // Its only step is removed for its cycle, so it is left with an unknown step.
        ("c/uses_ping", r#"["c/ping"]"#),
    ];
    for (id, steps) in composed {
        let name = id.split_once('/').unwrap().1;
        write(
            root.path(),
            &format!("metadata/c/{name}.yaml"),
            &composed_manifest(id),
        );
        write(
            root.path(),
            &format!("compositions/c/{name}.json"),
            &composition(id, steps),
        );
    }
    // A composition without its metadata, and metadata without its composition.
    write(
        root.path(),
        "compositions/c/orphan.json",
        &composition("c/orphan", r#"["a/one"]"#),
    );
    write(
        root.path(),
        "metadata/c/hollow.yaml",
        &composed_manifest("c/hollow"),
    );
    write(
        root.path(),
        "compositions/c/broken.json",
        r#"{"id": "c/broken", "steps": []}"#,
    );

    let catalog = Catalog::load(root.path());
    let ids: Vec<String> = catalog.skills().map(|s| s.id().to_string()).collect();
    assert_eq!(ids, ["a/one"], "{:?}", catalog.issues());
    let message = |id: &str| {
        catalog
            .issues()
            .iter()
            .find(|issue| issue.skill_id.as_deref() == Some(id))
            .map(|issue| (issue.path.clone(), issue.category, issue.message.clone()))
            .unwrap_or_else(|| panic!("no issue for {id}: {:?}", catalog.issues()))
    };
    assert_eq!(
        message("c/unknown"),
        (
            "compositions/c/unknown.json".to_owned(),
            Category::Composition,
            "Unknown skills: a/missing".to_owned()
        )
    );
    assert!(
        message("c/ping")
            .2
            .starts_with("Composition cycle detected: c/ping -> c/pong -> c/ping")
    );
    assert!(message("c/self").2.contains("c/self -> c/self"));
    assert_eq!(message("c/uses_ping").2, "Unknown skills: c/ping");
    assert!(message("c/orphan").2.contains("has no metadata file"));
    assert_eq!(message("c/hollow").0, "metadata/c/hollow.yaml");
    let broken = catalog
        .issues()
        .iter()
        .find(|issue| issue.path == "compositions/c/broken.json")
        .unwrap();
    assert_eq!(broken.message, "Composition requires at least one step");
}

#[test]
fn a_compositions_folder_created_later_is_watched() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(
        root.path(),
        "metadata/c/both.yaml",
        &composed_manifest("c/both"),
    );
    let registry = Registry::open(root.path()).unwrap();
    assert_eq!(registry.catalog().len(), 1, "no composition file yet");
    let _watcher = registry.watch(Duration::from_millis(50)).unwrap();

    write(
        root.path(),
        "compositions/c/both.json",
        &composition("c/both", r#"["a/one"]"#),
    );
    wait_until(|| registry.catalog().len() == 2);
    // Changes inside the new folder count too.
    write(
        root.path(),
        "compositions/c/both.json",
        &composition("c/both", r#"["a/one", "a/one"]"#),
    );
    wait_until(|| {
        let catalog = registry.catalog();
        let both = catalog.get(&SkillId::parse("c/both").unwrap());
        both.and_then(|skill| skill.composition.as_ref())
            .is_some_and(|composition| composition.definition.steps.len() == 2)
    });
}

const FLOW: &str = "id: f/demo\nversion: 1.2.0\ndescription: Runs one then two\n\
    tags: [Demo]\nsteps:\n  - {name: first, skill: a/one}\n  - {name: second, skill: a/two, \
    input: {n: \"${{ steps.first.output.n }}\"}}\n";

#[test]
fn a_flow_is_a_skill_of_the_catalog_and_its_mistakes_are_issues() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(root.path(), "metadata/a/two.yaml", &manifest("a/two"));
    write(root.path(), "flows/f/demo.yaml", FLOW);
    write(
        root.path(),
        "flows/f/unknown.yaml",
        &FLOW
            .replace("f/demo", "f/unknown")
            .replace("a/two", "a/nine"),
    );
    write(
        root.path(),
        "flows/f/broken.yaml",
        "id: f/broken\nsteps:\n  - {name: x, skill: a/one, input: \"${{ 1 + }}\"}\n",
    );
    write(
        root.path(),
        "flows/f/dup.yaml",
        &FLOW.replace("f/demo", "a/one"),
    );
    let catalog = Catalog::validate(root.path(), true);
    assert_eq!(catalog.flows().len(), 1, "{:?}", catalog.issues());
    let flow = &catalog.flows()[0];
    assert_eq!(flow.id.to_string(), "f/demo");
    assert_eq!(flow.description, "Runs one then two");
    assert_eq!(flow.tags, ["demo"]);
    assert_eq!(flow.source_path, "flows/f/demo.yaml");
    assert_eq!(flow.definition.steps.len(), 2);
    assert_eq!(catalog.len(), 3, "the flow is a skill of the catalog too");
    let skill = catalog.get(&flow.id).expect("the flow's skill");
    assert!(skill.flow.is_some() && skill.run_by_server());
    assert_eq!(skill.manifest.description, "Runs one then two");
    assert_eq!(skill.source_path, "flows/f/demo.yaml");
    let issue = |path: &str| {
        catalog
            .issues()
            .iter()
            .find(|issue| issue.path == path)
            .unwrap_or_else(|| panic!("no issue for {path}: {:?}", catalog.issues()))
            .clone()
    };
    assert!(issue("flows/f/unknown.yaml").message.contains("a/nine"));
    let broken = issue("flows/f/broken.yaml");
    assert_eq!(broken.category, Category::Flow);
    assert!(
        broken.message.starts_with("steps[0].input: column"),
        "{broken:?}"
    );
    assert_eq!(issue("flows/f/dup.yaml").category, Category::DuplicateId);
    assert!(
        catalog.issues().iter().all(
            |issue| issue.category != Category::Entrypoint || !issue.path.starts_with("flows/")
        ),
        "a flow has no Python entrypoint to check"
    );
}

#[test]
fn sub_flows_name_flows_of_the_root_that_do_not_call_back() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(root.path(), "metadata/a/two.yaml", &manifest("a/two"));
    write(root.path(), "flows/f/demo.yaml", FLOW);
    let calls = |id: &str, sub: &str| {
        format!(
            "id: {id}\nsteps:\n  - {{name: first, skill: a/one}}\n  - {{name: sub, flow: {sub}}}\n"
        )
    };
    write(
        root.path(),
        "flows/f/outer.yaml",
        &calls("f/outer", "f/demo"),
    );
    write(
        root.path(),
        "flows/f/nowhere.yaml",
        &calls("f/nowhere", "f/gone"),
    );
    write(
        root.path(),
        "flows/f/skill.yaml",
        &calls("f/skill", "a/one"),
    );
    write(root.path(), "flows/f/ping.yaml", &calls("f/ping", "f/pong"));
    write(root.path(), "flows/f/pong.yaml", &calls("f/pong", "f/ping"));
    write(
        root.path(),
        "flows/f/caller.yaml",
        &calls("f/caller", "f/ping"),
    );
    let catalog = Catalog::validate(root.path(), true);
    let mut kept: Vec<String> = catalog.flows().iter().map(|f| f.id.to_string()).collect();
    kept.sort();
    assert_eq!(kept, ["f/demo", "f/outer"], "{:?}", catalog.issues());
    let message = |path: &str| {
        catalog
            .issues()
            .iter()
            .find(|issue| issue.path == path)
            .unwrap_or_else(|| panic!("no issue for {path}: {:?}", catalog.issues()))
            .message
            .clone()
    };
    assert!(message("flows/f/nowhere.yaml").contains("sub-flow f/gone is not a flow"));
    assert!(message("flows/f/skill.yaml").contains("sub-flow a/one is not a flow"));
    assert!(message("flows/f/ping.yaml").contains("f/ping -> f/pong -> f/ping"));
    assert!(message("flows/f/pong.yaml").contains("f/pong -> f/ping -> f/pong"));
    // A flow that calls one of a cycle goes too, once the cycle is refused.
    assert!(message("flows/f/caller.yaml").contains("sub-flow f/ping is not a flow"));
}

#[test]
fn a_flows_folder_created_later_is_watched() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "metadata/a/one.yaml", &manifest("a/one"));
    write(root.path(), "metadata/a/two.yaml", &manifest("a/two"));
    let registry = Registry::open(root.path()).unwrap();
    let _watcher = registry.watch(Duration::from_millis(50)).unwrap();
    write(root.path(), "flows/f/demo.yaml", FLOW);
    wait_until(|| registry.catalog().flows().len() == 1);
}
