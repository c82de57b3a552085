//! The webhook dispatcher, on every node: queues outbox events for the subscriptions that
//! want them, and gives each active subscription a worker that claims its due deliveries (a
//! lease: each goes out from one node) and POSTs them signed as the Standard Webhooks
//! specification says, with a timeout per attempt. A slow or dead receiver holds up only its
//! own worker; within a subscription the deliveries of a subject go in order, and one that
//! fails holds back the later ones of its subject until it is retried. Nothing here runs on
//! the writer but one short command per batch, and while clients keep the writer busy it
//! takes small batches at a slow beat ([`Pace`]): deliveries lag, checkouts do not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::webhooks::Attempt;
use kernel::Timestamp;
use store::Db;
use store::webhooks::{Claimed, Subscription};

use crate::pace::Pace;

/// How long one attempt may take before it counts as no answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is this node's: past it, another node may send it.
const LEASE_S: i64 = 60;
/// Events queued, and deliveries claimed, per round.
const BATCH: i64 = 500;
/// The same while clients keep the writer busy (see [`Pace`]).
const BUSY_BATCH: i64 = 100;
/// The pause when there was nothing to do.
const IDLE: Duration = Duration::from_millis(200);

/// The HTTP client deliveries go out with.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Relais-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Runs the dispatcher until the task is dropped: one task queues events, and each active
/// subscription has a worker of its own, so a slow receiver holds up only its own deliveries.
pub async fn run(db: Db, pace: Arc<Pace>) {
    let client = client();
    let mut workers = Workers::default();
    loop {
        let batch = pace.batch(BATCH, BUSY_BATCH);
        let busy = match app::webhooks::queue(&db, batch).await {
            Ok(n) => n > 0,
            // Another node queued the same events first: they are queued.
            Err(e) if e.code == kernel::ErrorCode::Conflict => true,
            Err(e) => {
                tracing::warn!(error = %e, "queueing webhook deliveries failed; will retry");
                false
            }
        };
        let subscriptions = match app::webhooks::for_dispatch(&db).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "reading webhook subscriptions failed; will retry");
                tokio::time::sleep(IDLE).await;
                continue;
            }
        };
        let active: Vec<String> = subscriptions
            .into_iter()
            .filter(|s| s.status == outbox::webhooks::SubscriptionStatus::Active)
            .map(|s| s.id)
            .collect();
        workers
            .0
            .retain(|id, w| !w.is_finished() || active.contains(id));
        for id in active {
            if workers.0.get(&id).is_none_or(|w| w.is_finished()) {
                let (db, client, pace) = (db.clone(), client.clone(), pace.clone());
                let task = tokio::spawn(worker(db, client, pace, id.clone()));
                workers.0.insert(id, task);
            }
        }
        if !busy {
            tokio::time::sleep(IDLE).await;
        }
        pace.give_way().await;
    }
}

/// The subscriptions' workers, by subscription id; aborted when the dispatcher is dropped
/// (the server stops), so none outlives it.
#[derive(Default)]
struct Workers(BTreeMap<String, tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in self.0.values() {
            w.abort();
        }
    }
}

/// Delivers one subscription's due deliveries until it is no longer active.
async fn worker(db: Db, client: reqwest::Client, pace: Arc<Pace>, id: String) {
    loop {
        pace.give_way().await;
        match round(&db, &client, &id, pace.batch(BATCH, BUSY_BATCH)).await {
            Ok(None) => return,
            Ok(Some(0)) => tokio::time::sleep(IDLE).await,
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, subscription = %id, "webhook round failed; will retry");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

/// One round of one subscription: claim up to `batch` due deliveries, send them, record how
/// it went. Answers how many were sent, or `None` when the subscription is no longer active.
pub async fn round(
    db: &Db,
    client: &reqwest::Client,
    id: &str,
    batch: i64,
) -> Result<Option<usize>, kernel::Error> {
    // Read first: a claim takes only an active subscription's deliveries.
    let Some(subscription) = app::webhooks::active_one(db, id).await? else {
        return Ok(None);
    };
    let claimed = app::webhooks::claim(db, id, batch, LEASE_S).await?;
    let sent = claimed.len();
    if sent > 0 {
        let attempts = send_all(client, &subscription, claimed).await;
        app::webhooks::finish(db, attempts).await?;
    }
    Ok(Some(sent))
}

/// Sends a subscription's claimed deliveries: subjects side by side, each subject's in
/// order, stopping a subject at its first failure (the rest are given back untried).
async fn send_all(
    client: &reqwest::Client,
    subscription: &Subscription,
    claimed: Vec<Claimed>,
) -> Vec<(Claimed, Attempt)> {
    let mut by_subject: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_subject.entry(c.subject.clone()).or_default().push(c);
    }
    let lanes = by_subject.into_values().map(|lane| async move {
        let mut done = Vec::with_capacity(lane.len());
        let mut blocked = false;
        for c in lane {
            let attempt = match blocked {
                false => send(client, subscription, &c).await,
                true => Attempt::Skipped,
            };
            blocked |= !matches!(attempt, Attempt::Answered(200..=299));
            done.push((c, attempt));
        }
        done
    });
    futures::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One signed attempt.
async fn send(client: &reqwest::Client, s: &Subscription, c: &Claimed) -> Attempt {
    let at = Timestamp::now();
    let previous = s.previous_secret.as_deref().zip(s.previous_until);
    let signature =
        outbox::webhooks::signature_header(&s.secret, previous, (&c.event_id, at, &c.envelope));
    let sent = client
        .post(&s.url)
        .header("content-type", "application/json")
        .header("webhook-id", &c.event_id)
        .header(
            "webhook-timestamp",
            at.unix_ms().div_euclid(1000).to_string(),
        )
        .header("webhook-signature", signature)
        .body(c.envelope.clone())
        .send()
        .await;
    let attempt = match sent {
        Ok(r) => Attempt::Answered(r.status().as_u16()),
        Err(e) if e.is_timeout() => Attempt::NoAnswer("no answer within 10 s".into()),
        Err(e) => Attempt::NoAnswer(format!("could not reach the receiver: {e}")),
    };
    let outcome = match &attempt {
        Attempt::Answered(200..=299) => "delivered",
        Attempt::Answered(410) => "gone",
        Attempt::Answered(_) => "refused",
        _ => "no_answer",
    };
    metrics::counter!("relais_webhook_attempts_total", "outcome" => outcome).increment(1);
    attempt
}
