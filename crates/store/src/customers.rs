//! Customer profiles and identities in SQL, and identity resolution.
//!
//! [`link`] is the heart: given identifiers that belong together (an event, a sign-in, an
//! agent's "same person"), it finds the profiles they point to, asks
//! `customers::plan_link` which survive, merges the others into the survivor (moving their
//! identities, event keys, consents, interactions, orders, carts and reviews, inside the
//! caller's transaction),
//! flags guard-rail pairs for review and attaches the identifiers not yet known. The primary
//! key (kind, value) of `customer_identities` keeps every identifier on exactly one profile,
//! also when two nodes race: the loser's command fails on the key and is retried by its
//! caller, never double-booked.

use std::collections::{BTreeSet, HashMap};

use customers::{
    Identifier, IdentityKind, LinkPlan, Profile, ProfileStatus, ProfileSummary, ReviewReason,
    plan_link,
};
use kernel::id::new_id;
use kernel::{Error, ErrorCode, Page, PageRequest, Timestamp};
use outbox::Event;
use outbox::payloads::{Merged, ProfileChanged, ReviewChanged};
use serde::Serialize;

use crate::profiles::{PROFILE_COLUMNS, profile_from_row};
pub use crate::profiles::{active_id, find_profile, get_profile};
use crate::sql::{Conn, Row, Value, corrupt};
use crate::{Db, events, params, rows};

/// Settings of identity resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionRules {
    /// Most identities one profile may hold; links beyond it are flagged for review.
    pub identity_cap: usize,
}

impl Default for ResolutionRules {
    fn default() -> Self {
        ResolutionRules { identity_cap: 50 }
    }
}

/// Why identifiers were linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCause {
    /// A behavioural event named them together.
    Event,
    /// A channel signed the customer in (`POST /v1/customers/identify`).
    SignIn,
    /// Someone added an identifier to a profile.
    Manual,
    /// A reviewer decided two flagged profiles are one person.
    Review,
}

impl LinkCause {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkCause::Event => "event",
            LinkCause::SignIn => "sign_in",
            LinkCause::Manual => "manual",
            LinkCause::Review => "review",
        }
    }
}

/// Identifiers to link, each with whether the channel proved it.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub identifiers: &'a [(Identifier, bool)],
    /// The profile the identifiers must join, if the caller names one.
    pub anchor: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub cause: LinkCause,
    /// The request or event that caused the link (kept in the merge record).
    pub reference: Option<&'a str>,
}

/// What a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub customer_id: String,
    pub created: bool,
    pub absorbed: Vec<String>,
    pub reviews: Vec<(String, ReviewReason)>,
    /// Identifiers attached to the profile by this link.
    pub attached: usize,
    /// Identifiers left out because the profile holds as many as the cap allows.
    pub capped: usize,
}

/// What profile events carry: no names, no identifiers. Events travel to other systems and
/// stay in the outbox; personal data stays in tables that erasure can reach, and consumers
/// read the profile through the API.
fn profile_changed(p: &Profile) -> ProfileChanged {
    ProfileChanged {
        id: p.id.clone(),
        status: p.status,
        home_store: p.home_store.clone(),
        updated_at: p.updated_at,
    }
}

pub(crate) fn identity_from_row(row: &Row) -> Result<customers::Identity, Error> {
    let kind = row.text("kind")?;
    Ok(customers::Identity {
        identifier: Identifier {
            kind: IdentityKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            value: row.text("value")?,
        },
        verified: row.int("verified")? != 0,
        channel: row.opt_text("channel")?,
        created_at: rows::timestamp(row, "created_at")?,
    })
}

/// The fields a new profile may start with.
#[derive(Debug, Clone, Default)]
pub struct NewProfile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub home_store: Option<String>,
}

async fn check_home_store(conn: &mut Conn, code: Option<&str>) -> Result<(), Error> {
    if let Some(code) = code
        && crate::locations::find_location(&mut *conn, code)
            .await?
            .is_none()
    {
        return Err(Error::unknown_reference("home_store", "location", code));
    }
    Ok(())
}

async fn insert_profile(
    conn: &mut Conn,
    fields: &NewProfile,
    now: Timestamp,
    actor: &str,
) -> Result<Profile, Error> {
    let profile = Profile {
        id: new_id("cus"),
        status: ProfileStatus::Active,
        merged_into: None,
        given_name: fields.given_name.clone(),
        family_name: fields.family_name.clone(),
        home_store: fields.home_store.clone(),
        created_at: now,
        updated_at: now,
    };
    conn.execute(
        "INSERT INTO customers (id, status, given_name, family_name, home_store, created_at, updated_at, version)
         VALUES ($1, 'active', $2, $3, $4, $5, $5, 1)",
        params![&profile.id, &profile.given_name, &profile.family_name, &profile.home_store, now.to_text()],
    )
    .await?;
    let created = profile_changed(&profile);
    events::emit(conn, Event::CustomerCreated(&created), &profile.id, actor).await?;
    Ok(profile)
}

/// Creates a profile holding `identifiers`. An identifier that already belongs to a profile
/// is refused (`already_exists`, with that profile's id): use [`link`] to resolve instead.
pub async fn create_profile(
    conn: &mut Conn,
    fields: &NewProfile,
    identifiers: &[(Identifier, bool)],
    channel: Option<&str>,
    actor: &str,
) -> Result<Profile, Error> {
    check_home_store(conn, fields.home_store.as_deref()).await?;
    for (i, (id, _)) in identifiers.iter().enumerate() {
        if let Some((owner, _)) = owner_of(conn, id).await? {
            return Err(Error::already_exists("customer identity", &id.value)
                .with("field", format!("identifiers[{i}]"))
                .with("customer_id", owner));
        }
    }
    let profile = insert_profile(conn, fields, Timestamp::now(), actor).await?;
    for (id, verified) in identifiers {
        attach(
            conn,
            &profile.id,
            id,
            *verified,
            channel,
            profile.created_at,
        )
        .await?;
    }
    Ok(profile)
}

/// Notes that the customer signed in on `channel` (once per channel).
pub async fn note_channel(conn: &mut Conn, customer_id: &str, channel: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO customer_channels (customer_id, channel, first_at)
         SELECT $1, $2, $3 WHERE NOT EXISTS
             (SELECT 1 FROM customer_channels WHERE customer_id = $1 AND channel = $2)",
        params![customer_id, channel, Timestamp::now().to_text()],
    )
    .await?;
    Ok(())
}

/// Whether the customer is known on `channel`: an identifier recorded there, a sign-in, a
/// cart started there or an order placed there.
pub async fn known_on_channel(
    conn: &mut Conn,
    customer_id: &str,
    channel: &str,
) -> Result<bool, Error> {
    let found = conn
        .query_opt(
            "SELECT 1 AS known FROM customer_identities WHERE customer_id = $1 AND channel = $2
             UNION ALL
             SELECT 1 AS known FROM customer_channels WHERE customer_id = $1 AND channel = $2
             UNION ALL
             SELECT 1 AS known FROM carts WHERE customer_id = $1 AND channel = $2
             UNION ALL
             SELECT 1 AS known FROM orders WHERE customer_id = $1 AND channel = $2
             LIMIT 1",
            params![customer_id, channel],
        )
        .await?;
    Ok(found.is_some())
}

/// Changes names and home store; `None` leaves a field, `Some(None)` clears it.
pub async fn update_profile(
    conn: &mut Conn,
    id: &str,
    given_name: Option<Option<String>>,
    family_name: Option<Option<String>>,
    home_store: Option<Option<String>>,
    actor: &str,
) -> Result<Profile, Error> {
    let id = active_id(conn, id).await?;
    if let Some(Some(code)) = &home_store {
        check_home_store(conn, Some(code)).await?;
    }
    let now = Timestamp::now();
    // `$2 = 1` says "set this column", so one statement serves every combination.
    let changed = conn
        .execute(
            "UPDATE customers SET
                given_name = CASE WHEN $2 = 1 THEN $3 ELSE given_name END,
                family_name = CASE WHEN $4 = 1 THEN $5 ELSE family_name END,
                home_store = CASE WHEN $6 = 1 THEN $7 ELSE home_store END,
                updated_at = $8, version = version + 1
             WHERE id = $1 AND status = 'active'",
            params![
                &id,
                given_name.is_some(),
                given_name.flatten(),
                family_name.is_some(),
                family_name.flatten(),
                home_store.is_some(),
                home_store.flatten(),
                now.to_text()
            ],
        )
        .await?;
    if changed != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the profile changed meanwhile; retry",
        ));
    }
    let profile = find_profile(conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("customer", &id))?;
    let updated = profile_changed(&profile);
    events::emit(conn, Event::CustomerUpdated(&updated), &id, actor).await?;
    Ok(profile)
}

/// Active profiles in id (creation) order, optionally of one home store.
pub async fn list_profiles(
    db: &Db,
    home_store: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Profile>, Error> {
    let found = db
        .read()
        .await?
        .query(
            &format!(
                "SELECT {PROFILE_COLUMNS} FROM customers
                 WHERE status = 'active' AND id > $1 AND ($2 = '' OR home_store = $2)
                 ORDER BY id LIMIT $3"
            ),
            params![
                page.after.clone().unwrap_or_default(),
                home_store.unwrap_or(""),
                page.fetch_limit()
            ],
        )
        .await?;
    let profiles = found
        .iter()
        .map(profile_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(profiles, page, |p| p.id.clone()))
}

/// The profile an identifier points to, and whether it is verified.
pub async fn owner_of(conn: &mut Conn, id: &Identifier) -> Result<Option<(String, bool)>, Error> {
    conn.query_opt(
        "SELECT customer_id, verified FROM customer_identities WHERE kind = $1 AND value = $2",
        params![id.kind.as_str(), &id.value],
    )
    .await?
    .map(|r| Ok((r.text("customer_id")?, r.int("verified")? != 0)))
    .transpose()
}

/// Owners of identifiers, looked up once per command: a batch of events fetches the owners
/// of all its identifiers in a few statements, and [`link`] keeps the answers true as it
/// creates profiles, attaches identifiers and merges.
#[derive(Debug, Default)]
pub struct Owners {
    known: HashMap<Identifier, Option<(String, bool)>>,
    /// Profiles this command has locked (PostgreSQL).
    claimed: BTreeSet<String>,
    /// Profiles and identities created by this command and not yet written (see
    /// [`Owners::buffered`]).
    pending: Pending,
    /// Profiles created by buffered links, for the caller to report.
    created: Vec<String>,
    /// Profiles merged by this command, and their survivors: owners known before a merge
    /// are read through it (a run of thousands of events must not rewrite every known owner
    /// at each merge).
    merged: HashMap<String, String>,
}

/// Writes held back so that a batch of events creates its profiles and identities a hundred
/// rows per statement instead of three statements per new visitor.
#[derive(Debug, Default)]
struct Pending {
    enabled: bool,
    profiles: Vec<(String, Timestamp)>,
    identities: Vec<PendingIdentity>,
    /// The profiles with something held back (their row, identities), and how many
    /// identities: looked up at every link, so kept apart from the lists.
    held: HashMap<String, usize>,
}

impl Pending {
    fn profile(&mut self, id: String, at: Timestamp) {
        self.held.entry(id.clone()).or_insert(0);
        self.profiles.push((id, at));
    }

    fn identity(&mut self, identity: PendingIdentity) {
        *self.held.entry(identity.customer_id.clone()).or_insert(0) += 1;
        self.identities.push(identity);
    }
}

#[derive(Debug)]
struct PendingIdentity {
    customer_id: String,
    identifier: Identifier,
    verified: bool,
    channel: Option<String>,
    at: Timestamp,
}

/// Rows per multi-row INSERT of the pending writes.
const FLUSH_CHUNK: usize = 100;

/// Identifiers per prefetch statement.
const PREFETCH_CHUNK: usize = 400;

impl Owners {
    /// Looks up the owners of `ids` (any number; grouped by kind, chunked).
    pub async fn prefetch<'a>(
        conn: &mut Conn,
        ids: impl Iterator<Item = &'a Identifier>,
    ) -> Result<Owners, Error> {
        let mut owners = Owners {
            known: look_up(conn, ids).await?,
            ..Owners::default()
        };
        owners.claim_known(conn).await?;
        Ok(owners)
    }

    /// Reads the owners of `ids` on a reader, ahead of the command that needs them (SQLite;
    /// `None` on PostgreSQL, whose commands look owners up under row locks).
    pub async fn read_ahead<'a>(
        db: &crate::Db,
        ids: impl Iterator<Item = &'a Identifier>,
    ) -> Result<Option<OwnersRead>, Error> {
        let Some(recent) = db.recent_changes() else {
            return Ok(None);
        };
        // Taken before the read begins: every batch sealed by then is in what it reads.
        let since = recent.sealed();
        let known = look_up(&mut db.read().await?, ids).await?;
        Ok(Some(OwnersRead { since, known }))
    }

    /// Like [`Owners::prefetch`], trusting what `ahead` read for every identifier the writer
    /// has not touched since (see [`crate::recent`]); the others are looked up again.
    pub async fn prefetch_with<'a>(
        conn: &mut Conn,
        ids: impl Iterator<Item = &'a Identifier>,
        ahead: Option<OwnersRead>,
    ) -> Result<Owners, Error> {
        let (Some(read), Some(recent)) = (ahead, conn.recent_changes()) else {
            return Owners::prefetch(conn, ids).await;
        };
        // Inside the writer's transaction no other connection can commit; one that did
        // before it moved `data_version`, and then nothing read ahead is trusted.
        let version = conn
            .query_one("PRAGMA data_version", &[])
            .await?
            .int("data_version")?;
        recent.saw_data_version(version);
        let mut suspects = recent.suspects(
            read.since,
            read.known
                .iter()
                .map(|(id, owner)| (id, owner.as_ref().map(|(o, _)| o.as_str()))),
        );
        let mut known = read.known;
        suspects.extend(ids.filter(|id| !known.contains_key(*id)).cloned());
        known.extend(look_up(conn, suspects.iter()).await?);
        Ok(Owners {
            known,
            ..Owners::default()
        })
    }

    /// Holds back the profiles and identities that links create until [`Owners::flush`]
    /// (which runs before anything reads them back: merges, guard rails, the end of the
    /// command). Profiles created this way get no `relais.customer.created` event of their
    /// own: the caller reports them (events ingestion lists them in its batch event).
    pub fn buffered(mut self) -> Owners {
        self.pending.enabled = true;
        self
    }

    /// Profiles created since the last call, in creation order (buffered links only).
    pub fn take_created(&mut self) -> Vec<String> {
        std::mem::take(&mut self.created)
    }

    /// Writes the held-back profiles, then their identities, a hundred rows per statement.
    pub async fn flush(&mut self, conn: &mut Conn) -> Result<(), Error> {
        const PROFILES: &str =
            "INSERT INTO customers (id, status, created_at, updated_at, version)";
        const IDENTITIES: &str = "INSERT INTO customer_identities (kind, value, customer_id, verified, channel, created_at)";
        self.pending.held.clear();
        let profiles = std::mem::take(&mut self.pending.profiles);
        for chunk in profiles.chunks(FLUSH_CHUNK) {
            let mut params = Vec::with_capacity(chunk.len() * 5);
            for (id, at) in chunk {
                let at = at.to_text();
                params.extend([
                    Value::from(id),
                    Value::from("active"),
                    Value::from(&at),
                    Value::from(at),
                    Value::from(1_i64),
                ]);
            }
            let sql = crate::sql::values_rows(PROFILES, "", 5, chunk.len());
            conn.execute(&sql, &params).await?;
        }
        let mut identities = std::mem::take(&mut self.pending.identities);
        // In key order: each page of the identity index is written once per statement.
        identities.sort_unstable_by(|a, b| a.identifier.cmp(&b.identifier));
        if let Some(recent) = conn.recent_changes() {
            for p in &identities {
                recent.identifier(&p.identifier);
            }
        }
        for chunk in identities.chunks(FLUSH_CHUNK) {
            let mut params = Vec::with_capacity(chunk.len() * 6);
            for p in chunk {
                params.extend([
                    Value::from(p.identifier.kind.as_str()),
                    Value::from(&p.identifier.value),
                    Value::from(&p.customer_id),
                    Value::from(p.verified),
                    Value::from(&p.channel),
                    Value::from(p.at.to_text()),
                ]);
            }
            let sql = crate::sql::values_rows(IDENTITIES, "", 6, chunk.len());
            conn.execute(&sql, &params)
                .await
                .map_err(linked_meanwhile)?;
        }
        Ok(())
    }

    /// Whether a profile, or an identity of it, is held back.
    fn holds(&self, customer_id: &str) -> bool {
        self.pending.held.contains_key(customer_id)
    }

    /// Identities held back for `customer_id`.
    fn pending_for(&self, customer_id: &str) -> usize {
        self.pending.held.get(customer_id).copied().unwrap_or(0)
    }

    /// Claims every active profile prefetched, a few hundred per statement (see [`claim`]).
    async fn claim_known(&mut self, conn: &mut Conn) -> Result<(), Error> {
        if conn.backend() != crate::Backend::Postgres {
            return Ok(());
        }
        let ids: Vec<String> = self
            .known
            .values()
            .flatten()
            .map(|(owner, _)| owner.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in ids.chunks(PREFETCH_CHUNK) {
            let sql = format!(
                "SELECT id FROM customers WHERE status = 'active' AND id IN ({}) ORDER BY id FOR UPDATE",
                crate::sql::placeholders(1, chunk.len())
            );
            let params: Vec<crate::sql::Value> =
                chunk.iter().map(crate::sql::Value::from).collect();
            for row in conn.query(&sql, &params).await? {
                self.claimed.insert(row.text("id")?);
            }
        }
        Ok(())
    }

    async fn get(
        &mut self,
        conn: &mut Conn,
        id: &Identifier,
    ) -> Result<Option<(String, bool)>, Error> {
        let found = match self.known.get(id) {
            Some(known) => known.clone(),
            None => {
                let found = owner_of(conn, id).await?;
                self.known.insert(id.clone(), found.clone());
                found
            }
        };
        Ok(found.map(|(owner, verified)| (self.survivor_of(owner), verified)))
    }

    /// The profile `owner` stands for now: itself, or the survivor of this command's merges.
    fn survivor_of(&self, mut owner: String) -> String {
        while let Some(survivor) = self.merged.get(&owner) {
            owner.clone_from(survivor);
        }
        owner
    }

    fn set(&mut self, id: &Identifier, owner: &str, verified: bool) {
        self.known
            .insert(id.clone(), Some((owner.to_owned(), verified)));
    }

    /// On PostgreSQL, locks an active profile's row for the rest of the command, so that a
    /// merge on another node cannot move the profile's rows while this command adds to them
    /// (the merge waits, then moves what this command wrote). A profile merged meanwhile is a
    /// retryable conflict. SQLite has one writer: nothing races.
    async fn claim(&mut self, conn: &mut Conn, customer_id: &str) -> Result<(), Error> {
        if conn.backend() != crate::Backend::Postgres || self.claimed.contains(customer_id) {
            return Ok(());
        }
        // PostgreSQL only (SQLite has no row locks and needs none).
        let locked = conn
            .query_opt(
                "SELECT id FROM customers WHERE id = $1 AND status = 'active' FOR UPDATE",
                params![customer_id],
            )
            .await?;
        if locked.is_none() {
            return Err(Error::new(
                ErrorCode::Conflict,
                "a profile of this request was merged or erased meanwhile; retry",
            )
            .with("retryable", true));
        }
        self.claimed.insert(customer_id.to_owned());
        Ok(())
    }

    fn forward(&mut self, absorbed: &[String], survivor: &str) {
        for gone in absorbed {
            self.merged.insert(gone.clone(), survivor.to_owned());
        }
    }
}

/// What [`Owners::read_ahead`] found, and when.
#[derive(Debug)]
pub struct OwnersRead {
    since: u64,
    known: HashMap<Identifier, Option<(String, bool)>>,
}

/// The owners of `ids` (any number; grouped by kind, chunked): `None` for an identifier no
/// profile holds.
async fn look_up<'a>(
    conn: &mut Conn,
    ids: impl Iterator<Item = &'a Identifier>,
) -> Result<HashMap<Identifier, Option<(String, bool)>>, Error> {
    let mut by_kind: HashMap<IdentityKind, BTreeSet<&str>> = HashMap::new();
    for id in ids {
        by_kind.entry(id.kind).or_default().insert(&id.value);
    }
    let mut known = HashMap::new();
    for (kind, values) in by_kind {
        let values: Vec<&str> = values.into_iter().collect();
        for chunk in values.chunks(PREFETCH_CHUNK) {
            for v in chunk {
                known.insert(
                    Identifier {
                        kind,
                        value: (*v).to_owned(),
                    },
                    None,
                );
            }
            let sql = format!(
                "SELECT value, customer_id, verified FROM customer_identities
                     WHERE kind = $1 AND value IN ({})",
                crate::sql::placeholders(2, chunk.len())
            );
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(crate::sql::Value::from(kind.as_str()));
            params.extend(chunk.iter().map(|v| crate::sql::Value::from(*v)));
            for row in conn.query(&sql, &params).await? {
                known.insert(
                    Identifier {
                        kind,
                        value: row.text("value")?,
                    },
                    Some((row.text("customer_id")?, row.int("verified")? != 0)),
                );
            }
        }
    }
    Ok(known)
}

pub async fn identities(
    conn: &mut Conn,
    customer_id: &str,
) -> Result<Vec<customers::Identity>, Error> {
    conn.query(
        "SELECT kind, value, verified, channel, created_at FROM customer_identities
         WHERE customer_id = $1 ORDER BY created_at, kind, value",
        params![customer_id],
    )
    .await?
    .iter()
    .map(identity_from_row)
    .collect()
}

/// Profiles with their identities, one query per few hundred profiles (lists, segment
/// members), in the profiles' order.
pub async fn with_identities(
    conn: &mut Conn,
    profiles: Vec<Profile>,
) -> Result<Vec<(Profile, Vec<customers::Identity>)>, Error> {
    let mut held: HashMap<String, Vec<customers::Identity>> = HashMap::new();
    for chunk in profiles.chunks(PREFETCH_CHUNK) {
        let sql = format!(
            "SELECT customer_id, kind, value, verified, channel, created_at FROM customer_identities
             WHERE customer_id IN ({}) ORDER BY created_at, kind, value",
            crate::sql::placeholders(1, chunk.len())
        );
        let params: Vec<crate::sql::Value> = chunk
            .iter()
            .map(|p| crate::sql::Value::from(&p.id))
            .collect();
        for row in conn.query(&sql, &params).await? {
            held.entry(row.text("customer_id")?)
                .or_default()
                .push(identity_from_row(&row)?);
        }
    }
    Ok(profiles
        .into_iter()
        .map(|p| {
            let identities = held.remove(&p.id).unwrap_or_default();
            (p, identities)
        })
        .collect())
}

async fn attach(
    conn: &mut Conn,
    customer_id: &str,
    id: &Identifier,
    verified: bool,
    channel: Option<&str>,
    now: Timestamp,
) -> Result<(), Error> {
    if let Some(recent) = conn.recent_changes() {
        recent.identifier(id);
    }
    conn.execute(
        "INSERT INTO customer_identities (kind, value, customer_id, verified, channel, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            id.kind.as_str(),
            &id.value,
            customer_id,
            verified,
            channel,
            now.to_text()
        ],
    )
    .await
    .map_err(linked_meanwhile)?;
    Ok(())
}

/// Deletes every identity of `customer_id` (erasure). Every write to `customer_identities`
/// lives in this module, so that each is noted for owners read ahead ([`crate::recent`]).
pub(crate) async fn delete_identities(conn: &mut Conn, customer_id: &str) -> Result<u64, Error> {
    if let Some(recent) = conn.recent_changes() {
        recent.profile(customer_id);
    }
    conn.execute(
        "DELETE FROM customer_identities WHERE customer_id = $1",
        params![customer_id],
    )
    .await
}

/// An identifier insert refused by the key: another node attached it between our look-up
/// and the insert. The command is retried by its caller.
fn linked_meanwhile(e: Error) -> Error {
    if e.code == ErrorCode::AlreadyExists {
        Error::new(
            ErrorCode::Conflict,
            "an identifier of this request was linked meanwhile; retry",
        )
        .with("retryable", true)
    } else {
        e
    }
}

async fn summary(conn: &mut Conn, customer_id: &str) -> Result<ProfileSummary, Error> {
    // One statement: the profile's age and the identities the guard rails look at.
    let found = conn
        .query(
            "SELECT c.created_at, i.kind, i.value, i.verified
               FROM customers c LEFT JOIN customer_identities i ON i.customer_id = c.id
              WHERE c.id = $1",
            params![customer_id],
        )
        .await?;
    let first = found
        .first()
        .ok_or_else(|| Error::not_found("customer", customer_id))?;
    let mut s = ProfileSummary {
        id: customer_id.to_owned(),
        created_at: rows::timestamp(first, "created_at")?,
        verified_emails: BTreeSet::new(),
        loyalty_cards: BTreeSet::new(),
        identity_count: 0,
    };
    for row in &found {
        let Some(kind) = row.opt_text("kind")? else {
            continue;
        };
        s.identity_count += 1;
        let verified = row.int("verified")? != 0;
        match IdentityKind::parse(&kind) {
            Some(IdentityKind::Email) if verified => {
                s.verified_emails.insert(row.text("value")?);
            }
            Some(IdentityKind::LoyaltyCard) => {
                s.loyalty_cards.insert(row.text("value")?);
            }
            Some(_) => {}
            None => return Err(corrupt("kind", &kind)),
        }
    }
    Ok(s)
}

/// Links identifiers: resolves them to one profile (creating, merging, flagging as the rules
/// say) and attaches those not yet known. Runs inside the caller's command.
pub async fn link(
    conn: &mut Conn,
    link: &Link<'_>,
    rules: ResolutionRules,
    actor: &str,
    owners: &mut Owners,
) -> Result<Resolution, Error> {
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut unknown: Vec<&(Identifier, bool)> = Vec::new();
    let mut to_verify: Vec<&Identifier> = Vec::new();
    for pair in link.identifiers {
        match owners.get(conn, &pair.0).await? {
            Some((owner, verified)) => {
                if pair.1 && !verified {
                    to_verify.push(&pair.0);
                }
                touched.insert(owner);
            }
            None if !unknown.iter().any(|u| u.0 == pair.0) => unknown.push(pair),
            None => {}
        }
    }
    if let Some(anchor) = link.anchor {
        touched.insert(active_id(conn, anchor).await?);
    }
    for owner in &touched {
        owners.claim(conn, owner).await?;
    }
    let now = Timestamp::now();
    let mut resolution = match touched.len() {
        0 => {
            let customer_id = if owners.pending.enabled {
                let id = new_id("cus");
                owners.pending.profile(id.clone(), now);
                owners.created.push(id.clone());
                // Nobody else can see it before this command commits: nothing to lock.
                owners.claimed.insert(id.clone());
                id
            } else {
                insert_profile(conn, &NewProfile::default(), now, actor)
                    .await?
                    .id
            };
            Resolution {
                customer_id,
                created: true,
                absorbed: vec![],
                reviews: vec![],
                attached: 0,
                capped: 0,
            }
        }
        1 => Resolution {
            customer_id: touched.pop_first().unwrap_or_default(),
            created: false,
            absorbed: vec![],
            reviews: vec![],
            attached: 0,
            capped: 0,
        },
        _ => {
            // Merges read the profiles' identities back and move them by profile: what is
            // held for these profiles must be written first.
            if touched.iter().any(|t| owners.holds(t)) {
                owners.flush(conn).await?;
            }
            let mut summaries = Vec::with_capacity(touched.len());
            for id in &touched {
                summaries.push(summary(conn, id).await?);
            }
            let plan = plan_link(summaries, rules.identity_cap)
                .ok_or_else(|| Error::internal("a link touched no profile"))?;
            let applied = apply_plan(conn, &plan, link, actor, now).await?;
            owners.forward(&applied.absorbed, &applied.customer_id);
            applied
        }
    };
    if unknown.is_empty() && to_verify.is_empty() {
        // The usual event: every identifier already points to the profile.
        return Ok(resolution);
    }
    if !resolution.created
        && let Some(reason) = second_person(conn, &resolution.customer_id, &unknown, owners).await?
    {
        // Someone else's verified e-mail or card on a known device: a new person, not a new
        // identifier of the profile. They get their own profile, flagged with the other.
        return new_person_beside(
            conn,
            resolution.customer_id,
            reason,
            link,
            &unknown,
            actor,
            owners,
        )
        .await;
    }
    let held = if resolution.created || unknown.is_empty() {
        0
    } else {
        count_identities(conn, &resolution.customer_id).await?
            + owners.pending_for(&resolution.customer_id)
    };
    let room = rules.identity_cap.saturating_sub(held);
    for (id, verified) in unknown.iter().map(|p| (&p.0, p.1)) {
        if resolution.attached < room {
            if owners.pending.enabled {
                owners.pending.identity(PendingIdentity {
                    customer_id: resolution.customer_id.clone(),
                    identifier: id.clone(),
                    verified,
                    channel: link.channel.map(str::to_owned),
                    at: now,
                });
            } else {
                attach(
                    conn,
                    &resolution.customer_id,
                    id,
                    verified,
                    link.channel,
                    now,
                )
                .await?;
            }
            owners.set(id, &resolution.customer_id, verified);
            resolution.attached += 1;
        } else {
            resolution.capped += 1;
        }
    }
    if !to_verify.is_empty() {
        owners.flush(conn).await?;
    }
    for id in to_verify {
        if let Some(recent) = conn.recent_changes() {
            recent.identifier(id);
        }
        // Proof only upgrades identifiers that ended on the resolved profile.
        conn.execute(
            "UPDATE customer_identities SET verified = 1 WHERE kind = $1 AND value = $2 AND customer_id = $3",
            params![id.kind.as_str(), &id.value, &resolution.customer_id],
        )
        .await?;
        if owners
            .get(conn, id)
            .await?
            .is_some_and(|(o, _)| o == resolution.customer_id)
        {
            owners.set(id, &resolution.customer_id, true);
        }
    }
    Ok(resolution)
}

/// Whether `unknown` identifiers belong to another person than `customer_id`: a verified
/// e-mail where the profile already holds one, or a loyalty card where it holds one.
async fn second_person(
    conn: &mut Conn,
    customer_id: &str,
    unknown: &[&(Identifier, bool)],
    owners: &mut Owners,
) -> Result<Option<ReviewReason>, Error> {
    if !customers::merge::could_name_another_person(unknown) {
        return Ok(None);
    }
    owners.flush(conn).await?;
    let held = summary(conn, customer_id).await?;
    Ok(customers::merge::names_another_person(&held, unknown))
}

#[allow(clippy::too_many_arguments)]
async fn new_person_beside(
    conn: &mut Conn,
    other: String,
    reason: ReviewReason,
    link: &Link<'_>,
    unknown: &[&(Identifier, bool)],
    actor: &str,
    owners: &mut Owners,
) -> Result<Resolution, Error> {
    let now = Timestamp::now();
    let profile = insert_profile(conn, &NewProfile::default(), now, actor).await?;
    for (id, verified) in unknown.iter().map(|p| (&p.0, p.1)) {
        attach(conn, &profile.id, id, verified, link.channel, now).await?;
        owners.set(id, &profile.id, verified);
    }
    let named: Vec<&Identifier> = link.identifiers.iter().map(|p| &p.0).collect();
    flag_for_review(conn, &other, &profile.id, reason, &named, actor, now).await?;
    Ok(Resolution {
        customer_id: profile.id,
        created: true,
        absorbed: vec![],
        reviews: vec![(other, reason)],
        attached: unknown.len(),
        capped: 0,
    })
}

async fn count_identities(conn: &mut Conn, customer_id: &str) -> Result<usize, Error> {
    let n = conn
        .query_one(
            "SELECT COUNT(*) AS n FROM customer_identities WHERE customer_id = $1",
            params![customer_id],
        )
        .await?
        .int("n")?;
    Ok(n as usize)
}

async fn apply_plan(
    conn: &mut Conn,
    plan: &LinkPlan,
    link: &Link<'_>,
    actor: &str,
    now: Timestamp,
) -> Result<Resolution, Error> {
    let named: Vec<&Identifier> = link.identifiers.iter().map(|p| &p.0).collect();
    for absorbed in &plan.absorbed {
        merge(
            conn,
            &plan.survivor,
            absorbed,
            link.cause,
            link.reference,
            &named,
            actor,
            now,
        )
        .await?;
    }
    for (other, reason) in &plan.reviews {
        flag_for_review(conn, &plan.survivor, other, *reason, &named, actor, now).await?;
    }
    Ok(Resolution {
        customer_id: plan.survivor.clone(),
        created: false,
        absorbed: plan.absorbed.clone(),
        reviews: plan.reviews.clone(),
        attached: 0,
        capped: 0,
    })
}

/// Tables whose rows belong to a profile and move with it on a merge: identities and event
/// keys, which every profile has, then tables most profiles have nothing in (a visitor who
/// signs in owns no consent, order or cart yet), probed first in one statement.
const OWNED_TABLES: &[&str] = &["customer_identities", "customer_event_keys"];
const SOMETIMES_OWNED: &[&str] = &[
    "customer_channels",
    "consents",
    "interactions",
    "orders",
    "stored_value",
    "carts",
    "promotion_uses",
    "coupons",
    "coupon_uses",
    "notifications",
    "stock_alerts",
    "customer_addresses",
    "loyalty_members",
];

/// Which of [`SOMETIMES_OWNED`] hold rows of `customer_id`.
async fn owned_elsewhere(conn: &mut Conn, customer_id: &str) -> Result<Vec<&'static str>, Error> {
    let probes: Vec<String> = SOMETIMES_OWNED
        .iter()
        .map(|t| {
            format!("CASE WHEN EXISTS (SELECT 1 FROM {t} WHERE customer_id = $1) THEN 1 ELSE 0 END AS {t}")
        })
        .collect();
    let row = conn
        .query_one(
            &format!("SELECT {}", probes.join(", ")),
            params![customer_id],
        )
        .await?;
    let mut owned = Vec::new();
    for table in SOMETIMES_OWNED {
        if row.int(table)? == 1 {
            owned.push(*table);
        }
    }
    Ok(owned)
}

/// Merges `absorbed` into `survivor`: everything the absorbed profile owns moves, names and
/// home store fill the survivor's gaps, the absorbed profile forwards to the survivor.
#[allow(clippy::too_many_arguments)]
async fn merge(
    conn: &mut Conn,
    survivor: &str,
    absorbed: &str,
    cause: LinkCause,
    reference: Option<&str>,
    identifiers: &[&Identifier],
    actor: &str,
    now: Timestamp,
) -> Result<(), Error> {
    let forwarded = conn
        .execute(
            "UPDATE customers SET status = 'merged', merged_into = $2, updated_at = $3, version = version + 1
             WHERE id = $1 AND status = 'active'",
            params![absorbed, survivor, now.to_text()],
        )
        .await?;
    if forwarded != 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "a profile of this link changed meanwhile; retry",
        ));
    }
    if let Some(recent) = conn.recent_changes() {
        // Its identities move to the survivor below.
        recent.profile(absorbed);
    }
    let elsewhere = owned_elsewhere(conn, absorbed).await?;
    for table in OWNED_TABLES.iter().chain(&elsewhere) {
        if *table == "carts" {
            // A customer has one active cart: two become one by the cart rule.
            crate::carts::follow_merge(conn, survivor, absorbed, now).await?;
            continue;
        }
        if *table == "loyalty_members" {
            // The ledger follows; two balances add up.
            crate::loyalty::merge(conn, absorbed, survivor).await?;
            continue;
        }
        if *table == "stock_alerts" {
            // One open request per product and store: the survivor's stays.
            conn.execute(
                "UPDATE stock_alerts SET status = 'cancelled', notified_at = $3
                 WHERE customer_id = $2 AND status = 'open' AND EXISTS (
                     SELECT 1 FROM stock_alerts s WHERE s.customer_id = $1 AND s.status = 'open'
                        AND s.sku = stock_alerts.sku AND s.location = stock_alerts.location)",
                params![survivor, absorbed, now.to_text()],
            )
            .await?;
        }
        if *table == "customer_addresses" {
            // The survivor's default address stays the default.
            conn.execute(
                "UPDATE customer_addresses SET is_default = 0 WHERE customer_id = $1",
                params![absorbed],
            )
            .await?;
        }
        conn.execute(
            &format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"),
            params![survivor, absorbed],
        )
        .await?;
    }
    // Profiles merged into the absorbed one earlier now forward to the survivor: one hop.
    conn.execute(
        "UPDATE customers SET merged_into = $1 WHERE merged_into = $2",
        params![survivor, absorbed],
    )
    .await?;
    conn.execute(
        "UPDATE customers SET
            given_name = COALESCE(given_name, (SELECT given_name FROM customers WHERE id = $2)),
            family_name = COALESCE(family_name, (SELECT family_name FROM customers WHERE id = $2)),
            home_store = COALESCE(home_store, (SELECT home_store FROM customers WHERE id = $2)),
            updated_at = $3, version = version + 1
         WHERE id = $1",
        params![survivor, absorbed, now.to_text()],
    )
    .await?;
    // Open reviews of the absorbed profile now concern the survivor; a review between the two
    // is settled by this merge. Most merges (a visitor signing in) concern no review at all.
    if has_open_review(conn, survivor, absorbed).await? {
        move_reviews(conn, survivor, absorbed, actor, now).await?;
    }
    let record = MergeRecord {
        id: new_id("mrg"),
        survivor_id: survivor.to_owned(),
        absorbed_id: absorbed.to_owned(),
        cause: cause.as_str().to_owned(),
        reference: reference.map(str::to_owned),
        identifiers: identifiers.iter().map(|i| (*i).clone()).collect(),
        actor: actor.to_owned(),
        at: now,
    };
    conn.execute(
        "INSERT INTO customer_merges (id, survivor_id, absorbed_id, cause, identifiers, actor, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![
            &record.id,
            survivor,
            absorbed,
            record.cause_text(),
            rows::to_json(&record.identifiers),
            actor,
            now.to_text()
        ],
    )
    .await?;
    // The kinds of the identifiers that linked them, never their values.
    let merged = Merged {
        id: record.id,
        survivor_id: survivor.to_owned(),
        absorbed_id: absorbed.to_owned(),
        cause: record.cause,
        reference: reference.map(str::to_owned),
        identifier_kinds: record.identifiers.iter().map(|i| i.kind).collect(),
        at: now,
    };
    events::emit(conn, Event::CustomerMerged(&merged), survivor, actor).await
}

/// Whether either profile is part of an open merge review.
async fn has_open_review(conn: &mut Conn, a: &str, b: &str) -> Result<bool, Error> {
    Ok(conn
        .query_opt(
            "SELECT 1 AS open FROM merge_reviews
              WHERE status = 'open' AND (customer_a IN ($1, $2) OR customer_b IN ($1, $2)) LIMIT 1",
            params![a, b],
        )
        .await?
        .is_some())
}

/// Settles the review between `survivor` and `absorbed`, and hands the absorbed profile's
/// other open reviews to the survivor (dropping one that would duplicate the survivor's own).
async fn move_reviews(
    conn: &mut Conn,
    survivor: &str,
    absorbed: &str,
    actor: &str,
    now: Timestamp,
) -> Result<(), Error> {
    conn.execute(
        "UPDATE merge_reviews SET status = 'merged', decided_at = $3, decided_by = $4
         WHERE status = 'open' AND ((customer_a = $1 AND customer_b = $2) OR (customer_a = $2 AND customer_b = $1))",
        params![survivor, absorbed, now.to_text(), actor],
    )
    .await?;
    for (col, other) in [("customer_a", "customer_b"), ("customer_b", "customer_a")] {
        // A review that would now duplicate an open one of the survivor is dropped.
        conn.execute(
            &format!(
                "UPDATE merge_reviews SET {col} = $1 WHERE status = 'open' AND {col} = $2
                 AND NOT EXISTS (SELECT 1 FROM merge_reviews o WHERE o.status = 'open'
                                 AND o.{col} = $1 AND o.{other} = merge_reviews.{other})"
            ),
            params![survivor, absorbed],
        )
        .await?;
        conn.execute(
            &format!("UPDATE merge_reviews SET status = 'merged', decided_at = $2, decided_by = $3 WHERE status = 'open' AND {col} = $1"),
            params![absorbed, now.to_text(), actor],
        )
        .await?;
    }
    Ok(())
}

/// One merge, as recorded: which profile absorbed which, why, through which identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRecord {
    pub id: String,
    pub survivor_id: String,
    pub absorbed_id: String,
    /// `event`, `sign_in`, `manual` or `review`.
    pub cause: String,
    /// The request or event that linked them.
    pub reference: Option<String>,
    pub identifiers: Vec<Identifier>,
    pub actor: String,
    pub at: Timestamp,
}

impl MergeRecord {
    /// The cause column also keeps the reference: `event:<request id>`.
    fn cause_text(&self) -> String {
        match &self.reference {
            Some(r) => format!("{}:{r}", self.cause),
            None => self.cause.clone(),
        }
    }

    fn from_row(row: &Row) -> Result<MergeRecord, Error> {
        let text = row.text("cause")?;
        let (cause, reference) = match text.split_once(':') {
            Some((c, r)) => (c.to_owned(), Some(r.to_owned())),
            None => (text, None),
        };
        Ok(MergeRecord {
            id: row.text("id")?,
            survivor_id: row.text("survivor_id")?,
            absorbed_id: row.text("absorbed_id")?,
            cause,
            reference,
            identifiers: rows::json(row, "identifiers")?,
            actor: row.text("actor")?,
            at: rows::timestamp(row, "at")?,
        })
    }
}

/// How a profile came to be: every merge into it or into a profile it later absorbed,
/// oldest first.
pub async fn merge_history(db: &Db, customer_id: &str) -> Result<Vec<MergeRecord>, Error> {
    let mut conn = db.read().await?;
    let mut frontier = vec![customer_id.to_owned()];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut records = Vec::new();
    while let Some(id) = frontier.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for row in conn
            .query(
                "SELECT id, survivor_id, absorbed_id, cause, identifiers, actor, at
                 FROM customer_merges WHERE survivor_id = $1",
                params![&id],
            )
            .await?
        {
            let record = MergeRecord::from_row(&row)?;
            frontier.push(record.absorbed_id.clone());
            records.push(record);
        }
    }
    records.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    Ok(records)
}

/// A pair of profiles waiting for a person to decide whether they are one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeReview {
    pub id: String,
    pub customer_a: String,
    pub customer_b: String,
    pub reason: ReviewReason,
    pub identifiers: Vec<Identifier>,
    pub status: String,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

/// What review events carry: the pair and the reason, not the identifiers.
fn review_changed(r: &MergeReview) -> ReviewChanged {
    ReviewChanged {
        id: r.id.clone(),
        customer_a: r.customer_a.clone(),
        customer_b: r.customer_b.clone(),
        reason: r.reason,
        status: r.status.clone(),
    }
}

fn review_from_row(row: &Row) -> Result<MergeReview, Error> {
    let reason = row.text("reason")?;
    Ok(MergeReview {
        id: row.text("id")?,
        customer_a: row.text("customer_a")?,
        customer_b: row.text("customer_b")?,
        reason: ReviewReason::parse(&reason).ok_or_else(|| corrupt("reason", &reason))?,
        identifiers: rows::json(row, "identifiers")?,
        status: row.text("status")?,
        created_at: rows::timestamp(row, "created_at")?,
        decided_at: rows::opt_timestamp(row, "decided_at")?,
        decided_by: row.opt_text("decided_by")?,
    })
}

const REVIEW_COLUMNS: &str =
    "id, customer_a, customer_b, reason, identifiers, status, created_at, decided_at, decided_by";

async fn flag_for_review(
    conn: &mut Conn,
    a: &str,
    b: &str,
    reason: ReviewReason,
    identifiers: &[&Identifier],
    actor: &str,
    now: Timestamp,
) -> Result<(), Error> {
    let id = new_id("rev");
    let inserted = conn
        .execute(
            "INSERT INTO merge_reviews (id, customer_a, customer_b, reason, identifiers, status, created_at)
             SELECT $1, $2, $3, $4, $5, 'open', $6
             WHERE NOT EXISTS (SELECT 1 FROM merge_reviews WHERE status = 'open'
                               AND ((customer_a = $2 AND customer_b = $3) OR (customer_a = $3 AND customer_b = $2)))",
            params![&id, a, b, reason.as_str(), rows::to_json(&identifiers), now.to_text()],
        )
        .await?;
    if inserted == 1 {
        let review = find_review(conn, &id)
            .await?
            .ok_or_else(|| Error::internal("review vanished"))?;
        let flagged = review_changed(&review);
        events::emit(conn, Event::CustomerMergeFlagged(&flagged), a, actor).await?;
    }
    Ok(())
}

pub async fn find_review(conn: &mut Conn, id: &str) -> Result<Option<MergeReview>, Error> {
    conn.query_opt(
        &format!("SELECT {REVIEW_COLUMNS} FROM merge_reviews WHERE id = $1"),
        params![id],
    )
    .await?
    .as_ref()
    .map(review_from_row)
    .transpose()
}

/// Reviews in id order, by status (`open` by default at the API).
pub async fn list_reviews(
    db: &Db,
    status: &str,
    page: &PageRequest,
) -> Result<Page<MergeReview>, Error> {
    let found = db
        .read()
        .await?
        .query(
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM merge_reviews WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            params![status, page.after.clone().unwrap_or_default(), page.fetch_limit()],
        )
        .await?;
    let reviews = found
        .iter()
        .map(review_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(reviews, page, |r| r.id.clone()))
}

/// A reviewer's decision: merge the pair (the survivor rule still picks who survives) or
/// keep them apart. A review is decided once.
pub async fn decide_review(
    conn: &mut Conn,
    id: &str,
    merge_them: bool,
    actor: &str,
) -> Result<MergeReview, Error> {
    let review = find_review(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("merge review", id))?;
    if review.status != "open" {
        return Err(
            Error::new(ErrorCode::Conflict, "this review is already decided")
                .with("status", review.status.clone()),
        );
    }
    let now = Timestamp::now();
    let status = if merge_them { "merged" } else { "dismissed" };
    conn.execute(
        "UPDATE merge_reviews SET status = $2, decided_at = $3, decided_by = $4 WHERE id = $1 AND status = 'open'",
        params![id, status, now.to_text(), actor],
    )
    .await?;
    if merge_them {
        let mut pair = [
            summary(conn, &review.customer_a).await?,
            summary(conn, &review.customer_b).await?,
        ];
        pair.sort_by(customers::merge::survivor_order);
        let named: Vec<&Identifier> = review.identifiers.iter().collect();
        merge(
            conn,
            &pair[0].id,
            &pair[1].id,
            LinkCause::Review,
            Some(id),
            &named,
            actor,
            now,
        )
        .await?;
    } else {
        let dismissed = review_changed(&review);
        events::emit(
            conn,
            Event::CustomerMergeDismissed(&dismissed),
            &review.customer_a,
            actor,
        )
        .await?;
    }
    find_review(conn, id)
        .await?
        .ok_or_else(|| Error::internal("review vanished"))
}

/// Every review that names a profile, whatever its status.
pub async fn reviews_of(db: &Db, customer_id: &str) -> Result<Vec<MergeReview>, Error> {
    db.read()
        .await?
        .query(
            &format!(
                "SELECT {REVIEW_COLUMNS} FROM merge_reviews WHERE customer_a = $1 OR customer_b = $1 ORDER BY id"
            ),
            params![customer_id],
        )
        .await?
        .iter()
        .map(review_from_row)
        .collect()
}
