//! The shape every admin write shares: the admin scope checked, then one command run once
//! under its idempotency key, its answer rendered for the idempotency record (and, for
//! reference data, this node's cache cleared).

use kernel::Error;
use store::{BoxFut, Conn, Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::reference::Reference;

/// Runs `command` (given the connection and the actor's key id) as an admin command.
pub(crate) async fn as_admin<T, F, R>(
    db: &Db,
    p: &Principal,
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    p.require_admin()?;
    run_as(db, p, idempotency, command, render).await
}

/// Runs `command` as a marketing write (promotions, coupons, notification rules): admin or
/// marketing keys.
pub(crate) async fn as_marketer<T, F, R>(
    db: &Db,
    p: &Principal,
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    p.require_marketing()?;
    run_as(db, p, idempotency, command, render).await
}

async fn run_as<T, F, R>(
    db: &Db,
    p: &Principal,
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    let actor = p.key_id.clone();
    db.write_once(idempotency, move |c| command(c, actor), render)
        .await
}

/// Runs an admin write to reference data (locations, channels, policies, promotions, VAT
/// tables): once it is durable, this node's [`Reference`] cache forgets what it held, so the
/// change shows here at once (elsewhere within the cache's age).
pub(crate) async fn as_admin_on_reference<T, F, R>(
    reference: &Reference,
    p: &Principal,
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    let done = as_admin(reference.db(), p, idempotency, command, render).await?;
    reference.invalidate();
    Ok(done)
}

/// [`as_marketer`] on reference data (promotions): this node's cache forgets what it held.
pub(crate) async fn as_marketer_on_reference<T, F, R>(
    reference: &Reference,
    p: &Principal,
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    let done = as_marketer(reference.db(), p, idempotency, command, render).await?;
    reference.invalidate();
    Ok(done)
}
