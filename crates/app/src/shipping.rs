//! Delivery: the shipping methods (admin keys set them; every key reads those offered on its
//! channel), where a ship order goes (an address typed, one of the customer's saved ones, or
//! a store to collect from) and what delivering a basket costs — the options a cart shows,
//! and the fee, its promotions and its VAT that checkout writes on the order.
//!
//! A parcel is taxed in the country it goes to when the retailer charges that country's VAT
//! (has its table: EU distance sales), else where it leaves from. Its fee is taxed at that
//! country's standard rate.

use catalog::location::{Capability, Coordinates};
use kernel::{Currency, Error, ErrorCode, Timestamp};
use orders::delivery::{MethodKind, OrderShipping, Parcel, PostalAddress, Quote, ShippingMethod};
use store::{IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, on_reference};
use crate::pricing::Pricing;
use crate::reference::Reference;

/// Where a ship order goes, as asked: exactly one of an address, a saved address of the
/// customer's, or a store (ship to store); coordinates help routing pick the nearest stock.
#[derive(Debug, Clone, Default)]
pub struct ShipTo {
    pub address: Option<PostalAddress>,
    pub address_id: Option<String>,
    pub store: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// Where a ship order goes, resolved.
#[derive(Debug, Clone)]
pub struct Destination {
    pub address: PostalAddress,
    /// The store a ship-to-store parcel goes to.
    pub store: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// Sets a shipping method, once validated (admin).
pub async fn set(
    reference: &Reference,
    p: &Principal,
    method: ShippingMethod,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(ShippingMethod) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let method = method.validate()?;
    on_reference(
        Needs::Admin,
        (reference, p),
        idempotency,
        move |c, actor| {
            Box::pin(async move {
                store::shipping::set(c, &method, &actor).await?;
                Ok(method)
            })
        },
        render,
    )
    .await
}

/// The methods a key may see: those offered on its channel (active), or all for staff.
pub async fn offered(reference: &Reference, p: &Principal) -> Result<Vec<ShippingMethod>, Error> {
    let all = reference.shipping_methods().await?;
    Ok(match p.own_channel() {
        Some(channel) => all
            .iter()
            .filter(|m| m.active && (m.channels.is_empty() || m.channels.contains(channel)))
            .cloned()
            .collect(),
        None => all.to_vec(),
    })
}

/// Resolves where a parcel goes: the address typed (validated), the customer's saved one, or
/// the store's own address for ship to store.
pub async fn destination(
    reference: &Reference,
    customer: Option<&str>,
    to: &ShipTo,
) -> Result<Destination, Error> {
    let named = [
        to.address.is_some(),
        to.address_id.is_some(),
        to.store.is_some(),
    ];
    if named.iter().filter(|n| **n).count() != 1 {
        return Err(Error::validation(
            "ship_to",
            "a parcel goes to one of `address`, `address_id` (a saved address) or `store`",
        ));
    }
    let coordinates = to.coordinates.map(|c| c.validate("ship_to")).transpose()?;
    if let Some(a) = &to.address {
        return Ok(Destination {
            address: a.validate("ship_to.address")?,
            store: None,
            coordinates,
        });
    }
    if let Some(id) = &to.address_id {
        let unknown = || Error::unknown_reference("ship_to.address_id", "address", id);
        let customer = customer.ok_or_else(unknown)?;
        let mut conn = reference.db().read().await?;
        let customer = store::profiles::active_id(&mut conn, customer).await?;
        let saved = store::addresses::find(&mut conn, &customer, id)
            .await?
            .ok_or_else(unknown)?;
        return Ok(Destination {
            address: saved.address,
            store: None,
            coordinates,
        });
    }
    let code = to.store.as_deref().unwrap_or_default();
    let locations = reference.locations().await?;
    let place = locations
        .get(code)
        .filter(|l| l.active && l.capabilities.contains(&Capability::Pickup))
        .ok_or_else(|| {
            Error::validation(
                "ship_to.store",
                format!("`{code}` is not an open store that hands parcels over"),
            )
        })?;
    Ok(Destination {
        address: PostalAddress {
            name: place.name.clone(),
            line1: place.address.line1.clone(),
            line2: place.address.line2.clone(),
            postal_code: place.address.postal_code.clone(),
            city: place.address.city.clone(),
            country: place.address.country.clone(),
            phone: None,
        },
        store: Some(place.code.clone()),
        coordinates: Some(place.coordinates),
    })
}

/// The method a parcel goes by: the one asked for, or the first offered on `channel` that
/// goes where it goes (to a store or to an address).
pub fn choose<'m>(
    methods: &'m [ShippingMethod],
    channel: &str,
    asked: Option<&str>,
    to: &Destination,
    currency: Currency,
) -> Result<&'m ShippingMethod, Error> {
    let fits = |m: &ShippingMethod| (m.kind == MethodKind::ShipToStore) == to.store.is_some();
    let serves = |m: &ShippingMethod| {
        m.active
            && (m.channels.is_empty() || m.channels.contains(channel))
            && (m.countries.is_empty() || m.countries.contains(&to.address.country))
            && m.currency == currency
    };
    match asked {
        Some(code) => {
            let m = methods
                .iter()
                .find(|m| m.code == code)
                .ok_or_else(|| Error::unknown_reference("shipping_method", "shipping method", code))?;
            if !fits(m) {
                return Err(Error::validation(
                    "shipping_method",
                    match m.kind {
                        MethodKind::ShipToStore => "this method goes to a store: name `ship_to.store`",
                        _ => "this method goes to an address, not to a store",
                    },
                ));
            }
            Ok(m)
        }
        None => methods.iter().find(|m| fits(m) && serves(m)).ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                format!(
                    "no shipping method delivers there ({}) on {channel}; an admin sets them (PUT /v1/shipping-methods/{{code}})",
                    to.address.country
                ),
            )
            .with("country", to.address.country.clone())
        }),
    }
}

/// A basket's lines to ship, priced with their delivery.
pub struct Delivered {
    pub priced: promotions::PricedBasket,
    pub shipping: OrderShipping,
}

/// Prices `lines` on `channel` sent by `method` to `to`, at `at`: the goods with their
/// promotions, the method's fee for what they cost after discounts and what they weigh,
/// then the promotions again with that fee (free shipping), and the fee's VAT in
/// `tax_country` at its standard rate.
pub fn price_delivery(
    pricing: &Pricing,
    channel: &str,
    lines: &[(String, i64)],
    (method, to): (&ShippingMethod, &Destination),
    tax_country: Option<&str>,
    at: Timestamp,
) -> Result<Delivered, Error> {
    let goods = pricing.price(channel, None, lines, 0, at);
    let quote = quote(
        pricing,
        channel,
        lines,
        method,
        &to.address.country,
        goods.total_minor,
        at,
    )?;
    // Priced again with the fee only when a promotion may take it off (free shipping).
    let priced = match quote.fee_minor {
        fee if fee > 0 && pricing.discounts_shipping() => {
            pricing.price(channel, None, lines, fee, at)
        }
        _ => goods,
    };
    let charged = quote.fee_minor - priced.shipping_discount_minor;
    let tax = pricing.tax_at(
        tax_country,
        catalog::product::STANDARD_TAX_CATEGORY,
        charged,
    )?;
    let shipping = OrderShipping {
        method: method.code.clone(),
        method_name: method.name.clone(),
        kind: method.kind,
        address: to.address.clone(),
        store: to.store.clone(),
        fee_minor: quote.fee_minor,
        discount_minor: priced.shipping_discount_minor,
        tax_rate_bp: tax.rate_bp,
        tax_minor: tax.tax_minor,
        tax_added_minor: tax.added_minor,
        window: quote.window,
    };
    Ok(Delivered { priced, shipping })
}

/// What `method` charges for `lines` worth `goods_minor` to `country`, or why it cannot.
fn quote(
    pricing: &Pricing,
    channel: &str,
    lines: &[(String, i64)],
    method: &ShippingMethod,
    country: &str,
    goods_minor: i64,
    at: Timestamp,
) -> Result<Quote, Error> {
    let parcel = Parcel {
        channel,
        country,
        currency: pricing.currency(),
        goods_minor,
        weight_grams: pricing.weight_grams(lines),
    };
    method.quote(parcel, at).map_err(|why| {
        Error::new(
            ErrorCode::Conflict,
            format!("{}: {}", method.name, why.reason()),
        )
        .with("shipping_method", method.code.clone())
    })
}

/// The country a parcel's VAT is charged in: where it goes when the retailer charges that
/// country's VAT, else where it leaves from.
pub fn tax_country(
    pricing: &Pricing,
    to: &Destination,
    leaves_from: Option<&str>,
) -> Option<String> {
    let country = &to.address.country;
    if pricing.taxes_in(country) {
        Some(country.clone())
    } else {
        leaves_from.map(str::to_owned)
    }
}

/// One way a cart could be sent, with its fee and window, or why it cannot.
#[derive(Debug, Clone)]
pub struct ShippingOption {
    pub method: ShippingMethod,
    pub quote: Result<Quote, String>,
}

/// The options of sending cart `id` to `country` on the key's channel (else the cart's),
/// as checkout would charge them: after the basket's automatic promotions, before any on
/// the fee itself.
pub async fn cart_options(
    reference: &Reference,
    p: &Principal,
    id: &str,
    country: &str,
) -> Result<Vec<ShippingOption>, Error> {
    let country = orders::delivery::validate_country("country", country)?;
    let db = reference.db();
    let cart = store::carts::get_cart(db, id).await?;
    let list = crate::checkout::cart_prices(db, &cart).await?;
    let (pricing, lines) = crate::carts::pricing_of(reference, &cart, list, &[]).await?;
    let channel = p.own_channel().unwrap_or(&cart.channel);
    let at = crate::clock::now();
    let goods = pricing.price(channel, None, &lines, 0, at);
    let offered = offered(reference, p).await?;
    Ok(offered
        .into_iter()
        .filter(|m| m.channels.is_empty() || m.channels.contains(channel))
        .map(|m| {
            let q = quote(
                &pricing,
                channel,
                &lines,
                &m,
                &country,
                goods.total_minor,
                at,
            )
            .map_err(|e| e.message.clone());
            ShippingOption {
                method: m,
                quote: q,
            }
        })
        .collect())
}
