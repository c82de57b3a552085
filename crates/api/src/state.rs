//! What every request handler shares: the database, the key cache, metrics, readiness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kernel::Currency;
use metrics_exporter_prometheus::PrometheusHandle;
use store::Db;

use crate::auth::KeyCache;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<KeyCache>,
    pub metrics: PrometheusHandle,
    ready: Arc<AtomicBool>,
    /// The currency used when a price request names none.
    pub default_currency: Currency,
    /// How long a hold lives when it does not say, per purpose.
    pub hold_ttls: inventory::HoldTtls,
    /// Live availability for SSE subscribers on this node.
    pub live: Arc<crate::live::Hub>,
    /// Locations and sourcing policies for channel views, cached briefly.
    pub reference: Arc<crate::reference::Reference>,
    /// Availability answers, until the next commit.
    pub availability_cache: Arc<crate::read_cache::ReadCache>,
    /// Identity resolution settings (the identity cap).
    pub resolution: store::customers::ResolutionRules,
    /// How national phone numbers are read.
    pub phones: Arc<customers::PhoneRules>,
}

impl AppState {
    pub fn new(db: Db, default_currency: Currency) -> AppState {
        AppState {
            db: db.clone(),
            keys: Arc::new(KeyCache::default()),
            metrics: crate::metrics::handle(),
            ready: Arc::new(AtomicBool::new(true)),
            default_currency,
            hold_ttls: inventory::HoldTtls::default(),
            live: crate::live::Hub::new(db.clone()),
            reference: Arc::new(crate::reference::Reference::new(db.clone())),
            availability_cache: Arc::default(),
            resolution: store::customers::ResolutionRules::default(),
            phones: Arc::new(customers::PhoneRules::default()),
        }
    }

    /// The same state with the retailer's hold lifetimes.
    pub fn with_hold_ttls(mut self, ttls: inventory::HoldTtls) -> AppState {
        self.hold_ttls = ttls;
        self
    }

    /// The same state with the retailer's identity rules.
    pub fn with_customer_rules(
        mut self,
        resolution: store::customers::ResolutionRules,
        phones: customers::PhoneRules,
    ) -> AppState {
        self.resolution = resolution;
        self.phones = Arc::new(phones);
        self
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Marks the node as not ready (during shutdown) so load balancers stop sending traffic.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}
