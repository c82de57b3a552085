//! Idempotency keys: a retried write returns the first response without a second effect.
//!
//! The response is stored under the key inside the same transaction as the command itself,
//! so "the write happened" and "its response is remembered" are one fact. A key is looked up
//! before the command runs (a read, no page written) and stored after it (one insert); if
//! another node stored the same key in between, this command is rolled back with a retryable
//! `conflict`, and the client's retry gets the first response. A retry
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

/// The response stored under this key, if any; the same key with another request is refused.
async fn previous(conn: &mut Conn, k: &IdempotencyKey) -> Result<Option<StoredResponse>, Error> {
    let Some(row) = conn
        .query_opt(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
            params![&k.scope, &k.key],
        )
        .await?
    else {
        return Ok(None);
    };
    if row.text("request_hash")? != k.request_hash {
        return Err(Error::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )
        .with("idempotency_key", k.key.clone()));
    }
    let status = u16::try_from(row.int("status")?)
        .map_err(|_| crate::sql::corrupt("status", "not an HTTP status"))?;
    Ok(Some(StoredResponse {
        status,
        body: row.text("body")?,
        replayed: true,
    }))
}

/// Stores the response under the key; `false` if another node stored one meanwhile.
async fn remember(
    conn: &mut Conn,
    k: &IdempotencyKey,
    response: &StoredResponse,
) -> Result<bool, Error> {
    let inserted = conn
        .execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (scope, key) DO NOTHING",
            params![&k.scope, &k.key, &k.request_hash, response.status as i64, &response.body, Timestamp::now().to_text()],
        )
        .await?;
    Ok(inserted == 1)
}

impl Db {
    /// Runs `command` once per idempotency key and returns the response `render` made of its
    /// result — or, for a retry, the response stored the first time.
    pub async fn write_once<T, F, R>(
        &self,
        key: Option<IdempotencyKey>,
        command: F,
        render: R,
    ) -> Result<StoredResponse, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
        R: FnOnce(T) -> StoredResponse + Send + 'static,
    {
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(k) = &key
                    && let Some(first) = previous(&mut *conn, k).await?
                {
                    return Ok(first);
                }
                let response = render(command(&mut *conn).await?);
                if let Some(k) = &key
                    && !remember(&mut *conn, k, &response).await?
                {
                    // Another node ran a request with this key meanwhile and committed first.
                    // Failing rolls this command back; a retry gets the stored response.
                    return Err(Error::new(
                        ErrorCode::Conflict,
                        "a request with this Idempotency-Key ran at the same time; retry it",
                    )
                    .with("retryable", true));
                }
                Ok(response)
            })
        })
        .await
    }

    /// The response already stored under `key`, read before a command with outside effects
    /// (a card charge) so that a retry does not repeat them.
    pub async fn previous_response(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredResponse>, Error> {
        previous(&mut self.read().await?, key).await
    }

    /// Forgets keys older than `before` (they are kept 24 h by default).
    pub async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, Error> {
        self.write(move |conn| {
            Box::pin(async move {
                conn.execute(
                    "DELETE FROM idempotency_keys WHERE created_at < $1",
                    params![before.to_text()],
                )
                .await
            })
        })
        .await
    }
}
