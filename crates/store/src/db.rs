//! Connecting to SQLite or PostgreSQL, migrating, and handing out readers and the writer.

use std::sync::{Arc, Once};
use std::time::Duration;

use kernel::Error;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

use crate::error::db_error;
use crate::writer::{BoxFut, Writer};

/// Which database a URL points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::validation("database_url", "the database URL must start with sqlite: or postgres:"))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Tuning knobs; the defaults suit a 2-core machine.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub read_connections: u32,
    /// The most commands grouped into one transaction.
    pub max_batch: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions { read_connections: 8, max_batch: 512 }
    }
}

/// A handle on the database: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    writer: Writer,
}

static DRIVERS: Once = Once::new();

/// SQLite URLs get `mode=rwc` so that the file is created on first start.
fn normalise_url(url: &str, backend: Backend) -> String {
    if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        return format!("{url}{sep}mode=rwc");
    }
    url.to_owned()
}

/// Per-connection settings that make every acknowledged write durable.
fn session_settings(backend: Backend) -> &'static str {
    match backend {
        // FULL syncs the WAL on every commit: an acknowledged write survives power loss.
        Backend::Sqlite => "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        Backend::Postgres => "SET synchronous_commit = on; SET client_min_messages = warning;",
    }
}

async fn pool(url: &str, backend: Backend, max: u32) -> Result<AnyPool, Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(session_settings(backend)).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| db_error("connect", e))
}

fn migrator(backend: Backend) -> Migrator {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => &[(1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql"))],
        Backend::Postgres => &[(1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql"))],
    };
    let migrations = files
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(*version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    Migrator::with_migrations(migrations)
}

impl Db {
    /// Connects, switches SQLite to WAL, and starts the writer. Does not migrate.
    pub async fn connect(url: &str, options: DbOptions) -> Result<Db, Error> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let url = normalise_url(url, backend);
        // One connection writes; WAL lets readers run beside it.
        let write = pool(&url, backend, 1).await?;
        if backend == Backend::Sqlite {
            write.execute("PRAGMA journal_mode = WAL").await.map_err(|e| db_error("wal", e))?;
        }
        let read = pool(&url, backend, options.read_connections).await?;
        let writer = Writer::start(write.clone(), backend, options.max_batch);
        Ok(Db { inner: Arc::new(Inner { backend, read, write, writer }) })
    }

    /// Applies pending migrations; safe to call at every start and from several nodes.
    pub async fn migrate(&self) -> Result<(), Error> {
        migrator(self.inner.backend)
            .run(&self.inner.write)
            .await
            .map_err(|e| Error::internal(format!("migration failed: {e}")))
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The reader pool, for queries.
    pub fn reader(&self) -> &AnyPool {
        &self.inner.read
    }

    /// Runs one command through the group-commit writer; see [`Writer::run`].
    pub async fn write<T, F>(&self, command: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut sqlx::AnyConnection) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    {
        self.inner.writer.run(command).await
    }

    /// Checks that the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.inner.read).await.map(|_| ()).map_err(|e| db_error("ping", e))
    }

    /// Closes every connection after in-flight work.
    pub async fn close(&self) {
        self.inner.read.close().await;
        self.inner.write.close().await;
    }
}
