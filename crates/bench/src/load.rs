//! The load driver shared by every scenario: `concurrency` keep-alive connections take
//! request numbers from one counter until `total` are sent, and record each latency and
//! status. Also measures the CPU the server and the client spent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::{Method, StatusCode};

use crate::client::Conn;
use crate::server::{Server, cpu_seconds_of};

/// One request to send.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub idempotency_key: Option<String>,
}

/// What a run measured.
pub struct Outcome {
    pub latencies_us: Histogram<u64>,
    /// How many responses had each status (0 for a transport error).
    pub statuses: std::collections::BTreeMap<u16, u64>,
    pub elapsed_s: f64,
    pub total: u64,
}

impl Outcome {
    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    pub fn per_s(&self) -> f64 {
        self.total as f64 / self.elapsed_s
    }

    pub fn p50_ms(&self) -> f64 {
        self.latencies_us.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latencies_us.value_at_quantile(0.99) as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Sends `total` requests made by `make` over `concurrency` connections.
pub async fn drive<F>(
    server: &Server,
    total: u64,
    concurrency: usize,
    make: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    drive_observed(server, total, concurrency, make, |_, _| {}).await
}

/// Like [`drive`], and hands every response (status and body) to `observe`.
pub async fn drive_observed<F, O>(
    server: &Server,
    total: u64,
    concurrency: usize,
    make: F,
    observe: O,
) -> anyhow::Result<Outcome>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
    O: Fn(u16, &[u8]) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let observe = Arc::new(observe);
    let next = Arc::new(AtomicU64::new(0));
    let server_cpu = server.cpu_seconds();
    let client_cpu = cpu_seconds_of("/proc/self/stat");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (make, next, observe) = (make.clone(), next.clone(), observe.clone());
        let mut conn = Conn::open(&server.addr, &server.admin_key)
            .await
            .context("open a connection")?;
        workers.push(tokio::spawn(async move {
            let mut latencies = histogram();
            let mut statuses = std::collections::BTreeMap::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let r = make(n);
                let sent = Instant::now();
                let status = match conn
                    .send(r.method, &r.path, r.body, r.idempotency_key.as_deref())
                    .await
                {
                    Ok((status, body)) => {
                        observe(status.as_u16(), &body);
                        status.as_u16()
                    }
                    Err(_) => 0,
                };
                latencies.saturating_record(sent.elapsed().as_micros() as u64);
                *statuses.entry(status).or_insert(0u64) += 1;
            }
            (latencies, statuses)
        }));
    }
    let mut outcome = Outcome {
        latencies_us: histogram(),
        statuses: Default::default(),
        elapsed_s: 0.0,
        total,
    };
    for w in workers {
        let (latencies, statuses) = w.await?;
        outcome.latencies_us.add(latencies)?;
        for (s, n) in statuses {
            *outcome.statuses.entry(s).or_insert(0) += n;
        }
    }
    outcome.elapsed_s = started.elapsed().as_secs_f64();
    // Client and server share the machine's cores: report what each spent per request.
    let per_request_us = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.0}", (a - b) * 1e6 / total as f64),
        _ => "n/a".into(),
    };
    println!(
        "cpu: server_us_per_request={} client_us_per_request={} wall_s={:.2}",
        per_request_us(server_cpu, server.cpu_seconds()),
        per_request_us(client_cpu, cpu_seconds_of("/proc/self/stat")),
        outcome.elapsed_s
    );
    Ok(outcome)
}

/// GETs `path` with the admin key and parses the JSON answer.
pub async fn get_json(server: &Server, path: &str) -> anyhow::Result<serde_json::Value> {
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let (status, body) = conn.send(Method::GET, path, None, None).await?;
    anyhow::ensure!(status.is_success(), "GET {path}: {status}");
    Ok(serde_json::from_slice(&body)?)
}

/// Sends one request with the admin key; fails unless it succeeds.
pub async fn send_ok(
    server: &Server,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let (status, bytes) = conn
        .send(method.clone(), path, Some(body.to_string()), None)
        .await?;
    anyhow::ensure!(
        status.is_success() || status == StatusCode::CREATED,
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// Every SKU of the catalogue (up to 500) but gift cards: selling one hashes its PIN with
/// argon2 (tens of milliseconds of CPU), which would make every scenario a gift card one.
pub async fn skus(server: &Server) -> anyhow::Result<Vec<String>> {
    let products = get_json(server, "/v1/products?limit=500").await?;
    let cards: Vec<&str> = products["data"]
        .as_array()
        .context("products")?
        .iter()
        .filter(|p| p["attributes"]["stored_value"].is_string())
        .filter_map(|p| p["id"].as_str())
        .collect();
    let page = get_json(server, "/v1/variants?limit=500").await?;
    let skus: Vec<String> = page["data"]
        .as_array()
        .context("variants")?
        .iter()
        .filter(|v| v["product_id"].as_str().is_none_or(|p| !cards.contains(&p)))
        .filter_map(|v| v["sku"].as_str().map(String::from))
        .collect();
    anyhow::ensure!(!skus.is_empty(), "the server has no variants");
    Ok(skus)
}
