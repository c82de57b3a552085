//! Stock: the ledger, ATP and holds — and never selling the last units twice.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, product_body, store_body};

async fn setup(t: &TestApp) {
    // The channel the web key speaks for: its holds and views follow its sourcing policy.
    t.created(
        "/v1/channels",
        json!({"code": "web", "kind": "web", "name": "Web shop"}),
    )
    .await;
    t.two_stores().await;
    t.created("/v1/products", product_body("TR", &["42"])).await;
}

async fn receive(t: &TestApp, location: &str, quantity: i64) -> Value {
    t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": location, "kind": "receipt", "quantity": quantity, "reason": "delivery"})).await
}

async fn balanced(t: &TestApp) {
    let wrong = store::stock::unbalanced(&t.db.db).await.unwrap();
    assert!(
        wrong.is_empty(),
        "{}: the ledger does not balance: {wrong:?}",
        t.name()
    );
}

#[tokio::test]
async fn ledger_holds_and_availability() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let got = receive(&t, "LYS-BELLECOUR", 10).await;
        assert_eq!(got["level"]["atp"], 10);
        let safety = t
            .put(
                "/v1/locations/LYS-BELLECOUR/stock/TR-42/safety",
                &t.admin,
                json!({"quantity": 2}),
            )
            .await;
        assert_eq!(safety.body["atp"], 8, "{}", safety.body);

        // A web cart holds 3; a reservation 5; a third hold for 1 more is refused with what is left.
        let cart = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 3, "purpose": "cart", "owner_ref": "cart_1"})).await;
        assert_eq!(cart.status, StatusCode::CREATED, "{}", cart.body);
        let reserve = t.post("/v1/holds", &t.store, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 5, "purpose": "reserve", "owner_ref": "res_1"})).await;
        assert_eq!(reserve.status, StatusCode::CREATED, "{}", reserve.body);
        let too_many = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "cart", "owner_ref": "cart_2"})).await;
        assert_eq!(
            (too_many.status, too_many.code()),
            (StatusCode::CONFLICT, "insufficient_stock")
        );
        assert_eq!(too_many.body["error"]["details"]["available"], 0);

        // Every channel sees the same availability; only the store's own key sees the books.
        let web_view = t.get("/v1/variants/TR-42/availability", &t.web).await;
        assert_eq!(web_view.body["data"][0]["atp"], 0);
        assert!(web_view.body["data"][0].get("on_hand").is_none());
        let store_view = t.get("/v1/locations/LYS-BELLECOUR/stock", &t.store).await;
        assert_eq!(
            (
                store_view.body["data"][0]["on_hand"].as_i64(),
                store_view.body["data"][0]["held"].as_i64()
            ),
            (Some(10), Some(8))
        );

        // Partial commit: 2 of the cart's 3 are sold, 1 goes back.
        let cart_id = cart.body["id"].as_str().unwrap();
        let committed = t
            .post(
                &format!("/v1/holds/{cart_id}/commit"),
                &t.web,
                json!({"quantity": 2}),
            )
            .await;
        assert_eq!(
            (
                committed.body["status"].as_str(),
                committed.body["committed_quantity"].as_i64()
            ),
            (Some("committed"), Some(2)),
            "{}",
            committed.body
        );
        let again = t
            .post(&format!("/v1/holds/{cart_id}/release"), &t.web, json!({}))
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "conflict")
        );
        let res_id = reserve.body["id"].as_str().unwrap();
        assert_eq!(
            t.post(&format!("/v1/holds/{res_id}/release"), &t.store, json!({}))
                .await
                .body["status"],
            "released"
        );
        let level = t.get("/v1/locations/LYS-BELLECOUR/stock", &t.admin).await;
        assert_eq!(
            level.body["data"][0],
            json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "atp": 6, "on_hand": 8, "held": 0, "safety": 2})
        );

        // The ledger: receipt +10, sale −2; a count records the difference it found.
        let count = t.post("/v1/stock/movements", &t.store, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "count", "quantity": 7, "reason": "monthly count"})).await;
        assert_eq!(count.body["movement"]["delta"], -1, "{}", count.body);
        let ledger = t
            .get(
                "/v1/stock/movements?sku=TR-42&location=LYS-BELLECOUR",
                &t.store,
            )
            .await;
        let deltas: Vec<i64> = ledger.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["delta"].as_i64().unwrap())
            .collect();
        assert_eq!(deltas, [10, -2, -1]);

        // Scopes: a store key moves and holds stock at its own store only.
        let elsewhere = t.post("/v1/stock/movements", &t.store, json!({"sku": "TR-42", "location": "PAR-RIVOLI", "kind": "receipt", "quantity": 1, "reason": "x"})).await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
        let web_moves = t.post("/v1/stock/movements", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 1, "reason": "x"})).await;
        assert_eq!(web_moves.status, StatusCode::FORBIDDEN);
        let hold_elsewhere = t.post("/v1/holds", &t.store, json!({"sku": "TR-42", "location": "PAR-RIVOLI", "quantity": 1, "purpose": "cart", "owner_ref": "c"})).await;
        assert_eq!(hold_elsewhere.status, StatusCode::FORBIDDEN);
        // Selling below what is held, or an unknown place, is refused and changes nothing.
        let unknown = t.post("/v1/stock/movements", &t.admin, json!({"sku": "TR-42", "location": "NOWHERE", "kind": "receipt", "quantity": 1, "reason": "x"})).await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
        );
        let ghost = t.post("/v1/holds", &t.web, json!({"sku": "GHOST", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "cart", "owner_ref": "c"})).await;
        assert_eq!(
            (
                ghost.status,
                ghost.code(),
                ghost.body["error"]["details"]["field"].as_str()
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                Some("sku")
            )
        );
        let nowhere = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "NOWHERE", "quantity": 1, "purpose": "cart", "owner_ref": "c"})).await;
        assert_eq!(
            (nowhere.status, nowhere.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
        );
        let negative = t.post("/v1/stock/movements", &t.admin, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": -4, "reason": "x"})).await;
        assert_eq!(
            (negative.status, negative.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 4, "purpose": "pickup", "owner_ref": "ord_1"})).await;
        let oversell = t.post("/v1/stock/movements", &t.admin, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "sale", "quantity": 4, "reason": "till"})).await;
        assert_eq!(
            (oversell.status, oversell.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{}",
            oversell.body
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn a_movement_with_an_idempotency_key_is_recorded_once() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let body = json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 5, "reason": "delivery 881"});
        for _ in 0..3 {
            let r = t
                .send(
                    axum::http::Method::POST,
                    "/v1/stock/movements",
                    &t.admin,
                    Some(body.clone()),
                    Some("delivery-881"),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        assert_eq!(
            t.get("/v1/variants/TR-42/availability", &t.admin)
                .await
                .body["data"][0]["on_hand"],
            5
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn two_hundred_buyers_for_the_last_fifty_units() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        receive(&t, "LYS-BELLECOUR", 50).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let app = t.app.clone();
            // Several channels at once: the web shop, the store's own POS, and service agents.
            let key = [&t.web, &t.store, &t.service][i % 3].clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "cart", "owner_ref": format!("cart_{i}")});
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri("/v1/holds")
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap();
                let r = tower::ServiceExt::oneshot(app, req).await.unwrap();
                let status = r.status();
                let bytes = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }));
        }
        let mut won = 0;
        let mut refused = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => won += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(body["error"]["code"], "insufficient_stock");
                    refused += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!((won, refused), (50, 150), "{}", t.name());
        let level = t.get("/v1/locations/LYS-BELLECOUR/stock", &t.admin).await;
        assert_eq!(
            (
                level.body["data"][0]["held"].as_i64(),
                level.body["data"][0]["atp"].as_i64()
            ),
            (Some(50), Some(0))
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn expired_holds_give_their_stock_back_once() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        receive(&t, "LYS-BELLECOUR", 3).await;
        let h = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 2, "purpose": "reserve", "owner_ref": "res_9", "ttl_s": 1})).await;
        let id = h.body["id"].as_str().unwrap().to_owned();
        // Not due yet: nothing expires.
        let now = kernel::Timestamp::now();
        assert_eq!(
            t.db.db
                .write(move |c| Box::pin(store::stock::expire_due(c, now, 100)))
                .await
                .unwrap(),
            0
        );
        let later = kernel::Timestamp::from_unix_ms(now.unix_ms() + 1500);
        assert_eq!(
            t.db.db
                .write(move |c| Box::pin(store::stock::expire_due(c, later, 100)))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            t.db.db
                .write(move |c| Box::pin(store::stock::expire_due(c, later, 100)))
                .await
                .unwrap(),
            0
        );
        let hold = t.get(&format!("/v1/holds/{id}"), &t.web).await;
        assert_eq!(hold.body["status"], "expired");
        let commit = t
            .post(&format!("/v1/holds/{id}/commit"), &t.web, json!({}))
            .await;
        assert_eq!(commit.status, StatusCode::CONFLICT);
        assert_eq!(
            t.get("/v1/variants/TR-42/availability", &t.web).await.body["data"][0]["atp"],
            3
        );
        balanced(&t).await;
    }
}

#[tokio::test]
async fn holds_live_as_long_as_the_retailer_configured() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    receive(&t, "LYS-BELLECOUR", 5).await;
    let ttls = inventory::HoldTtls {
        reserve_s: 24 * 3600,
        ..Default::default()
    };
    let app =
        api::app(api::AppState::new(t.db.db.clone(), kernel::Currency::EUR).with_hold_ttls(ttls));
    let body = json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "reserve", "owner_ref": "res_1"});
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/holds")
        .header("authorization", format!("Bearer {}", t.web))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let r = tower::ServiceExt::oneshot(app, req).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let bytes = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    let hold: Value = serde_json::from_slice(&bytes).unwrap();
    let at = |f: &str| {
        kernel::Timestamp::parse(hold[f].as_str().unwrap())
            .unwrap()
            .unix_ms()
    };
    assert_eq!((at("expires_at") - at("created_at")) / 1000, 24 * 3600);
}

#[tokio::test]
async fn in_stock_near_me_with_pickup_promise() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let mut grenoble = store_body("GNB-VICTOR-HUGO", "Grenoble", 45.1889, 5.7245);
        grenoble["pickup_lead_min"] = json!(30);
        assert_eq!(
            t.post("/v1/locations", &t.admin, grenoble).await.status,
            StatusCode::CREATED
        );
        receive(&t, "LYS-BELLECOUR", 2).await;
        receive(&t, "GNB-VICTOR-HUGO", 1).await;
        receive(&t, "PAR-RIVOLI", 4).await;
        // From Lyon Part-Dieu, 150 km: Lyon then Grenoble; Paris is too far.
        let near = t.get("/v1/variants/TR-42/availability?near=45.7605,4.8597&radius_km=150&capability=pickup", &t.web).await;
        assert_eq!(near.status, StatusCode::OK, "{}", near.body);
        let data = near.body["data"].as_array().unwrap();
        let codes: Vec<&str> = data
            .iter()
            .map(|l| l["location"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["LYS-BELLECOUR", "GNB-VICTOR-HUGO"]);
        assert!(
            data[0]["distance_km"].as_f64().unwrap() < data[1]["distance_km"].as_f64().unwrap()
        );
        for l in data {
            let ready = kernel::Timestamp::parse(l["pickup_ready_by"].as_str().unwrap()).unwrap();
            assert!(ready > kernel::Timestamp::now(), "{l}");
        }
        // Sold out in Grenoble: it drops out of "in stock" and loses its pickup promise.
        t.post("/v1/stock/movements", &t.admin, json!({"sku": "TR-42", "location": "GNB-VICTOR-HUGO", "kind": "sale", "quantity": 1, "reason": "till"})).await;
        let in_stock = t
            .get(
                "/v1/variants/TR-42/availability?near=45.7605,4.8597&radius_km=150&in_stock=true",
                &t.web,
            )
            .await;
        assert_eq!(in_stock.body["data"].as_array().unwrap().len(), 1);
        let all = t
            .get(
                "/v1/variants/TR-42/availability?near=45.7605,4.8597&radius_km=150",
                &t.web,
            )
            .await;
        assert!(
            all.body["data"][1].get("pickup_ready_by").is_none(),
            "{}",
            all.body
        );
        let bad = t
            .get("/v1/variants/TR-42/availability?radius_km=5", &t.web)
            .await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
    }
}

#[tokio::test]
async fn transfers_leave_now_and_arrive_once() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        receive(&t, "PAR-RIVOLI", 10).await;
        let body = json!({"sku": "TR-42", "from_location": "PAR-RIVOLI", "to_location": "LYS-BELLECOUR", "quantity": 3, "reference": "BL-7781"});
        // The destination store may not ship from another store's stock.
        assert_eq!(
            t.post("/v1/transfers", &t.store, body.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        let shipped = t.post("/v1/transfers", &t.admin, body).await;
        assert_eq!(
            (shipped.status, shipped.body["status"].as_str()),
            (StatusCode::CREATED, Some("in_transit")),
            "{}",
            shipped.body
        );
        let id = shipped.body["id"].as_str().unwrap().to_owned();

        // In transit: gone from Paris, shown but not promised in Lyon.
        let view = t.get("/v1/variants/TR-42/availability", &t.admin).await;
        let at = |code: &str| {
            view.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["location"] == code)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(at("PAR-RIVOLI")["on_hand"], 7);
        let hold = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "cart", "owner_ref": "c"})).await;
        assert_eq!(hold.code(), "insufficient_stock", "{}", hold.body);

        // Lyon sees it arriving; Paris sees it leaving; a bad filter is a 400.
        let arriving = t
            .get(
                "/v1/transfers?location=LYS-BELLECOUR&direction=inbound&status=in_transit",
                &t.store,
            )
            .await;
        assert_eq!(
            arriving.body["data"][0]["id"],
            id.as_str(),
            "{}",
            arriving.body
        );
        let leaving = t
            .get(
                "/v1/transfers?location=LYS-BELLECOUR&direction=outbound",
                &t.store,
            )
            .await;
        assert_eq!(leaving.body["data"].as_array().map(Vec::len), Some(0));
        let sent = t.get("/v1/transfers?location=PAR-RIVOLI", &t.admin).await;
        assert_eq!(sent.body["data"][0]["to_location"], "LYS-BELLECOUR");
        let bad = t
            .get("/v1/transfers?location=LYS-BELLECOUR&status=lost", &t.store)
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

        // The destination store receives it, once.
        let received = t
            .post(&format!("/v1/transfers/{id}/receive"), &t.store, json!({}))
            .await;
        assert_eq!(received.body["status"], "received", "{}", received.body);
        let twice = t
            .post(&format!("/v1/transfers/{id}/receive"), &t.store, json!({}))
            .await;
        assert_eq!(
            (twice.status, twice.code()),
            (StatusCode::CONFLICT, "conflict")
        );
        let view = t.get("/v1/variants/TR-42/availability", &t.admin).await;
        let lyon = view.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["location"] == "LYS-BELLECOUR")
            .cloned()
            .unwrap();
        assert_eq!(
            (lyon["on_hand"].as_i64(), lyon.get("in_transit")),
            (Some(3), None)
        );
        let to_receive = t
            .get(
                "/v1/transfers?location=LYS-BELLECOUR&status=in_transit",
                &t.store,
            )
            .await;
        assert_eq!(to_receive.body["data"].as_array().map(Vec::len), Some(0));

        // Shipping more than is free at the source is refused and changes nothing.
        let too_much = t.post("/v1/transfers", &t.admin, json!({"sku": "TR-42", "from_location": "PAR-RIVOLI", "to_location": "LYS-BELLECOUR", "quantity": 8})).await;
        assert_eq!(too_much.status, StatusCode::CONFLICT, "{}", too_much.body);
        let to_self = t.post("/v1/transfers", &t.admin, json!({"sku": "TR-42", "from_location": "PAR-RIVOLI", "to_location": "PAR-RIVOLI", "quantity": 1})).await;
        assert_eq!(to_self.status, StatusCode::UNPROCESSABLE_ENTITY);
        balanced(&t).await;
    }
}

#[tokio::test]
async fn in_transit_units_are_shown_at_the_destination() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    receive(&t, "PAR-RIVOLI", 5).await;
    receive(&t, "LYS-BELLECOUR", 1).await;
    t.post("/v1/transfers", &t.admin, json!({"sku": "TR-42", "from_location": "PAR-RIVOLI", "to_location": "LYS-BELLECOUR", "quantity": 2})).await;
    let view = t.get("/v1/variants/TR-42/availability", &t.web).await;
    let lyon = view.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["location"] == "LYS-BELLECOUR")
        .cloned()
        .unwrap();
    assert_eq!(
        (lyon["atp"].as_i64(), lyon["in_transit"].as_i64()),
        (Some(1), Some(2))
    );
}

/// Availability answers are kept until the next commit: a read right after a write sees it,
/// and keys that see different books never share an answer.
#[tokio::test]
async fn cached_availability_never_hides_a_write_or_mixes_views() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        receive(&t, "LYS-BELLECOUR", 5).await;
        receive(&t, "PAR-RIVOLI", 4).await;
        let path = "/v1/variants/TR-42/availability";
        for _ in 0..3 {
            let admin = t.get(path, &t.admin).await;
            assert_eq!(admin.body["data"][0]["on_hand"], 5, "{}", admin.body);
            let store = t.get(path, &t.store).await;
            let books: Vec<bool> = store.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.get("on_hand").is_some())
                .collect();
            // The Lyon key sees Lyon's books, not Paris's.
            assert_eq!(books, [true, false], "{}", store.body);
            let web = t.get(path, &t.web).await;
            assert!(web.body["data"][0].get("on_hand").is_none());
        }
        for n in 1..=3 {
            let hold = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "cart", "owner_ref": format!("cart_{n}")})).await;
            assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
            let after = t.get(path, &t.web).await;
            assert_eq!(
                after.body["data"][0]["atp"],
                5 - n,
                "{}: read after hold {n}",
                t.name()
            );
        }
    }
}

/// A change made through another node (or another process on the SQLite file) reaches this
/// node's cached availability once its feed has seen it, well within a second.
#[tokio::test]
async fn cached_availability_follows_changes_made_elsewhere() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        receive(&t, "LYS-BELLECOUR", 5).await;
        let other = t.second_node().await;
        let path = "/v1/variants/TR-42/availability";
        let atp = |body: &Value| body["data"][0]["atp"].as_i64().unwrap();
        assert_eq!(atp(&t.get(path, &t.admin).await.body), 5);
        assert_eq!(
            atp(&t.get(path, &t.admin).await.body),
            5,
            "served again, cached"
        );
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/stock/movements")
            .header("authorization", format!("Bearer {}", t.admin))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 2, "reason": "delivery"}).to_string(),
            ))
            .unwrap();
        let status = tower::ServiceExt::oneshot(other, req)
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::CREATED);
        let started = std::time::Instant::now();
        loop {
            if atp(&t.get(path, &t.admin).await.body) == 7 {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_millis(900),
                "{}: the other node's receipt is not visible after {:?}",
                t.name(),
                started.elapsed()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
