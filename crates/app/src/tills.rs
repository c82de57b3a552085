//! The offline till: what a till did while it could not reach Relais — sales, returns, stock
//! movements — uploaded as numbered batches and applied once, in the till's order.
//!
//! A batch is one command. Its number must follow the till's last (`seq = last + 1`); a number
//! already applied answers what it answered then and changes nothing (the same batch posted
//! twice, or a month later), unless its content differs (refused). A sale is recorded as it
//! was rung up, never refused: it takes the store's stock even below zero; points or a gift
//! card or credit pay what they still hold; a coupon is taken if it still may be. What was
//! missing opens a conflict in the store's queue (`relais.pos.conflict`) for the store to
//! resolve: a transfer, the online order cancelled, or accepted.
//!
//! What a till keeps locally to work offline is in `docs/offline-till.md`.

use std::collections::BTreeSet;

use kernel::{Currency, Error, ErrorCode, Page, PageRequest, Timestamp};
use orders::RefundMethod;
use orders::payment::{PaymentMethod, PaymentProvider};
use serde::Serialize;
use store::Conn;
use store::orders::{NewPayment, Order};
use store::returns::{NewReturn, ReturnLineIn};
use store::tills::{BatchCounts, Conflict, Sale, SaleLine, Till};

use crate::access::{Principal, forbidden};

/// Operations a batch may hold.
pub const MAX_OPERATIONS: usize = 1_000;

/// A batch as the till sent it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub till: String,
    pub location: String,
    pub seq: i64,
    /// The SHA-256 of the batch's body: a replay must be the same batch.
    pub digest: String,
    pub operations: Vec<Operation>,
}

/// One thing the till did, in its order.
#[derive(Debug, Clone)]
pub enum Operation {
    Sale(TillSale),
    Return(TillReturn),
    Movement(TillMovement),
}

/// A sale as rung up: its lines at the till's prices, how it was paid.
#[derive(Debug, Clone)]
pub struct TillSale {
    pub receipt: String,
    pub at: Timestamp,
    pub currency: Currency,
    pub customer_id: Option<String>,
    pub lines: Vec<SaleLine>,
    pub payments: Vec<TillPayment>,
    pub coupon: Option<String>,
}

/// How part of a sale was paid at the till.
#[derive(Debug, Clone)]
pub enum TillPayment {
    /// The card terminal (it may authorise offline); the terminal's reference.
    Card {
        amount_minor: i64,
        reference: Option<String>,
    },
    Cash {
        amount_minor: i64,
    },
    /// Points of the sale's customer, at what the programme says a point pays.
    Points {
        points: i64,
    },
    /// A gift card by its code (the card was in hand; the PIN cannot be checked offline).
    GiftCard {
        code: String,
        amount_minor: i64,
    },
    StoreCredit {
        id: String,
        amount_minor: i64,
    },
}

/// Goods brought back to the till: of a receipt of this till, or of any order.
#[derive(Debug, Clone)]
pub struct TillReturn {
    pub receipt: String,
    pub at: Timestamp,
    /// An order number or e-receipt; or `receipt:<n>` for a receipt of this till.
    pub order: String,
    pub lines: Vec<ReturnLineIn>,
}

/// A stock movement made at the till (a count, a damaged unit…).
#[derive(Debug, Clone)]
pub struct TillMovement {
    pub receipt: String,
    pub at: Timestamp,
    pub sku: String,
    pub kind: inventory::MovementKind,
    pub quantity: i64,
    pub reason: String,
}

/// What a batch did: kept and answered again to its replays.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BatchAnswer {
    pub till: String,
    pub location: String,
    pub seq: i64,
    pub sales: i64,
    pub returns: i64,
    pub movements: i64,
    /// What each receipt became (an order, a return, a movement).
    pub receipts: Vec<ReceiptDone>,
    /// The conflicts the batch opened.
    pub conflicts: Vec<ConflictNote>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ReceiptDone {
    pub receipt: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ConflictNote {
    pub id: String,
    pub receipt: String,
    pub kind: String,
    pub short: i64,
}

/// Whether `p` may act for the tills of `location`: that store's key, or staff.
pub fn may_act_for(p: &Principal, location: &str) -> Result<(), Error> {
    match p.store_only() {
        Some(own) if own == location => Ok(()),
        Some(_) => Err(forbidden("a store key acts for its own store's tills")),
        None if p.is_staff() => Ok(()),
        None => Err(forbidden("tills are a store's, or customer service's")),
    }
}

/// A till, for the store that owns it or staff: what batch it should send next.
pub async fn till(db: &store::Db, p: &Principal, id: &str) -> Result<Till, Error> {
    let till = store::tills::find(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("till", id))?;
    may_act_for(p, &till.location)?;
    Ok(till)
}

/// Applies a batch once; answers it, and whether it was applied before (a replay).
pub async fn apply_batch<P: PaymentProvider>(
    db: &store::Db,
    payments: &P,
    p: &Principal,
    batch: Batch,
) -> Result<(BatchAnswer, bool), Error> {
    may_act_for(p, &batch.location)?;
    validate(&batch)?;
    if let Some(previous) = replayed(db, &batch).await? {
        return Ok((previous, true));
    }
    let (actor, now) = (p.key_id.clone(), crate::clock::now());
    // A batch writes hundreds of rows: without the savepoint group commit gives each
    // command, whose undo journal every statement would walk; with a few other tills'
    // batches waiting at once, in one transaction and one commit.
    let batch = std::sync::Arc::new(batch);
    let applying = batch.clone();
    let done = db
        .write_together(move |c| {
            let (batch, actor) = (applying.clone(), actor.clone());
            Box::pin(async move { apply_in(c, &batch, &actor, now).await })
        })
        .await?;
    match done {
        Some((answer, refunds)) => {
            crate::orders::pass_refunds(payments, refunds).await;
            Ok((answer, false))
        }
        // Another node applied it between the check and the command.
        None => replayed(db, &batch)
            .await?
            .map(|a| (a, true))
            .ok_or_else(|| Error::new(ErrorCode::Conflict, "the till moved on meanwhile; retry")),
    }
}

/// The kept answer when this batch was applied before; refuses a batch out of order, or a
/// number applied before with other content.
async fn replayed(db: &store::Db, batch: &Batch) -> Result<Option<BatchAnswer>, Error> {
    let mut conn = db.read().await?;
    let Some(till) = store::tills::find(&mut conn, &batch.till).await? else {
        return first_batch(batch).map(|()| None);
    };
    if till.location != batch.location {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("till {} belongs to {}", till.id, till.location),
        )
        .with("location", till.location));
    }
    if batch.seq > till.last_seq + 1 {
        return Err(out_of_order(till.last_seq));
    }
    if batch.seq == till.last_seq + 1 {
        return Ok(None);
    }
    let (digest, answer) = store::tills::applied_batch(&mut conn, &till.id, batch.seq)
        .await?
        .ok_or_else(|| Error::internal("an applied batch was not kept"))?;
    if digest != batch.digest {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "batch {} of till {} was applied with other content",
                batch.seq, till.id
            ),
        )
        .with("seq", batch.seq));
    }
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(|e| Error::internal(format!("a kept batch answer does not read: {e}")))
}

fn first_batch(batch: &Batch) -> Result<(), Error> {
    if batch.seq == 1 {
        Ok(())
    } else {
        Err(out_of_order(0))
    }
}

fn out_of_order(last: i64) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("batches apply in order: send batch {} first", last + 1),
    )
    .with("expected_seq", last + 1)
}

fn validate(batch: &Batch) -> Result<(), Error> {
    kernel::text::code(
        "till",
        &batch.till,
        1,
        64,
        |c| c.is_ascii_alphanumeric() || "-_.".contains(c),
        "letters, digits, `-`, `_` and `.`",
    )?;
    if batch.seq < 1 {
        return Err(Error::validation("seq", "batches are numbered from 1"));
    }
    if batch.operations.is_empty() || batch.operations.len() > MAX_OPERATIONS {
        return Err(Error::validation(
            "operations",
            format!("a batch holds 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    let mut receipts = BTreeSet::new();
    for (i, op) in batch.operations.iter().enumerate() {
        let receipt = match op {
            Operation::Sale(s) => {
                validate_sale(i, s)?;
                &s.receipt
            }
            Operation::Return(r) => &r.receipt,
            Operation::Movement(m) => &m.receipt,
        };
        if receipt.is_empty() || receipt.len() > 64 || !receipts.insert(receipt.clone()) {
            return Err(Error::validation(
                &format!("operations[{i}].receipt"),
                "each operation has its own receipt number (1 to 64 characters)",
            ));
        }
    }
    Ok(())
}

fn validate_sale(i: usize, s: &TillSale) -> Result<(), Error> {
    let field = |f: &str| format!("operations[{i}].{f}");
    if s.lines.is_empty() || s.lines.len() > 200 || s.payments.len() > 20 {
        return Err(Error::validation(
            &field("lines"),
            "a sale has 1 to 200 lines and at most 20 payments",
        ));
    }
    for l in &s.lines {
        // Ranges first: what a line costs is computed only from bounded figures.
        let bounded = (1..=10_000).contains(&l.quantity)
            && (0..=100_000_000).contains(&l.unit_price_minor)
            && (0..=10_000).contains(&l.tax_rate_bp);
        let listed = if bounded {
            l.unit_price_minor * l.quantity
        } else {
            -1
        };
        let fits = (0..=listed).contains(&l.discount_minor)
            && (0..=listed - l.discount_minor).contains(&l.tax_minor);
        if !bounded || !fits {
            return Err(Error::validation(
                &field("lines"),
                "a line sells 1 to 10 000 units; its discount and VAT lie within what it costs",
            )
            .with("sku", l.sku.clone()));
        }
    }
    let payable = |p: &TillPayment| match p {
        TillPayment::Points { points } => (1..=1_000_000_000).contains(points),
        other => (0..=MAX_PAYMENT).contains(&money_of(other)),
    };
    if !s.payments.iter().all(payable) {
        return Err(Error::validation(
            &field("payments"),
            "payments are positive, at most 10 000 000 000 minor units",
        ));
    }
    let total: i64 = s
        .lines
        .iter()
        .map(|l| l.unit_price_minor * l.quantity - l.discount_minor)
        .sum();
    let paid: i64 = s.payments.iter().map(money_of).sum();
    let points = s
        .payments
        .iter()
        .any(|p| matches!(p, TillPayment::Points { .. }));
    if !points && paid != total {
        return Err(Error::validation(
            &field("payments"),
            format!("the payments add up to {paid}, the sale to {total}"),
        ));
    }
    Ok(())
}

/// The most one payment of a till sale may carry, in minor units.
const MAX_PAYMENT: i64 = 10_000_000_000;

/// Whether a sale can only be short of stock: paid by card and cash, without coupon.
fn is_plain(s: &TillSale) -> bool {
    s.coupon.is_none() && s.payments.iter().all(|p| plain_payment(p).is_some())
}

fn plain_payment(p: &TillPayment) -> Option<NewPayment> {
    let (method, amount_minor, provider_ref) = match p {
        TillPayment::Card {
            amount_minor,
            reference,
        } => (PaymentMethod::Provider, *amount_minor, reference.clone()),
        TillPayment::Cash { amount_minor } => (PaymentMethod::PayInStore, *amount_minor, None),
        _ => return None,
    };
    (amount_minor > 0).then_some(NewPayment {
        method,
        amount_minor,
        provider_ref,
    })
}

fn money_of(p: &TillPayment) -> i64 {
    match p {
        TillPayment::Card { amount_minor, .. }
        | TillPayment::Cash { amount_minor }
        | TillPayment::GiftCard { amount_minor, .. }
        | TillPayment::StoreCredit { amount_minor, .. } => *amount_minor,
        TillPayment::Points { .. } => 0,
    }
}

type Applied = (BatchAnswer, Vec<store::orders::ProviderRefund>);

/// The batch's command: the till moves to `seq` (or another command did: `None`), then each
/// operation in the till's order, then the answer is kept.
async fn apply_in(
    conn: &mut Conn,
    batch: &Batch,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Applied>, Error> {
    let till = till_for(conn, batch, now).await?;
    if !store::tills::advance(conn, &till.id, batch.seq, now).await? {
        return Ok(None);
    }
    let mut run = Run {
        till: &till,
        seq: batch.seq,
        actor,
        now,
        answer: BatchAnswer {
            till: till.id.clone(),
            location: till.location.clone(),
            seq: batch.seq,
            sales: 0,
            returns: 0,
            movements: 0,
            receipts: Vec::with_capacity(batch.operations.len()),
            conflicts: Vec::new(),
        },
        refunds: Vec::new(),
        customers: std::collections::HashMap::new(),
        programme: None,
    };
    // Runs of plain sales (card and cash, no coupon) are written together; the others one
    // by one, in the till's order.
    let mut plain: Vec<&TillSale> = Vec::new();
    for op in &batch.operations {
        if let Operation::Sale(s) = op
            && is_plain(s)
        {
            plain.push(s);
            continue;
        }
        run.plain_sales(conn, std::mem::take(&mut plain)).await?;
        match op {
            Operation::Sale(s) => run.sale(conn, s).await?,
            Operation::Return(r) => run.give_back(conn, r).await?,
            Operation::Movement(m) => run.movement(conn, m).await?,
        }
    }
    run.plain_sales(conn, plain).await?;
    let answer = serde_json::to_string(&run.answer)
        .map_err(|e| Error::internal(format!("a batch answer: {e}")))?;
    let counts = BatchCounts {
        sales: run.answer.sales,
        returns: run.answer.returns,
        movements: run.answer.movements,
        conflicts: run.answer.conflicts.len() as i64,
    };
    store::tills::keep_batch(
        conn,
        &till,
        (batch.seq, &batch.digest, &answer),
        counts,
        actor,
    )
    .await?;
    Ok(Some((run.answer, run.refunds)))
}

/// The batch's till, registered at the batch's store (on its till channel) by its first batch.
async fn till_for(conn: &mut Conn, batch: &Batch, now: Timestamp) -> Result<Till, Error> {
    match store::tills::find(conn, &batch.till).await? {
        Some(t) => Ok(t),
        None => {
            let channel = store::channels::till_of(conn, &batch.location)
                .await?
                .ok_or_else(|| {
                    Error::validation("location", "the store has no till channel to sell on")
                        .with("location", batch.location.clone())
                })?;
            store::tills::register(conn, &batch.till, &batch.location, &channel, now).await
        }
    }
}

/// One batch being applied.
struct Run<'a> {
    till: &'a Till,
    seq: i64,
    actor: &'a str,
    now: Timestamp,
    answer: BatchAnswer,
    refunds: Vec<store::orders::ProviderRefund>,
    /// Customers named by the batch, as Relais knows them (`None`: unknown).
    customers: std::collections::HashMap<String, Option<String>>,
    /// The loyalty programme, read once for the batch.
    programme: Option<std::sync::Arc<loyalty::Programme>>,
}

/// What a payment could not cover: (kind, reference, short).
type Shortfall = (&'static str, Option<String>, i64);

impl Run<'_> {
    /// Sales paid by card and cash only, without coupon: nothing they use can be missing but
    /// stock, so they are recorded together.
    async fn plain_sales(&mut self, conn: &mut Conn, sales: Vec<&TillSale>) -> Result<(), Error> {
        if sales.is_empty() {
            return Ok(());
        }
        let mut recorded = Vec::with_capacity(sales.len());
        for s in &sales {
            let customer = self.customer(conn, s).await?;
            let payments = s.payments.iter().filter_map(plain_payment).collect();
            recorded.push(self.sale_of(s, customer, payments));
        }
        let posting = self.posting();
        let placed =
            store::tills::record_sales(conn, self.till, (&recorded, &posting), self.actor).await?;
        for (s, (order, stock_short)) in sales.iter().zip(placed) {
            self.settled(conn, s, order, (stock_short, Vec::new()))
                .await?;
        }
        Ok(())
    }

    async fn sale(&mut self, conn: &mut Conn, s: &TillSale) -> Result<(), Error> {
        let customer = self.customer(conn, s).await?;
        let (payments, mut short) = self.settle_payments(conn, s, customer.as_deref()).await?;
        let sale = self.sale_of(s, customer.clone(), payments);
        let posting = self.posting();
        let placed =
            store::tills::record_sales(conn, self.till, (&[sale], &posting), self.actor).await?;
        let (order, stock_short) = placed
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("a sale was not recorded"))?;
        self.spend_stored_value(conn, &order, customer.as_deref())
            .await?;
        if let Some(code) = &s.coupon
            && let Some(why) = take_coupon(conn, code, &order, (self.actor, self.now)).await?
        {
            short.push(("coupon", Some(code.clone()), 1));
            tracing::info!(coupon = %code, why, "an offline sale used a coupon it may no longer");
        }
        self.settled(conn, s, order, (stock_short, short)).await
    }

    /// The sale's customer as Relais knows them now (merged profiles followed); an unknown
    /// one leaves the sale anonymous rather than refusing it.
    async fn customer(&mut self, conn: &mut Conn, s: &TillSale) -> Result<Option<String>, Error> {
        let Some(c) = &s.customer_id else {
            return Ok(None);
        };
        if let Some(known) = self.customers.get(c) {
            return Ok(known.clone());
        }
        let known = store::profiles::active_id(conn, c).await.ok();
        self.customers.insert(c.clone(), known.clone());
        Ok(known)
    }

    fn sale_of(&self, s: &TillSale, customer: Option<String>, payments: Vec<NewPayment>) -> Sale {
        Sale {
            receipt: s.receipt.clone(),
            at: s.at,
            currency: s.currency,
            customer_id: customer,
            lines: s.lines.clone(),
            payments,
        }
    }

    /// A recorded sale's points, and the conflicts for what it found missing.
    async fn settled(
        &mut self,
        conn: &mut Conn,
        s: &TillSale,
        order: Order,
        (stock_short, short): (Vec<store::tills::StockShort>, Vec<Shortfall>),
    ) -> Result<(), Error> {
        if order.customer_id.is_some() {
            let programme = self.programme(conn).await?;
            crate::loyalty::settle_new_order(conn, &programme, &order, self.actor).await?;
        }
        for gap in stock_short {
            self.conflict(
                conn,
                (&order, &s.receipt),
                ("stock", Some(gap.sku), None),
                gap.units,
            )
            .await?;
        }
        for (kind, reference, units) in short {
            self.conflict(conn, (&order, &s.receipt), (kind, None, reference), units)
                .await?;
        }
        self.answer.sales += 1;
        self.done(&s.receipt, order.id);
        Ok(())
    }

    /// The payments as recorded — points, gift cards and credits for what they still hold —
    /// and what they could not cover.
    /// The loyalty programme, read once for the batch.
    async fn programme(
        &mut self,
        conn: &mut Conn,
    ) -> Result<std::sync::Arc<loyalty::Programme>, Error> {
        if let Some(p) = &self.programme {
            return Ok(p.clone());
        }
        let p = std::sync::Arc::new(store::loyalty::programme(conn).await?);
        self.programme = Some(p.clone());
        Ok(p)
    }

    async fn settle_payments(
        &mut self,
        conn: &mut Conn,
        s: &TillSale,
        customer: Option<&str>,
    ) -> Result<(Vec<NewPayment>, Vec<Shortfall>), Error> {
        let mut taken = Vec::new();
        let mut short = Vec::new();
        for p in &s.payments {
            let (method, amount, reference, gap) = match p {
                TillPayment::Card { .. } | TillPayment::Cash { .. } => {
                    taken.extend(plain_payment(p));
                    continue;
                }
                TillPayment::Points { points } => {
                    let programme = self.programme(conn).await?;
                    let (value, covered) =
                        points_covered(conn, &programme, customer, *points).await?;
                    let gap = (covered < *points).then(|| ("points", None, points - covered));
                    (PaymentMethod::LoyaltyPoints, value, None, gap)
                }
                TillPayment::GiftCard { code, amount_minor } => {
                    let hash = crate::stored_value::code_hash(code);
                    let card = store::stored_value::by_code(conn, &hash).await?;
                    let (id, covered) = value_covered(card, s, (*amount_minor, self.now));
                    let gap = (covered < *amount_minor)
                        .then(|| ("gift_card", id.clone(), amount_minor - covered));
                    (PaymentMethod::GiftCard, covered, id, gap)
                }
                TillPayment::StoreCredit { id, amount_minor } => {
                    let credit = store::stored_value::find(conn, id).await?;
                    let credit = credit.filter(|c| {
                        c.customer_id.is_none() || c.customer_id.as_deref() == customer
                    });
                    let (found, covered) = value_covered(credit, s, (*amount_minor, self.now));
                    let gap = (covered < *amount_minor)
                        .then(|| ("gift_card", Some(id.clone()), amount_minor - covered));
                    (PaymentMethod::StoreCredit, covered, found, gap)
                }
            };
            if amount > 0 {
                taken.push(NewPayment {
                    method,
                    amount_minor: amount,
                    provider_ref: reference,
                });
            }
            short.extend(gap);
        }
        Ok((taken, short))
    }

    /// Spends the gift cards and credits the sale's payments name, for what they cover.
    async fn spend_stored_value(
        &self,
        conn: &mut Conn,
        order: &Order,
        customer: Option<&str>,
    ) -> Result<(), Error> {
        for p in &order.payments {
            if !matches!(
                p.amounts.method,
                PaymentMethod::GiftCard | PaymentMethod::StoreCredit
            ) {
                continue;
            }
            let Some(id) = &p.provider_ref else { continue };
            let spending = store::stored_value::Spending {
                amount: p.amounts.captured,
                currency: order.currency,
                customer,
                order_id: &order.id,
                at: self.now,
            };
            store::stored_value::spend(conn, id, spending, self.actor).await?;
        }
        Ok(())
    }

    async fn conflict(
        &mut self,
        conn: &mut Conn,
        (order, receipt): (&Order, &str),
        (kind, sku, reference): (&str, Option<String>, Option<String>),
        short: i64,
    ) -> Result<(), Error> {
        let c = Conflict {
            id: kernel::id::new_id("pcf"),
            location: self.till.location.clone(),
            till_id: self.till.id.clone(),
            batch_seq: self.seq,
            receipt: receipt.to_owned(),
            order_id: Some(order.id.clone()),
            kind: kind.to_owned(),
            sku: sku.clone(),
            customer_id: order.customer_id.clone(),
            reference,
            short,
            detail: conflict_detail(kind, sku.as_deref(), short),
            status: "open".into(),
            resolution: None,
            resolved_by: None,
            resolved_at: None,
            note: None,
            created_at: self.now,
        };
        store::tills::open_conflict(conn, &c, self.actor).await?;
        self.answer.conflicts.push(ConflictNote {
            id: c.id,
            receipt: receipt.to_owned(),
            kind: c.kind,
            short,
        });
        Ok(())
    }

    async fn give_back(&mut self, conn: &mut Conn, r: &TillReturn) -> Result<(), Error> {
        let order_id = match r.order.strip_prefix("receipt:") {
            Some(receipt) => store::tills::order_of_receipt(conn, &self.till.id, receipt).await?,
            None => store::orders::find_order(conn, &r.order)
                .await?
                .map(|o| o.id),
        }
        .ok_or_else(|| Error::unknown_reference("operations.order", "order", &r.order))?;
        let new = NewReturn {
            order_id,
            location: self.till.location.clone(),
            by_mail: false,
            lines: r.lines.clone(),
            method: RefundMethod::OriginalPayment,
            exchange: None,
            exchange_channel: self.till.channel.clone(),
            window_days: 365,
            refund_shipping: false,
        };
        let (taken, refunds) = store::returns::record(conn, &new, self.actor, r.at).await?;
        let order = store::orders::get_in(conn, &taken.order_id).await?;
        crate::loyalty::settle_order(conn, &order, self.actor).await?;
        self.refunds.extend(refunds);
        self.answer.returns += 1;
        self.done(&r.receipt, taken.id);
        Ok(())
    }

    async fn movement(&mut self, conn: &mut Conn, m: &TillMovement) -> Result<(), Error> {
        let new = store::stock::NewMovement {
            sku: m.sku.clone(),
            location: self.till.location.clone(),
            kind: m.kind,
            quantity: m.quantity,
            reason: m.reason.clone(),
            reference: Some(format!("till {} receipt {}", self.till.id, m.receipt)),
            client_key: Some(format!("till:{}:{}", self.till.id, m.receipt)),
        };
        let (moved, _, _) = store::stock::record_movement_once(conn, &new, self.actor).await?;
        self.answer.movements += 1;
        self.done(&m.receipt, moved.id);
        Ok(())
    }

    /// What the batch's stock movements name: the till and the batch.
    fn posting(&self) -> String {
        format!("till {} batch {}", self.till.id, self.seq)
    }

    fn done(&mut self, receipt: &str, id: String) {
        self.answer.receipts.push(ReceiptDone {
            receipt: receipt.to_owned(),
            id,
        });
    }
}

fn conflict_detail(kind: &str, sku: Option<&str>, short: i64) -> String {
    match kind {
        "stock" => format!(
            "sold offline {short} unit(s) of {} the store no longer had free",
            sku.unwrap_or("?")
        ),
        "points" => format!("{short} points spent offline beyond the member's balance"),
        "coupon" => "a coupon used offline was used up or is another customer's".to_owned(),
        _ => format!("{short} (minor units) paid offline beyond what the card or credit held"),
    }
}

/// What `points` of `customer` pay now, and how many of them the balance covers.
async fn points_covered(
    conn: &mut Conn,
    programme: &loyalty::Programme,
    customer: Option<&str>,
    points: i64,
) -> Result<(i64, i64), Error> {
    let Some(customer) = customer else {
        return Ok((0, 0));
    };
    let balance = store::loyalty::member(conn, customer)
        .await?
        .filter(store::loyalty::Member::is_active)
        .map_or(0, |m| m.balance);
    let covered = points.min(balance);
    Ok((programme.value_of(covered), covered))
}

/// The account's id and what it can pay of `wanted` now.
fn value_covered(
    account: Option<store::stored_value::Account>,
    s: &TillSale,
    (wanted, now): (i64, Timestamp),
) -> (Option<String>, i64) {
    match account {
        Some(a) if a.currency == s.currency && a.spendable(now) => {
            let covered = a.balance_minor.min(wanted);
            (Some(a.id), covered)
        }
        Some(a) => (Some(a.id), 0),
        None => (None, 0),
    }
}

/// Takes a use of `code` for a till sale if it still may be; else answers why not (the sale
/// stands, a conflict is opened).
async fn take_coupon(
    conn: &mut Conn,
    code: &str,
    order: &Order,
    (actor, now): (&str, Timestamp),
) -> Result<Option<&'static str>, Error> {
    let Some(coupon) = store::coupons::find(conn, code).await? else {
        return Ok(Some("unknown code"));
    };
    if coupon.uses >= coupon.max_uses {
        return Ok(Some("used up"));
    }
    if coupon.customer_id.is_some() && coupon.customer_id != order.customer_id {
        return Ok(Some("another customer's"));
    }
    if let (Some(max), Some(customer)) = (coupon.max_uses_per_customer, &order.customer_id)
        && store::coupons::customer_uses(conn, code, customer).await? >= max
    {
        return Ok(Some("used as often as a customer may"));
    }
    let c = order.customer_id.as_deref();
    store::coupons::take(
        conn,
        code,
        &coupon.promotion_id,
        &order.id,
        c,
        true,
        now,
        actor,
    )
    .await?;
    Ok(None)
}

/// A store's conflicts, oldest first (its queue when `open`).
pub async fn conflicts(
    db: &store::Db,
    p: &Principal,
    location: &str,
    status: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Conflict>, Error> {
    may_act_for(p, location)?;
    if let Some(s) = status
        && !["open", "resolved"].contains(&s)
    {
        return Err(
            Error::new(ErrorCode::InvalidQuery, "status is open or resolved")
                .with("field", "status"),
        );
    }
    store::tills::conflicts(db, location, status, page).await
}

/// How a store resolves a conflict.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Units come from another location: the transfer shipped to the store for them.
    Transfer { transfer_id: String },
    /// The online order the store can no longer serve is cancelled (and refunded).
    CancelOnline { order_id: String },
    /// The store takes the loss (a unit found, points or value written off).
    Accept,
}

impl Resolution {
    fn name(&self) -> &'static str {
        match self {
            Resolution::Transfer { .. } => "transfer",
            Resolution::CancelOnline { .. } => "cancel_online",
            Resolution::Accept => "accept",
        }
    }
}

/// Resolves a conflict of `p`'s store; cancelling the online order is that order's own
/// command (with its refunds), run first.
pub async fn resolve<P: PaymentProvider>(
    db: &store::Db,
    payments: &P,
    p: &Principal,
    id: &str,
    (resolution, note): (Resolution, Option<String>),
) -> Result<Conflict, Error> {
    let conflict = store::tills::find_conflict(&mut db.read().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("till conflict", id))?;
    may_act_for(p, &conflict.location)?;
    if let Some(n) = &note {
        kernel::text::bounded("note", n, 1, 500)?;
    }
    if conflict.status != "open" {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the conflict was resolved already",
        ));
    }
    match &resolution {
        Resolution::Transfer { transfer_id } => {
            check_transfer(db, &conflict, transfer_id).await?;
        }
        Resolution::CancelOnline { order_id } => {
            let req = crate::orders::TransitionRequest {
                pickup_code: None,
                purchase: None,
                pickup_days: 0,
            };
            let cancel = orders::Transition::Cancel;
            let render = |o: Order| store::StoredResponse {
                status: 200,
                body: o.id,
                replayed: false,
            };
            crate::orders::transition(db, payments, p, order_id.clone(), cancel, req, None, render)
                .await?;
        }
        Resolution::Accept => {}
    }
    let (actor, id) = (p.key_id.clone(), id.to_owned());
    let name = resolution.name();
    db.write(move |c| {
        Box::pin(async move {
            store::tills::resolve_conflict(c, &id, (name, note.as_deref()), &actor).await
        })
    })
    .await
}

/// A stock conflict is resolved by a transfer of its SKU to its store.
async fn check_transfer(db: &store::Db, c: &Conflict, transfer_id: &str) -> Result<(), Error> {
    if c.kind != "stock" {
        return Err(Error::validation(
            "action",
            "only a stock conflict is resolved by a transfer",
        ));
    }
    let t = store::stock::get_transfer(db, transfer_id).await?;
    if t.to_location != c.location || Some(&t.sku) != c.sku.as_ref() {
        return Err(Error::validation(
            "transfer_id",
            format!(
                "transfer {} does not bring {} to {}",
                t.id,
                c.sku.as_deref().unwrap_or("?"),
                c.location
            ),
        ));
    }
    Ok(())
}
