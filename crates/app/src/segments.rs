//! Segments: rule-based groups of customers, defined by staff and evaluated when asked.

use customers::Profile;
use customers::segment::Segment;
use kernel::{Error, Page, PageRequest};
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
    p.require_staff_or_marketing()?;
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

/// The segments (staff).
pub async fn list(db: &Db, p: &Principal, page: &PageRequest) -> Result<Page<Segment>, Error> {
    p.require_staff_or_marketing()?;
    store::segments::list(db, page).await
}

/// A segment and how many customers are members now (staff).
pub async fn get_with_count(db: &Db, p: &Principal, code: &str) -> Result<(Segment, i64), Error> {
    p.require_staff_or_marketing()?;
    let segment = store::segments::get(db, code).await?;
    let members = store::segments::count(db, &segment.rule).await?;
    Ok((segment, members))
}

/// A segment's members now, in id order (staff).
pub async fn members(
    db: &Db,
    p: &Principal,
    code: &str,
    page: &PageRequest,
) -> Result<Page<Profile>, Error> {
    p.require_staff()?;
    let segment = store::segments::get(db, code).await?;
    store::segments::members(db, &segment.rule, page).await
}
