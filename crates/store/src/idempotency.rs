//! Idempotency keys: a retried write returns the first response without a second effect.
//!
//! The key is claimed, and the response stored, inside the same transaction as the command
//! itself, so "the write happened" and "its response is remembered" are one fact. A retry
//! with the same key and the same request gets the stored response back; the same key with a
//! different request is refused with `idempotency_key_reused`. Keys are scoped per API key.

use kernel::{Error, ErrorCode, Timestamp};
use sqlx::AnyConnection;

use crate::error::DbResultExt;
use crate::rows;
use crate::writer::BoxFut;
use crate::Db;

/// A client's `Idempotency-Key` with the fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Who may reuse the key (the API key id): keys never collide across clients.
    pub scope: String,
    pub key: String,
    /// Hash of method, path and body.
    pub request_hash: String,
}

/// A response as first sent: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    /// True when this is a replay of an earlier response.
    pub replayed: bool,
}

enum Claim {
    New,
    Replay(StoredResponse),
}

async fn claim(conn: &mut AnyConnection, k: &IdempotencyKey) -> Result<Claim, Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&k.scope)
    .bind(&k.key)
    .bind(&k.request_hash)
    .bind(Timestamp::now().to_text())
    .execute(&mut *conn)
    .await
    .db("claim idempotency key")?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let row = sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(&k.scope)
        .bind(&k.key)
        .fetch_one(&mut *conn)
        .await
        .db("read idempotency key")?;
    if rows::text(&row, "request_hash")? != k.request_hash {
        return Err(Error::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )
        .with("idempotency_key", k.key.clone()));
    }
    let status = row.try_get_status()?;
    Ok(Claim::Replay(StoredResponse { status, body: rows::opt_text(&row, "body")?.unwrap_or_default(), replayed: true }))
}

trait StatusColumn {
    fn try_get_status(&self) -> Result<u16, Error>;
}

impl StatusColumn for sqlx::any::AnyRow {
    fn try_get_status(&self) -> Result<u16, Error> {
        use sqlx::Row;
        let status: Option<i64> = self.try_get("status").map_err(|e| crate::error::db_error("status", e))?;
        // A claimed key without a response cannot be seen: claim and response commit together.
        status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| Error::new(ErrorCode::Conflict, "a request with this Idempotency-Key is still in progress"))
    }
}

async fn complete(conn: &mut AnyConnection, k: &IdempotencyKey, response: &StoredResponse) -> Result<(), Error> {
    sqlx::query("UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2")
        .bind(&k.scope)
        .bind(&k.key)
        .bind(response.status as i64)
        .bind(&response.body)
        .execute(conn)
        .await
        .db("store idempotent response")?;
    Ok(())
}

impl Db {
    /// Runs `command` once per idempotency key and returns the response `render` made of its
    /// result — or, for a retry, the response stored the first time.
    pub async fn write_once<T, F, R>(&self, key: Option<IdempotencyKey>, command: F, render: R) -> Result<StoredResponse, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
        R: FnOnce(T) -> StoredResponse + Send + 'static,
    {
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(k) = &key
                    && let Claim::Replay(previous) = claim(&mut *conn, k).await?
                {
                    return Ok(previous);
                }
                let response = render(command(&mut *conn).await?);
                if let Some(k) = &key {
                    complete(&mut *conn, k, &response).await?;
                }
                Ok(response)
            })
        })
        .await
    }

    /// Forgets keys older than `before` (they are kept 24 h by default).
    pub async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, Error> {
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(before.to_text())
                    .execute(conn)
                    .await
                    .db("purge idempotency keys")?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
