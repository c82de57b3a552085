//! Customers: one profile from every channel, consent respected, GDPR rights honoured.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, key};

async fn setup(t: &TestApp) {
    for (code, kind) in [("web", "web"), ("app", "app")] {
        t.created(
            "/v1/channels",
            json!({"code": code, "kind": kind, "name": code}),
        )
        .await;
    }
    t.two_stores().await;
}

fn event(channel: &str, kind: &str, ids: Value) -> Value {
    json!({"channel": channel, "type": kind, "identifiers": ids, "properties": {"sku": "TR-42"}})
}

/// Ingests and waits for resolution, to learn each event's profile.
async fn ingest(t: &TestApp, events: Vec<Value>) -> Value {
    let r = t
        .post(
            "/v1/events?wait=resolved",
            &t.admin,
            json!({ "events": events }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name(), r.body);
    r.body
}

async fn identify(t: &TestApp, key: &str, ids: Value) -> Value {
    let r = t
        .post("/v1/customers/identify", key, json!({ "identifiers": ids }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name(), r.body);
    r.body
}

async fn event_count(t: &TestApp, customer: &str) -> i64 {
    store::customer_events::count_for(&t.db.db, customer)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_customer_seen_on_web_and_app_becomes_one_profile_at_sign_in() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let web = ingest(
            &t,
            vec![
                event(
                    "web",
                    "page_view",
                    json!([{"kind": "web_anonymous", "value": "anon-1"}]),
                ),
                event(
                    "web",
                    "product_view",
                    json!([{"kind": "web_anonymous", "value": "anon-1"}]),
                ),
            ],
        )
        .await;
        let web_profile = web["stored"][0]["customer_id"].as_str().unwrap().to_owned();
        assert_eq!(web["stored"][1]["customer_id"], web_profile.as_str());
        assert_eq!(web["profiles_created"], 1);
        let app = ingest(
            &t,
            vec![event(
                "app",
                "add_to_cart",
                json!([{"kind": "app_device", "value": "dev-9"}]),
            )],
        )
        .await;
        let app_profile = app["stored"][0]["customer_id"].as_str().unwrap().to_owned();
        assert_ne!(app_profile, web_profile);

        // Sign-in on the web: the account e-mail (verified) joins the anonymous profile.
        let signed = identify(
            &t,
            &t.web,
            json!([{"kind": "email", "value": "Claire.Martin@Example.fr", "verified": true},
                   {"kind": "web_anonymous", "value": "anon-1"}]),
        )
        .await;
        assert_eq!(signed["customer_id"], web_profile.as_str());
        assert_eq!(signed["attached"], 1);
        // The same person signs in on the app, spelling the e-mail differently.
        let merged = identify(
            &t,
            &t.admin,
            json!([{"kind": "email", "value": " claire.martin@example.FR", "verified": true},
                   {"kind": "app_device", "value": "dev-9"}]),
        )
        .await;
        // The survivor rule: the oldest profile (the web one) survives.
        assert_eq!(merged["customer_id"], web_profile.as_str(), "{}", t.name());
        assert_eq!(merged["absorbed"], json!([app_profile]));
        assert_eq!(
            event_count(&t, &web_profile).await,
            3,
            "{}: no event lost",
            t.name()
        );
        assert_eq!(event_count(&t, &app_profile).await, 0);

        let old = t
            .get(&format!("/v1/customers/{app_profile}"), &t.admin)
            .await;
        assert_eq!(old.body["status"], "merged");
        assert_eq!(old.body["merged_into"], web_profile.as_str());
        // Sub-resources of a merged profile follow it to the survivor.
        let tl = t
            .get(&format!("/v1/customers/{app_profile}/timeline"), &t.service)
            .await;
        assert_eq!(tl.status, StatusCode::OK, "{}", tl.body);
        let kinds: Vec<&str> = tl.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.iter().filter(|k| **k == "event").count(), 3);
        assert!(kinds.contains(&"merge"));

        // The lineage explains it: which identifiers, which cause, when.
        let lineage = t
            .get(&format!("/v1/customers/{web_profile}/lineage"), &t.service)
            .await;
        let merges = lineage.body["merges"].as_array().unwrap();
        assert_eq!(merges.len(), 1);
        assert_eq!(merges[0]["absorbed_id"], app_profile.as_str());
        assert_eq!(merges[0]["cause"], "sign_in");
        assert!(merges[0]["identifiers"].to_string().contains("dev-9"));
        let identities = lineage.body["customer"]["identities"].as_array().unwrap();
        assert_eq!(identities.len(), 3);
        let email = identities.iter().find(|i| i["kind"] == "email").unwrap();
        assert_eq!(email["value"], "claire.martin@example.fr");
        assert_eq!(email["verified"], true);
        assert_eq!(email["channel"], "web");

        // Looking the customer up by any identifier finds the survivor.
        let found = t
            .get("/v1/customers?identifier=app_device:dev-9", &t.store)
            .await;
        assert_eq!(found.body["data"][0]["id"], web_profile.as_str());
        let probe = t
            .get("/v1/customers?identifier=app_device:dev-9", &t.web)
            .await;
        assert_eq!(
            probe.status,
            StatusCode::FORBIDDEN,
            "front-ends cannot probe who is a customer"
        );
        assert!(
            t.events().await > 0,
            "creations and merges are in the outbox"
        );
    }
}

#[tokio::test]
async fn two_verified_people_sharing_a_device_are_flagged_not_merged() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let a = identify(
            &t,
            &t.admin,
            json!([{"kind": "email", "value": "a@example.fr", "verified": true}]),
        )
        .await;
        let b = identify(
            &t,
            &t.admin,
            json!([{"kind": "email", "value": "b@example.fr", "verified": true},
                                              {"kind": "app_device", "value": "family-tablet"}]),
        )
        .await;
        let (a, b) = (
            a["customer_id"].as_str().unwrap(),
            b["customer_id"].as_str().unwrap(),
        );
        // The family tablet is used while signed in as A.
        let linked = ingest(
            &t,
            vec![event("app", "product_view", json!([{"kind": "email", "value": "a@example.fr"},
                                                     {"kind": "app_device", "value": "family-tablet"}]))],
        )
        .await;
        assert_eq!(linked["merges"], 0, "{}", t.name());
        assert_eq!(linked["stored"][0]["customer_id"], a);
        let reviews = t.get("/v1/merge-reviews", &t.service).await;
        let open = reviews.body["data"].as_array().unwrap();
        assert_eq!(open.len(), 1, "{}", reviews.body);
        assert_eq!(open[0]["reason"], "different_verified_emails");
        let pair = [
            open[0]["customer_a"].as_str().unwrap(),
            open[0]["customer_b"].as_str().unwrap(),
        ];
        assert!(pair.contains(&a) && pair.contains(&b));
        // The same link again flags nothing new.
        ingest(&t, vec![event("app", "page_view", json!([{"kind": "email", "value": "a@example.fr"}, {"kind": "app_device", "value": "family-tablet"}]))]).await;
        assert_eq!(
            t.get("/v1/merge-reviews", &t.service).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Reviews are not for channel keys.
        assert_eq!(
            t.get("/v1/merge-reviews", &t.web).await.status,
            StatusCode::FORBIDDEN
        );

        // A reviewer decides they are one person after all; the decision is taken once.
        let id = open[0]["id"].as_str().unwrap();
        let decided = t
            .post(
                &format!("/v1/merge-reviews/{id}/decision"),
                &t.service,
                json!({"decision": "merge"}),
            )
            .await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
        assert_eq!(decided.body["status"], "merged");
        let again = t
            .post(
                &format!("/v1/merge-reviews/{id}/decision"),
                &t.service,
                json!({"decision": "dismiss"}),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let b_now = t.get(&format!("/v1/customers/{b}"), &t.admin).await;
        assert_eq!(
            b_now.body["merged_into"],
            a,
            "{}: A is older and survives",
            t.name()
        );
    }
}

#[tokio::test]
async fn a_new_person_signing_in_on_a_known_device_gets_a_profile_of_their_own() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let a = identify(
            &t,
            &t.admin,
            json!([{"kind": "email", "value": "anne@example.fr", "verified": true},
                                              {"kind": "app_device", "value": "shared-ipad"}]),
        )
        .await;
        let a = a["customer_id"].as_str().unwrap().to_owned();
        // Her brother signs in on the same iPad with his own account.
        let b = identify(
            &t,
            &t.web,
            json!([{"kind": "email", "value": "bruno@example.fr", "verified": true},
                                                 {"kind": "app_device", "value": "shared-ipad"}]),
        )
        .await;
        let b_id = b["customer_id"].as_str().unwrap();
        assert_ne!(
            b_id,
            a,
            "{}: not merged into his sister's profile",
            t.name()
        );
        assert_eq!(b["created"], true);
        assert_eq!(b["flagged_for_review"][0]["customer_id"], a.as_str());
        let anne = t.get(&format!("/v1/customers/{a}"), &t.admin).await;
        let emails: Vec<&str> = anne.body["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "email")
            .map(|i| i["value"].as_str().unwrap())
            .collect();
        assert_eq!(emails, vec!["anne@example.fr"]);
        let reviews = t.get("/v1/merge-reviews", &t.service).await;
        assert_eq!(
            reviews.body["data"][0]["reason"],
            "different_verified_emails"
        );
        // The same holds for loyalty cards at a till.
        let c = identify(&t, &t.admin, json!([{"kind": "loyalty_card", "value": "ELS0001"}, {"kind": "pos_customer", "value": "till-7"}])).await;
        let d = identify(&t, &t.admin, json!([{"kind": "loyalty_card", "value": "ELS0002"}, {"kind": "pos_customer", "value": "till-7"}])).await;
        assert_ne!(c["customer_id"], d["customer_id"], "{}", t.name());
    }
}

#[tokio::test]
async fn a_batch_reports_bad_events_by_index_and_stores_the_others() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let before = t.events().await;
        let anon = json!([{"kind": "web_anonymous", "value": "anon-7"}]);
        let r = t
            .post(
                "/v1/events?wait=resolved",
                &t.admin,
                json!({"events": [
                    event("web", "page_view", anon.clone()),
                    event("web", "Page View", anon.clone()),
                    event("nowhere", "page_view", anon.clone()),
                    event("web", "page_view", json!([{"kind": "email", "value": "not-an-email"}])),
                    {"channel": "web", "type": "search", "identifiers": "anon-7"},
                    event("web", "search", anon.clone()),
                    {"channel": "web", "type": "store_visit", "identifiers": anon, "location_code": "NOWHERE"},
                ]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["accepted"], 2);
        let rejected: Vec<(u64, &str)> = r.body["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["index"].as_u64().unwrap(),
                    x["error"]["code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rejected,
            vec![
                (1, "validation_failed"),
                (2, "unknown_reference"),
                (3, "validation_failed"),
                (4, "invalid_body"),
                (6, "unknown_reference"),
            ],
            "{}",
            t.name()
        );
        let customer = r.body["stored"][0]["customer_id"].as_str().unwrap();
        assert_eq!(event_count(&t, customer).await, 2);

        // All bad: 422, nothing written.
        let after_first = t.events().await;
        assert!(after_first > before);
        let all_bad = t
            .post("/v1/events", &t.admin, json!({"events": [event("web", "Bad Type", json!([{"kind": "web_anonymous", "value": "x1"}]))]}))
            .await;
        assert_eq!(all_bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(all_bad.body["error"]["details"]["rejected"][0]["index"], 0);
        assert_eq!(t.events().await, after_first, "nothing written");
        // More than 1,000 events are refused as a whole.
        let many: Vec<Value> = (0..1001)
            .map(|_| {
                event(
                    "web",
                    "page_view",
                    json!([{"kind": "web_anonymous", "value": "x"}]),
                )
            })
            .collect();
        let too_many = t
            .post("/v1/events", &t.admin, json!({"events": many}))
            .await;
        assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A single event may be sent on its own; a channel key sends its own channel's.
        let one = t
            .post("/v1/events?wait=resolved", &t.web, json!({"type": "search", "identifiers": [{"kind": "web_anonymous", "value": "anon-7"}], "properties": {"q": "trail"}}))
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert_eq!(one.body["stored"][0]["customer_id"], customer);
        let foreign = t
            .post(
                "/v1/events",
                &t.web,
                event(
                    "app",
                    "search",
                    json!([{"kind": "web_anonymous", "value": "anon-7"}]),
                ),
            )
            .await;
        assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            foreign.body["error"]["details"]["rejected"][0]["error"]["code"],
            "forbidden"
        );
    }
}

#[tokio::test]
async fn a_withdrawn_consent_is_refused_at_once() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let c = identify(
            &t,
            &t.web,
            json!([{"kind": "email", "value": "c@example.fr", "verified": true}]),
        )
        .await;
        let id = c["customer_id"].as_str().unwrap();
        let check = |channel: &str| {
            format!("/v1/customers/{id}/consents/check?purpose=email_marketing&channel={channel}")
        };
        assert_eq!(
            t.get(&check("web"), &t.web).await.body["allowed"],
            false,
            "no record, no consent"
        );
        let grant = json!({"purpose": "email_marketing", "status": "granted", "method": "web_form",
                           "notice_version": "2026-09", "evidence": {"request_id": "form-1"}});
        let r = t
            .post(&format!("/v1/customers/{id}/consents"), &t.web, grant)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(t.get(&check("web"), &t.web).await.body["allowed"], true);
        assert_eq!(t.get(&check("app"), &t.web).await.body["allowed"], true);
        let withdraw = json!({"purpose": "email_marketing", "status": "withdrawn", "method": "email_link", "notice_version": "2026-09"});
        let w = t
            .post(&format!("/v1/customers/{id}/consents"), &t.admin, withdraw)
            .await;
        let decided = t.get(&check("web"), &t.web).await;
        assert_eq!(decided.body["allowed"], false, "{}", t.name());
        assert_eq!(decided.body["record_id"], w.body["id"]);
        assert_eq!(decided.body["status"], "withdrawn");
        let all = t.get(&format!("/v1/customers/{id}/consents"), &t.web).await;
        assert_eq!(all.body["history"].as_array().unwrap().len(), 2);
        assert_eq!(all.body["current"].as_array().unwrap().len(), 1);
        assert_eq!(all.body["current"][0]["status"], "withdrawn");
        // A channel key cannot speak for another channel; bad input changes nothing.
        let other = t.post(&format!("/v1/customers/{id}/consents"), &t.web,
            json!({"purpose": "push", "status": "granted", "channel": "app", "method": "app_settings", "notice_version": "1"})).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let bad = t.post(&format!("/v1/customers/{id}/consents"), &t.admin,
            json!({"purpose": "telepathy", "status": "granted", "method": "web_form", "notice_version": "1"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            t.get(&format!("/v1/customers/{id}/consents"), &t.web)
                .await
                .body["history"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}

#[tokio::test]
async fn stores_see_the_service_history_of_their_customers_or_with_consent() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let paris = key(&t.db.db, "store:PAR-RIVOLI").await;
        let r = t
            .post(
                "/v1/customers",
                &t.admin,
                json!({"identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}],
            "given_name": "Claire", "home_store": "LYS-BELLECOUR"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["identities"][0]["value"], "+33612345678");
        let id = r.body["id"].as_str().unwrap();
        let call = json!({"medium": "phone", "direction": "inbound", "summary": "Asked about her trail shoes", "agent": "agent-12", "references": ["ORD-1001"]});
        let rec = t
            .post(
                &format!("/v1/customers/{id}/interactions"),
                &t.service,
                call,
            )
            .await;
        assert_eq!(rec.status, StatusCode::CREATED, "{}", rec.body);
        let path = format!("/v1/customers/{id}/interactions");
        assert_eq!(
            t.get(&path, &t.service).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            t.get(&path, &t.store).await.status,
            StatusCode::OK,
            "home store"
        );
        assert_eq!(
            t.get(&path, &paris).await.status,
            StatusCode::FORBIDDEN,
            "{}",
            t.name()
        );
        assert_eq!(t.get(&path, &t.web).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            t.get(&format!("/v1/customers/{id}/timeline"), &paris)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // Paris may note the visit it handled (at its own store) without reading the history.
        let visit = json!({"medium": "store_visit", "direction": "inbound", "summary": "Picked up a bike", "location_code": "PAR-RIVOLI"});
        let noted = t
            .post(&format!("/v1/customers/{id}/interactions"), &paris, visit)
            .await;
        assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.body);
        let elsewhere = json!({"medium": "store_visit", "direction": "inbound", "summary": "x", "location_code": "LYS-BELLECOUR"});
        assert_eq!(
            t.post(
                &format!("/v1/customers/{id}/interactions"),
                &paris,
                elsewhere
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        let chat = json!({"medium": "chat", "direction": "inbound", "summary": "x"});
        assert_eq!(
            t.post(&format!("/v1/customers/{id}/interactions"), &t.web, chat)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // The customer agrees to share their history with every store.
        let share = json!({"purpose": "service_history_sharing", "status": "granted", "method": "pos",
                           "location_code": "LYS-BELLECOUR", "notice_version": "2026-09", "evidence": {"staff_id": "assoc-3"}});
        assert_eq!(
            t.post(&format!("/v1/customers/{id}/consents"), &t.store, share)
                .await
                .status,
            StatusCode::CREATED
        );
        let seen = t.get(&path, &paris).await;
        assert_eq!(seen.status, StatusCode::OK);
        // Newest first: Paris's note, then the call.
        assert_eq!(seen.body["data"].as_array().unwrap().len(), 2);
        assert_eq!(seen.body["data"][1]["references"], json!(["ORD-1001"]));
        // Store keys list their own home-store customers only, with their identities.
        let listed = t.get("/v1/customers", &t.store).await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(
            listed.body["data"][0]["identities"][0]["value"],
            "+33612345678"
        );
        assert_eq!(
            t.get("/v1/customers", &paris).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            t.get("/v1/customers?home_store=LYS-BELLECOUR", &paris)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // An identifier already held is refused with its holder.
        let dup = t
            .post(
                "/v1/customers",
                &t.admin,
                json!({"identifiers": [{"kind": "phone", "value": "+33612345678"}]}),
            )
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        assert_eq!(dup.body["error"]["details"]["customer_id"], id);
    }
}

/// Every text column of every table that contains `needle`, as `table.column`.
pub(crate) async fn tables_containing(t: &TestApp, needle: &str) -> Vec<String> {
    let mut conn = t.db.db.read().await.unwrap();
    let columns: Vec<(String, String)> = match t.db.db.backend() {
        store::Backend::Sqlite => {
            let tables = conn
                .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", &[])
                .await
                .unwrap();
            let mut cols = Vec::new();
            for table in tables {
                let name = table.text("name").unwrap();
                for c in conn.query(&format!("SELECT name, type FROM pragma_table_info('{name}')"), &[]).await.unwrap() {
                    if c.text("type").unwrap().eq_ignore_ascii_case("TEXT") {
                        cols.push((name.clone(), c.text("name").unwrap()));
                    }
                }
            }
            cols
        }
        store::Backend::Postgres => conn
            .query(
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                 WHERE table_schema = current_schema() AND data_type = 'text'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.text("t").unwrap(), r.text("c").unwrap()))
            .collect(),
    };
    let mut found = Vec::new();
    for (table, column) in columns {
        let n = conn
            .query_one(
                &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} LIKE $1"),
                &[store::Value::from(format!("%{needle}%"))],
            )
            .await
            .unwrap()
            .int("n")
            .unwrap();
        if n > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

async fn stock_total(t: &TestApp) -> (i64, i64) {
    let row = t
        .db
        .db
        .read()
        .await
        .unwrap()
        .query_one("SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) AS d, COUNT(*) AS n FROM stock_movements", &[])
        .await
        .unwrap();
    (row.int("d").unwrap(), row.int("n").unwrap())
}

#[tokio::test]
async fn erasure_leaves_no_email_or_phone_anywhere_and_ledgers_unchanged() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        t.created("/v1/products", crate::product_body("TR", &["42"]))
            .await;
        t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 5, "reason": "delivery"})).await;
        let email = "erase.me@example.fr";
        let phone = "+33698765432";
        let created = t
            .send(axum::http::Method::POST, "/v1/customers", &t.admin,
                Some(json!({"identifiers": [{"kind": "email", "value": email, "verified": true}, {"kind": "phone", "value": phone}],
                            "given_name": "Eve", "family_name": "Lemoine", "home_store": "LYS-BELLECOUR"})),
                Some("create-eve"))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let id = created.body["id"].as_str().unwrap().to_owned();
        // An anonymous app profile with her e-mail in a property, merged in by a sign-in.
        ingest(&t, vec![json!({"channel": "app", "type": "newsletter_signup",
            "identifiers": [{"kind": "app_device", "value": "eve-phone"}], "properties": {"typed": email}})]).await;
        identify(&t, &t.admin, json!([{"kind": "email", "value": email, "verified": true}, {"kind": "app_device", "value": "eve-phone"}])).await;
        t.post(&format!("/v1/customers/{id}/interactions"), &t.service,
            json!({"medium": "phone", "direction": "inbound", "summary": format!("Call back on {phone}")})).await;
        t.post(&format!("/v1/customers/{id}/consents"), &t.admin,
            json!({"purpose": "sms_marketing", "status": "granted", "method": "pos", "notice_version": "2026-09"})).await;
        let export = t
            .get(&format!("/v1/customers/{id}/export"), &t.service)
            .await;
        assert_eq!(export.status, StatusCode::OK);
        let text = export.body.to_string();
        assert!(text.contains(email) && text.contains(phone) && text.contains("Lemoine"));
        assert_eq!(export.body["events"].as_array().unwrap().len(), 1);
        assert_eq!(export.body["interactions"].as_array().unwrap().len(), 1);
        assert_eq!(export.body["consents"].as_array().unwrap().len(), 1);
        assert_eq!(export.body["merged_profiles"].as_array().unwrap().len(), 1);
        assert!(
            !tables_containing(&t, email).await.is_empty(),
            "the scan finds what is there"
        );
        let ledger = stock_total(&t).await;

        assert_eq!(
            t.post(&format!("/v1/customers/{id}/erasure"), &t.web, json!({}))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let erased = t
            .post(
                &format!("/v1/customers/{id}/erasure"),
                &t.service,
                json!({}),
            )
            .await;
        assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
        assert_eq!(erased.body["identities_removed"], 3);
        // Nor in the raw SQLite files: deleted content is zeroed and the WAL truncated.
        if let Some(path) = t.db.url.strip_prefix("sqlite://") {
            for file in [path.to_owned(), format!("{path}-wal")] {
                let bytes = std::fs::read(&file).unwrap_or_default();
                for needle in [email, phone, "Lemoine", "eve-phone"] {
                    let found = bytes
                        .windows(needle.len())
                        .filter(|w| *w == needle.as_bytes())
                        .count();
                    assert_eq!(found, 0, "{file} still holds {needle} {found} times");
                }
            }
        }
        for needle in [email, phone, "Lemoine", "eve-phone"] {
            assert_eq!(
                tables_containing(&t, needle).await,
                Vec::<String>::new(),
                "{}: {needle}",
                t.name()
            );
        }
        assert_eq!(stock_total(&t).await, ledger);
        let after = t.get(&format!("/v1/customers/{id}"), &t.admin).await;
        assert_eq!(after.body["status"], "erased");
        assert_eq!(after.body["identities"], json!([]));
        // The profile answers `erased`; every sub-resource answers the same 410, whoever asks.
        for sub in [
            "timeline",
            "export",
            "consents",
            "identities",
            "orders",
            "store-credits",
            "cart",
            "lineage",
            "interactions",
            "segments",
            "consents/check?purpose=analytics&channel=web",
        ] {
            let path = format!("/v1/customers/{id}/{sub}");
            let r = if sub == "identities" {
                t.post(
                    &path,
                    &t.service,
                    json!({"identifiers": [{"kind": "email", "value": "x@example.fr"}]}),
                )
                .await
            } else {
                t.get(&path, &t.service).await
            };
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::GONE, "customer_erased"),
                "{}: {sub}: {}",
                t.name(),
                r.body
            );
        }
        let erasures = t
            .get("/v1/outbox?type=relais.customer.erased", &t.admin)
            .await;
        assert_eq!(erasures.body["data"][0]["subject"], id.as_str());
        // The e-mail is free again: a new sign-up is a new person.
        let again = identify(&t, &t.web, json!([{"kind": "email", "value": email}])).await;
        assert_ne!(again["customer_id"], id.as_str());
    }
}

#[tokio::test]
async fn a_merge_inside_a_batch_moves_the_events_of_the_same_batch() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let x = json!([{"kind": "web_anonymous", "value": "x"}]);
        let y = json!([{"kind": "app_device", "value": "y"}]);
        let both =
            json!([{"kind": "web_anonymous", "value": "x"}, {"kind": "app_device", "value": "y"}]);
        let r = ingest(
            &t,
            vec![
                event("web", "page_view", x.clone()),
                event("app", "page_view", y.clone()),
                event("web", "sign_in", both),
                event("app", "search", y),
            ],
        )
        .await;
        assert_eq!(r["profiles_created"], 2);
        assert_eq!(r["merges"], 1);
        let survivor = r["stored"][0]["customer_id"].as_str().unwrap();
        for i in 0..4 {
            assert_eq!(
                r["stored"][i]["customer_id"],
                survivor,
                "{}: event {i}",
                t.name()
            );
        }
        assert_eq!(event_count(&t, survivor).await, 4, "{}", t.name());
    }
}

/// Event keys are filled behind the log on SQLite: events keyed before a merge move with it
/// (their keys do), and events still waiting for a key when the merge happens get one under
/// the survivor. Nothing stays with the absorbed profile.
#[tokio::test]
async fn events_keyed_before_and_after_a_merge_all_follow_the_survivor() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let web = json!([{"kind": "web_anonymous", "value": "k-web"}]);
        let app = json!([{"kind": "app_device", "value": "k-app"}]);
        let first = ingest(
            &t,
            vec![
                event("web", "page_view", web.clone()),
                event("app", "page_view", app.clone()),
            ],
        )
        .await;
        let (w, a) = (
            first["stored"][0]["customer_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            first["stored"][1]["customer_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        // Reading counts keys every event so far.
        assert_eq!(event_count(&t, &w).await, 1, "{}", t.name());
        assert_eq!(event_count(&t, &a).await, 1, "{}", t.name());
        // Two more app events wait for their keys while the profiles merge.
        ingest(
            &t,
            vec![
                event("app", "search", app.clone()),
                event("app", "add_to_cart", app.clone()),
            ],
        )
        .await;
        let merged = identify(
            &t,
            &t.admin,
            json!([{"kind": "web_anonymous", "value": "k-web"},
                   {"kind": "app_device", "value": "k-app"}]),
        )
        .await;
        let survivor = merged["customer_id"].as_str().unwrap();
        let absorbed = if survivor == w { &a } else { &w };
        assert_eq!(merged["absorbed"], json!([absorbed]), "{}", t.name());
        assert_eq!(event_count(&t, survivor).await, 4, "{}", t.name());
        assert_eq!(event_count(&t, absorbed).await, 0, "{}", t.name());
        let tl = t
            .get(&format!("/v1/customers/{survivor}/timeline"), &t.service)
            .await;
        let titles: Vec<&str> = tl.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "event")
            .map(|e| e["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles.len(), 4, "{}: {titles:?}", t.name());
        assert!(titles.contains(&"add_to_cart") && titles.contains(&"search"));
    }
}

#[tokio::test]
async fn segment_membership_follows_events_and_consent_as_they_arrive() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let mut ids = Vec::new();
        for (n, store) in [
            (1, "LYS-BELLECOUR"),
            (2, "LYS-BELLECOUR"),
            (3, "PAR-RIVOLI"),
        ] {
            let r = t.post("/v1/customers", &t.admin, json!({"identifiers": [{"kind": "app_device", "value": format!("d{n}")}], "home_store": store})).await;
            ids.push(r.body["id"].as_str().unwrap().to_owned());
        }
        let rule = json!({"all": [
            {"home_store": ["LYS-BELLECOUR"]},
            {"event_count": {"type": "product_view", "channel": "app", "within_days": 30, "at_least": 2}},
            {"consent": {"purpose": "push", "channel": "app"}}
        ]});
        let created = t
            .post(
                "/v1/segments",
                &t.service,
                json!({"code": "lyon-app-lookers", "name": "Lyon app lookers", "rule": rule}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let count = || async {
            t.get("/v1/segments/lyon-app-lookers", &t.service)
                .await
                .body["members"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(count().await, 0);
        let view = |n: i32| {
            event(
                "app",
                "product_view",
                json!([{"kind": "app_device", "value": format!("d{n}")}]),
            )
        };
        ingest(&t, vec![view(1), view(1), view(2), view(3), view(3)]).await;
        assert_eq!(count().await, 0, "no consent yet");
        for id in &ids {
            t.post(&format!("/v1/customers/{id}/consents"), &t.admin,
                json!({"purpose": "push", "status": "granted", "channel": "app", "method": "app_settings", "notice_version": "3"})).await;
        }
        assert_eq!(
            count().await,
            1,
            "{}: customer 1 only (2 viewed once, 3 is in Paris)",
            t.name()
        );
        ingest(&t, vec![view(2)]).await;
        let members = t
            .get("/v1/segments/lyon-app-lookers/members", &t.service)
            .await;
        let got: Vec<&str> = members.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()], "{}", t.name());
        // Withdrawing push takes customer 1 out at once.
        t.post(&format!("/v1/customers/{}/consents", ids[0]), &t.admin,
            json!({"purpose": "push", "status": "withdrawn", "method": "app_settings", "notice_version": "3"})).await;
        assert_eq!(count().await, 1);
        let of = t
            .get(&format!("/v1/customers/{}/segments", ids[1]), &t.service)
            .await;
        assert_eq!(of.body["segments"], json!(["lyon-app-lookers"]));
        // Bad rules are refused with the field; channel keys may not define segments.
        let bad = t
            .post(
                "/v1/segments",
                &t.service,
                json!({"code": "bad", "name": "Bad", "rule": {"event_count": {"within_days": 0}}}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.body["error"]["details"]["field"], "rule");
        let unknown = t
            .post(
                "/v1/segments",
                &t.service,
                json!({"code": "bad", "name": "Bad", "rule": {"shoe_size": 42}}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            t.post(
                "/v1/segments",
                &t.web,
                json!({"code": "x1", "name": "X", "rule": {"has_identity": "email"}})
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
    }
}

/// Batches of events read their identifiers' owners before the writer runs them (SQLite):
/// batches racing over the same visitors, with sign-ins in between, must still leave every
/// identifier on one profile, every pair that was named together on the same one, and every
/// event counted once.
#[tokio::test]
async fn event_batches_racing_over_the_same_visitors_resolve_to_one_profile_each() {
    const VISITORS: usize = 10;
    const BATCHES: usize = 12;
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let web = |c: usize| json!([{"kind": "web_anonymous", "value": format!("race-w{c}")}]);
        let app = |c: usize| json!([{"kind": "app_device", "value": format!("race-a{c}")}]);
        let batches = (0..BATCHES).map(|b| {
            let t = &t;
            let events: Vec<Value> = (0..VISITORS)
                .flat_map(|c| {
                    let both = json!([{"kind": "web_anonymous", "value": format!("race-w{c}")},
                                      {"kind": "app_device", "value": format!("race-a{c}")}]);
                    let mut four = vec![
                        event("web", "page_view", web(c)),
                        event("app", "page_view", app(c)),
                        event("web", "sign_in", both),
                        event("app", "search", app(c)),
                    ];
                    four.rotate_left((b + c) % 4);
                    four
                })
                .collect();
            async move { ingest(t, events).await }
        });
        let sign_ins = (0..VISITORS).map(|c| {
            let t = &t;
            async move {
                identify(
                    t,
                    &t.web,
                    json!([{"kind": "email", "value": format!("race{c}@example.fr"), "verified": true},
                           {"kind": "web_anonymous", "value": format!("race-w{c}")}]),
                )
                .await
            }
        });
        let (_, _) = futures::future::join(
            futures::future::join_all(batches),
            futures::future::join_all(sign_ins),
        )
        .await;
        let mut total = 0;
        for c in 0..VISITORS {
            let mut owners = std::collections::BTreeSet::new();
            for id in [
                format!("web_anonymous:race-w{c}"),
                format!("app_device:race-a{c}"),
                format!("email:race{c}@example.fr"),
            ] {
                let found = t
                    .get(&format!("/v1/customers?identifier={id}"), &t.admin)
                    .await;
                assert_eq!(
                    found.status,
                    StatusCode::OK,
                    "{}: {id}: {}",
                    t.name(),
                    found.body
                );
                owners.insert(
                    found.body["data"][0]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            assert_eq!(owners.len(), 1, "{}: visitor {c}: {owners:?}", t.name());
            total += event_count(&t, owners.first().unwrap()).await;
        }
        assert_eq!(total as usize, BATCHES * VISITORS * 4, "{}", t.name());
    }
}

#[tokio::test]
async fn many_channels_signing_in_one_new_customer_at_once_make_one_profile() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let calls = (0..24).map(|n| {
            let key = if n % 2 == 0 { t.web.clone() } else { t.admin.clone() };
            let t = &t;
            async move {
                t.post(
                    "/v1/customers/identify",
                    &key,
                    json!({"identifiers": [{"kind": "email", "value": "rush@example.fr", "verified": true},
                                           {"kind": "app_device", "value": format!("device-{n}")}]}),
                )
                .await
            }
        });
        let replies = futures::future::join_all(calls).await;
        let mut owners = std::collections::BTreeSet::new();
        for r in &replies {
            assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name(), r.body);
            owners.insert(r.body["customer_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(owners.len(), 1, "{}: one person, one profile", t.name());
        let id = owners.into_iter().next().unwrap();
        let profile = t.get(&format!("/v1/customers/{id}"), &t.admin).await;
        assert_eq!(
            profile.body["identities"].as_array().unwrap().len(),
            25,
            "{}",
            t.name()
        );
        assert_eq!(
            t.get("/v1/customers", &t.admin).await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

/// Two nodes (two writers) on one PostgreSQL database sign the same new customer in from
/// many devices at once: conflicts are retryable, and retries end on one profile.
#[tokio::test]
async fn two_nodes_on_postgres_resolve_one_person_to_one_profile() {
    let Some(pg) = testkit::postgres().await else {
        return;
    };
    let first = TestApp::on(pg).await;
    setup(&first).await;
    let second = first.second_node().await;
    let mut tasks = Vec::new();
    for n in 0..30 {
        let app = if n % 2 == 0 {
            first.app.clone()
        } else {
            second.clone()
        };
        let key = first.admin.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"identifiers": [{"kind": "email", "value": "twin@example.fr", "verified": true},
                                              {"kind": "app_device", "value": format!("node-device-{n}")}]});
            for attempt in 0..20 {
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri("/v1/customers/identify")
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap();
                let status = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap().status();
                if status == StatusCode::OK {
                    return attempt;
                }
                assert_eq!(status, StatusCode::CONFLICT, "only retryable conflicts");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            panic!("no success after 20 attempts");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let found = first
        .get(
            "/v1/customers?identifier=email:twin@example.fr",
            &first.admin,
        )
        .await;
    let profile = &found.body["data"][0];
    assert_eq!(
        profile["identities"].as_array().unwrap().len(),
        31,
        "{profile}"
    );
    // Every profile a race created was merged into the one that holds the e-mail.
    let all = first.get("/v1/customers?limit=500", &first.admin).await;
    assert_eq!(
        all.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        all.body
    );
}

/// By default a batch is acknowledged once durable and, on SQLite, resolved behind the log:
/// the answer names no profile. Every read through Relais already sees the events resolved
/// (look-up, lineage, event counts), merges included, and a sign-in after them finds the
/// profile they made: links apply in log order whichever path they take.
#[tokio::test]
async fn events_acknowledged_before_resolution_are_resolved_for_every_read() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let sqlite = t.db.db.backend() == store::Backend::Sqlite;
        let web = json!({"kind": "web_anonymous", "value": "late-web"});
        let app = json!({"kind": "app_device", "value": "late-app"});
        let r = t
            .post(
                "/v1/events",
                &t.admin,
                json!({"events": [
                    event("web", "page_view", json!([web])),
                    event("app", "page_view", json!([app])),
                    event("web", "sign_in", json!([web, app])),
                    event("app", "search", json!([app])),
                ]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name(), r.body);
        assert_eq!(r.body["accepted"], 4);
        assert_eq!(
            r.body["resolution"],
            if sqlite { "pending" } else { "done" },
            "{}",
            t.name()
        );
        assert_eq!(r.body["stored"][0]["customer_id"].is_null(), sqlite);
        if sqlite {
            let status = t.get("/v1/events/resolution", &t.admin).await;
            assert_eq!(status.status, StatusCode::OK);
            assert!(
                status.body["pending"].as_i64().unwrap() >= 4,
                "{}",
                status.body
            );
        }

        // A look-up resolves first: one profile holds both identifiers and all four events.
        let found = t
            .get("/v1/customers?identifier=app_device:late-app", &t.admin)
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let profile = found.body["data"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            found.body["data"][0]["identities"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{}: {}",
            t.name(),
            found.body
        );
        assert_eq!(event_count(&t, &profile).await, 4, "{}", t.name());
        let lineage = t
            .get(&format!("/v1/customers/{profile}/lineage"), &t.admin)
            .await;
        assert_eq!(lineage.body["merges"].as_array().unwrap().len(), 1);
        assert_eq!(lineage.body["merges"][0]["cause"], "event");
        let status = t.get("/v1/events/resolution?wait=true", &t.admin).await;
        assert_eq!(status.body["pending"], 0, "{}", status.body);

        // An event not yet resolved, then a sign-in naming its visitor: the sign-in finds
        // the profile the event made, instead of making one the event would then join.
        let r = t
            .post(
                "/v1/events",
                &t.admin,
                event(
                    "web",
                    "page_view",
                    json!([{"kind": "web_anonymous", "value": "then-signs-in"}]),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let signed = identify(
            &t,
            &t.web,
            json!([
                {"kind": "web_anonymous", "value": "then-signs-in"},
                {"kind": "email", "value": "late@example.com", "verified": true},
            ]),
        )
        .await;
        let id = signed["customer_id"].as_str().unwrap();
        assert_eq!(signed["created"], false, "{}: {}", t.name(), signed);
        assert_eq!(event_count(&t, id).await, 1, "{}", t.name());
    }
}

#[tokio::test]
async fn an_event_that_fails_resolution_is_set_aside_and_the_ones_after_it_resolved() {
    for t in TestApp::every_backend().await {
        if t.db.db.backend() != store::Backend::Sqlite {
            // PostgreSQL resolves events as it stores them: a failing event fails its own
            // request and nothing waits behind it.
            continue;
        }
        setup(&t).await;
        let visitor = |v: &str| json!([{"kind": "web_anonymous", "value": v}]);
        let r = t
            .post(
                "/v1/events",
                &t.admin,
                json!({"events": [
                    event("web", "page_view", visitor("before-bad")),
                    event("web", "page_view", visitor("bad-visitor")),
                    event("web", "page_view", visitor("after-bad")),
                ]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["resolution"], "pending");
        // The middle event's row is damaged in the log (as a disk fault or a bug would): its
        // identifiers are cut short, the visitor's id still readable in them.
        let bad = damage_identifiers(&t, "bad-visitor").await;

        // A sign-in resolves the tail before it links: it gets past the bad event and finds
        // the profile the event after it made.
        let signed = identify(
            &t,
            &t.web,
            json!([
                {"kind": "web_anonymous", "value": "after-bad"},
                {"kind": "email", "value": "after-bad@example.com", "verified": true},
            ]),
        )
        .await;
        assert_eq!(signed["created"], false, "{signed}");

        let status = t.get("/v1/events/resolution?wait=true", &t.admin).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        assert_eq!(status.body["pending"], 0, "{}", status.body);
        assert_eq!(status.body["set_aside"], 1, "{}", status.body);
        for resolved in ["before-bad", "after-bad"] {
            let found = t
                .get(
                    &format!("/v1/customers?identifier=web_anonymous:{resolved}"),
                    &t.admin,
                )
                .await;
            assert_eq!(found.status, StatusCode::OK, "{}", found.body);
            let id = found.body["data"][0]["id"].as_str().unwrap().to_owned();
            assert_eq!(event_count(&t, &id).await, 1, "{resolved}");
        }
        let found = t
            .get(
                "/v1/customers?identifier=web_anonymous:bad-visitor",
                &t.admin,
            )
            .await;
        assert_eq!(found.body["data"].as_array().unwrap().len(), 0);

        // The event is kept with its error, and announced.
        let mut conn = t.db.db.read().await.unwrap();
        let set_aside = conn
            .query_one(
                "SELECT code, message FROM customer_event_quarantine WHERE seq = $1",
                &[store::Value::from(bad)],
            )
            .await
            .unwrap();
        assert_eq!(set_aside.text("code").unwrap(), "internal");
        assert!(set_aside.text("message").unwrap().contains("corrupt"));
        let announced = conn
            .query_one(
                "SELECT COUNT(*) AS n FROM outbox WHERE type = 'relais.customer.event_set_aside' AND subject = $1",
                &[store::Value::from(format!("event:{bad}"))],
            )
            .await
            .unwrap();
        assert_eq!(announced.int("n").unwrap(), 1);
        drop(conn);
        let listed = t.get("/v1/events/set-aside", &t.admin).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(listed.body["data"][0]["seq"], bad);
        assert_eq!(listed.body["data"][0]["type"], "page_view");
        assert_eq!(listed.body["data"][0]["code"], "internal");
        let refused = t.get("/v1/events/set-aside", &t.web).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

        // Erasing the person it names blanks it too, though it has no profile.
        let signed = identify(
            &t,
            &t.web,
            json!([
                {"kind": "web_anonymous", "value": "bad-visitor"},
                {"kind": "email", "value": "bad-visitor@example.com", "verified": true},
            ]),
        )
        .await;
        let id = signed["customer_id"].as_str().unwrap();
        let erased = t
            .post(&format!("/v1/customers/{id}/erasure"), &t.admin, json!({}))
            .await;
        assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
        assert_eq!(
            tables_containing(&t, "bad-visitor").await,
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn a_full_database_holds_resolution_back_and_sets_no_event_aside() {
    for t in TestApp::every_backend().await {
        if t.db.db.backend() != store::Backend::Sqlite {
            // PostgreSQL resolves events as it stores them: nothing is left behind the log.
            continue;
        }
        setup(&t).await;
        // Enough new visitors that their profiles cannot fit in the room left in pages.
        let names: Vec<String> = (0..200).map(|n| format!("full-{n}")).collect();
        let events: Vec<Value> = names
            .iter()
            .map(|n| {
                event(
                    "web",
                    "page_view",
                    json!([{"kind": "web_anonymous", "value": n}]),
                )
            })
            .collect();
        let r = t
            .post("/v1/events", &t.admin, json!({ "events": events }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);

        // The database may not grow (as on a full disk): every resolution run fails.
        fill_database(&t).await;
        let held = t.get("/v1/events/resolution?wait=true", &t.admin).await;
        assert_eq!(
            held.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            held.body
        );
        assert_eq!(held.body["error"]["code"], "unavailable", "{}", held.body);
        free_space(&t).await;
        // None of the events is to blame: none is set aside, all still wait.
        let mut conn = t.db.db.read().await.unwrap();
        let quarantined = conn
            .query_one("SELECT COUNT(*) AS n FROM customer_event_quarantine", &[])
            .await
            .unwrap();
        assert_eq!(quarantined.int("n").unwrap(), 0);
        drop(conn);

        // Space freed: they resolve.
        let status = t.get("/v1/events/resolution?wait=true", &t.admin).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        assert_eq!(status.body["pending"], 0, "{}", status.body);
        assert_eq!(status.body["set_aside"], 0, "{}", status.body);
        for name in [&names[0], &names[199]] {
            let found = t
                .get(
                    &format!("/v1/customers?identifier=web_anonymous:{name}"),
                    &t.admin,
                )
                .await;
            let id = found.body["data"][0]["id"].as_str().unwrap().to_owned();
            assert_eq!(event_count(&t, &id).await, 1, "{name}");
        }
    }
}

#[tokio::test]
async fn a_batch_beyond_the_backlog_limit_resolves_the_tail_when_no_resolver_runs() {
    for t in TestApp::every_backend().await {
        if t.db.db.backend() != store::Backend::Sqlite {
            // PostgreSQL resolves events as it stores them: there is no backlog.
            continue;
        }
        setup(&t).await;
        t.db.db.event_tail().set_backlog_limit(5);
        let batch = |from: usize| {
            let events: Vec<Value> = (from..from + 10)
                .map(|n| {
                    event(
                        "web",
                        "page_view",
                        json!([{"kind": "web_anonymous", "value": format!("backlog-{n}")}]),
                    )
                })
                .collect();
            json!({ "events": events })
        };
        let first = t.post("/v1/events", &t.admin, batch(0)).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(
            resolved_upto(&t).await,
            0,
            "the first batch waits for nobody"
        );

        // Ten wait, five may: the next batch waits for a run, none comes (no resolver in
        // this test), so it resolves the tail itself before it appends.
        let second = t.post("/v1/events", &t.admin, batch(10)).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert_eq!(
            resolved_upto(&t).await,
            10,
            "the backlog was resolved first"
        );
        assert_eq!(t.db.db.event_tail().unresolved(), 10, "its own ten wait");
    }
}

/// How far resolution has come, read without catching up.
async fn resolved_upto(t: &TestApp) -> i64 {
    t.db.db
        .read()
        .await
        .unwrap()
        .query_one(
            "SELECT indexed_upto FROM customer_event_index WHERE id = 1",
            &[],
        )
        .await
        .unwrap()
        .int("indexed_upto")
        .unwrap()
}

/// Lets the SQLite database grow no more, as a full disk would: its free pages are taken by
/// a ballast row and its size capped where it stands (on the writer's connection).
async fn fill_database(t: &TestApp) {
    t.db.db
        .write(|c| {
            Box::pin(async move {
                c.batch(
                    "CREATE TABLE test_ballast (b BLOB);
                     INSERT INTO test_ballast
                     SELECT zeroblob((f.freelist_count + 1) * s.page_size)
                       FROM pragma_freelist_count() f, pragma_page_size() s;",
                )
                .await?;
                let pages = c
                    .query_one("PRAGMA page_count", &[])
                    .await?
                    .int("page_count")?;
                c.batch(&format!("PRAGMA max_page_count = {pages}")).await
            })
        })
        .await
        .unwrap();
}

/// Undoes [`fill_database`].
async fn free_space(t: &TestApp) {
    t.db.db
        .write(|c| {
            Box::pin(async move {
                c.batch("PRAGMA max_page_count = 1073741823; DROP TABLE test_ballast;")
                    .await
            })
        })
        .await
        .unwrap();
}

/// Cuts short the stored identifiers of the event naming `visitor` (as a disk fault or a bug
/// would), so that it fails resolution; returns its sequence number.
async fn damage_identifiers(t: &TestApp, visitor: &str) -> i64 {
    let pattern = format!("%{visitor}%");
    t.db.db
        .write(|c| {
            Box::pin(async move {
                let seq = c
                    .query_one(
                        "SELECT seq FROM customer_events WHERE identifiers LIKE $1",
                        &[store::Value::from(pattern)],
                    )
                    .await?
                    .int("seq")?;
                c.execute(
                    "UPDATE customer_events SET identifiers = substr(identifiers, 1, length(identifiers) - 3) WHERE seq = $1",
                    &[store::Value::from(seq)],
                )
                .await?;
                Ok(seq)
            })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_set_aside_event_is_resolved_again_once_repaired() {
    for t in TestApp::every_backend().await {
        if t.db.db.backend() != store::Backend::Sqlite {
            // Nothing is set aside on PostgreSQL (events are resolved as they are stored).
            continue;
        }
        setup(&t).await;
        let visitor = json!([{"kind": "web_anonymous", "value": "repairable"}]);
        let r = t
            .post("/v1/events", &t.admin, event("web", "page_view", visitor))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let seq = damage_identifiers(&t, "repairable").await;
        let status = t.get("/v1/events/resolution?wait=true", &t.admin).await;
        assert_eq!(status.body["set_aside"], 1, "{}", status.body);
        let retry = format!("/v1/events/set-aside/{seq}/retry");

        // Still damaged: refused with the error, nothing changes.
        let again = t.post(&retry, &t.admin, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
        assert!(
            again.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("still fails"),
            "{}",
            again.body
        );
        let refused = t.post(&retry, &t.web, json!({})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

        // Repaired: resolved like any event, and off the list.
        t.db.db
            .write(move |c| {
                Box::pin(async move {
                    c.execute(
                        r#"UPDATE customer_events SET identifiers = '[{"kind":"web_anonymous","value":"repairable"}]' WHERE seq = $1"#,
                        &[store::Value::from(seq)],
                    )
                    .await
                })
            })
            .await
            .unwrap();
        let done = t.post(&retry, &t.admin, json!({})).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert_eq!(done.body["created"], true, "{}", done.body);
        let id = done.body["customer_id"].as_str().unwrap().to_owned();
        let found = t
            .get(
                "/v1/customers?identifier=web_anonymous:repairable",
                &t.admin,
            )
            .await;
        assert_eq!(found.body["data"][0]["id"], id.as_str(), "{}", found.body);
        assert_eq!(event_count(&t, &id).await, 1);
        let status = t.get("/v1/events/resolution", &t.admin).await;
        assert_eq!(status.body["set_aside"], 0, "{}", status.body);
        let listed = t.get("/v1/events/set-aside", &t.admin).await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 0);
        let gone = t.post(&retry, &t.admin, json!({})).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    }
}
