//! Sending time: still relevant? whom, how, when, in which words?

use std::collections::HashMap;

use customers::consent::{ConsentRecord, Purpose, may_use};
use customers::{IdentityKind, ProfileStatus};
use kernel::{Error, Timestamp};
use notify::reach::{Addresses, Choice, QuietHours, choose};
use notify::templates::{self, Rendered};
use notify::{Language, Medium, RuleConfig, RuleKind};
use serde_json::{Value, json};
use store::notifications::{self as log, Claimed, Outcome, Preferences};
use store::{Conn, Db};

/// What the retailer set for every message.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quiet_hours: QuietHours,
    /// The zone of customers whose zone is unknown (and who have no home store).
    pub time_zone: String,
    /// The media this node can send on (a medium without a transport is never chosen).
    pub media: Vec<Medium>,
}

/// A message ready for a transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The firing's deduplication key: the e-mail's Message-ID and the providers'
    /// idempotency key, so a resend after a crash is recognisable downstream.
    pub key: String,
    pub rule: RuleKind,
    pub medium: Medium,
    pub recipient: String,
    pub language: Language,
    pub rendered: Rendered,
    /// An iCalendar entry for the pickup window or the reservation deadline.
    pub calendar: Option<String>,
}

/// What to do with a claimed firing.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    Send(Message),
    Done(Outcome),
}

/// Everything about a customer a message needs.
pub(super) struct Recipient {
    pub status: ProfileStatus,
    pub given_name: Option<String>,
    pub home_store: Option<String>,
    pub preferences: Preferences,
    pub addresses: Addresses,
    pub consents: Vec<ConsentRecord>,
}

impl Recipient {
    pub(super) async fn load(conn: &mut Conn, customer: &str) -> Result<Recipient, Error> {
        let profile = store::profiles::followed(conn, customer).await?;
        let identities = store::customers::identities(conn, &profile.id).await?;
        // A verified address before an unverified one; then the oldest.
        let best = |kind: IdentityKind| {
            let mut of_kind: Vec<_> = identities
                .iter()
                .filter(|i| i.identifier.kind == kind)
                .collect();
            of_kind.sort_by_key(|i| !i.verified);
            of_kind.first().map(|i| i.identifier.value.clone())
        };
        Ok(Recipient {
            status: profile.status,
            given_name: profile.given_name.clone(),
            home_store: profile.home_store.clone(),
            preferences: log::preferences(conn, &profile.id).await?,
            addresses: Addresses {
                email: best(IdentityKind::Email),
                phone: best(IdentityKind::Phone),
                device: best(IdentityKind::AppDevice),
            },
            consents: store::consents::records(conn, &profile.id).await?,
        })
    }

    /// "May purpose P be used on this sales channel?"
    pub(super) fn consents<'a>(&'a self, channel: &'a str) -> impl Fn(Purpose) -> bool + 'a {
        move |p| may_use(&self.consents, p, channel).allowed
    }
}

/// Leases up to `limit` due firings to this node for `lease_s` seconds.
pub async fn claim(db: &Db, limit: i64, lease_s: i64) -> Result<Vec<Claimed>, Error> {
    let now = Timestamp::now();
    let until = Timestamp::from_unix_ms(now.unix_ms() + lease_s * 1000);
    db.write_background(move |c| Box::pin(async move { log::claim(c, (now, until), limit).await }))
        .await
}

/// Decides each claimed firing at the instant of sending.
pub async fn prepare(
    db: &Db,
    settings: &Settings,
    claimed: &[Claimed],
) -> Result<Vec<Prepared>, Error> {
    let mut conn = db.read().await?;
    let rules: HashMap<_, _> = log::rules(&mut conn).await?.into_iter().collect();
    let zones: HashMap<String, String> = store::locations::all_locations(db)
        .await?
        .into_iter()
        .map(|l| (l.code, l.time_zone))
        .collect();
    let now = Timestamp::now();
    let mut out = Vec::with_capacity(claimed.len());
    for c in claimed {
        let config = &rules[&c.rule];
        let decided = match decide(&mut conn, settings, (config, c)).await? {
            Err(outcome) => Prepared::Done(outcome),
            Ok((who, medium, recipient)) => {
                let zone = who
                    .preferences
                    .time_zone
                    .clone()
                    .or_else(|| who.home_store.as_ref().and_then(|h| zones.get(h).cloned()))
                    .unwrap_or_else(|| settings.time_zone.clone());
                let allowed = settings.quiet_hours.next_allowed(now, &zone);
                match c.rule.waits_out_quiet_hours() && allowed > now {
                    true => Prepared::Done(Outcome::Postponed(allowed)),
                    false => write(c, config, (&who, &zone), (medium, recipient), now)?,
                }
            }
        };
        out.push(decided);
    }
    Ok(out)
}

/// Whether to send at all, and to whom on which medium; or the outcome that ends it.
async fn decide(
    conn: &mut Conn,
    settings: &Settings,
    (config, c): (&RuleConfig, &Claimed),
) -> Result<Result<(Recipient, Medium, String), Outcome>, Error> {
    if !config.enabled {
        return Ok(Err(Outcome::Cancelled("the rule was turned off".into())));
    }
    if let Some(why) = no_longer_relevant(conn, c).await? {
        return Ok(Err(Outcome::Cancelled(why)));
    }
    let who = Recipient::load(conn, &c.customer_id).await?;
    if who.status != ProfileStatus::Active {
        let why = format!("the profile is {}", who.status.as_str());
        return Ok(Err(Outcome::Cancelled(why)));
    }
    let media: Vec<Medium> = config
        .media
        .iter()
        .copied()
        .filter(|m| settings.media.contains(m))
        .collect();
    if media.is_empty() {
        let named: Vec<&str> = config.media.iter().map(|m| m.as_str()).collect();
        let why = format!(
            "none of the rule's media ({}) can be sent from this node",
            named.join(", ")
        );
        return Ok(Err(Outcome::Skipped(why)));
    }
    let channel = c.channel.clone().unwrap_or_default();
    let preferred = who.preferences.medium;
    let choice = choose(
        c.rule,
        &media,
        preferred,
        &who.addresses,
        who.consents(&channel),
    );
    Ok(match choice {
        Choice::Send { medium, recipient } => Ok((who, medium, recipient)),
        Choice::Skip(why) => Err(Outcome::Skipped(why)),
    })
}

/// The message, in the customer's language and zone.
fn write(
    c: &Claimed,
    config: &RuleConfig,
    (who, zone): (&Recipient, &str),
    (medium, recipient): (Medium, String),
    now: Timestamp,
) -> Result<Prepared, Error> {
    let language = who.preferences.language.unwrap_or_default();
    let context = with_customer(&c.context, who, (zone, language));
    let rendered = templates::render(c.rule, language, config.wording.get(&language), &context)?;
    let calendar = calendar(c, &rendered, &context, now);
    Ok(Prepared::Send(Message {
        key: c.dedup_key.clone(),
        rule: c.rule,
        medium,
        recipient,
        language,
        rendered,
        calendar,
    }))
}

/// Why a firing no longer makes sense: the order was collected, the cart checked out…
async fn no_longer_relevant(conn: &mut Conn, c: &Claimed) -> Result<Option<String>, Error> {
    use orders::OrderState::*;
    let wanted: &[orders::OrderState] = match c.rule {
        RuleKind::PickupReady | RuleKind::PickupReminder | RuleKind::PickupLastDay => {
            &[ReadyForPickup]
        }
        RuleKind::ReservationExpiring => &[Placed, Preparing, ReadyToTry],
        RuleKind::AbandonedCart => {
            let cart = store::carts::find_cart(conn, &c.subject).await?;
            let touched = c.context["cart"]["updated_at"].as_str();
            return Ok(match cart {
                Some(cart)
                    if cart.status == orders::cart::CartStatus::Active
                        && Some(cart.updated_at.to_text().as_str()) == touched =>
                {
                    None
                }
                _ => Some("the cart was changed or checked out since".into()),
            });
        }
        _ => return Ok(None),
    };
    let order = store::orders::find_order(conn, &c.subject).await?;
    Ok(match order {
        Some(o) if wanted.contains(&o.state) => None,
        Some(o) => Some(format!("the order is {} now", o.state.as_str())),
        None => Some("the order is gone".into()),
    })
}

/// The firing's facts, with the customer's name and the deadline written for them.
fn with_customer(context: &Value, who: &Recipient, (zone, language): (&str, Language)) -> Value {
    let mut context = context.clone();
    context["customer"] = json!({ "given_name": who.given_name });
    let deadline = context["order"]["deadline_at"]
        .as_str()
        .and_then(|t| Timestamp::parse(t).ok());
    if let Some(at) = deadline {
        context["order"]["deadline"] = json!(templates::local_date_time(at, zone, language));
    }
    if let Some(hm) = context["offer"]["distance_hm"].as_i64() {
        context["offer"]["distance_km"] = json!(notify::offer::distance_text(hm, language));
    }
    context
}

/// The pickup window (from now to the deadline) or the reservation's last hour.
fn calendar(c: &Claimed, rendered: &Rendered, context: &Value, now: Timestamp) -> Option<String> {
    let deadline = context["order"]["deadline_at"]
        .as_str()
        .and_then(|t| Timestamp::parse(t).ok())?;
    let start = match c.rule {
        RuleKind::PickupReady | RuleKind::PickupReminder | RuleKind::PickupLastDay => now,
        RuleKind::ReservationExpiring => Timestamp::from_unix_ms(deadline.unix_ms() - 3_600_000),
        _ => return None,
    };
    let store = &context["store"];
    let event = notify::ics::CalendarEvent {
        uid: format!("{}@relais", c.subject),
        start,
        end: deadline,
        summary: rendered.subject.clone(),
        location: format!(
            "{}, {}",
            store["name"].as_str().unwrap_or_default(),
            store["address"].as_str().unwrap_or_default()
        ),
        description: rendered.short.clone(),
    };
    Some(notify::ics::render(&event, now))
}

/// Records what happened to claimed firings, in one command.
pub async fn finish(db: &Db, results: Vec<(Claimed, Outcome)>) -> Result<(), Error> {
    if results.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    db.write_background(move |c| Box::pin(async move { log::finish(c, &results, now).await }))
        .await
}
