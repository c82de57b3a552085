//! Planning: occasions in, firings out.

use std::collections::HashMap;

use catalog::location::{Coordinates, Location, LocationKind};
use kernel::{Error, Timestamp};
use notify::offer::{self, Candidate, PositionSource};
use notify::rules::dedup_key;
use notify::{RuleConfig, RuleKind};
use serde_json::{Value, json};
use store::notifications::{self as log, Behaviour, Firing};
use store::{Conn, Db};

use crate::reference::Reference;

/// Outbox event types that may fire a rule (stock ones are found by their `availability`).
const ORDER_READY: &str = "relais.order.ready_for_pickup";
const ORDER_PLACED: &str = "relais.order.placed";
const ORDER_RETURNED: &str = "relais.order.returned";

type Rules = HashMap<RuleKind, RuleConfig>;

async fn rules(conn: &mut Conn) -> Result<Rules, Error> {
    Ok(store::notifications::rules(conn)
        .await?
        .into_iter()
        .collect())
}

fn minutes(m: i64) -> i64 {
    m * 60_000
}

/// Reads up to `batch` outbox events after the notifier's cursor and fires the rules they
/// call for; answers how many events were read.
pub async fn plan(reference: &Reference, batch: i64) -> Result<usize, Error> {
    let db = reference.db();
    let from = store::feed::cursor(db, log::CURSOR).await?;
    let start = match from {
        Some(at) => at,
        None => store::feed::head(db).await?,
    };
    let events = store::feed::read_after(db, start, batch).await?;
    let last = events.last().map(|e| e.position).unwrap_or(start);
    if events.is_empty() && from.is_some() {
        return Ok(0);
    }
    let mut conn = db.read().await?;
    let rules = rules(&mut conn).await?;
    let locations = fresh_locations(db).await?;
    let mut firings = Vec::new();
    let mut restocked = Vec::new();
    for e in &events {
        let event: outbox::CloudEvent = serde_json::from_str(&e.envelope)
            .map_err(|x| Error::internal(format!("outbox row {}: {x}", e.position.seq)))?;
        let data = serde_json::to_value(&event.data).unwrap_or_default();
        if let Some(level) = data.get("availability") {
            let atp = level["atp"].as_i64().unwrap_or(0);
            if atp > 0
                && let (Some(s), Some(l)) = (level["sku"].as_str(), level["location"].as_str())
            {
                restocked.push((s.to_owned(), l.to_owned()));
            }
        }
        let found = match e.kind.as_str() {
            // Of placed orders only reservations fire (the payload says the mode): no read
            // for every checkout.
            ORDER_PLACED if data["mode"] != "reserve" => Vec::new(),
            ORDER_READY | ORDER_PLACED => {
                order_firings(&mut conn, (&rules, &locations), &e.kind, &event.subject).await?
            }
            ORDER_RETURNED => return_firings(&mut conn, (&rules, &locations), &data).await?,
            _ => Vec::new(),
        };
        firings.extend(found);
    }
    drop(conn);
    restocked.sort();
    restocked.dedup();
    if !rules[&RuleKind::BackInStock].enabled {
        restocked.clear();
    }
    let read = events.len();
    let now = crate::clock::now();
    db.write_background(move |c| {
        Box::pin(async move {
            store::feed::move_cursor(c, log::CURSOR, (from, last), now).await?;
            log::fire(c, &firings, now).await?;
            back_in_stock(c, &restocked, &locations, now).await
        })
    })
    .await?;
    Ok(read)
}

/// Every location, read now: a store opened a moment ago may already have an order ready,
/// and another node's reference cache would not know it yet.
async fn fresh_locations(db: &Db) -> Result<HashMap<String, Location>, Error> {
    let all = store::locations::all_locations(db).await?;
    Ok(all.into_iter().map(|l| (l.code.clone(), l)).collect())
}

/// A store as messages name it.
fn store_facts(locations: &HashMap<String, Location>, code: Option<&str>) -> Value {
    match code.and_then(|c| locations.get(c)) {
        Some(l) => json!({
            "code": l.code, "name": l.name, "time_zone": l.time_zone,
            "address": format!("{}, {} {}", l.address.line1, l.address.postal_code, l.address.city),
        }),
        None => json!({}),
    }
}

async fn lines_facts(conn: &mut Conn, lines: &[(String, i64)]) -> Result<Value, Error> {
    let mut out = Vec::with_capacity(lines.len());
    for (sku, quantity) in lines {
        let name = store::catalog::find_variant(conn, sku)
            .await?
            .map(|v| v.title)
            .unwrap_or_else(|| sku.clone());
        out.push(json!({"sku": sku, "name": name, "quantity": quantity}));
    }
    Ok(Value::Array(out))
}

/// Pickup ready (and its two reminders), or a reservation's expiry warning.
async fn order_firings(
    conn: &mut Conn,
    (rules, locations): (&Rules, &HashMap<String, Location>),
    kind: &str,
    order_id: &str,
) -> Result<Vec<Firing>, Error> {
    let Some(order) = store::orders::find_order(conn, order_id).await? else {
        return Ok(Vec::new());
    };
    let (Some(customer), Some(deadline)) = (order.customer_id.clone(), order.deadline_at) else {
        return Ok(Vec::new());
    };
    let wanted: &[RuleKind] = match (kind, order.mode) {
        (ORDER_READY, _) => &[
            RuleKind::PickupReady,
            RuleKind::PickupReminder,
            RuleKind::PickupLastDay,
        ],
        (ORDER_PLACED, orders::FulfilmentMode::Reserve) => &[RuleKind::ReservationExpiring],
        _ => return Ok(Vec::new()),
    };
    let lines: Vec<(String, i64)> = order
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    let context = json!({
        "store": store_facts(locations, order.location.as_deref()),
        "order": {"id": order.id, "pickup_code": order.pickup_code, "deadline_at": deadline},
        "lines": lines_facts(conn, &lines).await?,
    });
    let now = crate::clock::now().unix_ms();
    let mut out = Vec::new();
    for rule in wanted {
        let config = &rules[rule];
        let due = match rule {
            RuleKind::PickupLastDay | RuleKind::ReservationExpiring => {
                deadline.unix_ms() - minutes(config.delay_minutes)
            }
            _ => now + minutes(config.delay_minutes),
        };
        // A reminder due after the deadline, or a warning already late, says nothing useful.
        let late = *rule != RuleKind::PickupReady
            && (due >= deadline.unix_ms() || due < now - minutes(60));
        if !config.enabled || late {
            continue;
        }
        out.push(Firing {
            dedup_key: dedup_key(*rule, &order.id, None),
            rule: *rule,
            customer_id: customer.clone(),
            subject: order.id.clone(),
            channel: Some(order.channel.clone()),
            due_at: Timestamp::from_unix_ms(due.max(now)),
            reason: None,
            context: context.clone(),
        });
    }
    Ok(out)
}

/// A return taken back in a store (not by mail).
async fn return_firings(
    conn: &mut Conn,
    (rules, locations): (&Rules, &HashMap<String, Location>),
    data: &Value,
) -> Result<Vec<Firing>, Error> {
    let config = &rules[&RuleKind::AfterReturn];
    if !config.enabled || data["by_mail"].as_bool().unwrap_or(true) {
        return Ok(Vec::new());
    }
    let (Some(return_id), Some(order_id)) = (data["return_id"].as_str(), data["order_id"].as_str())
    else {
        return Ok(Vec::new());
    };
    let Some(order) = store::orders::find_order(conn, order_id).await? else {
        return Ok(Vec::new());
    };
    let Some(customer) = order.customer_id else {
        return Ok(Vec::new());
    };
    let value = kernel::Money::new(data["value_minor"].as_i64().unwrap_or(0), order.currency);
    let now = crate::clock::now().unix_ms();
    Ok(vec![Firing {
        dedup_key: dedup_key(RuleKind::AfterReturn, return_id, None),
        rule: RuleKind::AfterReturn,
        customer_id: customer,
        subject: return_id.to_owned(),
        channel: Some(order.channel),
        due_at: Timestamp::from_unix_ms(now + minutes(config.delay_minutes)),
        reason: None,
        context: json!({
            "store": store_facts(locations, data["location"].as_str()),
            "return": {"id": return_id, "value": value.display()},
        }),
    }])
}

/// Inside the planning command: the open requests for stock that came back are taken (so a
/// second planner finds none) and each fires once.
async fn back_in_stock(
    c: &mut Conn,
    items: &[(String, String)],
    locations: &HashMap<String, Location>,
    now: Timestamp,
) -> Result<(), Error> {
    if items.is_empty() {
        return Ok(());
    }
    let taken = store::stock_alerts::take_open_for(c, items, now).await?;
    let mut firings = Vec::with_capacity(taken.len());
    for a in taken {
        let name = store::catalog::find_variant(c, &a.sku)
            .await?
            .map(|v| v.title);
        firings.push(Firing {
            dedup_key: dedup_key(RuleKind::BackInStock, &a.id, None),
            rule: RuleKind::BackInStock,
            customer_id: a.customer_id.clone(),
            subject: a.id.clone(),
            channel: a.channel.clone(),
            due_at: now,
            reason: None,
            context: json!({
                "store": store_facts(locations, Some(&a.location)),
                "product": {"sku": a.sku, "name": name.unwrap_or_else(|| a.sku.clone())},
            }),
        });
    }
    log::fire(c, &firings, now).await.map(|_| ())
}

/// How much of the behavioural log one round reads.
const BEHAVIOUR_WINDOW: i64 = 2000;

/// Reads the next window of resolved behavioural events: sign-ups fire the welcome, product
/// views of known customers the nearest-store offer. Answers how many events it passed.
pub async fn plan_behaviour(reference: &Reference) -> Result<usize, Error> {
    let db = reference.db();
    let from = store::feed::cursor(db, log::EVENTS_CURSOR).await?;
    let resolved = store::customer_events::positions(db).await?.resolved;
    let after = match from {
        Some(at) => at.seq,
        // Rules react to what happens from now on, not to the history.
        None => resolved,
    };
    let upto = resolved.min(after + BEHAVIOUR_WINDOW);
    if upto <= after && from.is_some() {
        return Ok(0);
    }
    let mut conn = db.read().await?;
    let rules = rules(&mut conn).await?;
    let (welcome, offer) = (
        &rules[&RuleKind::Welcome],
        &rules[&RuleKind::NearestStoreOffer],
    );
    let mut kinds = Vec::new();
    if welcome.enabled {
        kinds.push("sign_up");
    }
    if offer.enabled {
        kinds.push("product_view");
    }
    let seen = match kinds.is_empty() {
        true => Vec::new(),
        false => log::behaviour(&mut conn, &kinds, (after, upto)).await?,
    };
    let (firings, offers) = behaviour_firings(db, &mut conn, &rules, &seen).await?;
    drop(conn);
    let every_days = offer.every_days.unwrap_or(14);
    let to = store::feed::Position { txid: 0, seq: upto };
    let now = crate::clock::now();
    db.write_background(move |c| {
        Box::pin(async move {
            store::feed::move_cursor(c, log::EVENTS_CURSOR, (from, to), now).await?;
            log::fire(c, &firings, now).await?;
            let cutoff = Timestamp::from_unix_ms(now.unix_ms() - every_days * 24 * 3_600_000);
            for f in offers {
                // At most once per period per person, decided by one conditional write.
                let turn = (RuleKind::NearestStoreOffer, f.customer_id.as_str());
                if log::take_turn(c, turn, now, cutoff).await? {
                    log::fire(c, std::slice::from_ref(&f), now).await?;
                }
            }
            Ok(())
        })
    })
    .await?;
    Ok(seen.len().max((upto - after).max(0) as usize))
}

/// The welcomes and the offers (before their limit per person) behavioural events call for.
async fn behaviour_firings(
    db: &Db,
    conn: &mut Conn,
    rules: &Rules,
    seen: &[Behaviour],
) -> Result<(Vec<Firing>, Vec<Firing>), Error> {
    let (welcome, offer) = (
        &rules[&RuleKind::Welcome],
        &rules[&RuleKind::NearestStoreOffer],
    );
    let now = crate::clock::now();
    let (mut firings, mut offers) = (Vec::new(), Vec::new());
    let locations = match seen.is_empty() {
        true => HashMap::new(),
        false => fresh_locations(db).await?,
    };
    for b in seen {
        let Some(customer) = customer_of(conn, b).await? else {
            continue;
        };
        if b.kind == "sign_up" {
            firings.push(Firing {
                dedup_key: dedup_key(RuleKind::Welcome, &customer, None),
                rule: RuleKind::Welcome,
                customer_id: customer,
                subject: format!("event:{}", b.seq),
                channel: Some(b.channel.clone()),
                due_at: Timestamp::from_unix_ms(now.unix_ms() + minutes(welcome.delay_minutes)),
                reason: None,
                context: json!({}),
            });
            continue;
        }
        let about = (b, customer.as_str(), &locations);
        if let Some(f) = nearest_store_offer(db, conn, about, offer).await? {
            offers.push(f);
        }
    }
    Ok((firings, offers))
}

/// The active profile an event belongs to: the one it was stored against, or the owner of
/// one of its identifiers (events resolved after they were stored).
async fn customer_of(conn: &mut Conn, b: &Behaviour) -> Result<Option<String>, Error> {
    if !b.customer_id.is_empty() {
        let p = store::profiles::followed(conn, &b.customer_id).await?;
        return Ok((p.status == customers::ProfileStatus::Active).then_some(p.id));
    }
    for id in &b.identifiers {
        if let Some((owner, _)) = store::customers::owner_of(conn, id).await? {
            let p = store::profiles::followed(conn, &owner).await?;
            return Ok((p.status == customers::ProfileStatus::Active).then_some(p.id));
        }
    }
    Ok(None)
}

/// A viewed product in stock at the nearest store, for a customer who agreed to offers on a
/// medium they can be reached on.
async fn nearest_store_offer(
    db: &Db,
    conn: &mut Conn,
    (view, customer, locations): (&Behaviour, &str, &HashMap<String, Location>),
    config: &RuleConfig,
) -> Result<Option<Firing>, Error> {
    let Some(sku) = view.properties["sku"].as_str() else {
        return Ok(None);
    };
    let facts = super::prepare::Recipient::load(conn, customer).await?;
    let reachable = config.media.iter().any(|m| {
        facts.addresses.on(*m).is_some() && facts.consents(&view.channel)(m.marketing_purpose())
    });
    if !reachable {
        return Ok(None);
    }
    let Some(from) = position(view, &facts.home_store, locations) else {
        return Ok(None);
    };
    let stock = store::stock::variant_stock(db, sku).await?;
    let candidates: Vec<Candidate> = stock
        .iter()
        .filter_map(|s| {
            let l = locations.get(&s.location)?;
            (l.active && l.kind == LocationKind::Store).then(|| Candidate {
                code: l.code.clone(),
                name: l.name.clone(),
                coordinates: l.coordinates,
                available: s.level.atp(),
            })
        })
        .collect();
    let name = store::catalog::find_variant(conn, sku)
        .await?
        .map(|v| v.title);
    let name = name.unwrap_or_else(|| sku.to_owned());
    let Some(offer) = offer::nearest(
        from,
        &candidates,
        &format!("{name} ({sku})"),
        offer::DEFAULT_MAX_KM,
    ) else {
        return Ok(None);
    };
    Ok(Some(Firing {
        dedup_key: dedup_key(
            RuleKind::NearestStoreOffer,
            customer,
            Some(&view.seq.to_string()),
        ),
        rule: RuleKind::NearestStoreOffer,
        customer_id: customer.to_owned(),
        subject: sku.to_owned(),
        channel: Some(view.channel.clone()),
        due_at: crate::clock::now(),
        reason: Some(offer.reason.clone()),
        context: json!({
            "store": store_facts(locations, Some(&offer.store)),
            "product": {"sku": sku, "name": name},
            "offer": {"store": offer.store_name, "distance_hm": offer.distance_hm, "available": offer.available},
        }),
    }))
}

/// Where the customer is: the view's coordinates, else their home store's (saved addresses
/// carry no coordinates).
fn position(
    view: &Behaviour,
    home_store: &Option<String>,
    locations: &HashMap<String, Location>,
) -> Option<(Coordinates, PositionSource)> {
    let p = &view.properties;
    if let (Some(latitude), Some(longitude)) = (p["latitude"].as_f64(), p["longitude"].as_f64()) {
        let c = Coordinates {
            latitude,
            longitude,
        };
        if c.validate("position").is_ok() {
            return Some((c, PositionSource::View));
        }
    }
    home_store
        .as_deref()
        .and_then(|h| locations.get(h))
        .map(|l| (l.coordinates, PositionSource::HomeStore))
}

/// Carts of signed-in customers left alone for the rule's delay (within the last week) fire
/// the abandoned-cart rule once each.
pub async fn plan_idle_carts(db: &Db, limit: i64) -> Result<usize, Error> {
    let mut conn = db.read().await?;
    let config = rules(&mut conn).await?.remove(&RuleKind::AbandonedCart);
    let Some(config) = config.filter(|c| c.enabled) else {
        return Ok(0);
    };
    let now = crate::clock::now();
    let idle_before = Timestamp::from_unix_ms(now.unix_ms() - minutes(config.delay_minutes));
    let since = Timestamp::from_unix_ms(now.unix_ms() - 7 * 24 * 3_600_000);
    let carts = log::idle_carts(&mut conn, (since, idle_before), limit).await?;
    let mut firings = Vec::with_capacity(carts.len());
    for cart in &carts {
        let Some(found) = store::carts::find_cart(&mut conn, &cart.cart_id).await? else {
            continue;
        };
        let lines: Vec<(String, i64)> = found
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        firings.push(Firing {
            dedup_key: dedup_key(RuleKind::AbandonedCart, &cart.cart_id, None),
            rule: RuleKind::AbandonedCart,
            customer_id: cart.customer_id.clone(),
            subject: cart.cart_id.clone(),
            channel: Some(cart.channel.clone()),
            due_at: now,
            reason: None,
            context: json!({
                "cart": {"id": cart.cart_id, "updated_at": cart.updated_at},
                "lines": lines_facts(&mut conn, &lines).await?,
            }),
        });
    }
    drop(conn);
    let n = firings.len();
    if n > 0 {
        db.write_background(move |c| {
            Box::pin(async move { log::fire(c, &firings, now).await.map(|_| ()) })
        })
        .await?;
    }
    Ok(n)
}
