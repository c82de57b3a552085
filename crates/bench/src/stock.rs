//! Scenarios on stock: `hot-sku` (a flash sale on one variant at one store) and
//! `availability` (reads of random variants across locations).

use hyper::Method;
use rand::Rng;
use serde_json::json;

use crate::load::{Request, drive, get_json, send_ok, skus};
use crate::server::Server;

const HOT_SKU: &str = "ES001-BLE-38";
const HOT_STORE: &str = "LYS-BELLECOUR";

/// Sets the hot SKU's stock at the hot store to exactly `units`, nothing held, no safety.
async fn stage_flash_sale(server: &Server, units: u64) -> anyhow::Result<()> {
    send_ok(
        server,
        Method::PUT,
        &format!("/v1/locations/{HOT_STORE}/stock/{HOT_SKU}/safety"),
        json!({"quantity": 0}),
    )
    .await?;
    let count = json!({"sku": HOT_SKU, "location": HOT_STORE, "kind": "count", "quantity": units, "reason": "flash sale stock"});
    send_ok(server, Method::POST, "/v1/stock/movements", count).await?;
    Ok(())
}

async fn held_at_hot_store(server: &Server) -> anyhow::Result<(i64, i64)> {
    let stock = get_json(server, &format!("/v1/variants/{HOT_SKU}/availability")).await?;
    let level = stock["data"]
        .as_array()
        .and_then(|d| d.iter().find(|l| l["location"] == HOT_STORE))
        .cloned()
        .unwrap_or_default();
    Ok((
        level["on_hand"].as_i64().unwrap_or(0),
        level["held"].as_i64().unwrap_or(0),
    ))
}

pub async fn hot_sku(
    server: &Server,
    units: u64,
    buyers: u64,
    concurrency: usize,
    channel: Option<String>,
) -> anyhow::Result<()> {
    stage_flash_sale(server, units).await?;
    let outcome = drive(server, buyers, concurrency, move |n| {
        let mut body = json!({"sku": HOT_SKU, "location": HOT_STORE, "quantity": 1, "purpose": "cart", "owner_ref": format!("cart-{n}")});
        if let Some(c) = &channel {
            body["channel"] = json!(c);
        }
        Request {
            method: Method::POST,
            path: "/v1/holds".into(),
            body: Some(body.to_string()),
            idempotency_key: None,
        }
    })
    .await?;
    let sold = outcome.count(201);
    let rejected = outcome.count(409);
    let (on_hand, held) = held_at_hot_store(server).await?;
    // Oversold: more holds granted than units, or the books holding more than they have.
    let oversold = sold.saturating_sub(units) + (held - on_hand).max(0) as u64;
    let failed = buyers - sold - rejected;
    if failed > 0 {
        eprintln!(
            "hot-sku: {failed} requests failed otherwise: {:?}",
            outcome.statuses
        );
    }
    println!(
        "hot-sku: sold={sold} oversold={oversold} rejected={rejected} holds_per_s={:.0} p50_ms={:.2} p99_ms={:.2} db={}",
        outcome.per_s(),
        outcome.p50_ms(),
        outcome.p99_ms(),
        server.db_label
    );
    Ok(())
}

pub async fn availability(
    server: &Server,
    requests: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let skus = skus(server).await?;
    let outcome = drive(server, requests, concurrency, move |_| {
        let sku = &skus[rand::rng().random_range(0..skus.len())];
        Request {
            method: Method::GET,
            path: format!("/v1/variants/{sku}/availability"),
            body: None,
            idempotency_key: None,
        }
    })
    .await?;
    let failed = requests - outcome.count(200);
    if failed > 0 {
        eprintln!(
            "availability: {failed} requests failed: {:?}",
            outcome.statuses
        );
    }
    println!(
        "availability: requests={requests} per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
        outcome.per_s(),
        outcome.p50_ms(),
        outcome.p99_ms()
    );
    Ok(())
}
