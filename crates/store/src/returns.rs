//! Returns in SQL: goods back from an order, in any store that takes returns or by mail.
//!
//! One command per return: each line's `returned` rises by a conditional write
//! (`… WHERE returned + q <= sold`), so two returns of the same line at once can never
//! exceed what was bought — the second finds the bound and is refused whole. Stock
//! re-enters the receiving location as a `return` movement (a damaged unit is then written
//! off by an adjustment, so the ledger tells both facts). The money goes back to the
//! original payments (never more than they captured), as store credit, or into an exchange
//! sale placed in the same transaction.

use catalog::location::Capability;
use inventory::ledger::MovementKind;
use kernel::{Error, ErrorCode, Timestamp};
use orders::FulfilmentMode;
use orders::payment::PaymentMethod;
use orders::returns::{self, Condition, RefundMethod, ReturnableLine};
use outbox::Event;
use outbox::payloads::OrderReturned;

use crate::orders::{NewOrder, NewOrderLine, NewPayment, Order, ProviderRefund};
use crate::sql::{Conn, corrupt};
use crate::stock::{self, NewMovement};
use crate::{Db, events, params, rows};

/// Units of one order line coming back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLineIn {
    pub line_no: i64,
    pub quantity: i64,
    pub condition: Condition,
}

/// The new sale of an exchange, priced by the caller.
#[derive(Debug, Clone)]
pub struct ExchangeSale {
    pub lines: Vec<NewOrderLine>,
    /// The country whose VAT the lines carry.
    pub tax_country: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewReturn {
    pub order_id: String,
    /// The receiving location (a store with `returns`, or where mail returns arrive).
    pub location: String,
    pub by_mail: bool,
    pub lines: Vec<ReturnLineIn>,
    pub method: RefundMethod,
    pub exchange: Option<ExchangeSale>,
    /// The channel the exchange sale is recorded on (the receiving store's till).
    pub exchange_channel: String,
    pub window_days: i64,
    /// Give the delivery's price back although goods of the order stay with the customer
    /// (staff's decision: a wrong or faulty item). It goes back anyway with the last unit.
    pub refund_shipping: bool,
}

pub use orders::returns::ReturnedLine;

pub use orders::returns::Return;

/// When the customer got the goods: the last hand-over in the order's history, else the
/// order's date (a POS sale).
async fn received_at(conn: &mut Conn, order: &Order) -> Result<Timestamp, Error> {
    let row = conn
        .query_opt(
            "SELECT MAX(at) AS at FROM order_history WHERE order_id = $1
             AND to_state IN ('collected', 'shipped', 'delivered', 'handed_over', 'purchased')",
            params![&order.id],
        )
        .await?;
    match row.and_then(|r| r.opt_text("at").ok().flatten()) {
        Some(at) => Timestamp::parse(&at).map_err(|e| corrupt("at", &e)),
        None => Ok(order.created_at),
    }
}

/// Records a return; returns it and the provider refunds due after commit.
pub async fn record(
    conn: &mut Conn,
    new: &NewReturn,
    actor: &str,
    now: Timestamp,
) -> Result<(Return, Vec<ProviderRefund>), Error> {
    let order = crate::orders::get_in(conn, &new.order_id).await?;
    returns::check_window(received_at(conn, &order).await?, now, new.window_days)?;
    let place = crate::locations::find_location(conn, &new.location)
        .await?
        .ok_or_else(|| Error::unknown_reference("location", "location", &new.location))?;
    if !place.capabilities.contains(&Capability::Returns) {
        return Err(Error::validation(
            "location",
            format!("{} does not take returns", place.code),
        ));
    }
    if new.lines.is_empty() {
        return Err(Error::validation("lines", "return at least one line"));
    }
    let id = kernel::id::new_id("ret");
    let mut returned = Vec::with_capacity(new.lines.len());
    let mut tax = 0;
    for (i, line_in) in new.lines.iter().enumerate() {
        let line = order
            .lines
            .iter()
            .find(|l| l.line_no == line_in.line_no)
            .ok_or_else(|| {
                Error::validation(
                    &format!("lines[{i}].line"),
                    format!("the order has no line {}", line_in.line_no),
                )
            })?;
        let amount = returns::value_of_return(
            &ReturnableLine {
                line_no: line.line_no,
                bought: line.sold,
                returned: line.returned,
                quantity: line.quantity,
                paid_minor: line.paid_minor(),
            },
            line_in.quantity,
        )?;
        // The bound again, against what other commands (other nodes) wrote since the read.
        let taken = conn
            .execute(
                "UPDATE order_lines SET returned = returned + $3 WHERE order_id = $1 AND line_no = $2 AND returned + $3 <= sold",
                params![&order.id, line.line_no, line_in.quantity],
            )
            .await?;
        if taken != 1 {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "line {} was returned meanwhile; nothing more can come back",
                    line.line_no
                ),
            )
            .with("line", line.line_no));
        }
        tax += line.tax_of(line.returned, line_in.quantity);
        restock(conn, &id, &new.location, &line.sku, line_in, actor).await?;
        returned.push(ReturnedLine {
            line_no: line.line_no,
            sku: line.sku.clone(),
            quantity: line_in.quantity,
            condition: line_in.condition,
            amount_minor: amount,
            note: line.return_note(line_in.quantity, amount, order.currency),
        });
    }
    let value: i64 = returned.iter().map(|l| l.amount_minor).sum();
    let all_back = order.lines.iter().all(|l| {
        let now_back: i64 = new
            .lines
            .iter()
            .filter(|r| r.line_no == l.line_no)
            .map(|r| r.quantity)
            .sum();
        l.sold == l.quantity && l.returned + now_back == l.sold
    });
    let shipping = shipping_back(conn, &order, new.refund_shipping, all_back).await?;
    tax += order
        .shipping
        .as_ref()
        .filter(|_| shipping > 0)
        .map_or(0, |s| s.tax_minor);
    // What the customer gets back: the goods, and the delivery when it goes back.
    let credit = value + shipping;
    let mut r = Return {
        id: id.clone(),
        order_id: order.id.clone(),
        location: new.location.clone(),
        by_mail: new.by_mail,
        method: new.method,
        value_minor: value,
        tax_minor: tax,
        shipping_minor: shipping,
        refund_minor: 0,
        paid_minor: 0,
        currency: order.currency,
        exchange_order: None,
        store_credit_id: None,
        lines: returned,
        actor: actor.to_owned(),
        created_at: now,
    };
    let mut refunds = Vec::new();
    match new.method {
        RefundMethod::OriginalPayment => {
            refunds = crate::orders::refund(conn, &order, credit, actor).await?;
            r.refund_minor = credit;
        }
        RefundMethod::StoreCredit => {
            let credit_id = kernel::id::new_id("crd");
            let account = crate::stored_value::NewAccount {
                id: credit_id.clone(),
                kind: crate::stored_value::Kind::Credit,
                customer_id: order.customer_id.clone(),
                currency: order.currency,
                amount_minor: credit,
                code_hash: None,
                code_hint: None,
                pin_hash: None,
                expires_at: None,
                return_id: Some(id.clone()),
                order_id: None,
                reason: None,
                at: now,
            };
            crate::stored_value::open(conn, &account, actor).await?;
            r.store_credit_id = Some(credit_id);
        }
        RefundMethod::Exchange => {
            let sale = new.exchange.as_ref().ok_or_else(|| {
                Error::validation("exchange", "an exchange names the goods taken instead")
            })?;
            let listed =
                orders::cart::total(sale.lines.iter().map(|l| (l.unit_price_minor, l.quantity)))?;
            let total = listed + sale.lines.iter().map(|l| l.tax_added_minor).sum::<i64>();
            let settle = returns::settle_exchange(credit, total);
            let mut payments = vec![];
            if total - settle.customer_pays_minor > 0 {
                payments.push(NewPayment {
                    method: PaymentMethod::Exchange,
                    amount_minor: total - settle.customer_pays_minor,
                    provider_ref: Some(id.clone()),
                });
            }
            if settle.customer_pays_minor > 0 {
                payments.push(NewPayment {
                    method: PaymentMethod::PayInStore,
                    amount_minor: settle.customer_pays_minor,
                    provider_ref: None,
                });
            }
            let exchange = crate::orders::place(
                conn,
                &NewOrder {
                    customer_id: order.customer_id.clone(),
                    cart: None,
                    channel: new.exchange_channel.clone(),
                    hold_channel: None,
                    mode: FulfilmentMode::CarryOut,
                    location: Some(new.location.clone()),
                    owner: None,
                    currency: order.currency,
                    lines: sale.lines.clone(),
                    payments,
                    deadline_at: None,
                    hold_ttl_s: 3600,
                    routing: None,
                    exchange_of: Some(order.id.clone()),
                    promotions: Vec::new(),
                    limited_per_customer: Vec::new(),
                    tax_country: sale.tax_country.clone(),
                    shipping: None,
                },
                actor,
                now,
            )
            .await?;
            if settle.refund_minor > 0 {
                refunds = crate::orders::refund(conn, &order, settle.refund_minor, actor).await?;
            }
            r.refund_minor = settle.refund_minor;
            r.paid_minor = settle.customer_pays_minor;
            r.exchange_order = Some(exchange.id);
        }
    }
    insert(conn, &r).await?;
    let returned = OrderReturned {
        return_id: r.id.clone(),
        order_id: r.order_id.clone(),
        location: r.location.clone(),
        by_mail: r.by_mail,
        method: r.method,
        value_minor: r.value_minor,
        refund_minor: r.refund_minor,
        paid_minor: r.paid_minor,
        currency: r.currency,
        exchange_order: r.exchange_order.clone(),
        lines: r.lines.clone(),
    };
    events::emit(conn, Event::OrderReturned(&returned), &order.id, actor).await?;
    Ok((r, refunds))
}

/// The delivery's price given back by this return: all of it when every unit bought comes
/// back with it or staff ask so, once per order (a conditional write, so two returns at
/// once never both refund it); 0 otherwise.
async fn shipping_back(
    conn: &mut Conn,
    order: &Order,
    asked: bool,
    all_back: bool,
) -> Result<i64, Error> {
    let paid = order.shipping.as_ref().map_or(0, |s| s.paid_minor());
    if !(asked || all_back) || (paid == 0 && !asked) {
        return Ok(0);
    }
    let refused = |why: &str| {
        Error::new(ErrorCode::Conflict, why.to_owned()).with("order_id", order.id.clone())
    };
    if paid == 0 {
        return Err(refused("nothing was paid for this order's delivery"));
    }
    let taken = conn
        .execute(
            "UPDATE orders SET shipping_refunded_minor = $2 WHERE id = $1 AND shipping_refunded_minor = 0",
            params![&order.id, paid],
        )
        .await?;
    match (taken, asked) {
        (1, _) => Ok(paid),
        (_, true) => Err(refused("the delivery of this order was refunded already")),
        (_, false) => Ok(0),
    }
}

/// Stock back in at the receiving location; a damaged unit is written off at once.
async fn restock(
    conn: &mut Conn,
    return_id: &str,
    location: &str,
    sku: &str,
    line: &ReturnLineIn,
    actor: &str,
) -> Result<(), Error> {
    let movement = |kind, quantity, reason: &str| NewMovement {
        sku: sku.to_owned(),
        location: location.to_owned(),
        kind,
        quantity,
        reason: reason.to_owned(),
        reference: Some(return_id.to_owned()),
        client_key: None,
    };
    stock::record_movement(
        conn,
        &movement(MovementKind::Return, line.quantity, "customer return"),
        actor,
    )
    .await?;
    if line.condition == Condition::Damaged {
        stock::record_movement(
            conn,
            &movement(
                MovementKind::Adjustment,
                -line.quantity,
                "returned damaged: written off",
            ),
            actor,
        )
        .await?;
    }
    Ok(())
}

async fn insert(conn: &mut Conn, r: &Return) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO returns (id, order_id, location, by_mail, method, value_minor, refund_minor, paid_minor, currency,
                              exchange_order, store_credit_id, actor, created_at, tax_minor, shipping_minor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        params![&r.id, &r.order_id, &r.location, r.by_mail, r.method.as_str(), r.value_minor, r.refund_minor,
                r.paid_minor, r.currency.code(), &r.exchange_order, &r.store_credit_id, &r.actor, r.created_at.to_text(),
                r.tax_minor, r.shipping_minor],
    )
    .await?;
    for l in &r.lines {
        conn.execute(
            "INSERT INTO return_lines (return_id, line_no, sku, quantity, condition, amount_minor, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            params![&r.id, l.line_no, &l.sku, l.quantity, l.condition.as_str(), l.amount_minor, &l.note],
        )
        .await?;
    }
    Ok(())
}

/// The returns of an order.
pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<Return>, Error> {
    let mut conn = db.read().await?;
    let found = conn
        .query(
            "SELECT * FROM returns WHERE order_id = $1 ORDER BY created_at, id",
            params![order_id],
        )
        .await?;
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        let id = row.text("id")?;
        let lines = conn
            .query(
                "SELECT * FROM return_lines WHERE return_id = $1 ORDER BY line_no",
                params![&id],
            )
            .await?
            .iter()
            .map(|l| {
                Ok(ReturnedLine {
                    line_no: l.int("line_no")?,
                    sku: l.text("sku")?,
                    quantity: l.int("quantity")?,
                    condition: rows::parsed(l, "condition", Condition::parse)?,
                    amount_minor: l.int("amount_minor")?,
                    note: l.opt_text("note")?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        out.push(Return {
            id,
            order_id: row.text("order_id")?,
            location: row.text("location")?,
            by_mail: row.int("by_mail")? != 0,
            method: rows::parsed(&row, "method", RefundMethod::parse)?,
            value_minor: row.int("value_minor")?,
            tax_minor: row.int("tax_minor")?,
            shipping_minor: row.int("shipping_minor")?,
            refund_minor: row.int("refund_minor")?,
            paid_minor: row.int("paid_minor")?,
            currency: rows::currency(&row, "currency")?,
            exchange_order: row.opt_text("exchange_order")?,
            store_credit_id: row.opt_text("store_credit_id")?,
            lines,
            actor: row.text("actor")?,
            created_at: rows::timestamp(&row, "created_at")?,
        });
    }
    Ok(out)
}
