//! Gift cards and store credit through the API, on SQLite and PostgreSQL: a card sold on the
//! web pays at the till, its code and PIN shown once; a cancelled order gives the card its
//! part back; wrong PINs block a card; service issues credit with a reason; two tills
//! spending the last euros of one card at once — one wins.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;
use crate::orders::{cart, shop};

/// The shop, with a 50 € gift card (valid 12 months) and stock to sell.
pub(crate) async fn gift_shop(t: &TestApp) {
    shop(t).await;
    t.created(
        "/v1/products",
        json!({
            "title": "Gift card", "category": "gift-cards",
            "attributes": {"stored_value": "gift_card", "valid_months": "12"},
            "variants": [{"sku": "GC-50", "attributes": {"value": "50"}}]
        }),
    )
    .await;
    let r = t
        .put(
            "/v1/variants/GC-50/prices/EUR",
            &t.admin,
            json!({"amount_minor": 5000}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    for sku in ["GC-50", "TR-42"] {
        t.created("/v1/stock/movements", json!({"sku": sku, "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 20, "reason": "delivery"})).await;
    }
}

/// Buys one 50 € card on the web; answers the checkout's path and body.
pub(crate) async fn sell_card(t: &TestApp, idempotency: Option<&str>) -> (String, Value) {
    let c = cart(t, &t.web, json!([{"sku": "GC-50", "quantity": 1}])).await;
    let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
    let r = t
        .send(Method::POST, &path, &t.web, Some(card_sale()), idempotency)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (path, r.body)
}

fn card_sale() -> Value {
    json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}})
}

pub(crate) fn card_of(sold: &Value) -> (String, String, String) {
    let card = &sold["gift_cards"][0];
    let field = |f: &str| {
        card[f]
            .as_str()
            .unwrap_or_else(|| panic!("{sold}"))
            .to_owned()
    };
    (field("id"), field("code"), field("pin"))
}

pub(crate) async fn look_up(t: &TestApp, code: &str, pin: &str) -> (StatusCode, Value) {
    let r = t
        .post(
            "/v1/gift-cards/lookup",
            &t.store,
            json!({"code": code, "pin": pin}),
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn a_gift_card_sold_on_the_web_pays_at_the_till() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let (sale_path, sold) = sell_card(&t, Some("gc-sale-1")).await;
        let (id, code, pin) = card_of(&sold);
        assert_eq!(sold["gift_cards"][0]["amount_minor"], 5000);
        // Typed in lower case with spaces, the code still finds the card.
        let typed = code.to_lowercase().replace('-', " ");
        let (status, card) = look_up(&t, &typed, &pin).await;
        assert_eq!(status, StatusCode::OK, "{card}");
        assert_eq!(
            (card["balance_minor"].as_i64(), card["kind"].as_str()),
            (Some(5000), Some("gift_card"))
        );
        assert!(card["expires_at"].as_str().is_some(), "{card}");
        // The replayed checkout shows no code: it exists nowhere else.
        let again = t
            .send(
                Method::POST,
                &sale_path,
                &t.web,
                Some(card_sale()),
                Some("gc-sale-1"),
            )
            .await;
        assert!(again.body.get("gift_cards").is_none(), "{}", again.body);
        assert_eq!(again.body["id"], sold["id"]);

        // At the Lyon till: a 49.99 pair of shoes, paid by the card.
        let c = cart(&t, &t.store, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let till = json!({"mode": "carry_out", "location": "LYS-BELLECOUR", "payment": {"gift_card": {"code": code, "pin": pin}}});
        let r = t.post(&path, &t.store, till).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let paid: Vec<(&str, i64)> = r.body["payments"]
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
        assert!(paid.contains(&("gift_card", 4999)), "{}", r.body);
        let (_, card) = look_up(&t, &code, &pin).await;
        assert_eq!(card["balance_minor"], 1, "{card}");

        // A web pickup takes the last cent and the card the rest; cancelled, the cent comes back.
        let c = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let pay = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa", "gift_card": {"code": code, "pin": pin}}});
        let order = t.post(&path, &t.web, pay).await;
        assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
        let (_, card) = look_up(&t, &code, &pin).await;
        assert_eq!(card["balance_minor"], 0, "{card}");
        let oid = order.body["id"].as_str().unwrap();
        let r = t
            .post(&format!("/v1/orders/{oid}/cancel"), &t.service, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = t.get(&format!("/v1/gift-cards/{id}"), &t.service).await;
        assert_eq!(r.body["balance_minor"], 1, "{}", r.body);
        let kinds: Vec<&str> = r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["issue", "spend", "spend", "give_back"],
            "{}",
            r.body
        );
        assert_eq!(
            t.get(&format!("/v1/gift-cards/{id}"), &t.web).await.status,
            StatusCode::FORBIDDEN
        );

        // Its value spent, the card's sale cannot be cancelled (that would refund it whole).
        let sale = sold["id"].as_str().unwrap();
        let r = t
            .post(&format!("/v1/orders/{sale}/cancel"), &t.service, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        // A gift card does not come back as a return.
        t.post(
            &format!("/v1/orders/{sale}/mark_ready"),
            &t.store,
            json!({}),
        )
        .await;
        t.post(&format!("/v1/orders/{sale}/collect"), &t.store, json!({}))
            .await;
        let r = t.post("/v1/returns", &t.store, json!({"order": sale, "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    }
}

#[tokio::test]
async fn wrong_pins_block_a_card_until_service_unblocks_it() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let (id, code, pin) = card_of(&sell_card(&t, None).await.1);
        for left in (0..5).rev() {
            let (status, body) = look_up(&t, &code, "000000x").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"]["details"]["tries_left"], left, "{body}");
        }
        let (status, body) = look_up(&t, &code, &pin).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "blocked even with the right PIN: {body}"
        );
        let (status, _) = look_up(&t, "NOPE-NOPE-NOPE-NOPE", &pin).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let r = t
            .post(&format!("/v1/gift-cards/{id}/unblock"), &t.store, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let r = t
            .post(
                &format!("/v1/gift-cards/{id}/unblock"),
                &t.service,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(look_up(&t, &code, &pin).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn service_issues_store_credit_with_a_reason() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let c = t.created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "lea@example.com"}], "home_store": "LYS-BELLECOUR"})).await;
        let cid = c["id"].as_str().unwrap();
        let path = format!("/v1/customers/{cid}/store-credits");
        let credit = json!({"amount_minor": 1500, "currency": "EUR", "reason": "late delivery", "valid_months": 6});
        assert_eq!(
            t.post(&path, &t.web, credit.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        for bad in [
            json!({"amount_minor": 0, "currency": "EUR", "reason": "late delivery"}),
            json!({"amount_minor": 1500, "currency": "EUR", "reason": ""}),
            json!({"amount_minor": 1500, "currency": "EURO", "reason": "late delivery"}),
        ] {
            let r = t.post(&path, &t.service, bad).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        }
        let r = t.post(&path, &t.service, credit).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            (r.body["balance_minor"].as_i64(), r.body["reason"].as_str()),
            (Some(1500), Some("late delivery"))
        );
        let credit_id = r.body["id"].as_str().unwrap().to_owned();
        let c = t
            .post(
                "/v1/carts",
                &t.web,
                json!({"customer_id": cid, "lines": [{"sku": "TR-42", "quantity": 1}]}),
            )
            .await;
        let pay = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa", "store_credit_id": credit_id}});
        let r = t
            .post(
                &format!("/v1/carts/{}/checkout", c.body["id"].as_str().unwrap()),
                &t.web,
                pay,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = t
            .get(&format!("/v1/store-credits/{credit_id}"), &t.service)
            .await;
        assert_eq!(r.body["balance_minor"], 0, "{}", r.body);
        // Erased, the customer's credit keeps its ledger but not the reason typed for it.
        let r = t
            .post(
                &format!("/v1/customers/{cid}/erasure"),
                &t.service,
                json!({}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        let r = t
            .get(&format!("/v1/store-credits/{credit_id}"), &t.service)
            .await;
        assert_eq!(
            (
                r.body["reason"].clone(),
                r.body["entries"].as_array().map(Vec::len)
            ),
            (Value::Null, Some(2)),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn two_tills_spending_the_last_euros_of_a_card_one_wins() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let (_, code, pin) = card_of(&sell_card(&t, None).await.1);
        let other = t.second_node().await;
        let mut tries = Vec::new();
        for _ in 0..6 {
            let c = cart(&t, &t.store, json!([{"sku": "TR-42", "quantity": 1}])).await;
            let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
            let body = json!({"mode": "carry_out", "location": "LYS-BELLECOUR", "payment": {"gift_card": {"code": code, "pin": pin}}});
            tries.push((t.store.clone(), path, body));
        }
        crate::one_wins(&t, &other, tries, "gift card").await;
        let (_, card) = look_up(&t, &code, &pin).await;
        assert_eq!(card["balance_minor"], 1, "{card}");
    }
}
