//! Clienteling: an associate finds a customer and notes a store visit in their service
//! history, under the associate's name and store; the note is validated like the API's.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::TestConsole;

#[tokio::test]
async fn an_associate_notes_a_visit_in_the_service_history() {
    for t in TestConsole::every_backend().await {
        t.shop().await;
        let customer = t
            .created("/v1/customers", json!({"identifiers": [{"kind": "email", "value": "marie@example.com"}], "given_name": "Marie", "home_store": "LYS-BELLECOUR"}))
            .await;
        let id = customer["id"].as_str().unwrap();
        t.user(
            "hugo@shop.example",
            "associate",
            &["LYS-BELLECOUR"],
            "correct horse 2",
        )
        .await;
        let hugo = t.sign_in("hugo@shop.example", "correct horse 2").await;
        let card = t
            .page(&format!("/console/customers/{id}"), Some(&hugo))
            .await;
        assert_eq!(card.status, StatusCode::OK, "{}: {}", t.name(), card.text);
        assert!(card.text.contains("note-form"), "{}", card.text);
        let path = format!("/console/customers/{id}/interactions");
        let note = [
            ("csrf", hugo.csrf.as_str()),
            ("medium", "store_visit"),
            ("direction", "inbound"),
            ("store", "LYS-BELLECOUR"),
            ("references", ""),
            (
                "summary",
                "Tried the trail shoe in 42, will come back Saturday",
            ),
        ];
        let r = t.form(&path, Some(&hugo), &note, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let history = t
            .api(
                Method::GET,
                &format!("/v1/customers/{id}/interactions"),
                &t.admin,
                None,
            )
            .await
            .json();
        let noted = &history["data"][0];
        assert_eq!(
            (
                noted["medium"].as_str(),
                noted["agent"].as_str(),
                noted["location_code"].as_str()
            ),
            (Some("store_visit"), Some("hugo"), Some("LYS-BELLECOUR")),
            "{history}"
        );
        let again = t
            .page(&format!("/console/customers/{id}?done=1"), Some(&hugo))
            .await;
        assert!(again.text.contains("note-done"));
        // Another store, an empty summary or an unknown medium: refused, nothing noted.
        for (field, value, status) in [
            ("store", "PAR-RIVOLI", StatusCode::FORBIDDEN),
            ("summary", "  ", StatusCode::UNPROCESSABLE_ENTITY),
            ("medium", "pigeon", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let mut bad = note;
            for f in bad.iter_mut() {
                if f.0 == field {
                    f.1 = value;
                }
            }
            let r = t.form(&path, Some(&hugo), &bad, None).await;
            assert_eq!(r.status, status, "{field}: {}", r.text);
        }
        let history = t
            .api(
                Method::GET,
                &format!("/v1/customers/{id}/interactions"),
                &t.admin,
                None,
            )
            .await
            .json();
        assert_eq!(
            history["data"].as_array().map(Vec::len),
            Some(1),
            "{history}"
        );
    }
}
