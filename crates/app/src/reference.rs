//! Reference data that channel views and checkouts read on every request — the locations,
//! the channels' sourcing policies, the promotions in force, the VAT tables and the shipping
//! methods — kept in
//! memory for a short time.
//!
//! A web shop's availability read applies its channel's policy to every location; reading the
//! policy and all locations from the database each time made such a read ≈ 2.8 times dearer
//! than an admin's (measured with `wrk`). Both change rarely. This node forgets them at once
//! when it changes them itself; changes made through another node are seen within [`TTL`].
//! Holds use it too, to check a channel's policy before the single writer; when the cache
//! cannot allow a hold, the write command checks again with authority. Stock levels, and the
//! use of promotions' budgets, are never cached here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catalog::Location;
use kernel::{Currency, Error};
use orders::delivery::ShippingMethod;
use promotions::Promotion;
use promotions::tax::TaxTable;
use store::Db;
use store::sourcing::EffectivePolicy;

/// How long another node's change may go unseen.
pub const TTL: Duration = Duration::from_secs(2);

type Stamped<T> = (Instant, Arc<T>);

pub struct Reference {
    db: Db,
    locations: Mutex<Option<Stamped<HashMap<String, Location>>>>,
    policies: Mutex<HashMap<String, Stamped<EffectivePolicy>>>,
    promotions: Mutex<HashMap<Currency, Stamped<Vec<Promotion>>>>,
    tax_tables: Mutex<Option<Stamped<BTreeMap<String, TaxTable>>>>,
    shipping_methods: Mutex<Option<Stamped<Vec<ShippingMethod>>>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fresh<T>(entry: Option<&Stamped<T>>) -> Option<Arc<T>> {
    entry
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, value)| value.clone())
}

impl Reference {
    /// The channel's safety stock at `location` when the cached policy allows a hold for
    /// `purpose` there; `None` when the cache cannot say yes (unknown channel or location,
    /// not allowed) — the write command then checks with authority. The single writer is the
    /// engine's bottleneck, so the common case is decided here, off it.
    pub async fn hold_safety(
        &self,
        channel: &str,
        location: &str,
        purpose: inventory::HoldPurpose,
    ) -> Option<i64> {
        let effective = self.policy(channel).await.ok()?;
        let locations = self.locations().await.ok()?;
        let place = locations.get(location)?;
        let site = inventory::sourcing::Site {
            code: &place.code,
            kind: place.kind,
            capabilities: &place.capabilities,
            active: place.active,
        };
        effective.policy.check_hold(channel, site, purpose).ok()
    }

    pub fn new(db: Db) -> Reference {
        Reference {
            db,
            locations: Mutex::new(None),
            policies: Mutex::new(HashMap::new()),
            promotions: Mutex::new(HashMap::new()),
            tax_tables: Mutex::new(None),
            shipping_methods: Mutex::new(None),
        }
    }

    /// The active promotions in a currency, by priority.
    pub async fn promotions(&self, currency: Currency) -> Result<Arc<Vec<Promotion>>, Error> {
        if let Some(hit) = fresh(locked(&self.promotions).get(&currency)) {
            return Ok(hit);
        }
        let loaded =
            Arc::new(store::promotions::active(&mut self.db.read().await?, currency).await?);
        locked(&self.promotions).insert(currency, (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Every country's VAT table.
    pub async fn tax_tables(&self) -> Result<Arc<BTreeMap<String, TaxTable>>, Error> {
        if let Some(hit) = fresh(locked(&self.tax_tables).as_ref()) {
            return Ok(hit);
        }
        let loaded: BTreeMap<String, TaxTable> = store::tax::all(&mut self.db.read().await?)
            .await?
            .into_iter()
            .map(|t| (t.country.clone(), t))
            .collect();
        let loaded = Arc::new(loaded);
        *locked(&self.tax_tables) = Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Every shipping method, in the order they are offered.
    pub async fn shipping_methods(&self) -> Result<Arc<Vec<ShippingMethod>>, Error> {
        if let Some(hit) = fresh(locked(&self.shipping_methods).as_ref()) {
            return Ok(hit);
        }
        let loaded = Arc::new(store::shipping::all(&mut self.db.read().await?).await?);
        *locked(&self.shipping_methods) = Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// The database the cache reads.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Every location (active or not), by code.
    pub async fn locations(&self) -> Result<Arc<HashMap<String, Location>>, Error> {
        if let Some(hit) = fresh(self.lock_locations().as_ref()) {
            return Ok(hit);
        }
        let loaded: HashMap<String, Location> = store::locations::all_locations(&self.db)
            .await?
            .into_iter()
            .map(|l| (l.code.clone(), l))
            .collect();
        let loaded = Arc::new(loaded);
        *self.lock_locations() = Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// A channel's effective sourcing policy; `not_found` for an unknown channel.
    pub async fn policy(&self, channel: &str) -> Result<Arc<EffectivePolicy>, Error> {
        if let Some(hit) = fresh(self.lock_policies().get(channel)) {
            return Ok(hit);
        }
        let loaded = Arc::new(store::sourcing::get_policy(&self.db, channel).await?);
        self.lock_policies()
            .insert(channel.to_owned(), (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Forgets everything: this node has just changed a location, a channel, a policy, a
    /// promotion, a VAT table or a shipping method.
    pub fn invalidate(&self) {
        *self.lock_locations() = None;
        self.lock_policies().clear();
        locked(&self.promotions).clear();
        *locked(&self.tax_tables) = None;
        *locked(&self.shipping_methods) = None;
    }

    fn lock_locations(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<Stamped<HashMap<String, Location>>>> {
        self.locations.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_policies(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Stamped<EffectivePolicy>>> {
        self.policies.lock().unwrap_or_else(|p| p.into_inner())
    }
}
