//! Console tests: the real router (API and console) driven in-process, on SQLite and (when
//! configured) PostgreSQL — sign-in, sessions, CSRF, the work queue and its live stream.

mod customers;
mod lists;
mod queue;
mod sign_in;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use testkit::TestDb;
use tower::ServiceExt;

/// The API and the console on a fresh database, with an admin key.
pub struct TestConsole {
    pub app: Router,
    pub db: TestDb,
    pub admin: String,
    pub web: String,
}

/// A response: status, headers and body (JSON when it is JSON, else the text).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
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

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl TestConsole {
    pub async fn every_backend() -> Vec<TestConsole> {
        let mut all = Vec::new();
        for db in testkit::every_backend().await {
            let state = api::AppState::new(db.db.clone(), kernel::Currency::EUR);
            all.push(TestConsole {
                app: api::app_with(state, console::router()),
                admin: key(&db.db, "admin").await,
                web: key(&db.db, "channel:web").await,
                db,
            });
        }
        all
    }

    pub fn name(&self) -> &'static str {
        self.db.backend().as_str()
    }

    pub async fn raw(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn api(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.raw(req.unwrap()).await
    }

    /// POSTs with the admin key; panics unless 201.
    pub async fn created(&self, path: &str, body: Value) -> Value {
        let r = self.api(Method::POST, path, &self.admin, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
        r.json()
    }

    /// A console page as the browser sees it.
    pub async fn page(&self, path: &str, browser: Option<&Browser>) -> Reply {
        let mut req = Request::builder().uri(path);
        if let Some(b) = browser {
            req = req.header("cookie", &b.cookie);
        }
        self.raw(req.body(Body::empty()).unwrap()).await
    }

    /// A form posted by the browser (same origin unless `origin` says otherwise).
    pub async fn form(
        &self,
        path: &str,
        browser: Option<&Browser>,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", console::session::percent(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", "console.test")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(b) = browser {
            req = req.header("cookie", &b.cookie);
        }
        self.raw(req.body(Body::from(body)).unwrap()).await
    }

    /// A console user made through the API by the admin key.
    pub async fn user(&self, email: &str, role: &str, stores: &[&str], password: &str) -> Value {
        self.created(
            "/v1/staff-users",
            json!({"email": email, "name": email.split('@').next().unwrap(), "role": role, "stores": stores, "password": password, "language": "en"}),
        )
        .await
    }

    /// Signs in and reads the CSRF token off the first page; panics unless it works.
    pub async fn sign_in(&self, email: &str, password: &str) -> Browser {
        let r = self
            .form(
                "/console/login",
                None,
                &[("email", email), ("password", password)],
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{}: sign-in: {}",
            self.name(),
            r.text
        );
        let cookie = r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut browser = Browser {
            cookie,
            csrf: String::new(),
        };
        let home = self.page("/console", Some(&browser)).await;
        let first = self.page(home.location(), Some(&browser)).await;
        browser.csrf = csrf_of(&first.text);
        browser
    }

    /// Lyon and Paris, a web channel, two products with prices, stock in Lyon.
    pub async fn shop(&self) {
        for (code, city) in [("LYS-BELLECOUR", "Lyon"), ("PAR-RIVOLI", "Paris")] {
            self.created("/v1/locations", json!({
                "code": code, "name": format!("Store {city}"), "kind": "store",
                "address": {"line1": "1 rue de la Gare", "postal_code": "69002", "city": city, "country": "FR"},
                "coordinates": {"latitude": 45.75, "longitude": 4.83}, "time_zone": "Europe/Paris",
                "opening_hours": {"mon": [{"opens": "00:00", "closes": "23:59"}], "tue": [{"opens": "00:00", "closes": "23:59"}], "wed": [{"opens": "00:00", "closes": "23:59"}], "thu": [{"opens": "00:00", "closes": "23:59"}], "fri": [{"opens": "00:00", "closes": "23:59"}], "sat": [{"opens": "00:00", "closes": "23:59"}], "sun": [{"opens": "00:00", "closes": "23:59"}]},
                "owner": {"kind": "company", "name": "Relais SA"},
                "capabilities": ["pickup", "reserve", "returns"],
            })).await;
        }
        self.created(
            "/v1/channels",
            json!({"code": "web", "kind": "web", "name": "web"}),
        )
        .await;
        self.created(
            "/v1/products",
            json!({
                "title": "Trail shoe", "brand": "Altura", "category": "footwear/trail",
                "variants": [{"sku": "TR-42", "attributes": {"size": "42"}}],
            }),
        )
        .await;
        let r = self
            .api(
                Method::PUT,
                "/v1/variants/TR-42/prices/EUR",
                &self.admin,
                Some(json!({"amount_minor": 4999})),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        self.created("/v1/stock/movements", json!({"sku": "TR-42", "location": "LYS-BELLECOUR", "kind": "receipt", "quantity": 5, "reason": "delivery"})).await;
    }

    /// A paid web click & collect order for one pair in Lyon.
    pub async fn pickup_order(&self) -> Value {
        let cart = self
            .api(
                Method::POST,
                "/v1/carts",
                &self.web,
                Some(json!({"lines": [{"sku": "TR-42", "quantity": 1}]})),
            )
            .await;
        assert_eq!(cart.status, StatusCode::CREATED, "{}", cart.text);
        let id = cart.json()["id"].as_str().unwrap().to_owned();
        let body = json!({"mode": "pickup", "location": "LYS-BELLECOUR", "payment": {"token": "tok_visa"}});
        let r = self
            .api(
                Method::POST,
                &format!("/v1/carts/{id}/checkout"),
                &self.web,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    /// An order as the admin key reads it.
    pub async fn order(&self, id: &str) -> Value {
        self.api(Method::GET, &format!("/v1/orders/{id}"), &self.admin, None)
            .await
            .json()
    }
}

/// The CSRF token a console page carries.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF token in the page: {html}"));
    html[at + 19..at + 19 + 64].to_owned()
}
