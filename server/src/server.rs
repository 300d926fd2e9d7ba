//! `skillos serve`: startup reads top to bottom, shutdown is ordered and bounded.
//!
//! Startup: bind the listener (a busy port fails before anything else is touched), open the
//! store and run its migrations, load and watch the skills root, build the services, mark
//! health SERVING. Shutdown: health NOT_SERVING and readiness down, stop accepting, drain
//! in-flight requests for at most `server.shutdown_grace_seconds`, close the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use skillos_core::Registry;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::auth::{Authenticator, RunnerTokens, jwt};
use crate::config::RunnerTokenConfig;
use crate::config::{Config, StorageBackend};
use crate::grpc;
use crate::http::{self, HttpState};
use crate::local_runner::{self, LocalRunner};
use crate::metrics::{self, Metrics};
use skillos_engine::{
    approvals, breaker, budget, dispatch, jobs, orchestrator, policy, rate_limit, retention,
    routing, schedules, skills, webhooks,
};

const STORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often health checks the store, and how long one check may take.
const STORE_CHECK_EVERY: Duration = Duration::from_secs(1);
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How often routing checks for a reloaded root and for missing skill vectors.
const ROUTING_TICK: Duration = Duration::from_millis(500);
/// How often waiting approved runs and expired approvals are looked for.
const RESUME_TICK: Duration = Duration::from_secs(1);
/// How often the permission policy files are read for changes.
const POLICY_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Binds the server's one listener, with a message that says what to do when the port is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        let hint = if error.kind() == std::io::ErrorKind::AddrInUse {
            " (is another server running there? choose another address with --listen or SKILLOS_LISTEN)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {addr}: {error}{hint}")
    })
}

/// Runs the server on `listener` until `shutdown` resolves, then drains and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local_addr = listener.local_addr()?;

    let store = skillos_store::open(&store_options(&config))
        .await
        .with_context(|| format!("cannot open the {} store", config.storage.backend.as_str()))?;

    let registry = match &config.skills.root {
        Some(root) => Some(Registry::open(root)?),
        None => {
            tracing::warn!("no skills root configured (--root or SKILLOS_ROOT): serving no skills");
            None
        }
    };
    let (_watcher, skills_watch) = match (&registry, config.skills.watch) {
        (Some(registry), true) => {
            let debounce = Duration::from_millis(config.skills.reload_debounce_ms);
            match registry.watch(debounce) {
                Ok(watcher) => (Some(watcher), "on"),
                Err(error) => {
                    tracing::warn!(%error, "skills root changes will not be picked up");
                    (None, "failed")
                }
            }
        }
        _ => (None, "off"),
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let serving = Arc::new(AtomicBool::new(false));
    let metrics = Metrics::new(&grpc::descriptor_sets(), http::ROUTES);
    let dispatcher = dispatch::Service::new();
    let policies_dir = config.policies.dir.clone().or_else(|| {
        config
            .skills
            .root
            .as_ref()
            .map(|root| root.join("policies"))
    });
    let policies = Arc::new(
        policy::Service::load(policies_dir).context("cannot load the permission policies")?,
    );
    let limiter = Arc::new(rate_limit::Service::new(&config.rate_limits).await?);
    let authenticator = Authenticator::new(
        config.auth.dev_mode,
        jwt_verifier(&config.auth)?.map(Arc::new),
        store.clone(),
    );
    if config.auth.dev_mode {
        tracing::warn!(
            "dev mode: callers without credentials act as the anonymous admin of the default tenant"
        );
    }
    let http_limiter = limiter.clone();
    let webhook_limiter = limiter.clone();
    let policies_for_grpc = policies.clone();
    let budgets = budget::Service::new(store.clone(), config.budgets.clone());
    let approvals = approvals::Service::new(store.clone(), policies.clone());
    let governance_task = tokio::spawn(maintain_governance(
        store.clone(),
        policies.clone(),
        limiter.clone(),
        budgets.clone(),
        dispatcher.shutdown_signal(),
    ));
    let skills = skills::Service::new(
        registry.clone(),
        store.clone(),
        dispatcher.clone(),
        policies.clone(),
    );
    let http_state = HttpState {
        store: store.clone(),
        registry: registry.clone(),
        metrics: metrics.clone(),
        serving: serving.clone(),
        skills_watch,
    };

    let runners = &config.runners;
    // Development mode: a runner for the root as a child process, with a token of its own.
    let local_runner = match (&config.skills.root, runners.local) {
        (Some(root), true) => Some(LocalRunner {
            command: runners.local_command.clone(),
            root: root.clone(),
            server: loopback(local_addr),
            token: local_runner::new_token(),
            embeddings: (config.routing.embedder == crate::config::EmbedderKind::Runner)
                .then(|| config.routing.local_model.clone()),
            watch: config.skills.watch,
        }),
        _ => None,
    };
    let mut runner_tokens = runners.tokens.clone();
    if let Some(local) = &local_runner {
        runner_tokens.push(RunnerTokenConfig {
            token: local.token.clone(),
            tenant: skillos_store::TenantId::DEFAULT.to_owned(),
            skills: vec!["*".to_owned()],
        });
    }
    let routing = Arc::new(routing::Service::new(
        config.routing.options(),
        crate::embedders::source(&config.routing, &dispatcher),
        Some(store.clone()),
    ));
    if let Some(registry) = &registry {
        routing.sync(&registry.catalog());
    }
    match routing.load_feedback().await {
        Ok(count) if count > 0 => tracing::info!(count, "routing feedback loaded"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot load routing feedback"),
    }
    let routing_task = tokio::spawn(maintain_routing(
        routing.clone(),
        registry.clone(),
        dispatcher.shutdown_signal(),
    ));
    let orchestrator = orchestrator::Service::new(
        skills.clone(),
        store.clone(),
        dispatcher.clone(),
        routing.clone(),
        Duration::from_secs(runners.default_timeout_seconds),
        orchestrator::Governance {
            policies,
            limiter,
            breakers: breaker::Service::new(store.clone(), &config.circuit_breaker),
            budgets: budgets.clone(),
            approvals: approvals.clone(),
        },
        Duration::from_secs(config.server.idempotency_ttl_seconds),
    );
    let resumer_task = tokio::spawn(resume_approved(
        orchestrator.clone(),
        approvals.clone(),
        dispatcher.shutdown_signal(),
    ));
    let jobs = jobs::Service::new(
        store.clone(),
        orchestrator.clone(),
        policies_for_grpc.clone(),
        dispatcher.clone(),
        config.jobs.clone(),
        Duration::from_secs(config.server.idempotency_ttl_seconds),
    );
    let jobs_task = tokio::spawn(jobs.clone().work(dispatcher.shutdown_signal()));
    let flows = skillos_engine::flow::runs::Service::new(
        orchestrator.clone(),
        store.clone(),
        policies_for_grpc.clone(),
        config.flows.clone(),
    );
    let flows_task = tokio::spawn(flows.clone().work(dispatcher.shutdown_signal()));
    let webhooks = webhooks::Service::new(
        store.clone(),
        jobs.clone(),
        orchestrator.clone(),
        webhook_limiter,
        policies_for_grpc.clone(),
        config.skills.root.as_deref(),
        &config.storage.data_dir,
        config.webhooks.clone(),
    );
    let schedules = schedules::Service::new(
        store.clone(),
        jobs.clone(),
        orchestrator.clone(),
        policies_for_grpc.clone(),
        Duration::from_secs(config.server.idempotency_ttl_seconds),
    );
    let scheduler_task = tokio::spawn(schedules.clone().run(dispatcher.shutdown_signal()));
    let webhooks_task = tokio::spawn(maintain_webhooks(
        webhooks.clone(),
        dispatcher.shutdown_signal(),
    ));
    let retention_task = tokio::spawn(maintain_retention(
        retention::Service::new(store.clone(), config.retention.clone()),
        dispatcher.shutdown_signal(),
    ));
    let services = grpc::Services {
        skills: skills.clone(),
        orchestrator,
        dispatcher: dispatcher.clone(),
        runner_tokens: RunnerTokens::new(&runner_tokens),
        runner_limits: grpc::runner::Limits {
            max_result_bytes: runners.max_result_bytes,
            max_message_bytes: runners.max_result_bytes * 2 + 1024 * 1024,
            heartbeat_interval: Duration::from_secs(runners.heartbeat_interval_seconds),
            heartbeat_timeout: Duration::from_secs(runners.heartbeat_timeout_seconds),
        },
        auth: authenticator.clone(),
        budgets,
        policies: policies_for_grpc,
        approvals,
        jobs,
        webhooks: webhooks.clone(),
        schedules,
        flows,
    };
    if runner_tokens.is_empty() {
        tracing::warn!(
            "no runner tokens configured (runners.tokens or SKILLOS_RUNNER_TOKEN): no runner can attach"
        );
    }
    let router = grpc::mount(
        http::router(http_state, skills, authenticator, http_limiter, webhooks),
        services,
        health_service,
        &config.server.cors_allowed_origins,
    )?
    .layer(axum::middleware::from_fn(http::header_limit::limit))
    .layer(axum::middleware::from_fn_with_state(
        metrics,
        metrics::track,
    ));

    set_serving(&health_reporter, true).await;
    serving.store(true, Ordering::Release);
    let store_watch_task = tokio::spawn(watch_store(
        store.clone(),
        health_reporter.clone(),
        serving.clone(),
    ));
    let (stop_local_runner, local_runner_stopped) = tokio::sync::watch::channel(false);
    let local_runner_task =
        local_runner.map(|local| tokio::spawn(local.supervise(local_runner_stopped)));
    tracing::info!(
        listen = %local_addr,
        store = config.storage.backend.as_str(),
        skills = registry.as_ref().map(|r| r.catalog().len()).unwrap_or(0),
        "skillos serving gRPC, gRPC-web and HTTP"
    );

    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let drain_started = Arc::new(tokio::sync::Notify::new());
    {
        let drain_started = drain_started.clone();
        let serving = serving.clone();
        let health_reporter = health_reporter.clone();
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: health NOT_SERVING, draining in-flight requests");
            serving.store(false, Ordering::Release);
            set_serving(&health_reporter, false).await;
            // Runner streams end once their attempts in flight are done.
            dispatcher.shut_down();
            stop_local_runner.send_replace(true);
            drain_started.notify_one();
            let _ = drain_tx.send(());
        });
    }

    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .http2_max_header_list_size(http::header_limit::DECODE_LIMIT)
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            async {
                let _ = drain_rx.await;
            },
        );

    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    tokio::select! {
        result = server => result.context("server failed")?,
        () = async { drain_started.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "drain did not finish in time; closing connections");
        }
    }
    routing_task.abort();
    governance_task.abort();
    resumer_task.abort();
    jobs_task.abort();
    flows_task.abort();
    webhooks_task.abort();
    retention_task.abort();
    store_watch_task.abort();
    scheduler_task.abort();
    if let Some(task) = local_runner_task {
        let _ = tokio::time::timeout(Duration::from_secs(12), task).await;
    }
    // Connections still checked out (a query that outlived the grace) must not hold the exit.
    if tokio::time::timeout(STORE_CLOSE_TIMEOUT, store.close())
        .await
        .is_err()
    {
        tracing::warn!("store connections still busy; exiting without waiting for them");
    }
    tracing::info!("shutdown complete");
    Ok(())
}

/// The JWT verifier of the configuration, when JWT keys or a JWKS URL are configured.
fn jwt_verifier(config: &crate::config::AuthConfig) -> anyhow::Result<Option<jwt::Verifier>> {
    if config.jwt_keys.is_empty() && config.jwks_url.is_none() {
        return Ok(None);
    }
    let keys = config
        .jwt_keys
        .iter()
        .map(|key| {
            let alg = key
                .alg
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown JWT algorithm {}", key.alg))?;
            jwt::Key::from_file(&key.path, alg, key.kid.clone())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let algorithms = config
        .jwt_algorithms
        .iter()
        .map(|alg| {
            alg.parse()
                .map_err(|_| anyhow::anyhow!("unknown JWT algorithm {alg}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let settings = jwt::Settings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        leeway: Duration::from_secs(config.jwt_leeway_seconds),
        algorithms,
        tenant_claim: config.jwt_tenant_claim.clone(),
        roles_claim: config.jwt_roles_claim.clone(),
        attribute_claims: config.jwt_attribute_claims.clone(),
        jwks_min_refresh: Duration::from_secs(config.jwks_min_refresh_seconds),
    };
    Ok(Some(jwt::Verifier::new(
        settings,
        keys,
        config.jwks_url.clone(),
    )?))
}

/// Reloads the permission policies when their files change (a broken file keeps the last good
/// policies), releases stale budget reservations and forgets idle rate-limit keys.
async fn maintain_governance(
    store: Arc<dyn skillos_store::Store>,
    policies: Arc<policy::Service>,
    limiter: Arc<rate_limit::Service>,
    budgets: budget::Service,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(POLICY_RELOAD_INTERVAL) => {}
        }
        if let Err(error) = policies.reload() {
            tracing::error!(%error, "permission policies not reloaded; the previous ones stay in force");
        }
        ticks += 1;
        if ticks.is_multiple_of(15)
            && let Err(error) = budgets.expire().await
        {
            tracing::warn!(%error, "cannot expire stale budget reservations");
        }
        if ticks.is_multiple_of(60)
            && let Err(error) = store.delete_expired_idempotency(skillos_store::now()).await
        {
            tracing::warn!(%error, "cannot forget expired idempotency keys");
        }
        if ticks.is_multiple_of(30) {
            limiter.shrink();
        }
    }
}

/// Starts approved runs as soon as they are approved (on this replica) or within a second
/// (approved on another replica, or a runner for them arrived), and expires approvals whose time
/// is up. Runs waiting from before a restart start the same way.
async fn resume_approved(
    orchestrator: orchestrator::Service,
    approvals: approvals::Service,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let approved = approvals.approved_signal();
    let mut ticks = 0u64;
    loop {
        if let Err(error) = orchestrator.resume_approved().await {
            tracing::warn!(%error, "cannot start approved runs");
        }
        if ticks.is_multiple_of(5) {
            match approvals.expire_due().await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "approvals expired"),
                Err(error) => tracing::warn!(%error, "cannot expire approvals"),
            }
        }
        ticks += 1;
        tokio::select! {
            _ = shutdown.changed() => return,
            () = approved.notified() => {}
            () = tokio::time::sleep(RESUME_TICK) => {}
        }
    }
}

/// Forgets expired webhook delivery ids and rotated-out secrets, once a minute.
/// Sweeps rows past their retention: once a minute after start, then every interval.
async fn maintain_retention(
    retention: retention::Service,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wait = retention.interval().min(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(error) = retention.sweep().await {
            tracing::warn!(%error, "retention sweep failed; it is tried again");
        }
        wait = retention.interval();
    }
}

async fn maintain_webhooks(
    webhooks: webhooks::Service,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match webhooks.sweep().await {
            Ok(0) => {}
            Ok(removed) => {
                tracing::debug!(removed, "expired webhook deliveries and secrets removed")
            }
            Err(error) => tracing::warn!(%error, "cannot remove expired webhook deliveries"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Keeps routing in step: re-indexes skills after a reload of the root, and fills skill vectors
/// whenever an embedder is available and some are missing (a new model, changed skills).
async fn maintain_routing(
    routing: Arc<routing::Service>,
    registry: Option<Arc<Registry>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen_reloads = registry.as_ref().map(|r| r.reloads());
    let mut failures = 0u32;
    let mut retry_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ROUTING_TICK) => {}
            _ = shutdown.changed() => return,
        }
        if let Some(registry) = &registry {
            let reloads = registry.reloads();
            if Some(reloads) != seen_reloads {
                seen_reloads = Some(reloads);
                let changed = routing.sync(&registry.catalog());
                tracing::info!(changed, "routing index updated");
            }
        }
        if tokio::time::Instant::now() < retry_at {
            continue;
        }
        match routing.index_vectors().await {
            Ok(0) => failures = 0,
            Ok(computed) => {
                failures = 0;
                tracing::info!(computed, "skill vectors computed");
            }
            Err(skillos_engine::routing::EmbedError::Unavailable) => {}
            Err(error) => {
                failures += 1;
                let backoff = ROUTING_TICK * 2u32.saturating_pow(failures.min(6));
                retry_at = tokio::time::Instant::now() + backoff;
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot compute skill vectors");
            }
        }
    }
}

/// Health follows the store: NOT_SERVING while it cannot be reached or cannot write (checked
/// every [`STORE_CHECK_EVERY`]), SERVING again once it can, without a restart.
async fn watch_store(
    store: Arc<dyn skillos_store::Store>,
    reporter: tonic_health::server::HealthReporter,
    serving: Arc<AtomicBool>,
) {
    let mut down_since: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(STORE_CHECK_EVERY).await;
        let check = tokio::time::timeout(STORE_CHECK_TIMEOUT, store.ping()).await;
        let problem = match check {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("no answer within {STORE_CHECK_TIMEOUT:?}")),
        };
        if !serving.load(Ordering::Acquire) {
            return;
        }
        match (problem, down_since) {
            (Some(problem), None) => {
                tracing::error!(%problem, "the store is unavailable: health NOT_SERVING");
                down_since = Some(std::time::Instant::now());
                set_serving(&reporter, false).await;
            }
            (None, Some(since)) => {
                tracing::info!(
                    down_ms = since.elapsed().as_millis() as u64,
                    "the store is back: health SERVING"
                );
                down_since = None;
                set_serving(&reporter, true).await;
            }
            _ => {}
        }
    }
}

async fn set_serving(reporter: &tonic_health::server::HealthReporter, serving: bool) {
    use skillos_proto::v1::skill_service_server::SkillServiceServer;
    let status = if serving {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    reporter.set_service_status("", status).await;
    reporter
        .set_service_status(
            <SkillServiceServer<()> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
}

/// Where a child process reaches this server.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

pub fn store_options(config: &Config) -> skillos_store::Options {
    let storage = &config.storage;
    match storage.backend {
        StorageBackend::Sqlite => skillos_store::Options::Sqlite {
            path: storage.sqlite_path(),
        },
        StorageBackend::Postgres => skillos_store::Options::Postgres {
            dsn: storage.postgres_dsn.clone().unwrap_or_default(),
            schema: storage.postgres_schema.clone(),
            max_connections: storage.postgres_max_connections,
        },
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
