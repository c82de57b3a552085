//! Reaching orders: which orders a key may read and move, and whether it sees pickup codes
//! ([`access::order`]). A store key sees the orders its store sells or fulfils, a channel
//! key its own channel's, staff every order.

use kernel::{Error, PageRequest};
use orders::fulfilment::Transition;
use store::Db;
use store::orders::{Order, OrderFilter};

use crate::access::{self, OrderFacts, Principal};

/// Applies `rule` to the facts of `order`.
fn with_facts<T>(order: &Order, rule: impl FnOnce(&OrderFacts) -> T) -> T {
    let line_locations: Vec<&str> = order.lines.iter().map(|l| l.location.as_str()).collect();
    rule(&OrderFacts {
        channel: &order.channel,
        store: order.location.as_deref(),
        line_locations: &line_locations,
    })
}

/// Whether `p` may read `order`.
pub fn check(p: &Principal, order: &Order) -> Result<(), Error> {
    with_facts(order, |f| access::order(p, f))
}

/// The order `id`, when `p` may read it.
pub async fn reach(db: &Db, p: &Principal, id: &str) -> Result<Order, Error> {
    let order = store::orders::get_order(db, id).await?;
    check(p, &order)?;
    Ok(order)
}

/// The order `id`, when `p` may move it by `transition`.
pub async fn reach_to_act(
    db: &Db,
    p: &Principal,
    id: &str,
    transition: Transition,
) -> Result<Order, Error> {
    let order = store::orders::get_order(db, id).await?;
    with_facts(&order, |f| {
        access::act_on_order(p, f, transition == Transition::Cancel)
    })?;
    Ok(order)
}

/// Whether `p` is shown the pickup code of `order`.
pub fn shows_pickup_code(p: &Principal, order: &Order) -> bool {
    access::shows_pickup_code(p, &order.channel)
}

/// A list of orders, narrowed to what `p` may see: a store key its own store's queue, a
/// channel key one customer's orders on its channel.
pub async fn list(
    db: &Db,
    p: &Principal,
    mut filter: OrderFilter,
    page: &PageRequest,
) -> Result<kernel::Page<Order>, Error> {
    if !p.is_staff() {
        if let Some(own) = p.store_only() {
            match &filter.location {
                Some(asked) if asked != own => {
                    return Err(access::forbidden("a store key lists its own store's orders"));
                }
                _ => filter.location = Some(own.to_owned()),
            }
        } else if let Some(channel) = p.own_channel() {
            if filter.customer_id.is_none() {
                return Err(access::forbidden(
                    "a channel key lists one customer's orders (`customer_id`)",
                ));
            }
            filter.channel = Some(channel.to_owned());
        } else {
            return Err(access::forbidden("this key may not list orders"));
        }
    }
    store::orders::list(db, &filter, page).await
}

/// A customer's orders from every channel (a channel key: its own channel's), once `p`
/// may see the customer.
pub async fn of_customer(
    db: &Db,
    p: &Principal,
    customer_id: &str,
    page: &PageRequest,
) -> Result<kernel::Page<Order>, Error> {
    let profile = crate::customers::reach(&mut db.read().await?, p, customer_id).await?;
    let channel = match (p.is_staff() || p.store_only().is_some(), p.own_channel()) {
        (false, Some(c)) => Some(c.to_owned()),
        _ => None,
    };
    let filter = OrderFilter {
        customer_id: Some(profile.id),
        channel,
        ..OrderFilter::default()
    };
    store::orders::list(db, &filter, page).await
}

/// The returns of order `id`: all of them for whoever may read the order; for a store key
/// that does not sell or fulfil it, the returns its store took back (it may have taken back
/// what another store sold). Nothing seen is a refusal.
pub async fn returns_of(
    db: &Db,
    p: &Principal,
    id: &str,
) -> Result<Vec<store::returns::Return>, Error> {
    let order = store::orders::get_order(db, id).await?;
    let returns = store::returns::of_order(db, id).await?;
    match check(p, &order) {
        Ok(()) => Ok(returns),
        Err(refused) => {
            let taken_here: Vec<_> = returns
                .into_iter()
                .filter(|r| p.stores().any(|s| s == r.location))
                .collect();
            if taken_here.is_empty() {
                Err(refused)
            } else {
                Ok(taken_here)
            }
        }
    }
}
