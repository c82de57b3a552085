//! Ship-from routing: which locations send an order, and why.
//!
//! The rule, in order: one parcel is better than two, so a location that has every unit wins;
//! among those, warehouses before stores (stores sell their stock over the counter), then
//! the nearest to the customer, then the code. When no single location has everything, the
//! order is split greedily: the location that covers the most remaining units ships them,
//! with the same tie-breaks, until every unit is placed. Each allocation says why it was
//! chosen, in words for the order page. Stock figures are ATP already filtered by the
//! channel's sourcing policy (only warehouses and stores that may ship).

use std::collections::BTreeMap;

use serde::Serialize;

/// Where stock may ship from, with what it can promise.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub code: String,
    pub is_warehouse: bool,
    /// Distance to the delivery address, when both are known.
    pub distance_km: Option<f64>,
    /// ATP per SKU.
    pub atp: BTreeMap<String, i64>,
}

/// Units of one SKU from one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub location: String,
    pub sku: String,
    pub quantity: i64,
}

/// The routing decision: allocations and the reason for each location.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Routing {
    pub allocations: Vec<Allocation>,
    /// One sentence per location used, in the order they were chosen.
    pub explanation: Vec<String>,
}

/// Units that no location can promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unroutable {
    pub missing: BTreeMap<String, i64>,
}

/// Routes `lines` (SKU → units) over `candidates`.
pub fn route(
    lines: &BTreeMap<String, i64>,
    candidates: &[Candidate],
) -> Result<Routing, Unroutable> {
    let mut order: Vec<&Candidate> = candidates.iter().collect();
    order.sort_by(|a, b| {
        preference(a)
            .partial_cmp(&preference(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let wanted: i64 = lines.values().sum();
    if let Some(whole) = order.iter().find(|c| covers(c, lines) == wanted) {
        return Ok(Routing {
            allocations: allocate(whole, lines),
            explanation: vec![format!(
                "{}: the {} {} that has every item",
                whole.code,
                if order.iter().filter(|c| covers(c, lines) == wanted).count() > 1 {
                    "preferred"
                } else {
                    "only"
                },
                kind(whole)
            )],
        });
    }
    let mut remaining = lines.clone();
    let mut used: Vec<&Candidate> = Vec::new();
    let mut routing = Routing {
        allocations: vec![],
        explanation: vec![],
    };
    loop {
        let left: i64 = remaining.values().sum();
        if left == 0 {
            return Ok(routing);
        }
        // The unused location covering the most of what is left; `order` breaks ties.
        let best = order
            .iter()
            .filter(|c| !used.iter().any(|u| u.code == c.code))
            .max_by(|a, b| {
                covers(a, &remaining)
                    .cmp(&covers(b, &remaining))
                    .then_with(|| {
                        preference(b)
                            .partial_cmp(&preference(a))
                            .unwrap_or(std::cmp::Ordering::Equal)
                    })
            })
            .filter(|c| covers(c, &remaining) > 0);
        let Some(best) = best else {
            remaining.retain(|_, q| *q > 0);
            return Err(Unroutable { missing: remaining });
        };
        let part = allocate(best, &remaining);
        let units: i64 = part.iter().map(|a| a.quantity).sum();
        for a in &part {
            *remaining
                .get_mut(&a.sku)
                .expect("allocated SKUs are ordered") -= a.quantity;
        }
        routing.explanation.push(format!(
            "{}: {} {} of the {} units left ({})",
            best.code,
            kind(best),
            units,
            left,
            if routing.allocations.is_empty() {
                "no single location has every item; this one has the most"
            } else {
                "the most of the rest"
            }
        ));
        routing.allocations.extend(part);
        used.push(best);
    }
}

/// Sort key: warehouses first, then nearest (unknown distance last), then code.
fn preference(c: &Candidate) -> (u8, f64, &str) {
    (
        u8::from(!c.is_warehouse),
        c.distance_km.unwrap_or(f64::MAX),
        c.code.as_str(),
    )
}

fn kind(c: &Candidate) -> &'static str {
    if c.is_warehouse {
        "warehouse"
    } else {
        "store that ships"
    }
}

/// How many of the wanted units `c` can promise.
fn covers(c: &Candidate, wanted: &BTreeMap<String, i64>) -> i64 {
    wanted
        .iter()
        .map(|(sku, q)| (*q).min(c.atp.get(sku).copied().unwrap_or(0).max(0)))
        .sum()
}

fn allocate(c: &Candidate, wanted: &BTreeMap<String, i64>) -> Vec<Allocation> {
    wanted
        .iter()
        .map(|(sku, q)| (sku, (*q).min(c.atp.get(sku).copied().unwrap_or(0).max(0))))
        .filter(|(_, q)| *q > 0)
        .map(|(sku, quantity)| Allocation {
            location: c.code.clone(),
            sku: sku.clone(),
            quantity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(code: &str, warehouse: bool, km: Option<f64>, stock: &[(&str, i64)]) -> Candidate {
        Candidate {
            code: code.into(),
            is_warehouse: warehouse,
            distance_km: km,
            atp: stock.iter().map(|(s, q)| (s.to_string(), *q)).collect(),
        }
    }

    fn lines(l: &[(&str, i64)]) -> BTreeMap<String, i64> {
        l.iter().map(|(s, q)| (s.to_string(), *q)).collect()
    }

    #[test]
    fn one_parcel_from_a_warehouse_beats_a_nearer_store() {
        let r = route(
            &lines(&[("A", 2), ("B", 1)]),
            &[
                at("LYS", false, Some(2.0), &[("A", 5), ("B", 5)]),
                at("WH-N", true, Some(400.0), &[("A", 9), ("B", 9)]),
                at("WH-S", true, Some(300.0), &[("A", 9), ("B", 9)]),
            ],
        )
        .unwrap();
        assert!(r.allocations.iter().all(|a| a.location == "WH-S"), "{r:?}");
        assert_eq!(
            r.explanation,
            vec!["WH-S: the preferred warehouse that has every item"]
        );
    }

    #[test]
    fn a_store_that_ships_serves_when_no_warehouse_has_everything_and_orders_split_otherwise() {
        let store_has_all = route(
            &lines(&[("A", 1), ("B", 1)]),
            &[
                at("WH", true, None, &[("A", 1)]),
                at("LYS", false, None, &[("A", 1), ("B", 1)]),
            ],
        )
        .unwrap();
        assert!(
            store_has_all
                .allocations
                .iter()
                .all(|a| a.location == "LYS")
        );
        assert!(store_has_all.explanation[0].contains("store that ships"));

        let split = route(
            &lines(&[("A", 3), ("B", 2)]),
            &[
                at("WH", true, None, &[("A", 3), ("B", 1)]),
                at("LYS", false, None, &[("B", 5)]),
            ],
        )
        .unwrap();
        assert_eq!(
            split.allocations,
            vec![
                Allocation {
                    location: "WH".into(),
                    sku: "A".into(),
                    quantity: 3
                },
                Allocation {
                    location: "WH".into(),
                    sku: "B".into(),
                    quantity: 1
                },
                Allocation {
                    location: "LYS".into(),
                    sku: "B".into(),
                    quantity: 1
                },
            ]
        );
        assert_eq!(split.explanation.len(), 2);
    }

    #[test]
    fn what_nobody_has_is_reported() {
        let e = route(
            &lines(&[("A", 3), ("B", 1)]),
            &[at("WH", true, None, &[("A", 2), ("B", 1)])],
        )
        .unwrap_err();
        assert_eq!(e.missing, lines(&[("A", 1)]));
    }

    proptest! {
        #[test]
        fn routing_never_promises_more_than_a_location_has_and_places_every_unit(
            stock in proptest::collection::vec(proptest::collection::vec(0i64..6, 3), 1..5),
            wanted in proptest::collection::vec(0i64..8, 3),
        ) {
            let skus = ["A", "B", "C"];
            let candidates: Vec<Candidate> = stock.iter().enumerate().map(|(i, s)| Candidate {
                code: format!("L{i}"), is_warehouse: i % 2 == 0, distance_km: None,
                atp: skus.iter().zip(s).map(|(k, q)| (k.to_string(), *q)).collect(),
            }).collect();
            let order: BTreeMap<String, i64> = skus.iter().zip(&wanted).filter(|(_, q)| **q > 0).map(|(k, q)| (k.to_string(), *q)).collect();
            let available: BTreeMap<&str, i64> = skus.iter().enumerate().map(|(i, k)| (*k, stock.iter().map(|s| s[i]).sum())).collect();
            match route(&order, &candidates) {
                Ok(r) => {
                    for (sku, q) in &order {
                        let placed: i64 = r.allocations.iter().filter(|a| &a.sku == sku).map(|a| a.quantity).sum();
                        prop_assert_eq!(placed, *q);
                    }
                    for a in &r.allocations {
                        let c = candidates.iter().find(|c| c.code == a.location).unwrap();
                        prop_assert!(a.quantity > 0 && a.quantity <= c.atp[&a.sku]);
                    }
                }
                Err(e) => {
                    // Only when the network as a whole lacks units.
                    prop_assert!(e.missing.iter().all(|(sku, q)| *q > 0 && order[sku] > available[sku.as_str()]));
                }
            }
        }
    }
}
