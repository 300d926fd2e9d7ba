//! Who is calling. Until credentials are configured, every caller is the anonymous principal of
//! the default tenant; request bodies and headers never choose the tenant or the subject.

use skillos_store::TenantId;

/// The verified identity a request runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub tenant: TenantId,
}

impl Principal {
    pub const ANONYMOUS: &'static str = "anonymous";

    pub fn anonymous() -> Self {
        Self {
            subject: Self::ANONYMOUS.to_owned(),
            tenant: TenantId::default_tenant(),
        }
    }
}

/// The principal of a gRPC request.
pub fn principal<T>(_request: &tonic::Request<T>) -> Principal {
    Principal::anonymous()
}

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
                (digest(&token.token), grant)
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
        let presented = digest(token.trim());
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

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
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
        ] {
            assert_eq!(glob_matches(pattern, id), expected, "{pattern} ~ {id}");
        }
    }

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
