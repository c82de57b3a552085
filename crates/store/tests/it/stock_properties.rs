//! Random sequences of stock operations against the real store, on SQLite and PostgreSQL:
//! whatever happens, the books balance (on hand = sum of movements, held = pending holds),
//! held never exceeds on hand, ATP is never negative, every hold ends at most once, and a
//! movement replayed with its client key changes nothing.

use std::collections::BTreeMap;

use catalog::{NewProduct, NewVariant};
use inventory::{HoldPurpose, MovementKind};
use kernel::{ErrorCode, Timestamp};
use proptest::prelude::*;
use store::Db;
use store::stock::{HoldAction, NewHold, NewMovement};

const LOCATIONS: [&str; 2] = ["LOC-A", "LOC-B"];

#[derive(Debug, Clone)]
enum Op {
    Move {
        loc: usize,
        kind: MovementKind,
        quantity: i64,
        replay_of: Option<u8>,
    },
    Hold {
        loc: usize,
        quantity: i64,
    },
    Commit {
        hold: usize,
        quantity: Option<i64>,
    },
    Release {
        hold: usize,
    },
    Expire {
        hold: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(MovementKind::Receipt),
        Just(MovementKind::Sale),
        Just(MovementKind::Return),
        Just(MovementKind::TransferOut),
        Just(MovementKind::TransferIn),
        Just(MovementKind::Adjustment),
        Just(MovementKind::Count),
    ];
    prop_oneof![
        3 => (0..2usize, kind, -4i64..12, proptest::option::weighted(0.3, 0u8..4))
            .prop_map(|(loc, kind, quantity, replay_of)| Op::Move { loc, kind, quantity, replay_of }),
        3 => (0..2usize, 1i64..5).prop_map(|(loc, quantity)| Op::Hold { loc, quantity }),
        1 => (0..8usize, proptest::option::of(1i64..5)).prop_map(|(hold, quantity)| Op::Commit { hold, quantity }),
        1 => (0..8usize).prop_map(|hold| Op::Release { hold }),
        1 => (0..8usize).prop_map(|hold| Op::Expire { hold }),
    ]
}

async fn setup(db: &Db) {
    let mut locs = Vec::new();
    for code in LOCATIONS {
        let l = catalog::NewLocation {
            code: code.into(),
            name: code.into(),
            kind: catalog::LocationKind::Store,
            address: catalog::Address {
                line1: "1 rue".into(),
                line2: None,
                postal_code: "75001".into(),
                city: "Paris".into(),
                country: "FR".into(),
            },
            coordinates: catalog::Coordinates {
                latitude: 48.0,
                longitude: 2.0,
            },
            time_zone: "Europe/Paris".into(),
            opening_hours: Default::default(),
            owner: catalog::Owner {
                kind: catalog::OwnerKind::Company,
                name: "Co".into(),
            },
            capabilities: Default::default(),
            phone: None,
            email: None,
            pickup_lead_min: None,
        };
        locs.push(l.validate(Timestamp::now()).unwrap());
    }
    let p = NewProduct {
        title: "Sock".into(),
        description: None,
        brand: None,
        category: "socks".into(),
        tax_category: None,
        attributes: BTreeMap::new(),
        images: vec![],
        variants: vec![NewVariant {
            sku: "SOCK".into(),
            gtin: None,
            title: None,
            attributes: BTreeMap::new(),
            weight_grams: None,
        }],
    }
    .validate("prd_sock".into(), Timestamp::now())
    .unwrap();
    db.write(move |c| {
        Box::pin(async move {
            for l in &locs {
                store::locations::create_location(&mut *c, l, "t").await?;
            }
            store::catalog::create_product(c, &p, "t").await
        })
    })
    .await
    .unwrap();
}

/// Runs the operations; returns the ids of the holds that were created.
async fn run(db: &Db, ops: &[Op]) -> Vec<String> {
    let mut holds: Vec<String> = Vec::new();
    // Client keys already recorded, with the sequence number of their movement.
    let mut recorded: BTreeMap<u8, i64> = BTreeMap::new();
    for op in ops {
        let outcome = match op.clone() {
            Op::Move {
                loc,
                kind,
                quantity,
                replay_of,
            } => {
                let m = NewMovement {
                    sku: "SOCK".into(),
                    location: LOCATIONS[loc].into(),
                    kind,
                    quantity,
                    reason: "prop".into(),
                    reference: None,
                    client_key: replay_of.map(|k| format!("client-{k}")),
                };
                let before = store::stock::variant_stock(db, "SOCK").await.unwrap();
                let result = db
                    .write(move |c| {
                        Box::pin(async move { store::stock::record_movement(c, &m, "t").await })
                    })
                    .await;
                match (
                    replay_of.and_then(|k| recorded.get(&k).map(|seq| (k, *seq))),
                    &result,
                ) {
                    // A replay returns the first movement and changes nothing.
                    (Some((_, seq)), Ok((movement, _))) => {
                        assert_eq!(movement.seq, seq, "a replay recorded a new movement");
                        assert_eq!(
                            store::stock::variant_stock(db, "SOCK").await.unwrap(),
                            before,
                            "a replay changed the stock"
                        );
                    }
                    (Some(_), Err(e)) => panic!("a replay must return the first movement: {e}"),
                    (None, Ok((movement, _))) => {
                        if let Some(k) = replay_of {
                            recorded.insert(k, movement.seq);
                        }
                    }
                    (None, Err(_)) => {}
                }
                result.map(|_| ())
            }
            Op::Hold { loc, quantity } => {
                let h = NewHold {
                    sku: "SOCK".into(),
                    location: LOCATIONS[loc].into(),
                    quantity,
                    purpose: HoldPurpose::Cart,
                    owner_ref: "cart".into(),
                    owner: inventory::HoldOwner::Cart,
                    channel: None,
                    checked_channel_safety: None,
                    ttl_s: Some(60),
                };
                db.write(move |c| {
                    Box::pin(async move { store::stock::create_hold(c, &h, "t").await })
                })
                .await
                .map(|h| holds.push(h.id))
            }
            Op::Commit { hold, quantity } => {
                end(db, &holds, hold, HoldAction::Commit(quantity)).await
            }
            Op::Release { hold } => end(db, &holds, hold, HoldAction::Release).await,
            Op::Expire { hold } => {
                let at = Timestamp::from_unix_ms(Timestamp::now().unix_ms() + 120_000);
                end(db, &holds, hold, HoldAction::Expire { at }).await
            }
        };
        if let Err(e) = outcome {
            // Refusals are expected outcomes, never a failure of the store.
            assert!(
                matches!(
                    e.code,
                    ErrorCode::Conflict
                        | ErrorCode::InsufficientStock
                        | ErrorCode::ValidationFailed
                        | ErrorCode::NotFound
                ),
                "{op:?}: {e}"
            );
        }
        for s in store::stock::variant_stock(db, "SOCK").await.unwrap() {
            assert!(
                0 <= s.level.held && s.level.held <= s.level.on_hand,
                "{op:?}: {s:?}"
            );
            assert!(s.level.atp() >= 0);
        }
    }
    holds
}

async fn end(
    db: &Db,
    holds: &[String],
    index: usize,
    action: HoldAction,
) -> Result<(), kernel::Error> {
    let Some(id) = holds.get(index).cloned() else {
        return Ok(());
    };
    db.write(move |c| Box::pin(async move { store::stock::end_hold(c, &id, action, "t").await }))
        .await
        .map(|_| ())
}

async fn check(db: &Db, holds: &[String]) {
    assert_eq!(
        store::stock::unbalanced(db).await.unwrap(),
        Vec::<String>::new()
    );
    for id in holds {
        let mut endings = 0;
        for kind in [
            "relais.hold.committed",
            "relais.hold.released",
            "relais.hold.expired",
        ] {
            let page = kernel::PageRequest::parse(Some(500), None).unwrap();
            endings += store::events::list(db, Some(kind), Some(id), &page)
                .await
                .unwrap()
                .data
                .len();
        }
        let hold = store::stock::get_hold(db, id).await.unwrap();
        let expected = usize::from(hold.status != inventory::HoldStatus::Pending);
        assert_eq!(
            endings, expected,
            "hold {id} ({:?}) ended {endings} times",
            hold.status
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_books_always_balance(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for t in testkit::every_backend().await {
                setup(&t.db).await;
                let holds = run(&t.db, &ops).await;
                check(&t.db, &holds).await;
            }
        });
    }
}
