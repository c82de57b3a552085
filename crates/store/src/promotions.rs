//! Promotions in SQL: the definitions, their use, and the uses of those limited per customer.
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

use crate::sql::{Conn, Row, Value};
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
                                 created_at, updated_at, version, max_uses_per_customer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
        params![&p.id, &p.name, p.currency.code(), definition(p), p.priority, p.active,
                p.budget.max_uses, p.budget.max_discount_minor, p.created_at.to_text(), p.version,
                p.budget.max_uses_per_customer],
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
                    max_discount = $7, updated_at = $8, version = $9, max_uses_per_customer = $11
             WHERE id = $1 AND version = $10",
            params![&p.id, &p.name, definition(p), p.priority, p.active, p.budget.max_uses,
                    p.budget.max_discount_minor, p.updated_at.to_text(), p.version, read_version,
                    p.budget.max_uses_per_customer],
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

/// The active promotions in a currency, by priority (the definitions a cache may keep).
pub async fn active(conn: &mut Conn, currency: kernel::Currency) -> Result<Vec<Promotion>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM promotions WHERE active = 1 AND currency = $1 ORDER BY priority DESC, id"
    );
    conn.query(&sql, params![currency.code()])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The use so far of the active promotions that have a limit, and `customer`'s uses of
/// those limited per customer: read fresh for every basket (the definitions may be cached,
/// their use may not).
pub async fn usage_of_limited(
    conn: &mut Conn,
    customer: Option<&str>,
) -> Result<BTreeMap<String, Usage>, Error> {
    let rows = conn
        .query(
            "SELECT id, uses, discount_minor,
                    CASE WHEN max_uses_per_customer IS NULL THEN 0 ELSE
                      (SELECT COUNT(*) FROM promotion_uses u
                        WHERE u.promotion_id = p.id AND u.customer_id = $1 AND u.status = 'taken') END AS customer_uses
             FROM promotions p
             WHERE active = 1 AND (max_uses IS NOT NULL OR max_discount IS NOT NULL OR max_uses_per_customer IS NOT NULL)",
            params![customer.unwrap_or("")],
        )
        .await?;
    let mut usage = BTreeMap::new();
    for row in rows {
        usage.insert(
            row.text("id")?,
            Usage {
                uses: row.int("uses")?,
                discount_minor: row.int("discount_minor")?,
                customer_uses: row.int("customer_uses")?,
            },
        );
    }
    Ok(usage)
}

/// Records `order`'s use of each applied promotion: one conditional UPDATE of their
/// counters, within their limits (every row must pass, or the order is refused — another
/// order took the last use or euro meanwhile). For the promotions in `per_customer` (a
/// limit of uses per customer) the customer's uses are counted after that UPDATE locked
/// their rows, and this one recorded.
pub async fn take_uses(
    conn: &mut Conn,
    order_id: &str,
    customer: Option<&str>,
    applied: &[Applied],
    per_customer: &[String],
    at: Timestamp,
) -> Result<(), Error> {
    if applied.is_empty() {
        return Ok(());
    }
    let all: Vec<&Applied> = applied.iter().collect();
    take_counted(conn, &all).await?;
    let (Some(customer), false) = (customer, per_customer.is_empty()) else {
        return Ok(());
    };
    let limited: Vec<&Applied> = applied
        .iter()
        .filter(|a| per_customer.contains(&a.promotion_id))
        .collect();
    check_per_customer(conn, customer, &limited).await?;
    for a in limited {
        conn.execute(
            "INSERT INTO promotion_uses (promotion_id, order_id, customer_id, coupon, amount_minor, status, at)
             VALUES ($1, $2, $3, $4, $5, 'taken', $6)",
            params![&a.promotion_id, order_id, customer, &a.coupon, a.amount_minor + a.shipping_minor, at.to_text()],
        )
        .await?;
    }
    Ok(())
}

/// The parameters of a statement over the promotions of `applied` — each id, then what the
/// order got of it — with `id IN (…)` and `(CASE id WHEN … THEN … END)` over them.
fn by_promotion<'a>(applied: impl Iterator<Item = &'a Applied>) -> (Vec<Value>, String, String) {
    let mut values: Vec<Value> = Vec::new();
    let (mut ids, mut cases) = (Vec::new(), String::new());
    for a in applied {
        values.push(Value::from(a.promotion_id.as_str()));
        values.push(Value::from(a.amount_minor + a.shipping_minor));
        ids.push(format!("${}", values.len() - 1));
        cases.push_str(&format!(
            " WHEN ${} THEN ${}",
            values.len() - 1,
            values.len()
        ));
    }
    (values, ids.join(", "), format!("(CASE id{cases} END)"))
}

/// Takes a use of each promotion within its limits, in one statement.
async fn take_counted(conn: &mut Conn, counted: &[&Applied]) -> Result<(), Error> {
    let (values, ids, amount) = by_promotion(counted.iter().copied());
    let sql = format!(
        "UPDATE promotions SET uses = uses + 1, discount_minor = discount_minor + {amount}
         WHERE id IN ({ids}) AND active = 1 AND (max_uses IS NULL OR uses < max_uses)
           AND (max_discount IS NULL OR discount_minor + {amount} <= max_discount)"
    );
    if conn.execute(&sql, &values).await? != counted.len() as u64 {
        return Err(ran_out(conn, counted).await);
    }
    Ok(())
}

/// Refuses the order when a promotion limited per customer was used as often as this
/// customer may.
async fn check_per_customer(
    conn: &mut Conn,
    customer: &str,
    applied: &[&Applied],
) -> Result<(), Error> {
    let ids: Vec<Value> = applied
        .iter()
        .map(|a| Value::from(a.promotion_id.as_str()))
        .collect();
    let sql = format!(
        "SELECT p.id, p.max_uses_per_customer,
                (SELECT COUNT(*) FROM promotion_uses u
                  WHERE u.promotion_id = p.id AND u.customer_id = ${} AND u.status = 'taken') AS n
         FROM promotions p WHERE p.id IN ({}) AND p.max_uses_per_customer IS NOT NULL",
        ids.len() + 1,
        crate::sql::placeholders(1, ids.len())
    );
    let mut values = ids;
    values.push(Value::from(customer));
    for row in conn.query(&sql, &values).await? {
        if row.int("n")? >= row.int("max_uses_per_customer")? {
            let id = row.text("id")?;
            let a = applied.iter().find(|a| a.promotion_id == id);
            return Err(ran_out_named(
                a.map_or(id.as_str(), |a| a.name.as_str()),
                &id,
            ));
        }
    }
    Ok(())
}

/// Which promotion of the order ran out (read after the failed UPDATE, for the message).
async fn ran_out(conn: &mut Conn, applied: &[&Applied]) -> Error {
    for a in applied {
        let amount = a.amount_minor + a.shipping_minor;
        let still = conn
            .query_opt(
                "SELECT id FROM promotions WHERE id = $1 AND active = 1 AND (max_uses IS NULL OR uses < max_uses)
                   AND (max_discount IS NULL OR discount_minor + $2 <= max_discount)",
                params![&a.promotion_id, amount],
            )
            .await;
        if !matches!(still, Ok(Some(_))) {
            return ran_out_named(&a.name, &a.promotion_id);
        }
    }
    ran_out_named("of this order", "")
}

fn ran_out_named(name: &str, id: &str) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("the promotion “{name}” ran out meanwhile; price the cart again"),
    )
    .with("promotion_id", id)
}

/// Gives back an order's uses (it was cancelled or lapsed): its promotions may be used
/// again, their counters down by what the order got.
pub async fn release_uses(
    conn: &mut Conn,
    order_id: &str,
    applied: &[Applied],
) -> Result<(), Error> {
    if applied.is_empty() {
        return Ok(());
    }
    let (values, ids, amount) = by_promotion(applied.iter());
    let sql = format!(
        "UPDATE promotions SET uses = uses - 1, discount_minor = discount_minor - {amount}
         WHERE id IN ({ids})"
    );
    conn.execute(&sql, &values).await?;
    conn.execute(
        "UPDATE promotion_uses SET status = 'released' WHERE order_id = $1 AND status = 'taken'",
        params![order_id],
    )
    .await?;
    Ok(())
}

/// A promotion's use so far: the orders holding a use and the discount they got.
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
