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
    (
        20,
        "tills",
        include_str!("../migrations/sqlite/0020_tills.sql"),
    ),
    (
        21,
        "console",
        include_str!("../migrations/sqlite/0021_console.sql"),
    ),
    (
        22,
        "transfer_lists",
        include_str!("../migrations/sqlite/0022_transfer_lists.sql"),
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
    (
        20,
        "tills",
        include_str!("../migrations/postgres/0020_tills.sql"),
    ),
    (
        21,
        "console",
        include_str!("../migrations/postgres/0021_console.sql"),
    ),
    (
        22,
        "transfer_lists",
        include_str!("../migrations/postgres/0022_transfer_lists.sql"),
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
                if conn.backend() == Backend::Sqlite {
                    sqlite_step_after(conn, *version).await?;
                }
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

/// What SQLite cannot say in a migration file, done by the runner right after that version's
/// file, in the same transaction.
async fn sqlite_step_after(conn: &mut Conn, version: i64) -> Result<(), Error> {
    match version {
        20 => {
            drop_check_clause(
                conn,
                "stock_levels",
                "held >= 0 AND held <= on_hand AND safety >= 0",
                "held >= 0 AND safety >= 0",
            )
            .await
        }
        _ => Ok(()),
    }
}

/// Replaces a table's CHECK clause `from` with `to`. SQLite cannot alter a CHECK, and a table
/// that is a foreign-key parent cannot be rebuilt inside a transaction (that needs foreign keys
/// off), so this takes SQLite's documented path for loosening a constraint: rewrite the table's
/// definition in `sqlite_schema` and bump the schema version. Only ever loosen: rows already
/// there satisfy the looser clause.
async fn drop_check_clause(
    conn: &mut Conn,
    table: &str,
    from: &str,
    to: &str,
) -> Result<(), Error> {
    let version = conn
        .query_one("PRAGMA schema_version", &[])
        .await?
        .int("schema_version")?;
    conn.batch(&format!(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = replace(sql, '{from}', '{to}') WHERE type = 'table' AND name = '{table}';
         PRAGMA schema_version = {};
         PRAGMA writable_schema = OFF;",
        version + 1
    ))
    .await?;
    let now = conn
        .query_one(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = $1",
            params![table],
        )
        .await?
        .text("sql")?;
    if now.contains(from) {
        return Err(Error::internal(format!(
            "{table} kept `{from}`: its definition is not the one its migration wrote"
        )));
    }
    Ok(())
}
