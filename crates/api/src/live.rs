//! Live availability: one feed per node reads committed stock changes from the outbox and
//! hands them to the subscribers whose filter they match.
//!
//! Every stock event carries the level after the change (`data.availability`). The node's
//! feed task follows the outbox in commit order ([`store::feed`]), woken by each local commit
//! and polling for other nodes' commits, and dispatches each change to the subscribers
//! indexed under its SKU or location. A subscriber that falls behind (its queue is full) is
//! dropped by the hub and catches up by reading the outbox itself from the last change it
//! delivered, then subscribes again — so a slow client delays only itself and loses nothing.
//! The same outbox position makes a stream resumable: an SSE client's `Last-Event-ID` is the
//! outbox sequence number of the last change it received.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use inventory::LevelSnapshot;
use kernel::{Error, Timestamp};
use serde::Deserialize;
use store::Db;
use store::feed::{FeedRow, Position};
use tokio::sync::{OnceCell, mpsc};

/// How many changes wait for a subscriber before the hub drops it (it then catches up from
/// the outbox).
pub const SUBSCRIBER_QUEUE: usize = 4096;
/// How often the feed looks for commits made by other nodes (its own commits wake it).
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Outbox rows read per query.
const READ_BATCH: i64 = 1000;

/// A committed change of a level, in outbox order.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub position: Position,
    /// The outbox sequence number: the SSE event id.
    pub seq: i64,
    /// The event that caused it, e.g. `relais.hold.created`.
    pub cause: String,
    pub at: Timestamp,
    pub level: LevelSnapshot,
    /// The event as most subscribers get it, rendered once for all of them: without and
    /// with the books (see `routes::stream`).
    pub rendered: [std::sync::OnceLock<String>; 2],
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    time: Timestamp,
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    availability: Option<LevelSnapshot>,
}

/// The level change an outbox row carries, if any.
pub fn change_of(row: &FeedRow) -> Option<Change> {
    // Only stock and hold events move levels; skip parsing the rest.
    if !(row.kind.starts_with("relais.stock.") || row.kind.starts_with("relais.hold.")) {
        return None;
    }
    let envelope: Envelope = serde_json::from_str(&row.envelope).ok()?;
    Some(Change {
        position: row.position,
        seq: row.position.seq,
        cause: envelope.kind,
        at: envelope.time,
        level: envelope.data.availability?,
        rendered: Default::default(),
    })
}

/// Which changes a subscriber wants: some SKUs and/or some locations (`None`: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub skus: Option<HashSet<String>>,
    pub locations: Option<HashSet<String>>,
}

impl Filter {
    pub fn matches(&self, level: &LevelSnapshot) -> bool {
        self.skus.as_ref().is_none_or(|s| s.contains(&level.sku))
            && self
                .locations
                .as_ref()
                .is_none_or(|l| l.contains(&level.location))
    }
}

struct Subscriber {
    filter: Filter,
    queue: mpsc::Sender<Arc<Change>>,
}

/// Subscribers indexed by what their filter names, so a change reaches only candidates.
#[derive(Default)]
struct Registry {
    /// The last outbox position dispatched: a new subscriber gets every change after it.
    position: Position,
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    by_sku: HashMap<String, Vec<u64>>,
    by_location: HashMap<String, Vec<u64>>,
    everything: Vec<u64>,
}

impl Registry {
    fn index_keys(filter: &Filter) -> (Vec<String>, bool) {
        match (&filter.skus, &filter.locations) {
            (Some(skus), _) => (skus.iter().cloned().collect(), true),
            (None, Some(locations)) => (locations.iter().cloned().collect(), false),
            (None, None) => (Vec::new(), false),
        }
    }

    fn insert(&mut self, filter: Filter, queue: mpsc::Sender<Arc<Change>>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let (keys, by_sku) = Self::index_keys(&filter);
        if filter.skus.is_none() && filter.locations.is_none() {
            self.everything.push(id);
        }
        let index = if by_sku {
            &mut self.by_sku
        } else {
            &mut self.by_location
        };
        for key in keys {
            index.entry(key).or_default().push(id);
        }
        self.subscribers.insert(id, Subscriber { filter, queue });
        id
    }

    fn remove(&mut self, id: u64) {
        let Some(gone) = self.subscribers.remove(&id) else {
            return;
        };
        let (keys, by_sku) = Self::index_keys(&gone.filter);
        let index = if by_sku {
            &mut self.by_sku
        } else {
            &mut self.by_location
        };
        for key in keys {
            if let Some(ids) = index.get_mut(&key) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    index.remove(&key);
                }
            }
        }
        self.everything.retain(|i| *i != id);
    }

    /// Hands `change` to every matching subscriber; drops those that cannot take it.
    fn dispatch(&mut self, change: &Arc<Change>) {
        let level = &change.level;
        let candidates = self
            .by_sku
            .get(&level.sku)
            .into_iter()
            .chain(self.by_location.get(&level.location))
            .flatten()
            .chain(&self.everything);
        let mut dropped = Vec::new();
        for id in candidates {
            let Some(sub) = self.subscribers.get(id) else {
                continue;
            };
            if sub.filter.matches(level) && sub.queue.try_send(change.clone()).is_err() {
                // Full (it lags: it will catch up from the outbox) or closed (it left).
                dropped.push(*id);
            }
        }
        for id in dropped {
            self.remove(id);
        }
    }
}

/// The node's live availability hub.
pub struct Hub {
    db: Db,
    queue_size: usize,
    registry: Mutex<Registry>,
    started: OnceCell<()>,
    /// Counts the times the feed found new outbox rows, from any node or process: while it
    /// stands still, nothing anywhere has changed (up to the feed's poll interval).
    feed_epoch: std::sync::atomic::AtomicU64,
}

/// A registration with the hub; unregisters when dropped.
pub struct Subscription {
    id: u64,
    /// Every change after this position comes through `changes` (until the hub drops us).
    pub from: Position,
    hub: Weak<Hub>,
    pub changes: mpsc::Receiver<Arc<Change>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.registry_mut().remove(self.id);
            hub.count_subscribers();
        }
    }
}

impl Hub {
    pub fn new(db: Db) -> Arc<Hub> {
        Hub::with_queue(db, SUBSCRIBER_QUEUE)
    }

    /// A hub whose subscribers lag after `queue_size` undelivered changes (tests use a few).
    pub fn with_queue(db: Db, queue_size: usize) -> Arc<Hub> {
        Arc::new(Hub {
            db,
            queue_size: queue_size.max(1),
            registry: Mutex::new(Registry::default()),
            started: OnceCell::new(),
            feed_epoch: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Starts the node's feed if it is not running yet.
    async fn start(self: &Arc<Self>) -> Result<(), Error> {
        self.started
            .get_or_try_init(|| async {
                let from = store::feed::head(&self.db).await?;
                self.registry_mut().position = from;
                tokio::spawn(run_feed(Arc::downgrade(self), self.db.clone(), from));
                Ok::<(), Error>(())
            })
            .await?;
        Ok(())
    }

    /// The feed epoch (see `feed_epoch`), starting the feed on first use. Read it before
    /// reading the database: an answer read then is current while the epoch stays the same
    /// and this node has not committed.
    pub async fn feed_epoch(self: &Arc<Self>) -> Result<u64, Error> {
        self.start().await?;
        Ok(self.feed_epoch.load(std::sync::atomic::Ordering::Acquire))
    }

    fn registry_mut(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while dispatching leaves the registry usable: recover the guard.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count_subscribers(&self) {
        let n = self.registry_mut().subscribers.len();
        metrics::gauge!("relais_live_subscribers").set(n as f64);
    }

    /// Registers a subscriber; the node's feed starts with the first one.
    pub async fn subscribe(self: &Arc<Self>, filter: Filter) -> Result<Subscription, Error> {
        self.start().await?;
        let (queue, changes) = mpsc::channel(self.queue_size);
        let (id, from) = {
            let mut registry = self.registry_mut();
            (registry.insert(filter, queue), registry.position)
        };
        self.count_subscribers();
        Ok(Subscription {
            id,
            from,
            hub: Arc::downgrade(self),
            changes,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The feed: follows the outbox and dispatches level changes until the hub is gone.
async fn run_feed(hub: Weak<Hub>, db: Db, mut position: Position) {
    let mut commits = db.commits();
    loop {
        let rows = match store::feed::read_after(&db, position, READ_BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "live feed: reading the outbox failed; will retry");
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            }
        };
        let Some(hub) = hub.upgrade() else { return };
        if let Some(last) = rows.last() {
            position = last.position;
            hub.feed_epoch
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            let changes: Vec<Arc<Change>> =
                rows.iter().filter_map(change_of).map(Arc::new).collect();
            let mut registry = hub.registry_mut();
            for change in &changes {
                registry.dispatch(change);
            }
            registry.position = position;
            drop(registry);
            hub.count_subscribers();
        }
        drop(hub);
        if rows.len() as i64 == READ_BATCH {
            continue;
        }
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { tokio::time::sleep(POLL_EVERY).await },
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// Follows the changes a filter matches, in order and without gaps, across lag and
/// resubscription: from `resume_after`, or from when `subscription` was taken.
///
/// The caller subscribes first (`Hub::subscribe` with the same filter), so that a client
/// gets every change committed after its request was answered. Pull-based: the SSE body
/// asks for the next change itself, so a delivery costs no task hand-over.
pub struct Follower {
    hub: Arc<Hub>,
    filter: Filter,
    subscription: Option<Subscription>,
    /// The last change delivered (or skipped as not matching while catching up).
    last: Option<Position>,
    /// Read from the outbox while catching up, not yet delivered.
    backlog: std::collections::VecDeque<Arc<Change>>,
    /// Reading the outbox from `last` until it is exhausted.
    catching_up: bool,
}

impl Follower {
    pub fn new(
        hub: Arc<Hub>,
        filter: Filter,
        resume_after: Option<Position>,
        subscription: Subscription,
    ) -> Follower {
        Follower {
            last: Some(resume_after.unwrap_or(subscription.from)),
            catching_up: resume_after.is_some(),
            subscription: Some(subscription),
            hub,
            filter,
            backlog: Default::default(),
        }
    }

    /// The next matching change, waiting for it if need be.
    pub async fn next(&mut self) -> Result<Arc<Change>, Error> {
        loop {
            if let Some(change) = self.backlog.pop_front() {
                return Ok(change);
            }
            if self.subscription.is_none() {
                // The hub dropped us (we lagged): subscribe again, then catch up from `last`.
                self.subscription = Some(self.hub.subscribe(self.filter.clone()).await?);
                self.catching_up = true;
            }
            if self.catching_up {
                self.read_backlog().await?;
                continue;
            }
            let Some(sub) = self.subscription.as_mut() else {
                continue;
            };
            match sub.changes.recv().await {
                Some(change) if self.last.is_some_and(|l| change.position <= l) => {}
                Some(change) => {
                    self.last = Some(change.position);
                    return Ok(change);
                }
                None => self.subscription = None,
            }
        }
    }

    /// Reads the next batch of the outbox after `last` into the backlog.
    async fn read_backlog(&mut self) -> Result<(), Error> {
        let Some(from) = self.last else {
            self.catching_up = false;
            return Ok(());
        };
        let rows = store::feed::read_after(self.hub.db(), from, READ_BATCH).await?;
        self.catching_up = rows.len() as i64 == READ_BATCH;
        for row in &rows {
            self.last = Some(row.position);
            if let Some(change) = change_of(row)
                && self.filter.matches(&change.level)
            {
                self.backlog.push_back(Arc::new(change));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(sku: &str, location: &str) -> LevelSnapshot {
        LevelSnapshot::new(sku, location, inventory::Level::default())
    }

    fn change(seq: i64, sku: &str, location: &str) -> Arc<Change> {
        Arc::new(Change {
            position: Position { txid: 0, seq },
            seq,
            cause: "relais.stock.moved".into(),
            at: Timestamp::now(),
            level: level(sku, location),
            rendered: Default::default(),
        })
    }

    fn set(items: &[&str]) -> Option<HashSet<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn filters_by_sku_and_location() {
        let both = Filter {
            skus: set(&["A"]),
            locations: set(&["L1"]),
        };
        assert!(both.matches(&level("A", "L1")));
        assert!(!both.matches(&level("A", "L2")));
        assert!(!both.matches(&level("B", "L1")));
        assert!(Filter::default().matches(&level("Z", "Z")));
    }

    #[test]
    fn dispatch_reaches_only_matching_subscribers_and_drops_the_full() {
        let mut reg = Registry::default();
        let (tx_a, mut rx_a) = mpsc::channel(8);
        let (tx_l, mut rx_l) = mpsc::channel(8);
        let (tx_all, mut rx_all) = mpsc::channel(1);
        reg.insert(
            Filter {
                skus: set(&["A"]),
                locations: None,
            },
            tx_a,
        );
        reg.insert(
            Filter {
                skus: None,
                locations: set(&["L2"]),
            },
            tx_l,
        );
        let all = reg.insert(Filter::default(), tx_all);
        reg.dispatch(&change(1, "A", "L1"));
        reg.dispatch(&change(2, "B", "L2"));
        assert_eq!(rx_a.try_recv().unwrap().seq, 1);
        assert!(rx_a.try_recv().is_err());
        assert_eq!(rx_l.try_recv().unwrap().seq, 2);
        // The catch-all had room for one: the second change dropped it.
        assert_eq!(rx_all.try_recv().unwrap().seq, 1);
        assert!(!reg.subscribers.contains_key(&all));
        assert!(reg.everything.is_empty());
        reg.dispatch(&change(3, "A", "L2"));
        assert_eq!(rx_a.try_recv().unwrap().seq, 3);
        assert_eq!(rx_l.try_recv().unwrap().seq, 3);
    }

    #[test]
    fn removing_cleans_the_indexes() {
        let mut reg = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        let id = reg.insert(
            Filter {
                skus: set(&["A", "B"]),
                locations: None,
            },
            tx,
        );
        reg.remove(id);
        assert!(reg.by_sku.is_empty() && reg.subscribers.is_empty());
    }

    #[test]
    fn only_stock_events_with_a_level_are_changes() {
        let row = |kind: &str, data: serde_json::Value| FeedRow {
            position: Position { txid: 0, seq: 7 },
            kind: kind.into(),
            envelope: serde_json::json!({"type": kind, "time": Timestamp::now(), "data": data})
                .to_string(),
        };
        let lvl = serde_json::json!({"availability": level("A", "L1")});
        assert!(change_of(&row("relais.product.created", lvl.clone())).is_none());
        assert!(change_of(&row("relais.hold.created", serde_json::json!({}))).is_none());
        let c = change_of(&row("relais.hold.created", lvl)).unwrap();
        assert_eq!((c.seq, c.level.sku.as_str()), (7, "A"));
    }
}
