//! Segments: rule-based groups of customers, defined by staff and evaluated when asked.

use customers::segment::Segment;
use kernel::Error;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;

/// Defines a segment whose rule was validated (the route is for staff).
pub async fn create(
    db: &Db,
    p: &Principal,
    segment: Segment,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Segment) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_staff()?;
    segment.rule.validate("rule")?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::segments::create(c, &segment, &actor).await?;
                Ok(segment)
            })
        },
        render,
    )
    .await
}
