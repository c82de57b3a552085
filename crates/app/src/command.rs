//! The shape every admin or marketing write shares: the caller's scope checked, then one
//! command run once under its idempotency key, its answer rendered for the idempotency
//! record (and, for reference data, this node's cache cleared).

use kernel::Error;
use store::{BoxFut, Conn, Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::reference::Reference;

/// Who may make a write: admin keys only, or marketing keys too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    Admin,
    Marketing,
}

impl Needs {
    fn check(self, p: &Principal) -> Result<(), Error> {
        match self {
            Needs::Admin => p.require_admin(),
            Needs::Marketing => p.require_marketing(),
        }
    }
}

/// Runs `command` (given the connection and the actor's key id) once `p` has what the
/// write `needs`.
pub(crate) async fn as_writer<T, F, R>(
    needs: Needs,
    (db, p): (&Db, &Principal),
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    needs.check(p)?;
    let actor = p.key_id.clone();
    db.write_once(idempotency, move |c| command(c, actor), render)
        .await
}

/// [`as_writer`] for reference data (locations, channels, policies, promotions, VAT
/// tables): once it is durable, this node's [`Reference`] cache forgets what it held, so the
/// change shows here at once (elsewhere within the cache's age).
pub(crate) async fn on_reference<T, F, R>(
    needs: Needs,
    (reference, p): (&Reference, &Principal),
    idempotency: Option<IdempotencyKey>,
    command: F,
    render: R,
) -> Result<StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, String) -> BoxFut<'c, Result<T, Error>> + Send + 'static,
    R: FnOnce(T) -> StoredResponse + Send + 'static,
{
    let done = as_writer(needs, (reference.db(), p), idempotency, command, render).await?;
    reference.invalidate();
    Ok(done)
}
