//! How the command line prints: aligned tables for people, JSON for scripts, and failures on
//! stderr with exit code 1.

use std::process::ExitCode;

use comfy_table::{Table, presets};

/// A command that did not succeed: printed on stderr (or as JSON on stdout), exit code 1.
#[derive(Debug)]
pub struct Failure {
    message: String,
    reason: Option<String>,
    /// Already printed (a validation report, say): only the exit code remains.
    printed: bool,
    /// 1, or 2 for a usage error.
    code: u8,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reason: None,
            printed: false,
            code: 1,
        }
    }

    /// The command line itself is wrong (exit code 2, like clap's own errors).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            ..Self::new(message)
        }
    }

    pub fn with_reason(message: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reason: Some(reason.into()),
            printed: false,
            code: 1,
        }
    }

    /// The outcome was printed already; exit 1 without another message.
    pub fn printed() -> Self {
        Self {
            message: String::new(),
            reason: None,
            printed: true,
            code: 1,
        }
    }

    pub fn report(self, json: bool) -> ExitCode {
        if !self.printed {
            if json {
                let body =
                    serde_json::json!({"error": {"message": self.message, "reason": self.reason}});
                outln!("{body}");
            } else {
                match &self.reason {
                    Some(reason) => eprintln!("error: {} ({reason})", self.message),
                    None => eprintln!("error: {}", self.message),
                }
            }
        }
        ExitCode::from(self.code)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::new(format!("{error:#}"))
    }
}

/// A borderless table with an upper-case header row.
pub fn table<const N: usize>(
    headers: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(headers.map(str::to_uppercase));
    for row in rows {
        table.add_row(row);
    }
    table
        .to_string()
        .lines()
        .map(|line| line.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes to standard output; a closed one (the reader went away) ends the process with 0,
/// any other write error with 1.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(1);
    }
}

pub fn print_json(value: &serde_json::Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
