//! Promotions through the API: written by admin keys, applied at checkout on every channel
//! the same way unless scoped, explained on the order, refunded at what was paid, and never
//! used beyond their budget by orders racing for the last use — on SQLite and PostgreSQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::orders::{acted, cart, placed, shop};
use crate::{TestApp, key};

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
        let bad = t
            .post(
                "/v1/promotions",
                &t.admin,
                json!({"name": "x", "currency": "EUR", "effect": {"type": "percent_off_items", "percent_bp": 20000}}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.body["error"]["details"]["field"], "effect.percent_bp");

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
        let on_app = placed(&t, &app, basket, pickup).await;
        assert_eq!(
            names(&on_app),
            ["−20 % on trail shoes", "App: 5 € off from 100 €"]
        );
        assert_eq!(on_app["total_minor"], 20_398, "{}", t.name());

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
            (Some(3), Some(6_000))
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
            let request = axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap()))
                .header("authorization", format!("Bearer {}", t.web))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}}).to_string(),
                ))
                .unwrap();
            let node = if n % 2 == 0 {
                t.app.clone()
            } else {
                other.clone()
            };
            attempts.push(tokio::spawn(async move {
                let response = tower::ServiceExt::oneshot(node, request).await.unwrap();
                let status = response.status();
                let bytes = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }));
        }
        let mut discounted = Vec::new();
        for a in attempts {
            let (status, body) = a.await.unwrap();
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
