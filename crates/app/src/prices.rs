//! Price writes (admin): base prices and channel overrides.

use kernel::{Currency, Error};
use pricing::{BasePrice, PriceOverride};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, as_writer};

/// Sets the base price of a variant in a currency (the price on every channel).
pub async fn set_base_price(
    db: &Db,
    p: &Principal,
    price: BasePrice,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(BasePrice) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let amount = pricing::validate_amount("amount_minor", price.amount_minor)?;
    let price = BasePrice {
        amount_minor: amount,
        ..price
    };
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::prices::set_base_price(c, &price, &actor).await?;
                Ok(price)
            })
        },
        render,
    )
    .await
}

/// Sets a channel's override of a base price, once validated.
pub async fn set_override(
    db: &Db,
    p: &Principal,
    price: PriceOverride,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(PriceOverride) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let price = price.validate()?;
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::prices::set_override(c, &price, &actor).await?;
                Ok(price)
            })
        },
        render,
    )
    .await
}

/// Removes a channel's override: the channel charges the base price again.
pub async fn remove_override(
    db: &Db,
    p: &Principal,
    (sku, currency, channel): (String, Currency, String),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(()) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::prices::remove_override(c, &sku, currency, &channel, &actor).await
            })
        },
        render,
    )
    .await
}
