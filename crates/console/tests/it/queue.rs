//! The store work queue: a web click & collect order appears in Lyon's queue (live), is
//! prepared, marked ready and handed over with the customer's code or QR — recorded under
//! the associate's id; other stores, other origins and stale forms change nothing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::{Browser, TestConsole};

async fn act(
    t: &TestConsole,
    b: &Browser,
    order: &str,
    transition: &str,
    code: Option<&str>,
) -> crate::Reply {
    let mut fields = vec![("csrf", b.csrf.as_str()), ("store", "LYS-BELLECOUR")];
    if let Some(c) = code {
        fields.push(("pickup_code", c));
    }
    t.form(
        &format!("/console/orders/{order}/{transition}"),
        Some(b),
        &fields,
        None,
    )
    .await
}

#[tokio::test]
async fn a_pickup_goes_from_the_web_to_the_customers_hands() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let user = t
            .user(
                "hugo@shop.example",
                "associate",
                &["LYS-BELLECOUR"],
                "correct horse 1",
            )
            .await;
        let b = t.sign_in("hugo@shop.example", "correct horse 1").await;
        let order = t.pickup_order().await;
        let id = order["id"].as_str().unwrap();
        let page = t.page("/console/queue?store=LYS-BELLECOUR", Some(&b)).await;
        let row = format!("<tr data-order=\"{id}\"");
        assert!(page.text.contains(&row), "{}: {}", t.name(), page.text);
        assert!(
            page.text
                .contains("id=\"h-to_prepare\">Pickups to prepare <span class=\"count\">1")
        );
        for step in ["start_preparing", "mark_ready"] {
            let r = act(&t, &b, id, step, None).await;
            assert_eq!(
                r.status,
                StatusCode::SEE_OTHER,
                "{}: {step}: {}",
                t.name(),
                r.text
            );
            assert_eq!(r.location(), "/console/queue?store=LYS-BELLECOUR&done=1");
        }
        let ready = t.order(id).await;
        assert_eq!(ready["state"], "ready_for_pickup");
        let code = ready["pickup_code"].as_str().unwrap().to_owned();
        let page = t
            .page("/console/queue?store=LYS-BELLECOUR&done=1", Some(&b))
            .await;
        assert!(
            page.text
                .contains("id=\"h-ready\">Ready, waiting for the customer <span class=\"count\">1"),
            "{}",
            page.text
        );
        assert!(page.text.contains("role=\"status\">Done."));
        // A wrong code hands nothing over.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let r = act(&t, &b, id, "collect", Some(wrong)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.text.contains("pickup code does not match"), "{}", r.text);
        assert_eq!(t.order(id).await["state"], "ready_for_pickup");
        // The customer's QR: order and code in one scan.
        let scan = orders::fulfilment::pickup_qr_payload(id, &code);
        let fields = [
            ("csrf", b.csrf.as_str()),
            ("store", "LYS-BELLECOUR"),
            ("scan", scan.as_str()),
        ];
        let r = t
            .form("/console/queue/handover", Some(&b), &fields, None)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name(), r.text);
        assert_eq!(t.order(id).await["state"], "collected");
        // Every step is recorded under the associate, not a key.
        let history = t
            .api(
                Method::GET,
                &format!("/v1/orders/{id}/history"),
                &t.admin,
                None,
            )
            .await
            .json();
        let actors: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["actor"].as_str().unwrap())
            .collect();
        assert_eq!(actors, vec![user["id"].as_str().unwrap(); 3], "{}", history);
        let page = t.page("/console/queue?store=LYS-BELLECOUR", Some(&b)).await;
        assert!(!page.text.contains(&row));
    }
}

#[tokio::test]
async fn a_store_sees_its_own_queue_and_writes_come_from_its_pages_only() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user(
            "paris@shop.example",
            "associate",
            &["PAR-RIVOLI"],
            "correct horse 1",
        )
        .await;
        t.user("lea@shop.example", "marketer", &[], "correct horse 2")
            .await;
        t.user(
            "lyon@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 3",
        )
        .await;
        let order = t.pickup_order().await;
        let id = order["id"].as_str().unwrap();
        let paris = t.sign_in("paris@shop.example", "correct horse 1").await;
        let r = t
            .page("/console/queue?store=LYS-BELLECOUR", Some(&paris))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let own = t.page("/console/queue", Some(&paris)).await;
        assert!(own.text.contains("Store Paris") && !own.text.contains(id));
        // Paris cannot move Lyon's order, even with a valid form of its own.
        assert_eq!(
            act(&t, &paris, id, "start_preparing", None).await.status,
            StatusCode::FORBIDDEN
        );
        let marketer = t.sign_in("lea@shop.example", "correct horse 2").await;
        assert_eq!(
            t.page("/console/queue", Some(&marketer)).await.status,
            StatusCode::FORBIDDEN
        );
        let lyon = t.sign_in("lyon@shop.example", "correct horse 3").await;
        // A form from another site, or with another session's token, is refused.
        let fields = [("csrf", lyon.csrf.as_str()), ("store", "LYS-BELLECOUR")];
        let path = format!("/console/orders/{id}/start_preparing");
        let r = t
            .form(&path, Some(&lyon), &fields, Some("https://evil.example"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let stolen = [("csrf", paris.csrf.as_str()), ("store", "LYS-BELLECOUR")];
        assert_eq!(
            t.form(&path, Some(&lyon), &stolen, None).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(t.order(id).await["state"], "placed", "{}", t.name());
        let r = t
            .form(&path, Some(&lyon), &fields, Some("http://console.test"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(t.order(id).await["state"], "preparing");
    }
}

/// Reads server-sent events until one named `name` comes, or `wait` passes.
async fn next_named(body: &mut Body, buffer: &mut String, name: &str, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.lines().any(|l| l == format!("event: {name}")) {
                return true;
            }
        }
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(bytes) = frame.into_data() {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            _ => return false,
        }
    }
}

#[tokio::test]
async fn the_queue_says_when_an_order_arrives() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user(
            "lyon@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 3",
        )
        .await;
        let b = t.sign_in("lyon@shop.example", "correct horse 3").await;
        let req = Request::builder()
            .uri("/console/queue/events?store=LYS-BELLECOUR")
            .header("cookie", &b.cookie)
            .body(Body::empty())
            .unwrap();
        let response = t.app.clone().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut body = response.into_body();
        let mut buffer = String::new();
        assert!(next_named(&mut body, &mut buffer, "ready", Duration::from_secs(5)).await);
        assert!(
            !next_named(&mut body, &mut buffer, "queue", Duration::from_millis(500)).await,
            "nothing changed yet"
        );
        let order = t.pickup_order().await;
        assert!(
            next_named(&mut body, &mut buffer, "queue", Duration::from_secs(5)).await,
            "{}",
            t.name()
        );
        let list = t
            .page("/console/queue/list?store=LYS-BELLECOUR", Some(&b))
            .await;
        assert!(list.text.contains(order["id"].as_str().unwrap()));
        assert!(!list.text.contains("<html"), "the list alone");
    }
}
