//! Loyalty through the API, on SQLite and PostgreSQL: points earned on app, web and till
//! orders land in one balance; spent at a kiosk; a retried till sale earns nothing more; a
//! return claws back in proportion and a cancelled order gives its points back; two kiosks
//! spending the last points at once — one wins.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::orders::{acted, cart, shop};
use crate::{TestApp, key};

/// A point per euro, twice as many in the app, silver (+50 %) from 100 points.
fn programme() -> Value {
    json!({
        "currency": "EUR", "points_per_unit": 1, "channel_pct": {"app": 200},
        "tiers": [{"code": "member", "threshold": 0, "earn_pct": 100},
                  {"code": "silver", "threshold": 100, "earn_pct": 150}],
        "tier_months": 12, "expiry_months": 24, "point_value_minor": 1, "min_spend_points": 10
    })
}

/// A member known on every channel of the shop, with the kiosk's key.
async fn member(t: &TestApp) -> (String, String) {
    let r = t.put("/v1/loyalty/programme", &t.admin, programme()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = t.created("/v1/customers", json!({"identifiers": [{"kind": "loyalty_card", "value": "ELS-0042"}], "home_store": "LYS-BELLECOUR"})).await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = t
        .post(&format!("/v1/customers/{cid}/loyalty"), &t.store, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (r.body["tier"].as_str(), r.body["balance"].as_i64()),
        (Some("member"), Some(0))
    );
    t.created("/v1/channels", json!({"code": "kiosk-lyon", "kind": "kiosk", "name": "Kiosk", "location_code": "LYS-BELLECOUR"})).await;
    (cid, key(&t.db.db, "channel:kiosk-lyon").await)
}

async fn account(t: &TestApp, cid: &str) -> Value {
    let r = t
        .get(&format!("/v1/customers/{cid}/loyalty"), &t.service)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn balance(t: &TestApp, cid: &str) -> i64 {
    account(t, cid).await["balance"].as_i64().unwrap()
}

fn bought(cid: &str, sku: &str, quantity: i64) -> Value {
    json!({"customer_id": cid, "lines": [{"sku": sku, "quantity": quantity}]})
}

async fn buy(t: &TestApp, key: &str, basket: Value, checkout: Value) -> Value {
    let c = t.post("/v1/carts", key, basket).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let path = format!("/v1/carts/{}/checkout", c.body["id"].as_str().unwrap());
    let r = t.post(&path, key, checkout).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name(), r.body);
    r.body
}

#[tokio::test]
async fn points_earned_on_every_channel_make_one_balance() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let (cid, kiosk) = member(&t).await;
        let app = key(&t.db.db, "channel:app").await;
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});

        // Web: 49.99 → 49 points. App: 99.98 at 200 % → 199, and silver.
        buy(&t, &t.web, bought(&cid, "TR-42", 1), pickup.clone()).await;
        assert_eq!(balance(&t, &cid).await, 49);
        buy(&t, &app, bought(&cid, "TR-42", 2), pickup.clone()).await;
        let a = account(&t, &cid).await;
        assert_eq!(
            (a["balance"].as_i64(), a["tier"].as_str()),
            (Some(248), Some("silver"))
        );

        // The till: 129.00 as silver → 193. Its retry (same key) answers the same sale, and
        // settling that sale again (a replay) earns nothing more.
        let basket = t.post("/v1/carts", &t.store, bought(&cid, "JK-M", 1)).await;
        let path = format!("/v1/carts/{}/checkout", basket.body["id"].as_str().unwrap());
        let mut answers = Vec::new();
        for _ in 0..2 {
            let body = Some(json!({"mode": "carry_out"}));
            let r = t
                .send(Method::POST, &path, &t.store, body, Some("till-7-0001"))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            answers.push(r.body);
        }
        assert_eq!(answers[0]["id"], answers[1]["id"]);
        let till_sale = answers.swap_remove(0);
        let id = till_sale["id"].as_str().unwrap().to_owned();
        t.db.db
            .write(move |c| {
                Box::pin(async move {
                    let order = store::orders::get_in(c, &id).await?;
                    app::loyalty::settle_order(c, &order, "test").await
                })
            })
            .await
            .unwrap();
        assert_eq!(balance(&t, &cid).await, 441);

        // The kiosk: 100 points pay 1.00 of 49.99; the 48.99 paid by card earn 73.
        let kiosk_order = buy(
            &t,
            &kiosk,
            bought(&cid, "TR-43", 1),
            json!({"mode": "counter", "payment": {"token": "tok_visa", "points": 100}}),
        )
        .await;
        let methods: Vec<(&str, i64)> = kiosk_order["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["method"].as_str().unwrap(),
                    p["captured_minor"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(methods, [("loyalty_points", 100), ("provider", 4899)]);
        assert_eq!(balance(&t, &cid).await, 441 - 100 + 73);

        // More points than the member holds: refused, nothing placed or spent.
        let c = t.post("/v1/carts", &kiosk, bought(&cid, "TR-43", 1)).await;
        let r = t
            .post(
                &format!("/v1/carts/{}/checkout", c.body["id"].as_str().unwrap()),
                &kiosk,
                json!({"mode": "counter", "payment": {"token": "tok_visa", "points": 5000}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(balance(&t, &cid).await, 414);

        // The jacket comes back: its 193 points go.
        let back = t.post("/v1/returns", &t.store, json!({"order": till_sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
        assert_eq!(balance(&t, &cid).await, 414 - 193);

        // The kiosk order is cancelled: its 100 points come back, its 73 go.
        acted(&t, &t.store, &kiosk_order, "cancel", json!({})).await;
        let a = account(&t, &cid).await;
        assert_eq!(a["balance"].as_i64(), Some(221 + 100 - 73));
        let kinds: Vec<&str> = a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "clawback", "release", "clawback", "earn", "spend", "earn", "earn", "earn"
            ],
            "{}",
            t.name()
        );
        let sum: i64 = a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["points"].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum,
            a["balance"].as_i64().unwrap(),
            "the balance is the sum of the entries"
        );

        // Every channel sees the same account; a channel the customer never used does not.
        let on_web = t.get(&format!("/v1/customers/{cid}/loyalty"), &t.web).await;
        assert_eq!(on_web.body["balance"], a["balance"]);
        // The timeline and the export show the ledger.
        let tl = t
            .get(
                &format!("/v1/customers/{cid}/timeline?limit=100"),
                &t.service,
            )
            .await;
        let points = tl.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "points")
            .count();
        assert_eq!(points, 8, "{}", tl.body);
        let export = t
            .get(&format!("/v1/customers/{cid}/export"), &t.service)
            .await;
        assert_eq!(export.body["loyalty"]["balance"], a["balance"]);
        assert_eq!(
            export.body["loyalty_entries"].as_array().map(Vec::len),
            Some(8)
        );

        // Two years and a month on, every point earned has expired, oldest first.
        let later = kernel::Timestamp::from_unix_ms(
            kernel::Timestamp::now().unix_ms() + 25 * 31 * 86_400_000,
        );
        let due = app::loyalty::expire_due(&t.db.db, later, 100)
            .await
            .unwrap();
        assert_eq!(due, 1);
        let a = account(&t, &cid).await;
        assert_eq!(a["balance"].as_i64(), Some(0), "{}", a);
        assert_eq!(a["entries"][0]["kind"], "expire");
        assert_eq!(
            app::loyalty::expire_due(&t.db.db, later, 100)
                .await
                .unwrap(),
            0
        );
        let stranger = key(&t.db.db, "channel:app-other").await;
        let r = t
            .get(&format!("/v1/customers/{cid}/loyalty"), &stranger)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
}

#[tokio::test]
async fn two_kiosks_spending_the_last_points_one_wins() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let (cid, kiosk) = member(&t).await;
        let r = t
            .post(
                &format!("/v1/customers/{cid}/loyalty/adjustments"),
                &t.service,
                json!({"points": 100, "reason": "welcome gift"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let refused = t
            .post(
                &format!("/v1/customers/{cid}/loyalty/adjustments"),
                &t.service,
                json!({"points": -101, "reason": "too much"}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        let other = t.second_node().await;
        for round in 0..2 {
            let mut tries = Vec::new();
            for _ in 0..6 {
                let c = cart(&t, &kiosk, json!([{"sku": "TR-42", "quantity": 1}])).await;
                let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
                let body = json!({"mode": "counter", "customer_id": cid, "payment": {"token": "tok_visa", "points": 100}});
                tries.push((kiosk.clone(), path, body));
            }
            crate::one_wins(&t, &other, tries, &format!("round {round}")).await;
            let a = account(&t, &cid).await;
            // The welcome gift made the member silver (bonuses count toward the tier): the
            // winner's card part (48.99) earned 73 points; the next round spends 100 again.
            assert_eq!(a["balance"].as_i64(), Some(73), "{}", t.name());
            let top_up = 100 - 73;
            t.post(
                &format!("/v1/customers/{cid}/loyalty/adjustments"),
                &t.service,
                json!({"points": top_up, "reason": "next round"}),
            )
            .await;
        }
        let r = t
            .put(
                "/v1/loyalty/programme",
                &t.admin,
                json!({"currency": "EUR"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let mut bad = programme();
        bad["tiers"][1]["threshold"] = json!(0);
        let r = t.put("/v1/loyalty/programme", &t.admin, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    }
}

#[tokio::test]
async fn a_tier_only_promotion_goes_to_that_tier_alone() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let (cid, _) = member(&t).await;
        let segment = json!({"code": "silver-club", "name": "Silver members", "rule": {"loyalty_tier": ["silver"]}});
        let r = t.post("/v1/segments", &t.service, segment).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let bad = json!({"code": "nobody", "name": "No tier", "rule": {"loyalty_tier": []}});
        let r = t.post("/v1/segments", &t.service, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        t.created("/v1/promotions", json!({"name": "Silver: -10 %", "currency": "EUR",
            "conditions": {"segments": ["silver-club"]}, "effect": {"type": "percent_off_items", "percent_bp": 1000}}))
            .await;
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        // A member: full price until silver.
        let first = buy(&t, &t.web, bought(&cid, "TR-42", 1), pickup.clone()).await;
        assert_eq!(first["discount_minor"], 0, "{first}");
        t.post(
            &format!("/v1/customers/{cid}/loyalty/adjustments"),
            &t.service,
            json!({"points": 100, "reason": "silver"}),
        )
        .await;
        assert_eq!(account(&t, &cid).await["tier"], "silver");
        let second = buy(&t, &t.web, bought(&cid, "TR-42", 1), pickup.clone()).await;
        assert_eq!(second["discount_minor"], 500, "{second}");
        // Another customer, no member: full price.
        let other = t
            .created(
                "/v1/customers",
                json!({"identifiers": [{"kind": "email", "value": "x@example.com"}]}),
            )
            .await;
        let oid = other["id"].as_str().unwrap();
        let third = buy(&t, &t.web, bought(oid, "TR-43", 1), pickup).await;
        assert_eq!(third["discount_minor"], 0, "{third}");
    }
}

#[tokio::test]
async fn points_redeemed_for_a_reward_pay_as_credit_on_any_channel() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let (cid, _) = member(&t).await;
        let mut with_rewards = programme();
        with_rewards["rewards"] = json!([{"code": "voucher-5", "name": "5 € voucher", "points": 80, "value_minor": 500, "valid_months": 6}]);
        let r = t.put("/v1/loyalty/programme", &t.admin, with_rewards).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["rewards"][0]["code"], "voucher-5");
        t.post(
            &format!("/v1/customers/{cid}/loyalty/adjustments"),
            &t.service,
            json!({"points": 100, "reason": "welcome"}),
        )
        .await;
        let path = format!("/v1/customers/{cid}/loyalty/rewards");
        let unknown = t
            .post(&path, &t.store, json!({"reward": "voucher-500"}))
            .await;
        assert_eq!(
            unknown.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            unknown.body
        );
        // Redeemed at the store: 80 points become a 5 € credit.
        let r = t
            .post(&path, &t.store, json!({"reward": "voucher-5"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            (r.body["balance_minor"].as_i64(), r.body["kind"].as_str()),
            (Some(500), Some("credit"))
        );
        assert_eq!(balance(&t, &cid).await, 20);
        // Twenty points left: not enough for another.
        let r2 = t
            .post(&path, &t.store, json!({"reward": "voucher-5"}))
            .await;
        assert_eq!(r2.status, StatusCode::CONFLICT, "{}", r2.body);
        assert_eq!(balance(&t, &cid).await, 20);
        // Spent on the web.
        let credit = r.body["id"].as_str().unwrap();
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa", "store_credit_id": credit}});
        let order = buy(&t, &t.web, bought(&cid, "TR-42", 1), pickup).await;
        let methods: Vec<(&str, i64)> = order["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["method"].as_str().unwrap(),
                    p["captured_minor"].as_i64().unwrap(),
                )
            })
            .collect();
        assert!(methods.contains(&("store_credit", 500)), "{order}");
        let entries = account(&t, &cid).await["entries"].clone();
        assert!(
            entries
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "spend" && e["points"] == -80),
            "{entries}"
        );
    }
}
