use super::*;
use inventory::{Hold, HoldOwner, HoldPurpose, HoldStatus};
use kernel::Timestamp;

fn key(scopes: &[&str]) -> Principal {
    Principal {
        key_id: "key_1".into(),
        scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
    }
}

#[test]
fn scopes_parse_and_print() {
    for s in ["admin", "service", "channel:web", "store:LYS-BELLECOUR"] {
        assert_eq!(Scope::parse(s).unwrap().to_text(), s);
    }
    for bad in ["root", "channel:", "store:lyon", "channel:Web", "store", ""] {
        assert!(Scope::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn store_keys_are_confined() {
    let p = key(&["store:LYS"]);
    assert!(p.can_access_store("LYS") && !p.can_access_store("PAR"));
    assert_eq!(p.store_only(), Some("LYS"));
    assert!(!p.is_staff() && p.require_staff().is_err() && p.require_admin().is_err());
    let agent = key(&["service", "store:LYS"]);
    assert!(agent.is_staff());
    assert_eq!(
        agent.store_only(),
        None,
        "staff are not confined to a store"
    );
    let web = key(&["channel:web"]);
    assert_eq!(web.own_channel(), Some("web"));
    assert!(!web.can_access_store("LYS"));
}

#[test]
fn every_route_appears_once() {
    for (i, a) in ROUTES.iter().enumerate() {
        assert!(
            ROUTES[i + 1..]
                .iter()
                .all(|b| (a.method, a.path) != (b.method, b.path)),
            "{} {} has two rows",
            a.method,
            a.path
        );
        assert!(!PUBLIC.contains(&a.path));
    }
}

#[test]
fn the_route_table_refuses_roles_it_does_not_name() {
    let erase = route("POST", "/v1/customers/{id}/erasure").unwrap();
    assert!(check_route(&key(&["admin"]), erase).is_ok());
    assert!(check_route(&key(&["service"]), erase).is_ok());
    for scopes in [&["channel:web"][..], &["store:LYS"]] {
        assert_eq!(
            check_route(&key(scopes), erase).unwrap_err().code,
            ErrorCode::Forbidden
        );
    }
    // A key with several scopes reaches what any of them reaches.
    let movements = route("POST", "/v1/stock/movements").unwrap();
    assert!(check_route(&key(&["channel:web"]), movements).is_err());
    assert!(check_route(&key(&["channel:web", "store:LYS"]), movements).is_ok());
    assert!(route("GET", "/v1/nowhere").is_none());
}

#[test]
fn customers_are_seen_by_their_store_their_channels_and_staff() {
    let home = CustomerFacts {
        home_store: Some("LYS".into()),
        ..CustomerFacts::default()
    };
    let sharing = CustomerFacts {
        shares_history: true,
        ..CustomerFacts::default()
    };
    let on_web = CustomerFacts {
        known_on_channel: true,
        ..CustomerFacts::default()
    };
    let cases = [
        (&["service"][..], &home, true),
        (&["admin"], &CustomerFacts::default(), true),
        (&["store:LYS"], &home, true),
        (&["store:PAR"], &home, false),
        (&["store:PAR"], &sharing, true),
        (&["channel:web"], &home, false),
        (&["channel:web"], &on_web, true),
        (&["store:PAR"], &on_web, false),
        (&["channel:web"], &sharing, false),
    ];
    for (scopes, facts, allowed) in cases {
        assert_eq!(
            customer(&key(scopes), facts).is_ok(),
            allowed,
            "{scopes:?} {facts:?}"
        );
    }
    assert!(move_home_store(&key(&["store:LYS"])).is_err());
    assert!(move_home_store(&key(&["channel:web"])).is_ok());
    assert!(move_home_store(&key(&["service"])).is_ok());
}

#[test]
fn orders_are_seen_by_the_stores_involved_and_their_channel() {
    let pickup = OrderFacts {
        channel: "web",
        store: Some("LYS"),
        line_locations: &["LYS"],
    };
    let shipped = OrderFacts {
        channel: "app",
        store: None,
        line_locations: &["WH-1", "PAR"],
    };
    let cases = [
        (&["store:LYS"][..], &pickup, true),
        (&["store:PAR"], &pickup, false),
        (&["store:PAR"], &shipped, true),
        (&["channel:web"], &pickup, true),
        (&["channel:app"], &pickup, false),
        (&["service"], &shipped, true),
    ];
    for (scopes, facts, allowed) in cases {
        assert_eq!(order(&key(scopes), facts).is_ok(), allowed, "{scopes:?}");
    }
    assert!(act_on_order(&key(&["channel:web"]), &pickup, true, None).is_ok());
    assert!(act_on_order(&key(&["channel:web"]), &pickup, false, None).is_err());
    assert!(act_on_order(&key(&["channel:app"]), &pickup, true, None).is_err());
    assert!(act_on_order(&key(&["store:LYS"]), &pickup, false, None).is_ok());
    assert!(act_on_order(&key(&["store:PAR"]), &pickup, true, None).is_err());
    // A till or kiosk acts on its own store's orders, not on another's.
    let till = key(&["channel:pos-lys"]);
    assert!(act_on_order(&till, &pickup, false, Some("LYS")).is_ok());
    assert!(act_on_order(&till, &pickup, false, Some("PAR")).is_err());
    assert!(shows_pickup_code(&key(&["channel:web"]), "web"));
    assert!(!shows_pickup_code(&key(&["channel:app"]), "web"));
    assert!(!shows_pickup_code(&key(&["store:LYS"]), "web"));
    assert!(shows_pickup_code(&key(&["service"]), "web"));
}

fn hold(owner: HoldOwner, created_by: Option<&str>) -> Hold {
    let now = Timestamp::now();
    Hold {
        id: "hld_1".into(),
        sku: "S".into(),
        location: "LYS".into(),
        quantity: 1,
        purpose: HoldPurpose::Pickup,
        owner_ref: "ord_1".into(),
        owner,
        created_by: created_by.map(str::to_owned),
        channel: None,
        status: HoldStatus::Pending,
        committed_quantity: 0,
        expires_at: now,
        created_at: now,
        ended_at: None,
    }
}

#[test]
fn holds_end_through_their_owner_or_by_their_maker() {
    let order_hold = hold(HoldOwner::Order, None);
    for scopes in [
        &["admin"][..],
        &["channel:web"],
        &["store:LYS"],
        &["service"],
    ] {
        let refused = end_hold(&key(scopes), &order_hold).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Conflict, "{scopes:?}");
    }
    let mine = hold(HoldOwner::Api, Some("key_1"));
    let theirs = hold(HoldOwner::Api, Some("key_2"));
    for scopes in [&["channel:web"][..], &["store:LYS"], &["service"]] {
        assert!(end_hold(&key(scopes), &mine).is_ok());
        assert_eq!(
            end_hold(&key(scopes), &theirs).unwrap_err().code,
            ErrorCode::Forbidden
        );
    }
    assert!(end_hold(&key(&["admin"]), &theirs).is_ok());
    assert!(see_hold(&key(&["store:LYS"]), &theirs).is_ok());
    assert!(see_hold(&key(&["store:PAR"]), &theirs).is_err());
    assert!(see_hold(&key(&["channel:web"]), &theirs).is_err());
    assert!(see_hold(&key(&["channel:web"]), &mine).is_ok());
}
