//! The list pages: a marketer switches a promotion off and on; service agents read the merge
//! reviews and the send log; other roles are refused them.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::TestConsole;

#[tokio::test]
async fn a_marketer_switches_a_promotion_and_others_may_not() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let promo = t
            .created("/v1/promotions", json!({"name": "Soldes d'hiver", "currency": "EUR", "conditions": {}, "effect": {"type": "percent_off_items", "percent_bp": 1000}}))
            .await;
        let id = promo["id"].as_str().unwrap();
        let marketer = t
            .user("lea@shop.example", "marketer", &[], "correct horse 1")
            .await;
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 2",
        )
        .await;
        t.user("ines@shop.example", "service_agent", &[], "correct horse 3")
            .await;
        let lea = t.sign_in("lea@shop.example", "correct horse 1").await;
        let page = t.page("/console/promotions", Some(&lea)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("Soldes d&#x27;hiver") || page.text.contains("Soldes d&#39;hiver"),
            "{}",
            page.text
        );
        let path = format!("/console/promotions/{id}/active");
        let r = t
            .form(
                &path,
                Some(&lea),
                &[("csrf", &lea.csrf), ("active", "false")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name(), r.text);
        let now = t
            .api(Method::GET, &format!("/v1/promotions/{id}"), &t.admin, None)
            .await
            .json();
        assert_eq!(now["active"], false);
        let history = t
            .api(
                Method::GET,
                &format!("/v1/outbox?subject={id}"),
                &t.admin,
                None,
            )
            .await
            .json();
        let last = history["data"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["actor"], marketer["id"], "{last}");
        // An associate and a service agent do not run promotions.
        let hugo = t.sign_in("hugo@shop.example", "correct horse 2").await;
        assert_eq!(
            t.page("/console/promotions", Some(&hugo)).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .form(
                &path,
                Some(&hugo),
                &[("csrf", &hugo.csrf), ("active", "true")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let ines = t.sign_in("ines@shop.example", "correct horse 3").await;
        assert_eq!(
            t.page("/console/merge-reviews", Some(&ines)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            t.page("/console/notifications", Some(&ines)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            t.page("/console/merge-reviews", Some(&lea)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.page("/console/kpis", Some(&ines)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.page("/console/kpis", Some(&lea)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            t.api(Method::GET, &format!("/v1/promotions/{id}"), &t.admin, None)
                .await
                .json()["active"],
            false
        );
    }
}

#[tokio::test]
async fn a_store_reads_its_own_books_only() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 2",
        )
        .await;
        t.user("lea@shop.example", "marketer", &[], "correct horse 1")
            .await;
        let hugo = t.sign_in("hugo@shop.example", "correct horse 2").await;
        let books = t.page("/console/stock", Some(&hugo)).await;
        assert_eq!(books.status, StatusCode::OK, "{}", books.text);
        // Five pairs received in Lyon, none held: on hand 5, available 5.
        assert!(
            books
                .text
                .contains("<td>TR-42</td><td>5</td><td>0</td><td>0</td><td>0</td><td>5</td>"),
            "{}: {}",
            t.name(),
            books.text
        );
        assert_eq!(
            t.page("/console/stock?store=PAR-RIVOLI", Some(&hugo))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let lea = t.sign_in("lea@shop.example", "correct horse 1").await;
        assert_eq!(
            t.page("/console/stock", Some(&lea)).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn an_admin_adds_a_user_and_switches_another_off() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        t.user("alex@shop.example", "admin", &[], "correct horse 9")
            .await;
        let hugo = t
            .user(
                "hugo@shop.example",
                "associate",
                &["LYS-BELLECOUR"],
                "correct horse 2",
            )
            .await;
        let alex = t.sign_in("alex@shop.example", "correct horse 9").await;
        let page = t.page("/console/users", Some(&alex)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("hugo@shop.example"));
        let new = [
            ("csrf", alex.csrf.as_str()),
            ("email", "zoe@shop.example"),
            ("name", "Zoé Petit"),
            ("role", "store_manager"),
            ("stores", "PAR-RIVOLI"),
            ("language", "en"),
            ("password", "correct horse 5"),
        ];
        let r = t.form("/console/users", Some(&alex), &new, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name(), r.text);
        let zoe = t.sign_in("zoe@shop.example", "correct horse 5").await;
        assert!(
            t.page("/console/queue", Some(&zoe))
                .await
                .text
                .contains("Store Paris")
        );
        // A store role without a store is refused, and nothing is made.
        let mut bad = new;
        bad[1] = ("email", "max@shop.example");
        bad[4] = ("stores", "");
        let r = t.form("/console/users", Some(&alex), &bad, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        // Hugo switched off: his session ends at once; an associate may not do this.
        let h = t.sign_in("hugo@shop.example", "correct horse 2").await;
        let path = format!("/console/users/{}/active", hugo["id"].as_str().unwrap());
        assert_eq!(
            t.form(
                &path,
                Some(&zoe),
                &[("csrf", &zoe.csrf), ("active", "false")],
                None
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .form(
                &path,
                Some(&alex),
                &[("csrf", &alex.csrf), ("active", "false")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(
            t.page("/console/queue", Some(&h)).await.status,
            StatusCode::SEE_OTHER
        );
        let users = t
            .api(Method::GET, "/v1/staff-users", &t.admin, None)
            .await
            .json();
        let states: Vec<(&str, bool)> = users["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["email"].as_str().unwrap(), u["active"].as_bool().unwrap()))
            .collect();
        assert!(
            states.contains(&("hugo@shop.example", false))
                && states.contains(&("zoe@shop.example", true)),
            "{states:?}"
        );
        assert_eq!(states.len(), 3, "{states:?}");
    }
}
