//! Live availability over Server-Sent Events: pushed on commit, filtered, resumable, lossless.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::{TestApp, product_body, store_body};

async fn setup(t: &TestApp) {
    t.created(
        "/v1/locations",
        store_body("LYS-BELLECOUR", "Lyon", 45.7578, 4.8320),
    )
    .await;
    t.created("/v1/products", product_body("TR", &["42", "43"]))
        .await;
    t.created(
        "/v1/channels",
        json!({"code": "web", "kind": "web", "name": "Web shop"}),
    )
    .await;
}

async fn receive(t: &TestApp, sku: &str, quantity: i64) {
    t.created("/v1/stock/movements", json!({"sku": sku, "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": quantity, "reason": "delivery"})).await;
}

#[tokio::test]
async fn changes_are_pushed_filtered_and_resumable() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let mut watcher = t
            .stream("/v1/stream/availability?skus=TR-42", &t.admin, None)
            .await;
        let mut shopper = t
            .stream(
                "/v1/stream/availability?locations=LYS-BELLECOUR",
                &t.web,
                None,
            )
            .await;

        receive(&t, "TR-42", 10).await;
        receive(&t, "TR-43", 5).await;
        let hold = t.post("/v1/holds", &t.web, json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "quantity": 3, "purpose": "cart", "owner_ref": "cart_1"})).await;
        assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
        let id = hold.body["id"].as_str().unwrap();
        let released = t
            .post(&format!("/v1/holds/{id}/release"), &t.web, json!({}))
            .await;
        assert_eq!(released.status, StatusCode::OK, "{}", released.body);

        // The SKU watcher sees TR-42 only, in order, with the books (an admin key).
        let got: Vec<_> = [
            watcher.next().await,
            watcher.next().await,
            watcher.next().await,
        ]
        .into_iter()
        .collect();
        let seen: Vec<(i64, &str)> = got
            .iter()
            .map(|e| {
                assert_eq!(e.data["sku"], "TR-42", "{}", e.data);
                assert_eq!(e.data["seq"], e.id);
                (
                    e.data["atp"].as_i64().unwrap(),
                    e.data["cause"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (10, "relais.stock.moved"),
                (7, "relais.hold.created"),
                (10, "relais.hold.released")
            ],
            "{}",
            t.name()
        );
        assert!(got[0].id < got[1].id && got[1].id < got[2].id);
        assert_eq!(got[1].data["on_hand"], 10);
        assert_eq!(got[1].data["held"], 3);
        assert!(
            watcher
                .next_within(Duration::from_millis(300))
                .await
                .is_none()
        );

        // The web key follows the whole store, as its channel sees it, without the books.
        let mut skus = Vec::new();
        for _ in 0..4 {
            let e = shopper.next().await;
            assert!(e.data.get("on_hand").is_none(), "{}", e.data);
            assert_eq!(e.data["channel"], "web");
            skus.push(e.data["sku"].as_str().unwrap().to_owned());
        }
        assert_eq!(skus, ["TR-42", "TR-43", "TR-42", "TR-42"]);

        // Reconnecting after the first event replays the two that followed, then goes live.
        let mut resumed = t
            .stream(
                "/v1/stream/availability?skus=TR-42",
                &t.admin,
                Some(got[0].id),
            )
            .await;
        assert_eq!(resumed.next().await.id, got[1].id);
        assert_eq!(resumed.next().await.id, got[2].id);
        receive(&t, "TR-42", 1).await;
        let live = resumed.next().await;
        assert_eq!(live.data["atp"], 11);
        assert!(live.id > got[2].id);
    }
}

#[tokio::test]
async fn bad_stream_requests_are_refused() {
    let t = TestApp::on(testkit::sqlite().await).await;
    setup(&t).await;
    let unknown = t
        .send(
            axum::http::Method::GET,
            "/v1/stream/availability?last_event_id=999999",
            &t.admin,
            None,
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let many: Vec<String> = (0..1001).map(|i| format!("S{i}")).collect();
    let too_many = t
        .get(
            &format!("/v1/stream/availability?skus={}", many.join(",")),
            &t.admin,
        )
        .await;
    assert_eq!(too_many.code(), "invalid_query");
    assert_eq!(too_many.body["error"]["details"]["field"], "skus");
    let no_key = t.get("/v1/stream/availability", "not-a-key").await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    let other_channel = t.get("/v1/stream/availability?channel=app", &t.web).await;
    assert_eq!(other_channel.status, StatusCode::FORBIDDEN);
}

/// A subscriber too slow for its queue is dropped by the hub, reads what it missed from the
/// outbox and subscribes again: it still gets every change, once, in order.
#[tokio::test]
async fn a_lagging_subscriber_catches_up_without_gaps() {
    for t in TestApp::every_backend().await {
        setup(&t).await;
        let hub = api::live::Hub::with_queue(t.db.db.clone(), 2);
        let filter = api::live::Filter::default();
        let subscription = hub.subscribe(filter.clone()).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let follower = tokio::spawn(async move {
            let mut follower = api::live::Follower::new(hub, filter, None, subscription);
            let mut first = true;
            while let Ok(change) = follower.next().await {
                if std::mem::replace(&mut first, false) {
                    // Meanwhile the queue of 2 overflows and the hub drops this subscriber.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                if tx.send(change).is_err() {
                    break;
                }
            }
        });
        const CHANGES: i64 = 30;
        for _ in 0..CHANGES {
            receive(&t, "TR-42", 1).await;
        }
        let mut on_hand = Vec::new();
        let mut seqs = Vec::new();
        while on_hand.len() < CHANGES as usize {
            let change = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("{}: only {} changes arrived", t.name(), on_hand.len()))
                .unwrap();
            on_hand.push(change.level.on_hand);
            seqs.push(change.seq);
        }
        assert_eq!(on_hand, (1..=CHANGES).collect::<Vec<_>>(), "{}", t.name());
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        assert!(
            tokio::time::timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err(),
            "no change twice"
        );
        follower.abort();
    }
}
