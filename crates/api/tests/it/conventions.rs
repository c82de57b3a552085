//! The conventions every route follows: errors, idempotency, scopes, OpenAPI, operations.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, product_body, store_body};

async fn counts(t: &TestApp) -> (usize, i64) {
    let products = t.get("/v1/products?limit=500", &t.admin).await.body["data"]
        .as_array()
        .unwrap()
        .len();
    (products, t.events().await)
}

fn raw_post(path: &str, key: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn bad_inputs_get_a_clear_4xx_and_change_nothing() {
    for t in TestApp::every_backend().await {
        assert_eq!(
            t.post("/v1/products", &t.admin, product_body("OK", &["1"]))
                .await
                .status,
            StatusCode::CREATED
        );
        assert_eq!(
            t.post(
                "/v1/locations",
                &t.admin,
                store_body("LYS-BELLECOUR", "Lyon", 45.75, 4.83)
            )
            .await
            .status,
            StatusCode::CREATED
        );
        let before = counts(&t).await;
        let key = t.admin.clone();

        let mut unknown_field = product_body("X", &["1"]);
        unknown_field["colour_name"] = json!("red");
        let mut missing = product_body("X", &["1"]);
        missing.as_object_mut().unwrap().remove("variants");
        let mut bad_gtin = product_body("X", &["1"]);
        bad_gtin["variants"][0]["gtin"] = json!("4006381333932");
        let mut bad_sku = product_body("X", &["1"]);
        bad_sku["variants"][0]["sku"] = json!("has space");
        let mut far_north = store_body("NORTH", "Nowhere", 91.0, 0.0);
        far_north["code"] = json!("NORTH");
        let mut bad_kind = store_body("SHOP", "Lyon", 45.0, 4.0);
        bad_kind["kind"] = json!("shop");
        let mut bad_tz = store_body("TZ", "Lyon", 45.0, 4.0);
        bad_tz["time_zone"] = json!("Europe/Lyon");
        let mut bad_hours = store_body("HOURS", "Lyon", 45.0, 4.0);
        bad_hours["opening_hours"] = json!({"mon": [{"opens": "19:00", "closes": "10:00"}]});

        let cases: Vec<(&str, Request<Body>)> = vec![
            ("malformed json", raw_post("/v1/products", &key, "application/json", "{\"title\": ")),
            ("trailing garbage", raw_post("/v1/products", &key, "application/json", format!("{} x", product_body("X", &["1"])))),
            ("unknown field", raw_post("/v1/products", &key, "application/json", unknown_field.to_string())),
            ("missing field", raw_post("/v1/products", &key, "application/json", missing.to_string())),
            ("wrong type", raw_post("/v1/products", &key, "application/json", json!({"title": 12, "category": "x", "variants": []}).to_string())),
            ("gtin check digit", raw_post("/v1/products", &key, "application/json", bad_gtin.to_string())),
            ("sku characters", raw_post("/v1/products", &key, "application/json", bad_sku.to_string())),
            ("not json content type", raw_post("/v1/products", &key, "text/plain", product_body("X", &["1"]).to_string())),
            ("body too large", raw_post("/v1/products", &key, "application/json", vec![b' '; 2 * 1024 * 1024])),
            ("latitude out of range", raw_post("/v1/locations", &key, "application/json", far_north.to_string())),
            ("unknown enum value", raw_post("/v1/locations", &key, "application/json", bad_kind.to_string())),
            ("unknown time zone", raw_post("/v1/locations", &key, "application/json", bad_tz.to_string())),
            ("closing before opening", raw_post("/v1/locations", &key, "application/json", bad_hours.to_string())),
            ("duplicate location", raw_post("/v1/locations", &key, "application/json", store_body("LYS-BELLECOUR", "Lyon", 45.0, 4.0).to_string())),
            ("unknown store for a kiosk", raw_post("/v1/channels", &key, "application/json", json!({"code": "kiosk-x", "kind": "kiosk", "name": "K", "location_code": "NOWHERE"}).to_string())),
            ("fractional money", Request::builder().method(Method::PUT).uri("/v1/variants/OK-1/prices/EUR").header("authorization", format!("Bearer {key}")).header("content-type", "application/json").body(Body::from("{\"amount_minor\": 595.0}")).unwrap()),
            ("negative money", Request::builder().method(Method::PUT).uri("/v1/variants/OK-1/prices/EUR").header("authorization", format!("Bearer {key}")).header("content-type", "application/json").body(Body::from("{\"amount_minor\": -5}")).unwrap()),
            ("money as a string", Request::builder().method(Method::PUT).uri("/v1/variants/OK-1/prices/EUR").header("authorization", format!("Bearer {key}")).header("content-type", "application/json").body(Body::from("{\"amount_minor\": \"5\"}")).unwrap()),
            ("unknown currency", Request::builder().method(Method::PUT).uri("/v1/variants/OK-1/prices/XXX").header("authorization", format!("Bearer {key}")).header("content-type", "application/json").body(Body::from("{\"amount_minor\": 5}")).unwrap()),
            ("empty patch", Request::builder().method(Method::PATCH).uri("/v1/locations/LYS-BELLECOUR").header("authorization", format!("Bearer {key}")).header("content-type", "application/json").body(Body::from("{}")).unwrap()),
            ("bad idempotency key", Request::builder().method(Method::POST).uri("/v1/products").header("authorization", format!("Bearer {key}")).header("idempotency-key", "x".repeat(300)).header("content-type", "application/json").body(Body::from(product_body("X", &["1"]).to_string())).unwrap()),
            ("limit out of range", Request::builder().uri("/v1/products?limit=0").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("limit not a number", Request::builder().uri("/v1/products?limit=ten").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("unknown query parameter", Request::builder().uri("/v1/products?colour=red").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("forged cursor", Request::builder().uri("/v1/products?cursor=bm9wZQ").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("path not utf-8", Request::builder().uri("/v1/products/%FF%FE").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("unknown product", Request::builder().uri("/v1/products/prd_nope").header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap()),
            ("no api key", Request::builder().uri("/v1/products").body(Body::empty()).unwrap()),
            ("unknown api key", Request::builder().uri("/v1/products").header("authorization", "Bearer rls_nope").body(Body::empty()).unwrap()),
            ("unknown route", Request::builder().uri("/v1/nothing-here").body(Body::empty()).unwrap()),
            ("wrong method", Request::builder().method(Method::DELETE).uri("/v1/products").body(Body::empty()).unwrap()),
        ];
        let mut table = Vec::new();
        for (name, req) in cases {
            let r = t.raw(req).await;
            assert!(
                r.status.is_client_error(),
                "{name}: {} {}",
                r.status,
                r.body
            );
            let code = r.code().to_owned();
            let status = kernel::ErrorCode::ALL
                .iter()
                .find(|c| c.as_str() == code)
                .map(|c| c.http_status());
            assert_eq!(
                status,
                Some(r.status.as_u16()),
                "{name}: the code `{code}` and the status agree"
            );
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{name}"
            );
            assert!(r.body["error"]["details"].is_object(), "{name}");
            table.push(json!({"case": name, "status": r.status.as_u16(), "code": code, "details": r.body["error"]["details"]}));
        }
        assert_eq!(
            counts(&t).await,
            before,
            "{}: a rejected request wrote something",
            t.name()
        );
        insta::assert_json_snapshot!("bad_inputs", table);
    }
}

#[tokio::test]
async fn retries_with_an_idempotency_key_happen_once() {
    for t in TestApp::every_backend().await {
        let events_before = t.events().await;
        let body = product_body("IDEM", &["1", "2"]);
        let first = t
            .send(
                Method::POST,
                "/v1/products",
                &t.admin,
                Some(body.clone()),
                Some("create-idem-1"),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let retry = t
            .send(
                Method::POST,
                "/v1/products",
                &t.admin,
                Some(body.clone()),
                Some("create-idem-1"),
            )
            .await;
        assert_eq!(retry.status, StatusCode::CREATED);
        assert_eq!(retry.body, first.body);
        assert_eq!(retry.headers.get("idempotent-replayed").unwrap(), "true");

        let other_body = product_body("IDEM2", &["1"]);
        let reused = t
            .send(
                Method::POST,
                "/v1/products",
                &t.admin,
                Some(other_body),
                Some("create-idem-1"),
            )
            .await;
        assert_eq!(
            (reused.status, reused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
        );

        // Many simultaneous retries of one price change: one effect, one answer.
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let app = t.app.clone();
            let key = t.admin.clone();
            tasks.push(tokio::spawn(async move {
                let req = Request::builder()
                    .method(Method::PUT)
                    .uri("/v1/variants/IDEM-1/prices/EUR")
                    .header("authorization", format!("Bearer {key}"))
                    .header("idempotency-key", "price-1")
                    .header("content-type", "application/json")
                    .body(Body::from("{\"amount_minor\": 4200}"))
                    .unwrap();
                let r = tower::ServiceExt::oneshot(app, req).await.unwrap();
                let status = r.status();
                let bytes = http_body_util::BodyExt::collect(r.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        assert_eq!(answers[0].0, StatusCode::OK);
        let price_events = t.get("/v1/outbox?type=relais.price.set", &t.admin).await;
        assert_eq!(
            price_events.body["data"].as_array().unwrap().len(),
            1,
            "{}",
            t.name()
        );
        assert_eq!(t.events().await - events_before, 2);
    }
}

#[tokio::test]
async fn keys_stay_inside_their_scopes() {
    for t in TestApp::every_backend().await {
        t.post("/v1/products", &t.admin, product_body("S", &["1"]))
            .await;
        // A store key cannot change the catalogue, prices or locations, even with a broken body.
        for (method, path, body) in [
            (
                Method::POST,
                "/v1/products",
                Some(product_body("S2", &["1"])),
            ),
            (
                Method::POST,
                "/v1/products",
                Some(json!("not even an object")),
            ),
            (
                Method::PATCH,
                "/v1/variants/S-1",
                Some(json!({"title": "x"})),
            ),
            (
                Method::PUT,
                "/v1/variants/S-1/prices/EUR",
                Some(json!({"amount_minor": 1})),
            ),
            (
                Method::POST,
                "/v1/locations",
                Some(store_body("X1", "Lyon", 45.0, 4.0)),
            ),
        ] {
            for key in [&t.store, &t.web, &t.service] {
                let r = t.send(method.clone(), path, key, body.clone(), None).await;
                assert_eq!(
                    (r.status, r.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{method} {path}"
                );
            }
        }
        // A channel key cannot read admin routes.
        for path in ["/v1/api-keys", "/v1/outbox", "/v1/reports/price-parity"] {
            for key in [&t.web, &t.store, &t.service] {
                let r = t.get(path, key).await;
                assert_eq!(
                    (r.status, r.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{path}"
                );
            }
            assert_eq!(t.get(path, &t.admin).await.status, StatusCode::OK, "{path}");
        }
        // Admins mint and revoke keys; a revoked key stops working at once.
        let created = t
            .post(
                "/v1/api-keys",
                &t.admin,
                json!({"name": "Kiosk Lyon", "scopes": ["store:LYS-BELLECOUR"]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let token = created.body["token"].as_str().unwrap().to_owned();
        assert_eq!(t.get("/v1/products", &token).await.status, StatusCode::OK);
        let id = created.body["id"].as_str().unwrap();
        let revoked = t
            .send(
                Method::DELETE,
                &format!("/v1/api-keys/{id}"),
                &t.admin,
                None,
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
        let r = t.get("/v1/products", &token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        let listed = t.get("/v1/api-keys", &t.admin).await;
        assert!(
            listed.body.to_string().find(&token).is_none(),
            "tokens are never listed"
        );
        let bad_scope = t
            .post(
                "/v1/api-keys",
                &t.admin,
                json!({"name": "x", "scopes": ["root"]}),
            )
            .await;
        assert_eq!(
            (bad_scope.status, bad_scope.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
    }
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let t = TestApp::on(testkit::sqlite().await).await;
    let doc = t
        .raw(
            Request::builder()
                .uri("/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("/v1/products", "get"),
        ("/v1/products", "post"),
        ("/v1/products/{id}", "get"),
        ("/v1/products/{id}", "patch"),
        ("/v1/products/{id}/variants", "post"),
        ("/v1/variants", "get"),
        ("/v1/variants/{sku}", "get"),
        ("/v1/variants/{sku}", "patch"),
        ("/v1/categories", "get"),
        ("/v1/locations", "get"),
        ("/v1/locations", "post"),
        ("/v1/locations/{code}", "get"),
        ("/v1/locations/{code}", "patch"),
        ("/v1/channels", "get"),
        ("/v1/channels", "post"),
        ("/v1/channels/{code}", "get"),
        ("/v1/variants/{sku}/prices", "get"),
        ("/v1/variants/{sku}/prices/{currency}", "put"),
        (
            "/v1/variants/{sku}/prices/{currency}/overrides/{channel}",
            "put",
        ),
        (
            "/v1/variants/{sku}/prices/{currency}/overrides/{channel}",
            "delete",
        ),
        ("/v1/variants/{sku}/price", "get"),
        ("/v1/variants/{sku}/price/channels", "get"),
        ("/v1/reports/price-parity", "get"),
        ("/v1/api-keys", "get"),
        ("/v1/api-keys", "post"),
        ("/v1/api-keys/{id}", "delete"),
        ("/v1/outbox", "get"),
        ("/v1/event-types", "get"),
        ("/v1/feeds/local-inventory", "get"),
        ("/v1/event-types/{type}", "get"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
        ("/v1/stock/movements", "get"),
        ("/v1/stock/movements", "post"),
        ("/v1/locations/{code}/stock/{sku}/safety", "put"),
        ("/v1/variants/{sku}/availability", "get"),
        ("/v1/locations/{code}/stock", "get"),
        ("/v1/holds", "post"),
        ("/v1/holds/{id}", "get"),
        ("/v1/holds/{id}/commit", "post"),
        ("/v1/holds/{id}/release", "post"),
        ("/v1/transfers", "post"),
        ("/v1/transfers", "get"),
        ("/v1/transfers/{id}", "get"),
        ("/v1/transfers/{id}/receive", "post"),
        ("/v1/channels/{code}/sourcing", "get"),
        ("/v1/channels/{code}/sourcing", "put"),
        ("/v1/stream/availability", "get"),
        ("/v1/customers", "get"),
        ("/v1/customers", "post"),
        ("/v1/customers/{id}", "get"),
        ("/v1/customers/{id}", "patch"),
        ("/v1/customers/identify", "post"),
        ("/v1/customers/{id}/identities", "post"),
        ("/v1/customers/{id}/lineage", "get"),
        ("/v1/customers/{id}/timeline", "get"),
        ("/v1/customers/{id}/consents", "get"),
        ("/v1/customers/{id}/consents", "post"),
        ("/v1/customers/{id}/consents/check", "get"),
        ("/v1/customers/{id}/interactions", "get"),
        ("/v1/customers/{id}/interactions", "post"),
        ("/v1/customers/{id}/export", "get"),
        ("/v1/customers/{id}/erasure", "post"),
        ("/v1/merge-reviews", "get"),
        ("/v1/merge-reviews/{id}/decision", "post"),
        ("/v1/events", "post"),
        ("/v1/events/resolution", "get"),
        ("/v1/events/set-aside", "get"),
        ("/v1/events/set-aside/{seq}/retry", "post"),
        ("/v1/segments", "get"),
        ("/v1/segments", "post"),
        ("/v1/segments/{code}", "get"),
        ("/v1/segments/{code}/members", "get"),
        ("/v1/customers/{id}/segments", "get"),
        ("/v1/tax-tables", "get"),
        ("/v1/tax-tables/{country}", "get"),
        ("/v1/tax-tables/{country}", "put"),
        ("/v1/shipping-methods", "get"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks/{id}", "get"),
        ("/v1/webhooks/{id}", "patch"),
        ("/v1/webhooks/{id}/rotate-secret", "post"),
        ("/v1/webhooks/{id}/deliveries", "get"),
        ("/v1/webhooks/{id}/deliveries/{seq}/replay", "post"),
        ("/v1/webhooks/{id}/replay", "post"),
        ("/v1/shipping-methods/{code}", "put"),
        ("/v1/carts/{id}/shipping-options", "get"),
        ("/v1/customers/{id}/addresses", "get"),
        ("/v1/customers/{id}/addresses", "post"),
        ("/v1/customers/{id}/addresses/{address_id}", "delete"),
        ("/v1/notification-rules", "get"),
        ("/v1/notification-rules/{rule}", "put"),
        ("/v1/notifications", "get"),
        ("/v1/customers/{id}/contact-preferences", "get"),
        ("/v1/customers/{id}/contact-preferences", "put"),
        ("/v1/customers/{id}/stock-alerts", "get"),
        ("/v1/customers/{id}/stock-alerts", "post"),
        ("/v1/customers/{id}/stock-alerts/{alert_id}", "delete"),
        ("/v1/customers/{id}/loyalty", "get"),
        ("/v1/customers/{id}/loyalty", "post"),
        ("/v1/customers/{id}/loyalty/adjustments", "post"),
        ("/v1/customers/{id}/loyalty/rewards", "post"),
        ("/v1/loyalty/programme", "get"),
        ("/v1/loyalty/programme", "put"),
        ("/v1/promotions", "get"),
        ("/v1/promotions", "post"),
        ("/v1/promotions/{id}", "get"),
        ("/v1/promotions/{id}", "patch"),
        ("/v1/promotions/{id}/coupons", "post"),
        ("/v1/promotions/{id}/coupons", "get"),
        ("/v1/coupons/{code}", "get"),
        ("/v1/coupons/{code}/issue", "post"),
        ("/v1/carts", "post"),
        ("/v1/carts/{id}", "get"),
        ("/v1/carts/{id}/lines/{sku}", "put"),
        ("/v1/carts/{id}/lines/{sku}", "delete"),
        ("/v1/carts/{id}/sign-in", "post"),
        ("/v1/carts/{id}/handoff", "post"),
        ("/v1/carts/claim", "post"),
        ("/v1/carts/{id}/checkout", "post"),
        ("/v1/customers/{id}/cart", "get"),
        ("/v1/customers/{id}/orders", "get"),
        ("/v1/orders", "get"),
        ("/v1/orders/{id}", "get"),
        ("/v1/orders/{id}/history", "get"),
        ("/v1/orders/{id}/{transition}", "post"),
        ("/v1/orders/{id}/returns", "get"),
        ("/v1/receipts/{token}", "get"),
        ("/v1/returns", "post"),
        ("/v1/reports/owners/{owner}/orders", "get"),
        ("/v1/store-credits/{id}", "get"),
        ("/v1/gift-cards/lookup", "post"),
        ("/v1/gift-cards/{id}", "get"),
        ("/v1/gift-cards/{id}/unblock", "post"),
        ("/v1/customers/{id}/store-credits", "post"),
        ("/v1/customers/{id}/store-credits", "get"),
        ("/v1/tills/{id}/batches", "post"),
        ("/v1/tills/{id}", "get"),
        ("/v1/locations/{code}/pos-conflicts", "get"),
        ("/v1/pos-conflicts/{id}/resolution", "post"),
        ("/v1/staff-users", "get"),
        ("/v1/staff-users", "post"),
        ("/v1/staff-users/{id}", "get"),
        ("/v1/staff-users/{id}", "patch"),
        ("/v1/reports/kpis", "get"),
    ];
    let described: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        described,
        expected.len(),
        "a route is described but not tested here, or the reverse"
    );
    for (path, method) in expected {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is missing");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        if ["post", "put", "patch"].contains(&method) {
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{method} {path} has no body schema"
            );
        }
        if path.starts_with("/v1") {
            assert!(
                op["security"].is_array(),
                "{method} {path} declares no security"
            );
        }
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    // Every schema reference resolves.
    let text = doc.body.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc.body["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

#[tokio::test]
async fn operations_endpoints_and_offline_docs() {
    let t = TestApp::on(testkit::sqlite().await).await;
    let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
    assert_eq!(t.raw(get("/health")).await.body["status"], "ok");
    assert_eq!(t.raw(get("/ready")).await.body["status"], "ready");
    t.get("/v1/products", &t.web).await;
    let metrics = t.raw(get("/metrics")).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("relais_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/v1/products\""));
    // Every family says what it is, and the process's own figures are there.
    assert!(
        text.contains("# HELP relais_http_requests_total HTTP requests answered"),
        "{text}"
    );
    for family in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_cpu_seconds_total",
        "relais_holds_overdue 0",
        "relais_customer_events_set_aside 0",
        "relais_hold_sweep_lag_seconds 0",
    ] {
        assert!(text.contains(family), "no {family} in {text}");
    }
    // The reference page and its script come from the binary itself.
    let docs = t.raw(get("/docs/")).await;
    assert_eq!(docs.status, StatusCode::OK);
    let html = docs.body.as_str().unwrap();
    assert!(!html.contains("cdn") && !html.contains("unpkg"), "{html}");
    let bundle = t.raw(get("/docs/swagger-ui-bundle.js")).await;
    assert_eq!(bundle.status, StatusCode::OK);
}
