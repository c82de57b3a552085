//! Scenario `kpis`: the KPI dashboard of one store over 90 days, on a seeded history, while
//! checkouts run at half the rate they reach alone. The history is `--orders` web orders
//! (four in five click & collect, one in five reservations) spread over every store, part of
//! the measured store's pickups prepared and marked ready (so time to ready has data). Then
//! checkout alone for a few seconds gives its rate; checkouts paced at half of it run while
//! the dashboard (`GET /v1/reports/kpis?location=…`) is read again and again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::Method;
use rand::Rng;

use crate::checkout::{one_order, order_bodies, stock_up, stores};
use crate::client::Conn;
use crate::load::{get_json, skus};
use crate::server::Server;

const SKUS: usize = 50;
/// Pickups of the measured store moved to ready, at most.
const READIED: usize = 1_000;

/// What the orders are made of.
struct Shop {
    skus: Arc<Vec<String>>,
    stores: Arc<Vec<String>>,
}

/// Places `orders` orders with `concurrency` connections, until `stop` (when given) says so;
/// a positive `per_s` paces them. Answers how many were placed and how long it took.
async fn place(
    (addr, key): (&str, &str),
    shop: &Shop,
    (orders, concurrency, per_s): (u64, usize, f64),
    stop: Option<Arc<AtomicBool>>,
) -> anyhow::Result<(u64, f64)> {
    let (next, placed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let mut conn = Conn::open(addr, key).await?;
        let (skus, stores) = (shop.skus.clone(), shop.stores.clone());
        let (next, placed, stop) = (next.clone(), placed.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders || stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                    break;
                }
                if per_s > 0.0 {
                    // The n-th order leaves at n / per_s seconds.
                    let due = started + Duration::from_secs_f64(n as f64 / per_s);
                    tokio::time::sleep_until(due.into()).await;
                }
                let mode = if rand::rng().random_bool(0.2) {
                    "reserve"
                } else {
                    "pickup"
                };
                let (cart, checkout) = order_bodies(&mut rand::rng(), &skus, &stores, mode);
                if let Ok(crate::checkout::Outcome::Placed { .. }) =
                    one_order(&mut conn, cart, checkout, false).await
                {
                    placed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    Ok((
        placed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    ))
}

/// Prepares and readies up to [`READIED`] of `store`'s pickups (history for time to ready).
async fn ready_some(server: &Server, store: &str) -> anyhow::Result<usize> {
    let path = format!("/v1/orders?location={store}&state=placed&mode=pickup&limit=500");
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let mut done = 0;
    while done < READIED {
        let page = get_json(server, &path).await?;
        let ids: Vec<String> = page["data"]
            .as_array()
            .context("orders")?
            .iter()
            .filter_map(|o| o["id"].as_str().map(String::from))
            .collect();
        if ids.is_empty() {
            break;
        }
        for id in ids.iter().take(READIED - done) {
            for step in ["start_preparing", "mark_ready"] {
                let (status, _) = conn
                    .send(
                        Method::POST,
                        &format!("/v1/orders/{id}/{step}"),
                        Some("{}".into()),
                        None,
                    )
                    .await?;
                anyhow::ensure!(status.is_success(), "{step}: {status}");
            }
            done += 1;
        }
    }
    Ok(done)
}

/// Reads the dashboard `reads` times; answers the latencies (µs).
async fn read_dashboards(
    server: &Server,
    store: &str,
    reads: u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let path = format!("/v1/reports/kpis?location={store}");
    for _ in 0..reads {
        let sent = Instant::now();
        let (status, body) = conn.send(Method::GET, &path, None, None).await?;
        anyhow::ensure!(
            status.is_success(),
            "kpis: {status} {}",
            String::from_utf8_lossy(&body)
        );
        latencies.saturating_record(sent.elapsed().as_micros() as u64);
    }
    Ok(latencies)
}

pub async fn run(
    server: &Server,
    orders: u64,
    concurrency: usize,
    reads: u64,
) -> anyhow::Result<()> {
    let skus: Vec<String> = skus(server).await?.into_iter().take(SKUS).collect();
    let stores = stores(server, "pickup").await?;
    let per_cell = (orders * 6 / (skus.len() as u64 * stores.len() as u64)).max(10) * 4 + 1_000;
    stock_up(server, &skus, &stores, per_cell).await?;
    let measured = stores[0].clone();
    let shop = Shop {
        skus: Arc::new(skus),
        stores: Arc::new(stores),
    };
    let at = (server.addr.as_str(), server.admin_key.as_str());
    let (seeded, seed_s) = place(at, &shop, (orders, concurrency, 0.0), None).await?;
    let readied = ready_some(server, &measured).await?;
    println!(
        "kpis: seeded {seeded} orders in {seed_s:.0} s, {readied} of {measured}'s pickups readied"
    );
    // Checkout alone, 5 s: its rate.
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            s.store(true, Ordering::Relaxed)
        })
    };
    let (alone, alone_s) = place(at, &shop, (u64::MAX, concurrency, 0.0), Some(stop)).await?;
    timer.await?;
    let full_rate = alone as f64 / alone_s;
    // Half that rate meanwhile the dashboard is read.
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (addr, key, stop) = (server.addr.clone(), server.admin_key.clone(), stop.clone());
        let shop = Shop {
            skus: shop.skus.clone(),
            stores: shop.stores.clone(),
        };
        tokio::spawn(async move {
            place(
                (&addr, &key),
                &shop,
                (u64::MAX, concurrency, full_rate / 2.0),
                Some(stop),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latencies = read_dashboards(server, &measured, reads).await?;
    stop.store(true, Ordering::Relaxed);
    let (meanwhile, meanwhile_s) = background.await??;
    let total = get_json(server, &format!("/v1/reports/kpis?location={measured}")).await?;
    println!(
        "kpis: orders={} store_orders={} dashboard_ms_p50={:.1} dashboard_ms_p99={:.1} checkout_alone_per_s={full_rate:.0} checkout_meanwhile_per_s={:.0} db={}",
        seeded + alone,
        total["orders"],
        latencies.value_at_quantile(0.5) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        meanwhile as f64 / meanwhile_s,
        server.db_label,
    );
    Ok(())
}
