//! Promotions in SQL: the definitions, and each order's use of them.
//!
//! A promotion's conditions, effect and budget are one JSON definition; its running use
//! (`uses`, `discount_minor`) and the limits a checkout must not pass are columns, so
//! [`take_uses`] takes a use with one conditional UPDATE: two checkouts racing for the last
//! use (or the last euro of a budget) cannot both get it, on one node or several. The
//! UPDATE also locks the promotion's row until commit, so the per-customer count read after
//! it sees every use committed before.

use std::collections::BTreeMap;

use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use promotions::{Applied, Budget, Conditions, Effect, Promotion, Stacking, Usage};
use serde::{Deserialize, Serialize};

use crate::sql::{Conn, Row};
use crate::{Db, events, params, rows};

/// The stored definition: what is decided by the `promotions` crate, read whole.
#[derive(Serialize, Deserialize)]
struct Definition {
    description: Option<String>,
    conditions: Conditions,
    effect: Effect,
    stacking: Stacking,
    budget: Budget,
}

const COLUMNS: &str =
    "id, name, currency, definition, priority, active, created_at, updated_at, version";

fn from_row(row: &Row) -> Result<Promotion, Error> {
    let d: Definition = rows::json(row, "definition")?;
    Ok(Promotion {
        id: row.text("id")?,
        name: row.text("name")?,
        description: d.description,
        currency: rows::currency(row, "currency")?,
        conditions: d.conditions,
        effect: d.effect,
        stacking: d.stacking,
        priority: row.int("priority")?,
        budget: d.budget,
        active: row.int("active")? != 0,
        version: row.int("version")?,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

fn definition(p: &Promotion) -> String {
    rows::to_json(&Definition {
        description: p.description.clone(),
        conditions: p.conditions.clone(),
        effect: p.effect.clone(),
        stacking: p.stacking,
        budget: p.budget.clone(),
    })
}

pub async fn create(conn: &mut Conn, p: &Promotion, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO promotions (id, name, currency, definition, priority, active, max_uses, max_discount,
                                 created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
        params![&p.id, &p.name, p.currency.code(), definition(p), p.priority, p.active,
                p.budget.max_uses, p.budget.max_discount_minor, p.created_at.to_text(), p.version],
    )
    .await?;
    events::emit(conn, Event::PromotionCreated(p), &p.id, actor).await
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Promotion>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM promotions WHERE id = $1");
    conn.query_opt(&sql, params![id])
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Replaces a promotion by its changed version, if nobody changed it since `read_version`.
pub async fn replace(
    conn: &mut Conn,
    p: &Promotion,
    read_version: i64,
    actor: &str,
) -> Result<(), Error> {
    let updated = conn
        .execute(
            "UPDATE promotions SET name = $2, definition = $3, priority = $4, active = $5, max_uses = $6,
                    max_discount = $7, updated_at = $8, version = $9
             WHERE id = $1 AND version = $10",
            params![&p.id, &p.name, definition(p), p.priority, p.active, p.budget.max_uses,
                    p.budget.max_discount_minor, p.updated_at.to_text(), p.version, read_version],
        )
        .await?;
    if updated != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the promotion changed meanwhile; read it again",
        ));
    }
    events::emit(conn, Event::PromotionUpdated(p), &p.id, actor).await
}

/// Promotions by id; `active_only` leaves out those switched off.
pub async fn list(
    db: &Db,
    active_only: bool,
    page: &PageRequest,
) -> Result<Page<Promotion>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM promotions WHERE id > $1 AND ($2 = 0 OR active = 1) ORDER BY id LIMIT $3"
    );
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![
                page.after.clone().unwrap_or_default(),
                i64::from(active_only),
                page.fetch_limit()
            ],
        )
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(found, page, |p| p.id.clone()))
}

/// The active promotions in a currency, with each one's use so far (and `customer`'s).
pub async fn in_force(
    conn: &mut Conn,
    currency: kernel::Currency,
    customer: Option<&str>,
) -> Result<(Vec<Promotion>, BTreeMap<String, Usage>), Error> {
    let sql = format!(
        "SELECT {COLUMNS}, uses, discount_minor,
                (SELECT COUNT(*) FROM promotion_uses u
                  WHERE u.promotion_id = p.id AND u.customer_id = $2 AND u.status = 'taken') AS customer_uses
         FROM promotions p WHERE active = 1 AND currency = $1 ORDER BY priority DESC, id"
    );
    let mut found = Vec::new();
    let mut usage = BTreeMap::new();
    for row in conn
        .query(&sql, params![currency.code(), customer.unwrap_or("")])
        .await?
    {
        let p = from_row(&row)?;
        usage.insert(
            p.id.clone(),
            Usage {
                uses: row.int("uses")?,
                discount_minor: row.int("discount_minor")?,
                customer_uses: row.int("customer_uses")?,
            },
        );
        found.push(p);
    }
    Ok((found, usage))
}

/// Records `order`'s use of each applied promotion, within its budget: a promotion whose
/// last use or budget another order took meanwhile refuses the order (`conflict`, with the
/// promotion named) rather than give more than the retailer set.
pub async fn take_uses(
    conn: &mut Conn,
    order_id: &str,
    customer: Option<&str>,
    applied: &[Applied],
    at: Timestamp,
) -> Result<(), Error> {
    for a in applied {
        let amount = a.amount_minor + a.shipping_minor;
        let taken = conn
            .execute(
                "UPDATE promotions SET uses = uses + 1, discount_minor = discount_minor + $2
                 WHERE id = $1 AND active = 1 AND (max_uses IS NULL OR uses < max_uses)
                   AND (max_discount IS NULL OR discount_minor + $2 <= max_discount)",
                params![&a.promotion_id, amount],
            )
            .await?;
        if taken != 1 {
            return Err(ran_out(a));
        }
        if let Some(customer) = customer
            && let Some(max) = per_customer_limit(conn, &a.promotion_id).await?
        {
            let row = conn
                .query_one(
                    "SELECT COUNT(*) AS n FROM promotion_uses
                     WHERE promotion_id = $1 AND customer_id = $2 AND status = 'taken'",
                    params![&a.promotion_id, customer],
                )
                .await?;
            if row.int("n")? >= max {
                return Err(ran_out(a));
            }
        }
        conn.execute(
            "INSERT INTO promotion_uses (promotion_id, order_id, customer_id, coupon, amount_minor, status, at)
             VALUES ($1, $2, $3, $4, $5, 'taken', $6)",
            params![&a.promotion_id, order_id, customer, &a.coupon, amount, at.to_text()],
        )
        .await?;
    }
    Ok(())
}

fn ran_out(a: &Applied) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!(
            "the promotion “{}” ran out meanwhile; price the cart again",
            a.name
        ),
    )
    .with("promotion_id", a.promotion_id.clone())
}

async fn per_customer_limit(conn: &mut Conn, id: &str) -> Result<Option<i64>, Error> {
    Ok(find(conn, id)
        .await?
        .and_then(|p| p.budget.max_uses_per_customer))
}

/// Gives back an order's uses (it was cancelled or lapsed): its promotions may be used again.
pub async fn release_uses(conn: &mut Conn, order_id: &str) -> Result<(), Error> {
    let taken = conn
        .query(
            "SELECT promotion_id, amount_minor FROM promotion_uses WHERE order_id = $1 AND status = 'taken'",
            params![order_id],
        )
        .await?;
    for row in taken {
        let (id, amount) = (row.text("promotion_id")?, row.int("amount_minor")?);
        conn.execute(
            "UPDATE promotions SET uses = uses - 1, discount_minor = discount_minor - $2 WHERE id = $1",
            params![&id, amount],
        )
        .await?;
        conn.execute(
            "UPDATE promotion_uses SET status = 'released' WHERE promotion_id = $1 AND order_id = $2",
            params![&id, order_id],
        )
        .await?;
    }
    Ok(())
}

/// A promotion's use so far.
pub async fn usage(conn: &mut Conn, id: &str) -> Result<Usage, Error> {
    let row = conn
        .query_opt(
            "SELECT uses, discount_minor FROM promotions WHERE id = $1",
            params![id],
        )
        .await?
        .ok_or_else(|| Error::not_found("promotion", id))?;
    Ok(Usage {
        uses: row.int("uses")?,
        discount_minor: row.int("discount_minor")?,
        customer_uses: 0,
    })
}
