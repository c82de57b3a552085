//! The event catalogue over HTTP: every key reads the types and their schemas, and the events
//! the API emits name the schema they match.

use axum::http::StatusCode;
use serde_json::json;

use crate::TestApp;
use crate::product_body;

#[tokio::test]
async fn every_key_reads_the_catalogue_and_each_schema() {
    let t = TestApp::on(testkit::sqlite().await).await;
    for key in [&t.admin, &t.web, &t.store, &t.service] {
        let list = t.get("/v1/event-types", key).await;
        assert_eq!(list.status, StatusCode::OK);
        let types = list.body["data"].as_array().unwrap();
        assert_eq!(types.len(), outbox::TYPES.len());
        assert!(
            types
                .iter()
                .any(|e| e["type"] == "relais.order.ready_for_pickup")
        );
    }
    let schema = t.get("/v1/event-types/relais.hold.created", &t.web).await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(
        schema.body["$id"],
        "urn:relais:event-schema:relais.hold.created:1"
    );
    assert_eq!(
        schema.body["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema.body["properties"]["availability"].is_object());
    let unknown = t.get("/v1/event-types/relais.hold.painted", &t.web).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "not_found");
    let anonymous = t
        .raw(
            axum::http::Request::get("/v1/event-types")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// An event read from the outbox names its schema, and the schema served for it accepts it.
#[tokio::test]
async fn outbox_events_match_the_schema_the_api_serves() {
    for t in TestApp::every_backend().await {
        let product = t.created("/v1/products", product_body("S", &["1"])).await;
        let listed = t
            .get("/v1/outbox?type=relais.product.created", &t.admin)
            .await;
        let event = &listed.body["data"][0];
        assert_eq!(event["subject"], product["id"]);
        let dataschema = event["dataschema"].as_str().expect("dataschema");
        let schema = t
            .get("/v1/event-types/relais.product.created", &t.admin)
            .await
            .body;
        assert_eq!(schema["$id"], dataschema);
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&event["data"]), "{}", t.name());
        let mut wrong = event["data"].clone();
        wrong["variants"] = json!("none");
        assert!(!validator.is_valid(&wrong));
    }
}
