//! Access as a table: every route of the OpenAPI document × every role (admin, channel,
//! store A, store B, service, no key) against `app::access::ROUTES`, and every `own` reach
//! tried on something that is not the key's own — on SQLite and PostgreSQL.

use app::access::{PUBLIC, ROUTES, Reach, Role};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::orders::{acted, atp, pickup_lyon, shop};
use crate::{Reply, TestApp, key};

/// Every (method, path) the OpenAPI document describes.
async fn documented(t: &TestApp) -> Vec<(String, String)> {
    let doc = t.get("/openapi.json", &t.admin).await.body;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// A path with every parameter filled with a value that names nothing: the door decides
/// before any handler looks the resource up, so nothing is changed by the walk.
fn concrete(path: &str) -> String {
    path.replace("{id}", "zz_nothing")
        .replace("{sku}", "ZZ-NOTHING")
        .replace("{code}", "ZZ-NOTHING")
        .replace("{currency}", "EUR")
        .replace("{country}", "ZZ")
        .replace("{channel}", "zz")
        .replace("{seq}", "999999")
        .replace("{transition}", "cancel")
        .replace("{token}", "zz_nothing")
        .replace("{owner}", "Nobody")
        .replace("{address_id}", "adr_nothing")
        .replace("{alert_id}", "sta_nothing")
        .replace("{rule}", "welcome")
}

async fn call(t: &TestApp, method: &str, path: &str, key: Option<&str>) -> Reply {
    if path.starts_with("/v1/stream/") {
        return stream_head(t, path, key).await;
    }
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let body = (method != Method::GET).then(|| json!({}));
    match key {
        Some(k) => t.send(method, path, k, body, None).await,
        None => {
            let mut req = axum::http::Request::builder().method(method).uri(path);
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let body = body.map_or(axum::body::Body::empty(), |b| b.to_string().into());
            t.raw(req.body(body).unwrap()).await
        }
    }
}

/// A live stream never ends: only its status (and an error's body) is read.
async fn stream_head(t: &TestApp, path: &str, key: Option<&str>) -> Reply {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().uri(path);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let response = t
        .app
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = if status.is_success() {
        Value::Null
    } else {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn every_route_has_a_row_and_every_role_gets_what_the_table_says() {
    for t in TestApp::every_backend().await {
        let paris = key(&t.db.db, "store:PAR-RIVOLI").await;
        let marketing = key(&t.db.db, "marketing").await;
        let ops = documented(&t).await;
        for (method, path) in &ops {
            if PUBLIC.contains(&path.as_str()) {
                let r = call(&t, method, path, None).await;
                assert!(
                    r.status.is_success(),
                    "{method} {path} is public: {}",
                    r.status
                );
                continue;
            }
            let rule = app::access::route(method, path)
                .unwrap_or_else(|| panic!("{method} {path} has no row in app::access::ROUTES"));
            let uri = concrete(path);
            let anonymous = call(&t, method, &uri, None).await;
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a key"
            );
            let roles = [
                (Role::Admin, &t.admin),
                (Role::Channel, &t.web),
                (Role::Store, &t.store),
                (Role::Store, &paris),
                (Role::Service, &t.service),
                (Role::Marketing, &marketing),
            ];
            for (role, k) in roles {
                let r = call(&t, method, &uri, Some(k)).await;
                let at_the_door = r.status == StatusCode::FORBIDDEN
                    && r.body["error"]["details"]["route"].is_string();
                let refused = matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
                let reach = rule.reach(role);
                let ok = match reach {
                    Reach::No => at_the_door && r.code() == "forbidden",
                    // Refused further in only by the rule about whose it is.
                    Reach::Own => !at_the_door && r.status != StatusCode::UNAUTHORIZED,
                    Reach::Yes => !refused,
                };
                assert!(
                    ok && r.status != StatusCode::INTERNAL_SERVER_ERROR,
                    "{}: {method} {path} as {role:?} ({reach:?}): {} {}",
                    t.name(),
                    r.status,
                    r.body
                );
            }
        }
        for row in ROUTES {
            assert!(
                ops.iter().any(|(m, p)| m == row.method && p == row.path),
                "{} {} has a row but no route",
                row.method,
                row.path
            );
        }
    }
}

/// What the `own` cases act on: two stores, two channels, a customer of Lyon known on the
/// web, a paid web pickup order in Lyon, a hold the web key made, a transfer Lyon → Paris.
struct World {
    paris: String,
    app: String,
    bordeaux: String,
    customer: String,
    order: Value,
    hold: String,
    order_hold: String,
    transfer: String,
    /// Store credit service issued to `customer`.
    credit: String,
    /// A conflict Lyon's till opened (it sold offline more jackets than Lyon had).
    conflict: String,
}

async fn world(t: &TestApp) -> World {
    shop(t).await;
    let customer = t
        .post("/v1/customers", &t.web, json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}], "home_store": "LYS-BELLECOUR"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let basket = t
        .post(
            "/v1/carts",
            &t.web,
            json!({"customer_id": customer, "lines": [{"sku": "TR-42", "quantity": 1}]}),
        )
        .await
        .body;
    let order = t
        .post(
            &format!("/v1/carts/{}/checkout", basket["id"].as_str().unwrap()),
            &t.web,
            pickup_lyon(),
        )
        .await
        .body;
    let order_hold = order["lines"][0]["hold_id"].as_str().unwrap().to_owned();
    let hold = t
        .post("/v1/holds", &t.web, json!({"sku": "JK-M", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "reserve", "owner_ref": "web-session-1"}))
        .await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let transfer = t
        .post("/v1/transfers", &t.store, json!({"sku": "TR-43", "from_location": "LYS-BELLECOUR", "to_location": "PAR-RIVOLI", "quantity": 1}))
        .await;
    assert_eq!(transfer.status, StatusCode::CREATED, "{}", transfer.body);
    let credit = t
        .post(
            &format!("/v1/customers/{customer}/store-credits"),
            &t.service,
            json!({"amount_minor": 500, "currency": "EUR", "reason": "goodwill"}),
        )
        .await;
    assert_eq!(credit.status, StatusCode::CREATED, "{}", credit.body);
    let till = t
        .post("/v1/tills/LYS-T01/batches", &t.store, till_batch(1))
        .await;
    assert_eq!(till.status, StatusCode::CREATED, "{}", till.body);
    World {
        conflict: till.body["conflicts"][0]["id"].as_str().unwrap().to_owned(),
        credit: credit.body["id"].as_str().unwrap().to_owned(),
        paris: key(&t.db.db, "store:PAR-RIVOLI").await,
        app: key(&t.db.db, "channel:app").await,
        bordeaux: key(&t.db.db, "store:BDX-CENTRE").await,
        customer,
        order,
        hold: hold.body["id"].as_str().unwrap().to_owned(),
        order_hold,
        transfer: transfer.body["id"].as_str().unwrap().to_owned(),
    }
}

/// Batch `seq` of Lyon's till: five jackets sold offline.
fn till_batch(seq: i64) -> Value {
    json!({"location": "LYS-BELLECOUR", "seq": seq, "operations": [
        {"kind": "sale", "receipt": format!("R{seq}"), "at": "2026-12-05T10:00:00Z", "currency": "EUR",
         "lines": [{"sku": "JK-M", "quantity": 5, "unit_price_minor": 100}],
         "payments": [{"method": "cash", "amount_minor": 500}]}]})
}

/// One try at something that is not the key's own: (route row, role, key, path, body).
type Case<'a> = (
    &'static str,
    &'static str,
    Role,
    &'a str,
    String,
    Option<Value>,
);

fn own_cases(t: &TestApp, w: &World) -> Vec<Case<'static>> {
    let c = &w.customer;
    let o = w.order["id"].as_str().unwrap();
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    let (paris, app, bordeaux, web, service, lyon) = (
        leak(&w.paris),
        leak(&w.app),
        leak(&w.bordeaux),
        leak(&t.web),
        leak(&t.service),
        leak(&t.store),
    );
    let consent = json!({"purpose": "analytics", "status": "granted", "method": "web_form", "notice_version": "v1"});
    let identity = json!({"identifiers": [{"kind": "phone", "value": "+33611111111"}]});
    let mut cases: Vec<Case> = Vec::new();
    // A customer of Lyon, known on the web only, who shares nothing: not Paris's, not the app's.
    for (role, k) in [(Role::Store, paris), (Role::Channel, app)] {
        for (m, row, sub, body) in [
            ("GET", "/v1/customers/{id}", "", None),
            (
                "PATCH",
                "/v1/customers/{id}",
                "",
                Some(json!({"given_name": "X"})),
            ),
            (
                "POST",
                "/v1/customers/{id}/identities",
                "/identities",
                Some(identity.clone()),
            ),
            ("GET", "/v1/customers/{id}/consents", "/consents", None),
            (
                "POST",
                "/v1/customers/{id}/consents",
                "/consents",
                Some(consent.clone()),
            ),
            (
                "GET",
                "/v1/customers/{id}/consents/check",
                "/consents/check?purpose=analytics&channel=web",
                None,
            ),
            ("GET", "/v1/customers/{id}/orders", "/orders", None),
            (
                "GET",
                "/v1/customers/{id}/store-credits",
                "/store-credits",
                None,
            ),
            ("GET", "/v1/customers/{id}/cart", "/cart", None),
            ("GET", "/v1/customers/{id}/addresses", "/addresses", None),
            (
                "POST",
                "/v1/customers/{id}/addresses",
                "/addresses",
                Some(
                    json!({"address": {"name": "X", "line1": "1 rue", "postal_code": "69002", "city": "Lyon", "country": "FR"}}),
                ),
            ),
            (
                "DELETE",
                "/v1/customers/{id}/addresses/{address_id}",
                "/addresses/adr_nothing",
                None,
            ),
            (
                "GET",
                "/v1/customers/{id}/contact-preferences",
                "/contact-preferences",
                None,
            ),
            (
                "PUT",
                "/v1/customers/{id}/contact-preferences",
                "/contact-preferences",
                Some(json!({"language": "en"})),
            ),
            (
                "GET",
                "/v1/customers/{id}/stock-alerts",
                "/stock-alerts",
                None,
            ),
            (
                "POST",
                "/v1/customers/{id}/stock-alerts",
                "/stock-alerts",
                Some(json!({"sku": "NOPE", "location": "NOPE"})),
            ),
            (
                "DELETE",
                "/v1/customers/{id}/stock-alerts/{alert_id}",
                "/stock-alerts/sta_nothing",
                None,
            ),
            ("GET", "/v1/customers/{id}/loyalty", "/loyalty", None),
            (
                "POST",
                "/v1/customers/{id}/loyalty/rewards",
                "/loyalty/rewards",
                Some(json!({"reward": "voucher-5"})),
            ),
            (
                "POST",
                "/v1/customers/{id}/loyalty",
                "/loyalty",
                Some(json!({})),
            ),
        ] {
            cases.push((m, row, role, k, format!("/v1/customers/{c}{sub}"), body));
        }
        // A web order picked up in Lyon: not Paris's, not the app's.
        for (m, row, sub) in [
            ("GET", "/v1/orders/{id}", ""),
            ("GET", "/v1/orders/{id}/history", "/history"),
            ("GET", "/v1/orders/{id}/returns", "/returns"),
            ("POST", "/v1/orders/{id}/{transition}", "/cancel"),
        ] {
            let body = (m == "POST").then(|| json!({}));
            cases.push((m, row, role, k, format!("/v1/orders/{o}{sub}"), body));
        }
        // The customer's store credit.
        let credit = format!("/v1/store-credits/{}", w.credit);
        cases.push(("GET", "/v1/store-credits/{id}", role, k, credit, None));
        // The web key's hold: neither seen nor ended by others.
        for (m, row, sub) in [
            ("GET", "/v1/holds/{id}", ""),
            ("POST", "/v1/holds/{id}/commit", "/commit"),
            ("POST", "/v1/holds/{id}/release", "/release"),
        ] {
            let body = (m == "POST").then(|| json!({}));
            cases.push((m, row, role, k, format!("/v1/holds/{}{sub}", w.hold), body));
        }
    }
    for (m, row, sub) in [
        ("POST", "/v1/holds/{id}/commit", "/commit"),
        ("POST", "/v1/holds/{id}/release", "/release"),
    ] {
        cases.push((
            m,
            row,
            Role::Service,
            service,
            format!("/v1/holds/{}{sub}", w.hold),
            Some(json!({})),
        ));
    }
    // The order's own hold ends through the order, whoever asks.
    for k in [web, lyon, service] {
        let role = if k == lyon {
            Role::Store
        } else if k == web {
            Role::Channel
        } else {
            Role::Service
        };
        cases.push((
            "POST",
            "/v1/holds/{id}/release",
            role,
            k,
            format!("/v1/holds/{}/release", w.order_hold),
            Some(json!({})),
        ));
    }
    // Lyon's till and queue: not Paris's.
    for (m, row, path, body) in [
        (
            "POST",
            "/v1/tills/{id}/batches",
            "/v1/tills/LYS-T01/batches".to_owned(),
            Some(till_batch(2)),
        ),
        (
            "GET",
            "/v1/tills/{id}",
            "/v1/tills/LYS-T01".to_owned(),
            None,
        ),
        (
            "GET",
            "/v1/locations/{code}/pos-conflicts",
            "/v1/locations/LYS-BELLECOUR/pos-conflicts".to_owned(),
            None,
        ),
        (
            "POST",
            "/v1/pos-conflicts/{id}/resolution",
            format!("/v1/pos-conflicts/{}/resolution", w.conflict),
            Some(json!({"action": "accept"})),
        ),
        (
            "GET",
            "/v1/reports/kpis",
            "/v1/reports/kpis?location=LYS-BELLECOUR".to_owned(),
            None,
        ),
    ] {
        cases.push((m, row, Role::Store, paris, path, body));
    }
    cases.push((
        "GET",
        "/v1/customers/{id}/timeline",
        Role::Store,
        paris,
        format!("/v1/customers/{c}/timeline"),
        None,
    ));
    cases.push((
        "GET",
        "/v1/customers/{id}/interactions",
        Role::Store,
        paris,
        format!("/v1/customers/{c}/interactions"),
        None,
    ));
    cases.push((
        "GET",
        "/v1/customers",
        Role::Store,
        paris,
        "/v1/customers?home_store=LYS-BELLECOUR".into(),
        None,
    ));
    cases.push((
        "GET",
        "/v1/orders",
        Role::Store,
        paris,
        "/v1/orders?location=LYS-BELLECOUR".into(),
        None,
    ));
    cases.push((
        "GET",
        "/v1/orders",
        Role::Channel,
        app,
        "/v1/orders".into(),
        None,
    ));
    cases.push((
        "PATCH",
        "/v1/customers/{id}",
        Role::Store,
        lyon,
        format!("/v1/customers/{c}"),
        Some(json!({"home_store": "LYS-BELLECOUR"})),
    ));
    let lyon_stock = json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 5, "reason": "x"});
    cases.push((
        "POST",
        "/v1/stock/movements",
        Role::Store,
        paris,
        "/v1/stock/movements".into(),
        Some(lyon_stock),
    ));
    cases.push((
        "GET",
        "/v1/stock/movements",
        Role::Store,
        paris,
        "/v1/stock/movements?sku=TR-42&location=LYS-BELLECOUR".into(),
        None,
    ));
    cases.push(("POST", "/v1/holds", Role::Store, paris, "/v1/holds".into(), Some(json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 1, "purpose": "reserve", "owner_ref": "x"}))));
    cases.push(("POST", "/v1/transfers", Role::Store, paris, "/v1/transfers".into(), Some(json!({"sku": "TR-42", "from_location": "LYS-BELLECOUR", "to_location": "PAR-RIVOLI", "quantity": 1}))));
    cases.push((
        "GET",
        "/v1/transfers",
        Role::Store,
        paris,
        "/v1/transfers?location=LYS-BELLECOUR".into(),
        None,
    ));
    cases.push((
        "GET",
        "/v1/transfers/{id}",
        Role::Store,
        bordeaux,
        format!("/v1/transfers/{}", w.transfer),
        None,
    ));
    cases.push((
        "POST",
        "/v1/transfers/{id}/receive",
        Role::Store,
        lyon,
        format!("/v1/transfers/{}/receive", w.transfer),
        Some(json!({})),
    ));
    cases.push(("POST", "/v1/returns", Role::Store, paris, "/v1/returns".into(), Some(json!({"order": o, "location": "LYS-BELLECOUR", "lines": [{"line": 1, "quantity": 1, "condition": "resellable"}], "refund": "original_payment"}))));
    // The app cannot hand a code to a customer it does not know.
    cases.push((
        "POST",
        "/v1/coupons/{code}/issue",
        Role::Channel,
        app,
        "/v1/coupons/ZZ-NOTHING/issue".into(),
        Some(json!({"customer_id": c})),
    ));
    cases
}

#[tokio::test]
async fn no_key_reaches_what_is_not_its_own_and_nothing_changes() {
    for t in TestApp::every_backend().await {
        let w = world(&t).await;
        let cases = own_cases(&t, &w);
        // Every `own` reach of the table is tried at least once.
        for row in ROUTES {
            for role in [Role::Channel, Role::Store, Role::Service] {
                if row.reach(role) == Reach::Own {
                    assert!(
                        cases
                            .iter()
                            .any(|c| c.2 == role && c.1 == row.path && c.0 == row.method),
                        "no case tries {} {} as {role:?} on something not its own",
                        row.method,
                        row.path
                    );
                }
            }
        }
        let before = (
            atp(&t, "TR-42", "LYS-BELLECOUR").await,
            atp(&t, "JK-M", "LYS-BELLECOUR").await,
        );
        let events = t.events().await;
        for (m, row, role, k, path, body) in &cases {
            let r = t
                .send(
                    Method::from_bytes(m.as_bytes()).unwrap(),
                    path,
                    k,
                    body.clone(),
                    None,
                )
                .await;
            let listed_nothing = r.status == StatusCode::OK
                && r.body["data"]
                    .as_array()
                    .is_some_and(|d| d.iter().all(|o| o["id"] != w.order["id"]));
            assert!(
                matches!(r.status, StatusCode::FORBIDDEN | StatusCode::CONFLICT)
                    || (m == &"GET" && listed_nothing && path == "/v1/orders"),
                "{}: {m} {path} as {role:?} ({row}) should be refused: {} {}",
                t.name(),
                r.status,
                r.body
            );
        }
        assert_eq!(
            before,
            (
                atp(&t, "TR-42", "LYS-BELLECOUR").await,
                atp(&t, "JK-M", "LYS-BELLECOUR").await
            )
        );
        assert_eq!(
            t.events().await,
            events,
            "{}: a refused request wrote an event",
            t.name()
        );
        let profile = t
            .get(&format!("/v1/customers/{}", w.customer), &t.admin)
            .await
            .body;
        assert_eq!(
            (
                profile["given_name"].clone(),
                profile["home_store"].as_str()
            ),
            (Value::Null, Some("LYS-BELLECOUR"))
        );
        // The order still holds its unit, and is collected with its code.
        let ready = {
            acted(&t, &t.store, &w.order, "start_preparing", json!({})).await;
            acted(&t, &t.store, &w.order, "mark_ready", json!({})).await
        };
        assert_eq!(
            ready["pickup_code"],
            Value::Null,
            "a store never sees the pickup code"
        );
        let code = t
            .get(
                &format!("/v1/orders/{}", w.order["id"].as_str().unwrap()),
                &t.web,
            )
            .await
            .body["pickup_code"]
            .clone();
        assert!(
            code.is_string(),
            "{}: the web sees its own order's code",
            t.name()
        );
        let collected = acted(
            &t,
            &t.store,
            &w.order,
            "collect",
            json!({"pickup_code": code}),
        )
        .await;
        assert_eq!(collected["state"], "collected");
        // Each key still ends the hold it made.
        let released = t
            .post(&format!("/v1/holds/{}/release", w.hold), &t.web, json!({}))
            .await;
        assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    }
}

#[tokio::test]
async fn a_store_sees_a_customer_of_its_own_or_sharing_and_a_channel_one_it_knows() {
    for t in TestApp::every_backend().await {
        let w = world(&t).await;
        let c = &w.customer;
        // Lyon (home store) and the web (where she signed up) see her and her orders.
        for k in [&t.store, &t.web] {
            for sub in ["", "/orders", "/consents"] {
                let r = t.get(&format!("/v1/customers/{c}{sub}"), k).await;
                assert_eq!(r.status, StatusCode::OK, "{}: {sub}: {}", t.name(), r.body);
            }
        }
        // Once she shares her history with every store, Paris sees her too.
        t.post(&format!("/v1/customers/{c}/consents"), &t.service, json!({"purpose": "service_history_sharing", "status": "granted", "method": "pos", "notice_version": "v1"})).await;
        for sub in ["", "/orders", "/timeline"] {
            let r = t.get(&format!("/v1/customers/{c}{sub}"), &w.paris).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {sub}: {}", t.name(), r.body);
        }
        // The app knows her once she signs in there; it lists her app orders only.
        t.post("/v1/customers/identify", &w.app, json!({"identifiers": [{"kind": "email", "value": "lea@example.fr", "verified": true}]})).await;
        let orders = t.get(&format!("/v1/customers/{c}/orders"), &w.app).await;
        assert_eq!(
            (orders.status, orders.body["data"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0)),
            "{}",
            orders.body
        );
        let on_web = t.get(&format!("/v1/customers/{c}/orders"), &t.web).await;
        assert_eq!(on_web.body["data"].as_array().map(Vec::len), Some(1));
        // The e-receipt is the exception: any key looks it up, and learns only what a return needs.
        let token = w.order["receipt"]["token"].as_str().unwrap();
        let receipt = t.get(&format!("/v1/receipts/{token}"), &w.paris).await;
        assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.body);
        for private in ["customer_id", "pickup_code", "payments", "receipt"] {
            assert!(
                receipt.body.get(private).is_none(),
                "{private}: {}",
                receipt.body
            );
        }
        assert_eq!(receipt.body["lines"][0]["sold"], 0);
        // By order number, the order rules apply.
        let by_number = t
            .get(
                &format!("/v1/receipts/{}", w.order["id"].as_str().unwrap()),
                &w.paris,
            )
            .await;
        assert_eq!(by_number.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_key_minted_with_an_idempotency_key_leaves_no_token_in_clear() {
    for t in TestApp::every_backend().await {
        let body = json!({"name": "Till Lyon", "scopes": ["store:LYS-BELLECOUR"]});
        let first = t
            .send(
                Method::POST,
                "/v1/api-keys",
                &t.admin,
                Some(body.clone()),
                Some("mint-1"),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let token = first.body["token"].as_str().unwrap().to_owned();
        assert_eq!(t.get("/v1/products", &token).await.status, StatusCode::OK);
        // A retry says the key exists and cannot show its token again.
        let again = t
            .send(
                Method::POST,
                "/v1/api-keys",
                &t.admin,
                Some(body),
                Some("mint-1"),
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(
            (again.body["id"].clone(), again.body["token"].clone()),
            (first.body["id"].clone(), Value::Null)
        );
        assert_eq!(
            crate::customers::tables_containing(&t, &token[4..]).await,
            Vec::<String>::new(),
            "{}: the token is stored somewhere in clear",
            t.name()
        );
    }
}

#[tokio::test]
async fn extreme_quantities_are_refused_as_invalid_and_change_nothing() {
    for t in TestApp::every_backend().await {
        let w = world(&t).await;
        let order = w.order["id"].as_str().unwrap();
        let events = t.events().await;
        for q in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
            let cases = [
                (
                    "/v1/stock/movements",
                    json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "adjustment", "quantity": q, "reason": "x"}),
                ),
                (
                    "/v1/stock/movements",
                    json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": q, "reason": "x"}),
                ),
                (
                    "/v1/holds",
                    json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": q, "purpose": "reserve", "owner_ref": "x"}),
                ),
                (
                    "/v1/transfers",
                    json!({"sku": "TR-42", "from_location": "LYS-BELLECOUR", "to_location": "PAR-RIVOLI", "quantity": q}),
                ),
                (
                    "/v1/carts",
                    json!({"lines": [{"sku": "TR-42", "quantity": q}]}),
                ),
                (
                    "/v1/returns",
                    json!({"order": order, "location": "LYS-BELLECOUR", "lines": [{"line": 1, "quantity": q, "condition": "resellable"}], "refund": "original_payment"}),
                ),
            ];
            for (path, body) in cases {
                if q == -1 && body["kind"] == "adjustment" {
                    continue;
                }
                let r = t.post(path, &t.admin, body).await;
                assert!(
                    r.status == StatusCode::UNPROCESSABLE_ENTITY,
                    "{}: {path} with quantity {q}: {} {}",
                    t.name(),
                    r.status,
                    r.body
                );
            }
        }
        assert_eq!(t.events().await, events, "{}", t.name());
    }
}

#[tokio::test]
async fn a_path_parameter_that_does_not_parse_gets_the_json_error_shape() {
    let t = TestApp::on(testkit::sqlite().await).await;
    for (path, key) in [
        ("/v1/events/set-aside/abc/retry", &t.service),
        ("/v1/orders/x/fly", &t.admin),
    ] {
        let r = t.post(path, key, json!({})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_path"),
            "{path}: {}",
            r.body
        );
    }
}
