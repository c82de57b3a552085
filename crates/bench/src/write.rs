//! Scenario `write`: durable price updates from many concurrent clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::Method;
use rand::Rng;

use crate::client::Conn;
use crate::server::Server;

async fn skus(server: &Server) -> anyhow::Result<Vec<String>> {
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let (status, body) = conn.send(Method::GET, "/v1/variants?limit=500", None, None).await?;
    anyhow::ensure!(status.is_success(), "list variants: {status}");
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let skus: Vec<String> = page["data"].as_array().context("variants")?.iter().filter_map(|v| v["sku"].as_str().map(String::from)).collect();
    anyhow::ensure!(!skus.is_empty(), "the server has no variants");
    Ok(skus)
}

pub async fn run(server: &Server, commands: u64, concurrency: usize) -> anyhow::Result<()> {
    let skus = Arc::new(skus(server).await?);
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let run_id = std::process::id();
    let server_cpu_before = server.cpu_seconds();
    let client_cpu_before = crate::server::cpu_seconds_of("/proc/self/stat");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (skus, next, failed) = (skus.clone(), next.clone(), failed.clone());
        let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
        workers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("histogram");
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= commands {
                    break;
                }
                let (sku, amount) = {
                    let mut rng = rand::rng();
                    (skus[rng.random_range(0..skus.len())].clone(), rng.random_range(500..50_000))
                };
                let path = format!("/v1/variants/{sku}/prices/EUR");
                let key = format!("bench-{run_id}-{n}");
                let sent = Instant::now();
                let ok = matches!(
                    conn.send(Method::PUT, &path, Some(format!("{{\"amount_minor\":{amount}}}")), Some(&key)).await,
                    Ok((status, _)) if status.is_success()
                );
                latencies.saturating_record(sent.elapsed().as_micros() as u64);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    for w in workers {
        all.add(w.await?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_s = commands as f64 / elapsed;
    // Client and server share the machine's cores: report what each spent per command.
    let per_cmd_us = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.0}", (a - b) * 1e6 / commands as f64),
        _ => "n/a".into(),
    };
    println!(
        "cpu: server_us_per_cmd={} client_us_per_cmd={} wall_s={elapsed:.2}",
        per_cmd_us(server_cpu_before, server.cpu_seconds()),
        per_cmd_us(client_cpu_before, crate::server::cpu_seconds_of("/proc/self/stat")),
    );
    println!(
        "write: commands={commands} failed={} per_s={per_s:.0} p50_ms={:.2} p99_ms={:.2} durable=true db={}",
        failed.load(Ordering::Relaxed),
        all.value_at_quantile(0.50) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        server.db_label
    );
    Ok(())
}
