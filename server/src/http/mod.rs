//! Plain HTTP routes on the shared port: liveness, readiness, metrics, and the skill registry
//! as JSON.

pub(crate) mod header_limit;
mod skills;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use skillos_core::Registry;
use skillos_core::registry::Severity;
use skillos_store::Store;

use crate::metrics::Metrics;

/// HTTP routes, also the metric labels they get.
pub const ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/skills",
    "/skills/{*rest}",
    "/validate",
    "/webhooks/{trigger_id}",
];

const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct HttpState {
    pub store: Arc<dyn Store>,
    pub registry: Option<Arc<Registry>>,
    pub metrics: Arc<Metrics>,
    /// Cleared when shutdown starts.
    pub serving: Arc<AtomicBool>,
    /// Whether skills root changes are picked up: `on`, `off` or `failed`.
    pub skills_watch: &'static str,
}

pub fn router(
    state: HttpState,
    skills: skillos_engine::skills::Service,
    auth: crate::auth::Authenticator,
    limiter: Arc<skillos_engine::rate_limit::Service>,
    webhooks: skillos_engine::webhooks::Service,
) -> Router {
    let skills_api = Router::new()
        .route("/skills", get(skills::list))
        .route("/skills/{*rest}", get(skills::skill).post(skills::skill))
        .route("/validate", post(skills::validate))
        .with_state(skills::SkillsState {
            service: skills,
            auth,
            limiter,
        });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(skills_api)
        .merge(
            Router::new()
                .route("/webhooks/{trigger_id}", post(webhooks::deliver))
                .with_state(webhooks),
        )
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: serving, and the store answers within a bound.
async fn readyz(State(state): State<HttpState>) -> Response {
    let serving = state.serving.load(Ordering::Acquire);
    let store = match tokio::time::timeout(STORE_CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: store check failed");
            "unavailable".to_owned()
        }
        Err(_) => "timeout".to_owned(),
    };
    let skills = state
        .registry
        .as_ref()
        .map(|registry| registry.catalog().len())
        .unwrap_or(0);
    let ready = serving && store == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "serving": if serving { "ok" } else { "shutting_down" },
            "store": store,
            "store_backend": state.store.backend().as_str(),
            "skills_watch": state.skills_watch,
        },
        "skills": skills,
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<HttpState>) -> Response {
    if let Some(registry) = &state.registry {
        let catalog = registry.catalog();
        let errors = catalog
            .issues()
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count();
        let warnings = catalog.issues().len() - errors;
        state.metrics.set_skills(catalog.len(), errors, warnings);
    }
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.encode(),
    )
        .into_response()
}
