//! Promotions through the API: written by admin keys, applied at checkout on every channel
//! the same way unless scoped, explained on the order, refunded at what was paid, and never
//! used beyond their budget by orders racing for the last use — on SQLite and PostgreSQL.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::orders::{acted, cart, placed, shop};
use crate::{Reply, TestApp, key, post_on};

/// −20 % on the trail shoes (TR-42, TR-43), every channel.
fn trail_twenty() -> Value {
    json!({
        "name": "−20 % on trail shoes",
        "currency": "EUR",
        "conditions": {"items": {"skus": ["TR-42", "TR-43"]}},
        "effect": {"type": "percent_off_items", "percent_bp": 2000},
        "priority": 10,
    })
}

fn names(order: &Value) -> Vec<&str> {
    order["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_promotion_applies_on_every_channel_and_a_return_refunds_what_was_paid() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        for sku in ["TR-42", "JK-M"] {
            t.created(
                "/v1/stock/movements",
                json!({"sku": sku, "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 10, "reason": "delivery"}),
            )
            .await;
        }
        let app = key(&t.db.db, "channel:app").await;
        let refused = t.post("/v1/promotions", &t.web, trail_twenty()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        let trail = t.created("/v1/promotions", trail_twenty()).await;
        t.created(
            "/v1/promotions",
            json!({
                "name": "App: 5 € off from 100 €",
                "currency": "EUR",
                "conditions": {"channels": ["app"], "min_subtotal_minor": 10000},
                "effect": {"type": "amount_off_cart", "amount_minor": 500},
            }),
        )
        .await;
        // The parity report lists the app's offer as a deliberate difference.
        let parity = t.get("/v1/reports/price-parity", &t.admin).await;
        assert_eq!(
            parity.body["channel_promotions"][0]["channels"],
            json!(["app"]),
            "{}",
            parity.body
        );
        let bad = t
            .post(
                "/v1/promotions",
                &t.admin,
                json!({"name": "x", "currency": "EUR", "effect": {"type": "percent_off_items", "percent_bp": 20000}}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.body["error"]["details"]["field"], "effect.percent_bp");

        // A product page shows the promotion on every channel; the app's offer from 100 €
        // shows on a 129 € jacket in the app only.
        let page = t.get("/v1/variants/TR-42/price/channels", &t.web).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for channel in page.body["data"].as_array().unwrap() {
            assert_eq!(
                (
                    channel["amount_minor"].as_i64(),
                    channel["final_amount_minor"].as_i64()
                ),
                (Some(4_999), Some(3_999)),
                "{channel}"
            );
            assert_eq!(channel["promotions"][0]["name"], "−20 % on trail shoes");
        }
        let jacket = t.get("/v1/variants/JK-M/price?channel=app", &t.web).await;
        assert_eq!(jacket.body["final_amount_minor"], 12_400, "{}", jacket.body);
        let on_web = t.get("/v1/variants/JK-M/price?channel=web", &t.web).await;
        assert_eq!(on_web.body["final_amount_minor"], 12_900, "{}", on_web.body);
        let basket = json!([{"sku": "TR-42", "quantity": 2}, {"sku": "JK-M", "quantity": 1}]);
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        // Web: 2 × 49.99 at −20 % (20.00 off, rounded on the line), the jacket at 129.00.
        let web = placed(&t, &t.web, basket.clone(), pickup.clone()).await;
        assert_eq!(names(&web), ["−20 % on trail shoes"], "{}", t.name());
        assert_eq!(
            (
                web["subtotal_minor"].as_i64(),
                web["discount_minor"].as_i64(),
                web["total_minor"].as_i64()
            ),
            (Some(22_898), Some(2_000), Some(20_898))
        );
        assert_eq!(web["lines"][0]["discounts"][0]["amount_minor"], 2_000);
        assert_eq!(web["payments"][0]["captured_minor"], 20_898);
        // The app's cart shows what its checkout will charge, promotion by promotion.
        let shown = cart(&t, &app, basket.clone()).await;
        let shown = t
            .get(
                &format!("/v1/carts/{}", shown["id"].as_str().unwrap()),
                &app,
            )
            .await;
        assert_eq!(
            (
                shown.body["subtotal_minor"].as_i64(),
                shown.body["discount_minor"].as_i64(),
                shown.body["total_minor"].as_i64()
            ),
            (Some(22_898), Some(2_500), Some(20_398)),
            "{}",
            shown.body
        );
        assert_eq!(
            shown.body["lines"][0]["discounts"][0]["name"],
            "−20 % on trail shoes"
        );
        // The app gets the same −20 %, then its own offer on what is left.
        let on_app = placed(&t, &app, basket.clone(), pickup).await;
        assert_eq!(
            names(&on_app),
            ["−20 % on trail shoes", "App: 5 € off from 100 €"]
        );
        assert_eq!(on_app["total_minor"], 20_398, "{}", t.name());

        // A kiosk in Lyon gets what the web gets: the campaign, not the app's offer.
        t.created(
            "/v1/channels",
            json!({"code": "kiosk-lyon", "kind": "kiosk", "name": "Kiosk", "location_code": "LYS-BELLECOUR"}),
        )
        .await;
        let kiosk = key(&t.db.db, "channel:kiosk-lyon").await;
        let at_kiosk = placed(
            &t,
            &kiosk,
            basket.clone(),
            json!({"mode": "counter", "payment": {"token": "tok_visa"}}),
        )
        .await;
        assert_eq!(
            (at_kiosk["total_minor"].as_i64(), names(&at_kiosk)),
            (Some(20_898), vec!["−20 % on trail shoes"])
        );
        // At the till, then one of the two shoes comes back: it refunds what it was sold for.
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-43", "quantity": 2}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(sale["total_minor"], 7_998);
        let back = t
            .post(
                "/v1/returns",
                &t.store,
                json!({"order": sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"}),
            )
            .await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
        assert_eq!(back.body["refund_minor"], 3_999, "{}", t.name());

        let read = t
            .get(
                &format!("/v1/promotions/{}", trail["id"].as_str().unwrap()),
                &t.web,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(
            (
                read.body["uses"].as_i64(),
                read.body["discount_given_minor"].as_i64()
            ),
            (Some(4), Some(8_000))
        );
        // Switched off, it no longer applies.
        let off = t
            .patch(
                &format!("/v1/promotions/{}", trail["id"].as_str().unwrap()),
                &t.admin,
                json!({"active": false}),
            )
            .await;
        assert_eq!(
            (off.status, off.body["version"].as_i64()),
            (StatusCode::OK, Some(2))
        );
        let plain = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-42", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert!(names(&plain).is_empty(), "{}", plain);
    }
}

#[tokio::test]
async fn the_last_use_of_a_promotion_goes_to_one_order() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        t.created(
            "/v1/stock/movements",
            json!({"sku": "TR-43", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 20, "reason": "delivery"}),
        )
        .await;
        let mut once = trail_twenty();
        once["budget"] = json!({"max_uses": 1});
        let promo = t.created("/v1/promotions", once).await;
        let other = t.second_node().await;
        let mut attempts = Vec::new();
        for n in 0..8 {
            let basket = cart(&t, &t.web, json!([{"sku": "TR-43", "quantity": 1}])).await;
            let path = format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap());
            let body = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
            let node = if n % 2 == 0 {
                t.app.clone()
            } else {
                other.clone()
            };
            attempts.push(tokio::spawn(post_on(node, path, t.web.clone(), body)));
        }
        let mut discounted = Vec::new();
        for a in attempts {
            let Reply { status, body, .. } = a.await.unwrap();
            match status {
                StatusCode::CREATED if body["discount_minor"].as_i64() > Some(0) => {
                    discounted.push(body)
                }
                StatusCode::CREATED => {}
                StatusCode::CONFLICT => assert_eq!(
                    body["error"]["details"]["promotion_id"], promo["id"],
                    "{body}"
                ),
                other => panic!("{}: {other}: {body}", t.name()),
            }
        }
        assert_eq!(
            discounted.len(),
            1,
            "{}: one order gets the last use",
            t.name()
        );
        let id = promo["id"].as_str().unwrap();
        let read = t.get(&format!("/v1/promotions/{id}"), &t.admin).await;
        assert_eq!(read.body["uses"], 1);
        // Cancelled, the order gives its use back.
        acted(&t, &t.web, &discounted[0], "cancel", json!({})).await;
        let read = t.get(&format!("/v1/promotions/{id}"), &t.admin).await;
        assert_eq!(
            (
                read.body["uses"].as_i64(),
                read.body["discount_given_minor"].as_i64()
            ),
            (Some(0), Some(0))
        );
    }
}

/// A contest: 5 single-use codes, one won online by a customer and used at the till.
#[tokio::test]
async fn a_code_won_online_is_redeemed_at_the_till_by_the_same_person() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let promo = t
            .created(
                "/v1/promotions",
                json!({
                    "name": "Contest: 10 € off",
                    "currency": "EUR",
                    "conditions": {"coupon_required": true},
                    "effect": {"type": "amount_off_cart", "amount_minor": 1000},
                }),
            )
            .await;
        let id = promo["id"].as_str().unwrap();
        let batch = t
            .created(
                &format!("/v1/promotions/{id}/coupons"),
                json!({"count": 5, "prefix": "win"}),
            )
            .await;
        assert_eq!(batch["count"], 5);
        let code = batch["codes"][0]["code"].as_str().unwrap().to_owned();
        assert!(code.starts_with("WIN-"), "{code}");
        let csv = t
            .get(
                &format!(
                    "/v1/promotions/{id}/coupons?batch={}&format=csv",
                    batch["batch"].as_str().unwrap()
                ),
                &t.service,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(
            csv.body.as_str().unwrap().lines().count(),
            6,
            "{}",
            csv.body
        );
        let hidden = t.get(&format!("/v1/promotions/{id}/coupons"), &t.web).await;
        assert_eq!(hidden.status, StatusCode::FORBIDDEN);

        // Won on the web: the web issues it to the customer it knows.
        let customer = t
            .post(
                "/v1/customers",
                &t.web,
                json!({"identifiers": [{"kind": "email", "value": "lea@example.fr"}]}),
            )
            .await;
        assert_eq!(customer.status, StatusCode::CREATED, "{}", customer.body);
        let customer_id = customer.body["id"].as_str().unwrap();
        let issued = t
            .post(
                &format!("/v1/coupons/{}/issue", code.to_lowercase()),
                &t.web,
                json!({"customer_id": customer_id}),
            )
            .await;
        assert_eq!(
            (issued.status, issued.body["issued"].as_bool()),
            (StatusCode::OK, Some(true)),
            "{}",
            issued.body
        );

        // Anyone else presenting it is told why it does not apply.
        let anonymous = cart(&t, &t.store, json!([{"sku": "JK-M", "quantity": 1}])).await;
        let shown = t
            .get(
                &format!(
                    "/v1/carts/{}?coupons={code}",
                    anonymous["id"].as_str().unwrap()
                ),
                &t.store,
            )
            .await;
        assert_eq!(shown.body["coupons"][0]["applied"], false, "{}", shown.body);
        assert_eq!(
            shown.body["coupons"][0]["reason"],
            "is a customer's own: sign in to use it"
        );
        let refused = t
            .post(
                &format!("/v1/carts/{}/checkout", anonymous["id"].as_str().unwrap()),
                &t.store,
                json!({"mode": "carry_out", "coupons": [code]}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{}",
            refused.body
        );

        // At the till, the customer gives their e-mail: the code applies, once.
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "JK-M", "quantity": 1}]),
            json!({"mode": "carry_out", "customer_id": customer_id, "coupons": [code.to_lowercase()]}),
        )
        .await;
        assert_eq!(
            (
                sale["total_minor"].as_i64(),
                sale["promotions"][0]["coupon"].as_str()
            ),
            (Some(11_900), Some(code.as_str()))
        );
        let again = cart(&t, &t.store, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let twice = t
            .post(
                &format!("/v1/carts/{}/checkout", again["id"].as_str().unwrap()),
                &t.store,
                json!({"mode": "carry_out", "customer_id": customer_id, "coupons": [code]}),
            )
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
        let read = t.get(&format!("/v1/coupons/{code}"), &t.web).await;
        assert_eq!(read.body["uses"], 1);
        let unknown = t.get("/v1/coupons/NOPE-0000", &t.web).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}

/// The last use of a bearer code presented at once on the web, in the app (another node)
/// and at a till: exactly one order gets it; a cancelled order gives it back.
#[tokio::test]
async fn the_last_use_of_a_code_goes_to_exactly_one_order() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        t.created(
            "/v1/stock/movements",
            json!({"sku": "TR-43", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 20, "reason": "delivery"}),
        )
        .await;
        let promo = t
            .created(
                "/v1/promotions",
                json!({"name": "Last one", "currency": "EUR", "conditions": {"coupon_required": true},
                       "effect": {"type": "percent_off_items", "percent_bp": 5000}}),
            )
            .await;
        let id = promo["id"].as_str().unwrap();
        t.created(
            &format!("/v1/promotions/{id}/coupons"),
            json!({"code": "LAST1"}),
        )
        .await;
        let app = key(&t.db.db, "channel:app").await;
        let other = t.second_node().await;
        let buyers = [
            (
                t.web.clone(),
                json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}, "coupons": ["LAST1"]}),
            ),
            (
                app.clone(),
                json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}, "coupons": ["last1"]}),
            ),
            (
                t.store.clone(),
                json!({"mode": "carry_out", "coupons": ["LAST1"]}),
            ),
        ];
        let mut attempts = Vec::new();
        for (n, (key, body)) in buyers.into_iter().enumerate() {
            let basket = cart(&t, &key, json!([{"sku": "TR-43", "quantity": 1}])).await;
            let path = format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap());
            let node = if n == 1 { other.clone() } else { t.app.clone() };
            attempts.push(tokio::spawn(post_on(node, path, key, body)));
        }
        let mut won = Vec::new();
        for a in attempts {
            let Reply { status, body, .. } = a.await.unwrap();
            match status {
                StatusCode::CREATED => won.push(body),
                StatusCode::CONFLICT => {}
                other => panic!("{}: {other}: {body}", t.name()),
            }
        }
        assert_eq!(
            won.len(),
            1,
            "{}: exactly one order gets the last use",
            t.name()
        );
        assert_eq!(won[0]["discount_minor"], 2_500);
        let read = t.get("/v1/coupons/LAST1", &t.store).await;
        assert_eq!(read.body["uses"], 1);
        // Whoever won, a code's use held by a cancelled order goes back to the code.
        t.created(
            &format!("/v1/promotions/{id}/coupons"),
            json!({"code": "BACK1"}),
        )
        .await;
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}, "coupons": ["BACK1"]});
        let first = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-43", "quantity": 1}]),
            pickup.clone(),
        )
        .await;
        assert_eq!(t.get("/v1/coupons/BACK1", &t.store).await.body["uses"], 1);
        acted(&t, &t.web, &first, "cancel", json!({})).await;
        let read = t.get("/v1/coupons/BACK1", &t.store).await;
        assert_eq!(
            read.body["uses"],
            0,
            "{}: a cancelled order gives its use back",
            t.name()
        );
        let again = placed(&t, &t.web, json!([{"sku": "TR-43", "quantity": 1}]), pickup).await;
        assert_eq!(again["promotions"][0]["coupon"], "BACK1");
    }
}

/// VAT: French rates inside the prices by default, a product's reduced category, a market
/// whose prices exclude it, and a country without a table refusing the sale.
#[tokio::test]
async fn vat_is_in_every_order_line_and_comes_back_with_a_return() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let fr = t.get("/v1/tax-tables/FR", &t.web).await;
        assert_eq!(
            (
                fr.body["basis"].as_str(),
                fr.body["rates"]["reduced"].as_i64()
            ),
            (Some("inclusive"), Some(550))
        );
        // 2 × 49.99 and a jacket at 129.00, prices including 20 %.
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-42", "quantity": 2}, {"sku": "JK-M", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(
            (sale["total_minor"].as_i64(), sale["tax_minor"].as_i64()),
            (Some(22_898), Some(1_666 + 2_150)),
            "{sale}"
        );
        assert_eq!(sale["tax_country"], "FR");
        assert_eq!(
            (
                sale["taxes"][0]["rate_bp"].as_i64(),
                sale["taxes"][0]["net_minor"].as_i64(),
                sale["taxes"][0]["gross_minor"].as_i64()
            ),
            (Some(2000), Some(22_898 - 3_816), Some(22_898))
        );
        // The e-receipt any store scans for a return prints the same.
        let token = sale["receipt"]["token"].as_str().unwrap();
        let receipt = t.get(&format!("/v1/receipts/{token}"), &t.web).await;
        assert_eq!(
            (
                receipt.body["taxes"][0]["tax_minor"].as_i64(),
                receipt.body["lines"][0]["paid_minor"].as_i64()
            ),
            (Some(3_816), Some(9_998)),
            "{}",
            receipt.body
        );
        // One shoe back: its half of the line's VAT is reversed.
        let back = t
            .post("/v1/returns", &t.store, json!({"order": sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"}))
            .await;
        assert_eq!(
            (
                back.body["refund_minor"].as_i64(),
                back.body["tax_minor"].as_i64()
            ),
            (Some(4_999), Some(833)),
            "{}",
            back.body
        );

        // A till's cart shows the VAT its sale will carry.
        let at_till = cart(&t, &t.store, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let shown = t
            .get(
                &format!("/v1/carts/{}", at_till["id"].as_str().unwrap()),
                &t.store,
            )
            .await;
        assert_eq!(
            (
                shown.body["tax_country"].as_str(),
                shown.body["taxes"][0]["tax_minor"].as_i64()
            ),
            (Some("FR"), Some(833)),
            "{}",
            shown.body
        );
        // Jackets move to a reduced rate (say, protective gear): 5.5 %.
        let jacket = t.get("/v1/variants/JK-M", &t.admin).await.body["product_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let patched = t
            .patch(
                &format!("/v1/products/{jacket}"),
                &t.admin,
                json!({"tax_category": "reduced"}),
            )
            .await;
        assert_eq!(patched.body["tax_category"], "reduced", "{}", patched.body);
        let reduced = placed(
            &t,
            &t.store,
            json!([{"sku": "JK-M", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(
            (
                reduced["lines"][0]["tax_rate_bp"].as_i64(),
                reduced["tax_minor"].as_i64()
            ),
            (Some(550), Some(673))
        );

        // A market whose prices exclude VAT: it is added to what the customer pays.
        let set = t
            .put(
                "/v1/tax-tables/FR",
                &t.admin,
                json!({"basis": "exclusive", "rates": {"standard": 2000, "reduced": 550}}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        let added = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-43", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(
            (
                added["total_minor"].as_i64(),
                added["tax_minor"].as_i64(),
                added["subtotal_minor"].as_i64()
            ),
            (Some(5_999), Some(1_000), Some(4_999))
        );
        assert_eq!(added["payments"][0]["captured_minor"], 5_999);
        let bad = t
            .put(
                "/v1/tax-tables/FR",
                &t.admin,
                json!({"basis": "exclusive", "rates": {"standard": 10_001}}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // A store in a country without a table: the sale is refused until one is set.
        let mut brussels = crate::store_body("BRU-LOUISE", "Bruxelles", 50.83, 4.36);
        brussels["address"]["country"] = json!("BE");
        t.created("/v1/locations", brussels).await;
        t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "BRU-LOUISE", "kind": "receipt", "quantity": 2, "reason": "delivery"})).await;
        let basket = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let refused = t
            .post(&format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap()), &t.web,
                  json!({"mode": "pickup", "location": "BRU-LOUISE", "payment": {"token": "tok_visa"}}))
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert_eq!(refused.body["error"]["details"]["country"], "BE");
    }
}

#[tokio::test]
async fn a_returned_unit_of_three_for_two_refunds_its_share_and_says_why() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        t.created(
            "/v1/promotions",
            json!({"name": "3 for 2 on trail shoes", "currency": "EUR",
                "conditions": {"items": {"skus": ["TR-42"]}},
                "effect": {"type": "buy_x_get_y", "buy": 2, "get": 1, "percent_bp": 10000}}),
        )
        .await;
        // Three pairs at 49.99, one free: 99.98 for the three.
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-42", "quantity": 3}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(sale["total_minor"], 9_998, "{sale}");
        let back = t
            .post("/v1/returns", &t.store, json!({"order": sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"}))
            .await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
        // Not 49.99 (the free pair would stay free), not 0: a third of what the three cost.
        assert_eq!(back.body["refund_minor"], 3_332, "{}", back.body);
        let note = back.body["lines"][0]["note"].as_str().unwrap();
        assert!(
            note.contains("«3 for 2 on trail shoes» −49.99 EUR")
                && note.contains("99.98 EUR together")
                && note.contains("33.32 EUR"),
            "{note}"
        );
    }
}
