//! The store going away under a running server: PostgreSQL cut off for 30 s through a TCP
//! relay the test controls, and SQLite's volume (a small tmpfs) filled up. While it lasts, calls that need the store answer UNAVAILABLE
//! (STORE_UNAVAILABLE), never INTERNAL or a panic, and health says NOT_SERVING; nothing is left
//! half-written; once the database is back the same server serves again, without a restart.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::runner::{self, TestRunner};
use common::{ALL_SKILLS_TOKEN, Options, TestServer, reason};
use skillos_proto::v1;
use skillos_proto::v1::orchestrator_service_client::OrchestratorServiceClient;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const OUTAGE: Duration = Duration::from_secs(30);

/// A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored.
struct Relay {
    port: u16,
    up: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watching) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*watching.borrow() {
                    continue; // dropped: the connection is refused
                }
                let mut state = watching.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn status(health: &mut Health) -> ServingStatus {
    match health.check(HealthCheckRequest::default()).await {
        Ok(response) => response.into_inner().status(),
        Err(_) => ServingStatus::Unknown,
    }
}

type Orchestrator = OrchestratorServiceClient<tonic::transport::Channel>;
type Health = HealthClient<tonic::transport::Channel>;

/// An echo runner for `a/one`, the clients, and one run that succeeded.
async fn serving(server: &TestServer) -> (TestRunner, Orchestrator, Health) {
    let runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "echo",
        &["a/one"],
        runner::echo(),
    )
    .await
    .unwrap();
    let mut client = OrchestratorServiceClient::new(server.channel().await);
    let health = HealthClient::new(server.channel().await);
    client.run(run("before")).await.unwrap();
    (runner, client, health)
}

/// A server whose SQLite database lives in `data_dir`.
async fn sqlite_server_in(data_dir: &std::path::Path) -> TestServer {
    let data_dir = data_dir.to_owned();
    TestServer::start_with(Options {
        configure: Some(Arc::new(move |config, _| {
            config.storage.data_dir = data_dir.clone();
        })),
        ..Options::default()
    })
    .await
}

/// Every execution of the default tenant (the tests make fewer than 1,000).
async fn executions(client: &mut Orchestrator) -> Vec<v1::Execution> {
    client
        .list_executions(v1::ListExecutionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .executions
}

fn run(key: &str) -> v1::RunRequest {
    v1::RunRequest {
        idempotency_key: key.to_owned(),
        ..common::run_amount("a/one", 1.0)
    }
}

#[tokio::test]
async fn postgres_gone_for_30_s_answers_unavailable_and_the_server_recovers_by_itself() {
    if common::postgres_off() {
        return;
    }
    let dsn = common::postgres_dsn();
    let target = {
        let url = dsn.split('@').nth(1).unwrap().split('/').next().unwrap();
        tokio::net::lookup_host(url).await.unwrap().next().unwrap()
    };
    let relay = Relay::start(target).await;
    let relayed = dsn.replacen(&target.port().to_string(), &relay.port.to_string(), 1);
    let schema = format!("skillos_faults_{}", uuid::Uuid::new_v4().simple());
    let server = TestServer::start_with(Options {
        backend: skillos::config::StorageBackend::Postgres,
        postgres_schema: Some(schema),
        configure: Some(Arc::new(move |config, _| {
            config.storage.postgres_dsn = Some(relayed.clone());
        })),
        ..Options::default()
    })
    .await;
    let (_runner, mut client, mut health) = serving(&server).await;
    assert_eq!(status(&mut health).await, ServingStatus::Serving);

    relay.set(false);
    let cut = Instant::now();
    let refused = client.run(run("during")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(reason(&refused), "STORE_UNAVAILABLE");
    let mut seen_not_serving = false;
    while cut.elapsed() < OUTAGE {
        if status(&mut health).await == ServingStatus::NotServing {
            seen_not_serving = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        seen_not_serving,
        "health said SERVING through the whole outage"
    );

    relay.set(true);
    let restored = Instant::now();
    while status(&mut health).await != ServingStatus::Serving {
        assert!(
            restored.elapsed() < Duration::from_secs(15),
            "health not SERVING 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "back to SERVING {} ms after the database returned",
        restored.elapsed().as_millis()
    );

    // The refused run is retried with its key: it runs once; nothing was left RUNNING.
    let retried = client.run(run("during")).await.unwrap().into_inner();
    assert!(
        !retried.replayed,
        "the refused attempt stored nothing to replay"
    );
    let again = client.run(run("during")).await.unwrap().into_inner();
    assert!(again.replayed);
    let listed = executions(&mut client).await;
    assert_eq!(listed.len(), 2, "one run before the outage, one after");
    assert!(
        listed
            .iter()
            .all(|execution| execution.status() == v1::ExecutionStatus::Succeeded),
        "{listed:?}"
    );
    server.stop().await.unwrap();
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop; `None` where this
/// process may not mount (not root), which CI does not accept.
struct SmallVolume {
    dir: tempfile::TempDir,
}

impl SmallVolume {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "CI must be able to mount a tmpfs for the full-disk test"
            );
            eprintln!("cannot mount a tmpfs here (not root?): full-disk test left out");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the volume up with one file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn wait_for(health: &mut Health, wanted: ServingStatus) -> Duration {
    let started = Instant::now();
    while status(health).await != wanted {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "health not {wanted:?} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn sqlite_on_a_full_volume_answers_unavailable_and_recovers_twice() {
    let Some(volume) = SmallVolume::mount("4m") else {
        return;
    };
    let server = sqlite_server_in(volume.path()).await;
    let (_runner, mut client, mut health) = serving(&server).await;

    // A read-only remount cannot be made here while the server holds the files open for
    // writing (the kernel refuses it); SQLITE_READONLY is classified with SQLITE_FULL.
    for (fault, run_key) in [("full", "during-full"), ("full again", "during-again")] {
        let filler = volume.fill();
        // Until a write fails, nothing tells the server: the first one answers UNAVAILABLE.
        let mut refused = None;
        for i in 0..50 {
            match client.run(run(&format!("{run_key}-{i}"))).await {
                Ok(_) => continue,
                Err(status) => {
                    refused = Some(status);
                    break;
                }
            }
        }
        let refused = refused.unwrap_or_else(|| panic!("{fault}: every run was accepted"));
        assert_eq!(refused.code(), Code::Unavailable, "{fault}: {refused:?}");
        assert_eq!(reason(&refused), "STORE_UNAVAILABLE", "{fault}");
        wait_for(&mut health, ServingStatus::NotServing).await;

        std::fs::remove_file(filler).unwrap();
        let back = wait_for(&mut health, ServingStatus::Serving).await;
        eprintln!(
            "{fault}: back to SERVING {} ms after the fault was removed",
            back.as_millis()
        );
        client.run(run(&format!("{run_key}-after"))).await.unwrap();
    }

    let listed = executions(&mut client).await;
    assert!(
        listed
            .iter()
            .all(|execution| execution.status() == v1::ExecutionStatus::Succeeded),
        "a run was left half-written: {listed:?}"
    );
    server.stop().await.unwrap();
}

/// Injected faults on SQLite writes under load: another connection holds the database's write
/// lock for 3 s (every write of the server waits: busy), while the clients' deadlines of 300 ms
/// run out and their writes commit after they gave up (commit, then timeout). Each client
/// retries with its idempotency key until it has an answer. Every key ends with one ended
/// execution (never RUNNING, which would answer "in use" for ever), no run is invoked twice,
/// and a cancelled one never ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_and_commit_then_timeout_under_load_lose_and_duplicate_nothing() {
    use sqlx::{ConnectOptions as _, Connection as _};
    use std::collections::HashMap;
    use std::sync::Mutex;

    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server_in(dir.path()).await;
    // Invocations per key (the payload carries it).
    let invoked: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen = invoked.clone();
    let echo = runner::echo();
    let _runner = TestRunner::attach(
        server.channel().await,
        ALL_SKILLS_TOKEN,
        "counting",
        &["a/one"],
        Arc::new(move |invoke| {
            let key = invoke
                .payload
                .as_ref()
                .and_then(|p| p.fields.get("key"))
                .and_then(|v| match &v.kind {
                    Some(prost_types::value::Kind::StringValue(key)) => Some(key.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            *seen.lock().unwrap().entry(key).or_default() += 1;
            echo(invoke)
        }),
    )
    .await
    .unwrap();
    let client = OrchestratorServiceClient::new(server.channel().await);

    const CLIENTS: usize = 16;
    const RUNS: usize = 40;
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let (mut answered, mut retries, mut replayed) = (Vec::new(), 0, 0);
                for r in 0..RUNS {
                    let key = format!("c{c}-r{r}");
                    let mut request = run(&key);
                    request.payload.as_mut().unwrap().fields.insert(
                        "key".to_owned(),
                        prost_types::Value {
                            kind: Some(prost_types::value::Kind::StringValue(key.clone())),
                        },
                    );
                    // Generous: under a loaded machine a key may wait behind the whole backlog.
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        let mut call = tonic::Request::new(request.clone());
                        call.set_timeout(Duration::from_millis(300));
                        match client.run(call).await {
                            Ok(response) => {
                                let response = response.into_inner();
                                replayed += usize::from(response.replayed);
                                answered.push((key.clone(), response.execution.unwrap()));
                                break;
                            }
                            Err(status) => {
                                assert!(
                                    matches!(
                                        status.code(),
                                        Code::DeadlineExceeded
                                            | Code::Unavailable
                                            | Code::Cancelled
                                            | Code::Aborted
                                    ),
                                    "{key}: {status:?}"
                                );
                                assert!(
                                    Instant::now() < deadline,
                                    "{key}: no answer in 60 s, last {status:?}"
                                );
                                retries += 1;
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
                (answered, retries, replayed)
            })
        })
        .collect();

    // Once the load runs, hold the write lock for 3 s (under the 10 s busy timeout).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut other = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("skillos.db"))
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    let (mut answers, mut retries, mut replayed) = (Vec::new(), 0, 0);
    for worker in workers {
        let (answered, retried, replays) = worker.await.unwrap();
        answers.extend(answered);
        retries += retried;
        replayed += replays;
    }
    eprintln!(
        "{} keyed runs answered in {} ms; {retries} calls timed out or were refused and were \
         retried, {replayed} answers were replays of runs that had committed",
        answers.len(),
        started.elapsed().as_millis()
    );
    // The faults happened: clients gave up on runs that the server then finished.
    assert!(
        retries >= CLIENTS,
        "only {retries} retries: the lock did not stall the writes"
    );
    assert!(replayed > 0, "no run committed after its caller gave up");
    assert_eq!(answers.len(), CLIENTS * RUNS);
    let invoked = invoked.lock().unwrap().clone();
    // A run whose caller left while its record waited for the lock was cancelled before it
    // was dispatched: its key answers that (replayed), and it never ran. Every other run ran
    // once and succeeded.
    let mut cancelled = 0;
    for (key, execution) in &answers {
        let times = invoked.get(key).copied().unwrap_or(0);
        match execution.status() {
            v1::ExecutionStatus::Succeeded => assert_eq!(times, 1, "{key} ran {times} times"),
            v1::ExecutionStatus::Cancelled => {
                assert_eq!(times, 0, "{key} was cancelled but ran {times} times");
                cancelled += 1;
            }
            other => panic!("{key}: {other:?}: {execution:?}"),
        }
    }
    eprintln!("{cancelled} keys answer a run cancelled before it was dispatched");
    // One execution per key in the store, each ended.
    let mut client = client;
    let listed = executions(&mut client).await;
    let keyed: Vec<_> = listed
        .iter()
        .filter(|e| {
            e.payload
                .as_ref()
                .is_some_and(|p| p.fields.contains_key("key"))
        })
        .collect();
    assert_eq!(keyed.len(), CLIENTS * RUNS, "an execution per key");
    assert!(
        keyed.iter().all(|e| matches!(
            e.status(),
            v1::ExecutionStatus::Succeeded | v1::ExecutionStatus::Cancelled
        )),
        "every run ended"
    );
}
