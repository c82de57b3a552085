//! Scenario `write`: durable price updates from many concurrent clients, each with its own
//! Idempotency-Key.

use hyper::Method;
use rand::Rng;

use crate::load::{Request, drive, skus};
use crate::server::Server;

pub async fn run(server: &Server, commands: u64, concurrency: usize) -> anyhow::Result<()> {
    let skus = skus(server).await?;
    let run_id = std::process::id();
    let outcome = drive(server, commands, concurrency, move |n| {
        let mut rng = rand::rng();
        let sku = &skus[rng.random_range(0..skus.len())];
        Request {
            method: Method::PUT,
            path: format!("/v1/variants/{sku}/prices/EUR"),
            body: Some(format!(
                "{{\"amount_minor\":{}}}",
                rng.random_range(500..50_000)
            )),
            idempotency_key: Some(format!("bench-{run_id}-{n}")),
        }
    })
    .await?;
    let failed = commands - outcome.count(200);
    println!(
        "write: commands={commands} failed={failed} per_s={:.0} p50_ms={:.2} p99_ms={:.2} durable=true db={}",
        outcome.per_s(),
        outcome.p50_ms(),
        outcome.p99_ms(),
        server.db_label
    );
    Ok(())
}
