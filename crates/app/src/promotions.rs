//! Promotions: the retailer's admin writes them; every key reads them (they are shown to
//! customers on every channel). Pricing with them is [`crate::pricing`].

use kernel::{Error, Page, PageRequest, id::new_id};
use promotions::{NewPromotion, Promotion, PromotionPatch, Usage};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, on_reference};
use crate::reference::Reference;

/// Creates a promotion, once validated.
pub async fn create(
    reference: &Reference,
    p: &Principal,
    new: NewPromotion,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Promotion) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let promotion = new.validate(new_id("prm"), crate::clock::now())?;
    on_reference(
        Needs::Marketing,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::promotions::create(c, &promotion, &actor).await?;
                Ok(promotion)
            })
        },
        render,
    )
    .await
}

/// Changes a promotion (switching it on or off is a change too); the whole is validated
/// again. Its use so far stays.
pub async fn update(
    reference: &Reference,
    p: &Principal,
    id: String,
    patch: PromotionPatch,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Promotion) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = crate::clock::now();
    on_reference(
        Needs::Marketing,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                let found = store::promotions::find(c, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("promotion", &id))?;
                let changed = patch.apply(&found, now)?;
                store::promotions::replace(c, &changed, found.version, &actor).await?;
                Ok(changed)
            })
        },
        render,
    )
    .await
}

/// Promotions in id order; `active_only` leaves out those switched off.
pub async fn list(
    db: &Db,
    active_only: bool,
    page: &PageRequest,
) -> Result<Page<Promotion>, Error> {
    store::promotions::list(db, active_only, page).await
}

/// A promotion and its use so far.
pub async fn get(db: &Db, id: &str) -> Result<(Promotion, Usage), Error> {
    let mut conn = db.read().await?;
    let found = store::promotions::find(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("promotion", id))?;
    let usage = store::promotions::usage(&mut conn, id).await?;
    Ok((found, usage))
}
