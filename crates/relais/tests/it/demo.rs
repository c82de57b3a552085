//! `relais demo` as a newcomer runs it: a fresh database with the demo retailer, served,
//! with the URL and one key per role printed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");

async fn get(client: &reqwest::Client, url: &str, key: &str) -> (u16, Value) {
    let r = client.get(url).bearer_auth(key).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_a_realistic_retailer() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let keys_file = dir.path().join("keys.json");
    let mut child = Command::new(RELAIS)
        .args([
            "demo",
            "--db",
            &format!("sqlite://{}/demo.db", dir.path().display()),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--keys-file",
        ])
        .arg(&keys_file)
        // Request spans at debug: the log must name routes, never identifiers.
        .env("RELAIS_LOG", "warn,tower_http=debug,api=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let ready = client
            .get(format!("{base}/ready"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ready && keys_file.exists() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the demo did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(&keys_file).unwrap()).unwrap();
    let key = |role: &str| keys[role].as_str().unwrap().to_owned();

    let (_, stores) = get(
        &client,
        &format!("{base}/v1/locations?kind=store&limit=500"),
        &key("web"),
    )
    .await;
    let stores = stores["data"].as_array().unwrap();
    assert!(stores.len() >= 12, "{} stores", stores.len());

    // The Club has members in every tier, with what their orders earned.
    let (_, people) = get(
        &client,
        &format!("{base}/v1/customers?limit=40"),
        &key("service"),
    )
    .await;
    let mut tiers = std::collections::BTreeMap::new();
    for c in people["data"].as_array().unwrap() {
        let url = format!("{base}/v1/customers/{}/loyalty", c["id"].as_str().unwrap());
        let (status, account) = get(&client, &url, &key("service")).await;
        if status == 200 {
            let tier = account["tier"].as_str().unwrap().to_owned();
            *tiers.entry(tier).or_insert(0) += 1;
            assert!(account["balance"].as_i64().unwrap() >= 0);
        }
    }
    for tier in ["club", "silver", "gold"] {
        assert!(tiers.contains_key(tier), "no {tier} member among {tiers:?}");
    }
    // Lyon's till came back online with a batch whose conflicts wait in Lyon's queue.
    let (status, till) = get(
        &client,
        &format!("{base}/v1/tills/LYS-T01"),
        &key("store_lyon"),
    )
    .await;
    assert_eq!(
        (status, &till["last_seq"]),
        (200, &serde_json::json!(1)),
        "{till}"
    );
    let queue = format!("{base}/v1/locations/LYS-BELLECOUR/pos-conflicts?status=open");
    let (_, queue) = get(&client, &queue, &key("store_lyon")).await;
    let kinds: Vec<&str> = queue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"points"), "{queue}");
    assert!(
        stores
            .iter()
            .filter(|s| s["owner"]["kind"] == "franchisee")
            .count()
            >= 3
    );
    assert!(
        stores
            .iter()
            .all(|s| s["time_zone"] == "Europe/Paris" && s["opening_hours"]["mon"].is_array())
    );
    let (_, warehouses) = get(
        &client,
        &format!("{base}/v1/locations?kind=warehouse"),
        &key("web"),
    )
    .await;
    assert_eq!(warehouses["data"].as_array().unwrap().len(), 2);

    let (_, variants) = get(
        &client,
        &format!("{base}/v1/variants?limit=500"),
        &key("service"),
    )
    .await;
    let variants = variants["data"].as_array().unwrap();
    assert!(variants.len() >= 300, "{} variants", variants.len());
    assert!(
        variants
            .iter()
            .all(|v| v["gtin"].as_str().is_some_and(|g| g.len() == 14))
    );
    let sku = variants[0]["sku"].as_str().unwrap();
    let (status, price) = get(
        &client,
        &format!("{base}/v1/variants/{sku}/price?channel=pos-lys-bellecour"),
        &key("store_lyon"),
    )
    .await;
    assert_eq!((status, price["currency"].as_str()), (200, Some("EUR")));

    // One key per role, each inside its scope.
    assert_eq!(
        get(&client, &format!("{base}/v1/outbox"), &key("admin"))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&client, &format!("{base}/v1/outbox"), &key("app"))
            .await
            .0,
        403
    );
    let (_, parity) = get(
        &client,
        &format!("{base}/v1/reports/price-parity"),
        &key("admin"),
    )
    .await;
    assert!(
        parity["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );

    // A thousand customers with histories across channels, consents and open reviews.
    let mut customers = 0;
    let mut cursor = String::new();
    let mut sample = Vec::new();
    loop {
        let (_, page) = get(
            &client,
            &format!("{base}/v1/customers?limit=500{cursor}"),
            &key("service"),
        )
        .await;
        let data = page["data"].as_array().unwrap();
        customers += data.len();
        sample.extend(
            data.iter()
                .take(40)
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(customers >= 1000, "{customers} customers");
    let mut channels = std::collections::BTreeSet::new();
    let mut consents = 0;
    for id in &sample {
        let (_, timeline) = get(
            &client,
            &format!("{base}/v1/customers/{id}/timeline?limit=200"),
            &key("service"),
        )
        .await;
        for entry in timeline["data"].as_array().unwrap() {
            if entry["kind"] == "event" {
                channels.insert(
                    entry["channel"]
                        .as_str()
                        .unwrap()
                        .split('-')
                        .next()
                        .unwrap()
                        .to_owned(),
                );
            }
            consents += usize::from(entry["kind"] == "consent");
        }
    }
    for channel in ["web", "app", "pos", "kiosk"] {
        assert!(
            channels.contains(channel),
            "no {channel} event among {channels:?}"
        );
    }
    assert!(consents > 0);
    let (_, reviews) = get(
        &client,
        &format!("{base}/v1/merge-reviews"),
        &key("service"),
    )
    .await;
    assert!(reviews["data"].as_array().unwrap().len() >= 10, "{reviews}");
    let (_, calls) = get(
        &client,
        &format!("{base}/v1/outbox?type=relais.customer.interaction_recorded"),
        &key("admin"),
    )
    .await;
    assert!(!calls["data"].as_array().unwrap().is_empty());

    // Orders in every mode and every state a store works with, some returned elsewhere.
    let (_, orders) = get(
        &client,
        &format!("{base}/v1/orders?limit=500"),
        &key("admin"),
    )
    .await;
    let orders = orders["data"].as_array().unwrap();
    let seen: std::collections::BTreeSet<(String, String)> = orders
        .iter()
        .map(|o| {
            (
                o["mode"].as_str().unwrap().to_owned(),
                o["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (mode, state) in [
        ("pickup", "placed"),
        ("pickup", "preparing"),
        ("pickup", "ready_for_pickup"),
        ("pickup", "collected"),
        ("pickup", "no_show"),
        ("pickup", "cancelled"),
        ("reserve", "ready_to_try"),
        ("reserve", "purchased"),
        ("reserve", "expired"),
        ("ship", "placed"),
        ("ship", "shipped"),
        ("ship", "delivered"),
        ("counter", "ready_at_counter"),
        ("counter", "handed_over"),
        ("carry_out", "completed"),
    ] {
        assert!(
            seen.contains(&(mode.to_owned(), state.to_owned())),
            "no {mode} order {state} among {seen:?}"
        );
    }
    let soon = orders.iter().filter(|o| {
        o["state"] == "ready_to_try"
            && o["deadline_at"].as_str().is_some_and(|d| {
                kernel::Timestamp::parse(d).unwrap().unix_ms() - kernel::Timestamp::now().unix_ms()
                    < 2 * 3_600_000
            })
    });
    assert!(soon.count() >= 3, "reservations about to expire");
    // Parcels go home or to a store; home delivery is charged by weight, free from 50 €.
    let parcels: Vec<&Value> = orders.iter().filter(|o| o["mode"] == "ship").collect();
    let fee = |o: &&Value| o["shipping"]["fee_minor"].as_i64().unwrap();
    let goods =
        |o: &&Value| o["subtotal_minor"].as_i64().unwrap() - o["discount_minor"].as_i64().unwrap();
    let home: Vec<&&Value> = parcels
        .iter()
        .filter(|o| o["shipping"]["kind"] == "standard")
        .collect();
    assert!(
        home.iter().any(|o| fee(o) > 0) && home.iter().any(|o| fee(o) == 0),
        "{home:?}"
    );
    assert!(
        home.iter().all(|o| (fee(o) == 0) == (goods(o) >= 5000)),
        "free from 50 €"
    );
    assert!(
        parcels
            .iter()
            .any(|o| o["shipping"]["kind"] == "ship_to_store")
    );
    // The running campaign and the app's welcome offer show on orders, explained.
    let promoted: std::collections::BTreeSet<&str> = orders
        .iter()
        .flat_map(|o| o["promotions"].as_array().unwrap())
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        promoted.contains("−20 % sur les chaussures de running")
            && promoted.contains("Appli : −10 % sur votre première commande"),
        "{promoted:?}"
    );
    let (_, campaigns) = get(
        &client,
        &format!("{base}/v1/promotions?active=true"),
        &key("web"),
    )
    .await;
    assert!(
        campaigns["data"].as_array().unwrap().len() >= 3,
        "{campaigns}"
    );
    let contest = campaigns["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["conditions"]["coupon_required"] == true)
        .expect("the contest");
    let (_, codes) = get(
        &client,
        &format!(
            "{base}/v1/promotions/{}/coupons?limit=500",
            contest["id"].as_str().unwrap()
        ),
        &key("service"),
    )
    .await;
    let codes = codes["data"].as_array().unwrap();
    assert_eq!(codes.len(), 500);
    assert_eq!(codes.iter().filter(|c| c["issued"] == true).count(), 20);
    let exchanged = orders
        .iter()
        .find(|o| o["exchange_of"].is_string())
        .expect("an exchange");
    let (_, returns) = get(
        &client,
        &format!(
            "{base}/v1/orders/{}/returns",
            exchanged["exchange_of"].as_str().unwrap()
        ),
        &key("service"),
    )
    .await;
    let returned = &returns.as_array().unwrap()[0];
    let original = orders
        .iter()
        .find(|o| o["id"] == returned["order_id"])
        .unwrap();
    assert_ne!(
        returned["location"], original["location"],
        "returned in another store"
    );

    let (status, _) = get(
        &client,
        &format!("{base}/v1/customers?identifier=email:secret.person@example.fr"),
        &key("service"),
    )
    .await;
    assert_eq!(status, 200);

    // The till's and the kiosk's keys speak for channels that exist (their stock view).
    for role in ["till_lyon", "kiosk_lyon"] {
        let (status, seen) = get(
            &client,
            &format!("{base}/v1/variants/ES001-BLE-38/availability"),
            &key(role),
        )
        .await;
        assert_eq!(status, 200, "{role}: {seen}");
        assert_eq!(
            seen["data"][0]["location"], "LYS-BELLECOUR",
            "{role}: its store first"
        );
    }
    // An associate marks orders ready: their customers get Élan Sport's own pickup e-mail
    // (no SMTP server given: .eml files beside the database).
    let preparing = orders.iter().filter(|o| {
        o["state"] == "preparing" && o["mode"] == "pickup" && !o["customer_id"].is_null()
    });
    for o in preparing.take(5) {
        let r = client
            .post(format!(
                "{base}/v1/orders/{}/mark_ready",
                o["id"].as_str().unwrap()
            ))
            .bearer_auth(key("admin"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let mail = dir.path().join("relais-demo-mail");
    let started = Instant::now();
    let written = loop {
        let found: Vec<String> = std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        // The pickup e-mail (offers for stores near what customers viewed go out too).
        let pickup = |m: &String| m.contains("Subject:") && m.contains("BEGIN:VCALENDAR");
        if let Some(m) = found.into_iter().find(pickup) {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no demo e-mail in {}",
            mail.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(written.contains("Content-Language: fr"), "{written}");
    assert!(written.contains("BEGIN:VCALENDAR"), "{written}");

    child.kill().unwrap();
    child.wait().unwrap();
    // Every event of the demo's history (catalogue, stock, orders, customers) matches the
    // event catalogue.
    let url = format!("sqlite://{}/demo.db", dir.path().display());
    let db = store::Db::connect(&url, store::DbOptions::default())
        .await
        .unwrap();
    let (read, problems) = testkit::events::outbox_problems(&db).await.unwrap();
    assert!(read > 100, "the demo emitted {read} events");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    // Written to a file, the log has no colour codes.
    assert!(!log.contains('\u{1b}'), "ANSI codes in a log file: {log}");
    assert!(log.contains("route=\"/v1/customers\""), "{log}");
    assert!(
        !log.contains("secret.person"),
        "the log holds an identifier"
    );
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains(&format!("http://127.0.0.1:{port}")), "{out}");
    // The banner names every key as the keys file does, the till and a kiosk included.
    for role in [
        "admin",
        "web",
        "app",
        "store_lyon",
        "store_paris",
        "till_lyon",
        "kiosk_lyon",
        "service",
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&key(role)))
            .unwrap_or_else(|| panic!("no {role} in {out}"));
        assert!(line.trim_start().starts_with(role), "{line}");
    }
}

/// A seeded reservation waits 48 hours from when it was placed, like a real one.
#[tokio::test]
async fn seeded_reservations_are_held_48_hours() {
    let t = testkit::sqlite().await;
    relais::demo::seed(&t.db).await.unwrap();
    let filter = store::orders::OrderFilter {
        mode: Some(orders::FulfilmentMode::Reserve),
        states: vec![orders::OrderState::ReadyToTry],
        ..Default::default()
    };
    let page = kernel::PageRequest::parse(Some(100), None).unwrap();
    let open = store::orders::list(&t.db, &filter, &page)
        .await
        .unwrap()
        .data;
    assert!(open.len() >= 10, "{} open reservations", open.len());
    for o in &open {
        let deadline = o.deadline_at.expect("an open reservation has a deadline");
        let held_ms = deadline.unix_ms() - o.created_at.unix_ms();
        assert_eq!(held_ms, 48 * 3_600_000, "{}", o.id);
    }
}
