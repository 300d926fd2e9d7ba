//! `make bench`: the job queue end to end, on SQLite and on PostgreSQL, against direct runs
//! measured side by side in the same process.
//!
//! For each store: the full `skillos serve` stack with the example skills root and the Rust
//! echo runner (the one the integration tests use) attached over gRPC. First the baseline:
//! `OrchestratorService/Run` of the echo skill with 64 calls in flight for a fixed time. Then
//! the queue: `JOBS` jobs of the same skill enqueued with 64 calls in flight while the
//! server's workers claim and run them; the figures are the enqueue rate (acknowledged jobs
//! per second), the end-to-end rate (jobs from the first enqueue to the last success) and each
//! job's time from enqueue to finish. Last, webhooks: signed Standard Webhooks deliveries
//! (each with its own id) posted to `/webhooks/{id}` over HTTP/1.1 with 64 in flight; each
//! accepted one is verified, deduplicated and stored with its job. PostgreSQL comes from `SKILLOS_TEST_POSTGRES_DSN` or the
//! local default; `BENCH_POSTGRES=off` leaves it out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use skillos::config::{Config, StorageBackend};
use skillos_proto::v1::{
    self, job_service_client::JobServiceClient,
    orchestrator_service_client::OrchestratorServiceClient, run_request,
};
use tonic::transport::Channel;

#[path = "../tests/common/runner.rs"]
#[allow(dead_code)]
mod runner;

const RUNNER_TOKEN: &str = "bench-runner-token-0123456789";
const ECHO_SKILL: &str = "office/coffee_break";
const IN_FLIGHT: usize = 64;

fn jobs() -> usize {
    std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000)
}

fn duration() -> Duration {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(seconds)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../skills");
    println!("| store | what | count | per second | p50 ms | p99 ms | ratio to Run |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let data = tempfile::tempdir()?;
    let addr = start(root.clone(), data.path().to_owned(), None).await?;
    measure("sqlite", addr).await?;
    if std::env::var("BENCH_POSTGRES").is_ok_and(|v| v == "off") {
        return Ok(());
    }
    let schema = format!("skillos_bench_{}", uuid::Uuid::new_v4().simple());
    let data = tempfile::tempdir()?;
    let addr = start(root, data.path().to_owned(), Some(schema)).await?;
    measure("postgres", addr).await
}

async fn measure(store: &str, addr: SocketAddr) -> anyhow::Result<()> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let runs = direct_runs(channel.clone()).await?;
    let (enqueued, elapsed, latencies) = queue(channel.clone()).await?;
    let hooks = webhooks(addr, channel).await?;
    let count = latencies.len();
    let end_to_end = count as f64 / elapsed;
    println!(
        "| {store} | Run (baseline) | {} | {:.0} | {:.2} | {:.2} | 1.00 |",
        runs.count, runs.per_second, runs.p50_ms, runs.p99_ms
    );
    println!(
        "| {store} | EnqueueJob accepted | {count} | {enqueued:.0} | | | {:.2} |",
        enqueued / runs.per_second
    );
    println!(
        "| {store} | jobs end to end | {count} | {end_to_end:.0} | {:.1} | {:.1} | {:.2} |",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        end_to_end / runs.per_second
    );
    println!(
        "| {store} | webhook deliveries accepted | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
        hooks.count,
        hooks.per_second,
        hooks.p50_ms,
        hooks.p99_ms,
        hooks.per_second / runs.per_second
    );
    Ok(())
}

/// Signed deliveries with distinct ids, as fast as 64 senders can post them.
async fn webhooks(addr: SocketAddr, channel: Channel) -> anyhow::Result<Rate> {
    use skillos_engine::webhooks::{Scheme, verify::sign};
    let trigger = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let secret = v1::webhook_service_client::WebhookServiceClient::new(channel)
        .create_trigger(v1::CreateTriggerRequest {
            trigger: Some(v1::Trigger {
                id: trigger.clone(),
                skill_id: ECHO_SKILL.into(),
                signature_scheme: v1::SignatureScheme::StandardWebhooks as i32,
                enabled: true,
                ..Default::default()
            }),
            secret: String::new(),
        })
        .await?
        .into_inner()
        .secret;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()?;
    let url = format!("http://{addr}/webhooks/{trigger}");
    let deadline = Instant::now() + duration();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (client, url, secret, next) =
            (client.clone(), url.clone(), secret.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let body = r#"{"minutes": 10, "mood": "focused"}"#;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let id = format!("msg_{}", next.fetch_add(1, Ordering::Relaxed));
                let t = chrono::Utc::now().timestamp();
                let call = Instant::now();
                let response = client
                    .post(&url)
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", t.to_string())
                    .header(
                        "webhook-signature",
                        sign(Scheme::StandardWebhooks, &secret, &id, t, body.as_bytes()),
                    )
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status() == 202,
                    "delivery {id}: {}",
                    response.status()
                );
                latencies.push(call.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(rate(latencies, started.elapsed().as_secs_f64()))
}

struct Rate {
    count: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Calls per second and latency percentiles of calls that took `latencies` (ms) in `elapsed` s.
fn rate(mut latencies: Vec<f64>, elapsed: f64) -> Rate {
    latencies.sort_by(f64::total_cmp);
    Rate {
        count: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn direct_runs(channel: Channel) -> anyhow::Result<Rate> {
    let deadline = Instant::now() + duration();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let mut client = OrchestratorServiceClient::new(channel.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let call = Instant::now();
                client
                    .run(v1::RunRequest {
                        target: Some(run_request::Target::SkillId(ECHO_SKILL.into())),
                        ..Default::default()
                    })
                    .await?;
                latencies.push(call.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(rate(latencies, started.elapsed().as_secs_f64()))
}

/// Enqueues the jobs and waits for all of them: the enqueue rate, the seconds from the first
/// enqueue to the last success, and each job's enqueue-to-finish time in ms, sorted.
async fn queue(channel: Channel) -> anyhow::Result<(f64, f64, Vec<f64>)> {
    let total = jobs();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let mut client = JobServiceClient::new(channel.clone());
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                client
                    .enqueue_job(v1::EnqueueJobRequest {
                        skill_id: ECHO_SKILL.into(),
                        ..Default::default()
                    })
                    .await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let enqueued = total as f64 / started.elapsed().as_secs_f64();
    let mut client = JobServiceClient::new(channel);
    let open = vec![v1::JobState::Queued as i32, v1::JobState::Running as i32];
    loop {
        let page = client
            .list_jobs(v1::ListJobsRequest {
                states: open.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await?
            .into_inner();
        if page.jobs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(total);
    let mut page_token = String::new();
    loop {
        let page = client
            .list_jobs(v1::ListJobsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for job in &page.jobs {
            anyhow::ensure!(
                job.state == v1::JobState::Succeeded as i32,
                "job {} ended {:?}",
                job.id,
                job.state()
            );
            let ms = |t: &Option<prost_types::Timestamp>| {
                t.as_ref()
                    .map(|t| t.seconds as f64 * 1e3 + f64::from(t.nanos) / 1e6)
                    .unwrap_or_default()
            };
            latencies.push(ms(&job.finish_time) - ms(&job.create_time));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    anyhow::ensure!(
        latencies.len() == total,
        "{} jobs of {total}",
        latencies.len()
    );
    latencies.sort_by(f64::total_cmp);
    Ok((enqueued, elapsed, latencies))
}

async fn start(
    root: PathBuf,
    data_dir: PathBuf,
    postgres_schema: Option<String>,
) -> anyhow::Result<SocketAddr> {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.skills.root = Some(root);
    config.storage.data_dir = data_dir;
    if let Some(schema) = postgres_schema {
        config.storage.backend = StorageBackend::Postgres;
        config.storage.postgres_dsn = Some(
            std::env::var("SKILLOS_TEST_POSTGRES_DSN")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        );
        config.storage.postgres_schema = schema;
    }
    config.log.level = "warn".to_owned();
    config.runners.local = false;
    config.auth.dev_mode = true;
    config.runners.tokens = vec![skillos::config::RunnerTokenConfig {
        token: RUNNER_TOKEN.to_owned(),
        tenant: "default".to_owned(),
        skills: vec![ECHO_SKILL.to_owned()],
    }];
    // The configuration's environment variables (SKILLOS_JOB_WORKERS, ...) apply, to try
    // settings against the same load.
    config.apply_env(|name| std::env::var(name).ok())?;
    config.validate()?;
    skillos::telemetry::init(&config.log);
    let listener = skillos::server::bind(config.server.listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(skillos::server::run(
        config,
        listener,
        std::future::pending(),
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    let channel = loop {
        match Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(error) => {
                anyhow::ensure!(Instant::now() < deadline, "skillos did not start: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let echo =
        runner::TestRunner::attach(channel, RUNNER_TOKEN, "echo", &[ECHO_SKILL], runner::echo())
            .await?;
    // Keep the runner attached for the whole run.
    std::mem::forget(echo);
    Ok(addr)
}
