//! One price on every channel unless an override with a reason exists.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{TestApp, product_body, store_body};

async fn setup(t: &TestApp) {
    t.post(
        "/v1/locations",
        &t.admin,
        store_body("LYS-BELLECOUR", "Lyon", 45.7578, 4.8320),
    )
    .await;
    for (code, kind, loc) in [
        ("web", "web", None),
        ("app", "app", None),
        ("marketplace", "marketplace", None),
        ("pos-lys", "pos", Some("LYS-BELLECOUR")),
        ("kiosk-lys-1", "kiosk", Some("LYS-BELLECOUR")),
    ] {
        let r = t
            .post(
                "/v1/channels",
                &t.admin,
                json!({"code": code, "kind": kind, "name": code, "location_code": loc}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(
        t.post("/v1/products", &t.admin, product_body("TR", &["42"]))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_same_price_everywhere_unless_explained() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let set = t
            .put(
                "/v1/variants/TR-42/prices/EUR",
                &t.admin,
                json!({"amount_minor": 8999}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}: {}", t.name(), set.body);
        assert_eq!(set.body["display"], "89.99 EUR");

        let all = t
            .get("/v1/variants/TR-42/price/channels?currency=EUR", &t.service)
            .await;
        let prices = all.body["data"].as_array().unwrap();
        assert_eq!(prices.len(), 5);
        for p in prices {
            assert_eq!(
                (p["amount_minor"].as_i64(), &p["override"]),
                (Some(8999), &serde_json::Value::Null),
                "{p}"
            );
        }

        let o = t
            .put(
                "/v1/variants/TR-42/prices/EUR/overrides/web",
                &t.admin,
                json!({"amount_minor": 7999, "reason": "Web exclusive: -10 € this week"}),
            )
            .await;
        assert_eq!(o.status, StatusCode::OK, "{}", o.body);
        let no_reason = t
            .put(
                "/v1/variants/TR-42/prices/EUR/overrides/app",
                &t.admin,
                json!({"amount_minor": 7999, "reason": " "}),
            )
            .await;
        assert_eq!(
            (no_reason.status, no_reason.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        let missing_reason = t
            .put(
                "/v1/variants/TR-42/prices/EUR/overrides/app",
                &t.admin,
                json!({"amount_minor": 7999}),
            )
            .await;
        assert_eq!(
            (missing_reason.status, missing_reason.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        );

        for channel in ["web", "app", "marketplace", "pos-lys", "kiosk-lys-1"] {
            let p = t
                .get(
                    &format!("/v1/variants/TR-42/price?channel={channel}"),
                    &t.store,
                )
                .await;
            assert_eq!(p.status, StatusCode::OK, "{}", p.body);
            assert_eq!(p.body["base_amount_minor"], 8999);
            if channel == "web" {
                assert_eq!(p.body["amount_minor"], 7999);
                assert_eq!(
                    p.body["override"]["reason"],
                    "Web exclusive: -10 € this week"
                );
            } else {
                assert_eq!(p.body["amount_minor"], 8999, "{channel}");
                assert!(p.body["override"].is_null());
            }
        }
        // A channel key asks for its own price without naming the channel.
        let own = t.get("/v1/variants/TR-42/price", &t.web).await;
        assert_eq!(
            (
                own.body["channel"].as_str(),
                own.body["amount_minor"].as_i64()
            ),
            (Some("web"), Some(7999))
        );

        let report = t.get("/v1/reports/price-parity", &t.admin).await;
        assert_eq!(report.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(report.body["data"][0]["difference_minor"], -1000);
        assert_eq!(
            report.body["data"][0]["reason"],
            "Web exclusive: -10 € this week"
        );

        let removed = t
            .send(
                Method::DELETE,
                "/v1/variants/TR-42/prices/EUR/overrides/web",
                &t.admin,
                None,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
        assert_eq!(
            t.get("/v1/variants/TR-42/price?channel=web", &t.web)
                .await
                .body["amount_minor"],
            8999
        );
        assert!(
            t.get("/v1/reports/price-parity", &t.admin).await.body["data"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn price_errors() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let unknown_sku = t
            .put(
                "/v1/variants/NOPE/prices/EUR",
                &t.admin,
                json!({"amount_minor": 100}),
            )
            .await;
        assert_eq!(
            (unknown_sku.status, unknown_sku.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let bad_currency = t
            .put(
                "/v1/variants/TR-42/prices/EURO",
                &t.admin,
                json!({"amount_minor": 100}),
            )
            .await;
        assert_eq!(
            (bad_currency.status, bad_currency.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        let no_base = t
            .put(
                "/v1/variants/TR-42/prices/EUR/overrides/web",
                &t.admin,
                json!({"amount_minor": 1, "reason": "Because"}),
            )
            .await;
        assert_eq!(
            (no_base.status, no_base.code()),
            (StatusCode::CONFLICT, "conflict")
        );
        t.put(
            "/v1/variants/TR-42/prices/EUR",
            &t.admin,
            json!({"amount_minor": 100}),
        )
        .await;
        let no_channel = t
            .put(
                "/v1/variants/TR-42/prices/EUR/overrides/fax",
                &t.admin,
                json!({"amount_minor": 1, "reason": "Because"}),
            )
            .await;
        assert_eq!(
            (no_channel.status, no_channel.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let no_price = t
            .get("/v1/variants/TR-42/price?channel=web&currency=USD", &t.web)
            .await;
        assert_eq!(
            (no_price.status, no_price.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let needs_channel = t.get("/v1/variants/TR-42/price", &t.service).await;
        assert_eq!(
            (needs_channel.status, needs_channel.code()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
    }
}
