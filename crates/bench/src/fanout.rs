//! `fanout`: how long a committed stock change takes to reach the SSE clients watching it.
//!
//! `subscribers` clients each open `/v1/stream/availability` for one of `watched` SKUs at the
//! demo's Lyon store (product pages being watched). Once every stream is open, `changes`
//! receipts of one unit are recorded over HTTP at `rate` per second, spread over the watched
//! SKUs. A change is identified on arrival by its SKU and the on-hand quantity it produced.
//! Latency runs from the change — the time its event carries, taken inside the write command
//! just before the durable commit, on the same machine's clock — to the moment a client has
//! read it; so it includes the commit's fsync. A second, more conservative figure on stderr
//! runs from just before the movement request was sent (queueing for the writer included).
//! `lost` counts the deliveries expected but not received within 10 s of the last change.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;

use crate::client::Conn;
use crate::load::{get_json, skus};
use crate::server::{Server, cpu_seconds_of};

const STORE: &str = "LYS-BELLECOUR";
/// Connections recording the changes.
const WRITERS: usize = 16;

/// What a client needs to recognise a change: the SKU's index and its on-hand quantity
/// before the run.
struct Plan {
    skus: Vec<String>,
    base: HashMap<String, i64>,
    /// Microseconds after `epoch` at which change `c` was sent (0: not yet).
    sent_us: Vec<AtomicU64>,
    epoch: Instant,
}

impl Plan {
    /// Change `c` is the `c / n + 1`-th receipt of SKU `c % n`.
    fn change_index(&self, sku: usize, on_hand: i64) -> Option<usize> {
        let n = self.skus.len();
        let nth = on_hand - self.base[&self.skus[sku]];
        (nth >= 1).then(|| (nth as usize - 1) * n + sku)
    }
}

#[derive(Deserialize)]
struct Seen {
    on_hand: i64,
    at: String,
}

/// What one client measured: raw latencies in µs, merged only after every client is done
/// (a histogram per client would cost 10 000 × hundreds of KB, and merging them while the
/// last events arrive would slow the clients down and inflate the tail).
#[derive(Default)]
struct Client {
    /// From the change's own time (just before its commit).
    latencies_us: Vec<u32>,
    /// From the moment its request was sent.
    from_send_us: Vec<u32>,
}

/// Microseconds since the Unix epoch, now.
fn unix_us_now() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0)
}

fn unix_us(rfc3339: &str) -> Option<i128> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos() / 1000)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// Opens one stream; returns it once the server has answered (it has subscribed).
async fn open_stream(
    server: &Server,
    sku: &str,
) -> anyhow::Result<(Sender, hyper::body::Incoming)> {
    let stream = TcpStream::connect(&server.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/stream/availability?skus={sku}"))
        .header("host", &server.addr)
        .header("authorization", format!("Bearer {}", server.admin_key))
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(req).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "stream: {}",
        response.status()
    );
    Ok((sender, response.into_body()))
}

/// Reads events until `expected` arrived or `deadline` passed; hands the stream back still
/// open, so that clients that are done do not all disconnect while others still measure.
async fn listen(
    (sender, mut body): (Sender, hyper::body::Incoming),
    sku: usize,
    expected: u64,
    plan: Arc<Plan>,
    deadline: Arc<AtomicU64>,
) -> (Client, (Sender, hyper::body::Incoming)) {
    let mut client = Client::default();
    let received = |c: &Client| c.latencies_us.len() as u64;
    let mut buffer: Vec<u8> = Vec::new();
    while received(&client) < expected {
        let wait_us = deadline.load(Ordering::Relaxed);
        let remaining = Duration::from_micros(wait_us)
            .saturating_sub(plan.epoch.elapsed())
            .max(Duration::from_millis(1));
        let frame = match tokio::time::timeout(remaining, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            // The deadline moved (changes still being sent): keep waiting.
            Err(_) if deadline.load(Ordering::Relaxed) != wait_us => continue,
            _ => break,
        };
        let Ok(bytes) = frame.into_data() else {
            continue;
        };
        let now_us = plan.epoch.elapsed().as_micros() as u64;
        let wall_now_us = unix_us_now();
        buffer.extend_from_slice(&bytes);
        let mut consumed = 0;
        while let Some(end) = buffer[consumed..].windows(2).position(|w| w == b"\n\n") {
            let block = &buffer[consumed..consumed + end];
            consumed += end + 2;
            let Some(data) = block
                .split(|b| *b == b'\n')
                .find_map(|l| l.strip_prefix(b"data:"))
            else {
                continue;
            };
            let Ok(seen) = serde_json::from_slice::<Seen>(data) else {
                continue;
            };
            let Some(c) = plan.change_index(sku, seen.on_hand) else {
                continue;
            };
            let sent = plan.sent_us.get(c).map(|s| s.load(Ordering::Acquire));
            if let Some(sent) = sent.filter(|s| *s > 0) {
                let from_send = now_us.saturating_sub(sent).max(1);
                client
                    .from_send_us
                    .push(from_send.min(u32::MAX as u64) as u32);
                let changed = unix_us(&seen.at).unwrap_or(wall_now_us);
                let from_change = (wall_now_us - changed).clamp(1, u32::MAX as i128);
                client.latencies_us.push(from_change as u32);
            }
        }
        buffer.drain(..consumed);
    }
    (client, (sender, body))
}

pub async fn fanout(
    server: &Server,
    subscribers: u64,
    changes: u64,
    watched: usize,
    rate: u64,
) -> anyhow::Result<()> {
    let all = skus(server).await?;
    let watched = watched.clamp(1, all.len());
    let stock = get_json(server, &format!("/v1/locations/{STORE}/stock?limit=500")).await?;
    let mut base: HashMap<String, i64> = HashMap::new();
    for level in stock["data"].as_array().context("stock")? {
        if let (Some(sku), Some(on_hand)) = (level["sku"].as_str(), level["on_hand"].as_i64()) {
            base.insert(sku.to_owned(), on_hand);
        }
    }
    let skus: Vec<String> = all.into_iter().take(watched).collect();
    for sku in &skus {
        base.entry(sku.clone()).or_insert(0);
    }
    let plan = Arc::new(Plan {
        skus: skus.clone(),
        base,
        sent_us: (0..changes).map(|_| AtomicU64::new(0)).collect(),
        epoch: Instant::now(),
    });
    // Every client waits until 10 s after the last change is sent (moved as changes go).
    let deadline = Arc::new(AtomicU64::new(u64::MAX / 2));

    // Open every stream (one after the other: the accept queue is finite), then send.
    let mut listeners = Vec::new();
    let started_opening = Instant::now();
    for i in 0..subscribers {
        let sku_index = (i % watched as u64) as usize;
        // Each SKU gets changes/watched changes (the first `changes % watched` one more).
        let expected =
            changes / watched as u64 + u64::from((sku_index as u64) < changes % watched as u64);
        let stream = open_stream(server, &skus[sku_index])
            .await
            .with_context(|| format!("open stream {i}"))?;
        listeners.push((
            expected,
            tokio::spawn(listen(
                stream,
                sku_index,
                expected,
                plan.clone(),
                deadline.clone(),
            )),
        ));
    }
    eprintln!(
        "fanout: {subscribers} streams open in {:.1} s; sending {changes} changes at {rate}/s",
        started_opening.elapsed().as_secs_f64()
    );

    let server_cpu = server.cpu_seconds();
    let client_cpu = cpu_seconds_of("/proc/self/stat");
    let next = Arc::new(AtomicU64::new(0));
    let interval_us = 1_000_000 / rate.max(1);
    let send_start_us = plan.epoch.elapsed().as_micros() as u64 + 100_000;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let mut conn = Conn::open(&server.addr, &server.admin_key).await?;
        let (next, plan) = (next.clone(), plan.clone());
        writers.push(tokio::spawn(async move {
            let mut failed = 0u64;
            let mut commits = histogram();
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= changes {
                    break;
                }
                let due = send_start_us + c * interval_us;
                let now = plan.epoch.elapsed().as_micros() as u64;
                if due > now {
                    tokio::time::sleep(Duration::from_micros(due - now)).await;
                }
                let sku = &plan.skus[c as usize % plan.skus.len()];
                let body = json!({"sku": sku, "location": STORE, "kind": "receipt", "quantity": 1, "reason": "fan-out benchmark"});
                let sent = plan.epoch.elapsed().as_micros() as u64;
                plan.sent_us[c as usize].store(sent, Ordering::Release);
                match conn.send(Method::POST, "/v1/stock/movements", Some(body.to_string()), None).await {
                    Ok((status, _)) if status.is_success() => {}
                    _ => failed += 1,
                }
                let answered = plan.epoch.elapsed().as_micros() as u64;
                commits.saturating_record(answered.saturating_sub(sent).max(1));
            }
            (failed, commits)
        }));
    }
    // Movements of one SKU must land in order for on-hand to name the change: with several
    // writers two receipts of a SKU could commit out of order, so they are `watched` apart
    // in time (one SKU per slot), which the pacing keeps far above a commit's latency.
    let mut failed = 0;
    let mut commits = histogram();
    for w in writers {
        let (f, h) = w.await?;
        failed += f;
        commits.add(h)?;
    }
    // The movements' own latency (durable commit, answered): part of every delivery's.
    eprintln!(
        "fanout: movement answered p50_ms={:.2} p99_ms={:.2}",
        commits.value_at_quantile(0.5) as f64 / 1000.0,
        commits.value_at_quantile(0.99) as f64 / 1000.0
    );
    let sent_s = (plan.epoch.elapsed().as_micros() as u64 - send_start_us) as f64 / 1e6;
    deadline.store(
        plan.epoch.elapsed().as_micros() as u64 + 10_000_000,
        Ordering::Relaxed,
    );

    let mut latencies = histogram();
    let mut from_send = histogram();
    let (mut expected_total, mut received) = (0u64, 0u64);
    let mut clients = Vec::with_capacity(listeners.len());
    let mut streams = Vec::with_capacity(listeners.len());
    for (expected, listener) in listeners {
        expected_total += expected;
        let (client, stream) = listener.await?;
        clients.push(client);
        streams.push(stream);
    }
    drop(streams);
    for client in clients {
        received += client.latencies_us.len() as u64;
        for us in client.latencies_us {
            latencies.saturating_record(u64::from(us));
        }
        for us in client.from_send_us {
            from_send.saturating_record(u64::from(us));
        }
    }
    eprintln!(
        "fanout: from request sent to arrival p50_ms={:.2} p99_ms={:.2}",
        from_send.value_at_quantile(0.5) as f64 / 1000.0,
        from_send.value_at_quantile(0.99) as f64 / 1000.0
    );
    if failed > 0 {
        eprintln!("fanout: {failed} movements failed");
    }
    let spent = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.1}", a - b),
        _ => "n/a".into(),
    };
    eprintln!(
        "cpu: server_s={} client_s={}",
        spent(server_cpu, server.cpu_seconds()),
        spent(client_cpu, cpu_seconds_of("/proc/self/stat"))
    );
    eprintln!(
        "fanout: changes sent in {sent_s:.1} s; {received} of {expected_total} deliveries; max {:.1} ms",
        latencies.max() as f64 / 1000.0
    );
    println!(
        "fanout: subscribers={subscribers} changes={changes} p50_ms={:.2} p99_ms={:.2} lost={} db={}",
        latencies.value_at_quantile(0.50) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0,
        expected_total.saturating_sub(received),
        server.db_label
    );
    Ok(())
}
