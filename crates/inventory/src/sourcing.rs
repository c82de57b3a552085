//! Sourcing: which locations a channel may promise stock from, in which order, and how much
//! it keeps back.
//!
//! Stock leaks between channels when every channel sees every shelf. A channel's sourcing
//! policy says, per fulfilment (ship, pickup, reserve), which kinds of location it may promise
//! from (a location must also offer the matching capability), which locations are excluded,
//! whether a store-bound channel (kiosk, POS) looks at its own store first, and a channel
//! safety stock kept back from this channel only — on top of the location's own safety stock.
//! Channel ATP = max(0, on hand − held − location safety − channel safety).
//!
//! Without a stored policy, a channel gets the default for its kind: web-like channels ship
//! from warehouses and offer pickup and reserve in stores; a marketplace ships from
//! warehouses only; kiosks and POS source from their own store first, then the others.

use std::collections::{BTreeMap, BTreeSet};

use catalog::{Capability, ChannelKind, LocationKind};
use kernel::Error;
use serde::{Deserialize, Serialize};

use crate::hold::HoldPurpose;
use crate::ledger::Level;

/// How the customer gets the goods; each has its own sourcing rule.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// Home delivery from a location that ships.
    Ship,
    /// Click & collect at a store or pickup point.
    Pickup,
    /// Click & reserve: held unpaid in a store.
    Reserve,
}

impl Fulfilment {
    pub const ALL: [Fulfilment; 3] = [Fulfilment::Ship, Fulfilment::Pickup, Fulfilment::Reserve];

    pub fn as_str(self) -> &'static str {
        match self {
            Fulfilment::Ship => "ship",
            Fulfilment::Pickup => "pickup",
            Fulfilment::Reserve => "reserve",
        }
    }

    pub fn parse(text: &str) -> Option<Fulfilment> {
        Fulfilment::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// The capability a location needs to fulfil this way.
    pub fn capability(self) -> Capability {
        match self {
            Fulfilment::Ship => Capability::ShipFrom,
            Fulfilment::Pickup => Capability::Pickup,
            Fulfilment::Reserve => Capability::Reserve,
        }
    }

    /// The fulfilment a hold serves; a cart hold is not yet tied to one (`None`: any).
    pub fn of_hold(purpose: HoldPurpose) -> Option<Fulfilment> {
        match purpose {
            HoldPurpose::Cart => None,
            HoldPurpose::Ship => Some(Fulfilment::Ship),
            HoldPurpose::Pickup => Some(Fulfilment::Pickup),
            HoldPurpose::Reserve => Some(Fulfilment::Reserve),
        }
    }
}

/// Where one fulfilment may be sourced from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourcingRule {
    /// Kinds of location allowed (each must also offer the fulfilment's capability).
    pub location_kinds: BTreeSet<LocationKind>,
    /// Locations never promised from on this channel.
    #[serde(default)]
    pub exclude: BTreeSet<String>,
}

impl SourcingRule {
    fn of(kinds: &[LocationKind]) -> SourcingRule {
        SourcingRule {
            location_kinds: kinds.iter().copied().collect(),
            exclude: BTreeSet::new(),
        }
    }
}

/// A channel's sourcing policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourcingPolicy {
    /// Per fulfilment; a fulfilment without a rule is not offered on the channel.
    pub rules: BTreeMap<Fulfilment, SourcingRule>,
    /// For channels bound to a store (kiosk, POS): list and try that store first.
    pub own_store_first: bool,
    /// Units kept back from this channel at every location.
    pub safety: i64,
    /// Per-location channel safety, replacing `safety` there.
    #[serde(default)]
    pub safety_at: BTreeMap<String, i64>,
}

/// What sourcing needs to know about a location.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub code: &'a str,
    pub kind: LocationKind,
    pub capabilities: &'a BTreeSet<Capability>,
    pub active: bool,
}

/// The largest channel safety stock accepted, as for location safety stock.
pub const MAX_SAFETY: i64 = 1_000_000_000;

impl SourcingPolicy {
    /// The policy a channel of `kind` has until the retailer sets one.
    pub fn default_for(kind: ChannelKind) -> SourcingPolicy {
        use LocationKind::{PickupPoint, Store, Warehouse};
        let mut rules = BTreeMap::new();
        let bound = kind.is_bound_to_store();
        if bound {
            rules.insert(Fulfilment::Ship, SourcingRule::of(&[Warehouse, Store]));
        } else {
            rules.insert(Fulfilment::Ship, SourcingRule::of(&[Warehouse]));
        }
        if kind != ChannelKind::Marketplace {
            rules.insert(Fulfilment::Pickup, SourcingRule::of(&[Store, PickupPoint]));
            rules.insert(Fulfilment::Reserve, SourcingRule::of(&[Store]));
        }
        SourcingPolicy {
            rules,
            own_store_first: bound,
            safety: 0,
            safety_at: BTreeMap::new(),
        }
    }

    /// Checks quantities and location codes' shape; storage checks the codes exist.
    pub fn validate(self) -> Result<SourcingPolicy, Error> {
        let in_range = |q: i64| (0..=MAX_SAFETY).contains(&q);
        if !in_range(self.safety) {
            return Err(Error::validation(
                "safety",
                "channel safety stock is 0 or more",
            ));
        }
        for (code, q) in &self.safety_at {
            if !in_range(*q) {
                return Err(Error::validation(
                    "safety_at",
                    format!("channel safety stock at {code} is 0 or more"),
                ));
            }
        }
        for (fulfilment, rule) in &self.rules {
            if rule.location_kinds.is_empty() {
                return Err(Error::validation(
                    "rules",
                    format!(
                        "the `{}` rule names no kind of location; leave the rule out to turn it off",
                        fulfilment.as_str()
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// Every location code the policy names (to check they exist).
    pub fn named_locations(&self) -> BTreeSet<&str> {
        let excluded = self.rules.values().flat_map(|r| r.exclude.iter());
        excluded
            .chain(self.safety_at.keys())
            .map(String::as_str)
            .collect()
    }

    /// Units kept back from this channel at `location`.
    pub fn safety_at(&self, location: &str) -> i64 {
        self.safety_at.get(location).copied().unwrap_or(self.safety)
    }

    /// May this channel promise from `site` for `fulfilment` (`None`: any fulfilment, as for
    /// a cart)?
    pub fn allows(&self, site: Site<'_>, fulfilment: Option<Fulfilment>) -> bool {
        if !site.active {
            return false;
        }
        let fits = |f: Fulfilment, rule: &SourcingRule| {
            rule.location_kinds.contains(&site.kind)
                && site.capabilities.contains(&f.capability())
                && !rule.exclude.contains(site.code)
        };
        match fulfilment {
            Some(f) => self.rules.get(&f).is_some_and(|rule| fits(f, rule)),
            None => self.rules.iter().any(|(f, rule)| fits(*f, rule)),
        }
    }

    /// Whether `channel` (whose policy this is) may hold stock at `site` for `purpose`;
    /// its channel safety stock there if so, `not_promisable` if not.
    pub fn check_hold(
        &self,
        channel: &str,
        site: Site<'_>,
        purpose: HoldPurpose,
    ) -> Result<i64, Error> {
        if self.allows(site, Fulfilment::of_hold(purpose)) {
            return Ok(self.safety_at(site.code));
        }
        Err(Error::new(
            kernel::ErrorCode::NotPromisable,
            format!(
                "channel `{channel}` does not promise {} stock from {}",
                purpose.as_str(),
                site.code
            ),
        )
        .with("channel", channel)
        .with("location", site.code)
        .with("purpose", purpose.as_str()))
    }

    /// ATP at a location as this channel sees it.
    pub fn channel_atp(&self, location: &str, level: Level) -> i64 {
        (level.atp() - self.safety_at(location)).max(0)
    }
}

/// Orders promisable locations: a store-bound channel's own store first (when its policy
/// says so), then the order they came in (nearest first on a `near` query).
pub fn own_store_first<T>(items: &mut [T], own: Option<&str>, code: impl Fn(&T) -> &str) {
    if let Some(own) = own {
        // A stable sort keeps the incoming order among the others.
        items.sort_by_key(|item| code(item) != own);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[Capability]) -> BTreeSet<Capability> {
        list.iter().copied().collect()
    }

    fn site<'a>(code: &'a str, kind: LocationKind, c: &'a BTreeSet<Capability>) -> Site<'a> {
        Site {
            code,
            kind,
            capabilities: c,
            active: true,
        }
    }

    #[test]
    fn web_ships_from_warehouses_and_offers_pickup_in_stores() {
        let web = SourcingPolicy::default_for(ChannelKind::Web);
        let all = caps(&Capability::ALL);
        let wh = site("WH-1", LocationKind::Warehouse, &all);
        let shop = site("LYS", LocationKind::Store, &all);
        assert!(web.allows(wh, Some(Fulfilment::Ship)));
        assert!(!web.allows(shop, Some(Fulfilment::Ship)));
        assert!(web.allows(shop, Some(Fulfilment::Pickup)));
        assert!(web.allows(shop, Some(Fulfilment::Reserve)));
        assert!(!web.allows(wh, Some(Fulfilment::Pickup)));
        // A cart may hold wherever some fulfilment is allowed.
        assert!(web.allows(wh, None) && web.allows(shop, None));
    }

    #[test]
    fn a_location_needs_the_capability_and_must_be_active() {
        let web = SourcingPolicy::default_for(ChannelKind::Web);
        let no_pickup = caps(&[Capability::Returns]);
        let shop = site("LYS", LocationKind::Store, &no_pickup);
        assert!(!web.allows(shop, Some(Fulfilment::Pickup)));
        assert!(!web.allows(shop, None));
        let all = caps(&Capability::ALL);
        let closed = Site {
            active: false,
            ..site("LYS", LocationKind::Store, &all)
        };
        assert!(!web.allows(closed, Some(Fulfilment::Pickup)));
    }

    #[test]
    fn marketplace_only_ships_and_exclusions_hold() {
        let mut mp = SourcingPolicy::default_for(ChannelKind::Marketplace);
        let all = caps(&Capability::ALL);
        assert!(!mp.allows(
            site("LYS", LocationKind::Store, &all),
            Some(Fulfilment::Pickup)
        ));
        let wh = site("WH-1", LocationKind::Warehouse, &all);
        assert!(mp.allows(wh, Some(Fulfilment::Ship)));
        mp.rules
            .get_mut(&Fulfilment::Ship)
            .unwrap()
            .exclude
            .insert("WH-1".into());
        assert!(!mp.allows(wh, Some(Fulfilment::Ship)));
        assert!(!mp.allows(wh, None));
    }

    #[test]
    fn a_hold_outside_the_policy_is_not_promisable() {
        let web = SourcingPolicy::default_for(ChannelKind::Web);
        let all = caps(&Capability::ALL);
        let shop = site("LYS", LocationKind::Store, &all);
        assert_eq!(web.check_hold("web", shop, HoldPurpose::Pickup), Ok(0));
        let refused = web.check_hold("web", shop, HoldPurpose::Ship).unwrap_err();
        assert_eq!(refused.code, kernel::ErrorCode::NotPromisable);
        assert_eq!(refused.details["purpose"], "ship");
    }

    #[test]
    fn channel_safety_comes_off_atp_never_below_zero() {
        let mut p = SourcingPolicy::default_for(ChannelKind::Marketplace);
        p.safety = 2;
        p.safety_at.insert("WH-2".into(), 5);
        let level = Level {
            on_hand: 10,
            held: 3,
            safety: 1,
        };
        assert_eq!(p.channel_atp("WH-1", level), 4);
        assert_eq!(p.channel_atp("WH-2", level), 1);
        p.safety_at.insert("WH-2".into(), 50);
        assert_eq!(p.channel_atp("WH-2", level), 0);
    }

    #[test]
    fn own_store_comes_first_and_the_rest_keep_their_order() {
        let mut codes = vec!["A", "B", "OWN", "C"];
        own_store_first(&mut codes, Some("OWN"), |c| c);
        assert_eq!(codes, ["OWN", "A", "B", "C"]);
        own_store_first(&mut codes, None, |c| c);
        assert_eq!(codes, ["OWN", "A", "B", "C"]);
    }

    #[test]
    fn kiosk_defaults_put_its_store_first_and_may_ship_from_stores() {
        let kiosk = SourcingPolicy::default_for(ChannelKind::Kiosk);
        assert!(kiosk.own_store_first);
        let all = caps(&Capability::ALL);
        assert!(kiosk.allows(
            site("LYS", LocationKind::Store, &all),
            Some(Fulfilment::Ship)
        ));
    }

    #[test]
    fn validation_refuses_negative_safety_and_empty_rules() {
        let mut p = SourcingPolicy::default_for(ChannelKind::Web);
        p.safety = -1;
        assert_eq!(p.clone().validate().unwrap_err().details["field"], "safety");
        p.safety = 0;
        p.rules
            .get_mut(&Fulfilment::Ship)
            .unwrap()
            .location_kinds
            .clear();
        assert_eq!(p.validate().unwrap_err().details["field"], "rules");
    }
}
