//! Channel sourcing: which locations each channel promises from, and what it keeps back.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, product_body, store_body};

fn warehouse_body(code: &str) -> Value {
    let mut wh = store_body(code, "Saint-Priest", 45.70, 4.94);
    wh["kind"] = json!("warehouse");
    wh["capabilities"] = json!(["ship_from"]);
    wh
}

/// Two stores and a warehouse with 10 units each; web, marketplace and a kiosk in Paris.
async fn setup(t: &TestApp) {
    t.two_stores().await;
    t.created("/v1/locations", warehouse_body("WH-LYON")).await;
    t.created("/v1/products", product_body("TR", &["42"])).await;
    for (code, kind, store) in [
        ("web", "web", None),
        ("marketplace", "marketplace", None),
        ("kiosk-par-1", "kiosk", Some("PAR-RIVOLI")),
    ] {
        t.created(
            "/v1/channels",
            json!({"code": code, "kind": kind, "name": code, "location_code": store}),
        )
        .await;
    }
    for location in ["LYS-BELLECOUR", "PAR-RIVOLI", "WH-LYON"] {
        t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": location, "kind": "receipt", "quantity": 10, "reason": "delivery"})).await;
    }
}

fn locations(reply: &Value) -> Vec<(String, i64)> {
    reply["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["location"].as_str().unwrap().to_owned(),
                l["atp"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn at(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

#[tokio::test]
async fn each_channel_promises_from_its_own_locations() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let policy = t.get("/v1/channels/web/sourcing", &t.web).await;
        assert_eq!(policy.body["default"], true, "{}", policy.body);
        assert_eq!(
            policy.body["rules"]["ship"]["location_kinds"],
            json!(["warehouse"])
        );

        // The web key sees its channel's view: delivery from the warehouse, pickup in stores.
        let ship = t
            .get("/v1/variants/TR-42/availability?fulfilment=ship", &t.web)
            .await;
        assert_eq!(ship.body["channel"], "web");
        assert_eq!(locations(&ship.body), at(&[("WH-LYON", 10)]));
        let pickup = t
            .get("/v1/variants/TR-42/availability?fulfilment=pickup", &t.web)
            .await;
        assert_eq!(
            locations(&pickup.body),
            at(&[("LYS-BELLECOUR", 10), ("PAR-RIVOLI", 10)])
        );
        // An admin key without a channel sees every location.
        let all = t.get("/v1/variants/TR-42/availability", &t.admin).await;
        assert_eq!(locations(&all.body).len(), 3);
        assert!(all.body.get("channel").is_none());

        // A web delivery hold in a store is refused; a pickup hold there is fine.
        let wrong = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "ship", "owner_ref": "ord_1"})).await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "not_promisable"),
            "{}",
            wrong.body
        );
        let right = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "pickup", "owner_ref": "ord_1"})).await;
        assert_eq!(right.status, StatusCode::CREATED, "{}", right.body);
        assert_eq!(right.body["channel"], "web");

        // A kiosk lists its own store first, then the others.
        let kiosk = t
            .get(
                "/v1/variants/TR-42/availability?channel=kiosk-par-1&fulfilment=pickup",
                &t.admin,
            )
            .await;
        assert_eq!(
            locations(&kiosk.body),
            at(&[("PAR-RIVOLI", 10), ("LYS-BELLECOUR", 9)])
        );

        // A channel key cannot borrow another channel's view or stock.
        let borrowed = t
            .get(
                "/v1/variants/TR-42/availability?channel=marketplace",
                &t.web,
            )
            .await;
        assert_eq!(borrowed.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn channel_safety_stock_is_kept_back_from_that_channel_only() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let set = t
            .put(
                "/v1/channels/marketplace/sourcing",
                &t.admin,
                json!({"rules": {"ship": {"location_kinds": ["warehouse", "store"]}}, "safety": 2, "safety_at": {"WH-LYON": 4}}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        assert_eq!(set.body["default"], false);
        let events = t.events().await;

        let view = t
            .get(
                "/v1/variants/TR-42/availability?channel=marketplace",
                &t.admin,
            )
            .await;
        // Stores lack `ship_from` in this setup, so only the warehouse remains.
        assert_eq!(locations(&view.body), at(&[("WH-LYON", 6)]));
        let too_many = t.post("/v1/holds", &t.admin, json!({"sku": "TR-42", "location": "WH-LYON", "quantity": 7, "purpose": "ship", "owner_ref": "mp_1", "channel": "marketplace"})).await;
        assert_eq!(too_many.code(), "insufficient_stock", "{}", too_many.body);
        assert_eq!(too_many.body["error"]["details"]["available"], 6);
        assert_eq!(t.events().await, events, "a refused hold writes nothing");
        let six = t.post("/v1/holds", &t.admin, json!({"sku": "TR-42", "location": "WH-LYON", "quantity": 6, "purpose": "ship", "owner_ref": "mp_1", "channel": "marketplace"})).await;
        assert_eq!(six.status, StatusCode::CREATED, "{}", six.body);
        // The web shop still sees the 4 units the marketplace may not take.
        let web = t
            .get("/v1/variants/TR-42/availability?fulfilment=ship", &t.web)
            .await;
        assert_eq!(locations(&web.body), at(&[("WH-LYON", 4)]));
    }
}

#[tokio::test]
async fn bad_policies_are_refused_and_change_nothing() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    let events = t.events().await;
    for (body, code, field) in [
        (
            json!({"rules": {"ship": {"location_kinds": ["warehouse"], "exclude": ["NOWHERE"]}}}),
            "unknown_reference",
            "location",
        ),
        (
            json!({"rules": {"ship": {"location_kinds": []}}}),
            "validation_failed",
            "rules",
        ),
        (
            json!({"rules": {}, "safety": -1}),
            "validation_failed",
            "safety",
        ),
        (
            json!({"rules": {}, "safety_at": {"WH-LYON": -3}}),
            "validation_failed",
            "safety_at",
        ),
        (
            json!({"rules": {"deliver": {"location_kinds": ["store"]}}}),
            "invalid_body",
            "",
        ),
    ] {
        let r = t
            .put("/v1/channels/web/sourcing", &t.admin, body.clone())
            .await;
        assert_eq!(r.code(), code, "{body}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.body);
        }
    }
    let not_admin = t
        .put("/v1/channels/web/sourcing", &t.web, json!({"rules": {}}))
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    let unknown = t.get("/v1/channels/nope/sourcing", &t.admin).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(t.events().await, events);
    assert_eq!(
        t.get("/v1/channels/web/sourcing", &t.admin).await.body["default"],
        true
    );
}

#[tokio::test]
async fn the_stream_follows_a_channel_view() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    let set = t
        .put(
            "/v1/channels/marketplace/sourcing",
            &t.admin,
            json!({"rules": {"ship": {"location_kinds": ["warehouse"]}}, "safety": 3}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let mut stream = t
        .stream(
            "/v1/stream/availability?channel=marketplace&fulfilment=ship",
            &t.admin,
            None,
        )
        .await;
    t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 1, "reason": "delivery"})).await;
    t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "WH-LYON", "kind": "receipt", "quantity": 1, "reason": "delivery"})).await;
    let e = stream.next().await;
    assert_eq!(
        (e.data["location"].as_str(), e.data["atp"].as_i64()),
        (Some("WH-LYON"), Some(8))
    );
    assert_eq!(e.data["channel"], "marketplace");
}

/// Channel views read locations and policies from a short cache: a change made through this
/// node shows at once; one made elsewhere (another node: here, straight in the database)
/// shows within `api::reference::TTL`.
#[tokio::test]
async fn a_policy_changed_elsewhere_shows_within_the_cache_lifetime() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    let view = || async {
        locations(
            &t.get(
                "/v1/variants/TR-42/availability?channel=marketplace",
                &t.admin,
            )
            .await
            .body,
        )
    };
    assert_eq!(view().await, at(&[("WH-LYON", 10)]));
    let mut policy = inventory::SourcingPolicy::default_for(catalog::ChannelKind::Marketplace);
    policy.safety = 4;
    t.db.db
        .write(move |c| {
            Box::pin(async move {
                store::sourcing::set_policy(c, "marketplace", policy, "other-node").await
            })
        })
        .await
        .unwrap();
    assert_eq!(view().await, at(&[("WH-LYON", 10)]), "still cached");
    tokio::time::sleep(api::reference::TTL + std::time::Duration::from_millis(100)).await;
    assert_eq!(view().await, at(&[("WH-LYON", 6)]));
}
