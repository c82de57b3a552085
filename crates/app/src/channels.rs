//! Channel writes (admin): channels and their sourcing policies. Like location writes, each
//! clears this node's reference cache.

use catalog::{Channel, NewChannel};
use inventory::SourcingPolicy;
use kernel::Error;
use store::sourcing::EffectivePolicy;
use store::{IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, on_reference};
use crate::reference::Reference;

/// Creates a channel; kiosks and tills are bound to one store.
pub async fn create(
    reference: &Reference,
    p: &Principal,
    new: NewChannel,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Channel) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let channel = new.validate(crate::clock::now())?;
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::channels::create_channel(c, &channel, &actor).await?;
                Ok(channel)
            })
        },
        render,
    )
    .await
}

/// Replaces a channel's sourcing policy; it applies at once to availability and holds.
pub async fn set_sourcing(
    reference: &Reference,
    p: &Principal,
    channel: String,
    policy: SourcingPolicy,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(EffectivePolicy) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move { store::sourcing::set_policy(c, &channel, policy, &actor).await })
        },
        render,
    )
    .await
}
