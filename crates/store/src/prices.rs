//! Base prices and channel overrides in SQL, and the price a channel charges.

use kernel::{Currency, Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::OverrideRemoved;
use pricing::{BasePrice, ChannelPrice, PriceOverride};

use crate::rows;
use crate::sql::{Conn, Row};
use crate::{Db, events, params};

fn base_from_row(row: &Row) -> Result<BasePrice, Error> {
    Ok(BasePrice {
        sku: row.text("sku")?,
        currency: rows::currency(row, "currency")?,
        amount_minor: row.int("amount_minor")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

fn override_from_row(row: &Row) -> Result<PriceOverride, Error> {
    Ok(PriceOverride {
        sku: row.text("sku")?,
        currency: rows::currency(row, "currency")?,
        channel: row.text("channel")?,
        amount_minor: row.int("amount_minor")?,
        reason: row.text("reason")?,
        starts_at: rows::opt_timestamp(row, "starts_at")?,
        ends_at: rows::opt_timestamp(row, "ends_at")?,
        updated_at: rows::timestamp(row, "updated_at")?,
    })
}

/// Sets the base price of a variant in a currency (insert or replace).
pub async fn set_base_price(conn: &mut Conn, price: &BasePrice, actor: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO prices (sku, currency, amount_minor, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sku, currency) DO UPDATE SET amount_minor = excluded.amount_minor, updated_at = excluded.updated_at",
        params![&price.sku, price.currency.code(), price.amount_minor, price.updated_at.to_text()],
    )
    .await
    .map_err(|e| if e.code == ErrorCode::UnknownReference { Error::not_found("variant", &price.sku) } else { e })?;
    events::emit(conn, Event::PriceSet(price), &price.sku, actor).await
}

/// Sets a channel override; the variant needs a base price in that currency first.
pub async fn set_override(conn: &mut Conn, o: &PriceOverride, actor: &str) -> Result<(), Error> {
    if crate::channels::find_channel(&mut *conn, &o.channel)
        .await?
        .is_none()
    {
        return Err(Error::not_found("channel", &o.channel));
    }
    conn.execute(
        "INSERT INTO price_overrides (sku, currency, channel, amount_minor, reason, starts_at, ends_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (sku, currency, channel) DO UPDATE SET amount_minor = excluded.amount_minor,
             reason = excluded.reason, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
             updated_at = excluded.updated_at",
        params![
            &o.sku, o.currency.code(), &o.channel, o.amount_minor, &o.reason,
            o.starts_at.map(|t| t.to_text()), o.ends_at.map(|t| t.to_text()), o.updated_at.to_text()
        ],
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::UnknownReference {
            Error::new(ErrorCode::Conflict, format!("`{}` has no base price in {}; set it first", o.sku, o.currency))
                .with("sku", o.sku.clone())
                .with("currency", o.currency.code())
        } else {
            e
        }
    })?;
    events::emit(conn, Event::PriceOverrideSet(o), &o.sku, actor).await
}

/// Removes a channel override; that channel then charges the base price again.
pub async fn remove_override(
    conn: &mut Conn,
    sku: &str,
    currency: Currency,
    channel: &str,
    actor: &str,
) -> Result<(), Error> {
    let done = conn
        .execute(
            "DELETE FROM price_overrides WHERE sku = $1 AND currency = $2 AND channel = $3",
            params![sku, currency.code(), channel],
        )
        .await?;
    if done == 0 {
        return Err(Error::not_found(
            "price override",
            &format!("{sku}/{currency}/{channel}"),
        ));
    }
    let removed = OverrideRemoved {
        sku: sku.to_owned(),
        currency,
        channel: channel.to_owned(),
    };
    events::emit(conn, Event::PriceOverrideRemoved(&removed), sku, actor).await
}

/// The base prices of a variant, one per currency.
pub async fn base_prices(db: &Db, sku: &str) -> Result<Vec<BasePrice>, Error> {
    db.read()
        .await?
        .query("SELECT sku, currency, amount_minor, updated_at FROM prices WHERE sku = $1 ORDER BY currency", params![sku])
        .await?
        .iter()
        .map(base_from_row)
        .collect()
}

async fn overrides_of(
    conn: &mut Conn,
    sku: &str,
    currency: Currency,
) -> Result<Vec<PriceOverride>, Error> {
    conn.query(
        "SELECT sku, currency, channel, amount_minor, reason, starts_at, ends_at, updated_at
         FROM price_overrides WHERE sku = $1 AND currency = $2 ORDER BY channel",
        params![sku, currency.code()],
    )
    .await?
    .iter()
    .map(override_from_row)
    .collect()
}

async fn base_price(conn: &mut Conn, sku: &str, currency: Currency) -> Result<BasePrice, Error> {
    let row = conn
        .query_opt("SELECT sku, currency, amount_minor, updated_at FROM prices WHERE sku = $1 AND currency = $2", params![sku, currency.code()])
        .await?;
    match row {
        Some(r) => base_from_row(&r),
        None => {
            crate::catalog::find_variant(conn, sku)
                .await?
                .ok_or_else(|| Error::not_found("variant", sku))?;
            Err(Error::not_found("price", &format!("{sku}/{currency}")))
        }
    }
}

/// The price `channel` charges for `sku` in `currency` now.
pub async fn channel_price(
    db: &Db,
    sku: &str,
    channel: &str,
    currency: Currency,
) -> Result<ChannelPrice, Error> {
    let mut conn = db.read().await?;
    crate::channels::find_channel(&mut conn, channel)
        .await?
        .ok_or_else(|| Error::not_found("channel", channel))?;
    let base = base_price(&mut conn, sku, currency).await?;
    let overrides = overrides_of(&mut conn, sku, currency).await?;
    let o = overrides.iter().find(|o| o.channel == channel);
    Ok(pricing::resolve(&base, channel, o, Timestamp::now()))
}

/// The price on every channel (in channel-code order), to compare them side by side.
pub async fn prices_on_all_channels(
    db: &Db,
    sku: &str,
    currency: Currency,
    page: &PageRequest,
) -> Result<Page<ChannelPrice>, Error> {
    let mut conn = db.read().await?;
    let base = base_price(&mut conn, sku, currency).await?;
    let overrides = overrides_of(&mut conn, sku, currency).await?;
    let now = Timestamp::now();
    let channels = crate::channels::channels_after(
        &mut conn,
        page.after.as_deref().unwrap_or(""),
        page.fetch_limit(),
    )
    .await?;
    let prices = channels
        .iter()
        .map(|c| {
            pricing::resolve(
                &base,
                &c.code,
                overrides.iter().find(|o| o.channel == c.code),
                now,
            )
        })
        .collect();
    Ok(Page::from_rows(prices, page, |p| p.channel.clone()))
}

/// One line of the price-parity report: an override and the base price it departs from.
#[derive(Debug, Clone)]
pub struct ParityLine {
    pub price_override: PriceOverride,
    pub base_amount_minor: i64,
    pub active_now: bool,
}

/// Every channel override, in (sku, currency, channel) order.
pub async fn parity_report(db: &Db, page: &PageRequest) -> Result<Page<ParityLine>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT o.sku, o.currency, o.channel, o.amount_minor, o.reason, o.starts_at, o.ends_at, o.updated_at,
                    p.amount_minor AS base_amount_minor
             FROM price_overrides o JOIN prices p ON p.sku = o.sku AND p.currency = o.currency
             WHERE (o.sku || '|' || o.currency || '|' || o.channel) > $1
             ORDER BY o.sku, o.currency, o.channel LIMIT $2",
            params![page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let now = Timestamp::now();
    let lines = found
        .iter()
        .map(|r| {
            let o = override_from_row(r)?;
            Ok(ParityLine {
                active_now: o.is_active_at(now),
                base_amount_minor: r.int("base_amount_minor")?,
                price_override: o,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(lines, page, |l| {
        let o = &l.price_override;
        format!("{}|{}|{}", o.sku, o.currency, o.channel)
    }))
}

/// The prices `channel` charges now for several SKUs in one currency, with two statements
/// (checkout and cart pages price every line). A SKU without a base price in the currency
/// is missing from the map.
pub async fn channel_prices(
    db: &Db,
    channel: &str,
    currency: Currency,
    skus: &[String],
) -> Result<std::collections::BTreeMap<String, ChannelPrice>, Error> {
    let mut out = std::collections::BTreeMap::new();
    if skus.is_empty() {
        return Ok(out);
    }
    let mut conn = db.read().await?;
    let list = crate::sql::placeholders(3, skus.len());
    let mut values = params![currency.code(), channel].to_vec();
    values.extend(skus.iter().map(crate::sql::Value::from));
    let bases = conn
        .query(
            &format!("SELECT sku, currency, amount_minor, updated_at FROM prices WHERE currency = $1 AND $2 = $2 AND sku IN ({list})"),
            &values,
        )
        .await?;
    let overrides = conn
        .query(
            &format!(
                "SELECT sku, currency, channel, amount_minor, reason, starts_at, ends_at, updated_at
                 FROM price_overrides WHERE currency = $1 AND channel = $2 AND sku IN ({list})"
            ),
            &values,
        )
        .await?
        .iter()
        .map(override_from_row)
        .collect::<Result<Vec<_>, Error>>()?;
    let now = Timestamp::now();
    for row in &bases {
        let base = base_from_row(row)?;
        let o = overrides.iter().find(|o| o.sku == base.sku);
        out.insert(base.sku.clone(), pricing::resolve(&base, channel, o, now));
    }
    Ok(out)
}
