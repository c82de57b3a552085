//! The list pages: a marketer switches a promotion off and on and makes its codes; service
//! agents read the merge reviews and the send log; a store receives and ships transfers;
//! other roles are refused them.

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
                .contains(r#"<td>TR-42</td><td class="num">5</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">5</td>"#),
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

#[tokio::test]
async fn a_store_receives_a_transfer_and_ships_one() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let manager = t
            .user(
                "nina@shop.example",
                "store_manager",
                &["LYS-BELLECOUR"],
                "correct horse 4",
            )
            .await;
        t.user(
            "paul@shop.example",
            "associate",
            &["PAR-RIVOLI"],
            "correct horse 6",
        )
        .await;
        // Paris gets three pairs and the admin sends two of them to Lyon.
        t.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "PAR-RIVOLI", "kind": "receipt", "quantity": 3, "reason": "delivery"})).await;
        let sent = t
            .created("/v1/transfers", json!({"sku": "TR-42", "from_location": "PAR-RIVOLI", "to_location": "LYS-BELLECOUR", "quantity": 2, "reference": "BL-12"}))
            .await;
        let id = sent["id"].as_str().unwrap();
        let nina = t.sign_in("nina@shop.example", "correct horse 4").await;
        let page = t.page("/console/stock", Some(&nina)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text
                .contains(&format!("/console/transfers/{id}/receive")),
            "{}",
            page.text
        );
        assert!(page.text.contains("BL-12") && page.text.contains("Store Paris"));
        // Paris's associate may not receive what goes to Lyon.
        let paul = t.sign_in("paul@shop.example", "correct horse 6").await;
        let path = format!("/console/transfers/{id}/receive");
        let r = t
            .form(
                &path,
                Some(&paul),
                &[("csrf", &paul.csrf), ("store", "PAR-RIVOLI")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = t
            .form(
                &path,
                Some(&nina),
                &[("csrf", &nina.csrf), ("store", "LYS-BELLECOUR")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name(), r.text);
        assert_eq!(
            r.location(),
            "/console/stock?store=LYS-BELLECOUR&done=received"
        );
        let got = t
            .api(Method::GET, &format!("/v1/transfers/{id}"), &t.admin, None)
            .await
            .json();
        assert_eq!(got["status"], "received");
        let moves = t
            .api(
                Method::GET,
                "/v1/stock/movements?sku=TR-42&location=LYS-BELLECOUR",
                &t.admin,
                None,
            )
            .await
            .json();
        let last = moves["data"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["kind"].as_str(), last["actor"].clone()),
            (Some("transfer_in"), manager["id"].clone()),
            "{last}"
        );
        // Twice is a conflict, shown as a page, and changes nothing.
        let again = t
            .form(
                &path,
                Some(&nina),
                &[("csrf", &nina.csrf), ("store", "LYS-BELLECOUR")],
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        // Lyon ships one pair back; a quantity that is not a number is refused.
        let ship = |q: &'static str| {
            [
                ("csrf", nina.csrf.clone()),
                ("store", "LYS-BELLECOUR".into()),
                ("sku", "TR-42".into()),
                ("to", "PAR-RIVOLI".into()),
                ("quantity", q.into()),
                ("reference", "R-1".into()),
            ]
        };
        let fields = ship("two");
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let bad = t
            .form("/console/transfers", Some(&nina), &borrowed, None)
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let fields = ship("1");
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = t
            .form("/console/transfers", Some(&nina), &borrowed, None)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let leaving = t
            .api(
                Method::GET,
                "/v1/transfers?location=LYS-BELLECOUR&direction=outbound",
                &t.admin,
                None,
            )
            .await
            .json();
        let out = leaving["data"].as_array().unwrap();
        assert_eq!(out.len(), 1, "{leaving}");
        assert_eq!(
            (out[0]["quantity"].as_i64(), out[0]["reference"].as_str()),
            (Some(1), Some("R-1"))
        );
        let books = t.page("/console/stock", Some(&nina)).await;
        // 5 + 2 received − 1 shipped.
        assert!(
            books
                .text
                .contains(r#"<td>TR-42</td><td class="num">6</td>"#),
            "{}",
            books.text
        );
    }
}

#[tokio::test]
async fn a_marketer_makes_codes_and_downloads_them() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let promo = t
            .created("/v1/promotions", json!({"name": "Printemps", "currency": "EUR", "conditions": {}, "effect": {"type": "percent_off_items", "percent_bp": 1000}}))
            .await;
        let id = promo["id"].as_str().unwrap();
        t.user("lea@shop.example", "marketer", &[], "correct horse 1")
            .await;
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 2",
        )
        .await;
        let lea = t.sign_in("lea@shop.example", "correct horse 1").await;
        let list = t.page("/console/promotions", Some(&lea)).await;
        assert!(
            list.text
                .contains(&format!("/console/promotions/{id}/coupons"))
        );
        let path = format!("/console/promotions/{id}/coupons");
        let batch = [
            ("csrf", lea.csrf.as_str()),
            ("code", ""),
            ("count", "3"),
            ("prefix", "spring"),
            ("max_uses", "1"),
            ("max_uses_per_customer", ""),
        ];
        let r = t.form(&path, Some(&lea), &batch, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name(), r.text);
        let typed = [
            ("csrf", lea.csrf.as_str()),
            ("code", "welcome-10"),
            ("count", "3"),
            ("prefix", ""),
            ("max_uses", "100"),
            ("max_uses_per_customer", "1"),
        ];
        let r = t.form(&path, Some(&lea), &typed, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let bad = [
            ("csrf", lea.csrf.as_str()),
            ("code", ""),
            ("count", "3"),
            ("prefix", "spring"),
            ("max_uses", "many"),
        ];
        let r = t.form(&path, Some(&lea), &bad, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let codes = t
            .api(
                Method::GET,
                &format!("/v1/promotions/{id}/coupons"),
                &t.admin,
                None,
            )
            .await
            .json();
        let codes: Vec<String> = codes["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(codes.len(), 4, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| c.starts_with("SPRING-")).count(), 3);
        assert!(codes.contains(&"WELCOME-10".to_owned()));
        let page = t.page(&path, Some(&lea)).await;
        assert!(
            codes.iter().all(|c| page.text.contains(c.as_str())),
            "{}",
            page.text
        );
        let csv = t.page(&format!("{path}.csv"), Some(&lea)).await;
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(csv.text.lines().count(), 5, "{}", csv.text);
        assert!(
            csv.text
                .lines()
                .any(|l| l.starts_with("WELCOME-10,0,100,,")),
            "{}",
            csv.text
        );
        // A batch beyond a page: the page shows the first 500, the CSV every code.
        let big = [
            ("csrf", lea.csrf.as_str()),
            ("count", "600"),
            ("prefix", "summer"),
            ("max_uses", "1"),
        ];
        let r = t.form(&path, Some(&lea), &big, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = t.page(&path, Some(&lea)).await;
        assert_eq!(page.text.matches("<td><code>").count(), 500);
        let csv = t.page(&format!("{path}.csv"), Some(&lea)).await;
        assert_eq!(csv.text.lines().count(), 1 + 604, "{}", t.name());
        // An associate neither sees nor makes codes.
        let hugo = t.sign_in("hugo@shop.example", "correct horse 2").await;
        assert_eq!(
            t.page(&path, Some(&hugo)).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .form(
                &path,
                Some(&hugo),
                &[
                    ("csrf", &hugo.csrf),
                    ("count", "1"),
                    ("prefix", "HACK"),
                    ("max_uses", "9"),
                ],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}
