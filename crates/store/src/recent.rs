//! Which identities the SQLite writer changed lately, so that owners read outside the writer
//! can be trusted inside it.
//!
//! A batch of events needs the owner of every identifier it names. Looking them up on the
//! writer cost about a seventh of its time, while the other core waited; so the request's
//! task reads them from a reader connection first, and the writer re-reads only those that
//! may have changed since. Every change of an identity's owner made through the writer is
//! noted here, tagged with the batch that made it: attaching an identifier, verifying it,
//! moving a merged profile's identities, erasing a profile's. A read taken when `sealed`
//! batches had finished sees every change tagged up to `sealed` (those batches committed
//! before it began) and maybe some later ones; changes tagged later make the identifiers
//! they touch suspect. Notes older than [`KEEP`] batches are forgotten, and a read older than
//! what is remembered is not trusted at all — nor is any read when another connection has
//! written to the database file (a second process: SQLite's `data_version` tells).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use customers::Identifier;

/// Batches whose changes are remembered.
const KEEP: u64 = 256;

/// The writer's recent identity changes (SQLite only; PostgreSQL nodes look owners up in
/// their commands, under row locks).
#[derive(Debug, Default)]
pub struct RecentChanges {
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    /// Batches the writer has finished (committed or rolled back).
    sealed: u64,
    /// Reads taken before this many batches had finished are not trusted.
    horizon: u64,
    /// Identifiers whose owner or proof changed, with the batch that changed them.
    identifiers: HashMap<Identifier, u64>,
    /// Profiles whose identities moved or were deleted, with the batch.
    profiles: HashMap<String, u64>,
    /// SQLite's `data_version` on the writer's connection when last looked at.
    data_version: Option<i64>,
}

impl RecentChanges {
    /// The mark a read must take before it begins.
    pub fn sealed(&self) -> u64 {
        self.lock().sealed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a change of `id`'s owner or proof by the batch under way.
    pub(crate) fn identifier(&self, id: &Identifier) {
        let mut log = self.lock();
        let tag = log.sealed + 1;
        log.identifiers.insert(id.clone(), tag);
    }

    /// Notes that the identities of `profile` moved or were deleted by the batch under way.
    pub(crate) fn profile(&self, profile: &str) {
        let mut log = self.lock();
        let tag = log.sealed + 1;
        log.profiles.insert(profile.to_owned(), tag);
    }

    /// Called by the writer after every batch, committed or not (a rolled-back change only
    /// makes reads re-check more than they need).
    pub(crate) fn seal(&self) {
        let mut log = self.lock();
        log.sealed += 1;
        if log.sealed.is_multiple_of(KEEP / 4) && log.sealed > KEEP {
            let forget = log.sealed - KEEP;
            log.identifiers.retain(|_, tag| *tag > forget);
            log.profiles.retain(|_, tag| *tag > forget);
            log.horizon = log.horizon.max(forget);
        }
    }

    /// Compares SQLite's `data_version` with the last one seen: another connection committed
    /// meanwhile if it moved, and no read taken so far is trusted.
    pub(crate) fn saw_data_version(&self, version: i64) {
        let mut log = self.lock();
        if log.data_version.is_some_and(|v| v != version) {
            log.horizon = log.sealed + 1;
        }
        log.data_version = Some(version);
    }

    /// The identifiers of a read taken at `since` (with the owners it found) that must be
    /// looked up again: all of them if the read is too old to judge.
    pub(crate) fn suspects<'a>(
        &self,
        since: u64,
        read: impl Iterator<Item = (&'a Identifier, Option<&'a str>)>,
    ) -> HashSet<Identifier> {
        let log = self.lock();
        let trusted = since >= log.horizon;
        read.filter(|(id, owner)| {
            !trusted
                || log.identifiers.get(*id).is_some_and(|t| *t > since)
                || owner.is_some_and(|o| log.profiles.get(o).is_some_and(|t| *t > since))
        })
        .map(|(id, _)| id.clone())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use customers::IdentityKind;

    fn id(v: &str) -> Identifier {
        Identifier {
            kind: IdentityKind::WebAnonymous,
            value: v.into(),
        }
    }

    fn suspects(r: &RecentChanges, since: u64, read: &[(Identifier, Option<&str>)]) -> Vec<String> {
        let mut s: Vec<String> = r
            .suspects(since, read.iter().map(|(i, o)| (i, *o)))
            .into_iter()
            .map(|i| i.value)
            .collect();
        s.sort();
        s
    }

    #[test]
    fn changes_after_a_read_make_its_identifiers_suspect_and_earlier_ones_do_not() {
        let r = RecentChanges::default();
        r.identifier(&id("a")); // batch 1
        r.seal();
        let since = r.sealed(); // a read sees batch 1
        r.identifier(&id("b")); // batch 2, after the read
        r.profile("cus_merged");
        let read = [
            (id("a"), Some("cus_1")),
            (id("b"), None),
            (id("c"), Some("cus_merged")),
            (id("d"), Some("cus_2")),
        ];
        assert_eq!(suspects(&r, since, &read), ["b", "c"]);
        // A read taken before batch 1 finished cannot trust `a` either.
        assert_eq!(suspects(&r, since - 1, &read), ["a", "b", "c"]);
    }

    #[test]
    fn old_reads_and_foreign_writes_are_not_trusted() {
        let r = RecentChanges::default();
        for _ in 0..KEEP * 2 {
            r.seal();
        }
        let read = [(id("x"), Some("cus_1"))];
        assert_eq!(suspects(&r, r.sealed(), &read), Vec::<String>::new());
        assert_eq!(
            suspects(&r, 1, &read),
            ["x"],
            "older than what is remembered"
        );
        r.saw_data_version(7);
        assert!(
            suspects(&r, r.sealed(), &read).is_empty(),
            "first look: nothing moved"
        );
        r.saw_data_version(8);
        assert_eq!(
            suspects(&r, r.sealed(), &read),
            ["x"],
            "another connection wrote"
        );
        r.seal();
        assert!(
            suspects(&r, r.sealed(), &read).is_empty(),
            "reads after it are trusted"
        );
    }
}
