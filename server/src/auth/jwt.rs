//! JWT verification (jsonwebtoken): HS*, RS*, PS*, ES* and EdDSA, with keys from PEM files or a
//! JWKS URL. `exp` is required and `nbf` checked (with the configured leeway), the issuer and
//! audience when configured. The algorithm must be one the server accepts and of the key's own
//! family, so `alg: none` and RS/HS key confusion are refused. A token naming an unknown `kid`
//! makes the JWKS be fetched again, at most once per `jwks_min_refresh` (30 s by default); when the URL is down
//! the last good keys stay in use.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind, jwk::JwkSet};
use serde_json::{Map, Value as Json};
use skillos_store::TenantId;
use tokio::sync::{Mutex, RwLock};

use super::{Credential, Error, MAX_CREDENTIAL_BYTES, Principal};

/// Keys older than this are fetched again on the next token (the old ones stay on failure).
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// What a verifier checks and how it maps claims.
#[derive(Clone, Debug)]
pub struct Settings {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
    /// Accepted algorithms; empty: every algorithm of the configured keys' families.
    pub algorithms: Vec<Algorithm>,
    pub tenant_claim: String,
    pub roles_claim: String,
    /// Claims copied into the principal's attributes.
    pub attribute_claims: Vec<String>,
    /// The shortest time between two fetches of the JWKS.
    pub jwks_min_refresh: Duration,
}

/// A configured verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    /// The one algorithm the key is for, when known (always for files; when a JWK says).
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key from a file: a PEM public key for RS*/PS*/ES*/EdDSA, the raw secret for HS*.
    pub fn from_file(
        path: &std::path::Path,
        alg: Algorithm,
        kid: Option<String>,
    ) -> anyhow::Result<Self> {
        use jsonwebtoken::Algorithm as A;
        let bytes = std::fs::read(path)
            .map_err(|error| anyhow::anyhow!("cannot read JWT key {}: {error}", path.display()))?;
        let key = match alg {
            A::HS256 | A::HS384 | A::HS512 => {
                let secret = trim_newline(&bytes);
                if secret.len() < 32 {
                    anyhow::bail!(
                        "JWT secret {} is {} bytes; HMAC secrets must be at least 32 bytes",
                        path.display(),
                        secret.len()
                    );
                }
                DecodingKey::from_secret(secret)
            }
            A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 => {
                DecodingKey::from_rsa_pem(&bytes)?
            }
            A::ES256 | A::ES384 => DecodingKey::from_ec_pem(&bytes)?,
            A::EdDSA => DecodingKey::from_ed_pem(&bytes)?,
            other => anyhow::bail!("JWT algorithm {other:?} is not supported for key files"),
        };
        Ok(Self {
            kid,
            alg: Some(alg),
            key,
        })
    }

    fn fits(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        let kid_fits = match (kid, &self.kid) {
            (Some(wanted), Some(own)) => wanted == own,
            (Some(_), None) => false,
            (None, _) => true,
        };
        kid_fits && self.alg.is_none_or(|own| own == alg) && self.key.family() == alg.family()
    }
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

#[derive(Debug)]
struct Jwks {
    url: String,
    min_refresh: Duration,
    client: reqwest::Client,
    keys: RwLock<JwksKeys>,
    /// Held while fetching, so concurrent requests with an unknown kid fetch once.
    fetching: Mutex<()>,
}

#[derive(Debug, Default)]
struct JwksKeys {
    keys: Vec<Key>,
    /// Bumped by every successful fetch.
    generation: u64,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

/// Verifies JWTs and maps their claims to a [`Principal`].
#[derive(Debug)]
pub struct Verifier {
    settings: Settings,
    keys: Vec<Key>,
    jwks: Option<Jwks>,
}

impl Verifier {
    pub fn new(
        settings: Settings,
        keys: Vec<Key>,
        jwks_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let jwks = jwks_url
            .map(|url| -> anyhow::Result<Jwks> {
                let client = reqwest::Client::builder().timeout(JWKS_TIMEOUT).build()?;
                Ok(Jwks {
                    url,
                    min_refresh: settings.jwks_min_refresh,
                    client,
                    keys: RwLock::default(),
                    fetching: Mutex::new(()),
                })
            })
            .transpose()?;
        Ok(Self {
            settings,
            keys,
            jwks,
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        let invalid = |message: &str| Error::InvalidToken(message.to_owned());
        if token.len() > MAX_CREDENTIAL_BYTES {
            return Err(Error::TooLarge);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
            ErrorKind::InvalidAlgorithmName => invalid("unsupported algorithm"),
            _ => invalid("malformed token"),
        })?;
        let alg = header.alg;
        let accepted = if self.settings.algorithms.is_empty() {
            self.keys.iter().any(|key| key.key.family() == alg.family()) || self.jwks.is_some()
        } else {
            self.settings.algorithms.contains(&alg)
        };
        if !accepted {
            return Err(Error::InvalidToken(format!(
                "algorithm {alg:?} is not accepted"
            )));
        }
        let kid = header.kid.as_deref();
        let candidates = self.candidates(kid, alg).await;
        if candidates.is_empty() {
            return Err(match kid {
                Some(kid) => Error::InvalidToken(format!("unknown key id {kid:?}")),
                None => invalid("no key for this algorithm; the token names no key id"),
            });
        }
        let validation = self.validation(alg);
        let mut last = invalid("signature does not verify");
        for key in &candidates {
            match jsonwebtoken::decode::<Map<String, Json>>(token, &key.key, &validation) {
                Ok(data) => return self.principal(data.claims),
                Err(error) => {
                    last = describe(&error);
                    if !matches!(error.kind(), ErrorKind::InvalidSignature) {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // jsonwebtoken checks `aud` and `iss` only when the token has them: a configured
        // audience or issuer must also be a required claim, or a token without it would pass.
        let mut required = vec!["exp"];
        if self.settings.audience.is_some() {
            required.push("aud");
        }
        if self.settings.issuer.is_some() {
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        match &self.settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
        }
        validation
    }

    async fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<Key> {
        let mut found: Vec<Key> = self
            .keys
            .iter()
            .filter(|key| key.fits(kid, alg))
            .cloned()
            .collect();
        if let Some(jwks) = &self.jwks {
            let (stale, generation) = {
                let keys = jwks.keys.read().await;
                let stale = keys.fetched_at.is_none_or(|at| at.elapsed() > JWKS_MAX_AGE);
                (stale, keys.generation)
            };
            let mut from_jwks = jwks.matching(kid, alg).await;
            if (from_jwks.is_empty() || stale) && jwks.refresh(generation).await {
                from_jwks = jwks.matching(kid, alg).await;
            }
            found.extend(from_jwks);
        }
        found
    }

    fn principal(&self, claims: Map<String, Json>) -> Result<Principal, Error> {
        let invalid = |message: String| Error::InvalidToken(message);
        let subject = claims
            .get("sub")
            .and_then(Json::as_str)
            .filter(|sub| !sub.trim().is_empty() && sub.len() <= 256)
            .ok_or_else(|| invalid("claim sub is required (a string of 1-256 bytes)".into()))?
            .to_owned();
        let tenant = match claims.get(&self.settings.tenant_claim) {
            None | Some(Json::Null) => TenantId::default_tenant(),
            Some(Json::String(tenant)) => TenantId::parse(tenant).map_err(invalid)?,
            Some(_) => {
                return Err(invalid(format!(
                    "claim {} must be a string",
                    self.settings.tenant_claim
                )));
            }
        };
        // Only the configured claim: a token's other claims may be set by its users.
        let mut roles = strings(claims.get(&self.settings.roles_claim));
        roles.sort();
        roles.dedup();
        // `permissions` as a list, else OAuth `scope` / `scp` (space-separated).
        let mut permissions = strings(claims.get("permissions"));
        for scope in ["scope", "scp"] {
            permissions.extend(strings(claims.get(scope)));
        }
        permissions.sort();
        permissions.dedup();
        let attributes: BTreeMap<String, String> = self
            .settings
            .attribute_claims
            .iter()
            .filter_map(|name| {
                let value = match claims.get(name)? {
                    Json::String(text) => text.clone(),
                    Json::Number(number) => number.to_string(),
                    Json::Bool(flag) => flag.to_string(),
                    _ => return None,
                };
                Some((name.clone(), value))
            })
            .collect();
        Ok(Principal {
            subject,
            tenant,
            roles,
            permissions,
            attributes,
            credential: Credential::Jwt,
        })
    }
}

/// A claim as a list of strings: an array of strings, or one string split on whitespace.
fn strings(claim: Option<&Json>) -> Vec<String> {
    match claim {
        Some(Json::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn describe(error: &jsonwebtoken::errors::Error) -> Error {
    let message = match error.kind() {
        ErrorKind::ExpiredSignature => "token expired".to_owned(),
        ErrorKind::ImmatureSignature => "token not valid yet (nbf)".to_owned(),
        ErrorKind::InvalidAudience => "wrong audience".to_owned(),
        ErrorKind::InvalidIssuer => "wrong issuer".to_owned(),
        ErrorKind::InvalidSignature => "signature does not verify".to_owned(),
        ErrorKind::InvalidAlgorithm => "algorithm does not match the key".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("claim {claim} is required"),
        ErrorKind::InvalidClaimFormat(claim) => format!("claim {claim} has the wrong type"),
        _ => "malformed token".to_owned(),
    };
    Error::InvalidToken(message)
}

impl Jwks {
    async fn matching(&self, kid: Option<&str>, alg: Algorithm) -> Vec<Key> {
        self.keys
            .read()
            .await
            .keys
            .iter()
            .filter(|key| key.fits(kid, alg))
            .cloned()
            .collect()
    }

    /// Fetches the key set unless a fetch was attempted within `min_refresh`; true when the
    /// keys changed since the caller saw `seen_generation` (fetched here or by a concurrent
    /// caller it waited for).
    async fn refresh(&self, seen_generation: u64) -> bool {
        let _fetching = self.fetching.lock().await;
        {
            let keys = self.keys.read().await;
            if keys.generation != seen_generation {
                return true;
            }
            if keys
                .attempted_at
                .is_some_and(|at| at.elapsed() < self.min_refresh)
            {
                return false;
            }
        }
        self.keys.write().await.attempted_at = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let mut stored = self.keys.write().await;
                tracing::info!(url = %self.url, keys = keys.len(), "fetched JWKS");
                stored.keys = keys;
                stored.generation += 1;
                stored.fetched_at = Some(Instant::now());
                true
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "cannot fetch JWKS; keeping the last good keys");
                false
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<Vec<Key>> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            anyhow::bail!("JWKS larger than {MAX_JWKS_BYTES} bytes");
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                anyhow::bail!("JWKS larger than {MAX_JWKS_BYTES} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body)?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            if matches!(
                jwk.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            ) {
                continue;
            }
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|alg| serde_json::to_value(alg).ok())
                .and_then(|alg| alg.as_str().and_then(|alg| Algorithm::from_str(alg).ok()));
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                }),
                Err(error) => {
                    tracing::warn!(kid = ?jwk.common.key_id, %error, "skipping a JWK that cannot be used")
                }
            }
        }
        Ok(keys)
    }
}
