//! Orders in SQL: placing an order (holds per line, payment, the cart closed) in one
//! command, moving it through its mode's state machine with the stock and money effects of
//! each step, the deadline sweep (no-shows, expired reservations), queues and histories.
//!
//! Every state change is `UPDATE orders … WHERE id = $1 AND version = $2` after
//! `orders::FulfilmentMode::apply` said yes, so two tills acting on one order at once
//! cannot both win. Stock effects go through [`crate::stock`] (holds committed, released);
//! money effects are conditional updates of `payments` that can never refund more than was
//! captured (a CHECK says so too).

use std::collections::HashMap;

use inventory::HoldOwner;
use kernel::{Currency, Error, ErrorCode, Page, PageRequest, Timestamp};
use orders::payment::{Payment, PaymentMethod};
use orders::{Effect, FulfilmentMode, OrderState, Transition};
use outbox::Event;
use outbox::payloads::{OrderLineSummary, OrderMoved, OrderSummary, PaymentRefunded};
use serde::Serialize;

use crate::sql::{Conn, Row, Value, corrupt};
use crate::stock::{self, HoldAction, NewHold};
use crate::{Db, events, params, rows};

/// How long a collected-or-not pickup order waits at the store by default.
pub const DEFAULT_PICKUP_DAYS: i64 = 7;

pub use orders::order::{Order, OrderLine, PaymentRecord};

/// A line to place.
#[derive(Debug, Clone)]
pub struct NewOrderLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// Off the line's units together, by promotions (their sum).
    pub discounts: Vec<promotions::LineDiscount>,
    /// The line's VAT rate, the VAT in what it costs, and the VAT added on top of its price
    /// (tax-exclusive countries only), as decided by the caller.
    pub tax_rate_bp: i64,
    pub tax_minor: i64,
    pub tax_added_minor: i64,
    pub location: String,
    /// The cart line's hold, adopted when it still holds these units there.
    pub cart_hold: Option<String>,
    /// The hold channel's safety stock here, when the caller checked its policy already
    /// (from the API's reference cache); `None` checks inside the command.
    pub checked_channel_safety: Option<i64>,
}

/// The cart an order comes from.
#[derive(Debug, Clone)]
pub struct FromCart {
    pub id: String,
    /// The version checkout read: the cart must not have changed since.
    pub version: i64,
    /// Close the cart as ordered (the first order of a checkout; the others of a basket
    /// split by fulfilment come from the cart it already closed).
    pub close: bool,
}

/// A payment taken with the order.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub method: PaymentMethod,
    pub amount_minor: i64,
    pub provider_ref: Option<String>,
}

/// An order to place.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: Option<String>,
    /// The cart it comes from.
    pub cart: Option<FromCart>,
    pub channel: String,
    /// The channel whose sourcing policy and safety stock apply to the holds (`None`: staff,
    /// the store's own till).
    pub hold_channel: Option<String>,
    pub mode: FulfilmentMode,
    pub location: Option<String>,
    /// The location's owner when the caller knows it (the API's reference cache); `None`
    /// reads it in the command. An unknown location is refused either way (foreign key).
    pub owner: Option<catalog::Owner>,
    pub currency: Currency,
    pub lines: Vec<NewOrderLine>,
    /// Payments taken now (captured at once).
    pub payments: Vec<NewPayment>,
    pub deadline_at: Option<Timestamp>,
    /// Lifetime of the order's holds: past the order's own deadline, so the order sweep,
    /// not the hold sweep, ends them.
    pub hold_ttl_s: i64,
    pub routing: Option<serde_json::Value>,
    pub exchange_of: Option<String>,
    /// The promotions the lines' discounts come from, each recorded as used by the order.
    pub promotions: Vec<promotions::Applied>,
    /// Those of them limited per customer: the order counts against the customer's uses.
    pub limited_per_customer: Vec<String>,
    /// The country whose VAT the lines carry.
    pub tax_country: Option<String>,
    /// A ship order's delivery, priced and taxed by the caller.
    pub shipping: Option<orders::delivery::OrderShipping>,
}

impl NewOrderLine {
    fn discount_minor(&self) -> i64 {
        self.discounts.iter().map(|d| d.amount_minor).sum()
    }
}

/// Places an order: the cart closes, every line's stock is held (a cart hold is adopted when
/// it covers the line), payments are recorded, a POS sale is committed at once, and
/// `relais.order.placed` is emitted. Any refusal rolls the whole command back.
pub async fn place(
    conn: &mut Conn,
    new: &NewOrder,
    actor: &str,
    now: Timestamp,
) -> Result<Order, Error> {
    let id = kernel::id::new_id("ord");
    if let Some(cart) = new.cart.as_ref().filter(|c| c.close) {
        crate::carts::close_as_ordered(conn, &cart.id, cart.version, &id, now).await?;
    }
    let subtotal = orders::cart::total(new.lines.iter().map(|l| (l.unit_price_minor, l.quantity)))?;
    let discount: i64 = new.lines.iter().map(NewOrderLine::discount_minor).sum();
    let added: i64 = new.lines.iter().map(|l| l.tax_added_minor).sum();
    let shipped = new.shipping.as_ref();
    let tax: i64 =
        new.lines.iter().map(|l| l.tax_minor).sum::<i64>() + shipped.map_or(0, |s| s.tax_minor);
    let total = subtotal - discount + added + shipped.map_or(0, |s| s.paid_minor());
    let (owner_kind, owner_name) = match (&new.location, &new.owner) {
        (Some(_), Some(owner)) => (
            Some(crate::locations::owner_kind_text(owner.kind).to_owned()),
            Some(owner.name.clone()),
        ),
        (Some(code), None) => {
            let owner = conn
                .query_opt(
                    "SELECT owner_kind, owner_name FROM locations WHERE code = $1",
                    params![code],
                )
                .await?
                .ok_or_else(|| Error::unknown_reference("location", "location", code))?;
            (
                Some(owner.text("owner_kind")?),
                Some(owner.text("owner_name")?),
            )
        }
        (None, _) => (None, None),
    };
    let customer = match &new.customer_id {
        Some(c) => Some(crate::profiles::active_id(conn, c).await?),
        None => None,
    };
    let receipt = orders::receipt::new_token();
    conn.execute(
        "INSERT INTO orders (id, customer_id, cart_id, channel, mode, state, location, owner_kind, owner_name, currency,
                             total_minor, receipt_token, deadline_at, routing, exchange_of, created_at, updated_at, version,
                             discount_minor, promotions, tax_country, tax_minor, shipping)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, 1, $17, $18, $19, $20, $21)",
        params![
            &id, &customer, new.cart.as_ref().map(|c| c.id.clone()), &new.channel, new.mode.as_str(),
            new.mode.initial().as_str(), &new.location, &owner_kind, &owner_name, new.currency.code(),
            total, &receipt, new.deadline_at.map(|t| t.to_text()),
            new.routing.as_ref().map(rows::to_json), &new.exchange_of, now.to_text(),
            discount, (!new.promotions.is_empty()).then(|| rows::to_json(&new.promotions)),
            &new.tax_country, tax, shipped.map(rows::to_json)
        ],
    )
    .await?;
    let (applied, limited) = (&new.promotions, &new.limited_per_customer);
    crate::promotions::take_uses(conn, &id, customer.as_deref(), applied, limited, now).await?;
    let sold_now = new.mode == FulfilmentMode::CarryOut;
    for a in &new.promotions {
        if let Some(code) = &a.coupon {
            let c = customer.as_deref();
            crate::coupons::take(conn, code, &a.promotion_id, &id, c, sold_now, now, actor).await?;
        }
    }
    let mut holds = Vec::with_capacity(new.lines.len());
    for line in &new.lines {
        holds.push(hold_line(conn, new, &id, line, actor).await?);
    }
    insert_lines(conn, &id, &new.lines, &holds, sold_now).await?;
    let mut payments = Vec::with_capacity(new.payments.len());
    for p in &new.payments {
        payments.push(insert_payment(conn, &id, customer.as_deref(), new.currency, p, now).await?);
    }
    if sold_now {
        for hold in &holds {
            stock::end_hold(conn, hold, HoldAction::Commit(None), actor).await?;
        }
    }
    // Built from what was written rather than read back: the writer is the bottleneck.
    let order = Order {
        id: id.clone(),
        customer_id: customer,
        cart_id: new.cart.as_ref().map(|c| c.id.clone()),
        channel: new.channel.clone(),
        mode: new.mode,
        state: new.mode.initial(),
        location: new.location.clone(),
        owner_kind,
        owner_name,
        currency: new.currency,
        total_minor: total,
        discount_minor: discount,
        promotions: new.promotions.clone(),
        tax_country: new.tax_country.clone(),
        tax_minor: tax,
        shipping: new.shipping.clone(),
        shipping_refunded_minor: 0,
        pickup_code: None,
        receipt_token: receipt,
        deadline_at: new.deadline_at,
        routing: new.routing.clone(),
        exchange_of: new.exchange_of.clone(),
        lines: new
            .lines
            .iter()
            .zip(holds)
            .enumerate()
            .map(|(i, (l, hold))| OrderLine {
                line_no: i as i64 + 1,
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                discount_minor: l.discount_minor(),
                discounts: l.discounts.clone(),
                tax_rate_bp: l.tax_rate_bp,
                tax_minor: l.tax_minor,
                tax_added_minor: l.tax_added_minor,
                location: l.location.clone(),
                hold_id: Some(hold),
                sold: if sold_now { l.quantity } else { 0 },
                returned: 0,
            })
            .collect(),
        payments,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    events::emit(conn, Event::OrderPlaced(&summary(&order)), &id, actor).await?;
    Ok(order)
}

/// Places the orders of one checkout together — a basket split by fulfilment mode or store
/// becomes one order per part — all or none.
pub async fn place_all(
    conn: &mut Conn,
    parts: &[NewOrder],
    actor: &str,
    now: Timestamp,
) -> Result<Vec<Order>, Error> {
    let mut placed = Vec::with_capacity(parts.len());
    for part in parts {
        placed.push(place(conn, part, actor, now).await?);
    }
    Ok(placed)
}

/// Holds a line's units for the order: adopts the cart's hold when it still holds exactly
/// them at that location, else releases it and claims anew.
async fn hold_line(
    conn: &mut Conn,
    new: &NewOrder,
    order_id: &str,
    line: &NewOrderLine,
    actor: &str,
) -> Result<String, Error> {
    let purpose = new.mode.hold_purpose();
    let expires = Timestamp::from_unix_ms(Timestamp::now().unix_ms() + new.hold_ttl_s * 1000);
    if let Some(cart_hold) = &line.cart_hold {
        let adopted = conn
            .execute(
                "UPDATE holds SET purpose = $2, owner_ref = $3, expires_at = $4, owner_kind = 'order'
                 WHERE id = $1 AND status = 'pending' AND sku = $5 AND location = $6 AND quantity = $7",
                params![cart_hold, purpose.as_str(), order_id, expires.to_text(), &line.sku, &line.location, line.quantity],
            )
            .await?;
        if adopted == 1 {
            return Ok(cart_hold.clone());
        }
        crate::carts::release_if_pending(conn, cart_hold, actor).await?;
    }
    let hold = stock::create_hold(
        conn,
        &NewHold {
            sku: line.sku.clone(),
            location: line.location.clone(),
            quantity: line.quantity,
            purpose,
            owner_ref: order_id.to_owned(),
            owner: HoldOwner::Order,
            channel: new.hold_channel.clone(),
            checked_channel_safety: line.checked_channel_safety,
            ttl_s: Some(new.hold_ttl_s),
        },
        actor,
    )
    .await?;
    Ok(hold.id)
}

async fn insert_lines(
    conn: &mut Conn,
    order_id: &str,
    lines: &[NewOrderLine],
    holds: &[String],
    sold_now: bool,
) -> Result<(), Error> {
    let mut sql = String::from(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, location, hold_id, sold,
                                  discount_minor, discounts, tax_rate_bp, tax_minor, tax_added_minor, returned) VALUES ",
    );
    let mut values: Vec<Value> = Vec::with_capacity(lines.len() * 13);
    for (i, (line, hold)) in lines.iter().zip(holds).enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "({}, 0)",
            crate::sql::placeholders(values.len() + 1, 13)
        ));
        values.extend_from_slice(params![
            order_id,
            i as i64 + 1,
            &line.sku,
            line.quantity,
            line.unit_price_minor,
            &line.location,
            hold,
            if sold_now { line.quantity } else { 0 },
            line.discount_minor(),
            (!line.discounts.is_empty()).then(|| rows::to_json(&line.discounts)),
            line.tax_rate_bp,
            line.tax_minor,
            line.tax_added_minor
        ]);
    }
    conn.execute(&sql, &values).await?;
    Ok(())
}

/// Records a payment taken now; store credit is spent in the same command (the credit's id
/// is the payment's reference).
async fn insert_payment(
    conn: &mut Conn,
    order_id: &str,
    customer: Option<&str>,
    currency: Currency,
    p: &NewPayment,
    now: Timestamp,
) -> Result<PaymentRecord, Error> {
    let mut payment = Payment::authorised(p.method, currency, p.amount_minor)?;
    payment.capture(p.amount_minor)?;
    if matches!(
        p.method,
        PaymentMethod::StoreCredit | PaymentMethod::GiftCard
    ) {
        let account = p
            .provider_ref
            .as_deref()
            .ok_or_else(|| Error::validation("payment", "name the stored value that pays"))?;
        let spending = crate::stored_value::Spending {
            amount: p.amount_minor,
            currency,
            customer,
            order_id,
            at: now,
        };
        crate::stored_value::spend(conn, account, spending, "system").await?;
    }
    let id = kernel::id::new_id("pay");
    conn.execute(
        "INSERT INTO payments (id, order_id, method, currency, authorised, captured, refunded, voided, provider_ref, created_at)
         VALUES ($1, $2, $3, $4, $5, $5, 0, 0, $6, $7)",
        params![&id, order_id, p.method.as_str(), currency.code(), p.amount_minor, &p.provider_ref, now.to_text()],
    )
    .await?;
    Ok(PaymentRecord {
        id,
        provider_ref: p.provider_ref.clone(),
        amounts: payment,
    })
}

/// What a transition needs beyond its name.
#[derive(Debug, Clone, Default)]
pub struct TransitionInput {
    /// `collect`: the code the customer shows.
    pub pickup_code: Option<String>,
    /// `purchase`: units bought per line number; lines not named are not bought. `None`
    /// buys everything.
    pub purchase: Option<Vec<(i64, i64)>>,
    /// `mark_ready` of a pickup: days the order waits before it is a no-show.
    pub pickup_days: i64,
    /// The store acting (recorded in the history).
    pub location: Option<String>,
}

/// A refund to pass to the payment provider once the command committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub provider_ref: String,
    pub amount_minor: i64,
}

/// Applies a transition with its effects; returns the order and the provider refunds due.
pub async fn transition(
    conn: &mut Conn,
    id: &str,
    t: Transition,
    input: &TransitionInput,
    actor: &str,
    now: Timestamp,
) -> Result<(Order, Vec<ProviderRefund>), Error> {
    let order = get_in(conn, id).await?;
    let to = order.mode.apply(order.state, t)?;
    let moved = conn
        .execute(
            "UPDATE orders SET state = $3, updated_at = $4, version = version + 1 WHERE id = $1 AND version = $2",
            params![id, order.version, to.as_str(), now.to_text()],
        )
        .await?;
    if moved != 1 {
        return Err(
            Error::new(ErrorCode::Conflict, "the order changed meanwhile; retry")
                .with("order_id", id),
        );
    }
    let mut refunds = Vec::new();
    let (mut paid_in_store, mut refunded, mut pickup) = (None, None, None);
    match order.mode.effect(t) {
        Effect::IssuePickupCode => {
            let code = pickup_code();
            let deadline = Timestamp::from_unix_ms(now.unix_ms() + input.pickup_days * 86_400_000);
            conn.execute(
                "UPDATE orders SET pickup_code = $2, deadline_at = $3 WHERE id = $1",
                params![id, &code, deadline.to_text()],
            )
            .await?;
            pickup = Some((code, deadline));
        }
        Effect::CheckCodeThenHandOver => {
            let typed = input
                .pickup_code
                .as_deref()
                .map(orders::cart::normalise_code);
            orders::fulfilment::check_pickup_code(typed.as_deref(), order.pickup_code.as_deref())?;
            hand_over_all(conn, &order, actor).await?;
        }
        Effect::HandOver => hand_over_all(conn, &order, actor).await?,
        Effect::Purchase => {
            let paid = purchase(conn, &order, input.purchase.as_deref(), actor, now).await?;
            paid_in_store = Some(paid);
        }
        Effect::ReleaseAndRefund => {
            for line in &order.lines {
                if let Some(h) = &line.hold_id {
                    crate::carts::release_if_pending(conn, h, actor).await?;
                }
            }
            refunds = refund_all(conn, &order, actor).await?;
            refunded = Some(refunds.iter().map(|r| r.amount_minor).sum());
            // Not sold after all: its promotions' and codes' uses are given back.
            crate::promotions::release_uses(conn, &order.id, &order.promotions).await?;
            crate::coupons::release(conn, &order.id, actor).await?;
        }
        Effect::None => {}
    }
    if order.mode.is_final(to) {
        conn.execute(
            "UPDATE orders SET deadline_at = NULL WHERE id = $1",
            params![id],
        )
        .await?;
        if refunded.is_none() {
            // Handed over, delivered or bought: the codes it used are spent for good.
            crate::coupons::redeem(conn, id, actor).await?;
        }
    }
    conn.execute(
        "INSERT INTO order_history (order_id, transition, from_state, to_state, location, actor, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![id, t.as_str(), order.state.as_str(), to.as_str(), &input.location, actor, now.to_text()],
    )
    .await?;
    let after = get_in(conn, id).await?;
    let moved = OrderMoved {
        order: summary(&after),
        from_state: order.state,
        collect_by: pickup.as_ref().map(|(_, by)| *by),
        pickup_code: pickup.map(|(code, _)| code),
        paid_in_store_minor: paid_in_store,
        refunded_minor: refunded,
    };
    let event = Event::order_reached(to, &moved)
        .ok_or_else(|| Error::internal(format!("no transition leads to {}", to.as_str())))?;
    events::emit(conn, event, id, actor).await?;
    Ok((after, refunds))
}

/// A six-digit pickup code (digits: said at a counter, typed on a till keypad).
fn pickup_code() -> String {
    let secret = kernel::id::new_secret_hex();
    let n = u64::from_str_radix(&secret[..12], 16).unwrap_or(0) % 1_000_000;
    format!("{n:06}")
}

/// Commits every line's hold in full: the customer has the goods.
async fn hand_over_all(conn: &mut Conn, order: &Order, actor: &str) -> Result<(), Error> {
    for line in &order.lines {
        if let Some(h) = &line.hold_id {
            stock::end_hold(conn, h, HoldAction::Commit(None), actor).await?;
        }
        conn.execute(
            "UPDATE order_lines SET sold = quantity WHERE order_id = $1 AND line_no = $2",
            params![&order.id, line.line_no],
        )
        .await?;
    }
    Ok(())
}

/// A reservation bought at the till, perhaps in part: each line's hold is committed for the
/// units bought (the rest released), and the till's payment recorded. Returns the amount.
async fn purchase(
    conn: &mut Conn,
    order: &Order,
    bought: Option<&[(i64, i64)]>,
    actor: &str,
    now: Timestamp,
) -> Result<i64, Error> {
    if let Some(bought) = bought {
        for (i, (line_no, qty)) in bought.iter().enumerate() {
            let line = order
                .lines
                .iter()
                .find(|l| l.line_no == *line_no)
                .ok_or_else(|| {
                    Error::validation(
                        &format!("lines[{i}].line"),
                        format!("the order has no line {line_no}"),
                    )
                })?;
            if !(0..=line.quantity).contains(qty) {
                return Err(Error::validation(
                    &format!("lines[{i}].quantity"),
                    format!("line {line_no} reserved {} unit(s)", line.quantity),
                ));
            }
        }
    }
    let units = |line: &OrderLine| match bought {
        None => line.quantity,
        Some(b) => b
            .iter()
            .find(|(n, _)| *n == line.line_no)
            .map_or(0, |(_, q)| *q),
    };
    // Each unit at its share of the line's discounted price.
    let total: i64 = order.lines.iter().map(|l| l.value_of(0, units(l))).sum();
    if order.lines.iter().all(|l| units(l) == 0) {
        return Err(Error::validation(
            "lines",
            "buy at least one unit, or cancel the reservation",
        ));
    }
    for line in &order.lines {
        let q = units(line);
        if let Some(h) = &line.hold_id {
            let action = if q == 0 {
                HoldAction::Release
            } else {
                HoldAction::Commit(Some(q))
            };
            stock::end_hold(conn, h, action, actor).await?;
        }
        conn.execute(
            "UPDATE order_lines SET sold = $3 WHERE order_id = $1 AND line_no = $2",
            params![&order.id, line.line_no, q],
        )
        .await?;
    }
    if total > 0 {
        insert_payment(
            conn,
            &order.id,
            order.customer_id.as_deref(),
            order.currency,
            &NewPayment {
                method: PaymentMethod::PayInStore,
                amount_minor: total,
                provider_ref: None,
            },
            now,
        )
        .await?;
    }
    Ok(total)
}

/// Refunds what every payment captured and did not refund yet (an order cancelled or not
/// collected). Returns the refunds the provider must carry out.
async fn refund_all(
    conn: &mut Conn,
    order: &Order,
    actor: &str,
) -> Result<Vec<ProviderRefund>, Error> {
    refund(conn, order, order.paid_minor(), actor).await
}

/// Refunds `amount` over the order's payments (the card first, then the till's and store
/// credit), never beyond what each captured. Returns the refunds the provider must carry out.
pub(crate) async fn refund(
    conn: &mut Conn,
    order: &Order,
    amount: i64,
    actor: &str,
) -> Result<Vec<ProviderRefund>, Error> {
    let mut left = amount;
    let mut refunds = Vec::new();
    let mut payments: Vec<_> = order.payments.iter().collect();
    payments.sort_by_key(|p| p.amounts.method != PaymentMethod::Provider);
    for p in payments {
        let take = (p.amounts.captured - p.amounts.refunded).min(left);
        if take > 0 {
            refunds.extend(refund_payment(conn, &order.id, &p.id, take, actor).await?);
            left -= take;
        }
    }
    if left > 0 {
        return Err(
            Error::new(ErrorCode::Conflict, "the refund exceeds what was paid")
                .with("unpaid_minor", left),
        );
    }
    Ok(refunds)
}

/// Refunds `amount` of one payment, never beyond what it captured (conditional write).
async fn refund_payment(
    conn: &mut Conn,
    order_id: &str,
    payment_id: &str,
    amount: i64,
    actor: &str,
) -> Result<Option<ProviderRefund>, Error> {
    let row = conn
        .query_opt(
            "UPDATE payments SET refunded = refunded + $2 WHERE order_id = $3 AND id = $1 AND refunded + $2 <= captured
             RETURNING method, provider_ref, currency",
            params![payment_id, amount, order_id],
        )
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Conflict, "the refund exceeds what was paid").with("payment_id", payment_id))?;
    let method = row.text("method")?;
    if (method == PaymentMethod::StoreCredit.as_str() || method == PaymentMethod::GiftCard.as_str())
        && let Some(account) = row.opt_text("provider_ref")?
    {
        crate::stored_value::give_back(conn, &account, amount, order_id, actor).await?;
    }
    let refunded = PaymentRefunded {
        order_id: order_id.to_owned(),
        payment_id: payment_id.to_owned(),
        method: PaymentMethod::parse(&method).ok_or_else(|| corrupt("method", &method))?,
        amount_minor: amount,
        currency: rows::currency(&row, "currency")?,
    };
    events::emit(conn, Event::PaymentRefunded(&refunded), order_id, actor).await?;
    Ok(row
        .opt_text("provider_ref")?
        .filter(|_| method == PaymentMethod::Provider.as_str())
        .map(|provider_ref| ProviderRefund {
            provider_ref,
            amount_minor: amount,
        }))
}

/// Orders past their deadline: pickups not collected become no-shows, reservations not
/// bought expire. Returns those that lapsed and the refunds due.
pub async fn sweep_due(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> Result<(Vec<Order>, Vec<ProviderRefund>), Error> {
    let due = conn
        .query(
            "SELECT id, mode FROM orders WHERE deadline_at IS NOT NULL AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2",
            params![now.to_text(), limit],
        )
        .await?;
    let mut lapsed = Vec::new();
    let mut refunds = Vec::new();
    for row in &due {
        let id = row.text("id")?;
        let t = match FulfilmentMode::parse(&row.text("mode")?) {
            Some(FulfilmentMode::Pickup) => Transition::NoShow,
            Some(FulfilmentMode::Reserve) => Transition::Expire,
            _ => {
                conn.execute(
                    "UPDATE orders SET deadline_at = NULL WHERE id = $1",
                    params![&id],
                )
                .await?;
                continue;
            }
        };
        match transition(conn, &id, t, &TransitionInput::default(), "system", now).await {
            Ok((order, r)) => {
                lapsed.push(order);
                refunds.extend(r);
            }
            // Ended meanwhile (bought, collected, cancelled on another node): not due any more.
            Err(e) if e.code == ErrorCode::Conflict => {
                conn.execute(
                    "UPDATE orders SET deadline_at = NULL WHERE id = $1 AND deadline_at <= $2",
                    params![&id, now.to_text()],
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok((lapsed, refunds))
}

/// What order events carry: ids, mode, state, places and amounts — never a name or an
/// identifier value (those stay where erasure reaches them).
/// An order as its events carry it (no pickup code, no payments).
pub(crate) fn summary(o: &Order) -> OrderSummary {
    OrderSummary {
        order_id: o.id.clone(),
        customer_id: o.customer_id.clone(),
        channel: o.channel.clone(),
        mode: o.mode,
        state: o.state,
        location: o.location.clone(),
        owner_name: o.owner_name.clone(),
        currency: o.currency,
        total_minor: o.total_minor,
        lines: o
            .lines
            .iter()
            .map(|l| OrderLineSummary {
                line: l.line_no,
                sku: l.sku.clone(),
                quantity: l.quantity,
                location: l.location.clone(),
            })
            .collect(),
    }
}

fn line_from_row(r: &Row) -> Result<OrderLine, Error> {
    Ok(OrderLine {
        line_no: r.int("line_no")?,
        sku: r.text("sku")?,
        quantity: r.int("quantity")?,
        unit_price_minor: r.int("unit_price_minor")?,
        discount_minor: r.int("discount_minor")?,
        tax_rate_bp: r.int("tax_rate_bp")?,
        tax_minor: r.int("tax_minor")?,
        tax_added_minor: r.int("tax_added_minor")?,
        discounts: match r.opt_text("discounts")? {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| corrupt("discounts", &e.to_string()))?
            }
            None => Vec::new(),
        },
        location: r.text("location")?,
        hold_id: r.opt_text("hold_id")?,
        sold: r.int("sold")?,
        returned: r.int("returned")?,
    })
}

fn payment_from_row(r: &Row) -> Result<PaymentRecord, Error> {
    Ok(PaymentRecord {
        id: r.text("id")?,
        provider_ref: r.opt_text("provider_ref")?,
        amounts: Payment {
            method: rows::parsed(r, "method", PaymentMethod::parse)?,
            currency: rows::currency(r, "currency")?,
            authorised: r.int("authorised")?,
            captured: r.int("captured")?,
            refunded: r.int("refunded")?,
            voided: r.int("voided")? != 0,
        },
    })
}

fn order_from_row(
    row: &Row,
    lines: Vec<OrderLine>,
    payments: Vec<PaymentRecord>,
) -> Result<Order, Error> {
    Ok(Order {
        id: row.text("id")?,
        customer_id: row.opt_text("customer_id")?,
        cart_id: row.opt_text("cart_id")?,
        channel: row.text("channel")?,
        mode: rows::parsed(row, "mode", FulfilmentMode::parse)?,
        state: rows::parsed(row, "state", OrderState::parse)?,
        location: row.opt_text("location")?,
        owner_kind: row.opt_text("owner_kind")?,
        owner_name: row.opt_text("owner_name")?,
        currency: rows::currency(row, "currency")?,
        total_minor: row.int("total_minor")?,
        discount_minor: row.int("discount_minor")?,
        tax_country: row.opt_text("tax_country")?,
        tax_minor: row.int("tax_minor")?,
        shipping: row
            .opt_text("shipping")?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("shipping", &e.to_string())))
            .transpose()?,
        shipping_refunded_minor: row.int("shipping_refunded_minor")?,
        promotions: match row.opt_text("promotions")? {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| corrupt("promotions", &e.to_string()))?
            }
            None => Vec::new(),
        },
        pickup_code: row.opt_text("pickup_code")?,
        receipt_token: row.text("receipt_token")?,
        deadline_at: rows::opt_timestamp(row, "deadline_at")?,
        routing: row
            .opt_text("routing")?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("routing", &e.to_string())))
            .transpose()?,
        exchange_of: row.opt_text("exchange_of")?,
        lines,
        payments,
        created_at: rows::timestamp(row, "created_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
        version: row.int("version")?,
    })
}

/// Orders with their lines and payments: two statements per 500 orders, whatever their
/// number (lists and exports), in the order of `rows`.
async fn load_all(conn: &mut Conn, rows: Vec<Row>) -> Result<Vec<Order>, Error> {
    let mut lines: HashMap<String, Vec<OrderLine>> = HashMap::new();
    let mut payments: HashMap<String, Vec<PaymentRecord>> = HashMap::new();
    for chunk in rows.chunks(500) {
        let ids = chunk
            .iter()
            .map(|r| r.text("id").map(Value::from))
            .collect::<Result<Vec<_>, Error>>()?;
        let list = crate::sql::placeholders(1, ids.len());
        let sql = format!(
            "SELECT * FROM order_lines WHERE order_id IN ({list}) ORDER BY order_id, line_no"
        );
        for r in conn.query(&sql, &ids).await? {
            lines
                .entry(r.text("order_id")?)
                .or_default()
                .push(line_from_row(&r)?);
        }
        let sql = format!(
            "SELECT * FROM payments WHERE order_id IN ({list}) ORDER BY order_id, created_at, id"
        );
        for r in conn.query(&sql, &ids).await? {
            payments
                .entry(r.text("order_id")?)
                .or_default()
                .push(payment_from_row(&r)?);
        }
    }
    rows.iter()
        .map(|row| {
            let id = row.text("id")?;
            order_from_row(
                row,
                lines.remove(&id).unwrap_or_default(),
                payments.remove(&id).unwrap_or_default(),
            )
        })
        .collect()
}

/// The order of a `SELECT * FROM orders` matching at most one row.
async fn load_one(conn: &mut Conn, sql: &str, key: &str) -> Result<Option<Order>, Error> {
    let rows = conn
        .query_opt(sql, params![key])
        .await?
        .into_iter()
        .collect();
    Ok(load_all(conn, rows).await?.pop())
}

pub async fn find_order(conn: &mut Conn, id: &str) -> Result<Option<Order>, Error> {
    load_one(conn, "SELECT * FROM orders WHERE id = $1", id).await
}

pub async fn get_in(conn: &mut Conn, id: &str) -> Result<Order, Error> {
    find_order(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("order", id))
}

pub async fn get_order(db: &Db, id: &str) -> Result<Order, Error> {
    get_in(&mut db.read().await?, id).await
}

/// Blanks the delivery addresses of a person's orders (erasure), keeping the country their
/// VAT was decided by; answers what they said, which stored responses may quote.
pub(crate) async fn erase_ship_addresses(
    conn: &mut Conn,
    customer_id: &str,
) -> Result<Vec<String>, Error> {
    let shipped = conn
        .query(
            "SELECT id, shipping FROM orders WHERE shipping IS NOT NULL
               AND (customer_id = $1 OR customer_id IN (SELECT id FROM customers WHERE merged_into = $1))",
            params![customer_id],
        )
        .await?;
    let mut quoted = Vec::new();
    for row in shipped {
        let mut shipping: orders::delivery::OrderShipping = rows::json(&row, "shipping")?;
        quoted.extend(crate::addresses::personal_texts(&shipping.address));
        shipping.address = shipping.address.erased();
        conn.execute(
            "UPDATE orders SET shipping = $2 WHERE id = $1",
            params![row.text("id")?, rows::to_json(&shipping)],
        )
        .await?;
    }
    Ok(quoted)
}

/// Every order of a customer, oldest first (exports).
pub async fn all_of(conn: &mut Conn, customer_id: &str) -> Result<Vec<Order>, Error> {
    let found = conn
        .query(
            "SELECT * FROM orders WHERE customer_id = $1 ORDER BY id",
            params![customer_id],
        )
        .await?;
    load_all(conn, found).await
}

/// The order an e-receipt token belongs to.
pub async fn find_by_receipt(conn: &mut Conn, token: &str) -> Result<Option<Order>, Error> {
    load_one(conn, "SELECT * FROM orders WHERE receipt_token = $1", token).await
}

/// A step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryStep {
    pub transition: Transition,
    pub from_state: OrderState,
    pub to_state: OrderState,
    pub location: Option<String>,
    pub actor: String,
    pub at: Timestamp,
}

pub async fn history(db: &Db, id: &str) -> Result<Vec<HistoryStep>, Error> {
    db.read()
        .await?
        .query(
            "SELECT * FROM order_history WHERE order_id = $1 ORDER BY seq",
            params![id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(HistoryStep {
                transition: rows::parsed(r, "transition", Transition::parse)?,
                from_state: rows::parsed(r, "from_state", OrderState::parse)?,
                to_state: rows::parsed(r, "to_state", OrderState::parse)?,
                location: r.opt_text("location")?,
                actor: r.text("actor")?,
                at: rows::timestamp(r, "at")?,
            })
        })
        .collect()
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_id: Option<String>,
    /// A store's queue: orders it fulfils.
    pub location: Option<String>,
    pub states: Vec<OrderState>,
    pub mode: Option<FulfilmentMode>,
    /// Orders placed on this channel.
    pub channel: Option<String>,
}

/// Orders by filter, newest first (keyset on the id, which sorts by creation).
pub async fn list(db: &Db, filter: &OrderFilter, page: &PageRequest) -> Result<Page<Order>, Error> {
    let mut conn = db.read().await?;
    let mut sql = String::from("SELECT * FROM orders WHERE ($1 = '' OR id < $1)");
    let mut values: Vec<Value> = params![page.after.clone().unwrap_or_default()].to_vec();
    if let Some(c) = &filter.customer_id {
        values.push(c.into());
        sql.push_str(&format!(" AND customer_id = ${}", values.len()));
    }
    if let Some(l) = &filter.location {
        values.push(l.into());
        sql.push_str(&format!(" AND location = ${}", values.len()));
    }
    if let Some(m) = filter.mode {
        values.push(m.as_str().into());
        sql.push_str(&format!(" AND mode = ${}", values.len()));
    }
    if let Some(c) = &filter.channel {
        values.push(c.into());
        sql.push_str(&format!(" AND channel = ${}", values.len()));
    }
    if !filter.states.is_empty() {
        let first = values.len() + 1;
        values.extend(filter.states.iter().map(|s| Value::from(s.as_str())));
        sql.push_str(&format!(
            " AND state IN ({})",
            crate::sql::placeholders(first, filter.states.len())
        ));
    }
    values.push(page.fetch_limit().into());
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
    let found = conn.query(&sql, &values).await?;
    let orders = load_all(&mut conn, found).await?;
    Ok(Page::from_rows(orders, page, |o| o.id.clone()))
}

/// Ship orders with a line to send from `location` still to pack (placed or preparing),
/// newest first: the store's parcels.
pub async fn shipping_from(db: &Db, location: &str, limit: i64) -> Result<Vec<Order>, Error> {
    let mut conn = db.read().await?;
    let found = conn
        .query(
            "SELECT * FROM orders o WHERE o.mode = 'ship' AND o.state IN ('placed', 'preparing') \
             AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.location = $1) \
             ORDER BY o.id DESC LIMIT $2",
            params![location, limit],
        )
        .await?;
    load_all(&mut conn, found).await
}

/// One line of a franchise owner's report: an order their locations fulfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerLine {
    pub order_id: String,
    pub channel: String,
    pub mode: FulfilmentMode,
    pub state: OrderState,
    pub location: String,
    pub currency: Currency,
    /// The value of the lines this owner's locations fulfilled or handed over.
    pub amount_minor: i64,
    /// Ordered on a channel not bound to a store (web, app, marketplace…).
    pub online: bool,
    pub created_at: Timestamp,
}

/// Orders whose lines an owner's locations fulfilled or handed over, with the value of those
/// lines, between two instants (newest first); `online_only` keeps the orders placed on a
/// channel no store owns — what a franchisee is credited for fulfilling.
pub async fn owner_report(
    db: &Db,
    owner_name: &str,
    from: Timestamp,
    to: Timestamp,
    online_only: bool,
    page: &PageRequest,
) -> Result<Page<OwnerLine>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT o.id, o.channel, o.mode, o.state, l.location, o.currency, o.created_at,
                    CAST(SUM((l.unit_price_minor * l.quantity - l.discount_minor + l.tax_added_minor) * l.sold / l.quantity) AS BIGINT) AS amount_minor,
                    CASE WHEN MAX(ch.location_code) IS NULL THEN 1 ELSE 0 END AS online
             FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN locations loc ON loc.code = l.location
                  LEFT JOIN channels ch ON ch.code = o.channel
             WHERE loc.owner_name = $1 AND o.created_at >= $2 AND o.created_at < $3 AND ($4 = '' OR o.id < $4) AND l.sold > 0
                   AND ($6 = 0 OR ch.location_code IS NULL)
             GROUP BY o.id, o.channel, o.mode, o.state, l.location, o.currency, o.created_at
             ORDER BY o.id DESC, l.location LIMIT $5",
            params![owner_name, from.to_text(), to.to_text(), page.after.clone().unwrap_or_default(), page.fetch_limit(), i64::from(online_only)],
        )
        .await?;
    let lines = found
        .iter()
        .map(|r| {
            Ok(OwnerLine {
                order_id: r.text("id")?,
                channel: r.text("channel")?,
                mode: rows::parsed(r, "mode", FulfilmentMode::parse)?,
                state: rows::parsed(r, "state", OrderState::parse)?,
                location: r.text("location")?,
                currency: rows::currency(r, "currency")?,
                amount_minor: r.int("amount_minor")?,
                online: r.int("online")? == 1,
                created_at: rows::timestamp(r, "created_at")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(lines, page, |l| l.order_id.clone()))
}

/// Whether a customer has placed no order yet (a first-order promotion's condition).
pub async fn is_first_order(conn: &mut Conn, customer_id: &str) -> Result<bool, Error> {
    Ok(conn
        .query_opt(
            "SELECT id FROM orders WHERE customer_id = $1 LIMIT 1",
            params![customer_id],
        )
        .await?
        .is_none())
}
