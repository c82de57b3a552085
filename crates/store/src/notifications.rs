//! Notifications in SQL: the rules' settings, one row per firing of a rule, the last firing
//! per person of a rule limited per person, and customers' back-in-stock requests.
//!
//! A firing is inserted once per deduplication key (`ON CONFLICT DO NOTHING`): an occasion
//! read twice, or by two nodes, fires once. A node claims due firings with a lease set by a
//! conditional `UPDATE … RETURNING`, so two nodes never send the same one; what it decided
//! (sent, skipped, cancelled, postponed, failed) is written back in one command.

use kernel::{Error, ErrorCode, Timestamp};
use notify::{RuleConfig, RuleKind};
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{params, rows};

/// The outbox reader that turns events into firings.
pub const CURSOR: &str = "notifications";
/// The reader of behavioural events (views, sign-ups); its position is an event `seq`.
pub const EVENTS_CURSOR: &str = "notifications:customer_events";

/// Every rule with its settings: the stored ones, the defaults for the others.
pub async fn rules(conn: &mut Conn) -> Result<Vec<(RuleKind, RuleConfig)>, Error> {
    let stored = conn
        .query("SELECT rule, config FROM notification_rules", params![])
        .await?;
    let mut out: Vec<(RuleKind, RuleConfig)> = RuleKind::ALL
        .into_iter()
        .map(|k| (k, k.default_config()))
        .collect();
    for r in &stored {
        let kind = rows::parsed(r, "rule", RuleKind::parse)?;
        let config: RuleConfig = rows::json(r, "config")?;
        if let Some(slot) = out.iter_mut().find(|(k, _)| *k == kind) {
            slot.1 = config;
        }
    }
    Ok(out)
}

/// Stores a rule's settings.
pub async fn save_rule(
    conn: &mut Conn,
    kind: RuleKind,
    config: &RuleConfig,
    now: Timestamp,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO notification_rules (rule, config, updated_at, version) VALUES ($1, $2, $3, 1)
         ON CONFLICT (rule) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at,
             version = notification_rules.version + 1",
        params![kind.as_str(), rows::to_json(config), now.to_text()],
    )
    .await?;
    Ok(())
}

/// A rule fired: what to send, to whom, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub dedup_key: String,
    pub rule: RuleKind,
    pub customer_id: String,
    /// The order, cart, return, request or product it is about.
    pub subject: String,
    /// The sales channel the occasion came from (consent is asked for it).
    pub channel: Option<String>,
    pub due_at: Timestamp,
    /// Why it fired, when that needs saying (the nearest-store offer).
    pub reason: Option<String>,
    /// The facts the message is written from (JSON object).
    pub context: serde_json::Value,
}

/// Inserts firings not seen before; answers how many were new.
pub async fn fire(conn: &mut Conn, firings: &[Firing], now: Timestamp) -> Result<u64, Error> {
    let mut inserted = 0;
    for f in firings {
        inserted += conn
            .execute(
                "INSERT INTO notifications (id, dedup_key, rule, customer_id, subject, channel, status,
                     due_at, reason, context, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $9, $10)
                 ON CONFLICT (dedup_key) DO NOTHING",
                params![
                    kernel::id::new_id("ntf"), &f.dedup_key, f.rule.as_str(), &f.customer_id,
                    &f.subject, &f.channel, f.due_at.to_text(), &f.reason,
                    rows::to_json(&f.context), now.to_text()
                ],
            )
            .await?;
    }
    Ok(inserted)
}

/// Takes the once-per-period right of `rule` for a person: true if their last firing is at
/// or before `cutoff` (or there is none), and then records `now` as their last. One
/// conditional statement, so two nodes cannot both take it.
pub async fn take_turn(
    conn: &mut Conn,
    (rule, customer_id): (RuleKind, &str),
    now: Timestamp,
    cutoff: Timestamp,
) -> Result<bool, Error> {
    let n = conn
        .execute(
            "INSERT INTO notification_throttle (rule, customer_id, last_at) VALUES ($1, $2, $3)
             ON CONFLICT (rule, customer_id) DO UPDATE SET last_at = excluded.last_at
             WHERE notification_throttle.last_at <= $4",
            params![rule.as_str(), customer_id, now.to_text(), cutoff.to_text()],
        )
        .await?;
    Ok(n == 1)
}

/// A firing claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: String,
    pub dedup_key: String,
    pub rule: RuleKind,
    pub customer_id: String,
    pub subject: String,
    pub channel: Option<String>,
    pub due_at: Timestamp,
    pub attempts: i64,
    pub context: serde_json::Value,
}

/// Claims up to `limit` firings due at `now` until `lease_until`, the oldest due first.
pub async fn claim(
    conn: &mut Conn,
    (now, lease_until): (Timestamp, Timestamp),
    limit: i64,
) -> Result<Vec<Claimed>, Error> {
    let claimed = conn
        .query(
            "UPDATE notifications SET lease_until = $2
             WHERE id IN (SELECT id FROM notifications
                          WHERE status = 'scheduled' AND due_at <= $1
                            AND (lease_until IS NULL OR lease_until < $1)
                          ORDER BY due_at LIMIT $3)
               AND status = 'scheduled' AND (lease_until IS NULL OR lease_until < $1)
             RETURNING id, dedup_key, rule, customer_id, subject, channel, due_at, attempts, context",
            params![now.to_text(), lease_until.to_text(), limit],
        )
        .await?;
    let mut out = claimed
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: r.text("id")?,
                dedup_key: r.text("dedup_key")?,
                rule: rows::parsed(r, "rule", RuleKind::parse)?,
                customer_id: r.text("customer_id")?,
                subject: r.text("subject")?,
                channel: r.opt_text("channel")?,
                due_at: rows::timestamp(r, "due_at")?,
                attempts: r.int("attempts")?,
                context: rows::json(r, "context")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    out.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    Ok(out)
}

/// How a claimed firing ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        medium: notify::Medium,
        recipient: String,
        language: notify::Language,
        title: String,
        /// What the provider answered (SMTP reply, HTTP status).
        answer: String,
    },
    /// Not sent, for good (no consent, no address): the reason is its record.
    Skipped(String),
    /// No longer relevant (collected, bought, cart checked out).
    Cancelled(String),
    /// Not yet (quiet hours): due again at this instant.
    Postponed(Timestamp),
    /// The provider failed: tried again at `retry_at`, or given up if `None`.
    Failed {
        error: String,
        retry_at: Option<Timestamp>,
    },
}

/// Records how claimed firings ended, each only while it is still scheduled.
pub async fn finish(
    conn: &mut Conn,
    results: &[(Claimed, Outcome)],
    now: Timestamp,
) -> Result<(), Error> {
    for (c, outcome) in results {
        let (sql, values) = finish_statement(&c.id, outcome, now);
        conn.execute(sql, &values).await?;
    }
    Ok(())
}

fn finish_statement(
    id: &str,
    outcome: &Outcome,
    now: Timestamp,
) -> (&'static str, Vec<crate::Value>) {
    match outcome {
        Outcome::Sent { medium, recipient, language, title, answer } => (
            "UPDATE notifications SET status = 'sent', medium = $2, recipient = $3, language = $4,
                 title = $5, outcome = $6, sent_at = $7, attempts = attempts + 1, lease_until = NULL
             WHERE id = $1 AND status = 'scheduled'",
            params![id, medium.as_str(), recipient, language.as_str(), title, answer, now.to_text()]
                .to_vec(),
        ),
        Outcome::Skipped(why) => (
            "UPDATE notifications SET status = 'skipped', outcome = $2, lease_until = NULL
             WHERE id = $1 AND status = 'scheduled'",
            params![id, why].to_vec(),
        ),
        Outcome::Cancelled(why) => (
            "UPDATE notifications SET status = 'cancelled', outcome = $2, lease_until = NULL
             WHERE id = $1 AND status = 'scheduled'",
            params![id, why].to_vec(),
        ),
        Outcome::Postponed(until) => (
            "UPDATE notifications SET due_at = $2, lease_until = NULL WHERE id = $1 AND status = 'scheduled'",
            params![id, until.to_text()].to_vec(),
        ),
        Outcome::Failed { error, retry_at: Some(when) } => (
            "UPDATE notifications SET due_at = $2, outcome = $3, attempts = attempts + 1, lease_until = NULL
             WHERE id = $1 AND status = 'scheduled'",
            params![id, when.to_text(), error].to_vec(),
        ),
        Outcome::Failed { error, retry_at: None } => (
            "UPDATE notifications SET status = 'failed', outcome = $2, attempts = attempts + 1, lease_until = NULL
             WHERE id = $1 AND status = 'scheduled'",
            params![id, error].to_vec(),
        ),
    }
}

/// One firing as the send log shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: String,
    pub rule: RuleKind,
    pub customer_id: String,
    pub subject: String,
    pub channel: Option<String>,
    /// `scheduled`, `sent`, `skipped`, `cancelled` or `failed`.
    pub status: String,
    pub due_at: Timestamp,
    pub attempts: i64,
    pub medium: Option<String>,
    pub recipient: Option<String>,
    pub language: Option<String>,
    pub title: Option<String>,
    pub reason: Option<String>,
    pub outcome: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

const LOG_COLUMNS: &str = "id, rule, customer_id, subject, channel, status, due_at, attempts, medium, recipient, language, title, reason, outcome, created_at, sent_at";

fn from_row(r: &Row) -> Result<Notification, Error> {
    Ok(Notification {
        id: r.text("id")?,
        rule: rows::parsed(r, "rule", RuleKind::parse)?,
        customer_id: r.text("customer_id")?,
        subject: r.text("subject")?,
        channel: r.opt_text("channel")?,
        status: r.text("status")?,
        due_at: rows::timestamp(r, "due_at")?,
        attempts: r.int("attempts")?,
        medium: r.opt_text("medium")?,
        recipient: r.opt_text("recipient")?,
        language: r.opt_text("language")?,
        title: r.opt_text("title")?,
        reason: r.opt_text("reason")?,
        outcome: r.opt_text("outcome")?,
        created_at: rows::timestamp(r, "created_at")?,
        sent_at: rows::opt_timestamp(r, "sent_at")?,
    })
}

/// Which firings a log shows.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub customer_id: Option<String>,
    pub rule: Option<RuleKind>,
    pub status: Option<String>,
    /// Paging: firings created before this id's (ids grow with time).
    pub before: Option<String>,
}

/// The send log, newest first.
pub async fn log(conn: &mut Conn, f: &LogFilter, limit: i64) -> Result<Vec<Notification>, Error> {
    conn.query(
        &format!(
            "SELECT {LOG_COLUMNS} FROM notifications
             WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR rule = $2) AND ($3 = '' OR status = $3)
               AND id < $4
             ORDER BY id DESC LIMIT $5"
        ),
        params![
            f.customer_id.as_deref().unwrap_or_default(),
            f.rule.map(|r| r.as_str()).unwrap_or_default(),
            f.status.as_deref().unwrap_or_default(),
            f.before.as_deref().unwrap_or("~"),
            limit
        ],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// One firing, if it exists.
pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Notification>, Error> {
    conn.query_opt(
        &format!("SELECT {LOG_COLUMNS} FROM notifications WHERE id = $1"),
        params![id],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Erasure: the send log keeps that a message went, not to which address nor what it said;
/// open back-in-stock requests end.
pub async fn erase(conn: &mut Conn, customer_id: &str, now: Timestamp) -> Result<(), Error> {
    conn.execute(
        "UPDATE notifications SET recipient = CASE WHEN recipient IS NULL THEN NULL ELSE '[erased]' END,
             title = NULL, context = '{}',
             status = CASE WHEN status = 'scheduled' THEN 'cancelled' ELSE status END,
             outcome = CASE WHEN status = 'scheduled' THEN 'the customer was erased' ELSE outcome END
         WHERE customer_id = $1",
        params![customer_id],
    )
    .await?;
    conn.execute(
        "UPDATE stock_alerts SET status = 'cancelled', notified_at = $2 WHERE customer_id = $1 AND status = 'open'",
        params![customer_id, now.to_text()],
    )
    .await?;
    Ok(())
}

/// How a customer likes to be written to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Preferences {
    pub language: Option<notify::Language>,
    pub medium: Option<notify::Medium>,
    pub time_zone: Option<String>,
}

pub async fn preferences(conn: &mut Conn, customer_id: &str) -> Result<Preferences, Error> {
    let row = conn
        .query_opt(
            "SELECT language, contact_medium, time_zone FROM customers WHERE id = $1",
            params![customer_id],
        )
        .await?
        .ok_or_else(|| Error::not_found("customer", customer_id))?;
    Ok(Preferences {
        language: row
            .opt_text("language")?
            .and_then(|l| notify::Language::parse(&l)),
        medium: row
            .opt_text("contact_medium")?
            .and_then(|m| notify::Medium::parse(&m)),
        time_zone: row.opt_text("time_zone")?,
    })
}

pub async fn set_preferences(
    conn: &mut Conn,
    customer_id: &str,
    p: &Preferences,
    now: Timestamp,
) -> Result<(), Error> {
    let n = conn
        .execute(
            "UPDATE customers SET language = $2, contact_medium = $3, time_zone = $4, updated_at = $5,
                 version = version + 1
             WHERE id = $1 AND status = 'active'",
            params![
                customer_id,
                p.language.map(|l| l.as_str()),
                p.medium.map(|m| m.as_str()),
                &p.time_zone,
                now.to_text()
            ],
        )
        .await?;
    if n != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the profile changed meanwhile; retry",
        ));
    }
    Ok(())
}

/// A behavioural event a rule reacts to (a product view, a sign-up).
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub seq: i64,
    /// The profile it was stored against; empty when it was resolved later (then its
    /// identifiers say whose it is).
    pub customer_id: String,
    pub channel: String,
    pub kind: String,
    pub identifiers: Vec<customers::identity::Identifier>,
    pub properties: serde_json::Value,
    pub occurred_at: Timestamp,
}

/// Events of `kinds` after `after` up to `upto` (a window of the log, read by its key).
pub async fn behaviour(
    conn: &mut Conn,
    kinds: &[&str],
    (after, upto): (i64, i64),
) -> Result<Vec<Behaviour>, Error> {
    let mut values: Vec<crate::Value> = vec![after.into(), upto.into()];
    values.extend(kinds.iter().map(|k| crate::Value::from(*k)));
    let sql = format!(
        "SELECT seq, customer_id, channel, type, identifiers, properties, occurred_at
         FROM customer_events WHERE seq > $1 AND seq <= $2 AND type IN ({}) ORDER BY seq",
        crate::sql::placeholders(3, kinds.len())
    );
    conn.query(&sql, &values)
        .await?
        .iter()
        .map(|r| {
            Ok(Behaviour {
                seq: r.int("seq")?,
                customer_id: r.text("customer_id")?,
                channel: r.text("channel")?,
                kind: r.text("type")?,
                identifiers: rows::json(r, "identifiers")?,
                properties: rows::json(r, "properties")?,
                occurred_at: rows::timestamp(r, "occurred_at")?,
            })
        })
        .collect()
}

/// A signed-in customer's cart left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleCart {
    pub cart_id: String,
    pub customer_id: String,
    pub channel: String,
    pub updated_at: Timestamp,
}

/// Active carts of known customers, with lines, untouched since between `since` and
/// `idle_before`, that have not fired `abandoned_cart` yet.
pub async fn idle_carts(
    conn: &mut Conn,
    (since, idle_before): (Timestamp, Timestamp),
    limit: i64,
) -> Result<Vec<IdleCart>, Error> {
    conn.query(
        "SELECT c.id, c.customer_id, c.channel, c.updated_at FROM carts c
         WHERE c.status = 'active' AND c.customer_id IS NOT NULL
           AND c.updated_at > $1 AND c.updated_at <= $2
           AND EXISTS (SELECT 1 FROM cart_lines l WHERE l.cart_id = c.id)
           AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedup_key = 'abandoned_cart:' || c.id)
         ORDER BY c.updated_at LIMIT $3",
        params![since.to_text(), idle_before.to_text(), limit],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(IdleCart {
            cart_id: r.text("id")?,
            customer_id: r.text("customer_id")?,
            channel: r.text("channel")?,
            updated_at: rows::timestamp(r, "updated_at")?,
        })
    })
    .collect()
}
