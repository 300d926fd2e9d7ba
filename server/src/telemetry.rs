//! Logging setup: text or JSON lines on stderr, filtered by `log.level` (or `RUST_LOG`). Text
//! carries ANSI colours only when stderr is a terminal, so files and collectors get plain lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

pub fn init(config: &LogConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|filter| EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| EnvFilter::new(with_quiet_dependencies(&config.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests starting several servers in one process) keeps the first subscriber.
    drop(result);
}

/// The file watcher logs routine events (a removed folder's watch) at info; keep it at warn
/// unless the filter names it.
fn with_quiet_dependencies(level: &str) -> String {
    if level.contains("notify") {
        level.to_owned()
    } else {
        format!("{level},notify=warn")
    }
}
