//! The promotion engine from outside: each effect, stacking, budgets and conditions on
//! small baskets, and properties over random ones.

use std::collections::{BTreeMap, BTreeSet};

use kernel::{Currency, Timestamp};
use promotions::*;
use proptest::prelude::*;

fn line(sku: &str, category: &str, price: i64, quantity: i64) -> BasketLine {
    BasketLine {
        sku: sku.into(),
        product_id: format!("prd_{}", &sku[..3]),
        category: category.into(),
        brand: Some("Élan".into()),
        unit_price_minor: price,
        quantity,
    }
}

fn basket(lines: Vec<BasketLine>) -> Basket {
    Basket {
        currency: Currency::EUR,
        lines,
        shipping_minor: 490,
    }
}

fn promo(id: &str, effect: Effect) -> Promotion {
    NewPromotion {
        name: format!("promo {id}"),
        description: None,
        currency: Currency::EUR,
        conditions: Conditions::default(),
        effect,
        stacking: Stacking::Combinable,
        priority: 0,
        budget: Budget::default(),
        active: true,
    }
    .validate(id.into(), Timestamp::from_unix_ms(0))
    .unwrap()
}

fn web() -> Shopper {
    Shopper {
        channel: "web".into(),
        ..Default::default()
    }
}

fn now() -> Timestamp {
    // Thursday 2026-12-03 10:00 UTC (11:00 in Paris).
    Timestamp::from_unix_ms(1_796_292_000_000)
}

fn price(promos: &[Promotion], b: &Basket, s: &Shopper) -> PricedBasket {
    evaluate(promos, b, s, now(), &BTreeMap::new())
}

#[test]
fn twenty_percent_off_running_shoes_only() {
    let mut p = promo("run20", Effect::PercentOffItems { percent_bp: 2000 });
    p.conditions.items.categories = BTreeSet::from(["running".to_owned()]);
    let b = basket(vec![
        line("SHOE-42", "running/shoes", 12_999, 1),
        line("TENT-2P", "camping/tents", 19_900, 1),
    ]);
    let priced = price(&[p], &b, &web());
    assert_eq!(priced.lines[0].discounts[0].amount_minor, 2_600); // 25.998 → 26.00
    assert!(priced.lines[1].discounts.is_empty());
    assert_eq!(priced.discount_minor, 2_600);
    assert_eq!(priced.total_minor, 12_999 + 19_900 - 2_600 + 490);
    assert_eq!(priced.applied[0].why, "20 % off 1 qualifying line(s)");
}

#[test]
fn buy_two_get_one_free_gives_the_cheapest() {
    let p = promo(
        "b2g1",
        Effect::BuyXGetY {
            buy: 2,
            get: 1,
            percent_bp: 10_000,
        },
    );
    let b = basket(vec![
        line("SOCK-A", "running/socks", 900, 2),
        line("SOCK-B", "running/socks", 1_200, 1),
    ]);
    let priced = price(&[p], &b, &web());
    // Dearest first: 1200, 900, 900 → the last 900 is free.
    assert_eq!(priced.discount_minor, 900);
    assert_eq!(priced.lines[0].discounts[0].amount_minor, 900);
}

#[test]
fn a_bundle_price_and_a_free_gift() {
    let bundle = promo(
        "three-for-20",
        Effect::BundlePrice {
            quantity: 3,
            price_minor: 2_000,
        },
    );
    let b = basket(vec![line("BALL-1", "team/balls", 900, 4)]);
    // 3 × 9.00 = 27.00 for 20.00: 7.00 off, the fourth unit at full price.
    assert_eq!(price(&[bundle], &b, &web()).discount_minor, 700);

    let mut gift = promo(
        "bottle",
        Effect::FreeGift {
            sku: "BOTTLE".into(),
            quantity: 1,
        },
    );
    gift.conditions.items.categories = BTreeSet::from(["cycling".to_owned()]);
    let b = basket(vec![
        line("BIKE-M", "cycling/bikes", 89_900, 1),
        line("BOTTLE", "cycling/accessories", 800, 2),
    ]);
    let priced = price(&[gift], &b, &web());
    assert_eq!(priced.lines[1].discounts[0].amount_minor, 800);
    assert_eq!(priced.discount_minor, 800);
}

#[test]
fn free_shipping_above_fifty_euros() {
    let mut p = promo("ship50", Effect::FreeShipping);
    p.conditions.min_subtotal_minor = Some(5_000);
    let small = basket(vec![line("CAP-1", "running/caps", 1_500, 1)]);
    let priced = price(std::slice::from_ref(&p), &small, &web());
    assert_eq!(priced.shipping_discount_minor, 0);
    assert_eq!(
        priced.skipped[0].reason,
        "needs 5000 (minor units) of items"
    );
    let big = basket(vec![line("CAP-1", "running/caps", 1_500, 4)]);
    let priced = price(&[p], &big, &web());
    assert_eq!(priced.shipping_discount_minor, 490);
    assert_eq!(priced.total_minor, 6_000);
}

#[test]
fn an_exclusive_promotion_stands_alone_and_priority_decides() {
    let mut big = promo("big", Effect::PercentOffCart { percent_bp: 3000 });
    big.stacking = Stacking::Exclusive;
    big.priority = 10;
    let small = promo("small", Effect::AmountOffItems { amount_minor: 100 });
    let b = basket(vec![line("SHOE-42", "running/shoes", 10_000, 1)]);
    let priced = price(&[small.clone(), big.clone()], &b, &web());
    assert_eq!(priced.applied.len(), 1);
    assert_eq!(priced.discount_minor, 3_000);
    // Below the combinable one, the exclusive one does not join it.
    big.priority = -1;
    let priced = price(&[small, big], &b, &web());
    assert_eq!(priced.applied.len(), 1);
    assert_eq!(priced.applied[0].promotion_id, "small");
    assert_eq!(priced.skipped[0].reason, "not combined with promo small");
}

#[test]
fn channels_segments_coupons_and_first_orders() {
    let mut app_only = promo("app10", Effect::PercentOffItems { percent_bp: 1000 });
    app_only.conditions.channels = BTreeSet::from(["app".to_owned()]);
    let mut members = promo("vip", Effect::AmountOffCart { amount_minor: 500 });
    members.conditions.segments = BTreeSet::from(["seg_vip".to_owned()]);
    let mut contest = promo(
        "contest",
        Effect::AmountOffCart {
            amount_minor: 1_000,
        },
    );
    contest.conditions.coupon_required = true;
    let mut welcome = promo("welcome", Effect::PercentOffCart { percent_bp: 500 });
    welcome.conditions.first_order = true;
    let all = [app_only, members, contest, welcome];
    let b = basket(vec![line("SHOE-42", "running/shoes", 10_000, 1)]);
    assert_eq!(price(&all, &b, &web()).discount_minor, 0);
    let mut s = Shopper {
        channel: "app".into(),
        customer_id: Some("cus_1".into()),
        segments: BTreeSet::from(["seg_vip".to_owned()]),
        first_order: true,
        coupons: BTreeMap::from([("WIN-ABC".to_owned(), "contest".to_owned())]),
        ..Default::default()
    };
    let priced = price(&all, &b, &s);
    let ids: Vec<&str> = priced
        .applied
        .iter()
        .map(|a| a.promotion_id.as_str())
        .collect();
    assert_eq!(ids, ["app10", "contest", "vip", "welcome"]);
    assert_eq!(priced.applied[1].coupon.as_deref(), Some("WIN-ABC"));
    // 10 % of 100.00, then 10.00, 5.00, then 5 % of the 75.00 left.
    assert_eq!(priced.discount_minor, 1_000 + 1_000 + 500 + 375);
    s.first_order = false;
    assert_eq!(price(&all, &b, &s).applied.len(), 3);
}

#[test]
fn budgets_cap_uses_and_amounts() {
    let mut p = promo("cap", Effect::PercentOffItems { percent_bp: 5000 });
    p.budget.max_uses = Some(100);
    p.budget.max_discount_minor = Some(10_000);
    let b = basket(vec![line("SHOE-42", "running/shoes", 10_000, 3)]);
    let spent = |uses, discount| {
        BTreeMap::from([(
            "cap".to_owned(),
            Usage {
                uses,
                discount_minor: discount,
                customer_uses: 0,
            },
        )])
    };
    let priced = evaluate(
        std::slice::from_ref(&p),
        &b,
        &web(),
        now(),
        &spent(5, 7_000),
    );
    assert_eq!(priced.discount_minor, 3_000, "what the budget has left");
    let priced = evaluate(std::slice::from_ref(&p), &b, &web(), now(), &spent(100, 0));
    assert_eq!(priced.discount_minor, 0);
    assert_eq!(priced.skipped[0].reason, "all its uses are taken");
    p.budget.max_uses_per_customer = Some(1);
    let priced = evaluate(&[p], &b, &web(), now(), &BTreeMap::new());
    assert_eq!(priced.skipped[0].reason, "for signed-in customers");
}

#[test]
fn a_schedule_runs_in_the_retailers_time_zone() {
    let mut p = promo("happy", Effect::PercentOffItems { percent_bp: 1500 });
    p.conditions.schedule = Some(Schedule {
        starts_at: None,
        ends_at: None,
        // Thursdays, 11:00–12:00 in Paris: now() is 11:00 there.
        days: BTreeSet::from([4]),
        from_time: Some("11:00".into()),
        to_time: Some("12:00".into()),
        time_zone: "Europe/Paris".into(),
    });
    let b = basket(vec![line("SHOE-42", "running/shoes", 10_000, 1)]);
    assert_eq!(
        price(std::slice::from_ref(&p), &b, &web()).discount_minor,
        1_500
    );
    let later = Timestamp::from_unix_ms(now().unix_ms() + 3_600_000);
    assert_eq!(
        evaluate(&[p], &b, &web(), later, &BTreeMap::new()).discount_minor,
        0
    );
}

#[test]
fn invalid_promotions_are_refused() {
    let bad = |effect| {
        NewPromotion {
            name: "x".into(),
            description: None,
            currency: Currency::EUR,
            conditions: Conditions::default(),
            effect,
            stacking: Stacking::Combinable,
            priority: 0,
            budget: Budget::default(),
            active: true,
        }
        .validate("p".into(), now())
        .unwrap_err()
    };
    assert_eq!(
        bad(Effect::PercentOffItems { percent_bp: 10_001 }).details["field"],
        "effect.percent_bp"
    );
    assert_eq!(
        bad(Effect::AmountOffCart { amount_minor: 0 }).details["field"],
        "effect.amount_minor"
    );
    assert_eq!(
        bad(Effect::BundlePrice {
            quantity: 1,
            price_minor: 5
        })
        .details["field"],
        "effect.quantity"
    );
}

fn any_effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        (1i64..=10_000).prop_map(|percent_bp| Effect::PercentOffItems { percent_bp }),
        (1i64..50_000).prop_map(|amount_minor| Effect::AmountOffItems { amount_minor }),
        (1i64..=10_000).prop_map(|percent_bp| Effect::PercentOffCart { percent_bp }),
        (1i64..200_000).prop_map(|amount_minor| Effect::AmountOffCart { amount_minor }),
        (1i64..=10_000).prop_map(|percent_bp| Effect::PercentOffCheapest { percent_bp }),
        (1i64..4, 1i64..3, 1i64..=10_000).prop_map(|(buy, get, percent_bp)| Effect::BuyXGetY {
            buy,
            get,
            percent_bp
        }),
        (2i64..5, 0i64..30_000).prop_map(|(quantity, price_minor)| Effect::BundlePrice {
            quantity,
            price_minor
        }),
        (0usize..6, 1i64..3).prop_map(|(k, quantity)| Effect::FreeGift {
            sku: format!("SKU-{k}"),
            quantity
        }),
        Just(Effect::FreeShipping),
    ]
}

fn any_promotions() -> impl Strategy<Value = Vec<Promotion>> {
    prop::collection::vec(
        (
            any_effect(),
            any::<bool>(),
            -3i64..3,
            prop::option::of(1i64..20_000),
            0usize..4,
        ),
        0..5,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (effect, exclusive, priority, cap, cat))| {
                let mut p = promo(&format!("p{i}"), effect);
                p.stacking = if exclusive {
                    Stacking::Exclusive
                } else {
                    Stacking::Combinable
                };
                p.priority = priority;
                p.budget.max_discount_minor = cap;
                if cat > 0 {
                    p.conditions.items.categories = BTreeSet::from([format!("cat{cat}")]);
                }
                p
            })
            .collect()
    })
}

fn any_lines() -> impl Strategy<Value = Vec<BasketLine>> {
    prop::collection::btree_map(0usize..6, (0i64..100_000, 1i64..5, 0usize..4), 1..6).prop_map(
        |m| {
            m.into_iter()
                .map(|(k, (price, q, cat))| {
                    line(&format!("SKU-{k}"), &format!("cat{cat}/x"), price, q)
                })
                .collect()
        },
    )
}

proptest! {
    #[test]
    fn discounts_never_exceed_lines_and_totals_add_up(
        promos in any_promotions(),
        lines in any_lines(),
        shipping in 0i64..2_000,
    ) {
        let b = Basket { currency: Currency::EUR, lines, shipping_minor: shipping };
        let priced = evaluate(&promos, &b, &web(), now(), &BTreeMap::new());
        let mut sum_lines = 0;
        for l in &priced.lines {
            let off: i64 = l.discounts.iter().map(|d| d.amount_minor).sum();
            prop_assert!(l.discounts.iter().all(|d| d.amount_minor > 0));
            prop_assert!(off <= l.base_minor, "a line gets at most its price");
            prop_assert_eq!(l.total_minor, l.base_minor - off);
            sum_lines += l.total_minor;
        }
        prop_assert!(priced.discount_minor <= priced.subtotal_minor);
        prop_assert!(priced.shipping_discount_minor <= priced.shipping_minor);
        prop_assert_eq!(priced.total_minor, sum_lines + priced.shipping_minor - priced.shipping_discount_minor);
        let applied: i64 = priced.applied.iter().map(|a| a.amount_minor).sum();
        prop_assert_eq!(applied, priced.discount_minor);
        for a in &priced.applied {
            let p = promos.iter().find(|p| p.id == a.promotion_id).unwrap();
            if let Some(cap) = p.budget.max_discount_minor {
                prop_assert!(a.amount_minor + a.shipping_minor <= cap);
            }
        }
    }

    #[test]
    fn the_order_of_the_lines_does_not_matter(
        promos in any_promotions(),
        lines in any_lines(),
        seed in any::<u64>(),
    ) {
        let b = Basket { currency: Currency::EUR, lines: lines.clone(), shipping_minor: 490 };
        let mut shuffled = lines;
        let n = shuffled.len();
        for i in (1..n).rev() {
            shuffled.swap(i, (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize);
        }
        let c = Basket { currency: Currency::EUR, lines: shuffled, shipping_minor: 490 };
        let x = evaluate(&promos, &b, &web(), now(), &BTreeMap::new());
        let y = evaluate(&promos, &c, &web(), now(), &BTreeMap::new());
        prop_assert_eq!(x.total_minor, y.total_minor);
        prop_assert_eq!(&x.applied, &y.applied);
        for l in &x.lines {
            let m = y.lines.iter().find(|m| m.sku == l.sku).unwrap();
            prop_assert_eq!(&l.discounts, &m.discounts);
        }
    }
}
