//! API keys: minted with validated scopes, stored as a hash only (the token is shown once),
//! revoked at once. The API, the CLI (`relais key create`) and the demo mint them here.

use kernel::Error;
use store::api_keys::ApiKey;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Scope;

/// Validates the name and scopes and mints a token; returns the key to store and its token.
pub fn mint_key(name: &str, scopes: &[String]) -> Result<(ApiKey, String), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "name",
            "name must be 1 to 100 characters, without control characters",
        ));
    }
    if scopes.is_empty() {
        return Err(Error::validation(
            "scopes",
            "a key needs at least one scope",
        ));
    }
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s).map(|s| s.to_text()))
        .collect::<Result<Vec<_>, _>>()?;
    let token = format!("rls_{}", kernel::id::new_secret_hex());
    let key = ApiKey {
        id: kernel::id::new_id("key"),
        name: name.to_owned(),
        prefix: token[..12].to_owned(),
        scopes,
        created_at: crate::clock::now(),
        revoked_at: None,
    };
    Ok((key, token))
}

/// Mints and stores a key for `actor` (a principal's key id, `cli`, `demo`); answers the
/// stored key and its token, which is shown only in this answer: the response `render` makes
/// from the key alone is what an `Idempotency-Key` replays.
pub async fn create(
    db: &Db,
    actor: &str,
    name: &str,
    scopes: &[String],
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(ApiKey) -> StoredResponse + Send + 'static,
) -> Result<(StoredResponse, ApiKey, String), Error> {
    let (key, token) = mint_key(name, scopes)?;
    let (stored_key, t, actor) = (key.clone(), token.clone(), actor.to_owned());
    let response = db
        .write_once(
            idempotency,
            move |c| {
                Box::pin(async move {
                    store::api_keys::create_key(c, &stored_key, &t, &actor)
                        .await
                        .map(|_| stored_key)
                })
            },
            render,
        )
        .await?;
    Ok((response, key, token))
}

/// Revokes a key (the route is admin-only).
pub async fn revoke(
    db: &Db,
    p: &crate::Principal,
    id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(()) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_admin()?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::api_keys::revoke_key(c, &id, &actor).await }),
        render,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_validated_and_secret() {
        let (key, token) = mint_key(" POS Lyon ", &["store:LYS-BELLECOUR".into()]).unwrap();
        assert_eq!(key.name, "POS Lyon");
        assert!(token.starts_with("rls_") && token.len() == 68 && token.starts_with(&key.prefix));
        assert_ne!(mint_key("x", &["admin".into()]).unwrap().1, token);
        for (name, scopes) in [
            ("", vec!["admin"]),
            ("x\u{9b}", vec!["admin"]),
            ("x", vec![]),
            ("x", vec!["root"]),
        ] {
            let scopes: Vec<String> = scopes.into_iter().map(String::from).collect();
            assert!(mint_key(name, &scopes).is_err(), "{name:?} {scopes:?}");
        }
    }
}

/// The keys, newest first (admin); tokens are never shown again.
pub async fn list(
    db: &Db,
    p: &crate::Principal,
    page: &kernel::PageRequest,
) -> Result<kernel::Page<ApiKey>, Error> {
    p.require_admin()?;
    store::api_keys::list_keys(db, page).await
}
