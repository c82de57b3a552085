//! Publishing the outbox to NATS JetStream, so that other nodes and outside systems follow
//! Relais's events and live availability.
//!
//! One node publishes at a time (a lease: a PostgreSQL advisory lock held by a session of its
//! own; the one SQLite process always holds it). It follows the outbox in commit order from a
//! cursor saved in the database after each acknowledged batch, so a restart or a fail-over
//! resumes where the last publisher stopped. A batch that was published but whose cursor was
//! not saved is published again; every message carries `Nats-Msg-Id`, so JetStream's
//! duplicate window drops the repeats and consumers see each event once.
//!
//! Subjects, with the default prefix `relais`:
//! - `relais.events.<type>`: every CloudEvent, e.g. `relais.events.hold.created` for
//!   `relais.hold.created`; the payload is the event as stored.
//! - `relais.availability.<location>.<sku>`: each ATP change, as a CloudEvent of type
//!   `relais.availability.changed` (see `docs/events.md`). SKUs may contain `.`, which NATS
//!   uses between tokens, so it is written `:` here.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, stream};
use outbox::payloads::AvailabilityChanged;
use outbox::{CloudEvent, Event};
use store::Db;
use store::feed::{FeedRow, Position};

/// The reader name under which the publisher's cursor is saved.
pub const CURSOR: &str = store::feed::NATS_CURSOR;
/// Outbox rows published per batch (acknowledged together).
const BATCH: i64 = 500;
/// How often a node that is not the publisher checks whether it may take over.
const STANDBY_EVERY: Duration = Duration::from_secs(2);
/// How often the publisher looks for commits of other nodes (its own wake it at once).
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Where and how to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    pub url: String,
    /// The JetStream stream, created if missing.
    pub stream: String,
    /// First token of every subject.
    pub prefix: String,
    /// Most age of a message in the stream (zero: no limit).
    pub max_age: Duration,
    /// Most bytes the stream keeps, the oldest dropped first (zero: no limit).
    pub max_bytes: i64,
}

impl NatsSettings {
    pub fn new(url: &str) -> NatsSettings {
        NatsSettings {
            url: url.to_owned(),
            stream: "RELAIS".into(),
            prefix: "relais".into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 1 << 30,
        }
    }

    /// The subject of an event of type `kind` (`relais.hold.created`).
    pub fn event_subject(&self, kind: &str) -> String {
        let rest = kind.strip_prefix("relais.").unwrap_or(kind);
        format!("{}.events.{rest}", self.prefix)
    }

    /// The subject of an ATP change.
    pub fn availability_subject(&self, location: &str, sku: &str) -> String {
        format!(
            "{}.availability.{location}.{}",
            self.prefix,
            sku.replace('.', ":")
        )
    }
}

/// Publishes until the task is aborted; never gives up (NATS or the database may come back).
pub async fn run(db: Db, settings: NatsSettings) {
    loop {
        match db.try_lease("nats-publisher").await {
            Ok(Some(mut lease)) => {
                tracing::info!(url = %settings.url, stream = %settings.stream, "publishing events to NATS JetStream");
                if let Err(e) = publish_while_leased(&db, &settings, &mut lease).await {
                    tracing::warn!(error = %e, "NATS publishing stopped; will retry");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take the NATS publisher lease"),
        }
        tokio::time::sleep(STANDBY_EVERY).await;
    }
}

async fn publish_while_leased(
    db: &Db,
    settings: &NatsSettings,
    lease: &mut store::Lease,
) -> anyhow::Result<()> {
    let client = async_nats::connect(&settings.url)
        .await
        .with_context(|| format!("connect to NATS at {}", settings.url))?;
    let js = jetstream::new(client);
    // Created, or brought to the limits configured now (two deployments sharing a NATS
    // server each have a stream and a prefix of their own).
    js.create_or_update_stream(stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.>", settings.prefix)],
        duplicate_window: Duration::from_secs(120),
        max_age: settings.max_age,
        max_bytes: if settings.max_bytes == 0 {
            -1
        } else {
            settings.max_bytes
        },
        ..Default::default()
    })
    .await
    .context("create or update the JetStream stream")?;
    // A first start publishes what happens from now on, not the whole history.
    let mut position = match store::feed::cursor(db, CURSOR).await? {
        Some(p) => p,
        None => {
            let head = store::feed::head(db).await?;
            store::feed::save_cursor(db, CURSOR, head).await?;
            head
        }
    };
    let mut commits = db.commits();
    loop {
        if !lease.is_held().await {
            anyhow::bail!("the publisher lease was lost");
        }
        let rows = store::feed::read_after(db, position, BATCH).await?;
        if let Some(last) = rows.last().map(|r| r.position) {
            publish_batch(&js, settings, &rows).await?;
            store::feed::save_cursor(db, CURSOR, last).await?;
            metrics::counter!("relais_nats_published_total").increment(rows.len() as u64);
            if let Some(at) = rows.last().and_then(committed_at) {
                let lag = kernel::Timestamp::now().unix_ms() - at.unix_ms();
                metrics::gauge!("relais_nats_publish_lag_seconds").set(lag.max(0) as f64 / 1000.0);
            }
            position = last;
        }
        if rows.len() as i64 == BATCH {
            continue;
        }
        tokio::select! {
            _ = commits.changed() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// Publishes a batch and waits for JetStream to store every message.
async fn publish_batch(
    js: &jetstream::Context,
    settings: &NatsSettings,
    rows: &[FeedRow],
) -> anyhow::Result<()> {
    let mut acks = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        for (subject, id, payload) in messages(settings, row) {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            let ack = js
                .publish_with_headers(subject, headers, payload.into())
                .await
                .context("publish to JetStream")?;
            acks.push(ack);
        }
    }
    for ack in futures::future::join_all(acks.into_iter().map(|a| a.into_future())).await {
        ack.context("JetStream did not store a message")?;
    }
    Ok(())
}

/// The messages one outbox row becomes: the event, and its ATP change if it has one.
fn messages(settings: &NatsSettings, row: &FeedRow) -> Vec<(String, String, String)> {
    let (id, actor) = event_id(row);
    let mut out = vec![(
        settings.event_subject(&row.kind),
        id.clone(),
        row.envelope.clone(),
    )];
    if let Some(change) = api::live::change_of(row) {
        let level = &change.level;
        let subject = settings.availability_subject(&level.location, &level.sku);
        out.push((
            subject,
            format!("{id}:availability"),
            availability_event(&change, &id, &actor),
        ));
    }
    out
}

/// An ATP change as a CloudEvent (`relais.availability.changed`), with the books: NATS
/// consumers are back-office systems. Its id derives from the cause's, so a replay is a repeat.
fn availability_event(change: &api::live::Change, cause_id: &str, actor: &str) -> String {
    let level = &change.level;
    let changed = AvailabilityChanged {
        seq: change.seq,
        sku: level.sku.clone(),
        location: level.location.clone(),
        atp: level.atp,
        on_hand: level.on_hand,
        held: level.held,
        safety: level.safety,
        cause: change.cause.clone(),
        at: change.at,
    };
    let subject = format!("{}/{}", level.location, level.sku);
    match CloudEvent::of(&Event::AvailabilityChanged(&changed), &subject, actor) {
        Ok(mut e) => {
            e.id = format!("{cause_id}:availability");
            e.time = change.at;
            serde_json::to_string(&e).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

/// The CloudEvent id (stable, unique: JetStream de-duplicates on it) and actor of a row.
fn event_id(row: &FeedRow) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
        actor: String,
    }
    serde_json::from_str::<Id>(&row.envelope)
        .map(|e| (e.id, e.actor))
        .unwrap_or_else(|_| (format!("seq-{}", row.position.seq), "system".to_owned()))
}

/// When an outbox row's event happened (its CloudEvent `time`).
fn committed_at(row: &FeedRow) -> Option<kernel::Timestamp> {
    #[derive(serde::Deserialize)]
    struct Time {
        time: kernel::Timestamp,
    }
    serde_json::from_str::<Time>(&row.envelope)
        .ok()
        .map(|t| t.time)
}

/// Where the publisher has got to (for tests and operators).
pub async fn published_up_to(db: &Db) -> anyhow::Result<Option<Position>> {
    Ok(store::feed::cursor(db, CURSOR).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_keep_one_token_per_level() {
        let s = NatsSettings::new("nats://127.0.0.1:4222");
        assert_eq!(
            s.event_subject("relais.hold.created"),
            "relais.events.hold.created"
        );
        assert_eq!(
            s.availability_subject("LYS-BELLECOUR", "ES.001-38"),
            "relais.availability.LYS-BELLECOUR.ES:001-38"
        );
    }
}
