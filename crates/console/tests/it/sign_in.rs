//! Console users: made by an admin through the API, signing in with a password, locked after
//! wrong ones, sessions ended by sign-out, a password reset or a deactivation.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::TestConsole;

#[tokio::test]
async fn a_user_signs_in_works_and_signs_out() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 1",
        )
        .await;
        // Without a session every page sends to the sign-in page, remembering where it was.
        let r = t.page("/console/queue?store=LYS-BELLECOUR", None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            r.location(),
            "/console/login?next=%2Fconsole%2Fqueue%3Fstore%3DLYS-BELLECOUR"
        );
        let b = t.sign_in("  Hugo@Shop.example ", "correct horse 1").await;
        assert!(
            t.page("/console/login", None)
                .await
                .text
                .contains("type=\"password\"")
        );
        let set = t
            .form(
                "/console/login",
                None,
                &[
                    ("email", "hugo@shop.example"),
                    ("password", "correct horse 1"),
                ],
                None,
            )
            .await;
        let cookie = set.headers["set-cookie"].to_str().unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/console",
            "Max-Age=43200",
        ] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        // An associate lands on the work queue; the KPIs are not theirs.
        let home = t.page("/console", Some(&b)).await;
        assert_eq!(home.location(), "/console/queue");
        let queue = t.page("/console/queue", Some(&b)).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
        assert!(
            queue.text.contains("Work queue — Store Lyon"),
            "{}",
            queue.text
        );
        assert!(
            !queue.text.contains("/console/kpis"),
            "associates see no KPIs"
        );
        let csp = queue.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        // Signing out needs the page's CSRF token; then the cookie opens nothing.
        let refused = t
            .form("/console/logout", Some(&b), &[("csrf", "0")], None)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let out = t
            .form("/console/logout", Some(&b), &[("csrf", &b.csrf)], None)
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(
            t.page("/console/queue", Some(&b)).await.status,
            StatusCode::SEE_OTHER,
            "{}",
            t.name()
        );
        // A form posted once signed out is not posted again after signing in.
        let late = t
            .form(
                "/console/orders/ord_x/cancel",
                Some(&b),
                &[("csrf", &b.csrf)],
                None,
            )
            .await;
        assert_eq!(late.status, StatusCode::SEE_OTHER);
        assert_eq!(late.location(), "/console/login?next=%2Fconsole");
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_until_an_admin_resets_it() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let user = t
            .user("ines@shop.example", "service_agent", &[], "correct horse 2")
            .await;
        let id = user["id"].as_str().unwrap();
        let wrong = [
            ("email", "ines@shop.example"),
            ("password", "wrong password"),
        ];
        for n in 1..=5 {
            let r = t.form("/console/login", None, &wrong, None).await;
            let expected = if n < 5 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            assert_eq!(r.status, expected, "{}: try {n}", t.name());
            assert!(r.headers.get("set-cookie").is_none());
        }
        // Locked: even the right password is refused, and the lock is an event.
        let right = [
            ("email", "ines@shop.example"),
            ("password", "correct horse 2"),
        ];
        let r = t.form("/console/login", None, &right, None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", t.name());
        let events = t
            .api(
                Method::GET,
                &format!("/v1/outbox?type=relais.staff_user.locked&subject={id}"),
                &t.admin,
                None,
            )
            .await
            .json();
        assert_eq!(events["data"].as_array().unwrap().len(), 1, "{}", events);
        // An unknown e-mail is answered like a wrong password.
        let r = t
            .form(
                "/console/login",
                None,
                &[
                    ("email", "nobody@shop.example"),
                    ("password", "correct horse 2"),
                ],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // The admin sets a new password: unlocked, and the old password is no more.
        let r = t
            .api(
                Method::PATCH,
                &format!("/v1/staff-users/{id}"),
                &t.admin,
                Some(json!({"password": "a new horse 3"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (
                r.json()["failed_logins"].as_i64(),
                r.json()["version"].as_i64()
            ),
            (Some(0), Some(2))
        );
        assert_eq!(
            t.form("/console/login", None, &right, None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let b = t.sign_in("ines@shop.example", "a new horse 3").await;
        assert_eq!(
            t.page("/console", Some(&b)).await.location(),
            "/console/customers"
        );
    }
}

#[tokio::test]
async fn deactivating_a_user_ends_its_sessions() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let user = t
            .user(
                "camille@shop.example",
                "store_manager",
                &["LYS-BELLECOUR"],
                "correct horse 4",
            )
            .await;
        let b = t.sign_in("camille@shop.example", "correct horse 4").await;
        assert_eq!(
            t.page("/console/queue", Some(&b)).await.status,
            StatusCode::OK
        );
        let path = format!("/v1/staff-users/{}", user["id"].as_str().unwrap());
        // A stale version changes nothing.
        let stale = t
            .api(
                Method::PATCH,
                &path,
                &t.admin,
                Some(json!({"active": false, "expected_version": 9})),
            )
            .await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
        let r = t
            .api(
                Method::PATCH,
                &path,
                &t.admin,
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            t.page("/console/queue", Some(&b)).await.status,
            StatusCode::SEE_OTHER
        );
        let again = [
            ("email", "camille@shop.example"),
            ("password", "correct horse 4"),
        ];
        assert_eq!(
            t.form("/console/login", None, &again, None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn users_are_checked_before_anything_is_written() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let before = store::events::count(&t.db.db).await.unwrap();
        let bad = [
            (
                json!({"email": "a@shop.example", "name": "A", "role": "associate", "password": "correct horse"}),
                "stores",
            ),
            (
                json!({"email": "a@shop.example", "name": "A", "role": "admin", "stores": ["LYS-BELLECOUR"], "password": "correct horse"}),
                "stores",
            ),
            (
                json!({"email": "a@shop.example", "name": "A", "role": "associate", "stores": ["NOWHERE"], "password": "correct horse"}),
                "stores",
            ),
            (
                json!({"email": "a@shop.example", "name": "A", "role": "admin", "password": "short"}),
                "password",
            ),
            (
                json!({"email": "not-an-email", "name": "A", "role": "admin", "password": "correct horse"}),
                "email",
            ),
            (
                json!({"email": "a@shop.example", "name": "", "role": "admin", "password": "correct horse"}),
                "name",
            ),
        ];
        for (body, field) in bad {
            let r = t
                .api(
                    Method::POST,
                    "/v1/staff-users",
                    &t.admin,
                    Some(body.clone()),
                )
                .await;
            assert!(r.status.is_client_error(), "{body}: {}", r.text);
            assert_eq!(
                r.json()["error"]["details"]["field"],
                field,
                "{body}: {}",
                r.text
            );
        }
        let r = t.api(Method::POST, "/v1/staff-users", &t.admin, Some(json!({"email": "a@shop.example", "name": "A", "role": "superuser", "password": "correct horse"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            store::events::count(&t.db.db).await.unwrap(),
            before,
            "{}",
            t.name()
        );
        t.user("a@shop.example", "marketer", &[], "correct horse")
            .await;
        let twice = t.api(Method::POST, "/v1/staff-users", &t.admin, Some(json!({"email": "A@shop.example", "name": "B", "role": "admin", "password": "correct horse"}))).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        // Listed without any password.
        let list = t.api(Method::GET, "/v1/staff-users", &t.admin, None).await;
        assert_eq!(list.json()["data"].as_array().unwrap().len(), 1);
        assert!(
            !list.text.contains("argon2") && !list.text.contains("password"),
            "{}",
            list.text
        );
    }
}

#[tokio::test]
async fn a_session_ends_after_a_working_day_and_is_then_forgotten() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 1",
        )
        .await;
        let b = t.sign_in("hugo@shop.example", "correct horse 1").await;
        let token = b.cookie.trim_start_matches("relais_console=").to_owned();
        let db = &t.db.db;
        assert!(app::staff::session(db, &token).await.unwrap().is_some());
        let later = |hours: i64| {
            kernel::Timestamp::from_unix_ms(kernel::Timestamp::now().unix_ms() + hours * 3_600_000)
        };
        let at_11h = app::clock::as_of(later(11), app::staff::session(db, &token))
            .await
            .unwrap();
        assert!(at_11h.is_some(), "{}: still the same working day", t.name());
        let at_13h = app::clock::as_of(later(13), app::staff::session(db, &token))
            .await
            .unwrap();
        assert!(at_13h.is_none(), "{}: a session lasts 12 hours", t.name());
        assert_eq!(
            app::clock::as_of(later(1), app::staff::purge_expired_sessions(db))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            app::clock::as_of(later(13), app::staff::purge_expired_sessions(db))
                .await
                .unwrap(),
            1
        );
        assert!(
            app::staff::session(db, &token).await.unwrap().is_none(),
            "forgotten"
        );
    }
}

/// A sign-in POST from `peer`, forwarded for `client` when given.
fn sign_in_from(
    peer: &str,
    client: Option<&str>,
    (email, password): (&str, &str),
) -> axum::http::Request<axum::body::Body> {
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/console/login")
        .header("host", "console.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .extension(axum::extract::ConnectInfo(peer));
    if let Some(c) = client {
        req = req.header("x-forwarded-for", format!("198.51.100.1, {c}"));
    }
    let body = format!(
        "email={}&password={}",
        console::session::percent(email),
        console::session::percent(password)
    );
    req.body(axum::body::Body::from(body)).unwrap()
}

#[tokio::test]
async fn an_address_spraying_passwords_is_held_back_before_any_is_checked() {
    for t in TestConsole::every_backend().await {
        t.user("hugo@shop.example", "service_agent", &[], "correct horse 2")
            .await;
        // Three wrong sign-ins per address and minute, on a node of its own.
        let mut state = api::AppState::new(t.db.db.clone(), kernel::Currency::EUR);
        state.sign_in_throttle = std::sync::Arc::new(app::throttle::SignInThrottle::new(
            3,
            std::time::Duration::from_secs(60),
        ));
        let node = crate::TestConsole {
            app: api::app_with(state, console::router()),
            ..t
        };
        // One wrong password per account, over three accounts that may not even exist.
        for email in ["a@shop.example", "b@shop.example", "hugo@shop.example"] {
            let r = node
                .raw(sign_in_from(
                    "192.0.2.7:5000",
                    None,
                    (email, "guess 123456"),
                ))
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        }
        // The right password from that address is not even checked now.
        let right = ("hugo@shop.example", "correct horse 2");
        let held = node.raw(sign_in_from("192.0.2.7:5001", None, right)).await;
        assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{}", held.text);
        // Hugo's account is not locked (two failures short): from elsewhere he signs in.
        let r = node.raw(sign_in_from("192.0.2.8:5000", None, right)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // Behind a proxy on our network, each client counts for itself; a header from a
        // client on the Internet changes nothing.
        let r = node
            .raw(sign_in_from("10.0.0.2:4000", Some("203.0.113.5"), right))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let r = node
            .raw(sign_in_from("192.0.2.7:5002", Some("203.0.113.6"), right))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    }
}
