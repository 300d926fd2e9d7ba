//! Runner tokens: each is kept as a SHA-256 digest, scoped to one tenant and to skill-id
//! patterns, and compared in constant time.

use skillos_store::TenantId;

use super::{constant_time_eq, sha256};
use skillos_engine::auth::glob_matches;

/// What a runner token allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerGrant {
    pub tenant: TenantId,
    /// Skill-id patterns: exact ids, or `*` standing for any run of characters.
    pub patterns: Vec<String>,
}

impl RunnerGrant {
    pub fn allows(&self, skill_id: &str) -> bool {
        self.patterns
            .iter()
            .any(|pattern| glob_matches(pattern, skill_id))
    }
}

/// The configured runner tokens, kept as SHA-256 digests and compared in constant time.
#[derive(Clone, Debug, Default)]
pub struct RunnerTokens {
    grants: Vec<([u8; 32], RunnerGrant)>,
}

impl RunnerTokens {
    pub fn new(tokens: &[crate::config::RunnerTokenConfig]) -> Self {
        let grants = tokens
            .iter()
            .map(|token| {
                let grant = RunnerGrant {
                    tenant: TenantId::new(token.tenant.clone()),
                    patterns: token.skills.clone(),
                };
                (sha256(token.token.as_bytes()), grant)
            })
            .collect();
        Self { grants }
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// The grant of the token in `authorization: Bearer <token>`, if it is a configured one.
    pub fn authenticate<T>(&self, request: &tonic::Request<T>) -> Option<RunnerGrant> {
        let header = request.metadata().get("authorization")?.to_str().ok()?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))?;
        let presented = sha256(token.trim().as_bytes());
        let mut found = None;
        // Every grant is compared, so the time taken does not tell which one matched.
        for (known, grant) in &self.grants {
            if constant_time_eq(known, &presented) && found.is_none() {
                found = Some(grant.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_tokens_authenticate_by_bearer_header_only() {
        let tokens = RunnerTokens::new(&[crate::config::RunnerTokenConfig {
            token: "finance-runner-token-0001".into(),
            tenant: "default".into(),
            skills: vec!["finance/*".into()],
        }]);
        let mut request = tonic::Request::new(());
        assert_eq!(tokens.authenticate(&request), None);
        request.metadata_mut().insert(
            "authorization",
            "Bearer wrong-token-wrong-token".parse().unwrap(),
        );
        assert_eq!(tokens.authenticate(&request), None);
        request.metadata_mut().insert(
            "authorization",
            "Bearer finance-runner-token-0001".parse().unwrap(),
        );
        let grant = tokens.authenticate(&request).unwrap();
        assert!(grant.allows("finance/convert_currency"));
        assert!(!grant.allows("travel/search_flights"));
    }
}
