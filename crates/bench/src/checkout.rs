//! Scenario `checkout`: whole orders over HTTP. Each order is a cart created with its lines
//! (`POST /v1/carts`) and checked out (`POST /v1/carts/{id}/checkout`) in one fulfilment
//! mode; it counts when the checkout answered 201, i.e. the order is placed, its stock held
//! and the payment recorded, durably. Orders spread over the demo's stores and 50 SKUs,
//! each stocked so that no order fails for lack of stock. With `--promotions N` every
//! checkout is priced against N promotions of every kind; with `--coupon-rate R` that share
//! of orders race for the uses of one shared code, and the line says whether any order got
//! a use beyond its limit (`coupons_overused`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::Method;
use rand::Rng;
use serde_json::json;

use crate::client::Conn;
use crate::load::{get_json, send_ok, skus};
use crate::server::{Server, cpu_seconds_of};

const SKUS: usize = 50;

/// Stores that take the mode's orders (every demo store takes pickup and reserve).
pub(crate) async fn stores(server: &Server, capability: &str) -> anyhow::Result<Vec<String>> {
    let page = get_json(server, "/v1/locations?limit=100").await?;
    let codes: Vec<String> = page["data"]
        .as_array()
        .context("locations")?
        .iter()
        .filter(|l| {
            l["kind"] == "store"
                && l["capabilities"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x == capability))
        })
        .filter_map(|l| l["code"].as_str().map(String::from))
        .collect();
    anyhow::ensure!(!codes.is_empty(), "no store offers {capability}");
    Ok(codes)
}

/// Receives enough of each SKU at each location for every order to find stock.
pub(crate) async fn stock_up(
    server: &Server,
    skus: &[String],
    locations: &[String],
    units: u64,
) -> anyhow::Result<()> {
    for sku in skus {
        for location in locations {
            let receipt = json!({"sku": sku, "location": location, "kind": "receipt", "quantity": units, "reason": "benchmark stock"});
            send_ok(server, Method::POST, "/v1/stock/movements", receipt).await?;
        }
    }
    Ok(())
}

/// The promotions and codes of a run.
pub struct Offers {
    /// `None`: the demo's own promotions; `Some(n)`: those off, `n` of every kind instead.
    pub promotions: Option<u64>,
    pub coupon_rate: f64,
    /// Local receivers subscribed to every event while the orders are placed.
    pub webhooks: usize,
}

/// The code orders race for.
const CODE: &str = "BENCH";

/// Switches the demo's promotions off and writes `n` over the staged SKUs, of every kind,
/// each on two SKUs as a retailer's product promotions are: some for a channel the
/// benchmark does not use and some needing a code, so pricing meets every condition, most
/// promotions are looked at without applying, and an order gets one or two.
/// Home delivery in France at 4.90 €, free from 50 €: ship orders pay a fee as a shop's do.
async fn stage_shipping(server: &Server) -> anyhow::Result<()> {
    let method = json!({
        "name": "Bench delivery", "kind": "standard", "countries": ["FR"], "currency": "EUR",
        "rate": {"flat_minor": 490, "free_above_minor": 5000},
        "promise": {"min_days": 2, "max_days": 4, "cutoff": "14:00", "time_zone": "Europe/Paris"},
    });
    send_ok(server, Method::PUT, "/v1/shipping-methods/bench", method).await?;
    Ok(())
}

async fn stage_promotions(server: &Server, n: u64, skus: &[String]) -> anyhow::Result<()> {
    let existing = get_json(server, "/v1/promotions?limit=500").await?;
    for p in existing["data"].as_array().context("promotions")? {
        let id = p["id"].as_str().context("promotion id")?;
        send_ok(
            server,
            Method::PATCH,
            &format!("/v1/promotions/{id}"),
            json!({"active": false}),
        )
        .await?;
    }
    for i in 0..n as usize {
        let some: Vec<&String> = skus.iter().cycle().skip(i * 7).take(2).collect();
        let (conditions, effect) = match i % 5 {
            0 => (
                json!({"items": {"skus": some}}),
                json!({"type": "percent_off_items", "percent_bp": 1000}),
            ),
            1 => (
                json!({"items": {"skus": some}, "min_subtotal_minor": 10_000}),
                json!({"type": "amount_off_cart", "amount_minor": 500}),
            ),
            2 => (
                json!({"items": {"skus": some}}),
                json!({"type": "buy_x_get_y", "buy": 2, "get": 1, "percent_bp": 5000}),
            ),
            3 => (
                json!({"channels": ["app"]}),
                json!({"type": "percent_off_items", "percent_bp": 1500}),
            ),
            _ => (
                json!({"coupon_required": true}),
                json!({"type": "amount_off_cart", "amount_minor": 300}),
            ),
        };
        let body = json!({"name": format!("bench {i}"), "currency": "EUR", "conditions": conditions, "effect": effect, "priority": i % 3});
        send_ok(server, Method::POST, "/v1/promotions", body).await?;
    }
    Ok(())
}

/// A promotion behind the shared code, whose uses are limited to `max_uses`.
async fn stage_code(server: &Server, max_uses: u64) -> anyhow::Result<()> {
    let body = json!({"name": "bench code", "currency": "EUR", "conditions": {"coupon_required": true},
                      "effect": {"type": "amount_off_cart", "amount_minor": 200}});
    let promotion = send_ok(server, Method::POST, "/v1/promotions", body).await?;
    let id = promotion["id"].as_str().context("promotion id")?;
    let code = json!({"code": CODE, "max_uses": max_uses});
    send_ok(
        server,
        Method::POST,
        &format!("/v1/promotions/{id}/coupons"),
        code,
    )
    .await?;
    Ok(())
}

pub(crate) fn order_bodies(
    rng: &mut impl Rng,
    skus: &[String],
    stores: &[String],
    mode: &str,
) -> (String, String) {
    let lines = rng.random_range(1..=3);
    let mut picked: Vec<&String> = Vec::with_capacity(lines);
    while picked.len() < lines {
        let sku = &skus[rng.random_range(0..skus.len())];
        if !picked.contains(&sku) {
            picked.push(sku);
        }
    }
    let lines: Vec<_> = picked
        .iter()
        .map(|sku| json!({"sku": sku, "quantity": rng.random_range(1..=2)}))
        .collect();
    let cart = json!({"channel": "web", "lines": lines}).to_string();
    let store = &stores[rng.random_range(0..stores.len())];
    let checkout = match mode {
        "reserve" => json!({"mode": "reserve", "location": store}),
        "ship" => json!({"mode": "ship", "payment": {"token": "tok_visa"}, "ship_to": {"address": {
            "name": "Camille Roux", "line1": "7 rue Mercière", "postal_code": "69002",
            "city": "Lyon", "country": "FR"}}}),
        "carry_out" => json!({"mode": "carry_out", "location": store}),
        other => json!({"mode": other, "location": store, "payment": {"token": "tok_visa"}}),
    };
    (cart, checkout.to_string())
}

/// How one order went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Placed { coupon: bool, refused_coupon: bool },
    Failed,
}

/// Creates a cart and checks it out, presenting the code when asked; an order refused the
/// code (used up) checks out without it, as a shop front would.
pub(crate) async fn one_order(
    conn: &mut Conn,
    cart: String,
    checkout: String,
    with_code: bool,
) -> anyhow::Result<Outcome> {
    let (status, body) = conn
        .send(Method::POST, "/v1/carts", Some(cart), None)
        .await?;
    if status.as_u16() != 201 {
        return Ok(Outcome::Failed);
    }
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    let path = format!(
        "/v1/carts/{}/checkout",
        created["id"].as_str().context("cart id")?
    );
    if with_code {
        let mut coded: serde_json::Value = serde_json::from_str(&checkout)?;
        coded["coupons"] = json!([CODE]);
        let (status, body) = conn
            .send(Method::POST, &path, Some(coded.to_string()), None)
            .await?;
        if status.as_u16() == 201 {
            let order: serde_json::Value = serde_json::from_slice(&body)?;
            let got = order["promotions"]
                .as_array()
                .is_some_and(|p| p.iter().any(|a| a["coupon"] == CODE));
            return Ok(Outcome::Placed {
                coupon: got,
                refused_coupon: false,
            });
        }
        if status.as_u16() != 409 {
            return Ok(Outcome::Failed);
        }
    }
    let (status, _) = conn.send(Method::POST, &path, Some(checkout), None).await?;
    Ok(match status.as_u16() {
        201 => Outcome::Placed {
            coupon: false,
            refused_coupon: with_code,
        },
        _ => Outcome::Failed,
    })
}

pub async fn run(
    server: &Server,
    orders: u64,
    concurrency: usize,
    mode: String,
    offers: Offers,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        ["ship", "pickup", "reserve", "counter", "carry_out"].contains(&mode.as_str()),
        "--mode is ship, pickup, reserve, counter or carry_out"
    );
    anyhow::ensure!(
        !matches!(mode.as_str(), "counter" | "carry_out"),
        "counter and carry_out orders need a store key; benchmark ship, pickup or reserve"
    );
    let all = skus(server).await?;
    let skus: Vec<String> = all.into_iter().take(SKUS).collect();
    let (capability, kind) = match mode.as_str() {
        "ship" => ("ship_from", None),
        other => (other, Some("store")),
    };
    let stores = match kind {
        Some(_) => stores(server, capability).await?,
        None => {
            let page = get_json(server, "/v1/locations?limit=100").await?;
            page["data"]
                .as_array()
                .context("locations")?
                .iter()
                .filter(|l| l["kind"] == "warehouse")
                .filter_map(|l| l["code"].as_str().map(String::from))
                .collect()
        }
    };
    // Units a cell may need: every order's lines in one cell, with margin.
    let per_cell =
        (orders * 6 / (skus.len() as u64 * stores.len().max(1) as u64)).max(10) * 4 + 100;
    stock_up(server, &skus, &stores, per_cell).await?;
    println!(
        "checkout: staged {} SKUs x {} locations, {per_cell} units each",
        skus.len(),
        stores.len()
    );
    if let Some(n) = offers.promotions {
        stage_promotions(server, n, &skus).await?;
    }
    if mode == "ship" {
        stage_shipping(server).await?;
    }
    let webhooks = offers.webhooks;
    let _receivers = crate::webhooks::subscribe_all(server, webhooks).await?;
    let code_uses = (orders as f64 * offers.coupon_rate / 2.0).ceil().max(1.0) as u64;
    if offers.coupon_rate > 0.0 {
        stage_code(server, code_uses).await?;
    }
    let coupon_rate = offers.coupon_rate.clamp(0.0, 1.0);
    let (used, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    let (skus, stores) = (Arc::new(skus), Arc::new(stores));
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let server_cpu = server.cpu_seconds();
    let client_cpu = cpu_seconds_of("/proc/self/stat");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
        let (skus, stores, next, failed, mode) = (
            skus.clone(),
            stores.clone(),
            next.clone(),
            failed.clone(),
            mode.clone(),
        );
        let (used, refused) = (used.clone(), refused.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies =
                Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("bounds");
            loop {
                if next.fetch_add(1, Ordering::Relaxed) >= orders {
                    break;
                }
                let (cart, checkout) = order_bodies(&mut rand::rng(), &skus, &stores, &mode);
                let with_code = rand::rng().random_bool(coupon_rate);
                let sent = Instant::now();
                match one_order(&mut conn, cart, checkout, with_code).await {
                    Ok(Outcome::Placed {
                        coupon,
                        refused_coupon,
                    }) => {
                        used.fetch_add(u64::from(coupon), Ordering::Relaxed);
                        refused.fetch_add(u64::from(refused_coupon), Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies.saturating_record(sent.elapsed().as_micros() as u64);
            }
            latencies
        }));
    }
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    for w in workers {
        latencies.add(w.await?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    let per_order_us = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.0}", (a - b) * 1e6 / orders as f64),
        _ => "n/a".into(),
    };
    println!(
        "cpu: server_us_per_order={} client_us_per_order={} wall_s={elapsed:.2}",
        per_order_us(server_cpu, server.cpu_seconds()),
        per_order_us(client_cpu, cpu_seconds_of("/proc/self/stat")),
    );
    let promotions = offers.promotions.map_or("demo".into(), |n| n.to_string());
    let used = used.load(Ordering::Relaxed);
    let overused = match offers.coupon_rate > 0.0 {
        true => {
            let code = get_json(server, &format!("/v1/coupons/{CODE}")).await?;
            let server_uses = code["uses"].as_u64().context("uses")?;
            used.max(server_uses).saturating_sub(code_uses)
        }
        false => 0,
    };
    println!(
        "checkout: orders={} failed={failed} orders_per_s={:.0} p50_ms={:.2} p99_ms={:.2} db={} promotions={promotions} coupons_used={used} coupons_refused={} coupons_overused={overused} webhooks={webhooks}",
        orders - failed,
        (orders - failed) as f64 / elapsed,
        latencies.value_at_quantile(0.5) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        server.db_label,
        refused.load(Ordering::Relaxed),
    );
    Ok(())
}
