//! Schema migrations: one folder per backend, same version numbers, applied in order.
//!
//! Each applied migration is recorded with a checksum; a migration edited after it was
//! applied stops the start-up rather than leaving two databases with different schemas.
//! On PostgreSQL a transaction-scoped advisory lock lets several nodes start at once.

use kernel::{Error, Timestamp};
use sha2::{Digest, Sha256};

use crate::params;
use crate::sql::{Backend, Conn};

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "inventory",
        include_str!("../migrations/sqlite/0002_inventory.sql"),
    ),
    (
        3,
        "pickup_lead_time",
        include_str!("../migrations/sqlite/0003_pickup_lead_time.sql"),
    ),
    (
        4,
        "transfers",
        include_str!("../migrations/sqlite/0004_transfers.sql"),
    ),
    (
        5,
        "channel_sourcing",
        include_str!("../migrations/sqlite/0005_channel_sourcing.sql"),
    ),
    (
        6,
        "outbox_feed",
        include_str!("../migrations/sqlite/0006_outbox_feed.sql"),
    ),
    (
        7,
        "customers",
        include_str!("../migrations/sqlite/0007_customers.sql"),
    ),
    (
        8,
        "orders",
        include_str!("../migrations/sqlite/0008_orders.sql"),
    ),
    (
        9,
        "event_keys",
        include_str!("../migrations/sqlite/0009_event_keys.sql"),
    ),
    (
        10,
        "event_quarantine",
        include_str!("../migrations/sqlite/0010_event_quarantine.sql"),
    ),
    (
        11,
        "hold_owners",
        include_str!("../migrations/sqlite/0011_hold_owners.sql"),
    ),
    (
        12,
        "promotions",
        include_str!("../migrations/sqlite/0012_promotions.sql"),
    ),
    (
        13,
        "coupons",
        include_str!("../migrations/sqlite/0013_coupons.sql"),
    ),
    (14, "tax", include_str!("../migrations/sqlite/0014_tax.sql")),
    (
        15,
        "delivery",
        include_str!("../migrations/sqlite/0015_delivery.sql"),
    ),
    (
        16,
        "webhooks",
        include_str!("../migrations/sqlite/0016_webhooks.sql"),
    ),
    (
        17,
        "notifications",
        include_str!("../migrations/sqlite/0017_notifications.sql"),
    ),
    (
        18,
        "loyalty",
        include_str!("../migrations/sqlite/0018_loyalty.sql"),
    ),
    (
        19,
        "stored_value",
        include_str!("../migrations/sqlite/0019_stored_value.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "inventory",
        include_str!("../migrations/postgres/0002_inventory.sql"),
    ),
    (
        3,
        "pickup_lead_time",
        include_str!("../migrations/postgres/0003_pickup_lead_time.sql"),
    ),
    (
        4,
        "transfers",
        include_str!("../migrations/postgres/0004_transfers.sql"),
    ),
    (
        5,
        "channel_sourcing",
        include_str!("../migrations/postgres/0005_channel_sourcing.sql"),
    ),
    (
        6,
        "outbox_feed",
        include_str!("../migrations/postgres/0006_outbox_feed.sql"),
    ),
    (
        7,
        "customers",
        include_str!("../migrations/postgres/0007_customers.sql"),
    ),
    (
        8,
        "orders",
        include_str!("../migrations/postgres/0008_orders.sql"),
    ),
    (
        9,
        "event_keys",
        include_str!("../migrations/postgres/0009_event_keys.sql"),
    ),
    (
        10,
        "event_quarantine",
        include_str!("../migrations/postgres/0010_event_quarantine.sql"),
    ),
    (
        11,
        "hold_owners",
        include_str!("../migrations/postgres/0011_hold_owners.sql"),
    ),
    (
        12,
        "promotions",
        include_str!("../migrations/postgres/0012_promotions.sql"),
    ),
    (
        13,
        "coupons",
        include_str!("../migrations/postgres/0013_coupons.sql"),
    ),
    (
        14,
        "tax",
        include_str!("../migrations/postgres/0014_tax.sql"),
    ),
    (
        15,
        "delivery",
        include_str!("../migrations/postgres/0015_delivery.sql"),
    ),
    (
        16,
        "webhooks",
        include_str!("../migrations/postgres/0016_webhooks.sql"),
    ),
    (
        17,
        "notifications",
        include_str!("../migrations/postgres/0017_notifications.sql"),
    ),
    (
        18,
        "loyalty",
        include_str!("../migrations/postgres/0018_loyalty.sql"),
    ),
    (
        19,
        "stored_value",
        include_str!("../migrations/postgres/0019_stored_value.sql"),
    ),
];

/// An arbitrary constant shared by every Relais node: the migration lock.
const MIGRATION_LOCK: i64 = 0x5245_4c41_4953;

fn checksum(sql: &str) -> String {
    kernel::hex::encode(&Sha256::digest(sql.as_bytes()))
}

/// Applies what is missing; returns the versions applied now.
pub(crate) async fn apply(conn: &mut Conn) -> Result<Vec<i64>, Error> {
    let migrations = match conn.backend() {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => {
            conn.execute("SELECT pg_advisory_xact_lock($1)", params![MIGRATION_LOCK])
                .await?;
            POSTGRES
        }
    };
    conn.batch(
        "CREATE TABLE IF NOT EXISTS relais_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    let rows = conn
        .query(
            "SELECT version, checksum FROM relais_migrations ORDER BY version",
            &[],
        )
        .await?;
    let mut applied_now = Vec::new();
    for (version, name, sql) in migrations {
        let sum = checksum(sql);
        match rows
            .iter()
            .find(|r| r.int("version").ok() == Some(*version))
        {
            Some(row) if row.text("checksum")? != sum => {
                return Err(Error::internal(format!(
                    "migration {version} ({name}) changed after it was applied; never edit a merged migration"
                )));
            }
            Some(_) => continue,
            None => {
                conn.batch(sql).await?;
                conn.execute(
                    "INSERT INTO relais_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                    params![*version, *name, sum, Timestamp::now().to_text()],
                )
                .await?;
                tracing::info!(version, name, "migration applied");
                applied_now.push(*version);
            }
        }
    }
    Ok(applied_now)
}
