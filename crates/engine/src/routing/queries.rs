//! Query embeddings: a bounded cache by normalised text, and one embedding request for the
//! queries of a tenant that arrive while the previous request is out.
//!
//! The cache is per tenant: a query is the tenant's data, and a shared cache would let one
//! tenant learn from the answer time what another asked. The batcher works like group commit:
//! a query that finds nothing in flight is sent at once, alone; the queries that arrive while
//! it is out go together in the next request, so a busy embedder gets fewer, larger requests
//! and an idle one adds no delay.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashlink::LruCache;
use skillos_store::TenantId;
use tokio::sync::oneshot;

use super::embed::{EmbedKind, Embedder, Error};

/// Most queries in one request when the embedder names no limit.
const MAX_BATCH: usize = 64;

/// A query vector, shared by the cache and every caller that asked for it.
pub type Vector = Arc<[f32]>;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    tenant: TenantId,
    model: String,
    text: String,
}

/// The queue of one tenant and model: its entry exists while its sender task runs.
type QueueKey = (TenantId, String);

struct Waiting {
    text: String,
    reply: oneshot::Sender<Result<Vector, Error>>,
}

/// What [`QueryEmbeddings::embed`] did, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Queries answered from the cache.
    pub cached: u64,
    /// Embedding requests sent.
    pub requests: u64,
    /// Queries sent in them.
    pub embedded: u64,
}

/// The query cache and batcher of the routing service.
pub struct QueryEmbeddings {
    cache: Option<Mutex<LruCache<Key, Vector>>>,
    queues: Mutex<HashMap<QueueKey, Vec<Waiting>>>,
    stats: Mutex<Stats>,
}

/// The text a query is embedded and cached as: trimmed, runs of whitespace as one space.
pub fn normalise(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl QueryEmbeddings {
    /// A cache of at most `capacity` vectors (0: no cache).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            cache: (capacity > 0).then(|| Mutex::new(LruCache::new(capacity))),
            queues: Mutex::default(),
            stats: Mutex::default(),
        })
    }

    pub fn stats(&self) -> Stats {
        *lock(&self.stats)
    }

    /// The vector of `query` (already normalised) by `embedder` for `tenant`: from the cache,
    /// else from the next embedding request of the tenant's queue; gives up after `timeout`.
    pub async fn embed(
        self: &Arc<Self>,
        tenant: &TenantId,
        embedder: Arc<dyn Embedder>,
        query: &str,
        timeout: Duration,
    ) -> Result<Vector, Error> {
        let key = Key {
            tenant: tenant.clone(),
            model: embedder.model().to_owned(),
            text: query.to_owned(),
        };
        if let Some(vector) = self.cached(&key) {
            lock(&self.stats).cached += 1;
            return Ok(vector);
        }
        let (reply, answer) = oneshot::channel();
        let queue = (key.tenant, key.model);
        let waiting = Waiting {
            text: key.text,
            reply,
        };
        let start = match lock(&self.queues).entry(queue.clone()) {
            Entry::Occupied(mut sending) => {
                sending.get_mut().push(waiting);
                false
            }
            Entry::Vacant(idle) => {
                idle.insert(vec![waiting]);
                true
            }
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.send(queue, embedder, timeout).await });
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Failed("the embedding request was dropped".into())),
            Err(_) => Err(Error::Timeout),
        }
    }

    fn cached(&self, key: &Key) -> Option<Vector> {
        self.cache
            .as_ref()
            .and_then(|cache| lock(cache).get(key).cloned())
    }

    /// Sends the waiting queries of `queue` in requests of at most the embedder's batch size
    /// until none wait, then ends.
    async fn send(
        self: Arc<Self>,
        queue: QueueKey,
        embedder: Arc<dyn Embedder>,
        timeout: Duration,
    ) {
        let limit = match embedder.max_batch_size() {
            0 => MAX_BATCH,
            n => n.min(MAX_BATCH),
        };
        loop {
            let batch: Vec<Waiting> = {
                let mut queues = lock(&self.queues);
                let Some(waiting) = queues.get_mut(&queue) else {
                    return;
                };
                if waiting.is_empty() {
                    queues.remove(&queue);
                    return;
                }
                let take = waiting.len().min(limit);
                waiting.drain(..take).collect()
            };
            // The same text asked twice in one batch is embedded once.
            let mut texts: Vec<String> = Vec::with_capacity(batch.len());
            let mut slots: Vec<usize> = Vec::with_capacity(batch.len());
            {
                let mut slot: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
                for waiting in &batch {
                    let next = texts.len();
                    let at = *slot.entry(waiting.text.as_str()).or_insert(next);
                    if at == next {
                        texts.push(waiting.text.clone());
                    }
                    slots.push(at);
                }
            }
            {
                let mut stats = lock(&self.stats);
                stats.requests += 1;
                stats.embedded += texts.len() as u64;
            }
            let vectors = match embedder.embed(&texts, EmbedKind::Query, timeout).await {
                Ok(vectors) if vectors.len() == texts.len() => {
                    Ok(vectors.into_iter().map(Vector::from).collect::<Vec<_>>())
                }
                Ok(vectors) => Err(Error::Failed(format!(
                    "the embedder returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                ))),
                Err(error) => Err(error),
            };
            if let (Ok(vectors), Some(cache)) = (&vectors, &self.cache) {
                let mut cache = lock(cache);
                for (text, vector) in texts.iter().zip(vectors) {
                    let key = Key {
                        tenant: queue.0.clone(),
                        model: queue.1.clone(),
                        text: text.clone(),
                    };
                    cache.insert(key, vector.clone());
                }
            }
            for (waiting, at) in batch.into_iter().zip(slots) {
                let answer = match &vectors {
                    Ok(vectors) => Ok(vectors[at].clone()),
                    Err(error) => Err(error.clone()),
                };
                // A caller that gave up no longer listens; its vector is cached all the same.
                let _ = waiting.reply.send(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers each text with a vector made of its bytes, after `delay`; fails while `failing`.
    struct Fake {
        delay: Duration,
        requests: AtomicUsize,
        texts: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    fn fake(delay_ms: u64) -> Arc<Fake> {
        Arc::new(Fake {
            delay: Duration::from_millis(delay_ms),
            requests: AtomicUsize::new(0),
            texts: AtomicUsize::new(0),
            failing: Default::default(),
        })
    }

    fn vector_of(text: &str) -> Vec<f32> {
        let sum: u32 = text.bytes().map(u32::from).sum();
        vec![text.len() as f32, sum as f32]
    }

    #[async_trait::async_trait]
    impl Embedder for Fake {
        fn model(&self) -> &str {
            "fake"
        }

        async fn embed(
            &self,
            texts: &[String],
            kind: EmbedKind,
            _timeout: Duration,
        ) -> Result<Vec<Vec<f32>>, Error> {
            assert_eq!(kind, EmbedKind::Query);
            self.requests.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.failing.load(Ordering::SeqCst) {
                return Err(Error::Failed("model crashed".into()));
            }
            Ok(texts.iter().map(|t| vector_of(t)).collect())
        }
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn queries_are_cached_as_their_normalised_text() {
        assert_eq!(
            normalise("  find \t hotels\nin  Kazan "),
            "find hotels in Kazan"
        );
        assert_eq!(normalise("Find Hotels"), "Find Hotels");
    }

    #[tokio::test]
    async fn a_repeated_query_is_embedded_once_per_tenant() {
        let model = fake(0);
        let queries = QueryEmbeddings::new(100);
        let (a, b) = (tenant("a"), tenant("b"));
        for who in [&a, &a, &b, &a] {
            let vector = queries
                .embed(who, model.clone(), "find hotels", LONG)
                .await
                .unwrap();
            assert_eq!(&*vector, vector_of("find hotels").as_slice());
        }
        // Once for a, once for b: a cache shared across tenants would leak queries by timing.
        assert_eq!(model.texts.load(Ordering::SeqCst), 2);
        assert_eq!(
            queries.stats(),
            Stats {
                cached: 2,
                requests: 2,
                embedded: 2
            }
        );
    }

    #[tokio::test]
    async fn the_cache_keeps_the_most_recent_queries_only() {
        let model = fake(0);
        let queries = QueryEmbeddings::new(2);
        let t = tenant("a");
        for text in ["one", "two", "one", "three", "one", "two"] {
            queries.embed(&t, model.clone(), text, LONG).await.unwrap();
        }
        // "two" was the least recently used when "three" came, so it was embedded again.
        assert_eq!(model.texts.load(Ordering::SeqCst), 4);
        let off = QueryEmbeddings::new(0);
        for _ in 0..3 {
            off.embed(&t, model.clone(), "one", LONG).await.unwrap();
        }
        assert_eq!(off.stats().cached, 0);
    }

    #[tokio::test]
    async fn queries_that_arrive_together_go_in_one_request() {
        let model = fake(50);
        let queries = QueryEmbeddings::new(100);
        let t = tenant("a");
        let calls = (0..40).map(|i| {
            let (queries, model, t) = (queries.clone(), model.clone(), t.clone());
            // Every fourth text repeats: embedded once within its batch.
            let text = format!("query {}", i % 30);
            tokio::spawn(async move {
                let vector = queries.embed(&t, model, &text, LONG).await.unwrap();
                (text, vector)
            })
        });
        for call in futures_join(calls).await {
            let (text, vector) = call;
            assert_eq!(&*vector, vector_of(&text).as_slice());
        }
        // The first went alone; the rest waited for it and went together.
        let requests = model.requests.load(Ordering::SeqCst);
        assert!(requests <= 3, "{requests} requests for 40 queries");
        assert_eq!(
            model.texts.load(Ordering::SeqCst) as u64,
            queries.stats().embedded
        );
        assert!(queries.stats().embedded <= 31);
    }

    #[tokio::test]
    async fn a_failed_request_fails_its_callers_and_is_not_cached() {
        let model = fake(20);
        model.failing.store(true, Ordering::SeqCst);
        let queries = QueryEmbeddings::new(100);
        let t = tenant("a");
        let calls = (0..5).map(|i| {
            let (queries, model, t) = (queries.clone(), model.clone(), t.clone());
            tokio::spawn(async move { queries.embed(&t, model, &format!("q{i}"), LONG).await })
        });
        for result in futures_join(calls).await {
            assert_eq!(result, Err(Error::Failed("model crashed".into())));
        }
        model.failing.store(false, Ordering::SeqCst);
        let vector = queries.embed(&t, model.clone(), "q1", LONG).await.unwrap();
        assert_eq!(&*vector, vector_of("q1").as_slice());
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_still_fills_the_cache() {
        let model = fake(200);
        let queries = QueryEmbeddings::new(100);
        let t = tenant("a");
        let early = queries
            .embed(&t, model.clone(), "slow", Duration::from_millis(20))
            .await;
        assert_eq!(early, Err(Error::Timeout));
        tokio::time::sleep(Duration::from_millis(400)).await;
        queries
            .embed(&t, model.clone(), "slow", LONG)
            .await
            .unwrap();
        assert_eq!(model.requests.load(Ordering::SeqCst), 1);
        assert_eq!(queries.stats().cached, 1);
    }

    async fn futures_join<T: Send + 'static>(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            out.push(task.await.unwrap());
        }
        out
    }
}
