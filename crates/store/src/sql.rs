//! A small portable SQL layer: the same statements and values on SQLite and PostgreSQL.
//!
//! SQLite runs in-process through `rusqlite`: a statement is a direct call into the library,
//! a few microseconds, with no thread hop. (An async driver that ships every statement to a
//! worker thread costs tens of microseconds per statement, which would cap the group-commit
//! writer far below its goal.) PostgreSQL runs through `sqlx`'s native driver. Statements use
//! `$1…$n` placeholders, which both accept; values are the portable [`Value`]s (integers,
//! reals, text — money as integer minor units, timestamps and JSON as text).

use std::sync::{Arc, Mutex};

use kernel::{Error, ErrorCode};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{Column, Executor, Postgres, Row as _, TypeInfo};

/// A bind parameter or a column value. `None` is SQL NULL of that type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(Some(v as i64))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}

/// Builds a parameter list: `params![sku, amount]`.
#[macro_export]
macro_rules! params {
    ($($v:expr),* $(,)?) => { &[$($crate::sql::Value::from($v)),*][..] };
}

/// One result row, read by column name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn get(&self, col: &str) -> Result<&Value, Error> {
        self.columns
            .iter()
            .position(|c| c == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| corrupt(col, "no such column"))
    }

    pub fn opt_text(&self, col: &str) -> Result<Option<String>, Error> {
        match self.get(col)? {
            Value::Text(t) => Ok(t.clone()),
            Value::Int(None) | Value::Real(None) => Ok(None),
            other => Err(corrupt(col, &format!("expected text, found {other:?}"))),
        }
    }

    pub fn text(&self, col: &str) -> Result<String, Error> {
        self.opt_text(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }

    pub fn opt_int(&self, col: &str) -> Result<Option<i64>, Error> {
        match self.get(col)? {
            Value::Int(v) => Ok(*v),
            Value::Text(None) | Value::Real(None) => Ok(None),
            other => Err(corrupt(
                col,
                &format!("expected an integer, found {other:?}"),
            )),
        }
    }

    pub fn int(&self, col: &str) -> Result<i64, Error> {
        self.opt_int(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }

    pub fn float(&self, col: &str) -> Result<f64, Error> {
        match self.get(col)? {
            Value::Real(Some(v)) => Ok(*v),
            // SQLite stores a REAL that has no fractional part as it is; accept integers.
            Value::Int(Some(v)) => Ok(*v as f64),
            other => Err(corrupt(col, &format!("expected a real, found {other:?}"))),
        }
    }
}

/// A stored value that does not parse: the database was edited by hand or is corrupt.
pub fn corrupt(col: &str, why: &str) -> Error {
    tracing::error!(column = col, why, "stored value does not parse");
    Error::internal("a stored value is corrupt")
}

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
            Err(Error::validation(
                "database_url",
                "the database URL must start with sqlite: or postgres:",
            ))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Idle SQLite reader connections, reused across requests.
pub(crate) type SqliteIdle = Arc<Mutex<Vec<rusqlite::Connection>>>;

enum Inner {
    Sqlite {
        conn: Option<rusqlite::Connection>,
        home: Option<SqliteIdle>,
    },
    Postgres(PoolConnection<Postgres>),
}

/// A connection: a reader from the pool, or the writer's connection inside its transaction.
pub struct Conn {
    inner: Inner,
    /// The SQLite writer's note of recent identity changes (writer connection only).
    recent: Option<Arc<crate::recent::RecentChanges>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Inner::Sqlite {
            conn,
            home: Some(home),
        } = &mut self.inner
            && let (Some(c), Ok(mut idle)) = (conn.take(), home.lock())
        {
            idle.push(c);
        }
    }
}

impl Conn {
    pub(crate) fn sqlite(conn: rusqlite::Connection, home: Option<SqliteIdle>) -> Conn {
        Conn {
            inner: Inner::Sqlite {
                conn: Some(conn),
                home,
            },
            recent: None,
        }
    }

    /// The writer's connection notes identity changes in `recent`.
    pub(crate) fn noting_changes(mut self, recent: Arc<crate::recent::RecentChanges>) -> Conn {
        self.recent = Some(recent);
        self
    }

    /// Where identity changes are noted: the SQLite writer's connection only.
    pub(crate) fn recent_changes(&self) -> Option<Arc<crate::recent::RecentChanges>> {
        self.recent.clone()
    }

    pub(crate) fn postgres(conn: PoolConnection<Postgres>) -> Conn {
        Conn {
            inner: Inner::Postgres(conn),
            recent: None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite { .. } => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        match &mut self.inner {
            Inner::Sqlite { conn, .. } => {
                let conn = conn
                    .as_ref()
                    .ok_or_else(|| Error::internal("connection already released"))?;
                sqlite_execute(conn, sql, params).map_err(|e| sqlite_error(sql, e))
            }
            Inner::Postgres(conn) => {
                let done = pg_query(sql, params)
                    .execute(&mut **conn)
                    .await
                    .map_err(|e| pg_error(sql, e))?;
                Ok(done.rows_affected())
            }
        }
    }

    /// Runs a query and returns every row.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        match &mut self.inner {
            Inner::Sqlite { conn, .. } => {
                let conn = conn
                    .as_ref()
                    .ok_or_else(|| Error::internal("connection already released"))?;
                sqlite_query(conn, sql, params).map_err(|e| sqlite_error(sql, e))
            }
            Inner::Postgres(conn) => {
                let rows = pg_query(sql, params)
                    .fetch_all(&mut **conn)
                    .await
                    .map_err(|e| pg_error(sql, e))?;
                pg_rows(&rows)
            }
        }
    }

    pub async fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, Error> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    pub async fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, Error> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| Error::internal("the query returned no row"))
    }

    /// Runs several statements without parameters (migrations, transaction control).
    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Sqlite { conn, .. } => {
                let conn = conn
                    .as_ref()
                    .ok_or_else(|| Error::internal("connection already released"))?;
                conn.execute_batch(sql).map_err(|e| sqlite_error(sql, e))
            }
            Inner::Postgres(conn) => {
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                    .await
                    .map_err(|e| pg_error(sql, e))?;
                Ok(())
            }
        }
    }
}

/// Statement texts at most remembered per thread before the memory starts afresh.
const BINDING_ORDERS_KEPT: usize = 4096;

thread_local! {
    /// For each statement text run on this thread, the `$n` each SQLite parameter stands for.
    static BINDING_ORDERS: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<[usize]>>> =
        Default::default();
}

/// Which `$n` each of the statement's parameters is (0: not a `$n`). SQLite numbers named
/// parameters by their first appearance in the text, and finding a parameter's name walks a
/// list, so a statement with hundreds of values would cost a quadratic walk on every run:
/// the answer is worked out once per text and kept.
fn binding_order(stmt: &rusqlite::CachedStatement<'_>, sql: &str) -> std::rc::Rc<[usize]> {
    BINDING_ORDERS.with(|orders| {
        if let Some(order) = orders.borrow().get(sql) {
            return order.clone();
        }
        let order: std::rc::Rc<[usize]> = (1..=stmt.parameter_count())
            .map(|index| {
                stmt.parameter_name(index)
                    .and_then(|name| name.strip_prefix('$'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            })
            .collect();
        let mut orders = orders.borrow_mut();
        if orders.len() >= BINDING_ORDERS_KEPT {
            orders.clear();
        }
        orders.insert(sql.into(), order.clone());
        order
    })
}

/// Binds `params[n - 1]` to each `$n` the statement names; a value the text does not name
/// is left out.
fn bind_sqlite(
    stmt: &mut rusqlite::CachedStatement<'_>,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<()> {
    use rusqlite::types::Null;
    for (slot, n) in binding_order(stmt, sql).iter().enumerate() {
        let Some(value) = n.checked_sub(1).and_then(|i| params.get(i)) else {
            continue;
        };
        let index = slot + 1;
        match value {
            Value::Int(Some(x)) => stmt.raw_bind_parameter(index, x)?,
            Value::Real(Some(x)) => stmt.raw_bind_parameter(index, x)?,
            Value::Text(Some(x)) => stmt.raw_bind_parameter(index, x.as_str())?,
            Value::Int(None) | Value::Real(None) | Value::Text(None) => {
                stmt.raw_bind_parameter(index, Null)?
            }
        }
    }
    Ok(())
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_sqlite(&mut stmt, sql, params)?;
    Ok(stmt.raw_execute()? as u64)
}

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql)?;
    bind_sqlite(&mut stmt, sql, params)?;
    let columns: Arc<[String]> = stmt.column_names().map(|c| c.to_string()).collect();
    let width = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Text(None),
                ValueRef::Integer(x) => Value::Int(Some(x)),
                ValueRef::Real(x) => Value::Real(Some(x)),
                ValueRef::Text(t) => Value::Text(Some(String::from_utf8_lossy(t).into_owned())),
                ValueRef::Blob(b) => Value::Text(Some(String::from_utf8_lossy(b).into_owned())),
            });
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

fn pg_query<'q>(
    sql: &'q str,
    params: &'q [Value],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in params {
        q = match v {
            Value::Int(x) => q.bind(*x),
            Value::Real(x) => q.bind(*x),
            Value::Text(x) => q.bind(x.clone()),
        };
    }
    q
}

fn pg_rows(rows: &[PgRow]) -> Result<Vec<Row>, Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|row| {
            let values = row
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let decoded = match c.type_info().name() {
                        "INT8" => row.try_get::<Option<i64>, _>(i).map(Value::Int),
                        "INT4" => row
                            .try_get::<Option<i32>, _>(i)
                            .map(|v| Value::Int(v.map(i64::from))),
                        "INT2" => row
                            .try_get::<Option<i16>, _>(i)
                            .map(|v| Value::Int(v.map(i64::from))),
                        "BOOL" => row
                            .try_get::<Option<bool>, _>(i)
                            .map(|v| Value::Int(v.map(i64::from))),
                        "FLOAT8" => row.try_get::<Option<f64>, _>(i).map(Value::Real),
                        "FLOAT4" => row
                            .try_get::<Option<f32>, _>(i)
                            .map(|v| Value::Real(v.map(f64::from))),
                        _ => row.try_get::<Option<String>, _>(i).map(Value::Text),
                    };
                    decoded.map_err(|e| corrupt(c.name(), &e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row {
                columns: columns.clone(),
                values,
            })
        })
        .collect()
}

fn unexpected(sql: &str, e: &dyn std::fmt::Display) -> Error {
    let head: String = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect();
    tracing::error!(error = %e, sql = head, "database error");
    Error::internal("an unexpected database error occurred")
}

fn constraint_error(code: ErrorCode, constraint: String) -> Error {
    let message = match code {
        ErrorCode::AlreadyExists => "a resource with this unique key already exists",
        ErrorCode::UnknownReference => "the request refers to something that does not exist",
        _ => "a value is out of range",
    };
    Error::new(code, message).with("constraint", constraint)
}

fn sqlite_error(sql: &str, e: rusqlite::Error) -> Error {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(f, message) = &e {
        let constraint = message.clone().unwrap_or_default();
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return constraint_error(ErrorCode::AlreadyExists, constraint);
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return constraint_error(ErrorCode::UnknownReference, constraint);
            }
            ffi::SQLITE_CONSTRAINT_CHECK => {
                return constraint_error(ErrorCode::ValidationFailed, constraint);
            }
            _ => {}
        }
        if f.code == ffi::ErrorCode::DatabaseBusy || f.code == ffi::ErrorCode::DatabaseLocked {
            tracing::warn!(error = %e, "database busy");
            return Error::new(ErrorCode::Unavailable, "the database is busy; retry later");
        }
        if let Some(fault) = sqlite_storage_fault(f.code) {
            tracing::error!(error = %e, "the database cannot store or read data");
            return Error::new(ErrorCode::Unavailable, fault);
        }
    }
    unexpected(sql, &e)
}

/// A fault of the storage under the database rather than of the command — a full disk, an
/// I/O error, no memory, a damaged file, one that cannot be opened: the same command may succeed once an
/// operator has acted, so it is `unavailable` (retry later), never the request's fault. (It
/// also keeps the event resolver from setting aside an innocent event: it sets aside only
/// what fails for a reason of its own.)
fn sqlite_storage_fault(code: rusqlite::ffi::ErrorCode) -> Option<&'static str> {
    use rusqlite::ffi::ErrorCode as Sqlite;
    Some(match code {
        Sqlite::DiskFull => "the database is full; retry once space is freed",
        Sqlite::SystemIoFailure => "the database's disk failed to read or write; retry later",
        Sqlite::OutOfMemory => "the database ran out of memory; retry later",
        // Not `ReadOnly`: that is also a write sent to a reader connection (`query_only`),
        // a bug to report as one.
        Sqlite::CannotOpen => "the database file cannot be opened; retry later",
        Sqlite::DatabaseCorrupt | Sqlite::NotADatabase => {
            "the database file is damaged; an operator must restore it"
        }
        _ => return None,
    })
}

pub(crate) fn pg_error(sql: &str, e: sqlx::Error) -> Error {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &e {
        let constraint = db.constraint().unwrap_or_default().to_owned();
        // Deadlock victim or serialization failure: the command was rolled back to its
        // savepoint and is safe to retry (with its Idempotency-Key).
        if matches!(db.code().as_deref(), Some("40P01") | Some("40001")) {
            tracing::warn!(error = %e, "concurrent transactions conflicted; the command may be retried");
            return Error::new(
                ErrorCode::Conflict,
                "a concurrent change conflicted with this one; retry",
            )
            .with("retryable", true);
        }
        match db.kind() {
            ErrorKind::UniqueViolation => {
                return constraint_error(ErrorCode::AlreadyExists, constraint);
            }
            ErrorKind::ForeignKeyViolation => {
                return constraint_error(ErrorCode::UnknownReference, constraint);
            }
            ErrorKind::CheckViolation => {
                return constraint_error(ErrorCode::ValidationFailed, constraint);
            }
            _ => {}
        }
    }
    if let sqlx::Error::Database(db) = &e
        && let Some(fault) = db.code().as_deref().and_then(pg_server_fault)
    {
        tracing::error!(error = %e, "the database cannot take the command");
        return Error::new(ErrorCode::Unavailable, fault);
    }
    if matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    ) {
        tracing::warn!(error = %e, "database unavailable");
        return Error::new(
            ErrorCode::Unavailable,
            "the database is unavailable; retry later",
        );
    }
    unexpected(sql, &e)
}

/// The PostgreSQL counterpart of [`sqlite_storage_fault`], by SQLSTATE: insufficient
/// resources (class 53: disk full, out of memory, too many connections), a lost connection
/// (class 08), a server shutting down (57P01 – 57P03), an I/O error (58030).
fn pg_server_fault(sqlstate: &str) -> Option<&'static str> {
    Some(match sqlstate {
        "53100" => "the database is full; retry once space is freed",
        s if s.starts_with("53") => "the database is out of resources; retry later",
        s if s.starts_with("08") => "the connection to the database was lost; retry later",
        "57P01" | "57P02" | "57P03" => "the database is restarting; retry later",
        "58030" => "the database's disk failed to read or write; retry later",
        _ => return None,
    })
}

/// `{head} VALUES ($1, …, $width), (…), … {tail}` for `rows` rows, built once per shape and
/// kept: multi-row inserts run hundreds of times a second with a handful of shapes.
pub fn values_rows(head: &'static str, tail: &'static str, width: usize, rows: usize) -> Arc<str> {
    // A `'static` text is known by where it lives and how long it is.
    type Shape = ((usize, usize), (usize, usize), usize, usize);
    static BUILT: Mutex<Option<std::collections::HashMap<Shape, Arc<str>>>> = Mutex::new(None);
    let at = |t: &'static str| (t.as_ptr() as usize, t.len());
    let shape = (at(head), at(tail), width, rows);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built
        .get_or_insert_with(Default::default)
        .entry(shape)
        .or_insert_with(|| {
            let values: Vec<String> = (0..rows)
                .map(|i| format!("({})", placeholders(i * width + 1, width)))
                .collect();
            format!("{head} VALUES {} {tail}", values.join(", ")).into()
        })
        .clone()
}

/// `$start, $start+1, …` for `n` bind parameters.
/// Runs `head (…), (…), … tail-less` multi-row INSERTs of `rows` (`width` bound values each,
/// then `tail` appended inside each row's parentheses), in chunks of 32, 16, 8… rows: a
/// statement costs the writer more than its rows, and few distinct chunk sizes keep each
/// text prepared once (statement cache and binding order) however many rows come.
pub async fn insert_rows(
    conn: &mut Conn,
    head: &str,
    (width, tail): (usize, &str),
    rows: Vec<Vec<Value>>,
) -> Result<(), Error> {
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        let take = if rest.len() >= 32 {
            32
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, after) = rest.split_at(take);
        rest = after;
        let mut sql = String::from(head);
        let mut values: Vec<Value> = Vec::with_capacity(take * width);
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({}{tail})",
                placeholders(values.len() + 1, width)
            ));
            values.extend_from_slice(row);
        }
        conn.execute(&sql, &values).await?;
    }
    Ok(())
}

pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_binds_by_placeholder_name_and_reads_back_types() {
        let mut c = Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap(), None);
        c.batch("CREATE TABLE t (a TEXT, b BIGINT, c DOUBLE PRECISION, d TEXT)")
            .await
            .unwrap();
        let n = c
            .execute(
                "INSERT INTO t (d, a, b, c) VALUES ($4, $1, $2, $3)",
                params!["x", 7i64, 1.5f64, None::<String>],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let row = c
            .query_one(
                "SELECT a, b, c, d FROM t WHERE a = $1 AND ($2 = '' OR a = $2)",
                params!["x", ""],
            )
            .await
            .unwrap();
        assert_eq!(
            (
                row.text("a").unwrap(),
                row.int("b").unwrap(),
                row.float("c").unwrap()
            ),
            ("x".into(), 7, 1.5)
        );
        assert_eq!(row.opt_text("d").unwrap(), None);
        assert!(row.text("nope").is_err());
    }

    #[tokio::test]
    async fn sqlite_constraints_map_to_codes() {
        let mut c = Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap(), None);
        c.batch("PRAGMA foreign_keys = ON; CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE c (p TEXT REFERENCES p (id), n BIGINT CHECK (n >= 0))").await.unwrap();
        c.execute("INSERT INTO p (id) VALUES ($1)", params!["a"])
            .await
            .unwrap();
        let dup = c
            .execute("INSERT INTO p (id) VALUES ($1)", params!["a"])
            .await
            .unwrap_err();
        assert_eq!(dup.code, ErrorCode::AlreadyExists);
        let fk = c
            .execute("INSERT INTO c (p, n) VALUES ($1, $2)", params!["zz", 1i64])
            .await
            .unwrap_err();
        assert_eq!(fk.code, ErrorCode::UnknownReference);
        let check = c
            .execute("INSERT INTO c (p, n) VALUES ($1, $2)", params!["a", -1i64])
            .await
            .unwrap_err();
        assert_eq!(check.code, ErrorCode::ValidationFailed);
    }

    #[tokio::test]
    async fn a_full_sqlite_database_is_unavailable_not_an_internal_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.db");
        let mut c = Conn::sqlite(rusqlite::Connection::open(&path).unwrap(), None);
        c.batch("CREATE TABLE t (v TEXT)").await.unwrap();
        let pages = c
            .query_one("PRAGMA page_count", &[])
            .await
            .unwrap()
            .int("page_count")
            .unwrap();
        // The file may not grow past its size: the next page it needs fails as a full disk.
        c.batch(&format!("PRAGMA max_page_count = {pages}"))
            .await
            .unwrap();
        let full = c
            .execute(
                "INSERT INTO t (v) VALUES ($1)",
                params![&"x".repeat(100_000)],
            )
            .await
            .unwrap_err();
        assert_eq!(full.code, ErrorCode::Unavailable, "{full:?}");
        assert!(full.message.contains("full"), "{}", full.message);
    }

    #[test]
    fn postgres_resource_faults_are_unavailable_and_others_are_not() {
        assert!(pg_server_fault("53100").unwrap().contains("full"));
        assert!(pg_server_fault("53300").is_some());
        assert!(pg_server_fault("08006").is_some());
        assert!(pg_server_fault("57P01").is_some());
        // A unique violation, a syntax error, a deadlock: the command's own, not the server's.
        for own in ["23505", "42601", "40P01"] {
            assert_eq!(pg_server_fault(own), None, "{own}");
        }
    }
}
