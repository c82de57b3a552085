//! Webhooks: admin keys subscribe receivers to event types, rotate their secrets, read each
//! subscription's delivery log and replay deliveries. The dispatcher (in the `relais` binary,
//! which owns the HTTP client) queues events for the subscriptions that want them, claims
//! what is due and records how each attempt ended, through [`queue`], [`claim`] and
//! [`finish`] — never delaying the writer by more than one short command per batch.

use kernel::{Error, Timestamp};
use outbox::webhooks::{self as rules, SubscriptionStatus, Verdict};
use store::feed::Position;
use store::webhooks::{Claimed, Delivery, Finished, Queued, Subscription};
use store::{Db, IdempotencyKey, StoredResponse};

use crate::access::Principal;
use crate::command::{Needs, as_writer};

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
}

/// Changes to a subscription; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    /// Enable (clears why it was disabled) or disable.
    pub status: Option<SubscriptionStatus>,
}

/// A fresh `whsec_` secret (24 random bytes).
fn fresh_secret() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let mut bytes = [0u8; 24];
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(&b.as_bytes()[..8]);
    rules::new_secret(&bytes)
}

/// Subscribes a receiver (admin); the answer holds the secret, shown this once.
pub async fn create(
    db: &Db,
    p: &Principal,
    new: NewSubscription,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Subscription) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = crate::clock::now();
    let sub = Subscription {
        id: kernel::id::new_id("whk"),
        url: rules::validate_url("url", &new.url)?,
        description: kernel::text::optional("description", new.description.as_deref(), 200)?,
        event_types: rules::validate_event_types("event_types", &new.event_types)?,
        secret: fresh_secret(),
        previous_secret: None,
        previous_until: None,
        status: SubscriptionStatus::Active,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, _| {
            Box::pin(async move {
                store::webhooks::create(c, &sub).await?;
                Ok(sub)
            })
        },
        render,
    )
    .await
}

/// Every subscription (admin).
pub async fn list(db: &Db, p: &Principal) -> Result<Vec<Subscription>, Error> {
    p.require_admin()?;
    store::webhooks::all(&mut db.read().await?).await
}

/// One subscription (admin).
pub async fn get(db: &Db, p: &Principal, id: &str) -> Result<Subscription, Error> {
    p.require_admin()?;
    store::webhooks::get(&mut db.read().await?, id).await
}

/// Changes a subscription (admin); an empty patch is refused.
pub async fn update(
    db: &Db,
    p: &Principal,
    id: String,
    patch: SubscriptionPatch,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Subscription) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    if patch == SubscriptionPatch::default() {
        return Err(Error::validation("body", "the patch changes nothing"));
    }
    let url = patch
        .url
        .as_deref()
        .map(|u| rules::validate_url("url", u))
        .transpose()?;
    let types = patch.event_types.as_deref();
    let types = types
        .map(|t| rules::validate_event_types("event_types", t))
        .transpose()?;
    let description = match &patch.description {
        Some(d) => Some(kernel::text::optional("description", d.as_deref(), 200)?),
        None => None,
    };
    let change = move |s: &mut Subscription| {
        s.url = url.unwrap_or(std::mem::take(&mut s.url));
        s.event_types = types.unwrap_or(std::mem::take(&mut s.event_types));
        s.description = description.unwrap_or(s.description.take());
        if let Some(status) = patch.status {
            s.status = status;
            s.disabled_reason =
                (status == SubscriptionStatus::Disabled).then(|| "disabled by an admin".to_owned());
        }
    };
    change_subscription(db, p, id, idempotency, change, render).await
}

/// Reads subscription `id`, changes it and saves it, as one admin command.
async fn change_subscription(
    db: &Db,
    p: &Principal,
    id: String,
    idempotency: Option<IdempotencyKey>,
    change: impl FnOnce(&mut Subscription) + Send + 'static,
    render: impl FnOnce(Subscription) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = crate::clock::now();
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, _| {
            Box::pin(async move {
                let mut s = store::webhooks::get(c, &id).await?;
                change(&mut s);
                s.updated_at = now;
                store::webhooks::save(c, &s).await?;
                Ok(s)
            })
        },
        render,
    )
    .await
}

/// Gives a subscription a new secret (admin); the previous one keeps signing, next to it,
/// for [`rules::PREVIOUS_SECRET_S`].
pub async fn rotate_secret(
    db: &Db,
    p: &Principal,
    id: String,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(Subscription) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = crate::clock::now();
    let secret = fresh_secret();
    let change = move |s: &mut Subscription| {
        s.previous_secret = Some(std::mem::replace(&mut s.secret, secret));
        let until = now.unix_ms() + rules::PREVIOUS_SECRET_S * 1000;
        s.previous_until = Some(Timestamp::from_unix_ms(until));
    };
    change_subscription(db, p, id, idempotency, change, render).await
}

/// A subscription's delivery log, newest first (admin).
pub async fn log(
    db: &Db,
    p: &Principal,
    id: &str,
    status: Option<&str>,
    (before, limit): (Option<i64>, i64),
) -> Result<Vec<Delivery>, Error> {
    p.require_admin()?;
    let mut conn = db.read().await?;
    store::webhooks::get(&mut conn, id).await?;
    store::webhooks::log(&mut conn, id, status, before, limit).await
}

/// Sends again one delivery (`Ok(seq)`) or every one queued since a time (admin).
pub async fn replay(
    db: &Db,
    p: &Principal,
    id: String,
    which: Result<i64, Timestamp>,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(u64) -> StoredResponse + Send + 'static,
) -> Result<StoredResponse, Error> {
    let now = crate::clock::now();
    as_writer(
        Needs::Admin,
        (db, p),
        idempotency,
        move |c, _| {
            Box::pin(async move {
                store::webhooks::get(c, &id).await?;
                store::webhooks::replay(c, &id, which, now).await
            })
        },
        render,
    )
    .await
}

/// Queues the next events (up to `batch`) for the active subscriptions that want them;
/// answers how many events were read (0: caught up). Two nodes queueing at once: one wins,
/// the other's command is refused and it reads again.
pub async fn queue(db: &Db, batch: i64) -> Result<usize, Error> {
    let from = store::feed::cursor(db, store::webhooks::CURSOR).await?;
    let start = match from {
        Some(at) => at,
        None => store::feed::head(db).await?,
    };
    let events = store::feed::read_after(db, start, batch).await?;
    let Some(last) = events.last().map(|e| e.position) else {
        if from.is_none() {
            save_start(db, start).await?;
        }
        return Ok(0);
    };
    // Read after the events: a subscription made before an event committed is in the list,
    // so none of the events it should get is passed over.
    let subscriptions = store::webhooks::all(&mut db.read().await?).await?;
    let mut queued = Vec::new();
    for e in &events {
        let wanting: Vec<&Subscription> = subscriptions
            .iter()
            .filter(|s| s.status == SubscriptionStatus::Active)
            .filter(|s| rules::wants(&s.event_types, &e.kind))
            .collect();
        if wanting.is_empty() {
            continue;
        }
        let event: outbox::CloudEvent = serde_json::from_str(&e.envelope).map_err(|x| {
            Error::internal(format!(
                "outbox row {} is not a CloudEvent: {x}",
                e.position.seq
            ))
        })?;
        for s in wanting {
            queued.push(Queued {
                subscription_id: s.id.clone(),
                seq: e.position.seq,
                event_id: event.id.clone(),
                event_type: e.kind.clone(),
                subject: event.subject.clone(),
            });
        }
    }
    let now = crate::clock::now();
    let read = events.len();
    db.write_background(move |c| {
        Box::pin(async move { store::webhooks::enqueue(c, &queued, (from, last), now).await })
    })
    .await?;
    Ok(read)
}

/// The first queueing starts from the outbox's head: a subscription gets what happens after
/// it exists.
async fn save_start(db: &Db, start: Position) -> Result<(), Error> {
    let now = crate::clock::now();
    db.write_background(move |c| {
        Box::pin(async move { store::webhooks::enqueue(c, &[], (None, start), now).await })
    })
    .await
}

/// Every subscription with its secrets, for the dispatcher that signs with them.
pub async fn for_dispatch(db: &Db) -> Result<Vec<Subscription>, Error> {
    store::webhooks::all(&mut db.read().await?).await
}

/// Subscription `id` with its secrets, if it is active (a worker's round).
pub async fn active_one(db: &Db, id: &str) -> Result<Option<Subscription>, Error> {
    Ok(store::webhooks::find(&mut db.read().await?, id)
        .await?
        .filter(|s| s.status == SubscriptionStatus::Active))
}

/// Claims up to `limit` due deliveries of subscription `id` for `lease_s` seconds.
pub async fn claim(db: &Db, id: &str, limit: i64, lease_s: i64) -> Result<Vec<Claimed>, Error> {
    let now = crate::clock::now();
    let until = Timestamp::from_unix_ms(now.unix_ms() + lease_s * 1000);
    let id = id.to_owned();
    let mut claimed = db
        .write_background(move |c| {
            Box::pin(async move { store::webhooks::claim(c, &id, (now, until), limit).await })
        })
        .await?;
    if !claimed.is_empty() {
        store::webhooks::with_envelopes(&mut db.read().await?, &mut claimed).await?;
    }
    Ok(claimed)
}

/// How one attempt went: the receiver's status, or why there was none.
#[derive(Debug, Clone)]
pub enum Attempt {
    Answered(u16),
    NoAnswer(String),
    /// Not sent: an earlier delivery of the same subject failed in this round.
    Skipped,
}

/// Records the attempts of claimed deliveries, deciding each with the delivery rules.
pub async fn finish(db: &Db, attempts: Vec<(Claimed, Attempt)>) -> Result<(), Error> {
    let now = crate::clock::now();
    let results: Vec<(String, i64, Finished)> = attempts
        .into_iter()
        .map(|(c, a)| {
            let (status, error) = match &a {
                Attempt::Answered(s) => (Some(*s), format!("answered {s}")),
                Attempt::NoAnswer(why) => (None, why.clone()),
                Attempt::Skipped => return (c.subscription_id, c.seq, Finished::Untried),
            };
            let how = match rules::verdict(status, c.attempts + 1, now) {
                Verdict::Delivered => Finished::Delivered {
                    status: status.unwrap_or(200),
                },
                Verdict::RetryAt(at) => Finished::Retry { at, status, error },
                Verdict::Gone => Finished::Failed {
                    status,
                    error,
                    reason: "the receiver answered 410 Gone".into(),
                },
                Verdict::GiveUp => Finished::Failed {
                    status,
                    error,
                    reason: "a delivery failed for the whole retry window (3 days)".into(),
                },
            };
            (c.subscription_id, c.seq, how)
        })
        .collect();
    db.write_background(move |c| {
        Box::pin(async move { store::webhooks::finish(c, &results, now, "webhooks").await })
    })
    .await
}
