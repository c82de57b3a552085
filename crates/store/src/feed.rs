//! Reading the outbox in commit order, for the live feeds (SSE, NATS JetStream).
//!
//! A reader keeps a [`Position`] and asks for what committed after it. On SQLite one writer
//! commits in sequence order, so the position is the sequence number. On PostgreSQL numbers
//! are drawn at insert, not at commit: a transaction holding number 10 may commit after the
//! one holding 11. Each outbox row therefore records its transaction id, a reader goes in
//! (txid, seq) order, and it only reads transactions older than every transaction still
//! running (below the snapshot's `xmin`) — those can gain no more rows — so it never steps
//! past a row that commits later. The price is that a long transaction delays the feed —
//! any transaction with a transaction id on the PostgreSQL cluster, even in another database,
//! since `xmin` is cluster-wide. Relais keeps its own transactions short (group-commit
//! batches, chunked imports and demo seeding); a cluster shared with long-running jobs delays
//! live availability by as long as they run.

use kernel::{Error, ErrorCode, Timestamp};

use crate::sql::{Backend, Conn, Row};
use crate::{Db, params};

/// A place in the outbox's commit order. Positions compare in that order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The writing transaction's id (PostgreSQL); 0 on SQLite.
    pub txid: i64,
    pub seq: i64,
}

fn position_from_row(row: &Row) -> Result<Position, Error> {
    Ok(Position {
        txid: row.int("txid")?,
        seq: row.int("seq")?,
    })
}

/// The reader name under which the NATS publisher saves its cursor (the publisher and the
/// backlog gauge read it).
pub const NATS_CURSOR: &str = "nats";

/// An outbox row as a feed reads it.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub position: Position,
    /// The event type, e.g. `relais.hold.created`.
    pub kind: String,
    /// The CloudEvent, as stored (JSON).
    pub envelope: String,
}

/// Where a reader that wants only what happens from now on starts. On PostgreSQL it is the
/// oldest running transaction, so a few events that committed just before may come too.
pub async fn head(db: &Db) -> Result<Position, Error> {
    let mut conn = db.read().await?;
    match conn.backend() {
        Backend::Sqlite => {
            let row = conn
                .query_one("SELECT COALESCE(MAX(seq), 0) AS seq FROM outbox", &[])
                .await?;
            Ok(Position {
                txid: 0,
                seq: row.int("seq")?,
            })
        }
        Backend::Postgres => {
            let row = conn
                .query_one(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS txid",
                    &[],
                )
                .await?;
            Ok(Position {
                txid: row.int("txid")?,
                seq: 0,
            })
        }
    }
}

/// The position of the event with sequence number `seq`, to resume after it.
pub async fn position_of(db: &Db, seq: i64) -> Result<Option<Position>, Error> {
    let mut conn = db.read().await?;
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT 0 AS txid, seq FROM outbox WHERE seq = $1",
        Backend::Postgres => "SELECT txid::text::bigint AS txid, seq FROM outbox WHERE seq = $1",
    };
    conn.query_opt(sql, params![seq])
        .await?
        .as_ref()
        .map(position_from_row)
        .transpose()
}

/// Up to `limit` events committed after `after`, in commit order.
pub async fn read_after(db: &Db, after: Position, limit: i64) -> Result<Vec<FeedRow>, Error> {
    read_after_on(&mut db.read().await?, after, limit).await
}

async fn read_after_on(
    conn: &mut Conn,
    after: Position,
    limit: i64,
) -> Result<Vec<FeedRow>, Error> {
    let rows = match conn.backend() {
        Backend::Sqlite => {
            conn.query(
                "SELECT 0 AS txid, seq, type, envelope FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
                params![after.seq, limit],
            )
            .await?
        }
        Backend::Postgres => {
            conn.query(
                "SELECT txid::text::bigint AS txid, seq, type, envelope FROM outbox
                 WHERE (txid, seq) > ($1::text::xid8, $2)
                   AND txid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY txid, seq LIMIT $3",
                params![after.txid, after.seq, limit],
            )
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(FeedRow {
                position: position_from_row(row)?,
                kind: row.text("type")?,
                envelope: row.text("envelope")?,
            })
        })
        .collect()
}

/// Where the reader `name` has got to, if it has started.
pub async fn cursor(db: &Db, name: &str) -> Result<Option<Position>, Error> {
    db.read()
        .await?
        .query_opt(
            "SELECT txid, seq FROM outbox_cursors WHERE name = $1",
            params![name],
        )
        .await?
        .as_ref()
        .map(position_from_row)
        .transpose()
}

/// Records that the reader `name` has handled everything up to `at`.
pub async fn save_cursor(db: &Db, name: &str, at: Position) -> Result<(), Error> {
    let name = name.to_owned();
    db.write(move |c| {
        Box::pin(async move {
            c.execute(
                "INSERT INTO outbox_cursors (name, txid, seq, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET txid = excluded.txid, seq = excluded.seq, updated_at = excluded.updated_at",
                params![name, at.txid, at.seq, Timestamp::now().to_text()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// Moves reader `name` from `from` (where it was read; `None` when it had not started) to
/// `to` inside a command, or refuses with `conflict` when another node moved it meanwhile:
/// what the command did for those events is then rolled back with it, done once elsewhere.
pub async fn move_cursor(
    conn: &mut Conn,
    name: &str,
    (from, to): (Option<Position>, Position),
    now: Timestamp,
) -> Result<(), Error> {
    let moved = match from {
        Some(at) => {
            conn.execute(
                "UPDATE outbox_cursors SET txid = $2, seq = $3, updated_at = $4
                 WHERE name = $1 AND txid = $5 AND seq = $6",
                params![name, to.txid, to.seq, now.to_text(), at.txid, at.seq],
            )
            .await?
        }
        None => {
            conn.execute(
                "INSERT INTO outbox_cursors (name, txid, seq, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                params![name, to.txid, to.seq, now.to_text()],
            )
            .await?
        }
    };
    if moved != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("another node moved reader `{name}` meanwhile"),
        ));
    }
    Ok(())
}

/// The readers that must have read an event before it may be purged.
pub const OUTBOX_READERS: &[&str] = &[
    NATS_CURSOR,
    crate::webhooks::CURSOR,
    crate::notifications::CURSOR,
];

/// Deletes up to `limit` outbox events older than `before` that every reader in
/// [`OUTBOX_READERS`] which has started has read, and that no webhook delivery still waits
/// for; the delivery log of the purged events goes with them. Answers how many went.
pub async fn purge(conn: &mut Conn, before: Timestamp, limit: i64) -> Result<u64, Error> {
    let names: Vec<crate::Value> = OUTBOX_READERS.iter().map(|n| (*n).into()).collect();
    let sql = format!(
        "SELECT txid, seq FROM outbox_cursors WHERE name IN ({})",
        crate::sql::placeholders(1, names.len())
    );
    let read = conn.query(&sql, &names).await?;
    let oldest = read
        .iter()
        .map(position_from_row)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min()
        .unwrap_or(Position {
            txid: i64::MAX,
            seq: i64::MAX,
        });
    let waiting = conn
        .query_one(
            "SELECT MIN(seq) AS seq FROM webhook_deliveries WHERE status = 'pending'",
            &[],
        )
        .await?
        .opt_int("seq")?
        .unwrap_or(i64::MAX);
    let bound = match conn.backend() {
        Backend::Sqlite => "seq <= $2",
        Backend::Postgres => "(txid < $5::text::xid8 OR (txid = $5::text::xid8 AND seq <= $2))",
    };
    let victims = format!(
        "SELECT seq FROM outbox WHERE time < $1 AND {bound} AND seq < $3 ORDER BY seq LIMIT $4"
    );
    let at = before.to_text();
    let values = params![&at, oldest.seq, waiting, limit, oldest.txid];
    let values = match conn.backend() {
        Backend::Sqlite => &values[..4],
        Backend::Postgres => values,
    };
    conn.execute(
        &format!("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND seq IN ({victims})"),
        values,
    )
    .await?;
    conn.execute(
        &format!("DELETE FROM outbox WHERE seq IN ({victims})"),
        values,
    )
    .await
}
