//! Availability as a channel sees it: the locations its sourcing policy lets it promise
//! from (per fulfilment), the ATP it may promise there (its channel safety stock kept back),
//! and a kiosk's or till's own store first.

use std::sync::Arc;

use inventory::sourcing::Site;
use inventory::{Fulfilment, Level};
use kernel::{Error, ErrorCode};
use store::sourcing::EffectivePolicy;

use crate::access::{self, Principal};
use crate::reference::Reference;

/// A channel's view of stock: which locations it may promise from and what it keeps back.
pub struct ChannelView {
    effective: Arc<EffectivePolicy>,
    fulfilment: Option<Fulfilment>,
}

impl ChannelView {
    /// The view of the channel a request names (or the key's own channel); `None` for staff
    /// and stores reading the books without a channel.
    pub async fn resolve(
        reference: &Reference,
        p: &Principal,
        channel: Option<String>,
        fulfilment: Option<Fulfilment>,
    ) -> Result<Option<ChannelView>, Error> {
        let Some(channel) = access::promising_channel(p, channel)? else {
            if fulfilment.is_some() {
                return Err(
                    Error::new(ErrorCode::InvalidQuery, "fulfilment needs a channel")
                        .with("field", "fulfilment"),
                );
            }
            return Ok(None);
        };
        let effective = reference.policy(&channel).await.map_err(|e| {
            if e.code == ErrorCode::NotFound {
                Error::new(ErrorCode::InvalidQuery, format!("no channel `{channel}`"))
                    .with("field", "channel")
            } else {
                e
            }
        })?;
        Ok(Some(ChannelView {
            effective,
            fulfilment,
        }))
    }

    pub fn code(&self) -> &str {
        &self.effective.channel.code
    }

    /// Whether the channel may promise stock at `l` (for the view's fulfilment, if any).
    pub fn allows(&self, l: &catalog::Location) -> bool {
        let site = Site {
            code: &l.code,
            kind: l.kind,
            capabilities: &l.capabilities,
            active: l.active,
        };
        self.effective.policy.allows(site, self.fulfilment)
    }

    /// What the channel may promise of `level` at `location`.
    pub fn atp(&self, location: &str, level: Level) -> i64 {
        self.effective.policy.channel_atp(location, level)
    }

    /// The store a kiosk or POS stands in, when its policy lists it first.
    pub fn own_store(&self) -> Option<&str> {
        let policy = &self.effective.policy;
        policy
            .own_store_first
            .then_some(self.effective.channel.location_code.as_deref())
            .flatten()
    }
}

/// What is asked of a variant's availability.
#[derive(Debug, Clone)]
pub struct VariantQuery {
    pub sku: String,
    /// Only locations within a radius of a point, nearest first (with their distance).
    pub near: Option<(catalog::Coordinates, f64)>,
    /// Only locations offering this.
    pub capability: Option<catalog::Capability>,
    /// Only locations with something to promise.
    pub in_stock: bool,
}

/// One location's stock as the caller sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub stock: store::stock::Stock,
    /// What may be promised there (the channel's view, or the books' ATP).
    pub atp: i64,
    pub distance_km: Option<f64>,
    /// When a pickup order placed now would be ready (stores offering pickup, with stock).
    pub pickup_ready_by: Option<kernel::Timestamp>,
}

impl Seen {
    fn plain(stock: store::stock::Stock, atp: i64) -> Seen {
        Seen {
            stock,
            atp,
            distance_km: None,
            pickup_ready_by: None,
        }
    }
}

/// Where a variant is, as `view`'s channel sees it (its allowed locations and ATP, its own
/// store first) or, without a view, as the books say. Without `near` or `capability` it is
/// answered from the cached locations (the product page's hot path).
pub async fn of_variant(
    reference: &Reference,
    view: Option<&ChannelView>,
    q: &VariantQuery,
) -> Result<Vec<Seen>, Error> {
    let db = reference.db();
    let stock = store::stock::variant_stock(db, &q.sku).await?;
    if stock.is_empty() {
        store::catalog::get_variant(db, &q.sku).await?;
    }
    if q.near.is_none() && q.capability.is_none() {
        return at_stocked(reference, view, stock, q.in_stock).await;
    }
    let filter = store::locations::LocationFilter {
        capability: q.capability,
        near: q.near,
        ..Default::default()
    };
    let all = kernel::PageRequest {
        limit: kernel::page::MAX_LIMIT,
        after: None,
    };
    let places = store::locations::list_locations(db, &filter, &all)
        .await?
        .data;
    let mut by_code: std::collections::HashMap<String, store::stock::Stock> = stock
        .into_iter()
        .map(|st| (st.location.clone(), st))
        .collect();
    let now = crate::clock::now();
    let mut seen: Vec<Seen> = places
        .into_iter()
        .filter(|hit| view.is_none_or(|v| v.allows(&hit.location)))
        .filter_map(|hit| {
            let code = hit.location.code.clone();
            let stock = by_code.remove(&code).unwrap_or(store::stock::Stock {
                sku: q.sku.clone(),
                location: code.clone(),
                level: Level::default(),
                in_transit: 0,
            });
            let atp = view.map_or(stock.level.atp(), |v| v.atp(&code, stock.level));
            if q.in_stock && atp == 0 {
                return None;
            }
            let offers_pickup = hit
                .location
                .capabilities
                .contains(&catalog::Capability::Pickup);
            Some(Seen {
                distance_km: hit.distance_km.map(|d| (d * 1000.0).round() / 1000.0),
                pickup_ready_by: (offers_pickup && atp > 0)
                    .then(|| hit.location.pickup_ready_by(now))
                    .flatten(),
                ..Seen::plain(stock, atp)
            })
        })
        .collect();
    if let Some(v) = view {
        inventory::sourcing::own_store_first(&mut seen, v.own_store(), |s| &s.stock.location);
    }
    Ok(seen)
}

/// The locations stocking it, filtered and ranked by the channel's view (if any).
async fn at_stocked(
    reference: &Reference,
    view: Option<&ChannelView>,
    stock: Vec<store::stock::Stock>,
    in_stock: bool,
) -> Result<Vec<Seen>, Error> {
    let Some(view) = view else {
        return Ok(stock
            .into_iter()
            .filter(|st| !in_stock || st.level.atp() > 0)
            .map(|st| {
                let atp = st.level.atp();
                Seen::plain(st, atp)
            })
            .collect());
    };
    let locations = reference.locations().await?;
    let mut seen: Vec<Seen> = stock
        .into_iter()
        .filter_map(|st| {
            let place = locations.get(&st.location)?;
            if !view.allows(place) {
                return None;
            }
            let atp = view.atp(&st.location, st.level);
            (!in_stock || atp > 0).then(|| Seen::plain(st, atp))
        })
        .collect();
    inventory::sourcing::own_store_first(&mut seen, view.own_store(), |s| &s.stock.location);
    Ok(seen)
}
