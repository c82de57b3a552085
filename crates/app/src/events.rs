//! Behavioural events ingestion: a batch of events from a channel, each linked to a profile
//! by its identifiers. On SQLite a batch is acknowledged once appended durably and resolved
//! behind the log (`resolution: pending`); on PostgreSQL, or when the caller waits, it is
//! resolved in the same command (`done`).

use kernel::{Error, id::new_id};
use store::customer_events::{Appended, BatchOutcome, ReadyEvent};
use store::customers::ResolutionRules;
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;

/// A parsed batch: the valid events ready to write, the refused ones by index.
#[derive(Debug)]
pub struct Batch {
    pub valid: Vec<ReadyEvent>,
    pub rejected: Vec<(usize, Error)>,
    /// Resolve in the command even where the log would resolve later.
    pub wait_resolved: bool,
}

/// What a batch became.
#[derive(Debug)]
pub enum Ingested {
    /// Linked to profiles in the command.
    Resolved(BatchOutcome),
    /// Appended to the log; the resolver links them soon after.
    Pending(Appended),
}

/// Stores a batch (one command); fails when no event of it is valid.
pub async fn ingest(
    db: &Db,
    rules: ResolutionRules,
    p: &Principal,
    batch: Batch,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Ingested) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let actor = p.key_id.clone();
    if db.backend() == store::Backend::Sqlite && !batch.wait_resolved {
        return append(db, actor, batch, idempotency, render).await;
    }
    // The tail is resolved in runs of its own first (an event that fails there is set
    // aside); the command then resolves only what arrives meanwhile. Owners are read here,
    // off the writer; the command re-reads only what changed since.
    store::customer_events::catch_up(db).await?;
    let ahead = store::customer_events::read_owners_ahead(db, &batch.valid).await?;
    let reference = new_id("req");
    let Batch {
        valid, rejected, ..
    } = batch;
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let mut outcome = store::customer_events::ingest(
                    c,
                    &valid,
                    ahead,
                    rules,
                    Some(&reference),
                    &actor,
                )
                .await?;
                settle(&mut outcome.rejected, rejected, outcome.stored.len())?;
                Ok(Ingested::Resolved(outcome))
            })
        },
        render,
    )
    .await
}

/// Appends the valid events without resolving them (SQLite). When resolution has fallen too
/// far behind, the batch waits for it to catch up under the limit first, so the tail stays
/// short (`store::customer_events::hold_back`).
async fn append(
    db: &Db,
    actor: String,
    batch: Batch,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Ingested) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    store::customer_events::hold_back(db).await?;
    let reference = new_id("req");
    let tail = db.clone();
    let Batch {
        valid, rejected, ..
    } = batch;
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let mut outcome =
                    store::customer_events::append(c, &valid, Some(&reference), &actor).await?;
                settle(&mut outcome.rejected, rejected, outcome.stored.len())?;
                // Counted before the commit is known; the estimate only paces ingestion.
                tail.event_tail().appended(outcome.stored.len() as u64);
                Ok(Ingested::Pending(outcome))
            })
        },
        render,
    )
    .await
}

/// Adds the events refused while parsing to those the command refused, by index; a batch
/// with nothing stored fails (and its command rolls back).
fn settle(
    into: &mut Vec<(usize, Error)>,
    parsed: Vec<(usize, Error)>,
    stored: usize,
) -> Result<(), Error> {
    into.extend(parsed);
    into.sort_by_key(|(i, _)| *i);
    if stored == 0 {
        return Err(nothing_valid(into));
    }
    Ok(())
}

/// The error of a batch none of whose events is valid, listing each one's error.
fn nothing_valid(rejected: &[(usize, Error)]) -> Error {
    let listed = rejected
        .iter()
        .map(|(index, e)| {
            serde_json::json!({
                "index": index,
                "error": { "code": e.code, "message": e.message, "details": e.details },
            })
        })
        .collect();
    Error::validation("events", "no event of the request is valid")
        .with("rejected", serde_json::Value::Array(listed))
}
