//! Who a request runs as: the principal model every stage decides on. How a credential
//! becomes a principal (JWTs, API keys) is the server's business; here a [`Principal`] is
//! already verified, and its tenant and roles come only from that credential.

use std::collections::BTreeMap;

use skillos_store::TenantId;

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Dev mode, no credential.
    Anonymous,
    Jwt,
    ApiKey,
    /// Recorded with a run held for approval, which runs later as its requester.
    Stored,
}

/// The verified identity a request runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub tenant: TenantId,
    pub roles: Vec<String>,
    /// Permissions the credential itself grants (a JWT's `permissions` or `scope`).
    pub permissions: Vec<String>,
    /// Verified attributes for ABAC conditions and skills (configured JWT claims).
    pub attributes: BTreeMap<String, String>,
    pub credential: Credential,
}

impl Principal {
    pub const ANONYMOUS: &'static str = "anonymous";
    /// The role that holds every permission unless the policies define it otherwise.
    pub const ADMIN_ROLE: &'static str = "admin";

    /// What a later run as this principal needs: the roles and attributes its credential
    /// carries now (kept with held runs and jobs).
    pub fn run_context(&self) -> RunContext {
        RunContext {
            roles: self.roles.clone(),
            attributes: self.attributes.clone(),
            ..RunContext::default()
        }
    }

    /// The principal a stored run executes as: the subject and tenant that made it, with the
    /// roles and attributes of its run context. Permissions the credential itself granted
    /// are not kept; policies decide from the roles.
    pub fn stored(subject: &str, tenant: &TenantId, context: RunContext) -> Self {
        Self {
            subject: subject.to_owned(),
            tenant: tenant.clone(),
            roles: context.roles,
            permissions: Vec::new(),
            attributes: context.attributes,
            credential: Credential::Stored,
        }
    }

    /// The dev-mode caller: the anonymous admin of the default tenant.
    pub fn anonymous() -> Self {
        Self {
            subject: Self::ANONYMOUS.to_owned(),
            tenant: TenantId::default_tenant(),
            roles: vec![Self::ADMIN_ROLE.to_owned()],
            permissions: Vec::new(),
            attributes: BTreeMap::new(),
            credential: Credential::Anonymous,
        }
    }

    /// A principal of `tenant` with `roles` (for API keys and tests).
    pub fn new(subject: impl Into<String>, tenant: TenantId, roles: Vec<String>) -> Self {
        Self {
            subject: subject.into(),
            tenant,
            roles,
            permissions: Vec::new(),
            attributes: BTreeMap::new(),
            credential: Credential::ApiKey,
        }
    }
}

/// What a stored run (held for approval, a job, a trigger's or a schedule's runs) runs with
/// later, as the store keeps it: the requester's roles and attributes, and for a held run its
/// timeout and trace context. Fields a newer server adds are ignored by an older one.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunContext {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The flow step a held run is (`<run id>:<path>`), given to the skill when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_key: Option<String>,
    /// The most a held flow step may cost when it runs (its share of the run's `max_cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance: Option<f64>,
}

impl RunContext {
    /// The stored JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The context stored as `value`; one that does not parse grants nothing.
    pub fn from_json(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `*` matches any run of characters (including `/`), `?` any one character; everything else
/// matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last `*`: linear in practice, never
    // exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        for (pattern, id, expected) in [
            ("*", "finance/convert", true),
            ("finance/*", "finance/convert", true),
            ("finance/*", "travel/search_flights", false),
            ("finance/convert", "finance/convert", true),
            ("finance/convert", "finance/convert_currency", false),
            ("*/search_*", "travel/search_flights", true),
            ("*/search_*", "travel/book", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("skills:*", "skills:run", true),
            ("*:read", "budgets:read", true),
            ("", "", true),
            ("", "a", false),
        ] {
            assert_eq!(glob_matches(pattern, id), expected, "{pattern} ~ {id}");
        }
    }

    #[test]
    fn a_run_context_round_trips_and_a_broken_one_grants_nothing() {
        let mut principal = Principal::new("ada", TenantId::default_tenant(), vec!["ops".into()]);
        principal.attributes.insert("team".into(), "blue".into());
        let stored = RunContext::from_json(&principal.run_context().to_json());
        let again = Principal::stored("ada", &principal.tenant, stored);
        assert_eq!(again.roles, principal.roles);
        assert_eq!(again.attributes, principal.attributes);
        let broken = RunContext::from_json(&serde_json::json!({"roles": "admin"}));
        assert!(broken.roles.is_empty());
    }
}
