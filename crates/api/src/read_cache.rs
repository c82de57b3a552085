//! Availability answers kept until the next commit on this node.
//!
//! A product page asks for the same variant's availability again and again between two stock
//! changes. An answer is stored with the node's commit count at the moment its read began
//! (`Db::commit_count`), and served only while that count is unchanged and the answer is
//! younger than [`MAX_AGE`]. The writer counts a commit before it answers the writer's
//! caller, so a client that got its write acknowledged never reads an answer from before it
//! on this node; other nodes' commits (PostgreSQL) show within `MAX_AGE`. Any commit clears
//! the way for fresh reads, so under write load this cache simply misses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The most an answer may lag a commit made through another node.
pub const MAX_AGE: Duration = Duration::from_millis(100);
/// Entries kept at most; past it the cache starts afresh (it refills in one commit's time).
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    commits: u64,
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

    /// The answer stored under `key`, if it was read at commit count `commits` and is fresh.
    pub fn get(&self, key: &str, commits: u64) -> Option<Bytes> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        (entry.commits == commits && entry.at.elapsed() < MAX_AGE).then(|| entry.body.clone())
    }

    /// Stores an answer whose read began at commit count `commits`.
    pub fn put(&self, key: String, commits: u64, body: Bytes) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                commits,
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
    fn an_answer_lives_until_the_next_commit_or_its_age() {
        let cache = ReadCache::default();
        cache.put("A".into(), 7, Bytes::from_static(b"{}"));
        assert!(cache.get("A", 7).is_some());
        assert!(cache.get("A", 8).is_none(), "a commit happened since");
        assert!(cache.get("B", 7).is_none());
        std::thread::sleep(MAX_AGE);
        assert!(cache.get("A", 7).is_none(), "too old");
    }
}
