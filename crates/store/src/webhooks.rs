//! Webhooks in SQL: subscriptions, and one delivery row per subscription and event.
//!
//! Deliveries are queued by one reader of the outbox (cursor [`CURSOR`]): the rows and the
//! cursor move in one command, and the cursor only moves from where that reader found it,
//! so two nodes queueing at once queue each event once. A node claims due deliveries by
//! setting a short lease with a conditional `UPDATE … RETURNING`: a row leased by another
//! node is not claimed again until its lease ends. A delivery waits while an earlier one of
//! its subscription and subject is still pending, so each subject is delivered in order.

use kernel::{Error, Timestamp};
use outbox::Event;
use outbox::webhooks::SubscriptionStatus;
use serde::Serialize;

use crate::feed::Position;
use crate::sql::{Conn, Row};
use crate::{events, params, rows};

/// The outbox reader that queues deliveries.
pub const CURSOR: &str = "webhooks";

/// A subscription, secrets included (never shown after creation or rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// Event types or `relais.<entity>.*`; empty: every type.
    pub event_types: Vec<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
    pub status: SubscriptionStatus,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, url, description, event_types, secret, previous_secret, previous_until, status, disabled_reason, created_at, updated_at";

fn from_row(r: &Row) -> Result<Subscription, Error> {
    Ok(Subscription {
        id: r.text("id")?,
        url: r.text("url")?,
        description: r.opt_text("description")?,
        event_types: rows::json(r, "event_types")?,
        secret: r.text("secret")?,
        previous_secret: r.opt_text("previous_secret")?,
        previous_until: rows::opt_timestamp(r, "previous_until")?,
        status: rows::parsed(r, "status", SubscriptionStatus::parse)?,
        disabled_reason: r.opt_text("disabled_reason")?,
        created_at: rows::timestamp(r, "created_at")?,
        updated_at: rows::timestamp(r, "updated_at")?,
    })
}

pub async fn create(conn: &mut Conn, s: &Subscription) -> Result<(), Error> {
    conn.execute(
        &format!("INSERT INTO webhook_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        params![&s.id, &s.url, &s.description, rows::to_json(&s.event_types), &s.secret,
                &s.previous_secret, s.previous_until.map(|t| t.to_text()), s.status.as_str(),
                &s.disabled_reason, s.created_at.to_text(), s.updated_at.to_text()],
    )
    .await
    .map(|_| ())
}

/// Writes a subscription's changeable fields back.
pub async fn save(conn: &mut Conn, s: &Subscription) -> Result<(), Error> {
    conn.execute(
        "UPDATE webhook_subscriptions SET url = $2, description = $3, event_types = $4, secret = $5,
            previous_secret = $6, previous_until = $7, status = $8, disabled_reason = $9, updated_at = $10
         WHERE id = $1",
        params![&s.id, &s.url, &s.description, rows::to_json(&s.event_types), &s.secret,
                &s.previous_secret, s.previous_until.map(|t| t.to_text()), s.status.as_str(),
                &s.disabled_reason, s.updated_at.to_text()],
    )
    .await
    .map(|_| ())
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Subscription>, Error> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1"),
        params![id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Subscription, Error> {
    find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook", id))
}

/// Every subscription, oldest first (a handful).
pub async fn all(conn: &mut Conn) -> Result<Vec<Subscription>, Error> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id"),
        &[],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// One delivery to queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub subscription_id: String,
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
}

/// Queues `deliveries` and moves the queueing cursor from `from` (where it was read; `None`
/// when it had not started) to `to`, or refuses (another node queued them meanwhile).
pub async fn enqueue(
    conn: &mut Conn,
    deliveries: &[Queued],
    (from, to): (Option<Position>, Position),
    now: Timestamp,
) -> Result<(), Error> {
    crate::feed::move_cursor(conn, CURSOR, (from, to), now).await?;
    // One statement per 100 deliveries: a batch of events times every subscription.
    let at = now.to_text();
    for chunk in deliveries.chunks(100) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 6 * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, 'pending', ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 6
                )
            })
            .collect();
        let mut values = Vec::with_capacity(6 * chunk.len());
        for d in chunk {
            values.extend_from_slice(params![
                &d.subscription_id,
                d.seq,
                &d.event_id,
                &d.event_type,
                &d.subject,
                &at
            ]);
        }
        let sql = format!(
            "INSERT INTO webhook_deliveries (subscription_id, seq, event_id, event_type, subject, status, next_attempt_at, created_at)
             VALUES {} ON CONFLICT (subscription_id, seq) DO NOTHING",
            rows.join(", ")
        );
        conn.execute(&sql, &values).await?;
    }
    Ok(())
}

/// A delivery claimed for sending, with the event as stored.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub subscription_id: String,
    pub seq: i64,
    pub event_id: String,
    pub subject: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The CloudEvent as stored (filled in by [`with_envelopes`]).
    pub envelope: String,
}

/// Claims up to `limit` due deliveries of subscription `id` (if active) until
/// `lease_until`, oldest first, none behind a pending earlier delivery of its subject that
/// is not due or is leased.
pub async fn claim(
    conn: &mut Conn,
    id: &str,
    (now, lease_until): (Timestamp, Timestamp),
    limit: i64,
) -> Result<Vec<Claimed>, Error> {
    // SQLite's planner, without statistics, would rather walk every pending delivery of every
    // subscription (the `status, next_attempt_at` index) twice: to choose the claimed ones
    // (sorting them) and to find them again to update — 55 ms and more of the writer behind
    // a backlog of 200 000, against 1 ms through this subscription's pending ones and the key.
    let (by_key, pending) = match conn.backend() {
        crate::Backend::Sqlite => (
            "INDEXED BY sqlite_autoindex_webhook_deliveries_1",
            "INDEXED BY webhook_deliveries_pending",
        ),
        crate::Backend::Postgres => ("", ""),
    };
    let claimed = conn
        .query(
            // The few deliveries that hold their subject back — waiting for a retry, or out
            // with a node — are found first through their own indexes; the claim then walks
            // the pending ones in order, skipping those behind a holder. Cost follows what is
            // claimed and held, not the backlog (a receiver back after an outage, or a
            // dispatcher that gave way under load).
            &format!("WITH holders AS MATERIALIZED (
                 SELECT subject, seq FROM webhook_deliveries
                  WHERE status = 'pending' AND next_attempt_at > $1 AND subscription_id = $4
                 UNION ALL
                 SELECT subject, seq FROM webhook_deliveries
                  WHERE subscription_id = $4 AND status = 'pending' AND lease_until IS NOT NULL
                    AND lease_until >= $1)
             UPDATE webhook_deliveries {by_key} SET lease_until = $2
             WHERE (subscription_id, seq) IN (
                 SELECT d.subscription_id, d.seq FROM webhook_deliveries d {pending}
                 JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status = 'active'
                 WHERE d.subscription_id = $4 AND d.status = 'pending' AND d.next_attempt_at <= $1
                   AND (d.lease_until IS NULL OR d.lease_until < $1)
                   AND NOT EXISTS (SELECT 1 FROM holders h WHERE h.subject = d.subject AND h.seq < d.seq)
                 ORDER BY d.seq LIMIT $3)
               AND status = 'pending' AND (lease_until IS NULL OR lease_until < $1)
             RETURNING subscription_id, seq, event_id, subject, attempts"),
            params![now.to_text(), lease_until.to_text(), limit, id],
        )
        .await?;
    let mut out = Vec::with_capacity(claimed.len());
    for r in &claimed {
        out.push(Claimed {
            subscription_id: r.text("subscription_id")?,
            seq: r.int("seq")?,
            event_id: r.text("event_id")?,
            subject: r.text("subject")?,
            attempts: r.int("attempts")?,
            envelope: String::new(),
        });
    }
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

/// Fills in the events of claimed deliveries (read outside the writer, 500 at a time).
pub async fn with_envelopes(conn: &mut Conn, claimed: &mut [Claimed]) -> Result<(), Error> {
    for chunk in claimed.chunks_mut(500) {
        let seqs: Vec<crate::Value> = chunk.iter().map(|c| crate::Value::from(c.seq)).collect();
        let sql = format!(
            "SELECT seq, envelope FROM outbox WHERE seq IN ({})",
            crate::sql::placeholders(1, seqs.len())
        );
        let found: std::collections::HashMap<i64, String> = conn
            .query(&sql, &seqs)
            .await?
            .iter()
            .map(|r| Ok((r.int("seq")?, r.text("envelope")?)))
            .collect::<Result<_, Error>>()?;
        for c in chunk.iter_mut() {
            c.envelope = found.get(&c.seq).cloned().unwrap_or_default();
        }
    }
    Ok(())
}

/// How one claimed delivery ended.
#[derive(Debug, Clone)]
pub enum Finished {
    Delivered {
        status: u16,
    },
    Retry {
        at: Timestamp,
        status: Option<u16>,
        error: String,
    },
    /// Given up: the subscription is disabled for `reason`.
    Failed {
        status: Option<u16>,
        error: String,
        reason: String,
    },
    /// Not sent (an earlier delivery of its subject failed first): the lease is given back.
    Untried,
}

/// Records how claimed deliveries ended; a failed one disables its subscription, once, with
/// `relais.webhook.disabled`.
pub async fn finish(
    conn: &mut Conn,
    results: &[(String, i64, Finished)],
    now: Timestamp,
    actor: &str,
) -> Result<(), Error> {
    // The common case, delivered, in one statement per subscription, answer and 500 rows.
    let mut delivered: std::collections::BTreeMap<(&str, u16), Vec<i64>> = Default::default();
    for (sub, seq, how) in results {
        if let Finished::Delivered { status } = how {
            delivered
                .entry((sub.as_str(), *status))
                .or_default()
                .push(*seq);
        }
    }
    for ((sub, status), seqs) in delivered {
        for chunk in seqs.chunks(500) {
            let mut values = params![sub, now.to_text(), i64::from(status)].to_vec();
            values.extend(chunk.iter().map(|s| crate::Value::from(*s)));
            let sql = format!(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = $2,
                    last_status = $3, last_error = NULL, lease_until = NULL
                 WHERE subscription_id = $1 AND seq IN ({})",
                crate::sql::placeholders(4, chunk.len())
            );
            conn.execute(&sql, &values).await?;
        }
    }
    for (sub, seq, how) in results {
        match how {
            Finished::Delivered { .. } => 0,
            Finished::Retry { at: next, status, error } => conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $3, last_status = $4,
                    last_error = $5, lease_until = NULL WHERE subscription_id = $1 AND seq = $2",
                params![sub, *seq, next.to_text(), status.map(i64::from), error],
            ).await?,
            Finished::Failed { status, error, reason } => {
                conn.execute(
                    "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, last_status = $3,
                        last_error = $4, lease_until = NULL WHERE subscription_id = $1 AND seq = $2",
                    params![sub, *seq, status.map(i64::from), error],
                ).await?;
                disable(conn, sub, reason, now, actor).await?
            }
            Finished::Untried => conn.execute(
                "UPDATE webhook_deliveries SET lease_until = NULL WHERE subscription_id = $1 AND seq = $2",
                params![sub, *seq],
            ).await?,
        };
    }
    Ok(())
}

/// Disables an active subscription for `reason`, with `relais.webhook.disabled`; answers 1
/// when it was active.
async fn disable(
    conn: &mut Conn,
    id: &str,
    reason: &str,
    now: Timestamp,
    actor: &str,
) -> Result<u64, Error> {
    let changed = conn
        .execute(
            "UPDATE webhook_subscriptions SET status = 'disabled', disabled_reason = $2, updated_at = $3
             WHERE id = $1 AND status = 'active'",
            params![id, reason, now.to_text()],
        )
        .await?;
    if changed == 1 {
        let s = get(conn, id).await?;
        let payload = outbox::payloads::WebhookDisabled {
            subscription_id: s.id.clone(),
            url: s.url.clone(),
            reason: reason.to_owned(),
        };
        events::emit(conn, Event::WebhookDisabled(&payload), id, actor).await?;
    }
    Ok(changed)
}

/// One delivery as its log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// A subscription's deliveries, newest first, before sequence `before` (paging), perhaps
/// of one status.
pub async fn log(
    conn: &mut Conn,
    id: &str,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Delivery>, Error> {
    conn.query(
        "SELECT seq, event_id, event_type, subject, status, attempts, next_attempt_at, last_status,
                last_error, created_at, delivered_at
         FROM webhook_deliveries WHERE subscription_id = $1 AND ($2 = '' OR status = $2) AND seq < $3
         ORDER BY seq DESC LIMIT $4",
        params![id, status.unwrap_or_default(), before.unwrap_or(i64::MAX), limit],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Delivery {
            seq: r.int("seq")?,
            event_id: r.text("event_id")?,
            event_type: r.text("event_type")?,
            subject: r.text("subject")?,
            status: r.text("status")?,
            attempts: r.int("attempts")?,
            next_attempt_at: rows::timestamp(r, "next_attempt_at")?,
            last_status: r.opt_int("last_status")?,
            last_error: r.opt_text("last_error")?,
            created_at: rows::timestamp(r, "created_at")?,
            delivered_at: rows::opt_timestamp(r, "delivered_at")?,
        })
    })
    .collect()
}

/// Sends deliveries again from now: one (`seq`), or every one queued since `since`.
/// Answers how many will be sent.
pub async fn replay(
    conn: &mut Conn,
    id: &str,
    which: Result<i64, Timestamp>,
    now: Timestamp,
) -> Result<u64, Error> {
    let n = match which {
        Ok(seq) => conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, lease_until = NULL
             WHERE subscription_id = $1 AND seq = $2",
            params![id, seq, now.to_text()],
        ).await?,
        Err(since) => conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, lease_until = NULL
             WHERE subscription_id = $1 AND created_at >= $2",
            params![id, since.to_text(), now.to_text()],
        ).await?,
    };
    Ok(n)
}
