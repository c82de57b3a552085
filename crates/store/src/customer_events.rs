//! Behavioural events in SQL: ingestion with identity resolution, and the profile timeline.
//!
//! A batch is one command: the owners of all its identifiers are known at once (read ahead by
//! the request's task on SQLite and re-read only where the writer changed them since, see
//! [`crate::recent`]; looked up in the command on PostgreSQL), each event
//! is resolved to a profile ([`crate::customers::link`]), and the rows are inserted a hundred
//! per statement at the end (mapped to survivors of merges made within the batch). An event
//! whose channel or store does not exist is reported by its index and nothing is written for
//! it (it is checked before it is linked), while the others are stored. A failing statement
//! fails the whole batch (its savepoint rolls back): the caller gets the error. New profiles
//! and identities are held back and written a hundred rows per statement ([`Owners::buffered`]).
//! The outbox gets one `relais.customer.events_ingested` per batch, listing the profiles it
//! created (the events themselves are the data; merges get their own events). Events are
//! appended to the log only: their per-profile keys follow ([`index_tail`]).

use std::collections::HashMap;

use customers::CustomerEvent;
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use serde::Serialize;

use crate::customers::{Link, LinkCause, Owners, OwnersRead, Resolution, ResolutionRules, link};
use crate::sql::{Conn, Row, Value};
use crate::{Db, events, params, rows};

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ingested {
    pub index: usize,
    pub customer_id: String,
    pub created: bool,
    pub absorbed: Vec<String>,
}

/// The outcome of a batch: the stored events and the refused ones (index and error).
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    pub stored: Vec<Ingested>,
    pub rejected: Vec<(usize, Error)>,
}

#[derive(Serialize)]
struct BatchSummary {
    accepted: usize,
    rejected: usize,
    profiles_created: usize,
    /// The profiles the batch created (ids only), in place of one `relais.customer.created`
    /// per new visitor. A profile created and merged away within the batch is listed too.
    created: Vec<String>,
    merges: usize,
}

/// An event ready to be written: its JSON and time columns are rendered when it is made, by
/// the request's task, so that the writer only binds them.
#[derive(Debug, Clone)]
pub struct ReadyEvent {
    /// Its position in the request.
    pub index: usize,
    pub event: CustomerEvent,
    identifiers: String,
    properties: String,
    occurred_at: String,
}

impl ReadyEvent {
    pub fn new(index: usize, event: CustomerEvent) -> ReadyEvent {
        ReadyEvent {
            index,
            identifiers: rows::to_json(&event.identifiers),
            properties: rows::to_json(&event.properties),
            occurred_at: event.occurred_at.to_text(),
            event,
        }
    }
}

/// Events numbered by their position in the request, ready to be written.
pub fn ready(events: Vec<(usize, CustomerEvent)>) -> Vec<ReadyEvent> {
    events
        .into_iter()
        .map(|(index, event)| ReadyEvent::new(index, event))
        .collect()
}

/// Reads the owners of the events' identifiers on a reader, before the command (see
/// [`Owners::read_ahead`]): the writer then looks up only what changed since.
pub async fn read_owners_ahead(
    db: &Db,
    events: &[ReadyEvent],
) -> Result<Option<OwnersRead>, Error> {
    Owners::read_ahead(db, events.iter().flat_map(|e| e.event.identifiers.iter())).await
}

/// Stores `events`, resolving each to a profile; `ahead` are owners read before the command
/// ([`read_owners_ahead`]), if any.
pub async fn ingest(
    conn: &mut Conn,
    events: &[ReadyEvent],
    ahead: Option<OwnersRead>,
    rules: ResolutionRules,
    reference: Option<&str>,
    actor: &str,
) -> Result<BatchOutcome, Error> {
    let mut references = References::default();
    let mut outcome = BatchOutcome::default();
    let received = Timestamp::now().to_text();
    let named = events.iter().flat_map(|e| e.event.identifiers.iter());
    let mut owners = Owners::prefetch_with(conn, named, ahead).await?.buffered();
    // Profiles absorbed during this batch, so events resolved before a merge land on the
    // survivor.
    let mut forward: HashMap<String, String> = HashMap::new();
    let mut rows: Vec<(usize, &ReadyEvent)> = Vec::with_capacity(events.len());
    for ready in events {
        let (index, event) = (&ready.index, &ready.event);
        if let Err(e) = references.check(conn, event).await {
            outcome.rejected.push((*index, e));
            continue;
        }
        let pairs: Vec<_> = event
            .identifiers
            .iter()
            .map(|i| (i.clone(), false))
            .collect();
        let resolution: Resolution = link(
            conn,
            &Link {
                identifiers: &pairs,
                anchor: None,
                channel: Some(&event.channel),
                cause: LinkCause::Event,
                reference,
            },
            rules,
            actor,
            &mut owners,
        )
        .await?;
        for gone in &resolution.absorbed {
            forward.insert(gone.clone(), resolution.customer_id.clone());
        }
        rows.push((outcome.stored.len(), ready));
        outcome.stored.push(Ingested {
            index: *index,
            customer_id: resolution.customer_id,
            created: resolution.created,
            absorbed: resolution.absorbed,
        });
    }
    for stored in &mut outcome.stored {
        while let Some(survivor) = forward.get(&stored.customer_id) {
            stored.customer_id = survivor.clone();
        }
    }
    owners.flush(conn).await?;
    insert_rows(conn, &rows, &outcome.stored, &received).await?;
    if !outcome.stored.is_empty() {
        let created = owners.take_created();
        let summary = BatchSummary {
            accepted: outcome.stored.len(),
            rejected: outcome.rejected.len(),
            profiles_created: created.len(),
            created,
            merges: outcome.stored.iter().map(|s| s.absorbed.len()).sum(),
        };
        events::emit(
            conn,
            "relais.customer.events_ingested",
            reference.unwrap_or("batch"),
            actor,
            &summary,
        )
        .await?;
    }
    Ok(outcome)
}

/// Event rows per INSERT: one statement for many rows costs a fraction of one statement per
/// row (8 values a row, well under both databases' parameter limits).
const INSERT_CHUNK: usize = 100;

/// The event insert; on PostgreSQL it also writes the events' keys: sequence numbers are
/// drawn at insert, not at commit, so a cursor behind the log could pass a row that commits
/// later (SQLite keys follow the log: [`index_tail`]).
const EVENT_INSERT: &str = "INSERT INTO customer_events (customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at)";
const PG_WITH_KEYS_HEAD: &str = "WITH added AS (INSERT INTO customer_events (customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at)";
const PG_WITH_KEYS_TAIL: &str = "RETURNING customer_id, seq)
    INSERT INTO customer_event_keys (customer_id, seq) SELECT customer_id, seq FROM added";

async fn insert_rows(
    conn: &mut Conn,
    rows: &[(usize, &ReadyEvent)],
    stored: &[Ingested],
    received: &str,
) -> Result<(), Error> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let sql = match conn.backend() {
            crate::Backend::Sqlite => crate::sql::values_rows(EVENT_INSERT, "", 8, chunk.len()),
            crate::Backend::Postgres => {
                crate::sql::values_rows(PG_WITH_KEYS_HEAD, PG_WITH_KEYS_TAIL, 8, chunk.len())
            }
        };
        let mut params = Vec::with_capacity(chunk.len() * 8);
        for (slot, ready) in chunk {
            params.extend([
                Value::from(&stored[*slot].customer_id),
                Value::from(&ready.event.channel),
                Value::from(&ready.event.kind),
                Value::from(&ready.event.location_code),
                Value::from(&ready.identifiers),
                Value::from(&ready.properties),
                Value::from(&ready.occurred_at),
                Value::from(received),
            ]);
        }
        conn.execute(&sql, &params).await?;
    }
    Ok(())
}

/// Gives keys to the events appended since the last run (SQLite; on PostgreSQL events get
/// their keys as they are written), under the profile each now belongs to: the one it resolved
/// to, or the survivor that profile was merged into (merges keep forwarding one hop deep).
/// Inserted in key order, one statement, so each page of the keys is written once per run
/// however many of the run's keys land on it. Runs on the writer, inside the caller's command.
pub async fn index_tail(conn: &mut Conn) -> Result<u64, Error> {
    if conn.backend() != crate::Backend::Sqlite {
        return Ok(0);
    }
    let added = conn
        .execute(
            "INSERT INTO customer_event_keys (customer_id, seq)
             SELECT COALESCE(c.merged_into, e.customer_id), e.seq
               FROM customer_events e
               LEFT JOIN customers c INDEXED BY customers_merged
                      ON c.id = e.customer_id AND c.merged_into IS NOT NULL
              WHERE e.seq > (SELECT indexed_upto FROM customer_event_index WHERE id = 1)
              ORDER BY 1, 2",
            params![],
        )
        .await?;
    if added > 0 {
        conn.execute(
            "UPDATE customer_event_index SET indexed_upto = (SELECT MAX(seq) FROM customer_events)
             WHERE id = 1",
            params![],
        )
        .await?;
    }
    Ok(added)
}

/// Brings the event keys up to the log's end before a read that needs them (timeline,
/// segments, export): a read after an acknowledged ingest sees its events. Costs one small
/// read when nothing is behind.
pub async fn catch_up(db: &Db) -> Result<(), Error> {
    if db.backend() != crate::Backend::Sqlite {
        return Ok(());
    }
    let behind = db
        .read()
        .await?
        .query_one(
            "SELECT CASE WHEN (SELECT COALESCE(MAX(seq), 0) FROM customer_events)
                    > (SELECT indexed_upto FROM customer_event_index WHERE id = 1)
                    THEN 1 ELSE 0 END AS behind",
            params![],
        )
        .await?
        .int("behind")?;
    if behind == 1 {
        let added = db.write(|c| Box::pin(index_tail(c))).await?;
        metrics::counter!("relais_customer_event_keys_total").increment(added);
    }
    Ok(())
}

/// Channels and stores named by a batch's events, and whether they exist: each is looked up
/// once per batch.
#[derive(Default)]
struct References {
    channels: HashMap<String, bool>,
    locations: HashMap<String, bool>,
}

impl References {
    async fn check(&mut self, conn: &mut Conn, event: &CustomerEvent) -> Result<(), Error> {
        if !self.channels.contains_key(&event.channel) {
            let exists = crate::channels::find_channel(&mut *conn, &event.channel)
                .await?
                .is_some();
            self.channels.insert(event.channel.clone(), exists);
        }
        if !self.channels[&event.channel] {
            return Err(Error::unknown_reference(
                "channel",
                "channel",
                &event.channel,
            ));
        }
        if let Some(code) = &event.location_code {
            if !self.locations.contains_key(code) {
                let exists = crate::locations::find_location(&mut *conn, code)
                    .await?
                    .is_some();
                self.locations.insert(code.clone(), exists);
            }
            if !self.locations[code] {
                return Err(Error::unknown_reference("location_code", "location", code));
            }
        }
        Ok(())
    }
}

/// One entry of a profile's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// `event`, `consent`, `interaction`, `merge` or `review`.
    pub kind: String,
    /// The entry's own id (`seq` of an event, id of the others).
    pub id: String,
    pub at: Timestamp,
    /// Where it happened: the channel (or medium for interactions).
    pub channel: Option<String>,
    /// What it was: the event type, the consent purpose and status, the interaction summary…
    pub title: String,
    pub data: serde_json::Value,
}

/// The timeline, newest first, over every source that names the profile. Cursor: the last
/// entry's `(at, kind, id)`.
pub async fn timeline(
    db: &Db,
    customer_id: &str,
    page: &PageRequest,
) -> Result<Page<TimelineEntry>, Error> {
    let (before_at, before_key) = match &page.after {
        Some(cursor) => {
            let (at, key) = cursor.split_once('|').ok_or_else(bad_cursor)?;
            (at.to_owned(), key.to_owned())
        }
        None => ("9999".to_owned(), String::new()),
    };
    // Each source renders (at, sort key, kind, id, channel, title, data); the sort key makes
    // entries at the same instant keep a stable order for the cursor.
    let sql = "
        SELECT * FROM (
            SELECT occurred_at AS at, 'event:' || LPAD_SEQ AS k, 'event' AS kind,
                   CAST(seq AS TEXT) AS id, channel, type AS title,
                   properties AS data, location_code AS extra
              FROM customer_event_keys ek JOIN customer_events USING (seq)
             WHERE ek.customer_id = $1
            UNION ALL
            SELECT recorded_at, 'consent:' || id, 'consent', id, channel, purpose || ' ' || status,
                   method, location_code
              FROM consents WHERE customer_id = $1
            UNION ALL
            SELECT occurred_at, 'interaction:' || id, 'interaction', id, medium, summary,
                   direction, location_code
              FROM interactions WHERE customer_id = $1
            UNION ALL
            SELECT at, 'merge:' || id, 'merge', id, NULL, 'absorbed ' || absorbed_id,
                   cause, NULL
              FROM customer_merges WHERE survivor_id = $1
            UNION ALL
            SELECT created_at, 'order:' || id, 'order', id, channel, mode || ' order, ' || state,
                   currency || ' ' || CAST(total_minor AS TEXT), location
              FROM orders WHERE customer_id = $1
            UNION ALL
            SELECT r.created_at, 'return:' || r.id, 'return', r.id, NULL, 'return of ' || r.order_id,
                   r.currency || ' ' || CAST(r.value_minor AS TEXT), r.location
              FROM returns r JOIN orders o ON o.id = r.order_id WHERE o.customer_id = $1
        ) AS t
        WHERE at < $2 OR (at = $2 AND k < $3)
        ORDER BY at DESC, k DESC LIMIT $4";
    catch_up(db).await?;
    let sql = sql.replace("LPAD_SEQ", &lpad_seq(db.backend()));
    let found = db
        .read()
        .await?
        .query(
            &sql,
            params![customer_id, &before_at, &before_key, page.fetch_limit()],
        )
        .await?;
    let entries = found
        .iter()
        .map(|r| entry_from_row(r).map(|e| (e, r.text("k"))))
        .collect::<Result<Vec<_>, _>>()?;
    let entries: Vec<(TimelineEntry, String)> = entries
        .into_iter()
        .map(|(e, k)| k.map(|k| (e, k)))
        .collect::<Result<_, _>>()?;
    let page = Page::from_rows(entries, page, |(e, k)| format!("{}|{k}", e.at.to_text()));
    Ok(page.map(|(e, _)| e))
}

/// Event sequence numbers padded to 20 digits so they sort as text.
fn lpad_seq(backend: crate::Backend) -> String {
    match backend {
        crate::Backend::Sqlite => "printf('%020d', seq)".into(),
        crate::Backend::Postgres => "LPAD(CAST(seq AS TEXT), 20, '0')".into(),
    }
}

fn bad_cursor() -> Error {
    Error::new(
        ErrorCode::InvalidCursor,
        "the cursor is not valid for this list",
    )
}

fn entry_from_row(row: &Row) -> Result<TimelineEntry, Error> {
    let kind = row.text("kind")?;
    let raw = row.opt_text("data")?.unwrap_or_default();
    let extra = row.opt_text("extra")?;
    let data = match kind.as_str() {
        "event" => serde_json::json!({
            "properties": serde_json::from_str::<serde_json::Value>(&raw).unwrap_or_default(),
            "location_code": extra,
        }),
        "consent" => serde_json::json!({ "method": raw, "location_code": extra }),
        "interaction" => serde_json::json!({ "direction": raw, "location_code": extra }),
        "order" | "return" => {
            let (currency, amount) = raw.split_once(' ').unwrap_or(("", "0"));
            serde_json::json!({
                "currency": currency,
                "amount_minor": amount.parse::<i64>().unwrap_or(0),
                "location_code": extra,
            })
        }
        _ => serde_json::json!({ "cause": raw }),
    };
    Ok(TimelineEntry {
        id: row.text("id")?,
        at: rows::timestamp(row, "at")?,
        channel: row.opt_text("channel")?,
        title: row.text("title")?,
        kind,
        data,
    })
}

/// How many events a profile has (tests, exports).
pub async fn count_for(db: &Db, customer_id: &str) -> Result<i64, Error> {
    catch_up(db).await?;
    db.read()
        .await?
        .query_one(
            "SELECT COUNT(*) AS n FROM customer_event_keys WHERE customer_id = $1",
            params![customer_id],
        )
        .await?
        .int("n")
}
