//! Who may do what: the one place where access is decided.
//!
//! Two levels. [`ROUTES`] says, for every route of the API, which roles may call it at all:
//! an admin key always; a channel, store or service key [`Reach::Yes`], [`Reach::Own`] (only
//! on what is its own, decided per resource by the rules below) or [`Reach::No`] (refused
//! before the request is read). The resource rules ([`customer`], [`order`], [`see_hold`],
//! [`end_hold`]…) decide `Own` from facts the use case loads; they are pure. ARCHITECTURE.md
//! shows the table, and a test walks every route of the OpenAPI document × every role.

use kernel::{Error, ErrorCode};

/// One permission a key holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Admin,
    Channel(String),
    Store(String),
    Service,
    /// Promotions, coupons, segments, notification rules and the KPIs: no customer's data.
    Marketing,
}

impl Scope {
    pub fn parse(text: &str) -> Result<Scope, Error> {
        let bad = || {
            Error::validation(
                "scopes",
                format!(
                    "`{text}` is not a scope: admin, service, marketing, channel:<code> or store:<location code>"
                ),
            )
        };
        match text.split_once(':') {
            None if text == "admin" => Ok(Scope::Admin),
            None if text == "service" => Ok(Scope::Service),
            None if text == "marketing" => Ok(Scope::Marketing),
            Some(("channel", c)) => catalog::channel::validate_channel_code("scopes", c)
                .map(Scope::Channel)
                .map_err(|_| bad()),
            Some(("store", s)) => catalog::location::validate_location_code("scopes", s)
                .map(Scope::Store)
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    pub fn to_text(&self) -> String {
        match self {
            Scope::Admin => "admin".into(),
            Scope::Service => "service".into(),
            Scope::Marketing => "marketing".into(),
            Scope::Channel(c) => format!("channel:{c}"),
            Scope::Store(s) => format!("store:{s}"),
        }
    }

    fn role(&self) -> Role {
        match self {
            Scope::Admin => Role::Admin,
            Scope::Channel(_) => Role::Channel,
            Scope::Store(_) => Role::Store,
            Scope::Service => Role::Service,
            Scope::Marketing => Role::Marketing,
        }
    }
}

/// The caller of a request: an API key and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub scopes: Vec<Scope>,
}

pub fn forbidden(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Forbidden, message)
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }

    /// The retailer's staff at large: admin and service keys.
    pub fn is_staff(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| matches!(s, Scope::Admin | Scope::Service))
    }

    pub fn require_staff(&self) -> Result<(), Error> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(forbidden("this needs a service or admin key"))
        }
    }

    /// Promotions, coupons, segments and notification rules: admin and marketing keys.
    pub fn require_marketing(&self) -> Result<(), Error> {
        if self.is_admin() || self.scopes.contains(&Scope::Marketing) {
            Ok(())
        } else {
            Err(forbidden("this needs a marketing or admin key"))
        }
    }

    /// Segments are read by service agents and marketers alike.
    pub fn require_staff_or_marketing(&self) -> Result<(), Error> {
        self.require_staff().or_else(|_| self.require_marketing())
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(forbidden("this route needs the admin scope"))
        }
    }

    /// The store a store key speaks for, when the key is not also staff.
    pub fn store_only(&self) -> Option<&str> {
        if self.is_staff() {
            return None;
        }
        self.scopes.iter().find_map(|s| match s {
            Scope::Store(code) => Some(code.as_str()),
            _ => None,
        })
    }

    /// The channel this key speaks for when it is bound to exactly one.
    pub fn own_channel(&self) -> Option<&str> {
        let mut channels = self.channels();
        match (channels.next(), channels.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    /// Every channel the key speaks for.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().filter_map(|s| match s {
            Scope::Channel(c) => Some(c.as_str()),
            _ => None,
        })
    }

    /// Every store the key works at.
    pub fn stores(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().filter_map(|s| match s {
            Scope::Store(c) => Some(c.as_str()),
            _ => None,
        })
    }

    /// Stock movements and transfers: admins anywhere, a store key at its own store.
    pub fn require_stock_keeper(&self, location_code: &str) -> Result<(), Error> {
        if self.is_admin() || self.stores().any(|s| s == location_code) {
            Ok(())
        } else {
            Err(forbidden(
                "only an admin key or this store's key may move its stock",
            ))
        }
    }

    /// Placing holds: channels, service agents and admins anywhere, a store key at its own store.
    pub fn require_hold_at(&self, location_code: &str) -> Result<(), Error> {
        let allowed = self.scopes.iter().any(|s| match s {
            Scope::Admin | Scope::Service | Scope::Channel(_) => true,
            Scope::Store(code) => code == location_code,
            Scope::Marketing => false,
        });
        if allowed {
            Ok(())
        } else {
            Err(forbidden("a store key holds stock at its own store only"))
        }
    }

    /// Whether the key may see a store's own books (on hand, held, safety).
    pub fn can_access_store(&self, location_code: &str) -> bool {
        self.is_staff() || self.stores().any(|s| s == location_code)
    }
}

/// A console user's role. It gives the user's session the scopes a key of that kind would
/// have (so the console reaches exactly what the API would), and the console sections shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// Everything, everywhere.
    Admin,
    /// A store's work, its stock and its KPIs.
    StoreManager,
    /// A store's work: the queue, the returns desk, its customers, its stock.
    Associate,
    /// Customer service: every customer, merge reviews, interactions, notifications.
    ServiceAgent,
    /// Promotions, coupons, segments, notification rules and the KPIs.
    Marketer,
}

/// A part of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    WorkQueue,
    ReturnsDesk,
    Customers,
    Stock,
    Promotions,
    MergeReviews,
    Notifications,
    Kpis,
    Users,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::WorkQueue,
        Section::ReturnsDesk,
        Section::Customers,
        Section::Stock,
        Section::Promotions,
        Section::MergeReviews,
        Section::Notifications,
        Section::Kpis,
        Section::Users,
    ];
}

impl StaffRole {
    pub const ALL: [StaffRole; 5] = [
        StaffRole::Admin,
        StaffRole::StoreManager,
        StaffRole::Associate,
        StaffRole::ServiceAgent,
        StaffRole::Marketer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::StoreManager => "store_manager",
            StaffRole::Associate => "associate",
            StaffRole::ServiceAgent => "service_agent",
            StaffRole::Marketer => "marketer",
        }
    }

    pub fn parse(text: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Store roles work at named stores (one at least); the others at none.
    pub fn works_at_stores(self) -> bool {
        matches!(self, StaffRole::StoreManager | StaffRole::Associate)
    }

    /// The scopes a session of this role holds.
    pub fn scopes(self, stores: &[String]) -> Vec<Scope> {
        match self {
            StaffRole::Admin => vec![Scope::Admin],
            StaffRole::StoreManager | StaffRole::Associate => {
                stores.iter().cloned().map(Scope::Store).collect()
            }
            StaffRole::ServiceAgent => vec![Scope::Service],
            StaffRole::Marketer => vec![Scope::Marketing],
        }
    }

    /// The console sections this role sees.
    pub fn sections(self) -> &'static [Section] {
        use Section::*;
        match self {
            StaffRole::Admin => &Section::ALL,
            StaffRole::StoreManager => &[WorkQueue, ReturnsDesk, Customers, Stock, Kpis],
            StaffRole::Associate => &[WorkQueue, ReturnsDesk, Customers, Stock],
            StaffRole::ServiceAgent => &[Customers, MergeReviews, Notifications],
            StaffRole::Marketer => &[Promotions, Kpis],
        }
    }

    pub fn may_open(self, section: Section) -> Result<(), Error> {
        if self.sections().contains(&section) {
            Ok(())
        } else {
            Err(forbidden(format!(
                "the {} role does not open this part of the console",
                self.as_str()
            )))
        }
    }
}

/// The kinds of key the route table speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Channel,
    Store,
    Service,
    Marketing,
}

/// How far a role reaches on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every key of the role may call it.
    Yes,
    /// On its own things only: the route's use case applies a resource rule.
    Own,
    /// Refused with 403 before the request is read.
    No,
}

impl Reach {
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Yes => "yes",
            Reach::Own => "own",
            Reach::No => "—",
        }
    }
}

/// One row of the route table: admin keys may call every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub channel: Reach,
    pub store: Reach,
    pub service: Reach,
}

impl RouteRule {
    pub fn reach(&self, role: Role) -> Reach {
        match role {
            Role::Admin => Reach::Yes,
            Role::Channel => self.channel,
            Role::Store => self.store,
            Role::Service => self.service,
            Role::Marketing => {
                if MARKETING.contains(&(self.method, self.path)) {
                    Reach::Yes
                } else {
                    Reach::No
                }
            }
        }
    }
}

/// Routes any caller may use without a key.
pub const PUBLIC: &[&str] = &["/health", "/ready", "/metrics"];

use Reach::{No, Own, Yes};

const fn r(
    method: &'static str,
    path: &'static str,
    channel: Reach,
    store: Reach,
    service: Reach,
) -> RouteRule {
    RouteRule {
        method,
        path,
        channel,
        store,
        service,
    }
}

/// Every authenticated route: channel, store, service (admin: always).
#[rustfmt::skip]
pub const ROUTES: &[RouteRule] = &[
    // Keys, outbox and reports: admin.
    r("GET", "/v1/api-keys", No, No, No),
    r("POST", "/v1/api-keys", No, No, No),
    r("DELETE", "/v1/api-keys/{id}", No, No, No),
    r("GET", "/v1/staff-users", No, No, No),
    r("POST", "/v1/staff-users", No, No, No),
    r("GET", "/v1/staff-users/{id}", No, No, No),
    r("PATCH", "/v1/staff-users/{id}", No, No, No),
    r("GET", "/v1/outbox", No, No, No),
    r("GET", "/v1/webhooks", No, No, No),
    r("POST", "/v1/webhooks", No, No, No),
    r("GET", "/v1/webhooks/{id}", No, No, No),
    r("PATCH", "/v1/webhooks/{id}", No, No, No),
    r("POST", "/v1/webhooks/{id}/rotate-secret", No, No, No),
    r("GET", "/v1/webhooks/{id}/deliveries", No, No, No),
    r("POST", "/v1/webhooks/{id}/deliveries/{seq}/replay", No, No, No),
    r("POST", "/v1/webhooks/{id}/replay", No, No, No),
    r("GET", "/v1/notification-rules", No, No, No),
    r("PUT", "/v1/notification-rules/{rule}", No, No, No),
    r("GET", "/v1/notifications", No, No, Yes),
    // The event catalogue is documentation: every key reads it.
    r("GET", "/v1/event-types", Yes, Yes, Yes),
    r("GET", "/v1/event-types/{type}", Yes, Yes, Yes),
    r("GET", "/v1/reports/price-parity", No, No, No),
    // VAT tables: everyone reads, admin writes.
    r("GET", "/v1/tax-tables", Yes, Yes, Yes),
    r("GET", "/v1/tax-tables/{country}", Yes, Yes, Yes),
    r("PUT", "/v1/tax-tables/{country}", No, No, No),
    // Shipping methods: every key reads those offered to it, admin sets them.
    r("GET", "/v1/shipping-methods", Yes, Yes, Yes),
    r("PUT", "/v1/shipping-methods/{code}", No, No, No),
    // A channel's own local inventory feed; staff any channel's.
    r("GET", "/v1/feeds/local-inventory", Yes, No, Yes),
    // Catalogue, locations, channels and prices: everyone reads, admin writes.
    r("GET", "/v1/categories", Yes, Yes, Yes),
    r("GET", "/v1/products", Yes, Yes, Yes),
    r("POST", "/v1/products", No, No, No),
    r("GET", "/v1/products/{id}", Yes, Yes, Yes),
    r("PATCH", "/v1/products/{id}", No, No, No),
    r("POST", "/v1/products/{id}/variants", No, No, No),
    r("GET", "/v1/variants", Yes, Yes, Yes),
    r("GET", "/v1/variants/{sku}", Yes, Yes, Yes),
    r("PATCH", "/v1/variants/{sku}", No, No, No),
    r("GET", "/v1/variants/{sku}/price", Yes, Yes, Yes),
    r("GET", "/v1/variants/{sku}/price/channels", Yes, Yes, Yes),
    r("GET", "/v1/variants/{sku}/prices", Yes, Yes, Yes),
    r("PUT", "/v1/variants/{sku}/prices/{currency}", No, No, No),
    r("PUT", "/v1/variants/{sku}/prices/{currency}/overrides/{channel}", No, No, No),
    r("DELETE", "/v1/variants/{sku}/prices/{currency}/overrides/{channel}", No, No, No),
    r("GET", "/v1/locations", Yes, Yes, Yes),
    r("POST", "/v1/locations", No, No, No),
    r("GET", "/v1/locations/{code}", Yes, Yes, Yes),
    r("PATCH", "/v1/locations/{code}", No, No, No),
    r("GET", "/v1/channels", Yes, Yes, Yes),
    r("POST", "/v1/channels", No, No, No),
    r("GET", "/v1/channels/{code}", Yes, Yes, Yes),
    r("GET", "/v1/channels/{code}/sourcing", Yes, Yes, Yes),
    r("PUT", "/v1/channels/{code}/sourcing", No, No, No),
    // Stock: availability for all; books and movements for the store's own key.
    r("GET", "/v1/variants/{sku}/availability", Yes, Yes, Yes),
    r("GET", "/v1/locations/{code}/stock", Yes, Yes, Yes),
    r("PUT", "/v1/locations/{code}/stock/{sku}/safety", No, No, No),
    r("GET", "/v1/stream/availability", Yes, Yes, Yes),
    r("POST", "/v1/stock/movements", No, Own, No),
    r("GET", "/v1/stock/movements", No, Own, No),
    r("POST", "/v1/transfers", No, Own, No),
    r("GET", "/v1/transfers", No, Own, No),
    r("GET", "/v1/transfers/{id}", No, Own, No),
    r("POST", "/v1/transfers/{id}/receive", No, Own, No),
    // Holds: a key sees and ends the holds it made; carts and orders end their own.
    r("POST", "/v1/holds", Yes, Own, Yes),
    r("GET", "/v1/holds/{id}", Own, Own, Yes),
    r("POST", "/v1/holds/{id}/commit", Own, Own, Own),
    r("POST", "/v1/holds/{id}/release", Own, Own, Own),
    // Customers: a store sees its home-store customers and those sharing their history;
    // a channel the customers known on it.
    r("GET", "/v1/customers", No, Own, Yes),
    r("POST", "/v1/customers", Yes, Yes, Yes),
    r("POST", "/v1/customers/identify", Yes, Yes, Yes),
    r("GET", "/v1/customers/{id}", Own, Own, Yes),
    r("PATCH", "/v1/customers/{id}", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/identities", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/lineage", No, No, Yes),
    r("GET", "/v1/customers/{id}/timeline", No, Own, Yes),
    r("GET", "/v1/customers/{id}/consents", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/consents", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/consents/check", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/interactions", No, Own, Yes),
    r("POST", "/v1/customers/{id}/interactions", No, Yes, Yes),
    r("GET", "/v1/customers/{id}/export", No, No, Yes),
    r("POST", "/v1/customers/{id}/erasure", No, No, Yes),
    r("GET", "/v1/customers/{id}/orders", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/store-credits", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/store-credits", No, No, Yes),
    r("GET", "/v1/customers/{id}/cart", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/addresses", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/addresses", Own, Own, Yes),
    r("DELETE", "/v1/customers/{id}/addresses/{address_id}", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/contact-preferences", Own, Own, Yes),
    r("PUT", "/v1/customers/{id}/contact-preferences", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/stock-alerts", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/stock-alerts", Own, Own, Yes),
    r("DELETE", "/v1/customers/{id}/stock-alerts/{alert_id}", Own, Own, Yes),
    r("GET", "/v1/customers/{id}/loyalty", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/loyalty", Own, Own, Yes),
    r("POST", "/v1/customers/{id}/loyalty/adjustments", No, No, Yes),
    r("POST", "/v1/customers/{id}/loyalty/rewards", Own, Own, Yes),
    r("GET", "/v1/loyalty/programme", Yes, Yes, Yes),
    r("PUT", "/v1/loyalty/programme", No, No, No),
    r("GET", "/v1/customers/{id}/segments", No, No, Yes),
    r("GET", "/v1/merge-reviews", No, No, Yes),
    r("POST", "/v1/merge-reviews/{id}/decision", No, No, Yes),
    r("POST", "/v1/events", Yes, Yes, Yes),
    r("GET", "/v1/events/resolution", Yes, Yes, Yes),
    r("GET", "/v1/events/set-aside", No, No, Yes),
    r("POST", "/v1/events/set-aside/{seq}/retry", No, No, Yes),
    r("GET", "/v1/segments", No, No, Yes),
    r("POST", "/v1/segments", No, No, Yes),
    r("GET", "/v1/segments/{code}", No, No, Yes),
    r("GET", "/v1/segments/{code}/members", No, No, Yes),
    // Promotions are shown to customers on every channel: every key reads them.
    r("GET", "/v1/promotions", Yes, Yes, Yes),
    r("POST", "/v1/promotions", No, No, No),
    r("GET", "/v1/promotions/{id}", Yes, Yes, Yes),
    r("PATCH", "/v1/promotions/{id}", No, No, No),
    // Coupon codes: admin makes them, staff hand them out, any key checks one; a channel
    // issues a code to a customer known on it.
    r("POST", "/v1/promotions/{id}/coupons", No, No, No),
    r("GET", "/v1/promotions/{id}/coupons", No, No, Yes),
    r("GET", "/v1/coupons/{code}", Yes, Yes, Yes),
    r("POST", "/v1/coupons/{code}/issue", Own, No, Yes),
    // Carts: the cart id is its token.
    r("POST", "/v1/carts", Yes, Yes, Yes),
    r("GET", "/v1/carts/{id}", Yes, Yes, Yes),
    r("GET", "/v1/carts/{id}/shipping-options", Yes, Yes, Yes),
    r("PUT", "/v1/carts/{id}/lines/{sku}", Yes, Yes, Yes),
    r("DELETE", "/v1/carts/{id}/lines/{sku}", Yes, Yes, Yes),
    r("POST", "/v1/carts/{id}/sign-in", Yes, Yes, Yes),
    r("POST", "/v1/carts/{id}/handoff", Yes, Yes, Yes),
    r("POST", "/v1/carts/claim", Yes, Yes, Yes),
    r("POST", "/v1/carts/{id}/checkout", Yes, Yes, Yes),
    // Orders: a channel its own channel's, a store those it sells or fulfils.
    r("GET", "/v1/orders", Own, Own, Yes),
    r("GET", "/v1/orders/{id}", Own, Own, Yes),
    r("GET", "/v1/orders/{id}/history", Own, Own, Yes),
    r("GET", "/v1/orders/{id}/returns", Own, Own, Yes),
    r("POST", "/v1/orders/{id}/{transition}", Own, Own, Yes),
    r("GET", "/v1/receipts/{token}", Yes, Yes, Yes),
    r("POST", "/v1/returns", No, Own, Yes),
    // Stored value: a card's holder looks it up on its code and PIN on any channel; staff
    // see cards by id; a credit is its customer's.
    r("GET", "/v1/store-credits/{id}", Own, Own, Yes),
    r("POST", "/v1/gift-cards/lookup", Yes, Yes, Yes),
    r("GET", "/v1/gift-cards/{id}", No, No, Yes),
    r("POST", "/v1/gift-cards/{id}/unblock", No, No, Yes),
    r("GET", "/v1/reports/owners/{owner}/orders", No, No, Yes),
    // KPIs: a store its own; marketers and admins any.
    r("GET", "/v1/reports/kpis", No, Own, No),
    // The offline till: a store's key for its own tills and queue, or service.
    r("POST", "/v1/tills/{id}/batches", No, Own, Yes),
    r("GET", "/v1/tills/{id}", No, Own, Yes),
    r("GET", "/v1/locations/{code}/pos-conflicts", No, Own, Yes),
    r("POST", "/v1/pos-conflicts/{id}/resolution", No, Own, Yes),
];

/// The routes a marketing key may call (every other: 403 at the door): what the catalogue
/// and its promotions are, coupons, segments (not their members: people), notification rules
/// and the KPIs — never a customer's data.
pub const MARKETING: &[(&str, &str)] = &[
    ("GET", "/v1/event-types"),
    ("GET", "/v1/event-types/{type}"),
    ("GET", "/v1/reports/price-parity"),
    ("GET", "/v1/categories"),
    ("GET", "/v1/products"),
    ("GET", "/v1/products/{id}"),
    ("GET", "/v1/variants"),
    ("GET", "/v1/variants/{sku}"),
    ("GET", "/v1/variants/{sku}/price"),
    ("GET", "/v1/variants/{sku}/price/channels"),
    ("GET", "/v1/variants/{sku}/prices"),
    ("GET", "/v1/locations"),
    ("GET", "/v1/locations/{code}"),
    ("GET", "/v1/channels"),
    ("GET", "/v1/channels/{code}"),
    ("GET", "/v1/loyalty/programme"),
    ("GET", "/v1/segments"),
    ("POST", "/v1/segments"),
    ("GET", "/v1/segments/{code}"),
    ("GET", "/v1/promotions"),
    ("POST", "/v1/promotions"),
    ("GET", "/v1/promotions/{id}"),
    ("PATCH", "/v1/promotions/{id}"),
    ("POST", "/v1/promotions/{id}/coupons"),
    ("GET", "/v1/promotions/{id}/coupons"),
    ("GET", "/v1/coupons/{code}"),
    ("GET", "/v1/reports/kpis"),
    ("GET", "/v1/notification-rules"),
    ("PUT", "/v1/notification-rules/{rule}"),
];

/// Whose KPIs a caller reads: admin and marketing any store's (or all); a store key or a
/// store's people their own store's only (the one named, or their only store).
pub fn kpi_location(p: &Principal, asked: Option<&str>) -> Result<Option<String>, Error> {
    if p.is_admin() || p.scopes.contains(&Scope::Marketing) {
        return Ok(asked.map(str::to_owned));
    }
    let mut own = p.stores();
    match (asked, own.next(), own.next()) {
        (_, None, _) => Err(forbidden("the KPIs are for admins, marketers and stores")),
        (Some(a), Some(first), _) if a == first || p.stores().any(|s| s == a) => {
            Ok(Some(a.to_owned()))
        }
        (Some(_), Some(_), _) => Err(forbidden("a store reads its own KPIs only")),
        (None, Some(only), None) => Ok(Some(only.to_owned())),
        (None, Some(_), Some(_)) => Err(Error::validation("location", "name one of your stores")),
    }
}

/// Looking people up by an identifier is for staff and stores: a front-end learns its own
/// customer's profile from `identify`, and must not be able to probe who is a customer.
pub fn may_look_up_customers(p: &Principal) -> Result<(), Error> {
    if p.is_staff() || p.store_only().is_some() {
        Ok(())
    } else {
        Err(forbidden(
            "looking customers up is for service, store and admin keys",
        ))
    }
}

/// Whose customers a list shows: staff any home store (or all), a store key its own.
pub fn customer_list_home_store(
    p: &Principal,
    asked: Option<&str>,
) -> Result<Option<String>, Error> {
    match (asked, p.store_only()) {
        (_, None) if p.is_staff() => Ok(asked.map(str::to_owned)),
        (Some(asked), Some(own)) if asked == own => Ok(Some(own.to_owned())),
        (None, Some(own)) => Ok(Some(own.to_owned())),
        _ => Err(forbidden(
            "lists of customers are for service and admin keys, and for a store key over its home-store customers",
        )),
    }
}

/// The channel a behavioural event is recorded on: a channel key sends its own channel's
/// events only; other keys name it.
pub fn event_channel(p: &Principal, named: Option<String>) -> Result<String, Error> {
    match (named, p.own_channel()) {
        (Some(c), Some(own)) if c != own => Err(forbidden(
            "a channel key sends events of its own channel only",
        )
        .with("field", "channel")),
        (Some(c), _) => Ok(c),
        (None, Some(own)) => Ok(own.to_owned()),
        (None, None) => Err(Error::validation(
            "channel",
            "name the channel of the event",
        )),
    }
}

/// Where a return is received: a store key takes returns at its own store only; staff name
/// the receiving location; channels take none.
pub fn return_location(p: &Principal, asked: Option<&str>) -> Result<String, Error> {
    match (p.store_only(), asked) {
        (Some(own), Some(asked)) if own != asked => {
            Err(forbidden("a store key takes returns at its own store"))
        }
        (Some(own), _) => Ok(own.to_owned()),
        (None, Some(asked)) if p.is_staff() => Ok(asked.to_owned()),
        (None, None) if p.is_staff() => {
            Err(Error::validation("location", "name the receiving location"))
        }
        _ => Err(forbidden(
            "returns are taken by stores and customer service",
        )),
    }
}

/// The route table as ARCHITECTURE.md shows it (a test keeps the two the same): one row per
/// combination of reaches, with the routes that have it, in table order.
pub fn markdown_table() -> String {
    let mut groups: Vec<((Reach, Reach, Reach, Reach), Vec<String>)> = Vec::new();
    for r in ROUTES {
        let reach = (r.channel, r.store, r.service, r.reach(Role::Marketing));
        let route = format!("`{} {}`", r.method, r.path);
        match groups.iter_mut().find(|(g, _)| *g == reach) {
            Some((_, routes)) => routes.push(route),
            None => groups.push((reach, vec![route])),
        }
    }
    let mut out = String::from(
        "| channel | store | service | marketing | routes (admin: all) |\n|---|---|---|---|---|\n",
    );
    for ((channel, store, service, marketing), routes) in groups {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            channel.as_str(),
            store.as_str(),
            service.as_str(),
            marketing.as_str(),
            routes.join(", ")
        ));
    }
    out
}

/// The row of a route, by method and route template.
pub fn route(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// Route-level access: whether any scope of the key reaches the route at all.
pub fn check_route(p: &Principal, rule: &RouteRule) -> Result<(), Error> {
    if p.scopes.iter().any(|s| rule.reach(s.role()) != Reach::No) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "this key's scopes ({}) do not allow {} {}",
            p.scopes
                .iter()
                .map(Scope::to_text)
                .collect::<Vec<_>>()
                .join(", "),
            rule.method,
            rule.path
        ))
        .with("route", format!("{} {}", rule.method, rule.path)))
    }
}

/// What decides whether a key may see a customer, loaded for the key asking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    pub home_store: Option<String>,
    /// The customer granted `service_history_sharing` to every store.
    pub shares_history: bool,
    /// The customer has an identifier, a cart or an order on the asking key's channel.
    pub known_on_channel: bool,
}

/// A customer's profile, identities, consents, orders, cart, credits and history: staff;
/// a store key when the customer's home store is its store or the customer shares their
/// history with every store; a channel key when the customer is known on its channel.
pub fn customer(p: &Principal, facts: &CustomerFacts) -> Result<(), Error> {
    if p.is_staff()
        || (facts.known_on_channel && p.channels().next().is_some())
        || p.stores()
            .any(|s| facts.shares_history || facts.home_store.as_deref() == Some(s))
    {
        return Ok(());
    }
    Err(forbidden(
        "this customer is not known to this key: a store sees its home-store customers and those sharing their history; a channel the customers known on it",
    ))
}

/// Moving a customer's home store: staff, and channels (the customer picks a store); never
/// a store key, which would take the customer's history for itself.
pub fn move_home_store(p: &Principal) -> Result<(), Error> {
    if p.is_staff() || p.channels().next().is_some() {
        Ok(())
    } else {
        Err(forbidden(
            "a store key cannot change a customer's home store",
        ))
    }
}

/// What decides who may see and move an order.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    pub channel: &'a str,
    /// The store that sells it (pickup, reservation, kiosk, till).
    pub store: Option<&'a str>,
    /// Where its lines leave from.
    pub line_locations: &'a [&'a str],
}

impl OrderFacts<'_> {
    fn involves(&self, store: &str) -> bool {
        self.store == Some(store) || self.line_locations.contains(&store)
    }
}

/// Reading an order, its history and returns: staff; a store key when its store sells or
/// fulfils it; a channel key when it was placed on its channel.
pub fn order(p: &Principal, o: &OrderFacts) -> Result<(), Error> {
    if p.is_staff() || p.stores().any(|s| o.involves(s)) || p.channels().any(|c| c == o.channel) {
        return Ok(());
    }
    Err(forbidden(
        "a store key sees the orders its store sells or fulfils, a channel key its own channel's",
    ))
}

/// Moving an order: staff; a store key when its store sells or fulfils it; a till or kiosk
/// (a channel key whose channel stands in a store, `till_store`) the same at its store —
/// ringing up a reservation, handing over at the counter; any channel key cancels its own
/// channel's orders.
pub fn act_on_order(
    p: &Principal,
    o: &OrderFacts,
    cancel: bool,
    till_store: Option<&str>,
) -> Result<(), Error> {
    if p.is_staff() || p.stores().chain(till_store).any(|s| o.involves(s)) {
        return Ok(());
    }
    if p.stores().next().is_some() {
        return Err(forbidden("a store key acts on its own store's orders only"));
    }
    if cancel && p.channels().any(|c| c == o.channel) {
        return Ok(());
    }
    Err(forbidden(match till_store {
        Some(_) => "a till acts on its own store's orders only (and cancels its own channel's)",
        None => "a channel key may only cancel its own channel's orders",
    }))
}

/// The pickup code is shown to staff and to the channel the order was placed on (its
/// customer's screen), never to a store: the customer shows it at the counter.
pub fn shows_pickup_code(p: &Principal, order_channel: &str) -> bool {
    p.is_staff() || (p.stores().next().is_none() && p.channels().any(|c| c == order_channel))
}

/// The channel a request speaks for: the one it names, else the key's own. A channel key
/// speaks for its own channel only.
pub fn promising_channel(p: &Principal, named: Option<String>) -> Result<Option<String>, Error> {
    match (named, p.own_channel()) {
        (Some(named), Some(own)) if named != own => Err(forbidden(format!(
            "this key speaks for channel `{own}`, not `{named}`"
        ))),
        (Some(named), _) => Ok(Some(named)),
        (None, own) => Ok(own.map(str::to_owned)),
    }
}

/// Who may see a hold: staff; the key that made it; a store key at its own store.
pub fn see_hold(p: &Principal, hold: &inventory::Hold) -> Result<(), Error> {
    if p.is_staff()
        || hold.created_by.as_deref() == Some(p.key_id.as_str())
        || p.stores().any(|s| s == hold.location)
    {
        return Ok(());
    }
    Err(forbidden(
        "a key sees the holds it made, a store those at its store",
    ))
}

/// Ending a hold through `/v1/holds`: a hold owned by a cart or an order ends only through
/// that cart or order (whoever asks, so its order never loses its stock); any other hold
/// ends by the key that made it or an admin key.
pub fn end_hold(p: &Principal, hold: &inventory::Hold) -> Result<(), Error> {
    if let Some(owner) = hold.owner.owned_by() {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "this hold belongs to {} {}: it ends through that {}",
                owner, hold.owner_ref, owner
            ),
        )
        .with("owner", owner)
        .with("owner_ref", hold.owner_ref.clone()));
    }
    if p.is_admin() || hold.created_by.as_deref() == Some(p.key_id.as_str()) {
        return Ok(());
    }
    Err(forbidden(
        "a key commits or releases only the holds it made",
    ))
}

#[cfg(test)]
mod tests;
