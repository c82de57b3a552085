//! The one write path: commands grouped into durable transactions (group commit).
//!
//! A durable commit costs one fsync (≈1.5 ms here), so committing each command alone caps the
//! engine near 650 writes/s. Instead, callers hand their command to a single writer. It takes
//! every command already waiting (up to `max_batch`), opens one transaction, runs each command
//! inside its own SAVEPOINT — a failing command is rolled back to its savepoint and does not
//! disturb its neighbours — and commits once. Only after that commit does any caller get its
//! answer, so an acknowledged write is durable. While one batch commits, new commands queue up
//! and form the next batch, so batches grow with load and latency stays bounded. Long
//! commands skip the savepoint (its undo journal grows with them): alone in a transaction, or
//! a few of one kind together, run again alone if one of them fails.
//!
//! On SQLite the writer owns its connection on a dedicated thread: statements are direct
//! library calls and the fsync never blocks the async runtime. On PostgreSQL it is a task on
//! the runtime; several nodes may each run one, and correctness between them rests on
//! conditional writes and unique keys, never on the writer being alone.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::FutureExt;
use kernel::{Error, ErrorCode};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};

use crate::recent::RecentChanges;
use crate::sql::{Backend, Conn, pg_error};

/// A boxed future borrowing the transaction for `'c`.
pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// How a command shares a transaction with the others waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sharing {
    /// With every other such command, each in its savepoint ([`Writer::run`]).
    Savepoint,
    /// In a transaction of its own ([`Writer::run_alone`]).
    Alone,
    /// With a few others of its kind, without savepoints; run again alone when one of them
    /// fails ([`Writer::run_together`]).
    Together,
}

/// At most this many [`Sharing::Together`] commands share a transaction: each is long, and
/// none is answered before the last has run.
const TOGETHER_MAX: usize = 8;

/// A command waiting in the queue, with the channel its answer goes back on.
trait Job: Send {
    /// Runs the command inside the current savepoint; `true` if it succeeded.
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> BoxFut<'c, bool>;
    /// Answers the caller once the batch's fate (`commit`) is known.
    fn finish(self: Box<Self>, commit: Result<(), Error>);
    fn sharing(&self) -> Sharing;
}

/// A command's outcome, kept until its transaction's fate is known, and where it goes then.
struct Reply<T> {
    outcome: Option<Result<T, Error>>,
    to: oneshot::Sender<Result<T, Error>>,
}

impl<T> Reply<T> {
    fn new(to: oneshot::Sender<Result<T, Error>>) -> Reply<T> {
        Reply { outcome: None, to }
    }

    /// Runs `command`, catching a panic as its failure; `true` if it succeeded.
    async fn run(&mut self, command: BoxFut<'_, Result<T, Error>>) -> bool {
        let outcome = AssertUnwindSafe(command)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!("a write command panicked; it was rolled back");
                Err(Error::internal("the command failed unexpectedly"))
            });
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    /// Answers the caller once the transaction's fate (`commit`) is known.
    fn send(self, commit: Result<(), Error>) {
        let answer = match (self.outcome, commit) {
            // A command that failed was rolled back to its savepoint whatever the batch did.
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(Error::internal("the command did not run")),
        };
        // The caller may have gone away (client disconnected); the write stands regardless.
        let _ = self.to.send(answer);
    }
}

struct ClosureJob<T, F> {
    sharing: Sharing,
    command: Option<F>,
    reply: Reply<T>,
}

impl<T, F> Job for ClosureJob<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> BoxFut<'c, bool> {
        let command = self.command.take();
        Box::pin(async move {
            let Some(command) = command else { return false };
            self.reply.run(command(conn)).await
        })
    }

    fn finish(self: Box<Self>, commit: Result<(), Error>) {
        self.reply.send(commit);
    }

    fn sharing(&self) -> Sharing {
        self.sharing
    }
}

/// A command that may run more than once: its first run may be rolled back with a
/// neighbour's failure ([`Sharing::Together`]).
struct RepeatJob<T, F> {
    command: F,
    reply: Reply<T>,
}

impl<T, F> Job for RepeatJob<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> BoxFut<'c, bool> {
        Box::pin(self.reply.run((self.command)(conn)))
    }

    fn finish(self: Box<Self>, commit: Result<(), Error>) {
        self.reply.send(commit);
    }

    fn sharing(&self) -> Sharing {
        Sharing::Together
    }
}

type Queue = mpsc::UnboundedReceiver<Box<dyn Job>>;

/// Counts durable commits; live feeds wait on it instead of polling the outbox blindly.
pub type Commits = watch::Sender<u64>;

fn announce(commits: &Commits, outcome: &Result<(), Error>) {
    if outcome.is_ok() {
        commits.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Handle to the writer.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
    load: Arc<ClientLoad>,
}

/// How many commands of clients (not of background work: sweepers, dispatchers, the event
/// resolver) wait for the writer, and the most that waited since the last look: background
/// work reads it to give way under load.
#[derive(Debug, Default)]
pub struct ClientLoad {
    waiting: AtomicUsize,
    peak: AtomicUsize,
}

impl ClientLoad {
    /// The most client commands waiting at once since the last call.
    pub fn take_peak(&self) -> usize {
        self.peak
            .swap(self.waiting.load(Ordering::Relaxed), Ordering::Relaxed)
    }
}

/// Counts a client command from submission to answer.
struct Waiting<'a>(&'a ClientLoad);

impl<'a> Waiting<'a> {
    fn start(load: &'a ClientLoad) -> Waiting<'a> {
        let now = load.waiting.fetch_add(1, Ordering::Relaxed) + 1;
        load.peak.fetch_max(now, Ordering::Relaxed);
        Waiting(load)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

fn stopped() -> Error {
    Error::new(ErrorCode::Unavailable, "the writer has stopped")
}

impl Writer {
    /// Starts the SQLite writer on its own thread; it stops when every handle is dropped.
    pub fn start_sqlite(
        conn: rusqlite::Connection,
        max_batch: usize,
        commits: Commits,
        recent: Arc<RecentChanges>,
    ) -> Writer {
        let (queue, rx) = mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name("relais-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(sqlite_loop(conn, rx, max_batch.max(1), commits, recent)),
                    Err(e) => tracing::error!(error = %e, "cannot start the writer runtime"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the writer thread");
        }
        Writer {
            queue,
            load: Arc::default(),
        }
    }

    /// Starts the PostgreSQL writer as a task on the current runtime.
    ///
    /// One writer connection per node: a statement costs a network round trip (≈0.15 ms on
    /// these machines), which bounds one node near a thousand commands per second. Several
    /// writers per node were tried: their long batch transactions lock rows in different
    /// orders and deadlock, failing whole batches. Raising this needs batch retry on
    /// deadlock and fewer round trips per command (see docs/benchmarks.md).
    pub fn start_postgres(pool: PgPool, max_batch: usize, commits: Commits) -> Writer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(postgres_loop(pool, rx, max_batch.max(1), commits));
        Writer {
            queue,
            load: Arc::default(),
        }
    }

    /// The load clients put on the writer.
    pub fn client_load(&self) -> &ClientLoad {
        &self.load
    }

    /// Like [`Writer::run`], for background work (dispatchers, sweepers): not counted in
    /// [`ClientLoad`], which such work reads to give way to clients.
    pub async fn run_background<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.enqueue(Sharing::Savepoint, command).await
    }

    /// Runs `command` in the next batch and returns its result once the batch is durable.
    ///
    /// The command must do all its reads and writes through the connection it is given, and
    /// must not wait on anything else: every other command in the batch waits for it.
    pub async fn run<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.submit(Sharing::Savepoint, command).await
    }

    /// Like [`Writer::run`], in a transaction of its own, without a savepoint: for long
    /// commands that write thousands of pages (resolving the event log). Inside a savepoint
    /// SQLite keeps every page such a command first touches in its in-memory sub-journal,
    /// and every statement that ends walks that journal: the cost grows with the square of
    /// the command's size. Alone, the transaction is the command's undo, and a statement's
    /// journal holds that statement's pages only. Costs one more commit.
    pub async fn run_alone<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        // Long background work (resolving the log): not a client waiting.
        self.enqueue(Sharing::Alone, command).await
    }

    /// Like [`Writer::run_alone`], for long commands of clients (an offline till's batch):
    /// up to [`TOGETHER_MAX`] of them waiting at once share one transaction — still
    /// without savepoints — and one commit. When one of them fails, the transaction is
    /// rolled back and each runs again in a transaction of its own, so `command` may run
    /// twice and must decide everything from what it reads through the connection.
    pub async fn run_together<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        let _waiting = Waiting::start(&self.load);
        self.send(|reply| Box::new(RepeatJob { command, reply }))
            .await
    }

    async fn submit<T, F>(&self, sharing: Sharing, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        let _waiting = Waiting::start(&self.load);
        self.enqueue(sharing, command).await
    }

    async fn enqueue<T, F>(&self, sharing: Sharing, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.send(|reply| {
            Box::new(ClosureJob {
                sharing,
                command: Some(command),
                reply,
            })
        })
        .await
    }

    /// Queues the job `make` builds around its reply, and waits for the answer.
    async fn send<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Box<dyn Job>,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(make(Reply::new(reply)))
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// How often the SQLite writer checkpoints between batches (see `sqlite_loop`). A page that
/// random inserts dirty at every commit (identities, stock levels) is copied back once per
/// checkpoint: once a second, not five times (events +15 % against 200 ms in consecutive
/// runs of the two builds, docs/benchmarks.md), and the WAL still rewinds every second.
const WRITER_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(1000);

async fn sqlite_loop(
    conn: rusqlite::Connection,
    mut rx: Queue,
    max_batch: usize,
    commits: Commits,
    recent: Arc<RecentChanges>,
) {
    let mut conn = Conn::sqlite(conn, None).noting_changes(recent.clone());
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    let mut last_checkpoint = Instant::now();
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        for group in groups(&mut batch) {
            let mut done = |group, commit: Result<(), Error>| {
                // Sealed once the commit is visible to every read that starts from now on.
                recent.seal();
                announce(&commits, &commit);
                finish(group, commit);
            };
            run_group(&mut conn, Backend::Sqlite, group, &mut done).await;
        }
        if last_checkpoint.elapsed() >= WRITER_CHECKPOINT_EVERY {
            // Under sustained writes the checkpointer thread never catches up with the WAL's
            // end, so the WAL never restarts and grows without bound (gigabytes in a few
            // seconds of checkout load), every append then costing the file system a fresh
            // zeroed block. A checkpoint run here, between batches, sees no frame appended
            // while it runs; once it has copied everything, the next batch rewinds the WAL
            // to its start and overwrites blocks that already exist. Most frames were already
            // copied by the checkpointer thread, so this one is short.
            if let Err(e) = conn.batch("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(error = %e, "writer checkpoint failed; will retry");
            }
            last_checkpoint = Instant::now();
        }
    }
    tracing::debug!("writer stopped");
}

async fn postgres_loop(pool: PgPool, mut rx: Queue, max_batch: usize, commits: Commits) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        for group in groups(&mut batch) {
            let mut done = |group, commit: Result<(), Error>| {
                announce(&commits, &commit);
                finish(group, commit);
            };
            match pool.acquire().await {
                Ok(c) => {
                    run_group(&mut Conn::postgres(c), Backend::Postgres, group, &mut done).await
                }
                Err(e) => done(group, Err(pg_error("acquire the writer connection", e))),
            }
        }
    }
    tracing::debug!("writer stopped");
}

/// The transactions a batch runs as: the commands that share one with savepoints, those that
/// go together (a few to a transaction), then each command that runs alone. (They were all
/// waiting at once; no order among them is owed.)
fn groups(batch: &mut Vec<Box<dyn Job>>) -> Vec<Vec<Box<dyn Job>>> {
    let (mut shared, mut together, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    let mut alone = Vec::new();
    for job in batch.drain(..) {
        match job.sharing() {
            Sharing::Savepoint => shared.push(job),
            Sharing::Together => together.push(job),
            Sharing::Alone => alone.push(vec![job]),
        }
    }
    if !shared.is_empty() {
        groups.push(shared);
    }
    while !together.is_empty() {
        let rest = together.split_off(TOGETHER_MAX.min(together.len()));
        groups.push(std::mem::replace(&mut together, rest));
    }
    groups.extend(alone);
    groups
}

fn finish(batch: Vec<Box<dyn Job>>, commit: Result<(), Error>) {
    for job in batch {
        job.finish(commit.clone());
    }
}

/// Runs a group as one transaction and hands each transaction's commands and fate to `done`:
/// a together group in which a command failed was rolled back, and each of its commands runs
/// again in a transaction of its own.
async fn run_group(
    conn: &mut Conn,
    backend: Backend,
    mut group: Vec<Box<dyn Job>>,
    done: &mut (dyn FnMut(Vec<Box<dyn Job>>, Result<(), Error>) + Send),
) {
    match timed_batch(conn, backend, &mut group).await {
        Ok(true) => done(group, Ok(())),
        Err(e) => done(group, Err(e)),
        Ok(false) => {
            for job in group {
                let mut one = vec![job];
                let commit = timed_batch(conn, backend, &mut one).await.map(|_| ());
                done(one, commit);
            }
        }
    }
}

async fn timed_batch(
    conn: &mut Conn,
    backend: Backend,
    batch: &mut [Box<dyn Job>],
) -> Result<bool, Error> {
    let started = Instant::now();
    let size = batch.len();
    let commit = run_batch(conn, backend, batch).await;
    if let Err(e) = &commit {
        tracing::error!(error = %e, size, "a write batch failed; every command in it was rolled back");
        // Leave the connection clean for the next batch.
        let _ = conn.batch("ROLLBACK").await;
    }
    metrics::histogram!("relais_write_batch_size").record(size as f64);
    metrics::histogram!("relais_write_batch_seconds").record(started.elapsed().as_secs_f64());
    commit
}

/// One transaction: a savepoint per command, one commit for all; or, for one command or
/// commands that go together, none. `Ok(false)`: commands that went together were rolled
/// back because one of them failed.
async fn run_batch(
    conn: &mut Conn,
    backend: Backend,
    batch: &mut [Box<dyn Job>],
) -> Result<bool, Error> {
    // IMMEDIATE takes SQLite's write lock now, so another process holding it makes the batch
    // wait (busy_timeout) instead of failing half-way through.
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    conn.execute(begin, &[]).await?;
    let together = batch.len() > 1 && batch[0].sharing() == Sharing::Together;
    if batch.len() == 1 || together {
        // The transaction is the commands' undo (see `Writer::run_alone`).
        let mut ok = true;
        for job in batch.iter_mut() {
            ok = job.run(conn).await;
            if !ok {
                break;
            }
        }
        let end = if ok { "COMMIT" } else { "ROLLBACK" };
        let committing = Instant::now();
        conn.execute(end, &[]).await?;
        metrics::histogram!("relais_write_commit_seconds")
            .record(committing.elapsed().as_secs_f64());
        return Ok(ok || !together);
    }
    for job in batch.iter_mut() {
        conn.execute("SAVEPOINT relais_cmd", &[]).await?;
        if job.run(conn).await {
            conn.execute("RELEASE SAVEPOINT relais_cmd", &[]).await?;
        } else {
            conn.execute("ROLLBACK TO SAVEPOINT relais_cmd", &[])
                .await?;
            conn.execute("RELEASE SAVEPOINT relais_cmd", &[]).await?;
        }
    }
    let committing = Instant::now();
    conn.execute("COMMIT", &[]).await?;
    metrics::histogram!("relais_write_commit_seconds").record(committing.elapsed().as_secs_f64());
    Ok(true)
}
