//! Starting the server under test as a child process on a fresh database.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::Target;

pub struct Server {
    pub addr: String,
    pub admin_key: String,
    pub db_label: &'static str,
    /// Milliseconds from spawning the server to its first successful `/ready`.
    pub ready_ms: u64,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn create_postgres_database(admin: &str) -> anyhow::Result<(String, String)> {
    let name = format!("relais_bench_{}", std::process::id());
    let url = testkit::create_database(admin, &name)
        .await
        .context("create the benchmark database")?;
    Ok((url, name))
}

impl Server {
    pub async fn start(target: &Target) -> anyhow::Result<Server> {
        if let Some(url) = &target.url {
            let key = target.key.clone().context("--url needs --key")?;
            let addr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned();
            return Ok(Server {
                addr,
                admin_key: key,
                db_label: "external",
                ready_ms: 0,
                child: None,
                _dir: None,
                postgres: None,
            });
        }
        let dir = tempfile::tempdir()?;
        let (db_url, db_label, postgres) = if target.db == "sqlite" {
            (
                format!("sqlite://{}/bench.db", dir.path().display()),
                "sqlite",
                None,
            )
        } else if target.db.starts_with("postgres") {
            let (url, name) = create_postgres_database(&target.db).await?;
            (url, "postgres", Some((target.db.clone(), name)))
        } else {
            bail!("--db is `sqlite` or a postgres:// URL");
        };
        let keys_file = dir.path().join("keys.json");
        let addr = format!("127.0.0.1:{}", free_port()?);
        let spawned = Instant::now();
        let child = Command::new(std::env::current_exe()?)
            .args(["server", "--db", &db_url, "--listen", &addr, "--keys-file"])
            .arg(&keys_file)
            .env("RELAIS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("start the server process")?;
        let mut server = Server {
            addr,
            admin_key: String::new(),
            db_label,
            ready_ms: 0,
            child: Some(child),
            _dir: Some(dir),
            postgres,
        };
        server.wait_ready(&keys_file, spawned).await?;
        Ok(server)
    }

    async fn wait_ready(
        &mut self,
        keys_file: &std::path::Path,
        started: Instant,
    ) -> anyhow::Result<()> {
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(text) = std::fs::read_to_string(keys_file)
                && let Ok(keys) = serde_json::from_str::<serde_json::Value>(&text)
                && let Ok(mut conn) = crate::client::Conn::open(&self.addr, "").await
                && let Ok((status, _)) = conn.send(hyper::Method::GET, "/ready", None, None).await
                && status.is_success()
            {
                self.admin_key = keys["admin"].as_str().unwrap_or_default().to_owned();
                self.ready_ms = started.elapsed().as_millis() as u64;
                eprintln!(
                    "server ready on {} ({}) after {} ms",
                    self.addr, self.db_label, self.ready_ms
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("the server did not become ready within 60 s")
    }

    /// CPU seconds (user + system) the server process has used so far, from /proc.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id()?;
        cpu_seconds_of(&format!("/proc/{pid}/stat"))
    }

    /// CPU seconds the server's thread named `name` has used so far (the SQLite writer is
    /// `relais-writer`): what a change to the write path saves shows here even when the
    /// machine's noise hides it in the throughput.
    pub fn thread_cpu_seconds(&self, name: &str) -> Option<f64> {
        let pid = self.child.as_ref()?.id()?;
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
            .find(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end() == name)
            })
            .and_then(|task| cpu_seconds_of(&task.path().join("stat").to_string_lossy()))
    }

    /// Stops the child with SIGTERM (clean shutdown) and removes a PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(child) = &mut self.child {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
        if let Some((admin, name)) = self.postgres.take() {
            let _ = testkit::drop_database(&admin, &name).await;
        }
    }
}

/// User + system CPU seconds of a process, from its `/proc/…/stat` (Linux only).
pub fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports clock ticks; 100 per second on Linux builds in practice (USER_HZ).
    Some(ticks / 100.0)
}
