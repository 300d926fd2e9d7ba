//! Who is calling: the first stage of every request.
//!
//! A caller presents `authorization: Bearer <credential>`, either a JWT (verified against the
//! configured keys or a JWKS URL) or an API key (`skos_<id>_<secret>`, kept hashed in the store).
//! The [`Principal`] (subject, tenant, roles, permissions, attributes) comes only from the
//! verified credential: a tenant or role named in a body or another header never changes who
//! the caller is. Without a credential a call is refused, unless the server runs in dev mode,
//! where it acts as the anonymous admin of the default tenant.

pub mod api_key;
pub mod jwt;
mod runner;

use std::collections::BTreeMap;
use std::sync::Arc;

use skillos_store::{Store, TenantId};

use crate::error::{ApiError, Kind};

pub use runner::{RunnerGrant, RunnerTokens};

/// The longest credential read; longer ones are refused before any parsing.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

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
    pub fn run_context(&self) -> serde_json::Value {
        serde_json::json!({"roles": self.roles, "attributes": self.attributes})
    }

    /// The principal a stored run executes as: the subject and tenant that made it, with the
    /// roles and attributes of its `run_context`. Permissions the credential itself granted
    /// are not kept; policies decide from the roles.
    pub fn stored(subject: &str, tenant: &TenantId, context: &serde_json::Value) -> Self {
        Self {
            subject: subject.to_owned(),
            tenant: tenant.clone(),
            roles: serde_json::from_value(context["roles"].clone()).unwrap_or_default(),
            permissions: Vec::new(),
            attributes: serde_json::from_value(context["attributes"].clone()).unwrap_or_default(),
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

/// Why a credential was refused. The message goes to the caller; it says what is wrong with
/// the credential, never which keys or accounts exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "this call needs credentials: send `authorization: Bearer <token or API key>` \
         (or run the server with --dev for anonymous local use)"
    )]
    Missing,
    #[error("the authorization header must be `Bearer <token or API key>`")]
    Malformed,
    #[error("the credential is longer than {MAX_CREDENTIAL_BYTES} bytes")]
    TooLarge,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("the API key was revoked")]
    RevokedApiKey,
    #[error("the API key expired")]
    ExpiredApiKey,
    #[error("JWTs are not accepted: no JWT keys or JWKS URL are configured")]
    JwtNotConfigured,
    #[error("cannot check the credential now; try again")]
    Unavailable,
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let kind = if error == AuthError::Unavailable {
            Kind::Unavailable
        } else {
            Kind::Unauthenticated
        };
        ApiError::new(kind, "UNAUTHENTICATED", error.to_string())
    }
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        ApiError::from(error).into_status()
    }
}

/// Turns the credential of a request into a [`Principal`].
#[derive(Clone, Debug)]
pub struct Authenticator {
    dev_mode: bool,
    jwt: Option<Arc<jwt::Verifier>>,
    store: Arc<dyn Store>,
}

impl Authenticator {
    pub fn new(dev_mode: bool, jwt: Option<Arc<jwt::Verifier>>, store: Arc<dyn Store>) -> Self {
        Self {
            dev_mode,
            jwt,
            store,
        }
    }

    /// The principal of a gRPC request.
    pub async fn grpc<T>(&self, request: &tonic::Request<T>) -> Result<Principal, AuthError> {
        let header = match request.metadata().get("authorization") {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
        };
        self.authenticate(header).await
    }

    /// The principal of an HTTP request.
    pub async fn http(&self, headers: &http::HeaderMap) -> Result<Principal, AuthError> {
        let header = match headers.get(http::header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
        };
        self.authenticate(header).await
    }

    /// The principal of an `authorization` header value (`None`: no header).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let Some(header) = header else {
            return if self.dev_mode {
                Ok(Principal::anonymous())
            } else {
                Err(AuthError::Missing)
            };
        };
        if header.len() > MAX_CREDENTIAL_BYTES + "Bearer ".len() {
            return Err(AuthError::TooLarge);
        }
        let credential = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|credential| !credential.is_empty())
            .ok_or(AuthError::Malformed)?;
        if credential.starts_with(api_key::PREFIX) {
            return api_key::authenticate(self.store.as_ref(), credential).await;
        }
        match &self.jwt {
            Some(verifier) => verifier.verify(credential).await,
            None => Err(AuthError::JwtNotConfigured),
        }
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub(crate) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
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

    #[tokio::test]
    async fn no_credential_is_refused_outside_dev_mode() {
        let store = skillos_store::open(&skillos_store::Options::Sqlite {
            path: tempfile::tempdir().unwrap().keep().join("s.db"),
        })
        .await
        .unwrap();
        let strict = Authenticator::new(false, None, store.clone());
        assert_eq!(strict.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(
            strict.authenticate(Some("Basic abc")).await,
            Err(AuthError::Malformed)
        );
        assert_eq!(
            strict.authenticate(Some("Bearer a.b.c")).await,
            Err(AuthError::JwtNotConfigured)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_BYTES + 1));
        assert_eq!(
            strict.authenticate(Some(&long)).await,
            Err(AuthError::TooLarge)
        );
        let dev = Authenticator::new(true, None, store);
        assert_eq!(dev.authenticate(None).await, Ok(Principal::anonymous()));
    }
}
