//! The nearest-store offer: a known customer viewed a product online; if a store near them
//! has it, tell them which one, and say why.

use catalog::location::Coordinates;
use serde::Serialize;

/// Stores farther than this are no offer: nobody crosses the country to try a jacket.
pub const DEFAULT_MAX_KM: f64 = 50.0;

/// Where the customer's position came from, in the order it is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// Coordinates the channel sent with the view.
    View,
    /// The customer's saved address.
    Address,
    /// Their home store.
    HomeStore,
}

impl PositionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSource::View => "the position sent with the view",
            PositionSource::Address => "their saved address",
            PositionSource::HomeStore => "their home store",
        }
    }
}

/// A store that could make the offer.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub code: String,
    pub name: String,
    pub coordinates: Coordinates,
    /// Units a customer could buy there now (ATP).
    pub available: i64,
}

/// The store chosen, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    pub store: String,
    pub store_name: String,
    /// Tenths of a kilometre, so the message and its record agree to the digit.
    pub distance_hm: i64,
    pub available: i64,
    pub reason: String,
}

/// A distance in tenths of a kilometre as a message writes it: `3.2` / `3,2`.
pub fn distance_text(distance_hm: i64, language: crate::Language) -> String {
    let text = format!("{}.{}", distance_hm / 10, distance_hm % 10);
    match language {
        crate::Language::Fr => text.replace('.', ","),
        crate::Language::En => text,
    }
}

/// The nearest candidate with stock within `max_km` of `from`, explained; ties go to the
/// store with more units, then the code.
pub fn nearest(
    from: (Coordinates, PositionSource),
    candidates: &[Candidate],
    product: &str,
    max_km: f64,
) -> Option<Offer> {
    let (position, source) = from;
    let (best, km) = candidates
        .iter()
        .filter(|c| c.available > 0)
        .map(|c| (c, position.distance_km(&c.coordinates)))
        .filter(|(_, km)| *km <= max_km)
        .min_by(|(a, ka), (b, kb)| {
            ka.total_cmp(kb)
                .then(b.available.cmp(&a.available))
                .then(a.code.cmp(&b.code))
        })?;
    let distance_hm = (km * 10.0).round() as i64;
    let others = candidates.iter().filter(|c| c.available > 0).count() - 1;
    Some(Offer {
        store: best.code.clone(),
        store_name: best.name.clone(),
        distance_hm,
        available: best.available,
        reason: format!(
            "viewed {product}; {} ({}) is the nearest store with it in stock: {} km from {}, {} unit(s) available; {others} other store(s) have it",
            best.name,
            best.code,
            distance_text(distance_hm, crate::Language::En),
            source.as_str(),
            best.available,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    fn stores() -> Vec<Candidate> {
        vec![
            Candidate {
                code: "LYON".into(),
                name: "Lyon Part-Dieu".into(),
                coordinates: at(45.7606, 4.8595),
                available: 0,
            },
            Candidate {
                code: "VILLEUR".into(),
                name: "Villeurbanne".into(),
                coordinates: at(45.7719, 4.8902),
                available: 2,
            },
            Candidate {
                code: "PARIS".into(),
                name: "Paris Rivoli".into(),
                coordinates: at(48.8606, 2.3376),
                available: 9,
            },
        ]
    }

    #[test]
    fn the_nearest_store_with_stock_is_chosen_and_explained() {
        let bellecour = (at(45.7578, 4.8320), PositionSource::View);
        let o = nearest(
            bellecour,
            &stores(),
            "Veste Alpine (VESTE-M)",
            DEFAULT_MAX_KM,
        )
        .unwrap();
        assert_eq!(o.store, "VILLEUR");
        assert_eq!(o.available, 2);
        assert!((40..=60).contains(&o.distance_hm), "{}", o.distance_hm);
        assert!(
            o.reason
                .contains("Villeurbanne (VILLEUR) is the nearest store with it in stock")
        );
        assert!(o.reason.contains("the position sent with the view"));
        assert_eq!(distance_text(52, crate::Language::Fr), "5,2");
        assert_eq!(distance_text(52, crate::Language::En), "5.2");
    }

    #[test]
    fn no_store_with_stock_near_enough_is_no_offer() {
        let mut s = stores();
        s[1].available = 0;
        let bellecour = (at(45.7578, 4.8320), PositionSource::Address);
        assert_eq!(nearest(bellecour, &s, "x", DEFAULT_MAX_KM), None);
        assert!(nearest(bellecour, &s, "x", 1000.0).is_some());
    }
}
