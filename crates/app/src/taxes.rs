//! VAT tables: every key reads them; admin keys set a country's rates and basis. Checkout
//! taxes each line with the table of the country the order is taxed in ([`crate::pricing`]).

use kernel::Error;
use promotions::tax::TaxTable;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, on_reference};
use crate::reference::Reference;

/// Sets a country's table, once validated (admin).
pub async fn set(
    reference: &Reference,
    p: &Principal,
    table: TaxTable,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(TaxTable) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    table.validate()?;
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::tax::set(c, &table, &actor).await?;
                Ok(table)
            })
        },
        render,
    )
    .await
}

/// Every country's table.
pub async fn all(db: &Db) -> Result<Vec<TaxTable>, Error> {
    store::tax::all(&mut db.read().await?).await
}

pub async fn get(db: &Db, country: &str) -> Result<TaxTable, Error> {
    store::tax::get(db, country).await
}
