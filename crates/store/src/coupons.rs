//! Coupon codes in SQL, and each order's use of them.
//!
//! [`take`] takes a use with one conditional UPDATE (`uses < max_uses`, and the holder when
//! the code was issued to a customer): orders racing for a code's last use, on one node or
//! several, cannot both get it. The UPDATE locks the code's row until commit, so the
//! per-customer count read after it sees every use committed before.

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{CouponIssued, CouponUse, CouponsCreated};
use promotions::Coupon;

use crate::sql::{Conn, Row, Value};
use crate::{Db, events, params, rows};

const COLUMNS: &str =
    "code, promotion_id, batch, customer_id, max_uses, max_uses_per_customer, uses, created_at";

fn from_row(row: &Row) -> Result<Coupon, Error> {
    Ok(Coupon {
        code: row.text("code")?,
        promotion_id: row.text("promotion_id")?,
        batch: row.opt_text("batch")?,
        customer_id: row.opt_text("customer_id")?,
        max_uses: row.int("max_uses")?,
        max_uses_per_customer: row.opt_int("max_uses_per_customer")?,
        uses: row.int("uses")?,
        created_at: rows::timestamp(row, "created_at")?,
    })
}

/// Stores new codes of one promotion (a typed code or a batch), one event for them all.
pub async fn create_all(conn: &mut Conn, coupons: &[Coupon], actor: &str) -> Result<(), Error> {
    let Some(first) = coupons.first() else {
        return Ok(());
    };
    if crate::promotions::find(conn, &first.promotion_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("promotion", &first.promotion_id));
    }
    for chunk in coupons.chunks(200) {
        let mut sql = format!("INSERT INTO coupons ({COLUMNS}) VALUES ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 8);
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({})",
                crate::sql::placeholders(values.len() + 1, 8)
            ));
            values.extend_from_slice(params![
                &c.code,
                &c.promotion_id,
                &c.batch,
                &c.customer_id,
                c.max_uses,
                c.max_uses_per_customer,
                c.uses,
                c.created_at.to_text()
            ]);
        }
        conn.execute(&sql, &values)
            .await
            .map_err(|e| match e.code {
                ErrorCode::AlreadyExists | ErrorCode::Conflict => {
                    Error::new(ErrorCode::AlreadyExists, "a code of these exists already")
                }
                _ => e,
            })?;
    }
    let created = CouponsCreated {
        promotion_id: first.promotion_id.clone(),
        batch: first.batch.clone(),
        first_code: first.code.clone(),
        count: coupons.len() as i64,
        max_uses: first.max_uses,
    };
    events::emit(
        conn,
        Event::CouponsCreated(&created),
        &first.promotion_id,
        actor,
    )
    .await
}

pub async fn find(conn: &mut Conn, code: &str) -> Result<Option<Coupon>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM coupons WHERE code = $1");
    conn.query_opt(&sql, params![code])
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// A promotion's codes in code order, one batch's when named.
pub async fn list(
    db: &Db,
    promotion_id: &str,
    batch: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Coupon>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM coupons WHERE promotion_id = $1 AND code > $2 AND ($3 = '' OR batch = $3)
         ORDER BY code LIMIT $4"
    );
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![
                promotion_id,
                page.after.clone().unwrap_or_default(),
                batch.unwrap_or(""),
                page.fetch_limit()
            ],
        )
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(found, page, |c| c.code.clone()))
}

/// Gives a bearer code to one customer; a code issued to someone else stays theirs.
pub async fn issue(
    conn: &mut Conn,
    code: &str,
    customer_id: &str,
    actor: &str,
) -> Result<Coupon, Error> {
    let customer = crate::profiles::active_id(conn, customer_id).await?;
    let mut coupon = find(conn, code)
        .await?
        .ok_or_else(|| Error::not_found("coupon", code))?;
    let issued = conn
        .execute(
            "UPDATE coupons SET customer_id = $2 WHERE code = $1 AND (customer_id IS NULL OR customer_id = $2)",
            params![code, &customer],
        )
        .await?;
    if issued != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the code was issued to another customer",
        )
        .with("code", code));
    }
    coupon.customer_id = Some(customer.clone());
    let event = CouponIssued {
        code: code.to_owned(),
        promotion_id: coupon.promotion_id.clone(),
        customer_id: customer,
    };
    events::emit(conn, Event::CouponIssued(&event), code, actor).await?;
    Ok(coupon)
}

/// Takes a use of `code` for `order_id` (redeemed at once for a till sale, else reserved),
/// or refuses the order: used up meanwhile, issued to someone else, or this customer's uses
/// spent.
#[allow(clippy::too_many_arguments)]
pub async fn take(
    conn: &mut Conn,
    code: &str,
    promotion_id: &str,
    order_id: &str,
    customer: Option<&str>,
    redeemed: bool,
    at: Timestamp,
    actor: &str,
) -> Result<(), Error> {
    let taken = conn
        .execute(
            "UPDATE coupons SET uses = uses + 1
             WHERE code = $1 AND uses < max_uses AND (customer_id IS NULL OR customer_id = $2)",
            params![code, customer.unwrap_or("")],
        )
        .await?;
    let refused = |why: &str| {
        Error::new(ErrorCode::Conflict, format!("the coupon {code} {why}")).with("coupon", code)
    };
    if taken != 1 {
        return Err(refused("was used up meanwhile, or is another customer's"));
    }
    if let Some(customer) = customer {
        let coupon = find(conn, code)
            .await?
            .ok_or_else(|| Error::not_found("coupon", code))?;
        if let Some(max) = coupon.max_uses_per_customer
            && customer_uses(conn, code, customer).await? >= max
        {
            return Err(refused("was used as often as a customer may"));
        }
    }
    let status = if redeemed { "redeemed" } else { "reserved" };
    conn.execute(
        "INSERT INTO coupon_uses (code, order_id, customer_id, status, at) VALUES ($1, $2, $3, $4, $5)",
        params![code, order_id, customer, status, at.to_text()],
    )
    .await?;
    let event = CouponUse {
        code: code.to_owned(),
        promotion_id: promotion_id.to_owned(),
        order_id: order_id.to_owned(),
        customer_id: customer.map(str::to_owned),
    };
    let kind = if redeemed {
        Event::CouponRedeemed(&event)
    } else {
        Event::CouponReserved(&event)
    };
    events::emit(conn, kind, code, actor).await
}

/// Uses of `code` by `customer` that an order still holds.
pub async fn customer_uses(conn: &mut Conn, code: &str, customer: &str) -> Result<i64, Error> {
    conn.query_one(
        "SELECT COUNT(*) AS n FROM coupon_uses WHERE code = $1 AND customer_id = $2 AND status <> 'released'",
        params![code, customer],
    )
    .await?
    .int("n")
}

/// Moves an order's uses from one status to another, with their events: `released` gives
/// the use back to the code.
async fn settle(
    conn: &mut Conn,
    order_id: &str,
    from: &[&str],
    to: &str,
    actor: &str,
) -> Result<(), Error> {
    let held = conn
        .query(
            "SELECT u.code, u.customer_id, u.status, c.promotion_id FROM coupon_uses u JOIN coupons c ON c.code = u.code
             WHERE u.order_id = $1",
            params![order_id],
        )
        .await?;
    for row in held {
        if !from.contains(&row.text("status")?.as_str()) {
            continue;
        }
        let code = row.text("code")?;
        conn.execute(
            "UPDATE coupon_uses SET status = $3 WHERE code = $1 AND order_id = $2",
            params![&code, order_id, to],
        )
        .await?;
        if to == "released" {
            conn.execute(
                "UPDATE coupons SET uses = uses - 1 WHERE code = $1",
                params![&code],
            )
            .await?;
        }
        let event = CouponUse {
            code: code.clone(),
            promotion_id: row.text("promotion_id")?,
            order_id: order_id.to_owned(),
            customer_id: row.opt_text("customer_id")?,
        };
        let kind = if to == "released" {
            Event::CouponReleased(&event)
        } else {
            Event::CouponRedeemed(&event)
        };
        events::emit(conn, kind, &code, actor).await?;
    }
    Ok(())
}

/// The order lapsed or was cancelled: its codes may be used again.
pub async fn release(conn: &mut Conn, order_id: &str, actor: &str) -> Result<(), Error> {
    settle(conn, order_id, &["reserved", "redeemed"], "released", actor).await
}

/// The customer has the goods: the order's reserved codes are redeemed.
pub async fn redeem(conn: &mut Conn, order_id: &str, actor: &str) -> Result<(), Error> {
    settle(conn, order_id, &["reserved"], "redeemed", actor).await
}
