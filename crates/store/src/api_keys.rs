//! API keys: stored as a SHA-256 hash of the token, never the token itself.
//!
//! Tokens are 256-bit random strings, so a fast hash is enough (no password stretching
//! needed): knowing the hash does not help to find the token.

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{KeyCreated, KeyRevoked};
use sha2::{Digest, Sha256};

use crate::rows;
use crate::sql::{Conn, Row};
use crate::{Db, events, params};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to recognise it in lists.
    pub prefix: String,
    /// `admin`, `channel:web`, `store:LYS-BELLECOUR`, `service`.
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub fn hash_token(token: &str) -> String {
    kernel::hex::encode(&Sha256::digest(token.as_bytes()))
}

fn from_row(row: &Row) -> Result<ApiKey, Error> {
    Ok(ApiKey {
        id: row.text("id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        scopes: row
            .text("scopes")?
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        created_at: rows::timestamp(row, "created_at")?,
        revoked_at: rows::opt_timestamp(row, "revoked_at")?,
    })
}

/// Stores a new key for `token` (which the caller shows once and forgets).
pub async fn create_key(
    conn: &mut Conn,
    key: &ApiKey,
    token: &str,
    actor: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO api_keys (id, name, token_hash, prefix, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        params![&key.id, &key.name, hash_token(token), &key.prefix, key.scopes.join(" "), key.created_at.to_text()],
    )
    .await?;
    let created = KeyCreated {
        id: key.id.clone(),
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        scopes: key.scopes.clone(),
        created_at: key.created_at,
    };
    events::emit(conn, Event::ApiKeyCreated(&created), &key.id, actor).await
}

/// The live (not revoked) key for `token`.
pub async fn find_by_token(db: &Db, token: &str) -> Result<Option<ApiKey>, Error> {
    db.read()
        .await?
        .query_opt(
            "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL",
            params![hash_token(token)],
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list_keys(db: &Db, page: &PageRequest) -> Result<Page<ApiKey>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2",
            params![page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let keys = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(keys, page, |k| k.id.clone()))
}

pub async fn revoke_key(conn: &mut Conn, id: &str, actor: &str) -> Result<(), Error> {
    let done = conn
        .execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            params![Timestamp::now().to_text(), id],
        )
        .await?;
    if done == 0 {
        let exists = conn
            .query_opt("SELECT id FROM api_keys WHERE id = $1", params![id])
            .await?;
        return Err(match exists {
            Some(_) => Error::new(ErrorCode::Conflict, "the key is already revoked"),
            None => Error::not_found("api key", id),
        });
    }
    let revoked = KeyRevoked { id: id.to_owned() };
    events::emit(conn, Event::ApiKeyRevoked(&revoked), id, actor).await
}
