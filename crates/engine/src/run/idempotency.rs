//! Stage 2, idempotency: a request's key is claimed with the execution it creates, a repeat
//! of it answers the stored response (marked replayed) and runs nothing, and the response is
//! recorded when the run ends. The same key with another request is IDEMPOTENCY_KEY_REUSED;
//! one whose first request still runs is IDEMPOTENCY_KEY_IN_USE.

use std::time::Duration;

use serde_json::Value as Json;
use skillos_store::{ExecutionStatus, IdempotencyClaim, IdempotencyRecord};

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};

/// A request's idempotency key: the key, the RPC whose key space it is in, and the SHA-256 of
/// the request it came with (without the key).
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    pub key: String,
    pub method: &'static str,
    pub request_sha256: String,
}

/// The response of an idempotent run, as the store keeps it with the key: the execution it
/// created and, when the run could not be done, the error it answered.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredResponse {
    #[serde(default)]
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Stored>,
}

impl StoredResponse {
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A response that does not parse has no error to replay.
    pub fn from_json(value: &Json) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

/// The claim of an idempotency key in the caller's key space (tenant, principal, RPC), good
/// for `ttl`; its response is recorded later.
pub fn claim(principal: &Principal, key: &IdempotencyKey, ttl: Duration) -> IdempotencyClaim {
    IdempotencyClaim {
        tenant_id: principal.tenant.clone(),
        principal: principal.subject.clone(),
        method: key.method.to_owned(),
        key: key.key.clone(),
        request_sha256: key.request_sha256.clone(),
        expires_at: skillos_store::now()
            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1)),
        response: None,
    }
}

impl Service {
    pub(crate) fn claim(&self, principal: &Principal, key: &IdempotencyKey) -> IdempotencyClaim {
        claim(principal, key, self.idempotency_ttl)
    }

    /// The stored answer of an earlier request with this key, if any: its execution (as it is
    /// now), or its error (`Error::Api`, marked replayed).
    pub(crate) async fn replay(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
    ) -> Result<Option<skillos_store::Execution>, Error> {
        let claim = self.claim(principal, key);
        let Some(record) = self
            .store
            .idempotency_record(&claim, skillos_store::now())
            .await?
        else {
            return Ok(None);
        };
        self.replay_record(principal, key, record).await.map(Some)
    }

    /// The answer a taken key gives: the request it was taken by must be this one.
    pub(crate) async fn replay_record(
        &self,
        principal: &Principal,
        key: &IdempotencyKey,
        record: IdempotencyRecord,
    ) -> Result<skillos_store::Execution, Error> {
        if record.request_sha256 != key.request_sha256 {
            return Err(Error::IdempotencyKeyReused);
        }
        let response = record.response.as_ref().map(StoredResponse::from_json);
        if let Some(error) = response.as_ref().and_then(|r| r.error.as_ref()) {
            return Err(match crate::error::Error::replayed(error) {
                Some(error) => Error::Api(error),
                None => Error::IdempotencyKeyInUse,
            });
        }
        let execution = self.get_execution(principal, &record.execution_id).await?;
        // No response stored yet: still running, unless it ended without one (its server
        // stopped first); then the execution is the answer.
        let ended = !matches!(
            execution.status,
            ExecutionStatus::Running | ExecutionStatus::Pending
        );
        if record.response.is_none() && !ended {
            return Err(Error::IdempotencyKeyInUse);
        }
        Ok(execution)
    }

    /// Records the response of a claimed key once its run ended.
    pub(crate) async fn complete_idempotency(
        &self,
        claim: &IdempotencyClaim,
        execution_id: &str,
        error: Option<&crate::error::Error>,
    ) {
        let response = StoredResponse {
            execution_id: execution_id.to_owned(),
            error: error.map(crate::error::Error::to_stored),
        }
        .to_json();
        if let Err(error) = self.store.complete_idempotency(claim, &response).await {
            tracing::warn!(%error, "cannot record the response of an idempotent request");
        }
    }
}
