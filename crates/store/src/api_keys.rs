//! API keys: stored as a SHA-256 hash of the token, never the token itself.
//!
//! Tokens are 256-bit random strings, so a fast hash is enough (no password stretching
//! needed): knowing the hash does not help to find the token.

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use crate::error::DbResultExt;
use crate::events;
use crate::rows;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to recognise it in lists.
    pub prefix: String,
    /// Space-separated scopes (`admin`, `channel:web`, `store:LYS-BELLECOUR`, `service`).
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_row(row: &AnyRow) -> Result<ApiKey, Error> {
    Ok(ApiKey {
        id: rows::text(row, "id")?,
        name: rows::text(row, "name")?,
        prefix: rows::text(row, "prefix")?,
        scopes: rows::text(row, "scopes")?.split(' ').filter(|s| !s.is_empty()).map(String::from).collect(),
        created_at: rows::timestamp(row, "created_at")?,
        revoked_at: rows::opt_timestamp(row, "revoked_at")?,
    })
}

/// Stores a new key for `token` (which the caller shows once and forgets).
pub async fn create_key(conn: &mut AnyConnection, key: &ApiKey, token: &str, actor: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO api_keys (id, name, token_hash, prefix, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&key.id)
        .bind(&key.name)
        .bind(hash_token(token))
        .bind(&key.prefix)
        .bind(key.scopes.join(" "))
        .bind(key.created_at.to_text())
        .execute(&mut *conn)
        .await
        .db("insert api key")?;
    events::emit(conn, "relais.api_key.created", &key.id, actor, key).await
}

/// The live (not revoked) key whose token hashes to `token_hash`.
pub async fn find_by_token(db: &AnyPool, token: &str) -> Result<Option<ApiKey>, Error> {
    sqlx::query("SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(hash_token(token))
        .fetch_optional(db)
        .await
        .db("find api key")?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list_keys(db: &AnyPool, page: &PageRequest) -> Result<Page<ApiKey>, Error> {
    let found = sqlx::query(
        "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(page.after.clone().unwrap_or_default())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await
    .db("list api keys")?;
    let keys = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(keys, page, |k| k.id.clone()))
}

pub async fn revoke_key(conn: &mut AnyConnection, id: &str, actor: &str) -> Result<(), Error> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(Timestamp::now().to_text())
        .bind(id)
        .execute(&mut *conn)
        .await
        .db("revoke api key")?;
    if done.rows_affected() == 0 {
        let exists = sqlx::query("SELECT id FROM api_keys WHERE id = $1").bind(id).fetch_optional(&mut *conn).await.db("api key")?;
        return Err(match exists {
            Some(_) => Error::new(ErrorCode::Conflict, "the key is already revoked"),
            None => Error::not_found("api key", id),
        });
    }
    events::emit(conn, "relais.api_key.revoked", id, actor, serde_json::json!({ "id": id })).await
}
