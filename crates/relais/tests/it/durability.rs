//! Acknowledged writes survive `kill -9`: every product whose creation was answered 201
//! before the process was killed is there after a restart.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const RELAIS: &str = env!("CARGO_BIN_EXE_relais");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn admin_key(db: &str) -> String {
    let out = Command::new(RELAIS).args(["key", "create", "--db", db, "--name", "test admin", "--scope", "admin"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn serve(db: &str, port: u16) -> Child {
    Command::new(RELAIS)
        .args(["serve", "--db", db, "--listen", &format!("127.0.0.1:{port}")])
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
    assert!(acknowledged.len() > 50, "too few writes before the kill: {}", acknowledged.len());

    let mut server = serve(db, port);
    wait_ready(&client, &base).await;
    for sku in &acknowledged {
        let r = client.get(format!("{base}/v1/variants/{sku}")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged variant {sku} is missing after kill -9");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/kill.db", dir.path().display());
    acknowledged_writes_survive_kill_9(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_acknowledged_writes() {
    let Some(pg) = testkit::postgres().await else { return };
    acknowledged_writes_survive_kill_9(&pg.url).await;
}
