//! Behavioural events in SQL: ingestion, identity resolution behind the log, and the profile
//! timeline.
//!
//! On SQLite an acknowledged batch is only appended to the log ([`append`]): durable, checked
//! (an event whose channel or store does not exist is reported by its index and nothing is
//! written for it), not yet resolved. The resolver ([`resolve_tail`]) then resolves the log's
//! tail in runs of thousands of events, in log order, on the writer: the owners of a whole run
//! are looked up at once, each event is linked ([`crate::customers::link`]), new profiles and
//! identities are written in key order a hundred rows per statement, and every event gets its
//! per-profile key. A run writes each page of the identity and key indexes once for many
//! events instead of once per batch: those random index pages, written to the WAL at every
//! commit, are what bounds one SQLite writer (docs/benchmarks.md, `events-floor`). Whatever needs
//! resolved events catches up first ([`catch_up`]: timeline, segments, exports, profile and
//! identity reads; linking commands and erasure resolve the tail inside their own command), so
//! no read through Relais sees an acknowledged event unresolved.
//!
//! [`ingest`] resolves as it stores, in the ingesting command: always on PostgreSQL (several
//! nodes write, and sequence numbers are drawn before commit, so a cursor behind the log could
//! pass a row that commits later), and on SQLite when the caller waits for the profiles
//! (`?wait=resolved`). It resolves the tail first, so links still apply in log order. Owners
//! are read ahead by the request's task on SQLite and re-read only where the writer changed
//! them since (see [`crate::recent`]); on PostgreSQL they are looked up in the command.
//!
//! The outbox gets one `relais.customer.events_ingested` per batch and one
//! `relais.customer.events_resolved` per run, listing the profiles the run created (the
//! events themselves are the data; merges get their own events). Merges move keys, never
//! events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use customers::CustomerEvent;
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{BatchResolution, EventSetAside, EventsIngested, EventsResolved};
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
    // Events acknowledged before this batch are resolved before it: links apply in log order.
    resolve_all(conn, rules).await?;
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
        let resolution = link_event(
            conn,
            &event.identifiers,
            &event.channel,
            reference,
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
    let rows: Vec<(&str, &ReadyEvent)> = rows
        .iter()
        .map(|(slot, ready)| (outcome.stored[*slot].customer_id.as_str(), *ready))
        .collect();
    insert_rows(conn, &rows, &received).await?;
    if !outcome.stored.is_empty() {
        let created = owners.take_created();
        let summary = EventsIngested {
            resolution: BatchResolution::Done,
            accepted: outcome.stored.len(),
            rejected: outcome.rejected.len(),
            profiles_created: Some(created.len()),
            created: Some(created),
            merges: Some(outcome.stored.iter().map(|s| s.absorbed.len()).sum()),
        };
        let subject = reference.unwrap_or("batch");
        events::emit(
            conn,
            Event::CustomerEventsIngested(&summary),
            subject,
            actor,
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
/// later (SQLite keys follow the log: [`resolve_tail`]).
const EVENT_INSERT: &str = "INSERT INTO customer_events (customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at)";
const PG_WITH_KEYS_HEAD: &str = "WITH added AS (INSERT INTO customer_events (customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at)";
const PG_WITH_KEYS_TAIL: &str = "RETURNING customer_id, seq)
    INSERT INTO customer_event_keys (customer_id, seq) SELECT customer_id, seq FROM added";

/// Inserts events, each with the profile it resolved to (`""`: resolved behind the log).
async fn insert_rows(
    conn: &mut Conn,
    rows: &[(&str, &ReadyEvent)],
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
        for (customer_id, ready) in chunk {
            params.extend([
                Value::from(*customer_id),
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

/// Events acknowledged and not yet resolved to profiles (SQLite): the rules resolution
/// applies, a wake-up for the resolver, and how many wait — ingestion waits for the resolver
/// when too many do ([`MAX_UNRESOLVED`]).
#[derive(Debug, Default)]
pub struct Tail {
    rules: std::sync::Mutex<ResolutionRules>,
    appended: tokio::sync::Notify,
    unresolved: AtomicU64,
    /// Held by the one [`catch_up`] running: the others (reads, commands that link) wait
    /// for it, then find little or nothing left, instead of each queueing a run that finds
    /// the tail already taken.
    catching_up: tokio::sync::Mutex<()>,
    /// Told after every run: batches held back by the backlog ([`hold_back`]) go on as soon
    /// as it is short enough again.
    progress: tokio::sync::Notify,
    /// The backlog beyond which ingestion waits; 0 stands for [`MAX_UNRESOLVED`].
    backlog_limit: AtomicU64,
}

/// Most events acknowledged and not yet resolved before ingestion waits for the resolver:
/// a few runs' worth, so a read that catches up never waits long.
pub const MAX_UNRESOLVED: u64 = 120_000;

impl Tail {
    /// The rules every resolution of this database applies (set once at start).
    pub fn set_rules(&self, rules: ResolutionRules) {
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = rules;
    }

    pub fn rules(&self) -> ResolutionRules {
        *self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the backlog beyond which ingestion waits for resolution ([`MAX_UNRESOLVED`]
    /// unless set; tests set a small one).
    pub fn set_backlog_limit(&self, events: u64) {
        self.backlog_limit.store(events.max(1), Ordering::Relaxed);
    }

    fn backlog_limit(&self) -> u64 {
        match self.backlog_limit.load(Ordering::Relaxed) {
            0 => MAX_UNRESOLVED,
            set => set,
        }
    }

    /// Counts `n` events appended (after their commit) and wakes the resolver.
    pub fn appended(&self, n: u64) {
        self.unresolved.fetch_add(n, Ordering::Relaxed);
        self.appended.notify_one();
    }

    fn resolved(&self, n: u64) {
        let _ = self
            .unresolved
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
        self.progress.notify_waiters();
    }

    /// Nothing was left to resolve when looked at.
    fn caught_up(&self) {
        self.unresolved.store(0, Ordering::Relaxed);
        self.progress.notify_waiters();
    }

    /// Events appended by this process and not yet resolved (an estimate: a restart starts
    /// it at zero; the log is the truth, see [`catch_up`]).
    pub fn unresolved(&self) -> u64 {
        self.unresolved.load(Ordering::Relaxed)
    }

    /// Waits until events are appended (a wake-up given while nobody waited is kept).
    pub async fn wait_appended(&self) {
        self.appended.notified().await;
    }
}

/// What one [`resolve_tail`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Events keyed by this run (resolved by it, or resolved as they were stored).
    pub events: u64,
    pub merges: u64,
    pub profiles_created: u64,
    /// The last sequence number keyed.
    pub upto: i64,
}

/// Events resolved per run: enough that a page of identities or keys is written once for
/// many events, few enough that the other writes waiting behind a run wait under half a
/// second at full event load (50 000 gave 10 % more events/s and holds of 0.5 – 1 s;
/// docs/benchmarks.md).
const RESOLVE_RUN: i64 = 15_000;

/// Event keys per INSERT (2 values a row).
const KEY_CHUNK: usize = 250;

/// One event of the tail, as the resolver reads it.
struct TailEvent {
    seq: i64,
    /// The profile it resolved to as it was stored; empty when it is resolved here.
    resolved_to: String,
    channel: String,
    identifiers: Vec<customers::Identifier>,
}

/// Resolves the next run of events acknowledged without resolution ([`append`]), in log
/// order, and keys every event of the run under the profile it belongs to now (SQLite; on
/// PostgreSQL events are resolved and keyed as they are stored). Owners of the whole run
/// are looked up at once and its new profiles and identities written in key order, so a
/// page is written once per run, not once per batch. Events resolved as they were stored
/// get their key too: the profile they resolved to, or its survivor (merged profiles from a
/// covering partial index). Runs on the writer, inside the caller's command.
pub async fn resolve_tail(conn: &mut Conn, rules: ResolutionRules) -> Result<Resolved, Error> {
    resolve_run(conn, rules, RESOLVE_RUN).await
}

/// [`resolve_tail`] with runs of at most `limit` events.
async fn resolve_run(
    conn: &mut Conn,
    rules: ResolutionRules,
    limit: i64,
) -> Result<Resolved, Error> {
    let actor = RESOLVER;
    if conn.backend() != crate::Backend::Sqlite {
        return Ok(Resolved::default());
    }
    let from = conn
        .query_one(
            "SELECT indexed_upto FROM customer_event_index WHERE id = 1",
            params![],
        )
        .await?
        .int("indexed_upto")?;
    let tail = read_tail(conn, from, limit).await?;
    let Some(upto) = tail.last().map(|t| t.seq) else {
        return Ok(Resolved {
            upto: from,
            ..Resolved::default()
        });
    };
    let named = tail.iter().flat_map(|t| t.identifiers.iter());
    let mut owners = Owners::prefetch(conn, named).await?.buffered();
    // Profiles absorbed during this run, so events resolved before a merge land on the
    // survivor.
    let mut forward: HashMap<String, String> = HashMap::new();
    let mut keys: Vec<(String, i64)> = Vec::with_capacity(tail.len());
    let mut merges = 0;
    for event in tail.iter().filter(|t| t.resolved_to.is_empty()) {
        let reference = format!("event:{}", event.seq);
        let resolution = link_event(
            conn,
            &event.identifiers,
            &event.channel,
            Some(&reference),
            rules,
            actor,
            &mut owners,
        )
        .await
        .map_err(|e| e.with(FAILED_EVENT, event.seq))?;
        merges += resolution.absorbed.len() as u64;
        for gone in resolution.absorbed {
            forward.insert(gone, resolution.customer_id.clone());
        }
        keys.push((resolution.customer_id, event.seq));
    }
    for key in &mut keys {
        while let Some(survivor) = forward.get(&key.0) {
            key.0 = survivor.clone();
        }
    }
    owners.flush(conn).await?;
    keys.sort_unstable();
    insert_keys(conn, &keys).await?;
    if keys.len() < tail.len() {
        key_resolved_events(conn, from, upto).await?;
    }
    conn.execute(
        "UPDATE customer_event_index SET indexed_upto = $1 WHERE id = 1",
        params![upto],
    )
    .await?;
    // Counted in the command, like the synchronous path counts in its answer: a run whose
    // commit then fails (rare) is counted too.
    metrics::counter!("relais_customer_event_keys_total").increment(tail.len() as u64);
    metrics::counter!("relais_customer_merges_total").increment(merges);
    let created = owners.take_created();
    let resolved = Resolved {
        events: tail.len() as u64,
        merges,
        profiles_created: created.len() as u64,
        upto,
    };
    if !keys.is_empty() {
        let summary = EventsResolved {
            events: keys.len() as u64,
            upto,
            profiles_created: created.len(),
            created,
            merges,
        };
        let subject = format!("events:{upto}");
        events::emit(
            conn,
            Event::CustomerEventsResolved(&summary),
            &subject,
            actor,
        )
        .await?;
    }
    Ok(resolved)
}

/// Resolves the whole tail (erasure, and commands that link identifiers, which must see
/// every event acknowledged before them).
pub async fn resolve_all(conn: &mut Conn, rules: ResolutionRules) -> Result<Resolved, Error> {
    let mut all = Resolved::default();
    loop {
        let run = resolve_tail(conn, rules).await?;
        all.events += run.events;
        all.merges += run.merges;
        all.profiles_created += run.profiles_created;
        all.upto = run.upto;
        if run.events == 0 {
            return Ok(all);
        }
    }
}

async fn read_tail(conn: &mut Conn, from: i64, limit: i64) -> Result<Vec<TailEvent>, Error> {
    let rows = conn
        .query(
            "SELECT seq, customer_id, channel, identifiers FROM customer_events
              WHERE seq > $1 ORDER BY seq LIMIT $2",
            params![from, limit],
        )
        .await?;
    let mut tail = Vec::with_capacity(rows.len());
    for row in &rows {
        let seq = row.int("seq")?;
        let resolved_to = row.text("customer_id")?;
        let identifiers = if resolved_to.is_empty() {
            rows::json(row, "identifiers").map_err(|e| e.with(FAILED_EVENT, seq))?
        } else {
            Vec::new()
        };
        tail.push(TailEvent {
            seq,
            resolved_to,
            channel: row.text("channel")?,
            identifiers,
        });
    }
    Ok(tail)
}

async fn insert_keys(conn: &mut Conn, keys: &[(String, i64)]) -> Result<(), Error> {
    const HEAD: &str = "INSERT INTO customer_event_keys (customer_id, seq)";
    for chunk in keys.chunks(KEY_CHUNK) {
        let mut params = Vec::with_capacity(chunk.len() * 2);
        for (customer_id, seq) in chunk {
            params.extend([Value::from(customer_id), Value::from(*seq)]);
        }
        let sql = crate::sql::values_rows(HEAD, "", 2, chunk.len());
        conn.execute(&sql, &params).await?;
    }
    Ok(())
}

/// Keys the events of `(from, upto]` that were resolved as they were stored.
async fn key_resolved_events(conn: &mut Conn, from: i64, upto: i64) -> Result<u64, Error> {
    conn.execute(
        "INSERT INTO customer_event_keys (customer_id, seq)
         SELECT COALESCE(c.merged_into, e.customer_id), e.seq
           FROM customer_events e
           LEFT JOIN customers c INDEXED BY customers_merged
                  ON c.id = e.customer_id AND c.merged_into IS NOT NULL
          WHERE e.seq > $1 AND e.seq <= $2 AND e.customer_id <> ''
          ORDER BY 1, 2",
        params![from, upto],
    )
    .await
}

/// How far resolution of the log has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positions {
    /// The last event appended.
    pub appended: i64,
    /// The last event resolved (or set aside).
    pub resolved: i64,
}

/// Where resolution stands (on PostgreSQL both positions are the log's end: events are
/// resolved as they are stored).
pub async fn positions(db: &Db) -> Result<Positions, Error> {
    let row = db
        .read()
        .await?
        .query_one(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM customer_events) AS last,
                    (SELECT indexed_upto FROM customer_event_index WHERE id = 1) AS upto",
            params![],
        )
        .await?;
    let last = row.int("last")?;
    Ok(Positions {
        appended: last,
        resolved: match db.backend() {
            crate::Backend::Sqlite => row.int("upto")?,
            crate::Backend::Postgres => last,
        },
    })
}

/// How many events are set aside ([`set_aside_next`]). Apart from [`positions`], which
/// every catch-up reads.
pub async fn set_aside_count(db: &Db) -> Result<i64, Error> {
    db.read()
        .await?
        .query_one(
            "SELECT COUNT(*) AS n FROM customer_event_quarantine",
            params![],
        )
        .await?
        .int("n")
}

/// Resolves and keys every event acknowledged before the call (SQLite), before a read that
/// needs profiles, identities or keys: a read after an acknowledged ingest sees its events
/// resolved. Costs one small read when nothing is behind; runs resolution on the writer, a
/// run per command, until the log's end as it was when called.
///
/// A run that fails is tried again shorter ([`shorter_run`]), down to a single event; an event
/// that fails on its own is set aside ([`set_aside_next`]) and resolution goes on, so one
/// bad event cannot hold every later one unresolved (and every read that catches up
/// failing). An unavailable database is not an event's fault: that error is returned and
/// the run is tried again later, whole.
pub async fn catch_up(db: &Db) -> Result<(), Error> {
    if db.backend() != crate::Backend::Sqlite {
        return Ok(());
    }
    let _only_one = db.event_tail().catching_up.lock().await;
    let at = positions(db).await?;
    let (last, mut upto) = (at.appended, at.resolved);
    let mut limit = RESOLVE_RUN;
    while upto < last {
        let rules = db.event_tail().rules();
        let run = match db
            .write_alone(move |c| Box::pin(resolve_run(c, rules, limit)))
            .await
        {
            Ok(run) => run,
            Err(e) if e.code == ErrorCode::Unavailable => return Err(e),
            Err(e) => match shorter_run(upto, limit, failed_event(&e)) {
                Some(shorter) => {
                    tracing::warn!(error = %e, events = limit, next = shorter, "an event resolution run failed; trying a shorter one");
                    limit = shorter;
                    continue;
                }
                None => {
                    upto = set_aside_after(db, upto, e).await?;
                    limit = RESOLVE_RUN;
                    continue;
                }
            },
        };
        db.event_tail().resolved(run.events);
        if run.events == 0 {
            break;
        }
        upto = run.upto;
    }
    if upto >= last {
        // Caught up with the log as it was: the estimate forgets what commands that link
        // identifiers (sign-ins, erasure) resolved inside themselves.
        db.event_tail().caught_up();
    }
    Ok(())
}

/// How long a batch held back by the backlog waits for a run to end before resolving the
/// tail itself (no resolver running, or one pausing between catch-ups).
const HOLD_BACK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ingestion's backpressure (SQLite): while more than [`MAX_UNRESOLVED`] acknowledged events
/// (or the limit set by [`Tail::set_backlog_limit`]) wait for resolution, waits for the
/// resolver's runs to bring the backlog under it — a run or so, not the whole tail. When no
/// run ends for [`HOLD_BACK_PATIENCE`], it catches up itself.
pub async fn hold_back(db: &Db) -> Result<(), Error> {
    let tail = db.event_tail();
    loop {
        let progress = tail.progress.notified();
        tokio::pin!(progress);
        // Registered before the look, so a run that ends in between still wakes it.
        progress.as_mut().enable();
        if tail.unresolved() <= tail.backlog_limit() {
            return Ok(());
        }
        if tokio::time::timeout(HOLD_BACK_PATIENCE, progress)
            .await
            .is_err()
        {
            return catch_up(db).await;
        }
    }
}

/// The detail a resolution error carries when one event of the run caused it: its sequence
/// number.
const FAILED_EVENT: &str = "event_seq";

fn failed_event(e: &Error) -> Option<i64> {
    e.details.get(FAILED_EVENT).and_then(|v| v.as_i64())
}

/// How long the next run is after a run of `limit` events after `upto` failed, naming the
/// event that failed (`failed_at`) when it knows it; `None` when the run was that one event
/// alone, which is then set aside. A named event lets the events before it resolve in a run
/// of their own, then the event alone fails and is set aside: three failed runs instead of
/// halving a run of thousands down to one (fourteen, each holding the writer). Without
/// a name, or when the named one is not within the run (gaps in sequence numbers), the run
/// is halved. Always shorter, so the search ends.
fn shorter_run(upto: i64, limit: i64, failed_at: Option<i64>) -> Option<i64> {
    if limit <= 1 {
        return None;
    }
    let before_it = failed_at
        .filter(|seq| *seq > upto)
        .map(|seq| (seq - upto - 1).max(1));
    Some(match before_it {
        Some(events) if events < limit => events,
        _ => limit / 2,
    })
}

/// Sets aside the event after `upto`, which failed resolution alone with `error`; returns
/// where resolution stands then.
async fn set_aside_after(db: &Db, upto: i64, error: Error) -> Result<i64, Error> {
    let set_aside = db
        .write_alone(move |c| Box::pin(set_aside_next(c, upto, error)))
        .await?;
    match set_aside {
        Some(seq) => {
            tracing::error!(seq, "an event failed resolution on its own; set aside");
            db.event_tail().resolved(1);
            Ok(seq)
        }
        // Resolved meanwhile, inside another command: the failure did not last.
        None => Ok(positions(db).await?.resolved),
    }
}

/// Sets the event after `after` aside (SQLite), with the `error` it failed resolution with
/// on its own: it is recorded in `customer_event_quarantine`, announced
/// (`relais.customer.event_set_aside`), and passed — it stays in the log without a profile.
/// Returns its sequence number; `None` if resolution is no longer at `after`.
pub async fn set_aside_next(
    conn: &mut Conn,
    after: i64,
    error: Error,
) -> Result<Option<i64>, Error> {
    let Some(seq) = conn
        .query_one(
            "SELECT MIN(e.seq) AS seq FROM customer_events e, customer_event_index i
              WHERE i.id = 1 AND i.indexed_upto = $1 AND e.seq > $1",
            params![after],
        )
        .await?
        .opt_int("seq")?
    else {
        return Ok(None);
    };
    let at = Timestamp::now().to_text();
    conn.execute(
        "INSERT INTO customer_event_quarantine (seq, code, message, set_at) VALUES ($1, $2, $3, $4)",
        params![seq, error.code.as_str(), &error.message, &at],
    )
    .await?;
    conn.execute(
        "UPDATE customer_event_index SET indexed_upto = $1 WHERE id = 1",
        params![seq],
    )
    .await?;
    metrics::counter!("relais_customer_events_set_aside_total").increment(1);
    let set_aside = EventSetAside {
        seq,
        code: error.code.as_str().to_owned(),
        message: error.message.clone(),
    };
    let subject = format!("event:{seq}");
    events::emit(
        conn,
        Event::CustomerEventSetAside(&set_aside),
        &subject,
        RESOLVER,
    )
    .await?;
    Ok(Some(seq))
}

/// An event the resolver set aside, with the error it failed resolution with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAsideEvent {
    pub seq: i64,
    pub channel: String,
    pub kind: String,
    /// The error's code and message.
    pub code: String,
    pub message: String,
    pub set_at: Timestamp,
}

/// The events set aside, oldest first. Cursor: the last event's `seq`.
pub async fn set_aside(db: &Db, page: &PageRequest) -> Result<Page<SetAsideEvent>, Error> {
    let after: i64 = match &page.after {
        Some(cursor) => cursor.parse().map_err(|_| bad_cursor())?,
        None => 0,
    };
    let found = db
        .read()
        .await?
        .query(
            "SELECT q.seq, e.channel, e.type, q.code, q.message, q.set_at
               FROM customer_event_quarantine q JOIN customer_events e ON e.seq = q.seq
              WHERE q.seq > $1 ORDER BY q.seq LIMIT $2",
            params![after, page.fetch_limit()],
        )
        .await?;
    let events = found
        .iter()
        .map(|r| {
            Ok(SetAsideEvent {
                seq: r.int("seq")?,
                channel: r.text("channel")?,
                kind: r.text("type")?,
                code: r.text("code")?,
                message: r.text("message")?,
                set_at: rows::timestamp(r, "set_at")?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Page::from_rows(events, page, |e| e.seq.to_string()))
}

/// What resolving a set-aside event again did.
pub use outbox::payloads::EventRetried as Retried;

/// Resolves an event the resolver set aside, now — once its row is repaired, or when what
/// failed did not last. It is linked like any event (out of log order: the survivor rule
/// does not depend on order), keyed under its profile, and leaves the quarantine
/// (`relais.customer.event_retried`). When it still fails, the command fails with
/// `conflict` and the error, and nothing changes.
pub async fn retry_set_aside(
    conn: &mut Conn,
    seq: i64,
    rules: ResolutionRules,
    actor: &str,
) -> Result<Retried, Error> {
    let found = conn
        .query_opt(
            "SELECT e.channel, e.identifiers FROM customer_event_quarantine q
               JOIN customer_events e ON e.seq = q.seq WHERE q.seq = $1",
            params![seq],
        )
        .await?
        .ok_or_else(|| Error::not_found("set-aside event", &seq.to_string()))?;
    let retried = resolve_set_aside(conn, seq, &found, rules, actor)
        .await
        .map_err(|e| match e.code {
            ErrorCode::Unavailable => e,
            _ => Error::new(
                ErrorCode::Conflict,
                format!("the event still fails resolution: {}", e.message),
            ),
        })?;
    conn.execute(
        "DELETE FROM customer_event_quarantine WHERE seq = $1",
        params![seq],
    )
    .await?;
    let subject = format!("event:{seq}");
    events::emit(conn, Event::CustomerEventRetried(&retried), &subject, actor).await?;
    Ok(retried)
}

async fn resolve_set_aside(
    conn: &mut Conn,
    seq: i64,
    found: &Row,
    rules: ResolutionRules,
    actor: &str,
) -> Result<Retried, Error> {
    let named: Vec<customers::Identifier> = rows::json(found, "identifiers")?;
    let reference = format!("event:{seq}");
    let mut owners = Owners::prefetch(conn, named.iter()).await?.buffered();
    let resolution = link_event(
        conn,
        &named,
        &found.text("channel")?,
        Some(&reference),
        rules,
        actor,
        &mut owners,
    )
    .await?;
    owners.flush(conn).await?;
    insert_keys(conn, &[(resolution.customer_id.clone(), seq)]).await?;
    metrics::counter!("relais_customer_merges_total").increment(resolution.absorbed.len() as u64);
    Ok(Retried {
        seq,
        customer_id: resolution.customer_id,
        created: resolution.created,
        merges: resolution.absorbed.len(),
    })
}

/// Links the identifiers an event names (never verified: events prove nothing), with the
/// event as the cause — the one way every path (as stored, behind the log, retried) resolves
/// an event.
async fn link_event(
    conn: &mut Conn,
    identifiers: &[customers::Identifier],
    channel: &str,
    reference: Option<&str>,
    rules: ResolutionRules,
    actor: &str,
    owners: &mut Owners,
) -> Result<Resolution, Error> {
    let pairs: Vec<_> = identifiers.iter().map(|i| (i.clone(), false)).collect();
    let event = Link {
        identifiers: &pairs,
        anchor: None,
        channel: Some(channel),
        cause: LinkCause::Event,
        reference,
    };
    link(conn, &event, rules, actor, owners).await
}

/// The actor of the merges the resolver makes (their reference names the event).
pub const RESOLVER: &str = "relais:resolver";

/// What [`append`] stored: the positions of the stored events and the refused ones.
#[derive(Debug, Default)]
pub struct Appended {
    pub stored: Vec<usize>,
    pub rejected: Vec<(usize, Error)>,
}

/// Stores `events` durably without resolving them (SQLite): they are appended to the log and
/// resolved behind it ([`resolve_tail`]), in runs, by the resolver and by any read or link
/// that needs them. An event whose channel or store does not exist is refused by its index.
pub async fn append(
    conn: &mut Conn,
    events: &[ReadyEvent],
    reference: Option<&str>,
    actor: &str,
) -> Result<Appended, Error> {
    if conn.backend() != crate::Backend::Sqlite {
        return Err(Error::internal(
            "events are resolved as they are stored on PostgreSQL",
        ));
    }
    let mut references = References::default();
    let mut outcome = Appended::default();
    let mut rows: Vec<(&str, &ReadyEvent)> = Vec::with_capacity(events.len());
    for ready in events {
        match references.check(conn, &ready.event).await {
            Ok(()) => {
                outcome.stored.push(ready.index);
                rows.push(("", ready));
            }
            Err(e) => outcome.rejected.push((ready.index, e)),
        }
    }
    insert_rows(conn, &rows, &Timestamp::now().to_text()).await?;
    if !rows.is_empty() {
        let summary = EventsIngested {
            resolution: BatchResolution::Pending,
            accepted: rows.len(),
            rejected: outcome.rejected.len(),
            profiles_created: None,
            created: None,
            merges: None,
        };
        let subject = reference.unwrap_or("batch");
        events::emit(
            conn,
            Event::CustomerEventsIngested(&summary),
            subject,
            actor,
        )
        .await?;
    }
    Ok(outcome)
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

/// Each source renders (at, sort key, kind, id, channel, title, data); the sort key makes
/// entries at the same instant keep a stable order for the cursor.
const TIMELINE: &str = "
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
        SELECT created_at, 'notification:' || id, 'notification', id, medium,
               rule || ' ' || status, outcome, subject
          FROM notifications WHERE customer_id = $1
        UNION ALL
        SELECT at, 'points:' || id, 'points', id, channel, kind || ' ' || CAST(points AS TEXT),
               CAST(balance_after AS TEXT), order_id
          FROM loyalty_entries WHERE customer_id = $1
        UNION ALL
        SELECT r.created_at, 'return:' || r.id, 'return', r.id, NULL, 'return of ' || r.order_id,
               r.currency || ' ' || CAST(r.value_minor AS TEXT), r.location
          FROM returns r JOIN orders o ON o.id = r.order_id WHERE o.customer_id = $1
    ) AS t
    WHERE at < $2 OR (at = $2 AND k < $3)
    ORDER BY at DESC, k DESC LIMIT $4";

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
    catch_up(db).await?;
    let sql = TIMELINE.replace("LPAD_SEQ", &lpad_seq(db.backend()));
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
        "notification" => serde_json::json!({ "outcome": row.opt_text("data")?, "subject": extra }),
        "order" | "return" => {
            let (currency, amount) = raw.split_once(' ').unwrap_or(("", "0"));
            serde_json::json!({
                "currency": currency,
                "amount_minor": amount.parse::<i64>().unwrap_or(0),
                "location_code": extra,
            })
        }
        "points" => serde_json::json!({
            "balance_after": raw.parse::<i64>().unwrap_or(0),
            "order_id": extra,
        }),
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

#[cfg(test)]
mod tests {
    use super::shorter_run;

    #[test]
    fn a_named_event_is_set_aside_after_three_runs_not_fourteen() {
        // Run of 15 000 after event 100 fails at event 7 100.
        let first = shorter_run(100, 15_000, Some(7_100));
        assert_eq!(first, Some(6_999), "the events before it, alone");
        // They resolve; the next run (still 6 999 long) fails at its first event.
        assert_eq!(shorter_run(7_099, 6_999, Some(7_100)), Some(1));
        // Alone, it fails again: set aside.
        assert_eq!(shorter_run(7_099, 1, Some(7_100)), None);
    }

    #[test]
    fn without_a_name_runs_are_halved_down_to_one_event() {
        let mut limit = 15_000;
        let mut failed_runs = 0;
        while let Some(next) = shorter_run(0, limit, None) {
            assert!(next < limit);
            limit = next;
            failed_runs += 1;
        }
        assert_eq!(limit, 1);
        assert_eq!(failed_runs, 13);
    }

    #[test]
    fn a_name_outside_the_run_never_lengthens_it() {
        // Behind the cursor, or beyond the run (gaps in sequence numbers): halve.
        assert_eq!(shorter_run(500, 1_000, Some(400)), Some(500));
        assert_eq!(shorter_run(500, 1_000, Some(5_000)), Some(500));
        // A gap made the run reach the named event again at the same length: shorter still.
        assert_eq!(shorter_run(500, 10, Some(511)), Some(5));
    }
}
