//! A store's work queue: what its people must prepare, hand over or watch now.
//!
//! Click & collect orders to prepare (late against the time promised when they were placed:
//! the store's lead time and opening hours), ready ones waiting for their customer (and until
//! when), reservations to set aside and those expiring soon, kiosk orders at the counter,
//! parcels shipped from the store, and the offline tills' open conflicts. The console shows it
//! live; the same rules decide who sees it as for the store's orders through the API.

use kernel::{Error, PageRequest, Timestamp};
use orders::{FulfilmentMode, OrderState, Transition};
use store::Db;
use store::orders::{Order, OrderFilter};

use crate::access::{Principal, forbidden};

/// Reservations expiring within this many hours are flagged.
pub const EXPIRING_HOURS: i64 = 6;
/// The most orders one part of the queue shows.
const PART_LIMIT: i64 = 200;

/// One order in the queue, with what may be done to it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub order: Order,
    /// When the customer was told it would be ready (pickup, reservation, counter).
    pub promised_at: Option<Timestamp>,
    /// Not ready yet and past `promised_at`; or ready and past its deadline soon.
    pub late: bool,
    /// Transitions a person may make from here (not the sweeper's `no_show` and `expire`,
    /// nor a till's `purchase`).
    pub actions: Vec<Transition>,
}

/// A store's queue at one instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Queue {
    pub to_prepare: Vec<Item>,
    pub ready: Vec<Item>,
    pub reservations: Vec<Item>,
    pub counter: Vec<Item>,
    pub parcels: Vec<Item>,
    /// Offline till conflicts waiting for a decision.
    pub open_conflicts: i64,
}

impl Queue {
    /// A fingerprint of what the queue shows: it changes when an order arrives, moves or
    /// leaves (the live view reloads on a change).
    pub fn fingerprint(&self) -> String {
        let mut parts: Vec<String> = [
            &self.to_prepare,
            &self.ready,
            &self.reservations,
            &self.counter,
            &self.parcels,
        ]
        .iter()
        .flat_map(|items| items.iter())
        .map(|i| format!("{}@{}{}", i.order.id, i.order.version, u8::from(i.late)))
        .collect();
        parts.push(self.open_conflicts.to_string());
        parts.join(",")
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprint() == "0"
    }
}

/// Whether `p` works at `location` (or is staff at large).
pub fn works_at(p: &Principal, location: &str) -> Result<(), Error> {
    if p.is_staff() || p.stores().any(|s| s == location) {
        Ok(())
    } else {
        Err(forbidden(
            "this store's queue is for its own people and staff",
        ))
    }
}

/// The stores whose queue `p` may open, by name: its own, or every store for staff.
pub async fn stores_of(db: &Db, p: &Principal) -> Result<Vec<catalog::location::Location>, Error> {
    let mut found: Vec<_> = store::locations::all_locations(db)
        .await?
        .into_iter()
        .filter(|l| l.kind == catalog::location::LocationKind::Store && l.active)
        .filter(|l| works_at(p, &l.code).is_ok())
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The stores `p` may open, and the one to show: `asked`, or the first.
pub async fn pick_store(
    db: &Db,
    p: &Principal,
    asked: Option<&str>,
) -> Result<
    (
        Vec<catalog::location::Location>,
        catalog::location::Location,
    ),
    Error,
> {
    let stores = stores_of(db, p).await?;
    let found = match asked {
        Some(code) => stores.iter().find(|l| l.code == code),
        None => stores.first(),
    };
    let place = found
        .cloned()
        .ok_or_else(|| forbidden("this store's queue is not open to this user"))?;
    Ok((stores, place))
}

fn actions(order: &Order) -> Vec<Transition> {
    order
        .mode
        .allowed(order.state)
        .into_iter()
        .filter(|t| {
            !matches!(
                t,
                Transition::NoShow | Transition::Expire | Transition::Purchase
            )
        })
        .collect()
}

fn item(order: Order, location: Option<&catalog::location::Location>, now: Timestamp) -> Item {
    let waiting = matches!(order.state, OrderState::Placed | OrderState::Preparing);
    let promised_at = match order.mode {
        FulfilmentMode::Ship | FulfilmentMode::CarryOut => None,
        _ => location.and_then(|l| l.pickup_ready_by(order.created_at)),
    };
    let expiring = order
        .deadline_at
        .is_some_and(|d| d.unix_ms() - now.unix_ms() < EXPIRING_HOURS * 3_600_000);
    let late = if waiting {
        promised_at.is_some_and(|p| p < now)
    } else {
        expiring
    };
    Item {
        actions: actions(&order),
        order,
        promised_at,
        late,
    }
}

/// The queue of `location` at `now`.
pub async fn of_store(
    db: &Db,
    p: &Principal,
    location: &str,
    now: Timestamp,
) -> Result<Queue, Error> {
    works_at(p, location)?;
    let place = store::locations::get_location(db, location).await?;
    let filter = OrderFilter {
        location: Some(location.to_owned()),
        states: vec![
            OrderState::Placed,
            OrderState::Preparing,
            OrderState::ReadyForPickup,
            OrderState::ReadyToTry,
            OrderState::ReadyAtCounter,
        ],
        ..OrderFilter::default()
    };
    let page = PageRequest::parse(Some(kernel::page::MAX_LIMIT), None)?;
    let mut found = store::orders::list(db, &filter, &page).await?.data;
    // Oldest first: the order waiting longest is served first.
    found.reverse();
    let mut queue = Queue::default();
    for order in found {
        let it = item(order, Some(&place), now);
        let part = match (it.order.mode, it.order.state) {
            (FulfilmentMode::Pickup, OrderState::ReadyForPickup) => &mut queue.ready,
            (FulfilmentMode::Pickup, _) => &mut queue.to_prepare,
            (FulfilmentMode::Reserve, _) => &mut queue.reservations,
            (FulfilmentMode::Counter, _) => &mut queue.counter,
            _ => continue,
        };
        if (part.len() as i64) < PART_LIMIT {
            part.push(it);
        }
    }
    let mut parcels = store::orders::shipping_from(db, location, PART_LIMIT).await?;
    parcels.reverse();
    queue.parcels = parcels.into_iter().map(|o| item(o, None, now)).collect();
    queue.open_conflicts = store::tills::count_open_conflicts(db, location).await?;
    Ok(queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_key_sees_its_own_queue_only() {
        let lyon = Principal {
            key_id: "usr_1".into(),
            scopes: vec![crate::Scope::Store("LYS-BELLECOUR".into())],
        };
        assert!(works_at(&lyon, "LYS-BELLECOUR").is_ok());
        assert!(works_at(&lyon, "PAR-RIVOLI").is_err());
        let service = Principal {
            key_id: "usr_2".into(),
            scopes: vec![crate::Scope::Service],
        };
        assert!(works_at(&service, "PAR-RIVOLI").is_ok());
        let marketing = Principal {
            key_id: "usr_3".into(),
            scopes: vec![crate::Scope::Marketing],
        };
        assert!(works_at(&marketing, "PAR-RIVOLI").is_err());
    }
}
