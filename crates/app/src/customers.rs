//! Reaching a customer: which profile a request is about (a merged one forwards to its
//! survivor) and whether the asking key may see it, one rule for the profile, its
//! identities, consents, orders, cart, credits and history ([`access::customer`]).
//!
//! An erased profile answers `status: erased` on the profile itself (the tombstone holds
//! nothing personal), and `customer_erased` (410) on every sub-resource, whoever asks.

use customers::{Profile, ProfileStatus, Purpose};
use kernel::{Error, ErrorCode};
use store::Conn;

use crate::access::{self, CustomerFacts, Principal};

/// The profile `id` names, followed to its survivor when merged.
async fn active_profile(conn: &mut Conn, id: &str) -> Result<Profile, Error> {
    let profile = store::customers::find_profile(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    match (profile.status, &profile.merged_into) {
        (ProfileStatus::Merged, Some(survivor)) => store::customers::find_profile(conn, survivor)
            .await?
            .ok_or_else(|| Error::not_found("customer", survivor)),
        _ => Ok(profile),
    }
}

fn erased(id: &str) -> Error {
    Error::new(
        ErrorCode::CustomerErased,
        format!("customer {id} was erased; nothing is kept about them"),
    )
    .with("customer_id", id.to_owned())
}

/// The active profile behind `id`, when `p` may see it: for every sub-resource of a customer.
pub async fn reach(conn: &mut Conn, p: &Principal, id: &str) -> Result<Profile, Error> {
    let profile = active_profile(conn, id).await?;
    if profile.status == ProfileStatus::Erased {
        return Err(erased(&profile.id));
    }
    check(conn, p, &profile).await?;
    Ok(profile)
}

/// The profile itself: an erased one is shown as erased to any key that may call the route.
pub async fn reach_profile(conn: &mut Conn, p: &Principal, id: &str) -> Result<(), Error> {
    let profile = active_profile(conn, id).await?;
    if profile.status == ProfileStatus::Erased {
        return Ok(());
    }
    check(conn, p, &profile).await
}

/// Whether `p` may see `profile` (active), loading only the facts its scopes need.
pub async fn check(conn: &mut Conn, p: &Principal, profile: &Profile) -> Result<(), Error> {
    if p.is_staff() {
        return Ok(());
    }
    let facts = facts_for(conn, p, profile).await?;
    access::customer(p, &facts)
}

async fn facts_for(conn: &mut Conn, p: &Principal, profile: &Profile) -> Result<CustomerFacts, Error> {
    let mut facts = CustomerFacts {
        home_store: profile.home_store.clone(),
        ..CustomerFacts::default()
    };
    let home_is_own = p.stores().any(|s| profile.home_store.as_deref() == Some(s));
    if p.stores().next().is_some() && !home_is_own {
        let records = store::consents::records(conn, &profile.id).await?;
        // Sharing is granted for every store at once: only records for all channels count.
        facts.shares_history =
            customers::consent::may_use(&records, Purpose::ServiceHistorySharing, "*").allowed;
    }
    for channel in p.channels() {
        if store::customers::known_on_channel(conn, &profile.id, channel).await? {
            facts.known_on_channel = true;
            break;
        }
    }
    Ok(facts)
}

/// Changing a profile's names or home store: the key must see the customer, and only staff
/// and channels move the home store.
pub async fn may_update(
    conn: &mut Conn,
    p: &Principal,
    id: &str,
    moves_home_store: bool,
) -> Result<(), Error> {
    reach(conn, p, id).await?;
    if moves_home_store {
        access::move_home_store(p)?;
    }
    Ok(())
}

/// Erases the person `id` stands for (GDPR Art. 17) in one command, then removes what it
/// deleted or blanked from the database files ([`store::gdpr::scrub_after_erasure`]). The
/// erasure stands once committed: a scrub that fails is logged, and runs again with the
/// next erasure (SQLite) or the next VACUUM (PostgreSQL's autovacuum, at the latest).
pub async fn erase(
    db: &store::Db,
    id: String,
    rules: store::customers::ResolutionRules,
    actor: String,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(store::gdpr::Erasure) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    // As for links: the tail first, in runs of its own; the command resolves the rest.
    store::customer_events::catch_up(db).await?;
    let response = db
        .write_once(
            idempotency,
            move |c| Box::pin(async move { store::gdpr::erase(c, &id, rules, &actor).await }),
            render,
        )
        .await?;
    if let Err(e) = store::gdpr::scrub_after_erasure(db).await {
        tracing::error!(error = %e, "erasure committed, but its old row versions are still in the database files");
    }
    Ok(response)
}
