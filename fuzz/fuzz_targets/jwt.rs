//! Bearer tokens come from any caller: a JWT's header and claims must never panic the
//! verifier, and a principal comes only from a token the key signed. Input: a token to verify;
//! also, as claims JSON, signed with the key and verified (the claims mapping).

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use skillos::auth::jwt::{Key, Settings, Verifier};

const SECRET: &[u8] = b"a-fuzzing-secret-of-at-least-32-bytes!!";

fn verifier() -> &'static (tokio::runtime::Runtime, Verifier) {
    static VERIFIER: OnceLock<(tokio::runtime::Runtime, Verifier)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let settings = Settings {
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            algorithms: vec![Algorithm::HS256],
            tenant_claim: "tenant_id".into(),
            roles_claim: "roles".into(),
            attribute_claims: vec!["team".into()],
            jwks_min_refresh: Duration::from_secs(30),
        };
        let key = Key { kid: None, alg: Some(Algorithm::HS256), key: DecodingKey::from_secret(SECRET) };
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        (runtime, Verifier::new(settings, vec![key], None).expect("a verifier"))
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, verifier) = verifier();
    if let Ok(token) = std::str::from_utf8(data) {
        // Unsigned by our key (or malformed): never a principal.
        if !token.contains('.') {
            assert!(runtime.block_on(verifier.verify(token)).is_err());
        } else {
            let _ = runtime.block_on(verifier.verify(token));
        }
    }
    if let Ok(serde_json::Value::Object(mut claims)) = serde_json::from_slice(data) {
        claims.insert("exp".into(), (chrono::Utc::now().timestamp() + 600).into());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET))
            .expect("claims encode");
        if let Ok(principal) = runtime.block_on(verifier.verify(&token)) {
            if let Some(serde_json::Value::String(tenant)) = claims.get("tenant_id") {
                assert_eq!(principal.tenant.as_str(), tenant);
            }
        }
    }
});
