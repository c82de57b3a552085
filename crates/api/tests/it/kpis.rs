//! The KPIs against figures counted by hand: a few orders of Lyon on the web and at its
//! till, a pickup collected, one cancelled, a unit brought back — as JSON and CSV, for the
//! right callers only.

use axum::http::StatusCode;
use serde_json::json;

use crate::orders::{acted, placed, shop};
use crate::{TestApp, key};

#[tokio::test]
async fn kpis_are_what_a_person_counts() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let lea = t.created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}], "home_store": "LYS-BELLECOUR"})).await;
        let lea_id = lea["id"].as_str().unwrap();
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        let web_cart = |sku: &str, n: i64| json!({"customer_id": lea_id, "lines": [{"sku": sku, "quantity": n}]});
        // A: two pairs on the web, collected in Lyon; one pair comes back.
        let c = t.post("/v1/carts", &t.web, web_cart("TR-42", 2)).await.body;
        let a = t
            .post(
                &format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap()),
                &t.web,
                pickup.clone(),
            )
            .await
            .body;
        for step in ["start_preparing", "mark_ready"] {
            acted(&t, &t.store, &a, step, json!({})).await;
        }
        let code = t
            .get(
                &format!("/v1/orders/{}", a["id"].as_str().unwrap()),
                &t.admin,
            )
            .await
            .body["pickup_code"]
            .clone();
        acted(&t, &t.store, &a, "collect", json!({"pickup_code": code})).await;
        let back = t.post("/v1/returns", &t.store, json!({"order": a["id"], "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"})).await;
        assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
        // B: an anonymous web pickup, cancelled.
        let b = placed(
            &t,
            &t.web,
            json!([{"sku": "TR-43", "quantity": 1}]),
            pickup.clone(),
        )
        .await;
        acted(&t, &t.web, &b, "cancel", json!({})).await;
        // C: Léa buys a jacket at Lyon's till.
        let till = t
            .post(
                "/v1/carts",
                &t.store,
                json!({"customer_id": lea_id, "lines": [{"sku": "JK-M", "quantity": 1}]}),
            )
            .await
            .body;
        let sale = t
            .post(
                &format!("/v1/carts/{}/checkout", till["id"].as_str().unwrap()),
                &t.store,
                json!({"mode": "carry_out"}),
            )
            .await;
        assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);

        let r = t
            .get("/v1/reports/kpis?location=LYS-BELLECOUR", &t.admin)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name(), r.body);
        let k = &r.body;
        assert_eq!(k["orders"], 3, "{k}");
        assert_eq!(k["click_and_collect_share_bp"], 6666);
        assert_eq!(
            (
                k["pickups"]["ended"].as_i64(),
                k["pickups"]["succeeded"].as_i64(),
                k["pickups"]["cancelled"].as_i64()
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(k["pickups"]["success_bp"], 5000);
        assert_eq!(k["time_to_ready"]["orders"], 1);
        let web = k["by_channel_and_mode"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["channel"] == "web")
            .unwrap();
        // 2 × 49.99 paid, 49.99 refunded with the return; the cancelled order refunded whole.
        assert_eq!(
            (
                web["orders"].as_i64(),
                web["cancelled"].as_i64(),
                web["revenue_minor"].as_i64()
            ),
            (Some(2), Some(1), Some(4999))
        );
        assert_eq!(
            k["returns"],
            json!([{"bought_on": "web", "returned_at": "LYS-BELLECOUR", "currency": "EUR", "returns": 1, "value_minor": 4999}])
        );
        // Léa ordered on the web and at the till: one multichannel customer, all the revenue.
        let m = &k["multichannel"][0];
        assert_eq!(
            (
                m["customers"].as_i64(),
                m["multichannel_customers"].as_i64(),
                m["revenue_share_bp"].as_i64()
            ),
            (Some(1), Some(1), Some(10000))
        );
        // Lyon's owner is due the collected web order, less the pair returned.
        assert_eq!(
            k["settlement"],
            json!([{"owner_kind": "franchisee", "owner_name": "SARL Test", "currency": "EUR", "orders": 1, "fulfilled_minor": 9998, "returned_minor": 4999, "due_minor": 4999}])
        );
        assert_eq!(k["ropo"]["store_orders"], 1);

        // One channel; CSV; who may ask.
        let web_only = t
            .get(
                "/v1/reports/kpis?location=LYS-BELLECOUR&channel=web",
                &t.admin,
            )
            .await;
        assert_eq!(web_only.body["orders"], 2);
        let own = t.get("/v1/reports/kpis", &t.store).await;
        assert_eq!(
            (
                own.body["period"]["location"].as_str(),
                own.body["orders"].as_i64()
            ),
            (Some("LYS-BELLECOUR"), Some(3))
        );
        let paris = key(&t.db.db, "store:PAR-RIVOLI").await;
        assert_eq!(
            t.get("/v1/reports/kpis?location=LYS-BELLECOUR", &paris)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let marketing = key(&t.db.db, "marketing").await;
        assert_eq!(
            t.get("/v1/reports/kpis", &marketing).await.body["orders"],
            3
        );
        let csv = t
            .get(
                "/v1/reports/kpis?location=LYS-BELLECOUR&format=csv",
                &t.admin,
            )
            .await;
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        let text = csv.body.as_str().unwrap();
        assert!(
            text.starts_with("metric,channel,mode,place,currency,value\norders,,,,,3\n"),
            "{text}"
        );
        assert!(
            text.contains("\npickup_rate_bp,,pickup,,,5000\n")
                && text.contains("\nsettlement_due_minor,,,SARL Test,EUR,4999\n"),
            "{text}"
        );
        for bad in [
            "format=xml",
            "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        ] {
            let r = t.get(&format!("/v1/reports/kpis?{bad}"), &t.admin).await;
            assert!(r.status.is_client_error(), "{bad}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn kpis_follow_merges_and_survive_erasure() {
    for t in TestApp::every_backend().await {
        shop(&t).await;
        let ident = |kind: &str, value: &str| json!({"identifiers": [{"kind": kind, "value": value, "verified": true}], "home_store": "LYS-BELLECOUR"});
        let lea = t
            .created("/v1/customers", ident("email", "lea@example.fr"))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let card = t
            .created("/v1/customers", ident("loyalty_card", "CARD-7788"))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let pickup = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        let c = t
            .post(
                "/v1/carts",
                &t.web,
                json!({"customer_id": lea, "lines": [{"sku": "TR-42", "quantity": 1}]}),
            )
            .await
            .body;
        t.post(
            &format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap()),
            &t.web,
            pickup,
        )
        .await;
        // At the till, the card only: a profile of its own.
        let till = t
            .post(
                "/v1/carts",
                &t.store,
                json!({"customer_id": card, "lines": [{"sku": "JK-M", "quantity": 1}]}),
            )
            .await
            .body;
        let sale = t
            .post(
                &format!("/v1/carts/{}/checkout", till["id"].as_str().unwrap()),
                &t.store,
                json!({"mode": "carry_out"}),
            )
            .await;
        assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);
        let multichannel = |k: &serde_json::Value| {
            (
                k["multichannel"][0]["customers"].as_i64(),
                k["multichannel"][0]["multichannel_customers"].as_i64(),
            )
        };
        let before = t
            .get("/v1/reports/kpis?location=LYS-BELLECOUR", &t.admin)
            .await
            .body;
        assert_eq!(multichannel(&before), (Some(2), Some(0)), "{before}");
        // Léa gives her card at the desk: the two profiles are one person.
        let linked = t.post(&format!("/v1/customers/{lea}/identities"), &t.service, json!({"identifiers": [{"kind": "loyalty_card", "value": "CARD-7788", "verified": true}]})).await;
        assert!(linked.status.is_success(), "{}", linked.body);
        let after = t
            .get("/v1/reports/kpis?location=LYS-BELLECOUR", &t.admin)
            .await
            .body;
        assert_eq!(
            multichannel(&after),
            (Some(1), Some(1)),
            "{}: {after}",
            t.name()
        );
        assert_eq!(after["multichannel"][0]["revenue_share_bp"], 10000);
        // Erased, she stays a multichannel customer of the figures (nothing personal in them).
        let erased = t
            .post(
                &format!("/v1/customers/{lea}/erasure"),
                &t.service,
                json!({}),
            )
            .await;
        assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
        let gone = t
            .get("/v1/reports/kpis?location=LYS-BELLECOUR", &t.admin)
            .await
            .body;
        assert_eq!(multichannel(&gone), (Some(1), Some(1)));
        assert_eq!(gone["orders"], after["orders"]);
    }
}
