//! The demo's delivery: Élan Sport's shipping methods — home delivery by weight band, free
//! from 50 €; express; ship to store, free — and each product's packed weight.

use std::collections::BTreeSet;

use app::Principal;
use app::reference::Reference;
use kernel::Currency;
use orders::delivery::{MethodKind, Promise, Rate, ShippingMethod, WeightBand};

use crate::demo_calls::{kept, side_by_side};

/// A product's packed weight by its kind, for weight-band delivery rates.
pub(crate) fn packed_weight(category: &str) -> i64 {
    match category.split('/').next_back().unwrap_or_default() {
        "e-bikes" => 26_000,
        "mountain-bikes" | "road-bikes" => 14_000,
        "tents" | "surfboards" | "paddle" => 6_500,
        "skis" | "strength" => 5_500,
        "ski-boots" | "sleeping-bags" | "backpacks" => 2_200,
        "running" | "hiking" | "trail" | "walking" | "wetsuits" => 1_100,
        "helmets" | "goggles" | "yoga" | "football" | "tennis" => 700,
        _ => 450,
    }
}

fn method(
    code: &str,
    name: &str,
    kind: MethodKind,
    rate: Rate,
    days: (i64, i64),
) -> ShippingMethod {
    ShippingMethod {
        code: code.into(),
        name: name.into(),
        kind,
        channels: BTreeSet::new(),
        countries: ["FR".to_owned()].into(),
        currency: Currency::EUR,
        rate,
        promise: Promise {
            min_days: days.0,
            max_days: days.1,
            cutoff: Some("14:00".into()),
            time_zone: "Europe/Paris".into(),
        },
        active: true,
        position: 0,
    }
}

fn band(up_to_grams: i64, amount_minor: i64) -> WeightBand {
    WeightBand {
        up_to_grams,
        amount_minor,
    }
}

/// Home delivery in France by weight (free from 50 € of goods after discounts), express in
/// a day, and free delivery to a store, offered on the web and in the app.
pub(crate) async fn seed_shipping(
    reference: &Reference,
    admin: &Principal,
) -> Result<(), kernel::Error> {
    let home = method(
        "standard",
        "Livraison à domicile (Colissimo)",
        MethodKind::Standard,
        Rate {
            flat_minor: None,
            weight_bands: vec![band(1_000, 490), band(5_000, 690), band(30_000, 1290)],
            free_above_minor: Some(5000),
        },
        (2, 4),
    );
    let mut express = method(
        "express",
        "Express 24 h (Chronopost)",
        MethodKind::Express,
        Rate {
            flat_minor: Some(1290),
            weight_bands: vec![],
            free_above_minor: None,
        },
        (1, 1),
    );
    express.position = 1;
    express.promise.cutoff = Some("12:00".into());
    let mut to_store = method(
        "store",
        "Retrait en magasin",
        MethodKind::ShipToStore,
        Rate {
            flat_minor: Some(0),
            weight_bands: vec![],
            free_above_minor: None,
        },
        (2, 3),
    );
    to_store.position = 2;
    side_by_side([home, express, to_store].into_iter().map(|m| {
        kept::<ShippingMethod, _>(move |k| app::shipping::set(reference, admin, m, None, k))
    }))
    .await?;
    Ok(())
}
