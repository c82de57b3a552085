//! Scenario `events-floor`: what a SQLite writer must write to keep what `events` keeps,
//! with identity resolution itself free.
//!
//! It answers "how fast could the store's tables take these events?" without the server:
//! a fresh database gets Relais's own migrations, then one thread — the writer — appends the
//! same simulated events to the log in batches (one durable commit each) and, every `run`
//! events, writes what resolving them leaves behind: new profiles, their identities, merges
//! (the absorbed profile forwarded, its identities and event keys moved, a merge record) and
//! one key per event, in one commit. Which profile an event belongs to is worked out in
//! memory, at no cost worth counting. The server's writer does more per event (HTTP and
//! JSON are parsed elsewhere, but it looks owners up, applies the guard rails, writes the
//! outbox) and groups several requests' appends into one commit, so this is an estimate of
//! the writes' share, not a strict bound. A second thread checkpoints the WAL every 250 ms
//! as the server's does. The line reports the writer's seconds, its CPU, the rate they
//! allow, and where the seconds went.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::events::{Load, Named};
use crate::server::cpu_seconds_of;

const NOW: &str = "2026-01-01T12:00:00.000000Z";

pub async fn run(load: Load, run_len: u64) -> anyhow::Result<()> {
    load.check()?;
    anyhow::ensure!(run_len > 0, "--run must be positive");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("floor.db");
    let url = format!("sqlite://{}", path.display());
    let db = store::Db::connect(&url, store::DbOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("open {url}: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| anyhow::anyhow!("migrate {url}: {e}"))?;
    drop(db);
    let floor = Floor { load, run_len };
    let figures = tokio::task::spawn_blocking(move || floor.write(&path)).await??;
    figures.print(&floor);
    Ok(())
}

/// The `events` scenario's load, and how many events one run resolves.
#[derive(Debug, Clone, Copy)]
struct Floor {
    load: Load,
    run_len: u64,
}

/// Seconds the writer spent on each kind of write, and what it wrote.
#[derive(Debug, Default)]
struct Figures {
    appends: Duration,
    profiles: Duration,
    identities: Duration,
    merges: Duration,
    keys: Duration,
    run_commits: Duration,
    checkpoints: Duration,
    /// The writer thread's CPU (user + system) over the run: its busy seconds less the
    /// time it waited for the disk (Linux only).
    writer_cpu_s: Option<f64>,
    profiles_created: u64,
    merges_made: u64,
}

impl Figures {
    fn writer(&self) -> Duration {
        self.appends + self.profiles + self.identities + self.merges + self.keys + self.run_commits
    }

    fn print(&self, floor: &Floor) {
        let writer = self.writer().as_secs_f64();
        let resolution = writer - self.appends.as_secs_f64();
        println!(
            "events-floor: events={} run={} writer_s={writer:.2} writer_cpu_s={} appends_s={:.2} resolution_writes_s={resolution:.2} (profiles {:.2}, identities {:.2}, merges {:.2}, keys {:.2}, commits {:.2}) checkpoint_s={:.2} profiles={} merges={} writer_per_s={:.0} db=sqlite",
            floor.load.events,
            floor.run_len,
            self.writer_cpu_s
                .map_or_else(|| "n/a".to_owned(), |s| format!("{s:.2}")),
            self.appends.as_secs_f64(),
            self.profiles.as_secs_f64(),
            self.identities.as_secs_f64(),
            self.merges.as_secs_f64(),
            self.keys.as_secs_f64(),
            self.run_commits.as_secs_f64(),
            self.checkpoints.as_secs_f64(),
            self.profiles_created,
            self.merges_made,
            floor.load.events as f64 / writer,
        );
    }
}

/// Opens the database as the server's writer does: WAL, every commit synced, foreign keys
/// checked, checkpoints left to another thread.
fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("open {}", path.display()))?;
    conn.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;
         PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
}

/// Copies the WAL into the database every 250 ms until `done`; returns the time it took.
fn checkpointer(path: &Path, done: Arc<AtomicBool>) -> anyhow::Result<Duration> {
    let conn = open(path)?;
    let mut busy = Duration::ZERO;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let started = Instant::now();
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        busy += started.elapsed();
    }
    Ok(busy)
}

/// Inserts `rows` a few per statement, with the store's multi-row statement text.
fn insert_rows(
    conn: &Connection,
    head: &'static str,
    per_statement: usize,
    rows: &[Vec<Value>],
) -> anyhow::Result<()> {
    for chunk in rows.chunks(per_statement) {
        let columns = chunk[0].len();
        let sql = store::sql::values_rows(head, "", columns, chunk.len());
        let mut statement = conn.prepare_cached(&sql)?;
        statement.execute(rusqlite::params_from_iter(chunk.iter().flatten()))?;
    }
    Ok(())
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// An identifier of a simulated customer: (is it the web id, customer number).
type Identifier = (bool, u64);

fn identifiers(named: &Named) -> impl Iterator<Item = Identifier> {
    [(true, named.web), (false, named.app)]
        .into_iter()
        .filter(|(_, named)| *named)
        .map(move |(web, _)| (web, named.customer))
}

/// Identity resolution in memory: each identifier's first profile, and where merged
/// profiles went. The survivor of a merge is the older profile (ids are time-ordered).
#[derive(Default)]
struct Graph {
    owners: HashMap<Identifier, String>,
    forward: HashMap<String, String>,
}

/// What resolving one run leaves to write.
#[derive(Default)]
struct RunWrites {
    profiles: Vec<String>,
    identities: Vec<(Identifier, String)>,
    merges: Vec<(String, String)>,
    keys: Vec<(String, i64)>,
}

impl Graph {
    fn current(&self, mut profile: String) -> String {
        while let Some(next) = self.forward.get(&profile) {
            profile = next.clone();
        }
        profile
    }

    fn resolve(&mut self, run: &[(i64, Named)]) -> RunWrites {
        let mut writes = RunWrites::default();
        for (seq, named) in run {
            let mut profiles: Vec<String> = identifiers(named)
                .filter_map(|id| self.owners.get(&id).cloned())
                .map(|p| self.current(p))
                .collect();
            profiles.sort();
            profiles.dedup();
            let survivor = match profiles.first() {
                Some(p) => p.clone(),
                None => {
                    let p = format!("cus_{}", uuid::Uuid::now_v7().simple());
                    writes.profiles.push(p.clone());
                    p
                }
            };
            for absorbed in profiles.into_iter().skip(1) {
                self.forward.insert(absorbed.clone(), survivor.clone());
                writes.merges.push((survivor.clone(), absorbed));
            }
            for id in identifiers(named) {
                if let std::collections::hash_map::Entry::Vacant(owner) = self.owners.entry(id) {
                    owner.insert(survivor.clone());
                    writes.identities.push((id, survivor.clone()));
                }
            }
            writes.keys.push((survivor, *seq));
        }
        // Rows written in key order, under the profile each belongs to at the run's end.
        for (_, profile) in &mut writes.identities {
            *profile = self.current(std::mem::take(profile));
        }
        for (profile, _) in &mut writes.keys {
            *profile = self.current(std::mem::take(profile));
        }
        writes.identities.sort();
        writes.keys.sort();
        writes
    }
}

impl Floor {
    fn write(self, path: &Path) -> anyhow::Result<Figures> {
        let done = Arc::new(AtomicBool::new(false));
        let checkpoints = {
            let (path, done) = (path.to_owned(), done.clone());
            std::thread::spawn(move || checkpointer(&path, done))
        };
        let written = self.write_all(&open(path)?);
        done.store(true, Ordering::Relaxed);
        let mut figures = written?;
        figures.checkpoints = checkpoints
            .join()
            .map_err(|_| anyhow::anyhow!("the checkpointer panicked"))??;
        Ok(figures)
    }

    fn write_all(&self, conn: &Connection) -> anyhow::Result<Figures> {
        let cpu_before = cpu_seconds_of("/proc/thread-self/stat");
        let mut rng = rand::rng();
        let mut figures = Figures::default();
        let mut graph = Graph::default();
        let mut tail: Vec<(i64, Named)> = Vec::new();
        let mut seq = 0i64;
        let load = self.load;
        while (seq as u64) < load.events {
            let size = load.batch.min(load.events - seq as u64);
            let mut rows = Vec::with_capacity(size as usize);
            for _ in 0..size {
                seq += 1;
                let named = load.pick(&mut rng);
                rows.push(vec![
                    Value::Integer(seq),
                    text(""),
                    text(if named.web { "web" } else { "app" }),
                    text("page_view"),
                    Value::Null,
                    text(named.json()),
                    text(format!(r#"{{"item":{}}}"#, named.customer % 312)),
                    text(NOW),
                    text(NOW),
                ]);
                tail.push((seq, named));
            }
            let started = Instant::now();
            conn.execute_batch("BEGIN IMMEDIATE")?;
            insert_rows(
                conn,
                "INSERT INTO customer_events (seq, customer_id, channel, type, location_code, identifiers, properties, occurred_at, received_at)",
                100,
                &rows,
            )?;
            conn.execute_batch("COMMIT")?;
            figures.appends += started.elapsed();
            if tail.len() as u64 >= self.run_len || seq as u64 >= load.events {
                let writes = graph.resolve(&tail);
                write_run(conn, &writes, seq, &mut figures)?;
                tail.clear();
            }
        }
        if let (Some(before), Some(after)) = (cpu_before, cpu_seconds_of("/proc/thread-self/stat"))
        {
            figures.writer_cpu_s = Some(after - before);
        }
        Ok(figures)
    }
}

/// Writes one run's resolution in one transaction, timing each kind of write.
fn write_run(
    conn: &Connection,
    writes: &RunWrites,
    upto: i64,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let mut started = Instant::now();
    let mut lap = |slot: &mut Duration| {
        *slot += started.elapsed();
        started = Instant::now();
    };
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let profiles: Vec<Vec<Value>> = writes
        .profiles
        .iter()
        .map(|id| {
            vec![
                text(id),
                text("active"),
                text(NOW),
                text(NOW),
                Value::Integer(1),
            ]
        })
        .collect();
    insert_rows(
        conn,
        "INSERT INTO customers (id, status, created_at, updated_at, version)",
        100,
        &profiles,
    )?;
    lap(&mut figures.profiles);
    let identities: Vec<Vec<Value>> = writes
        .identities
        .iter()
        .map(|((web, customer), profile)| {
            let (kind, value) = if *web {
                ("web_anonymous", format!("w{customer}"))
            } else {
                ("app_device", format!("a{customer}"))
            };
            vec![
                text(kind),
                text(value),
                text(profile),
                Value::Integer(0),
                text(if *web { "web" } else { "app" }),
                text(NOW),
            ]
        })
        .collect();
    insert_rows(
        conn,
        "INSERT INTO customer_identities (kind, value, customer_id, verified, channel, created_at)",
        100,
        &identities,
    )?;
    lap(&mut figures.identities);
    for (survivor, absorbed) in &writes.merges {
        merge(conn, survivor, absorbed)?;
    }
    lap(&mut figures.merges);
    let keys: Vec<Vec<Value>> = writes
        .keys
        .iter()
        .map(|(profile, seq)| vec![text(profile), Value::Integer(*seq)])
        .collect();
    insert_rows(
        conn,
        "INSERT INTO customer_event_keys (customer_id, seq)",
        250,
        &keys,
    )?;
    conn.execute(
        "UPDATE customer_event_index SET indexed_upto = ?1 WHERE id = 1",
        [upto],
    )?;
    lap(&mut figures.keys);
    conn.execute_batch("COMMIT")?;
    lap(&mut figures.run_commits);
    figures.profiles_created += writes.profiles.len() as u64;
    figures.merges_made += writes.merges.len() as u64;
    Ok(())
}

/// The least a merge writes: the absorbed profile forwarded, its identities and event keys
/// moved to the survivor, the merge recorded.
fn merge(conn: &Connection, survivor: &str, absorbed: &str) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE customers SET status = 'merged', merged_into = ?1, version = version + 1 WHERE id = ?2",
    )?
    .execute([survivor, absorbed])?;
    conn.prepare_cached("UPDATE customer_identities SET customer_id = ?1 WHERE customer_id = ?2")?
        .execute([survivor, absorbed])?;
    conn.prepare_cached(
        "INSERT INTO customer_event_keys (customer_id, seq)
         SELECT ?1, seq FROM customer_event_keys WHERE customer_id = ?2",
    )?
    .execute([survivor, absorbed])?;
    conn.prepare_cached("DELETE FROM customer_event_keys WHERE customer_id = ?1")?
        .execute([absorbed])?;
    let id = format!("mrg_{}", uuid::Uuid::now_v7().simple());
    conn.prepare_cached(
        "INSERT INTO customer_merges (id, survivor_id, absorbed_id, cause, identifiers, actor, at)
         VALUES (?1, ?2, ?3, 'event', '[]', 'resolver', ?4)",
    )?
    .execute([id.as_str(), survivor, absorbed, NOW])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(customer: u64) -> Named {
        Named {
            customer,
            web: true,
            app: false,
        }
    }

    fn app(customer: u64) -> Named {
        Named {
            customer,
            web: false,
            app: true,
        }
    }

    fn both(customer: u64) -> Named {
        Named {
            customer,
            web: true,
            app: true,
        }
    }

    #[test]
    fn a_sign_in_merges_the_two_profiles_into_the_older_and_keys_follow() {
        let mut graph = Graph::default();
        let first = graph.resolve(&[(1, web(7)), (2, app(7)), (3, web(7))]);
        assert_eq!(first.profiles.len(), 2, "one profile per device");
        assert!(first.merges.is_empty());
        assert_eq!(first.identities.len(), 2);
        let (older, newer) = (first.profiles[0].clone(), first.profiles[1].clone());
        assert_eq!(first.keys.iter().filter(|(p, _)| *p == older).count(), 2);

        let second = graph.resolve(&[(4, both(7)), (5, app(7))]);
        assert!(second.profiles.is_empty());
        assert!(second.identities.is_empty(), "both identifiers were known");
        assert_eq!(second.merges, vec![(older.clone(), newer)]);
        assert_eq!(second.keys, vec![(older.clone(), 4), (older, 5)]);
    }

    #[test]
    fn rows_of_a_run_are_written_under_the_profile_they_end_on() {
        let mut graph = Graph::default();
        let run = graph.resolve(&[(1, web(1)), (2, app(1)), (3, both(1))]);
        let survivor = run.profiles[0].clone();
        assert_eq!(run.merges.len(), 1);
        assert!(run.identities.iter().all(|(_, p)| *p == survivor));
        assert!(run.keys.iter().all(|(p, _)| *p == survivor));
        assert_eq!(run.keys.len(), 3);
    }
}
