//! `relais import stock` and `relais export local-inventory` on the demo retailer.

use std::process::Command;

use inventory::MovementKind;
use relais::import::{Row, import_rows, read_rows};

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");
const SKU: &str = "ES001-BLE-38";
const SKU2: &str = "ES001-BLE-39";

const CSV: &str = "\
sku,location,quantity,reason
ES001-BLE-38,LYS-BELLECOUR,7,inventory count
ES001-BLE-39,LYS-BELLECOUR,0,
NOPE-1,LYS-BELLECOUR,3,
ES001-BLE-38,NOWHERE,3,
ES001-BLE-38,PAR-RIVOLI,-2,
ES001-BLE-38,PAR-RIVOLI,two,
";

async fn on_hand(db: &store::Db, sku: &str, location: &str) -> i64 {
    store::stock::variant_stock(db, sku)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.location == location)
        .map(|s| s.level.on_hand)
        .unwrap_or(0)
}

fn reasons(rejected: &[(Row, String)]) -> Vec<(u64, String)> {
    rejected
        .iter()
        .map(|(r, why)| (r.line, why.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_imports_once_and_rejects_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counts.csv");
    std::fs::write(&file, CSV).unwrap();
    for t in testkit::every_backend().await {
        relais::demo::seed(&t.db).await.unwrap();
        let (rows, batch) = read_rows(&file, None).unwrap();
        assert_eq!(rows.len(), 6);
        let report = import_rows(&t.db, rows.clone(), &batch, MovementKind::Count, || {}).await;
        assert_eq!(
            (report.recorded, report.already),
            (2, 0),
            "{}",
            t.backend().as_str()
        );
        assert_eq!(
            reasons(&report.rejected),
            [
                (4, "unknown SKU `NOPE-1`".to_string()),
                (5, "unknown location `NOWHERE`".to_string()),
                (6, "negative quantity".to_string()),
                (7, "quantity `two` is not a whole number".to_string()),
            ]
        );
        assert_eq!(on_hand(&t.db, SKU, "LYS-BELLECOUR").await, 7);
        assert_eq!(on_hand(&t.db, SKU2, "LYS-BELLECOUR").await, 0);

        // A sale after the import; then the same file again: nothing is counted twice and the
        // sale is not undone.
        let sale = store::stock::NewMovement {
            sku: SKU.into(),
            location: "LYS-BELLECOUR".into(),
            kind: MovementKind::Sale,
            quantity: 1,
            reason: "till".into(),
            reference: None,
            client_key: None,
        };
        t.db.write(move |c| {
            Box::pin(async move { store::stock::record_movement(c, &sale, "t").await })
        })
        .await
        .unwrap();
        let events = store::events::count(&t.db).await.unwrap();
        let again = import_rows(&t.db, rows, &batch, MovementKind::Count, || {}).await;
        assert_eq!(
            (again.recorded, again.already, again.rejected.len()),
            (0, 2, 4)
        );
        assert_eq!(on_hand(&t.db, SKU, "LYS-BELLECOUR").await, 6);
        assert_eq!(store::events::count(&t.db).await.unwrap(), events);

        // One rejected row fixed in the file, imported again: only that row is recorded; the
        // count of the good rows is not applied again (the sale stays).
        std::fs::write(&file, CSV.replace("PAR-RIVOLI,two,", "PAR-RIVOLI,2,")).unwrap();
        let (fixed, batch) = read_rows(&file, None).unwrap();
        let third = import_rows(&t.db, fixed, &batch, MovementKind::Count, || {}).await;
        assert_eq!(
            (third.recorded, third.already, third.rejected.len()),
            (1, 2, 3)
        );
        assert_eq!(on_hand(&t.db, SKU, "LYS-BELLECOUR").await, 6);
        assert_eq!(on_hand(&t.db, SKU, "PAR-RIVOLI").await, 2);
        std::fs::write(&file, CSV).unwrap();
        assert!(store::stock::unbalanced(&t.db).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_import_and_export_a_feed() {
    let t = testkit::sqlite().await;
    relais::demo::seed(&t.db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counts.csv");
    std::fs::write(&file, CSV).unwrap();

    let import = Command::new(RELAIS)
        .args(["import", "stock", "--db", &t.url])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&import.stdout);
    let stderr = String::from_utf8_lossy(&import.stderr);
    // Rows were rejected: the command says so and exits 1 (a script must notice).
    assert_eq!(import.status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.contains("4 rows rejected"), "{stderr}");
    assert!(
        stdout.contains("2 rows recorded, 0 already imported by an earlier run, 4 rejected"),
        "{stdout}"
    );
    let rejected = std::fs::read_to_string(dir.path().join("counts.rejected.csv")).unwrap();
    assert_eq!(rejected.lines().count(), 5, "{rejected}");
    assert!(
        rejected.contains("4,NOPE-1,LYS-BELLECOUR,3,unknown SKU `NOPE-1`"),
        "{rejected}"
    );

    let feed_path = dir.path().join("local-inventory.tsv");
    let export = Command::new(RELAIS)
        .args(["export", "local-inventory", "--db", &t.url, "--out"])
        .arg(&feed_path)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let feed = std::fs::read_to_string(&feed_path).unwrap();
    let mut lines = feed.lines();
    assert_eq!(
        lines.next(),
        Some("store code\tid\tquantity\tavailability\tprice\tpickup method\tpickup SLA")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let row = |store: &str, sku: &str| {
        rows.iter()
            .find(|r| r[0] == store && r[1] == sku)
            .unwrap_or_else(|| panic!("no row for {sku} at {store}"))
            .clone()
    };
    let counted = row("LYS-BELLECOUR", SKU);
    assert_eq!(&counted[2..4], ["7", "in stock"]);
    assert!(
        counted[4].ends_with(" EUR") && counted[4].contains('.'),
        "{counted:?}"
    );
    assert_eq!(counted[5], "buy");
    assert!(
        ["same day", "next day", "2-day", "3-day"].contains(&counted[6]),
        "{counted:?}"
    );
    assert_eq!(&row("LYS-BELLECOUR", SKU2)[2..4], ["0", "out of stock"]);
    for r in &rows {
        assert_eq!(r.len(), 7, "{r:?}");
        assert!(["in stock", "limited availability", "out of stock"].contains(&r[3]));
        let quantity: i64 = r[2].parse().unwrap();
        assert_eq!(r[3] == "out of stock", quantity == 0, "{r:?}");
    }
    assert!(rows.iter().any(|r| r[3] == "limited availability"));
    // Only stores: the warehouses and the pickup point are not in a store feed.
    assert!(!rows.iter().any(|r| r[0].starts_with("WH")));
}

/// `import`, `export` and `key create` read or add to a database; a mistyped path must fail
/// with a clear message, not create an empty database (an empty feed blanks a retailer's
/// store inventory where it is uploaded). Only `migrate`, `serve` and `demo` create one.
#[tokio::test]
async fn read_only_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let url = format!("sqlite://{}", typo.display());
    let csv = dir.path().join("counts.csv");
    std::fs::write(&csv, CSV).unwrap();
    let commands: [Vec<&str>; 3] = [
        vec!["export", "local-inventory", "--db", &url],
        vec![
            "key", "create", "--db", &url, "--name", "till", "--scope", "admin",
        ],
        vec!["import", "stock", "--db", &url, csv.to_str().unwrap()],
    ];
    for args in &commands {
        let run = Command::new(RELAIS).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(stderr.contains("no database at"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    // An existing file without Relais's tables is refused the same way.
    std::fs::write(&typo, b"").unwrap();
    let run = Command::new(RELAIS).args(&commands[0]).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("holds no Relais tables"));
    // `migrate` creates it; a feed for a channel it does not have is refused too (an empty
    // feed would blank the inventory where it is uploaded).
    let migrate = Command::new(RELAIS)
        .args(["migrate", "--db", &url])
        .output()
        .unwrap();
    assert!(migrate.status.success());
    let export = Command::new(RELAIS).args(&commands[0]).output().unwrap();
    assert!(!export.status.success());
    let stderr = String::from_utf8_lossy(&export.stderr);
    assert!(stderr.contains("channel `web` does not exist"), "{stderr}");
}

/// `key create`, `key list` and `key revoke` from the command line: the list never shows a
/// token, and a revoked key is listed as such and no longer authenticates.
#[tokio::test]
async fn keys_are_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.db", dir.path().display());
    let run = |args: &[&str]| {
        let out = Command::new(RELAIS).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate", "--db", &url]);
    let token = run(&[
        "key",
        "create",
        "--db",
        &url,
        "--name",
        "Lyon till",
        "--scope",
        "store:LYS",
    ]);
    let token = token.trim();
    let listed = run(&["key", "list", "--db", &url]);
    assert!(
        listed.contains("Lyon till") && listed.contains("store:LYS") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(token), "a token is listed");
    let id = listed.split('\t').next().unwrap().to_owned();
    assert!(id.starts_with("key_"), "{listed}");
    run(&["key", "revoke", "--db", &url, &id]);
    let listed = run(&["key", "list", "--db", &url]);
    assert!(listed.contains("revoked"), "{listed}");
    let db = store::Db::connect(&url, store::DbOptions::default())
        .await
        .unwrap();
    let hash = store::api_keys::hash_token(token);
    assert!(
        store::api_keys::find_by_token(&db, token)
            .await
            .unwrap()
            .is_none(),
        "{hash}"
    );
}

/// `relais backup` copies a SQLite database that is open and being written to; the copy is a
/// complete database with the same data, and an existing file is never overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_taken_while_the_database_is_in_use() {
    let t = testkit::sqlite().await;
    relais::demo::seed(&t.db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    // A writer keeps going during the backup.
    let db = t.db.clone();
    let writing = tokio::spawn(async move {
        for i in 0..50 {
            let m = store::stock::NewMovement {
                sku: SKU.into(),
                location: "LYS-BELLECOUR".into(),
                kind: MovementKind::Receipt,
                quantity: 1,
                reason: format!("delivery {i}"),
                reference: None,
                client_key: None,
            };
            db.write(move |c| {
                Box::pin(async move { store::stock::record_movement(c, &m, "t").await })
            })
            .await
            .unwrap();
        }
    });
    let backup = Command::new(RELAIS)
        .args(["backup", "--db", &t.url, "--to"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    writing.await.unwrap();
    let url = format!("sqlite://{}", copy.display());
    let restored = store::Db::connect_existing(&url, store::DbOptions::default())
        .await
        .unwrap();
    let all = kernel::PageRequest::parse(Some(500), None).unwrap();
    let filter = store::catalog::ProductFilter::default();
    let products = store::catalog::list_products(&restored, &filter, &all)
        .await
        .unwrap();
    assert!(
        products.data.len() >= 20,
        "{} products in the copy",
        products.data.len()
    );
    assert!(
        store::stock::unbalanced(&restored)
            .await
            .unwrap()
            .is_empty()
    );
    let again = Command::new(RELAIS)
        .args(["backup", "--db", &t.url, "--to"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}

async fn feed(db: &store::Db, channel: &str) -> Vec<Vec<String>> {
    let options = app::feeds::LocalInventory {
        currency: kernel::Currency::EUR,
        channel: channel.into(),
        limited_at: 3,
    };
    let mut out = Vec::new();
    app::feeds::local_inventory(db, &options, &mut out)
        .await
        .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

async fn set_policy(
    db: &store::Db,
    channel: &str,
    change: impl FnOnce(&mut inventory::SourcingPolicy),
) {
    let mut policy = store::sourcing::get_policy(db, channel)
        .await
        .unwrap()
        .policy;
    change(&mut policy);
    let channel = channel.to_owned();
    db.write(move |c| {
        Box::pin(async move { store::sourcing::set_policy(c, &channel, policy, "t").await })
    })
    .await
    .unwrap();
}

/// The feed is a channel's: its safety stock is kept back, stores its policy does not
/// promise from are left out, and each store's SLA is its usual promise.
#[tokio::test]
async fn the_feed_is_what_its_channel_may_promise() {
    let t = testkit::sqlite().await;
    relais::demo::seed(&t.db).await.unwrap();
    let level = |rows: &[Vec<String>], store: &str, sku: &str| {
        rows.iter()
            .find(|r| r[0] == store && r[1] == sku)
            .map(|r| r[2].parse::<i64>().unwrap())
    };
    let before = feed(&t.db, "web").await;
    let first = before
        .iter()
        .find(|r| r[2].parse::<i64>().unwrap() > 5)
        .unwrap()
        .clone();
    let (store, sku) = (first[0].clone(), first[1].clone());
    set_policy(&t.db, "web", |p| p.safety += 2).await;
    let kept_back = feed(&t.db, "web").await;
    assert_eq!(
        level(&kept_back, &store, &sku),
        level(&before, &store, &sku).map(|q| q - 2)
    );
    set_policy(&t.db, "web", |p| {
        for rule in p.rules.values_mut() {
            rule.exclude.insert(store.clone());
        }
    })
    .await;
    let without = feed(&t.db, "web").await;
    assert!(
        !without.iter().any(|r| r[0] == store),
        "{store} is excluded from web"
    );
    assert!(!without.is_empty());
    let location = store::locations::get_location(&t.db, &store).await.unwrap();
    let usual = location.usual_pickup_sla(kernel::Timestamp::now()).unwrap();
    assert!(
        before
            .iter()
            .filter(|r| r[0] == store)
            .all(|r| r[6] == usual)
    );
}
