//! Giving way: background work that can wait — webhook deliveries, notifications — lags
//! while clients keep the writer busy, instead of competing with them for the writer and the
//! CPU, and catches up when they let go.
//!
//! One task samples the writer ten times a second: when two or more client commands waited
//! at once since the last sample, the node is busy for the next half second. Background
//! loops ask [`Pace::busy`] before each round; busy, they take small batches at a slow beat
//! (never none: a node under constant load still delivers, later).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use store::Db;

/// Client commands waiting at once, since the last sample, that make the node busy.
const BUSY_WAITING: usize = 2;
/// How often the writer is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long one busy sample keeps the node busy.
const BUSY_FOR: Duration = Duration::from_millis(500);
/// The beat of background rounds while busy.
pub const BUSY_BEAT: Duration = Duration::from_millis(500);

/// Whether this node's clients are keeping its writer busy.
pub struct Pace {
    origin: Instant,
    /// Milliseconds after `origin` until which the node counts as busy.
    busy_until_ms: AtomicI64,
}

impl Pace {
    /// Starts sampling `db`'s writer; the task stops when the returned handle is aborted.
    pub fn start(db: Db) -> (Arc<Pace>, tokio::task::JoinHandle<()>) {
        let pace = Arc::new(Pace::idle());
        let sampler = pace.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tick.tick().await;
                if db.clients_busy(BUSY_WAITING) {
                    sampler.mark_busy();
                }
            }
        });
        (pace, task)
    }

    /// A pace that is never busy (tests, tools).
    pub fn idle() -> Pace {
        Pace {
            origin: Instant::now(),
            busy_until_ms: AtomicI64::new(0),
        }
    }

    fn now_ms(&self) -> i64 {
        self.origin.elapsed().as_millis() as i64
    }

    fn mark_busy(&self) {
        let until = self.now_ms() + BUSY_FOR.as_millis() as i64;
        self.busy_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    pub fn busy(&self) -> bool {
        self.now_ms() < self.busy_until_ms.load(Ordering::Relaxed)
    }

    /// `idle` when the node is free, `busy` while clients keep it busy.
    pub fn batch(&self, idle: i64, busy: i64) -> i64 {
        if self.busy() { busy } else { idle }
    }

    /// After a round of background work: under load, wait for the next beat.
    pub async fn give_way(&self) {
        if self.busy() {
            tokio::time::sleep(BUSY_BEAT).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_sample_lasts_half_a_second() {
        let p = Pace::idle();
        assert!(!p.busy());
        assert_eq!(p.batch(500, 100), 500);
        p.mark_busy();
        assert!(p.busy());
        assert_eq!(p.batch(500, 100), 100);
        p.busy_until_ms.store(p.now_ms() - 1, Ordering::Relaxed);
        assert!(!p.busy());
    }
}
