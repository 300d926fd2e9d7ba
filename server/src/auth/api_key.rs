//! API keys: `skos_<id>_<secret>`. The id (16 hex digits) finds the stored key; only the
//! SHA-256 of the secret (32 random bytes, base64url) is stored, and it is compared in constant
//! time. Keys belong to one tenant, carry roles, may expire, and are revoked with the CLI.
//!
//! A key that was found is kept in memory for [`FRESH_FOR`]: a call within that time is not a
//! store read, and a key revoked (by the CLI, or on another replica) stops working within it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use skillos_store::{ApiKey, AuditEvent, Store, TenantId};

use super::{Credential, Error, Principal, constant_time_eq, sha256};

pub const PREFIX: &str = "skos_";
const ID_HEX_LEN: usize = 16;
/// How long a stored key is trusted from memory before it is read again.
pub const FRESH_FOR: Duration = Duration::from_millis(750);
/// Keys kept in memory; past this the memory starts over. Unknown ids are never kept.
const KEPT: usize = 10_000;

/// Authenticates API keys against the store, keeping found keys in memory; cheap to clone.
#[derive(Clone)]
pub struct Keys {
    store: Arc<dyn Store>,
    found: Arc<Mutex<HashMap<String, (Instant, ApiKey)>>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("api_key::Keys").finish_non_exhaustive()
    }
}

impl Keys {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            found: Arc::default(),
        }
    }

    /// The principal of a presented key.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, Error> {
        let (id, secret) = parse(credential).ok_or(Error::InvalidApiKey)?;
        let stored = self.key(id).await?;
        check(stored, secret)
    }

    async fn key(&self, id: &str) -> Result<Option<ApiKey>, Error> {
        if let Some((read_at, key)) = self.lock().get(id)
            && read_at.elapsed() < FRESH_FOR
        {
            return Ok(Some(key.clone()));
        }
        let read_at = Instant::now();
        let stored = self.store.api_key(id).await.map_err(|error| {
            tracing::error!(%error, "cannot read an API key");
            Error::Unavailable
        })?;
        if let Some(key) = &stored {
            let mut found = self.lock();
            if found.len() >= KEPT {
                found.clear();
            }
            found.insert(id.to_owned(), (read_at, key.clone()));
        }
        Ok(stored)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, ApiKey)>> {
        self.found.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A key as it is created: the secret is shown once and never stored.
#[derive(Debug)]
pub struct NewKey {
    pub key: ApiKey,
    /// The whole credential to hand to the caller.
    pub token: String,
}

/// Makes a key for `tenant` with `roles`; the caller stores it with [`create`].
pub fn generate(
    tenant: TenantId,
    name: &str,
    roles: Vec<String>,
    created_by: &str,
    expires_at: Option<DateTime<Utc>>,
) -> NewKey {
    let id_bytes: [u8; ID_HEX_LEN / 2] = random();
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret_bytes: [u8; 32] = random();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes);
    let token = format!("{PREFIX}{id}_{secret}");
    let key = ApiKey {
        id,
        tenant_id: tenant,
        name: name.to_owned(),
        secret_sha256: hex(&sha256(secret.as_bytes())),
        roles,
        created_by: created_by.to_owned(),
        created_at: skillos_store::now(),
        expires_at,
        revoked_at: None,
    };
    NewKey { key, token }
}

/// Stores a generated key with its audit event.
pub async fn create(store: &dyn Store, key: &ApiKey) -> skillos_store::Result<()> {
    let audit = AuditEvent::now(
        &key.tenant_id,
        &key.created_by,
        "api_key.created",
        &key.id,
        serde_json::json!({"name": key.name, "roles": key.roles, "expires_at": key.expires_at}),
    );
    store.insert_api_key(key, &audit).await
}

/// Revokes a stored key with its audit event, as `actor`; false when it was already revoked.
/// Servers holding the key in memory refuse it within [`FRESH_FOR`].
pub async fn revoke(store: &dyn Store, key: &ApiKey, actor: &str) -> skillos_store::Result<bool> {
    let audit = AuditEvent::now(
        &key.tenant_id,
        actor,
        "api_key.revoked",
        &key.id,
        serde_json::json!({"name": key.name}),
    );
    store
        .revoke_api_key(&key.id, skillos_store::now(), &audit)
        .await
}

/// The principal of a stored key whose secret is `secret`.
fn check(stored: Option<ApiKey>, secret: &str) -> Result<Principal, Error> {
    let presented = sha256(secret.as_bytes());
    // An unknown id is compared against a fixed digest, so both paths take the same time.
    let known = stored
        .as_ref()
        .and_then(|key| unhex(&key.secret_sha256))
        .unwrap_or([0u8; 32]);
    let matches = constant_time_eq(&known, &presented);
    let key = stored.filter(|_| matches).ok_or(Error::InvalidApiKey)?;
    if key.revoked_at.is_some() {
        return Err(Error::RevokedApiKey);
    }
    if key.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::ExpiredApiKey);
    }
    Ok(Principal {
        subject: format!("key:{}", key.id),
        tenant: key.tenant_id,
        roles: key.roles,
        permissions: Vec::new(),
        attributes: Default::default(),
        credential: Credential::ApiKey,
    })
}

/// `(id, secret)` of a well-formed key.
fn parse(credential: &str) -> Option<(&str, &str)> {
    let rest = credential.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let valid_id =
        id.len() == ID_HEX_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let valid_secret = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (valid_id && valid_secret).then_some((id, secret))
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> std::sync::Arc<dyn Store> {
        skillos_store::open(&skillos_store::Options::Sqlite {
            path: tempfile::tempdir().unwrap().keep().join("s.db"),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn keys_authenticate_until_revoked_or_expired() {
        let store = store().await;
        let tenant = TenantId::parse("acme").unwrap();
        let new = generate(tenant.clone(), "ci", vec!["operator".into()], "admin", None);
        create(store.as_ref(), &new.key).await.unwrap();
        assert!(
            !new.key
                .secret_sha256
                .contains(&new.token[PREFIX.len() + 17..])
        );

        let principal = Keys::new(store.clone())
            .authenticate(&new.token)
            .await
            .unwrap();
        assert_eq!(principal.tenant, tenant);
        assert_eq!(principal.roles, vec!["operator".to_owned()]);
        assert_eq!(principal.subject, format!("key:{}", new.key.id));

        // One changed character of the secret, an unknown id, garbage.
        let mut forged = new.token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        for bad in [
            forged.as_str(),
            "skos_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "skos_x",
        ] {
            assert_eq!(
                Keys::new(store.clone()).authenticate(bad).await,
                Err(Error::InvalidApiKey),
                "{bad}"
            );
        }

        assert!(revoke(store.as_ref(), &new.key, "admin").await.unwrap());
        assert_eq!(
            Keys::new(store.clone()).authenticate(&new.token).await,
            Err(Error::RevokedApiKey)
        );

        let expired = generate(
            tenant,
            "old",
            vec![],
            "admin",
            Some(Utc::now() - chrono::Duration::seconds(1)),
        );
        create(store.as_ref(), &expired.key).await.unwrap();
        assert_eq!(
            Keys::new(store.clone()).authenticate(&expired.token).await,
            Err(Error::ExpiredApiKey)
        );
    }

    #[tokio::test]
    async fn a_key_kept_in_memory_stops_working_once_revoked_in_the_store() {
        let store = store().await;
        let keys = Keys::new(store.clone());
        let tenant = TenantId::parse("acme").unwrap();
        let new = generate(tenant.clone(), "ci", vec![], "admin", None);
        create(store.as_ref(), &new.key).await.unwrap();
        keys.authenticate(&new.token).await.unwrap();
        // A forged secret is refused from memory as well.
        let forged = format!("{}A", &new.token[..new.token.len() - 1]);
        if forged != new.token {
            assert_eq!(keys.authenticate(&forged).await, Err(Error::InvalidApiKey));
        }

        // Revoked the way the CLI does it: in the store, not through this process.
        assert!(revoke(store.as_ref(), &new.key, "admin").await.unwrap());
        tokio::time::sleep(FRESH_FOR + Duration::from_millis(50)).await;
        assert_eq!(
            keys.authenticate(&new.token).await,
            Err(Error::RevokedApiKey)
        );
    }
}
