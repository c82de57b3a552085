//! The catalogue checked: unique well-formed types, valid schemas that accept real payloads
//! and refuse wrong ones, a type for every order state a transition reaches, docs in step.

use std::collections::BTreeSet;
use std::path::Path;

use inventory::{Hold, HoldOwner, HoldPurpose, LevelSnapshot};
use kernel::{Currency, Timestamp};
use orders::{FulfilmentMode, OrderState, Transition};
use serde_json::json;

use super::*;

fn validator(t: &EventType) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&t.schema())
        .unwrap_or_else(|e| panic!("{}: the schema does not compile: {e}", t.kind))
}

fn errors(event: &Event<'_>) -> Vec<String> {
    let t = find(event.kind()).expect("in the catalogue");
    let data = event.data().unwrap();
    validator(t)
        .iter_errors(&data)
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn types_are_unique_and_named_after_their_entity() {
    let mut seen = BTreeSet::new();
    for t in TYPES {
        assert!(seen.insert(t.kind), "{} twice", t.kind);
        let parts: Vec<&str> = t.kind.split('.').collect();
        assert_eq!(parts.len(), 3, "{}", t.kind);
        assert_eq!(parts[0], "relais");
        assert!(
            parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
            "{}",
            t.kind
        );
        assert!(
            !t.description().is_empty() && !t.subject.is_empty(),
            "{}",
            t.kind
        );
    }
}

#[test]
fn every_schema_is_valid_json_schema_with_its_id() {
    for t in TYPES {
        let schema = t.schema();
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: not a valid JSON Schema: {e}", t.kind));
        assert_eq!(schema["$id"], t.dataschema());
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["type"], "object", "{}: data is an object", t.kind);
        validator(t);
    }
}

fn hold() -> HoldChanged {
    let now = Timestamp::now();
    HoldChanged {
        hold: Hold {
            id: "hld_1".into(),
            sku: "ES-001-38".into(),
            location: "LYS-BELLECOUR".into(),
            quantity: 1,
            purpose: HoldPurpose::Pickup,
            owner_ref: "ord_1".into(),
            owner: HoldOwner::Order,
            created_by: Some("key_1".into()),
            channel: Some("web".into()),
            status: inventory::HoldStatus::Pending,
            committed_quantity: 0,
            expires_at: now,
            created_at: now,
            ended_at: None,
        },
        availability: LevelSnapshot {
            sku: "ES-001-38".into(),
            location: "LYS-BELLECOUR".into(),
            on_hand: 3,
            held: 1,
            safety: 0,
            atp: 2,
        },
    }
}

#[test]
fn payloads_match_their_schema_and_a_wrong_one_does_not() {
    let h = hold();
    assert_eq!(errors(&Event::HoldCreated(&h)), Vec::<String>::new());
    let t = find("relais.hold.created").unwrap();
    let mut data = Event::HoldCreated(&h).data().unwrap();
    data["quantity"] = json!("one");
    assert!(!validator(t).is_valid(&data), "a string quantity must fail");
    let mut data = Event::HoldCreated(&h).data().unwrap();
    data.as_object_mut().unwrap().remove("availability");
    assert!(!validator(t).is_valid(&data), "a missing level must fail");
    let mut data = Event::HoldCreated(&h).data().unwrap();
    data["created_at"] = json!("yesterday");
    assert!(!validator(t).is_valid(&data), "a timestamp is RFC 3339");
}

#[test]
fn the_maker_of_a_hold_is_not_published() {
    let h = hold();
    let data = Event::HoldCreated(&h).data().unwrap();
    assert!(data.get("created_by").is_none());
    assert_eq!(data["sku"], "ES-001-38");
    assert_eq!(data["availability"]["atp"], 2);
}

fn moved(state: OrderState) -> OrderMoved {
    OrderMoved {
        order: OrderSummary {
            order_id: "ord_1".into(),
            customer_id: None,
            channel: "web".into(),
            mode: FulfilmentMode::Pickup,
            state,
            location: Some("LYS-BELLECOUR".into()),
            owner_name: None,
            currency: Currency::EUR,
            total_minor: 4_990,
            lines: vec![OrderLineSummary {
                line: 1,
                sku: "ES-001-38".into(),
                quantity: 1,
                location: "LYS-BELLECOUR".into(),
            }],
        },
        from_state: OrderState::Placed,
        pickup_code: None,
        collect_by: None,
        paid_in_store_minor: None,
        refunded_minor: Some(4_990),
    }
}

/// Each state a transition can reach has its own type, named after it, with a valid payload.
#[test]
fn every_order_state_a_transition_reaches_has_a_type() {
    let mut reached = BTreeSet::new();
    for mode in FulfilmentMode::ALL {
        for state in mode.states() {
            for t in Transition::ALL {
                if let Some(to) = mode.next(*state, t) {
                    reached.insert(to);
                }
            }
        }
    }
    for to in &reached {
        let p = moved(*to);
        let e = Event::order_reached(*to, &p).expect("a type for every reachable state");
        assert_eq!(e.kind(), format!("relais.order.{}", to.as_str()));
        assert_eq!(errors(&e), Vec::<String>::new(), "{}", e.kind());
    }
    let transition_types = TYPES
        .iter()
        .filter(|t| {
            t.kind.starts_with("relais.order.")
                && !["relais.order.placed", "relais.order.returned"].contains(&t.kind)
        })
        .count();
    assert_eq!(
        transition_types,
        reached.len(),
        "no type for a state nothing reaches"
    );
}

#[test]
fn hold_ends_are_named_after_their_status() {
    let h = hold();
    for s in [
        inventory::HoldStatus::Committed,
        inventory::HoldStatus::Released,
        inventory::HoldStatus::Expired,
    ] {
        assert_eq!(
            Event::hold_ended(s, &h).unwrap().kind(),
            format!("relais.hold.{}", s.as_str())
        );
    }
    assert!(Event::hold_ended(inventory::HoldStatus::Pending, &h).is_none());
}

#[test]
fn an_envelope_names_its_schema() {
    let key = KeyRevoked { id: "key_1".into() };
    let e = crate::CloudEvent::of(&Event::ApiKeyRevoked(&key), "key_1", "key_0").unwrap();
    assert_eq!(e.kind, "relais.api_key.revoked");
    assert_eq!(
        e.dataschema.as_deref(),
        Some("urn:relais:event-schema:relais.api_key.revoked:1")
    );
    assert_eq!(e.data, json!({"id": "key_1"}));
}

/// `docs/events.md` is the catalogue rendered; `RELAIS_UPDATE_DOCS=1` rewrites it.
#[test]
fn docs_events_md_is_the_catalogue() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let rendered = markdown();
    if std::env::var("RELAIS_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "docs/events.md is out of date: run `RELAIS_UPDATE_DOCS=1 cargo test -p outbox`"
    );
}
