//! `make bench`: the SkillOS request path against a raw tonic server, side by side in one run.
//!
//! Baseline: a bare `tonic::transport::Server` with only `grpc.health.v1` (no axum router, no
//! gRPC-web, CORS or metrics layers). Measured against it, on the full `skillos serve` stack
//! (SQLite store, the example skills root): `Health/Check` (the cost of the stack itself),
//! `SkillService/GetSkill` and `SkillService/ListSkills` (one store query plus the catalog).
//! `OrchestratorService/Run` goes through the dispatcher to (a) a minimal echo runner written
//! in Rust (the one the integration tests use) and (b) the Python runner (`skillos-runner`,
//! one process, run with `BENCH_PYTHON`, default `.venv/bin/python`), each attached over a real
//! gRPC stream.
//! `OrchestratorService/Route` by query: in keyword mode (`RouteKeyword`, the evaluation set's
//! queries in turn), in the default mode, hybrid with the Python runner's multilingual-e5
//! embeddings, on queries never asked before (`RouteDefault`: the evaluation and calibration
//! queries, then the same with a lead-in such as "Please:", each sent once in the whole run)
//! and on the same ten queries over and over (`RouteDefaultRepeated`).
//! `OrchestratorService/RunPipeline` of ten steps of the echo skill (`Flow10Echo`): pipelines
//! and steps per second, and each hand-off from one step's end to the next one's start (the
//! steps' own times), against RunEcho's runs per second in the same run.
//! `DurableFlow10Echo` runs a flow file of the same ten steps by its id through
//! `OrchestratorService/Run`: a durable flow run, each step's row stored before the next
//! starts; its hand-offs come from the stored steps' times (`FlowService/GetFlowRun`, read after
//! the cell). The flow is written into a copy of the root.
//! Each is driven at concurrency 1, 16 and 64 over one HTTP/2 connection for a fixed time.
//! Client and servers share the machine, so only ratios within one run mean much.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use skillos::config::Config;
use skillos_proto::v1::{
    GetFlowRunRequest, GetSkillRequest, ListFlowRunsRequest, ListRunnersRequest, ListSkillsRequest,
    PipelineStatus, RouteRequest, RoutingMode, RunPipelineRequest, RunRequest, SkillView,
    flow_service_client::FlowServiceClient, orchestrator_service_client::OrchestratorServiceClient,
    run_request, skill_service_client::SkillServiceClient,
};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[path = "../tests/common/runner.rs"]
#[allow(dead_code)]
mod runner;

const CONCURRENCY: [usize; 3] = [1, 16, 64];
const RUNNER_TOKEN: &str = "bench-runner-token-0123456789";
const PYTHON_RUNNER_TOKEN: &str = "bench-python-runner-token-0123456789";
/// Served by the Python runner (its token allows `finance/*` only); an empty payload is valid.
const PYTHON_SKILL: &str = "finance/get_exchange_rates";
/// The raw Python baseline (`scripts/bench_raw_runner.py`) serves the same skill to a tenant of
/// its own, so the two Python runners never share calls.
const RAW_PYTHON_TENANT: &str = "raw";
const RAW_PYTHON_RUNNER_TOKEN: &str = "bench-raw-python-runner-token-0123456789";

fn duration() -> Duration {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(seconds)
}

/// The API key of the RunEchoApiKey cell.
static API_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The API key of the RunRawPython cell (the raw baseline's tenant).
static RAW_API_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[derive(Clone, Copy, Debug)]
enum Call {
    Health,
    GetSkill,
    /// The 16 example skills, without schemas (the default view).
    ListSkills,
    /// The 16 example skills with their schemas.
    ListSkillsFull,
    /// Run a skill through the dispatcher on the echo runner.
    RunEcho,
    /// The same with an API key (one store read to authenticate) instead of dev mode.
    RunEchoApiKey,
    /// Run a skill through the dispatcher on the Python runner.
    RunPython,
    /// The same skill on the raw Python baseline: a bare grpc.aio process that echoes.
    RunRawPython,
    /// Route by query in keyword mode.
    RouteKeyword,
    /// Route by query in the default (hybrid) mode, each query new.
    RouteDefault,
    /// The same, ten queries over and over.
    RouteDefaultRepeated,
    /// A pipeline of ten steps of the echo skill.
    Flow10Echo,
    /// A stored flow run of ten steps of the echo skill, run by the flow's id.
    DurableFlow10Echo,
}

/// The flow of DurableFlow10Echo, written into the bench's copy of the root.
const DURABLE_FLOW: &str = "bench/echo10";

/// Steps of the Flow10Echo pipeline.
const FLOW_STEPS: usize = 10;

/// Flow10Echo's hand-offs (a step's end to the next one's start), in milliseconds.
static HAND_OFFS: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

/// The queries of the route cells.
struct Queries {
    /// The evaluation and calibration sets' queries.
    base: Vec<String>,
    /// The next never-sent query of RouteDefault.
    fresh: AtomicUsize,
    /// The next query of the cycling cells.
    turn: AtomicUsize,
    /// RouteDefault answers the keywords decided alone, that fell back to keywords (the
    /// embedding too slow), and all of them.
    decided: AtomicUsize,
    fell_back: AtomicUsize,
    answered: AtomicUsize,
}

/// Lead-ins that make the queries of later rounds new to the server.
const LEAD_INS: [&str; 12] = [
    "Please:",
    "Quick question:",
    "Hi!",
    "Hello,",
    "One more thing:",
    "Urgent:",
    "Next:",
    "Also:",
    "Now:",
    "OK,",
    "Right,",
    "Question:",
];

static QUERIES: OnceLock<Queries> = OnceLock::new();

fn queries() -> &'static Queries {
    QUERIES.get_or_init(|| {
        let mut base = Vec::new();
        for set in ["queries.jsonl", "calibration.jsonl"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/routing/").to_owned() + set;
            let text = std::fs::read_to_string(&path).expect("the routing evaluation sets");
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let item: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
                base.push(item["query"].as_str().expect("a query").to_owned());
            }
        }
        base.sort();
        base.dedup();
        Queries {
            base,
            fresh: AtomicUsize::new(0),
            turn: AtomicUsize::new(0),
            decided: AtomicUsize::new(0),
            fell_back: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
        }
    })
}

impl Queries {
    /// A query never sent before in this run; `None` when all are used.
    fn fresh(&self) -> Option<String> {
        let n = self.fresh.fetch_add(1, Ordering::Relaxed);
        let (round, index) = (n / self.base.len(), n % self.base.len());
        let query = &self.base[index];
        match round {
            0 => Some(query.clone()),
            r => LEAD_INS.get(r - 1).map(|lead| format!("{lead} {query}")),
        }
    }

    /// The next of the first `limit` queries, in turn.
    fn cycle(&self, limit: usize) -> String {
        let n = self.turn.fetch_add(1, Ordering::Relaxed);
        self.base[n % limit.min(self.base.len())].clone()
    }
}

struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::env::var("BENCH_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../skills"));
    let copy = tempfile::tempdir()?;
    let root = with_bench_flow(&root, copy.path())?;
    let raw = start_raw_tonic().await?;
    let data = tempfile::tempdir()?;
    let skillos = start_skillos(root.clone(), data.path().to_owned()).await?;
    let _python_runner = start_python_runner(skillos, &root).await?;
    let _raw_runner = start_raw_python_runner(skillos).await?;
    wait_for_vectors(skillos).await?;

    println!("| target | call | concurrency | requests/s | p50 ms | p99 ms | ratio to raw tonic |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let (calls, concurrencies) = selection()?;
    let mut python = Vec::new();
    let mut routes = Vec::new();
    let mut flows = Vec::new();
    for concurrency in concurrencies {
        let baseline = drive(raw, Call::Health, concurrency).await?;
        print_row("raw tonic", Call::Health, concurrency, &baseline, &baseline);
        for &call in &calls {
            let figures = drive(skillos, call, concurrency).await?;
            if matches!(
                call,
                Call::Flow10Echo | Call::DurableFlow10Echo | Call::RunEcho
            ) {
                let mut hand_offs = std::mem::take(&mut *HAND_OFFS.lock().unwrap());
                hand_offs.sort_by(f64::total_cmp);
                flows.push((concurrency, call, figures.requests_per_second, hand_offs));
            }
            print_row("skillos", call, concurrency, &figures, &baseline);
            if matches!(call, Call::RunPython | Call::RunRawPython) {
                python.push((concurrency, call, figures.requests_per_second));
            }
            if matches!(
                call,
                Call::RouteKeyword | Call::RouteDefault | Call::RouteDefaultRepeated
            ) {
                routes.push((concurrency, call, figures.requests_per_second));
            }
        }
    }
    // Routing in the default mode against keyword routing, measured in the same run.
    for &(concurrency, call, rate) in &routes {
        let keyword = routes
            .iter()
            .find(|&&(c, other, _)| c == concurrency && matches!(other, Call::RouteKeyword));
        if let (Some(&(_, _, keyword)), false) = (keyword, matches!(call, Call::RouteKeyword)) {
            println!(
                "\n{call:?} at {concurrency} in flight: {:.3} of RouteKeyword",
                rate / keyword
            );
        }
    }
    let q = queries();
    let answered = q.answered.load(Ordering::Relaxed);
    if answered > 0 {
        let share = |n: &AtomicUsize| {
            let n = n.load(Ordering::Relaxed);
            format!("{n} ({:.0}%)", 100.0 * n as f64 / answered as f64)
        };
        println!(
            "\nRouteDefault, {answered} new queries: decided by keywords alone {}, fell back to \
             keywords (embedding late) {}",
            share(&q.decided),
            share(&q.fell_back)
        );
    }
    // Steps of a pipeline against runs, measured in the same run.
    for (concurrency, call, rate, hand_offs) in &flows {
        if !matches!(call, Call::Flow10Echo | Call::DurableFlow10Echo) || hand_offs.is_empty() {
            continue;
        }
        let steps = rate * FLOW_STEPS as f64;
        let percentile = |p: f64| hand_offs[((hand_offs.len() as f64 - 1.0) * p).round() as usize];
        let run = flows
            .iter()
            .find(|(c, other, _, _)| c == concurrency && matches!(other, Call::RunEcho))
            .map(|(_, _, run, _)| format!(" ({:.2} of RunEcho's runs/s)", steps / run))
            .unwrap_or_default();
        println!(
            "\n{call:?} at {concurrency} in flight: {rate:.0} runs/s, {steps:.0} steps/s{run}; \
             hand-off p50 {:.3} ms, p99 {:.3} ms",
            percentile(0.50),
            percentile(0.99)
        );
    }
    // The Python runner against the raw Python baseline, measured in the same run.
    for &(concurrency, call, rate) in &python {
        let raw = python.iter().find(|&&(c, other, _)| {
            c == concurrency
                && matches!(other, Call::RunRawPython)
                && !matches!(call, Call::RunRawPython)
        });
        if let Some(&(_, _, raw)) = raw {
            println!(
                "\nRunPython at {concurrency} in flight: {:.2} of the raw Python baseline",
                rate / raw
            );
        }
    }
    Ok(())
}

const CALLS: [Call; 13] = [
    Call::Health,
    Call::GetSkill,
    Call::ListSkills,
    Call::ListSkillsFull,
    Call::RunEcho,
    Call::RunEchoApiKey,
    Call::RunPython,
    Call::RunRawPython,
    Call::RouteKeyword,
    Call::RouteDefaultRepeated,
    Call::RouteDefault,
    Call::Flow10Echo,
    Call::DurableFlow10Echo,
];

/// A copy of `root` in `into` with the flow of DurableFlow10Echo added.
fn with_bench_flow(root: &std::path::Path, into: &std::path::Path) -> anyhow::Result<PathBuf> {
    fn copy(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }
    let copied = into.join("skills");
    copy(root, &copied)?;
    let steps: String = (0..FLOW_STEPS)
        .map(|i| format!("  - {{name: s{i}, skill: {ECHO_SKILL}}}\n"))
        .collect();
    let (domain, name) = DURABLE_FLOW.split_once('/').expect("domain/name");
    let dir = copied.join("flows").join(domain);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        format!("id: {DURABLE_FLOW}\ndescription: Ten steps of the echo skill.\nsteps:\n{steps}"),
    )?;
    Ok(copied)
}

/// The hand-offs of the stored runs of DurableFlow10Echo not seen before (recorded only with
/// `record`: the warm-up's are just marked seen).
async fn durable_hand_offs(channel: Channel, record: bool) -> anyhow::Result<()> {
    static SEEN: std::sync::Mutex<Option<std::collections::HashSet<String>>> =
        std::sync::Mutex::new(None);
    let mut flows = FlowServiceClient::new(channel);
    let mut page_token = String::new();
    let mut new = Vec::new();
    loop {
        let page = flows
            .list_flow_runs(ListFlowRunsRequest {
                flow_id: DURABLE_FLOW.to_owned(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        {
            let mut seen = SEEN.lock().unwrap();
            let seen = seen.get_or_insert_with(Default::default);
            new.extend(
                page.runs
                    .into_iter()
                    .filter(|run| seen.insert(run.id.clone())),
            );
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if !record {
        return Ok(());
    }
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map_or(0.0, |t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
    };
    let mut gaps = Vec::new();
    for run in new {
        let request = GetFlowRunRequest { run_id: run.id };
        let Some(run) = flows.get_flow_run(request).await?.into_inner().run else {
            continue;
        };
        let mut steps = run.steps;
        steps.sort_by(|a, b| time(&a.start_time).total_cmp(&time(&b.start_time)));
        for pair in steps.windows(2) {
            gaps.push((time(&pair[1].start_time) - time(&pair[0].finish_time)) * 1e3);
        }
    }
    HAND_OFFS.lock().unwrap().extend(gaps);
    Ok(())
}

/// The cells to measure: every call at every concurrency, or those named in `BENCH_CALLS`
/// (`RunEcho,GetSkill`) and `BENCH_CONCURRENCY` (`64`), for profiling one cell.
fn selection() -> anyhow::Result<(Vec<Call>, Vec<usize>)> {
    let calls = match std::env::var("BENCH_CALLS") {
        Err(_) => CALLS.to_vec(),
        Ok(names) => names
            .split(',')
            .map(|name| {
                CALLS
                    .into_iter()
                    .find(|call| format!("{call:?}") == name.trim())
                    .ok_or_else(|| anyhow::anyhow!("BENCH_CALLS: no call named {name:?}"))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let concurrencies = match std::env::var("BENCH_CONCURRENCY") {
        Err(_) => CONCURRENCY.to_vec(),
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|error| anyhow::anyhow!("BENCH_CONCURRENCY: {error}"))?,
    };
    Ok((calls, concurrencies))
}

fn print_row(target: &str, call: Call, concurrency: usize, figures: &Figures, baseline: &Figures) {
    println!(
        "| {target} | {call:?} | {concurrency} | {:.0} | {:.3} | {:.3} | {:.2} |",
        figures.requests_per_second,
        figures.p50_ms,
        figures.p99_ms,
        figures.requests_per_second / baseline.requests_per_second
    );
}

async fn start_raw_tonic() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming)
            .await;
    });
    Ok(addr)
}

async fn start_skillos(root: PathBuf, data_dir: PathBuf) -> anyhow::Result<SocketAddr> {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.skills.root = Some(root);
    config.storage.data_dir = data_dir;
    config.log.level = "warn".to_owned();
    config.runners.local = false;
    // Anonymous calls (dev mode) for every cell but RunEchoApiKey, which authenticates.
    config.auth.dev_mode = true;
    let store = skillos_store::open(&skillos::server::store_options(&config)).await?;
    let key = skillos::auth::api_key::generate(
        skillos_store::TenantId::default_tenant(),
        "bench",
        vec!["admin".to_owned()],
        "bench",
        None,
    );
    skillos::auth::api_key::create(store.as_ref(), &key.key).await?;
    let raw = skillos::auth::api_key::generate(
        skillos_store::TenantId::parse(RAW_PYTHON_TENANT).map_err(anyhow::Error::msg)?,
        "bench-raw",
        vec!["admin".to_owned()],
        "bench",
        None,
    );
    skillos::auth::api_key::create(store.as_ref(), &raw.key).await?;
    store.close().await;
    let _ = API_KEY.set(key.token);
    let _ = RAW_API_KEY.set(raw.token);
    let token = |token: &str, pattern: &str| skillos::config::RunnerTokenConfig {
        token: token.to_owned(),
        tenant: "default".to_owned(),
        skills: vec![pattern.to_owned()],
    };
    config.runners.tokens = vec![
        token(RUNNER_TOKEN, ECHO_SKILL),
        token(PYTHON_RUNNER_TOKEN, "finance/*"),
        skillos::config::RunnerTokenConfig {
            token: RAW_PYTHON_RUNNER_TOKEN.to_owned(),
            tenant: RAW_PYTHON_TENANT.to_owned(),
            skills: vec![PYTHON_SKILL.to_owned()],
        },
    ];
    config.validate()?;
    skillos::telemetry::init(&config.log);
    let listener = skillos::server::bind(config.server.listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(skillos::server::run(
        config,
        listener,
        std::future::pending(),
    ));
    let channel = connect(addr).await?;
    let mut health = HealthClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(20);
    while health.check(HealthCheckRequest::default()).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "skillos did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let echo = runner::TestRunner::attach(
        connect(addr).await?,
        RUNNER_TOKEN,
        "echo",
        &[ECHO_SKILL],
        runner::identity(),
    )
    .await?;
    // Keep the runner attached for the whole run.
    std::mem::forget(echo);
    Ok(addr)
}

/// Starts the raw Python baseline and waits until it has attached.
async fn start_raw_python_runner(addr: SocketAddr) -> anyhow::Result<tokio::process::Child> {
    use tokio::io::AsyncBufReadExt as _;
    let python = std::env::var("BENCH_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_owned());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/bench_raw_runner.py"
    );
    let mut child = tokio::process::Command::new(&python)
        .arg(script)
        .args([
            "--server",
            &addr.to_string(),
            "--token",
            RAW_PYTHON_RUNNER_TOKEN,
        ])
        .args(["--skill", PYTHON_SKILL])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| anyhow::anyhow!("cannot start {script} with {python}: {error}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let attached = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if line == "attached" {
                return Ok(true);
            }
        }
        Ok::<_, std::io::Error>(false)
    })
    .await;
    anyhow::ensure!(
        matches!(attached, Ok(Ok(true))),
        "the raw Python runner did not attach"
    );
    // Keep reading its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}

/// Starts the Python runner for `root` and waits until it has attached.
async fn start_python_runner(
    addr: SocketAddr,
    root: &std::path::Path,
) -> anyhow::Result<tokio::process::Child> {
    let python = std::env::var("BENCH_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_owned());
    let child = tokio::process::Command::new(&python)
        .args([
            "-m",
            "skillos_runner",
            "--server",
            &addr.to_string(),
            "--name",
            "python",
        ])
        .args(["--concurrency", "64", "--embeddings", "e5", "--root"])
        .arg(root)
        .env("SKILLOS_RUNNER_TOKEN", PYTHON_RUNNER_TOKEN)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot start the Python runner with {python} (run make setup): {error}"
            )
        })?;
    let mut orchestrator = OrchestratorServiceClient::new(connect(addr).await?);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runners = orchestrator
            .list_runners(ListRunnersRequest::default())
            .await?
            .into_inner()
            .runners;
        if runners.iter().any(|runner| runner.name == "python") {
            return Ok(child);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the Python runner did not attach"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the skill vectors are in: a query the keywords do not decide is routed hybrid.
async fn wait_for_vectors(addr: SocketAddr) -> anyhow::Result<()> {
    let mut orchestrator = OrchestratorServiceClient::new(connect(addr).await?);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let decision = orchestrator
            .route(RouteRequest {
                query: "Пора отдохнуть, что выпить во время перерыва?".into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .decision
            .unwrap_or_default();
        if decision.mode == RoutingMode::Hybrid as i32 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the skill vectors were not ready in 120 s: {}",
            decision.explanation
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Served by the echo runner.
const ECHO_SKILL: &str = "office/coffee_break";

async fn connect(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

async fn drive(addr: SocketAddr, call: Call, concurrency: usize) -> anyhow::Result<Figures> {
    let channel = connect(addr).await?;
    // Warm up the connection and caches.
    run_for(
        channel.clone(),
        call,
        concurrency,
        Duration::from_millis(300),
    )
    .await?;
    HAND_OFFS.lock().unwrap().clear();
    if matches!(call, Call::DurableFlow10Echo) {
        durable_hand_offs(channel.clone(), false).await?;
    }
    let started = Instant::now();
    let mut latencies = run_for(channel.clone(), call, concurrency, duration()).await?;
    let elapsed = started.elapsed().as_secs_f64();
    if matches!(call, Call::DurableFlow10Echo) {
        durable_hand_offs(channel, true).await?;
    }
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1e3
    };
    Ok(Figures {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

async fn run_for(
    channel: Channel,
    call: Call,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + length;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let channel = channel.clone();
        workers.push(tokio::spawn(async move {
            let mut health = HealthClient::new(channel.clone());
            let mut skills = SkillServiceClient::new(channel.clone());
            let mut orchestrator = OrchestratorServiceClient::new(channel);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                match call {
                    Call::Health => drop(health.check(HealthCheckRequest::default()).await?),
                    Call::GetSkill => {
                        let request = GetSkillRequest {
                            skill_id: "finance/convert_currency".into(),
                        };
                        drop(skills.get_skill(request).await?)
                    }
                    Call::ListSkills => {
                        drop(skills.list_skills(ListSkillsRequest::default()).await?)
                    }
                    Call::RunEcho | Call::RunEchoApiKey | Call::RunPython | Call::RunRawPython => {
                        let skill = if matches!(call, Call::RunPython | Call::RunRawPython) {
                            PYTHON_SKILL
                        } else {
                            ECHO_SKILL
                        };
                        let mut request = tonic::Request::new(RunRequest {
                            target: Some(run_request::Target::SkillId(skill.into())),
                            ..Default::default()
                        });
                        let key = match call {
                            Call::RunEchoApiKey => API_KEY.get(),
                            Call::RunRawPython => RAW_API_KEY.get(),
                            _ => None,
                        };
                        if let Some(key) = key {
                            let header = format!("Bearer {key}");
                            request
                                .metadata_mut()
                                .insert("authorization", header.parse().expect("ASCII"));
                        }
                        drop(orchestrator.run(request).await?)
                    }
                    Call::RouteKeyword | Call::RouteDefault | Call::RouteDefaultRepeated => {
                        let q = queries();
                        let (query, mode) = match call {
                            Call::RouteKeyword => (q.cycle(usize::MAX), RoutingMode::Keyword),
                            Call::RouteDefaultRepeated => (q.cycle(10), RoutingMode::Unspecified),
                            _ => match q.fresh() {
                                Some(query) => (query, RoutingMode::Unspecified),
                                None => break,
                            },
                        };
                        let request = RouteRequest {
                            query,
                            mode: mode as i32,
                            ..Default::default()
                        };
                        let decision = orchestrator.route(request).await?.into_inner().decision;
                        if matches!(call, Call::RouteDefault) {
                            let decision = decision.unwrap_or_default();
                            q.answered.fetch_add(1, Ordering::Relaxed);
                            if decision.keyword_decisive {
                                q.decided.fetch_add(1, Ordering::Relaxed);
                            }
                            if decision.fallback {
                                q.fell_back.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Call::DurableFlow10Echo => {
                        let request = RunRequest {
                            target: Some(run_request::Target::SkillId(DURABLE_FLOW.into())),
                            payload: Some(prost_types::Struct::default()),
                            ..Default::default()
                        };
                        let execution = orchestrator.run(request).await?.into_inner().execution;
                        let succeeded = execution.as_ref().is_some_and(|execution| {
                            execution.status == skillos_proto::v1::ExecutionStatus::Succeeded as i32
                        });
                        if !succeeded {
                            return Err(tonic::Status::internal(format!(
                                "the flow did not succeed: {execution:?}"
                            )));
                        }
                    }
                    Call::Flow10Echo => {
                        let request = RunPipelineRequest {
                            steps: vec![ECHO_SKILL.to_owned(); FLOW_STEPS],
                            ..Default::default()
                        };
                        let response = orchestrator.run_pipeline(request).await?.into_inner();
                        if response.status != PipelineStatus::Succeeded as i32 {
                            return Err(tonic::Status::internal(format!(
                                "the pipeline did not succeed: {:?}",
                                response.error
                            )));
                        }
                        let time = |t: &Option<prost_types::Timestamp>| {
                            t.as_ref()
                                .map_or(0.0, |t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
                        };
                        let mut hand_offs = HAND_OFFS.lock().unwrap();
                        for pair in response.steps.windows(2) {
                            let gap = time(&pair[1].start_time) - time(&pair[0].end_time);
                            hand_offs.push(gap * 1e3);
                        }
                    }
                    Call::ListSkillsFull => {
                        let request = ListSkillsRequest {
                            view: SkillView::Full as i32,
                            ..Default::default()
                        };
                        drop(skills.list_skills(request).await?)
                    }
                }
                latencies.push(started.elapsed());
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await??);
    }
    Ok(all)
}
