//! Development mode: `skillos serve --root DIR` starts a runner for that root as a child
//! process, so one command gives a working system. The child gets a token made for it alone
//! (never printed), is restarted with backoff when it dies, and is stopped with the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long before dying starts the backoff over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What the supervisor needs to start the child.
#[derive(Clone, Debug)]
pub struct LocalRunner {
    pub command: String,
    pub root: PathBuf,
    pub server: SocketAddr,
    pub token: String,
    /// Embedding model the runner offers to routing (`e5`, `use`); `None`: none.
    pub embeddings: Option<String>,
    /// The runner looks for changed skills every second and serves the new set (when the
    /// server watches the root too).
    pub watch: bool,
}

/// A fresh random token for the local runner.
pub fn new_token() -> String {
    format!(
        "local-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl LocalRunner {
    /// Keeps the runner alive until `stop` turns true, then stops it (SIGTERM, then SIGKILL
    /// after a grace period).
    pub async fn supervise(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = tokio::time::Instant::now();
            let mut child = match self.spawn() {
                Ok(child) => child,
                Err(error) => {
                    tracing::warn!(
                        command = %self.command, %error,
                        "cannot start the local runner; skills will not run until a runner attaches \
                         (install it with `make setup`, or pass --no-local-runner)"
                    );
                    return;
                }
            };
            tracing::info!(pid = child.id(), root = %self.root.display(), "local runner started");
            tokio::select! {
                status = child.wait() => {
                    if *stop.borrow() {
                        return;
                    }
                    tracing::warn!(status = ?status.ok(), "local runner exited; restarting in {backoff:?}");
                }
                _ = stop.changed() => {
                    stop_child(&mut child).await;
                    return;
                }
            }
            if started.elapsed() > HEALTHY_RUN {
                backoff = FIRST_BACKOFF;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn spawn(&self) -> std::io::Result<tokio::process::Child> {
        let mut command = Command::new(&self.command);
        if let Some(model) = &self.embeddings {
            command.arg("--embeddings").arg(model);
        }
        command
            .arg("--server")
            .arg(self.server.to_string())
            .arg("--root")
            .arg(&self.root)
            .arg("--name")
            .arg("local")
            // The token goes through the environment, not the command line other users can read.
            .env("SKILLOS_RUNNER_TOKEN", &self.token)
            .env("SKILLOS_RUNNER_WATCH", if self.watch { "1" } else { "0" })
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
    }
}

async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SIGTERM lets the runner drain; `kill` avoids unsafe code for sending a signal.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!("local runner did not stop in time; killing it");
        let _ = child.kill().await;
    }
}
