//! Delivery through the API: shipping methods set by admin keys and offered per channel, a
//! cart's options, saved addresses, the fee (by weight, free from a threshold or by a
//! promotion) on the order's total and VAT, ship to store, the fee given back with the last
//! unit returned or when staff ask (once), and addresses erased with the person — on SQLite
//! and PostgreSQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::orders::{acted, cart, placed, shop};
use crate::{Reply, TestApp, post_on};

/// Home delivery in France: 4.90 € up to 1 kg, 6.90 € up to 5 kg, free from 100 €; and free
/// delivery to a store.
pub(crate) async fn home_and_store_delivery(t: &TestApp) {
    let home = json!({
        "name": "Colissimo", "kind": "standard", "countries": ["FR"], "currency": "EUR",
        "rate": {"weight_bands": [{"up_to_grams": 1000, "amount_minor": 490}, {"up_to_grams": 5000, "amount_minor": 690}],
                 "free_above_minor": 10000},
        "promise": {"min_days": 2, "max_days": 3, "cutoff": "14:00", "time_zone": "Europe/Paris"},
    });
    let r = t.put("/v1/shipping-methods/standard", &t.admin, home).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let to_store = json!({
        "name": "Retrait en magasin", "kind": "ship_to_store", "currency": "EUR", "position": 1,
        "rate": {"flat_minor": 0},
        "promise": {"min_days": 2, "max_days": 4, "time_zone": "Europe/Paris"},
    });
    let r = t
        .put("/v1/shipping-methods/store", &t.admin, to_store)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A warehouse in Lyon that ships, with stock.
pub(crate) async fn warehouse(t: &TestApp) {
    let mut wh = crate::store_body("WH-LYON", "Lyon", 45.70, 4.90);
    wh["kind"] = json!("warehouse");
    wh["capabilities"] = json!(["ship_from"]);
    t.created("/v1/locations", wh).await;
    for (sku, n) in [("TR-42", 6), ("JK-M", 2)] {
        t.created("/v1/stock/movements", json!({"sku": sku, "location": "WH-LYON", "kind": "receipt", "quantity": n, "reason": "delivery"})).await;
    }
}

pub(crate) fn lea() -> Value {
    json!({"name": "Léa Martin", "line1": "7 rue Mercière", "postal_code": "69002", "city": "Lyon", "country": "FR"})
}

fn ship(extra: Value) -> Value {
    let mut body = json!({"mode": "ship", "payment": {"token": "tok_visa"}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn delivered(t: &TestApp, order: &Value) {
    for step in ["start_preparing", "ship", "deliver"] {
        acted(t, &t.admin, order, step, json!({})).await;
    }
}

#[tokio::test]
async fn methods_are_set_by_admin_and_a_cart_shows_its_options() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let refused = t
            .put("/v1/shipping-methods/standard", &t.web, json!({}))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        let both = json!({"name": "x", "kind": "standard", "currency": "EUR",
            "rate": {"flat_minor": 490, "weight_bands": [{"up_to_grams": 10, "amount_minor": 1}]},
            "promise": {"min_days": 1, "max_days": 2, "time_zone": "Europe/Paris"}});
        let bad = t.put("/v1/shipping-methods/standard", &t.admin, both).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.body["error"]["details"]["field"], "rate");
        home_and_store_delivery(&t).await;
        let listed = t.get("/v1/shipping-methods", &t.web).await;
        assert_eq!(
            listed.body["data"][0]["code"], "standard",
            "{}",
            listed.body
        );
        assert_eq!(listed.body["data"][1]["kind"], "ship_to_store");
        // 1.5 kg of jacket: the second band; a pair of shoes without a weight: the first.
        let w = t
            .patch("/v1/variants/JK-M", &t.admin, json!({"weight_grams": 1500}))
            .await;
        assert_eq!(w.body["weight_grams"], 1500, "{}", w.body);
        let shoes = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let id = shoes["id"].as_str().unwrap();
        let options = t
            .get(
                &format!("/v1/carts/{id}/shipping-options?country=FR"),
                &t.web,
            )
            .await;
        assert_eq!(options.status, StatusCode::OK, "{}", options.body);
        assert_eq!(
            options.body["data"][0]["fee_minor"], 490,
            "{}",
            options.body
        );
        assert!(options.body["data"][0]["window"]["earliest"].is_string());
        // A web cart priced as a parcel to France shows the VAT it will carry.
        let as_parcel = t.get(&format!("/v1/carts/{id}?country=FR"), &t.web).await;
        assert_eq!(as_parcel.body["tax_country"], "FR", "{}", as_parcel.body);
        assert_eq!(as_parcel.body["taxes"][0]["tax_minor"], 833);
        let both = t
            .get(
                &format!("/v1/carts/{id}?country=FR&location=LYS-BELLECOUR"),
                &t.web,
            )
            .await;
        assert_eq!(
            both.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            both.body
        );
        let jacket = cart(&t, &t.web, json!([{"sku": "JK-M", "quantity": 1}])).await;
        let id = jacket["id"].as_str().unwrap();
        // 129 € of goods: free from 100 €, whatever the weight.
        let options = t
            .get(
                &format!("/v1/carts/{id}/shipping-options?country=FR"),
                &t.web,
            )
            .await;
        assert_eq!(options.body["data"][0]["fee_minor"], 0, "{}", options.body);
        let abroad = t
            .get(
                &format!("/v1/carts/{id}/shipping-options?country=DE"),
                &t.web,
            )
            .await;
        assert!(abroad.body["data"][0]["fee_minor"].is_null());
        assert!(
            abroad.body["data"][0]["unavailable"]
                .as_str()
                .unwrap()
                .contains("country"),
            "{}",
            abroad.body
        );
        let nowhere = t
            .get(
                &format!("/v1/carts/{id}/shipping-options?country=France"),
                &t.web,
            )
            .await;
        assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn the_fee_is_charged_taxed_discounted_and_refunded_once() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        warehouse(&t).await;
        home_and_store_delivery(&t).await;
        let customer = t.post("/v1/customers", &t.web, json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}]})).await.body;
        let cid = customer["id"].as_str().unwrap();
        let addresses = format!("/v1/customers/{cid}/addresses");
        let mut wrong = lea();
        wrong["postal_code"] = json!("6900");
        let bad = t.post(&addresses, &t.web, json!({"address": wrong})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.body["error"]["details"]["field"], "address.postal_code");
        let saved = t
            .post(
                &addresses,
                &t.web,
                json!({"label": "Maison", "address": lea()}),
            )
            .await;
        assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
        assert_eq!(saved.body["is_default"], true);
        let address_id = saved.body["id"].clone();

        // No destination, or two: refused before anything is held or charged.
        let c = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let checkout = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let r = t.post(&checkout, &t.web, ship(json!({}))).await;
        assert_eq!(r.body["error"]["details"]["field"], "ship_to", "{}", r.body);
        let two = json!({"ship_to": {"address": lea(), "store": "PAR-RIVOLI"}});
        let r = t.post(&checkout, &t.web, ship(two)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

        // Two pairs to the saved address: 99.98 € of goods, 4.90 € delivery, VAT 20 % in it.
        let to_lea = json!({"customer_id": cid, "ship_to": {"address_id": address_id}});
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 2}]),
            ship(to_lea.clone()),
        )
        .await;
        let s = &order["shipping"];
        assert_eq!(
            (s["method"].as_str(), s["fee_minor"].as_i64()),
            (Some("standard"), Some(490)),
            "{order}"
        );
        assert_eq!(s["address"]["name"], "Léa Martin");
        assert_eq!(s["tax_minor"], 82);
        assert_eq!(order["total_minor"], 9998 + 490);
        assert_eq!(order["subtotal_minor"], 9998);
        assert_eq!(order["paid_minor"], 9998 + 490);
        let line_tax = order["lines"][0]["tax_minor"].as_i64().unwrap();
        assert_eq!(order["tax_minor"].as_i64().unwrap(), line_tax + 82);
        delivered(&t, &order).await;

        // The first pair back with the delivery (staff's call: it came damaged); the second
        // pair back alone — the delivery went back once.
        let back = |refund_shipping: bool| {
            json!({"order": order["id"], "location": "LYS-BELLECOUR",
            "lines": [{"line": 1, "quantity": 1, "condition": "damaged"}], "refund": "original_payment",
            "refund_shipping": refund_shipping})
        };
        let first = t.post("/v1/returns", &t.store, back(true)).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        assert_eq!(
            (
                first.body["shipping_minor"].as_i64(),
                first.body["refund_minor"].as_i64()
            ),
            (Some(490), Some(4999 + 490))
        );
        let second = t.post("/v1/returns", &t.store, back(false)).await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
        assert_eq!(
            (
                second.body["shipping_minor"].as_i64(),
                second.body["refund_minor"].as_i64()
            ),
            (Some(0), Some(4999))
        );
        let after = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await;
        assert_eq!(after.body["paid_minor"], 0, "{}", after.body);
        assert_eq!(after.body["shipping"]["refunded_minor"], 490);

        // Free shipping by promotion: the fee shows, and is taken off.
        t.created(
            "/v1/promotions",
            json!({"name": "Livraison offerte", "currency": "EUR",
            "effect": {"type": "free_shipping"}}),
        )
        .await;
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 1}]),
            ship(to_lea.clone()),
        )
        .await;
        let s = &order["shipping"];
        assert_eq!(
            (
                s["fee_minor"].as_i64(),
                s["discount_minor"].as_i64(),
                s["tax_minor"].as_i64()
            ),
            (Some(490), Some(490), Some(0)),
            "{order}"
        );
        assert_eq!(order["total_minor"], 4999);
        assert!(
            order["promotions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "Livraison offerte")
        );
        delivered(&t, &order).await;
        // The only unit back: nothing was paid for delivery, nothing more goes back.
        let mut whole = back(false);
        whole["order"] = order["id"].clone();
        let r = t.post("/v1/returns", &t.store, whole).await;
        assert_eq!(
            (
                r.body["shipping_minor"].as_i64(),
                r.body["refund_minor"].as_i64()
            ),
            (Some(0), Some(4999)),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn ship_to_store_and_erasure_of_addresses() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        warehouse(&t).await;
        home_and_store_delivery(&t).await;
        let customer = t.post("/v1/customers", &t.web, json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}]})).await.body;
        let cid = customer["id"].as_str().unwrap();
        // To a store: its address, its method by default, and its coordinates for routing.
        let to_store = json!({"customer_id": cid, "ship_to": {"store": "PAR-RIVOLI"}});
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 1}]),
            ship(to_store),
        )
        .await;
        let s = &order["shipping"];
        assert_eq!(
            (
                s["kind"].as_str(),
                s["store"].as_str(),
                s["fee_minor"].as_i64()
            ),
            (Some("ship_to_store"), Some("PAR-RIVOLI"), Some(0)),
            "{order}"
        );
        assert_eq!(s["address"]["city"], "Paris");
        let wrong = json!({"ship_to": {"store": "PAR-RIVOLI"}, "shipping_method": "standard"});
        let c = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let r = t
            .post(
                &format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap()),
                &t.web,
                ship(wrong),
            )
            .await;
        assert_eq!(
            r.body["error"]["details"]["field"], "shipping_method",
            "{}",
            r.body
        );
        // Home, typed: the address is on the order until the person is erased.
        let home = json!({"customer_id": cid, "ship_to": {"address": lea(), "latitude": 45.76, "longitude": 4.83}});
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "JK-M", "quantity": 1}]),
            ship(home),
        )
        .await;
        assert_eq!(order["shipping"]["address"]["line1"], "7 rue Mercière");
        t.created(
            &format!("/v1/customers/{cid}/addresses"),
            json!({"address": lea()}),
        )
        .await;
        let erased = t
            .send(
                Method::POST,
                &format!("/v1/customers/{cid}/erasure"),
                &t.service,
                Some(json!({})),
                None,
            )
            .await;
        assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
        let after = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await;
        let a = &after.body["shipping"]["address"];
        assert_eq!(
            (
                a["name"].as_str(),
                a["line1"].as_str(),
                a["city"].as_str(),
                a["country"].as_str()
            ),
            // Still a valid address for the API's schema (a city is never empty).
            (
                Some("[erased]"),
                Some("[erased]"),
                Some("[erased]"),
                Some("FR")
            ),
            "{}",
            after.body
        );
        let gone = t
            .get(&format!("/v1/customers/{cid}/addresses"), &t.admin)
            .await;
        assert_eq!(gone.status, StatusCode::GONE, "{}", gone.body);
        let left: i64 =
            t.db.db
                .read()
                .await
                .unwrap()
                .query_one("SELECT COUNT(*) AS n FROM customer_addresses", &[])
                .await
                .unwrap()
                .int("n")
                .unwrap();
        assert_eq!(left, 0);
    }
}

#[tokio::test]
async fn two_stores_returning_at_once_refund_the_delivery_once() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        warehouse(&t).await;
        home_and_store_delivery(&t).await;
        let to = json!({"ship_to": {"address": lea()}});
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 2}]),
            ship(to),
        )
        .await;
        assert_eq!(order["shipping"]["fee_minor"], 490, "{order}");
        delivered(&t, &order).await;
        // Four returns of one pair each (two pairs were bought), all asking for the delivery
        // back, on two nodes.
        let other = t.second_node().await;
        let mut attempts = Vec::new();
        for n in 0..4 {
            let body = json!({"order": order["id"], "location": "LYS-BELLECOUR",
                "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}],
                "refund": "original_payment", "refund_shipping": true});
            let node = if n % 2 == 0 {
                t.app.clone()
            } else {
                other.clone()
            };
            let returns = "/v1/returns".to_owned();
            attempts.push(tokio::spawn(post_on(node, returns, t.store.clone(), body)));
        }
        let mut refunded_delivery = 0;
        for a in attempts {
            let Reply { status, body, .. } = a.await.unwrap();
            match status {
                StatusCode::CREATED => {
                    refunded_delivery += body["shipping_minor"].as_i64().unwrap()
                }
                // The delivery went back with another pair first: this return is refused whole.
                StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "conflict", "{body}"),
                other => panic!("{}: {other} {body}", t.name()),
            }
        }
        assert_eq!(refunded_delivery, 490, "{}", t.name());
        let after = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await;
        assert_eq!(after.body["shipping"]["refunded_minor"], 490);
        let captured = 2 * 4999 + 490;
        let returned_lines = after.body["lines"][0]["returned"].as_i64().unwrap();
        assert_eq!(
            after.body["paid_minor"].as_i64().unwrap(),
            captured - 490 - returned_lines * 4999,
            "{}",
            after.body
        );
    }
}
