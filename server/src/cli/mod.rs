//! The `skillos` command line: the server (`serve`), local tools on a skills root (`validate`,
//! `add-skill`) and a client of a running server (`skills ...`).
//!
//! Exit codes: 0 success, 1 failure or refusal, 2 usage error. A closed standard output (a
//! pipe into `head`) ends the command quietly with 0.

/// `print!` that ends the process quietly when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that ends the process quietly when standard output is closed.
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod approvals;
mod budgets;
mod client;
mod flows;
mod jobs;
mod keys;
mod local;
mod output;
mod pipeline;
mod route;
mod schedules;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

pub use output::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "skillos",
    version,
    about = "SkillOS: self-hosted skill orchestration server"
)]
pub struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: gRPC, gRPC-web and HTTP on one port.
    Serve(ServeArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Validate a skills root on disk and report every issue.
    Validate(ValidateArgs),
    /// Create a new skill (manifest + Python implementation) in a skills root.
    AddSkill(AddSkillArgs),
    /// Query and manage the skills of a running server.
    Skills(SkillsArgs),
    /// Run a skill on a running server and print its output.
    Run(RunArgs),
    /// Run skills one after another (and at once, `A|B`) on a running server.
    Pipeline(pipeline::PipelineArgs),
    /// Executions recorded by a running server.
    Executions(ExecutionsArgs),
    /// Runners attached to a running server.
    Runners(RunnersArgs),
    /// Route natural-language requests to skills of a root on disk (no server needed).
    Route(route::RouteArgs),
    /// Tell a running server which skill a routed query should have gone to.
    Feedback(FeedbackArgs),
    /// Create, list and revoke API keys in the server's store.
    Keys(keys::KeysArgs),
    /// Budgets and usage of your tenant on a running server.
    Budgets(budgets::BudgetsArgs),
    /// Runs held for approval on a running server: list, approve, reject.
    Approvals(approvals::ApprovalsArgs),
    /// The durable job queue of a running server: enqueue, list, cancel, dead letters, requeue.
    Jobs(jobs::JobsArgs),
    /// Durable flows of a running server: list, start, get, watch, runs, cancel, retry.
    Flows(flows::FlowsArgs),
    /// Schedules of a running server: cron, intervals, one-shot times.
    Schedules(schedules::SchedulesArgs),
    /// Webhook triggers of a running server: create, list, rotate secrets, delete.
    Webhooks(webhooks::WebhooksArgs),
}

#[derive(Debug, Args)]
struct FeedbackArgs {
    #[command(flatten)]
    server: ServerArg,
    /// The query that was routed.
    #[arg(long)]
    query: String,
    /// The skill routing chose (omit when it chose none).
    #[arg(long)]
    routed: Option<String>,
    /// The skill it should have chosen (omit when no skill fits); equal to --routed to confirm.
    #[arg(long)]
    expected: Option<String>,
    /// Optional comment.
    #[arg(long, default_value = "")]
    comment: String,
    /// The execution the feedback is about.
    #[arg(long)]
    execution: Option<String>,
}

/// Where the server is, for the commands that talk to one.
#[derive(Debug, Args)]
pub struct ServerArg {
    /// Server address.
    #[arg(
        long,
        env = "SKILLOS_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    /// Credential for the server: an API key (`skos_...`) or a JWT.
    #[arg(long, env = "SKILLOS_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    server: ServerArg,
    /// Skill id, `domain/name` or `domain.name`.
    #[arg(long, required_unless_present = "query", conflicts_with = "query")]
    skill: Option<String>,
    /// A natural-language request instead of a skill id: the server routes it and runs the
    /// selected skill (nothing runs when routing is not confident).
    #[arg(long)]
    query: Option<String>,
    /// The payload, a JSON object.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// Deadline of the run in seconds (default: the skill's, else the server's).
    #[arg(long)]
    timeout: Option<f64>,
    /// Makes retrying safe: the same key with the same request answers the first run's
    /// response instead of running again.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Check and plan only: print what a run would do (skill, policy, approval, budget, model
    /// tier, runner) and what would refuse it; nothing runs, is stored or charged. Exits 1
    /// when something would refuse the run.
    #[arg(long)]
    dry_run: bool,
    /// With --query: split the request into segments, route each and run them as steps
    /// (`pipeline`: in order on `then`, `->`, `затем`...; `parallel`: at once on `and`, `&`,
    /// `и`...; `auto`: both, or one skill when a segment does not route).
    #[arg(long, value_enum, requires = "query")]
    split: Option<SplitArg>,
}

/// How `run --query` splits the request.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitArg {
    None,
    Pipeline,
    Parallel,
    Auto,
}

impl From<SplitArg> for skillos_engine::flow::segments::Split {
    fn from(split: SplitArg) -> Self {
        match split {
            SplitArg::None => Self::None,
            SplitArg::Pipeline => Self::Pipeline,
            SplitArg::Parallel => Self::Parallel,
            SplitArg::Auto => Self::Auto,
        }
    }
}

#[derive(Debug, Args)]
struct ExecutionsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: ExecutionsCommand,
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// List executions, newest first.
    List {
        /// Only executions of this skill.
        #[arg(long)]
        skill: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Show one execution.
    Get { id: String },
    /// Cancel an execution that has not ended (held for approval, waiting, or running).
    Cancel {
        id: String,
        /// Why; kept in the execution's error and the audit trail.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Args)]
struct RunnersArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: RunnersCommand,
}

#[derive(Debug, Subcommand)]
enum RunnersCommand {
    /// List the runners attached now.
    List,
}

/// Flags of `serve`, each with its environment variable and config key.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (layered: defaults < file < environment < flags).
    #[arg(long, env = "SKILLOS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the one listener [env: SKILLOS_LISTEN] [default: 127.0.0.1:50051].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Skills root to serve [env: SKILLOS_ROOT].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Directory of the server's own files [env: SKILLOS_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Do not reload the skills root when it changes on disk.
    #[arg(long)]
    no_watch: bool,
    /// Do not start a runner for the skills root as a child process [env: SKILLOS_LOCAL_RUNNER=0].
    #[arg(long)]
    no_local_runner: bool,
    /// Development mode: callers without credentials act as the anonymous admin of the default
    /// tenant [env: SKILLOS_DEV_MODE=1]. Only on a loopback address.
    #[arg(long)]
    dev: bool,
    /// Log lines as `text` (colours only on a terminal) or `json` (one object a line, for log
    /// collectors) [env: SKILLOS_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
}

impl ServeArgs {
    /// The effective configuration: defaults < file < environment < these flags.
    pub fn config(&self) -> Result<Config, crate::config::Error> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(listen) = &self.listen {
            config.set("server.listen", listen, "--listen")?;
        }
        if let Some(root) = &self.root {
            config.set("skills.root", &root.to_string_lossy(), "--root")?;
        }
        if let Some(data_dir) = &self.data_dir {
            config.set(
                "storage.data_dir",
                &data_dir.to_string_lossy(),
                "--data-dir",
            )?;
        }
        if self.no_watch {
            config.skills.watch = false;
        }
        if self.dev {
            config.auth.dev_mode = true;
        }
        if self.no_local_runner {
            config.runners.local = false;
        }
        if let Some(format) = &self.log_format {
            config.set("log.format", format, "--log-format")?;
        }
        config.validate()?;
        Ok(config)
    }
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets masked).
    Show(ServeArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Skills root to validate.
    #[arg(long, env = "SKILLOS_ROOT", value_name = "DIR")]
    root: PathBuf,
    /// Skip the check that each entrypoint names a function in the root's Python files.
    #[arg(long)]
    no_entrypoints: bool,
}

#[derive(Debug, Args)]
struct AddSkillArgs {
    /// Skill id, `domain/name`.
    id: String,
    /// Skills root to create the skill in.
    #[arg(long, env = "SKILLOS_ROOT", value_name = "DIR")]
    root: PathBuf,
}

#[derive(Debug, Args)]
struct SkillsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: SkillsCommand,
}

#[derive(Debug, Subcommand)]
enum SkillsCommand {
    /// List skills.
    List {
        /// Only skills with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only skills of this domain.
        #[arg(long)]
        domain: Option<String>,
        /// Include deprecated skills.
        #[arg(long)]
        include_deprecated: bool,
    },
    /// Show one skill.
    Get {
        /// `domain/name` or `domain.name`.
        id: String,
    },
    /// Deprecate a skill (kept in the server's store).
    Deprecate {
        id: String,
        /// Why it is deprecated.
        #[arg(long)]
        reason: Option<String>,
        /// The skill to use instead.
        #[arg(long)]
        replacement: Option<String>,
    },
    /// Clear a skill's deprecation.
    Undeprecate { id: String },
    /// Let a composition run for your tenant, whatever its file says (kept in the store).
    Activate { id: String },
    /// Stop a composition from running for your tenant, whatever its file says.
    Deactivate { id: String },
    /// Validate the server's skills root.
    Validate {
        /// Skip the entrypoint check.
        #[arg(long)]
        no_entrypoints: bool,
    },
}

/// Runs the command line; the exit code follows the table in the module docs.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Config(ConfigCommand::Show(args)) => local::config_show(&args, json),
        Command::Validate(args) => local::validate(&args.root, !args.no_entrypoints, json),
        Command::AddSkill(args) => local::add_skill(&args.id, &args.root, json),
        Command::Skills(args) => runtime().and_then(|rt| rt.block_on(client::skills(args, json))),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(client::run(args, json))),
        Command::Executions(args) => {
            runtime().and_then(|rt| rt.block_on(client::executions(args, json)))
        }
        Command::Runners(args) => runtime().and_then(|rt| rt.block_on(client::runners(args, json))),
        Command::Route(args) => runtime().and_then(|rt| rt.block_on(route::route(args, json))),
        Command::Keys(args) => runtime().and_then(|rt| rt.block_on(keys::keys(args, json))),
        Command::Approvals(args) => {
            runtime().and_then(|rt| rt.block_on(approvals::approvals(args, json)))
        }
        Command::Jobs(args) => runtime().and_then(|rt| rt.block_on(jobs::jobs(args, json))),
        Command::Flows(args) => runtime().and_then(|rt| rt.block_on(flows::flows(args, json))),
        Command::Pipeline(args) => {
            runtime().and_then(|rt| rt.block_on(pipeline::pipeline(args, json)))
        }
        Command::Schedules(args) => {
            runtime().and_then(|rt| rt.block_on(schedules::schedules(args, json)))
        }
        Command::Webhooks(args) => {
            runtime().and_then(|rt| rt.block_on(webhooks::webhooks(args, json)))
        }
        Command::Budgets(args) => {
            runtime().and_then(|rt| rt.block_on(budgets::budgets(args, json)))
        }
        Command::Feedback(args) => {
            runtime().and_then(|rt| rt.block_on(client::feedback(args, json)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(format!("cannot start the async runtime: {error}")))
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    let config = args
        .config()
        .map_err(|error| Failure::new(error.to_string()))?;
    crate::telemetry::init(&config.log);
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let listener = crate::server::bind(config.server.listen)
            .await
            .map_err(Failure::from)?;
        crate::server::run(config, listener, crate::server::shutdown_signal())
            .await
            .map_err(Failure::from)
    });
    // Tasks still running after the drain (connections past the grace, a blocking file scan)
    // are abandoned rather than waited for, so the exit stays bounded.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
