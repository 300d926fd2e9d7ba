//! `skillos route`: routes queries over a skills root on disk, without a server. Vector and
//! hybrid modes start the local embedding process (`skillos-runner embed`) and cache skill
//! vectors in the data dir's store, so later runs embed only the query.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use skillos_core::registry::Catalog;
use skillos_routing::{Filter, Mode};
use skillos_store::TenantId;

use super::output::{Failure, table};
use crate::config::{Config, EmbedderKind};
use crate::embedders::StdioEmbedder;
use skillos_engine::flow::segments::{Split, segments};
use skillos_engine::routing::{self, EmbedderSource, RouteRequest, Routed};

/// How long the local embedder may take to load its model.
const EMBEDDER_STARTUP: Duration = Duration::from_secs(120);

#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// The request to route; omit it with --queries.
    query: Option<String>,
    /// Skills root to route over.
    #[arg(long, env = "SKILLOS_ROOT", value_name = "DIR")]
    root: PathBuf,
    /// keyword, vector or hybrid [default: routing.mode, else hybrid].
    #[arg(long, value_name = "MODE")]
    mode: Option<Mode>,
    /// A file with one query per line (blank lines and lines starting with `#` are skipped).
    #[arg(long, value_name = "FILE")]
    queries: Option<PathBuf>,
    /// Most candidates to show.
    #[arg(long, default_value_t = 5)]
    max_candidates: usize,
    /// Only skills with this tag (repeatable).
    #[arg(long)]
    tag: Vec<String>,
    /// Only skills of this domain.
    #[arg(long)]
    domain: Option<String>,
    /// Consider deprecated skills too.
    #[arg(long)]
    include_deprecated: bool,
    /// TOML config file (routing settings, data dir).
    #[arg(long, env = "SKILLOS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Do not cache skill vectors in the data dir.
    #[arg(long)]
    no_cache: bool,
    /// Hybrid mode: answer by keywords alone when they select a skill with at least this
    /// confidence, or `off` to always embed [default: routing.keyword_decisive].
    #[arg(long, value_name = "CONFIDENCE", value_parser = parse_decisive)]
    keyword_decisive: Option<f64>,
    /// Split each request into segments, route each and show the steps `run --query --split`
    /// would run (pipeline, parallel or auto).
    #[arg(long, value_enum)]
    split: Option<super::SplitArg>,
}

fn parse_decisive(text: &str) -> Result<f64, String> {
    if text == "off" {
        return Ok(f64::INFINITY);
    }
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err("expected a confidence between 0 and 1, or off".to_owned()),
    }
}

pub async fn route(args: RouteArgs, json: bool) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::new(e.to_string()))?;
    let mode = args.mode.unwrap_or(config.routing.default_mode());
    let queries = read_queries(&args)?;
    if !args.root.is_dir() {
        return Err(Failure::new(format!(
            "skills root {} is not a directory",
            args.root.display()
        )));
    }
    let catalog = Catalog::load(&args.root);
    let errors = catalog
        .issues()
        .iter()
        .filter(|i| i.severity == skillos_core::registry::Severity::Error)
        .count();
    if errors > 0 {
        eprintln!(
            "warning: {errors} invalid manifests in {} are not routed to (see `skillos validate`)",
            args.root.display()
        );
    }

    // Without a server there are no runners: the configured OpenAI-compatible endpoint, else
    // the local embedding process.
    let source = match (mode.uses_vectors(), config.routing.embedder) {
        (false, _) => EmbedderSource::None,
        (true, EmbedderKind::Openai) => {
            crate::embedders::source(&config.routing, &skillos_engine::dispatch::Service::new())
        }
        (true, _) => EmbedderSource::Fixed(start_embedder(&config).await?),
    };
    let store = if mode.uses_vectors() && !args.no_cache {
        let options = crate::server::store_options(&config);
        match skillos_store::open(&options).await {
            Ok(store) => Some(store),
            Err(error) => {
                eprintln!("warning: not caching skill vectors: {error}");
                None
            }
        }
    } else {
        None
    };
    // The local model's first query is slow (it warms up); offline, waiting longer is fine.
    let mut options = config.routing.options();
    options.embed_timeout = options
        .embed_timeout
        .max(std::time::Duration::from_secs(30));
    if let Some(threshold) = args.keyword_decisive {
        options.keyword_decisive = threshold;
    }
    let routing = routing::Service::new(options, source, store.clone());
    routing.sync(&catalog);
    if mode.uses_vectors() {
        if !json {
            eprintln!("indexing {} skills ...", routing.len());
        }
        let computed = routing
            .index_vectors()
            .await
            .map_err(|e| Failure::new(format!("cannot embed the skills: {e}")))?;
        if !json && computed > 0 {
            let cached = if store.is_some() {
                " (cached for the next run)"
            } else {
                ""
            };
            eprintln!("embedded {computed} texts{cached}");
        }
    }

    let filter = Filter {
        tags: args.tag.clone(),
        domain: args.domain.clone().unwrap_or_default(),
        include_deprecated: args.include_deprecated,
        ..Default::default()
    };
    let tenant = TenantId::default_tenant();
    let mut stdout = std::io::stdout().lock();
    let split = args.split.map_or(Split::None, Split::from);
    for query in &queries {
        let request = RouteRequest {
            query: query.clone(),
            mode: Some(mode),
            filter: filter.clone(),
            max_candidates: args.max_candidates,
        };
        let steps = segments(query, split);
        if steps.iter().map(Vec::len).sum::<usize>() >= 2 {
            let mut planned = Vec::with_capacity(steps.len());
            for step in steps {
                let mut members = Vec::with_capacity(step.len());
                for text in step {
                    let segment = RouteRequest {
                        query: text.clone(),
                        ..request.clone()
                    };
                    let routed = routing
                        .route(&tenant, &segment, None)
                        .await
                        .map_err(|e| Failure::new(format!("{e} (segment {text:?})")))?;
                    members.push((text, routed));
                }
                planned.push(members);
            }
            let selected = planned
                .iter()
                .flatten()
                .all(|(_, routed)| routed.decision.status == skillos_routing::Status::Selected);
            // Auto runs the request as one when a segment does not route; show that instead.
            if selected || split != Split::Auto {
                let plan = plan(query, &planned, selected);
                let _ = writeln!(stdout, "{}", if json { plan.0 } else { plan.1 });
                continue;
            }
        }
        let routed = routing
            .route(&tenant, &request, None)
            .await
            .map_err(|e| Failure::new(format!("{e} (query {query:?})")))?;
        if json {
            let line = serde_json::to_string(&decision_json(query, &routed)).unwrap_or_default();
            let _ = writeln!(stdout, "{line}");
        } else {
            let _ = writeln!(stdout, "{}", render(query, &routed));
        }
    }
    if let Some(store) = store {
        store.close().await;
    }
    Ok(())
}

/// A split request's plan as a JSON line and as text: each step's segments and the skill each
/// routes to; `runs` false when a segment is not routed (nothing would run).
fn plan(query: &str, steps: &[Vec<(String, Routed)>], runs: bool) -> (String, String) {
    let segment = |(text, routed): &(String, Routed)| {
        serde_json::json!({
            "segment": text,
            "status": routed.decision.status,
            "skill_id": routed.decision.skill_id,
            "confidence": routed.decision.confidence,
        })
    };
    let document = serde_json::json!({
        "query": query,
        "runs": runs,
        "steps": steps.iter().map(|step| step.iter().map(segment).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });
    let mut text = format!(
        "plan: {} step(s){}",
        steps.len(),
        if runs {
            ""
        } else {
            "; nothing runs: a segment is not routed"
        }
    );
    for (index, step) in steps.iter().enumerate() {
        let members: Vec<String> = step
            .iter()
            .map(|(text, routed)| match &routed.decision.skill_id {
                Some(skill_id) if routed.decision.status == skillos_routing::Status::Selected => {
                    format!("{text:?} -> {skill_id} ({:.2})", routed.decision.confidence)
                }
                _ => format!("{text:?} -> not routed ({})", routed.decision.explanation),
            })
            .collect();
        text.push_str(&format!("\n  step {index}: {}", members.join(" | ")));
    }
    (document.to_string(), text)
}

fn read_queries(args: &RouteArgs) -> Result<Vec<String>, Failure> {
    match (&args.query, &args.queries) {
        (Some(query), None) => Ok(vec![query.clone()]),
        (None, Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
            let mut queries = Vec::new();
            for line in std::io::BufReader::new(file).lines() {
                let line =
                    line.map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    queries.push(line.to_owned());
                }
            }
            Ok(queries)
        }
        (Some(_), Some(_)) => Err(Failure::usage("give a QUERY or --queries FILE, not both")),
        (None, None) => Err(Failure::usage("give a QUERY or --queries FILE")),
    }
}

/// Starts `skillos-runner embed`: from PATH, else from the `.venv` that `make setup` creates in
/// the current directory.
async fn start_embedder(config: &Config) -> Result<Arc<StdioEmbedder>, Failure> {
    if config.routing.embedder == EmbedderKind::None {
        return Err(Failure::new(
            "vector and hybrid routing need an embedder, but routing.embedder is none; \
             use --mode keyword",
        ));
    }
    let command = &config.runners.local_command;
    let program = find_program(command).ok_or_else(|| {
        Failure::new(format!(
            "cannot find `{command}` (the local embedder) on PATH or in ./.venv/bin; \
             run `make setup`, or use --mode keyword"
        ))
    })?;
    let model = config.routing.local_model.as_str();
    let embedder = StdioEmbedder::spawn(&program, &["embed", "--model", model], EMBEDDER_STARTUP)
        .await
        .map_err(|e| Failure::new(format!("cannot start the local embedder: {e}")))?;
    Ok(embedder)
}

fn find_program(command: &str) -> Option<PathBuf> {
    let path = Path::new(command);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_owned());
    }
    let dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain([PathBuf::from(".venv/bin")])
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

/// The JSON form of a decision, one object per query.
pub fn decision_json(query: &str, routed: &Routed) -> serde_json::Value {
    let decision = &routed.decision;
    serde_json::json!({
        "query": query,
        "status": decision.status,
        "skill_id": decision.candidates.first().map(|c| c.skill_id.clone()),
        "selected_skill_id": (decision.status == skillos_routing::Status::Selected)
            .then(|| decision.skill_id.clone())
            .flatten(),
        "confidence": decision.confidence,
        "mode": decision.mode,
        "requested_mode": routed.requested_mode,
        "fallback": routed.fallback.is_some(),
        "fallback_reason": routed.fallback.as_ref().map(|f| f.as_str()),
        "keyword_decisive": routed.keyword_decisive,
        "embedding_model": routed.embedding_model,
        "explanation": decision.explanation,
        "out_of_scope": decision.out_of_scope,
        "elapsed_ms": (routed.elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "candidates": decision.candidates,
    })
}

fn render(query: &str, routed: &Routed) -> String {
    let decision = &routed.decision;
    let mut out = format!("query: {query}\n");
    let status = serde_json::to_value(decision.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    out.push_str(&format!(
        "{status}: {}  confidence {:.2}  ({} mode{})\n",
        decision.skill_id.as_deref().unwrap_or("-"),
        decision.confidence,
        decision.mode.as_str(),
        routed
            .fallback
            .as_ref()
            .map(|f| format!(
                ", fell back from {}: {}",
                routed.requested_mode.as_str(),
                f.as_str()
            ))
            .or_else(|| routed
                .keyword_decisive
                .then(|| format!(", keywords decisive for {}", routed.requested_mode.as_str())))
            .unwrap_or_default()
    ));
    out.push_str(&format!("{}\n", decision.explanation));
    if !decision.candidates.is_empty() {
        let score = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.3}"));
        let rows = decision.candidates.iter().map(|c| {
            [
                c.rank.to_string(),
                c.skill_id.clone(),
                format!("{:.3}", c.score),
                format!("{:.2}", c.confidence),
                score(c.keyword_score),
                score(c.vector_score),
                c.matched_terms.join(" "),
            ]
        });
        out.push_str(&table(
            [
                "rank",
                "skill",
                "score",
                "confidence",
                "keyword",
                "vector",
                "matched",
            ],
            rows,
        ));
    }
    out
}
