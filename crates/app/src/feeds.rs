//! The search-engine local inventory feed (TSV), for one channel: one row per variant
//! stocked at each active store the channel may promise pickup (or reservation) from.
//!
//! Columns: `store code`, `id` (the SKU), `quantity` (what the channel may promise there: its
//! sourcing policy and channel safety stock applied), `availability` (`in stock`, `limited
//! availability` at `limited_at` units or fewer, `out of stock`), `price` (`49.99 EUR`, the
//! channel's price), `pickup method` (`buy` where click & collect is offered, `reserve` where
//! only click & reserve is) and `pickup SLA` (the store's usual promise, `same day`, `next
//! day`…: the same whenever the feed is made). Values never contain tabs or newlines.
//! `relais export local-inventory` and `GET /v1/feeds/local-inventory` both make it here.

use std::collections::HashMap;
use std::io::Write;

use catalog::{Capability, Location, LocationKind};
use inventory::Fulfilment;
use inventory::sourcing::Site;
use kernel::{Currency, Error, Money, PageRequest};
use store::Db;
use store::sourcing::EffectivePolicy;

/// What to export.
#[derive(Debug, Clone)]
pub struct LocalInventory {
    pub currency: Currency,
    /// The channel the feed is for: its prices, its sourcing policy, its safety stock.
    pub channel: String,
    /// At most this many units available is `limited availability`.
    pub limited_at: i64,
}

pub const HEADER: [&str; 7] = [
    "store code",
    "id",
    "quantity",
    "availability",
    "price",
    "pickup method",
    "pickup SLA",
];

/// The feed's pickup method for a store the channel may promise from, if any.
fn pickup_method(l: &Location, policy: &EffectivePolicy) -> Option<&'static str> {
    let site = Site {
        code: &l.code,
        kind: l.kind,
        capabilities: &l.capabilities,
        active: l.active,
    };
    let offers = |c: Capability, f: Fulfilment| {
        l.capabilities.contains(&c) && policy.policy.allows(site, Some(f))
    };
    if offers(Capability::Pickup, Fulfilment::Pickup) {
        Some("buy")
    } else if offers(Capability::Reserve, Fulfilment::Reserve) {
        Some("reserve")
    } else {
        None
    }
}

fn io(e: std::io::Error) -> Error {
    Error::internal(format!("cannot write the feed: {e}"))
}

/// Writes the feed; returns how many rows (besides the header) it wrote.
pub async fn local_inventory(
    db: &Db,
    options: &LocalInventory,
    out: &mut impl Write,
) -> Result<u64, Error> {
    let policy = store::sourcing::get_policy(db, &options.channel).await?;
    writeln!(out, "{}", HEADER.join("\t")).map_err(io)?;
    let now = crate::clock::now();
    let mut prices: HashMap<String, Option<Money>> = HashMap::new();
    let mut rows = 0;
    let stores = store::locations::all_locations(db)
        .await?
        .into_iter()
        .filter(|l| l.kind == LocationKind::Store && l.active);
    for location in stores {
        let Some(method) = pickup_method(&location, &policy) else {
            continue;
        };
        let sla = location.usual_pickup_sla(now).unwrap_or("");
        let mut page = PageRequest {
            limit: kernel::page::MAX_LIMIT,
            after: None,
        };
        loop {
            let found = store::stock::location_stock(db, &location.code, &page).await?;
            for stock in &found.data {
                let atp = policy.policy.channel_atp(&location.code, stock.level);
                let price = match prices.get(&stock.sku) {
                    Some(p) => *p,
                    None => {
                        let p = channel_price(db, &stock.sku, options).await?;
                        prices.insert(stock.sku.clone(), p);
                        p
                    }
                };
                let price = price.map(|m| m.display()).unwrap_or_default();
                let label = inventory::ledger::availability_label(atp, options.limited_at);
                writeln!(
                    out,
                    "{}\t{}\t{atp}\t{label}\t{price}\t{method}\t{sla}",
                    location.code, stock.sku
                )
                .map_err(io)?;
                rows += 1;
            }
            match found.next_cursor {
                Some(cursor) => page = PageRequest::parse(Some(page.limit), Some(&cursor))?,
                None => break,
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(rows)
}

/// The channel's price of a SKU in the feed's currency; none when it has no price.
async fn channel_price(db: &Db, sku: &str, o: &LocalInventory) -> Result<Option<Money>, Error> {
    match store::prices::channel_price(db, sku, &o.channel, o.currency).await {
        Ok(p) => Ok(Some(Money::new(p.amount_minor, o.currency))),
        Err(e) if e.code == kernel::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
