//! A webhook envelope's attachments come from the sender: checking them must never panic,
//! must refuse anything not strictly valid before writing, and a sender's filename never
//! becomes a path.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skillos_engine::webhooks::attachments::{Storage, sanitize_filename};
use skillos_store::TenantId;

fn storage() -> &'static (tempfile::TempDir, Storage) {
    static STORAGE: OnceLock<(tempfile::TempDir, Storage)> = OnceLock::new();
    STORAGE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let storage = Storage::new(dir.path(), 64 * 1024);
        (dir, storage)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let (_, storage) = storage();
    let tenant = TenantId::default_tenant();
    if let Ok(references) = storage.ingest(&tenant, envelope.get("attachments")) {
        for reference in references {
            let name = reference["filename"].as_str().unwrap_or_default();
            assert!(!name.contains('/') && !name.contains('\\') && name != "..", "{name:?}");
        }
    }
    if let Some(name) = envelope.get("filename").and_then(|name| name.as_str()) {
        let clean = sanitize_filename(name);
        assert!(!clean.contains('/') && !clean.contains('\\'), "{clean:?}");
    }
});
