//! Locations: create, update, filters and "near me".

use axum::http::StatusCode;
use serde_json::json;

use crate::{TestApp, store_body};

#[tokio::test]
async fn location_queries() {
    for t in TestApp::every_backend().await {
        let stores = [
            ("LYS-BELLECOUR", "Lyon", 45.7578, 4.8320),
            ("GNB-VICTOR-HUGO", "Grenoble", 45.1889, 5.7245),
            ("PAR-RIVOLI", "Paris", 48.8606, 2.3447),
            ("ANN-LAC", "Annecy", 45.8992, 6.1256),
        ];
        for (code, city, lat, lon) in stores {
            let r = t
                .post("/v1/locations", &t.admin, store_body(code, city, lat, lon))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name(), r.body);
        }
        let mut wh = store_body("WH-SAINT-PRIEST", "Saint-Priest", 45.7036, 4.9460);
        wh["kind"] = json!("warehouse");
        wh["capabilities"] = json!(["ship_from"]);
        assert_eq!(
            t.post("/v1/locations", &t.admin, wh).await.status,
            StatusCode::CREATED
        );

        let got = t.get("/v1/locations/LYS-BELLECOUR", &t.store).await;
        assert_eq!(
            got.body["opening_hours"]["sat"][1],
            json!({"opens": "14:00", "closes": "19:00"})
        );
        assert_eq!(got.body["owner"]["kind"], "franchisee");

        // Nearest first from Lyon Part-Dieu, within 120 km: Lyon, Saint-Priest, Annecy, Grenoble... by distance.
        let near = t
            .get("/v1/locations?near=45.7605,4.8597&radius_km=120", &t.web)
            .await;
        assert_eq!(near.status, StatusCode::OK, "{}", near.body);
        let codes: Vec<&str> = near.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "LYS-BELLECOUR",
                "WH-SAINT-PRIEST",
                "GNB-VICTOR-HUGO",
                "ANN-LAC"
            ]
        );
        let d0 = near.body["data"][0]["distance_km"].as_f64().unwrap();
        assert!((1.5..3.0).contains(&d0), "{d0}");

        // Paged near query returns the same order.
        let first = t
            .get(
                "/v1/locations?near=45.7605,4.8597&radius_km=120&limit=2",
                &t.web,
            )
            .await;
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = t
            .get(
                &format!("/v1/locations?near=45.7605,4.8597&radius_km=120&limit=2&cursor={cursor}"),
                &t.web,
            )
            .await;
        assert_eq!(second.body["data"][0]["code"], "GNB-VICTOR-HUGO");

        let stores_only = t
            .get("/v1/locations?kind=store&capability=pickup", &t.web)
            .await;
        assert_eq!(stores_only.body["data"].as_array().unwrap().len(), 4);
        let shippers = t.get("/v1/locations?capability=ship_from", &t.web).await;
        assert_eq!(shippers.body["data"][0]["code"], "WH-SAINT-PRIEST");

        // Closing a store hides it from default lists but keeps it readable.
        let closed = t
            .patch(
                "/v1/locations/ANN-LAC",
                &t.admin,
                json!({"active": false, "phone": "+33 4 50 00 00 00"}),
            )
            .await;
        assert_eq!(
            (closed.status, closed.body["active"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{}",
            closed.body
        );
        assert_eq!(
            t.get("/v1/locations?kind=store", &t.web).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            t.get("/v1/locations?kind=store&include_inactive=true", &t.web)
                .await
                .body["data"]
                .as_array()
                .unwrap()
                .len(),
            4
        );

        let bad = t.get("/v1/locations?near=95,4", &t.web).await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
        let dup = t
            .post(
                "/v1/locations",
                &t.admin,
                store_body("ANN-LAC", "Annecy", 45.9, 6.1),
            )
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "already_exists")
        );
    }
}

#[tokio::test]
async fn kiosks_and_pos_are_bound_to_a_store() {
    for t in TestApp::every_backend().await {
        t.post(
            "/v1/locations",
            &t.admin,
            store_body("LYS-BELLECOUR", "Lyon", 45.7578, 4.8320),
        )
        .await;
        let kiosk = t.post("/v1/channels", &t.admin, json!({"code": "kiosk-lys-1", "kind": "kiosk", "name": "Borne 1", "location_code": "LYS-BELLECOUR"})).await;
        assert_eq!(kiosk.status, StatusCode::CREATED, "{}", kiosk.body);
        let unbound = t
            .post(
                "/v1/channels",
                &t.admin,
                json!({"code": "pos-x", "kind": "pos", "name": "POS"}),
            )
            .await;
        assert_eq!(
            (unbound.status, unbound.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        let nowhere = t
            .post(
                "/v1/channels",
                &t.admin,
                json!({"code": "pos-x", "kind": "pos", "name": "POS", "location_code": "NOWHERE"}),
            )
            .await;
        assert_eq!(
            (nowhere.status, nowhere.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
        );
        let web_in_store = t.post("/v1/channels", &t.admin, json!({"code": "web", "kind": "web", "name": "Web", "location_code": "LYS-BELLECOUR"})).await;
        assert_eq!(web_in_store.status, StatusCode::UNPROCESSABLE_ENTITY);
        let list = t.get("/v1/channels?location=LYS-BELLECOUR", &t.store).await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    }
}
