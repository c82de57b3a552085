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
    // `key create` never creates a database: `migrate` does.
    let migrate = Command::new(RELAIS)
        .args(["migrate", "--db", db])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
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

/// A `relais serve` process on a database, with an admin key.
struct Node {
    db: String,
    port: u16,
    base: String,
    key: String,
    client: reqwest::Client,
    child: Child,
}

impl Node {
    async fn start(db: &str) -> Node {
        let key = admin_key(db);
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let child = serve(db, port);
        wait_ready(&client, &base).await;
        Node {
            db: db.to_owned(),
            port,
            base,
            key,
            client,
            child,
        }
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn restart(&mut self) {
        self.child = serve(&self.db, self.port);
        wait_ready(&self.client, &self.base).await;
    }
}

/// Lets `clients` run for 1.5 s, kills the node with SIGKILL, and gathers what each client
/// saw acknowledged before the kill.
async fn kill_mid_stream<T>(
    node: &mut Node,
    clients: Vec<tokio::task::JoinHandle<Vec<T>>>,
) -> Vec<T> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.kill_9();
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    acknowledged
}

async fn acknowledged_writes_survive_kill_9(db: &str) {
    let mut node = Node::start(db).await;
    let (client, base, key) = (node.client.clone(), node.base.clone(), node.key.clone());

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
    let acknowledged = kill_mid_stream(&mut node, writers).await;
    assert!(
        acknowledged.len() > 50,
        "too few writes before the kill: {}",
        acknowledged.len()
    );

    node.restart().await;
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
    node.kill_9();
}

/// Holds and commits acknowledged before a kill -9 are all there after a restart, and the
/// stock ledger balances.
async fn acknowledged_holds_survive_kill_9(db: &str) {
    let mut node = Node::start(db).await;
    let (client, base, key) = (node.client.clone(), node.base.clone(), node.key.clone());
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
    let acknowledged = kill_mid_stream(&mut node, clients).await;
    assert!(
        acknowledged.len() > 20,
        "too few holds before the kill: {}",
        acknowledged.len()
    );

    node.restart().await;
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
    node.kill_9();
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
