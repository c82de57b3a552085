//! The omnichannel KPIs, computed from the facts of a period's orders, returns and carts:
//! orders and revenue by channel and mode, the click & collect share, time to ready against
//! the promise, pickup and no-show rates, reservation conversion, returns by channel of
//! purchase and place of return, customers active on two channels or more and their share
//! of revenue, ROPO (viewed online, bought in a store within 7 days), endless-aisle and
//! kiosk sales, cart conversion, and what each franchisee is owed for online orders it
//! fulfilled, returns deducted.
//!
//! Ratios are basis points (1/100 of a percent) and durations whole minutes: integers, so a
//! figure is the same on every machine. Revenue is what was captured less what was refunded.

use std::collections::{BTreeMap, BTreeSet};

use crate::{FulfilmentMode, OrderState};
use kernel::{Currency, Timestamp};

/// Days before an in-store purchase during which an online view makes it ROPO.
pub const ROPO_DAYS: i64 = 7;

/// One order of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFact {
    pub channel: String,
    pub channel_kind: Option<String>,
    /// The store owning the channel (a till, a kiosk): an in-store sale.
    pub channel_store: Option<String>,
    pub mode: FulfilmentMode,
    pub state: OrderState,
    pub location: Option<String>,
    /// Kind and name of the owner of the fulfilling store, as recorded with the order.
    pub owner: Option<(String, String)>,
    /// The customer as merged now.
    pub customer: Option<String>,
    pub currency: Currency,
    pub total_minor: i64,
    pub net_minor: i64,
    pub returned_minor: i64,
    pub created_at: Timestamp,
    pub ready_at: Option<Timestamp>,
}

/// Returns by where the goods were bought and where they came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnGroup {
    pub bought_on: String,
    pub returned_at: String,
    pub currency: Currency,
    pub returns: i64,
    pub value_minor: i64,
}

/// Carts of a channel and how many became orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartGroup {
    pub channel: String,
    pub opened: i64,
    pub ordered: i64,
    pub conversion_bp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMode {
    pub channel: String,
    pub mode: FulfilmentMode,
    pub currency: Currency,
    pub orders: i64,
    pub cancelled: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyTimes {
    /// Pickup orders that became ready.
    pub orders: i64,
    pub p50_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
    /// What was promised at checkout (the store's lead time and opening hours).
    pub promised_p50_minutes: Option<i64>,
    /// Ready no later than promised.
    pub on_time_bp: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Orders that reached an end.
    pub ended: i64,
    /// Collected (pickup) or bought (reservation).
    pub succeeded: i64,
    /// No-show (pickup) or expired (reservation).
    pub lapsed: i64,
    pub cancelled: i64,
    pub success_bp: Option<i64>,
    pub lapse_bp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sales {
    pub currency: Currency,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multichannel {
    pub currency: Currency,
    /// Customers who ordered in the period.
    pub customers: i64,
    /// Of those, customers who ordered on two channels or more.
    pub multichannel_customers: i64,
    pub revenue_minor: i64,
    pub multichannel_revenue_minor: i64,
    pub revenue_share_bp: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ropo {
    /// In-store purchases by a known customer.
    pub store_orders: i64,
    /// Of those, preceded by a product view online within [`ROPO_DAYS`].
    pub ropo_orders: i64,
    pub share_bp: Option<i64>,
}

/// What a franchisee (or the company) is owed for the online orders its stores fulfilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub owner_kind: String,
    pub owner_name: String,
    pub currency: Currency,
    pub orders: i64,
    /// What the customers paid for those orders.
    pub fulfilled_minor: i64,
    /// The value of what came back.
    pub returned_minor: i64,
    pub due_minor: i64,
}

/// Every KPI of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub orders: i64,
    pub by_channel_and_mode: Vec<ChannelMode>,
    pub click_and_collect_share_bp: Option<i64>,
    pub time_to_ready: ReadyTimes,
    pub pickups: Outcomes,
    pub reservations: Outcomes,
    pub returns: Vec<ReturnGroup>,
    pub multichannel: Vec<Multichannel>,
    pub ropo: Ropo,
    pub endless_aisle: Vec<Sales>,
    pub kiosk: Vec<Sales>,
    pub carts: Vec<CartGroup>,
    pub settlement: Vec<Settlement>,
}

/// `part / whole` in basis points, rounded down; `None` when there is no whole.
pub fn bp(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| part.saturating_mul(10_000) / whole)
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[i64], p: i64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as i64 + 99) / 100;
    Some(sorted[(rank.max(1) as usize - 1).min(sorted.len() - 1)])
}

fn minutes(from: Timestamp, to: Timestamp) -> i64 {
    (to.unix_ms() - from.unix_ms()).div_euclid(60_000)
}

fn by_channel_and_mode(facts: &[OrderFact]) -> Vec<ChannelMode> {
    let mut groups: BTreeMap<(String, &str, Currency), ChannelMode> = BTreeMap::new();
    for f in facts {
        let g = groups
            .entry((f.channel.clone(), f.mode.as_str(), f.currency))
            .or_insert_with(|| ChannelMode {
                channel: f.channel.clone(),
                mode: f.mode,
                currency: f.currency,
                orders: 0,
                cancelled: 0,
                revenue_minor: 0,
            });
        g.orders += 1;
        g.cancelled += i64::from(f.state == OrderState::Cancelled);
        g.revenue_minor += f.net_minor;
    }
    groups.into_values().collect()
}

fn time_to_ready(
    facts: &[OrderFact],
    promise: &dyn Fn(&OrderFact) -> Option<Timestamp>,
) -> ReadyTimes {
    let (mut actual, mut promised, mut on_time) = (Vec::new(), Vec::new(), 0);
    for f in facts.iter().filter(|f| f.mode == FulfilmentMode::Pickup) {
        let Some(ready) = f.ready_at else { continue };
        actual.push(minutes(f.created_at, ready));
        if let Some(p) = promise(f) {
            promised.push(minutes(f.created_at, p));
            on_time += i64::from(ready <= p);
        }
    }
    actual.sort_unstable();
    promised.sort_unstable();
    ReadyTimes {
        orders: actual.len() as i64,
        p50_minutes: percentile(&actual, 50),
        p90_minutes: percentile(&actual, 90),
        promised_p50_minutes: percentile(&promised, 50),
        on_time_bp: bp(on_time, promised.len() as i64),
    }
}

fn outcomes(
    facts: &[OrderFact],
    mode: FulfilmentMode,
    success: OrderState,
    lapse: OrderState,
) -> Outcomes {
    let mut o = Outcomes::default();
    for f in facts.iter().filter(|f| f.mode == mode) {
        match f.state {
            s if s == success => o.succeeded += 1,
            s if s == lapse => o.lapsed += 1,
            OrderState::Cancelled => o.cancelled += 1,
            _ => continue,
        }
        o.ended += 1;
    }
    o.success_bp = bp(o.succeeded, o.ended);
    o.lapse_bp = bp(o.lapsed, o.ended);
    o
}

fn multichannel(facts: &[OrderFact]) -> Vec<Multichannel> {
    // Per currency: each customer's channels and revenue.
    let mut people: BTreeMap<(Currency, &str), (BTreeSet<&str>, i64)> = BTreeMap::new();
    for f in facts.iter().filter(|f| f.state != OrderState::Cancelled) {
        let Some(c) = f.customer.as_deref() else {
            continue;
        };
        let e = people.entry((f.currency, c)).or_default();
        e.0.insert(&f.channel);
        e.1 += f.net_minor;
    }
    let mut out: BTreeMap<Currency, Multichannel> = BTreeMap::new();
    for ((currency, _), (channels, revenue)) in people {
        let m = out.entry(currency).or_insert(Multichannel {
            currency,
            customers: 0,
            multichannel_customers: 0,
            revenue_minor: 0,
            multichannel_revenue_minor: 0,
            revenue_share_bp: None,
        });
        m.customers += 1;
        m.revenue_minor += revenue;
        if channels.len() >= 2 {
            m.multichannel_customers += 1;
            m.multichannel_revenue_minor += revenue;
        }
    }
    out.into_values()
        .map(|mut m| {
            m.revenue_share_bp = bp(m.multichannel_revenue_minor, m.revenue_minor);
            m
        })
        .collect()
}

/// In-store purchases by known customers (the customers to look views up for).
pub fn store_buyers(facts: &[OrderFact]) -> Vec<String> {
    let set: BTreeSet<&str> = facts
        .iter()
        .filter(|f| f.channel_store.is_some() && f.state != OrderState::Cancelled)
        .filter_map(|f| f.customer.as_deref())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// `views`: (customer, when) sorted, online product views of the store buyers.
fn ropo(facts: &[OrderFact], views: &[(String, Timestamp)]) -> Ropo {
    let mut r = Ropo::default();
    for f in facts
        .iter()
        .filter(|f| f.channel_store.is_some() && f.state != OrderState::Cancelled)
    {
        let Some(c) = f.customer.as_deref() else {
            continue;
        };
        r.store_orders += 1;
        let since = Timestamp::from_unix_ms(f.created_at.unix_ms() - ROPO_DAYS * 86_400_000);
        let first = views.partition_point(|(vc, at)| (vc.as_str(), *at) < (c, since));
        let viewed = views
            .get(first)
            .is_some_and(|(vc, at)| vc == c && *at <= f.created_at);
        r.ropo_orders += i64::from(viewed);
    }
    r.share_bp = bp(r.ropo_orders, r.store_orders);
    r
}

fn sales(facts: &[OrderFact], keep: impl Fn(&OrderFact) -> bool) -> Vec<Sales> {
    let mut by: BTreeMap<Currency, Sales> = BTreeMap::new();
    for f in facts
        .iter()
        .filter(|f| f.state != OrderState::Cancelled && keep(f))
    {
        let s = by.entry(f.currency).or_insert(Sales {
            currency: f.currency,
            orders: 0,
            revenue_minor: 0,
        });
        s.orders += 1;
        s.revenue_minor += f.net_minor;
    }
    by.into_values().collect()
}

/// The states in which a store has done its part of an order.
pub fn fulfilled(state: OrderState) -> bool {
    matches!(
        state,
        OrderState::Shipped
            | OrderState::Delivered
            | OrderState::Collected
            | OrderState::HandedOver
            | OrderState::Purchased
            | OrderState::Completed
    )
}

fn settlement(facts: &[OrderFact]) -> Vec<Settlement> {
    let mut by: BTreeMap<(String, String, Currency), Settlement> = BTreeMap::new();
    let online_fulfilled = facts
        .iter()
        .filter(|f| f.channel_store.is_none() && fulfilled(f.state));
    for f in online_fulfilled {
        let Some((kind, name)) = &f.owner else {
            continue;
        };
        let s = by
            .entry((kind.clone(), name.clone(), f.currency))
            .or_insert_with(|| Settlement {
                owner_kind: kind.clone(),
                owner_name: name.clone(),
                currency: f.currency,
                orders: 0,
                fulfilled_minor: 0,
                returned_minor: 0,
                due_minor: 0,
            });
        s.orders += 1;
        s.fulfilled_minor += f.total_minor;
        s.returned_minor += f.returned_minor;
        s.due_minor = s.fulfilled_minor - s.returned_minor;
    }
    by.into_values().collect()
}

/// Every KPI of the period. `promise` is when an order was promised ready (the store's
/// rule); `views` the online product views of [`store_buyers`], sorted.
pub fn dashboard(
    facts: &[OrderFact],
    (returns, carts): (Vec<ReturnGroup>, Vec<CartGroup>),
    views: &[(String, Timestamp)],
    promise: &dyn Fn(&OrderFact) -> Option<Timestamp>,
) -> Dashboard {
    let pickups = facts
        .iter()
        .filter(|f| f.mode == FulfilmentMode::Pickup)
        .count() as i64;
    let carts = carts
        .into_iter()
        .map(|c| CartGroup {
            conversion_bp: bp(c.ordered, c.opened),
            ..c
        })
        .collect();
    Dashboard {
        orders: facts.len() as i64,
        by_channel_and_mode: by_channel_and_mode(facts),
        click_and_collect_share_bp: bp(pickups, facts.len() as i64),
        time_to_ready: time_to_ready(facts, promise),
        pickups: outcomes(
            facts,
            FulfilmentMode::Pickup,
            OrderState::Collected,
            OrderState::NoShow,
        ),
        reservations: outcomes(
            facts,
            FulfilmentMode::Reserve,
            OrderState::Purchased,
            OrderState::Expired,
        ),
        returns,
        multichannel: multichannel(facts),
        ropo: ropo(facts, views),
        endless_aisle: sales(facts, |f| {
            f.channel_store.is_some() && f.mode == FulfilmentMode::Ship
        }),
        kiosk: sales(facts, |f| f.channel_kind.as_deref() == Some("kiosk")),
        carts,
        settlement: settlement(facts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_unix_ms(1_800_000_000_000 + hours * H)
    }

    fn fact(_id: &str, channel: &str, mode: FulfilmentMode, state: OrderState) -> OrderFact {
        OrderFact {
            channel: channel.into(),
            channel_kind: Some(
                if channel.starts_with("kiosk") {
                    "kiosk"
                } else if channel.starts_with("pos") {
                    "pos"
                } else {
                    channel
                }
                .into(),
            ),
            channel_store: (channel.starts_with("pos") || channel.starts_with("kiosk"))
                .then(|| "LYS".to_owned()),
            mode,
            state,
            location: Some("LYS".into()),
            owner: Some(("franchisee".into(), "SARL Rhône".into())),
            customer: None,
            currency: Currency::EUR,
            total_minor: 10_000,
            net_minor: 10_000,
            returned_minor: 0,
            created_at: at(0),
            ready_at: None,
        }
    }

    #[test]
    fn shares_and_rates_are_what_a_person_would_count() {
        use FulfilmentMode::*;
        use OrderState::*;
        let mut facts = vec![
            fact("1", "web", Pickup, Collected),
            fact("2", "web", Pickup, Collected),
            fact("3", "app", Pickup, NoShow),
            fact("4", "web", Pickup, ReadyForPickup),
            fact("5", "web", Reserve, Purchased),
            fact("6", "web", Reserve, Expired),
            fact("7", "web", Reserve, Expired),
            fact("8", "web", Ship, Delivered),
            fact("9", "kiosk-lys-1", Ship, Shipped),
            fact("10", "pos-lys", CarryOut, Completed),
        ];
        facts[2].net_minor = 0; // the no-show was refunded
        facts[7].owner = None; // shipped from a warehouse
        let d = dashboard(&facts, (vec![], vec![]), &[], &|_| None);
        assert_eq!(d.orders, 10);
        assert_eq!(d.click_and_collect_share_bp, Some(4_000));
        assert_eq!(
            (d.pickups.ended, d.pickups.succeeded, d.pickups.lapsed),
            (3, 2, 1)
        );
        assert_eq!(
            (d.pickups.success_bp, d.pickups.lapse_bp),
            (Some(6_666), Some(3_333))
        );
        assert_eq!(d.reservations.success_bp, Some(3_333));
        let web_pickup = d
            .by_channel_and_mode
            .iter()
            .find(|g| g.channel == "web" && g.mode == Pickup)
            .unwrap();
        assert_eq!((web_pickup.orders, web_pickup.revenue_minor), (3, 30_000));
        assert_eq!(
            d.endless_aisle,
            vec![Sales {
                currency: Currency::EUR,
                orders: 1,
                revenue_minor: 10_000
            }]
        );
        assert_eq!(d.kiosk[0].orders, 1);
        // Online orders fulfilled by the franchisee's store: two collected pickups, one
        // bought reservation (the delivered parcel left a warehouse; in-store sales are
        // the store's own).
        assert_eq!(d.settlement.len(), 1);
        assert_eq!(
            (d.settlement[0].orders, d.settlement[0].due_minor),
            (3, 30_000)
        );
    }

    #[test]
    fn time_to_ready_is_measured_against_the_promise() {
        let mut facts = Vec::new();
        for (i, ready_h) in [1, 2, 3, 4, 10].into_iter().enumerate() {
            let mut f = fact(
                &i.to_string(),
                "web",
                FulfilmentMode::Pickup,
                OrderState::Collected,
            );
            f.ready_at = Some(at(ready_h));
            facts.push(f);
        }
        let d = dashboard(&facts, (vec![], vec![]), &[], &|f| {
            Some(Timestamp::from_unix_ms(f.created_at.unix_ms() + 3 * H))
        });
        let t = d.time_to_ready;
        assert_eq!(
            (t.orders, t.p50_minutes, t.p90_minutes),
            (5, Some(180), Some(600))
        );
        assert_eq!(
            (t.promised_p50_minutes, t.on_time_bp),
            (Some(180), Some(6_000))
        );
    }

    #[test]
    fn returns_are_deducted_and_multichannel_customers_counted_once() {
        use FulfilmentMode::*;
        let mut a = fact("1", "web", Pickup, OrderState::Collected);
        a.customer = Some("cus_a".into());
        a.returned_minor = 2_500;
        let mut b = fact("2", "pos-lys", CarryOut, OrderState::Completed);
        b.customer = Some("cus_a".into());
        b.net_minor = 5_000;
        let mut c = fact("3", "web", Pickup, OrderState::Collected);
        c.customer = Some("cus_b".into());
        let d = dashboard(&[a, b, c], (vec![], vec![]), &[], &|_| None);
        let m = &d.multichannel[0];
        assert_eq!((m.customers, m.multichannel_customers), (2, 1));
        assert_eq!(
            (
                m.revenue_minor,
                m.multichannel_revenue_minor,
                m.revenue_share_bp
            ),
            (25_000, 15_000, Some(6_000))
        );
        assert_eq!(
            (
                d.settlement[0].fulfilled_minor,
                d.settlement[0].returned_minor,
                d.settlement[0].due_minor
            ),
            (20_000, 2_500, 17_500)
        );
    }

    #[test]
    fn ropo_needs_an_online_view_in_the_week_before() {
        let mut buys = Vec::new();
        for (i, who) in ["cus_a", "cus_b", "cus_c"].into_iter().enumerate() {
            let mut f = fact(
                &i.to_string(),
                "pos-lys",
                FulfilmentMode::CarryOut,
                OrderState::Completed,
            );
            f.customer = Some(who.into());
            f.created_at = at(24 * 10);
            buys.push(f);
        }
        assert_eq!(store_buyers(&buys), vec!["cus_a", "cus_b", "cus_c"]);
        let views = vec![
            ("cus_a".to_owned(), at(24 * 4)),      // six days before: counts
            ("cus_b".to_owned(), at(24 * 2)),      // eight days before: too early
            ("cus_c".to_owned(), at(24 * 10 + 1)), // after the purchase: no
        ];
        let d = dashboard(&buys, (vec![], vec![]), &views, &|_| None);
        assert_eq!(
            (d.ropo.store_orders, d.ropo.ropo_orders, d.ropo.share_bp),
            (3, 1, Some(3_333))
        );
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(
            (percentile(&v, 50), percentile(&v, 90), percentile(&v, 100)),
            (Some(5), Some(9), Some(10))
        );
        assert_eq!(bp(1, 3), Some(3_333));
        assert_eq!(bp(1, 0), None);
    }
}
