//! Scenario `webhooks`: `receivers` local receivers subscribe to every price change, then
//! `events` price updates are written as fast as the server takes them; each receiver
//! answers 500 to a share (`fail_rate`) of first attempts and accepts everything else. The
//! line reports deliveries (first successful answers), duplicates (an event accepted twice by
//! one receiver), lost ones (never accepted), the rate, and the lag from the event's time to
//! its first successful delivery (deliveries that needed a retry excluded).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use hdrhistogram::Histogram;
use hyper::Method;
use rand::Rng;
use serde_json::json;

use crate::load::{Request, drive, send_ok, skus};
use crate::server::Server;

/// What one receiver saw: per event id, how many times it was accepted; lags of first
/// attempts accepted; how many first attempts it refused.
#[derive(Default)]
pub struct Seen {
    accepted: HashMap<String, u32>,
    refused: std::collections::HashSet<String>,
    lags_us: Vec<u64>,
    last_at: Option<Instant>,
}

pub type Shared = Arc<Mutex<Seen>>;

async fn receiver(fail_rate: f64) -> anyhow::Result<(String, Shared)> {
    let seen: Shared = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move { answer(&state, &headers, &body, fail_rate) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/hook"), seen))
}

fn answer(state: &Shared, headers: &HeaderMap, body: &str, fail_rate: f64) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut seen = state.lock().unwrap_or_else(|p| p.into_inner());
    let retried = seen.refused.contains(&id);
    if !retried && !seen.accepted.contains_key(&id) && rand::rng().random_bool(fail_rate) {
        seen.refused.insert(id);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    *seen.accepted.entry(id).or_default() += 1;
    if !retried {
        seen.last_at = Some(Instant::now());
        let time = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|e| e["time"].as_str().map(str::to_owned))
            .and_then(|t| {
                time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
            });
        if let Some(t) = time {
            let lag = time::OffsetDateTime::now_utc() - t;
            seen.lags_us.push(lag.whole_microseconds().max(0) as u64);
        }
    }
    StatusCode::NO_CONTENT
}

/// `n` receivers that accept everything, subscribed to every event type (the checkout
/// scenario's `--webhooks`); what they saw, to keep them alive.
pub async fn subscribe_all(server: &Server, n: usize) -> anyhow::Result<Vec<Shared>> {
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        let (url, shared) = receiver(0.0).await?;
        send_ok(server, Method::POST, "/v1/webhooks", json!({"url": url})).await?;
        seen.push(shared);
    }
    Ok(seen)
}

pub async fn run(
    server: &Server,
    events: u64,
    receivers: usize,
    fail_rate: f64,
) -> anyhow::Result<()> {
    let skus = skus(server).await?;
    let mut seen = Vec::with_capacity(receivers);
    for _ in 0..receivers {
        let (url, shared) = receiver(fail_rate.clamp(0.0, 1.0)).await?;
        let sub = json!({"url": url, "event_types": ["relais.price.set"]});
        send_ok(server, Method::POST, "/v1/webhooks", sub).await?;
        seen.push(shared);
    }
    // Let every node's dispatcher see the subscriptions before the first event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let outcome = drive(server, events, 64, move |_| {
        let mut rng = rand::rng();
        Request {
            method: Method::PUT,
            path: format!(
                "/v1/variants/{}/prices/EUR",
                skus[rng.random_range(0..skus.len())]
            ),
            body: Some(format!(
                "{{\"amount_minor\":{}}}",
                rng.random_range(500..50_000)
            )),
            idempotency_key: None,
        }
    })
    .await?;
    let written = outcome.count(200);
    let expected = written * receivers as u64;
    let accepted = |seen: &[Shared]| -> u64 {
        seen.iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).accepted.len() as u64)
            .sum()
    };
    // Wait for everything, retries included, while deliveries keep arriving.
    let mut last = (0, Instant::now());
    while accepted(&seen) < expected && last.1.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = accepted(&seen);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    report(server, written, expected, &seen, started)
}

fn report(
    server: &Server,
    written: u64,
    expected: u64,
    seen: &[Shared],
    started: Instant,
) -> anyhow::Result<()> {
    let mut lags = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut delivered, mut duplicates, mut retried) = (0u64, 0u64, 0u64);
    let mut first_done = started;
    for s in seen {
        let s = s.lock().unwrap_or_else(|p| p.into_inner());
        delivered += s.accepted.len() as u64;
        duplicates += s.accepted.values().map(|n| u64::from(n - 1)).sum::<u64>();
        retried += s.refused.len() as u64;
        for l in &s.lags_us {
            lags.record((*l).max(1))?;
        }
        first_done = first_done.max(s.last_at.unwrap_or(started));
    }
    // The rate over the first attempts: retried deliveries come back seconds later.
    let first = delivered - retried.min(delivered);
    let secs = (first_done - started).as_secs_f64().max(1e-3);
    println!(
        "webhooks: events={written} receivers={} delivered={delivered} duplicates={duplicates} lost={} retried={retried} per_s={:.0} lag_p50_ms={:.1} lag_p99_ms={:.1} db={}",
        seen.len(),
        expected.saturating_sub(delivered),
        first as f64 / secs,
        lags.value_at_quantile(0.5) as f64 / 1000.0,
        lags.value_at_quantile(0.99) as f64 / 1000.0,
        server.db_label
    );
    Ok(())
}
