//! Clienteling: a store associate or a service agent finds a customer by what the customer
//! says — an e-mail, a phone number, a loyalty card — and sees one card of them: who they
//! are, how they may be contacted, their orders on every channel, a cart left open on
//! another channel, their points and credits, and their latest history.
//!
//! The same rules as the API decide what is shown (`crate::customers::reach`): a store
//! sees its home-store customers and those who share their history with every store; staff
//! see everyone.

use customers::{ConsentRecord, Identifier, IdentityKind, PhoneRules, Profile};
use kernel::{Error, PageRequest};
use orders::cart::CartStatus;
use store::Db;
use store::customer_events::TimelineEntry;
use store::loyalty::Member;
use store::orders::{Order, OrderFilter};
use store::stored_value::Account;

use crate::access::{self, Principal};

/// How many orders and history entries the card shows.
pub const RECENT: u32 = 15;

/// Everything the card shows of one customer.
#[derive(Debug, Clone)]
pub struct Card {
    pub profile: Profile,
    pub identities: Vec<customers::Identity>,
    /// The latest answer per purpose and channel.
    pub consents: Vec<ConsentRecord>,
    pub orders: Vec<Order>,
    /// A cart still open, on whichever channel.
    pub open_cart: Option<orders::cart::Cart>,
    pub member: Option<Member>,
    pub stored_value: Vec<Account>,
    pub timeline: Vec<TimelineEntry>,
}

/// The identifiers a typed text could be: an e-mail, a phone number, a card number.
fn candidates(text: &str, phones: &PhoneRules) -> Vec<Identifier> {
    let kinds: &[IdentityKind] = if text.contains('@') {
        &[IdentityKind::Email]
    } else {
        &[IdentityKind::LoyaltyCard, IdentityKind::Phone]
    };
    kinds
        .iter()
        .filter_map(|k| Identifier::parse("q", *k, text.trim(), phones).ok())
        .collect()
}

/// The profile a typed e-mail, phone or card belongs to (staff and stores only).
pub async fn find(
    db: &Db,
    p: &Principal,
    text: &str,
    phones: &PhoneRules,
) -> Result<Option<String>, Error> {
    access::may_look_up_customers(p)?;
    if text.trim().is_empty() || text.len() > 254 {
        return Err(Error::validation(
            "q",
            "type an e-mail, a phone number or a card number",
        ));
    }
    store::customer_events::catch_up(db).await?;
    let mut conn = db.read().await?;
    for id in candidates(text, phones) {
        if let Some(owner) = crate::customers::look_up(&mut conn, p, &id).await? {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

fn latest_consents(records: Vec<ConsentRecord>) -> Vec<ConsentRecord> {
    let mut latest: Vec<ConsentRecord> = Vec::new();
    // Records come oldest first: a later answer for the same purpose and channel replaces.
    for r in records {
        latest.retain(|l| !(l.purpose == r.purpose && l.channel == r.channel));
        latest.push(r);
    }
    latest
}

/// The card of customer `id`, when `p` may see the customer.
pub async fn card(db: &Db, p: &Principal, id: &str) -> Result<Card, Error> {
    store::customer_events::catch_up(db).await?;
    let mut conn = db.read().await?;
    let profile = crate::customers::reach(&mut conn, p, id).await?;
    let identities = store::customers::identities(&mut conn, &profile.id).await?;
    let consents = latest_consents(store::consents::records(&mut conn, &profile.id).await?);
    let open_cart = store::carts::active_cart_of(&mut conn, &profile.id)
        .await?
        .filter(|c| c.status == CartStatus::Active && !c.lines.is_empty());
    let member = store::loyalty::member(&mut conn, &profile.id).await?;
    drop(conn);
    let recent = PageRequest::parse(Some(RECENT), None)?;
    let filter = OrderFilter {
        customer_id: Some(profile.id.clone()),
        ..OrderFilter::default()
    };
    let orders = store::orders::list(db, &filter, &recent).await?.data;
    let stored_value = store::stored_value::of_customer(db, &profile.id).await?;
    let timeline = store::customer_events::timeline(db, &profile.id, &recent)
        .await?
        .data;
    Ok(Card {
        profile,
        identities,
        consents,
        orders,
        open_cart,
        member,
        stored_value,
        timeline,
    })
}
