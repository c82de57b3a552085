//! Transfers on their way, so Lyon's stock page has work: two replenishments from the
//! warehouse to receive in Lyon, and the pair Lyon has most of sent on to Paris — through
//! the same use case as `POST /v1/transfers`, as the admin and as Lyon's store.

use app::Scope;
use inventory::Transfer;
use kernel::{Error, PageRequest};

use crate::demo_calls::{acting, kept};

const LYON: &str = "LYS-BELLECOUR";
const PARIS: &str = "PAR-RIVOLI";

async fn ship(
    db: &store::Db,
    (from, to): (&str, &str),
    (sku, quantity): (&str, i64),
    reference: &str,
) -> Result<Transfer, Error> {
    let keeper = match from {
        LYON => acting(Scope::Store(LYON.into())),
        _ => acting(Scope::Admin),
    };
    let t = app::stock::ShipTransfer {
        sku: sku.to_owned(),
        from_location: from.to_owned(),
        to_location: to.to_owned(),
        quantity,
        reference: Some(reference.to_owned()),
    };
    kept(|k| app::stock::ship_transfer(db, &keeper, t, None, k)).await
}

pub async fn seed(db: &store::Db, warehouse: &str) -> Result<(), Error> {
    let admin = acting(Scope::Admin);
    let all = PageRequest::parse(Some(kernel::page::MAX_LIMIT), None)?;
    let mut lyon = app::stock::books(db, &admin, LYON, &all).await?.data;
    // Lowest first: what Lyon needs; highest: what it can spare.
    lyon.sort_by_key(|b| (inventory::atp(&b.level), b.sku.clone()));
    let stocked = app::stock::books(db, &admin, warehouse, &all).await?.data;
    let deep = |sku: &str| {
        stocked
            .iter()
            .any(|w| w.sku == sku && inventory::atp(&w.level) >= 6)
    };
    for (i, low) in lyon.iter().filter(|b| deep(&b.sku)).take(2).enumerate() {
        let note = format!("BL-2412-{}", i + 1);
        ship(db, (warehouse, LYON), (&low.sku, 6), &note).await?;
    }
    if let Some(spare) = lyon.last().filter(|b| inventory::atp(&b.level) >= 3) {
        ship(db, (LYON, PARIS), (&spare.sku, 1), "PARIS-ASKED").await?;
    }
    Ok(())
}
