//! The webhook dispatcher, on every node: queues outbox events for the subscriptions that
//! want them, claims the deliveries that are due (a lease: each goes out from one node),
//! and POSTs them signed as the Standard Webhooks specification says, with a timeout per
//! attempt. Receivers are sent to side by side, so a slow or dead one holds up only itself;
//! within one subscription the deliveries of a subject go in order, and one that fails holds
//! back the later ones of its subject until it is retried. Nothing here runs on the writer
//! but one short command per batch.

use std::collections::BTreeMap;
use std::time::Duration;

use app::webhooks::Attempt;
use kernel::Timestamp;
use store::Db;
use store::webhooks::{Claimed, Subscription};

/// How long one attempt may take before it counts as no answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is this node's: past it, another node may send it.
const LEASE_S: i64 = 60;
/// Events queued, and deliveries claimed, per round.
const BATCH: i64 = 500;
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

/// Runs the dispatcher until the task is dropped.
pub async fn run(db: Db) {
    let client = client();
    loop {
        match round(&db, &client).await {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhook round failed; will retry");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

/// One round: queue what is new, send what is due. Answers how much was done (0: idle).
pub async fn round(db: &Db, client: &reqwest::Client) -> Result<usize, kernel::Error> {
    let queued = match app::webhooks::queue(db, BATCH).await {
        Ok(n) => n,
        // Another node queued the same events first: they are queued.
        Err(e) if e.code == kernel::ErrorCode::Conflict => 1,
        Err(e) => return Err(e),
    };
    let claimed = app::webhooks::claim(db, BATCH, LEASE_S).await?;
    let sent = claimed.len();
    if sent > 0 {
        let subscriptions: BTreeMap<String, Subscription> = app::webhooks::for_dispatch(db)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let attempts = send_all(client, &subscriptions, claimed).await;
        app::webhooks::finish(db, attempts).await?;
    }
    Ok(queued + sent)
}

/// Sends every claimed delivery: subjects side by side, each subject's in order, stopping a
/// subject at its first failure (the rest are given back untried).
async fn send_all(
    client: &reqwest::Client,
    subscriptions: &BTreeMap<String, Subscription>,
    claimed: Vec<Claimed>,
) -> Vec<(Claimed, Attempt)> {
    let mut by_subject: BTreeMap<(String, String), Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_subject
            .entry((c.subscription_id.clone(), c.subject.clone()))
            .or_default()
            .push(c);
    }
    let lanes = by_subject.into_values().map(|lane| async move {
        let mut done = Vec::with_capacity(lane.len());
        let mut blocked = false;
        for c in lane {
            let attempt = match (blocked, subscriptions.get(&c.subscription_id)) {
                (false, Some(s)) => send(client, s, &c).await,
                _ => Attempt::Skipped,
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
    match sent {
        Ok(r) => Attempt::Answered(r.status().as_u16()),
        Err(e) if e.is_timeout() => Attempt::NoAnswer("no answer within 10 s".into()),
        Err(e) => Attempt::NoAnswer(format!("could not reach the receiver: {e}")),
    }
}
