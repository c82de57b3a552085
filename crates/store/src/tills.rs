//! The offline till in SQL: tills and the batches they uploaded, sales recorded as they were
//! rung up, and the conflicts they open in the store's queue.
//!
//! A batch applies once: `tills.last_seq` moves from `seq - 1` to `seq` by a conditional
//! write in the batch's command, so the same batch posted twice — on two nodes at once, or a
//! month later — applies once, and a batch can only follow the one before it. Its answer is
//! kept (`till_batches`) and given again to a replay. An offline sale is never refused: it
//! takes the stock even below what is held or below zero, and what it found short is
//! answered to the caller, which opens the conflict.

use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::FulfilmentMode;
use orders::payment::Payment;
use outbox::Event;
use outbox::payloads::{PosConflict, StockMoved, TillBatchApplied};
use serde::Serialize;

use crate::orders::{NewPayment, Order, OrderLine, PaymentRecord};
use crate::sql::{Conn, Row};
use kernel::{Page, PageRequest};

use crate::{Db, events, params, rows};

/// A till: one store's, selling on that store's till channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Till {
    pub id: String,
    pub location: String,
    pub channel: String,
    /// The last batch applied (0 before the first).
    pub last_seq: i64,
    pub last_batch_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

fn till_from_row(r: &Row) -> Result<Till, Error> {
    Ok(Till {
        id: r.text("id")?,
        location: r.text("location")?,
        channel: r.text("channel")?,
        last_seq: r.int("last_seq")?,
        last_batch_at: rows::opt_timestamp(r, "last_batch_at")?,
        created_at: rows::timestamp(r, "created_at")?,
    })
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Till>, Error> {
    conn.query_opt("SELECT * FROM tills WHERE id = $1", params![id])
        .await?
        .as_ref()
        .map(till_from_row)
        .transpose()
}

/// The till, registered at `location` on its first batch.
pub async fn register(
    conn: &mut Conn,
    id: &str,
    location: &str,
    channel: &str,
    now: Timestamp,
) -> Result<Till, Error> {
    conn.execute(
        "INSERT INTO tills (id, location, channel, last_seq, created_at) VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (id) DO NOTHING",
        params![id, location, channel, now.to_text()],
    )
    .await?;
    find(conn, id)
        .await?
        .ok_or_else(|| Error::internal("a till just registered is missing"))
}

/// The digest and kept answer of batch `seq` of a till, if it was applied.
pub async fn applied_batch(
    conn: &mut Conn,
    till: &str,
    seq: i64,
) -> Result<Option<(String, String)>, Error> {
    conn.query_opt(
        "SELECT digest, answer FROM till_batches WHERE till_id = $1 AND seq = $2",
        params![till, seq],
    )
    .await?
    .map(|r| Ok((r.text("digest")?, r.text("answer")?)))
    .transpose()
}

/// Moves the till from batch `seq - 1` to `seq`; false when another command did (or the
/// batch does not follow the last one).
pub async fn advance(conn: &mut Conn, till: &str, seq: i64, now: Timestamp) -> Result<bool, Error> {
    Ok(conn
        .execute(
            "UPDATE tills SET last_seq = $2, last_batch_at = $3 WHERE id = $1 AND last_seq = $2 - 1",
            params![till, seq, now.to_text()],
        )
        .await?
        == 1)
}

/// What a batch did, as answered.
#[derive(Debug, Clone, Copy)]
pub struct BatchCounts {
    pub sales: i64,
    pub returns: i64,
    pub movements: i64,
    pub conflicts: i64,
}

/// Keeps a batch's answer for its replays, with `relais.pos.batch_applied`.
pub async fn keep_batch(
    conn: &mut Conn,
    till: &Till,
    (seq, digest, answer): (i64, &str, &str),
    counts: BatchCounts,
    actor: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO till_batches (till_id, seq, digest, answer, received_at, actor) VALUES ($1, $2, $3, $4, $5, $6)",
        params![&till.id, seq, digest, answer, Timestamp::now().to_text(), actor],
    )
    .await?;
    let applied = TillBatchApplied {
        till_id: till.id.clone(),
        location: till.location.clone(),
        seq,
        sales: counts.sales,
        returns: counts.returns,
        movements: counts.movements,
        conflicts: counts.conflicts,
    };
    events::emit(conn, Event::TillBatchApplied(&applied), &till.id, actor).await
}

/// One line of a sale, as the till rang it up (its price, discount and VAT are the receipt's).
#[derive(Debug, Clone)]
pub struct SaleLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub tax_rate_bp: i64,
    pub tax_minor: i64,
}

/// A sale rung up offline, its payments already settled against stored value and points.
#[derive(Debug, Clone)]
pub struct Sale {
    pub receipt: String,
    pub at: Timestamp,
    pub currency: Currency,
    pub customer_id: Option<String>,
    pub lines: Vec<SaleLine>,
    pub payments: Vec<NewPayment>,
}

/// What a sale found short: units of a SKU the store no longer had free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockShort {
    pub sku: String,
    pub units: i64,
}

/// The order a till receipt already became, if any.
pub async fn order_of_receipt(
    conn: &mut Conn,
    till: &str,
    receipt: &str,
) -> Result<Option<String>, Error> {
    conn.query_opt(
        "SELECT id FROM orders WHERE till_id = $1 AND till_receipt = $2",
        params![till, receipt],
    )
    .await?
    .map(|r| r.text("id"))
    .transpose()
}

/// Records sales as completed till orders, in one pass for the whole run of them: their
/// lines sold, payments captured, stock taken whatever is left (one update and one movement
/// per SKU; `posting` names the till's batch), events written together. Answers each order
/// and what it found short, in the sales' order. (A statement costs the writer more than its
/// rows: a batch writes a handful of statements per SKU rather than a dozen per sale.)
pub async fn record_sales(
    conn: &mut Conn,
    till: &Till,
    (sales, posting): (&[Sale], &str),
    actor: &str,
) -> Result<Vec<(Order, Vec<StockShort>)>, Error> {
    let mut orders: Vec<Order> = sales.iter().map(|s| till_order(till, s)).collect();
    insert_orders(conn, till, sales, &orders).await?;
    insert_lines(conn, &orders).await?;
    for (order, sale) in orders.iter_mut().zip(sales) {
        order.payments = payment_records(sale)?;
    }
    insert_payments(conn, &orders).await?;
    let (shorts, moved) = take_stock(conn, till, (&orders, posting), actor).await?;
    let placed: Vec<_> = orders.iter().map(crate::orders::summary).collect();
    let mut events: Vec<(Event<'_>, &str)> = Vec::with_capacity(moved.len() + placed.len());
    for m in &moved {
        events.push((Event::StockMoved(m), m.movement.sku.as_str()));
    }
    for (p, o) in placed.iter().zip(&orders) {
        events.push((Event::OrderPlaced(p), o.id.as_str()));
    }
    events::emit_all(conn, &events, actor).await?;
    Ok(orders.into_iter().zip(shorts).collect())
}

async fn insert_orders(
    conn: &mut Conn,
    till: &Till,
    sales: &[Sale],
    orders: &[Order],
) -> Result<(), Error> {
    let owner = conn
        .query_one(
            "SELECT owner_kind, owner_name FROM locations WHERE code = $1",
            params![&till.location],
        )
        .await?;
    let (kind, name) = (owner.text("owner_kind")?, owner.text("owner_name")?);
    let rows = orders
        .iter()
        .zip(sales)
        .map(|(o, s)| {
            params![
                &o.id,
                &o.customer_id,
                &till.channel,
                o.state.as_str(),
                &till.location,
                &kind,
                &name,
                o.currency.code(),
                o.total_minor,
                &o.receipt_token,
                s.at.to_text(),
                o.discount_minor,
                o.tax_minor,
                &till.id,
                &s.receipt,
                s.at.to_text()
            ]
            .to_vec()
        })
        .collect();
    crate::sql::insert_rows(
        conn,
        "INSERT INTO orders (id, customer_id, channel, state, location, owner_kind, owner_name, currency, total_minor,
                             receipt_token, created_at, discount_minor, tax_minor, till_id, till_receipt,
                             updated_at, mode, version) VALUES ",
        (16, ", 'carry_out', 1"),
        rows,
    )
    .await
}
/// The completed order a till sale becomes (its payments added as they are recorded).
fn till_order(till: &Till, sale: &Sale) -> Order {
    let lines = order_lines(sale, &till.location);
    Order {
        id: kernel::id::new_id("ord"),
        customer_id: sale.customer_id.clone(),
        cart_id: None,
        channel: till.channel.clone(),
        mode: FulfilmentMode::CarryOut,
        state: FulfilmentMode::CarryOut.initial(),
        location: Some(till.location.clone()),
        owner_kind: None,
        owner_name: None,
        currency: sale.currency,
        total_minor: lines.iter().map(OrderLine::paid_minor).sum(),
        discount_minor: lines.iter().map(|l| l.discount_minor).sum(),
        promotions: vec![],
        tax_country: None,
        tax_minor: lines.iter().map(|l| l.tax_minor).sum(),
        shipping: None,
        shipping_refunded_minor: 0,
        pickup_code: None,
        receipt_token: orders::receipt::new_token(),
        deadline_at: None,
        routing: None,
        exchange_of: None,
        lines,
        payments: Vec::new(),
        created_at: sale.at,
        updated_at: sale.at,
        version: 1,
    }
}

fn order_lines(sale: &Sale, location: &str) -> Vec<OrderLine> {
    sale.lines
        .iter()
        .enumerate()
        .map(|(i, l)| OrderLine {
            line_no: i as i64 + 1,
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit_price_minor: l.unit_price_minor,
            discount_minor: l.discount_minor,
            discounts: vec![],
            tax_rate_bp: l.tax_rate_bp,
            tax_minor: l.tax_minor,
            tax_added_minor: 0,
            location: location.to_owned(),
            hold_id: None,
            sold: l.quantity,
            returned: 0,
        })
        .collect()
}

async fn insert_lines(conn: &mut Conn, orders: &[Order]) -> Result<(), Error> {
    let rows = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(move |l| (o, l)))
        .map(|(o, l)| {
            params![
                &o.id,
                l.line_no,
                &l.sku,
                l.quantity,
                l.unit_price_minor,
                &l.location,
                l.quantity,
                l.discount_minor,
                l.tax_rate_bp,
                l.tax_minor
            ]
            .to_vec()
        })
        .collect();
    crate::sql::insert_rows(
        conn,
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, location, sold,
                                  discount_minor, tax_rate_bp, tax_minor, tax_added_minor, returned) VALUES ",
        (10, ", 0, 0"),
        rows,
    )
    .await
}

/// The till's payments, captured (stored value and points were settled by the caller).
fn payment_records(sale: &Sale) -> Result<Vec<PaymentRecord>, Error> {
    sale.payments
        .iter()
        .map(|p| {
            let mut amounts = Payment::authorised(p.method, sale.currency, p.amount_minor)?;
            amounts.capture(p.amount_minor)?;
            Ok(PaymentRecord {
                id: kernel::id::new_id("pay"),
                provider_ref: p.provider_ref.clone(),
                amounts,
            })
        })
        .collect()
}

async fn insert_payments(conn: &mut Conn, orders: &[Order]) -> Result<(), Error> {
    let rows = orders
        .iter()
        .flat_map(|o| o.payments.iter().map(move |p| (o, p)))
        .map(|(o, p)| {
            params![
                &p.id,
                &o.id,
                p.amounts.method.as_str(),
                o.currency.code(),
                p.amounts.authorised,
                p.amounts.captured,
                &p.provider_ref,
                o.created_at.to_text()
            ]
            .to_vec()
        })
        .collect();
    crate::sql::insert_rows(
        conn,
        "INSERT INTO payments (id, order_id, method, currency, authorised, captured, provider_ref, created_at,
                               refunded, voided) VALUES ",
        (8, ", 0, 0"),
        rows,
    )
    .await
}

/// Takes the orders' units from the store's stock whatever is left: one update, one movement
/// and one `relais.stock.moved` per SKU for the run of sales (`posting` names it: the till
/// and its batch; each unit's sale is its order line). Answers, per order in the orders'
/// order, what it found not free (held for other orders, or not there), and the movements.
async fn take_stock(
    conn: &mut Conn,
    till: &Till,
    (orders, posting): (&[Order], &str),
    actor: &str,
) -> Result<(Vec<Vec<StockShort>>, Vec<StockMoved>), Error> {
    let now = Timestamp::now();
    let mut levels = std::collections::BTreeMap::<&str, inventory::Level>::new();
    let mut moved = Vec::new();
    for (sku, units) in units_per_sku(orders) {
        let after = take_units(conn, &till.location, sku, units).await?;
        levels.insert(
            sku,
            inventory::Level {
                on_hand: after.on_hand + units,
                ..after
            },
        );
        let movement = inventory::Movement {
            seq: 0,
            id: kernel::id::new_id("mov"),
            sku: sku.to_owned(),
            location: till.location.clone(),
            kind: inventory::MovementKind::Sale,
            delta: -units,
            reason: format!("till {} offline sales", till.id),
            reference: Some(posting.to_owned()),
            actor: actor.to_owned(),
            at: now,
        };
        let availability = inventory::LevelSnapshot::new(sku, &till.location, after);
        moved.push(StockMoved {
            availability,
            movement,
        });
    }
    let shorts = shortfalls(orders, levels)?;
    let rows = moved
        .iter()
        .map(|m| {
            let m = &m.movement;
            params![
                &m.id,
                &m.sku,
                &m.location,
                m.delta,
                &m.reason,
                &m.reference,
                actor,
                now.to_text()
            ]
            .to_vec()
        })
        .collect();
    crate::sql::insert_rows(
        conn,
        "INSERT INTO stock_movements (id, sku, location, delta, reason, reference, actor, at, kind) VALUES ",
        (8, ", 'sale'"),
        rows,
    )
    .await?;
    Ok((shorts, moved))
}

/// What each order found not free, walking the levels before the run in the orders' order.
fn shortfalls(
    orders: &[Order],
    mut levels: std::collections::BTreeMap<&str, inventory::Level>,
) -> Result<Vec<Vec<StockShort>>, Error> {
    let mut shorts = Vec::with_capacity(orders.len());
    for order in orders {
        let mut short = Vec::new();
        for line in &order.lines {
            let level = levels
                .get_mut(line.sku.as_str())
                .ok_or_else(|| Error::internal("a line's level is missing"))?;
            let free = (level.on_hand - level.held).max(0);
            level.on_hand -= line.quantity;
            if line.quantity > free {
                short.push(StockShort {
                    sku: line.sku.clone(),
                    units: line.quantity - free,
                });
            }
        }
        shorts.push(short);
    }
    Ok(shorts)
}

fn units_per_sku(orders: &[Order]) -> std::collections::BTreeMap<&str, i64> {
    let mut units = std::collections::BTreeMap::new();
    for line in orders.iter().flat_map(|o| &o.lines) {
        *units.entry(line.sku.as_str()).or_insert(0) += line.quantity;
    }
    units
}

/// Takes `units` of a SKU at a location whatever is left; answers the level after.
async fn take_units(
    conn: &mut Conn,
    location: &str,
    sku: &str,
    units: i64,
) -> Result<inventory::Level, Error> {
    let now = Timestamp::now().to_text();
    let row = conn
        .query_opt(
            "UPDATE stock_levels SET on_hand = on_hand - $3, updated_at = $4 WHERE sku = $1 AND location = $2
             RETURNING on_hand, held, safety",
            params![sku, location, units, &now],
        )
        .await?;
    let row = match row {
        Some(row) => row,
        None => conn
            .query_one(
                "INSERT INTO stock_levels (sku, location, on_hand, held, safety, updated_at) VALUES ($1, $2, $3, 0, 0, $4)
                 RETURNING on_hand, held, safety",
                params![sku, location, -units, &now],
            )
            .await
            .map_err(|e| unknown_sku(e, sku))?,
    };
    Ok(inventory::Level {
        on_hand: row.int("on_hand")?,
        held: row.int("held")?,
        safety: row.int("safety")?,
    })
}

fn unknown_sku(e: Error, sku: &str) -> Error {
    if e.code == ErrorCode::UnknownReference {
        Error::new(
            ErrorCode::UnknownReference,
            format!("variant `{sku}` does not exist"),
        )
        .with("sku", sku)
    } else {
        e
    }
}

/// A conflict in a store's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub id: String,
    pub location: String,
    pub till_id: String,
    pub batch_seq: i64,
    pub receipt: String,
    pub order_id: Option<String>,
    /// `stock`, `points`, `coupon` or `gift_card`.
    pub kind: String,
    pub sku: Option<String>,
    pub customer_id: Option<String>,
    /// The coupon code, or the gift card's id.
    pub reference: Option<String>,
    /// Units, points or minor units short.
    pub short: i64,
    pub detail: String,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<Timestamp>,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

fn conflict_from_row(r: &Row) -> Result<Conflict, Error> {
    Ok(Conflict {
        id: r.text("id")?,
        location: r.text("location")?,
        till_id: r.text("till_id")?,
        batch_seq: r.int("batch_seq")?,
        receipt: r.text("receipt")?,
        order_id: r.opt_text("order_id")?,
        kind: r.text("kind")?,
        sku: r.opt_text("sku")?,
        customer_id: r.opt_text("customer_id")?,
        reference: r.opt_text("reference")?,
        short: r.int("short")?,
        detail: r.text("detail")?,
        status: r.text("status")?,
        resolution: r.opt_text("resolution")?,
        resolved_by: r.opt_text("resolved_by")?,
        resolved_at: rows::opt_timestamp(r, "resolved_at")?,
        note: r.opt_text("note")?,
        created_at: rows::timestamp(r, "created_at")?,
    })
}

fn conflict_event(c: &Conflict) -> PosConflict {
    PosConflict {
        id: c.id.clone(),
        location: c.location.clone(),
        till_id: c.till_id.clone(),
        receipt: c.receipt.clone(),
        order_id: c.order_id.clone(),
        kind: c.kind.clone(),
        sku: c.sku.clone(),
        short: c.short,
        status: c.status.clone(),
        resolution: c.resolution.clone(),
    }
}

/// Opens a conflict in its store's queue, with `relais.pos.conflict`.
pub async fn open_conflict(conn: &mut Conn, c: &Conflict, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO pos_conflicts (id, location, till_id, batch_seq, receipt, order_id, kind, sku, customer_id, reference,
                                    short, detail, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $13)",
        params![
            &c.id, &c.location, &c.till_id, c.batch_seq, &c.receipt, &c.order_id, &c.kind, &c.sku,
            &c.customer_id, &c.reference, c.short, &c.detail, c.created_at.to_text()
        ],
    )
    .await?;
    events::emit(
        conn,
        Event::PosConflict(&conflict_event(c)),
        &c.location,
        actor,
    )
    .await
}

pub async fn find_conflict(conn: &mut Conn, id: &str) -> Result<Option<Conflict>, Error> {
    conn.query_opt("SELECT * FROM pos_conflicts WHERE id = $1", params![id])
        .await?
        .as_ref()
        .map(conflict_from_row)
        .transpose()
}

/// A store's conflicts, oldest first, `open` or `resolved` (all when `None`).
pub async fn conflicts(
    db: &Db,
    location: &str,
    status: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Conflict>, Error> {
    let rows = db
        .read()
        .await?
        .query(
            "SELECT * FROM pos_conflicts WHERE location = $1 AND ($2 = '' OR status = $2) AND id > $3
             ORDER BY id LIMIT $4",
            params![location, status.unwrap_or(""), page.after.as_deref().unwrap_or(""), page.fetch_limit()],
        )
        .await?;
    let items = rows
        .iter()
        .map(conflict_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, page, |c| c.id.clone()))
}

/// How many conflicts wait for a decision at a store.
pub async fn count_open_conflicts(db: &Db, location: &str) -> Result<i64, Error> {
    db.read()
        .await?
        .query_one(
            "SELECT COUNT(*) AS n FROM pos_conflicts WHERE location = $1 AND status = 'open'",
            params![location],
        )
        .await?
        .int("n")
}

/// Resolves an open conflict (a conditional write: resolved once), with
/// `relais.pos.conflict_resolved`.
pub async fn resolve_conflict(
    conn: &mut Conn,
    id: &str,
    (resolution, note): (&str, Option<&str>),
    actor: &str,
) -> Result<Conflict, Error> {
    let done = conn
        .execute(
            "UPDATE pos_conflicts SET status = 'resolved', resolution = $2, note = $3, resolved_by = $4, resolved_at = $5
             WHERE id = $1 AND status = 'open'",
            params![id, resolution, note, actor, Timestamp::now().to_text()],
        )
        .await?;
    if done != 1 {
        return Err(
            Error::new(ErrorCode::Conflict, "the conflict was resolved already")
                .with("conflict_id", id),
        );
    }
    let c = find_conflict(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("till conflict", id))?;
    events::emit(
        conn,
        Event::PosConflictResolved(&conflict_event(&c)),
        &c.location,
        actor,
    )
    .await?;
    Ok(c)
}
