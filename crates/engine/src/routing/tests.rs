//! The routing service's cascade and query embeddings, with an embedder that counts.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Embeds by a hash of the words, so that similar texts get similar vectors; counts queries.
#[derive(Default)]
struct Counting {
    queries: AtomicUsize,
}

#[async_trait::async_trait]
impl Embedder for Counting {
    fn model(&self) -> &str {
        "counting"
    }

    async fn embed(
        &self,
        texts: &[String],
        kind: EmbedKind,
        _timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if kind == EmbedKind::Query {
            self.queries.fetch_add(texts.len(), Ordering::SeqCst);
        }
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.1f32; 8];
                for word in text.split_whitespace() {
                    let slot = word.bytes().map(usize::from).sum::<usize>() % 8;
                    vector[slot] += 1.0;
                }
                vector
            })
            .collect())
    }
}

fn doc(id: &str, description: &str, tags: &[&str]) -> SkillDoc {
    SkillDoc {
        id: id.to_owned(),
        name: id.to_owned(),
        description: description.to_owned(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        examples: vec![],
        deprecated: false,
    }
}

async fn service(keyword_decisive: f64) -> (Service, Arc<Counting>) {
    let embedder = Arc::new(Counting::default());
    let mut options = Options {
        default_mode: Mode::Hybrid,
        keyword_decisive,
        ..Options::default()
    };
    options.params.select_threshold = 0.0;
    let service = Service::new(options, EmbedderSource::Fixed(embedder.clone()), None);
    service.sync_documents([
        doc(
            "travel/search_hotels",
            "Search hotels in a city",
            &["hotels", "travel"],
        ),
        doc(
            "finance/convert_currency",
            "Convert an amount between currencies",
            &["currency"],
        ),
        doc(
            "office/coffee_break",
            "Schedule a coffee break",
            &["coffee"],
        ),
    ]);
    service.index_vectors().await.unwrap();
    (service, embedder)
}

async fn route(service: &Service, query: &str, mode: Option<Mode>) -> Routed {
    let request = RouteRequest {
        query: query.to_owned(),
        mode,
        ..Default::default()
    };
    service
        .route(&TenantId::default_tenant(), &request, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_decisive_keyword_ranking_answers_a_hybrid_query_without_its_embedding() {
    let (service, embedder) = service(0.0).await;
    let routed = route(&service, "search hotels in Kazan", None).await;
    assert!(routed.keyword_decisive);
    assert_eq!(routed.decision.status, skillos_routing::Status::Selected);
    assert_eq!(
        routed.decision.skill_id.as_deref(),
        Some("travel/search_hotels")
    );
    assert_eq!(routed.decision.mode, Mode::Keyword);
    assert_eq!(routed.requested_mode, Mode::Hybrid);
    assert_eq!(routed.fallback, None);
    assert_eq!(routed.embedding_model, None);
    assert_eq!(embedder.queries.load(Ordering::SeqCst), 0);

    // Keywords that select nothing decide nothing: the query is embedded.
    let routed = route(&service, "qwxz vbnm", None).await;
    assert!(!routed.keyword_decisive);
    assert_eq!(routed.decision.mode, Mode::Hybrid);
    assert_eq!(routed.embedding_model.as_deref(), Some("counting"));
    assert_eq!(embedder.queries.load(Ordering::SeqCst), 1);

    // Vector mode asks for the similarity itself: it never takes the shortcut.
    let routed = route(&service, "search hotels in Kazan", Some(Mode::Vector)).await;
    assert!(!routed.keyword_decisive);
    assert_eq!(routed.decision.mode, Mode::Vector);
    assert_eq!(embedder.queries.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn with_the_cascade_off_every_hybrid_query_is_embedded_once() {
    let (service, embedder) = service(f64::INFINITY).await;
    for query in ["search hotels in Kazan", "  search  hotels in Kazan "] {
        let routed = route(&service, query, None).await;
        assert!(!routed.keyword_decisive);
        assert_eq!(routed.decision.mode, Mode::Hybrid);
        assert_eq!(
            routed.decision.skill_id.as_deref(),
            Some("travel/search_hotels")
        );
    }
    // The second differs only in spacing: answered from the cache.
    assert_eq!(embedder.queries.load(Ordering::SeqCst), 1);
    assert_eq!(service.query_stats().cached, 1);
}
