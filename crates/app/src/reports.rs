//! Staff reports and the outbox: what the back office reads across customers, stores and
//! channels.

use kernel::{Error, Page, PageRequest, Timestamp};
use store::Db;
use store::events::StoredEvent;
use store::orders::OwnerLine;
use store::prices::ParityLine;

use crate::access::Principal;

/// An owner's (a franchisee's) orders between two instants, newest first (staff).
pub async fn owner_orders(
    db: &Db,
    p: &Principal,
    (owner, from, to, online_only): (&str, Timestamp, Timestamp, bool),
    page: &PageRequest,
) -> Result<Page<OwnerLine>, Error> {
    p.require_staff()?;
    store::orders::owner_report(db, owner, from, to, online_only, page).await
}

/// Every channel override with its base price and reason (admin).
pub async fn price_parity(
    db: &Db,
    p: &Principal,
    page: &PageRequest,
) -> Result<(Page<ParityLine>, Vec<promotions::Promotion>), Error> {
    p.require_marketing()?;
    let overrides = store::prices::parity_report(db, page).await?;
    // The other deliberate differences: promotions in force on some channels only (listed
    // with the first page).
    let mut scoped = Vec::new();
    if page.after.is_none() {
        let all = PageRequest::parse(Some(500), None)?;
        scoped = store::promotions::list(db, true, &all)
            .await?
            .data
            .into_iter()
            .filter(|p| !p.conditions.channels.is_empty())
            .collect();
    }
    Ok((overrides, scoped))
}

/// The outbox in order, optionally of one type or about one subject (admin).
pub async fn outbox(
    db: &Db,
    p: &Principal,
    (kind, subject): (Option<&str>, Option<&str>),
    page: &PageRequest,
) -> Result<Page<StoredEvent>, Error> {
    p.require_admin()?;
    store::events::list(db, kind, subject, page).await
}

/// Merge reviews in a status (`open`, `merged`, `dismissed`), for a person to decide (staff).
pub async fn merge_reviews(
    db: &Db,
    p: &Principal,
    status: &str,
    page: &PageRequest,
) -> Result<Page<store::customers::MergeReview>, Error> {
    p.require_staff()?;
    store::customers::list_reviews(db, status, page).await
}

/// Behavioural events the resolver set aside, with their errors (staff).
pub async fn set_aside_events(
    db: &Db,
    p: &Principal,
    page: &PageRequest,
) -> Result<Page<store::customer_events::SetAsideEvent>, Error> {
    p.require_staff()?;
    store::customer_events::set_aside(db, page).await
}

/// What is waiting behind the writes, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlogs {
    /// Behavioural events appended but not yet linked to profiles (SQLite).
    pub events_unresolved: i64,
    pub events_set_aside: i64,
    /// Pending holds past their deadline, and how long the oldest has been.
    pub holds_overdue: i64,
    pub hold_sweep_lag_s: i64,
    /// Outbox events not yet published to NATS, when a publisher has run.
    pub outbox_unpublished: Option<i64>,
}

/// Reads the backlogs (a few cheap queries; `/metrics` needs no key, so nothing personal).
pub async fn backlogs(db: &Db) -> Result<Backlogs, Error> {
    let at = store::customer_events::positions(db).await?;
    let now = crate::clock::now();
    let (holds_overdue, oldest) = store::stock::overdue_holds(db, now).await?;
    let published = store::feed::cursor(db, store::feed::NATS_CURSOR).await?;
    let outbox_unpublished = match published {
        Some(p) => Some((store::events::last_seq(db).await? - p.seq).max(0)),
        None => None,
    };
    Ok(Backlogs {
        events_unresolved: at.appended - at.resolved,
        events_set_aside: store::customer_events::set_aside_count(db).await?,
        holds_overdue,
        hold_sweep_lag_s: oldest.map_or(0, |o| (now.unix_ms() - o.unix_ms()) / 1000),
        outbox_unpublished,
    })
}
