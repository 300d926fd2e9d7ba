//! The one harness of the integration tests: a real server on an ephemeral port, with a real
//! SQLite file (or a PostgreSQL schema of its own) and a skills root in a temporary directory.

#![allow(dead_code)]

pub mod runner;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skillos::config::{Config, StorageBackend};
use skillos_proto::v1::skill_service_client::SkillServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    pub root: tempfile::TempDir,
    pub data: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A runner token allowed every skill in the default test server.
pub const ALL_SKILLS_TOKEN: &str = "test-runner-token-all-skills";

/// A last change to a test server's configuration; gets the skills root.
pub type Configure = std::sync::Arc<dyn Fn(&mut Config, &Path) + Send + Sync>;

pub struct Options {
    pub backend: StorageBackend,
    pub postgres_schema: Option<String>,
    pub skills: Vec<&'static str>,
    /// (token, skill patterns) for the default tenant.
    pub runner_tokens: Vec<(&'static str, Vec<&'static str>)>,
    pub max_result_bytes: usize,
    /// Anonymous callers are the admin of the default tenant.
    pub dev_mode: bool,
    /// Changes the configuration last; gets the skills root (to write policies, keys).
    pub configure: Option<Configure>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Sqlite,
            postgres_schema: None,
            skills: vec!["a/one", "a/two", "b/three"],
            runner_tokens: vec![(ALL_SKILLS_TOKEN, vec!["*"])],
            max_result_bytes: 4 * 1024 * 1024,
            dev_mode: true,
            configure: None,
        }
    }
}

pub fn manifest(id: &str) -> String {
    let (domain, name) = id.split_once('/').unwrap();
    format!(
        "id: {id}\nname: {name}\ndescription: test skill {id}\nversion: 1.0.0\n\
         entrypoint: implementations.{domain}.{name}:run\ntags: [{domain}, test]\n"
    )
}

pub fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A contributor without PostgreSQL left its tests out (`SKILLOS_TEST_POSTGRES=off`); CI never
/// may.
pub fn postgres_off() -> bool {
    std::env::var("SKILLOS_TEST_POSTGRES").is_ok_and(|v| v == "off")
        && !std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Two servers on one PostgreSQL schema of their own (`{prefix}_<uuid>`): replicas.
pub async fn postgres_replicas(
    prefix: &str,
    configure: Option<Configure>,
) -> (TestServer, TestServer) {
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let options = || Options {
        backend: StorageBackend::Postgres,
        postgres_schema: Some(schema.clone()),
        configure: configure.clone(),
        ..Options::default()
    };
    let first = TestServer::start_with(options()).await;
    let second = TestServer::start_with(options()).await;
    (first, second)
}

pub fn postgres_dsn() -> String {
    std::env::var("SKILLOS_TEST_POSTGRES_DSN")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let root = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        for id in &options.skills {
            let (domain, name) = id.split_once('/').unwrap();
            write(
                root.path(),
                &format!("metadata/{domain}/{name}.yaml"),
                &manifest(id),
            );
        }
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.shutdown_grace_seconds = 5;
        config.skills.root = Some(root.path().to_owned());
        config.skills.reload_debounce_ms = 50;
        config.storage.data_dir = data.path().to_owned();
        config.storage.backend = options.backend;
        if options.backend == StorageBackend::Postgres {
            config.storage.postgres_dsn = Some(postgres_dsn());
            config.storage.postgres_schema = options.postgres_schema.clone().unwrap();
        }
        config.runners.tokens = options
            .runner_tokens
            .iter()
            .map(|(token, skills)| skillos::config::RunnerTokenConfig {
                token: token.to_string(),
                tenant: "default".to_owned(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        config.runners.max_result_bytes = options.max_result_bytes;
        config.runners.local = false;
        config.runners.heartbeat_interval_seconds = 1;
        config.runners.heartbeat_timeout_seconds = 3;
        config.auth.dev_mode = options.dev_mode;
        if let Some(configure) = &options.configure {
            configure(&mut config, root.path());
        }
        config.validate().unwrap();
        Self::launch(config, root, data).await
    }

    async fn launch(config: Config, root: tempfile::TempDir, data: tempfile::TempDir) -> Self {
        let listener = skillos::server::bind(config.server.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(skillos::server::run(config.clone(), listener, async {
            let _ = rx.await;
        }));
        let server = Self {
            addr,
            config,
            root,
            data,
            shutdown: Some(tx),
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    /// Stops the server and starts a new one on the same root and data.
    pub async fn restart(mut self) -> Self {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let Self {
            config, root, data, ..
        } = self;
        Self::launch(config, root, data).await
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = self.http_get_async("/readyz").await {
                return;
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn skills(&self) -> SkillServiceClient<Channel> {
        SkillServiceClient::new(self.channel().await)
    }

    pub fn root_path(&self) -> PathBuf {
        self.root.path().to_owned()
    }

    /// A plain HTTP/1.1 GET: status code and body.
    pub async fn http_get_async(&self, path: &str) -> std::io::Result<(u16, String)> {
        let addr = self.addr;
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || http_get(addr, &path))
            .await
            .unwrap()
    }

    /// Starts the shutdown and waits for the server to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    pub fn begin_shutdown(&mut self) {
        let _ = self.shutdown.take().unwrap().send(());
    }

    pub async fn join(mut self) -> anyhow::Result<()> {
        self.task.take().unwrap().await.unwrap()
    }
}

pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls `condition` for up to 10 seconds.
pub async fn eventually<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `ErrorInfo` reason of a status (empty when it has none).
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// One `ErrorInfo` metadata value of a status (empty when missing).
pub fn metadata(status: &tonic::Status, key: &str) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// A request carrying `authorization: Bearer <token>`.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

impl TestServer {
    /// Makes an API key of `tenant` with `roles` in the server's store, as `skillos keys create`
    /// does.
    pub async fn api_key(&self, tenant: &str, roles: &[&str]) -> String {
        let store = skillos_store::open(&skillos::server::store_options(&self.config))
            .await
            .unwrap();
        let new = skillos::auth::api_key::generate(
            skillos_store::TenantId::parse(tenant).unwrap(),
            "test",
            roles.iter().map(|r| r.to_string()).collect(),
            "test",
            None,
        );
        skillos::auth::api_key::create(store.as_ref(), &new.key)
            .await
            .unwrap();
        store.close().await;
        new.token
    }
}

/// A Run of `skill` with the payload `{"amount": amount}`.
pub fn run_amount(skill: &str, amount: f64) -> skillos_proto::v1::RunRequest {
    use skillos_proto::v1;
    v1::RunRequest {
        target: Some(v1::run_request::Target::SkillId(skill.to_owned())),
        payload: Some(prost_types::Struct {
            fields: [(
                "amount".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::NumberValue(amount)),
                },
            )]
            .into(),
        }),
        ..Default::default()
    }
}
