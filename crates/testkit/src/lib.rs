//! Test helpers: a fresh, migrated database for every test, on SQLite always and on
//! PostgreSQL when `RELAIS_TEST_POSTGRES_URL` is set.
//!
//! Each PostgreSQL test gets its own database (`relais_t_<random>`), created from the admin
//! URL and dropped when the test ends, so tests run in parallel without seeing each other.
//! `relais-bench` uses the same helpers for its fresh benchmark databases.
//!
//! With the feature `check-events` (the test suites turn it on), dropping a database first checks every event in
//! its outbox against the event catalogue ([`events`]).

#[cfg(feature = "check-events")]
pub mod events;

use sqlx::{Connection, Executor, PgConnection};
use store::{Backend, Db, DbOptions};

pub const POSTGRES_ENV: &str = "RELAIS_TEST_POSTGRES_URL";

/// A migrated database that is removed when dropped.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

/// A fresh SQLite database file in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/relais.db", dir.path().display());
    let db = Db::connect(&url, DbOptions::default())
        .await
        .expect("connect sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        db,
        url,
        _dir: Some(dir),
        postgres: None,
    }
}

/// The PostgreSQL admin URL, or `None` (with a note on stderr) when tests should skip it.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("note: {POSTGRES_ENV} is not set; skipping the PostgreSQL case of this test");
            None
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates database `name` (dropping a leftover of that name) through the admin URL and
/// returns the URL that reaches it.
pub async fn create_database(admin: &str, name: &str) -> Result<String, sqlx::Error> {
    let mut conn = PgConnection::connect(admin).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    conn.close().await?;
    Ok(with_database(admin, name))
}

/// Drops database `name`, closing its remaining connections.
pub async fn drop_database(admin: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(admin).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    conn.close().await
}

/// A fresh PostgreSQL database, or `None` when `RELAIS_TEST_POSTGRES_URL` is unset.
pub async fn postgres() -> Option<TestDb> {
    let admin = postgres_admin_url()?;
    let name = format!("relais_t_{}", uuid_like());
    let url = create_database(&admin, &name)
        .await
        .expect("create a test database through RELAIS_TEST_POSTGRES_URL");
    let db = Db::connect(&url, DbOptions::default())
        .await
        .expect("connect postgres");
    db.migrate().await.expect("migrate postgres");
    Some(TestDb {
        db,
        url,
        _dir: None,
        postgres: Some((admin, name)),
    })
}

/// SQLite, plus PostgreSQL when configured: run a story on every backend.
pub async fn every_backend() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

fn uuid_like() -> String {
    kernel::id::new_secret_hex()[..16].to_owned()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        #[cfg(feature = "check-events")]
        if !std::thread::panicking() {
            events::assert_outbox_matches_catalogue(&self.url);
        }
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread removes the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(drop_database(&admin, &name)).ok()
        })
        .join();
    }
}

/// The NATS server the publishing tests use, from `RELAIS_TEST_NATS_URL`; `None` (and a
/// message saying the test is skipped) when it is not set.
pub fn nats_url() -> Option<String> {
    match std::env::var("RELAIS_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("RELAIS_TEST_NATS_URL is not set: skipping the NATS JetStream cases");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
