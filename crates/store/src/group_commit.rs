//! Group commit for SQLite's single writer.
//!
//! SQLite lets one connection write at a time, and every commit writes each page it changed to
//! the WAL again. So the writer is one task owning one connection: callers hand it their writes
//! and await their own outcome; the task takes every write queued while the previous commit ran
//! and commits them in one transaction. A write that fails fails alone; the others of its batch
//! still commit: a single statement that fails changes nothing (SQLite undoes a failed
//! statement, not its transaction), and a write of several statements opens its own
//! transaction (`conn.begin()`), which inside the batch is a savepoint that its failure rolls
//! back. No savepoint is added per write, so a batch costs two statements more than its
//! writes (BEGIN and COMMIT), not three per write. A caller hears
//! back only after the commit that holds its write, so an acknowledged write is as durable as
//! one committed on its own. A caller that goes away does not cancel its write halfway: the
//! task finishes it (and its outcome is dropped).
//!
//! Checkpoints (copying the WAL back into the database file, with its fsync) are not left to
//! the commit that crosses SQLite's threshold, which would stall every write queued behind it:
//! the writer's connection has `wal_autocheckpoint` off, and a checkpointer task with its own
//! connection runs a PASSIVE checkpoint (which never blocks the writer) every
//! [`CHECKPOINT_EVERY`] while there are new commits.
//!
//! A failure of the batch itself (BEGIN, a savepoint, COMMIT: a full or read-only disk, an I/O
//! error) fails every write of the batch with that error, since none of them was committed,
//! and the connection is opened again before the next batch.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{mpsc, oneshot};

/// What a write closure returns: a future borrowing the writer's connection.
pub(crate) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// The most writes one transaction holds; more wait for the next.
const MAX_BATCH: usize = 256;
/// Writes queued beyond this wait to be queued (back pressure on callers).
const QUEUE: usize = 4096;
/// How often the checkpointer looks for new commits.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A handle to the writer task; clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
    stats: Arc<Counters>,
}

/// How many writes the writer committed, in how many transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub writes: u64,
    pub commits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    writes: AtomicU64,
    commits: AtomicU64,
    /// When a write last found the database unable to write (full, read-only, an I/O
    /// error): milliseconds since `started`, 0 for never (or cleared by a probe).
    failed_at_ms: AtomicU64,
    started: std::sync::OnceLock<std::time::Instant>,
}

impl Counters {
    fn now_ms(&self) -> u64 {
        let started = self.started.get_or_init(std::time::Instant::now);
        u64::try_from(started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

enum Message {
    Write(Box<dyn Write>),
    Close(oneshot::Sender<()>),
}

impl Writer {
    /// Opens the writer's connection and starts its task.
    pub(crate) async fn start(options: SqliteConnectOptions) -> crate::Result<Self> {
        let options = options.pragma("wal_autocheckpoint", "0");
        let conn = options.connect().await?;
        let checkpoints = options.connect().await?;
        let (queue, receiver) = mpsc::channel(QUEUE);
        let stats = Arc::<Counters>::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let checkpointer = tokio::spawn(checkpoint(checkpoints, stats.clone(), stopped));
        let checkpoints = (stop, checkpointer);
        tokio::spawn(run(options, conn, receiver, stats.clone(), checkpoints));
        Ok(Self { queue, stats })
    }

    /// Runs `write` in the next batch and answers once that batch committed.
    pub(crate) async fn write<T, F>(&self, write: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, crate::Result<T>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            write: Some(write),
            result: None,
            reply,
        };
        self.queue
            .send(Message::Write(Box::new(pending)))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Commits what is queued, then closes the connection; later writes fail.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// How long ago a write last found the database unable to write; `None` when none did
    /// since [`Writer::recovered`].
    pub(crate) fn failed_ago(&self) -> Option<std::time::Duration> {
        let at = self.stats.failed_at_ms.load(Ordering::Relaxed);
        (at != 0).then(|| std::time::Duration::from_millis(self.stats.now_ms().saturating_sub(at)))
    }

    /// A probe write succeeded long enough after the last failure: writes work again.
    pub(crate) fn recovered(&self) {
        self.stats.failed_at_ms.store(0, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            writes: self.stats.writes.load(Ordering::Relaxed),
            commits: self.stats.commits.load(Ordering::Relaxed),
        }
    }
}

fn closed() -> crate::Error {
    crate::Error::Database(Arc::new(sqlx::Error::PoolClosed))
}

/// One queued write with its caller's reply, its result type erased.
trait Write: Send {
    /// Runs the write; true when it succeeded (its changes are to be kept).
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    /// The write failed because the database cannot write now (full, read-only, I/O): SQLite
    /// may have rolled the whole transaction back, so nothing after it may count on it.
    fn unavailable(&self) -> bool;
    /// Answers the caller once the batch ended: the write's own error, else the commit's.
    fn reply(self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>, stats: &Counters);
}

struct Pending<T, F> {
    write: Option<F>,
    result: Option<crate::Result<T>>,
    reply: oneshot::Sender<crate::Result<T>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, crate::Result<T>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        let write = self.write.take();
        Box::pin(async move {
            let Some(write) = write else {
                return false;
            };
            let result = write(conn).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn unavailable(&self) -> bool {
        matches!(&self.result, Some(Err(error)) if error.is_unavailable())
    }

    fn reply(self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>, stats: &Counters) {
        let answer = match (self.result, commit) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(_)) | None, Err(error)) => Err(crate::Error::Database(error)),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(crate::Error::Corrupt("a write panicked".to_owned())),
        };
        if answer
            .as_ref()
            .err()
            .is_some_and(crate::Error::is_unavailable)
        {
            stats.failed_at_ms.store(stats.now_ms(), Ordering::Relaxed);
        }
        let _ = self.reply.send(answer);
    }
}

async fn run(
    options: SqliteConnectOptions,
    conn: SqliteConnection,
    mut queue: mpsc::Receiver<Message>,
    stats: Arc<Counters>,
    checkpoints: (
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ),
) {
    let mut conn = Some(conn);
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut messages, MAX_BATCH).await > 0 {
        let mut close = None;
        for message in messages.drain(..) {
            match message {
                Message::Write(write) => batch.push(write),
                Message::Close(done) => close = Some(done),
            }
        }
        if !batch.is_empty() {
            stats
                .writes
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            stats.commits.fetch_add(1, Ordering::Relaxed);
            commit(&options, &mut conn, &mut batch, &stats).await;
        }
        if let Some(done) = close {
            queue.close();
            // Writes queued behind the close are refused as the channel drops them.
            if let Some(conn) = conn.take() {
                let _ = conn.close().await;
            }
            let (stop, checkpointer) = checkpoints;
            let _ = stop.send(true);
            let _ = checkpointer.await;
            let _ = done.send(());
            return;
        }
    }
}

/// Runs a PASSIVE checkpoint whenever there were commits since the last one, until stopped.
async fn checkpoint(
    mut conn: SqliteConnection,
    stats: Arc<Counters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut checkpointed = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            _ = stop.changed() => break,
        }
        let commits = stats.commits.load(Ordering::Relaxed);
        if commits == checkpointed {
            continue;
        }
        checkpointed = commits;
        if let Err(error) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(%error, "WAL checkpoint failed; it is tried again");
        }
    }
    // The last commits go into the database file before it closes.
    let _ = sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

/// Commits one batch and answers each of its writes.
async fn commit(
    options: &SqliteConnectOptions,
    conn: &mut Option<SqliteConnection>,
    batch: &mut Vec<Box<dyn Write>>,
    stats: &Counters,
) {
    if conn.is_none() {
        match options.connect().await {
            Ok(fresh) => *conn = Some(fresh),
            Err(error) => {
                let error = Arc::new(error);
                for write in batch.drain(..) {
                    write.reply(Err(error.clone()), stats);
                }
                return;
            }
        }
    }
    let Some(connection) = conn.as_mut() else {
        return;
    };
    let outcome = if let [write] = batch.as_mut_slice() {
        // Alone: the write runs as it would without a writer (its own transaction, if any).
        match AssertUnwindSafe(write.run(connection)).catch_unwind().await {
            // Its own error answers it; the connection may hold a transaction SQLite left
            // half-open, so it is opened again.
            Ok(_) if write.unavailable() => {
                if let Some(suspect) = conn.take() {
                    let _ = suspect.close().await;
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(_) => Err(Arc::new(sqlx::Error::WorkerCrashed)),
        }
    } else {
        together(connection, batch).await.map_err(Arc::new)
    };
    if outcome.is_err() {
        // The transaction may be gone half-way; start the next batch on a fresh connection.
        if let Some(broken) = conn.take() {
            let _ = broken.close().await;
        }
    }
    for write in batch.drain(..) {
        write.reply(outcome.clone(), stats);
    }
}

/// Runs the writes of a batch in one transaction. A write that panics counts as failed (its
/// own transaction, if it opened one, rolls back as it unwinds).
async fn together(
    conn: &mut SqliteConnection,
    batch: &mut [Box<dyn Write>],
) -> Result<(), sqlx::Error> {
    let mut transaction = conn.begin_with("BEGIN IMMEDIATE").await?;
    for write in batch.iter_mut() {
        let _ = AssertUnwindSafe(write.run(&mut transaction))
            .catch_unwind()
            .await;
        if write.unavailable() {
            // SQLite may have rolled the batch back already: the writes after this one would
            // commit one by one. Stop, roll back what is left, and fail the whole batch.
            let _ = transaction.rollback().await;
            return Err(sqlx::Error::Io(std::io::Error::other(
                "the database could not write; the batch was rolled back",
            )));
        }
    }
    transaction.commit().await
}
