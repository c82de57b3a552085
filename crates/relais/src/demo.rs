//! The demo retailer: Élan Sport, a fictional French sporting-goods chain.
//!
//! Fifteen stores in real French cities (real coordinates, local opening hours, several run
//! by franchisees), a pickup point, two warehouses, a catalogue of more than 300 variants with
//! valid GTINs across sports, categories and sizes, EUR prices with a few explained channel
//! overrides, the channels (web, app, a POS in every store, kiosks in the large ones…) and one
//! API key per role, and opening stock in every store and warehouse (some items low or sold
//! out). Everything is written through the use cases of `app`, as the retailer's keys would
//! write it (see `demo_calls`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use app::reference::Reference;
use app::{Principal, Scope};
use catalog::{
    Address, Capability, ChannelKind, Coordinates, Gtin, Location, LocationKind, NewChannel,
    NewLocation, NewProduct, NewVariant, OpeningHours, Owner, OwnerKind, Product, TimeRange,
};
use inventory::{Level, MovementKind};
use kernel::{Currency, Timestamp};
use pricing::{BasePrice, PriceOverride};
use serde::Serialize;
use store::Db;
use store::stock::{Movement, NewMovement};

use crate::demo_calls::{acting, kept, side_by_side};

pub const RETAILER: &str = "Élan Sport";
const COMPANY: &str = "Élan Sport SAS";

struct StoreSpec {
    code: &'static str,
    name: &'static str,
    street: &'static str,
    postal_code: &'static str,
    city: &'static str,
    lat: f64,
    lon: f64,
    franchisee: Option<&'static str>,
    hours: Hours,
    kiosks: u8,
}

#[derive(Clone, Copy)]
enum Hours {
    /// Large city-centre store: 10:00–20:00, Sunday 11:00–19:00.
    CityCentre,
    /// Mon–Sat 10:00–19:30.
    Standard,
    /// Mon–Sat 09:30–12:30 and 14:00–19:00 (smaller franchise stores).
    LunchBreak,
    /// Seaside / mountain: every day 09:30–19:30.
    EveryDay,
    /// Warehouses: Mon–Fri 06:00–22:00, Sat 06:00–14:00.
    Warehouse,
}

const STORES: &[StoreSpec] = &[
    StoreSpec {
        code: "PAR-RIVOLI",
        name: "Élan Sport Paris Rivoli",
        street: "112 rue de Rivoli",
        postal_code: "75001",
        city: "Paris",
        lat: 48.8606,
        lon: 2.3447,
        franchisee: None,
        hours: Hours::CityCentre,
        kiosks: 2,
    },
    StoreSpec {
        code: "PAR-MONTPARNASSE",
        name: "Élan Sport Paris Montparnasse",
        street: "31 rue du Départ",
        postal_code: "75014",
        city: "Paris",
        lat: 48.8421,
        lon: 2.3219,
        franchisee: None,
        hours: Hours::CityCentre,
        kiosks: 1,
    },
    StoreSpec {
        code: "LYS-BELLECOUR",
        name: "Élan Sport Lyon Bellecour",
        street: "12 rue de la République",
        postal_code: "69002",
        city: "Lyon",
        lat: 45.7578,
        lon: 4.8320,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 1,
    },
    StoreSpec {
        code: "MRS-VIEUX-PORT",
        name: "Élan Sport Marseille Vieux-Port",
        street: "45 La Canebière",
        postal_code: "13001",
        city: "Marseille",
        lat: 43.2965,
        lon: 5.3770,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 1,
    },
    StoreSpec {
        code: "TLS-CAPITOLE",
        name: "Élan Sport Toulouse Capitole",
        street: "8 rue Saint-Rome",
        postal_code: "31000",
        city: "Toulouse",
        lat: 43.6033,
        lon: 1.4437,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "NCE-MASSENA",
        name: "Élan Sport Nice Masséna",
        street: "20 avenue Jean Médecin",
        postal_code: "06000",
        city: "Nice",
        lat: 43.7003,
        lon: 7.2680,
        franchisee: Some("SARL Azur Glisse"),
        hours: Hours::EveryDay,
        kiosks: 0,
    },
    StoreSpec {
        code: "NTE-COMMERCE",
        name: "Élan Sport Nantes Commerce",
        street: "5 place du Commerce",
        postal_code: "44000",
        city: "Nantes",
        lat: 47.2130,
        lon: -1.5590,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "BOD-SAINTE-CATHERINE",
        name: "Élan Sport Bordeaux Sainte-Catherine",
        street: "90 rue Sainte-Catherine",
        postal_code: "33000",
        city: "Bordeaux",
        lat: 44.8392,
        lon: -0.5737,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "LIL-GRAND-PLACE",
        name: "Élan Sport Lille Grand Place",
        street: "3 rue Neuve",
        postal_code: "59800",
        city: "Lille",
        lat: 50.6365,
        lon: 3.0635,
        franchisee: Some("SAS Nord Sports Distribution"),
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "SXB-KLEBER",
        name: "Élan Sport Strasbourg Kléber",
        street: "16 place Kléber",
        postal_code: "67000",
        city: "Strasbourg",
        lat: 48.5836,
        lon: 7.7458,
        franchisee: Some("SARL Rhin Outdoor"),
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "REN-REPUBLIQUE",
        name: "Élan Sport Rennes République",
        street: "2 quai Lamartine",
        postal_code: "35000",
        city: "Rennes",
        lat: 48.1096,
        lon: -1.6800,
        franchisee: None,
        hours: Hours::Standard,
        kiosks: 0,
    },
    StoreSpec {
        code: "MPL-COMEDIE",
        name: "Élan Sport Montpellier Comédie",
        street: "9 rue de la Loge",
        postal_code: "34000",
        city: "Montpellier",
        lat: 43.6088,
        lon: 3.8786,
        franchisee: Some("SAS Occitanie Sport"),
        hours: Hours::LunchBreak,
        kiosks: 0,
    },
    StoreSpec {
        code: "GNB-VICTOR-HUGO",
        name: "Élan Sport Grenoble Victor Hugo",
        street: "4 place Victor Hugo",
        postal_code: "38000",
        city: "Grenoble",
        lat: 45.1889,
        lon: 5.7245,
        franchisee: Some("SARL Alpes Cimes"),
        hours: Hours::LunchBreak,
        kiosks: 0,
    },
    StoreSpec {
        code: "ANN-LAC",
        name: "Élan Sport Annecy Lac",
        street: "7 rue Royale",
        postal_code: "74000",
        city: "Annecy",
        lat: 45.8992,
        lon: 6.1256,
        franchisee: Some("SARL Alpes Cimes"),
        hours: Hours::EveryDay,
        kiosks: 0,
    },
    StoreSpec {
        code: "BIQ-COTE-BASQUE",
        name: "Élan Sport Biarritz Côte Basque",
        street: "14 avenue Édouard VII",
        postal_code: "64200",
        city: "Biarritz",
        lat: 43.4840,
        lon: -1.5592,
        franchisee: Some("SAS Océan Glisse"),
        hours: Hours::EveryDay,
        kiosks: 0,
    },
];

fn hours(kind: Hours) -> OpeningHours {
    let p = |o: &str, c: &str| TimeRange::parse("demo", o, c).expect("demo hours are valid");
    let mut weekly = BTreeMap::new();
    let mut set = |days: &[&str], periods: Vec<TimeRange>| {
        for d in days {
            weekly.insert(d.to_string(), periods.clone());
        }
    };
    const MON_SAT: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat"];
    match kind {
        Hours::CityCentre => {
            set(MON_SAT, vec![p("10:00", "20:00")]);
            set(&["sun"], vec![p("11:00", "19:00")]);
        }
        Hours::Standard => set(MON_SAT, vec![p("10:00", "19:30")]),
        Hours::LunchBreak => set(MON_SAT, vec![p("09:30", "12:30"), p("14:00", "19:00")]),
        Hours::EveryDay => {
            set(MON_SAT, vec![p("09:30", "19:30")]);
            set(&["sun"], vec![p("10:00", "18:00")]);
        }
        Hours::Warehouse => {
            set(
                &["mon", "tue", "wed", "thu", "fri"],
                vec![p("06:00", "22:00")],
            );
            set(&["sat"], vec![p("06:00", "14:00")]);
        }
    }
    OpeningHours { weekly }
}

fn store_location(s: &StoreSpec) -> NewLocation {
    let owner = match s.franchisee {
        Some(name) => Owner {
            kind: OwnerKind::Franchisee,
            name: name.into(),
        },
        None => Owner {
            kind: OwnerKind::Company,
            name: COMPANY.into(),
        },
    };
    NewLocation {
        code: s.code.into(),
        name: s.name.into(),
        kind: LocationKind::Store,
        address: Address {
            line1: s.street.into(),
            line2: None,
            postal_code: s.postal_code.into(),
            city: s.city.into(),
            country: "FR".into(),
        },
        coordinates: Coordinates {
            latitude: s.lat,
            longitude: s.lon,
        },
        time_zone: "Europe/Paris".into(),
        opening_hours: hours(s.hours),
        owner,
        capabilities: BTreeSet::from(Capability::ALL),
        phone: None,
        email: Some(format!("{}@elan-sport.example", s.code.to_lowercase())),
        // Big city stores prepare orders faster than the small franchises.
        pickup_lead_min: Some(if matches!(s.hours, Hours::CityCentre) {
            60
        } else {
            120
        }),
    }
}

fn other_locations() -> Vec<NewLocation> {
    let company = Owner {
        kind: OwnerKind::Company,
        name: COMPANY.into(),
    };
    let warehouse =
        |code: &str, name: &str, street: &str, postal: &str, city: &str, lat: f64, lon: f64| {
            NewLocation {
                code: code.into(),
                name: name.into(),
                kind: LocationKind::Warehouse,
                address: Address {
                    line1: street.into(),
                    line2: None,
                    postal_code: postal.into(),
                    city: city.into(),
                    country: "FR".into(),
                },
                coordinates: Coordinates {
                    latitude: lat,
                    longitude: lon,
                },
                time_zone: "Europe/Paris".into(),
                opening_hours: hours(Hours::Warehouse),
                owner: company.clone(),
                capabilities: BTreeSet::from([Capability::ShipFrom, Capability::Returns]),
                phone: None,
                email: None,
                pickup_lead_min: None,
            }
        };
    let mut relay = warehouse(
        "PAR-GARE-DE-LYON",
        "Point retrait Paris Gare de Lyon",
        "Place Louis-Armand",
        "75012",
        "Paris",
        48.8443,
        2.3744,
    );
    relay.kind = LocationKind::PickupPoint;
    relay.capabilities = BTreeSet::from([Capability::Pickup]);
    relay.opening_hours = hours(Hours::EveryDay);
    vec![
        warehouse(
            "WH-SAINT-PRIEST",
            "Entrepôt Lyon Saint-Priest",
            "Rue du Dauphiné",
            "69800",
            "Saint-Priest",
            45.7036,
            4.9460,
        ),
        warehouse(
            "WH-SARAN",
            "Entrepôt Orléans Saran",
            "Rue de la Tuilerie",
            "45770",
            "Saran",
            47.9500,
            1.8760,
        ),
        relay,
    ]
}

/// A product line of the catalogue; its variants are every size × colour.
struct Line {
    title: &'static str,
    brand: &'static str,
    category: &'static str,
    price_minor: i64,
    sizes: &'static [&'static str],
    colours: &'static [&'static str],
    description: &'static str,
}

const SHOE_SIZES: &[&str] = &["38", "39", "40", "41", "42", "43", "44", "45", "46"];
const APPAREL: &[&str] = &["XS", "S", "M", "L", "XL", "XXL"];
const FRAME: &[&str] = &["S", "M", "L", "XL"];
const ONE: &[&str] = &[];

const LINES: &[Line] = &[
    Line {
        title: "Chaussure de running Foulée 500",
        brand: "Élan",
        category: "footwear/running",
        price_minor: 8999,
        sizes: SHOE_SIZES,
        colours: &["bleu", "noir", "jaune"],
        description: "Amorti dynamique pour l'entraînement régulier sur route.",
    },
    Line {
        title: "Chaussure de running Foulée 900 Carbone",
        brand: "Élan",
        category: "footwear/running",
        price_minor: 17999,
        sizes: SHOE_SIZES,
        colours: &["blanc", "rose"],
        description: "Plaque carbone, pour la compétition du 10 km au marathon.",
    },
    Line {
        title: "Chaussure de trail Crête TR",
        brand: "Altura",
        category: "footwear/trail",
        price_minor: 11999,
        sizes: SHOE_SIZES,
        colours: &["orange", "gris"],
        description: "Crampons 5 mm et pare-pierres pour les sentiers techniques.",
    },
    Line {
        title: "Chaussure de randonnée Sentier Mid imperméable",
        brand: "Cimes",
        category: "footwear/hiking",
        price_minor: 9999,
        sizes: SHOE_SIZES,
        colours: &["marron", "gris"],
        description: "Tige montante et membrane imperméable.",
    },
    Line {
        title: "Chaussure de football Frappe FG",
        brand: "Ricochet",
        category: "team-sports/football",
        price_minor: 5999,
        sizes: SHOE_SIZES,
        colours: &["noir", "blanc"],
        description: "Crampons moulés pour terrains secs.",
    },
    Line {
        title: "T-shirt de running Respire",
        brand: "Élan",
        category: "apparel/running",
        price_minor: 1499,
        sizes: APPAREL,
        colours: &["noir", "corail", "bleu"],
        description: "Tissu léger qui évacue la transpiration.",
    },
    Line {
        title: "Collant de running chaud Hiver",
        brand: "Élan",
        category: "apparel/running",
        price_minor: 2999,
        sizes: APPAREL,
        colours: &["noir"],
        description: "Molleton intérieur pour courir par temps froid.",
    },
    Line {
        title: "Veste imperméable Cimes 500",
        brand: "Cimes",
        category: "apparel/outdoor",
        price_minor: 7999,
        sizes: APPAREL,
        colours: &["bleu nuit", "kaki"],
        description: "Imperméable 10 000 mm, coutures étanchées.",
    },
    Line {
        title: "Doudoune légère Plume 100",
        brand: "Cimes",
        category: "apparel/outdoor",
        price_minor: 5999,
        sizes: APPAREL,
        colours: &["noir", "bleu", "rouge"],
        description: "Isolation duvet, compressible dans sa poche.",
    },
    Line {
        title: "Polaire Refuge 200",
        brand: "Cimes",
        category: "apparel/outdoor",
        price_minor: 2499,
        sizes: APPAREL,
        colours: &["gris"],
        description: "Polaire chaude et respirante.",
    },
    Line {
        title: "Vélo route Asphalte 520",
        brand: "Altura",
        category: "cycling/road-bikes",
        price_minor: 89999,
        sizes: FRAME,
        colours: &["gris"],
        description: "Cadre aluminium, transmission 2x11.",
    },
    Line {
        title: "VTT Rando 540",
        brand: "Altura",
        category: "cycling/mountain-bikes",
        price_minor: 59999,
        sizes: FRAME,
        colours: &["vert"],
        description: "Fourche suspendue 120 mm, freins à disque hydrauliques.",
    },
    Line {
        title: "Vélo électrique ville Cité E",
        brand: "Altura",
        category: "cycling/e-bikes",
        price_minor: 149999,
        sizes: &["M", "L"],
        colours: &["blanc"],
        description: "Autonomie 80 km, moteur central.",
    },
    Line {
        title: "Casque vélo route Aéro",
        brand: "Altura",
        category: "cycling/helmets",
        price_minor: 4999,
        sizes: &["S", "M", "L"],
        colours: &["noir", "blanc"],
        description: "Ventilé, système de réglage micrométrique.",
    },
    Line {
        title: "Combinaison de surf 4/3 Vague",
        brand: "Vaguéa",
        category: "water-sports/wetsuits",
        price_minor: 17999,
        sizes: APPAREL,
        colours: &["noir"],
        description: "Néoprène 4/3 mm, entrée poitrine.",
    },
    Line {
        title: "Planche de surf mousse Initiation",
        brand: "Vaguéa",
        category: "water-sports/surfboards",
        price_minor: 16999,
        sizes: &["7'0", "7'6", "8'0"],
        colours: &["bleu"],
        description: "Planche en mousse stable pour débuter.",
    },
    Line {
        title: "Paddle gonflable Lagon 10'",
        brand: "Vaguéa",
        category: "water-sports/paddle",
        price_minor: 39999,
        sizes: ONE,
        colours: &["turquoise"],
        description: "Livré avec pagaie, pompe et sac.",
    },
    Line {
        title: "Skis all-mountain Piste 700",
        brand: "Cimes",
        category: "winter-sports/skis",
        price_minor: 34999,
        sizes: &["156", "163", "170", "177", "184"],
        colours: &["rouge"],
        description: "Polyvalent piste et bord de piste, fixations incluses.",
    },
    Line {
        title: "Chaussures de ski Flex 90",
        brand: "Cimes",
        category: "winter-sports/ski-boots",
        price_minor: 22999,
        sizes: &["25.5", "26.5", "27.5", "28.5", "29.5"],
        colours: &["noir"],
        description: "Flex 90 pour skieurs confirmés.",
    },
    Line {
        title: "Masque de ski Horizon",
        brand: "Cimes",
        category: "winter-sports/goggles",
        price_minor: 3999,
        sizes: ONE,
        colours: &["noir", "blanc"],
        description: "Écran sphérique catégorie 3.",
    },
    Line {
        title: "Raquette de tennis Smash 100",
        brand: "Ricochet",
        category: "racket-sports/tennis",
        price_minor: 11999,
        sizes: &["grip 1", "grip 2", "grip 3", "grip 4"],
        colours: &["noir"],
        description: "300 g, tamis 100 pouces².",
    },
    Line {
        title: "Balles de tennis Tournoi x4",
        brand: "Ricochet",
        category: "racket-sports/tennis",
        price_minor: 799,
        sizes: ONE,
        colours: ONE,
        description: "Balles pressurisées pour toutes surfaces.",
    },
    Line {
        title: "Ballon de football Match",
        brand: "Ricochet",
        category: "team-sports/football",
        price_minor: 2499,
        sizes: &["3", "4", "5"],
        colours: &["blanc"],
        description: "Ballon thermocollé, homologué.",
    },
    Line {
        title: "Kettlebell fonte",
        brand: "Élan",
        category: "fitness/strength",
        price_minor: 1999,
        sizes: &["4 kg", "8 kg", "12 kg", "16 kg", "20 kg", "24 kg"],
        colours: ONE,
        description: "Fonte revêtue, poignée large.",
    },
    Line {
        title: "Tapis de yoga Souffle 8 mm",
        brand: "Élan",
        category: "fitness/yoga",
        price_minor: 2499,
        sizes: ONE,
        colours: &["violet", "vert", "gris"],
        description: "Antidérapant, 183 × 61 cm.",
    },
    Line {
        title: "Tente de camping Bivouac",
        brand: "Cimes",
        category: "camping/tents",
        price_minor: 12999,
        sizes: &["2 places", "3 places", "4 places"],
        colours: &["vert"],
        description: "Montage en 2 minutes, double toit imperméable.",
    },
    Line {
        title: "Sac de couchage Refuge 5°",
        brand: "Cimes",
        category: "camping/sleeping-bags",
        price_minor: 4999,
        sizes: &["M", "L"],
        colours: &["bleu"],
        description: "Confort 5 °C, 1,2 kg.",
    },
    Line {
        title: "Sac à dos de randonnée Crête 30 L",
        brand: "Cimes",
        category: "camping/backpacks",
        price_minor: 4499,
        sizes: ONE,
        colours: &["noir", "bleu", "rouge"],
        description: "Dos ventilé, housse de pluie intégrée.",
    },
    Line {
        title: "Gourde isotherme 750 ml",
        brand: "Cimes",
        category: "camping/accessories",
        price_minor: 1999,
        sizes: ONE,
        colours: &["inox", "noir"],
        description: "Garde au frais 24 h, au chaud 12 h.",
    },
    Line {
        title: "Montre GPS Cardio Run",
        brand: "Élan",
        category: "electronics/watches",
        price_minor: 19999,
        sizes: ONE,
        colours: &["noir"],
        description: "GPS, cardio au poignet, 14 jours d'autonomie.",
    },
    Line {
        title: "Short de running Foulée 2 en 1",
        brand: "Élan",
        category: "apparel/running",
        price_minor: 1999,
        sizes: APPAREL,
        colours: &["noir", "gris"],
        description: "Sous-short intégré, poche zippée.",
    },
    Line {
        title: "Chaussettes de running x3",
        brand: "Élan",
        category: "apparel/running",
        price_minor: 999,
        sizes: &["35-38", "39-42", "43-46"],
        colours: &["blanc", "noir"],
        description: "Renforts talon et pointe.",
    },
    Line {
        title: "Maillot de football Club",
        brand: "Ricochet",
        category: "team-sports/football",
        price_minor: 1999,
        sizes: APPAREL,
        colours: &["bleu", "rouge"],
        description: "Maillot respirant, coupe régulière.",
    },
    Line {
        title: "Chaussure de tennis Terre battue",
        brand: "Ricochet",
        category: "racket-sports/tennis",
        price_minor: 6999,
        sizes: SHOE_SIZES,
        colours: &["blanc"],
        description: "Semelle à chevrons pour terre battue.",
    },
    Line {
        title: "Legging de yoga Souffle",
        brand: "Élan",
        category: "fitness/yoga",
        price_minor: 2499,
        sizes: APPAREL,
        colours: &["noir", "violet"],
        description: "Taille haute, tissu extensible.",
    },
    Line {
        title: "Veste de ski Poudreuse",
        brand: "Cimes",
        category: "winter-sports/apparel",
        price_minor: 12999,
        sizes: APPAREL,
        colours: &["rouge", "noir"],
        description: "Imperméable 20 000 mm, jupe pare-neige.",
    },
    Line {
        title: "Pantalon de ski Poudreuse",
        brand: "Cimes",
        category: "winter-sports/apparel",
        price_minor: 8999,
        sizes: APPAREL,
        colours: &["noir"],
        description: "Guêtres intégrées, aérations.",
    },
    Line {
        title: "Chaussure de marche urbaine Flâne",
        brand: "Cimes",
        category: "footwear/walking",
        price_minor: 6499,
        sizes: SHOE_SIZES,
        colours: &["gris", "bleu marine"],
        description: "Légère et amortie pour la marche quotidienne.",
    },
];

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = match c {
            'é' | 'è' | 'ê' | 'É' => 'E',
            'à' | 'â' => 'A',
            'ô' => 'O',
            'î' => 'I',
            c => c.to_ascii_uppercase(),
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if c == '.' {
            out.push('_');
        }
    }
    out
}

/// The demo catalogue; GTINs use the French GS1 prefix range and a fictional company number.
pub fn products() -> Vec<NewProduct> {
    let mut serial = 0u64;
    LINES
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let base = format!("ES{:03}", i + 1);
            let sizes: Vec<Option<&str>> = if line.sizes.is_empty() {
                vec![None]
            } else {
                line.sizes.iter().map(|s| Some(*s)).collect()
            };
            let colours: Vec<Option<&str>> = if line.colours.is_empty() {
                vec![None]
            } else {
                line.colours.iter().map(|c| Some(*c)).collect()
            };
            let mut variants = Vec::new();
            for colour in &colours {
                for size in &sizes {
                    serial += 1;
                    let mut sku = base.clone();
                    let mut attributes = BTreeMap::new();
                    if let Some(c) = colour {
                        sku.push('-');
                        sku.push_str(&slug(c).chars().take(3).collect::<String>());
                        attributes.insert("colour".to_string(), c.to_string());
                    }
                    if let Some(s) = size {
                        sku.push('-');
                        sku.push_str(&slug(s));
                        attributes.insert("size".to_string(), s.to_string());
                    }
                    variants.push(NewVariant {
                        sku,
                        gtin: Some(
                            Gtin::gtin13_from_body(376_042_100_000 + serial).as_str()[1..]
                                .to_string(),
                        ),
                        title: None,
                        attributes,
                        weight_grams: Some(crate::demo_delivery::packed_weight(line.category)),
                    });
                }
            }
            NewProduct {
                title: line.title.into(),
                description: Some(line.description.into()),
                brand: Some(line.brand.into()),
                category: line.category.into(),
                tax_category: None,
                attributes: BTreeMap::from([(
                    "sport".to_string(),
                    line.category
                        .split('/')
                        .next()
                        .unwrap_or("")
                        .replace('-', " "),
                )]),
                images: vec![catalog::Image {
                    url: format!("/media/{}.jpg", base.to_lowercase()),
                    alt: line.title.into(),
                }],
                variants,
            }
        })
        .collect()
}

fn channels() -> Vec<NewChannel> {
    let mut out: Vec<NewChannel> = [
        ("web", ChannelKind::Web, "Site web elan-sport.example"),
        ("app", ChannelKind::App, "Application mobile Élan Sport"),
        ("phone", ChannelKind::Phone, "Service client téléphone"),
        ("email", ChannelKind::Email, "Campagnes e-mail"),
        ("social", ChannelKind::Social, "Réseaux sociaux"),
        (
            "marketplace",
            ChannelKind::Marketplace,
            "Place de marché partenaire",
        ),
    ]
    .into_iter()
    .map(|(code, kind, name)| NewChannel {
        code: code.into(),
        kind,
        name: name.into(),
        location_code: None,
    })
    .collect();
    for s in STORES {
        let lower = s.code.to_lowercase();
        out.push(NewChannel {
            code: format!("pos-{lower}"),
            kind: ChannelKind::Pos,
            name: format!("Caisses {}", s.name),
            location_code: Some(s.code.into()),
        });
        for k in 1..=s.kiosks {
            out.push(NewChannel {
                code: format!("kiosk-{lower}-{k}"),
                kind: ChannelKind::Kiosk,
                name: format!("Borne {k} {}", s.name),
                location_code: Some(s.code.into()),
            });
        }
    }
    out
}

/// Explained exceptions to "one price": what the parity report shows.
fn overrides(products: &[Product], now: Timestamp) -> Vec<PriceOverride> {
    let week = Timestamp::from_unix_ms(now.unix_ms() + 7 * 24 * 3600 * 1000);
    let mut out = Vec::new();
    let mut push =
        |sku: &str, channel: &str, amount: i64, reason: &str, ends_at: Option<Timestamp>| {
            out.push(PriceOverride {
                sku: sku.into(),
                currency: Currency::EUR,
                channel: channel.into(),
                amount_minor: amount,
                reason: reason.into(),
                starts_at: None,
                ends_at,
                updated_at: now,
            });
        };
    let first = |i: usize| products[i].variants[0].sku.clone();
    push(
        &first(0),
        "web",
        7999,
        "Exclusivité web : -10 € cette semaine",
        Some(week),
    );
    push(
        &first(7),
        "web",
        6999,
        "Exclusivité web : -10 € cette semaine",
        Some(week),
    );
    push(
        &first(10),
        "app",
        84999,
        "Offre de lancement réservée à l'application",
        None,
    );
    push(
        &first(29),
        "marketplace",
        20999,
        "Prix place de marché : frais de service de la plateforme inclus",
        None,
    );
    out
}

/// A stable pseudo-random number for a (sku, location) pair, so every demo has the same stock.
fn spread(sku: &str, location: &str) -> u64 {
    // FNV-1a: tiny, deterministic, good enough to scatter demo quantities.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sku.bytes().chain([b'@']).chain(location.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One variant's opening stock at one location.
struct Opening {
    sku: String,
    location: String,
    received: i64,
    sold: i64,
    safety: i64,
}

impl Opening {
    fn movement(&self, kind: MovementKind, quantity: i64, reason: &str) -> NewMovement {
        NewMovement {
            sku: self.sku.clone(),
            location: self.location.clone(),
            kind,
            quantity,
            reason: reason.into(),
            reference: Some("demo opening stock".into()),
            client_key: None,
        }
    }

    /// Received, its safety stock set, then some sold: one location's books, in that order.
    async fn record(self, db: &Db, admin: &Principal) -> Result<(), kernel::Error> {
        let receipt = self.movement(MovementKind::Receipt, self.received, "opening stock");
        kept::<(Movement, Level), _>(|k| app::stock::record_movement(db, admin, receipt, None, k))
            .await?;
        if self.safety > 0 {
            let (sku, location) = (self.sku.clone(), self.location.clone());
            kept::<(String, String, Level), _>(|k| {
                app::stock::set_safety(db, admin, sku, location, self.safety, None, k)
            })
            .await?;
        }
        if self.sold > 0 {
            let sale = self.movement(MovementKind::Sale, self.sold, "till sale");
            kept::<(Movement, Level), _>(|k| app::stock::record_movement(db, admin, sale, None, k))
                .await?;
        }
        Ok(())
    }
}

/// Opening stock: deep in the warehouses, a few units per store, with some items low or sold
/// out in some stores (sold out shows as a receipt and then sales in the ledger).
fn opening_stock(products: &[Product], locations: &[Location]) -> Vec<Opening> {
    let mut out = Vec::new();
    for l in locations
        .iter()
        .filter(|l| l.kind != LocationKind::PickupPoint)
    {
        for v in products.iter().flat_map(|p| &p.variants) {
            let r = spread(&v.sku, &l.code);
            let (received, sold, safety) = if l.kind == LocationKind::Warehouse {
                (40 + (r % 200) as i64, 0, 5)
            } else {
                match r % 100 {
                    0..=6 => (3, 3, 0),                   // sold out here
                    7..=16 => (1 + (r % 2) as i64, 0, 0), // the last one or two
                    _ => (3 + (r % 10) as i64, (r % 3) as i64, 0),
                }
            };
            out.push(Opening {
                sku: v.sku.clone(),
                location: l.code.clone(),
                received,
                sold,
                safety,
            });
        }
    }
    out
}

/// The demo's keys: the name the banner and `--keys-file` give each, what it is for, its
/// scope. The till and the kiosk stand in the Lyon store.
const DEMO_KEYS: &[(&str, &str, &str)] = &[
    ("admin", "Demo admin", "admin"),
    ("web", "Web shop front-end", "channel:web"),
    ("app", "Mobile app", "channel:app"),
    (
        "store_lyon",
        "Lyon Bellecour associates",
        "store:LYS-BELLECOUR",
    ),
    ("store_paris", "Paris Rivoli associates", "store:PAR-RIVOLI"),
    (
        "till_lyon",
        "Lyon Bellecour till",
        "channel:pos-lys-bellecour",
    ),
    (
        "kiosk_lyon",
        "Lyon Bellecour kiosk 1",
        "channel:kiosk-lys-bellecour-1",
    ),
    ("service", "Customer service agents", "service"),
];

/// The demo's API keys: name, scope and token, in [`DEMO_KEYS`] order; written to
/// `--keys-file` as `{"<name>": "<token>"}`.
#[derive(Debug, Clone)]
pub struct DemoKeys(Vec<(&'static str, &'static str, String)>);

impl DemoKeys {
    /// Each key's name, scope and token.
    pub fn listed(&self) -> impl Iterator<Item = (&'static str, &'static str, &str)> {
        self.0
            .iter()
            .map(|(name, scope, token)| (*name, *scope, token.as_str()))
    }

    /// The token of the key named `name` (empty when there is none).
    pub fn token(&self, name: &str) -> &str {
        self.listed()
            .find(|(n, _, _)| *n == name)
            .map_or("", |(_, _, t)| t)
    }
}

impl Serialize for DemoKeys {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, _, token) in &self.0 {
            map.serialize_entry(name, token)?;
        }
        map.end()
    }
}

/// Writes the whole demo retailer through the use cases; returns its API keys.
pub async fn seed(db: &Db) -> anyhow::Result<DemoKeys> {
    let started = std::time::Instant::now();
    let took = || started.elapsed().as_millis() as u64;
    let reference = Reference::new(db.clone());
    let admin = acting(Scope::Admin);
    let (locations, products) = seed_catalogue(&reference, &admin).await?;
    tracing::info!(ms = took(), "demo: catalogue written");
    let stock = opening_stock(&products, &locations);
    side_by_side(stock.into_iter().map(|o| o.record(db, &admin))).await?;
    tracing::info!(ms = took(), "demo: opening stock written");
    static STORE_REFS: std::sync::LazyLock<Vec<crate::demo_customers::StoreRef>> =
        std::sync::LazyLock::new(|| {
            STORES
                .iter()
                .map(|s| crate::demo_customers::StoreRef {
                    code: s.code,
                    kiosks: u32::from(s.kiosks),
                })
                .collect()
        });
    crate::demo_customers::seed(db, &STORE_REFS).await?;
    seed_contest(&reference, &admin).await?;
    let first = kernel::PageRequest::parse(Some(400), None)?;
    let customers = app::customers::list(db, &admin, None, &first).await?.data;
    let ids: Vec<String> = customers.into_iter().map(|p| p.id).collect();
    crate::demo_loyalty::seed(db, &admin, &ids).await?;
    tracing::info!(ms = took(), "demo: customers written");
    let store_codes: Vec<&str> = STORES.iter().map(|s| s.code).collect();
    let warehouses: Vec<&str> = locations
        .iter()
        .filter(|l| l.kind == LocationKind::Warehouse)
        .map(|l| l.code.as_str())
        .collect();
    crate::demo_orders::seed(&reference, &store_codes, &warehouses).await?;
    if let Some(warehouse) = warehouses.first() {
        crate::demo_transfers::seed(db, warehouse).await?;
    }
    let lyon = app::customers::list(db, &admin, Some("LYS-BELLECOUR"), &first)
        .await?
        .data;
    let lyon: Vec<String> = lyon.into_iter().map(|p| p.id).collect();
    crate::demo_regulars::seed(&reference, &lyon).await?;
    tracing::info!(ms = took(), "demo: orders and returns written");
    crate::demo_tills::seed(&reference).await?;
    tracing::info!(
        ms = took(),
        "demo: gift cards and Lyon's offline till written"
    );
    crate::demo_staff::seed(db).await?;
    let mut keys = Vec::new();
    for &(name, purpose, scope) in DEMO_KEYS {
        let token = crate::server::create_key(db, purpose, &[scope.to_owned()], "demo").await?;
        keys.push((name, scope, token));
    }
    Ok(DemoKeys(keys))
}

/// The locations, channels, products, prices and sourcing, as the retailer's admin.
async fn seed_catalogue(
    reference: &Reference,
    admin: &Principal,
) -> Result<(Vec<Location>, Vec<Product>), kernel::Error> {
    let db = reference.db();
    let mut new_locations: Vec<NewLocation> = STORES.iter().map(store_location).collect();
    new_locations.extend(other_locations());
    let locations = side_by_side(new_locations.into_iter().map(|l| {
        kept::<Location, _>(move |k| app::locations::create(reference, admin, l, None, k))
    }))
    .await?;
    side_by_side(channels().into_iter().map(|c| {
        kept::<catalog::Channel, _>(move |k| app::channels::create(reference, admin, c, None, k))
    }))
    .await?;
    let products =
        side_by_side(products().into_iter().map(|p| {
            kept::<Product, _>(move |k| app::catalog::create_product(db, admin, p, None, k))
        }))
        .await?;
    let now = app::clock::now();
    let prices = products.iter().zip(LINES).flat_map(|(p, line)| {
        p.variants.iter().map(move |v| BasePrice {
            sku: v.sku.clone(),
            currency: Currency::EUR,
            amount_minor: line.price_minor,
            updated_at: now,
        })
    });
    side_by_side(prices.map(|price| {
        kept::<BasePrice, _>(move |k| app::prices::set_base_price(db, admin, price, None, k))
    }))
    .await?;
    side_by_side(overrides(&products, now).into_iter().map(|o| {
        kept::<PriceOverride, _>(move |k| app::prices::set_override(db, admin, o, None, k))
    }))
    .await?;
    side_by_side(campaigns().into_iter().map(|p| {
        kept::<promotions::Promotion, _>(move |k| {
            app::promotions::create(reference, admin, p, None, k)
        })
    }))
    .await?;
    crate::demo_delivery::seed_shipping(reference, admin).await?;
    crate::demo_notifications::seed_rules(db, admin).await?;
    for (channel, policy) in sourcing_policies() {
        kept::<store::sourcing::EffectivePolicy, _>(|k| {
            app::channels::set_sourcing(reference, admin, channel.into(), policy, None, k)
        })
        .await?;
    }
    Ok((locations, products))
}

/// Élan Sport's promotions: the running campaign on every channel, the app's welcome offer,
/// and helmets at the weekend (Paris time).
fn campaigns() -> Vec<promotions::NewPromotion> {
    use promotions::{Budget, Conditions, Effect, NewPromotion, Schedule, Stacking};
    let promotion =
        |name: &str, conditions: Conditions, effect: Effect, priority: i64| NewPromotion {
            name: name.into(),
            description: None,
            currency: Currency::EUR,
            conditions,
            effect,
            stacking: Stacking::Combinable,
            priority,
            budget: Budget::default(),
            active: true,
        };
    let mut running = Conditions::default();
    running.items.categories.insert("footwear/running".into());
    let mut welcome = Conditions::default();
    welcome.channels.insert("app".into());
    welcome.first_order = true;
    let mut helmets = Conditions::default();
    helmets.items.categories.insert("cycling/helmets".into());
    helmets.schedule = Some(Schedule {
        starts_at: None,
        ends_at: None,
        days: [6, 7].into(),
        from_time: None,
        to_time: None,
        time_zone: "Europe/Paris".into(),
    });
    let mut app_offer = promotion(
        "Appli : −10 % sur votre première commande",
        welcome,
        Effect::PercentOffCart { percent_bp: 1000 },
        0,
    );
    app_offer.budget.max_uses_per_customer = Some(1);
    vec![
        promotion(
            "−20 % sur les chaussures de running",
            running,
            Effect::PercentOffItems { percent_bp: 2000 },
            10,
        ),
        app_offer,
        promotion(
            "Week-end vélo : −15 % sur les casques",
            helmets,
            Effect::PercentOffItems { percent_bp: 1500 },
            5,
        ),
    ]
}

/// The autumn contest: 500 single-use codes worth 10 € from 50 €, twenty of them won on
/// the web by customers (issued to them: redeemable on every channel by them only).
async fn seed_contest(reference: &Reference, admin: &Principal) -> Result<(), kernel::Error> {
    let db = reference.db();
    let conditions = promotions::Conditions {
        coupon_required: true,
        min_subtotal_minor: Some(5_000),
        ..Default::default()
    };
    let contest = promotions::NewPromotion {
        name: "Jeu concours : 10 € offerts dès 50 €".into(),
        description: Some("Les codes gagnants du jeu concours d'automne".into()),
        currency: Currency::EUR,
        conditions,
        effect: promotions::Effect::AmountOffCart {
            amount_minor: 1_000,
        },
        stacking: promotions::Stacking::Combinable,
        priority: 0,
        budget: promotions::Budget::default(),
        active: true,
    };
    let contest = kept::<promotions::Promotion, _>(|k| {
        app::promotions::create(reference, admin, contest, None, k)
    })
    .await?;
    let batch = app::coupons::NewCoupons {
        code: None,
        count: 500,
        prefix: "GAGNE".into(),
        max_uses: 1,
        max_uses_per_customer: None,
        customer_id: None,
    };
    let codes = kept::<Vec<promotions::Coupon>, _>(|k| {
        app::coupons::create(db, admin, contest.id.clone(), batch, None, k)
    })
    .await?;
    let first = kernel::PageRequest::parse(Some(20), None)?;
    let winners = app::customers::list(db, admin, None, &first).await?.data;
    let web = acting(Scope::Channel("web".into()));
    side_by_side(codes.iter().zip(&winners).map(|(code, winner)| {
        let customer = winner.id.clone();
        kept::<promotions::Coupon, _>(|k| {
            app::coupons::issue(db, &web, &code.code, customer, None, k)
        })
    }))
    .await?;
    Ok(())
}

/// Sourcing the retailer set explicitly (other channels keep their kind's default): the
/// marketplace ships from the warehouses only and keeps 2 units back everywhere (its stock
/// feed lags), and the app does not promise pickup at the Gare de Lyon pickup point, which
/// cannot take bulky parcels.
fn sourcing_policies() -> Vec<(&'static str, inventory::SourcingPolicy)> {
    use catalog::ChannelKind;
    use inventory::Fulfilment;
    let mut marketplace = inventory::SourcingPolicy::default_for(ChannelKind::Marketplace);
    marketplace.safety = 2;
    let mut app = inventory::SourcingPolicy::default_for(ChannelKind::App);
    if let Some(pickup) = app.rules.get_mut(&Fulfilment::Pickup) {
        pickup.exclude.insert("PAR-GARE-DE-LYON".into());
    }
    vec![("marketplace", marketplace), ("app", app)]
}

/// Removes a SQLite demo file (and its WAL) so the demo always starts fresh.
/// The file of a `sqlite://` URL.
fn sqlite_file(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or(path)
}

/// Where the demo writes e-mail without an SMTP server: beside its SQLite file, else here.
fn mail_dir(url: &str) -> PathBuf {
    let beside = match store::Backend::from_url(url) {
        Ok(store::Backend::Sqlite) => std::path::Path::new(sqlite_file(url)).parent(),
        _ => None,
    };
    beside.unwrap_or(std::path::Path::new("")).join(MAIL_DIR)
}

fn remove_sqlite_file(url: &str) -> anyhow::Result<()> {
    let path = sqlite_file(url);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("remove the old demo database {file}"));
            }
        }
    }
    Ok(())
}

fn print_banner(addr: SocketAddr, keys: &DemoKeys, mail: &str) {
    let url = format!("http://{addr}");
    println!();
    println!("  {RETAILER} demo is running at {url}");
    println!("  API reference:  {url}/docs      OpenAPI: {url}/openapi.json");
    println!();
    println!("  API keys (Authorization: Bearer <key>):");
    for (name, scope, key) in keys.listed() {
        println!("    {name:<12} {scope:<31} {key}");
    }
    println!();
    println!(
        "  Try:  curl -H 'Authorization: Bearer {}' '{url}/v1/locations?near=45.76,4.84&radius_km=100'",
        keys.token("web")
    );
    println!("  Console: {url}/console  (users and passwords):");
    for (email, _, role, _, password) in crate::demo_staff::DEMO_USERS {
        println!("    {role:<14} {email:<30} {password}");
    }
    println!();
    println!("  Customers' e-mail is {mail}.");
    println!("  Stop with Ctrl-C.");
    println!();
}

/// Where the demo's e-mail goes when no SMTP server is set: `.eml` files in this folder,
/// beside its database.
pub const MAIL_DIR: &str = "relais-demo-mail";

/// `relais demo`: fresh database, demo data, keys printed, then serve.
pub async fn run(
    url: &str,
    listen: SocketAddr,
    mut settings: crate::server::Settings,
    keys_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    if settings.notify.is_off() {
        settings.notify.mail_dir = Some(mail_dir(url));
    }
    let mail = match (&settings.notify.smtp_url, &settings.notify.mail_dir) {
        (Some(smtp), _) => format!("sent to {smtp}"),
        (None, Some(dir)) => format!("written as .eml files into {}/", dir.display()),
        (None, None) => "sent to the SMS and push providers only".into(),
    };
    // Bound first: a port in use is found before the database is replaced and seeded.
    let listener = crate::listen::bind(listen).await?;
    let backend = store::Backend::from_url(url)?;
    if backend == store::Backend::Sqlite {
        remove_sqlite_file(url)?;
    }
    let db = crate::server::open(url).await?;
    if backend == store::Backend::Postgres && !store::catalog::is_empty(&db).await? {
        anyhow::bail!(
            "the demo needs an empty PostgreSQL database; {} already holds a catalogue",
            crate::server::redact(url)
        );
    }
    let keys = seed(&db).await?;
    if let Some(path) = &keys_file {
        std::fs::write(path, serde_json::to_string_pretty(&keys)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let banner = keys.clone();
    tokio::spawn(async move {
        if let Ok(addr) = rx.await {
            print_banner(addr, &banner, &mail);
        }
    });
    crate::server::serve_db(db, listener, settings, Some(tx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_big_enough_and_valid() {
        let now = Timestamp::now();
        let products: Vec<_> = products()
            .into_iter()
            .map(|p| p.validate(kernel::id::new_id("prd"), now).unwrap())
            .collect();
        let variants: usize = products.iter().map(|p| p.variants.len()).sum();
        assert!(variants >= 300, "only {variants} variants");
        let mut skus = BTreeSet::new();
        let mut gtins = BTreeSet::new();
        for v in products.iter().flat_map(|p| &p.variants) {
            assert!(skus.insert(v.sku.clone()), "duplicate SKU {}", v.sku);
            assert!(gtins.insert(v.gtin.clone().unwrap()), "duplicate GTIN");
        }
        let categories: BTreeSet<_> = products
            .iter()
            .map(|p| p.category.split('/').next().unwrap())
            .collect();
        assert!(categories.len() >= 8);
    }

    #[test]
    fn stores_are_real_places_some_franchised() {
        assert!(STORES.len() >= 12);
        assert!(STORES.iter().filter(|s| s.franchisee.is_some()).count() >= 3);
        for s in STORES {
            let l = store_location(s).validate(Timestamp::now()).unwrap();
            // Metropolitan France.
            assert!(
                (41.0..51.5).contains(&l.coordinates.latitude)
                    && (-5.5..9.6).contains(&l.coordinates.longitude),
                "{}",
                s.code
            );
        }
        assert_eq!(
            other_locations()
                .iter()
                .filter(|l| l.kind == LocationKind::Warehouse)
                .count(),
            2
        );
    }
}
