//! Orders: carts seen from every channel, checkout in every fulfilment mode, the state
//! machines with their stock and money effects, deadlines, returns anywhere, and the last
//! unit never sold twice — on SQLite and PostgreSQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, key, product_body, store_body};

/// Channels web and app, Lyon and Paris, a trail shoe (49.99) in 42 and 43, a jacket
/// (129.00) in M; stock in Lyon.
pub(crate) async fn shop(t: &TestApp) {
    t.two_stores().await;
    for (code, kind) in [("web", "web"), ("app", "app")] {
        t.created(
            "/v1/channels",
            json!({"code": code, "kind": kind, "name": code}),
        )
        .await;
    }
    for (code, store) in [("pos-lyon", "LYS-BELLECOUR"), ("pos-paris", "PAR-RIVOLI")] {
        t.created(
            "/v1/channels",
            json!({"code": code, "kind": "pos", "name": code, "location_code": store}),
        )
        .await;
    }
    t.created("/v1/products", product_body("TR", &["42", "43"]))
        .await;
    t.created("/v1/products", product_body("JK", &["M"])).await;
    for (sku, price) in [("TR-42", 4999), ("TR-43", 4999), ("JK-M", 12900)] {
        let r = t
            .put(
                &format!("/v1/variants/{sku}/prices/EUR"),
                &t.admin,
                json!({"amount_minor": price}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    receive(t, "TR-42", "LYS-BELLECOUR", 3).await;
    receive(t, "TR-43", "LYS-BELLECOUR", 2).await;
    receive(t, "JK-M", "LYS-BELLECOUR", 2).await;
}

async fn receive(t: &TestApp, sku: &str, location: &str, quantity: i64) {
    t.created("/v1/stock/movements", json!({"sku": sku, "location": location, "kind": "receipt", "quantity": quantity, "reason": "delivery"})).await;
}

async fn level(t: &TestApp, sku: &str, location: &str, field: &str) -> i64 {
    let r = t
        .get(&format!("/v1/variants/{sku}/availability"), &t.admin)
        .await;
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .find(|l| l["location"] == location)
        .map_or(0, |l| l[field].as_i64().unwrap())
}

pub(crate) async fn atp(t: &TestApp, sku: &str, location: &str) -> i64 {
    level(t, sku, location, "atp").await
}

async fn on_hand(t: &TestApp, sku: &str, location: &str) -> i64 {
    level(t, sku, location, "on_hand").await
}

/// A checkout body: click & collect in Lyon, paid by card.
pub(crate) fn pickup_lyon() -> Value {
    json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}})
}

pub(crate) async fn cart(t: &TestApp, key: &str, lines: Value) -> Value {
    let r = t.post("/v1/carts", key, json!({"lines": lines})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn checkout(t: &TestApp, key: &str, cart_id: &str, body: Value) -> Reply {
    t.post(&format!("/v1/carts/{cart_id}/checkout"), key, body)
        .await
}

pub(crate) async fn placed(t: &TestApp, key: &str, lines: Value, body: Value) -> Value {
    let c = cart(t, key, lines).await;
    let r = checkout(t, key, c["id"].as_str().unwrap(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name(), r.body);
    r.body
}

async fn act(t: &TestApp, key: &str, order: &Value, transition: &str, body: Value) -> Reply {
    t.post(
        &format!("/v1/orders/{}/{transition}", order["id"].as_str().unwrap()),
        key,
        body,
    )
    .await
}

pub(crate) async fn acted(
    t: &TestApp,
    key: &str,
    order: &Value,
    transition: &str,
    body: Value,
) -> Value {
    let r = act(t, key, order, transition, body).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}: {transition}: {}",
        t.name(),
        r.body
    );
    r.body
}

/// The data of the last outbox event of a type about a subject.
async fn last_event(t: &TestApp, kind: &str, subject: &str) -> Value {
    let r = t
        .get(&format!("/v1/outbox?type={kind}&limit=500"), &t.admin)
        .await;
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .rev()
        .find(|e| e["subject"] == subject)
        .map(|e| e["data"].clone())
        .unwrap_or_else(|| panic!("{}: no {kind} event for {subject}", t.name()))
}

async fn sweep_at(t: &TestApp, now_plus_s: i64) -> usize {
    let at =
        kernel::Timestamp::from_unix_ms(kernel::Timestamp::now().unix_ms() + now_plus_s * 1000);
    t.db.db
        .write(move |c| Box::pin(async move { store::orders::sweep_due(c, at, 100).await }))
        .await
        .unwrap()
        .0
        .len()
}

async fn balanced(t: &TestApp) {
    let wrong = store::stock::unbalanced(&t.db.db).await.unwrap();
    assert!(
        wrong.is_empty(),
        "{}: ledger out of balance: {wrong:?}",
        t.name()
    );
}

#[tokio::test]
async fn click_and_collect_from_cart_to_collection() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let paris = key(&t.db.db, "store:PAR-RIVOLI").await;
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 2}]),
            pickup_lyon(),
        )
        .await;
        assert_eq!(order["state"], "placed");
        assert_eq!(
            (order["total_minor"].as_i64(), order["paid_minor"].as_i64()),
            (Some(9998), Some(9998))
        );
        assert_eq!(order["owner"]["kind"], "franchisee");
        assert!(
            order["receipt"]["qr_payload"]
                .as_str()
                .unwrap()
                .starts_with("relais:receipt:rcp_")
        );
        assert_eq!(
            atp(&t, "TR-42", "LYS-BELLECOUR").await,
            1,
            "{}: the order holds its units",
            t.name()
        );

        // The store's queue shows it; another store can neither see it in its queue nor act.
        let queue = t.get("/v1/orders?state=placed", &t.store).await;
        assert_eq!(queue.body["data"][0]["id"], order["id"], "{}", queue.body);
        let elsewhere = t.get("/v1/orders", &paris).await;
        assert_eq!(elsewhere.body["data"].as_array().map(Vec::len), Some(0));
        let refused = act(&t, &paris, &order, "start_preparing", json!({})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        // A step the machine does not allow: 409 with where it stands and what it may do.
        let early = act(
            &t,
            &t.store,
            &order,
            "collect",
            json!({"pickup_code": "000000"}),
        )
        .await;
        assert_eq!(
            (early.status, early.code()),
            (StatusCode::CONFLICT, "conflict")
        );
        assert_eq!(early.body["error"]["details"]["current_state"], "placed");
        assert_eq!(
            early.body["error"]["details"]["allowed"],
            json!(["start_preparing", "cancel"])
        );

        acted(&t, &t.store, &order, "start_preparing", json!({})).await;
        let ready = acted(&t, &t.store, &order, "mark_ready", json!({})).await;
        assert_eq!(ready["state"], "ready_for_pickup");
        assert!(
            ready["pickup_code"].is_null(),
            "the counter must be shown the code"
        );
        let event = last_event(
            &t,
            "relais.order.ready_for_pickup",
            order["id"].as_str().unwrap(),
        )
        .await;
        let code = event["pickup_code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 6);
        let seen_by_customer = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.web,
            )
            .await;
        assert_eq!(seen_by_customer.body["pickup_code"], code.as_str());

        let wrong = act(
            &t,
            &t.store,
            &order,
            "collect",
            json!({"pickup_code": "999999x"}),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::CONFLICT, "{}", wrong.body);
        let collected = acted(
            &t,
            &t.store,
            &order,
            "collect",
            json!({"pickup_code": code}),
        )
        .await;
        assert_eq!(collected["state"], "collected");
        assert_eq!(collected["lines"][0]["sold"], 2);
        assert_eq!(on_hand(&t, "TR-42", "LYS-BELLECOUR").await, 1);
        let history = t
            .get(
                &format!("/v1/orders/{}/history", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await;
        let steps: Vec<&str> = history
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["to_state"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["preparing", "ready_for_pickup", "collected"]);
        balanced(&t).await;
    }
}

#[tokio::test]
async fn a_pickup_not_collected_is_a_no_show_released_and_refunded() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "JK-M", "quantity": 1}]),
            pickup_lyon(),
        )
        .await;
        acted(&t, &t.store, &order, "start_preparing", json!({})).await;
        acted(&t, &t.store, &order, "mark_ready", json!({})).await;
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 1);
        assert_eq!(
            sweep_at(&t, 6 * 86_400).await,
            0,
            "{}: still within the pickup days",
            t.name()
        );
        assert_eq!(sweep_at(&t, 8 * 86_400).await, 1);
        let after = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await
            .body;
        assert_eq!(after["state"], "no_show");
        assert_eq!(after["paid_minor"], 0);
        assert_eq!(after["payments"][0]["refunded_minor"], 12900);
        assert_eq!(
            atp(&t, "JK-M", "LYS-BELLECOUR").await,
            2,
            "{}: stock back on sale",
            t.name()
        );
        let event = last_event(&t, "relais.order.no_show", order["id"].as_str().unwrap()).await;
        assert_eq!(event["refunded_minor"], 12900);
        // Nothing left to do: every transition is refused.
        let again = act(&t, &t.admin, &order, "cancel", json!({})).await;
        assert_eq!(again.body["error"]["details"]["allowed"], json!([]));
        balanced(&t).await;
    }
}

#[tokio::test]
async fn a_reservation_is_never_sold_online_bought_in_part_or_expires() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        // Reserve the two TR-43 and one jacket: nothing is paid.
        let reserved = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-43", "quantity": 2}, {"sku": "JK-M", "quantity": 1}]),
            json!({"mode": "reserve", "location": "LYS-BELLECOUR"}),
        )
        .await;
        assert_eq!(
            (
                reserved["paid_minor"].as_i64(),
                reserved["payments"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );
        assert!(reserved["deadline_at"].is_string());
        let paid_reservation = checkout(&t, &t.web, cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await["id"].as_str().unwrap(),
            json!({"mode": "reserve", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}})).await;
        assert_eq!(paid_reservation.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The reserved units cannot be bought online meanwhile.
        let c = cart(&t, &t.web, json!([{"sku": "TR-43", "quantity": 1}])).await;
        let online = checkout(&t, &t.web, c["id"].as_str().unwrap(), pickup_lyon()).await;
        assert_eq!(
            (online.status, online.code()),
            (StatusCode::CONFLICT, "insufficient_stock"),
            "{}",
            online.body
        );

        // At the till: one TR-43 bought, the other tried and declined, the jacket declined.
        // The till rings it up with its own channel key; another store's till cannot.
        acted(&t, &t.store, &reserved, "start_preparing", json!({})).await;
        acted(&t, &t.store, &reserved, "mark_ready", json!({})).await;
        let lyon_till = crate::key(&t.db.db, "channel:pos-lyon").await;
        let paris_till = crate::key(&t.db.db, "channel:pos-paris").await;
        let one_tr43 = json!({"lines": [{"line": 1, "quantity": 1}]});
        let elsewhere = act(&t, &paris_till, &reserved, "purchase", one_tr43.clone()).await;
        assert_eq!(
            elsewhere.status,
            StatusCode::FORBIDDEN,
            "{}",
            elsewhere.body
        );
        let bought = acted(&t, &lyon_till, &reserved, "purchase", one_tr43).await;
        assert_eq!(bought["state"], "purchased");
        assert_eq!(bought["paid_minor"], 4999);
        assert_eq!(bought["payments"][0]["method"], "pay_in_store");
        assert_eq!(
            (
                bought["lines"][0]["sold"].as_i64(),
                bought["lines"][1]["sold"].as_i64()
            ),
            (Some(1), Some(0))
        );
        assert_eq!(on_hand(&t, "TR-43", "LYS-BELLECOUR").await, 1);
        assert_eq!(atp(&t, "TR-43", "LYS-BELLECOUR").await, 1);
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 2);

        // A reservation nobody comes for expires after its 48 h; its stock returns.
        let lapsing = placed(
            &t,
            &t.web,
            json!([{"sku": "JK-M", "quantity": 2}]),
            json!({"mode": "reserve", "location": "LYS-BELLECOUR"}),
        )
        .await;
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 0);
        assert_eq!(sweep_at(&t, 47 * 3600).await, 0);
        assert_eq!(sweep_at(&t, 49 * 3600).await, 1);
        let after = t
            .get(
                &format!("/v1/orders/{}", lapsing["id"].as_str().unwrap()),
                &t.admin,
            )
            .await
            .body;
        assert_eq!(after["state"], "expired");
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 2);
        let late = act(&t, &t.store, &lapsing, "purchase", json!({})).await;
        assert_eq!(late.body["error"]["details"]["current_state"], "expired");
        balanced(&t).await;
    }
}

#[tokio::test]
async fn kiosk_counter_and_pos_sales() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let kiosk = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-42", "quantity": 1}]),
            json!({"mode": "counter", "payment": {"token": "tok_visa"}}),
        )
        .await;
        assert_eq!(kiosk["location"], "LYS-BELLECOUR");
        for step in ["start_preparing", "mark_ready", "hand_over"] {
            acted(&t, &t.store, &kiosk, step, json!({})).await;
        }
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-42", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(sale["state"], "completed");
        assert_eq!(sale["payments"][0]["method"], "pay_in_store");
        assert_eq!(sale["lines"][0]["sold"], 1);
        assert_eq!(on_hand(&t, "TR-42", "LYS-BELLECOUR").await, 1);
        // A web key cannot ring up a till sale; Lyon's key cannot sell in Paris.
        let c = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let web_till = checkout(
            &t,
            &t.web,
            c["id"].as_str().unwrap(),
            json!({"mode": "carry_out", "location": "LYS-BELLECOUR"}),
        )
        .await;
        assert_eq!(web_till.status, StatusCode::FORBIDDEN);
        let c = cart(&t, &t.store, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let paris_till = checkout(
            &t,
            &t.store,
            c["id"].as_str().unwrap(),
            json!({"mode": "carry_out", "location": "PAR-RIVOLI"}),
        )
        .await;
        assert_eq!(paris_till.status, StatusCode::FORBIDDEN);

        // A kiosk with its own channel key orders for the counter of the store it stands in,
        // and nowhere else.
        t.created("/v1/channels", json!({"code": "kiosk-lyon", "kind": "kiosk", "name": "Kiosk", "location_code": "LYS-BELLECOUR"})).await;
        let kiosk_key = key(&t.db.db, "channel:kiosk-lyon").await;
        let screen = cart(&t, &kiosk_key, json!([{"sku": "JK-M", "quantity": 1}])).await;
        assert_eq!(screen["channel"], "kiosk-lyon");
        let elsewhere = checkout(
            &t,
            &kiosk_key,
            screen["id"].as_str().unwrap(),
            json!({"mode": "counter", "location": "PAR-RIVOLI", "payment": {"token": "tok_visa"}}),
        )
        .await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
        let at_counter = checkout(
            &t,
            &kiosk_key,
            screen["id"].as_str().unwrap(),
            json!({"mode": "counter", "payment": {"token": "tok_visa"}}),
        )
        .await;
        assert_eq!(
            at_counter.status,
            StatusCode::CREATED,
            "{}",
            at_counter.body
        );
        assert_eq!(
            (
                at_counter.body["location"].as_str(),
                at_counter.body["channel"].as_str()
            ),
            (Some("LYS-BELLECOUR"), Some("kiosk-lyon"))
        );

        // A line held in Paris but collected in Lyon: the Paris hold is released at checkout.
        receive(&t, "JK-M", "PAR-RIVOLI", 1).await;
        let c = cart(&t, &t.web, json!([{"sku": "JK-M", "quantity": 1}])).await;
        let held = t
            .put(
                &format!("/v1/carts/{}/lines/JK-M", c["id"].as_str().unwrap()),
                &t.web,
                json!({"quantity": 1, "hold_at": "PAR-RIVOLI"}),
            )
            .await;
        assert_eq!(held.status, StatusCode::OK, "{}", held.body);
        assert_eq!(atp(&t, "JK-M", "PAR-RIVOLI").await, 0);
        let lyon = checkout(&t, &t.web, c["id"].as_str().unwrap(), pickup_lyon()).await;
        assert_eq!(lyon.status, StatusCode::CREATED, "{}", lyon.body);
        assert_eq!(
            atp(&t, "JK-M", "PAR-RIVOLI").await,
            1,
            "{}: the cart's Paris hold was released",
            t.name()
        );
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 0);
        balanced(&t).await;
    }
}

#[tokio::test]
async fn a_declined_card_places_nothing() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let c = cart(&t, &t.web, json!([{"sku": "JK-M", "quantity": 2}])).await;
        let events = t.events().await;
        let declined = checkout(&t, &t.web, c["id"].as_str().unwrap(),
            json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_decline"}})).await;
        assert_eq!(
            (declined.status, declined.code()),
            (StatusCode::PAYMENT_REQUIRED, "payment_declined")
        );
        assert_eq!(
            t.events().await,
            events,
            "{}: nothing was written",
            t.name()
        );
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 2);
        let still = t
            .get(&format!("/v1/carts/{}", c["id"].as_str().unwrap()), &t.web)
            .await
            .body;
        assert_eq!(still["status"], "active");
        assert_eq!(still["subtotal_minor"], 25800);
        // Bad input: unknown mode, a ship order naming a store, an empty cart.
        let bad = checkout(
            &t,
            &t.web,
            c["id"].as_str().unwrap(),
            json!({"mode": "teleport"}),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let empty = cart(&t, &t.web, json!([])).await;
        let nothing = checkout(&t, &t.web, empty["id"].as_str().unwrap(), pickup_lyon()).await;
        assert_eq!(
            (nothing.status, nothing.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        // A retried checkout (same Idempotency-Key) gives the same order once.
        let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let body = pickup_lyon();
        let first = t
            .send(
                Method::POST,
                &path,
                &t.web,
                Some(body.clone()),
                Some("chk-1"),
            )
            .await;
        let again = t
            .send(Method::POST, &path, &t.web, Some(body), Some("chk-1"))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        assert_eq!(
            (again.status, &again.body["id"]),
            (StatusCode::CREATED, &first.body["id"])
        );
        assert_eq!(again.headers["idempotent-replayed"], "true");
        // Both outcomes are counted for the KPIs.
        let metrics = t
            .raw(
                axum::http::Request::builder()
                    .uri("/metrics")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        let text = metrics.body.as_str().unwrap_or_default();
        assert!(text.contains("relais_payments_declined_total"), "{text}");
        assert!(
            text.contains("relais_orders_placed_total{mode=\"pickup\"}"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn carts_follow_the_customer_across_channels_and_devices() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let app = key(&t.db.db, "channel:app").await;
        let customer = t.created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "claire@example.fr", "verified": true}]})).await;
        let cid = customer["id"].as_str().unwrap();
        // Started in the app while signed in…
        let in_app = t
            .post(
                "/v1/carts",
                &app,
                json!({"customer_id": cid, "lines": [{"sku": "TR-42", "quantity": 3}]}),
            )
            .await
            .body;
        // …browsing anonymously on the web meanwhile…
        let anon = cart(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 1}, {"sku": "JK-M", "quantity": 1}]),
        )
        .await;
        let held = t
            .put(
                &format!("/v1/carts/{}/lines/JK-M", anon["id"].as_str().unwrap()),
                &t.web,
                json!({"quantity": 1, "hold_at": "LYS-BELLECOUR"}),
            )
            .await;
        assert_eq!(
            held.body["lines"][1]["hold"]["location"], "LYS-BELLECOUR",
            "{}",
            held.body
        );
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 1);
        // Held again at the same quantity: the old hold goes, one unit stays held.
        let again = t
            .put(
                &format!("/v1/carts/{}/lines/JK-M", anon["id"].as_str().unwrap()),
                &t.web,
                json!({"quantity": 1, "hold_at": "LYS-BELLECOUR"}),
            )
            .await;
        assert_ne!(
            again.body["lines"][1]["hold"]["hold_id"],
            held.body["lines"][1]["hold"]["hold_id"]
        );
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 1);
        // …then signing in on the web: one cart, the larger quantity of a SKU in both, the hold kept.
        let signed = t
            .post(
                &format!("/v1/carts/{}/sign-in", anon["id"].as_str().unwrap()),
                &t.web,
                json!({"customer_id": cid}),
            )
            .await;
        assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
        assert_eq!(signed.body["id"], in_app["id"]);
        let lines: Vec<(String, i64)> = signed.body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["sku"].as_str().unwrap().to_owned(),
                    l["quantity"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(lines, [("TR-42".to_owned(), 3), ("JK-M".to_owned(), 1)]);
        assert_eq!(signed.body["lines"][1]["hold"]["location"], "LYS-BELLECOUR");
        let old = t
            .get(
                &format!("/v1/carts/{}", anon["id"].as_str().unwrap()),
                &t.web,
            )
            .await
            .body;
        assert_eq!(
            (old["status"].as_str(), old["merged_into"].as_str()),
            (Some("merged"), in_app["id"].as_str())
        );
        let seen = t.get(&format!("/v1/customers/{cid}/cart"), &t.web).await;
        assert_eq!(seen.body["subtotal_minor"], 3 * 4999 + 12900);

        // A kiosk hands its basket to the customer's phone with a short code, once.
        let kiosk_cart = t
            .post(
                "/v1/carts",
                &t.store,
                json!({"lines": [{"sku": "TR-43", "quantity": 1}]}),
            )
            .await
            .body;
        let handed = t
            .post(
                &format!("/v1/carts/{}/handoff", kiosk_cart["id"].as_str().unwrap()),
                &t.store,
                json!({}),
            )
            .await
            .body;
        let code = handed["handoff_code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 6);
        let claimed = t
            .post(
                "/v1/carts/claim",
                &app,
                json!({"code": code.to_lowercase(), "customer_id": cid}),
            )
            .await;
        assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.body);
        assert_eq!(claimed.body["lines"].as_array().map(Vec::len), Some(3));
        let twice = t.post("/v1/carts/claim", &app, json!({"code": code})).await;
        assert_eq!(twice.status, StatusCode::NOT_FOUND);

        // Checkout adopts the cart's hold: the jacket stays held once, not twice.
        let order = checkout(&t, &app, in_app["id"].as_str().unwrap(), pickup_lyon()).await;
        assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
        assert_eq!(order.body["customer_id"], cid);
        assert_eq!(
            order.body["lines"][1]["hold_id"],
            signed.body["lines"][1]["hold"]["hold_id"]
        );
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 1);
        let gone = t.get(&format!("/v1/customers/{cid}/cart"), &t.web).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let history = t
            .get(&format!("/v1/customers/{cid}/orders"), &t.service)
            .await;
        assert_eq!(history.body["data"][0]["id"], order.body["id"]);

        // The same person buys at a till under their phone number; signing in with both
        // merges the profiles, and the till order joins the history, timeline and export.
        let walk_in = t
            .created(
                "/v1/customers",
                json!({"identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}]}),
            )
            .await;
        let till = t
            .post(
                "/v1/carts",
                &t.store,
                json!({"customer_id": walk_in["id"], "lines": [{"sku": "TR-43", "quantity": 1}]}),
            )
            .await
            .body;
        let sale = checkout(
            &t,
            &t.store,
            till["id"].as_str().unwrap(),
            json!({"mode": "carry_out"}),
        )
        .await;
        assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);
        let linked = t.post("/v1/customers/identify", &t.web, json!({"identifiers": [
            {"kind": "email", "value": "claire@example.fr", "verified": true}, {"kind": "phone", "value": "+33612345678"}]})).await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
        let both = t
            .get(&format!("/v1/customers/{cid}/orders"), &t.service)
            .await;
        let ids: Vec<&str> = both.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                sale.body["id"].as_str().unwrap(),
                order.body["id"].as_str().unwrap()
            ],
            "{}",
            t.name()
        );
        let timeline = t
            .get(&format!("/v1/customers/{cid}/timeline"), &t.service)
            .await;
        let orders_seen = timeline.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "order")
            .count();
        assert_eq!(orders_seen, 2, "{}", timeline.body);
        let export = t
            .get(&format!("/v1/customers/{cid}/export"), &t.service)
            .await;
        assert_eq!(export.body["orders"].as_array().map(Vec::len), Some(2));
        balanced(&t).await;
    }
}

#[tokio::test]
async fn returns_anywhere_within_what_was_bought_and_exchanges_settle() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let paris = key(&t.db.db, "store:PAR-RIVOLI").await;
        let order = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 2}]),
            pickup_lyon(),
        )
        .await;
        // Nothing handed over yet: nothing can come back.
        let early = t.post("/v1/returns", &paris, json!({"order": order["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
        acted(&t, &t.store, &order, "start_preparing", json!({})).await;
        acted(&t, &t.store, &order, "mark_ready", json!({})).await;
        let code = last_event(
            &t,
            "relais.order.ready_for_pickup",
            order["id"].as_str().unwrap(),
        )
        .await["pickup_code"]
            .clone();
        acted(
            &t,
            &t.store,
            &order,
            "collect",
            json!({"pickup_code": code}),
        )
        .await;

        // Brought back to Paris with the e-receipt's QR code: refunded to the card, stock in Paris.
        let qr = order["receipt"]["qr_payload"].as_str().unwrap();
        let back = t.post("/v1/returns", &paris, json!({"order": qr, "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(
            back.status,
            StatusCode::CREATED,
            "{}: {}",
            t.name(),
            back.body
        );
        assert_eq!(
            (
                back.body["location"].as_str(),
                back.body["refund_minor"].as_i64()
            ),
            (Some("PAR-RIVOLI"), Some(4999))
        );
        assert_eq!(on_hand(&t, "TR-42", "PAR-RIVOLI").await, 1);
        let too_many = t.post("/v1/returns", &paris, json!({"order": qr, "lines": [{"line": 1, "quantity": 2, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(too_many.status, StatusCode::CONFLICT);
        assert_eq!(too_many.body["error"]["details"]["returnable"], 1);

        // The other pair, exchanged in Paris for a jacket: the customer pays the difference.
        receive(&t, "JK-M", "PAR-RIVOLI", 1).await;
        let exchange = t.post("/v1/returns", &paris, json!({"order": order["receipt"]["token"], "lines": [{"line": 1, "quantity": 1, "condition": "damaged"}],
            "refund": "exchange", "exchange_lines": [{"sku": "JK-M", "quantity": 1}]})).await;
        assert_eq!(exchange.status, StatusCode::CREATED, "{}", exchange.body);
        assert_eq!(
            (
                exchange.body["paid_minor"].as_i64(),
                exchange.body["refund_minor"].as_i64()
            ),
            (Some(12900 - 4999), Some(0))
        );
        assert_eq!(
            on_hand(&t, "TR-42", "PAR-RIVOLI").await,
            1,
            "{}: the damaged pair is written off",
            t.name()
        );
        assert_eq!(on_hand(&t, "JK-M", "PAR-RIVOLI").await, 0);
        let sale = t
            .get(
                &format!(
                    "/v1/orders/{}",
                    exchange.body["exchange_order"].as_str().unwrap()
                ),
                &t.admin,
            )
            .await
            .body;
        assert_eq!(
            (sale["mode"].as_str(), sale["exchange_of"].as_str()),
            (Some("carry_out"), order["id"].as_str())
        );
        assert_eq!(sale["paid_minor"], 12900);
        let original = t
            .get(
                &format!("/v1/orders/{}", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await
            .body;
        assert_eq!(
            (
                original["paid_minor"].as_i64(),
                original["payments"][0]["refunded_minor"].as_i64()
            ),
            (Some(4999), Some(4999))
        );
        let returns = t
            .get(
                &format!("/v1/orders/{}/returns", order["id"].as_str().unwrap()),
                &t.admin,
            )
            .await;
        assert_eq!(returns.body.as_array().map(Vec::len), Some(2));
        // A web key cannot take returns.
        let web = t.post("/v1/returns", &t.web, json!({"order": order["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "store_credit"})).await;
        assert_eq!(web.status, StatusCode::FORBIDDEN);

        // The franchisee's report lists the order its Lyon store handed over.
        let report = t
            .get("/v1/reports/owners/SARL%20Test/orders", &t.admin)
            .await;
        let rows = report.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", report.body));
        assert!(
            rows.iter().any(|r| r["order_id"] == order["id"]
                && r["location"] == "LYS-BELLECOUR"
                && r["amount_minor"] == 9998
                && r["online"] == true),
            "{}",
            report.body
        );
        // The exchange was a till sale in Paris: in the owner's full report, not in its online one.
        let sale_id = exchange.body["exchange_order"].clone();
        assert!(
            rows.iter()
                .any(|r| r["order_id"] == sale_id && r["online"] == false)
        );
        let online = t
            .get(
                "/v1/reports/owners/SARL%20Test/orders?online=true",
                &t.admin,
            )
            .await;
        let online = online.body["data"].as_array().unwrap();
        assert!(
            online.iter().all(|r| r["online"] == true)
                && online.iter().any(|r| r["order_id"] == order["id"])
        );
        // A window that ends before the order leaves it out; a malformed one is refused.
        let before = t
            .get(
                "/v1/reports/owners/SARL%20Test/orders?to=2020-01-01T00:00:00Z",
                &t.admin,
            )
            .await;
        assert_eq!(
            before.body["data"].as_array().map(Vec::len),
            Some(0),
            "{}",
            before.body
        );
        let bad = t
            .get(
                "/v1/reports/owners/SARL%20Test/orders?from=yesterday",
                &t.admin,
            )
            .await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn ship_orders_are_routed_and_explained() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let mut wh = store_body("WH-LYON", "Lyon", 45.70, 4.90);
        wh["kind"] = json!("warehouse");
        wh["capabilities"] = json!(["ship_from"]);
        t.created("/v1/locations", wh).await;
        receive(&t, "TR-42", "WH-LYON", 1).await;
        receive(&t, "JK-M", "WH-LYON", 1).await;
        crate::delivery::home_and_store_delivery(&t).await;
        let to = crate::delivery::lea();
        let order = placed(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}, {"sku": "JK-M", "quantity": 1}]),
            json!({"mode": "ship", "payment": {"token": "tok_visa"}, "ship_to": {"address": to, "latitude": 48.85, "longitude": 2.35}})).await;
        assert!(order["location"].is_null());
        assert!(
            order["lines"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["location"] == "WH-LYON")
        );
        assert!(
            order["routing"]["explanation"][0]
                .as_str()
                .unwrap()
                .starts_with("WH-LYON"),
            "{}",
            order["routing"]
        );
        // The web channel ships from warehouses only: nothing left there → refused, with what is missing.
        let c = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 1}])).await;
        let none = checkout(
            &t,
            &t.web,
            c["id"].as_str().unwrap(),
            json!({"mode": "ship", "payment": {"token": "tok_visa"}, "ship_to": {"address": crate::delivery::lea()}}),
        )
        .await;
        assert_eq!(
            (none.status, none.code()),
            (StatusCode::CONFLICT, "insufficient_stock"),
            "{}",
            none.body
        );
        assert_eq!(none.body["error"]["details"]["missing"]["TR-42"], 1);
        for step in ["start_preparing", "ship", "deliver"] {
            acted(&t, &t.admin, &order, step, json!({})).await;
        }
        assert_eq!(on_hand(&t, "TR-42", "WH-LYON").await, 0);
        balanced(&t).await;
    }
}

#[tokio::test]
async fn the_last_unit_goes_to_one_buyer_and_a_line_comes_back_once() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let app = key(&t.db.db, "channel:app").await;
        let other = t.second_node().await;
        for round in 0..3 {
            // Web, app and till buyers, on two nodes, want the last jacket at once.
            let stock = atp(&t, "JK-M", "LYS-BELLECOUR").await;
            if stock > 1 {
                let c = cart(
                    &t,
                    &t.store,
                    json!([{"sku": "JK-M", "quantity": stock - 1}]),
                )
                .await;
                let r = checkout(
                    &t,
                    &t.store,
                    c["id"].as_str().unwrap(),
                    json!({"mode": "carry_out"}),
                )
                .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            } else if stock == 0 {
                receive(&t, "JK-M", "LYS-BELLECOUR", 1).await;
            }
            // Four buyers per channel, half of them through the second node.
            let mut tries = Vec::new();
            for n in 0..12 {
                let (key, body) = match n % 3 {
                    0 => (t.web.clone(), pickup_lyon()),
                    1 => (
                        app.clone(),
                        json!({"mode": "reserve", "location": "LYS-BELLECOUR"}),
                    ),
                    _ => (t.store.clone(), json!({"mode": "carry_out"})),
                };
                let basket = cart(&t, &key, json!([{"sku": "JK-M", "quantity": 1}])).await;
                let path = format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap());
                tries.push((key, path, body));
            }
            crate::one_wins(&t, &other, tries, &format!("round {round}")).await;
            assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 0);
        }

        // Two tills return the same line at once: only what was bought comes back.
        receive(&t, "TR-43", "LYS-BELLECOUR", 1).await;
        let sale = placed(
            &t,
            &t.store,
            json!([{"sku": "TR-43", "quantity": 1}]),
            json!({"mode": "carry_out"}),
        )
        .await;
        let body = json!({"order": sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"});
        let second = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/returns")
            .header("authorization", format!("Bearer {}", t.store))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let (a, b) = tokio::join!(
            t.post("/v1/returns", &t.store, body.clone()),
            tower::ServiceExt::oneshot(other.clone(), second)
        );
        let statuses = [a.status, b.unwrap().status()];
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "{} {statuses:?}",
            t.name()
        );
        let after = t
            .get(
                &format!("/v1/orders/{}", sale["id"].as_str().unwrap()),
                &t.admin,
            )
            .await
            .body;
        assert_eq!(after["lines"][0]["returned"], 1);
        assert_eq!(after["payments"][0]["refunded_minor"], 4999);
        balanced(&t).await;
    }
}

#[tokio::test]
async fn a_basket_can_be_fulfilled_line_by_line() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        crate::delivery::home_and_store_delivery(&t).await;
        // Collect the shoes in Lyon, reserve the jacket there to try it on.
        let basket = cart(
            &t,
            &t.web,
            json!([{"sku": "TR-42", "quantity": 1}, {"sku": "JK-M", "quantity": 1}]),
        )
        .await;
        let id = basket["id"].as_str().unwrap();
        // A part that cannot be fulfilled refuses the whole checkout: nothing held, nothing charged.
        let nowhere = checkout(
            &t,
            &t.web,
            id,
            json!({"mode": "pickup", "location": "LYS-BELLECOUR",
            "payment": {"token": "tok_visa"}, "lines": [{"sku": "JK-M", "mode": "ship"}],
            "ship_to": {"address": crate::delivery::lea()}}),
        )
        .await;
        assert_eq!(
            (nowhere.status, nowhere.code()),
            (StatusCode::CONFLICT, "insufficient_stock"),
            "{}",
            nowhere.body
        );
        assert_eq!(atp(&t, "TR-42", "LYS-BELLECOUR").await, 3);
        let unknown = checkout(&t, &t.web, id, json!({"mode": "pickup", "location": "LYS-BELLECOUR",
            "payment": {"token": "tok_visa"}, "lines": [{"sku": "NOPE", "mode": "reserve", "location": "LYS-BELLECOUR"}]})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

        let split = checkout(&t, &t.web, id, json!({"mode": "pickup", "location": "LYS-BELLECOUR",
            "payment": {"token": "tok_visa"}, "lines": [{"sku": "JK-M", "mode": "reserve", "location": "LYS-BELLECOUR"}]})).await;
        assert_eq!(
            split.status,
            StatusCode::CREATED,
            "{}: {}",
            t.name(),
            split.body
        );
        assert_eq!(
            (
                split.body["mode"].as_str(),
                split.body["paid_minor"].as_i64()
            ),
            (Some("pickup"), Some(4999))
        );
        assert_eq!(split.body["lines"].as_array().map(Vec::len), Some(1));
        let companions = split.body["companion_orders"].as_array().unwrap();
        assert_eq!(companions.len(), 1);
        let reserved = t
            .get(
                &format!("/v1/orders/{}", companions[0].as_str().unwrap()),
                &t.web,
            )
            .await
            .body;
        assert_eq!(
            (reserved["mode"].as_str(), reserved["paid_minor"].as_i64()),
            (Some("reserve"), Some(0))
        );
        assert_eq!(reserved["lines"][0]["sku"], "JK-M");
        assert_eq!(atp(&t, "JK-M", "LYS-BELLECOUR").await, 1);
        let closed = t.get(&format!("/v1/carts/{id}"), &t.web).await.body;
        assert_eq!(
            (closed["status"].as_str(), &closed["order_id"]),
            (Some("ordered"), &split.body["id"])
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn store_credit_from_a_return_pays_a_later_order_once() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let customer = t.created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}]})).await;
        let cid = customer["id"].as_str().unwrap();
        let till = t
            .post(
                "/v1/carts",
                &t.store,
                json!({"customer_id": cid, "lines": [{"sku": "TR-42", "quantity": 1}]}),
            )
            .await
            .body;
        let sale = checkout(
            &t,
            &t.store,
            till["id"].as_str().unwrap(),
            json!({"mode": "carry_out"}),
        )
        .await
        .body;
        let back = t.post("/v1/returns", &t.store, json!({"order": sale["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "store_credit"})).await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
        let credit_id = back.body["store_credit_id"].as_str().unwrap().to_owned();
        // The customer signs in on the web shop, which then sees their credit.
        let signed_in = t.post("/v1/customers/identify", &t.web, json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}]})).await;
        assert_eq!(
            signed_in.body["customer_id"].as_str(),
            Some(cid),
            "{}",
            signed_in.body
        );
        let credits = t
            .get(&format!("/v1/customers/{cid}/store-credits"), &t.web)
            .await
            .body;
        assert_eq!(
            (
                credits[0]["id"].as_str(),
                credits[0]["balance_minor"].as_i64()
            ),
            (Some(credit_id.as_str()), Some(4999))
        );

        // Online, the credit pays 49.99 of a 129.00 jacket; the card pays the rest.
        let paid = pickup_paid_with_credit(&t, &customer["id"], "JK-M", &credit_id).await;
        assert_eq!(
            paid.status,
            StatusCode::CREATED,
            "{}: {}",
            t.name(),
            paid.body
        );
        let methods: Vec<(&str, i64)> = paid.body["payments"]
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
        assert_eq!(methods.len(), 2);
        assert!(
            methods.contains(&("store_credit", 4999))
                && methods.contains(&("provider", 12900 - 4999)),
            "{methods:?}"
        );
        let left = t
            .get(&format!("/v1/store-credits/{credit_id}"), &t.web)
            .await
            .body;
        assert_eq!(left["balance_minor"], 0);

        // Spent is spent: used again (here by another customer) it pays nothing.
        let other = t.created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "tom@example.fr", "verified": true}]})).await;
        let card_only = pickup_paid_with_credit(&t, &other["id"], "TR-43", &credit_id).await;
        assert_eq!(
            card_only.status,
            StatusCode::CREATED,
            "an empty credit pays nothing; the card pays all: {}",
            card_only.body
        );
        assert_eq!(card_only.body["payments"].as_array().map(Vec::len), Some(1));

        // Cancelled: the credit gets its part back, the card its own.
        let cancelled = acted(&t, &t.web, &paid.body, "cancel", json!({})).await;
        assert_eq!(cancelled["paid_minor"], 0);
        let restored = t
            .get(&format!("/v1/store-credits/{credit_id}"), &t.web)
            .await
            .body;
        assert_eq!(restored["balance_minor"], 4999);
        // Now someone else's credit is refused outright.
        let not_theirs = pickup_paid_with_credit(&t, &other["id"], "TR-43", &credit_id).await;
        assert_eq!(
            not_theirs.status,
            StatusCode::CONFLICT,
            "{}",
            not_theirs.body
        );
        assert_eq!(
            t.get(&format!("/v1/store-credits/{credit_id}"), &t.web)
                .await
                .body["balance_minor"],
            4999
        );
        balanced(&t).await;
    }
}

/// A web pickup order at Lyon for `customer`, paid with a store credit and a card.
async fn pickup_paid_with_credit(t: &TestApp, customer: &Value, sku: &str, credit: &str) -> Reply {
    let basket = t
        .post(
            "/v1/carts",
            &t.web,
            json!({"customer_id": customer, "lines": [{"sku": sku, "quantity": 1}]}),
        )
        .await
        .body;
    checkout(
        t,
        &t.web,
        basket["id"].as_str().unwrap(),
        json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa", "store_credit_id": credit}}),
    )
    .await
}

/// Checkout is a use case of `app`: driven here without HTTP, on a cart the web made.
#[tokio::test]
async fn checkout_runs_without_http() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let basket = cart(&t, &t.web, json!([{"sku": "TR-42", "quantity": 2}])).await;
        let web = app::Principal {
            key_id: "key_web".into(),
            scopes: vec![app::Scope::Channel("web".into())],
        };
        let reference = app::reference::Reference::new(t.db.db.clone());
        let payments = orders::payment::TestProvider::default();
        let cx = app::checkout::Context {
            db: &t.db.db,
            reference: &reference,
            payments: &payments,
            hold_ttls: inventory::HoldTtls::default(),
        };
        let request = app::checkout::CheckoutRequest {
            mode: orders::FulfilmentMode::Pickup,
            location: Some("LYS-BELLECOUR".into()),
            payment: Some(app::checkout::PaymentChoice {
                method: None,
                token: Some("tok_visa".into()),
                store_credit_id: None,
                gift_card: None,
                points: None,
            }),
            ship_to: None,
            shipping_method: None,
            customer_id: None,
            lines: None,
            coupons: Vec::new(),
        };
        let placed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = placed.clone();
        let id = basket["id"].as_str().unwrap();
        app::checkout::checkout(&cx, &web, id, request, None, move |orders| {
            *seen.lock().unwrap() = orders;
            store::StoredResponse {
                status: 201,
                body: String::new(),
                replayed: false,
            }
        })
        .await
        .map(|(answer, _)| answer)
        .unwrap();
        let orders = placed.lock().unwrap().clone();
        assert_eq!(orders.len(), 1, "{}", t.name());
        assert_eq!(
            (orders[0].channel.as_str(), orders[0].total_minor),
            ("web", 2 * 4999)
        );
        assert_eq!(atp(&t, "TR-42", "LYS-BELLECOUR").await, 1);
        balanced(&t).await;
    }
}

/// The local inventory feed over HTTP: a channel's own (or any, for staff), as TSV, also to
/// a fetcher that sends the key as a Basic password.
#[tokio::test]
async fn the_local_inventory_feed_is_served_to_its_channel() {
    let t = TestApp::on(testkit::sqlite().await).await;
    shop(&t).await;
    let feed = t
        .raw(
            axum::http::Request::get("/v1/feeds/local-inventory")
                .header("authorization", format!("Bearer {}", t.web))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(
        feed.headers["content-type"],
        "text/tab-separated-values; charset=utf-8"
    );
    let text = feed.body.as_str().unwrap().to_owned();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("store code\tid\tquantity")
    );
    let row = lines
        .find(|l| l.starts_with("LYS-BELLECOUR\tTR-42\t"))
        .expect("a row");
    assert!(row.contains("\t3\t") && row.contains("49.99 EUR"), "{row}");
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("merchant-center:{}", t.admin),
    );
    let fetched = t
        .raw(
            axum::http::Request::get("/v1/feeds/local-inventory?channel=web")
                .header("authorization", format!("Basic {basic}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, feed.body);
    let other = t.get("/v1/feeds/local-inventory?channel=app", &t.web).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let store = t
        .get("/v1/feeds/local-inventory?channel=web", &t.store)
        .await;
    assert_eq!(store.status, StatusCode::FORBIDDEN);
}
