//! One typed configuration tree, layered: defaults < TOML file < `SKILLOS_*` environment <
//! command-line flags. Every layer goes through [`Config::set`] or serde, and [`Config::validate`]
//! checks the result, so an invalid value fails at start with a message that names its key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skillos_engine::{breaker, budget, jobs, rate_limit, retention, webhooks};

/// Environment variables and the keys they set. Where two variables set one key, the first
/// one present wins (`SKILLOS_POSTGRES_DSN` over `DATABASE_URL`).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("SKILLOS_LISTEN", "server.listen"),
    (
        "SKILLOS_SHUTDOWN_GRACE_SECONDS",
        "server.shutdown_grace_seconds",
    ),
    (
        "SKILLOS_CORS_ALLOWED_ORIGINS",
        "server.cors_allowed_origins",
    ),
    (
        "SKILLOS_ALLOW_UNAUTHENTICATED_REMOTE",
        "server.allow_unauthenticated_remote",
    ),
    (
        "SKILLOS_IDEMPOTENCY_TTL_SECONDS",
        "server.idempotency_ttl_seconds",
    ),
    ("SKILLOS_ROOT", "skills.root"),
    ("SKILLOS_SKILLS_WATCH", "skills.watch"),
    (
        "SKILLOS_SKILLS_RELOAD_DEBOUNCE_MS",
        "skills.reload_debounce_ms",
    ),
    ("SKILLOS_RUNNER_TOKEN", "runners.token"),
    ("SKILLOS_LOCAL_RUNNER", "runners.local"),
    ("SKILLOS_LOCAL_RUNNER_COMMAND", "runners.local_command"),
    ("SKILLOS_DATA_DIR", "storage.data_dir"),
    ("SKILLOS_STORAGE_BACKEND", "storage.backend"),
    ("SKILLOS_POSTGRES_DSN", "storage.postgres_dsn"),
    ("DATABASE_URL", "storage.postgres_dsn"),
    ("SKILLOS_POSTGRES_SCHEMA", "storage.postgres_schema"),
    (
        "SKILLOS_POSTGRES_MAX_CONNECTIONS",
        "storage.postgres_max_connections",
    ),
    ("SKILLOS_ROUTING_MODE", "routing.mode"),
    ("SKILLOS_ROUTING_EMBEDDER", "routing.embedder"),
    ("SKILLOS_ROUTING_KEYWORD_WEIGHT", "routing.keyword_weight"),
    ("SKILLOS_ROUTING_VECTOR_WEIGHT", "routing.vector_weight"),
    (
        "SKILLOS_ROUTING_SELECT_THRESHOLD",
        "routing.select_threshold",
    ),
    ("SKILLOS_ROUTING_MIN_SCORE", "routing.min_score"),
    (
        "SKILLOS_ROUTING_EMBED_TIMEOUT_MS",
        "routing.embed_timeout_ms",
    ),
    (
        "SKILLOS_ROUTING_KEYWORD_DECISIVE",
        "routing.keyword_decisive",
    ),
    (
        "SKILLOS_ROUTING_QUERY_CACHE_SIZE",
        "routing.query_cache_size",
    ),
    ("SKILLOS_ROUTING_LOCAL_MODEL", "routing.local_model"),
    ("SKILLOS_EMBEDDINGS_URL", "routing.openai_url"),
    ("SKILLOS_EMBEDDINGS_MODEL", "routing.openai_model"),
    ("SKILLOS_EMBEDDINGS_API_KEY", "routing.openai_api_key"),
    ("SKILLOS_DEV_MODE", "auth.dev_mode"),
    ("SKILLOS_JWT_ISSUER", "auth.jwt_issuer"),
    ("SKILLOS_JWT_AUDIENCE", "auth.jwt_audience"),
    ("SKILLOS_JWT_LEEWAY_SECONDS", "auth.jwt_leeway_seconds"),
    ("SKILLOS_JWT_ALGORITHMS", "auth.jwt_algorithms"),
    ("SKILLOS_JWT_KEY_FILE", "auth.jwt_key_file"),
    ("SKILLOS_JWKS_URL", "auth.jwks_url"),
    ("SKILLOS_JWT_TENANT_CLAIM", "auth.jwt_tenant_claim"),
    ("SKILLOS_JWT_ROLES_CLAIM", "auth.jwt_roles_claim"),
    ("SKILLOS_POLICIES_DIR", "policies.dir"),
    ("SKILLOS_RATE_LIMIT_TENANT", "rate_limits.tenant"),
    ("SKILLOS_RATE_LIMIT_PRINCIPAL", "rate_limits.principal"),
    ("SKILLOS_RATE_LIMIT_SKILL", "rate_limits.skill"),
    ("SKILLOS_RATE_LIMIT_STRICT", "rate_limits.strict"),
    ("SKILLOS_REDIS_URL", "rate_limits.redis_url"),
    ("REDIS_URL", "rate_limits.redis_url"),
    (
        "SKILLOS_CIRCUIT_FAILURE_THRESHOLD",
        "circuit_breaker.failure_threshold",
    ),
    (
        "SKILLOS_CIRCUIT_OPEN_SECONDS",
        "circuit_breaker.open_seconds",
    ),
    ("SKILLOS_BUDGET_DEFAULTS", "budgets.defaults"),
    ("SKILLOS_WEBHOOK_ALLOW_UNSIGNED", "webhooks.allow_unsigned"),
    ("SKILLOS_WEBHOOK_MAX_BODY_BYTES", "webhooks.max_body_bytes"),
    (
        "SKILLOS_WEBHOOK_DEDUP_TTL_SECONDS",
        "webhooks.dedup_ttl_seconds",
    ),
    (
        "SKILLOS_ATTACHMENT_MAX_SIZE_BYTES",
        "webhooks.attachment_max_size_bytes",
    ),
    ("SKILLOS_JOB_WORKERS", "jobs.workers"),
    ("SKILLOS_JOB_LEASE_SECONDS", "jobs.lease_seconds"),
    ("SKILLOS_JOB_POLL_INTERVAL_MS", "jobs.poll_interval_ms"),
    ("SKILLOS_JOB_BACKOFF_INITIAL_MS", "jobs.backoff_initial_ms"),
    ("SKILLOS_JOB_BACKOFF_MAX_MS", "jobs.backoff_max_ms"),
    ("SKILLOS_JOB_MAX_ATTEMPTS", "jobs.max_attempts"),
    ("SKILLOS_FLOW_DRIVERS", "flows.drivers"),
    ("SKILLOS_FLOW_LEASE_SECONDS", "flows.lease_seconds"),
    ("SKILLOS_FLOW_POLL_INTERVAL_MS", "flows.poll_interval_ms"),
    (
        "SKILLOS_RETENTION_EXECUTIONS_DAYS",
        "retention.executions_days",
    ),
    ("SKILLOS_RETENTION_JOBS_DAYS", "retention.jobs_days"),
    (
        "SKILLOS_RETENTION_FLOW_RUNS_DAYS",
        "retention.flow_runs_days",
    ),
    ("SKILLOS_RETENTION_USAGE_DAYS", "retention.usage_days"),
    ("SKILLOS_LOG_LEVEL", "log.level"),
    ("SKILLOS_LOG_FORMAT", "log.format"),
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub skills: SkillsConfig,
    pub runners: RunnersConfig,
    pub storage: StorageConfig,
    pub routing: RoutingConfig,
    pub auth: AuthConfig,
    pub policies: PoliciesConfig,
    pub rate_limits: rate_limit::Options,
    pub circuit_breaker: breaker::Options,
    pub budgets: budget::Options,
    pub jobs: jobs::Options,
    pub flows: skillos_engine::flow::runs::Options,
    pub webhooks: webhooks::Options,
    pub retention: retention::Options,
    pub log: LogConfig,
}

/// Who may call: JWTs, API keys (always on, kept in the store) and the dev mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Callers without credentials act as the anonymous admin of the default tenant. For local
    /// development only; refused on a non-loopback address unless
    /// server.allow_unauthenticated_remote is also set.
    pub dev_mode: bool,
    /// Required `iss` of JWTs; unset: not checked.
    pub jwt_issuer: Option<String>,
    /// Required `aud` of JWTs; unset: not checked.
    pub jwt_audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub jwt_leeway_seconds: u64,
    /// Accepted algorithms (`RS256`, `ES256`, `EdDSA`, `HS256`, ...); empty: those of the keys.
    pub jwt_algorithms: Vec<String>,
    /// Verification keys from files.
    pub jwt_keys: Vec<JwtKeyConfig>,
    /// A JWKS URL; keys are cached, fetched again on an unknown kid (at most once per
    /// jwks_min_refresh_seconds); when the URL is down the last good keys stay.
    pub jwks_url: Option<String>,
    pub jwks_min_refresh_seconds: u64,
    /// The claim holding the tenant id; tokens without it belong to the default tenant.
    pub jwt_tenant_claim: String,
    /// The claim holding the roles (a list or a space-separated string).
    pub jwt_roles_claim: String,
    /// Claims copied into the principal's attributes (for ABAC conditions and skills).
    pub jwt_attribute_claims: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            dev_mode: false,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_leeway_seconds: 30,
            jwt_algorithms: Vec::new(),
            jwt_keys: Vec::new(),
            jwks_url: None,
            jwks_min_refresh_seconds: 30,
            jwt_tenant_claim: "tenant_id".to_owned(),
            jwt_roles_claim: "roles".to_owned(),
            jwt_attribute_claims: Vec::new(),
        }
    }
}

/// One JWT verification key file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    /// A PEM public key (RS*, PS*, ES*, EdDSA) or a file holding the HMAC secret (HS*).
    pub path: PathBuf,
    /// The algorithm the key verifies.
    pub alg: String,
    /// The key id tokens name in their header; unset: tokens without a kid.
    #[serde(default)]
    pub kid: Option<String>,
}

/// Permission and approval policies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoliciesConfig {
    /// Directory of `permission_policies.json` (and `tenants/<id>/...` overrides); unset:
    /// `<skills root>/policies`.
    pub dir: Option<PathBuf>,
}

/// Where query and skill embeddings come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// A connected runner that offers embeddings (the local runner does in development mode).
    Runner,
    /// An OpenAI-compatible `/v1/embeddings` endpoint (`routing.openai_*`).
    Openai,
    /// No embeddings: keyword routing only.
    None,
}

/// Natural-language routing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Default mode: keyword, vector or hybrid. Unset: hybrid when an embedder is configured,
    /// else keyword.
    pub mode: Option<skillos_routing::Mode>,
    /// Where embeddings come from.
    pub embedder: EmbedderKind,
    /// Weight of the keyword score in hybrid mode.
    pub keyword_weight: f32,
    /// Weight of the vector score in hybrid mode.
    pub vector_weight: f32,
    /// Confidence at or above which a query selects its top skill (0-1, the same in every
    /// mode).
    pub select_threshold: f32,
    /// Fused score under which the top candidate is not a match at all (no skill).
    pub min_score: f32,
    /// Longest routing waits for a query embedding before it falls back to keyword ranking.
    pub embed_timeout_ms: u64,
    /// A hybrid query whose keyword ranking selects a skill with at least this confidence is
    /// answered without embedding it (a confidence 0-1, or `"off"`).
    pub keyword_decisive: KeywordDecisive,
    /// Most query vectors kept in memory (per tenant, model and text); 0 turns the cache off.
    pub query_cache_size: usize,
    /// Model the local runner (and `skillos route` without a server) embeds with: `e5`
    /// (multilingual-e5-small) or `use` (multilingual Universal Sentence Encoder).
    pub local_model: String,
    /// Base URL of an OpenAI-compatible embeddings API (`.../v1`), for `embedder = "openai"`.
    pub openai_url: Option<String>,
    /// Model name sent to that API.
    pub openai_model: String,
    /// Bearer key of that API.
    pub openai_api_key: Option<String>,
    /// Platt calibration per mode, `[bias, score weight, margin weight, similarity weight]`.
    pub calibration: CalibrationConfig,
}

/// `routing.keyword_decisive`: the confidence at which keywords decide a hybrid query alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeywordDecisive {
    Confidence(f64),
    /// Every hybrid query is embedded.
    Off,
}

impl std::str::FromStr for KeywordDecisive {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "off" => Ok(Self::Off),
            number => number
                .parse::<f64>()
                .map(Self::Confidence)
                .map_err(|_| format!("{text:?} is neither a confidence 0-1 nor off")),
        }
    }
}

impl Serialize for KeywordDecisive {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Confidence(confidence) => serializer.serialize_f64(*confidence),
            Self::Off => serializer.serialize_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for KeywordDecisive {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Word(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(confidence) => Ok(Self::Confidence(confidence)),
            Raw::Word(word) => word.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Calibration coefficients of each mode; see docs/routing.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrationConfig {
    pub keyword: [f32; 4],
    pub vector: [f32; 4],
    pub hybrid: [f32; 4],
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        let params = skillos_routing::RouterParams::default();
        let get = |mode| {
            let c = params.calibration[&mode];
            [c.bias, c.top, c.margin, c.similarity]
        };
        Self {
            keyword: get(skillos_routing::Mode::Keyword),
            vector: get(skillos_routing::Mode::Vector),
            hybrid: get(skillos_routing::Mode::Hybrid),
        }
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        let params = skillos_routing::RouterParams::default();
        Self {
            mode: None,
            embedder: EmbedderKind::Runner,
            keyword_weight: params.keyword_weight,
            vector_weight: params.vector_weight,
            select_threshold: params.select_threshold,
            min_score: params.min_score,
            embed_timeout_ms: 1000,
            keyword_decisive: KeywordDecisive::Confidence(
                skillos_engine::routing::DEFAULT_KEYWORD_DECISIVE,
            ),
            query_cache_size: skillos_engine::routing::DEFAULT_QUERY_CACHE,
            local_model: "e5".to_owned(),
            openai_url: None,
            openai_model: "text-embedding-3-small".to_owned(),
            openai_api_key: None,
            calibration: CalibrationConfig::default(),
        }
    }
}

impl RoutingConfig {
    /// The mode used when a request names none.
    pub fn default_mode(&self) -> skillos_routing::Mode {
        self.mode.unwrap_or(if self.embedder == EmbedderKind::None {
            skillos_routing::Mode::Keyword
        } else {
            skillos_routing::Mode::Hybrid
        })
    }

    /// What the routing service takes of this section.
    pub fn options(&self) -> skillos_engine::routing::Options {
        skillos_engine::routing::Options {
            default_mode: self.default_mode(),
            embed_timeout: std::time::Duration::from_millis(self.embed_timeout_ms),
            keyword_decisive: match self.keyword_decisive {
                KeywordDecisive::Confidence(confidence) => confidence,
                KeywordDecisive::Off => f64::INFINITY,
            },
            query_cache: self.query_cache_size,
            params: self.router_params(),
        }
    }

    /// The router's parameters.
    pub fn router_params(&self) -> skillos_routing::RouterParams {
        use skillos_routing::{Calibration, Mode};
        let calibration = |[bias, top, margin, similarity]: [f32; 4]| Calibration {
            bias,
            top,
            margin,
            similarity,
        };
        skillos_routing::RouterParams {
            keyword_weight: self.keyword_weight,
            vector_weight: self.vector_weight,
            select_threshold: self.select_threshold,
            min_score: self.min_score,
            calibration: [
                (Mode::Keyword, calibration(self.calibration.keyword)),
                (Mode::Vector, calibration(self.calibration.vector)),
                (Mode::Hybrid, calibration(self.calibration.hybrid)),
            ]
            .into(),
            ..skillos_routing::RouterParams::default()
        }
    }
}

/// Runner processes and the stream they attach with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunnersConfig {
    /// Tokens runners attach with; each allows a tenant and a set of skill-id patterns.
    pub tokens: Vec<RunnerTokenConfig>,
    /// Largest encoded result a runner may return; a larger one fails only its invocation.
    pub max_result_bytes: usize,
    /// How often each side sends a heartbeat when it has nothing else to send.
    pub heartbeat_interval_seconds: u64,
    /// Silence after which a runner is removed and its in-flight attempts count as lost.
    pub heartbeat_timeout_seconds: u64,
    /// Deadline of a run when neither the request nor the skill sets one.
    pub default_timeout_seconds: u64,
    /// Start a runner for the skills root as a child process (development mode).
    pub local: bool,
    /// The command of that runner, looked up on PATH.
    pub local_command: String,
}

impl Default for RunnersConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_result_bytes: 4 * 1024 * 1024,
            heartbeat_interval_seconds: 5,
            heartbeat_timeout_seconds: 15,
            default_timeout_seconds: 30,
            local: true,
            local_command: "skillos-runner".to_owned(),
        }
    }
}

/// One runner token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerTokenConfig {
    /// The secret runners present as `authorization: Bearer <token>`.
    pub token: String,
    /// Tenant whose invocations the runner serves.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Skill ids the runner may register: exact ids or patterns with `*` (`finance/*`, `*`).
    #[serde(default = "all_skills")]
    pub skills: Vec<String>,
}

fn default_tenant() -> String {
    skillos_store::TenantId::DEFAULT.to_owned()
}

fn all_skills() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The one listener: gRPC, gRPC-web and HTTP.
    pub listen: SocketAddr,
    /// How long a shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace_seconds: u64,
    /// Origins allowed to call gRPC-web from a browser; `*` allows any. Empty: same origin only.
    pub cors_allowed_origins: Vec<String>,
    /// Allow dev mode (anonymous callers are admin) on a non-loopback address, for a proxy in
    /// front that authenticates callers. Without it such a setup is refused at start.
    pub allow_unauthenticated_remote: bool,
    /// How long an idempotency key holds its response (Run, RunStream).
    pub idempotency_ttl_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shutdown_grace_seconds: 10,
            cors_allowed_origins: Vec::new(),
            allow_unauthenticated_remote: false,
            idempotency_ttl_seconds: 24 * 3600,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SkillsConfig {
    /// The skills root (`metadata/`, `implementations/`, ...). Unset: no skills are served.
    pub root: Option<PathBuf>,
    /// Reload the root when its manifests change on disk.
    pub watch: bool,
    /// Quiet time after the last change before a reload.
    pub reload_debounce_ms: u64,
}

impl Default for SkillsConfig {
    fn default() -> Self {
        Self {
            root: None,
            watch: true,
            reload_debounce_ms: 250,
        }
    }
}

/// The storage backends; one enum for the config and the store.
pub use skillos_store::Backend as StorageBackend;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Where the server keeps its files (the SQLite database, among others).
    pub data_dir: PathBuf,
    pub postgres_dsn: Option<String>,
    pub postgres_schema: String,
    pub postgres_max_connections: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Sqlite,
            data_dir: default_data_dir(),
            postgres_dsn: None,
            postgres_schema: "skillos".to_owned(),
            postgres_max_connections: 16,
        }
    }
}

impl StorageConfig {
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("skillos.db")
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `skillos=debug,info`, ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// A configuration value that cannot be used; the message names the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid value for {key} (from {origin}): {message}")]
    Value {
        key: String,
        origin: String,
        message: String,
    },
    #[error("unknown config key {0}")]
    UnknownKey(String),
    #[error("invalid config: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// A comma-separated list, trimmed, without empty items.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `RATE/s:BURST` (e.g. `50/s:100`, also `/m` and `/h`); empty or `off` removes the limit.
fn parse_rate(value: &str) -> Result<Option<rate_limit::Limit>, String> {
    let value = value.trim();
    if value.is_empty() || value == "off" {
        return Ok(None);
    }
    let error = || format!("{value:?} must look like 50/s:100 (rate per s, m or h, then burst)");
    let (rate, burst) = value.split_once(':').ok_or_else(error)?;
    let (count, unit) = rate.split_once('/').ok_or_else(error)?;
    let count: f64 = count.trim().parse().map_err(|_| error())?;
    let seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(error()),
    };
    let burst: u32 = burst.trim().parse().map_err(|_| error())?;
    Ok(Some(rate_limit::Limit {
        rate: count / seconds,
        burst,
    }))
}

/// `$XDG_DATA_HOME/skillos`, else `~/.local/share/skillos`, else `./.skillos`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join("skillos");
    }
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/skillos"),
        None => PathBuf::from(".skillos"),
    }
}

impl Config {
    /// Defaults, then the file (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Error> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| Error::File {
            path: path.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })
    }

    /// Applies the variables of [`ENVIRONMENT`] that `lookup` finds.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        let mut applied: Vec<&str> = Vec::new();
        for (name, key) in ENVIRONMENT {
            if applied.contains(key) {
                continue;
            }
            if let Some(value) = lookup(name) {
                self.set(key, &value, name)?;
                applied.push(key);
            }
        }
        Ok(())
    }

    /// Sets one key from its text form; `origin` (a variable or flag name) goes into errors.
    pub fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<(), Error> {
        let invalid = |message: String| Error::Value {
            key: key.to_owned(),
            origin: origin.to_owned(),
            message,
        };
        let parse_u64 = |value: &str| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|e| invalid(e.to_string()))
        };
        let parse_f32 = |value: &str| {
            value
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| invalid(format!("{value:?} is not a number")))
        };
        let parse_flag = |value: &str| {
            parse_bool(value).ok_or_else(|| {
                invalid(format!(
                    "{value:?} is not a boolean (true/false, 1/0, yes/no, on/off)"
                ))
            })
        };
        match key {
            "server.listen" => {
                self.server.listen = value.trim().parse().map_err(|_| {
                    invalid(format!("{value:?} is not an address like 127.0.0.1:50051"))
                })?
            }
            "server.shutdown_grace_seconds" => {
                self.server.shutdown_grace_seconds = parse_u64(value)?
            }
            "server.cors_allowed_origins" => {
                self.server.cors_allowed_origins = value
                    .split(',')
                    .map(str::trim)
                    .filter(|origin| !origin.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "server.allow_unauthenticated_remote" => {
                self.server.allow_unauthenticated_remote = parse_flag(value)?
            }
            "server.idempotency_ttl_seconds" => {
                self.server.idempotency_ttl_seconds = parse_u64(value)?
            }
            "skills.root" => {
                self.skills.root = Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty())
            }
            "skills.watch" => self.skills.watch = parse_flag(value)?,
            "skills.reload_debounce_ms" => self.skills.reload_debounce_ms = parse_u64(value)?,
            // One token for every skill of the default tenant, for a single-node setup.
            "runners.token" => self.runners.tokens.push(RunnerTokenConfig {
                token: value.to_owned(),
                tenant: default_tenant(),
                skills: all_skills(),
            }),
            "runners.local" => self.runners.local = parse_flag(value)?,
            "runners.local_command" => self.runners.local_command = value.trim().to_owned(),
            "storage.data_dir" => self.storage.data_dir = PathBuf::from(value),
            "storage.backend" => {
                self.storage.backend = match value.trim().to_ascii_lowercase().as_str() {
                    "sqlite" => StorageBackend::Sqlite,
                    "postgres" | "postgresql" => StorageBackend::Postgres,
                    _ => return Err(invalid(format!("{value:?} must be sqlite or postgres"))),
                }
            }
            "storage.postgres_dsn" => {
                self.storage.postgres_dsn = Some(value.to_owned()).filter(|dsn| !dsn.is_empty())
            }
            "storage.postgres_schema" => self.storage.postgres_schema = value.trim().to_owned(),
            "storage.postgres_max_connections" => {
                self.storage.postgres_max_connections = value
                    .trim()
                    .parse()
                    .map_err(|e: std::num::ParseIntError| invalid(e.to_string()))?
            }
            "routing.mode" => {
                self.routing.mode = match value.trim() {
                    "" => None,
                    mode => Some(mode.parse().map_err(invalid)?),
                }
            }
            "routing.embedder" => {
                self.routing.embedder = match value.trim().to_ascii_lowercase().as_str() {
                    "runner" => EmbedderKind::Runner,
                    "openai" => EmbedderKind::Openai,
                    "none" | "" => EmbedderKind::None,
                    _ => return Err(invalid(format!("{value:?} must be runner, openai or none"))),
                }
            }
            "routing.keyword_weight" => self.routing.keyword_weight = parse_f32(value)?,
            "routing.vector_weight" => self.routing.vector_weight = parse_f32(value)?,
            "routing.select_threshold" => self.routing.select_threshold = parse_f32(value)?,
            "routing.min_score" => self.routing.min_score = parse_f32(value)?,
            "routing.embed_timeout_ms" => self.routing.embed_timeout_ms = parse_u64(value)?,
            "routing.keyword_decisive" => {
                self.routing.keyword_decisive = value.parse().map_err(invalid)?
            }
            "routing.query_cache_size" => {
                self.routing.query_cache_size = parse_u64(value)?
                    .try_into()
                    .map_err(|_| invalid(format!("{value:?} is too large")))?
            }
            "routing.local_model" => self.routing.local_model = value.trim().to_owned(),
            "routing.openai_url" => {
                self.routing.openai_url = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
            }
            "routing.openai_model" => self.routing.openai_model = value.trim().to_owned(),
            "routing.openai_api_key" => {
                self.routing.openai_api_key = Some(value.to_owned()).filter(|v| !v.is_empty())
            }
            "auth.dev_mode" => self.auth.dev_mode = parse_flag(value)?,
            "auth.jwt_issuer" => {
                self.auth.jwt_issuer = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
            }
            "auth.jwt_audience" => {
                self.auth.jwt_audience = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
            }
            "auth.jwt_leeway_seconds" => self.auth.jwt_leeway_seconds = parse_u64(value)?,
            "auth.jwt_algorithms" => self.auth.jwt_algorithms = list(value),
            // `ALG:PATH`, e.g. `RS256:/etc/skillos/jwt.pem`.
            "auth.jwt_key_file" => {
                let (alg, path) = value.split_once(':').ok_or_else(|| {
                    invalid(format!(
                        "{value:?} must be ALG:PATH, e.g. RS256:/etc/skillos/jwt.pem"
                    ))
                })?;
                self.auth.jwt_keys.push(JwtKeyConfig {
                    path: PathBuf::from(path.trim()),
                    alg: alg.trim().to_owned(),
                    kid: None,
                })
            }
            "auth.jwks_url" => {
                self.auth.jwks_url = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
            }
            "auth.jwt_tenant_claim" => self.auth.jwt_tenant_claim = value.trim().to_owned(),
            "auth.jwt_roles_claim" => self.auth.jwt_roles_claim = value.trim().to_owned(),
            "policies.dir" => {
                self.policies.dir = Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty())
            }
            "rate_limits.tenant" => self.rate_limits.tenant = parse_rate(value).map_err(invalid)?,
            "rate_limits.principal" => {
                self.rate_limits.principal = parse_rate(value).map_err(invalid)?
            }
            "rate_limits.skill" => self.rate_limits.skill = parse_rate(value).map_err(invalid)?,
            "rate_limits.strict" => self.rate_limits.strict = parse_flag(value)?,
            "rate_limits.redis_url" => {
                self.rate_limits.redis_url = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
            }
            "circuit_breaker.failure_threshold" => {
                self.circuit_breaker.failure_threshold =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "circuit_breaker.open_seconds" => self.circuit_breaker.open_seconds = parse_u64(value)?,
            "jobs.workers" => {
                self.jobs.workers =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "webhooks.allow_unsigned" => self.webhooks.allow_unsigned = parse_flag(value)?,
            "webhooks.max_body_bytes" => {
                self.webhooks.max_body_bytes =
                    usize::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "webhooks.dedup_ttl_seconds" => self.webhooks.dedup_ttl_seconds = parse_u64(value)?,
            "webhooks.attachment_max_size_bytes" => {
                self.webhooks.attachment_max_size_bytes =
                    usize::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "jobs.lease_seconds" => self.jobs.lease_seconds = parse_u64(value)?,
            "flows.drivers" => {
                self.flows.drivers =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "flows.lease_seconds" => self.flows.lease_seconds = parse_u64(value)?,
            "flows.poll_interval_ms" => self.flows.poll_interval_ms = parse_u64(value)?,
            "jobs.poll_interval_ms" => self.jobs.poll_interval_ms = parse_u64(value)?,
            "jobs.backoff_initial_ms" => self.jobs.backoff_initial_ms = parse_u64(value)?,
            "jobs.backoff_max_ms" => self.jobs.backoff_max_ms = parse_u64(value)?,
            "jobs.max_attempts" => {
                self.jobs.max_attempts =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "retention.executions_days" => {
                self.retention.executions_days =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "retention.flow_runs_days" => {
                self.retention.flow_runs_days =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "retention.jobs_days" => {
                self.retention.jobs_days =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            "retention.usage_days" => {
                self.retention.usage_days =
                    u32::try_from(parse_u64(value)?).map_err(|e| invalid(e.to_string()))?
            }
            // `tenant:day=100,principal:request=5`
            "budgets.defaults" => {
                let mut defaults = Vec::new();
                for item in list(value) {
                    let parsed = item.split_once('=').and_then(|(key, limit)| {
                        let (scope, period) = key.trim().split_once(':')?;
                        Some(budget::DefaultLimit {
                            scope: scope.trim().to_owned(),
                            period: period.trim().to_owned(),
                            limit: limit.trim().parse().ok()?,
                        })
                    });
                    defaults.push(parsed.ok_or_else(|| {
                        invalid(format!("{item:?} must look like tenant:day=100"))
                    })?);
                }
                self.budgets.defaults = defaults;
            }
            "log.level" => self.log.level = value.trim().to_owned(),
            "log.format" => {
                self.log.format = match value.trim().to_ascii_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(invalid(format!("{value:?} must be text or json"))),
                }
            }
            _ => return Err(Error::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), Error> {
        let jobs = &self.jobs;
        let job_problem = if jobs.lease_seconds < 3 {
            Some(("jobs.lease_seconds", "must be at least 3"))
        } else if !(10..=60_000).contains(&jobs.poll_interval_ms) {
            Some(("jobs.poll_interval_ms", "must be between 10 and 60000"))
        } else if jobs.backoff_initial_ms > jobs.backoff_max_ms {
            Some((
                "jobs.backoff_initial_ms",
                "must not exceed jobs.backoff_max_ms",
            ))
        } else if !(1..=100).contains(&jobs.max_attempts) {
            Some(("jobs.max_attempts", "must be between 1 and 100"))
        } else {
            None
        };
        let job_problem = job_problem.or_else(|| {
            let min_dedup = 2 * skillos_engine::webhooks::MAX_TOLERANCE_SECONDS + 60;
            if self.webhooks.dedup_ttl_seconds < min_dedup {
                Some((
                    "webhooks.dedup_ttl_seconds",
                    "must be at least twice the largest timestamp tolerance (3600 s) plus a \
                     minute, 7260 s: a signed delivery may be replayed anywhere in its window",
                ))
            } else if self.webhooks.max_body_bytes < 1024 {
                Some(("webhooks.max_body_bytes", "must be at least 1024"))
            } else {
                None
            }
        });
        let retention = &self.retention;
        let retention_problem =
            if retention.usage_days != 0 && retention.usage_days < retention::MIN_USAGE_DAYS {
                Some((
                    "retention.usage_days",
                    "must be 0 (keep forever) or at least 62: a budget's month window starts \
                     from the month's usage",
                ))
            } else if retention.batch == 0 || retention.batch > 100_000 {
                Some(("retention.batch", "must be between 1 and 100000"))
            } else if retention.interval_seconds == 0 {
                Some(("retention.interval_seconds", "must be at least 1"))
            } else {
                None
            };
        let job_problem = job_problem.or(retention_problem);
        if let Some((key, message)) = job_problem {
            return Err(Error::Invalid {
                key,
                message: message.to_owned(),
            });
        }
        if self.auth.dev_mode
            && !self.server.listen.ip().is_loopback()
            && !self.server.allow_unauthenticated_remote
        {
            return Err(Error::Invalid {
                key: "server.listen",
                message: format!(
                    "{} is reachable from other machines, but dev mode lets anyone in as admin; \
                     listen on a loopback address, turn dev mode off, or set \
                     server.allow_unauthenticated_remote (SKILLOS_ALLOW_UNAUTHENTICATED_REMOTE=1) \
                     when a proxy in front authenticates callers",
                    self.server.listen
                ),
            });
        }
        for alg in &self.auth.jwt_algorithms {
            if alg.parse::<jsonwebtoken::Algorithm>().is_err() {
                return Err(Error::Invalid {
                    key: "auth.jwt_algorithms",
                    message: format!(
                        "{alg:?} is not a JWT algorithm (RS256, ES256, EdDSA, HS256, ...)"
                    ),
                });
            }
        }
        for key in &self.auth.jwt_keys {
            if key.alg.parse::<jsonwebtoken::Algorithm>().is_err() {
                return Err(Error::Invalid {
                    key: "auth.jwt_keys",
                    message: format!("{:?} is not a JWT algorithm", key.alg),
                });
            }
        }
        if let Some(url) = &self.auth.jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::Invalid {
                key: "auth.jwks_url",
                message: format!("{url:?} is not an http(s) URL"),
            });
        }
        if self.rate_limits.strict && self.rate_limits.redis_url.is_none() {
            return Err(Error::Invalid {
                key: "rate_limits.redis_url",
                message: "strict rate limiting needs Redis (set SKILLOS_REDIS_URL or REDIS_URL)"
                    .to_owned(),
            });
        }
        for (key, limit) in [
            ("rate_limits.tenant", self.rate_limits.tenant),
            ("rate_limits.principal", self.rate_limits.principal),
            ("rate_limits.skill", self.rate_limits.skill),
        ] {
            if let Some(limit) = limit
                && (!(limit.rate.is_finite() && limit.rate > 0.0) || limit.burst == 0)
            {
                return Err(Error::Invalid {
                    key,
                    message: "rate must be > 0 per second and burst at least 1".to_owned(),
                });
            }
        }
        for origin in &self.server.cors_allowed_origins {
            if !is_origin(origin) {
                return Err(Error::Invalid {
                    key: "server.cors_allowed_origins",
                    message: format!(
                        "{origin:?} is not an origin like https://console.example.com or *"
                    ),
                });
            }
        }
        if self.storage.backend == StorageBackend::Postgres && self.storage.postgres_dsn.is_none() {
            return Err(Error::Invalid {
                key: "storage.postgres_dsn",
                message: "required when storage.backend is postgres \
                          (set SKILLOS_POSTGRES_DSN or DATABASE_URL)"
                    .to_owned(),
            });
        }
        if !(1..=1000).contains(&self.storage.postgres_max_connections) {
            return Err(Error::Invalid {
                key: "storage.postgres_max_connections",
                message: "must be between 1 and 1000".to_owned(),
            });
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(Error::Invalid {
                key: "storage.data_dir",
                message: "must not be empty".to_owned(),
            });
        }
        if let Some(root) = &self.skills.root
            && !root.is_dir()
        {
            return Err(Error::Invalid {
                key: "skills.root",
                message: format!("{} does not exist or is not a directory", root.display()),
            });
        }
        if !(1..=30 * 24 * 3600).contains(&self.server.idempotency_ttl_seconds) {
            return Err(Error::Invalid {
                key: "server.idempotency_ttl_seconds",
                message: "must be between 1 and 2592000 (30 days)".to_owned(),
            });
        }
        if self.server.shutdown_grace_seconds > 3600 {
            return Err(Error::Invalid {
                key: "server.shutdown_grace_seconds",
                message: "must be at most 3600".to_owned(),
            });
        }
        for token in &self.runners.tokens {
            if token.token.len() < 16 {
                return Err(Error::Invalid {
                    key: "runners.tokens",
                    message: "a runner token must be at least 16 characters".to_owned(),
                });
            }
        }
        if self.runners.heartbeat_interval_seconds == 0
            || self.runners.heartbeat_timeout_seconds <= self.runners.heartbeat_interval_seconds
        {
            return Err(Error::Invalid {
                key: "runners.heartbeat_timeout_seconds",
                message: "must be greater than runners.heartbeat_interval_seconds (> 0)".to_owned(),
            });
        }
        if self.runners.max_result_bytes == 0 || self.runners.max_result_bytes > 64 * 1024 * 1024 {
            return Err(Error::Invalid {
                key: "runners.max_result_bytes",
                message: "must be between 1 and 67108864".to_owned(),
            });
        }
        let routing = &self.routing;
        if routing.keyword_weight < 0.0
            || routing.vector_weight < 0.0
            || routing.keyword_weight + routing.vector_weight <= 0.0
        {
            return Err(Error::Invalid {
                key: "routing.keyword_weight",
                message: "the routing weights must be >= 0 and not both 0".to_owned(),
            });
        }
        if !(0.0..=1.0).contains(&routing.select_threshold) {
            return Err(Error::Invalid {
                key: "routing.select_threshold",
                message: "must be between 0 and 1".to_owned(),
            });
        }
        if !(0.0..=1.0).contains(&routing.min_score) {
            return Err(Error::Invalid {
                key: "routing.min_score",
                message: "must be between 0 and 1".to_owned(),
            });
        }
        if !(1..=60_000).contains(&routing.embed_timeout_ms) {
            return Err(Error::Invalid {
                key: "routing.embed_timeout_ms",
                message: "must be between 1 and 60000".to_owned(),
            });
        }
        if let KeywordDecisive::Confidence(confidence) = routing.keyword_decisive
            && !(0.0..=1.0).contains(&confidence)
        {
            return Err(Error::Invalid {
                key: "routing.keyword_decisive",
                message: "must be a confidence between 0 and 1, or \"off\"".to_owned(),
            });
        }
        if routing.query_cache_size > 1_000_000 {
            return Err(Error::Invalid {
                key: "routing.query_cache_size",
                message: "must be at most 1000000".to_owned(),
            });
        }
        if !matches!(routing.local_model.as_str(), "e5" | "use") {
            return Err(Error::Invalid {
                key: "routing.local_model",
                message: "must be e5 or use".to_owned(),
            });
        }
        if routing.embedder == EmbedderKind::Openai && routing.openai_url.is_none() {
            return Err(Error::Invalid {
                key: "routing.openai_url",
                message: "required when routing.embedder is openai (SKILLOS_EMBEDDINGS_URL)"
                    .to_owned(),
            });
        }
        if routing.embedder == EmbedderKind::None
            && routing.mode.is_some_and(|mode| mode.uses_vectors())
        {
            return Err(Error::Invalid {
                key: "routing.mode",
                message: "vector and hybrid routing need an embedder (routing.embedder)".to_owned(),
            });
        }
        for default in &self.budgets.defaults {
            if skillos_engine::budget::Scope::parse(&default.scope).is_none()
                || skillos_engine::budget::Period::parse(&default.period).is_none()
                || !(default.limit.is_finite() && default.limit >= 0.0)
            {
                return Err(Error::Invalid {
                    key: "budgets.defaults",
                    message: format!(
                        "{}:{}={} needs a scope (tenant, principal, skill), a period (request, \
                         day, month, total) and a limit >= 0",
                        default.scope, default.period, default.limit
                    ),
                });
            }
        }
        if !(0.0..1.0).contains(&self.budgets.low_remaining_fraction) {
            return Err(Error::Invalid {
                key: "budgets.low_remaining_fraction",
                message: "must be at least 0 and below 1".to_owned(),
            });
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(Error::Invalid {
                key: "log.level",
                message: error.to_string(),
            });
        }
        Ok(())
    }

    /// The effective configuration as TOML, with the password of the PostgreSQL DSN masked.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.redacted()).unwrap_or_default()
    }

    /// A copy safe to print.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        copy.storage.postgres_dsn = copy.storage.postgres_dsn.as_deref().map(redact_dsn);
        if copy.routing.openai_api_key.is_some() {
            copy.routing.openai_api_key = Some("***".to_owned());
        }
        for token in &mut copy.runners.tokens {
            token.token = "***".to_owned();
        }
        copy.rate_limits.redis_url = copy.rate_limits.redis_url.as_deref().map(redact_dsn);
        copy
    }
}

/// `*`, or `scheme://host[:port]` as browsers send it in `Origin`.
fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some(host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && !host.contains(['/', ' ', '?', '#'])
        && http::HeaderValue::from_str(origin).is_ok()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Masks the password of a PostgreSQL DSN in each form it can take: the URL's user info
/// (`postgres://user:secret@host/db`), a `password=` query parameter, or a `password=` key of
/// the keyword form (`host=db password=secret`).
fn redact_dsn(dsn: &str) -> String {
    let mut redacted = dsn.to_owned();
    if let Some((scheme, rest)) = dsn.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((credentials, host)) = authority.rsplit_once('@')
            && let Some((user, _password)) = credentials.split_once(':')
        {
            redacted = format!("{scheme}://{user}:***@{host}{tail}");
        }
    }
    mask_password_parameters(&redacted)
}

fn mask_password_parameters(text: &str) -> String {
    const KEY: &str = "password=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find(KEY) {
        let boundary_ok = at == 0 || matches!(rest.as_bytes()[at - 1], b'?' | b'&' | b' ' | b'\t');
        let value_start = at + KEY.len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        if !boundary_ok {
            continue;
        }
        let value_end = if let Some(quoted) = rest.strip_prefix('\'') {
            quoted.find('\'').map_or(rest.len(), |end| end + 2)
        } else {
            rest.find(['&', ' ', '\t']).unwrap_or(rest.len())
        };
        out.push_str("***");
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skillos.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"0.0.0.0:6000\"\nshutdown_grace_seconds = 3\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let mut config = Config::from_file(&file).unwrap();
        assert_eq!(config.server.listen.port(), 6000);
        assert_eq!(config.storage.postgres_schema, "skillos");

        config
            .apply_env(env(&[
                ("SKILLOS_LISTEN", "127.0.0.1:7000"),
                ("SKILLOS_LOG_FORMAT", "json"),
            ]))
            .unwrap();
        assert_eq!(config.server.listen.port(), 7000);
        assert_eq!(config.server.shutdown_grace_seconds, 3);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.level, "debug");

        config
            .set("server.listen", "127.0.0.1:8000", "--listen")
            .unwrap();
        assert_eq!(config.server.listen.port(), 8000);
    }

    #[test]
    fn the_first_of_two_variables_for_one_key_wins() {
        let mut config = Config::default();
        config
            .apply_env(env(&[
                ("DATABASE_URL", "postgres://b/db"),
                ("SKILLOS_POSTGRES_DSN", "postgres://a/db"),
            ]))
            .unwrap();
        assert_eq!(
            config.storage.postgres_dsn.as_deref(),
            Some("postgres://a/db")
        );
        let mut config = Config::default();
        config
            .apply_env(env(&[("DATABASE_URL", "postgres://b/db")]))
            .unwrap();
        assert_eq!(
            config.storage.postgres_dsn.as_deref(),
            Some("postgres://b/db")
        );
    }

    #[test]
    fn errors_name_the_key_and_origin() {
        let mut config = Config::default();
        let error = config
            .apply_env(env(&[("SKILLOS_LISTEN", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("server.listen") && error.contains("SKILLOS_LISTEN"),
            "{error}"
        );

        let error = config
            .set("storage.backend", "mysql", "--backend")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("storage.backend") && error.contains("sqlite or postgres"),
            "{error}"
        );

        config.storage.backend = StorageBackend::Postgres;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("storage.postgres_dsn"), "{error}");
    }

    #[test]
    fn the_keyword_cascade_is_a_confidence_or_off() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skillos.toml");
        std::fs::write(&file, "[routing]\nkeyword_decisive = \"off\"\n").unwrap();
        let config = Config::from_file(&file).unwrap();
        assert_eq!(config.routing.keyword_decisive, KeywordDecisive::Off);
        assert_eq!(config.routing.options().keyword_decisive, f64::INFINITY);
        std::fs::write(
            &file,
            "[routing]\nkeyword_decisive = 0.8\nquery_cache_size = 5\n",
        )
        .unwrap();
        let config = Config::from_file(&file).unwrap();
        let options = config.routing.options();
        assert_eq!((options.keyword_decisive, options.query_cache), (0.8, 5));
        // The default is the calibrated threshold.
        assert_eq!(Config::default().routing.options().keyword_decisive, 0.9);

        let mut config = Config::default();
        config
            .apply_env(env(&[("SKILLOS_ROUTING_KEYWORD_DECISIVE", "off")]))
            .unwrap();
        assert_eq!(config.routing.keyword_decisive, KeywordDecisive::Off);
        for bad in ["1.5", "-0.1"] {
            let mut config = Config::default();
            config
                .apply_env(env(&[("SKILLOS_ROUTING_KEYWORD_DECISIVE", bad)]))
                .unwrap();
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("routing.keyword_decisive"), "{error}");
        }
        let error = Config::default()
            .apply_env(env(&[("SKILLOS_ROUTING_KEYWORD_DECISIVE", "sometimes")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("neither a confidence"), "{error}");
    }

    #[test]
    fn unknown_file_keys_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[server]\nlissten = \"x\"\n").unwrap();
        let error = Config::from_file(&file).unwrap_err().to_string();
        assert!(error.contains("lissten"), "{error}");
        std::fs::write(&file, "[server]\nlisten = 5\n").unwrap();
        let error = Config::from_file(&file).unwrap_err().to_string();
        assert!(error.contains("listen"), "{error}");
    }

    #[test]
    fn every_form_of_dsn_password_is_masked() {
        for (dsn, shown) in [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            (
                "postgres://db/x?user=app&password=s3cret&sslmode=require",
                "postgres://db/x?user=app&password=***&sslmode=require",
            ),
            (
                "postgres://db/x?PASSWORD=s3cret",
                "postgres://db/x?PASSWORD=***",
            ),
            (
                "host=db user=app password=s3cret dbname=x",
                "host=db user=app password=*** dbname=x",
            ),
            (
                "host=db password='s3 cret' dbname=x",
                "host=db password=*** dbname=x",
            ),
            ("postgres://app@db/x", "postgres://app@db/x"),
        ] {
            assert_eq!(redact_dsn(dsn), shown);
        }
    }

    #[test]
    fn dev_mode_on_a_non_loopback_listen_needs_an_explicit_opt_in() {
        let mut config = Config::default();
        config.server.listen = "0.0.0.0:50051".parse().unwrap();
        // Callers authenticate: any address is fine.
        config.validate().unwrap();
        config.auth.dev_mode = true;
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("server.listen")
                && error.contains("SKILLOS_ALLOW_UNAUTHENTICATED_REMOTE"),
            "{error}"
        );
        config.server.allow_unauthenticated_remote = true;
        config.validate().unwrap();
    }

    #[test]
    fn retention_comes_from_the_environment_and_keeps_a_month_of_usage() {
        let mut config = Config::default();
        config
            .apply_env(|name| match name {
                "SKILLOS_RETENTION_EXECUTIONS_DAYS" => Some("7".to_owned()),
                "SKILLOS_RETENTION_USAGE_DAYS" => Some("0".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.retention.executions_days, 7);
        assert_eq!(config.retention.usage_days, 0);
        config.validate().unwrap();
        config.retention.usage_days = 30;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("retention.usage_days"), "{error}");
        config.retention.usage_days = 62;
        config.validate().unwrap();
    }

    #[test]
    fn cors_origins_are_checked() {
        let mut config = Config::default();
        for good in ["*", "https://console.example.com", "http://localhost:5173"] {
            config.server.cors_allowed_origins = vec![good.to_owned()];
            config.validate().unwrap();
        }
        for bad in ["console.example.com", "https://x.com/path", "https://a b"] {
            config.server.cors_allowed_origins = vec![bad.to_owned()];
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("server.cors_allowed_origins"), "{error}");
        }
    }

    #[test]
    fn show_masks_the_database_password() {
        let mut config = Config::default();
        config.storage.postgres_dsn = Some("postgres://app:s3cret@db:5432/skillos".to_owned());
        let shown = config.to_toml();
        assert!(
            shown.contains("postgres://app:***@db:5432/skillos"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"));
    }
}
