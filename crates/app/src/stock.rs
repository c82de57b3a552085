//! Stock books: the movement ledger, safety stock and transfers between locations. A
//! location's books are kept by its own store key and by admin keys
//! ([`Principal::require_stock_keeper`]); each change is one command with its ledger
//! movement and outbox event. `render` makes the response an `Idempotency-Key` replays.

use inventory::Level;
use kernel::{Error, Page, PageRequest};
use store::stock::{Movement, NewMovement, Transfer};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;

/// Records one movement at a location `p` keeps the books of.
pub async fn record_movement(
    db: &Db,
    p: &Principal,
    new: NewMovement,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce((Movement, Level)) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_stock_keeper(&new.location)?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::stock::record_movement(c, &new, &actor).await }),
        render,
    )
    .await
}

/// Records one movement of an import (`import` is the actor): a movement whose client key
/// was recorded by an earlier run is not recorded again. Answers whether it was.
pub async fn import_movement(db: &Db, movement: NewMovement) -> Result<bool, Error> {
    db.write(move |c| {
        Box::pin(async move {
            store::stock::record_movement_once(c, &movement, "import")
                .await
                .map(|(_, _, before)| before)
        })
    })
    .await
}

/// The ledger of a variant at a location `p` keeps the books of, oldest first.
pub async fn movements(
    db: &Db,
    p: &Principal,
    sku: &str,
    location: &str,
    page: &PageRequest,
) -> Result<Page<Movement>, Error> {
    p.require_stock_keeper(location)?;
    store::stock::movements(db, sku, location, page).await
}

/// Sets the units kept out of ATP for a variant at a location (the route is admin-only).
pub async fn set_safety(
    db: &Db,
    p: &Principal,
    sku: String,
    location: String,
    quantity: i64,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce((String, String, Level)) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_stock_keeper(&location)?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::stock::set_safety(c, &sku, &location, quantity, &actor)
                    .await
                    .map(|level| (sku, location, level))
            })
        },
        render,
    )
    .await
}

/// What a transfer ships.
#[derive(Debug, Clone)]
pub struct ShipTransfer {
    pub sku: String,
    pub from_location: String,
    pub to_location: String,
    pub quantity: i64,
    pub reference: Option<String>,
}

/// Ships units from a location `p` keeps the books of: they leave now, in transit until
/// received.
pub async fn ship_transfer(
    db: &Db,
    p: &Principal,
    t: ShipTransfer,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Transfer) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_stock_keeper(&t.from_location)?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::stock::ship_transfer(
                    c,
                    &t.sku,
                    &t.from_location,
                    &t.to_location,
                    t.quantity,
                    t.reference,
                    &actor,
                )
                .await
            })
        },
        render,
    )
    .await
}

/// A transfer, for the keepers of either end.
pub async fn transfer(db: &Db, p: &Principal, id: &str) -> Result<Transfer, Error> {
    let t = store::stock::get_transfer(db, id).await?;
    if p.require_stock_keeper(&t.from_location).is_err() {
        p.require_stock_keeper(&t.to_location)?;
    }
    Ok(t)
}

/// The transfers arriving at or leaving `location`, for its keepers (admins, its store).
pub async fn transfers(
    db: &Db,
    p: &Principal,
    location: &str,
    q: &store::stock::TransferQuery,
    page: &PageRequest,
) -> Result<Page<Transfer>, Error> {
    p.require_stock_keeper(location)?;
    store::locations::get_location(db, location).await?;
    store::stock::location_transfers(db, location, q, page).await
}

/// Receives a transfer at its destination, once, by the destination's keeper.
pub async fn receive_transfer(
    db: &Db,
    p: &Principal,
    id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Transfer) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let t = store::stock::get_transfer(db, &id).await?;
    p.require_stock_keeper(&t.to_location)?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::stock::receive_transfer(c, &id, &actor).await }),
        render,
    )
    .await
}

/// A store's books — on hand, held, safety, in transit — for its own people and staff, in
/// SKU order.
pub async fn books(
    db: &Db,
    p: &crate::Principal,
    location: &str,
    page: &kernel::PageRequest,
) -> Result<kernel::Page<store::stock::Stock>, Error> {
    if !p.can_access_store(location) {
        return Err(crate::access::forbidden(
            "a store's books are for its own people and staff",
        ));
    }
    store::stock::location_stock(db, location, page).await
}
