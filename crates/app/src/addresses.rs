//! A customer's saved postal addresses: listed, added (validated; the first, or one saved as
//! default, is the default) and deleted by any key that may see the customer
//! ([`crate::customers::reach`]). Checkout ships to one by its id; erasure deletes them all.

use kernel::Error;
use orders::delivery::PostalAddress;
use store::addresses::SavedAddress;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;

/// A customer's addresses, the default first.
pub async fn list(db: &Db, p: &Principal, customer: &str) -> Result<Vec<SavedAddress>, Error> {
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, customer).await?;
    store::addresses::of_customer(&mut conn, &profile.id).await
}

/// Saves an address for a customer.
pub async fn add(
    db: &Db,
    p: &Principal,
    customer: String,
    (label, address, make_default): (Option<String>, PostalAddress, bool),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(SavedAddress) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let address = address.validate("address")?;
    let label = kernel::text::optional("label", label.as_deref(), 40)?;
    crate::customers::reach(&mut db.read().await?, p, &customer).await?;
    let now = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::addresses::add(c, &customer, label, &address, make_default, now).await
            })
        },
        render,
    )
    .await
}

/// Deletes one of a customer's addresses.
pub async fn delete(
    db: &Db,
    p: &Principal,
    customer: String,
    id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(()) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let profile = crate::customers::reach(&mut db.read().await?, p, &customer).await?;
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::addresses::delete(c, &profile.id, &id).await }),
        render,
    )
    .await
}
