//! Acknowledged writes survive `kill -9`: every product whose creation was answered 201
//! before the process was killed is there after a restart.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn admin_key(db: &str) -> String {
    let out = Command::new(RELAIS)
        .args([
            "key",
            "create",
            "--db",
            db,
            "--name",
            "test admin",
            "--scope",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn serve(db: &str, port: u16) -> Child {
    Command::new(RELAIS)
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RELAIS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

async fn acknowledged_writes_survive_kill_9(db: &str) {
    let key = admin_key(db);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(db, port);
    wait_ready(&client, &base).await;

    // 16 clients create products as fast as they can; the server is killed mid-stream.
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let body = json!({"title": "Kill test", "category": "test", "variants": [{"sku": format!("K{w}-{i}")}]});
                let sent = client.post(format!("{base}/v1/products")).bearer_auth(&key).json(&body).send().await;
                match sent {
                    Ok(r) if r.status() == 201 => acknowledged.push(format!("K{w}-{i}")),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.wait().unwrap();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(
        acknowledged.len() > 50,
        "too few writes before the kill: {}",
        acknowledged.len()
    );

    let mut server = serve(db, port);
    wait_ready(&client, &base).await;
    for sku in &acknowledged {
        let r = client
            .get(format!("{base}/v1/variants/{sku}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "acknowledged variant {sku} is missing after kill -9"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Holds and commits acknowledged before a kill -9 are all there after a restart, and the
/// stock ledger balances.
async fn acknowledged_holds_survive_kill_9(db: &str) {
    let key = admin_key(db);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(db, port);
    wait_ready(&client, &base).await;
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let location = json!({"code": "LYS", "name": "Lyon", "kind": "store", "time_zone": "Europe/Paris",
        "address": {"line1": "1 rue", "postal_code": "69002", "city": "Lyon", "country": "FR"},
        "coordinates": {"latitude": 45.75, "longitude": 4.83}, "owner": {"kind": "company", "name": "Co"}});
    assert_eq!(post("/v1/locations", location).await.unwrap().status(), 201);
    assert_eq!(
        post(
            "/v1/products",
            json!({"title": "Sock", "category": "socks", "variants": [{"sku": "SOCK"}]})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let receipt = json!({"sku": "SOCK", "location": "LYS", "kind": "receipt", "quantity": 1000000, "reason": "stock"});
    assert_eq!(
        post("/v1/stock/movements", receipt).await.unwrap().status(),
        201
    );

    let mut clients = Vec::new();
    for w in 0..16 {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            let mut acknowledged: Vec<(String, &'static str)> = Vec::new();
            for i in 0.. {
                let body = json!({"sku": "SOCK", "location": "LYS", "quantity": 1, "purpose": "cart", "owner_ref": format!("cart-{w}-{i}")});
                let Ok(r) = client.post(format!("{base}/v1/holds")).bearer_auth(&key).json(&body).send().await else { break };
                assert_eq!(r.status(), 201);
                let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                acknowledged.push((id.clone(), "pending"));
                if i % 2 == 0 {
                    let Ok(r) = client.post(format!("{base}/v1/holds/{id}/commit")).bearer_auth(&key).json(&json!({})).send().await else { break };
                    assert_eq!(r.status(), 200);
                    acknowledged.last_mut().unwrap().1 = "committed";
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "too few holds before the kill: {}",
        acknowledged.len()
    );

    let mut server = serve(db, port);
    wait_ready(&client, &base).await;
    for (id, acked) in &acknowledged {
        let r = client
            .get(format!("{base}/v1/holds/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "acknowledged hold {id} is missing after kill -9"
        );
        let status = r.json::<serde_json::Value>().await.unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned();
        // A commit may have landed without its answer reaching the client; never the reverse.
        let ok = if *acked == "committed" {
            status == "committed"
        } else {
            status == "pending" || status == "committed"
        };
        assert!(ok, "hold {id}: acknowledged {acked}, found {status}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let store = store::Db::connect(db, store::DbOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store::stock::unbalanced(&store).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_acknowledged_holds() {
    let dir = tempfile::tempdir().unwrap();
    acknowledged_holds_survive_kill_9(&format!("sqlite://{}/holds.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_acknowledged_holds() {
    let Some(pg) = testkit::postgres().await else {
        return;
    };
    acknowledged_holds_survive_kill_9(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/kill.db", dir.path().display());
    acknowledged_writes_survive_kill_9(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_acknowledged_writes() {
    let Some(pg) = testkit::postgres().await else {
        return;
    };
    acknowledged_writes_survive_kill_9(&pg.url).await;
}
