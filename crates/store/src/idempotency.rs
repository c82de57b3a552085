//! Idempotency keys: a retried write returns the first response without a second effect.
//!
//! The key is claimed, and the response stored, inside the same transaction as the command
//! itself, so "the write happened" and "its response is remembered" are one fact. A retry
//! with the same key and the same request gets the stored response back; the same key with a
//! different request is refused with `idempotency_key_reused`. Keys are scoped per API key.

use kernel::{Error, ErrorCode, Timestamp};

use crate::sql::Conn;
use crate::writer::BoxFut;
use crate::{Db, params};

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

async fn claim(conn: &mut Conn, k: &IdempotencyKey) -> Result<Claim, Error> {
    let inserted = conn
        .execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope, key) DO NOTHING",
            params![&k.scope, &k.key, &k.request_hash, Timestamp::now().to_text()],
        )
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row = conn
        .query_one(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
            params![&k.scope, &k.key],
        )
        .await?;
    if row.text("request_hash")? != k.request_hash {
        return Err(Error::new(ErrorCode::IdempotencyKeyReused, "this Idempotency-Key was already used with a different request")
            .with("idempotency_key", k.key.clone()));
    }
    // A claimed key without a response cannot be seen: claim and response commit together.
    let status = row
        .opt_int("status")?
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| Error::new(ErrorCode::Conflict, "a request with this Idempotency-Key is still in progress"))?;
    Ok(Claim::Replay(StoredResponse { status, body: row.opt_text("body")?.unwrap_or_default(), replayed: true }))
}

async fn complete(conn: &mut Conn, k: &IdempotencyKey, response: &StoredResponse) -> Result<(), Error> {
    conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
        params![&k.scope, &k.key, response.status as i64, &response.body],
    )
    .await?;
    Ok(())
}

impl Db {
    /// Runs `command` once per idempotency key and returns the response `render` made of its
    /// result — or, for a retry, the response stored the first time.
    pub async fn write_once<T, F, R>(&self, key: Option<IdempotencyKey>, command: F, render: R) -> Result<StoredResponse, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
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
                conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", params![before.to_text()]).await
            })
        })
        .await
    }
}
