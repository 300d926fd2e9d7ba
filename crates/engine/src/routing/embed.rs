//! The `Embedder` boundary and the provider every deployment has: a connected runner that offers
//! an embedding model. Providers that need a transport of their own (an HTTP API, a child
//! process) live with the server and implement the same trait.

use std::time::{Duration, SystemTime};

use skillos_store::TenantId;

use crate::dispatch;
pub use crate::dispatch::EmbedKind;

/// Why embeddings could not be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no embedder is available")]
    Unavailable,
    #[error("the embedder did not answer in time")]
    Timeout,
    #[error("the embedder failed: {0}")]
    Failed(String),
}

impl From<dispatch::EmbedError> for Error {
    fn from(error: dispatch::EmbedError) -> Self {
        match error {
            dispatch::EmbedError::NoProvider => Error::Unavailable,
            dispatch::EmbedError::Timeout => Error::Timeout,
            other => Error::Failed(other.to_string()),
        }
    }
}

/// Something that turns texts into vectors with one model.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// The model; skill vectors are kept per model.
    fn model(&self) -> &str;

    /// Most texts per call; 0: no limit.
    fn max_batch_size(&self) -> usize {
        0
    }

    /// One vector per text, in order; gives up after `timeout`.
    async fn embed(
        &self,
        texts: &[String],
        kind: EmbedKind,
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, Error>;
}

/// Embeddings from a connected runner that offers `model`.
pub struct RunnerEmbedder {
    pub dispatcher: dispatch::Service,
    pub model: String,
    pub max_batch_size: usize,
    /// Queries go only to runners of the caller's tenant; documents to any.
    pub tenant: Option<TenantId>,
}

#[async_trait::async_trait]
impl Embedder for RunnerEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    async fn embed(
        &self,
        texts: &[String],
        kind: EmbedKind,
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, Error> {
        let tenant = match kind {
            EmbedKind::Query => self.tenant.as_ref(),
            EmbedKind::Document => None,
        };
        Ok(self
            .dispatcher
            .embed(
                tenant,
                &self.model,
                texts.to_vec(),
                kind,
                SystemTime::now() + timeout,
            )
            .await?)
    }
}
