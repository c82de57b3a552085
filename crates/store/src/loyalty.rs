//! The loyalty programme and points ledger in SQL.
//!
//! A member's balance lives on their row and moves only by a conditional write
//! (`… WHERE balance + $d >= 0`), in the same command as the ledger entry that explains it,
//! so two kiosks spending the last points — two nodes on PostgreSQL — cannot both succeed.
//! An entry is unique per (kind, source): posting the same earning twice (an order retried,
//! a till's batch replayed) writes it once.

use kernel::{Error, Timestamp};
use loyalty::{EntryKind, Programme};
use outbox::Event;
use outbox::payloads::{LoyaltyEnrolled, PointsMoved, TierChanged};
use serde::Serialize;

use crate::sql::{Conn, Row, corrupt};
use crate::{events, params, rows};

/// A profile enrolled in the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub customer_id: String,
    pub tier: String,
    pub balance: i64,
    /// `active`, `merged` (its points went to the survivor) or `erased`.
    pub status: String,
    pub channel: Option<String>,
    /// When the next points are due to expire.
    pub next_expiry_at: Option<Timestamp>,
    pub enrolled_at: Timestamp,
}

impl Member {
    /// Whether it still earns and spends (not merged away nor erased).
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

/// One movement of points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub id: String,
    pub customer_id: String,
    #[serde(serialize_with = "kind_text")]
    pub kind: EntryKind,
    pub points: i64,
    pub balance_after: i64,
    /// What it is for; unique per kind (e.g. `order:ord_…`).
    pub source: String,
    pub order_id: Option<String>,
    pub channel: Option<String>,
    pub location: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub at: Timestamp,
    pub actor: String,
}

fn kind_text<S: serde::Serializer>(kind: &EntryKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// An entry to post.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub customer_id: String,
    pub kind: EntryKind,
    pub points: i64,
    pub source: String,
    pub order_id: Option<String>,
    pub channel: Option<String>,
    pub location: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub at: Timestamp,
}

const MEMBER: &str = "customer_id, tier, balance, status, channel, next_expiry_at, enrolled_at";

fn member_from_row(r: &Row) -> Result<Member, Error> {
    Ok(Member {
        customer_id: r.text("customer_id")?,
        tier: r.text("tier")?,
        balance: r.int("balance")?,
        status: r.text("status")?,
        channel: r.opt_text("channel")?,
        next_expiry_at: rows::opt_timestamp(r, "next_expiry_at")?,
        enrolled_at: rows::timestamp(r, "enrolled_at")?,
    })
}

fn entry_from_row(r: &Row) -> Result<Entry, Error> {
    let kind = r.text("kind")?;
    Ok(Entry {
        seq: r.int("seq")?,
        id: r.text("id")?,
        customer_id: r.text("customer_id")?,
        kind: EntryKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        points: r.int("points")?,
        balance_after: r.int("balance_after")?,
        source: r.text("source")?,
        order_id: r.opt_text("order_id")?,
        channel: r.opt_text("channel")?,
        location: r.opt_text("location")?,
        reason: r.opt_text("reason")?,
        expires_at: rows::opt_timestamp(r, "expires_at")?,
        at: rows::timestamp(r, "at")?,
        actor: r.text("actor")?,
    })
}

/// The programme in force (the default one until an administrator sets it).
pub async fn programme(conn: &mut Conn) -> Result<Programme, Error> {
    match conn
        .query_opt("SELECT document FROM loyalty_programme WHERE id = 1", &[])
        .await?
    {
        Some(row) => rows::json(&row, "document"),
        None => Ok(Programme::default()),
    }
}

pub async fn save_programme(conn: &mut Conn, p: &Programme, now: Timestamp) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO loyalty_programme (id, document, updated_at, version) VALUES (1, $1, $2, 1)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at,
                                        version = loyalty_programme.version + 1",
        params![rows::to_json(p), now.to_text()],
    )
    .await?;
    Ok(())
}

pub async fn member(conn: &mut Conn, customer_id: &str) -> Result<Option<Member>, Error> {
    conn.query_opt(
        &format!("SELECT {MEMBER} FROM loyalty_members WHERE customer_id = $1"),
        params![customer_id],
    )
    .await?
    .as_ref()
    .map(member_from_row)
    .transpose()
}

/// Active members with points, the richest first, at most `limit` (for demos and
/// back-office lists).
pub async fn richest(conn: &mut Conn, limit: i64) -> Result<Vec<Member>, Error> {
    let sql = format!(
        "SELECT {MEMBER} FROM loyalty_members WHERE status = 'active' AND balance > 0
         ORDER BY balance DESC, customer_id LIMIT $1"
    );
    conn.query(&sql, params![limit])
        .await?
        .iter()
        .map(member_from_row)
        .collect()
}

/// Enrols a profile (answers the membership it already has).
pub async fn enrol(
    conn: &mut Conn,
    customer_id: &str,
    tier: &str,
    channel: Option<&str>,
    actor: &str,
    now: Timestamp,
) -> Result<Member, Error> {
    let added = conn
        .execute(
            "INSERT INTO loyalty_members (customer_id, tier, balance, status, channel, next_expiry_at, enrolled_at, updated_at, version)
             VALUES ($1, $2, 0, 'active', $3, NULL, $4, $4, 1) ON CONFLICT (customer_id) DO NOTHING",
            params![customer_id, tier, channel, now.to_text()],
        )
        .await?;
    if added == 1 {
        let enrolled = LoyaltyEnrolled {
            customer_id: customer_id.to_owned(),
            tier: tier.to_owned(),
            channel: channel.map(str::to_owned),
        };
        events::emit(conn, Event::LoyaltyEnrolled(&enrolled), customer_id, actor).await?;
    }
    member(conn, customer_id)
        .await?
        .ok_or_else(|| Error::internal("a member enrolled now is missing"))
}

/// Whether an entry of `kind` for `source` was posted already.
pub async fn posted(conn: &mut Conn, kind: EntryKind, source: &str) -> Result<bool, Error> {
    Ok(conn
        .query_opt(
            "SELECT 1 AS one FROM loyalty_entries WHERE kind = $1 AND source = $2",
            params![kind.as_str(), source],
        )
        .await?
        .is_some())
}

/// Posts an entry and moves the balance with it; `None` when one of that kind and source was
/// posted before (nothing changes). A debit the balance cannot cover is refused (`conflict`).
pub async fn post(conn: &mut Conn, e: &NewEntry, actor: &str) -> Result<Option<Entry>, Error> {
    e.kind.check(e.points)?;
    if posted(conn, e.kind, &e.source).await? {
        return Ok(None);
    }
    post_unposted(conn, e, actor).await.map(Some)
}

/// [`post`] for an entry its caller knows is not posted: it read, in this same command,
/// every entry of the entry's order ([`of_order`]) and none has its kind and source.
pub async fn post_unposted(conn: &mut Conn, e: &NewEntry, actor: &str) -> Result<Entry, Error> {
    e.kind.check(e.points)?;
    let row = conn
        .query_opt(
            "UPDATE loyalty_members SET balance = balance + $2, updated_at = $3, version = version + 1,
                    next_expiry_at = CASE WHEN $4 IS NULL THEN next_expiry_at
                                          WHEN next_expiry_at IS NULL OR next_expiry_at > $4 THEN $4
                                          ELSE next_expiry_at END
             WHERE customer_id = $1 AND status = 'active' AND balance + $2 >= 0 RETURNING balance",
            params![&e.customer_id, e.points, e.at.to_text(), e.expires_at.map(|t| t.to_text())],
        )
        .await?;
    let Some(row) = row else {
        let m = member(conn, &e.customer_id).await?;
        return Err(match m {
            Some(m) if m.is_active() => loyalty::ledger::short(m.balance, -e.points),
            _ => Error::not_found("loyalty member", &e.customer_id),
        });
    };
    let entry = Entry {
        seq: 0,
        id: kernel::id::new_id("lpt"),
        customer_id: e.customer_id.clone(),
        kind: e.kind,
        points: e.points,
        balance_after: row.int("balance")?,
        source: e.source.clone(),
        order_id: e.order_id.clone(),
        channel: e.channel.clone(),
        location: e.location.clone(),
        reason: e.reason.clone(),
        expires_at: e.expires_at,
        at: e.at,
        actor: actor.to_owned(),
    };
    insert_entry(conn, entry, actor).await
}

async fn insert_entry(conn: &mut Conn, mut entry: Entry, actor: &str) -> Result<Entry, Error> {
    entry.seq = conn
        .query_one(
            "INSERT INTO loyalty_entries (id, customer_id, kind, points, balance_after, source, order_id, channel,
                                          location, reason, expires_at, at, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq",
            params![
                &entry.id, &entry.customer_id, entry.kind.as_str(), entry.points, entry.balance_after,
                &entry.source, &entry.order_id, &entry.channel, &entry.location, &entry.reason,
                entry.expires_at.map(|t| t.to_text()), entry.at.to_text(), actor
            ],
        )
        .await?
        .int("seq")?;
    let moved = PointsMoved {
        customer_id: entry.customer_id.clone(),
        entry_id: entry.id.clone(),
        points: entry.points,
        balance: entry.balance_after,
        order_id: entry.order_id.clone(),
        channel: entry.channel.clone(),
        location: entry.location.clone(),
    };
    let event = match entry.kind {
        EntryKind::Earn => Event::PointsEarned(&moved),
        EntryKind::Spend => Event::PointsSpent(&moved),
        EntryKind::Release => Event::PointsReleased(&moved),
        EntryKind::Clawback => Event::PointsClawedBack(&moved),
        EntryKind::Expire => Event::PointsExpired(&moved),
        EntryKind::Adjust => Event::PointsAdjusted(&moved),
    };
    events::emit(conn, event, &entry.customer_id, actor).await?;
    Ok(entry)
}

/// A member's entries, newest first, before `before_seq` if given.
pub async fn entries(
    conn: &mut Conn,
    customer_id: &str,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, Error> {
    conn.query(
        "SELECT * FROM loyalty_entries WHERE customer_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        params![customer_id, before_seq.unwrap_or(i64::MAX), limit],
    )
    .await?
    .iter()
    .map(entry_from_row)
    .collect()
}

/// The entries about one order (earned, spent, released, clawed back), oldest first.
pub async fn of_order(conn: &mut Conn, order_id: &str) -> Result<Vec<Entry>, Error> {
    conn.query(
        "SELECT * FROM loyalty_entries WHERE order_id = $1 ORDER BY seq",
        params![order_id],
    )
    .await?
    .iter()
    .map(entry_from_row)
    .collect()
}

/// Points earned (less those clawed back, with corrections and bonuses) since `since`: what
/// decides the tier.
pub async fn earned_since(
    conn: &mut Conn,
    customer_id: &str,
    since: Timestamp,
) -> Result<i64, Error> {
    conn.query_one(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS points FROM loyalty_entries
         WHERE customer_id = $1 AND kind IN ('earn', 'clawback', 'adjust') AND at >= $2",
        params![customer_id, since.to_text()],
    )
    .await?
    .int("points")
}

/// Moves a member to `tier` when it is not theirs already, with `relais.loyalty.tier_changed`;
/// `from` is their tier when the caller read it in this same command (else it is read).
pub async fn set_tier(
    conn: &mut Conn,
    customer_id: &str,
    (from, tier): (Option<&str>, &str),
    period_points: i64,
    actor: &str,
) -> Result<(), Error> {
    let from = match from {
        Some(known) => known.to_owned(),
        None => match member(conn, customer_id).await? {
            Some(m) => m.tier,
            None => return Ok(()),
        },
    };
    if from == tier {
        return Ok(());
    }
    conn.execute(
        "UPDATE loyalty_members SET tier = $2, version = version + 1 WHERE customer_id = $1",
        params![customer_id, tier],
    )
    .await?;
    let changed = TierChanged {
        customer_id: customer_id.to_owned(),
        from_tier: from,
        to_tier: tier.to_owned(),
        period_points,
    };
    events::emit(conn, Event::TierChanged(&changed), customer_id, actor).await
}

/// Members whose next points are due to expire by `now`.
pub async fn due_to_expire(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<String>, Error> {
    conn.query(
        "SELECT customer_id FROM loyalty_members WHERE next_expiry_at <= $1 AND status = 'active'
         ORDER BY next_expiry_at LIMIT $2",
        params![now.to_text(), limit],
    )
    .await?
    .iter()
    .map(|r| r.text("customer_id"))
    .collect()
}

/// A member's credits with their expiry, and everything debited since (net of releases):
/// what [`loyalty::expiring`] needs.
pub async fn lots_and_debits(
    conn: &mut Conn,
    customer_id: &str,
) -> Result<(Vec<(Option<Timestamp>, i64)>, i64), Error> {
    let rows = conn
        .query(
            "SELECT kind, points, expires_at FROM loyalty_entries WHERE customer_id = $1 ORDER BY seq",
            params![customer_id],
        )
        .await?;
    let (mut lots, mut debited) = (Vec::new(), 0);
    for r in &rows {
        let points = r.int("points")?;
        match r.text("kind")?.as_str() {
            "release" => debited -= points,
            _ if points > 0 => lots.push((rows::opt_timestamp(r, "expires_at")?, points)),
            _ => debited -= points,
        }
    }
    Ok((lots, debited))
}

/// Sets when the member's next points expire (after an expiry ran).
pub async fn set_next_expiry(
    conn: &mut Conn,
    customer_id: &str,
    next: Option<Timestamp>,
) -> Result<(), Error> {
    conn.execute(
        "UPDATE loyalty_members SET next_expiry_at = $2 WHERE customer_id = $1",
        params![customer_id, next.map(|t| t.to_text())],
    )
    .await?;
    Ok(())
}

/// Moves an absorbed profile's membership to its survivor: the entries follow, the balance
/// adds up (or the membership itself moves when the survivor had none).
pub(crate) async fn merge(conn: &mut Conn, absorbed: &str, survivor: &str) -> Result<(), Error> {
    let Some(gone) = member(conn, absorbed).await? else {
        return Ok(());
    };
    conn.execute(
        "UPDATE loyalty_entries SET customer_id = $2 WHERE customer_id = $1",
        params![absorbed, survivor],
    )
    .await?;
    if member(conn, survivor).await?.is_none() {
        conn.execute(
            "UPDATE loyalty_members SET customer_id = $2 WHERE customer_id = $1",
            params![absorbed, survivor],
        )
        .await?;
        return Ok(());
    }
    conn.execute(
        "UPDATE loyalty_members SET balance = balance + $2, version = version + 1,
                next_expiry_at = CASE WHEN next_expiry_at IS NULL OR next_expiry_at > $3 THEN $3 ELSE next_expiry_at END
         WHERE customer_id = $1",
        params![survivor, gone.balance, gone.next_expiry_at.map(|t| t.to_text())],
    )
    .await?;
    conn.execute(
        "UPDATE loyalty_members SET balance = 0, status = 'merged', next_expiry_at = NULL WHERE customer_id = $1",
        params![absorbed],
    )
    .await?;
    Ok(())
}

/// Erasure: the ledger stays (ids and figures) so the accounts still add up; reasons typed by
/// people are blanked and the membership ends.
pub(crate) async fn erase(conn: &mut Conn, customer_id: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE loyalty_entries SET reason = NULL WHERE customer_id = $1 AND kind = 'adjust'",
        params![customer_id],
    )
    .await?;
    conn.execute(
        "UPDATE loyalty_members SET status = 'erased', next_expiry_at = NULL WHERE customer_id = $1",
        params![customer_id],
    )
    .await?;
    Ok(())
}
