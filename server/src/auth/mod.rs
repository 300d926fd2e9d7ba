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

use std::sync::Arc;

pub use skillos_engine::auth::{Credential, Principal, constant_time_eq, sha256};
use skillos_engine::error::reason;
use skillos_store::Store;

pub use runner::{RunnerGrant, RunnerTokens};

/// The longest credential read; longer ones are refused before any parsing.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// Why a credential was refused. The message goes to the caller; it says what is wrong with
/// the credential, never which keys or accounts exist.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
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

impl From<Error> for skillos_engine::error::Error {
    fn from(error: Error) -> Self {
        let reason = if error == Error::Unavailable {
            reason::AUTHENTICATION_UNAVAILABLE
        } else {
            reason::UNAUTHENTICATED
        };
        Self::new(reason, error.to_string())
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        crate::error::status(error)
    }
}

/// Turns the credential of a request into a [`Principal`].
#[derive(Clone, Debug)]
pub struct Authenticator {
    dev_mode: bool,
    jwt: Option<Arc<jwt::Verifier>>,
    keys: api_key::Keys,
}

impl Authenticator {
    pub fn new(dev_mode: bool, jwt: Option<Arc<jwt::Verifier>>, store: Arc<dyn Store>) -> Self {
        Self {
            dev_mode,
            jwt,
            keys: api_key::Keys::new(store),
        }
    }

    /// The principal of a gRPC request.
    pub async fn grpc<T>(&self, request: &tonic::Request<T>) -> Result<Principal, Error> {
        let header = match request.metadata().get("authorization") {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| Error::Malformed)?),
        };
        self.authenticate(header).await
    }

    /// The principal of an HTTP request.
    pub async fn http(&self, headers: &http::HeaderMap) -> Result<Principal, Error> {
        let header = match headers.get(http::header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| Error::Malformed)?),
        };
        self.authenticate(header).await
    }

    /// The principal of an `authorization` header value (`None`: no header).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, Error> {
        let Some(header) = header else {
            return if self.dev_mode {
                Ok(Principal::anonymous())
            } else {
                Err(Error::Missing)
            };
        };
        if header.len() > MAX_CREDENTIAL_BYTES + "Bearer ".len() {
            return Err(Error::TooLarge);
        }
        let credential = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|credential| !credential.is_empty())
            .ok_or(Error::Malformed)?;
        if credential.starts_with(api_key::PREFIX) {
            return self.keys.authenticate(credential).await;
        }
        match &self.jwt {
            Some(verifier) => verifier.verify(credential).await,
            None => Err(Error::JwtNotConfigured),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_credential_is_refused_outside_dev_mode() {
        let store = skillos_store::open(&skillos_store::Options::Sqlite {
            path: tempfile::tempdir().unwrap().keep().join("s.db"),
        })
        .await
        .unwrap();
        let strict = Authenticator::new(false, None, store.clone());
        assert_eq!(strict.authenticate(None).await, Err(Error::Missing));
        assert_eq!(
            strict.authenticate(Some("Basic abc")).await,
            Err(Error::Malformed)
        );
        assert_eq!(
            strict.authenticate(Some("Bearer a.b.c")).await,
            Err(Error::JwtNotConfigured)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_BYTES + 1));
        assert_eq!(strict.authenticate(Some(&long)).await, Err(Error::TooLarge));
        let dev = Authenticator::new(true, None, store);
        assert_eq!(dev.authenticate(None).await, Ok(Principal::anonymous()));
    }
}
