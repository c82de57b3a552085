//! The outbox reaches NATS JetStream for real: events and ATP changes, once each, resumed
//! from the saved cursor after a restart (on SQLite and PostgreSQL).

use std::time::{Duration, Instant};

use async_nats::jetstream;
use relais::publish::NatsSettings;
use relais::server::{Settings, serve_db};
use serde_json::{Value, json};

struct Node {
    base: String,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(db: &store::Db, nats: &NatsSettings) -> Node {
    let settings = Settings {
        nats: Some(nats.clone()),
        ..Settings::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let listener = relais::listen::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let task = tokio::spawn(serve_db(db.clone(), listener, settings, Some(tx)));
    let addr = rx.await.unwrap();
    Node {
        base: format!("http://{addr}"),
        task,
    }
}

async fn post(client: &reqwest::Client, node: &Node, key: &str, path: &str, body: Value) -> Value {
    let r = client
        .post(format!("{}{path}", node.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Waits until `check` passes on the stream, or fails after 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not seen in NATS within 10 s: {what}");
}

async fn last_on(js: &jetstream::Context, stream: &str, subject: &str) -> Option<Value> {
    let stream = js.get_stream(stream).await.ok()?;
    let message = stream.get_last_raw_message_by_subject(subject).await.ok()?;
    serde_json::from_slice(&message.payload).ok()
}

async fn stored(js: &jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test]
async fn events_and_availability_reach_jetstream_once() {
    let Some(url) = testkit::nats_url() else {
        return;
    };
    let js = jetstream::new(async_nats::connect(&url).await.unwrap());
    for t in testkit::every_backend().await {
        let tag = format!("t{}", uuid::Uuid::new_v4().simple());
        let nats = NatsSettings {
            url: url.clone(),
            stream: tag.to_uppercase(),
            prefix: tag.clone(),
            max_age: std::time::Duration::from_secs(3600),
            max_bytes: 8 << 20,
        };
        let key = relais::server::create_key(&t.db, "nats test", &["admin".into()], "test")
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let node = start(&t.db, &nats).await;
        // The publisher starts from the outbox's head: let it take its lease and cursor.
        eventually("the publisher started", || async {
            relais::publish::published_up_to(&t.db)
                .await
                .unwrap()
                .is_some()
        })
        .await;
        let started_at = relais::publish::published_up_to(&t.db)
            .await
            .unwrap()
            .unwrap();
        post(
            &client,
            &node,
            &key,
            "/v1/locations",
            json!({
            "code": "LYS-BELLECOUR", "name": "Lyon", "kind": "store",
            "address": {"line1": "1 rue", "postal_code": "69002", "city": "Lyon", "country": "FR"},
            "coordinates": {"latitude": 45.75, "longitude": 4.83}, "time_zone": "Europe/Paris",
            "opening_hours": {"mon": [{"opens": "10:00", "closes": "19:00"}]},
            "owner": {"kind": "company", "name": "Élan Sport"}, "capabilities": ["pickup"]}),
        )
        .await;
        post(
            &client,
            &node,
            &key,
            "/v1/products",
            json!({
            "title": "Trail shoe", "brand": "Altura", "category": "footwear/trail",
            "variants": [{"sku": "TR.42", "attributes": {"size": "42"}}]}),
        )
        .await;
        post(&client, &node, &key, "/v1/stock/movements", json!({"sku": "TR.42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 12, "reason": "delivery"})).await;
        let hold = post(&client, &node, &key, "/v1/holds", json!({"sku": "TR.42", "location": "LYS-BELLECOUR", "quantity": 5, "purpose": "cart", "owner_ref": "cart_1"})).await;

        let availability = nats.availability_subject("LYS-BELLECOUR", "TR.42");
        assert_eq!(
            availability,
            format!("{tag}.availability.LYS-BELLECOUR.TR:42")
        );
        eventually("the hold's ATP change", || async {
            last_on(&js, &nats.stream, &availability)
                .await
                .is_some_and(|v| v["data"]["atp"] == 7)
        })
        .await;
        // An ATP change is a CloudEvent of the catalogue too.
        let change = last_on(&js, &nats.stream, &availability).await.unwrap();
        let change: outbox::CloudEvent = serde_json::from_value(change).unwrap();
        assert_eq!(change.kind, "relais.availability.changed");
        assert_eq!(change.subject, "LYS-BELLECOUR/TR.42");
        assert_eq!(change.data["cause"], "relais.hold.created");
        assert_eq!(testkit::events::problems_of(&change), Vec::<String>::new());
        let created = last_on(&js, &nats.stream, &format!("{tag}.events.hold.created"))
            .await
            .expect("the hold event");
        assert_eq!(created["type"], "relais.hold.created");
        assert_eq!(created["subject"], hold["id"]);
        // The stream has the limits configured (several deployments may share one server).
        let mut s = js.get_stream(&nats.stream).await.unwrap();
        let config = s.info().await.unwrap().config.clone();
        assert_eq!(
            (config.max_age, config.max_bytes),
            (nats.max_age, nats.max_bytes)
        );

        // A publisher that stopped before saving its cursor publishes the batch again on
        // restart; JetStream drops the repeats (Nats-Msg-Id), so nothing is stored twice.
        node.task.abort();
        let _ = node.task.await;
        let before = stored(&js, &nats.stream).await;
        store::feed::save_cursor(&t.db, relais::publish::CURSOR, started_at)
            .await
            .unwrap();
        let node = start(&t.db, &nats).await;
        post(&client, &node, &key, "/v1/stock/movements", json!({"sku": "TR.42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 1, "reason": "delivery"})).await;
        eventually("the change after the restart", || async {
            last_on(&js, &nats.stream, &availability)
                .await
                .is_some_and(|v| v["data"]["atp"] == 8)
        })
        .await;
        // One event and one ATP change more: the replayed history added nothing.
        assert_eq!(
            stored(&js, &nats.stream).await,
            before + 2,
            "{}",
            t.backend().as_str()
        );
        node.task.abort();
        let _ = js.delete_stream(&nats.stream).await;
    }
}
