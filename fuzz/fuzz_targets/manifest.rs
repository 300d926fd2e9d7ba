//! Skill manifests and ids come from files and requests anyone may write: parsing them must
//! never panic, and a manifest is produced exactly when no problem is fatal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skillos_core::SkillId;
use skillos_core::manifest::{ProblemKind, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = parse(text);
    let fatal = parsed.problems.iter().any(|problem| problem.kind != ProblemKind::Warning);
    assert_eq!(parsed.manifest.is_some(), !fatal);
    if let Ok(id) = SkillId::parse(text) {
        assert_eq!(SkillId::parse(&id.public()).unwrap(), id);
    }
});
