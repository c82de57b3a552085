//! What every request handler shares: the database, the key cache, metrics, readiness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kernel::Currency;
use metrics_exporter_prometheus::PrometheusHandle;
use store::Db;

use crate::key_cache::KeyCache;

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
    /// Order rules: pickup wait, return window.
    pub order_rules: OrderRules,
    /// The payment provider (the built-in test provider until a real one is wired).
    pub payments: Arc<orders::payment::TestProvider>,
    /// Wrong console sign-ins per client address, on this node.
    pub sign_in_throttle: Arc<app::throttle::SignInThrottle>,
}

/// A retailer's order rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRules {
    /// Days a ready pickup order waits before it is a no-show (cancelled, refunded).
    pub pickup_days: i64,
    /// Days after the customer got the goods during which they may come back.
    pub return_window_days: i64,
}

impl Default for OrderRules {
    fn default() -> Self {
        OrderRules {
            pickup_days: store::orders::DEFAULT_PICKUP_DAYS,
            return_window_days: orders::returns::DEFAULT_WINDOW_DAYS,
        }
    }
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
            order_rules: OrderRules::default(),
            payments: Arc::default(),
            sign_in_throttle: Arc::default(),
        }
    }

    /// The same state with the retailer's order rules.
    pub fn with_order_rules(mut self, rules: OrderRules) -> AppState {
        self.order_rules = rules;
        self
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
        // Resolution behind the log applies the same rules.
        self.db.event_tail().set_rules(resolution);
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
