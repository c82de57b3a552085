//! Reaching orders: which orders a key may read and move, and whether it sees pickup codes
//! ([`access::order`]). A store key sees the orders its store sells or fulfils, a channel
//! key its own channel's, staff every order.

use kernel::{Error, PageRequest, Timestamp};
use orders::fulfilment::Transition;
use orders::payment::PaymentProvider;
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

/// The order `id`, when `p` may move it by `transition`, and the store that acts: a store
/// key's, or the one a till's or kiosk's channel stands in (read once, for both).
pub async fn reach_to_act(
    db: &Db,
    p: &Principal,
    id: &str,
    transition: Transition,
) -> Result<(Order, Option<String>), Error> {
    let order = store::orders::get_order(db, id).await?;
    let till = till_store(db, p).await?;
    with_facts(&order, |f| {
        access::act_on_order(p, f, transition == Transition::Cancel, till.as_deref())
    })?;
    let acting = p.store_only().map(str::to_owned).or(till);
    Ok((order, acting))
}

/// The store a channel key's channel stands in (a till or a kiosk), if it does.
async fn till_store(db: &Db, p: &Principal) -> Result<Option<String>, Error> {
    let Some(own) = p.own_channel() else {
        return Ok(None);
    };
    Ok(store::channels::find_channel(&mut db.read().await?, own)
        .await?
        .and_then(|c| c.location_code))
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
                    return Err(access::forbidden(
                        "a store key lists its own store's orders",
                    ));
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

/// Runs a command that may owe refunds (a cancellation, a no-show, a return), then passes
/// them to the payment provider once the command is durable — never before, and only the
/// first time (a replayed response owes nothing).
pub async fn write_with_refunds<T, F, R, P>(
    db: &Db,
    payments: &P,
    idempotency: Option<store::IdempotencyKey>,
    command: F,
    render: R,
) -> Result<store::StoredResponse, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(
            &'c mut store::Conn,
        )
            -> store::BoxFut<'c, Result<(T, Vec<store::orders::ProviderRefund>), Error>>
        + Send
        + 'static,
    R: FnOnce(T) -> store::StoredResponse + Send + 'static,
    P: PaymentProvider,
{
    let owed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let due = owed.clone();
    let response = db
        .write_once(idempotency, command, move |(value, refunds)| {
            *due.lock().unwrap_or_else(|e| e.into_inner()) = refunds;
            render(value)
        })
        .await?;
    let refunds = std::mem::take(&mut *owed.lock().unwrap_or_else(|e| e.into_inner()));
    pass_refunds(payments, refunds).await;
    Ok(response)
}

/// Passes committed refunds to the payment provider. A failure is logged for follow-up:
/// the refund is recorded and its event emitted, so it is never lost.
pub async fn pass_refunds<P: PaymentProvider>(
    provider: &P,
    refunds: Vec<store::orders::ProviderRefund>,
) {
    for r in refunds {
        if let Err(e) = provider.refund(&r.provider_ref, r.amount_minor).await {
            tracing::error!(error = %e, reference = %r.provider_ref, "provider refund failed");
        }
    }
}

/// What a transition carries besides its name.
#[derive(Debug, Clone, Default)]
pub struct TransitionRequest {
    /// `collect`: the code the customer shows.
    pub pickup_code: Option<String>,
    /// `purchase`: units bought per line number; lines not named are declined.
    pub purchase: Option<Vec<(i64, i64)>>,
    /// Days a ready pickup waits before it is a no-show (the retailer's rule).
    pub pickup_days: i64,
}

/// Moves order `id` by `transition` in one command, with its stock and money effects, when
/// `p` may; refunds owed go to the provider once durable.
#[allow(clippy::too_many_arguments)]
pub async fn transition<P: PaymentProvider>(
    db: &Db,
    payments: &P,
    p: &Principal,
    id: String,
    transition: Transition,
    req: TransitionRequest,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(Order) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    if req.pickup_code.is_some() && transition != Transition::Collect {
        return Err(Error::validation(
            "pickup_code",
            "only `collect` takes a pickup code",
        ));
    }
    if req.purchase.is_some() && transition != Transition::Purchase {
        return Err(Error::validation("lines", "only `purchase` takes lines"));
    }
    let (_, location) = reach_to_act(db, p, &id, transition).await?;
    let input = store::orders::TransitionInput {
        pickup_code: req.pickup_code,
        purchase: req.purchase,
        pickup_days: req.pickup_days,
        location,
    };
    let actor = p.key_id.clone();
    let now = crate::clock::now();
    write_with_refunds(
        db,
        payments,
        idempotency,
        move |c| {
            Box::pin(async move {
                let (order, refunds) =
                    store::orders::transition(c, &id, transition, &input, &actor, now).await?;
                crate::loyalty::settle_order(c, &order, &actor).await?;
                crate::stored_value::settle_order(c, &order, &actor).await?;
                Ok((order, refunds))
            })
        },
        render,
    )
    .await
}

/// Orders past their deadline lapse (a pickup not collected is a no-show, a reservation not
/// bought expires), up to `limit` per command; their refunds go to the provider. Returns how
/// many lapsed.
pub async fn sweep_due<P: PaymentProvider>(
    db: &Db,
    payments: &P,
    now: Timestamp,
    limit: i64,
) -> Result<usize, Error> {
    let (lapsed, refunds) = db
        .write_background(move |c| {
            Box::pin(async move {
                let (lapsed, refunds) = store::orders::sweep_due(c, now, limit).await?;
                for order in &lapsed {
                    crate::loyalty::settle_order(c, order, "system").await?;
                    crate::stored_value::settle_order(c, order, "system").await?;
                }
                Ok((lapsed.len(), refunds))
            })
        })
        .await?;
    pass_refunds(payments, refunds).await;
    Ok(lapsed)
}
