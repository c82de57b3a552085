//! Command-line interface (clap). Every option also reads an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::server::{self, ServeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "relais",
    version,
    about = "Relais: the omnichannel commerce engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE (embedded, default) or postgres://USER@HOST/DB.
    #[arg(
        long = "db",
        env = "RELAIS_DATABASE_URL",
        default_value = "sqlite://relais.db"
    )]
    pub url: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "RELAIS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Currency used when a price request names none (ISO 4217).
    #[arg(long, env = "RELAIS_DEFAULT_CURRENCY", default_value = "EUR")]
    pub currency: String,
    /// Lifetime of a cart hold that does not give one, in seconds.
    #[arg(long, env = "RELAIS_HOLD_TTL_CART_S", default_value_t = 900)]
    pub hold_ttl_cart_s: i64,
    /// Lifetime of a click & collect (pickup) hold, in seconds.
    #[arg(long, env = "RELAIS_HOLD_TTL_PICKUP_S", default_value_t = 7 * 24 * 3600)]
    pub hold_ttl_pickup_s: i64,
    /// Lifetime of a click & reserve hold, in seconds.
    #[arg(long, env = "RELAIS_HOLD_TTL_RESERVE_S", default_value_t = 48 * 3600)]
    pub hold_ttl_reserve_s: i64,
    /// Lifetime of a ship-from hold, in seconds.
    #[arg(long, env = "RELAIS_HOLD_TTL_SHIP_S", default_value_t = 3 * 24 * 3600)]
    pub hold_ttl_ship_s: i64,
    /// Most identities one customer profile may hold; links beyond it are flagged for
    /// review instead of merged (a shared kiosk or household device).
    #[arg(long, env = "RELAIS_IDENTITY_CAP", default_value_t = 50)]
    pub identity_cap: usize,
    /// Country calling code for phone numbers written in national form (`06…`); empty:
    /// numbers must carry their country code.
    #[arg(long, env = "RELAIS_PHONE_COUNTRY_CODE", default_value = "33")]
    pub phone_country_code: String,
    /// Days a ready click & collect order waits before it is a no-show (cancelled, refunded).
    #[arg(long, env = "RELAIS_PICKUP_DAYS", default_value_t = 7)]
    pub pickup_days: i64,
    /// Days after the customer got the goods during which a return is accepted.
    #[arg(long, env = "RELAIS_RETURN_WINDOW_DAYS", default_value_t = 30)]
    pub return_window_days: i64,
    /// Publish every event and ATP change to NATS JetStream at this URL
    /// (e.g. nats://127.0.0.1:4222); off when unset.
    #[arg(long, env = "RELAIS_NATS_URL")]
    pub nats_url: Option<String>,
    /// The JetStream stream to publish to (created if missing).
    #[arg(long, env = "RELAIS_NATS_STREAM", default_value = "RELAIS")]
    pub nats_stream: String,
    /// The first token of every published subject.
    #[arg(long, env = "RELAIS_NATS_PREFIX", default_value = "relais")]
    pub nats_prefix: String,
    /// Seconds a client has to send a request's headers; a keep-alive connection idle that
    /// long is closed too.
    #[arg(long, env = "RELAIS_HEADER_TIMEOUT_S", default_value_t = 30)]
    pub header_timeout_s: u64,
    /// Days outbox events are kept once every reader (NATS, webhooks, notifications) has
    /// read them.
    #[arg(long, env = "RELAIS_OUTBOX_RETENTION_DAYS", default_value_t = 30)]
    pub outbox_retention_days: i64,
    /// Most age of a message in the JetStream stream, in days (0: no limit).
    #[arg(long, env = "RELAIS_NATS_MAX_AGE_DAYS", default_value_t = 7)]
    pub nats_max_age_days: u64,
    /// Most bytes the JetStream stream keeps (oldest dropped first; 0: no limit).
    #[arg(long, env = "RELAIS_NATS_MAX_BYTES", default_value_t = 1 << 30)]
    pub nats_max_bytes: i64,
    /// Send e-mail to this SMTP server, e.g. smtp://127.0.0.1:2525 (no TLS: a local relay).
    #[arg(long, env = "RELAIS_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Write e-mail as .eml files into this folder (when no SMTP server is set).
    #[arg(long, env = "RELAIS_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// The sender of e-mail.
    #[arg(
        long,
        env = "RELAIS_MAIL_FROM",
        default_value = "Relais <notifications@relais.localhost>"
    )]
    pub mail_from: String,
    /// POST SMS to this HTTP provider (JSON, signed like webhooks).
    #[arg(long, env = "RELAIS_SMS_URL")]
    pub sms_url: Option<String>,
    /// POST push notifications to this HTTP provider (JSON, signed like webhooks).
    #[arg(long, env = "RELAIS_PUSH_URL")]
    pub push_url: Option<String>,
    /// The secret (whsec_…) SMS and push requests are signed with.
    #[arg(long, env = "RELAIS_PROVIDER_SECRET")]
    pub provider_secret: Option<String>,
    /// When no marketing (nor reminder) is sent, in the customer's time zone.
    #[arg(long, env = "RELAIS_QUIET_HOURS", default_value = "21:00-08:00")]
    pub quiet_hours: String,
    /// The time zone of customers whose zone is not known (IANA name).
    #[arg(long, env = "RELAIS_TIME_ZONE", default_value = "Europe/Paris")]
    pub time_zone: String,
}

impl ListenArgs {
    /// What every served request needs to know about the retailer.
    pub fn settings(&self) -> anyhow::Result<crate::server::Settings> {
        let ttls = inventory::HoldTtls {
            cart_s: self.hold_ttl_cart_s,
            pickup_s: self.hold_ttl_pickup_s,
            reserve_s: self.hold_ttl_reserve_s,
            ship_s: self.hold_ttl_ship_s,
        };
        let mut settings = crate::server::Settings::new(&self.currency, ttls)?;
        if !(1..=3600).contains(&self.header_timeout_s) {
            anyhow::bail!("--header-timeout-s must be 1 to 3600");
        }
        settings.header_timeout = std::time::Duration::from_secs(self.header_timeout_s);
        settings.identity_cap = self.identity_cap;
        if !(1..=10_000).contains(&self.identity_cap) {
            anyhow::bail!("--identity-cap must be 1 to 10000");
        }
        let code = self.phone_country_code.trim();
        if !code.is_empty()
            && (code.len() > 3
                || !code.bytes().all(|b| b.is_ascii_digit())
                || code.starts_with('0'))
        {
            anyhow::bail!("--phone-country-code must be 1 to 3 digits, such as 33 or 1");
        }
        settings.phones = customers::PhoneRules {
            default_country_code: (!code.is_empty()).then(|| code.to_owned()),
        };
        if !(1..=90).contains(&self.pickup_days) {
            anyhow::bail!("--pickup-days must be 1 to 90");
        }
        if !(0..=3650).contains(&self.return_window_days) {
            anyhow::bail!("--return-window-days must be 0 to 3650");
        }
        settings.order_rules = api::OrderRules {
            pickup_days: self.pickup_days,
            return_window_days: self.return_window_days,
        };
        settings.notify = crate::notify::NotifySettings {
            smtp_url: self.smtp_url.clone(),
            mail_dir: self.mail_dir.clone(),
            mail_from: self.mail_from.clone(),
            sms_url: self.sms_url.clone(),
            push_url: self.push_url.clone(),
            provider_secret: self.provider_secret.clone(),
            quiet_hours: self.quiet_hours.clone(),
            time_zone: self.time_zone.clone(),
        };
        if !(1..=3650).contains(&self.outbox_retention_days) {
            anyhow::bail!("--outbox-retention-days must be 1 to 3650");
        }
        settings.outbox_retention_days = self.outbox_retention_days;
        if self.nats_max_bytes < 0 {
            anyhow::bail!("--nats-max-bytes must be 0 or more");
        }
        // Checked at start, not when the first message goes.
        if !settings.notify.is_off() {
            settings.notify.open()?;
        }
        settings.nats = self
            .nats_url
            .as_deref()
            .map(|url| crate::publish::NatsSettings {
                url: url.to_owned(),
                stream: self.nats_stream.clone(),
                prefix: self.nats_prefix.clone(),
                max_age: std::time::Duration::from_secs(self.nats_max_age_days * 24 * 3600),
                max_bytes: self.nats_max_bytes,
            });
        Ok(settings)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        listen: ListenArgs,
    },
    /// Create a fresh database with the demo retailer and serve it.
    Demo {
        /// Database URL; a SQLite file is recreated, a PostgreSQL database must be empty.
        #[arg(
            long = "db",
            env = "RELAIS_DEMO_DATABASE_URL",
            default_value = "sqlite://relais-demo.db"
        )]
        url: String,
        #[command(flatten)]
        listen: ListenArgs,
        /// Also write the demo API keys as JSON to this file.
        #[arg(long)]
        keys_file: Option<PathBuf>,
    },
    /// Copy a SQLite database to a new file while it serves
    ///
    /// One consistent snapshot, taken while writes go on. PostgreSQL is backed up with its
    /// own tools (pg_dump, base backups with WAL archiving).
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The new file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage API keys directly in the database.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Export feeds for other systems.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
}

/// How imported stock rows are recorded.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportKind {
    /// The quantity is what was counted: on hand becomes it.
    Count,
    /// The quantity arrived: it is added to on hand.
    Receipt,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Stock per SKU and location from a CSV file with `sku,location,quantity[,reason][,key]`
    /// columns. Safe to run again, also after fixing rejected rows: a row already imported
    /// in this batch is not recorded twice. Rejected rows are written, with the reason, to
    /// FILE.rejected.csv, and the command exits 1.
    Stock {
        #[command(flatten)]
        db: DbArgs,
        /// The CSV file (header row first; other columns are ignored).
        file: PathBuf,
        /// `count`: on hand becomes the quantity; `receipt`: the quantity arrives.
        #[arg(long, value_enum, default_value = "count")]
        kind: ImportKind,
        /// What this file is (a day's count, a delivery note); rows are recorded once per
        /// batch. Default: the file's name — give each day's file its own name or batch.
        #[arg(long)]
        batch: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A channel's local inventory feed for shopping search engines (TSV)
    ///
    /// Columns: store code, id, quantity, availability, price, pickup method, pickup SLA —
    /// one row per variant stocked at each store the channel promises pickup (or
    /// reservation) from, with what the channel may promise there and the store's usual
    /// pickup promise. Also served as GET /v1/feeds/local-inventory.
    LocalInventory {
        #[command(flatten)]
        db: DbArgs,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Currency of the prices (ISO 4217).
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// The channel the feed is for: its prices, the stores its sourcing policy lets it
        /// promise pickup from, and what it may promise there (channel safety stock kept back).
        #[arg(long, default_value = "web")]
        channel: String,
        /// At most this many units available is `limited availability`.
        #[arg(long, default_value_t = 3)]
        limited_at: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key and print its token (shown once).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// What the key is for, as lists show it (e.g. "Lyon till 2", "ERP sync").
        #[arg(long)]
        name: String,
        /// admin, service, channel:<code> or store:<location code>; repeatable.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List the keys (never their tokens): id, name, token prefix, scopes, revoked or not.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by its id: a running server stops accepting its token within 10 s.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The key's id (`key_…`, see `relais key list`).
        id: String,
    },
}

/// Whoever runs the CLI holds the database's credentials: they act as an admin.
fn operator() -> app::Principal {
    app::Principal {
        key_id: "cli".into(),
        scopes: vec![app::Scope::Admin],
    }
}

/// Every key, oldest first, one line each.
async fn list_keys(db: &store::Db) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut page = kernel::PageRequest::parse(Some(500), None)?;
    loop {
        let found = app::keys::list(db, &operator(), &page).await?;
        for k in &found.data {
            let state = match k.revoked_at {
                Some(at) => format!("revoked {at}"),
                None => "active".to_owned(),
            };
            lines.push(format!(
                "{}\t{}\t{}…\t{}\t{state}",
                k.id,
                k.name,
                k.prefix,
                k.scopes.join(",")
            ));
        }
        match found.next_cursor {
            Some(c) => page = kernel::PageRequest::parse(Some(500), Some(&c))?,
            None => return Ok(lines),
        }
    }
}

/// Parses the command line, runs it, and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relais: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { db, listen } => {
                server::init_logging();
                let options = ServeOptions {
                    database_url: db.url,
                    listen: listen.listen,
                    settings: listen.settings()?,
                };
                server::serve(options, None).await
            }
            Command::Demo {
                url,
                listen,
                keys_file,
            } => {
                server::init_logging();
                crate::demo::run(&url, listen.listen, listen.settings()?, keys_file).await
            }
            Command::Backup { db, to } => {
                let database = store::Db::connect_existing(&db.url, store::DbOptions::default())
                    .await
                    .with_context(|| format!("open {}", server::redact(&db.url)))?;
                let done = database.backup_to(&to).await;
                database.close().await;
                done?;
                println!("{} backed up to {}", server::redact(&db.url), to.display());
                Ok(())
            }
            Command::Migrate { db } => {
                let database = server::open(&db.url).await?;
                database.close().await;
                println!("migrations applied to {}", server::redact(&db.url));
                Ok(())
            }
            Command::Import {
                command:
                    ImportCommand::Stock {
                        db,
                        file,
                        kind,
                        batch,
                    },
            } => {
                let database = server::open_existing(&db.url).await?;
                let kind = match kind {
                    ImportKind::Count => inventory::MovementKind::Count,
                    ImportKind::Receipt => inventory::MovementKind::Receipt,
                };
                let report = crate::import::run(&database, &file, batch.as_deref(), kind).await;
                database.close().await;
                match report?.rejected.len() {
                    0 => Ok(()),
                    n => anyhow::bail!("{n} rows rejected; fix them and import the file again"),
                }
            }
            Command::Export {
                command:
                    ExportCommand::LocalInventory {
                        db,
                        out,
                        currency,
                        channel,
                        limited_at,
                    },
            } => {
                let database = server::open_existing(&db.url).await?;
                let options = app::feeds::LocalInventory {
                    currency: kernel::Currency::parse(&currency).map_err(anyhow::Error::msg)?,
                    channel,
                    limited_at,
                };
                let rows = match &out {
                    Some(path) => {
                        let file = std::fs::File::create(path)
                            .with_context(|| format!("create {}", path.display()))?;
                        let mut writer = std::io::BufWriter::new(file);
                        app::feeds::local_inventory(&database, &options, &mut writer).await?
                    }
                    None => {
                        let mut writer = std::io::BufWriter::new(std::io::stdout().lock());
                        app::feeds::local_inventory(&database, &options, &mut writer).await?
                    }
                };
                database.close().await;
                if let Some(path) = out {
                    eprintln!("{rows} rows written to {}", path.display());
                }
                Ok(())
            }
            Command::Key {
                command: KeyCommand::Create { db, name, scopes },
            } => {
                let database = server::open_existing(&db.url).await?;
                let token = server::create_key(&database, &name, &scopes, "cli").await?;
                database.close().await;
                println!("{token}");
                Ok(())
            }
            Command::Key {
                command: KeyCommand::List { db },
            } => {
                let database = server::open_existing(&db.url).await?;
                let lines = list_keys(&database).await;
                database.close().await;
                for line in lines? {
                    println!("{line}");
                }
                Ok(())
            }
            Command::Key {
                command: KeyCommand::Revoke { db, id },
            } => {
                let database = server::open_existing(&db.url).await?;
                let done = app::keys::revoke(&database, &operator(), id.clone(), None, |()| {
                    store::StoredResponse {
                        status: 204,
                        body: String::new(),
                        replayed: false,
                    }
                })
                .await;
                database.close().await;
                done?;
                println!("{id} revoked");
                Ok(())
            }
        }
    })
}
