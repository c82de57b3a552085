//! Availability answers kept until something changes.
//!
//! A product page asks for the same variant's availability again and again between two stock
//! changes. An answer is stored with what the node knew when its read began: its own commit
//! count (`Db::commit_count`) and the live feed's epoch (`live::Hub::feed_epoch`, which moves
//! when the feed — polling every 100 ms — finds rows committed by any node or process). It is
//! served while both are unchanged and it is younger than [`MAX_AGE`]. The writer counts a
//! commit before it answers its caller, so a client whose write was acknowledged never reads
//! an answer from before it on this node; other nodes' commits show within the feed's poll
//! (and at most `MAX_AGE`, should a long PostgreSQL transaction hold the feed back). Any
//! change clears the way for fresh reads, so under write load this cache simply misses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The most an answer may ever lag a commit made through another node.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Entries kept at most; past it the cache starts afresh (it refills in one commit's time).
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    commits: u64,
    epoch: u64,
    at: Instant,
    body: Bytes,
}

#[derive(Default)]
pub struct ReadCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ReadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer stored under `key`, if it was read at commit count `commits` and feed epoch
    /// `epoch`, and is younger than `MAX_AGE`.
    pub fn get(&self, key: &str, commits: u64, epoch: u64) -> Option<Bytes> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        (entry.commits == commits && entry.epoch == epoch && entry.at.elapsed() < MAX_AGE)
            .then(|| entry.body.clone())
    }

    /// Stores an answer whose read began at commit count `commits` and feed epoch `epoch`.
    pub fn put(&self, key: String, commits: u64, epoch: u64, body: Bytes) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                commits,
                epoch,
                at: Instant::now(),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lives_until_the_next_commit_feed_change_or_its_age() {
        let cache = ReadCache::default();
        cache.put("A".into(), 7, 3, Bytes::from_static(b"{}"));
        assert!(cache.get("A", 7, 3).is_some());
        assert!(cache.get("A", 8, 3).is_none(), "a commit happened since");
        assert!(
            cache.get("A", 7, 4).is_none(),
            "the feed saw a change since"
        );
        assert!(cache.get("B", 7, 3).is_none());
        std::thread::sleep(MAX_AGE);
        assert!(cache.get("A", 7, 3).is_none(), "too old");
    }
}
