//! Returns and exchanges: goods taken back in any store that takes returns, or by mail, from
//! an order number or an e-receipt; refunded to the original payment, as store credit, or as
//! an exchange (a new sale in the same command).

use kernel::{Currency, Error, ErrorCode};
use orders::RefundMethod;
use orders::cart::Line;
use orders::payment::PaymentProvider;
use store::orders::{NewOrderLine, Order};
use store::returns::{ExchangeSale, NewReturn, Return, ReturnLineIn};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{self, Principal};

/// A return, as parsed from a request.
#[derive(Debug, Clone)]
pub struct ReturnRequest {
    /// The order number, or a receipt token or its QR payload.
    pub order: String,
    /// The receiving location (a store key takes returns at its own store).
    pub location: Option<String>,
    pub by_mail: bool,
    pub lines: Vec<ReturnLineIn>,
    pub method: RefundMethod,
    /// An exchange's new goods, priced at the order's channel price.
    pub exchange_lines: Option<Vec<Line>>,
    /// Give the delivery's price back though some goods stay (it goes back anyway with the
    /// last unit of the order).
    pub refund_shipping: bool,
}

/// The order a number or an e-receipt (token or QR payload) names.
pub async fn find_by_reference(db: &Db, reference: &str) -> Result<Order, Error> {
    let mut conn = db.read().await?;
    let found = match orders::receipt::token_from_qr(reference) {
        Some(token) => store::orders::find_by_receipt(&mut conn, &token).await?,
        None => store::orders::find_order(&mut conn, reference.trim()).await?,
    };
    found.ok_or_else(|| {
        Error::new(ErrorCode::NotFound, "no order has this number or receipt")
            .with("reference", reference)
    })
}

/// Records a return within `window_days` of the hand-over; provider refunds are made after
/// the commit (see [`crate::orders::write_with_refunds`]).
pub async fn record<P: PaymentProvider>(
    reference: &crate::reference::Reference,
    payments: &P,
    p: &Principal,
    (req, window_days): (ReturnRequest, i64),
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Return) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let db = reference.db();
    let location = access::return_location(p, req.location.as_deref())?;
    let order = find_by_reference(db, &req.order).await?;
    refuse_gift_cards(db, &order, &req.lines).await?;
    let exchange =
        exchange_sale(reference, &order, req.method, req.exchange_lines, &location).await?;
    // An exchange sale is the receiving store's: its till's channel when it has one.
    let exchange_channel = match &exchange {
        Some(_) => store::channels::till_of(&mut db.read().await?, &location)
            .await?
            .unwrap_or_else(|| order.channel.clone()),
        None => order.channel.clone(),
    };
    let new = NewReturn {
        exchange_channel,
        order_id: order.id,
        location,
        by_mail: req.by_mail,
        lines: req.lines,
        method: req.method,
        exchange,
        window_days,
        refund_shipping: req.refund_shipping,
    };
    let actor = p.key_id.clone();
    let now = crate::clock::now();
    crate::orders::write_with_refunds(
        db,
        payments,
        idempotency,
        move |c| {
            Box::pin(async move {
                let (taken, refunds) = store::returns::record(c, &new, &actor, now).await?;
                for id in std::iter::once(&taken.order_id).chain(&taken.exchange_order) {
                    let order = store::orders::get_in(c, id).await?;
                    crate::loyalty::settle_order(c, &order, &actor).await?;
                }
                Ok((taken, refunds))
            })
        },
        render,
    )
    .await
}

/// Gift cards do not come back: their value is spent with their code, which anyone who saw
/// it may hold (service voids an unused card by cancelling its order before hand-over).
async fn refuse_gift_cards(db: &Db, order: &Order, lines: &[ReturnLineIn]) -> Result<(), Error> {
    let skus: Vec<String> = lines
        .iter()
        .filter_map(|r| order.lines.iter().find(|l| l.line_no == r.line_no))
        .map(|l| l.sku.clone())
        .collect();
    let facts = store::catalog::item_facts(&mut db.read().await?, &skus).await?;
    match facts
        .iter()
        .find(|(_, f)| crate::stored_value::gift_card_months(&f.attributes).is_some())
    {
        Some((sku, _)) => Err(Error::new(
            ErrorCode::Conflict,
            format!("`{sku}` is a gift card; gift cards are not returned"),
        )
        .with("sku", sku.clone())),
        None => Ok(()),
    }
}

/// The new sale of an exchange, priced at the order's channel price; only an exchange takes
/// (and needs) exchange lines.
async fn exchange_sale(
    reference: &crate::reference::Reference,
    order: &Order,
    method: RefundMethod,
    lines: Option<Vec<Line>>,
    location: &str,
) -> Result<Option<ExchangeSale>, Error> {
    let lines = match (method, lines) {
        (RefundMethod::Exchange, Some(lines)) if !lines.is_empty() => lines,
        (RefundMethod::Exchange, _) => {
            return Err(Error::validation(
                "exchange_lines",
                "an exchange names the goods taken instead",
            ));
        }
        (_, Some(_)) => {
            return Err(Error::validation(
                "exchange_lines",
                "only an exchange takes exchange lines",
            ));
        }
        (_, None) => return Ok(None),
    };
    orders::cart::validate_lines(&lines)?;
    let skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
    let db = reference.db();
    let prices = store::prices::channel_prices(db, &order.channel, order.currency, &skus).await?;
    let list = prices
        .iter()
        .map(|(sku, p)| (sku.clone(), p.amount_minor))
        .collect();
    let taxes = crate::pricing::read(reference, order.currency, list, None, &[]).await?;
    // Taxed where it is handed over: the receiving store.
    let country = store::locations::find_location(&mut db.read().await?, location)
        .await?
        .map(|l| l.address.country);
    let mut sale = Vec::with_capacity(lines.len());
    for l in lines {
        let price = prices
            .get(&l.sku)
            .ok_or_else(|| no_price(&l.sku, order.currency))?;
        let paid = price.amount_minor * l.quantity;
        let tax = taxes.tax_line(country.as_deref(), &l.sku, paid)?;
        sale.push(NewOrderLine {
            discounts: Vec::new(),
            tax_rate_bp: tax.rate_bp,
            tax_minor: tax.tax_minor,
            tax_added_minor: tax.added_minor,
            unit_price_minor: price.amount_minor,
            sku: l.sku,
            quantity: l.quantity,
            location: location.to_owned(),
            cart_hold: None,
            checked_channel_safety: None,
        });
    }
    Ok(Some(ExchangeSale {
        lines: sale,
        tax_country: country,
    }))
}

fn no_price(sku: &str, currency: Currency) -> Error {
    Error::validation(
        "exchange_lines",
        format!("`{sku}` has no {} price", currency.code()),
    )
}
