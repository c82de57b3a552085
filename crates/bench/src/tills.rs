//! Scenario `till-sync`: tills that sold offline upload their sales. `tills` tills spread over
//! the demo's stores each send their share of `sales` in numbered batches of `batch` sales
//! (100 by default), one after the other, all tills at once; 30 % of sales name a loyalty
//! member (who earns, and one in ten of them spends 50 points), and 5 % of batches are posted
//! a second time, as a till that lost the answer would. A sale counts when its batch answered 201; a replay must
//! answer 200 `replayed` — one that applied again is a duplicate, as is a till whose last
//! batch number is not the number of batches it sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::Method;
use rand::Rng;
use serde_json::{Value, json};

use crate::client::Conn;
use crate::load::{get_json, send_ok, skus};
use crate::server::Server;

const SKUS: usize = 50;
/// The share of batches a till posts twice.
const REPLAYED: f64 = 0.05;

/// What a run is made of.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub tills: u64,
    pub sales: u64,
    pub batch: u64,
}

#[derive(Default)]
struct Tally {
    applied: AtomicU64,
    duplicates: AtomicU64,
    conflicts: AtomicU64,
    failed: AtomicU64,
}

/// The stores with a till channel.
async fn till_stores(server: &Server) -> anyhow::Result<Vec<String>> {
    let page = get_json(server, "/v1/channels?limit=500").await?;
    let mut stores: Vec<String> = page["data"]
        .as_array()
        .context("channels")?
        .iter()
        .filter(|c| c["kind"] == "pos")
        .filter_map(|c| c["location_code"].as_str().map(String::from))
        .collect();
    stores.sort();
    stores.dedup();
    anyhow::ensure!(!stores.is_empty(), "no store has a till channel");
    Ok(stores)
}

/// Loyalty members of the demo (up to 500).
async fn members(server: &Server) -> anyhow::Result<Vec<String>> {
    let page = get_json(server, "/v1/customers?limit=500").await?;
    let mut found = Vec::new();
    for c in page["data"].as_array().context("customers")? {
        let id = c["id"].as_str().context("customer id")?;
        if get_json(server, &format!("/v1/customers/{id}/loyalty?limit=1"))
            .await
            .is_ok()
        {
            found.push(id.to_owned());
        }
    }
    anyhow::ensure!(!found.is_empty(), "the demo has no loyalty member");
    Ok(found)
}

fn sale(rng: &mut impl Rng, receipt: String, skus: &[String], members: &[String]) -> Value {
    let mut lines = Vec::new();
    let mut total = 0;
    for _ in 0..rng.random_range(1..=3) {
        let (quantity, price) = (rng.random_range(1..=2), rng.random_range(5..=120) * 100 - 1);
        total += quantity * price;
        let sku = &skus[rng.random_range(0..skus.len())];
        lines.push(
            json!({"sku": sku, "quantity": quantity, "unit_price_minor": price,
                          "tax_rate_bp": 2000, "tax_minor": quantity * price / 6}),
        );
    }
    let member = rng
        .random_bool(0.3)
        .then(|| &members[rng.random_range(0..members.len())]);
    let mut payments = Vec::new();
    if member.is_some() && rng.random_bool(0.1) {
        payments.push(json!({"method": "points", "points": 50}));
        total -= 50;
    }
    payments.push(match rng.random_bool(0.6) {
        true => json!({"method": "card", "amount_minor": total, "reference": "offline"}),
        false => json!({"method": "cash", "amount_minor": total}),
    });
    json!({"kind": "sale", "receipt": receipt, "at": "2026-12-05T10:00:00Z", "currency": "EUR",
           "customer_id": member, "lines": lines, "payments": payments})
}

/// One till's whole upload: its batches in order, some sent twice. Answers its batch
/// latencies in microseconds.
async fn upload(
    (addr, key): (String, String),
    (till, store): (String, String),
    (sales, batch): (u64, u64),
    (skus, members): (Arc<Vec<String>>, Arc<Vec<String>>),
    tally: Arc<Tally>,
) -> anyhow::Result<Histogram<u64>> {
    let mut conn = Conn::open(&addr, &key).await?;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let path = format!("/v1/tills/{till}/batches");
    let batches = sales.div_ceil(batch);
    for seq in 1..=batches {
        let n = batch.min(sales - (seq - 1) * batch);
        let body = {
            let mut rng = rand::rng();
            let ops: Vec<Value> = (0..n)
                .map(|i| sale(&mut rng, format!("{seq}-{i}"), &skus, &members))
                .collect();
            json!({"location": store, "seq": seq, "operations": ops}).to_string()
        };
        let replay = rand::rng().random_bool(REPLAYED);
        for attempt in 0..1 + u64::from(replay) {
            let sent = Instant::now();
            let (status, answer) = conn
                .send(Method::POST, &path, Some(body.clone()), None)
                .await?;
            latencies.saturating_record(sent.elapsed().as_micros() as u64);
            let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            match (status.as_u16(), attempt) {
                (201, 0) => {
                    tally.applied.fetch_add(n, Ordering::Relaxed);
                    let opened = answer["conflicts"].as_array().map_or(0, Vec::len);
                    tally.conflicts.fetch_add(opened as u64, Ordering::Relaxed);
                }
                (200, _) if answer["replayed"] == true => {}
                (201, _) => {
                    tally.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                (status, _) => {
                    tally.failed.fetch_add(n, Ordering::Relaxed);
                    anyhow::bail!("till {till} batch {seq}: {status} {answer}");
                }
            }
        }
    }
    let (_, state) = conn
        .send(Method::GET, &format!("/v1/tills/{till}"), None, None)
        .await?;
    let state: Value = serde_json::from_slice(&state)?;
    if state["last_seq"].as_u64() != Some(batches) {
        tally.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    Ok(latencies)
}

pub async fn run(server: &Server, load: Load) -> anyhow::Result<()> {
    let stores = till_stores(server).await?;
    let skus: Vec<String> = skus(server).await?.into_iter().take(SKUS).collect();
    let members = members(server).await?;
    // Enough of every SKU at every till's store that a sale is short only by chance.
    let per_cell = load.sales * 4 / (SKUS as u64 * stores.len() as u64) + 50;
    for sku in &skus {
        for store in &stores {
            let receipt = json!({"sku": sku, "location": store, "kind": "receipt", "quantity": per_cell, "reason": "benchmark stock"});
            send_ok(server, Method::POST, "/v1/stock/movements", receipt).await?;
        }
    }
    println!(
        "till-sync: staged {} tills over {} stores, {} SKUs, {} members",
        load.tills,
        stores.len(),
        skus.len(),
        members.len()
    );
    let (skus, members) = (Arc::new(skus), Arc::new(members));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut uploads = Vec::new();
    for t in 0..load.tills {
        let share = load.sales / load.tills + u64::from(t < load.sales % load.tills);
        let store = stores[t as usize % stores.len()].clone();
        let till = (format!("BENCH-{t:04}"), store);
        let work = upload(
            (server.addr.clone(), server.admin_key.clone()),
            till,
            (share, load.batch),
            (skus.clone(), members.clone()),
            tally.clone(),
        );
        uploads.push(tokio::spawn(work));
    }
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for done in uploads {
        latencies.add(done.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let applied = tally.applied.load(Ordering::Relaxed);
    println!(
        "till-sync: sales={} applied={applied} duplicates={} conflicts={} per_s={:.0} p99_ms={:.1} db={} batch={} failed={}",
        load.sales,
        tally.duplicates.load(Ordering::Relaxed),
        tally.conflicts.load(Ordering::Relaxed),
        applied as f64 / elapsed,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        server.db_label,
        load.batch,
        tally.failed.load(Ordering::Relaxed),
    );
    Ok(())
}
