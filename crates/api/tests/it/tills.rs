//! The offline till through the API, on SQLite and PostgreSQL: a batch applies once however
//! often it is posted — twice, a day later, on two nodes at once — and in the till's order;
//! an offline sale of a unit promised online, of points beyond the balance or of a gift card
//! beyond what it holds is recorded and opens conflicts in the store's queue, which the store
//! resolves.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::TestApp;
use crate::orders::cart;
use crate::stored_value::{card_of, gift_shop, look_up, sell_card};

const BATCH: &str = "/v1/tills/LYS-T01/batches";

/// A member with 100 points, known at Lyon.
async fn member(t: &TestApp) -> String {
    let programme = json!({
        "currency": "EUR", "points_per_unit": 1, "tiers": [{"code": "member", "threshold": 0, "earn_pct": 100}],
        "tier_months": 12, "expiry_months": 24, "point_value_minor": 1, "min_spend_points": 1
    });
    assert!(
        t.put("/v1/loyalty/programme", &t.admin, programme)
            .await
            .status
            .is_success()
    );
    let c = t.created("/v1/customers", json!({"identifiers": [{"kind": "loyalty_card", "value": "LYS-77"}], "home_store": "LYS-BELLECOUR"})).await;
    let cid = c["id"].as_str().unwrap().to_owned();
    t.post(&format!("/v1/customers/{cid}/loyalty"), &t.store, json!({}))
        .await;
    let r = t
        .post(
            &format!("/v1/customers/{cid}/loyalty/adjustments"),
            &t.service,
            json!({"points": 100, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    cid
}

/// What the Lyon till did offline: two jackets (one of them promised to a web order
/// meanwhile), 500 points of a member holding fewer, a gift card beyond its balance, and a
/// damaged pair of shoes written off.
fn offline(cid: &str, code: &str) -> Value {
    json!({"location": "LYS-BELLECOUR", "seq": 1, "operations": [
        {"kind": "sale", "receipt": "T01-0001", "at": "2026-12-05T10:00:00Z", "currency": "EUR", "customer_id": cid,
         "lines": [{"sku": "JK-M", "quantity": 2, "unit_price_minor": 12900, "tax_rate_bp": 2000, "tax_minor": 4300}],
         "payments": [{"method": "card", "amount_minor": 25800, "reference": "term-1"}]},
        {"kind": "sale", "receipt": "T01-0002", "at": "2026-12-05T10:05:00Z", "currency": "EUR", "customer_id": cid,
         "lines": [{"sku": "TR-42", "quantity": 1, "unit_price_minor": 4999}],
         "payments": [{"method": "points", "points": 500}, {"method": "cash", "amount_minor": 4499}]},
        {"kind": "sale", "receipt": "T01-0003", "at": "2026-12-05T10:10:00Z", "currency": "EUR",
         "lines": [{"sku": "TR-42", "quantity": 2, "unit_price_minor": 4999}],
         "payments": [{"method": "gift_card", "code": code, "amount_minor": 9998}]},
        {"kind": "movement", "receipt": "T01-0004", "at": "2026-12-05T10:15:00Z", "sku": "TR-43", "movement": "adjustment", "quantity": -1, "reason": "damaged"}
    ]})
}

async fn balance(t: &TestApp, cid: &str) -> i64 {
    t.get(&format!("/v1/customers/{cid}/loyalty"), &t.service)
        .await
        .body["balance"]
        .as_i64()
        .unwrap()
}

async fn on_hand(t: &TestApp, sku: &str) -> i64 {
    let r = t
        .get(&format!("/v1/variants/{sku}/availability"), &t.admin)
        .await;
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["location"] == "LYS-BELLECOUR")
        .unwrap()["on_hand"]
        .as_i64()
        .unwrap()
}

/// What the batch changed that a replay must not change again.
async fn effects(t: &TestApp, cid: &str) -> (i64, i64, i64, usize, i64) {
    let queue = t
        .get(
            "/v1/locations/LYS-BELLECOUR/pos-conflicts?status=open",
            &t.store,
        )
        .await;
    let orders = t
        .get("/v1/orders?location=LYS-BELLECOUR&limit=500", &t.service)
        .await;
    (
        balance(t, cid).await,
        on_hand(t, "JK-M").await,
        on_hand(t, "TR-43").await,
        queue.body["data"].as_array().unwrap().len(),
        orders.body["data"].as_array().unwrap().len() as i64,
    )
}

#[tokio::test]
async fn an_offline_batch_applies_once_however_often_it_is_posted() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let cid = member(&t).await;
        let (_, code, pin) = card_of(&sell_card(&t, None).await.1);
        // Meanwhile, online: a web pickup promises one of Lyon's two jackets.
        let c = cart(&t, &t.web, json!([{"sku": "JK-M", "quantity": 1}])).await;
        let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let web = t.post(&path, &t.web, json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}})).await;
        assert_eq!(web.status, StatusCode::CREATED, "{}", web.body);

        let batch = offline(&cid, &code);
        let r = t.post(BATCH, &t.store, batch.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name(), r.body);
        assert_eq!(
            (r.body["sales"].as_i64(), r.body["movements"].as_i64()),
            (Some(3), Some(1)),
            "{}",
            r.body
        );
        let mut kinds: Vec<(String, i64)> = r.body["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["kind"].as_str().unwrap().to_owned(),
                    c["short"].as_i64().unwrap(),
                )
            })
            .collect();
        kinds.sort();
        // One jacket was promised online; the member held 100 + 258 earned of 500 points; the
        // card held 50 € of 99.98 €.
        assert_eq!(
            kinds,
            [
                ("gift_card".to_owned(), 4998),
                ("points".to_owned(), 142),
                ("stock".to_owned(), 1)
            ],
            "{}",
            r.body
        );
        let (_, card) = look_up(&t, &code, &pin).await;
        assert_eq!(card["balance_minor"], 0, "{card}");
        let first = effects(&t, &cid).await;
        assert_eq!(
            (first.0, first.1, first.2),
            (44, 0, 1),
            "{}: {first:?}",
            t.name()
        );

        // Posted again, a day later, a month later: the same answer, nothing more.
        for days in [0, 1, 31] {
            let later = kernel::Timestamp::from_unix_ms(
                kernel::Timestamp::now().unix_ms() + days * 86_400_000,
            );
            let again = app::clock::as_of(later, t.post(BATCH, &t.store, batch.clone())).await;
            assert_eq!(again.status, StatusCode::OK, "{}", again.body);
            assert_eq!(
                (again.body["replayed"].as_bool(), &again.body["receipts"]),
                (Some(true), &r.body["receipts"])
            );
            assert_eq!(
                effects(&t, &cid).await,
                first,
                "{} after {days} days",
                t.name()
            );
        }
        // The same number with other content, or a batch ahead of its turn: refused.
        let mut other = batch.clone();
        other["operations"][3]["quantity"] = json!(-2);
        let r2 = t.post(BATCH, &t.store, other).await;
        assert_eq!(r2.status, StatusCode::CONFLICT, "{}", r2.body);
        let mut ahead = batch.clone();
        ahead["seq"] = json!(3);
        let r3 = t.post(BATCH, &t.store, ahead).await;
        assert_eq!(
            (r3.status, &r3.body["error"]["details"]["expected_seq"]),
            (StatusCode::CONFLICT, &json!(2)),
            "{}",
            r3.body
        );
        // Figures no till could ring up are refused, and change nothing.
        let mut absurd = batch.clone();
        absurd["seq"] = json!(2);
        absurd["operations"][0]["lines"][0]["unit_price_minor"] = json!(i64::MAX);
        let r4 = t.post(BATCH, &t.store, absurd).await;
        assert_eq!(r4.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r4.body);
        // Another store's key acts for no till of Lyon's.
        let paris = crate::key(&t.db.db, "store:PAR-RIVOLI").await;
        assert_eq!(
            t.post(BATCH, &paris, batch.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.get("/v1/tills/LYS-T01", &t.store).await.body["last_seq"],
            1
        );
        assert_eq!(effects(&t, &cid).await, first);
    }
}

#[tokio::test]
async fn the_same_batch_on_two_nodes_at_once_applies_once() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let other = t.second_node().await;
        let batch = json!({"location": "LYS-BELLECOUR", "seq": 1, "operations": [
            {"kind": "sale", "receipt": "T02-1", "at": "2026-12-05T11:00:00Z", "currency": "EUR",
             "lines": [{"sku": "TR-42", "quantity": 1, "unit_price_minor": 4999}],
             "payments": [{"method": "cash", "amount_minor": 4999}]}]});
        let before = on_hand(&t, "TR-42").await;
        let mut sent = Vec::new();
        for n in 0..6 {
            let node = if n % 2 == 0 {
                t.app.clone()
            } else {
                other.clone()
            };
            let reply = crate::post_on(
                node,
                "/v1/tills/LYS-T02/batches".into(),
                t.store.clone(),
                batch.clone(),
            );
            sent.push(tokio::spawn(async move { reply.await.status }));
        }
        let mut statuses = Vec::new();
        for s in sent {
            statuses.push(s.await.unwrap());
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{} {statuses:?}", t.name());
        assert!(
            statuses.iter().all(|s| s.is_success()),
            "{} {statuses:?}",
            t.name()
        );
        assert_eq!(on_hand(&t, "TR-42").await, before - 1, "{}", t.name());
    }
}

#[tokio::test]
async fn a_store_resolves_its_conflicts_once() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let c = cart(&t, &t.web, json!([{"sku": "JK-M", "quantity": 2}])).await;
        let path = format!("/v1/carts/{}/checkout", c["id"].as_str().unwrap());
        let web = t.post(&path, &t.web, json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}})).await;
        assert_eq!(web.status, StatusCode::CREATED, "{}", web.body);
        let batch = json!({"location": "LYS-BELLECOUR", "seq": 1, "operations": [
            {"kind": "sale", "receipt": "T03-1", "at": "2026-12-05T12:00:00Z", "currency": "EUR",
             "lines": [{"sku": "JK-M", "quantity": 1, "unit_price_minor": 12900}],
             "payments": [{"method": "cash", "amount_minor": 12900}]},
            {"kind": "sale", "receipt": "T03-2", "at": "2026-12-05T12:01:00Z", "currency": "EUR",
             "lines": [{"sku": "JK-M", "quantity": 1, "unit_price_minor": 12900}],
             "payments": [{"method": "cash", "amount_minor": 12900}]}]});
        let r = t.post("/v1/tills/LYS-T03/batches", &t.store, batch).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let queue = t
            .get(
                "/v1/locations/LYS-BELLECOUR/pos-conflicts?status=open",
                &t.store,
            )
            .await;
        let open: Vec<&Value> = queue.body["data"].as_array().unwrap().iter().collect();
        assert_eq!(open.len(), 2, "{}", queue.body);
        assert_eq!(on_hand(&t, "JK-M").await, 0);
        let (a, b) = (
            open[0]["id"].as_str().unwrap(),
            open[1]["id"].as_str().unwrap(),
        );
        // Paris sees nothing of Lyon's queue.
        let paris = crate::key(&t.db.db, "store:PAR-RIVOLI").await;
        assert_eq!(
            t.get("/v1/locations/LYS-BELLECOUR/pos-conflicts", &paris)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let oid = web.body["id"].as_str().unwrap();
        let r = t
            .post(
                &format!("/v1/pos-conflicts/{a}/resolution"),
                &t.store,
                json!({"action": "cancel_online", "order_id": oid, "note": "sold at the till"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            t.get(&format!("/v1/orders/{oid}"), &t.service).await.body["state"],
            "cancelled"
        );
        let again = t
            .post(
                &format!("/v1/pos-conflicts/{a}/resolution"),
                &t.store,
                json!({"action": "accept"}),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
        let bad = t
            .post(
                &format!("/v1/pos-conflicts/{b}/resolution"),
                &t.store,
                json!({"action": "shrug"}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let r = t
            .post(
                &format!("/v1/pos-conflicts/{b}/resolution"),
                &t.store,
                json!({"action": "accept"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["resolution"].as_str()),
            (StatusCode::OK, Some("accept")),
            "{}",
            r.body
        );
        let queue = t
            .get(
                "/v1/locations/LYS-BELLECOUR/pos-conflicts?status=open",
                &t.store,
            )
            .await;
        assert_eq!(
            queue.body["data"].as_array().unwrap().len(),
            0,
            "{}",
            queue.body
        );
    }
}

#[tokio::test]
async fn a_batch_earns_as_its_sales_would_one_by_one() {
    for t in TestApp::every_backend().await {
        gift_shop(&t).await;
        let cid = member(&t).await;
        // Gold from 400 points over the period, earning double: the welcome 100 count.
        let programme = json!({
            "currency": "EUR", "points_per_unit": 1,
            "tiers": [{"code": "member", "threshold": 0, "earn_pct": 100}, {"code": "gold", "threshold": 400, "earn_pct": 200}],
            "tier_months": 12, "expiry_months": 24, "point_value_minor": 1, "min_spend_points": 1
        });
        let r = t.put("/v1/loyalty/programme", &t.admin, programme).await;
        assert!(r.status.is_success(), "{}", r.body);
        let sale = |n: u32, customer: Option<&str>| {
            json!({"kind": "sale", "receipt": format!("T01-01{n:02}"), "at": format!("2026-12-05T11:{n:02}:00Z"),
                   "currency": "EUR", "customer_id": customer,
                   "lines": [{"sku": "JK-M", "quantity": 1, "unit_price_minor": 15000}],
                   "payments": [{"method": "card", "amount_minor": 15000, "reference": format!("term-{n}")}]})
        };
        let batch = json!({"location": "LYS-BELLECOUR", "seq": 1, "operations": [
            sale(1, Some(&cid)), sale(2, None), sale(3, Some(&cid)), sale(4, Some(&cid))
        ]});
        let r = t.post(BATCH, &t.store, batch.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name(), r.body);
        // 100 + 150 = 250 (member); + 150 = 400, gold from now; + 150 × 2 = 700.
        let account = t
            .get(&format!("/v1/customers/{cid}/loyalty"), &t.service)
            .await
            .body;
        assert_eq!(
            (account["balance"].as_i64(), account["tier"].as_str()),
            (Some(700), Some("gold")),
            "{}: {account}",
            t.name()
        );
        let earned: Vec<(i64, i64)> = account["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "earn")
            .map(|e| {
                (
                    e["points"].as_i64().unwrap(),
                    e["balance_after"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(earned, [(300, 700), (150, 400), (150, 250)], "{account}");
        // Posted again: the same account.
        let again = t.post(BATCH, &t.store, batch).await;
        assert!(again.status.is_success(), "{}", again.body);
        assert_eq!(balance(&t, &cid).await, 700);
    }
}
