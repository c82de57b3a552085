//! `relais-bench`: starts a real Relais server as a separate process (fresh SQLite file by
//! default, or a fresh PostgreSQL database with `--db postgres://…`), drives it over HTTP with
//! many concurrent keep-alive connections, and prints one summary line per scenario.
//!
//! Scenarios:
//! - `write`: durable price updates, each with its own Idempotency-Key.
//! - `hot-sku`: a flash sale: many buyers hold the last units of one variant at one store.
//! - `availability`: availability of random variants across locations.
//! - `fanout`: time from a committed stock change to its arrival at many SSE clients.
//! - `events`: behavioural events in batches, resolved to profiles (10 % link identifiers).
//! - `events-floor`: no server: the SQLite writes `events` needs, with resolution free.
//! - `webhooks`: signed deliveries of price changes to local receivers, some failing.
//! - `till-sync`: offline tills uploading their sales in numbered batches, some posted twice.
//! - `kpis`: one store's KPI dashboard on a seeded history, while checkouts run at half rate.
//! - `startup`: time from starting `relais demo` (fresh database, demo data loaded) to the
//!   first successful `/ready`.

mod checkout;
mod client;
mod events;
mod events_floor;
mod fanout;
mod kpis;
mod load;
mod server;
mod stock;
mod tills;
mod webhooks;
mod write;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "relais-bench",
    about = "Benchmarks a real Relais server over HTTP"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// `sqlite` (a fresh temporary file) or a PostgreSQL admin URL (a fresh database is created).
    #[arg(long, default_value = "sqlite")]
    pub db: String,
    /// Drive an already running server instead of starting one (needs --key).
    #[arg(long)]
    pub url: Option<String>,
    /// Admin API key for --url.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Durable writes: price updates spread over the catalogue.
    Write {
        #[arg(long, default_value_t = 50_000)]
        commands: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[command(flatten)]
        target: Target,
    },
    /// A flash sale: `buyers` hold requests for the `units` of one variant at one store.
    HotSku {
        #[arg(long, default_value_t = 1000)]
        units: u64,
        #[arg(long, default_value_t = 20_000)]
        buyers: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Hold for this channel (its sourcing policy and channel safety checked per hold),
        /// as a web shop's checkout does; without it, holds are made by the back office.
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Availability reads of random variants across locations.
    Availability {
        #[arg(long, default_value_t = 200_000)]
        requests: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Live availability: time from a committed change to its arrival at SSE subscribers.
    Fanout {
        #[arg(long, default_value_t = 10_000)]
        subscribers: u64,
        #[arg(long, default_value_t = 10_000)]
        changes: u64,
        /// How many SKUs the subscribers watch (each watches one).
        #[arg(long, default_value_t = 100)]
        watched: usize,
        /// Changes sent per second (each reaches subscribers/watched clients).
        #[arg(long, default_value_t = 250)]
        rate: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Behavioural events in batches, resolved to customer profiles.
    Events {
        #[command(flatten)]
        load: events::Load,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[command(flatten)]
        target: Target,
    },
    /// No server: what the SQLite writer must write for `events`, resolution itself free —
    /// the share of the writes in what one writer can take (SQLite only).
    EventsFloor {
        #[command(flatten)]
        load: events::Load,
        /// Events resolved per run (the server's resolver runs take 15 000).
        #[arg(long, default_value_t = 15_000)]
        run: u64,
    },
    /// Whole orders: a cart with lines, then checkout in one fulfilment mode.
    Checkout {
        #[arg(long, default_value_t = 20_000)]
        orders: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// `pickup`, `reserve` or `ship`.
        #[arg(long, default_value = "pickup")]
        mode: String,
        /// Switch the demo's promotions off and write this many of every kind instead
        /// (0: none at all); absent: the demo's own.
        #[arg(long)]
        promotions: Option<u64>,
        /// The share of orders that present the shared code `BENCH` (limited to half of
        /// them: the rest are refused it and check out without).
        #[arg(long, default_value_t = 0.0)]
        coupon_rate: f64,
        /// Local receivers subscribed to every event meanwhile (webhook deliveries' cost).
        #[arg(long, default_value_t = 0)]
        webhooks: usize,
        #[command(flatten)]
        target: Target,
    },
    /// One store's 90-day KPI dashboard on a history of `orders` orders, read `reads` times
    /// while checkouts run at half the rate they reach alone.
    Kpis {
        #[arg(long, default_value_t = 200_000)]
        orders: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 200)]
        reads: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Webhook deliveries: receivers subscribed to every price change, some first attempts
    /// refused (retried), while price updates are written as fast as possible.
    Webhooks {
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        #[arg(long, default_value_t = 4)]
        receivers: usize,
        /// The share of first attempts each receiver answers 500 (then accepts the retry).
        #[arg(long, default_value_t = 0.1)]
        fail_rate: f64,
        #[command(flatten)]
        target: Target,
    },
    /// Offline tills uploading their sales (with loyalty) in numbered batches, 5 % posted twice.
    TillSync {
        #[arg(long, default_value_t = 200)]
        tills: u64,
        #[arg(long, default_value_t = 100_000)]
        sales: u64,
        /// Sales per batch (a till back from a morning offline sends a hundred or more).
        #[arg(long, default_value_t = 100)]
        batch: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Time from process start to `/ready` for a fresh demo server.
    Startup {
        #[arg(long, default_value_t = 5)]
        runs: u32,
        #[command(flatten)]
        target: Target,
    },
    /// Internal: the server process the benchmark starts.
    #[command(hide = true)]
    Server {
        #[arg(long)]
        db: String,
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        keys_file: std::path::PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::Server {
        db,
        listen,
        keys_file,
    } = cli.scenario
    {
        // The child: a plain Relais demo server with its own multi-threaded runtime.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(relais::demo::run(
            &db,
            listen,
            relais::server::Settings::default(),
            Some(keys_file),
        ));
    }
    // The load generator gets a runtime of its own; the server process has another.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.scenario {
            Scenario::Write {
                commands,
                concurrency,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = write::run(&server, commands, concurrency).await;
                server.stop().await;
                outcome
            }
            Scenario::HotSku {
                units,
                buyers,
                concurrency,
                channel,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = stock::hot_sku(&server, units, buyers, concurrency, channel).await;
                server.stop().await;
                outcome
            }
            Scenario::Availability {
                requests,
                concurrency,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = stock::availability(&server, requests, concurrency).await;
                server.stop().await;
                outcome
            }
            Scenario::Fanout {
                subscribers,
                changes,
                watched,
                rate,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = fanout::fanout(&server, subscribers, changes, watched, rate).await;
                server.stop().await;
                outcome
            }
            Scenario::Events {
                load,
                concurrency,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = events::run(&server, load, concurrency).await;
                server.stop().await;
                outcome
            }
            Scenario::EventsFloor { load, run } => events_floor::run(load, run).await,
            Scenario::Checkout {
                orders,
                concurrency,
                mode,
                promotions,
                coupon_rate,
                webhooks,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let offers = checkout::Offers {
                    promotions,
                    coupon_rate,
                    webhooks,
                };
                let outcome = checkout::run(&server, orders, concurrency, mode, offers).await;
                server.stop().await;
                outcome
            }
            Scenario::Kpis {
                orders,
                concurrency,
                reads,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = kpis::run(&server, orders, concurrency, reads).await;
                server.stop().await;
                outcome
            }
            Scenario::TillSync {
                tills,
                sales,
                batch,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let load = tills::Load {
                    tills,
                    sales,
                    batch,
                };
                let outcome = tills::run(&server, load).await;
                server.stop().await;
                outcome
            }
            Scenario::Webhooks {
                events,
                receivers,
                fail_rate,
                target,
            } => {
                let server = server::Server::start(&target).await?;
                let outcome = webhooks::run(&server, events, receivers, fail_rate).await;
                server.stop().await;
                outcome
            }
            Scenario::Startup { runs, target } => {
                let mut ready_ms = Vec::new();
                for _ in 0..runs {
                    let server = server::Server::start(&target).await?;
                    ready_ms.push(server.ready_ms);
                    server.stop().await;
                }
                ready_ms.sort_unstable();
                let label = if target.db == "sqlite" {
                    "sqlite"
                } else {
                    "postgres"
                };
                println!(
                    "startup: runs={runs} ready_ms_p50={} ready_ms_max={} db={label}",
                    ready_ms[ready_ms.len() / 2],
                    ready_ms[ready_ms.len() - 1]
                );
                Ok(())
            }
            Scenario::Server { .. } => unreachable!("handled above"),
        }
    })
}
