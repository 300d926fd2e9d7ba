//! Policy files are written by operators and reloaded while the server runs: parsing must
//! never panic, and a file that parses decides every check without panicking, the same way
//! twice.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skillos_engine::auth::Principal;
use skillos_engine::policy::Policies;
use skillos_store::TenantId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policies) = Policies::from_text(text) else { return };
    let mut principal = Principal::new("fuzz", TenantId::default_tenant(), vec!["ops".into(), "admin".into()]);
    principal.attributes.insert("department".into(), "travel".into());
    for skill in ["a/b", "travel/search_flights", "x/y"] {
        let first = policies.check_skill(&principal, skill, &["dangerous".into()]);
        let again = policies.check_skill(&principal, skill, &["dangerous".into()]);
        assert_eq!(first.allowed, again.allowed);
    }
    let _ = policies.check_permission(&principal, "skills:manage");
    let _ = policies.approval_requirement(&principal.tenant, "a/b", None, &serde_json::json!({"amount": 5}));
});
