//! Recently seen API tokens, kept in memory so that most requests cost no database read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Recently seen tokens, so that most requests cost no database read. Revocation is seen
/// at once on the node that revoked, and within [`CACHE_TTL`] on the others.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Option<app::Principal>, Instant)>>,
}

pub const CACHE_TTL: Duration = Duration::from_secs(10);
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
const CACHE_MAX: usize = 10_000;

impl KeyCache {
    pub(crate) fn get(&self, token_hash: &str) -> Option<Option<app::Principal>> {
        let entries = self.entries.lock().ok()?;
        let (principal, at) = entries.get(token_hash)?;
        let ttl = if principal.is_some() {
            CACHE_TTL
        } else {
            NEGATIVE_TTL
        };
        (at.elapsed() < ttl).then(|| principal.clone())
    }

    pub(crate) fn put(&self, token_hash: String, principal: Option<app::Principal>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(token_hash, (principal, Instant::now()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
