//! Natural-language routing as a service: keeps the router in step with the catalog, fills
//! skill vectors (from the store's cache, else from the embedder), embeds queries within a
//! deadline and falls back to keyword ranking when it cannot, and keeps each tenant's feedback.

pub mod embed;
pub mod queries;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use skillos_core::registry::Catalog;
use skillos_routing::{
    Analyzer, Decision, FeedbackBook, Filter, MissingVector, Mode, Query, QueryVector, Router,
    SkillDoc,
};
use skillos_store::{RoutingFeedback, SkillVector, Store, TenantId};

pub use embed::{EmbedKind, Embedder, Error as EmbedError};

use crate::dispatch;
use crate::error::reason;

/// Longest query routing accepts, in characters.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Most candidates a decision carries.
pub const MAX_CANDIDATES: usize = 50;
/// Candidates when the request names no number.
pub const DEFAULT_CANDIDATES: usize = 5;
/// Texts per embedding request while indexing skills.
const INDEX_BATCH: usize = 32;
/// Deadline of one indexing batch (documents are longer than queries, and a cold model is
/// slow on its first call).
const INDEX_BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Why routing used keyword ranking although vectors were asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    NoEmbedder,
    EmbedderTimeout,
    EmbedderError(String),
    IndexNotReady,
}

impl Fallback {
    pub fn as_str(&self) -> &'static str {
        match self {
            Fallback::NoEmbedder => "no_embedder",
            Fallback::EmbedderTimeout => "embedder_timeout",
            Fallback::EmbedderError(_) => "embedder_error",
            Fallback::IndexNotReady => "index_not_ready",
        }
    }
}

/// A routing request.
#[derive(Clone, Debug, Default)]
pub struct RouteRequest {
    pub query: String,
    /// `None`: the configured default.
    pub mode: Option<Mode>,
    pub filter: Filter,
    /// 0: the default.
    pub max_candidates: usize,
}

/// A decision with how it was reached.
#[derive(Clone, Debug)]
pub struct Routed {
    pub decision: Decision,
    pub requested_mode: Mode,
    pub fallback: Option<Fallback>,
    /// The model of the semantic scores, when they were used.
    pub embedding_model: Option<String>,
    /// Hybrid ranking was asked for, and the keyword ranking alone was decisive
    /// ([`Options::keyword_decisive`]): the query was not embedded.
    pub keyword_decisive: bool,
    pub elapsed: Duration,
}

/// Refusals of routing requests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("skill {0} not found")]
    SkillNotFound(String),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// Where query embeddings come from.
#[derive(Clone)]
pub enum EmbedderSource {
    None,
    Fixed(Arc<dyn Embedder>),
    /// Whichever connected runner offers embeddings (the first model offered wins).
    Runners(dispatch::Service),
}

impl EmbedderSource {
    /// The embedder to use now, for queries of `tenant` (documents: `None`).
    fn current(&self, tenant: Option<&TenantId>) -> Option<Arc<dyn Embedder>> {
        match self {
            EmbedderSource::None => None,
            EmbedderSource::Fixed(embedder) => Some(embedder.clone()),
            EmbedderSource::Runners(dispatcher) => {
                let offer = dispatcher.embedding_models(tenant).into_iter().next()?;
                Some(Arc::new(embed::RunnerEmbedder {
                    dispatcher: dispatcher.clone(),
                    model: offer.model,
                    max_batch_size: offer.max_batch_size,
                    tenant: tenant.cloned(),
                }))
            }
        }
    }
}

/// How the routing service ranks and how long it waits for embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The mode of a request that names none.
    pub default_mode: Mode,
    /// Longest a query waits for its embedding before keyword ranking takes over.
    pub embed_timeout: Duration,
    /// A hybrid request whose keyword ranking selects a skill with at least this confidence
    /// is answered by keywords alone, without embedding the query; above 1: never.
    pub keyword_decisive: f64,
    /// Most query vectors kept (per tenant, model and normalised text); 0: none.
    pub query_cache: usize,
    /// Weights, thresholds and calibration of the router.
    pub params: skillos_routing::RouterParams,
}

/// The shipped cascade threshold, calibrated with `make eval-routing` (docs/routing.md).
pub const DEFAULT_KEYWORD_DECISIVE: f64 = 0.9;
/// The shipped query cache size: about 1.5 KB a vector of 384 dimensions.
pub const DEFAULT_QUERY_CACHE: usize = 10_000;

impl Default for Options {
    fn default() -> Self {
        Self {
            default_mode: Mode::Keyword,
            embed_timeout: Duration::from_secs(1),
            keyword_decisive: DEFAULT_KEYWORD_DECISIVE,
            query_cache: DEFAULT_QUERY_CACHE,
            params: skillos_routing::RouterParams::default(),
        }
    }
}

/// The routing service.
pub struct Service {
    options: Options,
    router: RwLock<Router>,
    source: EmbedderSource,
    queries: Arc<queries::QueryEmbeddings>,
    store: Option<Arc<dyn Store>>,
    feedback: RwLock<HashMap<TenantId, FeedbackBook>>,
    /// One vector indexing at a time.
    indexing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("routing::Service").finish_non_exhaustive()
    }
}

/// One request's ranking inputs, checked.
struct Ranking<'a> {
    tenant: &'a TenantId,
    query: &'a str,
    request: &'a RouteRequest,
    max_candidates: usize,
    allow: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

/// The router's view of a catalog.
pub fn documents(catalog: &Catalog) -> impl Iterator<Item = SkillDoc> + '_ {
    catalog.skills().map(|skill| {
        let manifest = &skill.manifest;
        SkillDoc {
            id: manifest.id.to_string(),
            name: manifest.name.clone(),
            description: manifest.description.clone(),
            tags: manifest.tags.clone(),
            examples: manifest.examples.clone(),
            deprecated: manifest.deprecation.deprecated,
        }
    })
}

/// The key a skill vector is cached under: the hash of the text that was embedded.
pub fn text_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Service {
    pub fn new(options: Options, source: EmbedderSource, store: Option<Arc<dyn Store>>) -> Self {
        let router = Router::new(Arc::new(Analyzer::new()), options.params.clone());
        Self {
            queries: queries::QueryEmbeddings::new(options.query_cache),
            options,
            router: RwLock::new(router),
            source,
            store,
            feedback: RwLock::default(),
            indexing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// How query embeddings were had so far.
    pub fn query_stats(&self) -> queries::Stats {
        self.queries.stats()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Router> {
        self.router.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Router> {
        self.router.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of skills indexed.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no skill is indexed.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Brings the index in line with a catalog; returns how many skills changed.
    pub fn sync(&self, catalog: &Catalog) -> usize {
        let mut router = self.write();
        let changed = router.sync(documents(catalog));
        changed + usize::from(router.set_out_of_scope(catalog.out_of_scope().to_vec()))
    }

    /// Same with documents directly (benchmarks, tests).
    pub fn sync_documents(&self, docs: impl IntoIterator<Item = SkillDoc>) -> usize {
        self.write().sync(docs)
    }

    /// Fills the missing skill vectors of the current embedder's model: from the store when
    /// cached, else computed and stored. Returns how many were computed (not cached).
    pub async fn index_vectors(&self) -> Result<usize, EmbedError> {
        let embedder = self.source.current(None).ok_or(EmbedError::Unavailable)?;
        let _one = self.indexing.lock().await;
        let model = embedder.model().to_owned();
        // The common case, checked every tick: nothing to do, and nothing to allocate.
        if self.read().vectors_ready(&model) {
            return Ok(0);
        }
        let missing = self.read().missing_vectors(&model);
        if missing.is_empty() {
            return Ok(0);
        }
        let hashes: Vec<String> = missing.iter().map(|m| text_hash(&m.text)).collect();
        let mut cached: HashMap<String, Vec<f32>> = HashMap::new();
        if let Some(store) = &self.store {
            match store.skill_vectors(&model, &hashes).await {
                Ok(found) => cached.extend(found.into_iter().map(|v| (v.text_hash, v.vector))),
                Err(error) => tracing::warn!(%error, "cannot read cached skill vectors"),
            }
        }
        let mut to_compute: Vec<(MissingVector, String)> = Vec::new();
        {
            let mut router = self.write();
            for (missing, hash) in missing.into_iter().zip(hashes) {
                match cached.get(&hash) {
                    Some(vector) => {
                        let set = router.set_vector(
                            &model,
                            &missing.skill_id,
                            missing.part,
                            &hash,
                            vector,
                        );
                        if let Err(error) = set {
                            tracing::warn!(skill_id = %missing.skill_id, %error, "cached skill vector refused");
                            to_compute.push((missing, hash));
                        }
                    }
                    None => to_compute.push((missing, hash)),
                }
            }
        }
        let batch = match embedder.max_batch_size() {
            0 => INDEX_BATCH,
            n => n.min(INDEX_BATCH),
        };
        let mut computed = 0;
        for chunk in to_compute.chunks(batch) {
            let texts: Vec<String> = chunk.iter().map(|(m, _)| m.text.clone()).collect();
            let vectors = embedder
                .embed(&texts, EmbedKind::Document, INDEX_BATCH_TIMEOUT)
                .await?;
            let mut stored = Vec::with_capacity(chunk.len());
            {
                let mut router = self.write();
                for ((missing, hash), vector) in chunk.iter().zip(vectors) {
                    router
                        .set_vector(&model, &missing.skill_id, missing.part, hash, &vector)
                        .map_err(|error| EmbedError::Failed(error.to_string()))?;
                    stored.push(SkillVector {
                        text_hash: hash.clone(),
                        vector,
                    });
                }
            }
            computed += stored.len();
            if let Some(store) = &self.store
                && let Err(error) = store.put_skill_vectors(&model, &stored).await
            {
                tracing::warn!(%error, "cannot cache skill vectors");
            }
        }
        Ok(computed)
    }

    /// Routes one query for `tenant`.
    pub async fn route(
        &self,
        tenant: &TenantId,
        request: &RouteRequest,
        allow: Option<&(dyn Fn(&str) -> bool + Sync)>,
    ) -> Result<Routed, Error> {
        let started = Instant::now();
        let query = request.query.trim();
        if query.is_empty() {
            return Err(Error::InvalidRequest("the query is empty".into()));
        }
        if request.query.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::InvalidRequest(format!(
                "the query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        if request.max_candidates > MAX_CANDIDATES {
            return Err(Error::InvalidRequest(format!(
                "max_candidates must be between 1 and {MAX_CANDIDATES}"
            )));
        }
        let max_candidates = match request.max_candidates {
            0 => DEFAULT_CANDIDATES,
            n => n,
        };
        let requested_mode = request.mode.unwrap_or(self.options.default_mode);
        let ranking = Ranking {
            tenant,
            query,
            request,
            max_candidates,
            allow,
        };
        let routed = |decision, fallback, embedding_model, keyword_decisive| Routed {
            decision,
            requested_mode,
            fallback,
            embedding_model,
            keyword_decisive,
            elapsed: started.elapsed(),
        };
        if !requested_mode.uses_vectors() {
            return Ok(routed(self.by_keywords(&ranking), None, None, false));
        }
        // The cascade: when keywords alone select a skill confidently, hybrid ranking picks
        // the same skill (measured by `make eval-routing`) and the query need not be embedded.
        if requested_mode == Mode::Hybrid {
            let decision = self.by_keywords(&ranking);
            if decision.status == skillos_routing::Status::Selected
                && decision.confidence >= self.options.keyword_decisive
            {
                return Ok(routed(decision, None, None, true));
            }
        }
        let (model, vector) = match self.embed_query(tenant, query).await {
            Ok(found) => found,
            Err(why) => return Ok(routed(self.by_keywords(&ranking), Some(why), None, false)),
        };
        Ok(
            match self.rank(&ranking, requested_mode, Some((&model, &vector))) {
                Ok(decision) => routed(decision, None, Some(model), false),
                // A vector the index cannot compare with (another dimension): keyword instead.
                Err(error) => {
                    let fallback = Fallback::EmbedderError(error.to_string());
                    routed(self.by_keywords(&ranking), Some(fallback), None, false)
                }
            },
        )
    }

    fn rank(
        &self,
        ranking: &Ranking<'_>,
        mode: Mode,
        vector: Option<(&str, &[f32])>,
    ) -> Result<Decision, skillos_routing::vector::VectorError> {
        let books = self.feedback.read().unwrap_or_else(|p| p.into_inner());
        self.read().route(&Query {
            text: ranking.query,
            mode,
            filter: &ranking.request.filter,
            max_candidates: ranking.max_candidates,
            vector: vector.map(|(model, vector)| QueryVector { model, vector }),
            feedback: books.get(ranking.tenant),
            allow: ranking.allow,
        })
    }

    fn by_keywords(&self, ranking: &Ranking<'_>) -> Decision {
        self.rank(ranking, Mode::Keyword, None)
            .expect("keyword routing needs no vector")
    }

    async fn embed_query(
        &self,
        tenant: &TenantId,
        query: &str,
    ) -> Result<(String, queries::Vector), Fallback> {
        let embedder = self
            .source
            .current(Some(tenant))
            .ok_or(Fallback::NoEmbedder)?;
        let model = embedder.model().to_owned();
        if !self.read().vectors_ready(&model) {
            return Err(Fallback::IndexNotReady);
        }
        let text = queries::normalise(query);
        match self
            .queries
            .embed(tenant, embedder, &text, self.options.embed_timeout)
            .await
        {
            Ok(vector) => Ok((model, vector)),
            Err(EmbedError::Timeout) => Err(Fallback::EmbedderTimeout),
            Err(EmbedError::Unavailable) => Err(Fallback::NoEmbedder),
            Err(EmbedError::Failed(message)) => Err(Fallback::EmbedderError(message)),
        }
    }

    /// Loads every tenant's feedback from the store.
    pub async fn load_feedback(&self) -> Result<usize, Error> {
        let Some(store) = &self.store else {
            return Ok(0);
        };
        let rows = store.all_feedback().await?;
        let mut books: HashMap<TenantId, FeedbackBook> = HashMap::new();
        for row in &rows {
            books.entry(row.tenant_id.clone()).or_default().record(
                &row.query_key,
                row.routed_skill_id.as_deref(),
                row.expected_skill_id.as_deref(),
            );
        }
        *self.feedback.write().unwrap_or_else(|p| p.into_inner()) = books;
        Ok(rows.len())
    }

    /// Records feedback: stored first, then applied to the tenant's book.
    pub async fn record_feedback(
        &self,
        mut feedback: RoutingFeedback,
    ) -> Result<RoutingFeedback, Error> {
        for id in [&feedback.routed_skill_id, &feedback.expected_skill_id]
            .into_iter()
            .flatten()
        {
            if !self.read().contains(id) {
                return Err(Error::SkillNotFound(id.clone()));
            }
        }
        feedback.query_key = self.read().query_key(&feedback.query);
        if let Some(store) = &self.store {
            store.insert_feedback(&feedback).await?;
        }
        self.feedback
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(feedback.tenant_id.clone())
            .or_default()
            .record(
                &feedback.query_key,
                feedback.routed_skill_id.as_deref(),
                feedback.expected_skill_id.as_deref(),
            );
        Ok(feedback)
    }
}

impl From<crate::routing::Error> for crate::error::Error {
    fn from(error: crate::routing::Error) -> Self {
        use crate::routing::Error as E;
        let message = error.to_string();
        match error {
            E::InvalidRequest(_) => Self::new(reason::INVALID_REQUEST, message),
            E::SkillNotFound(_) => Self::new(reason::SKILL_NOT_FOUND, message),
            E::Store(store) => Self::store(&store),
        }
    }
}
