//! Holds made and ended through `/v1/holds`: a key reads the holds it made (a store those at
//! its store), and commits or releases only the holds it made; a hold owned by a cart or an
//! order ends only through that cart or order ([`access::end_hold`]), so an order never
//! loses the stock it promised.

use inventory::Hold;
use kernel::Error;
use store::stock::{HoldAction, NewHold};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{self, Principal};

/// Claims stock through `/v1/holds`: a store key at its own store, others anywhere (a
/// channel key as its own channel, whose sourcing policy and safety stock apply). The hold is
/// the key's: it alone (or an admin) commits or releases it.
pub async fn create(
    db: &Db,
    p: &Principal,
    mut new: NewHold,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Hold) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_hold_at(&new.location)?;
    new.channel = access::promising_channel(p, new.channel)?;
    new.owner = inventory::HoldOwner::Api;
    new.owner_ref = new.owner_ref.trim().to_owned();
    if new.owner_ref.is_empty() || new.owner_ref.chars().count() > 200 {
        return Err(Error::validation(
            "owner_ref",
            "owner_ref is 1 to 200 characters",
        ));
    }
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::stock::create_hold(c, &new, &actor).await }),
        render,
    )
    .await
}

/// The hold `id`, when `p` may see it.
pub async fn get(db: &Db, p: &Principal, id: &str) -> Result<Hold, Error> {
    let hold = store::stock::get_hold(db, id).await?;
    access::see_hold(p, &hold)?;
    Ok(hold)
}

/// Commits or releases hold `id` in one command, after checking inside it that `p` may.
/// `render` makes the stored response (replayed for a retried `Idempotency-Key`).
pub async fn end(
    db: &Db,
    p: &Principal,
    id: String,
    action: HoldAction,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Hold) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let p = p.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let hold = store::stock::find_hold(c, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("hold", &id))?;
                access::see_hold(&p, &hold)?;
                access::end_hold(&p, &hold)?;
                store::stock::end_found_hold(c, hold, action, &p.key_id).await
            })
        },
        render,
    )
    .await
}

/// Expires up to `limit` pending holds whose deadline has passed (the hold sweeper; actor
/// `system`); answers how many.
pub async fn expire_due(db: &Db, now: kernel::Timestamp, limit: i64) -> Result<usize, Error> {
    db.write_background(move |c| Box::pin(store::stock::expire_due(c, now, limit)))
        .await
}
