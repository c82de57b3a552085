//! Connecting to SQLite or PostgreSQL, migrating, and handing out readers and the writer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kernel::{Error, ErrorCode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::sql::{Backend, Conn, SqliteIdle, pg_error};
use crate::writer::{BoxFut, Commits, Writer};

/// Tuning knobs; the defaults suit a 2-core machine.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// PostgreSQL reader connections (SQLite readers are opened on demand and kept).
    pub read_connections: u32,
    /// The most commands grouped into one transaction.
    pub max_batch: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            read_connections: 8,
            max_batch: 512,
        }
    }
}

enum Readers {
    Sqlite { path: String, idle: SqliteIdle },
    Postgres(PgPool),
}

/// A handle on the database: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    readers: Readers,
    writer: Writer,
    write_pool: Option<PgPool>,
    /// To open dedicated PostgreSQL sessions (leases).
    pg_options: Option<PgConnectOptions>,
    commits: Commits,
    /// Identity changes the SQLite writer made lately (see [`crate::recent`]).
    recent: Option<Arc<crate::recent::RecentChanges>>,
    /// Events acknowledged and not yet resolved to profiles (see
    /// [`crate::customer_events::resolve_tail`]).
    tail: crate::customer_events::Tail,
    /// Dropped with the last handle, which tells the checkpointer to stop.
    _alive: Arc<()>,
}

/// How often the SQLite checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies committed WAL frames into the database file from a thread of its own, so that
/// the writer's commits only ever append to the WAL and one fsync acknowledges a batch.
/// (SQLite's default runs the checkpoint inside whichever commit crosses 1000 pages, which
/// adds milliseconds to that batch.) PASSIVE never blocks the writer or the readers.
fn start_checkpointer(path: String, alive: std::sync::Weak<()>) {
    let spawned = std::thread::Builder::new()
        .name("relais-checkpoint".into())
        .spawn(move || {
            let conn = match open_sqlite(&path, false) {
                Ok(c) => c,
                Err(e) => {
                    return tracing::error!(error = %e, "the checkpointer cannot open the database");
                }
            };
            while alive.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
            }
            // Leave a compact database behind on a clean shutdown.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the checkpointer thread");
    }
}

/// The file path of a `sqlite://PATH` or `sqlite:PATH` URL.
fn sqlite_path(url: &str) -> Result<String, Error> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        return Err(Error::validation(
            "database_url",
            "give SQLite a file: sqlite://relais.db (readers and the writer share it)",
        ));
    }
    Ok(path.to_owned())
}

/// Opens a SQLite connection with the settings that make every acknowledged write durable.
pub(crate) fn open_sqlite(path: &str, reader: bool) -> Result<rusqlite::Connection, Error> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| {
        tracing::error!(path, error = %e, "cannot open the SQLite database");
        Error::new(
            ErrorCode::Unavailable,
            format!("cannot open the SQLite database {path}: {e}"),
        )
    })?;
    // FULL syncs the WAL on every commit: an acknowledged write survives power loss.
    let mut pragmas = String::from(
        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
    );
    if reader {
        pragmas.push_str("PRAGMA query_only = ON;");
    } else {
        // Checkpoints run on their own thread (see `start_checkpointer`), not inside a commit.
        pragmas.push_str("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;");
        // Deleted and overwritten content is zeroed inside the pages written anyway, so an
        // erased person's data does not linger in free space of the file (GDPR Art. 17; see
        // `Db::scrub`; the erasure test greps the raw files). FAST, not ON: ON also rewrites
        // every freed page (+22 % server CPU per checkout; FAST ≈ +5 %, docs/benchmarks.md).
        pragmas.push_str("PRAGMA secure_delete = FAST;");
        // Savepoints keep their undo pages in a statement journal: in memory, not a temp
        // file written for every command. A larger page cache keeps the indexes the writer
        // probes (identities, levels) out of read() calls.
        pragmas.push_str("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;");
    }
    conn.execute_batch(&pragmas).map_err(|e| {
        Error::new(
            ErrorCode::Unavailable,
            format!("cannot configure SQLite: {e}"),
        )
    })?;
    // Query-planner stability: plans never depend on bound values. Without it SQLite re-plans
    // (re-parses) a cached statement whenever a value compared with an indexed column is
    // bound anew — every statement Relais runs — which cost ≈30 % of a read's CPU.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(|e| {
        Error::new(
            ErrorCode::Unavailable,
            format!("cannot configure SQLite: {e}"),
        )
    })?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// Checkpoints the whole WAL into the database and truncates it. Readers holding an old
/// snapshot or a commit in progress make it report busy: it waits and tries again.
fn truncate_wal(path: &str) -> Result<(), Error> {
    let conn = open_sqlite(path, false)?;
    for _ in 0..50 {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(|e| Error::new(ErrorCode::Unavailable, format!("cannot checkpoint: {e}")))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::new(
        ErrorCode::Unavailable,
        "the WAL could not be truncated: the database stayed busy",
    ))
}

fn pg_options(url: &str) -> Result<PgConnectOptions, Error> {
    Ok(url
        .parse::<PgConnectOptions>()
        .map_err(|e| Error::validation("database_url", format!("invalid PostgreSQL URL: {e}")))?
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// One direct connection, with a short timeout, before the pools: start-up then says what
/// failed (host, database, reason) at once, where the pool would retry in silence for 30 s
/// and answer "unavailable".
async fn probe_postgres(url: &str) -> Result<(), Error> {
    let options = pg_options(url)?;
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(the user's database)")
    );
    let cannot = |why: String| {
        Error::new(
            ErrorCode::Unavailable,
            format!("cannot connect to PostgreSQL at {target}: {why}"),
        )
    };
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options)).await {
        Err(_) => Err(cannot(format!(
            "no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(cannot(match e.as_database_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        })),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// How long start-up waits for PostgreSQL to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

async fn pg_pool(url: &str, max: u32) -> Result<PgPool, Error> {
    let options = pg_options(url)?;
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET synchronous_commit = on; SET client_min_messages = warning;")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| pg_error("connect", e))
}

impl Db {
    /// Connects and starts the writer. Does not migrate.
    pub async fn connect(url: &str, options: DbOptions) -> Result<Db, Error> {
        let backend = Backend::from_url(url)?;
        let (commits, _) = tokio::sync::watch::channel(0u64);
        let inner = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url)?;
                let writer_conn = open_sqlite(&path, false)?;
                let alive = Arc::new(());
                start_checkpointer(path.clone(), Arc::downgrade(&alive));
                let recent = Arc::new(crate::recent::RecentChanges::default());
                Inner {
                    backend,
                    readers: Readers::Sqlite {
                        path,
                        idle: Arc::new(Mutex::new(Vec::new())),
                    },
                    writer: Writer::start_sqlite(
                        writer_conn,
                        options.max_batch,
                        commits.clone(),
                        recent.clone(),
                    ),
                    recent: Some(recent),
                    tail: Default::default(),
                    write_pool: None,
                    pg_options: None,
                    commits,
                    _alive: alive,
                }
            }
            Backend::Postgres => {
                probe_postgres(url).await?;
                let write_pool = pg_pool(url, 1).await?;
                let read_pool = pg_pool(url, options.read_connections).await?;
                Inner {
                    backend,
                    readers: Readers::Postgres(read_pool),
                    writer: Writer::start_postgres(
                        write_pool.clone(),
                        options.max_batch,
                        commits.clone(),
                    ),
                    write_pool: Some(write_pool),
                    pg_options: Some(pg_options(url)?),
                    commits,
                    recent: None,
                    tail: Default::default(),
                    _alive: Arc::new(()),
                }
            }
        };
        Ok(Db {
            inner: Arc::new(inner),
        })
    }

    /// Applies pending migrations; safe at every start and from several nodes at once.
    /// Connects to a database that exists and holds Relais's tables — for the commands that
    /// read or add to one (`import`, `export`, `key create`), which must never create one: a
    /// mistyped path would otherwise give an empty database and, for an export, an empty
    /// feed that blanks the retailer's inventory where it is uploaded.
    pub async fn connect_existing(url: &str, options: DbOptions) -> Result<Db, Error> {
        let missing = |what: String| {
            Error::new(
                ErrorCode::NotFound,
                format!("{what}; `relais migrate --db <url>` creates one"),
            )
        };
        if Backend::from_url(url)? == Backend::Sqlite {
            let path = sqlite_path(url)?;
            if !std::path::Path::new(&path).is_file() {
                return Err(missing(format!("no database at {path}")));
            }
        }
        let db = Db::connect(url, options).await?;
        if !db.holds_relais_tables().await? {
            return Err(missing("the database holds no Relais tables".to_owned()));
        }
        Ok(db)
    }

    /// Whether migrations were ever applied here.
    async fn holds_relais_tables(&self) -> Result<bool, Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'relais_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables
                  WHERE table_schema = current_schema() AND table_name = 'relais_migrations'"
            }
        };
        Ok(self.read().await?.query_one(sql, &[]).await?.int("n")? > 0)
    }

    pub async fn migrate(&self) -> Result<Vec<i64>, Error> {
        self.write(|c| Box::pin(crate::migrations::apply(c))).await
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// A reader connection (returned to the pool when dropped).
    pub async fn read(&self) -> Result<Conn, Error> {
        match &self.inner.readers {
            Readers::Sqlite { path, idle } => {
                let reused = idle.lock().ok().and_then(|mut v| v.pop());
                let conn = match reused {
                    Some(c) => c,
                    None => open_sqlite(path, true)?,
                };
                Ok(Conn::sqlite(conn, Some(idle.clone())))
            }
            Readers::Postgres(pool) => pool
                .acquire()
                .await
                .map(Conn::postgres)
                .map_err(|e| pg_error("acquire", e)),
        }
    }

    /// The SQLite writer's recent identity changes; `None` on PostgreSQL.
    pub(crate) fn recent_changes(&self) -> Option<&crate::recent::RecentChanges> {
        self.inner.recent.as_deref()
    }

    /// The events waiting for identity resolution (SQLite) and the rules it applies.
    pub fn event_tail(&self) -> &crate::customer_events::Tail {
        &self.inner.tail
    }

    /// Runs one long command in a transaction of its own; see [`Writer::run_alone`].
    pub async fn write_alone<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.inner.writer.run_alone(command).await
    }

    /// Runs one long command of a client with a few others of its kind, without savepoints;
    /// `command` may run twice. See [`Writer::run_together`].
    pub async fn write_together<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.inner.writer.run_together(command).await
    }

    /// Runs one command through the group-commit writer; see [`Writer::run`].
    pub async fn write<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.inner.writer.run(command).await
    }

    /// Runs one command of background work (dispatchers, sweepers) through the writer; see
    /// [`Writer::run_background`].
    pub async fn write_background<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.inner.writer.run_background(command).await
    }

    /// Whether clients kept this node's writer busy since the last look: at least `waiting`
    /// of their commands waited at once. Background work asks before it competes.
    pub fn clients_busy(&self, waiting: usize) -> bool {
        self.inner.writer.client_load().take_peak() >= waiting
    }

    /// Ticks after every durable commit of this node's writer. Changes made by other nodes
    /// (PostgreSQL) do not tick it: feeds also poll.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    /// How many batches this node's writer has committed (the value `commits` ticks to).
    pub fn commit_count(&self) -> u64 {
        *self.inner.commits.borrow()
    }

    /// Tries to become the one node doing `name` (publishing the outbox to NATS, say): on
    /// PostgreSQL a session advisory lock on a connection of its own, released when the lease
    /// is dropped or the node dies; on SQLite the one process always gets it.
    pub async fn try_lease(&self, name: &str) -> Result<Option<Lease>, Error> {
        let Some(options) = &self.inner.pg_options else {
            return Ok(Some(Lease { session: None }));
        };
        let mut session = options
            .connect()
            .await
            .map_err(|e| pg_error("open a lease session", e))?;
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtext($1))")
            .bind(format!("relais-lease:{name}"))
            .fetch_one(&mut session)
            .await
            .map_err(|e| pg_error("take a lease", e))?;
        Ok(got.then_some(Lease {
            session: Some(session),
        }))
    }

    /// Removes what a command deleted or blanked from the database's files, once it has
    /// committed (erasure). SQLite: the WAL, which still holds the pages as they were before,
    /// is checkpointed and truncated to zero bytes (the file itself zeroes deleted content:
    /// `secure_delete`). PostgreSQL: `VACUUM` of `tables` on a session of its own, which
    /// removes the dead row versions (a backup or WAL archive taken before still has them).
    pub async fn scrub(&self, tables: &[&str]) -> Result<(), Error> {
        match &self.inner.readers {
            Readers::Sqlite { path, .. } => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || truncate_wal(&path))
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?
            }
            Readers::Postgres(_) => {
                let Some(options) = &self.inner.pg_options else {
                    return Ok(());
                };
                let mut session = options
                    .connect()
                    .await
                    .map_err(|e| pg_error("open a session to vacuum", e))?;
                let statement = format!("VACUUM {}", tables.join(", "));
                session
                    .execute(sqlx::AssertSqlSafe(statement))
                    .await
                    .map_err(|e| pg_error("vacuum", e))?;
                Ok(())
            }
        }
    }

    /// Writes a consistent copy of a SQLite database to `to` while it serves (`VACUUM INTO`
    /// reads one snapshot; writers go on meanwhile). The copy is a complete database: copy it
    /// anywhere, open it with `--db sqlite://…`. PostgreSQL is backed up with its own tools
    /// (`pg_dump`, base backups with WAL archiving).
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), Error> {
        let Readers::Sqlite { path, .. } = &self.inner.readers else {
            return Err(Error::validation(
                "db",
                "back up PostgreSQL with pg_dump or a base backup; this copies SQLite files",
            ));
        };
        if to.exists() {
            return Err(Error::new(
                ErrorCode::AlreadyExists,
                format!("{} exists already; name a new file", to.display()),
            ));
        }
        let (path, to) = (path.clone(), to.to_string_lossy().into_owned());
        tokio::task::spawn_blocking(move || {
            // Not a reader: those are query-only, and VACUUM INTO writes (the new file only).
            let conn = open_sqlite(&path, false)?;
            conn.execute("VACUUM INTO ?1", [&to])
                .map(|_| ())
                .map_err(|e| Error::new(ErrorCode::Unavailable, format!("back up into {to}: {e}")))
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))?
    }

    /// Checks that the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), Error> {
        self.read()
            .await?
            .query("SELECT 1 AS one", &[])
            .await
            .map(|_| ())
    }

    /// Closes PostgreSQL pools after in-flight work; SQLite closes with the last handle.
    pub async fn close(&self) {
        if let Readers::Postgres(pool) = &self.inner.readers {
            pool.close().await;
        }
        if let Some(pool) = &self.inner.write_pool {
            pool.close().await;
        }
    }
}

/// Being the one node that does something; see [`Db::try_lease`].
pub struct Lease {
    session: Option<sqlx::PgConnection>,
}

impl Lease {
    /// `false` once the session holding the lock is gone (the lock went with it).
    pub async fn is_held(&mut self) -> bool {
        match &mut self.session {
            None => true,
            Some(session) => sqlx::query("SELECT 1").execute(session).await.is_ok(),
        }
    }
}
