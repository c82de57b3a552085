//! Location writes (admin). Channel views cache locations, so each write also clears this
//! node's reference cache: the change shows at once here, within the cache's age elsewhere.

use catalog::{Location, LocationPatch, NewLocation};
use kernel::Error;
use store::{IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, on_reference};
use crate::reference::Reference;

/// Creates a location, once validated.
pub async fn create(
    reference: &Reference,
    p: &Principal,
    new: NewLocation,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Location) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let location = new.validate(crate::clock::now())?;
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::locations::create_location(c, &location, &actor).await?;
                Ok(location)
            })
        },
        render,
    )
    .await
}

/// Changes a location; `expected_version`, when given, must be the stored one.
pub async fn update(
    reference: &Reference,
    p: &Principal,
    (code, patch, expected_version): (String, LocationPatch, Option<i64>),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Location) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::locations::update_location(c, &code, &patch, expected_version, &actor).await
            })
        },
        render,
    )
    .await
}
