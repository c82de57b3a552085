//! The demo's customers: 1,000 people with histories across the web, the app, the stores and
//! their kiosks — anonymous browsing merged at sign-in, consents given and withdrawn, calls
//! and e-mails to customer service, and a dozen families sharing a tablet whose profiles wait
//! for a reviewer. Deterministic: every demo has the same customers.

use std::collections::BTreeMap;

use app::Scope;
use app::customers::{LinkRequest, ProfileView};
use app::events::{Batch, Ingested};
use customers::{
    CollectionMethod, ConsentRecord, ConsentStatus, CustomerEvent, Direction, Evidence, Identifier,
    IdentityKind, Interaction, InteractionMedium, Purpose,
};
use kernel::id::new_id;
use kernel::{Error, Timestamp};
use store::Db;
use store::customers::{LinkCause, NewProfile, Resolution, ResolutionRules};

use crate::demo_calls::{acting, kept, side_by_side};

pub const CUSTOMERS: usize = 1000;
/// Families whose two verified members share one tablet: pending merge reviews.
const SHARED_TABLETS: usize = 12;

pub(crate) const GIVEN: &[&str] = &[
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Alice", "Lina", "Sarah",
    "Zoé", "Juliette", "Anaïs", "Clara", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules",
    "Nathan", "Théo", "Raphaël", "Mathis", "Noah", "Tom", "Maël", "Éric", "Yanis",
];
pub(crate) const FAMILY: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
];
const SEARCHES: &[&str] = &[
    "chaussures trail",
    "veste pluie",
    "sac à dos 30l",
    "vélo gravel",
    "tente 2 places",
    "gourde isotherme",
    "short running",
    "bâtons randonnée",
];
const SUMMARIES: &[(InteractionMedium, Direction, &str)] = &[
    (
        InteractionMedium::Email,
        Direction::Inbound,
        "Asks whether the trail shoes run small",
    ),
    (
        InteractionMedium::Phone,
        Direction::Inbound,
        "Parcel late; told the carrier's new date",
    ),
    (
        InteractionMedium::Chat,
        Direction::Inbound,
        "Wants to change the pickup store of an order",
    ),
    (
        InteractionMedium::StoreVisit,
        Direction::Inbound,
        "Tried two jackets, will come back for the blue one",
    ),
    (
        InteractionMedium::Email,
        Direction::Outbound,
        "Sent the size guide for hiking boots",
    ),
    (
        InteractionMedium::Social,
        Direction::Inbound,
        "Asked on Instagram about the bike fitting service",
    ),
    (
        InteractionMedium::Phone,
        Direction::Outbound,
        "Called back: the repaired bike is ready",
    ),
];

/// A tiny deterministic generator (xorshift64*), so the demo is the same every time.
pub(crate) struct Dice(pub(crate) u64);

impl Dice {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Lower-case ASCII for e-mail addresses.
fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => 'e',
            'ë' => 'e',
            'ï' | 'î' => 'i',
            'ç' => 'c',
            'à' | 'â' => 'a',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn id(kind: IdentityKind, value: impl Into<String>) -> Identifier {
    Identifier {
        kind,
        value: value.into(),
    }
}

/// A store and how many kiosks it has.
pub struct StoreRef {
    pub code: &'static str,
    pub kiosks: u32,
}

/// One demo customer, decided up front.
struct Person {
    n: usize,
    given: &'static str,
    family: &'static str,
    email: Identifier,
    email_verified: bool,
    phone: Option<Identifier>,
    card: Option<Identifier>,
    home: &'static StoreRef,
    uses_app: bool,
}

fn person(n: usize, dice: &mut Dice, stores: &'static [StoreRef]) -> Person {
    let given = *dice.pick(GIVEN);
    let family = *dice.pick(FAMILY);
    Person {
        n,
        given,
        family,
        email: id(
            IdentityKind::Email,
            format!("{}.{}{n}@example.fr", fold(given), fold(family)),
        ),
        email_verified: dice.chance(80),
        phone: dice.chance(60).then(|| {
            id(
                IdentityKind::Phone,
                format!("+336{:08}", dice.below(100_000_000)),
            )
        }),
        card: dice.chance(40).then(|| {
            id(
                IdentityKind::LoyaltyCard,
                format!("ELS{:08}", 10_000_000 + n),
            )
        }),
        home: &stores[n % stores.len()],
        uses_app: dice.chance(50),
    }
}

/// Seeds the customers, side by side: each has dice of its own, so the demo is the same
/// whatever order the calls commit in.
pub async fn seed(db: &Db, stores: &'static [StoreRef]) -> anyhow::Result<()> {
    let mut dice = Dice(0x5eed_c0ff_ee00_0001);
    let people: Vec<(Person, u64)> = (0..CUSTOMERS)
        .map(|n| (person(n, &mut dice, stores), dice.next() | 1))
        .collect();
    side_by_side(
        people
            .iter()
            .map(|(p, seed)| one_customer(db, p, Dice(*seed))),
    )
    .await?;
    let people: Vec<Person> = people.into_iter().map(|(p, _)| p).collect();
    shared_tablets(db, &people).await?;
    Ok(())
}

/// Sends events the way their channel's key would: one batch per channel, linked to
/// profiles before the call answers (what follows in the story finds them).
async fn send_events(db: &Db, events: Vec<CustomerEvent>) -> Result<(), Error> {
    let mut by_channel: BTreeMap<String, Vec<CustomerEvent>> = BTreeMap::new();
    for e in events {
        by_channel.entry(e.channel.clone()).or_default().push(e);
    }
    for (channel, events) in by_channel {
        let batch = Batch {
            valid: store::customer_events::ready(events.into_iter().enumerate().collect()),
            rejected: vec![],
            wait_resolved: true,
        };
        let key = acting(Scope::Channel(channel));
        let rules = ResolutionRules::default();
        kept::<Ingested, _>(|k| app::events::ingest(db, rules, &key, batch, None, k)).await?;
    }
    Ok(())
}

fn ago(dice: &mut Dice, max_days: u64) -> Timestamp {
    let ms = dice.below(max_days * 86_400_000) as i64;
    Timestamp::from_unix_ms(Timestamp::now().unix_ms() - ms - 60_000)
}

fn event(
    channel: &str,
    kind: &str,
    ids: Vec<Identifier>,
    location: Option<&str>,
    props: serde_json::Value,
    at: Timestamp,
) -> CustomerEvent {
    CustomerEvent {
        channel: channel.into(),
        kind: kind.into(),
        identifiers: ids,
        location_code: location.map(str::to_owned),
        properties: props.as_object().cloned().unwrap_or_default(),
        occurred_at: at,
    }
}

async fn one_customer(db: &Db, p: &Person, mut dice: Dice) -> Result<(), Error> {
    let dice = &mut dice;
    let web = acting(Scope::Channel("web".into()));
    // Browsing the web anonymously first: a profile of its own until the sign-in.
    let anon = id(IdentityKind::WebAnonymous, format!("web-{:05}", p.n));
    let mut browsing = Vec::new();
    for _ in 0..(2 + dice.below(5)) {
        let (kind, props) = match dice.below(4) {
            0 => ("search", serde_json::json!({"query": dice.pick(SEARCHES)})),
            1 => (
                "add_to_cart",
                serde_json::json!({"sku_index": dice.below(312)}),
            ),
            _ => (
                "product_view",
                serde_json::json!({"sku_index": dice.below(312)}),
            ),
        };
        browsing.push(event(
            "web",
            kind,
            vec![anon.clone()],
            None,
            props,
            ago(dice, 90),
        ));
    }
    send_events(db, browsing).await?;

    // The account: created at sign-up, then the sign-in links the anonymous browsing.
    let mut identifiers = vec![(p.email.clone(), p.email_verified)];
    identifiers.extend(p.phone.iter().map(|ph| (ph.clone(), false)));
    identifiers.extend(p.card.iter().map(|card| (card.clone(), true)));
    let fields = NewProfile {
        given_name: Some(p.given.into()),
        family_name: Some(p.family.into()),
        home_store: Some(p.home.code.into()),
    };
    let channel = Some("web".to_owned());
    kept::<ProfileView, _>(|k| {
        app::customers::create(db, &web, fields, identifiers, channel, None, k)
    })
    .await?;
    let link = LinkRequest {
        identifiers: vec![(p.email.clone(), p.email_verified), (anon.clone(), false)],
        anchor: None,
        channel: Some("web".into()),
        cause: LinkCause::SignIn,
    };
    // The anonymous profile is older: it survives and takes the account's names (the rule).
    let rules = ResolutionRules::default();
    let customer_id =
        kept::<Resolution, _>(|k| app::customers::link(db, &web, rules, link, None, k))
            .await?
            .customer_id;

    let mut later = Vec::new();
    if p.uses_app {
        let device = id(IdentityKind::AppDevice, format!("app-{:05}", p.n));
        for _ in 0..(1 + dice.below(4)) {
            later.push(event(
                "app",
                "product_view",
                vec![device.clone(), p.email.clone()],
                None,
                serde_json::json!({"sku_index": dice.below(312)}),
                ago(dice, 60),
            ));
        }
        later.push(event(
            "app",
            "app_open",
            vec![device],
            None,
            serde_json::json!({}),
            ago(dice, 30),
        ));
    }
    let in_store = p
        .card
        .clone()
        .or(p.phone.clone())
        .unwrap_or(p.email.clone());
    let pos = format!("pos-{}", p.home.code.to_lowercase());
    for _ in 0..dice.below(3) {
        later.push(event(
            &pos,
            "store_visit",
            vec![in_store.clone()],
            Some(p.home.code),
            serde_json::json!({}),
            ago(dice, 120),
        ));
    }
    if p.home.kiosks > 0 && dice.chance(15) {
        let kiosk = format!("kiosk-{}-1", p.home.code.to_lowercase());
        later.push(event(
            &kiosk,
            "kiosk_session",
            vec![in_store.clone()],
            Some(p.home.code),
            serde_json::json!({"minutes": 2 + dice.below(8)}),
            ago(dice, 45),
        ));
    }
    send_events(db, later).await?;
    consents(db, &customer_id, p, dice).await?;
    let service = acting(Scope::Service);
    if dice.chance(15) {
        for _ in 0..(1 + dice.below(3)) {
            let (medium, direction, summary) = *dice.pick(SUMMARIES);
            let at = ago(dice, 90);
            let interaction = Interaction {
                id: new_id("int"),
                customer_id: customer_id.clone(),
                medium,
                direction,
                summary: summary.into(),
                agent: Some(format!("agent-{:02}", 1 + dice.below(12))),
                location_code: (medium == InteractionMedium::StoreVisit)
                    .then(|| p.home.code.to_owned()),
                references: vec![],
                occurred_at: at,
                recorded_at: at,
            };
            kept::<Interaction, _>(|k| {
                app::customers::record_interaction(db, &service, &customer_id, interaction, None, k)
            })
            .await?;
        }
    }
    Ok(())
}

async fn consents(db: &Db, customer: &str, p: &Person, dice: &mut Dice) -> Result<(), Error> {
    // Evidence ids number the records of the customer: `demo-<customer>-<k>`.
    let mut k = 0;
    let mut give = |purpose, status, channel: Option<&str>, method, location: Option<&str>| {
        k += 1;
        ConsentRecord {
            id: new_id("cns"),
            customer_id: customer.to_owned(),
            purpose,
            status,
            channel: channel.map(str::to_owned),
            method,
            location_code: location.map(str::to_owned),
            notice_version: "2026-09".into(),
            evidence: Evidence {
                request_id: Some(format!("demo-{}-{k}", p.n)),
                staff_id: location.map(|_| "assoc-07".to_owned()),
            },
            recorded_at: Timestamp::now(),
        }
    };
    let mut records = Vec::new();
    if dice.chance(65) {
        records.push(give(
            Purpose::EmailMarketing,
            ConsentStatus::Granted,
            None,
            CollectionMethod::WebForm,
            None,
        ));
        if dice.chance(10) {
            records.push(give(
                Purpose::EmailMarketing,
                ConsentStatus::Withdrawn,
                None,
                CollectionMethod::EmailLink,
                None,
            ));
        }
    } else {
        records.push(give(
            Purpose::EmailMarketing,
            ConsentStatus::Denied,
            None,
            CollectionMethod::WebForm,
            None,
        ));
    }
    if p.phone.is_some() && dice.chance(45) {
        records.push(give(
            Purpose::SmsMarketing,
            ConsentStatus::Granted,
            None,
            CollectionMethod::Pos,
            Some(p.home.code),
        ));
    }
    if p.uses_app && dice.chance(70) {
        records.push(give(
            Purpose::Push,
            ConsentStatus::Granted,
            Some("app"),
            CollectionMethod::AppSettings,
            None,
        ));
    }
    if dice.chance(50) {
        records.push(give(
            Purpose::Personalisation,
            ConsentStatus::Granted,
            None,
            CollectionMethod::WebForm,
            None,
        ));
    }
    if dice.chance(20) {
        records.push(give(
            Purpose::ServiceHistorySharing,
            ConsentStatus::Granted,
            None,
            CollectionMethod::Pos,
            Some(p.home.code),
        ));
    }
    for r in records {
        // Given where it was collected: on the web, at the home store's till, in the app.
        let key = acting(match (&r.location_code, &r.channel) {
            (Some(store), _) => Scope::Store(store.clone()),
            (None, Some(channel)) => Scope::Channel(channel.clone()),
            (None, None) => Scope::Channel("web".into()),
        });
        let id = customer.to_owned();
        kept::<ConsentRecord, _>(|k| app::customers::record_consent(db, &key, id, r, None, k))
            .await?;
    }
    Ok(())
}

/// Two verified members of a family use one tablet: their profiles are flagged, not merged.
async fn shared_tablets(db: &Db, people: &[Person]) -> Result<(), Error> {
    let verified: Vec<&Person> = people.iter().filter(|p| p.email_verified).collect();
    for (k, pair) in verified.chunks(2).take(SHARED_TABLETS).enumerate() {
        let [a, b] = pair else { break };
        let tablet = id(IdentityKind::AppDevice, format!("family-tablet-{k:02}"));
        let events = [a, b]
            .into_iter()
            .map(|who| {
                event(
                    "app",
                    "product_view",
                    vec![who.email.clone(), tablet.clone()],
                    None,
                    serde_json::json!({}),
                    Timestamp::now(),
                )
            })
            .collect();
        send_events(db, events).await?;
    }
    Ok(())
}
