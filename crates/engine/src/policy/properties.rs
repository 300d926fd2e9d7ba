//! Properties of the permission evaluator over generated policy files and callers: deny wins,
//! default deny once a file exists, caller attributes never replace evaluation keys, and a
//! decision does not change when it is asked again (the cache).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use skillos_store::TenantId;

use super::Service;
use crate::auth::Principal;

const ROLES: [&str; 3] = ["ops", "dev", "guest"];
const PERMISSIONS: [&str; 3] = ["p:run", "p:read", "p:*"];
const GLOBS: [&str; 5] = ["*", "a/*", "a/one", "b/*", "a.two"];
const SKILLS: [&str; 4] = ["a/one", "a/two", "b/three", "c/four"];

/// A policy file: roles to permissions, skill globs to required permissions, ABAC rules.
fn policy_file() -> impl Strategy<Value = serde_json::Value> {
    let roles = proptest::collection::btree_map(
        proptest::sample::select(&ROLES[..]),
        proptest::collection::vec(proptest::sample::select(&PERMISSIONS[..]), 0..3),
        0..3,
    );
    let rules = proptest::collection::vec(
        (
            proptest::sample::select(&GLOBS[..]),
            proptest::collection::vec(proptest::sample::select(&PERMISSIONS[..2]), 0..2),
        ),
        0..4,
    );
    let abac = proptest::collection::vec(
        (
            proptest::sample::select(&GLOBS[..]),
            any::<bool>(),
            proptest::sample::select(&ROLES[..]),
        ),
        0..3,
    );
    (roles, rules, abac).prop_map(|(roles, rules, abac)| {
        let policies: Vec<_> = rules
            .iter()
            .enumerate()
            .map(|(i, (glob, required))| {
                json!({"skill_id": glob, "required_permissions": required, "policy_id": format!("r{i}")})
            })
            .collect();
        let abac: Vec<_> = abac
            .iter()
            .enumerate()
            .map(|(i, (glob, allow, role))| {
                json!({"skill_id": glob, "effect": if *allow { "allow" } else { "deny" },
                       "conditions": {"role": [role]}, "policy_id": format!("a{i}")})
            })
            .collect();
        json!({"roles": roles, "policies": policies, "abac_policies": abac})
    })
}

fn caller() -> impl Strategy<Value = Principal> {
    proptest::collection::vec(proptest::sample::select(&ROLES[..]), 0..3).prop_map(|roles| {
        Principal::new(
            "someone",
            TenantId::default_tenant(),
            roles.into_iter().map(str::to_owned).collect(),
        )
    })
}

fn skill() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&SKILLS[..])
}

fn allowed(policies: &Service, principal: &Principal, skill: &str) -> bool {
    policies.check_skill(principal, skill, &[]).allowed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_applying_deny_wins_over_anything_that_grants(
        file in policy_file(), principal in caller(), skill in skill(), role in proptest::sample::select(&ROLES[..]),
    ) {
        let mut file = file;
        file["abac_policies"].as_array_mut().unwrap().push(
            json!({"skill_id": "*", "effect": "deny", "conditions": {"role": [role]}, "policy_id": "deny-all"}));
        let policies = Service::from_text(&file.to_string()).unwrap();
        let mut principal = principal;
        principal.roles.push(role.to_owned());
        prop_assert!(!allowed(&policies, &principal, skill));
    }

    #[test]
    fn a_skill_no_policy_names_is_denied(file in policy_file(), principal in caller()) {
        let policies = Service::from_text(&file.to_string()).unwrap();
        // No glob of the generator matches c/four except `*`.
        let names_it = file["policies"].as_array().unwrap().iter()
            .chain(file["abac_policies"].as_array().unwrap())
            .any(|rule| rule["skill_id"] == "*");
        if !names_it {
            prop_assert!(!allowed(&policies, &principal, "c/four"));
        }
    }

    #[test]
    fn caller_attributes_never_replace_evaluation_keys(
        file in policy_file(), principal in caller(), skill in skill(),
        values in proptest::collection::vec(proptest::sample::select(&ROLES[..]), 5),
    ) {
        let policies = Service::from_text(&file.to_string()).unwrap();
        let before = allowed(&policies, &principal, skill);
        let mut smuggler = principal.clone();
        let keys = ["role", "tags", "skill_id", "tenant", "subject"];
        smuggler.attributes = keys.iter().zip(&values)
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>();
        prop_assert_eq!(allowed(&policies, &smuggler, skill), before);
    }

    #[test]
    fn a_decision_is_the_same_when_asked_again(
        file in policy_file(), principal in caller(), skill in skill(),
    ) {
        let policies = Service::from_text(&file.to_string()).unwrap();
        let first = policies.check_skill(&principal, skill, &[]);
        let again = policies.check_skill(&principal, skill, &[]);
        prop_assert_eq!(first.allowed, again.allowed);
        prop_assert_eq!(first.policy_id, again.policy_id);
    }
}
