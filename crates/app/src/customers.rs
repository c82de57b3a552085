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

fn erased(id: &str) -> Error {
    Error::new(
        ErrorCode::CustomerErased,
        format!("customer {id} was erased; nothing is kept about them"),
    )
    .with("customer_id", id.to_owned())
}

/// The profile an identifier belongs to, if any (staff and stores only).
pub async fn look_up(
    conn: &mut Conn,
    p: &Principal,
    id: &customers::Identifier,
) -> Result<Option<String>, Error> {
    access::may_look_up_customers(p)?;
    Ok(store::customers::owner_of(conn, id)
        .await?
        .map(|(owner, _)| owner))
}

/// Profiles, of one home store or all, in id order (see
/// [`access::customer_list_home_store`]).
pub async fn list(
    db: &store::Db,
    p: &Principal,
    home_store: Option<&str>,
    page: &kernel::PageRequest,
) -> Result<kernel::Page<Profile>, Error> {
    let home_store = access::customer_list_home_store(p, home_store)?;
    store::customers::list_profiles(db, home_store.as_deref(), page).await
}

/// The active profile behind `id`, when `p` may see it: for every sub-resource of a customer.
pub async fn reach(conn: &mut Conn, p: &Principal, id: &str) -> Result<Profile, Error> {
    let profile = store::profiles::followed(conn, id).await?;
    if profile.status == ProfileStatus::Erased {
        return Err(erased(&profile.id));
    }
    check(conn, p, &profile).await?;
    Ok(profile)
}

/// The profile itself: an erased one is shown as erased to any key that may call the route.
pub async fn reach_profile(conn: &mut Conn, p: &Principal, id: &str) -> Result<(), Error> {
    let profile = store::profiles::followed(conn, id).await?;
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

async fn facts_for(
    conn: &mut Conn,
    p: &Principal,
    profile: &Profile,
) -> Result<CustomerFacts, Error> {
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

/// A profile with its identifiers, as the use cases answer it.
pub type ProfileView = (Profile, Vec<customers::Identity>);

async fn view(c: &mut Conn, id: &str) -> Result<ProfileView, Error> {
    let profile = store::customers::find_profile(c, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    let identities = store::customers::identities(c, &profile.id).await?;
    Ok((profile, identities))
}

/// Creates a profile with its identifiers (any key: a channel signs its customers up, a
/// store or an agent registers one), recorded as seen on `channel`.
pub async fn create(
    db: &store::Db,
    p: &Principal,
    fields: store::customers::NewProfile,
    identifiers: Vec<(customers::Identifier, bool)>,
    channel: Option<String>,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(ProfileView) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    let channel = access::promising_channel(p, channel)?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let created = store::customers::create_profile(
                    c,
                    &fields,
                    &identifiers,
                    channel.as_deref(),
                    &actor,
                )
                .await?;
                view(c, &created.id).await
            })
        },
        render,
    )
    .await
}

/// Changes names or the home store of a profile `p` may see (only staff and channels move
/// the home store).
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &store::Db,
    p: &Principal,
    id: String,
    given_name: Option<Option<String>>,
    family_name: Option<Option<String>>,
    home_store: Option<Option<String>>,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(ProfileView) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    may_update(&mut db.read().await?, p, &id, home_store.is_some()).await?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                let changed = store::customers::update_profile(
                    c,
                    &id,
                    given_name,
                    family_name,
                    home_store,
                    &actor,
                )
                .await?;
                view(c, &changed.id).await
            })
        },
        render,
    )
    .await
}

/// Decides a merge review, once (the route is for staff).
pub async fn decide_review(
    db: &store::Db,
    p: &Principal,
    id: String,
    merge: bool,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(store::customers::MergeReview) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    p.require_staff()?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move { store::customers::decide_review(c, &id, merge, &actor).await })
        },
        render,
    )
    .await
}

/// Identifiers that belong together, to link (a sign-in, an agent's "same person").
pub struct LinkRequest {
    pub identifiers: Vec<(customers::Identifier, bool)>,
    /// The profile they must join, when the caller names one (it must be able to see it).
    pub anchor: Option<String>,
    /// The channel the customer signed in on; a channel key's own by default.
    pub channel: Option<String>,
    pub cause: store::customers::LinkCause,
}

/// Links identifiers by the survivor rule and the guard rails, in one command, after the
/// event log's tail (log order): the profile is then known on the channel.
pub async fn link(
    db: &store::Db,
    p: &Principal,
    rules: store::customers::ResolutionRules,
    req: LinkRequest,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(store::customers::Resolution) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    if let Some(anchor) = &req.anchor {
        reach(&mut db.read().await?, p, anchor).await?;
    }
    let channel = access::promising_channel(p, req.channel)?;
    // The tail is resolved in runs of its own first (an event that fails there is set
    // aside); the command then resolves only what arrives meanwhile.
    store::customer_events::catch_up(db).await?;
    let actor = p.key_id.clone();
    let reference = kernel::id::new_id("req");
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                if let Some(code) = &channel
                    && store::channels::find_channel(&mut *c, code)
                        .await?
                        .is_none()
                {
                    return Err(Error::unknown_reference("channel", "channel", code));
                }
                store::customer_events::resolve_all(c, rules).await?;
                let link = store::customers::Link {
                    identifiers: &req.identifiers,
                    anchor: req.anchor.as_deref(),
                    channel: channel.as_deref(),
                    cause: req.cause,
                    reference: Some(&reference),
                };
                let resolution =
                    store::customers::link(c, &link, rules, &actor, &mut Default::default())
                        .await?;
                if let Some(code) = &channel {
                    store::customers::note_channel(c, &resolution.customer_id, code).await?;
                }
                Ok(resolution)
            })
        },
        render,
    )
    .await
}

/// Appends a consent record for a profile `p` may see; a channel key records consent for
/// its own channel (or for every channel). The record's id, customer and time are set here.
pub async fn record_consent(
    db: &store::Db,
    p: &Principal,
    id: String,
    mut record: customers::ConsentRecord,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(customers::ConsentRecord) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    if let Some(own) = p.own_channel()
        && record.channel.as_deref().is_some_and(|c| c != own)
    {
        return Err(access::forbidden(
            "a channel key records consent for its own channel (or for every channel)",
        ));
    }
    reach(&mut db.read().await?, p, &id).await?;
    let actor = p.key_id.clone();
    let now = crate::clock::now();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                record.id = kernel::id::new_id("cns");
                record.customer_id = store::customers::active_id(c, &id).await?;
                record.recorded_at = now;
                store::consents::record(c, &record, &actor).await?;
                Ok(record)
            })
        },
        render,
    )
    .await
}

/// Where `p` may note an interaction: the stores it works at (every store for staff), and
/// whether it may name none (staff: a call to the service centre belongs to no store).
pub async fn interaction_places(
    db: &store::Db,
    p: &Principal,
) -> Result<(Vec<catalog::location::Location>, bool), Error> {
    let stores = crate::work_queue::stores_of(db, p).await?;
    Ok((stores, p.is_staff()))
}

/// Records a service interaction: staff anywhere, a store key (or a manager of several) at
/// its own stores for any customer (noting a visit it handled is not reading the history).
pub async fn record_interaction(
    db: &store::Db,
    p: &Principal,
    id: &str,
    mut interaction: customers::Interaction,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(customers::Interaction) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    if !p.is_staff() {
        let Some(first) = p.stores().next().map(str::to_owned) else {
            return Err(access::forbidden(
                "service interactions are recorded by service, store and admin keys",
            ));
        };
        match &interaction.location_code {
            Some(code) if !p.stores().any(|s| s == code) => {
                return Err(access::forbidden(
                    "a store key records interactions at its own stores",
                ));
            }
            Some(_) => {}
            None => interaction.location_code = Some(first),
        }
    }
    interaction.customer_id = store::customers::active_id(&mut db.read().await?, id).await?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(async move {
                store::interactions::record(c, &interaction, &actor).await?;
                Ok(interaction)
            })
        },
        render,
    )
    .await
}

/// Resolves an event the resolver set aside again, once its row is mended (the route is for
/// staff): the events before it resolve first, so the link sees their profiles.
pub async fn retry_set_aside(
    db: &store::Db,
    p: &Principal,
    seq: i64,
    rules: store::customers::ResolutionRules,
    idempotency: Option<store::IdempotencyKey>,
    render: impl FnOnce(store::customer_events::Retried) -> store::StoredResponse + Send + 'static,
) -> Result<store::StoredResponse, Error> {
    p.require_staff()?;
    store::customer_events::catch_up(db).await?;
    let actor = p.key_id.clone();
    db.write_once(
        idempotency,
        move |c| {
            Box::pin(
                async move { store::customer_events::retry_set_aside(c, seq, rules, &actor).await },
            )
        },
        render,
    )
    .await
}
