//! Scenario `events`: behavioural events in batches over HTTP, durable, resolved to profiles.
//!
//! Each simulated customer browses on the web (anonymous id `w<n>`) and in the app (device
//! `a<n>`); until they are linked these are two profiles. A `link_rate` share of events name
//! both identifiers (a sign-in on one device), which links them: the first such event for a
//! customer whose two profiles exist merges them. The run ends when every acknowledged event
//! is resolved to its profile (`/v1/events/resolution?wait=true`), time included. On Linux it
//! also prints the CPU the server's SQLite writer thread used over the run (`writer_cpu_s`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hyper::Method;
use rand::Rng;

use crate::client::Conn;
use crate::load::{Request, drive_observed, get_json};
use crate::server::Server;

const TYPES: [&str; 5] = [
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "page_view",
];

/// The identifiers one simulated event names: its customer's web id, app device, or both
/// (a `link_rate` share: a sign-in).
#[derive(Debug, Clone, Copy)]
pub struct Named {
    pub customer: u64,
    pub web: bool,
    pub app: bool,
}

pub fn pick(rng: &mut impl Rng, customers: u64, link_rate: f64) -> Named {
    let customer = rng.random_range(0..customers);
    if rng.random_bool(link_rate) {
        return Named {
            customer,
            web: true,
            app: true,
        };
    }
    let web = rng.random_bool(0.5);
    Named {
        customer,
        web,
        app: !web,
    }
}

impl Named {
    /// The identifiers as `POST /v1/events` takes them.
    pub fn json(&self) -> String {
        let c = self.customer;
        let mut ids = Vec::with_capacity(2);
        if self.web {
            ids.push(format!(r#"{{"kind":"web_anonymous","value":"w{c}"}}"#));
        }
        if self.app {
            ids.push(format!(r#"{{"kind":"app_device","value":"a{c}"}}"#));
        }
        format!("[{}]", ids.join(","))
    }
}

fn one_event(rng: &mut impl Rng, customers: u64, link_rate: f64, out: &mut String) {
    let named = pick(rng, customers, link_rate);
    let kind = TYPES[rng.random_range(0..TYPES.len())];
    let sku = rng.random_range(0..312);
    let ids = named.json();
    let channel = if named.web { "web" } else { "app" };
    out.push_str(&format!(
        r#"{{"channel":"{channel}","type":"{kind}","identifiers":{ids},"properties":{{"item":{sku}}}}}"#
    ));
}

/// The simulated load: how many events, in batches of how many, from how many customers,
/// and how many of them sign in.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Load {
    #[arg(long, default_value_t = 500_000)]
    pub events: u64,
    #[arg(long, default_value_t = 500)]
    pub batch: u64,
    /// Simulated customers (each with a web id and an app device).
    #[arg(long, default_value_t = 100_000)]
    pub customers: u64,
    /// Share of events that name both identifiers of a customer (a sign-in).
    #[arg(long, default_value_t = 0.1)]
    pub link_rate: f64,
}

impl Load {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=1000).contains(&self.batch), "--batch is 1 to 1000");
        anyhow::ensure!(self.customers > 0, "--customers must be positive");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.link_rate),
            "--link-rate is 0 to 1"
        );
        Ok(())
    }

    /// One simulated event's identifiers.
    pub fn pick(&self, rng: &mut impl Rng) -> Named {
        pick(rng, self.customers, self.link_rate)
    }
}

pub async fn run(server: &Server, load: Load, concurrency: usize) -> anyhow::Result<()> {
    load.check()?;
    let Load {
        events,
        batch,
        customers,
        link_rate,
    } = load;
    let batches = events.div_ceil(batch);
    let accepted = Arc::new(AtomicU64::new(0));
    let acc = accepted.clone();
    let merges_before = merges_total(server).await?;
    let writer_before = server.thread_cpu_seconds("relais-writer");
    let outcome = drive_observed(
        server,
        batches,
        concurrency,
        move |n| {
            let mut rng = rand::rng();
            let size = batch.min(events - n * batch);
            let mut body = String::with_capacity(size as usize * 160 + 16);
            body.push_str(r#"{"events":["#);
            for i in 0..size {
                if i > 0 {
                    body.push(',');
                }
                one_event(&mut rng, customers, link_rate, &mut body);
            }
            body.push_str("]}");
            Request {
                method: Method::POST,
                path: "/v1/events".into(),
                body: Some(body),
                idempotency_key: None,
            }
        },
        move |status, body| {
            if status == 200
                && let Ok(reply) = serde_json::from_slice::<serde_json::Value>(body)
            {
                acc.fetch_add(reply["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
        },
    )
    .await?;
    // Acknowledged events are durable; on SQLite they are resolved behind the log. The run
    // ends when every one of them is resolved, and that wait counts in the rate.
    let waited = Instant::now();
    let resolution = get_json(server, "/v1/events/resolution?wait=true").await?;
    anyhow::ensure!(
        resolution["pending"] == 0,
        "events left unresolved: {resolution}"
    );
    let resolve_s = waited.elapsed().as_secs_f64();
    // The writer's CPU over the measured run (SQLite; `n/a` elsewhere).
    let writer_cpu_s = match (writer_before, server.thread_cpu_seconds("relais-writer")) {
        (Some(before), Some(after)) => format!("{:.2}", after - before),
        _ => "n/a".into(),
    };
    let elapsed_s = outcome.elapsed_s + resolve_s;
    let merges = merges_total(server).await? - merges_before;
    let ingested = accepted.load(Ordering::Relaxed);
    let failed_batches = batches - outcome.count(200);
    println!(
        "events: ingested={ingested} failed_batches={failed_batches} batches={batches} resolve_wait_s={resolve_s:.2} writer_cpu_s={writer_cpu_s} per_s={:.0} merges={merges} p50_ms={:.2} p99_ms={:.2} db={}",
        ingested as f64 / elapsed_s,
        outcome.p50_ms(),
        outcome.p99_ms(),
        server.db_label
    );
    Ok(())
}

/// Merges the server has made so far (`relais_customer_merges_total`): with resolution
/// behind the log, batch answers do not carry them.
async fn merges_total(server: &Server) -> anyhow::Result<u64> {
    let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
    let (status, body) = conn.send(Method::GET, "/metrics", None, None).await?;
    anyhow::ensure!(status.is_success(), "GET /metrics: {status}");
    let text = String::from_utf8_lossy(&body);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("relais_customer_merges_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}
