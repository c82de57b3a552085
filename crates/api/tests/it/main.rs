//! API tests: the real router driven in-process, on SQLite and (when configured) PostgreSQL.

mod access;
mod catalogue;
mod conventions;
mod customers;
mod delivery;
mod events;
mod kpis;
mod locations;
mod loyalty;
mod orders;
mod prices;
mod promotions;
mod sourcing;
mod stock;
mod stored_value;
mod stream;
mod tills;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use testkit::TestDb;
use tower::ServiceExt;

/// A router on a fresh database, with one key per role.
pub struct TestApp {
    pub app: Router,
    pub db: TestDb,
    pub admin: String,
    pub web: String,
    pub store: String,
    pub service: String,
}

/// A response: status, headers and JSON body (`Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }
}

pub async fn key(db: &store::Db, scope: &str) -> String {
    let (k, token) = app::keys::mint_key("test", &[scope.to_string()]).unwrap();
    let t = token.clone();
    db.write(move |c| {
        Box::pin(async move { store::api_keys::create_key(c, &k, &t, "test").await })
    })
    .await
    .unwrap();
    token
}

impl TestApp {
    pub async fn on(db: TestDb) -> TestApp {
        let state = api::AppState::new(db.db.clone(), kernel::Currency::EUR);
        let app = api::app(state);
        TestApp {
            admin: key(&db.db, "admin").await,
            web: key(&db.db, "channel:web").await,
            store: key(&db.db, "store:LYS-BELLECOUR").await,
            service: key(&db.db, "service").await,
            app,
            db,
        }
    }

    /// One app per backend under test.
    pub async fn every_backend() -> Vec<TestApp> {
        let mut apps = Vec::new();
        for db in testkit::every_backend().await {
            apps.push(TestApp::on(db).await);
        }
        apps
    }

    pub fn name(&self) -> &'static str {
        self.db.backend().as_str()
    }

    pub async fn raw(&self, req: Request<Body>) -> Reply {
        answer(self.app.clone(), req).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.raw(req.unwrap()).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(Method::GET, path, key, None, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.send(Method::POST, path, key, Some(body), None).await
    }

    /// POSTs `body` with the admin key; panics unless it is created (201). For setups.
    pub async fn created(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, &self.admin, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
        r.body
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, key, Some(body), None).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, key, Some(body), None).await
    }

    /// Opens a Server-Sent Events stream; panics unless it is answered 200.
    pub async fn stream(&self, path: &str, key: &str, last_event_id: Option<i64>) -> SseReader {
        let mut req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseReader {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// Lyon Bellecour (the store key's store) and Paris Rivoli, which most stories use.
    pub async fn two_stores(&self) {
        self.created(
            "/v1/locations",
            store_body("LYS-BELLECOUR", "Lyon", 45.7578, 4.8320),
        )
        .await;
        self.created(
            "/v1/locations",
            store_body("PAR-RIVOLI", "Paris", 48.86, 2.34),
        )
        .await;
    }

    /// A second node (its own writer and caches) on this app's database: another server on
    /// PostgreSQL, another process's writer on the SQLite file.
    pub async fn second_node(&self) -> Router {
        let db = store::Db::connect(&self.db.url, store::DbOptions::default())
            .await
            .unwrap();
        api::app(api::AppState::new(db, kernel::Currency::EUR))
    }

    pub async fn events(&self) -> i64 {
        store::events::count(&self.db.db).await.unwrap()
    }
}

/// A valid product body with the given SKU prefix and sizes.
pub fn product_body(prefix: &str, sizes: &[&str]) -> Value {
    let variants: Vec<Value> = sizes
        .iter()
        .map(|s| json!({"sku": format!("{prefix}-{s}"), "attributes": {"size": s}}))
        .collect();
    json!({
        "title": format!("{prefix} trail shoe"),
        "brand": "Altura",
        "category": "footwear/trail",
        "images": [{"url": "https://img.example/x.jpg", "alt": "side"}],
        "variants": variants,
    })
}

/// A valid store body.
pub fn store_body(code: &str, city: &str, lat: f64, lon: f64) -> Value {
    json!({
        "code": code,
        "name": format!("Store {city}"),
        "kind": "store",
        "address": {"line1": "1 rue de la Gare", "postal_code": "69002", "city": city, "country": "FR"},
        "coordinates": {"latitude": lat, "longitude": lon},
        "time_zone": "Europe/Paris",
        "opening_hours": {"mon": [{"opens": "10:00", "closes": "19:00"}], "sat": [{"opens": "09:30", "closes": "12:30"}, {"opens": "14:00", "closes": "19:00"}]},
        "owner": {"kind": "franchisee", "name": "SARL Test"},
        "capabilities": ["pickup", "reserve", "returns"],
    })
}

/// Reads Server-Sent Events from a response body.
pub struct SseReader {
    body: Body,
    buffer: String,
}

/// One SSE event: its id and its JSON data.
#[derive(Debug)]
pub struct SseEvent {
    pub id: i64,
    pub data: Value,
}

impl SseReader {
    /// The next event, or `None` if none comes within `wait`. Comments (keep-alives) are skipped.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = serde_json::from_str(v.trim()).ok();
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return Some(SseEvent { id, data });
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??;
            if let Ok(bytes) = frame.unwrap().into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// The next event; panics if none comes within 5 s.
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(std::time::Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }
}

/// What `node` answers to `req`: this app's router, or another node's.
pub async fn answer(node: Router, req: Request<Body>) -> Reply {
    let response = node.oneshot(req).await.unwrap();

    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends every `(key, path, body)` POST at once, alternately to `t`'s node and `other`, and
/// checks that exactly one was accepted (201) and every other refused with 409.
pub async fn one_wins(
    t: &TestApp,
    other: &Router,
    tries: Vec<(String, String, Value)>,
    what: &str,
) {
    let mut sent = Vec::new();
    for (n, (key, path, body)) in tries.into_iter().enumerate() {
        let node = if n % 2 == 0 {
            t.app.clone()
        } else {
            other.clone()
        };
        let reply = post_on(node, path, key, body);
        sent.push(tokio::spawn(async move { reply.await.status }));
    }
    let mut statuses = Vec::new();
    for s in sent {
        statuses.push(s.await.unwrap());
    }
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(won, 1, "{} {what}: {statuses:?}", t.name());
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{} {what}: {statuses:?}",
        t.name()
    );
}

/// A JSON POST as `key` to `node`, for requests raced side by side on two nodes.
pub async fn post_on(node: Router, path: String, key: String, body: Value) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    answer(node, req).await
}
