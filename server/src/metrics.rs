//! Prometheus metrics: request count and latency per RPC or HTTP route, and the registry's size.
//!
//! The method label takes only values known at start (the RPCs of the descriptor sets and the
//! HTTP routes); anything else is counted as `other`, so a client cannot grow the label set.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use prost::Message;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

type HistogramFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    skills: Gauge,
    skill_issues: Family<SeverityLabels, Gauge>,
    known_methods: HashSet<String>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~26 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Metrics {
    /// `descriptor_sets` are encoded `FileDescriptorSet`s whose RPCs get their own label.
    pub fn new(descriptor_sets: &[&[u8]], http_routes: &[&str]) -> Arc<Self> {
        let mut registry = Registry::with_prefix("skillos");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests served, by RPC or HTTP route and status code",
            requests.clone(),
        );
        let latency = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "request_duration_seconds",
            "Time to the response headers, by RPC or HTTP route",
            latency.clone(),
        );
        let skills = Gauge::default();
        registry.register(
            "skills",
            "Skills served from the skills root",
            skills.clone(),
        );
        let skill_issues = Family::<SeverityLabels, Gauge>::default();
        registry.register(
            "skill_issues",
            "Problems found in the skills root, by severity",
            skill_issues.clone(),
        );

        let mut known_methods: HashSet<String> =
            http_routes.iter().map(|route| route.to_string()).collect();
        for set in descriptor_sets {
            known_methods.extend(rpc_paths(set));
        }
        Arc::new(Self {
            registry,
            requests,
            latency,
            skills,
            skill_issues,
            known_methods,
        })
    }

    /// The RPC path when it is a known RPC, else the route template the router matched (for
    /// HTTP routes such as `/skills/{*rest}`), else `other`.
    fn label(&self, path: &str, route: Option<&str>) -> String {
        if self.known_methods.contains(path) {
            return path.to_owned();
        }
        match route {
            Some(route) if self.known_methods.contains(route) => route.to_owned(),
            _ => "other".to_owned(),
        }
    }
    pub fn set_skills(&self, skills: usize, errors: usize, warnings: usize) {
        self.skills.set(skills as i64);
        self.skill_issues
            .get_or_create(&SeverityLabels {
                severity: "error".into(),
            })
            .set(errors as i64);
        self.skill_issues
            .get_or_create(&SeverityLabels {
                severity: "warning".into(),
            })
            .set(warnings as i64);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode metrics");
        }
        text
    }
}

/// Every `/package.Service/Method` path of an encoded descriptor set.
fn rpc_paths(encoded: &[u8]) -> Vec<String> {
    let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}

/// axum middleware recording every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let method = metrics.label(request.uri().path(), route);
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let code = match response.headers().get("grpc-status") {
        Some(status) => format!("grpc_{}", status.to_str().unwrap_or("unknown")),
        None if is_grpc(&response) => "grpc_0".to_owned(),
        None => response.status().as_u16().to_string(),
    };
    metrics
        .latency
        .get_or_create(&MethodLabels {
            method: method.clone(),
        })
        .observe(elapsed);
    metrics
        .requests
        .get_or_create(&RequestLabels { method, code })
        .inc();
    response
}

fn is_grpc(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_only_known_methods() {
        let metrics = Metrics::new(&[skillos_proto::FILE_DESCRIPTOR_SET], &["/healthz"]);
        assert_eq!(
            metrics.label("/skillos.v1.SkillService/ListSkills", None),
            "/skillos.v1.SkillService/ListSkills"
        );
        assert_eq!(metrics.label("/healthz", None), "/healthz");
        assert_eq!(
            metrics.label("/skillos.v1.SkillService/Nope", None),
            "other"
        );
        assert_eq!(metrics.label("/random/path", None), "other");
    }
}
