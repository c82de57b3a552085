//! Catalogue create, read, update, list.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, product_body};

#[tokio::test]
async fn create_read_update_list() {
    for t in TestApp::every_backend().await {
        let events_before = t.events().await;
        let created = t
            .post(
                "/v1/products",
                &t.admin,
                product_body("TR", &["40", "41", "42"]),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {}",
            t.name(),
            created.body
        );
        let id = created.body["id"].as_str().unwrap().to_owned();
        assert_eq!(created.body["variants"].as_array().unwrap().len(), 3);
        assert_eq!(created.body["variants"][1]["title"], "TR trail shoe — 41");

        // Every role reads the same catalogue.
        for key in [&t.admin, &t.web, &t.store, &t.service] {
            let got = t.get(&format!("/v1/products/{id}"), key).await;
            assert_eq!(got.status, StatusCode::OK);
            assert_eq!(got.body, created.body);
        }

        let patched = t
            .patch(
                &format!("/v1/products/{id}"),
                &t.admin,
                json!({"title": "TR trail shoe v2", "brand": null, "expected_version": 1}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(patched.body["title"], "TR trail shoe v2");
        assert_eq!(patched.body["brand"], serde_json::Value::Null);
        assert_eq!(patched.body["version"], 2);
        // A stale version is refused and changes nothing.
        let stale = t
            .patch(
                &format!("/v1/products/{id}"),
                &t.admin,
                json!({"title": "lost", "expected_version": 1}),
            )
            .await;
        assert_eq!(
            (stale.status, stale.code()),
            (StatusCode::CONFLICT, "conflict")
        );
        assert_eq!(
            t.get(&format!("/v1/products/{id}"), &t.web).await.body["title"],
            "TR trail shoe v2"
        );

        let variant = t
            .post(
                &format!("/v1/products/{id}/variants"),
                &t.admin,
                json!({"sku": "TR-43", "gtin": "4006381333931", "attributes": {"size": "43"}}),
            )
            .await;
        assert_eq!(variant.status, StatusCode::CREATED, "{}", variant.body);
        assert_eq!(variant.body["gtin"], "04006381333931");
        // The body is the variant itself, so errors name its fields without a prefix.
        let bad = t
            .post(
                &format!("/v1/products/{id}/variants"),
                &t.admin,
                json!({"sku": "TR-44", "gtin": "4006381333932"}),
            )
            .await;
        assert_eq!(
            bad.body["error"]["details"]["field"], "gtin",
            "{}",
            bad.body
        );
        let dup = t
            .post(
                &format!("/v1/products/{id}/variants"),
                &t.admin,
                json!({"sku": "TR-43"}),
            )
            .await;
        assert_eq!(
            (dup.code(), dup.body["error"]["details"]["field"].as_str()),
            ("already_exists", Some("sku"))
        );
        let by_gtin = t.get("/v1/variants?gtin=4006381333931", &t.store).await;
        assert_eq!(by_gtin.body["data"][0]["sku"], "TR-43");
        let renamed = t
            .patch(
                "/v1/variants/TR-43",
                &t.admin,
                json!({"title": "TR 43 wide", "status": "archived"}),
            )
            .await;
        assert_eq!(
            (
                renamed.body["title"].as_str(),
                renamed.body["status"].as_str()
            ),
            (Some("TR 43 wide"), Some("archived"))
        );

        // Pagination walks every product exactly once.
        for i in 0..4 {
            let mut body = product_body(&format!("P{i}"), &["M"]);
            body["category"] = json!("apparel/running");
            assert_eq!(
                t.post("/v1/products", &t.admin, body).await.status,
                StatusCode::CREATED
            );
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/products?limit=2&cursor={c}"),
                None => "/v1/products?limit=2".into(),
            };
            let page = t.get(&path, &t.web).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            for p in page.body["data"].as_array().unwrap() {
                seen.push(p["id"].as_str().unwrap().to_owned());
            }
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 5);
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen);

        let by_category = t.get("/v1/products?category=footwear", &t.web).await;
        assert_eq!(by_category.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(by_category.body["data"][0]["id"], id.as_str());
        let categories = t.get("/v1/categories", &t.web).await;
        assert_eq!(
            categories.body["data"],
            json!([{"category": "apparel/running", "products": 4}, {"category": "footwear/trail", "products": 1}])
        );

        // Every change left exactly one event (5 products, 1 update, 1 variant, 1 variant update).
        assert_eq!(t.events().await - events_before, 8);
        let events = t
            .get("/v1/outbox?type=relais.product.updated", &t.admin)
            .await;
        assert_eq!(events.body["data"][0]["subject"], id.as_str());
        assert_eq!(events.body["data"][0]["specversion"], "1.0");
    }
}

#[tokio::test]
async fn sku_and_gtin_are_unique_across_products() {
    for t in TestApp::every_backend().await {
        let events_before = t.events().await;
        assert_eq!(
            t.post("/v1/products", &t.admin, product_body("A", &["1"]))
                .await
                .status,
            StatusCode::CREATED
        );
        let dup = t
            .post("/v1/products", &t.admin, product_body("A", &["1"]))
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "already_exists")
        );
        assert_eq!(dup.body["error"]["details"]["field"], "variants[0].sku");

        let mut with_gtin = product_body("B", &["1"]);
        with_gtin["variants"][0]["gtin"] = json!("4006381333931");
        assert_eq!(
            t.post("/v1/products", &t.admin, with_gtin.clone())
                .await
                .status,
            StatusCode::CREATED
        );
        let mut same_gtin = product_body("C", &["1"]);
        same_gtin["variants"][0]["gtin"] = json!("04006381333931");
        let dup = t.post("/v1/products", &t.admin, same_gtin).await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "already_exists")
        );
        assert_eq!(dup.body["error"]["details"]["field"], "variants[0].gtin");
        // The failed creations wrote nothing.
        assert_eq!(
            t.get("/v1/products", &t.web).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(t.events().await - events_before, 2);
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_win() {
    for t in TestApp::every_backend().await {
        let created = t
            .post("/v1/products", &t.admin, product_body("RACE", &["1"]))
            .await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (app, key, id) = (t.app.clone(), t.admin.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let body = json!({"title": format!("title {i}"), "expected_version": 1});
                let req = axum::http::Request::builder()
                    .method("PATCH")
                    .uri(format!("/v1/products/{id}"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap();
                tower::ServiceExt::oneshot(app, req).await.unwrap().status()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let lost = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((won, lost), (1, 39), "{}: {statuses:?}", t.name());
        let now = t.get(&format!("/v1/products/{id}"), &t.web).await;
        assert_eq!(now.body["version"], 2);
    }
}

/// Two nodes (two writers) on one PostgreSQL database race for the same version.
#[tokio::test]
async fn two_nodes_on_postgres_cannot_both_win() {
    let Some(pg) = testkit::postgres().await else {
        return;
    };
    let first = TestApp::on(pg).await;
    let second = first.second_node().await;
    let created = first
        .post("/v1/products", &first.admin, product_body("NODES", &["1"]))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 {
            first.app.clone()
        } else {
            second.clone()
        };
        let (key, id) = (first.admin.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::builder()
                .method("PATCH")
                .uri(format!("/v1/products/{id}"))
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"title": format!("node title {i}"), "expected_version": 1}).to_string(),
                ))
                .unwrap();
            tower::ServiceExt::oneshot(app, req).await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(
        first
            .get(&format!("/v1/products/{id}"), &first.web)
            .await
            .body["version"],
        2
    );
}

fn with_header(
    method: &str,
    path: &str,
    key: &str,
    header: (&str, &str),
    body: Value,
) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Products answer with an ETag and take If-Match on PATCH: a stale one is a 412 that changes
/// nothing. Writes that cannot honour a precondition refuse it instead of ignoring it.
#[tokio::test]
async fn if_match_protects_a_product_and_is_refused_where_it_cannot() {
    for t in TestApp::every_backend().await {
        let p = t.created("/v1/products", product_body("S", &["1"])).await;
        let path = format!("/v1/products/{}", p["id"].as_str().unwrap());
        let read = t.get(&path, &t.admin).await;
        assert_eq!(read.headers["etag"], "\"1\"");
        let patch = |etag: &str, title: &str| {
            with_header(
                "PATCH",
                &path,
                &t.admin,
                ("if-match", etag),
                json!({"title": title}),
            )
        };
        let first = t.raw(patch("\"1\"", "Espadrille bleue")).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(first.headers["etag"], "\"2\"");
        let stale = t.raw(patch("\"1\"", "Espadrille rouge")).await;
        assert_eq!(
            stale.status,
            StatusCode::PRECONDITION_FAILED,
            "{}",
            stale.body
        );
        assert_eq!(stale.code(), "precondition_failed");
        assert_eq!(
            t.get(&path, &t.admin).await.body["title"],
            "Espadrille bleue"
        );
        let both = t
            .raw(with_header(
                "PATCH",
                &path,
                &t.admin,
                ("if-match", "\"2\""),
                json!({"title": "x", "expected_version": 1}),
            ))
            .await;
        assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
        let events = t.events().await;
        let movement = json!({"sku": "S-1", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 1, "reason": "x"});
        for header in [
            ("if-match", "\"1\""),
            ("if-unmodified-since", "Sun, 06 Dec 2026 10:00:00 GMT"),
        ] {
            let refused = t
                .raw(with_header(
                    "POST",
                    "/v1/stock/movements",
                    &t.admin,
                    header,
                    movement.clone(),
                ))
                .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
            assert_eq!(refused.code(), "unsupported_precondition");
        }
        assert_eq!(
            t.events().await,
            events,
            "a refused write changed something"
        );
    }
}
