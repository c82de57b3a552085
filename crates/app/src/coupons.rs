//! Coupon codes: admin keys make them for a promotion (one typed code, or a batch of unique
//! generated ones to hand out), staff list and export them, a code is issued to the customer
//! who won it, and any key checks a code before the customer checks out. Using a code is
//! part of checkout ([`crate::checkout`]).

use kernel::{Error, Page, PageRequest, Timestamp};
use promotions::Coupon;
use promotions::coupon::{self, check_limits};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{self, Principal};
use crate::command::{Needs, as_writer};

/// Codes to make for a promotion.
#[derive(Debug, Clone)]
pub struct NewCoupons {
    /// One typed code; or, absent, `count` generated codes starting `prefix-`.
    pub code: Option<String>,
    pub count: i64,
    pub prefix: String,
    pub max_uses: i64,
    pub max_uses_per_customer: Option<i64>,
    /// Issued at once to this customer (a typed code only).
    pub customer_id: Option<String>,
}

fn coupons_of(promotion_id: &str, new: NewCoupons, now: Timestamp) -> Result<Vec<Coupon>, Error> {
    check_limits(new.count, new.max_uses, new.max_uses_per_customer)?;
    let make = |code: String, batch: Option<String>, customer_id: Option<String>| Coupon {
        code,
        promotion_id: promotion_id.to_owned(),
        batch,
        customer_id,
        max_uses: new.max_uses,
        max_uses_per_customer: new.max_uses_per_customer,
        uses: 0,
        created_at: now,
    };
    if let Some(typed) = &new.code {
        if new.count != 1 {
            return Err(Error::validation("count", "a typed code is one code"));
        }
        return Ok(vec![make(
            coupon::normalise("code", typed)?,
            None,
            new.customer_id.clone(),
        )]);
    }
    if new.customer_id.is_some() {
        return Err(Error::validation(
            "customer_id",
            "a batch is issued code by code (POST /v1/coupons/{code}/issue)",
        ));
    }
    let prefix = coupon::normalise("prefix", &new.prefix)?;
    if prefix.len() > 20 {
        return Err(Error::validation(
            "prefix",
            "a prefix is 3 to 20 characters",
        ));
    }
    let batch = kernel::id::new_id("cpb");
    Ok((0..new.count)
        .map(|_| {
            let code = coupon::generated(&prefix, uuid::Uuid::new_v4().as_bytes());
            make(code, Some(batch.clone()), None)
        })
        .collect())
}

/// Makes codes for promotion `promotion_id` (admin).
pub async fn create(
    db: &Db,
    p: &Principal,
    promotion_id: String,
    new: NewCoupons,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Vec<Coupon>) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    p.require_marketing()?;
    let coupons = coupons_of(&promotion_id, new, crate::clock::now())?;
    as_writer(
        Needs::Marketing,
        (db, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::coupons::create_all(c, &coupons, &actor).await?;
                if let Some(holder) = coupons[0]
                    .customer_id
                    .clone()
                    .filter(|_| coupons.len() == 1)
                {
                    let issued =
                        store::coupons::issue(c, &coupons[0].code, &holder, &actor).await?;
                    return Ok(vec![issued]);
                }
                Ok(coupons)
            })
        },
        render,
    )
    .await
}

/// A promotion's codes, one batch's when named (staff: codes are handed out by them).
pub async fn list(
    db: &Db,
    p: &Principal,
    promotion_id: &str,
    batch: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Coupon>, Error> {
    p.require_staff_or_marketing()?;
    store::coupons::list(db, promotion_id, batch, page).await
}

/// A code, as a till or a shop front checks it before checkout.
pub async fn check(db: &Db, code: &str) -> Result<Coupon, Error> {
    let code = coupon::normalise("code", code)?;
    store::coupons::find(&mut db.read().await?, &code)
        .await?
        .ok_or_else(|| Error::not_found("coupon", &code))
}

/// Issues a code to a customer `p` may see (staff, or the channel the customer won it on).
pub async fn issue(
    db: &Db,
    p: &Principal,
    code: &str,
    customer_id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Coupon) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    if p.store_only().is_some() {
        return Err(access::forbidden(
            "codes are issued by staff or by a channel",
        ));
    }
    let code = coupon::normalise("code", code)?;
    crate::customers::reach(&mut db.read().await?, p, &customer_id).await?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move { store::coupons::issue(c, &code, &customer_id, &actor).await })
        },
        render,
    )
    .await
}
