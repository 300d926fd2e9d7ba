//! Routing speed at catalog scale: builds a synthetic catalog (10,000 skills by default),
//! indexes it, loads one random 384-dimension vector per skill, then times keyword and hybrid
//! routing over generated queries (a quarter with a typo), and one incremental update.
//! Hybrid timings exclude the query embedding, which the embedder measures on its own.
//!
//! `cargo run --release -p skillos-routing --example bench-routing [SKILLS] [QUERIES] [EXAMPLES]`
//! (EXAMPLES: example requests per skill, each one more vector to scan; default 0).

use std::sync::Arc;
use std::time::{Duration, Instant};

use skillos_routing::{Analyzer, Filter, Mode, Query, QueryVector, Router, RouterParams, SkillDoc};

const WORDS: &[&str] = &[
    "invoice",
    "payment",
    "currency",
    "flight",
    "hotel",
    "booking",
    "report",
    "summary",
    "tender",
    "contract",
    "supplier",
    "shipping",
    "delivery",
    "price",
    "quote",
    "margin",
    "weather",
    "calendar",
    "meeting",
    "email",
    "document",
    "translate",
    "search",
    "archive",
    "customer",
    "order",
    "refund",
    "ticket",
    "support",
    "inventory",
    "warehouse",
    "forecast",
    "budget",
    "expense",
    "salary",
    "employee",
    "vacation",
    "schedule",
    "reminder",
    "alert",
    "счет",
    "платеж",
    "валюта",
    "перелет",
    "гостиница",
    "отчет",
    "договор",
    "поставщик",
    "доставка",
    "цена",
    "заказ",
    "клиент",
    "склад",
    "прогноз",
    "бюджет",
    "расход",
    "сотрудник",
    "отпуск",
    "встреча",
    "письмо",
    "документ",
    "поиск",
    "закупка",
    "тендер",
];

/// A small deterministic generator (SplitMix64), so every run benchmarks the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn word(&mut self) -> String {
        // Vary words with a numeric suffix so the vocabulary grows with the catalog.
        let base = WORDS[self.below(WORDS.len())];
        match self.below(4) {
            0 => format!("{base}{}", self.below(500)),
            _ => base.to_owned(),
        }
    }

    fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension)
            .map(|_| (self.next() % 2000) as f32 / 1000.0 - 1.0)
            .collect()
    }
}

fn catalog(rng: &mut Rng, skills: usize, examples: usize) -> Vec<SkillDoc> {
    (0..skills)
        .map(|i| SkillDoc {
            id: format!("domain{}/skill_{i}", i % 97),
            name: format!("{} {}", rng.word(), rng.word()),
            description: (0..30).map(|_| rng.word()).collect::<Vec<_>>().join(" "),
            tags: (0..6).map(|_| rng.word()).collect(),
            examples: (0..examples)
                .map(|_| (0..8).map(|_| rng.word()).collect::<Vec<_>>().join(" "))
                .collect(),
            deprecated: false,
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "{label:<34} p50 {:>8.3} ms  p99 {:>8.3} ms  mean {:>8.3} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let skills: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let queries: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let examples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    const DIMENSION: usize = 384;
    let mut rng = Rng(42);
    let docs = catalog(&mut rng, skills, examples);
    let parts = examples + 1;
    let vectors: Vec<Vec<f32>> = (0..skills * parts).map(|_| rng.vector(DIMENSION)).collect();

    let started = Instant::now();
    let mut router = Router::new(Arc::new(Analyzer::new()), RouterParams::default());
    router.sync(docs.iter().cloned());
    let indexed = started.elapsed();
    let started = Instant::now();
    for (i, vector) in vectors.iter().enumerate() {
        let doc = &docs[i / parts];
        let part = (i % parts) as u16;
        router
            .set_vector("bench", &doc.id, part, "key", vector)
            .expect("valid vector");
    }
    let loaded = started.elapsed();
    assert!(router.vectors_ready("bench"));
    println!(
        "catalog: {skills} skills with {examples} examples each, keyword index built in {:.1} ms, \
         {} vectors loaded in {:.1} ms",
        indexed.as_secs_f64() * 1e3,
        vectors.len(),
        loaded.as_secs_f64() * 1e3
    );

    let texts: Vec<String> = (0..queries)
        .map(|i| {
            let mut words: Vec<String> = (0..3 + rng.below(4)).map(|_| rng.word()).collect();
            if i % 4 == 0 {
                // A typo: swap two letters of the first word.
                let mut chars: Vec<char> = words[0].chars().collect();
                if chars.len() > 4 {
                    chars.swap(1, 2);
                }
                words[0] = chars.into_iter().collect();
            }
            words.join(" ")
        })
        .collect();
    let query_vectors: Vec<Vec<f32>> = (0..queries).map(|_| rng.vector(DIMENSION)).collect();
    let filter = Filter::default();
    let time = |mode: Mode, vector: bool| -> Vec<Duration> {
        texts
            .iter()
            .zip(&query_vectors)
            .map(|(text, qv)| {
                let started = Instant::now();
                let decision = router
                    .route(&Query {
                        text,
                        mode,
                        filter: &filter,
                        max_candidates: 5,
                        vector: vector.then_some(QueryVector {
                            model: "bench",
                            vector: qv,
                        }),
                        feedback: None,
                        allow: None,
                    })
                    .expect("routable");
                std::hint::black_box(decision);
                started.elapsed()
            })
            .collect()
    };
    // Warm up caches once, then measure.
    let _ = time(Mode::Keyword, false);
    report("keyword", time(Mode::Keyword, false));
    report("vector (excluding the embedding)", time(Mode::Vector, true));
    report("hybrid (excluding the embedding)", time(Mode::Hybrid, true));

    let mut changed = docs[skills / 2].clone();
    changed.description.push_str(" freshly changed words");
    let updates: Vec<Duration> = (0..200)
        .map(|i| {
            let mut doc = changed.clone();
            doc.description.push_str(&format!(" v{i}"));
            let started = Instant::now();
            router.upsert(doc);
            started.elapsed()
        })
        .collect();
    report("incremental update of one skill", updates);
}
