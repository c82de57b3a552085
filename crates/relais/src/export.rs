//! `relais export local-inventory`: the search-engine local inventory feed, as TSV.
//!
//! One row per variant stocked at each active store: `store code`, `id` (the SKU),
//! `quantity` (available to promise there), `availability` (`in stock`, `limited
//! availability` at `--limited-at` units or fewer, `out of stock`), `price` (`49.99 EUR`: the
//! base price, or a channel's price with `--channel`), `pickup method` (`buy` where click &
//! collect is offered, `reserve` where only click & reserve is, `not supported`) and
//! `pickup SLA` (`same day`, `next day`, `2-day` … from the store's lead time, opening hours
//! and time zone). Values never contain tabs or newlines (codes, SKUs and amounts cannot).

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use catalog::{Capability, Location, LocationKind};
use kernel::{Currency, Money, PageRequest, Timestamp};
use store::Db;

/// What to export.
#[derive(Debug, Clone)]
pub struct LocalInventory {
    pub currency: Currency,
    /// Price as this channel charges it (overrides included); the base price without.
    pub channel: Option<String>,
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

/// The feed's pickup method for a store.
pub fn pickup_method(l: &Location) -> &'static str {
    if l.capabilities.contains(&Capability::Pickup) {
        "buy"
    } else if l.capabilities.contains(&Capability::Reserve) {
        "reserve"
    } else {
        "not supported"
    }
}

/// Prices by SKU, looked up once each.
struct Prices<'a> {
    db: &'a Db,
    options: &'a LocalInventory,
    known: HashMap<String, Option<Money>>,
}

impl Prices<'_> {
    async fn of(&mut self, sku: &str) -> anyhow::Result<Option<Money>> {
        if let Some(p) = self.known.get(sku) {
            return Ok(*p);
        }
        let currency = self.options.currency;
        let found = match &self.options.channel {
            Some(channel) => store::prices::channel_price(self.db, sku, channel, currency)
                .await
                .ok()
                .map(|p| Money::new(p.amount_minor, currency)),
            None => store::prices::base_prices(self.db, sku)
                .await?
                .into_iter()
                .find(|p| p.currency == currency)
                .map(|p| Money::new(p.amount_minor, currency)),
        };
        self.known.insert(sku.to_owned(), found);
        Ok(found)
    }
}

/// Writes the feed; returns how many rows (besides the header) it wrote.
pub async fn local_inventory(
    db: &Db,
    options: &LocalInventory,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    if let Some(channel) = &options.channel {
        store::channels::get_channel(db, channel)
            .await
            .with_context(|| format!("no channel `{channel}`"))?;
    }
    writeln!(out, "{}", HEADER.join("\t"))?;
    let now = Timestamp::now();
    let mut prices = Prices {
        db,
        options,
        known: HashMap::new(),
    };
    let mut rows = 0;
    let stores = store::locations::all_locations(db)
        .await?
        .into_iter()
        .filter(|l| l.kind == LocationKind::Store && l.active);
    for location in stores {
        let method = pickup_method(&location);
        let sla = match method {
            "not supported" => "",
            _ => location.pickup_sla(now).unwrap_or(""),
        };
        let mut page = PageRequest {
            limit: kernel::page::MAX_LIMIT,
            after: None,
        };
        loop {
            let found = store::stock::location_stock(db, &location.code, &page).await?;
            for stock in &found.data {
                let atp = stock.level.atp();
                let price = prices
                    .of(&stock.sku)
                    .await?
                    .map(|m| m.display())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}\t{}\t{atp}\t{}\t{price}\t{method}\t{sla}",
                    location.code,
                    stock.sku,
                    inventory::ledger::availability_label(atp, options.limited_at),
                )?;
                rows += 1;
            }
            match found.next_cursor {
                Some(cursor) => page = PageRequest::parse(Some(page.limit), Some(&cursor))?,
                None => break,
            }
        }
    }
    out.flush()?;
    Ok(rows)
}
