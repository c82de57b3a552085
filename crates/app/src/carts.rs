//! Carts: started on a channel (or by a store's till), lines set with an optional stock
//! hold, signed in to a customer (joining their active cart), handed from a kiosk or till to
//! a phone by a short code. Checkout is [`crate::checkout`].

use kernel::{Currency, Error};
use orders::cart::Line;
use store::carts::{Cart, HoldAt, NewCart};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::{self, Principal};
use crate::clock;

/// A cart to start, as parsed from a request.
#[derive(Debug, Clone)]
pub struct CartRequest {
    pub customer_id: Option<String>,
    /// The channel it is started on; a channel key's own channel, or a store's till, when
    /// absent.
    pub channel: Option<String>,
    pub currency: Currency,
    pub lines: Vec<Line>,
}

/// One line to set: `quantity` 0 removes it; `hold_at` holds its units at a location for
/// `hold_ttl_s` seconds.
#[derive(Debug, Clone)]
pub struct LineChange {
    pub cart_id: String,
    pub sku: String,
    pub quantity: i64,
    pub hold_at: Option<String>,
    pub hold_ttl_s: i64,
}

/// Starts a cart (or adds to the signed-in customer's active cart).
pub async fn create(
    db: &Db,
    p: &Principal,
    req: CartRequest,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Cart) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let named = access::promising_channel(p, req.channel)?;
    let channel = speaking_channel(db, p, named).await?;
    orders::cart::validate_lines(&req.lines)?;
    let new = NewCart {
        customer_id: req.customer_id,
        channel,
        currency: req.currency,
        lines: req.lines,
    };
    let now = clock::now();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::carts::create_cart(c, &new, now).await }),
        render,
    )
    .await
}

/// The channel a request speaks for: the one it names (which must exist), else the key's
/// own channel, else — for a store key — the store's till (its `pos` channel, or any channel
/// bound to the store).
async fn speaking_channel(db: &Db, p: &Principal, named: Option<String>) -> Result<String, Error> {
    if let Some(code) = named {
        return store::channels::find_channel(&mut db.read().await?, &code)
            .await?
            .map(|c| c.code)
            .ok_or_else(|| Error::unknown_reference("channel", "channel", &code));
    }
    if let Some(own) = p.own_channel() {
        return Ok(own.to_owned());
    }
    if let Some(store) = p.store_only()
        && let Some(till) = store::channels::till_of(&mut db.read().await?, store).await?
    {
        return Ok(till);
    }
    Err(Error::validation(
        "channel",
        "name the channel the cart is started on",
    ))
}

/// Sets a line's quantity, holding its units where asked (a store key holds at its own
/// store only; a channel's hold is promised on its channel).
pub async fn set_line(
    db: &Db,
    p: &Principal,
    change: LineChange,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Cart) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    if change.quantity != 0 {
        orders::cart::validate_quantity("quantity", change.quantity)?;
    }
    let hold = match change.hold_at {
        Some(location) => {
            p.require_hold_at(&location)?;
            Some(HoldAt {
                location,
                channel: p.own_channel().map(str::to_owned),
                checked_channel_safety: None,
                ttl_s: change.hold_ttl_s,
            })
        }
        None => None,
    };
    let actor = p.key_id.clone();
    let LineChange {
        cart_id,
        sku,
        quantity,
        ..
    } = change;
    let now = clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::carts::set_line(c, &cart_id, &sku, quantity, hold.as_ref(), &actor, now)
                    .await
            })
        },
        render,
    )
    .await
}

/// Signs a cart in: it becomes the customer's cart, or joins their active cart (a SKU in
/// both keeps the larger quantity). Answers the customer's cart.
pub async fn sign_in(
    db: &Db,
    cart_id: String,
    customer_id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Cart) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(
                async move { store::carts::attach_customer(c, &cart_id, &customer_id, now).await },
            )
        },
        render,
    )
    .await
}

/// Gives the cart a six-character code, valid 10 minutes, that a phone claims it with.
pub async fn start_handoff(
    db: &Db,
    cart_id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Cart) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = clock::now();
    db.write_once(
        idempotency,
        move |c| Box::pin(async move { store::carts::start_handoff(c, &cart_id, now).await }),
        render,
    )
    .await
}

/// Claims a handed-off cart by its code, once; signs it in when a customer is named.
pub async fn claim(
    db: &Db,
    code: String,
    customer_id: Option<String>,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Cart) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::carts::claim_handoff(c, &code, customer_id.as_deref(), now).await
            })
        },
        render,
    )
    .await
}

/// What pricing a cart needs, from its channel's prices `list`: the pricing read for its
/// customer with `coupons`, and its lines that have a price (`(sku, quantity)`).
pub(crate) async fn pricing_of(
    reference: &crate::reference::Reference,
    cart: &Cart,
    list: std::collections::BTreeMap<String, i64>,
    coupons: &[String],
) -> Result<(crate::pricing::Pricing, Vec<(String, i64)>), Error> {
    let customer = cart.customer_id.as_deref();
    let pricing = crate::pricing::read(reference, cart.currency, list, customer, coupons).await?;
    let lines = cart
        .lines
        .iter()
        .filter(|l| pricing.list.contains_key(&l.sku))
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    Ok((pricing, lines))
}

/// A cart priced as checkout would price an order of it: the channel's prices, then the
/// promotions in force for its customer, on the key's channel (else the cart's), for an
/// order at `location` (else the key's store) or for a parcel to `ship_country`, with the
/// coupon codes presented; also the codes that may not be used, with why.
pub async fn price(
    reference: &crate::reference::Reference,
    p: &Principal,
    cart: &Cart,
    (location, ship_country): (Option<String>, Option<String>),
    coupons: &[String],
) -> Result<CartPrice, Error> {
    let db = reference.db();
    let list = crate::checkout::cart_prices(db, cart).await?;
    let ship_country = ship_country
        .map(|c| orders::delivery::validate_country("country", &c))
        .transpose()?;
    let store = match (location, &ship_country) {
        (Some(_), Some(_)) => {
            return Err(Error::validation(
                "country",
                "a cart is priced for a store or for a parcel, not both",
            ));
        }
        (Some(code), None) => Some(code),
        (None, Some(_)) => None,
        (None, None) => crate::checkout::bound_store(db, p).await?,
    };
    let (pricing, lines) = pricing_of(reference, cart, list, coupons).await?;
    let channel = p.own_channel().unwrap_or(&cart.channel);
    let priced = pricing.price(channel, store.as_deref(), &lines, 0, clock::now());
    // VAT as an order at that store would carry it, or a parcel to a country whose VAT the
    // retailer charges (else it is known at checkout, from where the parcel leaves).
    let locations = reference.locations().await?;
    let tax_country = match store {
        Some(code) => locations.get(&code).map(|l| l.address.country.clone()),
        None => ship_country.filter(|c| pricing.taxes_in(c)),
    };
    let mut taxed = Vec::new();
    if tax_country.is_some() {
        for l in &priced.lines {
            let tax = pricing.tax_line(tax_country.as_deref(), &l.sku, l.total_minor)?;
            taxed.push(promotions::tax::Taxed {
                rate_bp: tax.rate_bp,
                net_minor: l.total_minor + tax.added_minor - tax.tax_minor,
                tax_minor: tax.tax_minor,
                gross_minor: l.total_minor + tax.added_minor,
            });
        }
    }
    Ok(CartPrice {
        priced,
        refused: pricing.refused,
        taxes: promotions::tax::by_rate(taxed),
        tax_country,
    })
}

/// A cart priced now: its lines with the promotions they get, the codes refused (with why),
/// and — when it is priced for a store — the VAT per rate.
#[derive(Debug, Clone)]
pub struct CartPrice {
    pub priced: promotions::PricedBasket,
    pub refused: Vec<(String, String)>,
    pub tax_country: Option<String>,
    pub taxes: Vec<promotions::tax::Taxed>,
}
