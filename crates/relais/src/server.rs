//! Wiring: open the database, build the app, serve until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use api::AppState;
use kernel::{Currency, Timestamp};
use store::{Db, DbOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The retailer's settings that requests use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub currency: Currency,
    pub hold_ttls: inventory::HoldTtls,
    /// Publish the outbox to NATS JetStream (`RELAIS_NATS_URL`).
    pub nats: Option<crate::publish::NatsSettings>,
    /// Most identities per customer profile.
    pub identity_cap: usize,
    /// How national phone numbers are read.
    pub phones: customers::PhoneRules,
    /// Pickup wait and return window.
    pub order_rules: api::OrderRules,
    /// How long a client has to send a request's headers (and a keep-alive connection may
    /// stay idle) before it is disconnected.
    pub header_timeout: Duration,
    /// How customers are written to; off when no transport is set.
    pub notify: crate::notify::NotifySettings,
    /// Days outbox events are kept (once every reader has read them).
    pub outbox_retention_days: i64,
}

impl Settings {
    pub fn new(currency: &str, hold_ttls: inventory::HoldTtls) -> anyhow::Result<Settings> {
        let currency = Currency::parse(currency).map_err(anyhow::Error::msg)?;
        Ok(Settings {
            currency,
            hold_ttls: hold_ttls.validate()?,
            nats: None,
            identity_cap: store::customers::ResolutionRules::default().identity_cap,
            phones: customers::PhoneRules::default(),
            order_rules: api::OrderRules::default(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            notify: crate::notify::NotifySettings::default(),
            outbox_retention_days: DEFAULT_OUTBOX_RETENTION_DAYS,
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            currency: Currency::EUR,
            hold_ttls: inventory::HoldTtls::default(),
            nats: None,
            identity_cap: store::customers::ResolutionRules::default().identity_cap,
            phones: customers::PhoneRules::default(),
            order_rules: api::OrderRules::default(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            notify: crate::notify::NotifySettings::default(),
            outbox_retention_days: DEFAULT_OUTBOX_RETENTION_DAYS,
        }
    }
}

/// How long outbox events are kept, by default.
pub const DEFAULT_OUTBOX_RETENTION_DAYS: i64 = 30;

/// How long a client has to send a request's headers, by default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// What `serve` needs.
pub struct ServeOptions {
    pub database_url: String,
    pub listen: SocketAddr,
    pub settings: Settings,
}

/// Structured logs to stderr: JSON when `RELAIS_LOG_FORMAT=json`, text otherwise;
/// the level from `RELAIS_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RELAIS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    let json = std::env::var("RELAIS_LOG_FORMAT").is_ok_and(|f| f == "json");
    // A second call (tests, embedding) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Hides the password of a database URL for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// Connects and migrates.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url, DbOptions::default())
        .await
        .with_context(|| format!("connect to {}", redact(url)))?;
    db.migrate().await.context("apply migrations")?;
    Ok(db)
}

/// Opens a database that must exist already (see `Db::connect_existing`) and applies any
/// migration a newer binary brings.
pub async fn open_existing(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect_existing(url, DbOptions::default())
        .await
        .with_context(|| format!("open {}", redact(url)))?;
    db.migrate().await.context("apply migrations")?;
    Ok(db)
}

/// Mints and stores an API key; returns its token.
pub async fn create_key(
    db: &Db,
    name: &str,
    scopes: &[String],
    actor: &str,
) -> anyhow::Result<String> {
    let (_, _, token) =
        app::keys::create(db, actor, name, scopes, None, |_| store::StoredResponse {
            status: 201,
            body: String::new(),
            replayed: false,
        })
        .await?;
    Ok(token)
}

/// Resolves when the process gets SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

/// How long an Idempotency-Key is remembered: a client retries within minutes, not days.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Forgets idempotency keys past their retention, purges outbox events older than
/// `outbox_days` that every reader has read and expires loyalty points due, once an hour.
fn start_housekeeping(db: Db, outbox_days: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match app::retention::purge_outbox(&db, outbox_days).await {
                Ok(n) if n > 0 => {
                    metrics::counter!("relais_outbox_purged_total").increment(n);
                    tracing::info!(purged = n, "outbox events past their retention removed");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox purge failed; will retry"),
            }
            expire_points(&db).await;
            expire_stored_value(&db).await;
            if let Err(e) = app::staff::purge_expired_sessions(&db).await {
                tracing::warn!(error = %e, "console session purge failed; will retry");
            }
            let before = Timestamp::from_unix_ms(
                Timestamp::now().unix_ms() - IDEMPOTENCY_RETENTION.as_millis() as i64,
            );
            match db.purge_idempotency_keys(before).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency keys removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency key purge failed; will retry"),
            }
        }
    })
}

/// Expires the loyalty points due, 500 members per command until none is left.
async fn expire_points(db: &Db) {
    loop {
        match app::loyalty::expire_due(db, Timestamp::now(), 500).await {
            Ok(0) => return,
            Ok(n) => tracing::info!(members = n, "loyalty points due to expire were expired"),
            Err(e) => {
                tracing::warn!(error = %e, "loyalty expiry failed; will retry");
                return;
            }
        }
    }
}

/// Empties gift cards and credits past their expiry date, 500 per command until none is left
/// (each leaves the due list as it is emptied).
async fn expire_stored_value(db: &Db) {
    loop {
        match app::stored_value::expire_due(db, 500).await {
            Ok(0) => return,
            Ok(n) => tracing::info!(
                accounts = n,
                "gift cards and credits past their date expired"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "stored value expiry failed; will retry");
                return;
            }
        }
    }
}

/// How often pending holds past their deadline are expired: within this of their deadline.
pub const HOLD_SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How often orders past their deadline are lapsed.
pub const ORDER_SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Expires holds whose deadline has passed, in batches, every [`HOLD_SWEEP_EVERY`]. Expiry
/// reads the deadline from the database, so holds that fell due while the server was down
/// are expired at the first sweep after a restart. On several nodes the sweeps race
/// harmlessly: a hold ends once (conditional write), a loser gets `conflict` and moves on.
fn start_hold_sweeper(db: Db) -> tokio::task::JoinHandle<()> {
    const BATCH: i64 = 500;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOLD_SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                let now = Timestamp::now();
                match app::holds::expire_due(&db, now, BATCH).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(n) => {
                        if n > 0 {
                            tracing::debug!(expired = n, "holds expired");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "hold sweep failed; will retry");
                        break;
                    }
                }
            }
        }
    })
}

/// Lapses orders past their deadline every second: ready pickups not collected become
/// no-shows (stock released, payment refunded), reservations not bought expire. Refunds are
/// passed to the payment provider after the sweep's commit.
fn start_order_sweeper<P: orders::payment::PaymentProvider + 'static>(
    db: Db,
    provider: std::sync::Arc<P>,
) -> tokio::task::JoinHandle<()> {
    const BATCH: i64 = 200;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ORDER_SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match app::orders::sweep_due(&db, provider.as_ref(), Timestamp::now(), BATCH).await {
                Ok(lapsed) => {
                    if lapsed > 0 {
                        tracing::info!(lapsed, "orders past their deadline lapsed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "order sweep failed; will retry"),
            }
        }
    })
}

/// How long the resolver waits, at most, between looks at the log (it is woken as soon as
/// events are appended; this also picks up events another process appended).
pub const RESOLVER_IDLE: Duration = Duration::from_secs(1);

/// How long the resolver lets events accumulate after being woken, so that runs are large.
pub const RESOLVER_PACE: Duration = Duration::from_millis(500);

/// Resolves events acknowledged without resolution (SQLite; see
/// `store::customer_events::resolve_tail`) as soon as they are appended: while one run is
/// on the writer, the next batches accumulate, so runs grow with load. Reads that need
/// resolved events catch up themselves.
fn start_event_resolver(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if db.backend() != store::Backend::Sqlite {
            return;
        }
        loop {
            let _ = tokio::time::timeout(RESOLVER_IDLE, db.event_tail().wait_appended()).await;
            // Let the tail grow into a run: a page is then written once for many events.
            tokio::time::sleep(RESOLVER_PACE).await;
            if let Err(e) = store::customer_events::catch_up(&db).await {
                tracing::warn!(error = %e, "event resolution failed; will retry");
                tokio::time::sleep(RESOLVER_IDLE).await;
            }
        }
    })
}

/// The server's background tasks, stopped when the server stops — also when its future is
/// dropped rather than run to the end (an embedding application or a test aborting it), so
/// that no sweeper or publisher outlives its server (a publisher would keep its lease).
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Serves the API on an open database until a shutdown signal; `bound` learns the address.
pub async fn serve_db(
    db: Db,
    listener: TcpListener,
    settings: Settings,
    bound: Option<oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let state = AppState::new(db.clone(), settings.currency)
        .with_hold_ttls(settings.hold_ttls)
        .with_customer_rules(
            store::customers::ResolutionRules {
                identity_cap: settings.identity_cap,
            },
            settings.phones.clone(),
        )
        .with_order_rules(settings.order_rules);
    let app = api::app_with(state.clone(), console::router());
    let addr = listener.local_addr()?;
    let open_files = crate::listen::raise_open_files_limit();
    tracing::info!(%addr, database = db.backend().as_str(), open_files, "relais is listening");
    if let Some(tx) = bound {
        let _ = tx.send(addr);
    }
    let mut background = Background(vec![
        start_housekeeping(db.clone(), settings.outbox_retention_days),
        start_hold_sweeper(db.clone()),
        start_order_sweeper(db.clone(), state.payments.clone()),
        start_event_resolver(db.clone()),
    ]);
    let (pace, sampler) = crate::pace::Pace::start(db.clone());
    background.0.push(sampler);
    background
        .0
        .push(tokio::spawn(crate::webhooks::run(db.clone(), pace.clone())));
    if settings.notify.is_off() {
        tracing::info!("notifications are off: no --smtp-url, --mail-dir, --sms-url or --push-url");
    } else {
        let (transports, rules) = settings.notify.open()?;
        let reference = state.reference.clone();
        let notifier = crate::notify::run(reference, transports, rules, pace.clone());
        background.0.push(tokio::spawn(notifier));
    }
    if let Some(nats) = settings.nats.clone() {
        background
            .0
            .push(tokio::spawn(crate::publish::run(db.clone(), nats)));
    }
    let draining = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        draining.set_ready(false);
        tracing::info!("shutting down: finishing in-flight requests");
    };
    crate::listen::serve(listener, app, settings.header_timeout, shutdown).await;
    drop(background);
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds first (a port in use is found before migrating), then opens the database and serves.
pub async fn serve(
    options: ServeOptions,
    bound: Option<oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let listener = crate::listen::bind(options.listen).await?;
    let db = open(&options.database_url).await?;
    serve_db(db, listener, options.settings, bound).await
}
