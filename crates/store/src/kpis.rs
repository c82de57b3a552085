//! What the KPIs are computed from, read in a few statements: one row per order of the
//! period (with its channel's kind, its customer as merged now, what it paid net of refunds,
//! what came back, when it was first ready), returns by channel of purchase and place of
//! return, carts by channel, and the online product views of the customers who bought in a
//! store. The arithmetic (shares, percentiles, promises) is `app::kpis`'s.
//!
//! Orders are found by `(location, created_at)` for one store, and carts by
//! `(channel, created_at)`, so a store's dashboard reads its own period only.

use kernel::{Error, Timestamp};
use orders::kpis::{CartGroup, OrderFact, ReturnGroup};
use orders::{FulfilmentMode, OrderState};

use crate::sql::Row;
use crate::{Db, params, rows};

/// Which orders, returns and carts count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The store that fulfils (orders), takes back or sold (returns); all when `None`.
    pub location: Option<String>,
    /// The channel ordered on; all when `None`.
    pub channel: Option<String>,
    pub from: Timestamp,
    /// Exclusive.
    pub to: Timestamp,
}

/// What is read of each order. An order not yet handed over has paid its total (every mode
/// but a reservation is captured at checkout, and nothing is refunded before a cancellation,
/// a no-show, an expiry or a return), has no return and — unless a pickup made ready — no
/// ready time: those orders, most of a period's, are read from the `(location, created_at,
/// …)` index alone; payments, returns and history are looked up only for the others.
const ORDER_FACTS: &str = "SELECT o.channel, ch.kind AS channel_kind, ch.location_code AS channel_store, \
    o.mode, o.state, o.location, o.owner_kind, o.owner_name, COALESCE(c.merged_into, o.customer_id) AS customer, \
    o.currency, o.total_minor, o.created_at, \
    CAST(CASE WHEN o.state IN ('placed', 'preparing', 'ready_for_pickup', 'ready_to_try', 'ready_at_counter', 'shipped') \
       THEN CASE WHEN o.mode = 'reserve' THEN 0 ELSE o.total_minor END \
       ELSE (SELECT COALESCE(SUM(p.captured - p.refunded), 0) FROM payments p WHERE p.order_id = o.id) END AS BIGINT) AS net_minor, \
    CAST(CASE WHEN o.state IN ('shipped', 'delivered', 'collected', 'handed_over', 'purchased', 'completed') \
       THEN (SELECT COALESCE(SUM(r.value_minor), 0) FROM returns r WHERE r.order_id = o.id) ELSE 0 END AS BIGINT) AS returned_minor, \
    CASE WHEN o.mode = 'pickup' AND o.state NOT IN ('placed', 'preparing') THEN (SELECT MIN(h.at) FROM order_history h \
       WHERE h.order_id = o.id AND h.to_state = 'ready_for_pickup') END AS ready_at \
    FROM orders o LEFT JOIN channels ch ON ch.code = o.channel LEFT JOIN customers c ON c.id = o.customer_id";

fn fact(r: &Row) -> Result<OrderFact, Error> {
    let owner = match (r.opt_text("owner_kind")?, r.opt_text("owner_name")?) {
        (Some(k), Some(n)) => Some((k, n)),
        _ => None,
    };
    Ok(OrderFact {
        channel: r.text("channel")?,
        channel_kind: r.opt_text("channel_kind")?,
        channel_store: r.opt_text("channel_store")?,
        mode: rows::parsed(r, "mode", FulfilmentMode::parse)?,
        state: rows::parsed(r, "state", OrderState::parse)?,
        location: r.opt_text("location")?,
        owner,
        customer: r.opt_text("customer")?,
        currency: rows::currency(r, "currency")?,
        total_minor: r.int("total_minor")?,
        net_minor: r.int("net_minor")?,
        returned_minor: r.int("returned_minor")?,
        created_at: rows::timestamp(r, "created_at")?,
        ready_at: rows::opt_timestamp(r, "ready_at")?,
    })
}

/// `$1`…`$4` of every statement: the period, the store and the channel (`''` for all).
fn period(f: &Filter) -> [crate::Value; 4] {
    [
        f.from.to_text().into(),
        f.to.to_text().into(),
        f.location.as_deref().unwrap_or("").into(),
        f.channel.as_deref().unwrap_or("").into(),
    ]
}

/// The orders placed in the period (and at the store, on the channel, when named). One
/// store's are found by `(location, created_at)`: the statement names the location only when
/// there is one, so the planner can use the index.
pub async fn order_facts(db: &Db, f: &Filter) -> Result<Vec<OrderFact>, Error> {
    let at_store = match f.location {
        Some(_) => "o.location = $3",
        None => "$3 = ''",
    };
    let sql = format!(
        "{ORDER_FACTS} WHERE {at_store} AND o.created_at >= $1 AND o.created_at < $2 \
         AND ($4 = '' OR o.channel = $4)"
    );
    let found = db.read().await?.query(&sql, &period(f)).await?;
    found.iter().map(fact).collect()
}

/// Returns taken in the period; with a store named, those it took back or had sold.
pub async fn returns(db: &Db, f: &Filter) -> Result<Vec<ReturnGroup>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT o.channel AS bought_on, r.location AS returned_at, r.currency, COUNT(*) AS n, \
             CAST(SUM(r.value_minor) AS BIGINT) AS value_minor \
             FROM returns r JOIN orders o ON o.id = r.order_id \
             WHERE r.created_at >= $1 AND r.created_at < $2 \
             AND ($3 = '' OR r.location = $3 OR o.location = $3) AND ($4 = '' OR o.channel = $4) \
             GROUP BY o.channel, r.location, r.currency ORDER BY o.channel, r.location",
            &period(f),
        )
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(ReturnGroup {
                bought_on: r.text("bought_on")?,
                returned_at: r.text("returned_at")?,
                currency: rows::currency(r, "currency")?,
                returns: r.int("n")?,
                value_minor: r.int("value_minor")?,
            })
        })
        .collect()
}

/// Carts opened on a channel in the period, and how many became an order (carts merged
/// into another at sign-in are not counted: their lines went on in the other); with a store
/// named, its own channels' (tills, kiosks). `CROSS JOIN` keeps channels the outer loop on
/// SQLite, so a store's carts are read by `(channel, created_at)`: left to itself the planner
/// walked every cart of the chain (140 ms of a 235 ms store dashboard at 200 000 orders).
pub async fn carts(db: &Db, f: &Filter) -> Result<Vec<CartGroup>, Error> {
    let found = db
        .read()
        .await?
        .query(
            "SELECT k.channel, COUNT(*) AS opened, \
             CAST(SUM(CASE WHEN k.order_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS ordered \
             FROM channels ch CROSS JOIN carts k \
             WHERE k.channel = ch.code AND k.created_at >= $1 AND k.created_at < $2 AND k.status <> 'merged' \
             AND ($3 = '' OR ch.location_code = $3) AND ($4 = '' OR ch.code = $4) \
             GROUP BY k.channel ORDER BY k.channel",
            &period(f),
        )
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(CartGroup {
                channel: r.text("channel")?,
                opened: r.int("opened")?,
                ordered: r.int("ordered")?,
                conversion_bp: None,
            })
        })
        .collect()
}

/// When each of `customers` viewed a product on a channel no store owns (web, app…),
/// between two instants: (customer, when), by customer then time. Read in chunks.
pub async fn online_views(
    db: &Db,
    customers: &[String],
    (from, to): (Timestamp, Timestamp),
) -> Result<Vec<(String, Timestamp)>, Error> {
    let mut out = Vec::new();
    let mut conn = db.read().await?;
    for chunk in customers.chunks(200) {
        let sql = format!(
            "SELECT k.customer_id, e.occurred_at FROM customer_event_keys k \
             JOIN customer_events e ON e.seq = k.seq \
             WHERE k.customer_id IN ({}) AND e.type = 'product_view' \
             AND e.occurred_at >= $1 AND e.occurred_at < $2 \
             AND e.channel IN (SELECT code FROM channels WHERE location_code IS NULL)",
            crate::sql::placeholders(3, chunk.len())
        );
        let mut values: Vec<crate::Value> = params![from.to_text(), to.to_text()].to_vec();
        values.extend(chunk.iter().map(|c| crate::Value::from(c.as_str())));
        for r in conn.query(&sql, &values).await? {
            out.push((r.text("customer_id")?, rows::timestamp(&r, "occurred_at")?));
        }
    }
    out.sort();
    Ok(out)
}
