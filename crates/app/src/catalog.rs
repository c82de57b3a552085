//! The catalogue's writes (admin): products and their variants.

use catalog::{NewProduct, NewVariant, Product, ProductPatch, Variant, VariantPatch};
use kernel::{Error, id::new_id};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, as_writer};

/// Creates a product with its variants, once validated.
pub async fn create_product(
    db: &Db,
    p: &Principal,
    new: NewProduct,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Product) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let product = new.validate(new_id("prd"), crate::clock::now())?;
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::catalog::create_product(c, &product, &actor).await?;
                Ok(product)
            })
        },
        render,
    )
    .await
}

/// Changes a product; `expected_version`, when given, must be the stored one.
pub async fn update_product(
    db: &Db,
    p: &Principal,
    id: String,
    patch: ProductPatch,
    expected_version: Option<i64>,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Product) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::catalog::update_product(c, &id, &patch, expected_version, &actor).await
            })
        },
        render,
    )
    .await
}

/// Adds a variant to a product.
pub async fn add_variant(
    db: &Db,
    p: &Principal,
    product_id: String,
    new: NewVariant,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Variant) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move { store::catalog::add_variant(c, &product_id, &new, &actor).await })
        },
        render,
    )
    .await
}

/// Changes a variant.
pub async fn update_variant(
    db: &Db,
    p: &Principal,
    sku: String,
    patch: VariantPatch,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Variant) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move { store::catalog::update_variant(c, &sku, &patch, &actor).await })
        },
        render,
    )
    .await
}
